//! HubSpotCrm and the forms API: the batch endpoints' request shapes,
//! merging under bursts, one failing input failing only its lead, lost
//! answers, 429s, and the budget.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use formlead_adapters::hubspot::{HubSpotConfig, HubSpotCrm};
use formlead_core::domain::{EmailAddress, Prospect, TaskPriority, TaskType};
use formlead_core::ports::{Classify, CrmPort, NewNote, NewTask, Retry, TaskUpdate};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{fixture, json};

const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
const CREATE_TASKS: &str = "/crm/v3/objects/tasks/batch/create";

fn crm(server: &MockServer) -> HubSpotCrm {
    let mut c = HubSpotConfig::new(&server.uri(), SecretString::from(TOKEN));
    c.timeout = Duration::from_millis(800);
    HubSpotCrm::new(c).unwrap()
}

fn email() -> EmailAddress {
    EmailAddress::parse("maria.lopez@globex.example").unwrap()
}

fn prospect(email: &str) -> Prospect {
    Prospect {
        email: EmailAddress::parse(email).unwrap(),
        first_name: Some("Maria".into()),
        last_name: Some("Lopez".into()),
        company: Some("Globex".into()),
        message: None,
    }
}

fn task_with(contact: &str, key: &str) -> NewTask {
    NewTask {
        idempotency_key: format!("formlead:{key}:task"),
        contact_id: contact.into(),
        subject: "Follow up with Maria Lopez (Globex)".into(),
        body: format!("Next step: propose_meeting.\nref: formlead:{key}:task"),
        due_at: Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap(),
        priority: TaskPriority::High,
        task_type: TaskType::Email,
        owner_id: Some("1234567".into()),
    }
}

fn task(contact: &str) -> NewTask {
    task_with(contact, "KEY")
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// Answers a batch create the way HubSpot does: one object per input, its
/// properties echoed, ids from 88001 on.
fn echo_created(req: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let results: Vec<Value> = body["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, input)| json!({"id": (88_001 + i).to_string(), "properties": input["properties"], "archived": false}))
        .collect();
    ResponseTemplate::new(201).set_body_json(json!({"status": "COMPLETE", "results": results}))
}

#[tokio::test]
async fn contacts_are_read_by_email_without_the_search_api() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/read"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "idProperty": "email",
            "properties": ["email", "hubspot_owner_id"],
            "inputs": [{"id": "maria.lopez@globex.example"}]
        })))
        .respond_with(json(200, fixture!("hubspot_contacts_batch_read.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = crm(&server).find_contact(&email()).await.unwrap().unwrap();
    assert_eq!(
        (c.id.as_str(), c.owner_id.as_deref(), c.created),
        ("51", Some("1234567"), false)
    );

    // An unknown email: HubSpot answers 207 with an OBJECT_NOT_FOUND error.
    let missing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/read"))
        .respond_with(json(
            207,
            fixture!("hubspot_contacts_batch_read_missing.json"),
        ))
        .mount(&missing)
        .await;
    let new = EmailAddress::parse("new.lead@initech.example").unwrap();
    assert!(crm(&missing).find_contact(&new).await.unwrap().is_none());
}

#[tokio::test]
async fn contacts_are_upserted_by_email() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .and(body_partial_json(json!({"inputs": [{
            "idProperty": "email", "id": "maria.lopez@globex.example",
            "properties": {"email": "maria.lopez@globex.example", "firstname": "Maria", "lastname": "Lopez", "company": "Globex"}
        }]})))
        .respond_with(json(200, fixture!("hubspot_contacts_batch_upsert.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = crm(&server)
        .create_contact(&prospect("maria.lopez@globex.example"))
        .await
        .unwrap();
    assert_eq!(
        (c.id.as_str(), c.created),
        ("501", true),
        "new: no notes to read"
    );
}

/// The upsert's answer is lost (the client times out): the upsert by email
/// is sent again and finds the same contact; nothing is duplicated.
#[tokio::test]
async fn a_lost_upsert_answer_is_repeated_without_duplicates() {
    let server = MockServer::start().await;
    let upsert = "/crm/v3/objects/contacts/batch/upsert";
    Mock::given(method("POST"))
        .and(path(upsert))
        .respond_with(
            json(200, fixture!("hubspot_contacts_batch_upsert.json"))
                .set_delay(Duration::from_secs(2)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let again =
        fixture!("hubspot_contacts_batch_upsert.json").replace("\"new\": true", "\"new\": false");
    Mock::given(method("POST"))
        .and(path(upsert))
        .respond_with(json(200, &again))
        .mount(&server)
        .await;
    let c = crm(&server)
        .create_contact(&prospect("maria.lopez@globex.example"))
        .await
        .unwrap();
    assert_eq!(c.id, "501");
    let sent = requests_to(&server, upsert).await;
    assert_eq!(sent.len(), 2, "sent again after the lost answer");
    assert_eq!(sent[0], sent[1], "the same upsert by email both times");
}

#[tokio::test]
async fn tasks_and_notes_are_batch_created_with_inline_associations() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_TASKS))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(json!({"inputs": [{
            "properties": {
                "hs_timestamp": "2026-11-26T10:00:00.000Z", "hs_task_subject": "Follow up with Maria Lopez (Globex)",
                "hs_task_status": "NOT_STARTED", "hs_task_priority": "HIGH", "hs_task_type": "EMAIL", "hubspot_owner_id": "1234567"
            },
            "associations": [{"to": {"id": "501"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}]
        }]})))
        .respond_with(json(201, fixture!("hubspot_tasks_batch_create.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes/batch/create"))
        .and(body_partial_json(json!({"inputs": [{
            "properties": {"hs_note_body": "formlead drafted a reply"},
            "associations": [{"to": {"id": "501"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}]
        }]})))
        .respond_with(json(201, fixture!("hubspot_notes_batch_create.json")))
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

/// Fifty leads creating their tasks at once: the first goes alone at once,
/// the others queue behind it and leave together; each lead gets its own id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_are_merged_into_batches() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_TASKS))
        .respond_with(|req: &Request| echo_created(req).set_delay(Duration::from_millis(200)))
        .mount(&server)
        .await;
    let crm = Arc::new(crm(&server));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let crm = crm.clone();
            tokio::spawn(async move { crm.create_task(&task_with("501", &format!("L{i}"))).await })
        })
        .collect();
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap().unwrap());
    }
    let batches = requests_to(&server, CREATE_TASKS).await;
    assert!(
        batches.len() <= 3,
        "{} requests for 50 tasks",
        batches.len()
    );
    let inputs: usize = batches
        .iter()
        .map(|b| b["inputs"].as_array().unwrap().len())
        .sum();
    assert_eq!(inputs, 50);
    // Each lead's id is the one HubSpot gave its own input.
    for batch in &batches {
        for (i, input) in batch["inputs"].as_array().unwrap().iter().enumerate() {
            let body = input["properties"]["hs_task_body"].as_str().unwrap();
            let key: usize = body
                .rsplit("formlead:L")
                .next()
                .unwrap()
                .trim_end_matches(":task")
                .parse()
                .unwrap();
            assert_eq!(ids[key], (88_001 + i).to_string(), "{body}");
        }
    }
}

/// A batch HubSpot refuses as a whole is split: the bad input fails its own
/// lead (permanently, with HubSpot's message); the others succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_input_fails_only_its_lead() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_TASKS))
        .respond_with(|req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            let bad = body["inputs"].as_array().unwrap().iter().any(|i| {
                i["properties"]["hs_task_body"]
                    .as_str()
                    .unwrap()
                    .contains("BAD")
            });
            if bad {
                json(400, fixture!("hubspot_bad_request.json"))
            } else {
                echo_created(req).set_delay(Duration::from_millis(100))
            }
        })
        .mount(&server)
        .await;
    let crm = Arc::new(crm(&server));
    let handles: Vec<_> = ["A", "BAD", "C", "D"]
        .iter()
        .map(|k| {
            let crm = crm.clone();
            let k = (*k).to_owned();
            tokio::spawn(async move { (k.clone(), crm.create_task(&task_with("501", &k)).await) })
        })
        .collect();
    for h in handles {
        let (key, result) = h.await.unwrap();
        if key == "BAD" {
            let e = result.unwrap_err();
            assert_eq!(e.retry(), Retry::Never, "{e}");
            assert!(e.to_string().contains("hs_task_priority"), "{e}");
        } else {
            assert!(result.is_ok(), "{key}: {result:?}");
        }
    }
}

/// A 429 pauses the budget for its Retry-After and the call is sent again:
/// the lead never sees the rate limit.
#[tokio::test]
async fn a_429_is_waited_out_not_passed_on() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_TASKS))
        .respond_with(
            json(429, fixture!("hubspot_rate_limited.json")).insert_header("retry-after", "1"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_TASKS))
        .respond_with(json(201, fixture!("hubspot_tasks_batch_create.json")))
        .mount(&server)
        .await;
    let crm = crm(&server);
    let started = Instant::now();
    assert_eq!(crm.create_task(&task("501")).await.unwrap(), "88001");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    // The pause held the budget for every call, not just this one.
    assert_eq!(requests_to(&server, CREATE_TASKS).await.len(), 2);
}

/// HubSpot's rate-limit headers say the window is spent (another
/// integration on the same app used it): the budget slows down before a
/// 429, not after.
#[tokio::test]
async fn a_spent_window_in_the_headers_slows_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_TASKS))
        .respond_with(
            json(201, fixture!("hubspot_tasks_batch_create.json"))
                .insert_header("x-hubspot-ratelimit-max", "100")
                .insert_header("x-hubspot-ratelimit-remaining", "0")
                .insert_header("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        )
        .mount(&server)
        .await;
    let crm = crm(&server);
    crm.create_task(&task("501")).await.unwrap();
    let started = Instant::now();
    crm.create_task(&task("501")).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the next call waited for the window: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn earlier_tasks_are_found_by_key_and_notes_read_newest_first() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v4/associations/contacts/tasks/batch/read"))
        .and(body_partial_json(json!({"inputs": [{"id": "501"}]})))
        .respond_with(json(
            200,
            fixture!("hubspot_associations_batch_read_tasks.json"),
        ))
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
    Mock::given(method("POST"))
        .and(path("/crm/v4/associations/contacts/notes/batch/read"))
        .respond_with(json(
            200,
            fixture!("hubspot_associations_batch_read_notes.json"),
        ))
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

/// 500, 503, timeout, malformed JSON, 400, 401: each maps to the right
/// class (a create is not retried inline; 429s are waited out, above).
#[tokio::test]
async fn failure_matrix() {
    let cases: Vec<(&str, ResponseTemplate, Retry)> = vec![
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
            json(201, fixture!("hubspot_tasks_batch_create.json"))
                .set_delay(Duration::from_secs(3)),
            Retry::Later { after: None },
        ),
        (
            "malformed JSON",
            ResponseTemplate::new(201)
                .set_body_raw(b"{\"results\": [{\"id\": \"88".to_vec(), "application/json"),
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
            .and(path(CREATE_TASKS))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = crm(&server).create_task(&task("501")).await.unwrap_err();
        assert_eq!(err.retry(), expected, "{name}: {err}");
        assert_eq!(err.needs_operator(), name == "401", "{name}: {err}");
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

/// 300 leads' tasks at once with a budget of 100 calls per 10 s: batching
/// makes that a handful of calls, all well inside the budget, in seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_fits_the_budget_by_batching() {
    let server = MockServer::start().await;
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let record = seen.clone();
    Mock::given(method("POST"))
        .and(path(CREATE_TASKS))
        .respond_with(move |req: &Request| {
            record.lock().unwrap().push(Instant::now());
            echo_created(req).set_delay(Duration::from_millis(100))
        })
        .mount(&server)
        .await;
    let mut config = HubSpotConfig::new(&server.uri(), SecretString::from(TOKEN));
    config.calls_per_10s = 100;
    let crm = Arc::new(HubSpotCrm::new(config).unwrap());
    let started = Instant::now();
    let handles: Vec<_> = (0..300)
        .map(|i| {
            let crm = crm.clone();
            tokio::spawn(async move { crm.create_task(&task_with("501", &format!("B{i}"))).await })
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let calls = seen.lock().unwrap().len();
    assert!((3..=10).contains(&calls), "{calls} calls for 300 tasks");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A task's body is replaced with `PATCH /crm/v3/objects/tasks/{id}`
/// (`hs_task_body` only); a task deleted in HubSpot is a permanent failure.
#[tokio::test]
async fn a_task_body_is_updated() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/tasks/9001"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(
            json!({"properties": {"hs_task_body": "Next step: demo\nAlso asked: pricing"}}),
        ))
        .respond_with(json(
            200,
            json!({"id": "9001", "properties": {"hs_task_body": "Next step: demo\nAlso asked: pricing"},
                   "createdAt": "2026-11-25T10:00:00Z", "updatedAt": "2026-11-25T10:01:00Z", "archived": false})
            .to_string()
            .as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/tasks/404"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"}),
        ))
        .mount(&server)
        .await;
    let crm = crm(&server);
    crm.update_task(
        "9001",
        &TaskUpdate {
            body: Some("Next step: demo\nAlso asked: pricing".into()),
            priority: None,
        },
    )
    .await
    .unwrap();
    let body: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        body["properties"].as_object().map(|p| p.len()),
        Some(1),
        "only the body changes"
    );
    let gone = crm
        .update_task("404", &TaskUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(gone.retry(), Retry::Never, "{gone}");
}
