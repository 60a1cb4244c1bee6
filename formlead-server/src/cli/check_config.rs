//! `formlead check-config`: every setting (secrets masked), which adapters
//! are live and which are sandboxes, the send mode, and any problem.

use std::process::ExitCode;

use crate::app::Vendors;
use crate::config::{Role, Settings};

pub fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
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
    if ok {
        println!("\nconfiguration OK");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nconfiguration has errors (see above)");
        Ok(ExitCode::from(2))
    }
}
