//! A store on either backend, an engine on it, and apalis workers for it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use formlead_adapters::sandbox::{SandboxCalendar, StaticAssets};
use formlead_adapters::sql::{
    ApalisWorkerConfig, PgStore, SqliteDurability, SqliteStore, run_postgres_workers,
    run_sqlite_workers,
};
use formlead_adapters::testing::TestKit;
use formlead_core::agents::TemplateWriter;
use formlead_core::domain::{FormSubmission, WorkflowId, WorkflowStatus};
use formlead_core::orchestrator::{Engine, EngineConfig, Ports, RetryPolicy};
use formlead_core::policy::GatedPolicy;
use formlead_core::ports::{
    CalendarPort, CrmPort, MailPort, Queue, Store, SystemClock, WorkflowFilter,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Clone)]
pub enum Db {
    Sqlite(Arc<SqliteStore>),
    Pg(Arc<PgStore>),
}

impl Db {
    pub async fn open(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Db::Sqlite(Arc::new(
                SqliteStore::connect_sqlite(url, SqliteDurability::Full, 8)
                    .await
                    .expect("sqlite"),
            ))
        } else {
            Db::Pg(Arc::new(
                PgStore::connect_postgres(url, 16).await.expect("postgres"),
            ))
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(s) => s.clone(),
            Db::Pg(s) => s.clone(),
        }
    }

    pub async fn dead_jobs(&self) -> u64 {
        match self {
            Db::Sqlite(s) => s.queue().dead().await.unwrap().unwrap_or(0),
            Db::Pg(s) => s.queue().dead().await.unwrap().unwrap_or(0),
        }
    }

    /// Deletes every queued job (to set up a delayed-job test).
    pub async fn clear_jobs(&self) {
        match self {
            Db::Sqlite(s) => {
                sqlx::query("DELETE FROM Jobs")
                    .execute(s.pool())
                    .await
                    .unwrap();
            }
            Db::Pg(s) => {
                sqlx::query("DELETE FROM apalis.jobs")
                    .execute(s.pool())
                    .await
                    .unwrap();
            }
        }
    }

    /// Finished jobs (done, failed or killed), and how many of them still
    /// name the worker that ran them in `lock_by`.
    pub async fn finished_jobs(&self) -> (i64, i64) {
        match self {
            Db::Sqlite(s) => sqlx::query_as(
                "SELECT COUNT(*), COUNT(lock_by) FROM Jobs WHERE status IN ('Done', 'Failed', 'Killed')",
            )
            .fetch_one(s.pool())
            .await
            .unwrap(),
            Db::Pg(s) => sqlx::query_as(
                "SELECT COUNT(*), COUNT(lock_by) FROM apalis.jobs WHERE status IN ('Done', 'Failed', 'Killed')",
            )
            .fetch_one(s.pool())
            .await
            .unwrap(),
        }
    }

    pub fn queue(&self) -> Arc<dyn formlead_core::ports::Queue> {
        match self {
            Db::Sqlite(s) => Arc::new(s.queue()),
            Db::Pg(s) => Arc::new(s.queue()),
        }
    }

    pub fn engine(
        &self,
        crm: Arc<dyn CrmPort>,
        mail: Arc<dyn MailPort>,
        calendar: Arc<dyn CalendarPort>,
        config: EngineConfig,
    ) -> Engine {
        Engine::new(
            Ports {
                store: self.store(),
                queue: self.queue(),
                crm,
                mail,
                calendar,
                assets: Arc::new(StaticAssets::sample()),
                policy: Arc::new(GatedPolicy::default()),
                writer: Arc::new(TemplateWriter::default()),
                clock: Arc::new(SystemClock),
            },
            config,
        )
    }

    /// Starts workers; drop or send on the returned sender to stop them.
    pub fn spawn_workers(
        &self,
        engine: Engine,
        config: ApalisWorkerConfig,
    ) -> (oneshot::Sender<()>, JoinHandle<()>) {
        let (tx, rx) = oneshot::channel::<()>();
        let stop = async move {
            let _ = rx.await;
        };
        let db = self.clone();
        let handle = tokio::spawn(async move {
            let r = match &db {
                Db::Sqlite(s) => run_sqlite_workers(s, engine, config, stop).await,
                Db::Pg(s) => run_postgres_workers(s, engine, config, stop).await,
            };
            r.expect("workers");
        });
        (tx, handle)
    }

    pub async fn submit(&self, n: usize, prefix: &str) -> Vec<WorkflowId> {
        let mut ids = Vec::new();
        for i in 0..n {
            let body = TestKit::body(
                &format!("{prefix}-{i}"),
                &format!("{prefix}{i}@acme.example"),
                "Ann",
                "Acme",
                "A demo please",
            );
            let sub =
                FormSubmission::from_webhook_body(body.as_bytes(), chrono::Utc::now()).unwrap();
            ids.push(
                self.store()
                    .accept_submission(&sub)
                    .await
                    .unwrap()
                    .workflow_id,
            );
        }
        ids
    }

    pub async fn status(&self, id: WorkflowId) -> WorkflowStatus {
        self.store().get_workflow(id).await.unwrap().unwrap().status
    }

    pub async fn count(&self, status: WorkflowStatus) -> u64 {
        self.store()
            .list_workflows(&WorkflowFilter {
                status: Some(status),
                limit: 1,
                ..WorkflowFilter::default()
            })
            .await
            .unwrap()
            .total
    }

    /// Waits until `cond` holds (checked every 100 ms) or panics after `limit`.
    pub async fn wait_for<F, Fut>(&self, limit: Duration, what: &str, cond: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = std::time::Instant::now();
        while !cond().await {
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Fast settings for tests: short heartbeats, leases and sweeps.
pub fn fast_worker_config(name: &str, concurrency: usize) -> ApalisWorkerConfig {
    ApalisWorkerConfig {
        name: name.into(),
        concurrency,
        poll_interval: Duration::from_millis(100),
        heartbeat_interval: Duration::from_secs(1),
        missed_heartbeats: 2,
        orphan_sweep_every: Duration::from_millis(500),
        shutdown_timeout: Duration::from_secs(5),
        planner_stats_every: Duration::from_millis(300),
    }
}

pub fn fast_engine_config(worker: &str) -> EngineConfig {
    EngineConfig {
        worker_id: worker.into(),
        lease: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::from_secs(1),
        },
        ..EngineConfig::default()
    }
}

pub fn sandbox_calendar() -> Arc<SandboxCalendar> {
    Arc::new(SandboxCalendar::new())
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("formlead.db").display())
}
