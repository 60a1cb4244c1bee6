//! The orchestrator: the 13 steps, checkpoints, retries and operator actions.

mod actions;
mod checkpoint;
mod engine;
mod observer;
mod retry;
mod steps;

pub use actions::{ActionError, MAX_REASON_CHARS, WorkflowDetail};
pub use engine::{AcceptOutcome, Engine, EngineConfig, Ports, ProcessOutcome};
pub use observer::{EngineObserver, NoopObserver};
pub use retry::RetryPolicy;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_decisions;
#[cfg(test)]
mod tests_degraded;
