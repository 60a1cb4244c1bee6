//! `RecordingQueue`: a queue that only records jobs; a test (or a simple
//! embedding) takes the due ones and processes them itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::sandbox::faults::{Faults, lock};
use formlead_core::ports::{Clock, Queue, QueueError, WorkflowJob};

/// A [`Queue`] that keeps jobs in a list with their due time.
pub struct RecordingQueue {
    jobs: Mutex<Vec<(WorkflowJob, DateTime<Utc>)>>,
    clock: Arc<dyn Clock>,
    faults: Faults,
}

impl std::fmt::Debug for RecordingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingQueue")
            .field("jobs", &lock(&self.jobs).len())
            .finish()
    }
}

impl RecordingQueue {
    /// An empty queue; `clock` decides which jobs are due.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            jobs: Mutex::new(Vec::new()),
            clock,
            faults: Faults::default(),
        }
    }

    /// Scripted failures and latency of `enqueue`.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Removes and returns the jobs due now, earliest first.
    pub fn take_due(&self) -> Vec<WorkflowJob> {
        let now = self.clock.now();
        let mut jobs = lock(&self.jobs);
        jobs.sort_by_key(|(_, due)| *due);
        let split = jobs
            .iter()
            .position(|(_, due)| *due > now)
            .unwrap_or(jobs.len());
        jobs.drain(..split).map(|(j, _)| j).collect()
    }

    /// All queued jobs with their due times.
    pub fn pending(&self) -> Vec<(WorkflowJob, DateTime<Utc>)> {
        lock(&self.jobs).clone()
    }
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn enqueue(&self, job: WorkflowJob, delay: Duration) -> Result<(), QueueError> {
        self.faults.before::<QueueError>("enqueue").await?;
        let due =
            self.clock.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        lock(&self.jobs).push((job, due));
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        Ok(lock(&self.jobs).len() as u64)
    }

    /// Jobs are only recorded; none is given up on.
    async fn dead(&self) -> Result<Option<u64>, QueueError> {
        Ok(None)
    }
}
