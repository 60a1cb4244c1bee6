//! `SqlStore`: core's [`Store`] over SQLite or PostgreSQL (one
//! implementation; [`Backend`] holds the differences, [`Sql`] the seam to
//! sqlx). By concern:
//!
//! - `accept`: submissions in, group-committed with their workflow and job;
//! - `workflows`: the workflow's life (leases, retries, dead letters,
//!   orphans, operator transitions);
//! - `records`: what a run records (step checkpoints, drafts, tasks,
//!   errors, the audit trail);
//! - `reads`: the dashboard's lists, a prospect's history, the counters;
//! - `io`: reading and writing rows; `rows` and `columns`: their shape.
//!
//! `port` implements core's `Store`: each method hands over to the one
//! in its concern.

mod accept;
mod columns;
mod hooks;
mod io;
mod links;
mod port;
mod reads;
mod records;
mod rows;
mod workflows;
mod writes;

/// Query texts whose plans the PostgreSQL tests pin (`$n` placeholders).
#[cfg(feature = "test-util")]
pub mod plans {
    /// The failures by step of a period (`$1` since).
    pub const FAILURES_BY_STEP: &str = super::reads::FAILURES_BY_STEP;
    /// The workflows with a failed attempt at a step (see `reads.rs`).
    pub const WORKFLOWS_FAILED_AT: &str = super::reads::WORKFLOWS_FAILED_AT.0;
}

use std::sync::Arc;

use formlead_core::domain::{FormSubmission, WorkflowId};
use formlead_core::ports::{Accepted, StoreError, WorkflowJob};
use sqlx::{Database, Pool};

#[cfg(feature = "postgres")]
pub(crate) use columns::{step_cols, submission_cols, workflow_cols};
pub(crate) use workflows::start_update;

use super::backend::Backend;
use super::durability::Durability;
use super::errors::{SharedError, db_err};
use super::exec::{DbRow, Sql};
use super::write_path::{DirectWrites, Turn, UnitWrite, WritePath, WriteQuery, WriteTurn};

type Reply = tokio::sync::oneshot::Sender<Result<Accepted, StoreError>>;
/// The group-commit task's inbox (see `accept`).
type Inbox = tokio::sync::mpsc::Sender<(FormSubmission, Reply)>;

/// A [`Store`](formlead_core::ports::Store) on a SQL database. Construct it with
/// `SqliteStore::connect_sqlite` or `PgStore::connect_postgres`.
pub struct SqlStore<B: Backend> {
    /// Reads.
    pool: Pool<B::Db>,
    /// Writes: on SQLite a single connection whose writers take turns, on
    /// PostgreSQL the same pool as reads.
    writes: Arc<dyn WritePath<B>>,
    faults: hooks::FaultHooks,
    /// The group-commit task's inbox (started on first use).
    batcher: Arc<std::sync::OnceLock<Option<Inbox>>>,
    /// Wakes this process's workers when a job was committed here.
    wakers: Arc<std::sync::Mutex<Vec<futures_channel::mpsc::Sender<()>>>>,
    /// How long a prospect's repeat submissions join their unsent reply.
    merge_window: std::time::Duration,
}

impl<B: Backend> std::fmt::Debug for SqlStore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &B::NAME)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writes: self.writes.clone(),
            faults: self.faults.clone(),
            batcher: self.batcher.clone(),
            wakers: self.wakers.clone(),
            merge_window: self.merge_window,
        }
    }
}

impl<B: Sql> SqlStore<B> {
    /// A store reading from and writing to `pool` (many connections, each
    /// write in its own transaction).
    pub fn from_pool(pool: Pool<B::Db>) -> Self {
        Self::with_writes(pool.clone(), Arc::new(DirectWrites::new(pool)))
    }
}

impl<B: Backend> SqlStore<B> {
    /// A store reading from `reader` and writing through `writes`.
    pub(crate) fn with_writes(reader: Pool<B::Db>, writes: Arc<dyn WritePath<B>>) -> Self {
        Self {
            pool: reader,
            writes,
            faults: hooks::FaultHooks::default(),
            batcher: Arc::default(),
            wakers: Arc::default(),
            merge_window: formlead_core::ports::DEFAULT_MERGE_WINDOW,
        }
    }

    /// How long after a prospect's submission a repeat one joins its reply
    /// while that reply is neither sent nor approved (zero: never). Set it
    /// before the first accept.
    #[must_use]
    pub fn with_merge_window(mut self, window: std::time::Duration) -> Self {
        self.merge_window = window;
        self
    }

    /// A stream that yields when this store committed a job that is due
    /// now, so in-process workers pick it up at once instead of at their
    /// next poll. Wake-ups coalesce; the stream never blocks the store.
    pub fn job_wakeups(&self) -> futures_channel::mpsc::Receiver<()> {
        let (tx, rx) = futures_channel::mpsc::channel(1);
        self.wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(tx);
        rx
    }

    pub(crate) fn batcher_cell(&self) -> &std::sync::OnceLock<Option<Inbox>> {
        &self.batcher
    }

    /// A copy sharing pools, writer, fault hooks and wake-ups but not the
    /// batcher (its task holds one; it must not keep its own inbox alive).
    pub(crate) fn detached(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writes: self.writes.clone(),
            faults: self.faults.clone(),
            batcher: Arc::default(),
            wakers: self.wakers.clone(),
            merge_window: self.merge_window,
        }
    }

    fn durability(&self) -> &Durability {
        self.writes.durability()
    }

    /// Resolves once every commit this store made so far is durable: at
    /// once where a commit syncs by itself.
    ///
    /// # Errors
    /// [`StoreError::Transient`] when the fsync failed.
    pub(crate) fn durable(
        &self,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + 'static {
        self.durability().durable()
    }

    /// Calls `answer` once the commits made so far are durable, on a task
    /// of its own, so the caller can go on (to its next commit) meanwhile.
    /// `answer` gets the error that callers whose writes took effect must
    /// get instead of success: `committed`'s, or the fsync's.
    pub(crate) fn answer_when_durable(
        &self,
        committed: Result<(), StoreError>,
        answer: impl FnOnce(Option<SharedError>) + Send + 'static,
    ) {
        self.durability().answer_when_durable(committed, answer);
    }

    /// fsyncs of the WAL so far, if this store makes them.
    #[cfg(test)]
    pub(crate) fn wal_syncs(&self) -> Option<u64> {
        self.durability().syncs()
    }

    /// A queue pushing jobs through this store's writer, durably.
    pub fn queue(&self) -> super::queue::ApalisQueue<B> {
        super::queue::ApalisQueue::new(self.writer().clone())
            .with_durability(self.durability().clone())
    }

    pub(crate) fn wake_workers(&self) {
        let mut wakers = self
            .wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A full channel already has a wake-up pending; a closed one is dropped.
        wakers.retain_mut(|tx| !matches!(tx.try_send(()), Err(e) if e.is_disconnected()));
    }

    /// The pool reads go through.
    pub fn pool(&self) -> &Pool<B::Db> {
        &self.pool
    }

    /// The pool writes go through (the single SQLite writer connection).
    pub fn writer(&self) -> &Pool<B::Db> {
        self.writes.pool()
    }

    /// Commits `unit` on the writer, durably: all or none.
    pub(crate) async fn write_unit(&self, unit: UnitWrite<B>) -> Result<(), StoreError> {
        self.writes.write_all(unit).await
    }

    /// Waits for a turn on the writer.
    pub(crate) async fn write_turn(&self, turn: Turn) -> WriteTurn<'_> {
        self.writes.turn(turn).await
    }

    /// Runs `query` on the writer and commits it, durably; its `RETURNING`
    /// row, if any.
    pub(crate) async fn write_row(
        &self,
        query: WriteQuery<B>,
    ) -> Result<Option<DbRow<B>>, StoreError> {
        self.writes.write_row(query).await
    }

    /// A write transaction on the writer, in a turn held until both are
    /// dropped (the transaction first).
    pub(crate) async fn begin_write_turn(
        &self,
        turn: Turn,
    ) -> Result<(WriteTurn<'_>, sqlx::Transaction<'static, B::Db>), StoreError> {
        let turn = self.write_turn(turn).await;
        let tx = B::begin_write(self.writer()).await.map_err(db_err::<B>)?;
        Ok((turn, tx))
    }

    /// Commits `tx`, gives up the turn, then waits until the commit is
    /// durable (the writer is free meanwhile).
    pub(crate) async fn commit_durably(
        &self,
        tx: sqlx::Transaction<'static, B::Db>,
        turn: WriteTurn<'_>,
    ) -> Result<(), StoreError> {
        tx.commit().await.map_err(db_err::<B>)?;
        drop(turn);
        self.durable().await
    }

    /// Queues a job for each of `ids` (due after `delay`) in `tx`, commits
    /// it as [`Self::commit_durably`] does, then wakes this process's
    /// workers.
    pub(crate) async fn commit_with_jobs(
        &self,
        mut tx: sqlx::Transaction<'static, B::Db>,
        turn: WriteTurn<'_>,
        ids: &[WorkflowId],
        delay: std::time::Duration,
    ) -> Result<(), StoreError> {
        for id in ids {
            B::push_job(&mut tx, WorkflowJob { workflow_id: *id }, delay)
                .await
                .map_err(db_err::<B>)?;
        }
        self.commit_durably(tx, turn).await?;
        if !ids.is_empty() {
            self.wake_workers();
        }
        Ok(())
    }

    /// Fault injection for tests: `accept_submission`,
    /// `accept_submission:after_insert`, `save_step`,
    /// `save_step:<step>:<status>`.
    #[cfg(any(test, feature = "test-util"))]
    pub fn faults(&self) -> &crate::sandbox::Faults {
        self.faults.faults()
    }
}

impl<B: Backend> SqlStore<B>
where
    <B::Db as Database>::Connection: sqlx::migrate::Migrate,
{
    /// Applies apalis' migrations and formlead's, each tracked in its own
    /// table. (apalis' `setup()` is not used: on SQLite it would set
    /// `synchronous=OFF`.)
    ///
    /// # Errors
    /// [`sqlx::Error`].
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        let (mut apalis, mut ours) = B::migrators();
        apalis.set_ignore_missing(true);
        apalis.run(self.writer()).await?;
        ours.dangerous_set_table_name("formlead_migrations");
        ours.run(self.writer()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "sqlite")]
    use crate::sql::SqliteStore;

    /// SQLite's query plan for `sql` (`$n` placeholders), one line per
    /// step joined with "; ". The values bound only stand in for the
    /// placeholders: the plan does not depend on them.
    #[cfg(feature = "sqlite")]
    async fn plan(store: &SqliteStore, sql: &str, binds: &[Option<&str>]) -> String {
        use sqlx::Row as _;
        let sql = format!("EXPLAIN QUERY PLAN {}", sql.replace('$', "?"));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b.map(str::to_owned));
        }
        q.fetch_all(store.pool())
            .await
            .expect("plan")
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Listing one status walks that status's rows in list order (the
    /// (status, created_at, id) index), with no scan and no sort; orphan
    /// recovery reads only the `processing` rows, through the same index;
    /// an accept batch reads only its prospects' workflows; the dashboard's
    /// failures by step read only the period's errors.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_status_list_reads_only_that_status_in_order() {
        use super::reads::{
            DRAFTS_OF_STATUS, FAILURES_BY_STEP, WORKFLOWS_FAILED_AT, WORKFLOWS_OF_STATUS,
        };
        use crate::sql::Backend as _;
        use crate::sql::SqliteDurability;

        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = SqliteStore::connect_sqlite(&url, SqliteDurability::Full, 1)
            .await
            .expect("open sqlite");
        for (sql, index) in [
            (WORKFLOWS_OF_STATUS.0, "idx_workflows_status_created_at"),
            (WORKFLOWS_OF_STATUS.1, "idx_workflows_status_created_at"),
            (DRAFTS_OF_STATUS.0, "idx_draft_emails_status_created_at"),
            (DRAFTS_OF_STATUS.1, "idx_draft_emails_status_created_at"),
        ] {
            let plan = plan(&store, sql, &[Some("failed"), None, Some("50"), Some("0")]).await;
            assert!(
                plan.contains(&format!("USING INDEX {index} (status=?)"))
                    || plan.contains(&format!("USING COVERING INDEX {index} (status=?)")),
                "{sql}\n{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
        }

        let since = Some("2026-12-05T00:00:00Z");
        let recover = plan(&store, super::workflows::RECOVER_ORPHANS, &[since]).await;
        assert!(
            recover.contains("USING INDEX idx_workflows_status_created_at (status=?)"),
            "{recover}"
        );

        // An accept batch looks up only its own prospects' workflows.
        let sql = crate::sql::SqliteBackend::OPEN_REPLIES;
        let open = plan(&store, sql, &[Some(r#"["a@b.example"]"#), Some("0")]).await;
        assert!(
            open.contains("SEARCH w USING INDEX idx_workflows_prospect_email (prospect_email=?)")
                && !open.contains("SCAN w"),
            "{open}"
        );

        let failures = plan(&store, FAILURES_BY_STEP, &[since]).await;
        assert!(
            failures.contains("USING INDEX idx_workflow_errors_created_at (created_at>?)")
                && !failures.contains("SCAN workflow_errors"),
            "{failures}"
        );
        // A row of them lists its workflows from the period's errors, by id.
        let binds = [
            None,
            None,
            Some("write_draft"),
            since,
            Some("50"),
            Some("0"),
        ];
        let failed_at = plan(&store, WORKFLOWS_FAILED_AT.0, &binds).await;
        assert!(
            failed_at.contains("USING INDEX idx_workflow_errors_created_at (created_at>?)")
                && failed_at
                    .contains("SEARCH workflows USING INDEX sqlite_autoindex_workflows_1 (id=?)")
                && !failed_at.contains("SCAN"),
            "{failed_at}"
        );
    }
}
