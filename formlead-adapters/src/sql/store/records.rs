//! What a run records: step checkpoints, drafts (compare-and-set on their
//! status; revised in place; found cold), tasks, errors and the audit
//! trail.

use chrono::{DateTime, Utc};
use formlead_core::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, StepRecord, TaskId, WorkflowError,
    WorkflowId,
};
use formlead_core::ports::{StoreError, TaskUpdate};

use super::super::exec::{Sql, stmt};
use super::SqlStore;
use super::columns::{audit_cols, draft_cols, error_cols, step_cols, task_cols};
use super::writes::{audit_write, draft_write, step_write, task_write};

impl<B: Sql> SqlStore<B> {
    pub(super) async fn save_step(&self, r: &StepRecord) -> Result<(), StoreError> {
        self.step_faults(r).await?;
        self.execute_write(step_write::<B>(r)).await
    }
    pub(super) async fn list_steps(&self, id: WorkflowId) -> Result<Vec<StepRecord>, StoreError> {
        let mut steps = self
            .all_by_id(
                concat!(
                    "SELECT ",
                    step_cols!(),
                    " FROM workflow_steps WHERE workflow_id = $1"
                ),
                id.0,
                |r| r.step(),
            )
            .await?;
        steps.sort_by_key(|s| s.step.number());
        Ok(steps)
    }
    pub(super) async fn insert_draft(&self, d: &DraftEmail) -> Result<(), StoreError> {
        self.execute_write(draft_write::<B>(d)).await
    }
    pub(super) async fn update_draft(
        &self,
        d: &DraftEmail,
        expected: DraftStatus,
    ) -> Result<bool, StoreError> {
        let q = stmt::<B>(
            "UPDATE draft_emails SET status = $3, updated_at = $4, decided_by = $5, decided_at = $6, reject_reason = $7, \
             sent_message_id = $8, sent_at = $9, external_id = $10, thread_id = $11 WHERE id = $1 AND status = $2 RETURNING id",
        )
        .arg(d.id.0)
        .arg(expected.as_str().to_owned())
        .arg(d.status.as_str().to_owned())
        .arg(d.updated_at)
        .arg(d.decided_by.clone())
        .arg(d.decided_at)
        .arg(d.reject_reason.clone())
        .arg(d.sent_message_id.clone())
        .arg(d.sent_at)
        .arg(d.external_id.clone())
        .arg(d.thread_id.clone());
        if self.write_optional(q, |_| Ok(())).await?.is_some() {
            return Ok(true);
        }
        match self.get_draft(d.id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::not_found("draft", d.id)),
        }
    }
    pub(super) async fn get_draft(&self, id: DraftId) -> Result<Option<DraftEmail>, StoreError> {
        self.one_by_id(
            concat!("SELECT ", draft_cols!(), " FROM draft_emails WHERE id = $1"),
            id.0,
            |r| r.draft(),
        )
        .await
    }
    pub(super) async fn drafts_for_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Vec<DraftEmail>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                draft_cols!(),
                " FROM draft_emails WHERE workflow_id = $1 ORDER BY created_at"
            ),
            id.0,
            |r| r.draft(),
        )
        .await
    }
    pub(super) async fn insert_task(&self, t: &CrmTask) -> Result<(), StoreError> {
        self.execute_write(task_write::<B>(t)).await
    }
    pub(super) async fn tasks_for_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Vec<CrmTask>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                task_cols!(),
                " FROM hubspot_tasks WHERE workflow_id = $1 ORDER BY created_at"
            ),
            id.0,
            |r| r.task(),
        )
        .await
    }
    pub(super) async fn errors_for_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Vec<WorkflowError>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                error_cols!(),
                " FROM workflow_errors WHERE workflow_id = $1 ORDER BY created_at, attempt"
            ),
            id.0,
            |r| r.error(),
        )
        .await
    }
    pub(super) async fn record_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        self.execute_write(audit_write::<B>(e)).await
    }
    pub(super) async fn audit_for_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                audit_cols!(),
                " FROM audit_events WHERE workflow_id = $1 ORDER BY created_at"
            ),
            id.0,
            |r| r.audit(),
        )
        .await
    }
    pub(super) async fn revise_draft(
        &self,
        id: DraftId,
        [subject, body_text, body_html]: [&str; 3],
        expected: DraftStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let q = stmt::<B>(
            "UPDATE draft_emails SET subject = $2, body_text = $3, body_html = $4, updated_at = $5 \
             WHERE id = $1 AND status = $6 RETURNING id",
        )
        .arg(id.0)
        .arg(subject.to_owned())
        .arg(body_text.to_owned())
        .arg(body_html.to_owned())
        .arg(now)
        .arg(expected.as_str());
        if self.write_optional(q, |_| Ok(())).await?.is_some() {
            return Ok(true);
        }
        match self.get_draft(id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::not_found("draft", id)),
        }
    }

    pub(super) async fn cold_drafts(
        &self,
        since: DateTime<Utc>,
        limit: u32,
        unmarked_only: bool,
    ) -> Result<Vec<DraftEmail>, StoreError> {
        let q = stmt::<B>(concat!(
            "SELECT ",
            draft_cols!(),
            " FROM draft_emails WHERE status = 'pending_approval' AND created_at < $1 ",
            "AND (cold_at IS NULL OR $3 = 0) ",
            "AND workflow_id IN (SELECT id FROM workflows WHERE status = 'awaiting_approval') ",
            "ORDER BY created_at LIMIT $2"
        ))
        .arg(since)
        .arg(i64::from(limit))
        .arg(i64::from(unmarked_only));
        self.fetch_all(q, |r| r.draft()).await
    }

    pub(super) async fn mark_cold(
        &self,
        id: DraftId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let q = stmt::<B>(
            "UPDATE draft_emails SET cold_at = $2 WHERE id = $1 AND cold_at IS NULL RETURNING id",
        )
        .arg(id.0)
        .arg(now);
        Ok(self.write_optional(q, |_| Ok(())).await?.is_some())
    }

    pub(super) async fn revise_task(
        &self,
        id: TaskId,
        update: &TaskUpdate,
    ) -> Result<(), StoreError> {
        let q = stmt::<B>(
            "UPDATE hubspot_tasks SET body = COALESCE($2, body), priority = COALESCE($3, priority) \
             WHERE id = $1 RETURNING id",
        )
        .arg(id.0)
        .arg(update.body.clone())
        .arg(update.priority.map(|p| p.as_str().to_owned()));
        self.write_optional(q, |_| Ok(()))
            .await?
            .ok_or_else(|| StoreError::not_found("task", id))
    }
}
