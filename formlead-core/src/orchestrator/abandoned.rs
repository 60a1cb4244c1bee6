//! Runs cut off part-way: their future was dropped (a worker pool that
//! stopped after its shutdown timeout). Their leases are given up, so the
//! next worker resumes them at its first orphan sweep rather than when the
//! lease would have expired.

use std::sync::Mutex;

use tracing::{info, warn};

use super::engine::Engine;
use crate::domain::WorkflowId;
use crate::ports::StoreError;

/// The leases of runs dropped part-way, until given up.
#[derive(Debug, Default)]
pub(crate) struct Abandoned(Mutex<Vec<(WorkflowId, String)>>);

impl Abandoned {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(WorkflowId, String)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Holds `owner`'s lease on `id` for one run: noted as abandoned if the
    /// run is dropped before [`Holding::ended`].
    pub(crate) fn hold<'a>(&'a self, id: WorkflowId, owner: &'a str) -> Holding<'a> {
        Holding {
            list: self,
            id,
            owner,
            ended: false,
        }
    }
}

/// A run in progress; see [`Abandoned::hold`].
#[derive(Debug)]
pub(crate) struct Holding<'a> {
    list: &'a Abandoned,
    id: WorkflowId,
    owner: &'a str,
    ended: bool,
}

impl Holding<'_> {
    /// The run ended (however it ended): its lease is its own business.
    pub(crate) fn ended(mut self) {
        self.ended = true;
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.list.lock().push((self.id, self.owner.to_owned()));
        }
    }
}

impl Engine {
    /// Gives up the leases of the runs that were dropped part-way (see the
    /// module docs); returns how many were given up. Call it once the
    /// workers have stopped.
    pub async fn release_abandoned(&self) -> usize {
        let runs = std::mem::take(&mut *self.abandoned.lock());
        let mut released = 0;
        for (id, owner) in runs {
            match self
                .ports
                .store
                .release_lease(id, &owner, self.ports.clock.now())
                .await
            {
                Ok(()) => {
                    released += 1;
                    info!(workflow_id = %id, "lease of a run cut off at shutdown given up; the next worker resumes it");
                }
                // Another worker holds it already.
                Err(StoreError::LeaseLost(_)) => {}
                Err(e) => {
                    warn!(workflow_id = %id, error = %e, "could not give up the lease of a run cut off at shutdown; it resumes when the lease expires");
                }
            }
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_runs_dropped_before_they_ended_are_noted() {
        let list = Abandoned::default();
        let (ended, cut) = (WorkflowId::new(), WorkflowId::new());
        list.hold(ended, "w/1").ended();
        drop(list.hold(cut, "w/2"));
        assert_eq!(*list.lock(), vec![(cut, "w/2".to_owned())]);
    }
}
