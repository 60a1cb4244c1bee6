//! `formlead reconcile --form GUID --since T`: pull submissions from
//! HubSpot's forms API that no webhook delivered, through the same dedupe
//! and pipeline.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use formlead_core::domain::FormSubmission;
use formlead_core::orchestrator::AcceptOutcome;

use crate::app::App;
use crate::config::Settings;

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// The HubSpot form GUID.
    #[arg(long)]
    pub form: String,
    /// Oldest submission to consider: RFC 3339 (2026-11-25T00:00:00Z) or an
    /// age like 30m, 24h, 7d.
    #[arg(long)]
    pub since: String,
}

/// Parses `--since`.
///
/// # Errors
/// A message with the accepted forms.
pub fn parse_since(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let (num, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("--since \"{raw}\": use RFC 3339 or an age like 30m, 24h, 7d"))?;
    let age = match unit {
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(format!("--since \"{raw}\": unit must be m, h or d")),
    };
    Ok(now - age)
}

pub async fn run(settings: Settings, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let since = parse_since(&args.since, Utc::now()).map_err(anyhow::Error::msg)?;
    let forms =
        crate::live::hubspot_forms(&settings).context("reconcile needs HubSpot credentials")?;
    let app = App::build(settings, "reconcile").await?;
    let records = forms
        .submissions_since(&args.form, since)
        .await
        .context("listing form submissions")?;
    let (mut accepted, mut duplicates, mut invalid) = (0, 0, 0);
    for record in &records {
        match FormSubmission::from_forms_api(record, &args.form, Utc::now()) {
            Ok(s) => match app.engine.accept(&s).await? {
                AcceptOutcome::Accepted(ids) => {
                    accepted += 1;
                    println!(
                        "accepted {} → workflow {}",
                        record.conversion_id, ids.workflow_id
                    );
                }
                AcceptOutcome::Duplicate(_) => duplicates += 1,
            },
            Err(e) => {
                invalid += 1;
                println!("skipped {}: {e}", record.conversion_id);
            }
        }
    }
    println!(
        "{} submissions since {since}: {accepted} new, {duplicates} already known, {invalid} invalid",
        records.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_forms() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(parse_since("24h", now).unwrap(), now - Duration::hours(24));
        assert_eq!(
            parse_since("30m", now).unwrap(),
            now - Duration::minutes(30)
        );
        assert_eq!(
            parse_since("2026-11-20T00:00:00Z", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
        );
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("5y", now).is_err());
    }
}
