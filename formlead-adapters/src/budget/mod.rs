//! Vendor budgets: how fast calls to one vendor account may go.
//!
//! A vendor's rate limit belongs to the account (HubSpot: the app, about
//! 100 calls per rolling 10 s; Gmail: the mailbox, 250 quota units per
//! second), not to a process. Every process calling on the same account
//! draws from one budget: in PostgreSQL ([`PgBudget`], a row per budget,
//! reserved atomically), or in process memory where there is one process
//! ([`LocalBudget`], the SQLite deployment).
//!
//! The algorithm is GCRA (a token bucket without a refill timer): each call
//! reserves `cost / rate` seconds of the budget's time line and may start
//! once that line is no more than `burst / rate` ahead of now. With
//! `burst + rate × window ≤ limit`, no rolling window ever sees more calls
//! than the vendor allows; [`BudgetSpec::rolling_window`] picks them with a
//! safety margin.
//!
//! A vendor's 429 [`Budget::pause`]s the budget for every process until its
//! `Retry-After`, so the calls behind it wait instead of collecting 429s.

mod local;
#[cfg(feature = "postgres")]
mod postgres;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

pub use local::LocalBudget;
#[cfg(feature = "postgres")]
pub use postgres::PgBudget;

/// Histogram of the time calls waited for their budget, by budget.
pub const BUDGET_WAIT_METRIC: &str = "formlead_vendor_budget_wait_seconds";

/// How fast a budget lets calls through.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetSpec {
    /// The account it belongs to, e.g. `hubspot:<token digest>` or
    /// `gmail:<mailbox>`; processes with the same name share the budget.
    pub name: String,
    /// What the dashboard calls it (`HubSpot`, `Gmail`).
    pub label: String,
    /// Units (calls, or quota units) per second, sustained.
    pub rate_per_sec: f64,
    /// Units that may go at once after a quiet spell.
    pub burst: f64,
}

impl BudgetSpec {
    /// A budget that keeps every rolling `window` at or under `limit`
    /// units, with `margin` (e.g. 0.05) kept free for clock jitter and
    /// calls that arrive out of order: a burst of `margin` of the limit and
    /// a rate of `1 − 2 × margin` of it.
    pub fn rolling_window(
        name: impl Into<String>,
        label: impl Into<String>,
        limit: f64,
        window: Duration,
        margin: f64,
    ) -> Self {
        let margin = margin.clamp(0.0, 0.4);
        let window = window.as_secs_f64().max(0.001);
        Self {
            name: name.into(),
            label: label.into(),
            rate_per_sec: (limit * (1.0 - 2.0 * margin) / window).max(0.001),
            burst: (limit * margin).max(1.0),
        }
    }

    /// Seconds of the time line one unit takes.
    pub fn seconds_per_unit(&self) -> f64 {
        1.0 / self.rate_per_sec
    }

    /// How far ahead of now the time line may be when a call starts: a
    /// call that finds the line this far ahead still goes, so `burst` unit
    /// calls can go at once.
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs_f64((self.burst - 1.0).max(0.0) / self.rate_per_sec)
    }

    /// The most units of one-unit calls any rolling `window` can see (a
    /// call costing more may overshoot by its cost once).
    pub fn max_in(&self, window: Duration) -> f64 {
        self.burst + self.rate_per_sec * window.as_secs_f64()
    }
}

/// One vendor account's budget.
#[async_trait]
pub trait Budget: Send + Sync + Debug {
    /// The limit this budget keeps to.
    fn spec(&self) -> &BudgetSpec;

    /// Reserves `cost` units; returns how long to wait before the call may
    /// start. Never fails: a shared budget that cannot be reached falls
    /// back to this process's own.
    async fn reserve(&self, cost: f64) -> Duration;

    /// No call may start for `duration` (the vendor said 429).
    async fn pause(&self, duration: Duration);

    /// How long a call reserved now would wait (the dashboard's "budget
    /// use": zero when idle).
    async fn backlog(&self) -> Duration;
}

/// Reserves `cost` units of `budget` and waits until the call may start;
/// the wait is recorded in [`BUDGET_WAIT_METRIC`].
pub async fn acquire(budget: &dyn Budget, cost: f64) -> Duration {
    let wait = budget.reserve(cost).await;
    metrics::histogram!(BUDGET_WAIT_METRIC, "budget" => budget.spec().label.to_lowercase())
        .record(wait.as_secs_f64());
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    wait
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rolling_window_spec_never_exceeds_its_limit() {
        let s = BudgetSpec::rolling_window("h", "HubSpot", 100.0, Duration::from_secs(10), 0.05);
        assert!((s.rate_per_sec - 9.0).abs() < 1e-9, "{s:?}");
        assert!((s.burst - 5.0).abs() < 1e-9);
        assert!(s.max_in(Duration::from_secs(10)) <= 95.0 + 1e-9);
        let g = BudgetSpec::rolling_window("g", "Gmail", 250.0, Duration::from_secs(1), 0.05);
        assert!(g.max_in(Duration::from_secs(1)) <= 250.0);
        assert!(g.max_in(Duration::from_secs(60)) <= 15_000.0);
    }
}
