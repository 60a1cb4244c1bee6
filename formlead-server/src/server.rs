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
}

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

    let workers = with_workers.then(|| {
        let database = app.database.clone();
        let engine = app.engine.clone();
        let config = crate::app::worker_config(&app.settings, "formlead-serve");
        let rx = rx.clone();
        tokio::spawn(async move { database.run_workers(engine, config, stopped(rx)).await })
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
