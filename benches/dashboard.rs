//! Dashboard cost: server time to render the list of 1,000 workflows (and
//! the failures by step of 100 more), and the weight of the page plus its
//! assets.
//!
//! `cargo bench --bench dashboard`

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use formlead::adapters::memory::RecordingQueue;
use formlead::core::ports::{Store, SystemClock};
use formlead_server::config::{Settings, Sources};
use tower::ServiceExt;

async fn get(router: &axum::Router, path: &str) -> (Duration, usize) {
    let t = Instant::now();
    let response = router
        .clone()
        .oneshot(
            // Without an operator token, operator routes answer loopback
            // hosts only.
            Request::get(path)
                .header("host", "127.0.0.1")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (t.elapsed(), bytes.len())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("dash.db").display());
    let env = vec![
        ("DATABASE_URL".to_owned(), url),
        ("FORMLEAD_BIND".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "FORMLEAD_SQLITE_SYNCHRONOUS".to_owned(),
            "normal".to_owned(),
        ),
    ];
    let settings =
        Settings::from_sources(Sources::load_from(None, env).expect("sources")).expect("settings");
    let running = formlead_server::server::start(settings, false)
        .await
        .expect("server");
    let state = running.app_state.clone();

    // 1,000 completed workflows.
    let store: Arc<dyn Store> = state.engine.ports().store.clone();
    let queue = Arc::new(RecordingQueue::new(Arc::new(SystemClock)));
    let engine = common::sandbox_engine(store.clone(), queue);
    let seeded = Instant::now();
    for i in 0..1000 {
        let ids = store
            .accept_submission(&common::submission("dash", i))
            .await
            .expect("accept");
        engine
            .process(formlead::core::ports::WorkflowJob {
                workflow_id: ids.workflow_id,
            })
            .await
            .expect("process");
    }
    // And 100 that failed (an invalid address: dead letters of step 1),
    // for the failures by step.
    for i in 0..100 {
        let body = format!(r#"{{"formSubmissionId":"dash-bad-{i}","email":"not-an-email-{i}"}}"#);
        let sub = formlead::core::domain::FormSubmission::from_webhook_body(
            body.as_bytes(),
            chrono::Utc::now(),
        )
        .expect("body");
        let ids = store.accept_submission(&sub).await.expect("accept");
        engine
            .process(formlead::core::ports::WorkflowJob {
                workflow_id: ids.workflow_id,
            })
            .await
            .expect("process");
    }
    println!(
        "seeded 1,000 completed and 100 failed workflows in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );

    let router = formlead_server::http::router(state);
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..20 {
        let (t, n) = get(&router, "/dashboard?limit=1000").await;
        times.push(t);
        size = n;
    }
    times.sort();
    println!(
        "GET /dashboard?limit=1000: p50 {}  p95 {}  ({} KB of HTML)",
        common::ms(common::percentile(&times, 0.5)),
        common::ms(common::percentile(&times, 0.95)),
        size / 1024
    );
    let (_, page) = get(&router, "/dashboard").await;
    let (_, css) = get(&router, "/dashboard/assets/app.css").await;
    let (_, js) = get(&router, "/dashboard/assets/app.js").await;
    println!(
        "default page (50 rows) + assets: {:.1} KB ({page} + {css} + {js} bytes)",
        (page + css + js) as f64 / 1024.0
    );
    running.shutdown().await.expect("shutdown");
}
