//! apalis workers that run the engine: one handler for both backends, a
//! backend-specific storage, and the engine's orphan sweep beside them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{AbortError, BoxDynError, Data, Monitor, WorkerBuilder, WorkerBuilderExt};
use formlead_core::orchestrator::{Engine, ProcessOutcome};
use formlead_core::ports::WorkflowJob;
use tracing::{info, warn};

use super::drain::{Admit, Drain};

/// Worker settings.
#[derive(Debug, Clone)]
pub struct ApalisWorkerConfig {
    /// Worker name prefix; a process-unique suffix is added (apalis refuses
    /// to register a name it saw alive within the heartbeat interval).
    pub name: String,
    /// Jobs processed at the same time (`FORMLEAD_WORKERS`).
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs (delayed retries).
    pub poll_interval: Duration,
    /// apalis heartbeat; a worker silent for `heartbeat × missed_heartbeats`
    /// is dead and its jobs are re-queued by the others.
    pub heartbeat_interval: Duration,
    /// Heartbeats a worker may miss before its jobs count as orphaned.
    pub missed_heartbeats: usize,
    /// How often to re-queue workflows whose lease expired.
    pub orphan_sweep_every: Duration,
    /// On shutdown, how long in-flight jobs may take.
    pub shutdown_timeout: Duration,
    /// SQLite: how often to refresh the query planner's statistics (see
    /// `planner_stats.rs`; usually a no-op).
    pub planner_stats_every: Duration,
}

impl Default for ApalisWorkerConfig {
    fn default() -> Self {
        Self {
            name: "formlead".into(),
            concurrency: 4,
            poll_interval: Duration::from_millis(200),
            heartbeat_interval: Duration::from_secs(10),
            missed_heartbeats: 3,
            orphan_sweep_every: Duration::from_secs(15),
            shutdown_timeout: Duration::from_secs(30),
            planner_stats_every: Duration::from_secs(60),
        }
    }
}

impl ApalisWorkerConfig {
    /// Jobs fetched per query: enough to fill every free worker at once.
    fn fetch_batch(&self) -> usize {
        self.concurrency.clamp(10, 256)
    }

    /// `name` plus host, pid and a random suffix.
    pub fn unique_name(&self) -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        format!(
            "{}-{host}-{}-{}",
            self.name,
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    }
}

/// The workers stopped on an error (apalis' monitor failed); the cause is
/// the `source`.
#[derive(Debug, thiserror::Error)]
#[error("the workers stopped on an error")]
pub struct WorkerError(#[source] pub Box<dyn std::error::Error + Send + Sync + 'static>);

/// A job handed over while the workers stop is put back to run this much
/// later: past the stop, so the stopping workers do not fetch it again.
const PUT_BACK_DELAY: Duration = Duration::from_secs(2);
/// Longest a stopping worker tries to put one job back before handing it
/// back to apalis instead.
const PUT_BACK_TIMEOUT: Duration = Duration::from_secs(2);

/// The job handler: run the workflow; a dead-lettered workflow ends its job
/// in apalis' dead state (`Killed`); a store failure makes apalis retry the
/// job. While the workers stop, no new run starts (see `drain.rs`).
async fn handle(
    job: WorkflowJob,
    engine: Data<Engine>,
    drain: Data<Arc<Drain>>,
) -> Result<(), BoxDynError> {
    let (admit, _busy) = drain.admit();
    match admit {
        Admit::Run => {}
        Admit::PutBack => {
            return match tokio::time::timeout(
                PUT_BACK_TIMEOUT,
                engine.put_back(job, PUT_BACK_DELAY),
            )
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Box::new(e)),
                Err(_) => Err("the workers are stopping and the job could not be put back in time; it is retried".into()),
            };
        }
        Admit::Refuse => {
            return Err("the workers are stopping; the job is retried by the next worker".into());
        }
    }
    match engine.process(job).await {
        Ok(ProcessOutcome::DeadLettered { error, .. }) => Err(AbortError::new(error).into()),
        Ok(_) => Ok(()),
        Err(e) => Err(Box::new(e)),
    }
}

/// Re-queues orphaned workflows every `every` until `stop` resolves.
async fn sweep_orphans(engine: Engine, every: Duration, stop: tokio::sync::watch::Receiver<bool>) {
    let mut stop = stop;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => engine.sweep().await,
            _ = stop.changed() => return,
        }
    }
}

/// Counter of worker restarts after the queue failed under them.
pub const WORKER_RESTARTS_METRIC: &str = "formlead_worker_restarts_total";

/// The first pause before restarting workers that stopped on an error;
/// it doubles up to [`RESTART_MAX`] while they keep failing.
const RESTART_MIN: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(30);
/// Workers that ran this long before stopping start again from [`RESTART_MIN`].
const RESTART_RESET_AFTER: Duration = Duration::from_secs(60);

/// The pause before the next restart, given the last one and how long the
/// workers ran.
fn next_restart_pause(last: Duration, ran: Duration) -> Duration {
    if ran >= RESTART_RESET_AFTER {
        RESTART_MIN
    } else {
        (last * 2).clamp(RESTART_MIN, RESTART_MAX)
    }
}

/// Resolves once `rx` has seen `true` (or its sender is gone).
async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs one apalis monitor after another until `$shutdown` resolves: when
/// the queue fails under the workers (apalis ends a worker whose job poll
/// fails, e.g. on a full disk), they are started again after a pause
/// instead of leaving the process without workers.
macro_rules! run_monitor {
    ($storage:expr, $engine:expr, $config:expr, $shutdown:expr) => {{
        let config = $config;
        let engine: Engine = $engine;
        let storage = $storage;
        let shutdown = $shutdown;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let sweeper = tokio::spawn(sweep_orphans(engine.clone(), config.orphan_sweep_every, stop_rx.clone()));
        let signal = tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let concurrency = config.concurrency.max(1);
        let mut pause = Duration::ZERO;
        let result = loop {
            let name = config.unique_name();
            info!(worker = %name, concurrency, "apalis worker starting");
            let started = std::time::Instant::now();
            let releasing = engine.clone();
            let (storage, engine) = (storage.clone(), engine.clone());
            let stop = stopped(stop_rx.clone());
            let timeout = config.shutdown_timeout;
            let drain = Arc::new(Drain::default());
            let (stopping, terminating) = (drain.clone(), drain.clone());
            let run = Monitor::new()
                .register(move |_| {
                    WorkerBuilder::new(name.as_str())
                        .backend(storage.clone())
                        .data(engine.clone())
                        .data(drain.clone())
                        .concurrency(concurrency)
                        .catch_panic()
                        .build(handle)
                })
                // apalis is told to stop once the runs have ended; whatever
                // is left of the shutdown timeout bounds its own stop.
                .with_terminator(async move {
                    tokio::time::sleep(terminating.time_left(timeout)).await;
                })
                .run_with_signal(async move {
                    stop.await;
                    info!(in_flight = stopping.in_progress(), "workers stopping: no new runs, finishing the ones in flight");
                    if stopping.stop(timeout).await {
                        info!("runs in flight finished; stopping the workers");
                    } else {
                        warn!(
                            in_flight = stopping.in_progress(),
                            ?timeout,
                            "runs still in flight after the shutdown timeout are cut off; their leases are given up, so the next worker resumes them"
                        );
                    }
                    Ok(())
                })
                .await;
            // Runs apalis dropped part-way (past the shutdown timeout, or
            // with workers that failed) give up their leases.
            let released = releasing.release_abandoned().await;
            if released > 0 {
                warn!(released, "leases of runs cut off part-way given up; the next worker resumes them");
            }
            if *stop_rx.borrow() {
                break run.map_err(|e| WorkerError(Box::new(e)));
            }
            pause = next_restart_pause(pause, started.elapsed());
            match run {
                Ok(()) => warn!(restart_in = ?pause, "workers stopped unexpectedly (see the error above); restarting them"),
                Err(e) => warn!(error = %e, restart_in = ?pause, "workers stopped on an error; restarting them"),
            }
            metrics::counter!(WORKER_RESTARTS_METRIC).increment(1);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stopped(stop_rx.clone()) => break Ok(()),
            }
        };
        signal.abort();
        let _ = sweeper.await;
        result
    }};
}

/// Runs apalis workers on the SQLite queue until `shutdown` resolves.
///
/// # Errors
/// [`WorkerError`] when the monitor fails.
#[cfg(feature = "sqlite")]
pub async fn run_sqlite_workers(
    store: &super::sqlite::SqliteStore,
    engine: Engine,
    config: ApalisWorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    use apalis_core::backend::ext::BackendExt;
    use apalis_core::backend::ext::poll_strategy::Strategy;
    // Jobs committed by this process wake the workers at once; polling
    // finds the rest (other processes, delayed retries).
    let storage = apalis_sqlite::SqliteStorage::<WorkflowJob>::new(store.writer())
        .with_config(
            apalis_sqlite::Config::default()
                .queue(super::backend::WORKFLOW_QUEUE)
                .batch_size(config.fetch_batch())
                .lock_tasks(false)
                .heartbeat_interval(config.heartbeat_interval)
                .missed_heartbeats(config.missed_heartbeats),
        )
        .poll_with_strategy(
            Strategy::new()
                .stream(store.job_wakeups())
                .interval(config.poll_interval),
        );

    let stats = tokio::spawn(super::sqlite::refresh_planner_stats_every(
        store.detached(),
        config.planner_stats_every,
    ));
    let result = run_monitor!(storage, engine, config, shutdown);
    stats.abort();
    result
}

/// Runs apalis workers on the PostgreSQL queue until `shutdown` resolves:
/// LISTEN/NOTIFY wakes them for new jobs, polling finds delayed retries.
///
/// # Errors
/// [`WorkerError`] when the monitor fails.
#[cfg(feature = "postgres")]
pub async fn run_postgres_workers(
    store: &super::postgres::PgStore,
    engine: Engine,
    config: ApalisWorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    use apalis_core::backend::ext::BackendExt;
    use apalis_core::backend::ext::poll_strategy::Strategy;
    let notify = apalis_postgres::Pubsub::new(
        store.writer().clone(),
        super::backend::WORKFLOW_QUEUE.to_owned(),
    );
    let storage = apalis_postgres::PostgresStorage::<WorkflowJob>::new(store.writer())
        .with_config(
            apalis_postgres::Config::default()
                .queue(super::backend::WORKFLOW_QUEUE)
                .batch_size(config.fetch_batch())
                .lock_tasks(false)
                .heartbeat_interval(config.heartbeat_interval)
                .missed_heartbeats(config.missed_heartbeats),
        )
        .poll_with_strategy(
            Strategy::new()
                .stream(store.job_wakeups())
                .stream(notify)
                .interval(config.poll_interval),
        );
    run_monitor!(storage, engine, config, shutdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_pauses_double_while_workers_keep_failing() {
        let mut pause = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..7 {
            pause = next_restart_pause(pause, Duration::from_millis(50));
            seen.push(pause.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30]);
        // Workers that ran a while before failing start over at the minimum.
        assert_eq!(
            next_restart_pause(RESTART_MAX, RESTART_RESET_AFTER),
            RESTART_MIN
        );
    }
}
