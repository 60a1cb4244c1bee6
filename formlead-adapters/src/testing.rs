//! Test kit for embedders (feature `test-util`): an engine wired to the
//! in-memory store, recording queue and sandboxes, a manual clock, and
//! helpers to submit and drain. Core's `Mock*` port types (mockall) are
//! re-exported here too.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use formlead_core::agents::{TemplateWriter, VoiceProfile};
use formlead_core::domain::{FormSubmission, SubmissionError};
use formlead_core::orchestrator::{AcceptOutcome, Engine, EngineConfig, Ports, ProcessOutcome};
use formlead_core::policy::{GatedPolicy, SendPolicyConfig};
use formlead_core::ports::{Accepted, Clock, StoreError};

use crate::memory::{MemoryStore, RecordingQueue};
use crate::sandbox::{SandboxCalendar, SandboxCrm, SandboxMail, StaticAssets};

pub use crate::sandbox::{Fault, Faults};
pub use formlead_core::testing::*;

/// Wednesday 2026-11-25 10:00 UTC: the kit's default "now".
pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The in-memory adapters, shared with the engine they build.
#[derive(Debug, Clone)]
pub struct TestKit {
    /// The clock, set by hand.
    pub clock: Arc<ManualClock>,
    /// The queue, drained by [`TestKit::run_due`].
    pub queue: Arc<RecordingQueue>,
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The CRM sandbox.
    pub crm: Arc<SandboxCrm>,
    /// The mailbox sandbox.
    pub mail: Arc<SandboxMail>,
    /// The calendar sandbox.
    pub calendar: Arc<SandboxCalendar>,
    /// The sample asset catalogue.
    pub assets: Arc<StaticAssets>,
    /// The send gates.
    pub policy: Arc<GatedPolicy>,
}

impl Default for TestKit {
    fn default() -> Self {
        Self::new()
    }
}

impl TestKit {
    /// Draft-only defaults, the sample asset catalogue, now = [`default_now`].
    pub fn new() -> Self {
        Self::with_policy(SendPolicyConfig::default())
    }

    /// A kit whose send gates follow `config`.
    pub fn with_policy(config: SendPolicyConfig) -> Self {
        let clock = Arc::new(ManualClock::new(default_now()));
        let queue = Arc::new(RecordingQueue::new(clock.clone()));
        let policy = Arc::new(GatedPolicy::new(config));
        Self {
            store: Arc::new(MemoryStore::new(queue.clone())),
            mail: Arc::new(SandboxMail::new(policy.clone())),
            crm: Arc::new(SandboxCrm::new()),
            calendar: Arc::new(SandboxCalendar::new()),
            assets: Arc::new(StaticAssets::sample()),
            clock,
            queue,
            policy,
        }
    }

    /// The kit's adapters as the engine's ports.
    pub fn ports(&self) -> Ports {
        Ports {
            store: self.store.clone(),
            queue: self.queue.clone(),
            crm: self.crm.clone(),
            mail: self.mail.clone(),
            calendar: self.calendar.clone(),
            assets: self.assets.clone(),
            policy: self.policy.clone(),
            writer: Arc::new(TemplateWriter::new(VoiceProfile::default())),
            clock: self.clock.clone(),
        }
    }

    /// An engine with a fixed worker id and no retry delay surprises.
    pub fn engine(&self) -> Engine {
        Engine::new(
            self.ports(),
            EngineConfig {
                worker_id: "test-worker".into(),
                ..EngineConfig::default()
            },
        )
    }

    /// A webhook body in the contract's shape.
    pub fn body(
        form_submission_id: &str,
        email: &str,
        first: &str,
        company: &str,
        message: &str,
    ) -> String {
        serde_json::json!({
            "portalId": 12345, "formId": "abc-123", "formSubmissionId": form_submission_id,
            "submittedAt": 1_769_162_400_000_i64, "pageUrl": "https://example.com/contact",
            "fields": [
                {"name": "email", "value": email},
                {"name": "firstname", "value": first},
                {"name": "lastname", "value": "Doe"},
                {"name": "company", "value": company},
                {"name": "message", "value": message},
            ]
        })
        .to_string()
    }

    /// Parses `body` and accepts it through `engine`.
    ///
    /// # Errors
    /// The parse error, or the store's.
    pub async fn submit(&self, engine: &Engine, body: &str) -> Result<AcceptOutcome, KitError> {
        let submission = FormSubmission::from_webhook_body(body.as_bytes(), self.clock.now())?;
        Ok(engine.accept(&submission).await?)
    }

    /// Submits a standard lead and returns its ids.
    ///
    /// # Errors
    /// As [`Self::submit`]; a duplicate is an error here.
    pub async fn submit_lead(&self, engine: &Engine, id: &str) -> Result<Accepted, KitError> {
        let body = Self::body(
            id,
            "john.doe@acme.example",
            "John",
            "Acme",
            "We need to automate onboarding. Can we book a demo?",
        );
        match self.submit(engine, &body).await? {
            AcceptOutcome::Accepted(a) | AcceptOutcome::Linked(a) => Ok(a),
            AcceptOutcome::Duplicate(a) => Err(KitError::Duplicate(a)),
        }
    }

    /// Processes every job that is due now, repeatedly, until none is due.
    ///
    /// # Errors
    /// The store's error, if processing fails.
    pub async fn run_due(&self, engine: &Engine) -> Result<Vec<ProcessOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        loop {
            let due = self.queue.take_due();
            if due.is_empty() {
                return Ok(outcomes);
            }
            for job in due {
                outcomes.push(engine.process(job).await?);
            }
        }
    }
}

/// A failed kit helper.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error(transparent)]
    /// The body was not a submission.
    Submission(#[from] SubmissionError),
    #[error(transparent)]
    /// The store failed.
    Store(#[from] StoreError),
    #[error("duplicate submission {0:?}")]
    /// The submission was accepted before.
    Duplicate(Accepted),
}
