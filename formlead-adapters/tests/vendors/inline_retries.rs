//! Inline retries of idempotent vendor calls: a transient glitch on a read,
//! a search or a token refresh costs a lead a few hundred milliseconds, not
//! the workflow's minute-long durable retry. Creates are not retried inline.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use formlead_adapters::google::{GoogleAuth, GoogleCredentials};
use formlead_adapters::hubspot::{HubSpotConfig, HubSpotCrm};
use formlead_core::domain::{EmailAddress, TaskPriority, TaskType};
use formlead_core::ports::{Classify, CrmPort, NewTask, Retry};
use secrecy::{ExposeSecret, SecretString};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{fixture, json};

fn crm(server: &MockServer) -> HubSpotCrm {
    let mut c = HubSpotConfig::new(&server.uri(), SecretString::from("pat-na1-test"));
    c.timeout = Duration::from_millis(800);
    HubSpotCrm::new(c).unwrap()
}

fn email() -> EmailAddress {
    EmailAddress::parse("maria.lopez@globex.example").unwrap()
}

async fn requests(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

const SEARCH: &str = "/crm/v3/objects/contacts/batch/read";

#[tokio::test]
async fn a_single_502_on_a_read_is_retried_inline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(json(200, fixture!("hubspot_contacts_batch_read.json")))
        .mount(&server)
        .await;
    let started = Instant::now();
    let found = crm(&server).find_contact(&email()).await.unwrap();
    assert_eq!(found.unwrap().id, "51");
    assert_eq!(requests(&server, SEARCH).await, 2);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_short_retry_after_is_honoured_inline_and_a_long_one_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(json(200, fixture!("hubspot_contacts_batch_read.json")))
        .mount(&server)
        .await;
    let started = Instant::now();
    assert!(crm(&server).find_contact(&email()).await.unwrap().is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 waited out: {:?}",
        started.elapsed()
    );

    // A minute's Retry-After is the workflow's business: one request, a
    // transient error carrying the wait.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "60"))
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = crm(&server).find_contact(&email()).await.unwrap_err();
    assert_eq!(
        err.retry(),
        Retry::Later {
            after: Some(Duration::from_secs(60))
        }
    );
    assert_eq!(requests(&server, SEARCH).await, 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_read_that_keeps_failing_gives_up_after_three_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = crm(&server).find_contact(&email()).await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(
        requests(&server, SEARCH).await,
        4,
        "one call and three retries"
    );
}

#[tokio::test]
async fn creates_are_not_retried_inline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let task = NewTask {
        idempotency_key: "formlead:KEY:task".into(),
        contact_id: "51".into(),
        subject: "Follow up".into(),
        body: "ref: formlead:KEY:task".into(),
        due_at: Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap(),
        priority: TaskPriority::High,
        task_type: TaskType::Email,
        owner_id: None,
    };
    let err = crm(&server).create_task(&task).await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(
        requests(&server, "/crm/v3/objects/tasks/batch/create").await,
        1,
        "a create without a lookup could duplicate: left to the workflow's retry"
    );
}

fn google_auth(server: &MockServer) -> GoogleAuth {
    GoogleAuth::new(
        GoogleCredentials {
            client_id: "client-123.apps.googleusercontent.com".into(),
            client_secret: SecretString::from("GOCSPX-client-secret"),
            refresh_token: SecretString::from("1//0refresh"),
            token_url: format!("{}/token", server.uri()),
        },
        Duration::from_millis(800),
    )
    .unwrap()
}

#[tokio::test]
async fn a_token_refresh_is_retried_inline_and_absurd_lifetimes_are_clamped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // A lifetime no clock arithmetic could hold.
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(json(
            200,
            r#"{"access_token":"ya29.x","expires_in":18446744073709551615,"token_type":"Bearer"}"#,
        ))
        .mount(&server)
        .await;
    let auth = google_auth(&server);
    assert_eq!(auth.token().await.unwrap().expose_secret(), "ya29.x");
    assert_eq!(auth.token().await.unwrap().expose_secret(), "ya29.x");
    assert_eq!(
        requests(&server, "/token").await,
        2,
        "one retry, then cached"
    );

    // A zero lifetime does not mean a refresh on every call.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(json(200, r#"{"access_token":"ya29.y","expires_in":0}"#))
        .mount(&server)
        .await;
    let auth = google_auth(&server);
    for _ in 0..3 {
        auth.token().await.unwrap();
    }
    assert_eq!(requests(&server, "/token").await, 1);
}
