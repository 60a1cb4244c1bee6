//! Statistics for SQLite's query planner, kept up to date while workers run.
//!
//! Without statistics SQLite guesses that every index narrows a search
//! well. For apalis' job queries that guess goes wrong as the queue grows:
//! it claims the jobs it fetched (`id IN (…) AND status IN (…)`) through
//! the status index instead of the job ids, so each claim reads the whole
//! backlog of pending jobs (26 ms per claim with 20,000 waiting, 0.4 ms
//! with statistics). `PRAGMA optimize` is SQLite's own remedy for
//! long-running applications: it analyses a table only when a query on
//! this connection would have planned better with statistics, or when the
//! table has grown a lot since its last analysis, and it bounds how many
//! rows each analysis reads. Usually it does nothing.

use std::time::Duration;

use formlead_core::ports::StoreError;
use tracing::{debug, warn};

use super::{SqliteBackend, SqliteStore};
use crate::sql::errors::db_err;
use crate::sql::write_path::Turn;

impl SqliteStore {
    /// Runs `PRAGMA optimize` on the writer connection (whose queries it
    /// learns from), in a turn of its own so webhook accepts go first.
    ///
    /// # Errors
    /// [`StoreError`] when SQLite fails.
    pub async fn refresh_planner_stats(&self) -> Result<(), StoreError> {
        let _turn = self.write_turn(Turn::Other).await;
        let started = std::time::Instant::now();
        sqlx::query("PRAGMA optimize")
            .execute(self.writer())
            .await
            .map_err(db_err::<SqliteBackend>)?;
        debug!(took = ?started.elapsed(), "PRAGMA optimize");
        Ok(())
    }
}

/// Refreshes the planner's statistics every `every` until dropped.
pub(crate) async fn refresh_every(store: SqliteStore, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = store.refresh_planner_stats().await {
            warn!(error = %e, "refreshing SQLite's planner statistics failed");
        }
    }
}
