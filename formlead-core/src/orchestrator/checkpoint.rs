//! Running one step under a checkpoint: skip it when a completed record
//! exists, otherwise record `running` (before a side effect), run, and
//! record the outcome.
//!
//! Only what must be durable is written at once: the `running` record of a
//! step with a side effect, the intent a retry looks for before repeating
//! it (steps 10–12, and 13 when it auto-sends; step 2 finds or creates the
//! contact by email, so a retry finds what it made without one). Everything else a run records (completed steps, their outputs, audit
//! events, the draft and task rows) is deferred and written in the same unit
//! as the next such record, or when the run ends. A crash loses only
//! deferred records of read-only steps, which a retry simply runs again; a
//! side effect's result is either written before the next side effect
//! starts or found again at the vendor by its key (see `once`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use super::engine::Engine;
use super::failure::{FailureKind, FailureOrigin, StepFailure, permanent, store_failure};
use crate::domain::{StepName, StepRecord, StepStatus, Workflow};
use crate::ports::StoreWrite;

/// A run's checkpoints: those earlier attempts stored, by step, and the
/// records of this attempt not written yet; and what the store said of
/// the prospect as the run started.
#[derive(Debug, Default)]
pub(crate) struct Checkpoints {
    stored: HashMap<StepName, StepRecord>,
    deferred: Mutex<Vec<StoreWrite>>,
    /// The email of a prospect no other workflow has (no history to read).
    new_prospect: Option<String>,
}

impl Checkpoints {
    /// The checkpoints earlier attempts stored.
    pub(crate) fn new(stored: impl IntoIterator<Item = StepRecord>) -> Self {
        Self {
            stored: stored.into_iter().map(|r| (r.step, r)).collect(),
            deferred: Mutex::default(),
            new_prospect: None,
        }
    }

    /// The store found no other workflow for `email` as the run started.
    pub(crate) fn set_new_prospect(&mut self, email: &str) {
        self.new_prospect = Some(email.to_owned());
    }

    /// Whether the store found no other workflow for `email` as the run
    /// started.
    pub(crate) fn is_new_prospect(&self, email: &str) -> bool {
        self.new_prospect.as_deref() == Some(email)
    }

    /// The stored checkpoint of `step`, if any.
    pub(crate) fn get(&self, step: &StepName) -> Option<&StepRecord> {
        self.stored.get(step)
    }

    /// Keeps `write` for the next durable write of this run.
    pub(crate) fn defer(&self, write: StoreWrite) {
        self.pending().push(write);
    }

    /// The records not written yet.
    pub(crate) fn into_deferred(self) -> Vec<StoreWrite> {
        self.deferred
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self) -> Vec<StoreWrite> {
        std::mem::take(&mut *self.pending())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<StoreWrite>> {
        self.deferred
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a step produced: its value (checkpointed) and a one-line summary.
pub(crate) type StepResult<T> = Result<(T, String), StepFailure>;

impl Engine {
    /// Writes the run's deferred records and then `last` (if any), as one
    /// durable unit.
    pub(crate) async fn write_through(
        &self,
        done: &Checkpoints,
        last: Option<StoreWrite>,
        step: Option<StepName>,
    ) -> Result<(), StepFailure> {
        let mut writes = done.take();
        writes.extend(last);
        if writes.is_empty() {
            return Ok(());
        }
        self.ports
            .store
            .write_all(&writes)
            .await
            .map_err(store_failure(step))
    }

    /// Runs `step` unless `done` holds its completed checkpoint, in which
    /// case the stored output is returned. `run` receives whether an earlier
    /// attempt started this step (so a side effect may already exist).
    pub(crate) async fn checkpointed<T, F, Fut>(
        &self,
        workflow: &Workflow,
        step: StepName,
        done: &Checkpoints,
        run: F,
    ) -> Result<T, StepFailure>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(bool) -> Fut,
        Fut: Future<Output = StepResult<T>>,
    {
        let effect = step.has_side_effect();
        self.checkpointed_as(workflow, step, done, effect, run)
            .await
    }

    /// [`Engine::checkpointed`], where the caller knows whether this run
    /// of the step has a side effect (`effect`: its `running` record is
    /// written first, durably).
    pub(crate) async fn checkpointed_as<T, F, Fut>(
        &self,
        workflow: &Workflow,
        step: StepName,
        done: &Checkpoints,
        effect: bool,
        run: F,
    ) -> Result<T, StepFailure>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(bool) -> Fut,
        Fut: Future<Output = StepResult<T>>,
    {
        let prior = done.get(&step);
        if let Some(record) = prior.filter(|r| r.status.is_done()) {
            match record.output.clone().map(serde_json::from_value::<T>) {
                Some(Ok(value)) => {
                    debug!(step = %step, "step already completed; resuming after it");
                    return Ok(value);
                }
                _ => warn!(step = %step, "completed checkpoint unreadable; running the step again"),
            }
        }
        let previously_attempted = prior.is_some();
        let mut record = StepRecord {
            workflow_id: workflow.id,
            step,
            status: StepStatus::Running,
            attempt: workflow.attempts,
            started_at: self.ports.clock.now(),
            finished_at: None,
            summary: None,
            output: None,
            error: None,
        };
        // The `running` record is the intent marker a retry looks for before
        // repeating a side effect: durable before the effect, with whatever
        // the run deferred so far. Steps without one skip it.
        if effect {
            self.write_through(done, Some(StoreWrite::Step(record.clone())), Some(step))
                .await?;
        }
        let timer = Instant::now();
        let result = run(previously_attempted).await;
        record.finished_at = Some(self.ports.clock.now());
        let elapsed = timer.elapsed();
        match result {
            Ok((value, summary)) => {
                record.status = StepStatus::Completed;
                record.output = Some(
                    serde_json::to_value(&value)
                        .map_err(|e| permanent(step, format!("cannot checkpoint output: {e}")))?,
                );
                info!(step = %step, duration_ms = elapsed.as_millis() as u64, summary = %summary, "step completed");
                record.summary = Some(summary);
                done.defer(StoreWrite::Step(record));
                self.observer
                    .step_finished(workflow.id, step, elapsed, true);
                Ok(value)
            }
            Err(failure) => {
                record.status = StepStatus::Failed;
                record.error = Some(failure.message.clone());
                done.defer(StoreWrite::Step(record));
                if let Err(e) = self.write_through(done, None, Some(step)).await {
                    warn!(step = %step, error = %e.message, "could not checkpoint a failed step");
                }
                self.observer
                    .step_finished(workflow.id, step, elapsed, false);
                Err(failure)
            }
        }
    }

    /// Runs an enrichment step (3–6: context only) under its checkpoint. A
    /// vendor failure, permanent or transient after the adapter's inline
    /// retries, does not fail the lead: the step is recorded as degraded,
    /// with the error, and the workflow goes on with that context empty. A
    /// refusal of our credentials (an operator must fix it), or a store
    /// failure, still fails the step.
    pub(crate) async fn enrichment<T, F, Fut>(
        &self,
        workflow: &Workflow,
        step: StepName,
        done: &Checkpoints,
        run: F,
    ) -> Result<T, StepFailure>
    where
        T: Serialize + DeserializeOwned + Default,
        F: FnOnce(bool) -> Fut,
        Fut: Future<Output = StepResult<T>>,
    {
        let failure = match self.checkpointed(workflow, step, done, run).await {
            Ok(value) => return Ok(value),
            Err(f) if f.origin == FailureOrigin::Vendor && f.kind != FailureKind::LeaseLost => f,
            Err(f) => return Err(f),
        };
        let value = T::default();
        let now = self.ports.clock.now();
        let record = StepRecord {
            workflow_id: workflow.id,
            step,
            status: StepStatus::Degraded,
            attempt: workflow.attempts,
            started_at: done.get(&step).map_or(now, |r| r.started_at.min(now)),
            finished_at: Some(now),
            summary: Some(format!(
                "degraded: continuing without this context ({})",
                failure.message
            )),
            output: serde_json::to_value(&value).ok(),
            error: Some(failure.message.clone()),
        };
        done.defer(StoreWrite::Step(record));
        let event = crate::domain::AuditEvent::new(
            Some(workflow.id),
            "system",
            "step.degraded",
            serde_json::json!({"step": step.as_str(), "error": failure.message}),
            now,
        );
        done.defer(StoreWrite::Audit(event));
        warn!(step = %step, error = %failure.message, "enrichment step degraded; the draft is written without it");
        self.observer.step_degraded(workflow.id, step);
        Ok(value)
    }
}
