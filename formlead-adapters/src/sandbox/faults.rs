//! Fault and latency injection for the in-memory adapters, plus call counts.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use formlead_core::ports::{FromRetry, Retry};

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A failure to inject into the next call of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail before doing anything, transiently.
    Transient,
    /// Fail transiently with a retry-after.
    TransientAfter(Duration),
    /// Fail before doing anything, permanently.
    Permanent,
    /// Do the work, then fail transiently (the response was lost).
    AfterEffect,
}

/// Per-operation fault queues, latencies and call counters.
#[derive(Debug, Default)]
pub struct Faults {
    queued: Mutex<HashMap<String, VecDeque<Fault>>>,
    latency: Mutex<HashMap<String, Duration>>,
    calls: Mutex<HashMap<String, usize>>,
}

impl Faults {
    /// The next call of `op` fails with `fault`.
    pub fn inject(&self, op: &str, fault: Fault) {
        self.inject_n(op, fault, 1);
    }

    /// The next `n` calls of `op` fail with `fault`.
    pub fn inject_n(&self, op: &str, fault: Fault, n: usize) {
        let mut q = lock(&self.queued);
        let entry = q.entry(op.to_owned()).or_default();
        entry.extend(std::iter::repeat_n(fault, n));
    }

    /// Every call of `op` takes at least `d`.
    pub fn set_latency(&self, op: &str, d: Duration) {
        lock(&self.latency).insert(op.to_owned(), d);
    }

    /// How many times `op` was called.
    pub fn calls(&self, op: &str) -> usize {
        lock(&self.calls).get(op).copied().unwrap_or(0)
    }

    /// Removes every queued fault and latency.
    pub fn clear(&self) {
        lock(&self.queued).clear();
        lock(&self.latency).clear();
    }

    /// Counts the call, applies latency, and returns the error to fail with
    /// now (`Err`), or whether to fail after doing the work (`Ok(true)`).
    /// Adapters call this at their fault-injection points.
    ///
    /// # Errors
    /// The injected fault, as the port's error type.
    pub async fn before<E: FromRetry>(&self, op: &str) -> Result<bool, E> {
        {
            let mut calls = lock(&self.calls);
            match calls.get_mut(op) {
                Some(n) => *n += 1,
                None => {
                    calls.insert(op.to_owned(), 1);
                }
            }
        }
        self.before_item(op).await
    }

    /// [`Self::before`] for a fault point named after one item (such as
    /// `accept_submission:item:<formSubmissionId>`): injected faults and
    /// latency apply, but calls are not counted, so a long-running process
    /// does not keep a counter for every item it ever saw.
    ///
    /// # Errors
    /// The injected fault, as the port's error type.
    pub async fn before_item<E: FromRetry>(&self, op: &str) -> Result<bool, E> {
        let latency = lock(&self.latency).get(op).copied();
        if let Some(d) = latency {
            sleep(d).await;
        }
        let fault = lock(&self.queued).get_mut(op).and_then(VecDeque::pop_front);
        match fault {
            None => Ok(false),
            Some(Fault::AfterEffect) => Ok(true),
            Some(Fault::Transient) => Err(E::from_retry(
                Retry::Later { after: None },
                format!("injected transient fault in {op}").into(),
            )),
            Some(Fault::TransientAfter(d)) => Err(E::from_retry(
                Retry::Later { after: Some(d) },
                format!("injected transient fault in {op}").into(),
            )),
            Some(Fault::Permanent) => Err(E::from_retry(
                Retry::Never,
                format!("injected permanent fault in {op}").into(),
            )),
        }
    }

    /// The error for a call that did its work and then "lost the response".
    pub fn after_effect<E: FromRetry>(op: &str) -> E {
        E::from_retry(
            Retry::Later { after: None },
            format!("injected fault after {op} took effect").into(),
        )
    }
}

/// A runtime-independent sleep (a helper thread wakes the task), so the
/// in-memory adapters need no async runtime.
pub async fn sleep(d: Duration) {
    struct Shared {
        done: bool,
        waker: Option<Waker>,
    }
    let shared = Arc::new(Mutex::new(Shared {
        done: false,
        waker: None,
    }));
    let timer = Arc::clone(&shared);
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let mut s = lock(&timer);
        s.done = true;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    });
    poll_fn(|cx| {
        let mut s = lock(&shared);
        if s.done {
            Poll::Ready(())
        } else {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use formlead_core::ports::StoreError;

    #[tokio::test]
    async fn item_fault_points_fail_on_demand_but_are_not_counted() {
        let faults = Faults::default();
        faults.inject("op:item:7", Fault::Permanent);
        for i in 0..100 {
            let r = faults
                .before_item::<StoreError>(&format!("op:item:{i}"))
                .await;
            assert_eq!(r.is_err(), i == 7, "item {i}");
        }
        assert_eq!(faults.calls("op:item:7"), 0);
        assert!(lock(&faults.calls).is_empty());
        faults.before::<StoreError>("op").await.expect("no fault");
        faults.before::<StoreError>("op").await.expect("no fault");
        assert_eq!(faults.calls("op"), 2);
    }
}
