//! HubSpotCrm and the forms API.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use formlead_adapters::hubspot::{HubSpotConfig, HubSpotCrm};
use formlead_core::domain::{EmailAddress, Prospect, TaskPriority, TaskType};
use formlead_core::ports::{Classify, CrmPort, NewNote, NewTask, Retry};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{fixture, json};

const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

fn crm(server: &MockServer) -> HubSpotCrm {
    let mut c = HubSpotConfig::new(&server.uri(), SecretString::from(TOKEN));
    c.timeout = Duration::from_millis(800);
    HubSpotCrm::new(c).unwrap()
}

fn email() -> EmailAddress {
    EmailAddress::parse("maria.lopez@globex.example").unwrap()
}

fn task(contact: &str) -> NewTask {
    NewTask {
        idempotency_key: "formlead:KEY:task".into(),
        contact_id: contact.into(),
        subject: "Follow up with Maria Lopez (Globex)".into(),
        body: "Next step: propose_meeting.\nref: formlead:KEY:task".into(),
        due_at: Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap(),
        priority: TaskPriority::High,
        task_type: TaskType::Email,
        owner_id: Some("1234567".into()),
    }
}

#[tokio::test]
async fn find_contact_uses_the_search_api() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "maria.lopez@globex.example"}]}],
            "limit": 1
        })))
        .respond_with(json(200, fixture!("hubspot_contact_search.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = crm(&server).find_contact(&email()).await.unwrap().unwrap();
    assert_eq!(
        (c.id.as_str(), c.owner_id.as_deref()),
        ("51", Some("1234567"))
    );

    let empty = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json(200, fixture!("hubspot_contact_search_empty.json")))
        .mount(&empty)
        .await;
    assert!(crm(&empty).find_contact(&email()).await.unwrap().is_none());
}

#[tokio::test]
async fn create_contact_and_conflict_means_it_exists() {
    let prospect = Prospect {
        email: email(),
        first_name: Some("Maria".into()),
        last_name: Some("Lopez".into()),
        company: Some("Globex".into()),
        message: None,
    };
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(body_partial_json(json!({"properties": {"email": "maria.lopez@globex.example", "firstname": "Maria", "lastname": "Lopez", "company": "Globex"}})))
        .respond_with(json(201, fixture!("hubspot_contact_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        crm(&server).create_contact(&prospect).await.unwrap().id,
        "501"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(json(409, fixture!("hubspot_contact_conflict.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/501"))
        .and(query_param("properties", "email,hubspot_owner_id"))
        .respond_with(json(200, fixture!("hubspot_contact_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = crm(&server).create_contact(&prospect).await.unwrap();
    assert_eq!(
        (c.id.as_str(), c.email.as_str()),
        ("501", "maria.lopez@globex.example")
    );
}

#[tokio::test]
async fn tasks_and_notes_are_created_with_associations() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(json!({
            "properties": {
                "hs_timestamp": "2026-11-26T10:00:00.000Z", "hs_task_subject": "Follow up with Maria Lopez (Globex)",
                "hs_task_status": "NOT_STARTED", "hs_task_priority": "HIGH", "hs_task_type": "EMAIL", "hubspot_owner_id": "1234567"
            },
            "associations": [{"to": {"id": "501"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}]
        })))
        .respond_with(json(201, fixture!("hubspot_task_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes"))
        .and(body_partial_json(json!({
            "properties": {"hs_note_body": "formlead drafted a reply"},
            "associations": [{"to": {"id": "501"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}]
        })))
        .respond_with(json(201, fixture!("hubspot_note_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    let crm = crm(&server);
    assert_eq!(crm.create_task(&task("501")).await.unwrap(), "88001");
    let note = NewNote {
        idempotency_key: "k".into(),
        contact_id: "501".into(),
        body: "formlead drafted a reply".into(),
        timestamp: Utc::now(),
    };
    assert_eq!(crm.create_note(&note).await.unwrap(), "99001");
}

#[tokio::test]
async fn earlier_tasks_are_found_by_key_and_notes_read_newest_first() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v4/objects/contacts/501/associations/tasks"))
        .respond_with(json(200, fixture!("hubspot_associations_tasks.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/read"))
        .and(body_partial_json(
            json!({"properties": ["hs_task_body"], "inputs": [{"id": "77001"}, {"id": "88001"}]}),
        ))
        .respond_with(json(200, fixture!("hubspot_tasks_batch_read.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v4/objects/contacts/501/associations/notes"))
        .respond_with(json(200, fixture!("hubspot_associations_notes.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes/batch/read"))
        .respond_with(json(200, fixture!("hubspot_notes_batch_read.json")))
        .mount(&server)
        .await;
    let crm = crm(&server);
    assert_eq!(
        crm.find_task("501", "formlead:KEY:task")
            .await
            .unwrap()
            .as_deref(),
        Some("88001")
    );
    assert_eq!(
        crm.find_task("501", "formlead:OTHER:task").await.unwrap(),
        None
    );
    let notes = crm.recent_notes("501", 5).await.unwrap();
    assert_eq!(
        notes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["99002", "99001"]
    );
    assert_eq!(notes[0].body, "Asked for a security review.");
}

#[tokio::test]
async fn form_submissions_follow_the_cursor_until_older_ones() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/form-integrations/v1/submissions/forms/f-guid"))
        .and(query_param("limit", "50"))
        .and(query_param("after", "AoJ4"))
        .respond_with(json(200, fixture!("hubspot_forms_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/form-integrations/v1/submissions/forms/f-guid"))
        .and(query_param("limit", "50"))
        .respond_with(json(200, fixture!("hubspot_forms_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    let since = Utc.timestamp_millis_opt(1_795_500_000_000).unwrap();
    let got = crm(&server)
        .form_submissions_since("f-guid", since)
        .await
        .unwrap();
    assert_eq!(
        got.iter()
            .map(|r| r.conversion_id.as_str())
            .collect::<Vec<_>>(),
        ["c-3", "c-2", "c-1"]
    );
}

/// 429 (with and without retry-after), 500, 503, timeout, malformed JSON,
/// 400, 401: each maps to the right class.
#[tokio::test]
async fn failure_matrix() {
    let cases: Vec<(&str, ResponseTemplate, Retry)> = vec![
        (
            "429 without retry-after",
            json(429, fixture!("hubspot_rate_limited.json")),
            Retry::Later {
                after: Some(Duration::from_secs(10)),
            },
        ),
        (
            "429 with retry-after",
            json(429, fixture!("hubspot_rate_limited.json")).insert_header("retry-after", "3"),
            Retry::Later {
                after: Some(Duration::from_secs(3)),
            },
        ),
        (
            "500",
            json(500, r#"{"status":"error","message":"internal error"}"#),
            Retry::Later { after: None },
        ),
        (
            "503",
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
            Retry::Later { after: None },
        ),
        (
            "timeout",
            json(201, fixture!("hubspot_task_created.json")).set_delay(Duration::from_secs(3)),
            Retry::Later { after: None },
        ),
        (
            "malformed JSON",
            ResponseTemplate::new(201).set_body_raw(b"{\"id\": \"88".to_vec(), "application/json"),
            Retry::Later { after: None },
        ),
        (
            "400",
            json(400, fixture!("hubspot_bad_request.json")),
            Retry::Never,
        ),
        (
            "401",
            json(
                401,
                r#"{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}"#,
            ),
            Retry::Never,
        ),
    ];
    for (name, response, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/crm/v3/objects/tasks"))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = crm(&server).create_task(&task("501")).await.unwrap_err();
        assert_eq!(err.retry(), expected, "{name}: {err}");
        let text = err.to_string();
        assert!(!text.contains(TOKEN), "{name}: token leaked: {text}");
        if name == "400" {
            assert!(
                text.contains("hs_task_priority was not one of the allowed options"),
                "vendor message kept: {text}"
            );
        }
    }
}

/// 300 task creations with a budget of 100 per 10 s never exceed it in any
/// 10-s window (timestamps taken by the mock server) and all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limiter_keeps_under_budget() {
    let server = MockServer::start().await;
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let record = seen.clone();
    let body = fixture!("hubspot_task_created.json");
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks"))
        .respond_with(move |_: &Request| {
            record.lock().unwrap().push(Instant::now());
            json(201, body)
        })
        .mount(&server)
        .await;
    let mut config = HubSpotConfig::new(&server.uri(), SecretString::from(TOKEN));
    config.calls_per_10s = 100;
    let crm = Arc::new(HubSpotCrm::new(config).unwrap());
    let started = Instant::now();
    let handles: Vec<_> = (0..300)
        .map(|_| {
            let crm = crm.clone();
            tokio::spawn(async move { crm.create_task(&task("501")).await })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap(), "88001");
    }
    let mut times = seen.lock().unwrap().clone();
    times.sort();
    assert_eq!(times.len(), 300);
    for (i, t) in times.iter().enumerate() {
        let window = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(10))
            .count();
        assert!(
            window <= 100,
            "{window} requests within 10 s starting at #{i}"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_secs(20),
        "300 at 100/10 s takes at least 20 s"
    );
}
