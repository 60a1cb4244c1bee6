//! `formlead smoke`: one synthetic submission end to end through the
//! configured adapters (live where credentials are set), printing each of
//! the 13 steps with its duration. Uses an in-memory store, so nothing is
//! written to the database.

use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use formlead_adapters::memory::{MemoryStore, RecordingQueue};
use formlead_core::domain::{FormSubmission, WorkflowStatus};
use formlead_core::orchestrator::{AcceptOutcome, ProcessOutcome};
use formlead_core::ports::{Clock, SystemClock};

use crate::app::{Vendors, engine};
use crate::config::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    let vendors = Vendors::from_settings(&settings, &crate::live::Budgets::Local)?;
    for (port, what) in &vendors.summary {
        println!("{port:<10} {what}");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let queue = Arc::new(RecordingQueue::new(clock));
    let store = Arc::new(MemoryStore::new(queue.clone()));
    let engine = engine(&settings, store, queue.clone(), &vendors, "smoke".into());
    let email = settings
        .sender_email
        .as_ref()
        .map_or_else(|| "smoke-test@example.com".to_owned(), ToString::to_string);
    let body = serde_json::json!({
        "formSubmissionId": format!("smoke-{}", uuid::Uuid::new_v4()),
        "email": email, "firstname": "Smoke", "lastname": "Test", "company": "formlead smoke test",
        "message": "This is a formlead smoke test: we would like a demo and pricing for onboarding automation.",
    })
    .to_string();
    let submission = FormSubmission::from_webhook_body(body.as_bytes(), Utc::now())?;
    let AcceptOutcome::Accepted(ids) = engine.accept(&submission).await? else {
        anyhow::bail!("the smoke submission was seen as a duplicate");
    };
    let mut outcome = None;
    for job in queue.take_due() {
        outcome = Some(engine.process(job).await?);
    }
    let detail = engine
        .workflow_detail(ids.workflow_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("workflow vanished"))?;
    println!("\nworkflow {} ({email})", ids.workflow_id);
    for step in &detail.steps {
        println!(
            "  {:>2}. {:<20} {:<9} {:>6} ms  {}",
            step.step.number(),
            step.step.as_str(),
            step.status.as_str(),
            step.duration_ms().unwrap_or(0),
            step.summary
                .as_deref()
                .or(step.error.as_deref())
                .unwrap_or("")
        );
    }
    match outcome {
        Some(ProcessOutcome::Finished(
            status @ (WorkflowStatus::Completed | WorkflowStatus::AwaitingApproval),
        )) => {
            if let Some(d) = detail.drafts.first() {
                println!("\ndraft \"{}\" to {} ({})", d.subject, d.to_email, d.status);
            }
            println!("smoke test passed: {status}");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            println!("smoke test FAILED: {other:?}");
            for e in &detail.errors {
                println!("  attempt {}: {}", e.attempt, e.message);
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
