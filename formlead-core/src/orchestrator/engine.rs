//! The engine: accepts submissions and processes workflow jobs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, instrument, warn};

use super::observer::{EngineObserver, NoopObserver};
use super::retry::RetryPolicy;
use crate::agents::{BusinessHours, DraftWriter};
use crate::domain::{
    AuditEvent, ErrorId, ErrorKind, FormSubmission, StepName, WorkflowError, WorkflowId,
    WorkflowStatus,
};
use crate::ports::{
    Accepted, AssetPort, CalendarPort, Clock, CrmPort, FlagPolicy, MailPort, Queue, StartAttempt,
    Store, StoreError, WorkflowJob,
};

/// The adapters the engine runs on.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub crm: Arc<dyn CrmPort>,
    pub mail: Arc<dyn MailPort>,
    pub calendar: Arc<dyn CalendarPort>,
    pub assets: Arc<dyn AssetPort>,
    pub policy: Arc<dyn FlagPolicy>,
    pub writer: Arc<dyn DraftWriter>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub retry: RetryPolicy,
    /// How long a worker's claim on a workflow lasts without renewal; after
    /// that, a dead worker's workflow is picked up again (the orphan timeout).
    pub lease: Duration,
    pub business_hours: BusinessHours,
    /// Domain of the generated `Message-ID`s (the sender's domain).
    pub message_id_domain: String,
    /// Follow-up tasks are due this long after the draft.
    pub task_due_after: chrono::Duration,
    /// Earlier threads fetched for ThreadReader.
    pub thread_lookup_limit: usize,
    /// CRM notes fetched for LongMemory.
    pub note_lookup_limit: usize,
    /// This worker's name; leases are owned by `<worker_id>/<attempt>`.
    pub worker_id: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(300),
            business_hours: BusinessHours::default(),
            message_id_domain: "formlead.local".into(),
            task_due_after: chrono::Duration::hours(24),
            thread_lookup_limit: 10,
            note_lookup_limit: 5,
            worker_id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// Result of handing a submission to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Stored with its workflow and job.
    Accepted(Accepted),
    /// Seen before: the existing ids, nothing new stored.
    Duplicate(Accepted),
}

/// What processing one job did.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessOutcome {
    /// All 13 steps done; the workflow is `completed` or `awaiting_approval`.
    Finished(WorkflowStatus),
    /// A transient failure; the next attempt is scheduled at `at`.
    RetryScheduled {
        attempt: u32,
        at: DateTime<Utc>,
        error: String,
    },
    /// A permanent failure or retries exhausted: `failed`.
    DeadLettered { attempt: u32, error: String },
    /// Nothing to do: the workflow is already in this terminal status.
    Skipped(WorkflowStatus),
    /// Another worker holds the workflow; the job was re-queued for `until`.
    Busy { until: DateTime<Utc> },
    /// The job came before the workflow's scheduled retry; re-queued for `at`.
    NotDue { at: DateTime<Utc> },

    /// This worker lost its lease mid-run (it was too slow and another
    /// worker took over); it stopped without touching the workflow.
    LeaseLost,
    /// The workflow does not exist (a stale job).
    Missing,
}

impl ProcessOutcome {
    /// A short name for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Finished(WorkflowStatus::AwaitingApproval) => "awaiting_approval",
            Self::Finished(_) => "completed",
            Self::RetryScheduled { .. } => "retry_scheduled",
            Self::DeadLettered { .. } => "dead_lettered",
            Self::Skipped(_) => "skipped",
            Self::Busy { .. } => "busy",
            Self::NotDue { .. } => "not_due",

            Self::LeaseLost => "lease_lost",
            Self::Missing => "missing",
        }
    }
}

/// A step failure, classified.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepFailure {
    pub step: Option<StepName>,
    pub kind: FailureKind,
    pub message: String,
    pub origin: FailureOrigin,
}

/// Where a step failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureOrigin {
    /// A vendor call failed (an outage, a 4xx about this request).
    Vendor,
    /// A vendor refused our credentials: an operator must act.
    Credentials,
    /// The store, the engine itself, or the lead's own data.
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FailureKind {
    Transient { retry_after: Option<Duration> },
    Permanent,
    LeaseLost,
}

/// The speed-to-lead engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) ports: Ports,
    pub(crate) config: EngineConfig,
    pub(crate) observer: Arc<dyn EngineObserver>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(ports: Ports, config: EngineConfig) -> Self {
        Self {
            ports,
            config,
            observer: Arc::new(NoopObserver),
        }
    }

    /// Replaces the observer (metrics, logs).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn EngineObserver>) -> Self {
        self.observer = observer;
        self
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Stores a submission with its workflow and first job (atomically).
    ///
    /// # Errors
    /// [`StoreError`] other than a duplicate, which is an `Ok` outcome.
    #[instrument(skip_all, fields(form_submission_id = %submission.form_submission_id))]
    pub async fn accept(&self, submission: &FormSubmission) -> Result<AcceptOutcome, StoreError> {
        match self.ports.store.accept_submission(submission).await {
            Ok(accepted) => {
                info!(workflow_id = %accepted.workflow_id, "submission accepted");
                Ok(AcceptOutcome::Accepted(accepted))
            }
            Err(StoreError::Duplicate { existing }) => {
                info!(workflow_id = %existing.workflow_id, "duplicate submission");
                Ok(AcceptOutcome::Duplicate(existing))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the send mode in force to the audit trail (at start-up).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_startup(
        &self,
        actor: &str,
        extra: serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut detail = self.ports.policy.describe();
        if let (Some(d), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra) {
            d.extend(extra);
        }
        let event = AuditEvent::new(
            None,
            actor,
            "startup.send_mode",
            detail,
            self.ports.clock.now(),
        );
        self.ports.store.record_audit(&event).await
    }

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
        outcome
    }

    async fn process_inner(&self, job: WorkflowJob) -> Result<ProcessOutcome, StoreError> {
        let store = &self.ports.store;
        // The lease owner names this attempt, not just this worker: two
        // deliveries of the same job in one process must not both run.
        let owner = format!(
            "{}/{}",
            self.config.worker_id,
            uuid::Uuid::new_v4().simple()
        );
        let owner = owner.as_str();
        let now = self.ports.clock.now();
        let workflow = match store
            .start_attempt(job.workflow_id, owner, now, self.config.lease)
            .await
        {
            Ok(StartAttempt::Started(w)) => w,
            Ok(StartAttempt::NotRunnable(status)) => return Ok(ProcessOutcome::Skipped(status)),
            Ok(StartAttempt::Busy { until }) => {
                let wait = (until - now).to_std().unwrap_or_default() + Duration::from_millis(100);
                if let Err(e) = self.ports.queue.enqueue(job, wait).await {
                    warn!(error = %e, "could not re-queue a busy workflow; its lease expiry will recover it");
                }
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
        let attempt = workflow.attempts;
        info!(attempt, "workflow attempt started");

        let lease = super::checkpoint::Lease::new(owner.to_owned(), now + self.lease_length());
        let failure = match self.run_steps(&workflow, &lease).await {
            Ok(status) => {
                store
                    .finish_workflow(workflow.id, owner, status, self.ports.clock.now())
                    .await?;
                let status = self.settle_decided(workflow.id, status).await?;
                info!(status = %status, "workflow finished");
                return Ok(ProcessOutcome::Finished(status));
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
            .all(|d| d.status == crate::domain::DraftStatus::PendingApproval)
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
