//! Turns on the single SQLite writer connection. A HubSpot delivery waits
//! for its accept to commit, while a worker's checkpoint only delays a
//! workflow that is already safe on disk. So when both wait, the accept
//! batch goes next, unless other writers have had no turn for
//! [`OTHERS_WAIT_AT_MOST`]: under a steady flood of webhooks the workers
//! slow down but still make progress.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::sql::write_path::Turn;

/// How long other writers wait at most while accepts keep coming.
const OTHERS_WAIT_AT_MOST: Duration = Duration::from_millis(10);

/// After an accept batch, the writer stays free for the next batch this
/// long (the batch task answers its callers and collects the next batch
/// meanwhile), unless other writers are overdue.
const ACCEPT_GRACE: Duration = Duration::from_millis(2);

#[derive(Debug)]
struct State {
    busy: bool,
    accepts_waiting: usize,
    others_waiting: usize,
    /// When the last turn went to another writer (or the gate was made).
    last_other: Instant,
    /// When the last accept turn ended.
    accept_ended: Option<Instant>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            busy: false,
            accepts_waiting: 0,
            others_waiting: 0,
            last_other: Instant::now(),
            accept_ended: None,
        }
    }
}

impl State {
    /// Other writers are overdue: they waited long enough for accepts.
    fn others_overdue(&self) -> bool {
        self.others_waiting > 0 && self.last_other.elapsed() >= OTHERS_WAIT_AT_MOST
    }

    fn may_take(&self, turn: Turn) -> bool {
        if self.busy {
            return false;
        }
        match turn {
            Turn::Accept => !self.others_overdue(),
            Turn::Other => {
                self.others_overdue() || (self.accepts_waiting == 0 && self.grace_until().is_none())
            }
        }
    }

    /// The end of the free time after an accept batch, if it has not passed.
    fn grace_until(&self) -> Option<Instant> {
        self.accept_ended
            .map(|t| t + ACCEPT_GRACE)
            .filter(|end| *end > Instant::now())
    }

    /// When a blocked writer should look again even if no turn ends: when
    /// the grace after an accept ends, or when other writers become overdue.
    fn recheck_at(&self, turn: Turn) -> Option<Instant> {
        if self.busy || turn == Turn::Accept {
            return None;
        }
        let overdue_at = self.last_other + OTHERS_WAIT_AT_MOST;
        Some(self.grace_until().map_or(overdue_at, |g| g.min(overdue_at)))
    }

    fn waiting(&mut self, turn: Turn) -> &mut usize {
        match turn {
            Turn::Accept => &mut self.accepts_waiting,
            Turn::Other => &mut self.others_waiting,
        }
    }
}

/// Turns on the writer connection.
#[derive(Debug, Default)]
pub(super) struct Gate {
    state: Mutex<State>,
    released: Notify,
}

/// Holds the writer until dropped.
#[derive(Debug)]
pub(super) struct GateTurn<'a> {
    gate: &'a Gate,
    turn: Turn,
}

/// Keeps a waiter counted until it gets its turn or gives up (its future
/// was dropped).
struct Waiting<'a> {
    gate: &'a Gate,
    turn: Turn,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        let n = state.waiting(self.turn);
        *n = n.saturating_sub(1);
        drop(state);
        // The rule for the others may have changed.
        self.gate.released.notify_waiters();
    }
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for the writer.
    pub(super) async fn turn(&self, turn: Turn) -> GateTurn<'_> {
        let mut waiting: Option<Waiting<'_>> = None;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let recheck = {
                let mut state = self.lock();
                if state.may_take(turn) {
                    state.busy = true;
                    if turn == Turn::Other {
                        state.last_other = Instant::now();
                    }
                    if let Some(w) = waiting.take() {
                        // Uncount without the drop's notify (nothing changed
                        // for the others: the writer just got busier).
                        let n = state.waiting(turn);
                        *n = n.saturating_sub(1);
                        std::mem::forget(w);
                    }
                    return GateTurn { gate: self, turn };
                }
                if waiting.is_none() {
                    *state.waiting(turn) += 1;
                    waiting = Some(Waiting { gate: self, turn });
                }
                state.recheck_at(turn)
            };
            match recheck {
                Some(at) => {
                    tokio::select! {
                        () = &mut released => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => released.await,
            }
        }
    }
}

impl Drop for GateTurn<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.busy = false;
        if self.turn == Turn::Accept {
            state.accept_ended = Some(Instant::now());
        }
        drop(state);
        self.gate.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_waiting_accept_goes_before_a_waiting_other() {
        let gate = Arc::new(Gate::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = gate.turn(Turn::Other).await;
        let mut tasks = Vec::new();
        for turn in [Turn::Other, Turn::Accept] {
            let (gate, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _t = gate.turn(turn).await;
                order.lock().unwrap().push(turn);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }));
            tokio::task::yield_now().await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![Turn::Accept, Turn::Other]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_accepts_does_not_starve_other_writers() {
        let gate = Arc::new(Gate::default());
        let flood = {
            let gate = gate.clone();
            tokio::spawn(async move {
                for _ in 0..50 {
                    let _t = gate.turn(Turn::Accept).await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        };
        tokio::task::yield_now().await;
        let asked = Instant::now();
        let other = gate.turn(Turn::Other).await;
        let waited = asked.elapsed();
        assert!(
            waited <= OTHERS_WAIT_AT_MOST + Duration::from_millis(2),
            "waited {waited:?}"
        );
        assert!(!flood.is_finished(), "the other writer went in mid-flood");
        drop(other);
        flood.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_accept_the_writer_is_kept_free_briefly_for_the_next() {
        let gate = Arc::new(Gate::default());
        let accept = gate.turn(Turn::Accept).await;
        let other = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let asked = Instant::now();
                let _t = gate.turn(Turn::Other).await;
                asked.elapsed()
            })
        };
        tokio::task::yield_now().await;
        let ended = Instant::now();
        drop(accept);
        // The next batch arrives within the grace period and goes first.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let next = gate.turn(Turn::Accept).await;
        assert!(ended.elapsed() < ACCEPT_GRACE);
        drop(next);
        // No further batch: the other writer goes once the grace is over.
        let waited = other.await.unwrap();
        assert!(
            waited >= Duration::from_millis(1) + ACCEPT_GRACE && waited < OTHERS_WAIT_AT_MOST,
            "waited {waited:?}"
        );
    }

    #[tokio::test]
    async fn a_cancelled_accept_does_not_block_others() {
        let gate = Arc::new(Gate::default());
        let held = gate.turn(Turn::Other).await;
        let waiting_accept = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _t = gate.turn(Turn::Accept).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        waiting_accept.abort();
        let _ = waiting_accept.await;
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), gate.turn(Turn::Other))
            .await
            .expect("the writer is free again");
    }
}
