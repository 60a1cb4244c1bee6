//! Shared helpers for the benchmark programs (run with `cargo bench`).

#![allow(dead_code)]

use std::time::Duration;

use formlead::core::domain::FormSubmission;

/// A submission body like the contract's, numbered.
pub fn body(run: &str, i: usize) -> String {
    format!(
        r#"{{"portalId":62515,"formId":"bench","formSubmissionId":"{run}-{i}","submittedAt":1769162400000,"pageUrl":"https://example.com/contact","fields":[{{"name":"email","value":"lead{i}@bench.example"}},{{"name":"firstname","value":"Lead"}},{{"name":"company","value":"Bench Co"}},{{"name":"message","value":"We need a demo of onboarding automation."}}]}}"#
    )
}

pub fn submission(run: &str, i: usize) -> FormSubmission {
    FormSubmission::from_webhook_body(body(run, i).as_bytes(), chrono::Utc::now())
        .expect("valid body")
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The PostgreSQL database for benches (`FORMLEAD_BENCH_POSTGRES_URL`, a
/// database the bench may fill; ids are unique per run).
pub fn postgres_url() -> Option<String> {
    std::env::var("FORMLEAD_BENCH_POSTGRES_URL").ok()
}

/// An engine on `store`/`queue` with the sandbox vendors.
pub fn sandbox_engine(
    store: std::sync::Arc<dyn formlead::core::ports::Store>,
    queue: std::sync::Arc<dyn formlead::core::ports::Queue>,
) -> formlead::core::orchestrator::Engine {
    use std::sync::Arc;

    use formlead::adapters::sandbox::{SandboxCalendar, SandboxCrm, SandboxMail, StaticAssets};
    let policy = Arc::new(formlead::core::policy::GatedPolicy::default());
    formlead::core::orchestrator::Engine::new(
        formlead::core::orchestrator::Ports {
            store,
            queue,
            crm: Arc::new(SandboxCrm::new()),
            mail: Arc::new(SandboxMail::new(policy.clone())),
            calendar: Arc::new(SandboxCalendar::new()),
            assets: Arc::new(StaticAssets::sample()),
            policy,
            writer: Arc::new(formlead::core::agents::TemplateWriter::default()),
            clock: Arc::new(formlead::core::ports::SystemClock),
        },
        formlead::core::orchestrator::EngineConfig::default(),
    )
}
