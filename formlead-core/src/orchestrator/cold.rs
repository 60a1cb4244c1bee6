//! The speed-to-lead clock after the draft: a draft that has waited for an
//! operator's approval longer than `EngineConfig::cold_after` is a lead
//! going cold. Its CRM task is raised to high priority, once (the store
//! records it), with an audit event; the dashboard shows it first.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::engine::Engine;
use crate::domain::TaskPriority;
use crate::ports::{StoreError, TaskUpdate};

/// Most drafts handled per sweep.
const SWEEP_LIMIT: u32 = 100;

impl Engine {
    /// A draft created before this, still waiting for approval at `now`,
    /// is going cold (`None`: drafts never go cold).
    pub fn cold_since(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after = self.config.cold_after?;
        Some(now - chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX))
    }

    /// Finds the drafts gone cold since the last sweep and raises their
    /// tasks: how many were newly found cold. A CRM failure leaves the
    /// draft for the next sweep.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn warm_cold_drafts(&self) -> Result<usize, StoreError> {
        let now = self.ports.clock.now();
        let Some(since) = self.cold_since(now) else {
            return Ok(0);
        };
        let store = &self.ports.store;
        let mut found = 0;
        'drafts: for draft in store.cold_drafts(since, SWEEP_LIMIT, true).await? {
            let raise = TaskUpdate {
                body: None,
                priority: Some(TaskPriority::High),
            };
            let tasks = store.tasks_for_workflow(draft.workflow_id).await?;
            for task in &tasks {
                if let Err(e) = self.ports.crm.update_task(&task.external_id, &raise).await {
                    warn!(draft_id = %draft.id, error = %e, "could not raise a cold draft's task; trying again at the next sweep");
                    continue 'drafts;
                }
                store.revise_task(task.id, &raise).await?;
            }
            if !store.mark_cold(draft.id, now).await? {
                continue; // another process found it first
            }
            let waited = (now - draft.created_at).num_minutes();
            self.audit(
                Some(draft.workflow_id),
                "system",
                "draft.cold",
                serde_json::json!({
                    "draft_id": draft.id,
                    "waited_minutes": waited,
                    "tasks_raised": tasks.iter().map(|t| t.external_id.clone()).collect::<Vec<_>>(),
                }),
            )
            .await?;
            self.observer.draft_went_cold(draft.workflow_id);
            info!(workflow_id = %draft.workflow_id, waited_minutes = waited, "a draft has waited for approval too long; its task is now high priority");
            found += 1;
        }
        Ok(found)
    }
}
