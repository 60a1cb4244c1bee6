//! Starting and stopping the whole service: HTTP plus in-process workers.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::app::App;
use crate::config::Settings;
use crate::http::{AppState, router};

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub app_state: AppState,
    /// The database the store and the queue are on.
    pub database: crate::app::Database,
    /// What each port is wired to (for the start-up banner).
    pub summary: Vec<(&'static str, String)>,
    stop: watch::Sender<bool>,

    http: JoinHandle<()>,
    workers: Option<JoinHandle<anyhow::Result<()>>>,
    /// The runtime the in-process workers run on (see [`WorkerRuntime`]).
    _worker_runtime: Option<WorkerRuntime>,
}

/// The in-process workers' own runtime, on threads of lower CPU priority
/// than the HTTP server's: when both have work, webhook intake gets the
/// cores first, so a backlog draining does not slow the accepts of the next
/// burst; when intake is idle, the workers use every core.
struct WorkerRuntime(Option<tokio::runtime::Runtime>);

impl WorkerRuntime {
    /// Threads' niceness above the server's (Linux; elsewhere equal).
    const NICENESS: i32 = 10;

    fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("formlead-worker")
            .on_thread_start(|| lower_this_threads_priority(Self::NICENESS))
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(tokio::runtime::Runtime::handle)
    }
}

impl Drop for WorkerRuntime {
    fn drop(&mut self) {
        // Dropped from async code: must not block.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Raises the calling thread's niceness by `by` (lower CPU priority; on
/// Linux a thread id names just that thread).
#[cfg(target_os = "linux")]
fn lower_this_threads_priority(by: i32) {
    use rustix::process::{getpriority_process, setpriority_process};
    let tid = Some(rustix::thread::gettid());
    let lowered = getpriority_process(tid).and_then(|now| setpriority_process(tid, now + by));
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "could not lower a worker thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority(_by: i32) {}

impl Running {
    /// Stops accepting, lets in-flight requests and steps finish (up to the
    /// shutdown timeout), and waits for everything to end.
    ///
    /// # Errors
    /// When the HTTP server or the workers failed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.join().await
    }

    /// Waits until the server stops (after [`Self::stopper`] fires).
    ///
    /// # Errors
    /// When the HTTP server or the workers failed.
    pub async fn join(self) -> anyhow::Result<()> {
        self.http.await.context("http task")?;
        if let Some(w) = self.workers {
            w.await.context("worker task")??;
        }
        Ok(())
    }

    /// A handle that stops the server when sent `true`.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Builds the app and starts HTTP on `settings.bind` (port 0 picks one)
/// and, when `with_workers`, the in-process workers.
///
/// # Errors
/// When the database, a configured file or the listen address cannot be used.
pub async fn start(settings: Settings, with_workers: bool) -> anyhow::Result<Running> {
    if let Some(e) = settings
        .startup_refusals(crate::config::Role::Serve)
        .into_iter()
        .next()
    {
        anyhow::bail!("refusing to start: {e}");
    }
    for w in &settings.warnings {
        warn!("{w}");
    }
    let app = App::build(settings, "serve").await?;
    let summary: serde_json::Map<String, serde_json::Value> = app
        .vendors
        .summary
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
        .collect();
    app.engine
        .record_startup("system", serde_json::json!({"role": "serve", "database": app.database.kind(), "adapters": summary}))
        .await
        .context("cannot write the start-up audit event")?;
    let listener = TcpListener::bind(app.settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", app.settings.bind))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(
        app.engine.clone(),
        app.settings.clone(),
        app.database.kind(),
        app.vendors.budgets.clone(),
    );
    let (stop, rx) = watch::channel(false);

    let worker_runtime = if with_workers {
        Some(WorkerRuntime::start().context("cannot start the workers' runtime")?)
    } else {
        None
    };
    let workers = worker_runtime.as_ref().map(|rt| {
        let database = app.database.clone();
        let engine = app.engine.clone();
        let config = crate::app::worker_config(&app.settings, "formlead-serve");
        let rx = rx.clone();
        let run = async move { database.run_workers(engine, config, stopped(rx)).await };
        match rt.handle() {
            Some(handle) => handle.spawn(run),
            None => tokio::spawn(run),
        }
    });
    let service = router(state.clone());
    let limits = crate::http_server::Limits {
        // An idle connection (or a request head) gets twice a webhook's
        // whole time budget.
        idle_timeout: app.settings.request_timeout * 2,
        max_connections: app.settings.max_connections,
        drain: app.settings.shutdown_timeout,
    };
    let http = tokio::spawn(crate::http_server::serve(
        listener,
        service,
        limits,
        stopped(rx),
    ));
    info!(%addr, "formlead listening");
    Ok(Running {
        addr,
        app_state: state,
        database: app.database.clone(),
        summary: app.vendors.summary.clone(),
        stop,
        http,
        workers,
        _worker_runtime: worker_runtime,
    })
}

/// Runs until `signal` resolves, then shuts down gracefully.
///
/// # Errors
/// As [`start`] and [`Running::shutdown`].
pub async fn run_until(running: Running, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let stop = running.stopper();
    let join = tokio::spawn(running.join());
    signal.await;
    info!("stopping: no new requests or jobs; finishing in-flight work");
    let _ = stop.send(true);
    join.await.context("server task")?
}
