//! PostgreSQL: the scale-out backend. Native UUID, TIMESTAMPTZ and JSONB;
//! apalis-postgres with LISTEN/NOTIFY.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use formlead_core::ports::WorkflowJob;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgConnection, Pool, Postgres, Row, SqlSafeStr, SqlStr, Transaction};
use uuid::Uuid;

mod multi_row;

use super::backend::{
    Arg, Backend, NewLead, UnitCall, UnitRows, WORKFLOW_QUEUE, job_task, unit_json,
};
use super::store::SqlStore;
use super::store::{start_update, step_cols, submission_cols, workflow_cols};
use multi_row::{chunks, multi_row};

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

    fn insert_leads<'c>(
        conn: &'c mut PgConnection,
        leads: &'c [NewLead<'c>],
    ) -> BoxFuture<'c, Result<HashSet<Uuid>, sqlx::Error>> {
        async move {
            // Multi-row inserts in a few fixed sizes; RETURNING tells which
            // submissions were new.
            let mut inserted = HashSet::new();
            for chunk in chunks(leads) {
                let sql = multi_row(
                    concat!(
                        "INSERT INTO form_submissions (",
                        submission_cols!(),
                        ", prospect_email) VALUES "
                    ),
                    11,
                    chunk.len(),
                    " ON CONFLICT (form_submission_id) DO NOTHING RETURNING id",
                );
                let mut q = sqlx::query::<Postgres>(AssertSqlSafe(sql));
                for lead in chunk {
                    let s = lead.submission;
                    let fields = serde_json::to_value(&s.fields)
                        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                    q = q
                        .bind(s.id.0)
                        .bind(s.form_submission_id.clone())
                        .bind(s.portal_id.and_then(|p| i64::try_from(p).ok()))
                        .bind(s.form_id.clone())
                        .bind(s.submitted_at)
                        .bind(s.page_url.clone())
                        .bind(Json(fields))
                        .bind(s.raw_payload.clone())
                        .bind(s.source.as_str().to_owned())
                        .bind(s.received_at)
                        .bind(s.email().to_owned());
                }
                for row in q.fetch_all(&mut *conn).await? {
                    inserted.insert(row.try_get::<Uuid, _>(0)?);
                }
            }
            let fresh: Vec<&NewLead<'_>> = leads
                .iter()
                .filter(|l| inserted.contains(&l.submission.id.0))
                .collect();
            for chunk in chunks(&fresh) {
                let sql = multi_row(
                    "INSERT INTO workflows (id, submission_id, status, prospect_email, created_at, updated_at) VALUES ",
                    6,
                    chunk.len(),
                    "",
                );
                let mut q = sqlx::query::<Postgres>(AssertSqlSafe(sql));
                for lead in chunk {
                    q = q
                        .bind(lead.workflow_id.0)
                        .bind(lead.submission.id.0)
                        .bind("triggered")
                        .bind(lead.submission.email().to_owned())
                        .bind(lead.submission.received_at)
                        .bind(lead.submission.received_at);
                }
                q.execute(&mut *conn).await?;
            }
            if !fresh.is_empty() {
                let tasks = fresh
                    .iter()
                    .map(|l| job_task(WorkflowJob { workflow_id: l.workflow_id }, Duration::ZERO))
                    .collect::<Result<Vec<_>, _>>()?;
                push_tasks(conn, tasks).await?;
            }
            Ok(inserted)
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
            push_tasks(conn, vec![task]).await
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
        // insufficient resources (class 53: disk_full, out_of_memory,
        // too_many_connections, …), admin/crash shutdown,
        // cannot_connect_now, io_error.
        code.is_some_and(|c| {
            c.starts_with("53")
                || matches!(
                    c,
                    "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "58030"
                )
        })
    }

    /// Through the email index for the batch's few emails, also in the
    /// generic plan of the prepared statement (joined to the emails as a
    /// set, that plan walked every workflow of the window by time).
    const OPEN_REPLIES: &'static str = "SELECT w.prospect_email, w.id FROM workflows AS w \
        WHERE w.prospect_email = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb))) \
        AND w.created_at >= $2 AND (w.status IN ('triggered', 'processing', 'retrying') \
        OR (w.status IN ('awaiting_approval', 'completed') AND EXISTS (SELECT 1 FROM draft_emails d \
        WHERE d.workflow_id = w.id AND d.status = 'pending_approval'))) ORDER BY w.created_at";

    /// Transaction-scoped advisory locks, taken in one order (no deadlock
    /// between two batches).
    const LOCK_PROSPECTS: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock(hashtextextended(e, 0)) FROM \
         (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS e ORDER BY 1) AS p",
    );

    const START_RUN: Option<&'static str> = Some(concat!(
        "WITH w AS (",
        start_update!(),
        workflow_cols!(),
        ") SELECT w.*, ",
        "s.id AS s_id, s.form_submission_id AS s_form_submission_id, s.portal_id AS s_portal_id, ",
        "s.form_id AS s_form_id, s.submitted_at AS s_submitted_at, s.page_url AS s_page_url, ",
        "s.fields AS s_fields, s.raw_body AS s_raw_body, s.source AS s_source, s.received_at AS s_received_at, ",
        "(SELECT json_agg(t) FROM (SELECT ",
        step_cols!(),
        " FROM workflow_steps WHERE workflow_id = w.id) t) AS steps, ",
        "(SELECT COUNT(*) FROM (SELECT 1 FROM workflows o ",
        "WHERE o.prospect_email = w.prospect_email AND o.id <> w.id LIMIT 1) e) AS earlier ",
        "FROM w LEFT JOIN form_submissions s ON s.id = w.submission_id"
    ));

    const UNIT_CALL: UnitCall = UnitCall::OneStatement;

    /// All rows as one JSON parameter, written by one statement
    /// (`write_unit`): one round trip per unit, atomic without a
    /// transaction of its own.
    fn unit_call(units: &[&UnitRows]) -> Option<Result<(&'static str, Vec<String>), sqlx::Error>> {
        Some(unit_json(units, None, json_value).map(|json| (write_unit(units, false), vec![json])))
    }

    /// [`Backend::unit_call`]'s statement with the attempt's end in it: the
    /// `workflows` update runs first (a data-modifying CTE) and every
    /// insert is guarded by its result.
    fn finish_call(
        units: &[&UnitRows],
        finish: &[Arg],
    ) -> Option<Result<(&'static str, Vec<String>), sqlx::Error>> {
        Some(
            unit_json(units, Some(finish), json_value)
                .map(|json| (write_unit(units, true), vec![json])),
        )
    }
}

/// A value as [`write_unit`]'s statement reads it from JSON: text the column type
/// parses (times to the microsecond, as PostgreSQL stores them; JSON
/// columns as their JSON text).
fn json_value(arg: &Arg) -> Value {
    match arg {
        Arg::Text(v) => v.clone().map_or(Value::Null, Value::String),
        Arg::Int(v) => v.map_or(Value::Null, Value::from),
        Arg::Id(v) => v.map_or(Value::Null, |u| Value::String(u.to_string())),
        Arg::Time(v) => v.map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }),
        Arg::Json(v) => v
            .as_ref()
            .map_or(Value::Null, |j| Value::String(j.to_string())),
    }
}

/// The statement writing one unit of a run's records
/// ([`Backend::unit_call`]): `$1` holds the drafts (`d`), tasks (`t`),
/// audit events (`a`) and step checkpoints (`s`), each a JSON array of rows
/// in the table's column order. One statement is all or none by itself.
/// Only the tables `units` has rows for are in it (each insert costs its
/// executor set-up even when it has no rows). With `finishing`, `f` holds
/// the attempt to end ([`Backend::finish_call`]): the update of its
/// `workflows` row comes first, each insert is guarded by its result, and
/// the statement returns the row's id when it was updated. The texts are
/// made once.
fn write_unit(units: &[&UnitRows], finishing: bool) -> &'static str {
    const PARTS: [(&str, &str); 4] = [
        (UNIT_DRAFTS, ""),
        (UNIT_TASKS, ""),
        (UNIT_AUDIT, ""),
        (UNIT_STEPS, UPSERT_STEPS),
    ];
    static TEXTS: [OnceLock<&'static str>; 32] = [const { OnceLock::new() }; 32];
    let has = [
        units.iter().any(|u| !u.drafts.is_empty()),
        units.iter().any(|u| !u.tasks.is_empty()),
        units.iter().any(|u| !u.audit.is_empty()),
        units.iter().any(|u| !u.steps.is_empty()),
    ];
    let mask =
        has.iter().enumerate().fold(
            usize::from(finishing) << 4,
            |m, (i, h)| {
                if *h { m | 1 << i } else { m }
            },
        );
    TEXTS[mask].get_or_init(|| {
        let parts: Vec<(&str, &str)> = PARTS
            .iter()
            .zip(has)
            .filter_map(|(p, h)| h.then_some(*p))
            .collect();
        let mut sql = String::from("WITH u AS (SELECT $1::jsonb AS j)");
        if finishing {
            sql.push_str(", ");
            sql.push_str(FINISH);
            for (n, (insert, upsert)) in parts.iter().enumerate() {
                sql.push_str(&format!(
                    ", w{n} AS ({insert} WHERE EXISTS (SELECT 1 FROM f){upsert})"
                ));
            }
            sql.push_str(" SELECT id FROM f");
        } else {
            let Some(((last, last_upsert), before)) = parts.split_last() else {
                return "SELECT $1::jsonb IS NULL";
            };
            for (n, (insert, upsert)) in before.iter().enumerate() {
                sql.push_str(&format!(", w{n} AS ({insert}{upsert})"));
            }
            sql.push_str(&format!(" {last}{last_upsert}"));
        }
        // At most 32 texts, made once for the life of the process.
        Box::leak(sql.into_boxed_str())
    })
}

/// Ends the attempt in `f` (`[workflow id, lease owner, status, time]`)
/// while its owner holds the lease (`finish_workflow`'s update).
const FINISH: &str = "\
f AS (UPDATE workflows SET status = u.j->'f'->>2, completed_at = (u.j->'f'->>3)::timestamptz, \
updated_at = (u.j->'f'->>3)::timestamptz, last_error = NULL, lease_owner = NULL, lease_until = NULL \
FROM u WHERE workflows.id = (u.j->'f'->>0)::uuid AND workflows.lease_owner = u.j->'f'->>1 \
RETURNING workflows.id)";
const UNIT_DRAFTS: &str = "\
INSERT INTO draft_emails (id, workflow_id, to_email, to_name, subject, body_text, body_html, message_id, thread_id, in_reply_to, external_id, status, created_at, updated_at, decided_by, decided_at, reject_reason, sent_message_id, sent_at) \
SELECT (e->>0)::uuid, (e->>1)::uuid, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, e->>10, e->>11, (e->>12)::timestamptz, (e->>13)::timestamptz, e->>14, (e->>15)::timestamptz, e->>16, e->>17, (e->>18)::timestamptz \
FROM u, jsonb_array_elements(u.j -> 'd') AS e";
const UNIT_TASKS: &str = "\
INSERT INTO hubspot_tasks (id, workflow_id, contact_id, external_id, subject, body, due_at, priority, task_type, owner_id, created_at) \
SELECT (e->>0)::uuid, (e->>1)::uuid, e->>2, e->>3, e->>4, e->>5, (e->>6)::timestamptz, e->>7, e->>8, e->>9, (e->>10)::timestamptz \
FROM u, jsonb_array_elements(u.j -> 't') AS e";
const UNIT_AUDIT: &str = "\
INSERT INTO audit_events (id, workflow_id, actor, action, detail, created_at) \
SELECT (e->>0)::uuid, (e->>1)::uuid, e->>2, e->>3, (e->>4)::jsonb, (e->>5)::timestamptz \
FROM u, jsonb_array_elements(u.j -> 'a') AS e";
const UNIT_STEPS: &str = "\
INSERT INTO workflow_steps (workflow_id, step, status, attempt, started_at, finished_at, summary, output, error) \
SELECT (e->>0)::uuid, e->>1, e->>2, (e->>3)::bigint, (e->>4)::timestamptz, (e->>5)::timestamptz, e->>6, (e->>7)::jsonb, e->>8 \
FROM u, jsonb_array_elements(u.j -> 's') AS e";
const UPSERT_STEPS: &str = " \
ON CONFLICT (workflow_id, step) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, \
started_at = excluded.started_at, finished_at = excluded.finished_at, summary = excluded.summary, \
output = excluded.output, error = excluded.error";

/// Pushes `tasks` onto the workflow queue inside the caller's transaction.
async fn push_tasks(
    conn: &mut PgConnection,
    tasks: Vec<apalis::prelude::Task<Vec<u8>>>,
) -> Result<(), sqlx::Error> {
    apalis_postgres::queries::push_tasks(conn, WORKFLOW_QUEUE, tasks)
        .await
        .map_err(|e| match e {
            apalis_postgres::Error::Database(db) => db,
            other => sqlx::Error::Protocol(other.to_string()),
        })
}

impl SqlStore<PgBackend> {
    /// Connects to PostgreSQL and applies migrations (apalis' schema
    /// `apalis`, then formlead's tables).
    ///
    /// # Errors
    /// [`sqlx::Error`] when the server is unreachable or migration fails.
    pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        let options: PgConnectOptions = url.parse()?;
        // One direct connection first: a server that is down or refuses us
        // (connection refused, wrong password, no such database) says so at
        // once, where the pool would report only "timed out" after 10 s.
        let probe = <PgConnection as sqlx::Connection>::connect_with(&options)
            .await
            .map_err(|e| where_to(&options, e))?;
        let _ = sqlx::Connection::close(probe).await;
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

/// `e` for a connection that could not be made, naming the server it was
/// for (`host:port/database`; never the password).
fn where_to(options: &PgConnectOptions, e: sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(
            io.kind(),
            format!(
                "{}:{}/{}: {io}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("(default database)")
            ),
        )),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_is_named_at_once() {
        // Port 1 on loopback: nothing listens there.
        let started = std::time::Instant::now();
        let e =
            SqlStore::<PgBackend>::connect_postgres("postgres://u:hunter2@127.0.0.1:1/leads", 2)
                .await
                .unwrap_err()
                .to_string();
        assert!(e.contains("127.0.0.1:1/leads"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5), "{e}");
    }

    #[test]
    fn waiting_may_help_for_conflicts_resources_and_restarts() {
        let transient = |c: &str| PgBackend::is_transient_db_error(Some(c));
        // serialization, deadlock, disk full, out of memory, too many
        // connections, admin shutdown, io error.
        for c in [
            "40001", "40P01", "53100", "53200", "53300", "57P01", "58030",
        ] {
            assert!(transient(c), "{c}");
        }
        // unique violation, foreign key violation, syntax error, undefined table.
        for c in ["23505", "23503", "42601", "42P01"] {
            assert!(!transient(c), "{c}");
        }
        assert!(!PgBackend::is_transient_db_error(None));
    }
}
