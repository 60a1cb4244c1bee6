//! Enrichment degrades, it does not kill the lead: a vendor failure in
//! steps 3-6 leaves that context empty, records the step as degraded (with
//! the error, in the timeline and the audit trail) and the draft is still
//! written. A refusal of our credentials still fails the lead.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use formlead_adapters::testing::Fault;
use formlead_adapters::testing::TestKit;
use formlead_core::domain::{StepName, StepStatus, WorkflowStatus};
use formlead_core::orchestrator::*;
use formlead_core::ports::{CrmError, Store};

/// Counts the degraded steps the observer hears of.
#[derive(Default)]
struct Degraded(AtomicUsize);

impl EngineObserver for Degraded {
    fn step_degraded(&self, _: formlead_core::domain::WorkflowId, _: StepName) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn a_failing_enrichment_step_degrades_and_the_draft_is_written() {
    for (port, op, step) in [
        ("mail", "threads_with", StepName::ReadThreads),
        ("crm", "recent_notes", StepName::RecallHistory),
        ("assets", "search", StepName::FindAssets),
        ("calendar", "busy", StepName::FindMeetingSlots),
    ] {
        for fault in [Fault::Permanent, Fault::Transient] {
            let kit = TestKit::new();
            let observer = Arc::new(Degraded::default());
            let engine = kit.engine().with_observer(observer.clone());
            // An existing contact, so its notes are read.
            kit.crm.seed_contact(formlead_core::ports::Contact {
                id: "c-existing".into(),
                email: "john.doe@acme.example".into(),
                owner_id: None,
                created: false,
            });
            let faults = match port {
                "crm" => kit.crm.faults(),
                "mail" => kit.mail.faults(),
                "assets" => kit.assets.faults(),
                _ => kit.calendar.faults(),
            };
            faults.inject(op, fault);
            let ids = kit.submit_lead(&engine, "deg-1").await.unwrap();
            assert_eq!(
                kit.run_due(&engine).await.unwrap(),
                vec![ProcessOutcome::Finished(WorkflowStatus::Completed)],
                "{op} {fault:?}: the lead is not lost, and not delayed"
            );
            assert_eq!(kit.mail.drafts().len(), 1, "{op}: the draft is written");
            let steps = kit.store.list_steps(ids.workflow_id).await.unwrap();
            assert_eq!(steps.len(), 13, "{op}");
            let record = steps.iter().find(|r| r.step == step).unwrap();
            assert_eq!(record.status, StepStatus::Degraded, "{op}");
            assert!(
                record.error.as_deref().unwrap_or("").contains("injected"),
                "{op}: {record:?}"
            );
            assert!(record.summary.as_deref().unwrap().starts_with("degraded"));
            assert!(
                steps
                    .iter()
                    .filter(|r| r.step != step)
                    .all(|r| r.status == StepStatus::Completed),
                "{op}"
            );
            let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
            assert!(
                audit
                    .iter()
                    .any(|e| e.action == "step.degraded" && e.detail["step"] == step.as_str()),
                "{op}"
            );
            assert_eq!(observer.0.load(Ordering::Relaxed), 1, "{op}: one metric");
        }
    }
}

/// The example: the contact exists, reading its CRM notes answers
/// 404. The lead is answered anyway.
#[tokio::test]
async fn a_404_on_the_contacts_notes_does_not_dead_letter_the_lead() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.crm.seed_contact(formlead_core::ports::Contact {
        id: "c-existing".into(),
        email: "john.doe@acme.example".into(),
        owner_id: None,
        created: false,
    });
    kit.crm.faults().inject("recent_notes", Fault::Permanent);
    let ids = kit.submit_lead(&engine, "deg-404").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let wf = kit
        .store
        .get_workflow(ids.workflow_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wf.status, WorkflowStatus::Completed);
    assert_eq!(kit.crm.tasks().len(), 1);
    assert_eq!(kit.crm.notes().len(), 1);
}

/// Credentials an operator must fix are not papered over: the lead fails
/// (and is retried by an operator once the token is fixed).
#[tokio::test]
async fn a_credentials_refusal_still_fails_the_lead() {
    let kit = TestKit::new();
    let mut crm = formlead_core::ports::MockCrmPort::new();
    let sandbox = kit.crm.clone();
    crm.expect_find_contact().returning(|_| Ok(None));
    crm.expect_create_contact().returning(move |p| {
        Ok(formlead_core::ports::Contact {
            id: "c-1".into(),
            email: p.email.to_string(),
            owner_id: None,
            created: false,
        })
    });
    crm.expect_recent_notes()
        .returning(|_, _| Err(CrmError::unauthorized("HubSpot 401: the token was revoked")));
    let _ = sandbox;
    let mut ports = kit.ports();
    ports.crm = Arc::new(crm);
    let engine = Engine::new(ports, EngineConfig::default());
    let ids = kit.submit_lead(&engine, "deg-401").await.unwrap();
    let out = kit.run_due(&engine).await.unwrap();
    assert!(
        matches!(out[..], [ProcessOutcome::DeadLettered { .. }]),
        "{out:?}"
    );
    let steps = kit.store.list_steps(ids.workflow_id).await.unwrap();
    let notes = steps
        .iter()
        .find(|r| r.step == StepName::RecallHistory)
        .unwrap();
    assert_eq!(notes.status, StepStatus::Failed);
    assert!(kit.mail.drafts().is_empty());
}

/// A degraded step is final for the workflow: a later retry (here after a
/// failed task creation) reads it back rather than asking again.
#[tokio::test]
async fn a_degraded_step_is_not_redone_on_resume() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.calendar.faults().inject("busy", Fault::Permanent);
    kit.crm.faults().inject("create_task", Fault::Transient);
    let ids = kit.submit_lead(&engine, "deg-resume").await.unwrap();
    let first = kit.run_due(&engine).await.unwrap();
    assert!(
        matches!(first[..], [ProcessOutcome::RetryScheduled { .. }]),
        "{first:?}"
    );
    kit.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );
    assert_eq!(kit.calendar.faults().calls("busy"), 1, "not asked again");
    let steps = kit.store.list_steps(ids.workflow_id).await.unwrap();
    let slots = steps
        .iter()
        .find(|r| r.step == StepName::FindMeetingSlots)
        .unwrap();
    assert_eq!(slots.status, StepStatus::Degraded);
}
