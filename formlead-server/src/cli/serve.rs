//! `formlead serve`.

use std::process::ExitCode;

use crate::config::{Role, Settings};
use crate::server;

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    if super::refuse_to_start(&settings, Role::Serve) {
        return Ok(ExitCode::from(2));
    }
    let database_url = settings.database_url.clone();
    let running = server::start(settings, true).await?;
    let base = format!("http://{}", running.addr);
    println!("formlead {} is running", env!("CARGO_PKG_VERSION"));
    println!("  dashboard: {base}/dashboard");
    println!("  webhook:   POST {base}/api/webhooks/hubspot/forms");
    println!("  database:  {database_url}");
    for (port, what) in &running.summary {
        println!("  {port:<9}  {what}");
    }
    println!("  try it:    formlead simulate --count 20 --url {base}");
    println!(
        "             (or: cargo run --release -p formlead-server -- simulate --count 20 --url {base})"
    );
    server::run_until(running, super::shutdown_signal()).await?;
    println!("formlead stopped");
    Ok(ExitCode::SUCCESS)
}
