//! Stopping a pool of apalis workers without stranding a job fetch.
//!
//! apalis stops a worker by no longer polling its backend; a job fetch
//! under way at that moment is left unpolled until every job in flight has
//! ended. On SQLite the fetch shares the single writer connection with the
//! engine, and the pool hands the connection to waiters in turn: a fetch
//! left waiting holds it, and the runs in flight, which need it for their
//! checkpoints, never end (until the shutdown timeout drops them, leases
//! and all). So apalis is told to stop only once no run is in flight:
//!
//! 1. **Draining**: runs in flight go on; a job handed to the handler now is
//!    put back in the queue, unstarted, for the next worker.
//! 2. Once no run is left (or the shutdown timeout has passed): **closing**:
//!    a job handed over now goes back to apalis without a write (it counts
//!    as a failed attempt, which the next worker retries). Jobs that were
//!    being put back when closing began are waited for.
//! 3. apalis is told to stop; nothing in flight needs the database.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// What the handler does with a job it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Run it.
    Run,
    /// Put it back in the queue, unstarted.
    PutBack,
    /// Hand it back to apalis without touching the database.
    Refuse,
}

/// A worker pool's stop, shared by its handler and its shutdown signal.
#[derive(Debug, Default)]
pub(crate) struct Drain {
    draining: AtomicBool,
    closing: AtomicBool,
    /// Handler calls in progress (runs, and jobs being put back).
    busy: AtomicUsize,
    idle: Notify,
    /// When the whole stop must be over.
    deadline: Mutex<Option<Instant>>,
}

/// Counts a handler call as in progress until dropped.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Drain>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    /// A handler call starts: what to do with its job, and the guard that
    /// counts the call until it ends. The call is counted before the stop
    /// is read, so a stop that has seen no call in progress is seen by
    /// every later call.
    pub(crate) fn admit(self: &Arc<Self>) -> (Admit, Busy) {
        self.busy.fetch_add(1, Ordering::SeqCst);
        let busy = Busy(self.clone());
        let admit = if self.closing.load(Ordering::SeqCst) {
            Admit::Refuse
        } else if self.draining.load(Ordering::SeqCst) {
            Admit::PutBack
        } else {
            Admit::Run
        };
        (admit, busy)
    }

    /// Drains and closes (steps 1 and 2 above) within `timeout`; returns
    /// whether every run ended in time. apalis may be told to stop after.
    pub(crate) async fn stop(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        *self
            .deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(deadline);
        self.draining.store(true, Ordering::SeqCst);
        let drained = self.until_idle(deadline).await;
        self.closing.store(true, Ordering::SeqCst);
        // Calls that read the stop before closing: jobs being put back.
        self.until_idle(deadline).await && drained
    }

    /// What is left of the stop's time once [`Self::stop`] returned (all of
    /// `fallback` if it was never called).
    pub(crate) fn time_left(&self, fallback: Duration) -> Duration {
        self.deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map_or(fallback, |d| d.saturating_duration_since(Instant::now()))
    }

    /// Handler calls in progress.
    pub(crate) fn in_progress(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    async fn until_idle(&self, deadline: Instant) -> bool {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.busy.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.busy.load(Ordering::SeqCst) == 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn runs_go_on_jobs_go_back_then_nothing_touches_the_database() {
        let drain = Arc::new(Drain::default());
        let (admit, run) = drain.admit();
        assert_eq!(admit, Admit::Run);

        let stopping = tokio::spawn({
            let drain = drain.clone();
            async move { drain.stop(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        // While a run is in flight, a new job is put back; the stop waits.
        let (admit, put_back) = drain.admit();
        assert_eq!(admit, Admit::PutBack);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!stopping.is_finished(), "the stop waits for the run");
        drop(run);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!stopping.is_finished(), "and for the job being put back");
        drop(put_back);
        assert!(stopping.await.unwrap(), "every run ended in time");
        assert_eq!(drain.in_progress(), 0);
        // Closed: later jobs go back to apalis untouched.
        assert_eq!(drain.admit().0, Admit::Refuse);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_outlasts_the_timeout_does_not_hold_the_stop() {
        let drain = Arc::new(Drain::default());
        let (_, _run) = drain.admit();
        let started = Instant::now();
        assert!(!drain.stop(Duration::from_secs(5)).await);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(drain.time_left(Duration::from_secs(30)), Duration::ZERO);
        assert_eq!(drain.admit().0, Admit::Refuse);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pool_stops_at_once_with_its_time_left() {
        let drain = Arc::new(Drain::default());
        assert_eq!(
            drain.time_left(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert!(drain.stop(Duration::from_secs(30)).await);
        assert_eq!(
            drain.time_left(Duration::from_secs(1)),
            Duration::from_secs(30)
        );
    }
}
