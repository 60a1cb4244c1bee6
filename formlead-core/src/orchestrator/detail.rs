//! Everything about one workflow, for the dashboard and the operator API.

use serde::{Deserialize, Serialize};

use super::engine::Engine;
use crate::domain::{
    AuditEvent, CrmTask, DraftEmail, FormSubmission, StepRecord, Workflow, WorkflowError,
    WorkflowId,
};
use crate::ports::{LinkedSubmission, StoreError};

/// Everything about one workflow, for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowDetail {
    /// The workflow.
    pub workflow: Workflow,
    /// The submission it answers.
    pub submission: Option<FormSubmission>,
    /// Its steps, in order.
    pub steps: Vec<StepRecord>,
    /// Its drafts.
    pub drafts: Vec<DraftEmail>,
    /// Its CRM tasks.
    pub tasks: Vec<CrmTask>,
    /// Its errors, one per failed attempt.
    pub errors: Vec<WorkflowError>,
    /// Its audit trail.
    pub audit: Vec<AuditEvent>,
    /// The prospect's repeat submissions its reply answers (or is about to
    /// answer: `applied_at` is `None` until the draft is updated).
    #[serde(default)]
    pub linked_submissions: Vec<LinkedSubmission>,
}

impl Engine {
    /// Everything about one workflow, or `None` when it does not exist.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn workflow_detail(
        &self,
        id: WorkflowId,
    ) -> Result<Option<WorkflowDetail>, StoreError> {
        let store = &self.ports.store;
        let Some(workflow) = store.get_workflow(id).await? else {
            return Ok(None);
        };
        let (submission, steps, drafts, tasks, errors, audit, linked_submissions) = futures_util::try_join!(
            store.get_submission(workflow.submission_id),
            store.list_steps(id),
            store.drafts_for_workflow(id),
            store.tasks_for_workflow(id),
            store.errors_for_workflow(id),
            store.audit_for_workflow(id),
            store.linked_submissions(id),
        )?;
        Ok(Some(WorkflowDetail {
            workflow,
            submission,
            steps,
            drafts,
            tasks,
            errors,
            audit,
            linked_submissions,
        }))
    }
}
