//! Durable state: submissions, workflows, step checkpoints, drafts, tasks,
//! errors and the audit trail.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};
use crate::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, FormSubmission, StepRecord,
    SubmissionId, Workflow, WorkflowError, WorkflowId, WorkflowStatus, WorkflowSummary,
};

/// The ids of an accepted submission and its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The stored submission's id.
    pub submission_id: SubmissionId,
    /// Its workflow's id.
    pub workflow_id: WorkflowId,
}

/// Filter and page of the workflow list. `limit` is clamped by stores to
/// [`WorkflowFilter::MAX_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowFilter {
    /// Only workflows in this status.
    pub status: Option<WorkflowStatus>,
    /// Case-insensitive substring of the prospect email.
    pub email: Option<String>,
    /// Most rows returned (at most [`Self::MAX_LIMIT`]).
    pub limit: u32,
    /// Rows skipped first.
    pub offset: u32,
}

impl WorkflowFilter {
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 50;

    /// `limit` clamped into `1..=MAX_LIMIT`.
    pub fn clamped_limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }

    /// The lower-cased email needle, if one is set and non-empty.
    pub fn email_needle(&self) -> Option<String> {
        self.email
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    }
}

impl Default for WorkflowFilter {
    fn default() -> Self {
        Self {
            status: None,
            email: None,
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// One page of a list, with the total number of matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows in all pages.
    pub total: u64,
}

/// Result of trying to start an attempt of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub enum StartAttempt {
    /// The caller holds the lease; `attempts` already counts this attempt.
    Started(Workflow),
    /// Another worker holds an unexpired lease.
    /// Another worker holds the lease until `until`.
    Busy {
        /// When its lease ends.
        until: DateTime<Utc>,
    },
    /// The workflow's next attempt is scheduled for later (`next_retry_at`);
    /// the job came early.
    /// The workflow waits for a retry due at `at`.
    NotDue {
        /// When it is due.
        at: DateTime<Utc>,
    },

    /// Nothing to do: the workflow is completed, awaiting approval or failed.
    NotRunnable(WorkflowStatus),
}

/// Earlier activity for an email (LongMemory's input).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProspectHistory {
    /// Earlier submissions, newest first.
    pub submissions: Vec<PastSubmission>,
    /// Drafts written for earlier workflows, newest first.
    pub drafts: Vec<DraftEmail>,
    /// Tasks created for earlier workflows, newest first.
    pub tasks: Vec<CrmTask>,
}

/// An earlier submission, in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastSubmission {
    /// Its workflow.
    pub workflow_id: WorkflowId,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// What the prospect wrote.
    pub message: Option<String>,
}

/// Counters for the dashboard tiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStats {
    /// Workflows created since the `since` argument.
    pub created_since: u64,
    /// Count per status (all time).
    pub by_status: Vec<(WorkflowStatus, u64)>,
    /// Drafts waiting for approval.
    pub drafts_pending: u64,
    /// Milliseconds from submission to draft for recent drafts (unsorted).
    pub draft_latencies_ms: Vec<i64>,
}

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

/// Durable state of the engine.
///
/// The operations that create or move work (`accept_submission`,
/// `schedule_retry`, `requeue_workflow`, `recover_orphans`) also enqueue the
/// workflow's job, **atomically**: after a crash at any point either all of
/// it is stored or none of it.
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a submission, creates its workflow (`triggered`) and enqueues
    /// its first job, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] (with the existing ids) when the
    /// `formSubmissionId` was seen before; nothing new is stored then.
    async fn accept_submission(&self, submission: &FormSubmission) -> Result<Accepted, StoreError>;

    /// The ids stored for a HubSpot `formSubmissionId`, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn find_submission(
        &self,
        form_submission_id: &str,
    ) -> Result<Option<Accepted>, StoreError>;

    /// # Errors
    /// [`StoreError`].
    async fn get_submission(&self, id: SubmissionId) -> Result<Option<FormSubmission>, StoreError>;

    /// # Errors
    /// [`StoreError`].
    async fn get_workflow(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError>;

    /// Workflows matching `filter`, newest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn list_workflows(
        &self,
        filter: &WorkflowFilter,
    ) -> Result<Page<WorkflowSummary>, StoreError>;

    /// Takes the lease on a runnable workflow for `owner` until `now + lease`,
    /// sets it `processing` and counts the attempt. A workflow whose
    /// `next_retry_at` is after `now` is not due yet.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError`].
    async fn start_attempt(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError>;

    /// Extends `owner`'s lease to `until`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `owner` no longer holds the lease.
    async fn renew_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Ends an attempt successfully: `completed` or `awaiting_approval`;
    /// releases the lease.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn finish_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        status: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records `error`, sets `retrying` with `next_retry_at = retry_at`,
    /// releases the lease and enqueues the job to run at `retry_at` — atomically.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn schedule_retry(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records `error`, sets `failed` (dead letter) and releases the lease.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn fail_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
    ) -> Result<(), StoreError>;

    /// Operator retry of a `failed` workflow: `retrying` with a fresh attempt
    /// budget, its job enqueued to run at `run_at` (now, or later when many
    /// are released together) — atomically.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] unless the workflow is `failed`;
    /// [`StoreError::NotFound`].
    async fn requeue_workflow(
        &self,
        id: WorkflowId,
        now: DateTime<Utc>,
        run_at: DateTime<Utc>,
    ) -> Result<Workflow, StoreError>;

    /// Re-enqueues `processing` workflows whose lease expired before `now`
    /// (their worker died) and returns their ids.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn recover_orphans(&self, now: DateTime<Utc>) -> Result<Vec<WorkflowId>, StoreError>;

    /// Moves a workflow from `from` to `to` (e.g. `awaiting_approval` →
    /// `completed` after an operator's decision). Returns `false` when it
    /// was not in `from`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn transition_workflow(
        &self,
        id: WorkflowId,
        from: WorkflowStatus,
        to: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Inserts or replaces the checkpoint of `(workflow_id, step)`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn save_step(&self, record: &StepRecord) -> Result<(), StoreError>;

    /// All step checkpoints of a workflow, in step order.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn list_steps(&self, id: WorkflowId) -> Result<Vec<StepRecord>, StoreError>;

    /// Inserts a draft.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn insert_draft(&self, draft: &DraftEmail) -> Result<(), StoreError>;

    /// Replaces a draft only if its stored status is still `expected`.
    /// Returns `false` when it was not.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError`].
    async fn update_draft(
        &self,
        draft: &DraftEmail,
        expected: DraftStatus,
    ) -> Result<bool, StoreError>;

    /// # Errors
    /// [`StoreError`].
    async fn get_draft(&self, id: DraftId) -> Result<Option<DraftEmail>, StoreError>;

    /// # Errors
    /// [`StoreError`].
    async fn drafts_for_workflow(&self, id: WorkflowId) -> Result<Vec<DraftEmail>, StoreError>;

    /// Drafts, newest first, optionally by status.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn list_drafts(
        &self,
        status: Option<DraftStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<DraftEmail>, StoreError>;

    /// # Errors
    /// [`StoreError`].
    async fn insert_task(&self, task: &CrmTask) -> Result<(), StoreError>;

    /// # Errors
    /// [`StoreError`].
    async fn tasks_for_workflow(&self, id: WorkflowId) -> Result<Vec<CrmTask>, StoreError>;

    /// Recorded errors of a workflow, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn errors_for_workflow(&self, id: WorkflowId) -> Result<Vec<WorkflowError>, StoreError>;

    /// # Errors
    /// [`StoreError`].
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Audit events of a workflow, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn audit_for_workflow(&self, id: WorkflowId) -> Result<Vec<AuditEvent>, StoreError>;

    /// Earlier submissions, drafts and tasks for `email`, excluding `exclude`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn prospect_history(
        &self,
        email: &str,
        exclude: WorkflowId,
    ) -> Result<ProspectHistory, StoreError>;

    /// Dashboard counters; `since` bounds `created_since` and the latencies.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn stats(&self, since: DateTime<Utc>) -> Result<WorkflowStats, StoreError>;

    /// Workflows per status, all time: [`WorkflowStats::by_status`] alone,
    /// for callers that ask often (`/metrics`) and need none of the rest.
    /// The default takes it from [`Self::stats`].
    ///
    /// # Errors
    /// [`StoreError`].
    async fn workflow_counts(&self) -> Result<Vec<(WorkflowStatus, u64)>, StoreError> {
        Ok(self.stats(Utc::now()).await?.by_status)
    }

    /// Cheap reachability check for `/readyz`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn ping(&self) -> Result<(), StoreError>;
}
