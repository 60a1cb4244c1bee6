//! What differs between SQLite and PostgreSQL: placeholders, column types,
//! how a write transaction starts, and how a job is pushed to apalis.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use formlead_core::domain::{FormSubmission, WorkflowId};
use formlead_core::ports::WorkflowJob;
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::{Database, Decode, Encode, Pool, SqlStr, Transaction, Type};
use uuid::Uuid;

/// The apalis queue (job type) workflow jobs go to.
pub const WORKFLOW_QUEUE: &str = "formlead::workflow";

/// apalis-level attempts of one job. Workflow retries are scheduled by the
/// engine as new jobs; this only covers a worker failing to run the engine
/// at all (e.g. the store was down).
pub const JOB_MAX_ATTEMPTS: usize = 5;

/// One lead of an accept batch: its submission and the workflow to create
/// for it if the submission is new.
#[derive(Debug, Clone, Copy)]
pub struct NewLead<'a> {
    /// The submission to insert.
    pub submission: &'a FormSubmission,
    /// The workflow it gets if it is new.
    pub workflow_id: WorkflowId,
}

/// A workflow job as JSON, as apalis' JSON codec decodes it.
pub(crate) fn job_json(job: &WorkflowJob) -> Result<String, sqlx::Error> {
    serde_json::to_string(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A value bound to a statement, in formlead's terms; each backend maps it
/// onto its column types (SQLite: text ids, integer milliseconds, JSON
/// text; PostgreSQL: UUID, TIMESTAMPTZ, JSONB).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Text.
    Text(Option<String>),
    /// An integer.
    Int(Option<i64>),
    /// An id.
    Id(Option<Uuid>),
    /// A timestamp.
    Time(Option<DateTime<Utc>>),
    /// A JSON document.
    Json(Option<Value>),
}

macro_rules! arg_from {
    ($variant:ident: $($t:ty => $conv:expr),+ $(,)?) => {
        $(impl From<$t> for Arg {
            fn from(v: $t) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Self::$variant(($conv)(v))
            }
        })+
    };
}

arg_from!(Text: String => Some, Option<String> => |v| v, &str => |v: &str| Some(v.to_owned()));
arg_from!(Int: i64 => Some, Option<i64> => |v| v, u32 => |v| Some(i64::from(v)));
arg_from!(Id: Uuid => Some, Option<Uuid> => |v| v);
arg_from!(Time: DateTime<Utc> => Some, Option<DateTime<Utc>> => |v| v);
arg_from!(Json: Value => Some, Option<Value> => |v| v);

/// The rows of one unit of writes (`Store::write_all`), by table, each row
/// its column values in the table's column order.
#[derive(Debug, Default)]
pub struct UnitRows {
    /// `draft_emails` rows.
    pub drafts: Vec<Vec<Arg>>,
    /// `hubspot_tasks` rows.
    pub tasks: Vec<Vec<Arg>>,
    /// `audit_events` rows.
    pub audit: Vec<Vec<Arg>>,
    /// `workflow_steps` rows (upserted), last.
    pub steps: Vec<Vec<Arg>>,
}

impl UnitRows {
    /// No rows at all.
    pub fn is_empty(&self) -> bool {
        self.drafts.is_empty()
            && self.tasks.is_empty()
            && self.audit.is_empty()
            && self.steps.is_empty()
    }
}

/// How a backend writes one unit of a run's records (`Store::write_all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitCall {
    /// One statement a row, in a transaction.
    PerRow,
    /// One call for all rows (of one unit, or of several merged), under a
    /// savepoint the call opens and releases; a failed call leaves it open
    /// for the caller to roll back to. Runs inside a transaction.
    Savepointed,
    /// One statement for all rows: all or none by itself.
    OneStatement,
}

/// The rows of `units` as one JSON document for a backend's unit call:
/// `{"d": drafts, "t": tasks, "a": audit events, "s": step checkpoints}`,
/// each an array of rows, each row its values as `value` renders them; with
/// `finish`, also `"f"`: the attempt to end (see [`Backend::finish_call`]).
pub(crate) fn unit_json(
    units: &[&UnitRows],
    finish: Option<&[Arg]>,
    value: fn(&Arg) -> Value,
) -> Result<String, sqlx::Error> {
    let table = |rows: fn(&UnitRows) -> &[Vec<Arg>]| -> Value {
        units
            .iter()
            .flat_map(|u| rows(u))
            .map(|row| row.iter().map(value).collect::<Value>())
            .collect()
    };
    let mut unit = serde_json::json!({
        "d": table(|u| &u.drafts),
        "t": table(|u| &u.tasks),
        "a": table(|u| &u.audit),
        "s": table(|u| &u.steps),
    });
    if let (Some(finish), Some(doc)) = (finish, unit.as_object_mut()) {
        doc.insert("f".into(), finish.iter().map(value).collect());
    }
    serde_json::to_string(&unit).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A SQL backend: the database plus the mapping of formlead's types onto it.
pub trait Backend: Send + Sync + Sized + 'static {
    /// The sqlx database.
    type Db: Database;
    /// UUID column type (native UUID, or text).
    type Id: for<'e> Encode<'e, Self::Db>
        + for<'e> Decode<'e, Self::Db>
        + Type<Self::Db>
        + Send
        + Sync;
    /// Timestamp column type (native, or integer milliseconds).
    type Time: for<'e> Encode<'e, Self::Db>
        + for<'e> Decode<'e, Self::Db>
        + Type<Self::Db>
        + Send
        + Sync;
    /// JSON column type (JSONB, or text).
    type Json: for<'e> Encode<'e, Self::Db>
        + for<'e> Decode<'e, Self::Db>
        + Type<Self::Db>
        + Send
        + Sync;

    /// `sqlite` or `postgres`, for logs.
    const NAME: &'static str;

    /// Query text for this backend; queries are written with `$1`-style
    /// placeholders.
    fn sql(text: &'static str) -> SqlStr;

    /// A UUID as this backend stores it.
    fn id(u: Uuid) -> Self::Id;
    /// A stored id as a UUID.
    fn uuid(v: Self::Id) -> Result<Uuid, String>;
    /// A timestamp as this backend stores it.
    fn time(t: DateTime<Utc>) -> Self::Time;
    /// A stored timestamp as UTC.
    fn datetime(v: Self::Time) -> Result<DateTime<Utc>, String>;
    /// A JSON value as this backend stores it.
    fn json(v: &Value) -> Self::Json;
    /// A stored JSON value.
    fn value(v: Self::Json) -> Result<Value, String>;

    /// Starts a transaction that will write (SQLite: `BEGIN IMMEDIATE`, so
    /// it never fails half-way on a lock upgrade).
    fn begin_write(
        pool: &Pool<Self::Db>,
    ) -> BoxFuture<'_, Result<Transaction<'static, Self::Db>, sqlx::Error>>;

    /// Enqueues `job` on the apalis queue inside the caller's transaction.
    fn push_job<'c>(
        conn: &'c mut <Self::Db as Database>::Connection,
        job: WorkflowJob,
        delay: Duration,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;

    /// Inside the caller's transaction, inserts each lead's submission and,
    /// for each one that is new (no submission with its formSubmissionId
    /// yet), its workflow and a due-now job. Returns the ids of the new
    /// submissions.
    fn insert_leads<'c>(
        conn: &'c mut <Self::Db as Database>::Connection,
        leads: &'c [NewLead<'c>],
    ) -> BoxFuture<'c, Result<HashSet<Uuid>, sqlx::Error>>;

    /// Jobs on the apalis queue in one of `statuses` (`Pending`, `Queued`,
    /// `Running`, `Done`, `Failed`, `Killed`).
    fn count_jobs<'a>(
        pool: &'a Pool<Self::Db>,
        statuses: &'static [&'static str],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// apalis' migrations and formlead's, for this backend.
    fn migrators() -> (sqlx::migrate::Migrator, sqlx::migrate::Migrator);

    /// Whether a database error is worth retrying (busy, serialization).
    fn is_transient_db_error(code: Option<&str>) -> bool;

    /// The workflows a repeat submission may join, oldest first:
    /// `prospect_email` and `id` of the workflows of the emails in `$1` (a
    /// JSON array of text) created at or after `$2` whose reply is still
    /// being written, or written with its draft `pending_approval`.
    const OPEN_REPLIES: &'static str;

    /// Locks the prospects in `$1` (a JSON array of emails) until the
    /// transaction ends, so that concurrent accepts of one prospect decide
    /// one after the other; `None` where a single writer does that already.
    const LOCK_PROSPECTS: Option<&'static str> = None;

    /// One statement that takes an attempt's lease (`start_update!`, same
    /// parameters) and returns with the workflow's columns its
    /// submission's (named `s_<column>`) and its checkpoints (`steps`, a
    /// JSON array of `workflow_steps` rows) and whether another workflow
    /// has its prospect's email (`earlier`, 0 or 1): what every run reads
    /// first, in one round trip. `None`: the run reads them itself.
    const START_RUN: Option<&'static str> = None;

    /// How [`Backend::unit_call`] writes a unit.
    const UNIT_CALL: UnitCall = UnitCall::PerRow;

    /// One call writing all rows of `units` (statement text and its text
    /// parameters), where the backend can do that; `None`: one statement a
    /// row.
    ///
    /// # Errors
    /// When a value cannot be encoded.
    fn unit_call(units: &[&UnitRows]) -> Option<Result<(&'static str, Vec<String>), sqlx::Error>> {
        let _ = units;
        None
    }

    /// One statement writing all rows of `units` and ending an attempt
    /// (`finish`: workflow id, lease owner, status, time), only if the
    /// owner still holds the lease: it returns a row then, and none (with
    /// nothing written) otherwise. `None`: the backend has no such call.
    ///
    /// # Errors
    /// When a value cannot be encoded.
    fn finish_call(
        units: &[&UnitRows],
        finish: &[Arg],
    ) -> Option<Result<(&'static str, Vec<String>), sqlx::Error>> {
        let _ = (units, finish);
        None
    }
}

/// The apalis task carrying `job`: JSON bytes, as apalis' JSON codec decodes them.
pub(crate) fn job_task(
    job: WorkflowJob,
    delay: Duration,
) -> Result<apalis::prelude::Task<Vec<u8>>, sqlx::Error> {
    let mut builder = apalis::prelude::TaskBuilder::new(job_json(&job)?.into_bytes())
        .max_attempts(JOB_MAX_ATTEMPTS);
    if let Some(at) = run_at_secs(std::time::SystemTime::now(), delay) {
        builder = builder.run_at_timestamp(at);
    }
    Ok(builder.build())
}

/// apalis schedules in whole seconds; a delayed job's second is rounded up
/// so it never runs early. `None` (run now) for no delay.
fn run_at_secs(now: std::time::SystemTime, delay: Duration) -> Option<u64> {
    if delay.is_zero() {
        return None;
    }
    let due = (now + delay).duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(due.as_secs() + u64::from(due.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn delayed_jobs_round_up_to_the_next_second() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_400);
        assert_eq!(run_at_secs(now, Duration::ZERO), None);
        assert_eq!(run_at_secs(now, Duration::from_millis(600)), Some(1001));
        assert_eq!(run_at_secs(now, Duration::from_millis(700)), Some(1002));
        assert_eq!(run_at_secs(now, Duration::from_secs(60)), Some(1061));
    }
}
