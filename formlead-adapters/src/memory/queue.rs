//! `MemoryQueue`: an in-process delayed job queue on tokio.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use formlead_core::ports::{Queue, QueueError, WorkflowJob};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::worker::JobSource;

type Entry = Reverse<(Instant, u64, WorkflowJob)>;

/// In-process queue: jobs become available at their due time, earliest
/// first. Nothing survives a restart — use a SQL-backed queue for that.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    heap: Mutex<BinaryHeap<Entry>>,
    seq: AtomicU64,
    notify: Notify,
    closed: AtomicBool,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, BinaryHeap<Entry>> {
        self.heap
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes every waiting consumer and makes `next` return `None` once the
    /// queue holds no due job.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Takes the next due job, waiting for one; `None` once closed.
    pub async fn pop(&self) -> Option<WorkflowJob> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            let wait_until = {
                let mut heap = self.heap();
                match heap.peek() {
                    Some(Reverse((due, _, _))) if *due <= Instant::now() => {
                        return heap.pop().map(|Reverse((_, _, job))| job);
                    }
                    Some(Reverse((due, _, _))) => Some(*due),
                    None => None,
                }
            };
            match wait_until {
                Some(due) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn enqueue(&self, job: WorkflowJob, delay: Duration) -> Result<(), QueueError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(QueueError::transient("queue is shutting down"));
        }
        let due = Instant::now() + delay;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.heap().push(Reverse((due, seq, job)));
        self.notify.notify_one();
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        Ok(self.heap().len() as u64)
    }

    /// Nothing is given up on here: a job runs until the engine settles it.
    async fn dead(&self) -> Result<Option<u64>, QueueError> {
        Ok(None)
    }
}

#[async_trait]
impl JobSource for MemoryQueue {
    async fn next_job(&self) -> Option<WorkflowJob> {
        self.pop().await
    }

    fn stop(&self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use formlead_core::domain::WorkflowId;

    fn job() -> WorkflowJob {
        WorkflowJob {
            workflow_id: WorkflowId::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_jobs_do_not_run_early() {
        let q = MemoryQueue::new();
        let (late, soon) = (job(), job());
        q.enqueue(late, Duration::from_secs(60)).await.unwrap();
        q.enqueue(soon, Duration::from_secs(1)).await.unwrap();
        let start = Instant::now();
        assert_eq!(q.pop().await, Some(soon));
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(q.pop().await, Some(late));
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_consumer_wakes_for_a_new_job() {
        let q = std::sync::Arc::new(MemoryQueue::new());
        let consumer = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        let j = job();
        q.enqueue(j, Duration::ZERO).await.unwrap();
        assert_eq!(consumer.await.unwrap(), Some(j));
    }

    #[tokio::test]
    async fn close_releases_consumers() {
        let q = std::sync::Arc::new(MemoryQueue::new());
        let consumer = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await }
        });
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(consumer.await.unwrap(), None);
        assert!(q.enqueue(job(), Duration::ZERO).await.is_err());
    }
}
