//! Database errors as store errors: classified (transient or permanent),
//! and shared by every caller of a group commit.

use formlead_core::ports::StoreError;

use super::backend::Backend;

/// Maps a sqlx error to a classified store error.
pub(crate) fn db_err<B: Backend>(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::Database(d) if B::is_transient_db_error(d.code().as_deref()) => StoreError::transient(e),
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
            StoreError::transient(e)
        }
        _ => StoreError::permanent(e),
    }
}

/// One error for every caller of a group commit ([`StoreError`] is not
/// `Clone`): its message and whether trying again may help.
pub(crate) struct SharedError {
    message: String,
    transient: bool,
}

impl SharedError {
    pub(crate) fn of(e: &StoreError) -> Self {
        // The cause alone: `error()` wraps it as transient or permanent
        // again, which adds the "store temporarily unavailable" prefix.
        let message = match e {
            StoreError::Transient { source, .. } | StoreError::Permanent { source } => {
                source.to_string()
            }
            other => other.to_string(),
        };
        Self {
            message,
            transient: matches!(e, StoreError::Transient { .. }),
        }
    }

    pub(crate) fn error(&self) -> StoreError {
        if self.transient {
            StoreError::transient(self.message.clone())
        } else {
            StoreError::permanent(self.message.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use formlead_core::ports::Classify;

    use super::*;

    #[test]
    fn a_shared_error_reads_like_the_original() {
        for e in [
            StoreError::transient("pool timed out while waiting for an open connection"),
            StoreError::permanent("CHECK constraint failed"),
        ] {
            let shared = SharedError::of(&e).error();
            assert_eq!(shared.to_string(), e.to_string());
            assert_eq!(shared.is_transient(), e.is_transient());
        }
        let conflict = StoreError::Conflict(formlead_core::ports::Conflict::DraftRejected(
            formlead_core::domain::DraftId(uuid::Uuid::nil()),
        ));
        let shared = SharedError::of(&conflict).error();
        assert_eq!(
            shared.to_string(),
            "store error: conflict: draft 00000000-0000-0000-0000-000000000000 was rejected and cannot be approved"
        );
        assert!(!shared.is_transient());
    }
}
