//! This attempt's hold on its workflow: renewed between steps, so another
//! worker never runs the workflow at the same time, and a dead worker's
//! workflow is picked up once the lease runs out.

use super::engine::Engine;
use super::failure::{StepFailure, store_failure};
use crate::domain::Workflow;

/// This attempt's hold on its workflow.
#[derive(Debug)]
pub(crate) struct Lease {
    pub owner: String,
    expires: std::sync::Mutex<chrono::DateTime<chrono::Utc>>,
}

impl Lease {
    pub fn new(owner: String, expires: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            owner,
            expires: std::sync::Mutex::new(expires),
        }
    }

    fn expires(&self) -> chrono::DateTime<chrono::Utc> {
        *self
            .expires
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn extend(&self, until: chrono::DateTime<chrono::Utc>) {
        *self
            .expires
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = until;
    }
}

impl Engine {
    /// How long a lease lasts (`EngineConfig::lease`).
    pub(crate) fn lease_length(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::MAX)
    }

    /// Extends this attempt's lease before the next step, once less than
    /// half of it remains (so a fast workflow renews rarely; a lost lease
    /// is noticed at the latest halfway to its expiry).
    pub(crate) async fn renew_lease(
        &self,
        workflow: &Workflow,
        lease: &Lease,
    ) -> Result<(), StepFailure> {
        let now = self.ports.clock.now();
        let length = self.lease_length();
        if lease.expires() - now > length / 2 {
            return Ok(());
        }
        let until = now + length;
        self.ports
            .store
            .renew_lease(workflow.id, &lease.owner, until)
            .await
            .map_err(store_failure(None))?;
        lease.extend(until);
        Ok(())
    }
}
