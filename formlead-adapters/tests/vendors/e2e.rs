//! The orchestrator end to end with the real HubSpot and Google adapters
//! pointed at mock servers: one submission of a new contact → four HubSpot
//! calls (contact read, upsert, task, note), Gmail's message list, thread
//! and draft, one free/busy.

use std::sync::Arc;
use std::time::Duration;

use formlead_adapters::google::{
    GmailMailer, GoogleCalendar, GoogleClients, GoogleCredentials, GoogleEndpoints,
};
use formlead_adapters::hubspot::{HubSpotConfig, HubSpotCrm};
use formlead_adapters::memory::{MemoryStore, RecordingQueue};
use formlead_adapters::sandbox::StaticAssets;
use formlead_core::agents::TemplateWriter;
use formlead_core::domain::{FormSubmission, WorkflowStatus};
use formlead_core::orchestrator::{AcceptOutcome, Engine, EngineConfig, Ports, ProcessOutcome};
use formlead_core::policy::GatedPolicy;
use formlead_core::ports::{Store, SystemClock};
use secrecy::SecretString;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer};

use crate::{fixture, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_submission_through_the_real_adapters() {
    let hubspot = MockServer::start().await;
    let google = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/read"))
        .respond_with(json(
            207,
            fixture!("hubspot_contacts_batch_read_missing.json"),
        ))
        .expect(1)
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(json(200, fixture!("hubspot_contacts_batch_upsert.json")))
        .expect(1)
        .mount(&hubspot)
        .await;
    // A contact created just now has no notes: they are not asked for.
    Mock::given(method("POST"))
        .and(path_regex("^/crm/v4/associations/"))
        .respond_with(json(200, r#"{"results":[]}"#))
        .expect(0)
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .respond_with(json(201, fixture!("hubspot_tasks_batch_create.json")))
        .expect(1)
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes/batch/create"))
        .respond_with(json(201, fixture!("hubspot_notes_batch_create.json")))
        .expect(1)
        .mount(&hubspot)
        .await;

    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(json(200, fixture!("google_token.json")))
        .expect(1)
        .mount(&google)
        .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages"))
        .respond_with(json(200, fixture!("gmail_messages_list.json")))
        .expect(1)
        .mount(&google)
        .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/threads/18c1f2a3b4c5d6e7"))
        .respond_with(json(200, fixture!("gmail_thread.json")))
        .expect(1)
        .mount(&google)
        .await;
    Mock::given(method("POST"))
        .and(path("/gmail/v1/users/me/drafts"))
        .respond_with(json(200, fixture!("gmail_draft_created.json")))
        .expect(1)
        .mount(&google)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(json(200, fixture!("calendar_freebusy.json")))
        .expect(1)
        .mount(&google)
        .await;

    let policy = Arc::new(GatedPolicy::default());
    let clients = GoogleClients::new(
        GoogleCredentials {
            client_id: "client-123.apps.googleusercontent.com".into(),
            client_secret: SecretString::from("s"),
            refresh_token: SecretString::from("r"),
            token_url: format!("{}/token", google.uri()),
        },
        &GoogleEndpoints {
            gmail: google.uri(),
            calendar: format!("{}/calendar/v3", google.uri()),
            drive: format!("{}/drive/v3", google.uri()),
        },
        Duration::from_secs(5),
    )
    .unwrap();
    let clock = Arc::new(SystemClock);
    let queue = Arc::new(RecordingQueue::new(clock.clone()));
    let store = Arc::new(MemoryStore::new(queue.clone()));
    let engine = Engine::new(
        Ports {
            store: store.clone(),
            queue: queue.clone(),
            crm: Arc::new(
                HubSpotCrm::new(HubSpotConfig::new(
                    &hubspot.uri(),
                    SecretString::from("pat"),
                ))
                .unwrap(),
            ),
            mail: Arc::new(GmailMailer::new(
                clients.gmail.clone(),
                policy.clone(),
                "sam@northwind.example",
                "Sam Carter",
            )),
            calendar: Arc::new(GoogleCalendar::new(clients.calendar.clone(), "primary")),
            assets: Arc::new(StaticAssets::sample()),
            policy,
            writer: Arc::new(TemplateWriter::default()),
            clock,
        },
        EngineConfig {
            worker_id: "e2e".into(),
            ..EngineConfig::default()
        },
    );
    let body = r#"{"formSubmissionId":"e2e-1","email":"maria.lopez@globex.example","firstname":"Maria","lastname":"Lopez","company":"Globex","message":"Can we book a demo of onboarding automation?"}"#;
    let s = FormSubmission::from_webhook_body(body.as_bytes(), chrono::Utc::now()).unwrap();
    let AcceptOutcome::Accepted(ids) = engine.accept(&s).await.unwrap() else {
        panic!()
    };
    let job = queue.take_due()[0];
    assert_eq!(
        engine.process(job).await.unwrap(),
        ProcessOutcome::Finished(WorkflowStatus::Completed)
    );
    let draft = &store.drafts_for_workflow(ids.workflow_id).await.unwrap()[0];
    assert_eq!(draft.external_id.as_deref(), Some("r-8163574916153748571"));
    assert_eq!(
        draft.subject, "Re: Pricing question",
        "replied in the earlier thread"
    );
    assert_eq!(
        draft.in_reply_to.as_deref(),
        Some("<CAF5678@globex.example>")
    );
    assert_eq!(
        store.tasks_for_workflow(ids.workflow_id).await.unwrap()[0].external_id,
        "88001"
    );
    // `expect(1)` on every mock is verified when the servers drop.
}
