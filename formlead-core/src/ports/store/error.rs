//! Store failures, and the conflicts among them.

use std::time::Duration;

use crate::domain::{DraftId, DraftStatus, WorkflowId, WorkflowStatus};
use crate::ports::error::{BoxError, port_error_common};

use super::records::Accepted;

/// Why a change does not fit the current state of what it changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// Only a failed workflow can be retried.
    #[error("workflow {id} is {status}; only failed workflows can be retried")]
    NotRetryable {
        /// The workflow.
        id: WorkflowId,
        /// Its status.
        status: WorkflowStatus,
    },
    /// A draft with this id is stored already.
    #[error("draft {0} exists")]
    DraftExists(DraftId),
    /// A repeat submission from the prospect is being merged into the
    /// draft; approving now would send it without that answer.
    #[error(
        "draft {0} is being updated to answer a newer submission from the prospect; approve again in a moment"
    )]
    DraftUpdating(DraftId),
    /// The draft offers meeting times that passed or were booked since,
    /// and no free slot is left to offer instead.
    #[error(
        "draft {0} offers meeting times that have passed or are booked now, and no free slot is left in business hours: edit the draft in the mailbox, or reject it"
    )]
    NoFreeSlot(DraftId),
    /// An operator rejected the draft; it cannot be approved.
    #[error("draft {0} was rejected and cannot be approved")]
    DraftRejected(DraftId),
    /// The draft was approved or sent already; it cannot be rejected.
    #[error("draft {id} is already {status} and cannot be rejected")]
    /// The draft, and its status.
    AlreadyDecided {
        /// The draft.
        id: DraftId,
        /// Its status.
        status: DraftStatus,
    },
    /// The draft is not one that may be sent.
    #[error("draft {id} is {status} and cannot be sent")]
    /// The draft, and its status.
    NotSendable {
        /// The draft.
        id: DraftId,
        /// Its status.
        status: DraftStatus,
    },
    /// Someone else decided the draft meanwhile.
    #[error("draft {0} changed meanwhile; reload and try again")]
    ChangedMeanwhile(DraftId),
    /// The draft's recipient is not a valid address.
    #[error(transparent)]
    InvalidRecipient(#[from] crate::domain::InvalidEmail),
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A submission with this `formSubmissionId` exists already.
    #[error("duplicate submission (existing workflow {})", .existing.workflow_id)]
    /// The submission and workflow stored before.
    Duplicate {
        /// The submission and workflow stored before.
        existing: Accepted,
    },
    #[error("{what} {id} not found")]
    /// What was looked for (`workflow`, `draft`), and its id.
    NotFound {
        /// What was looked for (`workflow`, `draft`).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The row changed state under us or the transition is not allowed.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The caller no longer holds the workflow's lease (another worker took over).
    #[error("lease on workflow {0} is no longer held by this worker")]
    LeaseLost(WorkflowId),
    #[error("store temporarily unavailable: {source}")]
    /// Worth retrying later.
    Transient {
        /// How long to wait first, when the vendor said.
        retry_after: Option<Duration>,
        #[source]
        /// The cause.
        source: BoxError,
    },
    #[error("store error: {source}")]
    /// Retrying cannot help.
    Permanent {
        #[source]
        /// The cause.
        source: BoxError,
    },
}
port_error_common!(StoreError);

impl StoreError {
    /// A [`StoreError::NotFound`] for `what` `id`.
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }
}
