//! The in-process budget (GCRA over tokio's clock): one process's calls.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Budget, BudgetSpec};

#[derive(Debug)]
struct Line {
    /// The theoretical arrival time: where the budget's time line is.
    tat: Instant,
    paused_until: Option<Instant>,
}

/// A budget held in this process.
#[derive(Debug)]
pub struct LocalBudget {
    spec: BudgetSpec,
    line: Mutex<Line>,
}

impl LocalBudget {
    /// A budget of `spec`'s calls per window, for this process alone.
    pub fn new(spec: BudgetSpec) -> Self {
        Self {
            spec,
            line: Mutex::new(Line {
                tat: Instant::now(),
                paused_until: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Line> {
        self.line
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`Budget::reserve`] without the trait's future.
    pub fn reserve_now(&self, cost: f64) -> Duration {
        let now = Instant::now();
        let mut line = self.lock();
        let tolerance = self.spec.tolerance();
        let earliest = line.tat.checked_sub(tolerance).unwrap_or(now);
        let start = now.max(earliest).max(line.paused_until.unwrap_or(now));
        let cost =
            Duration::from_secs_f64((cost.max(0.0) * self.spec.seconds_per_unit()).min(3600.0));
        line.tat = line.tat.max(start) + cost;
        start - now
    }
}

#[async_trait]
impl Budget for LocalBudget {
    fn spec(&self) -> &BudgetSpec {
        &self.spec
    }

    async fn reserve(&self, cost: f64) -> Duration {
        self.reserve_now(cost)
    }

    async fn pause(&self, duration: Duration) {
        let until = Instant::now() + duration.min(Duration::from_secs(3600));
        let mut line = self.lock();
        line.paused_until = Some(line.paused_until.map_or(until, |p| p.max(until)));
    }

    async fn backlog(&self) -> Duration {
        let now = Instant::now();
        let line = self.lock();
        let earliest = line.tat.checked_sub(self.spec.tolerance()).unwrap_or(now);
        earliest
            .max(line.paused_until.unwrap_or(now))
            .saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BudgetSpec {
        BudgetSpec::rolling_window("t", "Test", 100.0, Duration::from_secs(10), 0.05)
    }

    /// Calls made as soon as the budget allows: no rolling 10 s window
    /// ever holds more than the limit.
    #[tokio::test(start_paused = true)]
    async fn no_window_exceeds_the_limit() {
        let b = LocalBudget::new(spec());
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..400 {
            let wait = b.reserve(1.0).await;
            starts.push(Instant::now() + wait);
        }
        for (i, t) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .filter(|u| u.duration_since(*t) < Duration::from_secs(10))
                .count();
            assert!(in_window <= 95, "{in_window} calls in a 10 s window");
        }
        // Sustained: 9 a second after the burst of 5.
        let last = starts[399].duration_since(start).as_secs_f64();
        assert!((last - (395.0 / 9.0)).abs() < 0.01, "{last}");
        assert_eq!(
            starts.iter().filter(|t| **t == start).count(),
            5,
            "the burst goes at once"
        );
        assert!(b.backlog().await > Duration::from_secs(40));
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_calls_do_not_wait_and_a_pause_holds_everyone() {
        let b = LocalBudget::new(spec());
        assert_eq!(b.reserve(1.0).await, Duration::ZERO);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.reserve(1.0).await, Duration::ZERO);
        assert_eq!(b.backlog().await, Duration::ZERO);
        b.pause(Duration::from_secs(10)).await;
        assert_eq!(b.reserve(1.0).await, Duration::from_secs(10));
        assert!(b.backlog().await >= Duration::from_secs(10));
    }

    /// A call costing more units takes more of the line (Gmail's quota).
    #[tokio::test(start_paused = true)]
    async fn costs_are_in_units() {
        let b = LocalBudget::new(BudgetSpec {
            name: "g".into(),
            label: "Gmail".into(),
            rate_per_sec: 100.0,
            burst: 10.0,
        });
        assert_eq!(b.reserve(100.0).await, Duration::ZERO);
        // The line is now 1 s ahead; 0.09 s of it is tolerated.
        let wait = b.reserve(5.0).await;
        assert_eq!(wait, Duration::from_millis(910));
    }
}
