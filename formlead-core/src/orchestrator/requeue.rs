//! Operator retries of failed workflows: one, or all of them, released
//! gradually.

use tracing::info;

use super::action_error::ActionError;
use super::decisions::operator_actor;
use super::engine::Engine;
use crate::domain::{Workflow, WorkflowId, WorkflowStatus};
use crate::ports::WorkflowFilter;

/// Most workflows one [`Engine::retry_failed`] re-queues.
pub const MAX_RETRY_ALL: usize = 10_000;

/// [`Engine::retry_failed`] releases the workflows it re-queues this far
/// apart (50 a second: 10,000 over about three minutes), so a large set
/// does not hit the vendors, the queue and the store in one instant.
pub const RETRY_ALL_SPACING: std::time::Duration = std::time::Duration::from_millis(20);

impl Engine {
    /// An operator re-runs a failed workflow; it resumes after its last
    /// completed step with a fresh attempt budget.
    ///
    /// # Errors
    /// [`ActionError::Conflict`] unless the workflow is `failed`.
    pub async fn retry_workflow(
        &self,
        id: WorkflowId,
        operator: &str,
    ) -> Result<Workflow, ActionError> {
        let now = self.ports.clock.now();
        self.retry_workflow_at(id, operator, now).await
    }

    /// [`Self::retry_workflow`], its job due at `run_at`.
    async fn retry_workflow_at(
        &self,
        id: WorkflowId,
        operator: &str,
        run_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Workflow, ActionError> {
        let actor = operator_actor(operator);
        let workflow = self
            .ports
            .store
            .requeue_workflow(id, self.ports.clock.now(), run_at)
            .await?;
        self.audit(Some(id), &actor, "workflow.retried", serde_json::json!({}))
            .await?;
        info!(workflow_id = %id, %actor, "workflow re-queued by operator");
        Ok(workflow)
    }

    /// Re-queues every failed workflow (at most [`MAX_RETRY_ALL`]), as
    /// [`Self::retry_workflow`] does one: after an outage or a credentials
    /// problem dead-lettered many leads at once. The failed workflows are
    /// listed first, so one that fails again straight away is not retried
    /// twice; one that left `failed` meanwhile (another operator retried
    /// it) is skipped. Returns how many were re-queued.
    ///
    /// # Errors
    /// [`ActionError`] from the store; the ones re-queued before it stay so.
    pub async fn retry_failed(&self, operator: &str) -> Result<usize, ActionError> {
        let mut ids = Vec::new();
        while ids.len() < MAX_RETRY_ALL {
            let page = self
                .ports
                .store
                .list_workflows(&WorkflowFilter {
                    status: Some(WorkflowStatus::Failed),
                    limit: WorkflowFilter::MAX_LIMIT,
                    offset: u32::try_from(ids.len()).unwrap_or(u32::MAX),
                    ..WorkflowFilter::default()
                })
                .await?;
            if page.items.is_empty() {
                break;
            }
            ids.extend(page.items.into_iter().map(|w| w.id));
        }
        ids.truncate(MAX_RETRY_ALL);
        let mut retried = 0;
        let start = self.ports.clock.now();
        let spacing = chrono::Duration::from_std(RETRY_ALL_SPACING).unwrap_or_default();
        for id in ids {
            let run_at = start + spacing * i32::try_from(retried).unwrap_or(i32::MAX);
            match self.retry_workflow_at(id, operator, run_at).await {
                Ok(_) => retried += 1,
                Err(ActionError::Conflict(_) | ActionError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(retried)
    }
}
