//! Core's [`Store`] port on [`SqlStore`]: each method hands over, in one
//! line, to the one in its concern (`accept`, `workflows`, `records`,
//! `reads`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use formlead_core::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, FormSubmission, StepRecord,
    SubmissionId, TaskId, Workflow, WorkflowError, WorkflowId, WorkflowStatus, WorkflowSummary,
};
use formlead_core::ports::{
    Accepted, LeadTimes, LinkedSubmission, Page, ProspectHistory, RunStart, StartAttempt, Store,
    StoreError, StoreWrite, TaskUpdate, WorkflowFilter, WorkflowStats,
};

use super::super::exec::Sql;
use super::SqlStore;

#[async_trait]
impl<B: Sql> Store for SqlStore<B> {
    async fn accept_submission(&self, s: &FormSubmission) -> Result<Accepted, StoreError> {
        SqlStore::accept_submission(self, s).await
    }

    async fn find_unidentified(
        &self,
        form_id: &str,
        email: &str,
        submitted_at: DateTime<Utc>,
    ) -> Result<Option<Accepted>, StoreError> {
        SqlStore::find_unidentified(self, form_id, email, submitted_at).await
    }

    async fn find_submission(
        &self,
        form_submission_id: &str,
    ) -> Result<Option<Accepted>, StoreError> {
        SqlStore::find_submission(self, form_submission_id).await
    }

    async fn get_submission(&self, id: SubmissionId) -> Result<Option<FormSubmission>, StoreError> {
        SqlStore::get_submission(self, id).await
    }

    async fn get_workflow(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError> {
        SqlStore::get_workflow(self, id).await
    }

    async fn list_workflows(
        &self,
        filter: &WorkflowFilter,
    ) -> Result<Page<WorkflowSummary>, StoreError> {
        SqlStore::list_workflows(self, filter).await
    }

    async fn start_attempt(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        SqlStore::start_attempt(self, id, owner, now, lease).await
    }

    async fn start_run(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt<RunStart>, StoreError> {
        SqlStore::start_run(self, id, owner, now, lease).await
    }

    async fn lease_reply(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        SqlStore::lease_reply(self, id, owner, now, lease).await
    }

    async fn release_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        SqlStore::release_lease(self, id, owner, now).await
    }

    async fn linked_submissions(
        &self,
        id: WorkflowId,
    ) -> Result<Vec<LinkedSubmission>, StoreError> {
        SqlStore::linked_submissions(self, id).await
    }

    async fn apply_link(
        &self,
        submission: SubmissionId,
        note_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        SqlStore::apply_link(self, submission, note_id, now).await
    }

    async fn unlink_submission(
        &self,
        submission: SubmissionId,
        now: DateTime<Utc>,
    ) -> Result<WorkflowId, StoreError> {
        SqlStore::unlink_submission(self, submission, now).await
    }

    async fn revise_draft(
        &self,
        id: DraftId,
        subject: &str,
        body_text: &str,
        body_html: &str,
        expected: DraftStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        SqlStore::revise_draft(self, id, [subject, body_text, body_html], expected, now).await
    }

    async fn cold_drafts(
        &self,
        since: DateTime<Utc>,
        limit: u32,
        unmarked_only: bool,
    ) -> Result<Vec<DraftEmail>, StoreError> {
        SqlStore::cold_drafts(self, since, limit, unmarked_only).await
    }

    async fn mark_cold(&self, id: DraftId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        SqlStore::mark_cold(self, id, now).await
    }

    async fn revise_task(&self, id: TaskId, update: &TaskUpdate) -> Result<(), StoreError> {
        SqlStore::revise_task(self, id, update).await
    }

    async fn renew_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        SqlStore::renew_lease(self, id, owner, until).await
    }

    async fn finish_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        status: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        SqlStore::finish_workflow(self, id, owner, status, now).await
    }

    async fn finish_attempt(
        &self,
        writes: &[StoreWrite],
        id: WorkflowId,
        owner: &str,
        status: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        SqlStore::finish_attempt(self, writes, id, owner, status, now).await
    }

    async fn schedule_retry(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        SqlStore::schedule_retry(self, id, owner, error, retry_at).await
    }

    async fn fail_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
    ) -> Result<(), StoreError> {
        SqlStore::fail_workflow(self, id, owner, error).await
    }

    async fn requeue_workflow(
        &self,
        id: WorkflowId,
        now: DateTime<Utc>,
        run_at: DateTime<Utc>,
    ) -> Result<Workflow, StoreError> {
        SqlStore::requeue_workflow(self, id, now, run_at).await
    }

    async fn recover_orphans(&self, now: DateTime<Utc>) -> Result<Vec<WorkflowId>, StoreError> {
        SqlStore::recover_orphans(self, now).await
    }

    async fn transition_workflow(
        &self,
        id: WorkflowId,
        from: WorkflowStatus,
        to: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        SqlStore::transition_workflow(self, id, from, to, now).await
    }

    async fn save_step(&self, r: &StepRecord) -> Result<(), StoreError> {
        SqlStore::save_step(self, r).await
    }

    async fn write_all(&self, writes: &[StoreWrite]) -> Result<(), StoreError> {
        SqlStore::write_all(self, writes).await
    }

    async fn list_steps(&self, id: WorkflowId) -> Result<Vec<StepRecord>, StoreError> {
        SqlStore::list_steps(self, id).await
    }

    async fn insert_draft(&self, d: &DraftEmail) -> Result<(), StoreError> {
        SqlStore::insert_draft(self, d).await
    }

    async fn update_draft(
        &self,
        d: &DraftEmail,
        expected: DraftStatus,
    ) -> Result<bool, StoreError> {
        SqlStore::update_draft(self, d, expected).await
    }

    async fn get_draft(&self, id: DraftId) -> Result<Option<DraftEmail>, StoreError> {
        SqlStore::get_draft(self, id).await
    }

    async fn drafts_for_workflow(&self, id: WorkflowId) -> Result<Vec<DraftEmail>, StoreError> {
        SqlStore::drafts_for_workflow(self, id).await
    }

    async fn list_drafts(
        &self,
        status: Option<DraftStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<DraftEmail>, StoreError> {
        SqlStore::list_drafts(self, status, limit, offset).await
    }

    async fn insert_task(&self, t: &CrmTask) -> Result<(), StoreError> {
        SqlStore::insert_task(self, t).await
    }

    async fn tasks_for_workflow(&self, id: WorkflowId) -> Result<Vec<CrmTask>, StoreError> {
        SqlStore::tasks_for_workflow(self, id).await
    }

    async fn errors_for_workflow(&self, id: WorkflowId) -> Result<Vec<WorkflowError>, StoreError> {
        SqlStore::errors_for_workflow(self, id).await
    }

    async fn record_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        SqlStore::record_audit(self, e).await
    }

    async fn audit_for_workflow(&self, id: WorkflowId) -> Result<Vec<AuditEvent>, StoreError> {
        SqlStore::audit_for_workflow(self, id).await
    }

    async fn prospect_history(
        &self,
        email: &str,
        exclude: WorkflowId,
    ) -> Result<ProspectHistory, StoreError> {
        SqlStore::prospect_history(self, email, exclude).await
    }

    async fn activity(&self, since: DateTime<Utc>) -> Result<Vec<LeadTimes>, StoreError> {
        SqlStore::activity(self, since).await
    }

    async fn stats(&self, since: DateTime<Utc>) -> Result<WorkflowStats, StoreError> {
        SqlStore::stats(self, since).await
    }

    async fn workflow_counts(&self) -> Result<Vec<(WorkflowStatus, u64)>, StoreError> {
        SqlStore::workflow_counts(self).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        SqlStore::ping(self).await
    }
}
