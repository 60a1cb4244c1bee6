//! An engine in a few lines: [`EngineBuilder`] wires the engine's ports with
//! sensible defaults (the in-memory store, a recording queue, the sandboxes,
//! the default send gates and the template writer), so an embedder replaces
//! only the adapters it has.
//!
//! ```
//! use formlead_adapters::embedded::EngineBuilder;
//! use formlead_core::domain::FormSubmission;
//! use formlead_core::orchestrator::{AcceptOutcome, ProcessOutcome};
//! use formlead_core::domain::WorkflowStatus;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let embedded = EngineBuilder::new().build();
//! let body = br#"{"formSubmissionId": "doc-1", "email": "ana@acme.example",
//!     "firstname": "Ana", "company": "Acme", "message": "Can we book a demo?"}"#;
//! let submission = FormSubmission::from_webhook_body(body, chrono::Utc::now())?;
//! let AcceptOutcome::Accepted(ids) = embedded.engine.accept(&submission).await? else {
//!     panic!("a new submission is accepted");
//! };
//! assert_eq!(
//!     embedded.run_due().await?,
//!     vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
//! );
//! let drafts = embedded.ports.store.drafts_for_workflow(ids.workflow_id).await?;
//! assert_eq!(drafts[0].to_email, "ana@acme.example");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use formlead_core::agents::{TemplateWriter, VoiceProfile};
use formlead_core::orchestrator::{Engine, EngineConfig, Ports, ProcessOutcome};
use formlead_core::policy::{GatedPolicy, SendPolicyConfig};
use formlead_core::ports::{
    AssetPort, CalendarPort, Clock, CrmPort, DraftWriter, FlagPolicy, MailPort, Queue, Store,
    StoreError, SystemClock,
};

use crate::memory::{MemoryStore, RecordingQueue};
use crate::sandbox::{SandboxCalendar, SandboxCrm, SandboxMail, StaticAssets};

/// Builds an [`Engine`]; every port not given is a default:
///
/// | port | default |
/// |---|---|
/// | store | [`MemoryStore`] |
/// | queue | [`RecordingQueue`] (drained by [`Embedded::run_due`]) |
/// | CRM, mail, calendar | [`SandboxCrm`], [`SandboxMail`], [`SandboxCalendar`] |
/// | assets | [`StaticAssets::sample`] |
/// | policy | [`GatedPolicy`] with [`SendPolicyConfig::default`] (draft only) |
/// | writer | [`TemplateWriter`] in the given [`VoiceProfile`] |
/// | clock | [`SystemClock`] |
#[derive(Default)]
#[must_use]
pub struct EngineBuilder {
    store: Option<Arc<dyn Store>>,
    queue: Option<Arc<dyn Queue>>,
    crm: Option<Arc<dyn CrmPort>>,
    mail: Option<Arc<dyn MailPort>>,
    calendar: Option<Arc<dyn CalendarPort>>,
    assets: Option<Arc<dyn AssetPort>>,
    policy: Option<Arc<dyn FlagPolicy>>,
    writer: Option<Arc<dyn DraftWriter>>,
    clock: Option<Arc<dyn Clock>>,
    send_policy: SendPolicyConfig,
    voice: VoiceProfile,
    config: EngineConfig,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder").finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// All defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store (and, unless [`Self::queue`] is given too, jobs go to a
    /// recording queue your code drains with [`Embedded::run_due`]).
    pub fn store<S: Store + 'static>(mut self, store: Arc<S>) -> Self {
        self.store = Some(store);
        self
    }

    /// The queue jobs are pushed to; your workers call `Engine::process`.
    pub fn queue<Q: Queue + 'static>(mut self, queue: Arc<Q>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The CRM.
    pub fn crm<C: CrmPort + 'static>(mut self, crm: Arc<C>) -> Self {
        self.crm = Some(crm);
        self
    }

    /// The mailbox.
    pub fn mail<M: MailPort + 'static>(mut self, mail: Arc<M>) -> Self {
        self.mail = Some(mail);
        self
    }

    /// The calendar meeting slots are checked against.
    pub fn calendar<C: CalendarPort + 'static>(mut self, calendar: Arc<C>) -> Self {
        self.calendar = Some(calendar);
        self
    }

    /// The asset catalogue.
    pub fn assets<A: AssetPort + 'static>(mut self, assets: Arc<A>) -> Self {
        self.assets = Some(assets);
        self
    }

    /// The send policy (replaces the gates of [`Self::send_policy`]).
    pub fn policy<P: FlagPolicy + 'static>(mut self, policy: Arc<P>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The send gates' settings for the default policy.
    pub fn send_policy(mut self, config: SendPolicyConfig) -> Self {
        self.send_policy = config;
        self
    }

    /// The writer (replaces the template writer of [`Self::voice`]).
    pub fn writer<W: DraftWriter + 'static>(mut self, writer: Arc<W>) -> Self {
        self.writer = Some(writer);
        self
    }

    /// The company's voice for the default template writer.
    pub fn voice(mut self, voice: VoiceProfile) -> Self {
        self.voice = voice;
        self
    }

    /// The clock.
    pub fn clock<C: Clock + 'static>(mut self, clock: Arc<C>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Engine settings (retries, lease, business hours, …).
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The engine and the ports it runs on.
    pub fn build(self) -> Embedded {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let (queue, recording): (Arc<dyn Queue>, _) = match self.queue {
            Some(queue) => (queue, None),
            None => {
                let recording = Arc::new(RecordingQueue::new(clock.clone()));
                (recording.clone(), Some(recording))
            }
        };
        let policy = self
            .policy
            .unwrap_or_else(|| Arc::new(GatedPolicy::new(self.send_policy)));
        let ports = Ports {
            store: self
                .store
                .unwrap_or_else(|| Arc::new(MemoryStore::new(queue.clone()))),
            queue,
            crm: self.crm.unwrap_or_else(|| Arc::new(SandboxCrm::new())),
            mail: self
                .mail
                .unwrap_or_else(|| Arc::new(SandboxMail::new(policy.clone()))),
            calendar: self
                .calendar
                .unwrap_or_else(|| Arc::new(SandboxCalendar::new())),
            assets: self
                .assets
                .unwrap_or_else(|| Arc::new(StaticAssets::sample())),
            policy,
            writer: self
                .writer
                .unwrap_or_else(|| Arc::new(TemplateWriter::new(self.voice))),
            clock,
        };
        Embedded {
            engine: Engine::new(ports.clone(), self.config),
            ports,
            recording,
        }
    }
}

/// A built engine, its ports, and the recording queue when it is the default.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The engine.
    pub engine: Engine,
    /// The ports it runs on (for reading the store, say).
    pub ports: Ports,
    recording: Option<Arc<RecordingQueue>>,
}

impl Embedded {
    /// Processes every job that is due now, again and again until none is
    /// (a retry scheduled for later waits for a later call). With a queue of
    /// your own there is nothing to drain here: your workers process its jobs.
    ///
    /// # Errors
    /// The store's error, if processing fails.
    pub async fn run_due(&self) -> Result<Vec<ProcessOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        let Some(queue) = &self.recording else {
            return Ok(outcomes);
        };
        loop {
            let due = queue.take_due();
            if due.is_empty() {
                return Ok(outcomes);
            }
            for job in due {
                outcomes.push(self.engine.process(job).await?);
            }
        }
    }
}
