//! SQLite: the embedded default. Ids are text, timestamps integer
//! milliseconds, JSON text.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use formlead_core::ports::WorkflowJob;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Pool, SqlSafeStr, SqlStr, Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;

mod planner_stats;
mod private_file;
mod single_writer;
mod turns;
mod wal_sync;

use std::sync::Arc;

use super::backend::{
    Arg, Backend, NewLead, UnitCall, UnitRows, WORKFLOW_QUEUE, job_json, job_task, unit_json,
};
use super::durability::Durability;
use super::store::SqlStore;
use single_writer::SingleWriter;
use wal_sync::WalSync;

pub(crate) use planner_stats::refresh_every as refresh_planner_stats_every;

/// The SQLite flavour of [`SqlStore`].
pub type SqliteStore = SqlStore<SqliteBackend>;

/// SQLite type mapping.
#[derive(Debug, Clone, Copy)]
pub struct SqliteBackend;

/// The accept batch's inserts; `?1` is a JSON array of [`LeadRow`]s. A
/// workflow is created only for a submission inserted here, and a job only
/// for a workflow inserted here. (`WHERE true` lets SQLite parse `ON
/// CONFLICT` after `SELECT`.)
const INSERT_LEADS: &str = "\
INSERT INTO form_submissions (id, form_submission_id, portal_id, form_id, submitted_at, page_url, fields, raw_body, source, received_at, prospect_email) \
SELECT value->>'id', value->>'fsid', value->>'portal', value->>'form', value->>'submitted', value->>'page', value->>'fields', value->>'raw', value->>'source', value->>'received', value->>'email' \
FROM jsonb_each(?1) WHERE true ON CONFLICT (form_submission_id) DO NOTHING; \
INSERT INTO workflows (id, submission_id, status, prospect_email, attempts, created_at, updated_at) \
SELECT l.value->>'wid', s.id, 'triggered', s.prospect_email, 0, s.received_at, s.received_at \
FROM jsonb_each(?1) AS l JOIN form_submissions AS s ON s.id = l.value->>'id' WHERE true ON CONFLICT DO NOTHING; \
INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata) \
SELECT CAST(l.value->>'job' AS BLOB), l.value->>'ulid', ?2, 'Pending', 0, ?3, ?4, 0, '{}' \
FROM jsonb_each(?1) AS l JOIN workflows AS w ON w.id = l.value->>'wid'";

/// Submissions of an [`INSERT_LEADS`] batch that were new (their workflow
/// is the batch's).
const NEW_LEADS: &str =
    "SELECT l.value->>'id' FROM jsonb_each(?1) AS l JOIN workflows AS w ON w.id = l.value->>'wid'";

/// One lead as [`INSERT_LEADS`] reads it. apalis-sqlite's own push writes
/// the same job row (see its queries/task/sink.sql), one at a time.
#[derive(serde::Serialize)]
struct LeadRow<'a> {
    id: String,
    fsid: &'a str,
    portal: Option<i64>,
    form: Option<&'a str>,
    submitted: Option<i64>,
    page: Option<&'a str>,
    fields: String,
    raw: &'a str,
    source: &'a str,
    received: i64,
    email: &'a str,
    wid: String,
    job: String,
    ulid: String,
}

impl<'a> LeadRow<'a> {
    fn new(lead: &NewLead<'a>) -> Result<Self, sqlx::Error> {
        let s = lead.submission;
        let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
        Ok(Self {
            id: SqliteBackend::id(s.id.0),
            fsid: &s.form_submission_id,
            portal: s.portal_id.and_then(|p| i64::try_from(p).ok()),
            form: s.form_id.as_deref(),
            submitted: s.submitted_at.map(SqliteBackend::time),
            page: s.page_url.as_deref(),
            fields: serde_json::to_string(&s.fields).map_err(encode)?,
            raw: &s.raw_payload,
            source: s.source.as_str(),
            received: SqliteBackend::time(s.received_at),
            email: s.email(),
            wid: SqliteBackend::id(lead.workflow_id.0),
            job: job_json(&WorkflowJob {
                workflow_id: lead.workflow_id,
            })?,
            ulid: ulid::Ulid::generate().to_string(),
        })
    }
}

/// How hard SQLite works to keep a commit (`PRAGMA synchronous`, WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteDurability {
    /// Every commit is fsynced before its caller goes on: an acknowledged
    /// accept survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints: survives a process crash; the last commits
    /// may be lost on power loss or an OS crash.
    Normal,
}

impl Backend for SqliteBackend {
    /// Driven by the batch's few emails through their index (by status
    /// and time, SQLite would walk every workflow of the window).
    const OPEN_REPLIES: &'static str = "SELECT w.prospect_email, w.id FROM json_each($1) AS e \
        JOIN workflows AS w INDEXED BY idx_workflows_prospect_email ON w.prospect_email = e.value \
        WHERE w.created_at >= $2 AND (w.status IN ('triggered', 'processing', 'retrying') \
        OR (w.status IN ('awaiting_approval', 'completed') AND EXISTS (SELECT 1 FROM draft_emails d \
        WHERE d.workflow_id = w.id AND d.status = 'pending_approval'))) ORDER BY w.created_at";

    type Db = Sqlite;
    type Id = String;
    type Time = i64;
    type Json = String;
    const NAME: &'static str = "sqlite";

    fn sql(text: &'static str) -> SqlStr {
        // `$3` → `?3`: SQLite binds `?NNN` by number, like PostgreSQL's `$NNN`.
        AssertSqlSafe(text.replace('$', "?")).into_sql_str()
    }

    fn insert_leads<'c>(
        conn: &'c mut SqliteConnection,
        leads: &'c [NewLead<'c>],
    ) -> BoxFuture<'c, Result<HashSet<Uuid>, sqlx::Error>> {
        async move {
            if leads.is_empty() {
                return Ok(HashSet::new());
            }
            // The whole batch is one JSON parameter and the three inserts
            // one call: one statement text (prepared once) whatever the
            // batch size, and one round trip to SQLite's thread.
            let rows = leads
                .iter()
                .map(LeadRow::new)
                .collect::<Result<Vec<_>, _>>()?;
            let json =
                serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            let now = i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            )
            .unwrap_or(0);
            let done = sqlx::query::<Sqlite>(INSERT_LEADS)
                .bind(json.as_str())
                .bind(WORKFLOW_QUEUE)
                .bind(i64::try_from(super::backend::JOB_MAX_ATTEMPTS).unwrap_or(5))
                .bind(now)
                .execute(&mut *conn)
                .await?;
            // Three rows per new lead (submission, workflow, job).
            if done.rows_affected() == 3 * leads.len() as u64 {
                return Ok(leads.iter().map(|l| l.submission.id.0).collect());
            }
            // Some were duplicates: the new ones are those whose workflow
            // was just created.
            let ids: Vec<String> = sqlx::query_scalar::<Sqlite, String>(NEW_LEADS)
                .bind(json.as_str())
                .fetch_all(&mut *conn)
                .await?;
            ids.into_iter()
                .map(|id| Self::uuid(id).map_err(|e| sqlx::Error::Decode(e.into())))
                .collect()
        }
        .boxed()
    }

    fn id(u: Uuid) -> String {
        u.hyphenated().to_string()
    }

    fn uuid(v: String) -> Result<Uuid, String> {
        Uuid::from_str(&v).map_err(|e| format!("bad uuid {v:?}: {e}"))
    }

    fn time(t: DateTime<Utc>) -> i64 {
        t.timestamp_millis()
    }

    fn datetime(v: i64) -> Result<DateTime<Utc>, String> {
        Utc.timestamp_millis_opt(v)
            .single()
            .ok_or_else(|| format!("bad timestamp {v}"))
    }

    fn json(v: &Value) -> String {
        v.to_string()
    }

    fn value(v: String) -> Result<Value, String> {
        serde_json::from_str(&v).map_err(|e| format!("bad json: {e}"))
    }

    fn begin_write(
        pool: &Pool<Sqlite>,
    ) -> BoxFuture<'_, Result<Transaction<'static, Sqlite>, sqlx::Error>> {
        pool.begin_with("BEGIN IMMEDIATE").boxed()
    }

    fn push_job<'c>(
        conn: &'c mut SqliteConnection,
        job: WorkflowJob,
        delay: Duration,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async move {
            let task = job_task(job, delay)?;
            apalis_sqlite::queries::push_tasks(conn, WORKFLOW_QUEUE, &[task])
                .await
                .map_err(|e| match e {
                    apalis_sqlite::Error::Database(db) => db,
                    other => sqlx::Error::Protocol(other.to_string()),
                })
        }
        .boxed()
    }

    fn count_jobs<'a>(
        pool: &'a Pool<Sqlite>,
        statuses: &'static [&'static str],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        async move {
            let mut total = 0;
            for status in statuses {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM Jobs WHERE job_type = ?1 AND status = ?2",
                )
                .bind(WORKFLOW_QUEUE)
                .bind(*status)
                .fetch_one(pool)
                .await?;
                total += u64::try_from(n).unwrap_or_default();
            }
            Ok(total)
        }
        .boxed()
    }

    fn migrators() -> (sqlx::migrate::Migrator, sqlx::migrate::Migrator) {
        (
            apalis_sqlite::SqliteStorage::<()>::migrations(),
            sqlx::migrate!("./migrations/sqlite"),
        )
    }

    fn is_transient_db_error(code: Option<&str>) -> bool {
        // SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_NOMEM (7), SQLITE_IOERR
        // (10) and SQLITE_FULL (13, "database or disk is full") and their
        // extended codes: the same write can succeed once the lock, the
        // memory or the disk space is back.
        code.and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 10 | 13))
    }

    /// All rows as one JSON parameter (each table's rows an array of
    /// arrays), all four inserts in one statement text: one round trip to
    /// SQLite's thread per unit. (One parameter, used by every statement:
    /// sqlx binds the statements of one text in turn, and a parameter a
    /// statement skips would leave the next ones unbound.)
    const UNIT_CALL: UnitCall = UnitCall::Savepointed;

    fn unit_call(units: &[&UnitRows]) -> Option<Result<(&'static str, Vec<String>), sqlx::Error>> {
        Some(unit_json(units, None, json_value).map(|json| (WRITE_UNIT, vec![json])))
    }
}

/// A value as [`WRITE_UNIT`] reads it from JSON: what the column stores.
fn json_value(arg: &Arg) -> Value {
    match arg {
        Arg::Text(v) => v.clone().map_or(Value::Null, Value::String),
        Arg::Int(v) => v.map_or(Value::Null, Value::from),
        Arg::Id(v) => v.map_or(Value::Null, |u| Value::String(SqliteBackend::id(u))),
        Arg::Time(v) => v.map_or(Value::Null, |t| Value::from(SqliteBackend::time(t))),
        Arg::Json(v) => v
            .as_ref()
            .map_or(Value::Null, |j| Value::String(SqliteBackend::json(j))),
    }
}

/// One unit of a run's records ([`Backend::unit_call`]): `?1` holds the
/// drafts (`d`), tasks (`t`), audit events (`a`) and step checkpoints (`s`,
/// last: a checkpoint never lands without the rows before it), each a JSON
/// array of rows in the table's column order. (`WHERE true` lets SQLite parse `ON CONFLICT` after
/// `SELECT`.) The inserts run under a savepoint: when one fails, the
/// caller rolls back to it (`ROLLBACK TO unit; RELEASE unit`) and nothing
/// of the unit stays, even inside a larger transaction.
const WRITE_UNIT: &str = "\
SAVEPOINT unit; \
INSERT INTO draft_emails (id, workflow_id, to_email, to_name, subject, body_text, body_html, message_id, thread_id, in_reply_to, external_id, status, created_at, updated_at, decided_by, decided_at, reject_reason, sent_message_id, sent_at) \
SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, value->>13, value->>14, value->>15, value->>16, value->>17, value->>18 FROM jsonb_each(?1 -> 'd'); \
INSERT INTO hubspot_tasks (id, workflow_id, contact_id, external_id, subject, body, due_at, priority, task_type, owner_id, created_at) \
SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10 FROM jsonb_each(?1 -> 't'); \
INSERT INTO audit_events (id, workflow_id, actor, action, detail, created_at) \
SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM jsonb_each(?1 -> 'a'); \
INSERT INTO workflow_steps (workflow_id, step, status, attempt, started_at, finished_at, summary, output, error) \
SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8 FROM jsonb_each(?1 -> 's') WHERE true \
ON CONFLICT (workflow_id, step) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, \
started_at = excluded.started_at, finished_at = excluded.finished_at, summary = excluded.summary, \
output = excluded.output, error = excluded.error; \
RELEASE unit";

/// The file path in a `sqlite://` URL (`sqlite://formlead.db`,
/// `sqlite:///abs/path.db`, `sqlite::memory:` is refused: use a file).
///
/// # Errors
/// A message when the URL is not a SQLite file URL.
pub fn sqlite_path(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| format!("not a sqlite URL: {url}"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Err("DATABASE_URL must name a SQLite file (e.g. sqlite://formlead.db); in-memory databases lose every lead on restart".into());
    }
    Ok(path.to_owned())
}

/// Whether a pooled connection may be handed out; `false` closes it and the
/// pool opens a new one.
///
/// When SQLite rolls a transaction back by itself (a commit that cannot be
/// written to a full disk, an I/O error), sqlx's later `ROLLBACK` fails
/// ("no transaction is active") and the connection keeps counting an open
/// transaction: every `BEGIN` on it would fail from then on, and with a
/// single writer connection intake would stop for good. Such a connection
/// is replaced instead. (The pool flushes a dropped transaction's rollback
/// when the connection is released, so a healthy one is never in a
/// transaction here.)
fn usable(conn: &SqliteConnection) -> bool {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        tracing::warn!(
            "replacing a SQLite connection left in a failed transaction (SQLite rolled it back itself, e.g. on a full disk)"
        );
        return false;
    }
    true
}

impl SqlStore<SqliteBackend> {
    /// Opens (creating if needed) the database file, in WAL mode with
    /// foreign keys on, and applies migrations (apalis' and ours).
    ///
    /// # Errors
    /// [`sqlx::Error`] when the file cannot be opened or migrated.
    pub async fn connect_sqlite(
        url: &str,
        durability: SqliteDurability,
        max_connections: u32,
    ) -> Result<Self, sqlx::Error> {
        let path = sqlite_path(url).map_err(|m| sqlx::Error::Configuration(m.into()))?;
        private_file::make_private(std::path::Path::new(&path))?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Commits do not fsync on the writer; with `Full` durability
            // a WAL fsync on another thread makes them durable before
            // their callers go on (see wal_sync.rs).
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Statement journals (a multi-row INSERT inside a transaction
            // keeps one so it can be undone alone) stay in memory instead
            // of spilling to a temporary file: they are never needed after
            // a crash.
            .pragma("temp_store", "memory")
            .busy_timeout(Duration::from_secs(10));
        // One writer connection (writers queue in-process, in order) and a
        // pool of readers (WAL lets them read while a write commits). A
        // local file needs no ping before each use: that would be one more
        // round trip to the connection's thread.
        let pool = |size: u32| {
            SqlitePoolOptions::new()
                .max_connections(size)
                .test_before_acquire(false)
                .before_acquire(|conn, _| Box::pin(async move { Ok(usable(conn)) }))
        };
        let writer = pool(1).connect_with(options.clone()).await?;
        let reader = pool(max_connections.max(2)).connect_with(options).await?;
        let durability = match durability {
            SqliteDurability::Full => {
                Durability::after(Arc::new(WalSync::start(std::path::Path::new(&path))?))
            }
            SqliteDurability::Normal => Durability::default(),
        };
        let store = Self::with_writes(reader, Arc::new(SingleWriter::new(writer, durability)));
        store.migrate().await?;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_may_help_for_locks_memory_io_and_a_full_disk() {
        let transient = |c: &str| SqliteBackend::is_transient_db_error(Some(c));
        // BUSY, LOCKED, NOMEM, IOERR, FULL, BUSY_SNAPSHOT, IOERR_FSYNC.
        for c in ["5", "6", "7", "10", "13", "517", "1034"] {
            assert!(transient(c), "{c}");
        }
        // CONSTRAINT_UNIQUE, CONSTRAINT_FOREIGNKEY, CORRUPT, READONLY.
        for c in ["2067", "787", "11", "8"] {
            assert!(!transient(c), "{c}");
        }
        assert!(!SqliteBackend::is_transient_db_error(None));
    }
}
