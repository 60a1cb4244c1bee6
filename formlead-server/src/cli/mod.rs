//! The `formlead` command line (contract §4).

mod check_config;
mod google;
mod migrate;
mod probe;
mod reconcile;
mod serve;
pub mod simulate;
mod smoke;
mod voice;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Settings, Sources};

/// formlead: HubSpot form submissions in, personalised Gmail drafts and CRM tasks out.
#[derive(Debug, Parser)]
#[command(name = "formlead", version, about)]
pub struct Cli {
    /// TOML file with settings (keys are the environment variable names).
    #[arg(long, global = true, env = "FORMLEAD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP server plus in-process workers; migrates on start.
    Serve,
    /// Workers only (scale-out on PostgreSQL).
    Worker,
    /// Apply schema migrations.
    Migrate,
    /// Validate configuration, secrets and send gates; print every setting.
    CheckConfig(check_config::CheckConfigArgs),
    /// Post signed sample submissions to a running server.
    Simulate(simulate::SimulateArgs),
    /// One synthetic submission end to end through the configured adapters.
    Smoke,
    /// Pull submissions from HubSpot's forms API that no webhook delivered.
    Reconcile(reconcile::ReconcileArgs),
    /// The voice profile: `voice learn` derives it from the sender's sent mail.
    Voice(voice::VoiceArgs),
    /// Google set-up: `google authorize` obtains GOOGLE_REFRESH_TOKEN.
    Google(google::GoogleArgs),
}

/// Runs the CLI; the exit code is non-zero on any error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `google authorize` obtains the refresh token the full settings would
    // require: it reads only the sources.
    if let Command::Google(args) = cli.command {
        return run_google(cli.config.as_deref(), args);
    }
    let settings = match Sources::load(cli.config.as_deref()).and_then(Settings::from_sources) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("formlead: configuration error: {e}");
            if matches!(cli.command, Command::CheckConfig(_)) {
                eprintln!(
                    "(fix the setting above; `formlead check-config` prints every setting once the configuration loads)"
                );
            }
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(settings.log_format, &settings.log_filter);
    run_to_exit(tokio::runtime::Builder::new_multi_thread(), async move {
        match cli.command {
            Command::Serve => serve::run(settings).await,
            Command::Worker => worker::run(settings).await,
            Command::Migrate => migrate::run(settings).await,
            Command::CheckConfig(args) => check_config::run(&settings, &args).await,
            Command::Simulate(args) => simulate::run(&settings, args).await,
            Command::Smoke => smoke::run(settings).await,
            Command::Reconcile(args) => reconcile::run(settings, args).await,
            Command::Voice(args) => voice::run(settings, args).await,
            Command::Google(_) => unreachable!("handled before the settings load"),
        }
    })
}

/// Runs `work` on a runtime from `builder`: its exit code, or 1 with the
/// error's chain.
fn run_to_exit(
    mut builder: tokio::runtime::Builder,
    work: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> ExitCode {
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("formlead: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("formlead: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

fn run_google(config: Option<&std::path::Path>, args: google::GoogleArgs) -> ExitCode {
    let sources = match Sources::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("formlead: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    run_to_exit(
        tokio::runtime::Builder::new_current_thread(),
        google::run(&sources, args),
    )
}

/// Prints why `role` must not start, if it must not; `true` then (the
/// caller exits with 2).
fn refuse_to_start(settings: &Settings, role: crate::config::Role) -> bool {
    let refusals = settings.startup_refusals(role);
    for e in &refusals {
        eprintln!("formlead: refusing to start: {e}");
    }
    !refusals.is_empty()
}

/// `e` and its causes, `: `-separated, leaving out a cause whose text the
/// message before it already contains (sqlx repeats its source's text in
/// its own message).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Like `sqlx::Error::Io`: its message repeats its source's.
    #[derive(Debug)]
    struct Repeats(std::io::Error);

    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error communicating with database: {}", self.0)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chains_say_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = anyhow::Error::new(Repeats(io)).context("cannot open the database");
        assert_eq!(
            error_chain(&e),
            "cannot open the database: error communicating with database: refused"
        );
        let e = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(error_chain(&e), "outer: middle: inner");
    }
}
