//! What a run records: step checkpoints, drafts (compare-and-set on their
//! status), tasks, errors and the audit trail.

use formlead_core::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, StepRecord, WorkflowError, WorkflowId,
};
use formlead_core::ports::StoreError;

use super::super::exec::{Sql, stmt};
use super::SqlStore;
use super::columns::{audit_cols, draft_cols, error_cols, step_cols, task_cols};

impl<B: Sql> SqlStore<B> {
    pub(super) async fn save_step(&self, r: &StepRecord) -> Result<(), StoreError> {
        self.faults.check::<StoreError>("save_step").await?;
        self.faults
            .check_item::<StoreError>(|| format!("save_step:{}:{}", r.step, r.status))
            .await?;
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO workflow_steps (", step_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ",
                "ON CONFLICT (workflow_id, step) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, ",
                "started_at = excluded.started_at, finished_at = excluded.finished_at, summary = excluded.summary, ",
                "output = excluded.output, error = excluded.error"
            ))
            .arg(r.workflow_id.0)
            .arg(r.step.as_str().to_owned())
            .arg(r.status.as_str().to_owned())
            .arg(i64::from(r.attempt))
            .arg(r.started_at)
            .arg(r.finished_at)
            .arg(r.summary.clone())
            .arg(r.output.clone())
            .arg(r.error.clone())
        )
        .await
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
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO draft_emails (",
                draft_cols!(),
                ") VALUES ",
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
            ))
            .arg(d.id.0)
            .arg(d.workflow_id.0)
            .arg(d.to_email.clone())
            .arg(d.to_name.clone())
            .arg(d.subject.clone())
            .arg(d.body_text.clone())
            .arg(d.body_html.clone())
            .arg(d.message_id.clone())
            .arg(d.thread_id.clone())
            .arg(d.in_reply_to.clone())
            .arg(d.external_id.clone())
            .arg(d.status.as_str().to_owned())
            .arg(d.created_at)
            .arg(d.updated_at)
            .arg(d.decided_by.clone())
            .arg(d.decided_at)
            .arg(d.reject_reason.clone())
            .arg(d.sent_message_id.clone())
            .arg(d.sent_at)
        )
        .await
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
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO hubspot_tasks (",
                task_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .arg(t.id.0)
            .arg(t.workflow_id.0)
            .arg(t.contact_id.clone())
            .arg(t.external_id.clone())
            .arg(t.subject.clone())
            .arg(t.body.clone())
            .arg(t.due_at)
            .arg(t.priority.as_str().to_owned())
            .arg(t.task_type.as_str().to_owned())
            .arg(t.owner_id.clone())
            .arg(t.created_at),
        )
        .await
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
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO audit_events (",
                audit_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .arg(e.id.0)
            .arg(e.workflow_id.map(|w| w.0))
            .arg(e.actor.clone())
            .arg(e.action.clone())
            .arg(e.detail.clone())
            .arg(e.created_at),
        )
        .await
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
}
