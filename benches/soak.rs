//! SQLite soak: the embedded default (SQLite + in-process apalis workers)
//! keeps taking new jobs for a long run. apalis-sqlite has an open report
//! of jobs stalling in long-running servers; this shows whether we are
//! affected. One lead every 200 ms for FORMLEAD_SOAK_SECS (default 600 s);
//! each minute prints how many completed and the worst accept→done time.
//!
//! `cargo bench --bench soak`

mod common;

use std::time::{Duration, Instant};

use formlead::core::domain::WorkflowStatus;
use formlead::core::ports::WorkflowFilter;
use formlead_server::config::{Settings, Sources};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: u64 = std::env::var("FORMLEAD_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = vec![
        (
            "DATABASE_URL".to_owned(),
            format!("sqlite://{}", dir.path().join("soak.db").display()),
        ),
        ("FORMLEAD_BIND".to_owned(), "127.0.0.1:0".to_owned()),
    ];
    let settings =
        Settings::from_sources(Sources::load_from(None, env).expect("sources")).expect("settings");
    let running = formlead_server::server::start(settings, true)
        .await
        .expect("server");
    let engine = running.app_state.engine.clone();
    let store = engine.ports().store.clone();
    let started = Instant::now();
    let mut submitted = 0usize;
    let mut pending: Vec<(formlead::core::domain::WorkflowId, Instant)> = Vec::new();
    let mut worst_this_minute = Duration::ZERO;
    let mut worst = Duration::ZERO;
    let mut next_report = Duration::from_secs(60);
    println!("soak: one lead every 200 ms for {secs} s on SQLite with in-process workers");
    while started.elapsed() < Duration::from_secs(secs) {
        let ids = engine
            .accept(&common::submission("soak", submitted))
            .await
            .expect("accept");
        let formlead::core::orchestrator::AcceptOutcome::Accepted(ids) = ids else {
            panic!("duplicate")
        };
        pending.push((ids.workflow_id, Instant::now()));
        submitted += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Check which are done.
        let mut still = Vec::new();
        for (id, at) in pending.drain(..) {
            let w = store.get_workflow(id).await.expect("get").expect("exists");
            if w.status == WorkflowStatus::Completed {
                let took = w.completed_at.expect("done") - w.created_at;
                let took = took.to_std().unwrap_or_default();
                worst_this_minute = worst_this_minute.max(took);
            } else {
                if at.elapsed() > Duration::from_secs(30) {
                    panic!(
                        "workflow {id} not completed 30 s after it was accepted: the queue stalled ({})",
                        w.status
                    );
                }
                still.push((id, at));
            }
        }
        pending = still;
        if started.elapsed() >= next_report {
            let done = store
                .list_workflows(&WorkflowFilter {
                    status: Some(WorkflowStatus::Completed),
                    limit: 1,
                    ..WorkflowFilter::default()
                })
                .await
                .expect("list")
                .total;
            println!(
                "{:>4} s: {submitted} submitted, {done} completed, worst accept→completed this minute {}",
                next_report.as_secs(),
                common::ms(worst_this_minute)
            );
            worst = worst.max(worst_this_minute);
            worst_this_minute = Duration::ZERO;
            next_report += Duration::from_secs(60);
        }
    }
    let wait = Instant::now();
    while !pending.is_empty() && wait.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut still = Vec::new();
        for (id, at) in pending.drain(..) {
            if store
                .get_workflow(id)
                .await
                .expect("get")
                .expect("exists")
                .status
                != WorkflowStatus::Completed
            {
                still.push((id, at));
            }
        }
        pending = still;
    }
    assert!(
        pending.is_empty(),
        "{} workflows never completed",
        pending.len()
    );
    println!(
        "soak OK: {submitted} leads over {:.0} s, all completed; worst accept→completed {}",
        started.elapsed().as_secs_f64(),
        common::ms(worst.max(worst_this_minute))
    );
    running.shutdown().await.expect("shutdown");
}
