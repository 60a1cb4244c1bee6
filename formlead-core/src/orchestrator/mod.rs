//! The orchestrator: the engine and what it does with a workflow.
//!
//! - `engine`: the engine, its ports and settings, accepting submissions;
//! - `process`: running one job (lease, steps, how it ended); `amend`:
//!   folding a prospect's repeat submissions into the reply; `lease`,
//!   `checkpoint` and `failure` are what a run is made of;
//! - `steps/`: the 13 steps, one function each, read top-down in
//!   `steps/mod.rs`; `once`: how a side effect happens exactly once;
//! - operator actions: `decisions` (approve, reject), `send`, `requeue`
//!   (retry), `detail` (everything about a workflow);
//! - `outcome`, `action_error`, `observer`, `retry`: the types they share.

mod abandoned;
mod action_error;
mod amend;
mod checkpoint;
mod cold;
mod decisions;
mod detail;
mod engine;
mod failure;
mod lease;
mod observer;
mod once;
mod outcome;
mod process;
mod requeue;
mod retry;
mod rewrite;
mod send;
mod slots;
mod steps;

pub use action_error::{ActionError, SendError};
pub use decisions::MAX_REASON_CHARS;
pub use detail::WorkflowDetail;
pub use engine::{Engine, EngineConfig, Ports};
pub use observer::{EngineObserver, NoopObserver};
pub use outcome::{AcceptOutcome, ProcessOutcome};
pub use requeue::{MAX_RETRY_ALL, RETRY_ALL_SPACING};
pub use retry::RetryPolicy;
