//! What the engine says it did: with a submission, and with a job.

use chrono::{DateTime, Utc};

use crate::domain::WorkflowStatus;
use crate::ports::Accepted;

/// Result of handing a submission to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Stored with its workflow and job.
    Accepted(Accepted),
    /// Stored and linked to the earlier workflow of the same prospect,
    /// whose reply will answer it too (no second reply).
    Linked(Accepted),
    /// Seen before: the existing ids, nothing new stored.
    Duplicate(Accepted),
}

/// What processing one job did.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessOutcome {
    /// All 13 steps done; the workflow is `completed` or `awaiting_approval`.
    Finished(WorkflowStatus),
    /// A transient failure; the next attempt is scheduled at `at`.
    RetryScheduled {
        /// The attempt that failed.
        attempt: u32,
        /// When the next one is due.
        at: DateTime<Utc>,
        /// What went wrong.
        error: String,
    },
    /// A permanent failure or retries exhausted: `failed` (dead-lettered).
    DeadLettered {
        /// The attempt that failed.
        attempt: u32,
        /// What went wrong.
        error: String,
    },
    /// Nothing to do: the workflow is already in this terminal status.
    Skipped(WorkflowStatus),
    /// Another worker holds the workflow's lease until `until`; the job
    /// was re-queued to look again.
    Busy {
        /// When its lease ends.
        until: DateTime<Utc>,
    },
    /// The job came before the workflow's scheduled retry; re-queued for `at`.
    NotDue {
        /// When it is due.
        at: DateTime<Utc>,
    },

    /// The reply awaiting approval was updated to answer `linked` more
    /// submissions of the prospect.
    Amended {
        /// Submissions newly answered.
        linked: usize,
    },
    /// This worker lost its lease mid-run (it was too slow and another
    /// worker took over); it stopped without touching the workflow.
    LeaseLost,
    /// The workflow does not exist (a stale job).
    Missing,
}

impl ProcessOutcome {
    /// A short name for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Finished(WorkflowStatus::AwaitingApproval) => "awaiting_approval",
            Self::Finished(_) => "completed",
            Self::RetryScheduled { .. } => "retry_scheduled",
            Self::DeadLettered { .. } => "dead_lettered",
            Self::Skipped(_) => "skipped",
            Self::Busy { .. } => "busy",
            Self::NotDue { .. } => "not_due",
            Self::Amended { .. } => "amended",

            Self::LeaseLost => "lease_lost",
            Self::Missing => "missing",
        }
    }
}
