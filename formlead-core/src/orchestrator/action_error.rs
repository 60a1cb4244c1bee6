//! Why an operator action did not happen.

use crate::ports::{Classify, Conflict, MailError, SendRefusal, StoreError};

/// Why an operator action did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    #[error("{what} {id} not found")]
    /// The draft or workflow does not exist.
    NotFound {
        /// What was looked for (`draft`, `workflow`).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The action does not fit the current state (e.g. approve after reject).
    #[error("{0}")]
    Conflict(Conflict),
    /// The send policy refused the send (the draft stays approved).
    #[error("send refused by policy: {0}")]
    Refused(SendRefusal),
    /// The send failed; approving again retries it safely.
    #[error("send failed")]
    SendFailed(#[source] SendError),
    #[error(transparent)]
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => Self::NotFound { what, id },
            StoreError::Conflict(c) => Self::Conflict(c),
            other => Self::Store(other),
        }
    }
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The mail service failed (reading the mailbox draft, or sending it).
    #[error(transparent)]
    Mail(MailError),
    /// The stored draft cannot be sent as it is (no mailbox draft, say).
    #[error("{0}")]
    Draft(String),
}

impl SendError {
    /// Whether sending again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Mail(e) => e.is_transient(),
            Self::Draft(_) => false,
        }
    }
}
