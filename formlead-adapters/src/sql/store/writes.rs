//! The statements of what a run records: a step's checkpoint, a draft, a
//! task, an audit event; one at a time or as one unit.

use chrono::{DateTime, Utc};
use formlead_core::domain::{
    AuditEvent, CrmTask, DraftEmail, StepRecord, WorkflowId, WorkflowStatus,
};
use formlead_core::ports::{StoreError, StoreWrite};

use super::super::backend::{Arg, UnitCall, UnitRows};
use super::super::exec::{Sql, stmt};
use super::super::write_path::{UnitWrite, WriteQuery};
use super::SqlStore;
use super::columns::{audit_cols, draft_cols, step_cols, task_cols};

impl<B: Sql> SqlStore<B> {
    /// Commits `writes` as one unit (see `Store::write_all`): on SQLite and
    /// PostgreSQL one call for all of them, elsewhere a statement each, in
    /// one transaction.
    pub(super) async fn write_all(&self, writes: &[StoreWrite]) -> Result<(), StoreError> {
        let rows = self.unit_rows(writes).await?;
        self.write_rows(rows).await
    }

    /// Commits `writes` and ends the attempt (see `Store::finish_attempt`):
    /// in one statement where the backend has one (PostgreSQL), so nothing
    /// is written when the lease was lost; otherwise the unit, then the end.
    pub(super) async fn finish_attempt(
        &self,
        writes: &[StoreWrite],
        id: WorkflowId,
        owner: &str,
        status: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let rows = self.unit_rows(writes).await?;
        let finish: [Arg; 4] = [
            id.0.into(),
            owner.into(),
            status.as_str().into(),
            now.into(),
        ];
        let Some(call) = B::finish_call(&[&rows], &finish) else {
            if !rows.is_empty() {
                self.write_rows(rows).await?;
            }
            return self.finish_workflow(id, owner, status, now).await;
        };
        let (sql, params) = call.map_err(StoreError::permanent)?;
        let query = params.into_iter().fold(stmt::<B>(sql), |q, p| q.arg(p));
        self.write_owned(id, query).await
    }

    /// The rows of `writes` by table (each step's last record only, in step
    /// order), after the fault points of its step records.
    async fn unit_rows(&self, writes: &[StoreWrite]) -> Result<UnitRows, StoreError> {
        let mut rows = UnitRows::default();
        let mut steps: Vec<&StepRecord> = Vec::new();
        for w in writes {
            match w {
                StoreWrite::Step(r) => {
                    self.step_faults(r).await?;
                    steps.retain(|s| s.step != r.step || s.workflow_id != r.workflow_id);
                    steps.push(r);
                }
                StoreWrite::Audit(e) => rows.audit.push(audit_row(e)),
                StoreWrite::Draft(d) => rows.drafts.push(draft_row(d)),
                StoreWrite::Task(t) => rows.tasks.push(task_row(t)),
            }
        }
        rows.steps = steps.into_iter().map(step_row).collect();
        Ok(rows)
    }

    /// Commits `rows` as one unit: rows go in table order, the step
    /// checkpoints last.
    async fn write_rows(&self, rows: UnitRows) -> Result<(), StoreError> {
        let unit = if B::UNIT_CALL != UnitCall::PerRow {
            UnitWrite::Rows(rows)
        } else {
            let table = |sql: &'static str, rows: Vec<Vec<Arg>>| {
                rows.into_iter()
                    .map(move |row| with_args(stmt::<B>(sql), row))
            };
            UnitWrite::Statements(
                table(INSERT_DRAFT, rows.drafts)
                    .chain(table(INSERT_TASK, rows.tasks))
                    .chain(table(INSERT_AUDIT, rows.audit))
                    .chain(table(UPSERT_STEP, rows.steps))
                    .collect(),
            )
        };
        self.write_unit(unit).await
    }

    /// The fault points of a step's checkpoint.
    pub(super) async fn step_faults(&self, r: &StepRecord) -> Result<(), StoreError> {
        self.faults.check::<StoreError>("save_step").await?;
        self.faults
            .check_item::<StoreError>(|| format!("save_step:{}:{}", r.step, r.status))
            .await
    }
}

fn with_args<B: Sql>(query: WriteQuery<B>, row: Vec<Arg>) -> WriteQuery<B> {
    row.into_iter().fold(query, |q, a| q.arg(a))
}

const UPSERT_STEP: &str = concat!(
    "INSERT INTO workflow_steps (",
    step_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ",
    "ON CONFLICT (workflow_id, step) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, ",
    "started_at = excluded.started_at, finished_at = excluded.finished_at, summary = excluded.summary, ",
    "output = excluded.output, error = excluded.error"
);
const INSERT_DRAFT: &str = concat!(
    "INSERT INTO draft_emails (",
    draft_cols!(),
    ") VALUES ",
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
);
const INSERT_TASK: &str = concat!(
    "INSERT INTO hubspot_tasks (",
    task_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);
const INSERT_AUDIT: &str = concat!(
    "INSERT INTO audit_events (",
    audit_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6)"
);

/// Inserts or replaces a step's checkpoint.
pub(super) fn step_write<B: Sql>(r: &StepRecord) -> WriteQuery<B> {
    with_args(stmt::<B>(UPSERT_STEP), step_row(r))
}

/// Inserts a draft.
pub(super) fn draft_write<B: Sql>(d: &DraftEmail) -> WriteQuery<B> {
    with_args(stmt::<B>(INSERT_DRAFT), draft_row(d))
}

/// Inserts a task.
pub(super) fn task_write<B: Sql>(t: &CrmTask) -> WriteQuery<B> {
    with_args(stmt::<B>(INSERT_TASK), task_row(t))
}

/// Inserts an audit event.
pub(super) fn audit_write<B: Sql>(e: &AuditEvent) -> WriteQuery<B> {
    with_args(stmt::<B>(INSERT_AUDIT), audit_row(e))
}

/// A step checkpoint's columns (`step_cols!`).
fn step_row(r: &StepRecord) -> Vec<Arg> {
    vec![
        r.workflow_id.0.into(),
        r.step.as_str().into(),
        r.status.as_str().into(),
        i64::from(r.attempt).into(),
        r.started_at.into(),
        r.finished_at.into(),
        r.summary.clone().into(),
        r.output.clone().into(),
        r.error.clone().into(),
    ]
}

/// A draft's columns (`draft_cols!`).
fn draft_row(d: &DraftEmail) -> Vec<Arg> {
    vec![
        d.id.0.into(),
        d.workflow_id.0.into(),
        d.to_email.clone().into(),
        d.to_name.clone().into(),
        d.subject.clone().into(),
        d.body_text.clone().into(),
        d.body_html.clone().into(),
        d.message_id.clone().into(),
        d.thread_id.clone().into(),
        d.in_reply_to.clone().into(),
        d.external_id.clone().into(),
        d.status.as_str().into(),
        d.created_at.into(),
        d.updated_at.into(),
        d.decided_by.clone().into(),
        d.decided_at.into(),
        d.reject_reason.clone().into(),
        d.sent_message_id.clone().into(),
        d.sent_at.into(),
    ]
}

/// A task's columns (`task_cols!`).
fn task_row(t: &CrmTask) -> Vec<Arg> {
    vec![
        t.id.0.into(),
        t.workflow_id.0.into(),
        t.contact_id.clone().into(),
        t.external_id.clone().into(),
        t.subject.clone().into(),
        t.body.clone().into(),
        t.due_at.into(),
        t.priority.as_str().into(),
        t.task_type.as_str().into(),
        t.owner_id.clone().into(),
        t.created_at.into(),
    ]
}

/// An audit event's columns (`audit_cols!`).
fn audit_row(e: &AuditEvent) -> Vec<Arg> {
    vec![
        e.id.0.into(),
        e.workflow_id.map(|w| w.0).into(),
        e.actor.clone().into(),
        e.action.clone().into(),
        e.detail.clone().into(),
        e.created_at.into(),
    ]
}
