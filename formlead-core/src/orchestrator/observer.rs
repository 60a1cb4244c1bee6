//! Hooks for metrics and logs: the server counts and times through these.

use std::time::Duration;

use crate::domain::{StepName, WorkflowId};

use super::outcome::ProcessOutcome;

/// Receives engine events. All methods default to doing nothing.
pub trait EngineObserver: Send + Sync {
    /// A worker took the workflow's job and starts processing it.
    fn job_started(&self, _workflow: WorkflowId) {}

    /// A step finished (successfully or not) after `elapsed`.
    fn step_finished(&self, _workflow: WorkflowId, _step: StepName, _elapsed: Duration, _ok: bool) {
    }

    /// The mail draft was created, `since_received` after the submission
    /// arrived: the product's speed to lead.
    fn draft_created(&self, _workflow: WorkflowId, _since_received: Duration) {}

    /// An enrichment step failed and the workflow went on without it.
    fn step_degraded(&self, _workflow: WorkflowId, _step: StepName) {}

    /// A draft has waited for approval longer than `cold_after`.
    fn draft_went_cold(&self, _workflow: WorkflowId) {}

    /// A job was processed.
    fn job_finished(&self, _workflow: WorkflowId, _outcome: &ProcessOutcome) {}

    /// A job's processing ended, with an outcome or a store error (after
    /// `job_finished`, if that was called).
    fn job_ended(&self, _workflow: WorkflowId) {}
}

/// The do-nothing observer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl EngineObserver for NoopObserver {}
