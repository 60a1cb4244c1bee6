//! Decoding rows into domain types, for any [`Backend`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use formlead_core::domain::{
    AuditEvent, AuditId, CrmTask, DraftEmail, DraftId, DraftStatus, ErrorId, ErrorKind,
    FormSubmission, StepName, StepRecord, StepStatus, SubmissionId, SubmissionSource, TaskId,
    TaskPriority, TaskType, Workflow, WorkflowError, WorkflowId, WorkflowStatus,
};
use formlead_core::ports::StoreError;
use serde_json::Value;
use uuid::Uuid;

use super::super::exec::{DbRow, Sql};

/// Typed access to one row's columns.
pub(crate) struct Reader<'r, B: Sql> {
    pub row: &'r DbRow<B>,
    /// Put before every column name: a row carrying two records names
    /// one's columns `<prefix><column>`.
    prefix: &'static str,
}

fn corrupt(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::permanent(format!("column {col}: {e}"))
}

/// A column that must not be NULL.
fn required<T>(col: &str, v: Option<T>) -> Result<T, StoreError> {
    v.ok_or_else(|| corrupt(col, "is NULL"))
}

impl<'r, B: Sql> Reader<'r, B> {
    pub fn new(row: &'r DbRow<B>) -> Self {
        Self { row, prefix: "" }
    }

    /// Reads the columns named `<prefix><column>`.
    pub fn prefixed(row: &'r DbRow<B>, prefix: &'static str) -> Self {
        Self { row, prefix }
    }

    fn name<'c>(&self, col: &'c str) -> Cow<'c, str> {
        if self.prefix.is_empty() {
            Cow::Borrowed(col)
        } else {
            Cow::Owned(format!("{}{col}", self.prefix))
        }
    }

    pub fn s(&self, col: &str) -> Result<String, StoreError> {
        required(col, self.opt_s(col)?)
    }

    pub fn opt_s(&self, col: &str) -> Result<Option<String>, StoreError> {
        B::read_text(self.row, &self.name(col)).map_err(|e| corrupt(col, e))
    }

    pub fn i(&self, col: &str) -> Result<i64, StoreError> {
        required(col, self.opt_i(col)?)
    }

    pub fn opt_i(&self, col: &str) -> Result<Option<i64>, StoreError> {
        B::read_int(self.row, &self.name(col)).map_err(|e| corrupt(col, e))
    }

    pub fn u32(&self, col: &str) -> Result<u32, StoreError> {
        u32::try_from(self.i(col)?).map_err(|e| corrupt(col, e))
    }

    pub fn uuid(&self, col: &str) -> Result<Uuid, StoreError> {
        required(col, self.opt_uuid(col)?)
    }

    pub fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, StoreError> {
        B::read_id(self.row, &self.name(col))
            .map_err(|e| corrupt(col, e))?
            .map(B::uuid)
            .transpose()
            .map_err(|e| corrupt(col, e))
    }

    pub fn time(&self, col: &str) -> Result<DateTime<Utc>, StoreError> {
        required(col, self.opt_time(col)?)
    }

    pub fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        B::read_time(self.row, &self.name(col))
            .map_err(|e| corrupt(col, e))?
            .map(B::datetime)
            .transpose()
            .map_err(|e| corrupt(col, e))
    }

    pub fn json(&self, col: &str) -> Result<Value, StoreError> {
        required(col, self.opt_json(col)?)
    }

    pub fn opt_json(&self, col: &str) -> Result<Option<Value>, StoreError> {
        B::read_json(self.row, &self.name(col))
            .map_err(|e| corrupt(col, e))?
            .map(B::value)
            .transpose()
            .map_err(|e| corrupt(col, e))
    }

    fn parsed<T>(
        &self,
        col: &str,
        parse: impl FnOnce(&str) -> Result<T, formlead_core::domain::UnknownVariant>,
    ) -> Result<T, StoreError> {
        parse(&self.s(col)?).map_err(|e| corrupt(col, e))
    }

    pub fn workflow(&self) -> Result<Workflow, StoreError> {
        Ok(Workflow {
            id: WorkflowId(self.uuid("id")?),
            submission_id: SubmissionId(self.uuid("submission_id")?),
            status: self.parsed("status", WorkflowStatus::parse)?,
            prospect_email: self.s("prospect_email")?,
            attempts: self.u32("attempts")?,
            created_at: self.time("created_at")?,
            updated_at: self.time("updated_at")?,
            started_at: self.opt_time("started_at")?,
            completed_at: self.opt_time("completed_at")?,
            next_retry_at: self.opt_time("next_retry_at")?,
            last_error: self.opt_s("last_error")?,
        })
    }

    pub fn submission(&self) -> Result<FormSubmission, StoreError> {
        let fields: BTreeMap<String, String> =
            serde_json::from_value(self.json("fields")?).map_err(|e| corrupt("fields", e))?;
        let source = self.s("source")?;
        Ok(FormSubmission {
            id: SubmissionId(self.uuid("id")?),
            form_submission_id: self.s("form_submission_id")?,
            portal_id: self.opt_i("portal_id")?.and_then(|p| u64::try_from(p).ok()),
            form_id: self.opt_s("form_id")?,
            submitted_at: self.opt_time("submitted_at")?,
            page_url: self.opt_s("page_url")?,
            fields,
            raw_payload: self.s("raw_body")?,
            source: SubmissionSource::parse(&source).ok_or_else(|| corrupt("source", source))?,
            received_at: self.time("received_at")?,
        })
    }

    pub fn step(&self) -> Result<StepRecord, StoreError> {
        Ok(StepRecord {
            workflow_id: WorkflowId(self.uuid("workflow_id")?),
            step: self.parsed("step", StepName::parse)?,
            status: self.parsed("status", StepStatus::parse)?,
            attempt: self.u32("attempt")?,
            started_at: self.time("started_at")?,
            finished_at: self.opt_time("finished_at")?,
            summary: self.opt_s("summary")?,
            output: self.opt_json("output")?,
            error: self.opt_s("error")?,
        })
    }

    pub fn draft(&self) -> Result<DraftEmail, StoreError> {
        Ok(DraftEmail {
            id: DraftId(self.uuid("id")?),
            workflow_id: WorkflowId(self.uuid("workflow_id")?),
            to_email: self.s("to_email")?,
            to_name: self.opt_s("to_name")?,
            subject: self.s("subject")?,
            body_text: self.s("body_text")?,
            body_html: self.s("body_html")?,
            message_id: self.s("message_id")?,
            thread_id: self.opt_s("thread_id")?,
            in_reply_to: self.opt_s("in_reply_to")?,
            external_id: self.opt_s("external_id")?,
            status: self.parsed("status", DraftStatus::parse)?,
            created_at: self.time("created_at")?,
            updated_at: self.time("updated_at")?,
            decided_by: self.opt_s("decided_by")?,
            decided_at: self.opt_time("decided_at")?,
            reject_reason: self.opt_s("reject_reason")?,
            sent_message_id: self.opt_s("sent_message_id")?,
            sent_at: self.opt_time("sent_at")?,
        })
    }

    pub fn task(&self) -> Result<CrmTask, StoreError> {
        Ok(CrmTask {
            id: TaskId(self.uuid("id")?),
            workflow_id: WorkflowId(self.uuid("workflow_id")?),
            contact_id: self.s("contact_id")?,
            external_id: self.s("external_id")?,
            subject: self.s("subject")?,
            body: self.s("body")?,
            due_at: self.time("due_at")?,
            priority: self.parsed("priority", TaskPriority::parse)?,
            task_type: self.parsed("task_type", TaskType::parse)?,
            owner_id: self.opt_s("owner_id")?,
            created_at: self.time("created_at")?,
        })
    }

    pub fn error(&self) -> Result<WorkflowError, StoreError> {
        Ok(WorkflowError {
            id: ErrorId(self.uuid("id")?),
            workflow_id: WorkflowId(self.uuid("workflow_id")?),
            attempt: self.u32("attempt")?,
            step: self
                .opt_s("step")?
                .map(|s| StepName::parse(&s))
                .transpose()
                .map_err(|e| corrupt("step", e))?,
            kind: self.parsed("kind", ErrorKind::parse)?,
            message: self.s("message")?,
            retry_at: self.opt_time("retry_at")?,
            created_at: self.time("created_at")?,
        })
    }

    pub fn audit(&self) -> Result<AuditEvent, StoreError> {
        Ok(AuditEvent {
            id: AuditId(self.uuid("id")?),
            workflow_id: self.opt_uuid("workflow_id")?.map(WorkflowId),
            actor: self.s("actor")?,
            action: self.s("action")?,
            detail: self.json("detail")?,
            created_at: self.time("created_at")?,
        })
    }
}
