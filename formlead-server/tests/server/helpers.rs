//! `spawn_app`: the whole server in-process on port 0 with its own SQLite
//! file; plus signing helpers and a client.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use formlead_core::ports::Store;
use formlead_core::signature::{sign_v1, sign_v2, sign_v3};
use formlead_server::config::{Settings, Sources};
use formlead_server::server::{self, Running};

pub const SECRET: &str = "test-client-secret-0123";
pub const PATH: &str = "/api/webhooks/hubspot/forms";

pub struct TestApp {
    pub base: String,
    pub running: Option<Running>,
    pub client: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

pub fn settings(dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}", dir.join("formlead.db").display()),
        ),
        ("FORMLEAD_BIND".into(), "127.0.0.1:0".into()),
        ("HUBSPOT_WEBHOOK_SECRET".into(), SECRET.into()),
        ("FORMLEAD_RETRY_BASE_MS".into(), "200".into()),
        ("FORMLEAD_ORPHAN_TIMEOUT_MS".into(), "5000".into()),
        ("FORMLEAD_SHUTDOWN_TIMEOUT_MS".into(), "5000".into()),
    ];
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push(((*k).into(), (*v).into()));
    }
    Settings::from_sources(Sources::load_from(None, env).expect("sources")).expect("settings")
}

pub async fn spawn_app(extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = settings(dir.path(), extra);
    let running = server::start(settings, true).await.expect("start server");
    TestApp {
        base: format!("http://{}", running.addr),
        running: Some(running),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        _dir: dir,
    }
}

impl TestApp {
    pub fn store(&self) -> Arc<dyn Store> {
        self.running
            .as_ref()
            .expect("running")
            .app_state
            .engine
            .ports()
            .store
            .clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Posts `body` signed with v3 for the URL `signed_url` (default: the
    /// URL actually called).
    pub async fn post_signed(&self, body: &str) -> reqwest::Response {
        let url = self.url(PATH);
        let ts = Utc::now().timestamp_millis();
        self.client
            .post(&url)
            .header("content-type", "application/json")
            .header(
                "x-hubspot-signature-v3",
                sign_v3(SECRET.as_bytes(), "POST", &url, body.as_bytes(), ts),
            )
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(body.to_owned())
            .send()
            .await
            .expect("request")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        req.send().await.expect("request")
    }

    pub async fn workflow_count(&self) -> u64 {
        self.store()
            .list_workflows(&Default::default())
            .await
            .expect("list")
            .total
    }

    /// Waits until `n` workflows have `status` (via the store).
    pub async fn wait_for_status(
        &self,
        status: formlead_core::domain::WorkflowStatus,
        n: u64,
        limit: Duration,
    ) {
        let start = std::time::Instant::now();
        loop {
            let page = self
                .store()
                .list_workflows(&formlead_core::ports::WorkflowFilter {
                    status: Some(status),
                    limit: 1,
                    ..Default::default()
                })
                .await
                .expect("list");
            if page.total >= n {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "only {} of {n} workflows reached {status} within {limit:?}",
                page.total
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("shutdown");
        }
    }
}

pub fn v1_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("x-hubspot-signature", sign_v1(SECRET.as_bytes(), body)),
        ("x-hubspot-signature-version", "v1".into()),
    ]
}

pub fn v2_headers(url: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        (
            "x-hubspot-signature",
            sign_v2(SECRET.as_bytes(), "POST", url, body),
        ),
        ("x-hubspot-signature-version", "v2".into()),
    ]
}

pub fn v3_headers(url: &str, body: &[u8], ts: i64) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        (
            "x-hubspot-signature-v3",
            sign_v3(SECRET.as_bytes(), "POST", url, body, ts),
        ),
        ("x-hubspot-request-timestamp", ts.to_string()),
    ]
}

pub fn body(id: &str, email: &str) -> String {
    serde_json::json!({
        "portalId": 12345, "formId": "abc-123", "formSubmissionId": id, "submittedAt": 1_769_162_400_000_i64,
        "pageUrl": "https://example.com/contact",
        "fields": [
            {"name": "email", "value": email}, {"name": "firstname", "value": "John"},
            {"name": "lastname", "value": "Doe"}, {"name": "company", "value": "Acme"},
            {"name": "message", "value": "We need a demo"}
        ]
    })
    .to_string()
}
