//! `formlead worker`: workers only, for scale-out on PostgreSQL.

use std::process::ExitCode;

use crate::app::{App, worker_config};
use crate::config::{Role, Settings};

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    if super::refuse_to_start(&settings, Role::Worker) {
        return Ok(ExitCode::from(2));
    }
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    if !settings.is_postgres() {
        tracing::warn!(
            "worker on SQLite: run it on the same host as `serve` (SQLite is a local file)"
        );
    }
    let app = App::build(settings, "worker").await?;
    app.engine
        .record_startup(
            "system",
            serde_json::json!({"role": "worker", "database": app.database.kind()}),
        )
        .await?;
    let config = worker_config(&app.settings, "formlead-worker");
    println!(
        "formlead worker running ({} workers on {}); Ctrl-C to stop",
        config.concurrency,
        app.database.kind()
    );
    app.database
        .run_workers(app.engine.clone(), config, super::shutdown_signal())
        .await?;
    println!("formlead worker stopped");
    Ok(ExitCode::SUCCESS)
}
