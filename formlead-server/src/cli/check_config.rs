//! `formlead check-config`: every setting (secrets masked), which adapters
//! are live and which are sandboxes, the send mode, and any problem.

use std::process::ExitCode;

use clap::Args;

use crate::app::Vendors;
use crate::config::{Role, Settings};

#[derive(Debug, Clone, Args)]
pub struct CheckConfigArgs {
    /// Also make one cheap, read-only call per configured vendor (HubSpot
    /// owners, Google token refresh, Gmail profile, free/busy and Drive
    /// folder, the LLM's models) and say why one fails; exit 1 if any does.
    #[arg(long)]
    pub probe: bool,
}

pub async fn run(settings: &Settings, args: &CheckConfigArgs) -> anyhow::Result<ExitCode> {
    println!("Settings (value, origin):");
    for (key, value, origin) in settings.describe() {
        println!("  {key:<30} {value:<40} {origin}");
    }
    let mut ok = true;
    println!("\nAdapters:");
    match Vendors::from_settings(settings, &crate::live::Budgets::Local) {
        Ok(v) => {
            for (port, what) in &v.summary {
                println!("  {port:<10} {what}");
            }
        }
        Err(e) => {
            ok = false;
            println!("  ERROR: {e:#}");
        }
    }
    let policy = &settings.send_policy;
    println!(
        "\nSend mode: {} (API_ENV={}, MODE_DRAFT_ONLY={}, ALLOW_AUTO_SEND={}, REQUIRE_OPERATOR_APPROVAL={}, allowlist entries: {})",
        policy.mode().as_str(),
        policy.api_env.as_str(),
        policy.mode_draft_only,
        policy.allow_auto_send,
        policy.require_operator_approval,
        policy.allowlist.entries().len()
    );
    // What `serve` would refuse (a superset of what `worker` refuses).
    for e in settings.startup_refusals(Role::Serve) {
        ok = false;
        println!("\nERROR: {e}");
    }
    for w in &settings.warnings {
        println!("warning: {w}");
    }
    if !ok {
        println!("\nconfiguration has errors (see above)");
        return Ok(ExitCode::from(2));
    }
    println!("\nconfiguration OK");
    if !args.probe {
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nProbes (one read-only call per configured vendor):");
    let checks = super::probe::probe(settings).await;
    if checks.is_empty() {
        println!("  none: every vendor is a sandbox");
    }
    for c in &checks {
        println!("  {}", c.line());
    }
    let failed = checks.iter().filter(|c| c.result.is_err()).count();
    if failed == 0 {
        println!("\nall probes passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{failed} probe(s) failed (see above)");
        Ok(ExitCode::FAILURE)
    }
}
