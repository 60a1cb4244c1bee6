//! A workflow's life in the store: leases taken and renewed, attempts
//! finished, retries scheduled (with their job, atomically), dead letters,
//! operator re-queues and transitions, orphans recovered.

use std::time::Duration;

use chrono::{DateTime, Utc};
use formlead_core::domain::{StepRecord, Workflow, WorkflowError, WorkflowId, WorkflowStatus};
use formlead_core::ports::{Conflict, RunInputs, RunStart, StartAttempt, StoreError};

use super::super::errors::db_err;
use super::super::exec::{Sql, stmt};
use super::super::write_path::{Turn, WriteQuery};
use super::SqlStore;
use super::columns::workflow_cols;
use super::rows::Reader;

/// Takes the lease on a runnable workflow (`$1` id, `$2` owner, `$3` now,
/// `$4` lease end), counting the attempt; `RETURNING ` ends it, for the
/// columns to follow.
macro_rules! start_update {
    () => {
        concat!(
            "UPDATE workflows SET status = 'processing', attempts = attempts + 1, started_at = COALESCE(started_at, $3), ",
            "next_retry_at = NULL, updated_at = $3, lease_owner = $2, lease_until = $4 ",
            "WHERE id = $1 AND status NOT IN ('completed', 'awaiting_approval', 'failed') ",
            "AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3) ",
            "AND (next_retry_at IS NULL OR next_retry_at <= $3) RETURNING "
        )
    };
}
pub(crate) use start_update;

/// [`start_update`]'s parameters.
fn start_args<B: Sql>(
    q: WriteQuery<B>,
    id: WorkflowId,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> WriteQuery<B> {
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    q.arg(id.0).arg(owner.to_owned()).arg(now).arg(until)
}

/// Orphans: `processing` rows whose lease has expired. There are few
/// `processing` rows (one per running attempt), found through the
/// (status, created_at, id) index.
pub(super) const RECOVER_ORPHANS: &str = "UPDATE workflows SET status = 'retrying', next_retry_at = $1, updated_at = $1, \
     lease_owner = NULL, lease_until = NULL WHERE status = 'processing' AND lease_until < $1 RETURNING id";

impl<B: Sql> SqlStore<B> {
    pub(super) async fn get_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Option<Workflow>, StoreError> {
        self.one_by_id(
            concat!("SELECT ", workflow_cols!(), " FROM workflows WHERE id = $1"),
            id.0,
            |r| r.workflow(),
        )
        .await
    }
    pub(super) async fn start_attempt(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        let q = start_args::<B>(
            stmt::<B>(concat!(start_update!(), workflow_cols!())),
            id,
            owner,
            now,
            lease,
        );
        match self.write_optional(q, |r| r.workflow()).await? {
            Some(w) => Ok(StartAttempt::Started(w)),
            None => self.not_started(id, now).await,
        }
    }
    /// [`Self::start_attempt`] and the run's inputs in one statement where
    /// the backend has one (`Backend::START_RUN`).
    pub(super) async fn start_run(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt<RunStart>, StoreError> {
        let Some(sql) = B::START_RUN else {
            let started = self.start_attempt(id, owner, now, lease).await?;
            return Ok(started.map(RunStart::from));
        };
        let q = start_args::<B>(stmt::<B>(sql), id, owner, now, lease);
        let start = self
            .write_optional(q, |r| {
                let workflow = r.workflow()?;
                let submission = Reader::<B>::prefixed(r.row, "s_");
                let submission = match submission.opt_uuid("id")? {
                    Some(_) => Some(submission.submission()?),
                    None => None,
                };
                let mut steps: Vec<StepRecord> = match r.opt_json("steps")? {
                    Some(json) => serde_json::from_value(json)
                        .map_err(|e| StoreError::permanent(format!("column steps: {e}")))?,
                    None => Vec::new(),
                };
                steps.sort_by_key(|s| s.step.number());
                let earlier_workflows = r.i("earlier")? != 0;
                Ok(RunStart {
                    workflow,
                    inputs: Some(RunInputs {
                        submission,
                        steps,
                        earlier_workflows,
                    }),
                })
            })
            .await?;
        match start {
            Some(start) => Ok(StartAttempt::Started(start)),
            None => Ok(self.not_started(id, now).await?.map(RunStart::from)),
        }
    }
    /// Why the start update took no lease.
    async fn not_started(
        &self,
        id: WorkflowId,
        now: DateTime<Utc>,
    ) -> Result<StartAttempt, StoreError> {
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
    pub(super) async fn renew_lease(
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
        self.write_owned(id, q).await
    }
    /// (PostgreSQL repeats this update inside `Store::finish_attempt`'s
    /// statement, `FINISH` in `postgres/mod.rs`: change both together.)
    pub(super) async fn finish_workflow(
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
        self.write_owned(id, q).await
    }
    pub(super) async fn schedule_retry(
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
        self.commit_with_jobs(tx, turn, &[id], delay).await
    }
    pub(super) async fn fail_workflow(
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
    pub(super) async fn requeue_workflow(
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
                Some(w) => StoreError::Conflict(Conflict::NotRetryable {
                    id,
                    status: w.status,
                }),
                None => StoreError::not_found("workflow", id),
            });
        };
        let workflow = Reader::<B>::new(&row).workflow()?;
        let delay = (run_at - now).to_std().unwrap_or_default();
        self.commit_with_jobs(tx, turn, &[id], delay).await?;
        Ok(workflow)
    }
    pub(super) async fn recover_orphans(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<WorkflowId>, StoreError> {
        let (turn, mut tx) = self.begin_write_turn(Turn::Other).await?;
        let rows = stmt::<B>(RECOVER_ORPHANS)
            .arg(now)
            .fetch_all_in(&mut *tx)
            .await
            .map_err(db_err::<B>)?;
        let ids = rows
            .iter()
            .map(|r| Reader::<B>::new(r).uuid("id").map(WorkflowId))
            .collect::<Result<Vec<_>, _>>()?;
        self.commit_with_jobs(tx, turn, &ids, Duration::ZERO)
            .await?;
        Ok(ids)
    }
    pub(super) async fn transition_workflow(
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
}
