//! `SqlStore`: core's [`Store`] over SQLite or PostgreSQL (one
//! implementation; [`Backend`] holds the differences).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use formlead_core::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, FormSubmission, StepRecord,
    SubmissionId, Workflow, WorkflowError, WorkflowId, WorkflowStatus, WorkflowSummary,
};
use formlead_core::memory::Faults;
use formlead_core::ports::{
    Accepted, Page, PastSubmission, ProspectHistory, StartAttempt, Store, StoreError,
    WorkflowFilter, WorkflowJob, WorkflowStats,
};
use sqlx::{Database, Pool};

use super::backend::Backend;
use super::columns::{
    audit_cols, draft_cols, error_cols, step_cols, submission_cols, task_cols, workflow_cols,
};
use super::exec::{Sql, Stmt, stmt};
use super::rows::Reader;
use super::wal_sync::{Durability, WalSync};
use super::write_gate::{Turn, WriteGate, WriteTurn};
use super::write_queue::{WriteInbox, WriteQuery};

/// A [`Store`] on a SQL database. Construct it with
/// `SqliteStore::connect_sqlite` or `PgStore::connect_postgres`.
pub struct SqlStore<B: Backend> {
    /// Reads.
    pool: Pool<B::Db>,
    /// Writes. On SQLite a single connection, so writers queue here in
    /// order instead of polling SQLite's file lock with growing sleeps;
    /// on PostgreSQL the same pool as reads.
    writer: Pool<B::Db>,
    faults: std::sync::Arc<Faults>,
    /// The group-commit task's inbox (started on first use).
    batcher: std::sync::Arc<std::sync::OnceLock<Option<super::accept::Inbox>>>,
    /// Wakes this process's workers when a job was committed here.
    wakers: std::sync::Arc<std::sync::Mutex<Vec<futures_channel::mpsc::Sender<()>>>>,
    /// Turns on the writer (accepts first) when it is a single connection.
    gate: std::sync::Arc<WriteGate>,
    /// The write queue task's inbox (single writer only; started on first use).
    writes: std::sync::Arc<std::sync::OnceLock<Option<WriteInbox<B>>>>,
    /// How commits become durable (SQLite: a WAL fsync after them).
    durability: Durability,
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
            writer: self.writer.clone(),
            faults: self.faults.clone(),
            batcher: self.batcher.clone(),
            wakers: self.wakers.clone(),
            gate: self.gate.clone(),
            writes: self.writes.clone(),
            durability: self.durability.clone(),
        }
    }
}

/// Maps a sqlx error to a classified store error.
pub(crate) fn db_err<B: Backend>(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::Database(d) if B::is_transient_db_error(d.code().as_deref()) => StoreError::transient(e),
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
            StoreError::transient(e)
        }
        _ => StoreError::permanent(e),
    }
}

/// One error for every caller of a group commit ([`StoreError`] is not
/// `Clone`): its message and whether trying again may help.
pub(crate) struct SharedError {
    message: String,
    transient: bool,
}

impl SharedError {
    pub(crate) fn of(e: &StoreError) -> Self {
        // The cause alone: `error()` wraps it as transient or permanent
        // again, which adds the "store temporarily unavailable" prefix.
        let message = match e {
            StoreError::Transient { source, .. } | StoreError::Permanent { source } => {
                source.to_string()
            }
            other => other.to_string(),
        };
        Self {
            message,
            transient: matches!(e, StoreError::Transient { .. }),
        }
    }

    pub(crate) fn error(&self) -> StoreError {
        if self.transient {
            StoreError::transient(self.message.clone())
        } else {
            StoreError::permanent(self.message.clone())
        }
    }
}

/// The workflow list (`$1` status, `$2` email pattern, `$3` limit, `$4`
/// offset) and its count, for a condition on the status.
macro_rules! workflow_list_sql {
    ($status:literal) => {
        (
            concat!(
                "SELECT ",
                workflow_cols!(),
                " FROM workflows WHERE ",
                $status,
                " AND (CAST($2 AS TEXT) IS NULL OR prospect_email LIKE $2 ESCAPE '\\') ",
                "ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
            ),
            concat!(
                "SELECT COUNT(*) AS n FROM workflows WHERE ",
                $status,
                " AND (CAST($2 AS TEXT) IS NULL OR prospect_email LIKE $2 ESCAPE '\\')"
            ),
        )
    };
}

/// The draft list (`$1` status, `$2` limit, `$3` offset) and its count.
macro_rules! draft_list_sql {
    ($status:literal) => {
        (
            concat!(
                "SELECT ",
                draft_cols!(),
                " FROM draft_emails WHERE ",
                $status,
                " ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
            ),
            concat!("SELECT COUNT(*) AS n FROM draft_emails WHERE ", $status),
        )
    };
}

// With a status the condition is `status = $1`, not `$1 IS NULL OR
// status = $1`, so the (status, created_at, id) indexes yield that status
// alone, newest first: listing a rare status reads only its own rows.
const WORKFLOWS_OF_STATUS: (&str, &str) = workflow_list_sql!("status = $1");
const WORKFLOWS_OF_ANY_STATUS: (&str, &str) = workflow_list_sql!("CAST($1 AS TEXT) IS NULL");
const DRAFTS_OF_STATUS: (&str, &str) = draft_list_sql!("status = $1");
const DRAFTS_OF_ANY_STATUS: (&str, &str) = draft_list_sql!("CAST($1 AS TEXT) IS NULL");

fn like_pattern(needle: &str) -> String {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl<B: Backend> SqlStore<B> {
    pub fn from_pool(pool: Pool<B::Db>) -> Self {
        Self {
            writer: pool.clone(),
            pool,
            faults: std::sync::Arc::default(),
            batcher: std::sync::Arc::default(),
            wakers: std::sync::Arc::default(),
            gate: std::sync::Arc::default(),
            writes: std::sync::Arc::default(),
            durability: Durability::default(),
        }
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

    pub(crate) fn batcher_cell(&self) -> &std::sync::OnceLock<Option<super::accept::Inbox>> {
        &self.batcher
    }

    pub(crate) fn write_queue_cell(&self) -> &std::sync::OnceLock<Option<WriteInbox<B>>> {
        &self.writes
    }

    /// Writes go through one connection (SQLite), taking turns at the gate.
    pub(crate) fn single_writer(&self) -> bool {
        self.gate.is_exclusive()
    }

    /// A copy sharing pool, fault hooks and wake-ups but not the batcher or
    /// the write queue (their tasks hold one; it must not keep their own
    /// inboxes alive).
    pub(crate) fn detached(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writer: self.writer.clone(),
            faults: self.faults.clone(),
            batcher: std::sync::Arc::default(),
            wakers: self.wakers.clone(),
            gate: self.gate.clone(),
            writes: std::sync::Arc::default(),
            durability: self.durability.clone(),
        }
    }

    /// Commits of this store are made durable by `sync` (see [`WalSync`]).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn set_wal_sync(&mut self, sync: WalSync) {
        self.durability = Durability::wal(sync);
    }

    /// Resolves once every commit this store made so far is durable: at
    /// once where a commit syncs by itself.
    ///
    /// # Errors
    /// [`StoreError::Transient`] when the fsync failed.
    pub(crate) fn durable(
        &self,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + 'static {
        self.durability.durable()
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
        let durable = self.durable();
        tokio::spawn(async move {
            let lost = match committed {
                Ok(()) => durable.await.err(),
                Err(e) => Some(e),
            };
            answer(lost.as_ref().map(SharedError::of));
        });
    }

    /// fsyncs of the WAL so far, if this store makes them.
    #[cfg(test)]
    pub(crate) fn wal_syncs(&self) -> Option<u64> {
        self.durability.syncs()
    }

    /// A queue pushing jobs through this store's writer, durably.
    pub fn queue(&self) -> super::ApalisQueue<B> {
        super::ApalisQueue::new(self.writer.clone()).with_durability(self.durability.clone())
    }

    pub(crate) fn wake_workers(&self) {
        let mut wakers = self
            .wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A full channel already has a wake-up pending; a closed one is dropped.
        wakers.retain_mut(|tx| !matches!(tx.try_send(()), Err(e) if e.is_disconnected()));
    }

    pub fn pool(&self) -> &Pool<B::Db> {
        &self.pool
    }

    /// The pool writes go through (the single SQLite writer connection).
    pub fn writer(&self) -> &Pool<B::Db> {
        &self.writer
    }

    /// A store reading from `reader` and writing through `writer`, a
    /// single connection whose turns go to webhook accepts first.
    pub fn from_pools(reader: Pool<B::Db>, writer: Pool<B::Db>) -> Self {
        let mut store = Self::from_pool(reader);
        store.writer = writer;
        store.gate = std::sync::Arc::new(WriteGate::exclusive());
        store
    }

    /// Waits for a turn on the writer.
    pub(crate) async fn write_turn(&self, turn: Turn) -> WriteTurn<'_> {
        self.gate.turn(turn).await
    }

    /// A write transaction on the writer, in a turn held until both are
    /// dropped (the transaction first).
    pub(crate) async fn begin_write_turn(
        &self,
        turn: Turn,
    ) -> Result<(WriteTurn<'_>, sqlx::Transaction<'static, B::Db>), StoreError> {
        let turn = self.write_turn(turn).await;
        let tx = B::begin_write(&self.writer).await.map_err(db_err::<B>)?;
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

    /// Fault injection for tests: `accept_submission`,
    /// `accept_submission:after_insert`, `save_step`,
    /// `save_step:<step>:<status>`.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Jobs waiting on the queue, for metrics.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn queue_depth(&self) -> Result<u64, StoreError> {
        B::count_jobs(&self.pool, &["Pending", "Queued"])
            .await
            .map_err(db_err::<B>)
    }

    /// Jobs in apalis' dead state (`Killed`), for metrics and tests.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn dead_jobs(&self) -> Result<u64, StoreError> {
        B::count_jobs(&self.pool, &["Killed"])
            .await
            .map_err(db_err::<B>)
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
        apalis.run(&self.writer).await?;
        ours.dangerous_set_table_name("formlead_migrations");
        ours.run(&self.writer).await?;
        Ok(())
    }
}

impl<B: Sql> SqlStore<B> {
    /// A read: the row of `query`, mapped, if any.
    async fn fetch_optional<T>(
        &self,
        query: Stmt<'_, B>,
        map: impl FnOnce(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err::<B>)?;
        row.as_ref().map(|r| map(Reader::new(r))).transpose()
    }

    /// A write returning a row (`UPDATE … RETURNING`), committed.
    async fn write_optional<T>(
        &self,
        query: WriteQuery<B>,
        map: impl FnOnce(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = self.write_row(query).await?;
        row.as_ref().map(|r| map(Reader::new(r))).transpose()
    }

    /// One write statement, committed.
    async fn execute_write(&self, query: WriteQuery<B>) -> Result<(), StoreError> {
        self.write_row(query).await.map(|_| ())
    }

    async fn fetch_all<T>(
        &self,
        query: Stmt<'_, B>,
        map: impl Fn(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(db_err::<B>)?;
        rows.iter().map(|r| map(Reader::new(r))).collect()
    }

    async fn count(&self, query: Stmt<'_, B>) -> Result<u64, StoreError> {
        let n = self.fetch_optional(query, |r| r.i("n")).await?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Rows of `sql` (one `$1` = `id`), mapped.
    async fn all_by_id<T>(
        &self,
        sql: &'static str,
        id: uuid::Uuid,
        map: impl Fn(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.fetch_all(stmt::<B>(sql).arg(id), map).await
    }

    /// The row of `sql` (one `$1` = `id`), mapped, if any.
    async fn one_by_id<T>(
        &self,
        sql: &'static str,
        id: uuid::Uuid,
        map: impl FnOnce(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.fetch_optional(stmt::<B>(sql).arg(id), map).await
    }

    /// Why an UPDATE guarded by the lease matched nothing.
    async fn lease_lost_or_missing(&self, id: WorkflowId) -> StoreError {
        match self.get_workflow(id).await {
            Ok(Some(_)) => StoreError::LeaseLost(id),
            Ok(None) => StoreError::not_found("workflow", id),
            Err(e) => e,
        }
    }

    async fn insert_error(
        &self,
        conn: &mut <B::Db as Database>::Connection,
        e: &WorkflowError,
    ) -> Result<(), StoreError> {
        stmt::<B>(concat!(
            "INSERT INTO workflow_errors (",
            error_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .arg(e.id.0)
        .arg(e.workflow_id.0)
        .arg(i64::from(e.attempt))
        .arg(e.step.map(|s| s.as_str().to_owned()))
        .arg(e.kind.as_str().to_owned())
        .arg(e.message.clone())
        .arg(e.retry_at)
        .arg(e.created_at)
        .execute_in(&mut *conn)
        .await
        .map_err(db_err::<B>)?;
        Ok(())
    }
}

#[async_trait]
impl<B: Sql> Store for SqlStore<B> {
    async fn accept_submission(&self, s: &FormSubmission) -> Result<Accepted, StoreError> {
        self.faults
            .before::<StoreError>("accept_submission")
            .await?;
        // Concurrent accepts share one commit (group commit); alone, a
        // submission is committed by itself, just as fast.
        if let Some(batcher) = self.batcher() {
            let (reply, answer) = tokio::sync::oneshot::channel();
            if batcher.send((s.clone(), reply)).await.is_ok()
                && let Ok(result) = answer.await
            {
                return result;
            }
        }
        let result = self
            .accept_batch(&[s])
            .await
            .pop()
            .unwrap_or_else(|| Err(StoreError::transient("accept produced no result")));
        self.durable().await?;
        result
    }

    async fn find_submission(
        &self,
        form_submission_id: &str,
    ) -> Result<Option<Accepted>, StoreError> {
        let q = stmt::<B>(
            "SELECT s.id AS sid, w.id AS wid FROM form_submissions s JOIN workflows w ON w.submission_id = s.id \
             WHERE s.form_submission_id = $1",
        )
        .arg(form_submission_id.to_owned());
        self.fetch_optional(q, |r| {
            Ok(Accepted {
                submission_id: SubmissionId(r.uuid("sid")?),
                workflow_id: WorkflowId(r.uuid("wid")?),
            })
        })
        .await
    }

    async fn get_submission(&self, id: SubmissionId) -> Result<Option<FormSubmission>, StoreError> {
        self.one_by_id(
            concat!(
                "SELECT ",
                submission_cols!(),
                " FROM form_submissions WHERE id = $1"
            ),
            id.0,
            |r| r.submission(),
        )
        .await
    }

    async fn get_workflow(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError> {
        self.one_by_id(
            concat!("SELECT ", workflow_cols!(), " FROM workflows WHERE id = $1"),
            id.0,
            |r| r.workflow(),
        )
        .await
    }

    async fn list_workflows(
        &self,
        filter: &WorkflowFilter,
    ) -> Result<Page<WorkflowSummary>, StoreError> {
        let status = filter.status.map(|s| s.as_str().to_owned());
        let email = filter.email_needle().map(|n| like_pattern(&n));
        let (list, count) = if status.is_some() {
            WORKFLOWS_OF_STATUS
        } else {
            WORKFLOWS_OF_ANY_STATUS
        };
        let q = stmt::<B>(list)
            .arg(status.clone())
            .arg(email.clone())
            .arg(i64::from(filter.clamped_limit()))
            .arg(i64::from(filter.offset));
        let items = self
            .fetch_all(q, |r| r.workflow().map(|w| WorkflowSummary::from(&w)))
            .await?;
        let total = self.count(stmt::<B>(count).arg(status).arg(email)).await?;
        Ok(Page { items, total })
    }

    async fn start_attempt(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let q = stmt::<B>(concat!(
            "UPDATE workflows SET status = 'processing', attempts = attempts + 1, started_at = COALESCE(started_at, $3), ",
            "next_retry_at = NULL, updated_at = $3, lease_owner = $2, lease_until = $4 ",
            "WHERE id = $1 AND status NOT IN ('completed', 'awaiting_approval', 'failed') ",
            "AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3) ",
            "AND (next_retry_at IS NULL OR next_retry_at <= $3) ",
            "RETURNING ", workflow_cols!()

        ))
        .arg(id.0)
        .arg(owner.to_owned())
        .arg(now)
        .arg(until);
        if let Some(w) = self.write_optional(q, |r| r.workflow()).await? {
            return Ok(StartAttempt::Started(w));
        }
        let q = stmt::<B>("SELECT status, lease_until, next_retry_at FROM workflows WHERE id = $1")
            .arg(id.0);
        let state = self
            .fetch_optional(q, |r| {
                let status =
                    WorkflowStatus::parse(&r.s("status")?).map_err(StoreError::permanent)?;
                Ok((
                    status,
                    r.opt_time("lease_until")?,
                    r.opt_time("next_retry_at")?,
                ))
            })
            .await?;
        match state {
            None => Err(StoreError::not_found("workflow", id)),
            Some((status, _, _)) if status.is_terminal() => Ok(StartAttempt::NotRunnable(status)),
            Some((_, _, Some(at))) if at > now => Ok(StartAttempt::NotDue { at }),
            Some((_, until, _)) => Ok(StartAttempt::Busy {
                until: until.unwrap_or(now),
            }),
        }
    }

    async fn renew_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let q = stmt::<B>(
            "UPDATE workflows SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 RETURNING id",
        )
        .arg(id.0)
        .arg(owner.to_owned())
        .arg(until);
        match self.write_optional(q, |_| Ok(())).await? {
            Some(()) => Ok(()),
            None => Err(self.lease_lost_or_missing(id).await),
        }
    }

    async fn finish_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        status: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let q = stmt::<B>(
            "UPDATE workflows SET status = $3, completed_at = $4, updated_at = $4, last_error = NULL, \
             lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2 RETURNING id",
        )
        .arg(id.0)
        .arg(owner.to_owned())
        .arg(status.as_str().to_owned())
        .arg(now);
        match self.write_optional(q, |_| Ok(())).await? {
            Some(()) => Ok(()),
            None => Err(self.lease_lost_or_missing(id).await),
        }
    }

    async fn schedule_retry(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (turn, mut tx) = self.begin_write_turn(Turn::Other).await?;
        self.insert_error(&mut tx, error).await?;
        let updated = stmt::<B>(
            "UPDATE workflows SET status = 'retrying', next_retry_at = $3, last_error = $4, updated_at = $5, \
             lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2 RETURNING id",
        )
        .arg(id.0)
        .arg(owner.to_owned())
        .arg(retry_at)
        .arg(error.message.clone())
        .arg(error.created_at)
        .fetch_optional_in(&mut *tx)
        .await
        .map_err(db_err::<B>)?;
        if updated.is_none() {
            drop(tx);
            return Err(self.lease_lost_or_missing(id).await);
        }
        let delay = (retry_at - error.created_at).to_std().unwrap_or_default();
        B::push_job(&mut tx, WorkflowJob { workflow_id: id }, delay)
            .await
            .map_err(db_err::<B>)?;
        self.commit_durably(tx, turn).await
    }

    async fn fail_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
    ) -> Result<(), StoreError> {
        let (turn, mut tx) = self.begin_write_turn(Turn::Other).await?;
        self.insert_error(&mut tx, error).await?;
        let updated = stmt::<B>(
            "UPDATE workflows SET status = 'failed', completed_at = $3, updated_at = $3, next_retry_at = NULL, \
             last_error = $4, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2 RETURNING id",
        )
        .arg(id.0)
        .arg(owner.to_owned())
        .arg(error.created_at)
        .arg(error.message.clone())
        .fetch_optional_in(&mut *tx)
        .await
        .map_err(db_err::<B>)?;
        if updated.is_none() {
            drop(tx);
            return Err(self.lease_lost_or_missing(id).await);
        }
        self.commit_durably(tx, turn).await
    }

    async fn requeue_workflow(
        &self,
        id: WorkflowId,
        now: DateTime<Utc>,
        run_at: DateTime<Utc>,
    ) -> Result<Workflow, StoreError> {
        let run_at = run_at.max(now);
        let (turn, mut tx) = self.begin_write_turn(Turn::Other).await?;
        let row = stmt::<B>(concat!(
            "UPDATE workflows SET status = 'retrying', attempts = 0, completed_at = NULL, next_retry_at = $3, updated_at = $2 ",
            "WHERE id = $1 AND status = 'failed' RETURNING ", workflow_cols!()
        ))
        .arg(id.0)
        .arg(now)
        .arg(run_at)
        .fetch_optional_in(&mut *tx)
        .await
        .map_err(db_err::<B>)?;
        let Some(row) = row else {
            drop(tx);
            return Err(match self.get_workflow(id).await? {
                Some(w) => StoreError::Conflict(format!(
                    "workflow {id} is {}; only failed workflows can be retried",
                    w.status
                )),
                None => StoreError::not_found("workflow", id),
            });
        };
        let workflow = Reader::<B>::new(&row).workflow()?;
        let delay = (run_at - now).to_std().unwrap_or_default();
        B::push_job(&mut tx, WorkflowJob { workflow_id: id }, delay)
            .await
            .map_err(db_err::<B>)?;
        self.commit_durably(tx, turn).await?;
        self.wake_workers();
        Ok(workflow)
    }

    async fn recover_orphans(&self, now: DateTime<Utc>) -> Result<Vec<WorkflowId>, StoreError> {
        let (turn, mut tx) = self.begin_write_turn(Turn::Other).await?;
        let rows = stmt::<B>(
            "UPDATE workflows SET status = 'retrying', next_retry_at = $1, updated_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE status = 'processing' AND lease_until < $1 RETURNING id",
        )
        .arg(now)
        .fetch_all_in(&mut *tx)
        .await
        .map_err(db_err::<B>)?;
        let ids = rows
            .iter()
            .map(|r| Reader::<B>::new(r).uuid("id").map(WorkflowId))
            .collect::<Result<Vec<_>, _>>()?;
        for id in &ids {
            B::push_job(&mut tx, WorkflowJob { workflow_id: *id }, Duration::ZERO)
                .await
                .map_err(db_err::<B>)?;
        }
        self.commit_durably(tx, turn).await?;
        if !ids.is_empty() {
            self.wake_workers();
        }
        Ok(ids)
    }

    async fn transition_workflow(
        &self,
        id: WorkflowId,
        from: WorkflowStatus,
        to: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let q = stmt::<B>(
            "UPDATE workflows SET status = $3, updated_at = $4, completed_at = $5 WHERE id = $1 AND status = $2 RETURNING id",
        )
        .arg(id.0)
        .arg(from.as_str().to_owned())
        .arg(to.as_str().to_owned())
        .arg(now)
        .arg(to.is_terminal().then_some(now));
        Ok(self.write_optional(q, |_| Ok(())).await?.is_some())
    }

    async fn save_step(&self, r: &StepRecord) -> Result<(), StoreError> {
        self.faults.before::<StoreError>("save_step").await?;
        self.faults
            .before::<StoreError>(&format!("save_step:{}:{}", r.step, r.status))
            .await?;
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO workflow_steps (", step_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ",
                "ON CONFLICT (workflow_id, step) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, ",
                "started_at = excluded.started_at, finished_at = excluded.finished_at, summary = excluded.summary, ",
                "output = excluded.output, error = excluded.error"
            ))
            .arg(r.workflow_id.0)
            .arg(r.step.as_str().to_owned())
            .arg(r.status.as_str().to_owned())
            .arg(i64::from(r.attempt))
            .arg(r.started_at)
            .arg(r.finished_at)
            .arg(r.summary.clone())
            .arg(r.output.clone())
            .arg(r.error.clone())
        )
        .await
    }

    async fn list_steps(&self, id: WorkflowId) -> Result<Vec<StepRecord>, StoreError> {
        let mut steps = self
            .all_by_id(
                concat!(
                    "SELECT ",
                    step_cols!(),
                    " FROM workflow_steps WHERE workflow_id = $1"
                ),
                id.0,
                |r| r.step(),
            )
            .await?;
        steps.sort_by_key(|s| s.step.number());
        Ok(steps)
    }

    async fn insert_draft(&self, d: &DraftEmail) -> Result<(), StoreError> {
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO draft_emails (",
                draft_cols!(),
                ") VALUES ",
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
            ))
            .arg(d.id.0)
            .arg(d.workflow_id.0)
            .arg(d.to_email.clone())
            .arg(d.to_name.clone())
            .arg(d.subject.clone())
            .arg(d.body_text.clone())
            .arg(d.body_html.clone())
            .arg(d.message_id.clone())
            .arg(d.thread_id.clone())
            .arg(d.in_reply_to.clone())
            .arg(d.external_id.clone())
            .arg(d.status.as_str().to_owned())
            .arg(d.created_at)
            .arg(d.updated_at)
            .arg(d.decided_by.clone())
            .arg(d.decided_at)
            .arg(d.reject_reason.clone())
            .arg(d.sent_message_id.clone())
            .arg(d.sent_at)
        )
        .await
    }

    async fn update_draft(
        &self,
        d: &DraftEmail,
        expected: DraftStatus,
    ) -> Result<bool, StoreError> {
        let q = stmt::<B>(
            "UPDATE draft_emails SET status = $3, updated_at = $4, decided_by = $5, decided_at = $6, reject_reason = $7, \
             sent_message_id = $8, sent_at = $9, external_id = $10, thread_id = $11 WHERE id = $1 AND status = $2 RETURNING id",
        )
        .arg(d.id.0)
        .arg(expected.as_str().to_owned())
        .arg(d.status.as_str().to_owned())
        .arg(d.updated_at)
        .arg(d.decided_by.clone())
        .arg(d.decided_at)
        .arg(d.reject_reason.clone())
        .arg(d.sent_message_id.clone())
        .arg(d.sent_at)
        .arg(d.external_id.clone())
        .arg(d.thread_id.clone());
        if self.write_optional(q, |_| Ok(())).await?.is_some() {
            return Ok(true);
        }
        match self.get_draft(d.id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::not_found("draft", d.id)),
        }
    }

    async fn get_draft(&self, id: DraftId) -> Result<Option<DraftEmail>, StoreError> {
        self.one_by_id(
            concat!("SELECT ", draft_cols!(), " FROM draft_emails WHERE id = $1"),
            id.0,
            |r| r.draft(),
        )
        .await
    }

    async fn drafts_for_workflow(&self, id: WorkflowId) -> Result<Vec<DraftEmail>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                draft_cols!(),
                " FROM draft_emails WHERE workflow_id = $1 ORDER BY created_at"
            ),
            id.0,
            |r| r.draft(),
        )
        .await
    }

    async fn list_drafts(
        &self,
        status: Option<DraftStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<DraftEmail>, StoreError> {
        let status = status.map(|s| s.as_str().to_owned());
        let (list, count) = if status.is_some() {
            DRAFTS_OF_STATUS
        } else {
            DRAFTS_OF_ANY_STATUS
        };
        let q = stmt::<B>(list)
            .arg(status.clone())
            .arg(i64::from(limit.clamp(1, WorkflowFilter::MAX_LIMIT)))
            .arg(i64::from(offset));
        let items = self.fetch_all(q, |r| r.draft()).await?;
        let total = self.count(stmt::<B>(count).arg(status)).await?;
        Ok(Page { items, total })
    }

    async fn insert_task(&self, t: &CrmTask) -> Result<(), StoreError> {
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO hubspot_tasks (",
                task_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .arg(t.id.0)
            .arg(t.workflow_id.0)
            .arg(t.contact_id.clone())
            .arg(t.external_id.clone())
            .arg(t.subject.clone())
            .arg(t.body.clone())
            .arg(t.due_at)
            .arg(t.priority.as_str().to_owned())
            .arg(t.task_type.as_str().to_owned())
            .arg(t.owner_id.clone())
            .arg(t.created_at),
        )
        .await
    }

    async fn tasks_for_workflow(&self, id: WorkflowId) -> Result<Vec<CrmTask>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                task_cols!(),
                " FROM hubspot_tasks WHERE workflow_id = $1 ORDER BY created_at"
            ),
            id.0,
            |r| r.task(),
        )
        .await
    }

    async fn errors_for_workflow(&self, id: WorkflowId) -> Result<Vec<WorkflowError>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                error_cols!(),
                " FROM workflow_errors WHERE workflow_id = $1 ORDER BY created_at, attempt"
            ),
            id.0,
            |r| r.error(),
        )
        .await
    }

    async fn record_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        self.execute_write(
            stmt::<B>(concat!(
                "INSERT INTO audit_events (",
                audit_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .arg(e.id.0)
            .arg(e.workflow_id.map(|w| w.0))
            .arg(e.actor.clone())
            .arg(e.action.clone())
            .arg(e.detail.clone())
            .arg(e.created_at),
        )
        .await
    }

    async fn audit_for_workflow(&self, id: WorkflowId) -> Result<Vec<AuditEvent>, StoreError> {
        self.all_by_id(
            concat!(
                "SELECT ",
                audit_cols!(),
                " FROM audit_events WHERE workflow_id = $1 ORDER BY created_at"
            ),
            id.0,
            |r| r.audit(),
        )
        .await
    }

    async fn prospect_history(
        &self,
        email: &str,
        exclude: WorkflowId,
    ) -> Result<ProspectHistory, StoreError> {
        let q = stmt::<B>(
            "SELECT w.id AS wid, s.received_at AS received_at, s.fields AS fields FROM workflows w \
             JOIN form_submissions s ON s.id = w.submission_id \
             WHERE w.prospect_email = $1 AND w.id <> $2 ORDER BY s.received_at DESC LIMIT 20",
        )
        .arg(email.to_owned())
        .arg(exclude.0);
        let submissions = self
            .fetch_all(q, |r| {
                let fields = r.json("fields")?;
                Ok(PastSubmission {
                    workflow_id: WorkflowId(r.uuid("wid")?),
                    received_at: r.time("received_at")?,
                    message: fields
                        .get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_owned),
                })
            })
            .await?;
        let q = stmt::<B>(concat!(
            "SELECT ", draft_cols!(), " FROM draft_emails WHERE workflow_id IN ",
            "(SELECT id FROM workflows WHERE prospect_email = $1 AND id <> $2) ORDER BY created_at DESC LIMIT 20"
        ))
        .arg(email.to_owned())
        .arg(exclude.0);
        let drafts = self.fetch_all(q, |r| r.draft()).await?;
        let q = stmt::<B>(concat!(
            "SELECT ", task_cols!(), " FROM hubspot_tasks WHERE workflow_id IN ",
            "(SELECT id FROM workflows WHERE prospect_email = $1 AND id <> $2) ORDER BY created_at DESC LIMIT 20"
        ))
        .arg(email.to_owned())
        .arg(exclude.0);
        let tasks = self.fetch_all(q, |r| r.task()).await?;
        Ok(ProspectHistory {
            submissions,
            drafts,
            tasks,
        })
    }

    async fn stats(&self, since: DateTime<Utc>) -> Result<WorkflowStats, StoreError> {
        let by_status = self.workflow_counts().await?;
        let created_since = self
            .count(
                stmt::<B>("SELECT COUNT(*) AS n FROM workflows WHERE created_at >= $1").arg(since),
            )
            .await?;
        let drafts_pending = self
            .count(stmt::<B>(
                "SELECT COUNT(*) AS n FROM draft_emails WHERE status = 'pending_approval'",
            ))
            .await?;
        let q = stmt::<B>(
            "SELECT d.created_at AS drafted, w.created_at AS received FROM draft_emails d \
             JOIN workflows w ON w.id = d.workflow_id WHERE d.created_at >= $1 ORDER BY d.created_at DESC LIMIT 10000",
        )
        .arg(since);
        let draft_latencies_ms = self
            .fetch_all(q, |r| {
                Ok((r.time("drafted")? - r.time("received")?).num_milliseconds())
            })
            .await?;
        Ok(WorkflowStats {
            created_since,
            by_status,
            drafts_pending,
            draft_latencies_ms,
        })
    }

    async fn workflow_counts(&self) -> Result<Vec<(WorkflowStatus, u64)>, StoreError> {
        self.faults().before::<StoreError>("stats").await?;
        let q = stmt::<B>("SELECT status, COUNT(*) AS n FROM workflows GROUP BY status");
        let mut by_status = self
            .fetch_all(q, |r| {
                Ok((
                    WorkflowStatus::parse(&r.s("status")?).map_err(StoreError::permanent)?,
                    u64::try_from(r.i("n")?).unwrap_or(0),
                ))
            })
            .await?;
        by_status.sort();
        Ok(by_status)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.faults().before::<StoreError>("ping").await?;
        stmt::<B>("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err::<B>)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use formlead_core::ports::{Classify, StoreError};

    use super::SharedError;

    #[test]
    fn a_shared_error_reads_like_the_original() {
        for e in [
            StoreError::transient("pool timed out while waiting for an open connection"),
            StoreError::permanent("CHECK constraint failed"),
        ] {
            let shared = SharedError::of(&e).error();
            assert_eq!(shared.to_string(), e.to_string());
            assert_eq!(shared.is_transient(), e.is_transient());
        }
        let conflict = StoreError::Conflict("draft already rejected".into());
        let shared = SharedError::of(&conflict).error();
        assert_eq!(
            shared.to_string(),
            "store error: conflict: draft already rejected"
        );
        assert!(!shared.is_transient());
    }

    /// Listing one status walks that status's rows in list order (the
    /// (status, created_at, id) index), with no scan and no sort.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_status_list_reads_only_that_status_in_order() {
        use sqlx::Row as _;

        use super::{DRAFTS_OF_STATUS, WORKFLOWS_OF_STATUS};
        use crate::sql::{SqliteDurability, SqliteStore};

        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = SqliteStore::connect_sqlite(&url, SqliteDurability::Full, 1)
            .await
            .expect("open sqlite");
        let plan = |sql: &str| {
            let sql = format!("EXPLAIN QUERY PLAN {}", sql.replace('$', "?"));
            let pool = store.pool().clone();
            async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind("failed")
                    .bind(None::<String>)
                    .bind(50_i64)
                    .bind(0_i64)
                    .fetch_all(&pool)
                    .await
                    .expect("plan")
                    .iter()
                    .map(|r| r.get::<String, _>("detail"))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        };
        for (sql, index) in [
            (WORKFLOWS_OF_STATUS.0, "idx_workflows_status_created_at"),
            (WORKFLOWS_OF_STATUS.1, "idx_workflows_status_created_at"),
            (DRAFTS_OF_STATUS.0, "idx_draft_emails_status_created_at"),
            (DRAFTS_OF_STATUS.1, "idx_draft_emails_status_created_at"),
        ] {
            let plan = plan(sql).await;
            assert!(
                plan.contains(&format!("USING INDEX {index} (status=?)"))
                    || plan.contains(&format!("USING COVERING INDEX {index} (status=?)")),
                "{sql}\n{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
        }
    }
}
