//! The shared budget: one row of `vendor_budgets` per budget, its time line
//! (`tat`) advanced atomically by every process that calls the vendor. The
//! database's clock is the only clock, so processes on hosts whose clocks
//! disagree still share one line.
//!
//! Each reservation is one `UPDATE` of the row (about a millisecond); calls
//! to a vendor take a hundred times longer. If the database cannot be
//! reached, the process falls back to its own in-memory budget (a warning
//! is logged) rather than stop calling vendors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;

use super::{Budget, BudgetSpec, LocalBudget};

/// A budget shared by every process on one PostgreSQL database.
#[derive(Debug)]
pub struct PgBudget {
    pool: PgPool,
    fallback: LocalBudget,
    /// Whether the fallback is in use (logged on each change).
    falling_back: AtomicBool,
}

/// Reserves `cost` on the line: the call may start at the later of now,
/// the line minus the tolerance, and the end of a pause; the line moves
/// to that start (or stays ahead) plus the call's cost. Returns the wait
/// in seconds, by the database's clock.
const RESERVE: &str = "\
WITH old AS (
    SELECT name, tat, paused_until, clock_timestamp() AS now
    FROM vendor_budgets WHERE name = $1 FOR UPDATE
), plan AS (
    SELECT name, now, tat,
           GREATEST(now, tat - make_interval(secs => $2), COALESCE(paused_until, now)) AS start
    FROM old
)
UPDATE vendor_budgets b
SET tat = GREATEST(plan.tat, plan.start) + make_interval(secs => $3)
FROM plan WHERE b.name = plan.name
RETURNING EXTRACT(EPOCH FROM (plan.start - plan.now))::float8";

const CREATE: &str = "INSERT INTO vendor_budgets (name, tat) VALUES ($1, clock_timestamp()) ON CONFLICT (name) DO NOTHING";

const PAUSE: &str = "\
INSERT INTO vendor_budgets (name, tat, paused_until)
VALUES ($1, clock_timestamp(), clock_timestamp() + make_interval(secs => $2))
ON CONFLICT (name) DO UPDATE SET paused_until = GREATEST(
    COALESCE(vendor_budgets.paused_until, '-infinity'), EXCLUDED.paused_until)";

const BACKLOG: &str = "\
SELECT GREATEST(EXTRACT(EPOCH FROM (tat - make_interval(secs => $2) - clock_timestamp())),
                EXTRACT(EPOCH FROM (COALESCE(paused_until, clock_timestamp()) - clock_timestamp())),
                0)::float8
FROM vendor_budgets WHERE name = $1";

impl PgBudget {
    /// The budget `spec.name` on the database behind `pool` (the table comes
    /// with formlead's migrations).
    pub fn new(pool: PgPool, spec: BudgetSpec) -> Self {
        Self {
            pool,
            fallback: LocalBudget::new(spec),
            falling_back: AtomicBool::new(false),
        }
    }

    fn name(&self) -> &str {
        &self.fallback.spec().name
    }

    async fn try_reserve(&self, cost: f64) -> Result<Duration, sqlx::Error> {
        let spec = self.fallback.spec();
        let tolerance = spec.tolerance().as_secs_f64();
        let line = (cost.max(0.0) * spec.seconds_per_unit()).min(3600.0);
        let reserve = || {
            sqlx::query_scalar::<_, f64>(RESERVE)
                .bind(self.name())
                .bind(tolerance)
                .bind(line)
                .fetch_optional(&self.pool)
        };
        let wait = match reserve().await? {
            Some(w) => w,
            None => {
                sqlx::query(CREATE)
                    .bind(self.name())
                    .execute(&self.pool)
                    .await?;
                reserve().await?.unwrap_or(0.0)
            }
        };
        Ok(Duration::from_secs_f64(wait.clamp(0.0, 3600.0)))
    }

    fn fell_back(&self, e: &sqlx::Error) {
        if !self.falling_back.swap(true, Ordering::Relaxed) {
            tracing::warn!(budget = %self.name(), error = %e, "the shared vendor budget cannot be reached; this process keeps to its own budget until it can");
        }
    }

    fn recovered(&self) {
        if self.falling_back.swap(false, Ordering::Relaxed) {
            tracing::info!(budget = %self.name(), "the shared vendor budget is reachable again");
        }
    }
}

#[async_trait]
impl Budget for PgBudget {
    fn spec(&self) -> &BudgetSpec {
        self.fallback.spec()
    }

    async fn reserve(&self, cost: f64) -> Duration {
        match self.try_reserve(cost).await {
            Ok(wait) => {
                self.recovered();
                wait
            }
            Err(e) => {
                self.fell_back(&e);
                self.fallback.reserve_now(cost)
            }
        }
    }

    async fn pause(&self, duration: Duration) {
        self.fallback.pause(duration).await;
        let result = sqlx::query(PAUSE)
            .bind(self.name())
            .bind(duration.as_secs_f64().min(3600.0))
            .execute(&self.pool)
            .await;
        if let Err(e) = result {
            self.fell_back(&e);
        }
    }

    async fn backlog(&self) -> Duration {
        let tolerance = self.fallback.spec().tolerance().as_secs_f64();
        match sqlx::query_scalar::<_, f64>(BACKLOG)
            .bind(self.name())
            .bind(tolerance)
            .fetch_optional(&self.pool)
            .await
        {
            Ok(Some(s)) => Duration::from_secs_f64(s.clamp(0.0, 3600.0)),
            Ok(None) => Duration::ZERO,
            Err(_) => self.fallback.backlog().await,
        }
    }
}

impl PgBudget {
    /// The budget `spec.name` on `store`'s database.
    pub fn for_store(store: &crate::sql::PgStore, spec: BudgetSpec) -> Self {
        Self::new(store.pool().clone(), spec)
    }
}
