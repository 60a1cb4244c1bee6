//! PostgreSQL: the scale-out backend. Native UUID, TIMESTAMPTZ and JSONB;
//! apalis-postgres with LISTEN/NOTIFY.

use std::time::Duration;

use chrono::{DateTime, Utc};
use formlead_core::ports::WorkflowJob;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{PgConnection, Pool, Postgres, SqlSafeStr, SqlStr, Transaction};
use uuid::Uuid;

use super::backend::{Backend, WORKFLOW_QUEUE, job_task};
use super::store::SqlStore;

/// The PostgreSQL flavour of [`SqlStore`].
pub type PgStore = SqlStore<PgBackend>;

/// PostgreSQL type mapping.
#[derive(Debug, Clone, Copy)]
pub struct PgBackend;

impl Backend for PgBackend {
    type Db = Postgres;
    type Id = Uuid;
    type Time = DateTime<Utc>;
    type Json = Json<Value>;
    const NAME: &'static str = "postgres";

    fn sql(text: &'static str) -> SqlStr {
        text.into_sql_str()
    }

    fn sql_dyn(text: String) -> SqlStr {
        sqlx::AssertSqlSafe(text).into_sql_str()
    }

    fn push_jobs<'c>(
        conn: &'c mut PgConnection,
        jobs: Vec<WorkflowJob>,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async move {
            if jobs.is_empty() {
                return Ok(());
            }
            let tasks = jobs
                .into_iter()
                .map(|j| job_task(j, Duration::ZERO))
                .collect::<Result<Vec<_>, _>>()?;
            apalis_postgres::queries::push_tasks(conn, WORKFLOW_QUEUE, tasks)
                .await
                .map_err(|e| match e {
                    apalis_postgres::Error::Database(db) => db,
                    other => sqlx::Error::Protocol(other.to_string()),
                })
        }
        .boxed()
    }

    fn id(u: Uuid) -> Uuid {
        u
    }

    fn uuid(v: Uuid) -> Result<Uuid, String> {
        Ok(v)
    }

    fn time(t: DateTime<Utc>) -> DateTime<Utc> {
        t
    }

    fn datetime(v: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        Ok(v)
    }

    fn json(v: &Value) -> Json<Value> {
        Json(v.clone())
    }

    fn value(v: Json<Value>) -> Result<Value, String> {
        Ok(v.0)
    }

    fn begin_write(
        pool: &Pool<Postgres>,
    ) -> BoxFuture<'_, Result<Transaction<'static, Postgres>, sqlx::Error>> {
        pool.begin().boxed()
    }

    fn push_job<'c>(
        conn: &'c mut PgConnection,
        job: WorkflowJob,
        delay: Duration,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        async move {
            let task = job_task(job, delay)?;
            apalis_postgres::queries::push_tasks(conn, WORKFLOW_QUEUE, vec![task])
                .await
                .map_err(|e| match e {
                    apalis_postgres::Error::Database(db) => db,
                    other => sqlx::Error::Protocol(other.to_string()),
                })
        }
        .boxed()
    }

    fn count_jobs<'a>(
        pool: &'a Pool<Postgres>,
        statuses: &'static [&'static str],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        async move {
            let statuses: Vec<String> = statuses.iter().map(|s| (*s).to_owned()).collect();
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1 AND status = ANY($2)",
            )
            .bind(WORKFLOW_QUEUE)
            .bind(statuses)
            .fetch_one(pool)
            .await?;
            Ok(u64::try_from(n).unwrap_or_default())
        }
        .boxed()
    }

    fn migrators() -> (sqlx::migrate::Migrator, sqlx::migrate::Migrator) {
        (
            apalis_postgres::PostgresStorage::<()>::migrations(),
            sqlx::migrate!("./migrations/postgres"),
        )
    }

    fn is_transient_db_error(code: Option<&str>) -> bool {
        // serialization_failure, deadlock_detected, lock_not_available,
        // too_many_connections, admin/crash shutdown, cannot_connect_now.
        matches!(
            code,
            Some("40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P02" | "57P03")
        )
    }
}

impl SqlStore<PgBackend> {
    /// Connects to PostgreSQL and applies migrations (apalis' schema
    /// `apalis`, then formlead's tables).
    ///
    /// # Errors
    /// [`sqlx::Error`] when the server is unreachable or migration fails.
    pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }
}
