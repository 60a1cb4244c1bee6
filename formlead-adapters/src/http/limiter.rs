//! A client-side rate limiter: at most `max` calls in any `window`, waiting
//! (in arrival order) when the budget is spent. Keeps the engine under a
//! vendor's quota instead of collecting 429s.
//!
//! A call's slot is held from when it starts until `window` after it
//! *completes* (the [`Permit`] is dropped), so however long a request spends
//! on the network, the vendor never sees more than `max` in a window.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// At most `max` calls in any sliding `window`.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    /// `(permit id, time)`: the start of a call in flight, or the end of a finished one.
    slots: Mutex<Vec<(u64, Instant)>>,
    /// Serialises waiters so they are served in arrival order.
    queue: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
}

/// A granted call; dropping it marks the call finished.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a RateLimiter,
    id: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut slots = self
            .limiter
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = slots.iter_mut().find(|(id, _)| *id == self.id) {
            slot.1 = Instant::now();
        }
    }
}

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max: max.max(1) as usize,
            window,
            slots: Mutex::new(Vec::new()),
            queue: tokio::sync::Mutex::new(()),
            next_id: AtomicU64::new(0),
        }
    }

    /// Waits until a call is allowed; hold the permit until the call is done.
    pub async fn acquire(&self) -> Permit<'_> {
        let _turn = self.queue.lock().await;
        loop {
            let wait_until = {
                let mut slots = self
                    .slots
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                slots.retain(|(_, t)| now.duration_since(*t) < self.window);
                if slots.len() < self.max {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    slots.push((id, now));
                    return Permit { limiter: self, id };
                }
                slots.iter().map(|(_, t)| *t).min().map(|t| t + self.window)
            };
            match wait_until {
                Some(at) => tokio::time::sleep_until(at).await,
                None => tokio::task::yield_now().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_exceeds_the_budget_in_any_window() {
        let limiter = std::sync::Arc::new(RateLimiter::new(5, Duration::from_secs(10)));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..12 {
            let l = limiter.clone();
            handles.push(tokio::spawn(async move {
                let _permit = l.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap());
        }
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| u.duration_since(*t) < Duration::from_secs(10))
                .count();
            assert!(in_window <= 5, "{in_window} calls in a window");
        }
        assert_eq!(times[11].duration_since(start), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_holds_its_slot_until_it_ends() {
        let limiter = RateLimiter::new(1, Duration::from_secs(10));
        let start = Instant::now();
        {
            let _p = limiter.acquire().await;
            tokio::time::sleep(Duration::from_secs(4)).await; // the request takes 4 s
        }
        let _p = limiter.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(14),
            "window counted from the end of the slow call"
        );
    }
}
