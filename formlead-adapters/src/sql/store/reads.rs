//! Reads for the dashboard and the agents: lists by status, newest first;
//! a prospect's history; the counters.

use chrono::{DateTime, Utc};
use formlead_core::domain::{
    DraftEmail, DraftStatus, StepName, WorkflowId, WorkflowStatus, WorkflowSummary,
};
use formlead_core::ports::{
    LeadTimes, Page, PastSubmission, ProspectHistory, StepFailures, StoreError, WorkflowFilter,
    WorkflowStats,
};

use super::super::errors::db_err;
use super::super::exec::{Sql, Stmt, stmt};
use super::SqlStore;
use super::columns::{draft_cols, task_cols, workflow_cols};

/// Failed attempts since `$1` per step: retried (a retry was scheduled)
/// or dead-lettered, and the latest.
pub(super) const FAILURES_BY_STEP: &str = "SELECT step, SUM(CASE WHEN retry_at IS NULL THEN 0 ELSE 1 END) AS retried, \
     SUM(CASE WHEN retry_at IS NULL THEN 1 ELSE 0 END) AS dead, MAX(created_at) AS last_at \
     FROM workflow_errors WHERE created_at >= $1 GROUP BY step";

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
pub(super) const WORKFLOWS_OF_STATUS: (&str, &str) = workflow_list_sql!("status = $1");
pub(super) const WORKFLOWS_OF_ANY_STATUS: (&str, &str) =
    workflow_list_sql!("CAST($1 AS TEXT) IS NULL");
pub(super) const DRAFTS_OF_STATUS: (&str, &str) = draft_list_sql!("status = $1");

/// The condition of [`WORKFLOWS_FAILED_AT`]: `$1` status or none, `$2`
/// email pattern or none, a failed attempt at step `$3` since `$4`.
macro_rules! failed_at_where {
    () => {
        " FROM workflows WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
         AND (CAST($2 AS TEXT) IS NULL OR prospect_email LIKE $2 ESCAPE '\\') \
         AND id IN (SELECT workflow_id FROM workflow_errors WHERE step = $3 AND created_at >= $4)"
    };
}

/// Workflows with a failed attempt at a step since a time (`$5` limit,
/// `$6` offset), and their count: a row of the failures by step.
pub(super) const WORKFLOWS_FAILED_AT: (&str, &str) = (
    concat!(
        "SELECT ",
        workflow_cols!(),
        failed_at_where!(),
        " ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
    ),
    concat!("SELECT COUNT(*) AS n", failed_at_where!()),
);
pub(super) const DRAFTS_OF_ANY_STATUS: (&str, &str) = draft_list_sql!("CAST($1 AS TEXT) IS NULL");

fn like_pattern(needle: &str) -> String {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl<B: Sql> SqlStore<B> {
    pub(super) async fn list_workflows(
        &self,
        filter: &WorkflowFilter,
    ) -> Result<Page<WorkflowSummary>, StoreError> {
        let status = filter.status.map(|s| s.as_str().to_owned());
        let email = filter.email_needle().map(|n| like_pattern(&n));
        let (list, count) = match (filter.failed_at, &status) {
            (Some(_), _) => WORKFLOWS_FAILED_AT,
            (None, Some(_)) => WORKFLOWS_OF_STATUS,
            (None, None) => WORKFLOWS_OF_ANY_STATUS,
        };
        // The condition's arguments, the same for the page and its count.
        // A step's failures are read from the period's errors only with a
        // plan made for the period (see `planned_each_time`).
        let condition = |q: Stmt<'static, B>| {
            let q = q.arg(status.clone()).arg(email.clone());
            match filter.failed_at {
                Some(f) => q
                    .arg(f.step.as_str().to_owned())
                    .arg(f.since)
                    .planned_each_time(),
                None => q,
            }
        };
        let q = condition(stmt::<B>(list))
            .arg(i64::from(filter.clamped_limit()))
            .arg(i64::from(filter.offset));
        let items = self
            .fetch_all(q, |r| r.workflow().map(|w| WorkflowSummary::from(&w)))
            .await?;
        let total = self.count(condition(stmt::<B>(count))).await?;
        Ok(Page { items, total })
    }
    pub(super) async fn list_drafts(
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
    pub(super) async fn prospect_history(
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
        if submissions.is_empty() {
            // Every workflow has its submission: no other workflow of this
            // prospect, so no drafts or tasks either (a new prospect, the
            // usual case, costs one query).
            return Ok(ProspectHistory::default());
        }
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
    pub(super) async fn activity(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<LeadTimes>, StoreError> {
        let q = stmt::<B>(
            "SELECT w.created_at AS received, (SELECT MIN(d.created_at) FROM draft_emails d WHERE d.workflow_id = w.id) AS drafted \
             FROM workflows w WHERE w.created_at >= $1 ORDER BY w.created_at DESC LIMIT 20000",
        )
        .arg(since);
        self.fetch_all(q, |r| Ok((r.time("received")?, r.opt_time("drafted")?)))
            .await
    }

    pub(super) async fn stats(&self, since: DateTime<Utc>) -> Result<WorkflowStats, StoreError> {
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
            failures_by_step: self.failures_by_step(since).await?,
        })
    }

    /// [`FAILURES_BY_STEP`], in step order.
    async fn failures_by_step(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<StepFailures>, StoreError> {
        let q = stmt::<B>(FAILURES_BY_STEP).arg(since);
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut failures = self
            .fetch_all(q, |r| {
                Ok(StepFailures {
                    step: r
                        .opt_s("step")?
                        .map(|s| StepName::parse(&s).map_err(StoreError::permanent))
                        .transpose()?,
                    retried: count(r.i("retried")?),
                    dead_lettered: count(r.i("dead")?),
                    last_at: r.time("last_at")?,
                })
            })
            .await?;
        StepFailures::sort(&mut failures);
        Ok(failures)
    }
    pub(super) async fn workflow_counts(&self) -> Result<Vec<(WorkflowStatus, u64)>, StoreError> {
        self.faults.check::<StoreError>("stats").await?;
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
    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.faults.check::<StoreError>("ping").await?;
        stmt::<B>("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err::<B>)?;
        Ok(())
    }
}
