//! Durable state: submissions, workflows, step checkpoints, drafts, tasks,
//! errors and the audit trail.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

mod error;
mod records;

pub use error::{Conflict, StoreError};
pub use records::{
    Accepted, DEFAULT_MERGE_WINDOW, FailedAt, LeadTimes, LinkedSubmission, Page, PastSubmission,
    ProspectHistory, RunInputs, RunStart, StartAttempt, StepFailures, StoreWrite, WorkflowFilter,
    WorkflowStats,
};

use crate::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, FormSubmission, StepRecord,
    SubmissionId, TaskId, Workflow, WorkflowError, WorkflowId, WorkflowStatus, WorkflowSummary,
};
use crate::ports::TaskUpdate;

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

    /// A submission that arrived without a `formSubmissionId` (its key
    /// starts with [`UNIDENTIFIED_PREFIX`](crate::domain::UNIDENTIFIED_PREFIX))
    /// from `email`, submitted at `submitted_at` on form `form_id` (or on no
    /// named form): how `reconcile` recognises a webhook's submission in
    /// the forms API's list.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn find_unidentified(
        &self,
        form_id: &str,
        email: &str,
        submitted_at: DateTime<Utc>,
    ) -> Result<Option<Accepted>, StoreError>;

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

    /// [`Self::start_attempt`], and with the lease what the run reads
    /// first (its submission and checkpoints) when the store can read them
    /// in the same unit. By default it does not ([`RunStart::inputs`] is
    /// `None`).
    ///
    /// # Errors
    /// As [`Self::start_attempt`]; nothing is leased when it fails.
    async fn start_run(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt<RunStart>, StoreError> {
        Ok(self
            .start_attempt(id, owner, now, lease)
            .await?
            .map(RunStart::from))
    }

    /// Takes the lease on a finished workflow (`awaiting_approval` or
    /// `completed`; its status stays) to update its reply: `Started` with
    /// the workflow, `Busy` while another holder's lease runs,
    /// `NotRunnable` in any other status.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError`].
    async fn lease_reply(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError>;

    /// Gives up `owner`'s lease without changing the workflow's status.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `owner` no longer holds it.
    async fn release_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Submissions linked to workflow `id`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn linked_submissions(&self, id: WorkflowId)
    -> Result<Vec<LinkedSubmission>, StoreError>;

    /// Records that the reply now answers linked submission `submission`,
    /// with the CRM note logged for it.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn apply_link(
        &self,
        submission: SubmissionId,
        note_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// A linked submission whose reply was decided before it could be
    /// answered gets a workflow (and job) of its own, atomically: its id.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn unlink_submission(
        &self,
        submission: SubmissionId,
        now: DateTime<Utc>,
    ) -> Result<WorkflowId, StoreError>;

    /// Replaces an unsent draft's subject and bodies (compare-and-set on
    /// `expected`, its status): `false` when it changed meanwhile.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn revise_draft(
        &self,
        id: DraftId,
        subject: &str,
        body_text: &str,
        body_html: &str,
        expected: DraftStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Drafts awaiting an operator's approval since before `since`, oldest
    /// first, at most `limit`: all of them, or (`unmarked_only`) those not
    /// recorded cold yet ([`Self::mark_cold`]).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn cold_drafts(
        &self,
        since: DateTime<Utc>,
        limit: u32,
        unmarked_only: bool,
    ) -> Result<Vec<DraftEmail>, StoreError>;

    /// Records that draft `id` went cold (once: `false` when it already
    /// was).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn mark_cold(&self, id: DraftId, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Changes a stored task as its CRM copy was changed.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn revise_task(&self, id: TaskId, update: &TaskUpdate) -> Result<(), StoreError>;

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

    /// Commits `writes` (as [`Store::write_all`]) and ends the attempt (as
    /// [`Store::finish_workflow`]): the last write of a successful run. A
    /// store that can do both in one unit writes nothing when `owner` no
    /// longer holds the lease; by default `writes` are committed first.
    ///
    /// # Errors
    /// [`StoreError`], as either method's.
    async fn finish_attempt(
        &self,
        writes: &[StoreWrite],
        id: WorkflowId,
        owner: &str,
        status: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !writes.is_empty() {
            self.write_all(writes).await?;
        }
        self.finish_workflow(id, owner, status, now).await
    }

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

    /// Commits `writes` as one unit, in order, durably: all of them or none.
    /// Each one does what its own method would (`save_step`, `record_audit`,
    /// `insert_draft`, `insert_task`). A workflow run defers the records that
    /// need not be durable yet and hands them over with the next one that
    /// must be.
    ///
    /// # Errors
    /// [`StoreError`]; then none of `writes` took effect.
    async fn write_all(&self, writes: &[StoreWrite]) -> Result<(), StoreError>;

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

    /// Leads received since `since`, newest first (at most 20,000): when
    /// each arrived and, once drafted, when its draft was created. What
    /// the dashboard's 24-hour chart draws.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn activity(&self, since: DateTime<Utc>) -> Result<Vec<LeadTimes>, StoreError>;

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
