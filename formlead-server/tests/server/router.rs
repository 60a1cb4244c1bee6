//! The router over the in-memory store and the sandboxes, without a socket
//! or a database: requests go straight to it with `tower::ServiceExt::oneshot`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use chrono::Utc;
use formlead_adapters::embedded::{Embedded, EngineBuilder};
use formlead_core::domain::WorkflowStatus;
use formlead_core::orchestrator::ProcessOutcome;
use formlead_core::ports::WorkflowFilter;
use formlead_core::signature::sign_v3;
use formlead_server::http::{AppState, router};
use tower::ServiceExt;

use crate::helpers::{PATH, SECRET, settings};

const HOST: &str = "127.0.0.1:8000";

struct InMemory {
    embedded: Embedded,
    router: Router,
    _dir: tempfile::TempDir,
}

fn in_memory(extra: &[(&str, &str)]) -> InMemory {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Arc::new(settings(dir.path(), extra));
    let embedded = EngineBuilder::new().build();
    let state = AppState::new(embedded.engine.clone(), settings, "memory", Vec::new());
    InMemory {
        router: router(state),
        embedded,
        _dir: dir,
    }
}

/// A request from a loopback client, as the server's connection loop
/// would hand it to the router.
fn from_loopback(mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    req
}

fn signed_webhook(body: &str) -> Request<Body> {
    let ts = Utc::now().timestamp_millis();
    let url = format!("http://{HOST}{PATH}");
    from_loopback(
        Request::post(PATH)
            .header("host", HOST)
            .header("content-type", "application/json")
            .header(
                "x-hubspot-signature-v3",
                sign_v3(SECRET.as_bytes(), "POST", &url, body.as_bytes(), ts),
            )
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(Body::from(body.to_owned()))
            .expect("request"),
    )
}

impl InMemory {
    /// The router's answer to `req`.
    async fn call(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.expect("infallible")
    }

    /// GET `path` from a loopback client.
    async fn get(&self, path: &str) -> Response<Body> {
        let req = Request::get(path)
            .header("host", HOST)
            .body(Body::empty())
            .expect("request");
        self.call(from_loopback(req)).await
    }
}

async fn json(res: Response<Body>) -> serde_json::Value {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("JSON body")
}

const LEAD: &str = r#"{"formSubmissionId": "router-1", "email": "ana@acme.example",
    "firstname": "Ana", "company": "Acme", "message": "Can we book a demo?"}"#;

#[tokio::test]
async fn a_signed_webhook_is_stored_and_its_workflow_runs() {
    let app = in_memory(&[]);
    let res = app.call(signed_webhook(LEAD)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body = json(res).await;
    assert_eq!(body["status"], "accepted", "{body}");

    let store = &app.embedded.ports.store;
    let accepted = store.find_submission("router-1").await.unwrap();
    assert!(accepted.is_some(), "the submission is in the store");
    assert_eq!(
        app.embedded.run_due().await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );

    // The same delivery again is a duplicate, not a second workflow.
    let again = app.call(signed_webhook(LEAD)).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(json(again).await["status"], "duplicate");
    let page = store
        .list_workflows(&WorkflowFilter::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1);
}

#[tokio::test]
async fn an_unsigned_webhook_is_refused_and_nothing_is_stored() {
    let app = in_memory(&[]);
    let req = from_loopback(
        Request::post(PATH)
            .header("host", HOST)
            .header("content-type", "application/json")
            .body(Body::from(LEAD))
            .unwrap(),
    );
    let res = app.call(req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let store = &app.embedded.ports.store;
    assert!(store.find_submission("router-1").await.unwrap().is_none());
}

#[tokio::test]
async fn readiness_names_the_store_and_metrics_read_the_queue_port() {
    let app = in_memory(&[]);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        json(res).await,
        serde_json::json!({"status": "ready", "store": "memory"})
    );

    // Seven jobs wait on the (recording) queue: the depth gauge says so.
    // (The gauges are process-wide and other tests' servers set them too,
    // so a scrape is retried until it is this app's.)
    for i in 0..7 {
        let body = LEAD.replace("router-1", &format!("router-depth-{i}"));
        let res = app.call(signed_webhook(&body)).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let mut last = String::new();
    for _ in 0..50 {
        let res = app.get("/metrics").await;
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        last = String::from_utf8_lossy(&bytes).into_owned();
        if last.lines().any(|l| l == "formlead_queue_depth 7") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no scrape showed a queue depth of 7:\n{last}");
}

#[tokio::test]
async fn the_operator_api_lists_what_the_engine_stored() {
    let app = in_memory(&[]);
    let res = app.call(signed_webhook(LEAD)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.embedded.run_due().await.unwrap();
    let res = app.get("/api/dashboard/drafts").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json(res).await;
    let drafts = body["drafts"].as_array().expect("drafts");
    assert_eq!(drafts.len(), 1, "{body}");
    assert_eq!(drafts[0]["to_email"], "ana@acme.example");
}
