//! Why an operator action did not happen.

use crate::ports::{SendRefusal, StoreError};

/// Why an operator action did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The action does not fit the current state (e.g. approve after reject).
    #[error("{0}")]
    Conflict(String),
    /// The send policy refused the send (the draft stays approved).
    #[error("send refused by policy: {0}")]
    Refused(SendRefusal),
    /// The mail service failed; approving again retries the send safely.
    #[error("send failed: {message}")]
    SendFailed { message: String, transient: bool },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => Self::NotFound { what, id },
            StoreError::Conflict(msg) => Self::Conflict(msg),
            other => Self::Store(other),
        }
    }
}
