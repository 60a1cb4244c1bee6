//! The job queue that drives workers.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};
use crate::domain::WorkflowId;

/// The one kind of job: run (or resume) a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkflowJob {
    /// The workflow to run.
    pub workflow_id: WorkflowId,
}

/// A queue failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error("queue temporarily unavailable: {source}")]
    /// Worth retrying later.
    Transient {
        /// How long to wait first, when the vendor said.
        retry_after: Option<Duration>,
        #[source]
        /// The cause.
        source: BoxError,
    },
    #[error("queue rejected the job: {source}")]
    /// Retrying cannot help.
    Permanent {
        #[source]
        /// The cause.
        source: BoxError,
    },
}
port_error_common!(QueueError);

/// Puts workflow jobs on the queue workers take them from.
///
/// Jobs are delivered at least once; the orchestrator makes re-delivery
/// harmless (checkpoints, leases, idempotent side effects).
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues `job` to run no earlier than `delay` from now.
    ///
    /// # Errors
    /// [`QueueError`].
    async fn enqueue(&self, job: WorkflowJob, delay: Duration) -> Result<(), QueueError>;

    /// Jobs waiting (due or scheduled), for metrics.
    ///
    /// # Errors
    /// [`QueueError`].
    async fn depth(&self) -> Result<u64, QueueError>;

    /// Jobs given up on (the queue's dead state), for metrics; `None` for a
    /// queue that keeps no such state.
    ///
    /// # Errors
    /// [`QueueError`].
    async fn dead(&self) -> Result<Option<u64>, QueueError>;
}
