//! The worker pool: takes jobs from a [`JobSource`], runs them through the
//! engine with bounded concurrency, sweeps orphans, and shuts down gracefully.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use formlead_core::orchestrator::{Engine, ProcessOutcome};
use formlead_core::ports::WorkflowJob;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

/// Where a worker pool gets its jobs.
#[async_trait]
pub trait JobSource: Send + Sync {
    /// The next due job; waits for one. `None` means the source is closed.
    async fn next_job(&self) -> Option<WorkflowJob>;

    /// Stops handing out jobs (pending `next_job` calls return `None`).
    fn stop(&self);
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct WorkerPoolConfig {
    /// Jobs processed at the same time (`FORMLEAD_WORKERS`).
    pub concurrency: usize,
    /// How often to look for workflows whose worker died.
    pub orphan_sweep_every: Duration,
    /// On shutdown, how long in-flight jobs may take before they are
    /// abandoned (their leases expire and another worker resumes them).
    pub drain_timeout: Duration,
    /// Delay before a job whose processing hit a store error is retried.
    pub store_error_backoff: Duration,
}

impl Default for WorkerPoolConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            orphan_sweep_every: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            store_error_backoff: Duration::from_secs(5),
        }
    }
}

/// Counts of what a pool did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolReport {
    /// Jobs run to an outcome.
    pub processed: u64,
    /// Jobs whose run failed on the store (requeued).
    pub store_errors: u64,
    /// In-flight jobs abandoned at the drain timeout.
    pub abandoned: u64,
}

/// Runs `engine` over `source` until `shutdown` resolves, then stops taking
/// jobs and waits up to `drain_timeout` for the in-flight ones.
pub async fn run_worker_pool(
    engine: Engine,
    source: Arc<dyn JobSource>,
    config: WorkerPoolConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> PoolReport {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks: JoinSet<Result<ProcessOutcome, ()>> = JoinSet::new();
    let mut report = PoolReport::default();
    let mut sweep = tokio::time::interval(config.orphan_sweep_every);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    info!(concurrency = config.concurrency, worker_id = %engine.config().worker_id, "worker pool started");

    loop {
        // Wait for a free slot first so a job is only taken when it can run.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let job = tokio::select! {
            () = &mut shutdown => break,
            _ = sweep.tick() => {
                engine.sweep().await;
                drop(permit);
                continue;
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                count(&mut report, done);
                drop(permit);
                continue;
            }
            job = source.next_job() => match job { Some(j) => j, None => break },
        };
        let engine = engine.clone();
        let backoff = config.store_error_backoff;
        tasks.spawn(async move {
            let _permit = permit;
            match engine.process(job).await {
                Ok(outcome) => Ok(outcome),
                Err(e) => {
                    error!(workflow_id = %job.workflow_id, error = %e, "store error while processing; job retried later");
                    let queue = engine.ports().queue.clone();
                    if let Err(qe) = queue.enqueue(job, backoff).await {
                        warn!(error = %qe, "could not re-queue; the orphan sweep will recover the workflow");
                    }
                    Err(())
                }
            }
        });
    }

    source.stop();
    info!(
        in_flight = tasks.len(),
        "worker pool stopping; draining in-flight jobs"
    );
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while let Some(done) = tasks.join_next().await {
            count(&mut report, done);
        }
    })
    .await;
    if drained.is_err() {
        report.abandoned = tasks.len() as u64;
        warn!(
            abandoned = report.abandoned,
            "drain timeout; abandoned jobs resume after their lease expires"
        );
        tasks.abort_all();
    }
    info!(processed = report.processed, "worker pool stopped");
    report
}

fn count(
    report: &mut PoolReport,
    done: Result<Result<ProcessOutcome, ()>, tokio::task::JoinError>,
) {
    match done {
        Ok(Ok(_)) => report.processed += 1,
        Ok(Err(())) => report.store_errors += 1,
        Err(e) => error!(error = %e, "worker task panicked"),
    }
}
