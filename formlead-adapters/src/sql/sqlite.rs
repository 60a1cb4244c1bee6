//! SQLite: the embedded default. Ids are text, timestamps integer
//! milliseconds, JSON text.

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

use super::backend::{Backend, WORKFLOW_QUEUE, job_task};
use super::store::SqlStore;

/// The SQLite flavour of [`SqlStore`].
pub type SqliteStore = SqlStore<SqliteBackend>;

/// SQLite type mapping.
#[derive(Debug, Clone, Copy)]
pub struct SqliteBackend;

/// How hard SQLite works to keep a commit (`PRAGMA synchronous`, WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteDurability {
    /// fsync on every commit: an acknowledged accept survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints: survives a process crash; the last commits
    /// may be lost on power loss or an OS crash.
    Normal,
}

impl Backend for SqliteBackend {
    type Db = Sqlite;
    type Id = String;
    type Time = i64;
    type Json = String;
    const NAME: &'static str = "sqlite";

    fn sql(text: &'static str) -> SqlStr {
        // `$3` → `?3`: SQLite binds `?NNN` by number, like PostgreSQL's `$NNN`.
        AssertSqlSafe(text.replace('$', "?")).into_sql_str()
    }

    fn sql_dyn(text: String) -> SqlStr {
        AssertSqlSafe(text.replace('$', "?")).into_sql_str()
    }

    fn push_jobs<'c>(
        conn: &'c mut SqliteConnection,
        jobs: Vec<WorkflowJob>,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async move {
            if jobs.is_empty() {
                return Ok(());
            }
            // apalis-sqlite's own push inserts row by row; this is the same
            // row (see its queries/task/sink.sql), many at once.
            let now = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())).unwrap_or(0);
            let mut sql = String::from(
                "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata) VALUES ",
            );
            for i in 0..jobs.len() {
                let b = i * 4;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(?{}, ?{}, ?{}, 'Pending', 0, ?{}, {now}, 0, '{{}}')", b + 1, b + 2, b + 3, b + 4));
            }
            let mut q = sqlx::query::<Sqlite>(AssertSqlSafe(sql));
            for job in &jobs {
                let bytes = serde_json::to_vec(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                q = q
                    .bind(bytes)
                    .bind(ulid::Ulid::generate().to_string())
                    .bind(WORKFLOW_QUEUE)
                    .bind(i64::try_from(super::backend::JOB_MAX_ATTEMPTS).unwrap_or(5));
            }
            q.execute(&mut *conn).await?;
            Ok(())
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
        // SQLITE_BUSY (5), SQLITE_LOCKED (6) and their extended codes.
        code.and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6))
    }
}

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
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                SqliteDurability::Full => SqliteSynchronous::Full,
                SqliteDurability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // One writer connection (writers queue in-process, in order) and a
        // pool of readers (WAL lets them read while a write commits).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(max_connections.max(2))
            .connect_with(options)
            .await?;
        let store = Self::from_pools(reader, writer);
        store.migrate().await?;
        Ok(store)
    }
}
