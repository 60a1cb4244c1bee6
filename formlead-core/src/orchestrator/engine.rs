//! The engine: its ports, its settings, and the entry points that need no
//! workflow run (accepting a submission, the start-up audit event). A job's
//! run is in `process`, its steps in `steps`, operator actions beside them.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, instrument};

use super::observer::{EngineObserver, NoopObserver};
use super::outcome::AcceptOutcome;
use super::retry::RetryPolicy;
use crate::agents::BusinessHours;
use crate::domain::{AuditEvent, FormSubmission, Workflow, WorkflowId};
use crate::ports::DraftWriter;
use crate::ports::{
    AssetPort, CalendarPort, Clock, CrmPort, FlagPolicy, MailPort, Queue, Store, StoreError,
};

/// The adapters the engine runs on.
#[derive(Clone)]
pub struct Ports {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Where workflow jobs go.
    pub queue: Arc<dyn Queue>,
    /// The CRM (contacts, tasks, notes).
    pub crm: Arc<dyn CrmPort>,
    /// The mailbox (threads, drafts, sends).
    pub mail: Arc<dyn MailPort>,
    /// The calendar meeting slots avoid.
    pub calendar: Arc<dyn CalendarPort>,
    /// The asset catalogue.
    pub assets: Arc<dyn AssetPort>,
    /// The send gates.
    pub policy: Arc<dyn FlagPolicy>,
    /// Writes the reply.
    pub writer: Arc<dyn DraftWriter>,
    /// The time.
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
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// How long a worker's claim on a workflow lasts without renewal; after
    /// that, a dead worker's workflow is picked up again (the orphan timeout).
    pub lease: Duration,
    /// When meetings can be proposed.
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
    /// The CRM owner (a person or a queue) support requests are handed to:
    /// their follow-up task is assigned there. Without one, a reply to a
    /// support request does not promise that support will be in touch.
    pub support_owner_id: Option<String>,
    /// A draft waiting for approval longer than this is going cold: its
    /// task is raised to high priority (`None`: never).
    pub cold_after: Option<Duration>,
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
            support_owner_id: None,
            cold_after: Some(Duration::from_secs(15 * 60)),
        }
    }
}

/// The speed-to-lead engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) ports: Ports,
    pub(crate) config: EngineConfig,
    pub(crate) observer: Arc<dyn EngineObserver>,
    /// Leases of runs dropped part-way, to give up (shared by clones).
    pub(crate) abandoned: Arc<super::abandoned::Abandoned>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine on `ports`.
    pub fn new(ports: Ports, config: EngineConfig) -> Self {
        Self {
            ports,
            config,
            observer: Arc::new(NoopObserver),
            abandoned: Arc::default(),
        }
    }

    /// Replaces the observer (metrics, logs).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn EngineObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The ports it runs on.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Its settings.
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
            Ok(accepted) if accepted.linked => {
                info!(workflow_id = %accepted.workflow_id, "repeat submission linked to the prospect's reply awaiting approval");
                Ok(AcceptOutcome::Linked(accepted))
            }
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

    /// A new lease owner: it names one attempt, not just this worker, so
    /// that two deliveries of the same job in one process do not both run.
    pub(crate) fn lease_owner(&self) -> String {
        format!(
            "{}/{}",
            self.config.worker_id,
            uuid::Uuid::new_v4().simple()
        )
    }

    /// The `Message-ID` of a workflow's reply: stable, so draft creation and
    /// sending can be checked for earlier success.
    pub fn message_id(&self, workflow: &Workflow) -> String {
        format!(
            "<formlead-{}@{}>",
            workflow.id, self.config.message_id_domain
        )
    }

    /// Writes an audit event (now, by `actor`).
    pub(crate) async fn audit(
        &self,
        workflow_id: Option<WorkflowId>,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let event = AuditEvent::new(workflow_id, actor, action, detail, self.ports.clock.now());
        self.ports.store.record_audit(&event).await
    }
}
