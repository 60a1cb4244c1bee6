//! `formlead serve`.

use std::process::ExitCode;

use crate::config::Settings;
use crate::server;

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    if let Err(e) = settings.check_bind_is_safe() {
        eprintln!("formlead: refusing to start: {e}");
        return Ok(ExitCode::from(2));
    }
    let database_url = settings.database_url.clone();
    let running = server::start(settings, true).await?;
    let base = format!("http://{}", running.addr);
    println!("formlead {} is running", env!("CARGO_PKG_VERSION"));
    println!("  dashboard: {base}/dashboard");
    println!("  webhook:   POST {base}/api/webhooks/hubspot/forms");
    println!("  database:  {}", redact_url(&database_url));
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

/// A database URL without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            super::redact_url("sqlite://formlead.db"),
            "sqlite://formlead.db"
        );
    }
}
