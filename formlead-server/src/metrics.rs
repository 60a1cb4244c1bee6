//! Prometheus metrics: counters and histograms recorded through the
//! `metrics` facade, gauges refreshed from the store at scrape time.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use formlead_core::domain::{StepName, WorkflowId, WorkflowStatus};
use formlead_core::orchestrator::{EngineObserver, ProcessOutcome};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

// Each family's name, shared by its description and its updates.
const WEBHOOKS: &str = "formlead_webhooks_total";
const JOBS: &str = "formlead_jobs_total";
const RETRIES: &str = "formlead_retries_total";
const DEAD_LETTERS: &str = "formlead_dead_letters_total";
const COLD_DRAFTS: &str = "formlead_cold_drafts_total";
const JOBS_RUNNING: &str = "formlead_jobs_running";
const STEP_FAILURES: &str = "formlead_step_failures_total";
const STEPS_DEGRADED: &str = "formlead_steps_degraded_total";
const STEP_DURATION: &str = "formlead_step_duration_seconds";
const TIME_TO_DRAFT: &str = "formlead_time_to_draft_seconds";
const WORKFLOWS: &str = "formlead_workflows";
const QUEUE_DEPTH: &str = "formlead_queue_depth";
const DEAD_JOBS: &str = "formlead_dead_jobs";
const BUILD_INFO: &str = "formlead_build_info";
const HTTP_DURATION: &str = "formlead_http_request_duration_seconds";

/// The process-wide recorder (installed once).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                // Speed to lead: seconds when all is well, minutes or hours
                // behind a backlog or an outage.
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(TIME_TO_DRAFT.into()),
                    &[
                        1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0,
                        14400.0, 86400.0,
                    ],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                        &[
                            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                        ],
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (tests); then ours
            // renders only what it sees, which is fine for a scrape.
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
            }
            handle
        })
        .clone()
}

/// What a family is, for its `# HELP` and `# TYPE` lines.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    /// A histogram, in seconds or of plain counts.
    Histogram(Option<metrics::Unit>),
}

/// Every family the server exports: name, kind and help text.
const FAMILIES: &[(&str, Kind, &str)] = &[
    (
        WEBHOOKS,
        Kind::Counter,
        "Webhook deliveries by outcome (accepted, duplicate, invalid, timeout, unavailable; unauthorized with a reason: stale, mismatch, missing, malformed)",
    ),
    (
        JOBS,
        Kind::Counter,
        "Workflow jobs processed by this process, by outcome",
    ),
    (
        RETRIES,
        Kind::Counter,
        "Workflow jobs scheduled for another attempt",
    ),
    (
        DEAD_LETTERS,
        Kind::Counter,
        "Workflow jobs dead-lettered (retries exhausted or a permanent error)",
    ),
    (
        COLD_DRAFTS,
        Kind::Counter,
        "Drafts that waited for approval longer than FORMLEAD_COLD_AFTER_MS (their task raised to high priority)",
    ),
    (
        STEP_FAILURES,
        Kind::Counter,
        "Failed workflow steps, by step",
    ),
    (
        STEPS_DEGRADED,
        Kind::Counter,
        "Enrichment steps (3-6) that failed and were skipped, by step; the draft was written without their context",
    ),
    (
        formlead_adapters::http::VENDOR_CALLS_METRIC,
        Kind::Counter,
        "Calls to HubSpot and Google APIs, by vendor, operation and outcome",
    ),
    (
        formlead_adapters::http::VENDOR_DURATION_METRIC,
        Kind::Histogram(Some(metrics::Unit::Seconds)),
        "Duration of calls to HubSpot, Google and the LLM (to the response's headers), by vendor, operation and outcome",
    ),
    (
        JOBS_RUNNING,
        Kind::Gauge,
        "Workflow jobs being processed by this process now",
    ),
    (
        formlead_adapters::http::VENDOR_429_METRIC,
        Kind::Counter,
        "Rate-limit answers (429) received, by vendor; each pauses the vendor's shared budget",
    ),
    (
        formlead_adapters::budget::BUDGET_WAIT_METRIC,
        Kind::Histogram(Some(metrics::Unit::Seconds)),
        "Time calls waited for their vendor budget, by budget",
    ),
    (
        formlead_adapters::hubspot::BATCH_SIZE_METRIC,
        Kind::Histogram(None),
        "Inputs per HubSpot batch call, by operation",
    ),
    (
        formlead_adapters::llm::LLM_FALLBACKS_METRIC,
        Kind::Counter,
        "Drafts written by the template writer because the LLM's answer was unusable",
    ),
    (
        formlead_adapters::sql::WORKER_RESTARTS_METRIC,
        Kind::Counter,
        "Worker restarts after the queue failed under them (e.g. a full disk)",
    ),
    (
        TIME_TO_DRAFT,
        Kind::Histogram(Some(metrics::Unit::Seconds)),
        "Time from a submission's arrival to its mail draft's creation (speed to lead)",
    ),
    (
        STEP_DURATION,
        Kind::Histogram(Some(metrics::Unit::Seconds)),
        "Duration of workflow steps, by step",
    ),
    (WORKFLOWS, Kind::Gauge, "Workflows in the store, by status"),
    (
        QUEUE_DEPTH,
        Kind::Gauge,
        "Workflow jobs waiting in the queue",
    ),
    (
        DEAD_JOBS,
        Kind::Gauge,
        "Workflow jobs in the queue's dead letters",
    ),
];

/// `# HELP` text for every family, and the unlabelled counters at 0, so a
/// rate or an alert on them works before the first retry, dead letter or
/// worker restart.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    for &(name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => describe_counter!(name, help),
            Kind::Gauge => describe_gauge!(name, help),
            Kind::Histogram(Some(unit)) => describe_histogram!(name, unit, help),
            Kind::Histogram(None) => describe_histogram!(name, help),
        }
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    metrics::counter!(RETRIES).absolute(0);
    metrics::counter!(DEAD_LETTERS).absolute(0);
    metrics::counter!(COLD_DRAFTS).absolute(0);
    metrics::gauge!(JOBS_RUNNING).set(0.0);
    metrics::counter!(formlead_adapters::sql::WORKER_RESTARTS_METRIC).absolute(0);
}

/// Times an HTTP request of `route`, by its status class (`2xx` … `5xx`).
pub fn http_request(route: String, status: axum::http::StatusCode, elapsed: Duration) {
    let class = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!(HTTP_DURATION, "route" => route, "status" => class)
        .record(elapsed.as_secs_f64());
}

/// Counts a webhook by outcome (`accepted`, `duplicate`, `unavailable`, …).
pub fn webhook(outcome: &'static str) {
    metrics::counter!(WEBHOOKS, "outcome" => outcome).increment(1);
}

/// Counts a webhook refused for its signature, by reason (`stale`,
/// `mismatch`, `missing`, `malformed`), so an alert can fire on clock skew.
pub fn webhook_refused(reason: &'static str) {
    metrics::counter!(WEBHOOKS, "outcome" => "unauthorized", "reason" => reason).increment(1);
}

/// Records engine events as metrics.
#[derive(Debug, Default, Clone)]
pub struct MetricsObserver;

impl EngineObserver for MetricsObserver {
    fn step_finished(&self, _workflow: WorkflowId, step: StepName, elapsed: Duration, ok: bool) {
        metrics::histogram!(STEP_DURATION, "step" => step.as_str()).record(elapsed.as_secs_f64());
        if !ok {
            metrics::counter!(STEP_FAILURES, "step" => step.as_str()).increment(1);
        }
    }

    fn draft_created(&self, _workflow: WorkflowId, since_received: Duration) {
        metrics::histogram!(TIME_TO_DRAFT).record(since_received.as_secs_f64());
    }

    fn draft_went_cold(&self, _workflow: WorkflowId) {
        metrics::counter!(COLD_DRAFTS).increment(1);
    }

    fn step_degraded(&self, _workflow: WorkflowId, step: StepName) {
        metrics::counter!(STEPS_DEGRADED, "step" => step.as_str()).increment(1);
    }

    fn job_started(&self, _workflow: WorkflowId) {
        metrics::gauge!(JOBS_RUNNING).increment(1.0);
    }

    fn job_ended(&self, _workflow: WorkflowId) {
        metrics::gauge!(JOBS_RUNNING).decrement(1.0);
    }

    fn job_finished(&self, _workflow: WorkflowId, outcome: &ProcessOutcome) {
        metrics::counter!(JOBS, "outcome" => outcome.label()).increment(1);
        match outcome {
            ProcessOutcome::RetryScheduled { .. } => metrics::counter!(RETRIES).increment(1),
            ProcessOutcome::DeadLettered { .. } => metrics::counter!(DEAD_LETTERS).increment(1),
            _ => {}
        }
    }
}

/// Sets the gauges that come from the store.
pub fn set_store_gauges(
    by_status: &[(WorkflowStatus, u64)],
    queue_depth: Option<u64>,
    dead_jobs: Option<u64>,
) {
    for status in WorkflowStatus::ALL {
        let n = by_status
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!(WORKFLOWS, "status" => status.as_str()).set(n as f64);
    }
    if let Some(d) = queue_depth {
        metrics::gauge!(QUEUE_DEPTH).set(d as f64);
    }
    if let Some(d) = dead_jobs {
        metrics::gauge!(DEAD_JOBS).set(d as f64);
    }
}

/// An observer handle for the engine.
pub fn observer() -> Arc<dyn EngineObserver> {
    Arc::new(MetricsObserver)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metric names an alert rule file uses (`formlead_…`, without the
    /// `_bucket`/`_sum`/`_count` of a histogram's series).
    fn used_by(rules: &str) -> Vec<String> {
        let mut names: Vec<String> = rules
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("formlead_"))
            .map(|w| {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| w.strip_suffix(suffix))
                    .unwrap_or(w)
                    .to_owned()
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_metric_an_alert_uses_is_exported() {
        let rules = include_str!("../../deploy/prometheus/alerts.yml");
        let used = used_by(rules);
        assert!(used.len() >= 6, "{used:?}");
        for name in &used {
            assert!(
                FAMILIES.iter().any(|(family, _, _)| family == name),
                "deploy/prometheus/alerts.yml uses {name}, which the server does not export"
            );
        }
    }

    #[test]
    fn histogram_series_count_as_their_family() {
        assert_eq!(
            used_by("rate(formlead_time_to_draft_seconds_bucket[5m]) + formlead_jobs_total"),
            vec!["formlead_jobs_total", "formlead_time_to_draft_seconds"]
        );
    }

    #[test]
    fn every_family_has_help() {
        for (name, _, help) in FAMILIES {
            assert!(name.starts_with("formlead_") && !help.is_empty(), "{name}");
        }
    }
}
