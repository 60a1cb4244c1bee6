//! `formlead simulate`: signs and posts realistic sample submissions, then
//! reports throughput and latency.

mod connection;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use formlead_core::signature::{HEADER_SIGNATURE_V3, HEADER_TIMESTAMP, sign_v3};
use secrecy::ExposeSecret;

use crate::config::Settings;
use connection::{Connection, Signed, Target};

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// How many submissions to post.
    #[arg(long, default_value_t = 10, value_parser = at_least_one, allow_negative_numbers = true)]
    pub count: usize,
    /// How many requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = at_least_one, allow_negative_numbers = true)]
    pub concurrency: usize,
    /// Server base URL (default: http://FORMLEAD_BIND).
    #[arg(long)]
    pub url: Option<String>,
    /// Pace requests at this many per second (default: as fast as possible).
    #[arg(long, value_parser = positive_rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,
}

fn at_least_one(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number, 1 or more".to_owned()),
    }
}

fn positive_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err("must be a number of requests per second above 0, e.g. 1000".to_owned()),
    }
}

const FIRST: &[&str] = &[
    "Ava",
    "Noah",
    "Zoë",
    "Jürgen",
    "José",
    "Siobhán",
    "Mei",
    "Ólafur",
    "Øystein",
    "Ana María",
    "Kwame",
    "Priya",
    "Léa",
    "Mateusz",
    "Aiyana",
    "李雷",
];
const LAST: &[&str] = &[
    "Nguyen",
    "Müller",
    "García",
    "O'Connor",
    "Okafor",
    "Sato",
    "Novák",
    "Lindqvist",
    "Dubois",
    "Kowalski",
    "Patel",
    "Silva",
    "Ångström",
    "Rossi",
];
const COMPANIES: &[&str] = &[
    "Acme Robotics",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Fintech",
    "Hooli",
    "Société Générale des Tests",
    "Nordisk Data",
    "Tyrell Bio",
    "Soylent Foods",
    "Cyberdyne AI",
];
const MESSAGES: &[&str] = &[
    "We need to automate onboarding for our 40-person sales team. Could we book a demo next week?",
    "What does pricing look like for 25 seats? We are comparing three vendors this month.",
    "Do you integrate with HubSpot and Gmail? Our reps live in both all day.",
    "Can you share your security whitepaper? Our procurement team needs SOC 2 details.",
    "Our login is broken since yesterday and I cannot reset the password.",
    "Hi! Just curious how other SaaS companies use you to respond to leads faster.",
    "We would like a quote for the enterprise plan and a short call with sales.",
    "Is there an ROI calculator? I need to justify the budget to our CFO.",
    "Bonjour, nous cherchons une solution pour répondre plus vite à nos prospects. Un appel est possible ?",
    "Wir möchten eine Demo für unser Vertriebsteam in München vereinbaren.",
];

/// The `i`-th sample submission of a run, as a webhook body.
pub fn sample_body(run: &str, i: usize) -> String {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len() + i) % LAST.len()];
    let company = COMPANIES[(i * 7) % COMPANIES.len()];
    let message = MESSAGES[(i * 3) % MESSAGES.len()];
    let local: String = first
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let local = if local.is_empty() {
        "lead".to_owned()
    } else {
        local
    };
    let domain: String = company
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    serde_json::json!({
        "portalId": 62515,
        "formId": "formlead-simulate",
        "formSubmissionId": format!("sim-{run}-{i}"),
        "submittedAt": Utc::now().timestamp_millis(),
        "pageUrl": "https://example.com/contact",
        "fields": [
            {"name": "email", "value": format!("{local}.{i}@{domain}.example")},
            {"name": "firstname", "value": first},
            {"name": "lastname", "value": last},
            {"name": "company", "value": company},
            {"name": "message", "value": message},
        ]
    })
    .to_string()
}

/// Results of a simulate run.
#[derive(Debug, Default)]
pub struct Report {
    pub accepted: usize,
    pub duplicates: usize,
    pub failed: Vec<String>,
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Posts `count` signed submissions to `base` over `concurrency`
/// keep-alive connections, each sending its next request when the last
/// one was answered (or, with `rate`, when it is due).
///
/// # Errors
/// When `base` is not an http(s) URL or the HTTPS client cannot be built.
pub async fn post_many(
    settings: &Settings,
    base: &str,
    count: usize,
    concurrency: usize,
    rate: Option<f64>,
) -> anyhow::Result<Report> {
    let path = crate::http::webhook::PATH;
    let target = Arc::new(Target::parse(&format!(
        "{}{path}",
        base.trim_end_matches('/')
    ))?);
    let signed_url = Arc::new(match &settings.public_url {
        Some(public) => format!("{public}{path}"),
        None => target.url.clone(),
    });
    let secret = Arc::new(
        settings
            .webhook_secret
            .secret
            .expose_secret()
            .as_bytes()
            .to_vec(),
    );
    let run: Arc<str> = uuid::Uuid::new_v4().simple().to_string()[..8].into();
    let next = Arc::new(AtomicUsize::new(0));
    let rate = rate.filter(|r| *r > 0.0);
    let started = Instant::now();
    let answered = Arc::new(AtomicUsize::new(0));
    let progress = tokio::spawn(report_progress(answered.clone(), count, started));
    let mut connections = Vec::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let mut connection = Connection::new(&target)?;
        let (target, signed_url, secret, run, next, answered) = (
            target.clone(),
            signed_url.clone(),
            secret.clone(),
            run.clone(),
            next.clone(),
            answered.clone(),
        );
        connections.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break outcomes;
                }
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let body = sample_body(&run, i);
                let ts = Utc::now().timestamp_millis();
                let signature = sign_v3(&secret, "POST", &signed_url, body.as_bytes(), ts);
                let timestamp = ts.to_string();
                let signed = Signed {
                    signature: &signature,
                    timestamp: &timestamp,
                };
                let t0 = Instant::now();
                let result = connection.post(&target, body, &signed).await;
                outcomes.push((result, t0.elapsed()));
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut report = Report::default();
    for connection in connections {
        for (result, latency) in connection.await.context("connection task")? {
            report.latencies.push(latency);
            match result {
                Ok((202, _)) => report.accepted += 1,
                Ok((409, _)) => report.duplicates += 1,
                Ok((status, text)) => report.failed.push(format!(
                    "HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                )),
                Err(e) => report.failed.push(format!("request failed: {e}")),
            }
        }
    }
    progress.abort();
    report.elapsed = started.elapsed();
    report.latencies.sort();
    Ok(report)
}

/// Prints to stderr, every second, how many of `count` requests have been
/// answered and the rate so far (a long run is not silent until its end).
async fn report_progress(answered: Arc<AtomicUsize>, count: usize, started: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let done = answered.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "progress: {done}/{count} answered, {:.0}/s",
            done as f64 / secs
        );
    }
}

pub async fn run(settings: &Settings, args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.bind));
    println!(
        "posting {} signed submissions to {base} ({} at a time)…",
        args.count, args.concurrency
    );
    let report = post_many(settings, &base, args.count, args.concurrency, args.rate).await?;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    println!("accepted:   {}", report.accepted);
    println!("duplicates: {}", report.duplicates);
    println!("failed:     {}", report.failed.len());
    for f in report.failed.iter().take(5) {
        println!("  {f}");
    }
    println!(
        "elapsed:    {:.2} s ({:.0} accepted/s)",
        secs,
        report.accepted as f64 / secs
    );
    println!(
        "latency:    p50 {:.1} ms, p99 {:.1} ms",
        percentile(&report.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&report.latencies, 0.99).as_secs_f64() * 1e3
    );
    if report.failed.is_empty() {
        println!("watch them in the dashboard: {base}/dashboard");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use formlead_core::domain::{FormSubmission, Prospect};

    #[test]
    fn counts_and_rates_must_be_positive() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from([&["formlead", "simulate"], args].concat())
        };
        assert!(parse(&["--count", "200", "--concurrency", "64", "--rate", "1000"]).is_ok());
        for bad in [
            &["--count", "0"][..],
            &["--concurrency", "0"],
            &["--count", "-5"],
            &["--rate", "0"],
            &["--rate=-1"],
            &["--rate", "NaN"],
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("must be"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn samples_are_valid_and_varied() {
        let mut emails = std::collections::HashSet::new();
        for i in 0..200 {
            let body = sample_body("t", i);
            let s = FormSubmission::from_webhook_body(body.as_bytes(), Utc::now()).unwrap();
            let p = Prospect::from_submission(&s).unwrap();
            assert!(emails.insert(p.email.to_string()), "unique emails");
        }
        assert!(sample_body("t", 2).contains("Zoë"));
    }

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
