//! Two processes on one PostgreSQL database (`serve` and `worker`) share
//! one HubSpot budget: against a fake HubSpot that answers 429 to every
//! call past its limit, a burst of leads is drafted without a single 429.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use formlead_core::signature::sign_v3;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{PATH, SECRET, body};

/// The fake's limit: calls per rolling 10 s (HubSpot's is 100 for a
/// Starter app; lower here, so the test is short and the budget matters).
const LIMIT: usize = 40;

/// A fake HubSpot: contact reads (all new), upserts and batch creates,
/// answering 429 past `LIMIT` calls in any 10 s, counting both.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Instant>>,
    rate_limited: Mutex<u32>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Fake {
    fn answer(&self, req: &Request) -> ResponseTemplate {
        {
            let now = Instant::now();
            let mut calls = self.calls.lock().unwrap();
            let recent = calls
                .iter()
                .filter(|t| now.duration_since(**t) < Duration::from_secs(10))
                .count();
            if recent >= LIMIT {
                *self.rate_limited.lock().unwrap() += 1;
                return ResponseTemplate::new(429).set_body_json(json!({
                    "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"
                }));
            }
            calls.push(now);
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
        let p = req.url.path();
        let results: Vec<Value> =
            if p.ends_with("/contacts/batch/read") {
                Vec::new()
            } else {
                inputs
                .iter()
                .map(|input| {
                    let id = 500 + self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    json!({"id": id.to_string(), "new": true, "properties": input["properties"]})
                })
                .collect()
            };
        ResponseTemplate::new(200)
            .set_body_json(json!({"status": "COMPLETE", "results": results}))
            .set_delay(Duration::from_millis(50))
    }
}

async fn fresh_database() -> Option<String> {
    let Ok(admin) = std::env::var("FORMLEAD_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("FORMLEAD_REQUIRE_POSTGRES").is_err(),
            "FORMLEAD_REQUIRE_POSTGRES is set but FORMLEAD_TEST_POSTGRES_URL is not"
        );
        eprintln!("SKIPPED (PostgreSQL): set FORMLEAD_TEST_POSTGRES_URL to run");
        return None;
    };
    let name = format!(
        "formlead_test_{}_{}",
        Utc::now().timestamp(),
        uuid::Uuid::new_v4().simple()
    );
    let pool = sqlx::PgPool::connect(&admin).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&pool)
        .await
        .expect("create database");
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
    Some(format!("{base}/{name}"))
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_formlead"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Process(cmd.spawn().expect("start formlead"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_hubspot_budget() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let fake = Arc::new(Fake::default());
    let server = MockServer::start().await;
    let f = fake.clone();
    Mock::given(method("POST"))
        .and(path_regex("^/crm/"))
        .respond_with(move |req: &Request| f.answer(req))
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        ("DATABASE_URL", database),
        ("FORMLEAD_BIND", format!("127.0.0.1:{port}")),
        ("HUBSPOT_WEBHOOK_SECRET", SECRET.to_owned()),
        (
            "HUBSPOT_ACCESS_TOKEN",
            "pat-na1-shared-budget-test".to_owned(),
        ),
        ("HUBSPOT_API_BASE", server.uri()),
        ("HUBSPOT_RATE_LIMIT_PER_10S", LIMIT.to_string()),
        ("FORMLEAD_WORKERS", "8".to_owned()),
        ("FORMLEAD_RETRY_BASE_MS", "200".to_owned()),
    ];
    let _serve = start(dir.path(), &["serve"], &env);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _worker = start(dir.path(), &["worker"], &env);

    let leads = 60;
    let url = format!("{base}{PATH}");
    for i in 0..leads {
        let lead = body(&format!("budget-{i}"), &format!("lead{i}@acme.example"));
        let ts = Utc::now().timestamp_millis();
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .header(
                "x-hubspot-signature-v3",
                sign_v3(SECRET.as_bytes(), "POST", &url, lead.as_bytes(), ts),
            )
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(lead)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let started = Instant::now();
    loop {
        let v: Value = client
            .get(format!(
                "{base}/api/dashboard/workflows?status=completed&limit=1"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["total"].as_u64() == Some(leads) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {} of {leads} completed; 429s: {}",
            v["total"],
            fake.rate_limited.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let calls = fake.calls.lock().unwrap().len();
    assert_eq!(*fake.rate_limited.lock().unwrap(), 0, "429s over the burst");
    assert!(
        calls < leads as usize * 4,
        "{calls} HubSpot calls for {leads} leads: the burst was batched"
    );
}
