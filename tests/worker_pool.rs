#![allow(clippy::unwrap_used)] // test helpers may panic
//! The engine driven by the tokio worker pool over the in-memory queue:
//! many submissions in, every workflow completed, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use formlead::adapters::memory::{MemoryQueue, MemoryStore};
use formlead::adapters::sandbox::Fault;
use formlead::adapters::sandbox::{SandboxCalendar, SandboxCrm, SandboxMail, StaticAssets};
use formlead::adapters::worker::{WorkerPoolConfig, run_worker_pool};
use formlead::core::agents::TemplateWriter;
use formlead::core::domain::{FormSubmission, WorkflowStatus};
use formlead::core::orchestrator::{AcceptOutcome, Engine, EngineConfig, Ports, RetryPolicy};
use formlead::core::policy::GatedPolicy;
use formlead::core::ports::{Store, SystemClock, WorkflowFilter};

struct Rig {
    engine: Engine,
    queue: Arc<MemoryQueue>,
    store: Arc<MemoryStore>,
    crm: Arc<SandboxCrm>,
    mail: Arc<SandboxMail>,
}

fn rig() -> Rig {
    let queue = Arc::new(MemoryQueue::new());
    let store = Arc::new(MemoryStore::new(queue.clone()));
    let policy = Arc::new(GatedPolicy::default());
    let crm = Arc::new(SandboxCrm::new());
    let mail = Arc::new(SandboxMail::new(policy.clone()));
    let ports = Ports {
        store: store.clone(),
        queue: queue.clone(),
        crm: crm.clone(),
        mail: mail.clone(),
        calendar: Arc::new(SandboxCalendar::new()),
        assets: Arc::new(StaticAssets::sample()),
        policy,
        writer: Arc::new(TemplateWriter::default()),
        clock: Arc::new(SystemClock),
    };
    let config = EngineConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(50),
        },
        ..EngineConfig::default()
    };
    Rig {
        engine: Engine::new(ports, config),
        queue,
        store,
        crm,
        mail,
    }
}

async fn submit(engine: &Engine, n: usize) {
    for i in 0..n {
        let body = format!(
            r#"{{"formSubmissionId":"sub-{i}","email":"lead{i}@example.com","firstname":"Lead{i}","company":"Co {i}","message":"We need pricing for {i} seats"}}"#
        );
        let s = FormSubmission::from_webhook_body(body.as_bytes(), chrono::Utc::now()).unwrap();
        assert!(matches!(
            engine.accept(&s).await.unwrap(),
            AcceptOutcome::Accepted(_)
        ));
    }
}

async fn wait_for_completed(store: &MemoryStore, n: u64) {
    for _ in 0..500 {
        let page = store
            .list_workflows(&WorkflowFilter {
                status: Some(WorkflowStatus::Completed),
                ..WorkflowFilter::default()
            })
            .await
            .unwrap();
        if page.total == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("workflows did not complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_completes_every_workflow_and_stops_cleanly() {
    let r = rig();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pool = tokio::spawn(run_worker_pool(
        r.engine.clone(),
        r.queue.clone(),
        WorkerPoolConfig {
            concurrency: 8,
            ..WorkerPoolConfig::default()
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    submit(&r.engine, 100).await;
    wait_for_completed(&r.store, 100).await;
    assert_eq!(r.mail.drafts().len(), 100);
    assert_eq!(r.crm.tasks().len(), 100);
    assert_eq!(r.crm.notes().len(), 100);
    let _ = stop_tx.send(());
    let report = pool.await.unwrap();
    assert_eq!(report.processed, 100);
    assert_eq!(report.abandoned, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_after_their_delay() {
    let r = rig();
    r.crm.faults().inject_n("create_task", Fault::Transient, 2);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pool = tokio::spawn(run_worker_pool(
        r.engine.clone(),
        r.queue.clone(),
        WorkerPoolConfig::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    submit(&r.engine, 1).await;
    wait_for_completed(&r.store, 1).await;
    assert_eq!(r.crm.tasks().len(), 1);
    let wf = &r
        .store
        .list_workflows(&WorkflowFilter::default())
        .await
        .unwrap()
        .items[0];
    assert_eq!(r.store.errors_for_workflow(wf.id).await.unwrap().len(), 2);
    let _ = stop_tx.send(());
    pool.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_jobs() {
    let r = rig();
    r.crm
        .faults()
        .set_latency("create_note", Duration::from_millis(300));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pool = tokio::spawn(run_worker_pool(
        r.engine.clone(),
        r.queue.clone(),
        WorkerPoolConfig::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    submit(&r.engine, 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = stop_tx.send(());
    let report = pool.await.unwrap();
    assert_eq!(
        report.processed, 3,
        "in-flight jobs finished before the pool stopped"
    );
    assert_eq!(r.crm.notes().len(), 3);
}
