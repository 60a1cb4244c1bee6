//! How a commit becomes durable: by itself (PostgreSQL; SQLite at
//! `synchronous=NORMAL` without the WAL sync), or once a shared fsync that
//! started after it has finished (SQLite's `WalSync`). Callers that must not
//! move on before their write is on disk wait for [`Durability::durable`].

use std::sync::Arc;

use formlead_core::ports::StoreError;
use futures_util::future::BoxFuture;

use super::errors::SharedError;

/// Something that makes earlier commits durable (an fsync of SQLite's WAL).
pub(crate) trait CommitSync: Send + Sync + std::fmt::Debug {
    /// Resolves once every commit made before the call is durable.
    fn durable(&self) -> BoxFuture<'static, Result<(), StoreError>>;

    /// fsyncs finished so far.
    #[cfg(test)]
    fn syncs(&self) -> u64;
}

/// How a store's commits become durable.
#[derive(Debug, Clone, Default)]
pub(crate) struct Durability(Option<Arc<dyn CommitSync>>);

impl Durability {
    /// Commits are made durable by `sync`.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn after(sync: Arc<dyn CommitSync>) -> Self {
        Self(Some(sync))
    }

    /// Resolves once every commit made so far is durable: at once where a
    /// commit syncs by itself.
    ///
    /// # Errors
    /// [`StoreError::Transient`] when the fsync failed.
    pub(crate) fn durable(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let sync = self.0.as_ref().map(|s| s.durable());
        async move {
            match sync {
                Some(sync) => sync.await,
                None => Ok(()),
            }
        }
    }

    /// Calls `answer` once the commits made so far are durable, on a task
    /// of its own, so the caller can go on (to its next commit) meanwhile.
    /// `answer` gets the error that callers whose writes took effect must
    /// get instead of success: `committed`'s, or the fsync's.
    pub(crate) fn answer_when_durable(
        &self,
        committed: Result<(), StoreError>,
        answer: impl FnOnce(Option<SharedError>) + Send + 'static,
    ) {
        let durable = self.durable();
        tokio::spawn(async move {
            let lost = match committed {
                Ok(()) => durable.await.err(),
                Err(e) => Some(e),
            };
            answer(lost.as_ref().map(SharedError::of));
        });
    }

    /// fsyncs finished so far, if commits go through a [`CommitSync`].
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> Option<u64> {
        self.0.as_ref().map(|s| s.syncs())
    }
}
