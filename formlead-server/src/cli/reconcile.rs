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
    /// Oldest submission to consider: RFC 3339 (2026-11-25T09:00:00Z), a
    /// UTC date (2026-11-25) or an age like 30m, 24h, 7d.
    #[arg(long)]
    pub since: String,
}

/// Parses `--since`.
///
/// # Errors
/// A message with the accepted forms.
pub fn parse_since(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    let since = absolute(raw)
        .or_else(|| age(raw).and_then(|a| now.checked_sub_signed(a)))
        .ok_or_else(|| {
            format!(
                "--since \"{raw}\": use a time (2026-11-20T09:00:00Z), a UTC date (2026-11-20) or an age (30m, 24h, 7d)"
            )
        })?;
    if since > now {
        return Err(format!("--since \"{raw}\": is in the future"));
    }
    Ok(since)
}

/// RFC 3339, or a date meaning its midnight UTC.
fn absolute(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// `<n>m`, `<n>h` or `<n>d`.
fn age(raw: &str) -> Option<Duration> {
    let (num, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    match unit {
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    }
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
            Ok(s) => {
                // A webhook without a formSubmissionId stored it under
                // another key: the same form, email and time.
                if let Some(at) = s.submitted_at
                    && let Some(known) = app
                        .engine
                        .ports()
                        .store
                        .find_unidentified(&args.form, s.email(), at)
                        .await?
                {
                    duplicates += 1;
                    println!(
                        "known {} (arrived by webhook without an id) → workflow {}",
                        record.conversion_id, known.workflow_id
                    );
                    continue;
                }
                match app.engine.accept(&s).await? {
                    AcceptOutcome::Accepted(ids) => {
                        accepted += 1;
                        println!(
                            "accepted {} → workflow {}",
                            record.conversion_id, ids.workflow_id
                        );
                    }
                    AcceptOutcome::Linked(ids) => {
                        accepted += 1;
                        println!(
                            "accepted {} → joins the reply of workflow {}",
                            record.conversion_id, ids.workflow_id
                        );
                    }
                    AcceptOutcome::Duplicate(_) => duplicates += 1,
                }
            }
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
        assert_eq!(
            parse_since("2026-11-20", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
        );
        assert_eq!(parse_since(" 7d ", now).unwrap(), now - Duration::days(7));
        for bad in [
            "yesterday",
            "5y",
            "24",
            "h",
            "",
            "2026-13-01",
            "99999999999999999d",
        ] {
            let e = parse_since(bad, now).unwrap_err();
            assert!(e.contains("an age (30m, 24h, 7d)"), "{bad}: {e}");
        }
        assert!(
            parse_since("2026-12-01", now)
                .unwrap_err()
                .contains("in the future")
        );
    }
}
