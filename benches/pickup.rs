//! Enqueue-to-pickup latency: from the commit of an accepted submission to
//! a worker starting its job, with the queue otherwise idle. SQLite workers
//! are woken in-process (polling every 200 ms covers other writers);
//! PostgreSQL adds LISTEN/NOTIFY.
//!
//! `cargo bench --bench pickup` (FORMLEAD_BENCH_POSTGRES_URL: an empty
//! PostgreSQL database — jobs already queued there would be served first)

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use formlead::adapters::sql::{
    ApalisWorkerConfig, PgStore, SqliteDurability, SqliteStore, run_postgres_workers,
    run_sqlite_workers,
};
use formlead::core::domain::WorkflowId;
use formlead::core::orchestrator::{Engine, EngineObserver};
use formlead::core::ports::{Queue, Store};

#[derive(Default)]
struct Started(Mutex<HashMap<WorkflowId, Instant>>);

impl EngineObserver for Started {
    fn job_started(&self, workflow: WorkflowId) {
        self.0
            .lock()
            .expect("lock")
            .entry(workflow)
            .or_insert_with(Instant::now);
    }
}

fn engine(store: Arc<dyn Store>, queue: Arc<dyn Queue>, started: Arc<Started>) -> Engine {
    common::sandbox_engine(store, queue).with_observer(started)
}

async fn measure(store: Arc<dyn Store>, started: Arc<Started>, label: &str) {
    let n = 200;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut accepted = Vec::with_capacity(n);
    for i in 0..n {
        let ids = store
            .accept_submission(&common::submission(&tag, i))
            .await
            .expect("accept");
        accepted.push((ids.workflow_id, Instant::now()));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = started.0.lock().expect("lock").clone();
    let mut lat: Vec<Duration> = accepted
        .iter()
        .filter_map(|(id, at)| seen.get(id).map(|s| s.saturating_duration_since(*at)))
        .collect();
    lat.sort();
    println!(
        "{label:<10} {} of {n} picked up   p50 {:>9}  p99 {:>9}  max {:>9}",
        lat.len(),
        common::ms(common::percentile(&lat, 0.5)),
        common::ms(common::percentile(&lat, 0.99)),
        common::ms(lat.last().copied().unwrap_or_default())
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = ApalisWorkerConfig {
        concurrency: 4,
        ..ApalisWorkerConfig::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("pickup.db").display());
    let store = Arc::new(
        SqliteStore::connect_sqlite(&url, SqliteDurability::Full, 16)
            .await
            .expect("sqlite"),
    );
    let started = Arc::new(Started::default());
    let e = engine(store.clone(), Arc::new(store.queue()), started.clone());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let s = store.clone();
    let c = config.clone();
    let workers = tokio::spawn(async move {
        run_sqlite_workers(&s, e, c, async move {
            let _ = rx.await;
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    measure(store, started, "sqlite").await;
    let _ = stop.send(());
    let _ = workers.await;

    let Some(url) = common::postgres_url() else {
        println!("postgres: skipped (set FORMLEAD_BENCH_POSTGRES_URL)");
        return;
    };
    let store = Arc::new(PgStore::connect_postgres(&url, 16).await.expect("postgres"));
    let started = Arc::new(Started::default());
    let e = engine(store.clone(), Arc::new(store.queue()), started.clone());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let s = store.clone();
    let workers = tokio::spawn(async move {
        run_postgres_workers(&s, e, config, async move {
            let _ = rx.await;
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    measure(store, started, "postgres").await;
    let _ = stop.send(());
    let _ = workers.await;
}
