//! Running a workflow's job: take the lease, run the steps, and record how
//! it ended (finished, retry scheduled, dead letter); and recovering the
//! workflows of workers that died.

use tracing::{info, instrument, warn};

use super::engine::Engine;
use super::failure::{FailureKind, store_failure};
use super::lease::Lease;
use super::outcome::ProcessOutcome;
use crate::domain::{
    DraftStatus, ErrorId, ErrorKind, StepName, Workflow, WorkflowError, WorkflowId, WorkflowStatus,
};
use crate::ports::{QueueError, RunInputs, RunStart, StartAttempt, StoreError, WorkflowJob};

impl Engine {
    /// Runs (or resumes) the workflow of `job`, then records the outcome:
    /// finished, retry scheduled, or dead-lettered.
    ///
    /// # Errors
    /// [`StoreError`] when the store itself fails; the job should then be
    /// retried later (an expired lease makes it recoverable regardless).
    #[instrument(skip_all, fields(workflow_id = %job.workflow_id))]
    pub async fn process(&self, job: WorkflowJob) -> Result<ProcessOutcome, StoreError> {
        self.observer.job_started(job.workflow_id);
        let outcome = self.process_inner(job).await;
        if let Ok(o) = &outcome {
            self.observer.job_finished(job.workflow_id, o);
        }
        self.observer.job_ended(job.workflow_id);
        outcome
    }

    async fn process_inner(&self, job: WorkflowJob) -> Result<ProcessOutcome, StoreError> {
        let store = &self.ports.store;
        let owner = self.lease_owner();
        let owner = owner.as_str();
        let now = self.ports.clock.now();
        let RunStart { workflow, inputs } = match store
            .start_run(job.workflow_id, owner, now, self.config.lease)
            .await
        {
            Ok(StartAttempt::Started(start)) => start,
            // A finished reply may have repeat submissions to answer
            // (their jobs come here).
            Ok(StartAttempt::NotRunnable(status)) if status.has_reply() => {
                return self.amend(job, status).await;
            }
            Ok(StartAttempt::NotRunnable(status)) => return Ok(ProcessOutcome::Skipped(status)),
            Ok(StartAttempt::Busy { until }) => {
                // Looks again soon rather than at the lease's end: the job
                // of a repeat submission waits for the run to finish.
                self.look_again(job).await;
                return Ok(ProcessOutcome::Busy { until });
            }
            Ok(StartAttempt::NotDue { at }) => {
                let wait = (at - now).to_std().unwrap_or_default();
                self.ports
                    .queue
                    .enqueue(job, wait)
                    .await
                    .map_err(|e| StoreError::transient(format!("re-queue: {e}")))?;
                return Ok(ProcessOutcome::NotDue { at });
            }

            Err(StoreError::NotFound { .. }) => return Ok(ProcessOutcome::Missing),
            Err(e) => return Err(e),
        };
        let holding = self.abandoned.hold(workflow.id, owner);
        let outcome = self.run_attempt(job, &workflow, inputs, owner, now).await;
        holding.ended();
        outcome
    }

    /// Runs the steps of an attempt that holds the lease, and records how
    /// it ended.
    async fn run_attempt(
        &self,
        job: WorkflowJob,
        workflow: &Workflow,
        inputs: Option<RunInputs>,
        owner: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ProcessOutcome, StoreError> {
        let store = &self.ports.store;
        let attempt = workflow.attempts;
        info!(attempt, "workflow attempt started");

        let lease = Lease::new(owner.to_owned(), now + self.lease_length());
        let failure = match self.run_steps(workflow, inputs, &lease).await {
            Ok((status, writes)) => {
                let now = self.ports.clock.now();
                match store
                    .finish_attempt(&writes, workflow.id, owner, status, now)
                    .await
                {
                    Ok(()) => {
                        let status = self.settle_decided(workflow.id, status).await?;
                        info!(status = %status, "workflow finished");
                        if attempt > 1 {
                            // A re-run: submissions linked while it had
                            // failed had their jobs come and go.
                            self.amend(job, status).await?;
                        }
                        return Ok(ProcessOutcome::Finished(status));
                    }
                    // The run's last records did not land: as a failure of
                    // its last step (retried, or lease lost).
                    Err(e) => store_failure(Some(StepName::Finalize))(e),
                }
            }
            Err(f) => f,
        };

        let now = self.ports.clock.now();
        let (kind, retry_after) = match failure.kind {
            FailureKind::LeaseLost => {
                warn!("lease lost mid-run; another worker owns the workflow now");
                return Ok(ProcessOutcome::LeaseLost);
            }
            FailureKind::Transient { retry_after } => (ErrorKind::Transient, retry_after),
            FailureKind::Permanent => (ErrorKind::Permanent, None),
        };
        let retry = kind == ErrorKind::Transient && self.config.retry.allows_another(attempt);
        let retry_at = retry.then(|| {
            let key = workflow.id.0.as_u64_pair().1;
            let delay = self.config.retry.delay_after(attempt, retry_after, key);
            now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
        });
        let mut message = failure.message.clone();
        if kind == ErrorKind::Transient && !retry {
            message = format!("{message} (retries exhausted after {attempt} attempts)");
        }
        let error = WorkflowError {
            id: ErrorId::new(),
            workflow_id: workflow.id,
            attempt,
            step: failure.step,
            kind,
            message: message.clone(),
            retry_at,
            created_at: now,
        };
        match retry_at {
            Some(at) => {
                store.schedule_retry(workflow.id, owner, &error, at).await?;
                warn!(attempt, step = ?failure.step, retry_at = %at, error = %message, "transient failure; retry scheduled");
                Ok(ProcessOutcome::RetryScheduled {
                    attempt,
                    at,
                    error: message,
                })
            }
            None => {
                store.fail_workflow(workflow.id, owner, &error).await?;
                warn!(attempt, step = ?failure.step, error = %message, "workflow failed (dead letter)");
                Ok(ProcessOutcome::DeadLettered {
                    attempt,
                    error: message,
                })
            }
        }
    }

    /// Puts `job` back in the queue, unstarted, to run after `delay`: a
    /// worker pool that is stopping starts no new runs, and the job must
    /// outlive it.
    ///
    /// # Errors
    /// [`QueueError`] when the job could not be queued (it is then still
    /// the worker's to hand back).
    pub async fn put_back(
        &self,
        job: WorkflowJob,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        info!(workflow_id = %job.workflow_id, ?delay, "worker stopping: job put back in the queue");
        self.ports.queue.enqueue(job, delay).await
    }

    /// A workflow that just became `awaiting_approval` whose draft an
    /// operator decided meanwhile is `completed`. The operator's action
    /// moves `awaiting_approval` → `completed` after deciding; whichever of
    /// the two comes second sees the other's write, so the workflow never
    /// stays awaiting a decision already made.
    async fn settle_decided(
        &self,
        id: WorkflowId,
        status: WorkflowStatus,
    ) -> Result<WorkflowStatus, StoreError> {
        if status != WorkflowStatus::AwaitingApproval {
            return Ok(status);
        }
        let drafts = self.ports.store.drafts_for_workflow(id).await?;
        if drafts
            .iter()
            .all(|d| d.status == DraftStatus::PendingApproval)
        {
            return Ok(status);
        }
        self.ports
            .store
            .transition_workflow(
                id,
                WorkflowStatus::AwaitingApproval,
                WorkflowStatus::Completed,
                self.ports.clock.now(),
            )
            .await?;
        Ok(WorkflowStatus::Completed)
    }

    /// The upkeep worker pools run periodically: workflows of dead workers
    /// re-queued, drafts gone cold raised. Failures are logged; the next
    /// sweep tries again.
    pub async fn sweep(&self) {
        if let Err(e) = self.recover_orphans().await {
            warn!(error = %e, "orphan sweep failed");
        }
        if let Err(e) = self.warm_cold_drafts().await {
            warn!(error = %e, "cold-draft sweep failed");
        }
    }

    /// Re-enqueues workflows whose worker died (expired lease).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn recover_orphans(&self) -> Result<Vec<WorkflowId>, StoreError> {
        let ids = self
            .ports
            .store
            .recover_orphans(self.ports.clock.now())
            .await?;
        if !ids.is_empty() {
            warn!(
                count = ids.len(),
                "re-queued workflows whose worker stopped mid-run"
            );
        }
        Ok(ids)
    }
}
