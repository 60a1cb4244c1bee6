//! The speed-to-lead clock after the draft: a draft waiting for approval
//! longer than `cold_after` has its task raised to high priority, once,
//! with an audit event.

use chrono::Duration as Span;
use formlead_adapters::sandbox::Fault;
use formlead_adapters::testing::TestKit;

use crate::approval_required;
use formlead_core::domain::TaskPriority;
use formlead_core::orchestrator::{Engine, EngineConfig};
use formlead_core::ports::Store;

#[tokio::test]
async fn a_draft_waiting_too_long_raises_its_task_once() {
    let kit = TestKit::with_policy(approval_required());
    let engine = kit.engine();
    // Asks for material, not a meeting: the task starts at medium priority.
    let body = TestKit::body(
        "cold-1",
        "ann@acme.example",
        "Ann",
        "Acme",
        "Could you send some material about onboarding automation?",
    );
    let formlead_core::orchestrator::AcceptOutcome::Accepted(ids) =
        kit.submit(&engine, &body).await.unwrap()
    else {
        panic!("not accepted")
    };
    kit.run_due(&engine).await.unwrap();
    assert_eq!(kit.crm.tasks()[0].1.priority, TaskPriority::Medium);

    kit.clock.advance(Span::minutes(10));
    assert_eq!(engine.warm_cold_drafts().await.unwrap(), 0, "not cold yet");

    kit.clock.advance(Span::minutes(6));
    // The CRM fails once: nothing is recorded, the next sweep tries again.
    kit.crm.faults().inject("update_task", Fault::Transient);
    assert_eq!(engine.warm_cold_drafts().await.unwrap(), 0);
    assert_eq!(engine.warm_cold_drafts().await.unwrap(), 1);
    assert_eq!(kit.crm.tasks()[0].1.priority, TaskPriority::High);
    let stored = kit.store.tasks_for_workflow(ids.workflow_id).await.unwrap();
    assert_eq!(stored[0].priority, TaskPriority::High);
    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    let cold: Vec<_> = audit.iter().filter(|e| e.action == "draft.cold").collect();
    assert_eq!(cold.len(), 1);
    assert_eq!(cold[0].detail["waited_minutes"], 16);
    // Once.
    kit.clock.advance(Span::minutes(30));
    assert_eq!(engine.warm_cold_drafts().await.unwrap(), 0);
    // Still listed for the dashboard, which shows every draft going cold.
    let since = formlead_core::ports::Clock::now(&*kit.clock) - Span::minutes(15);
    assert_eq!(
        kit.store.cold_drafts(since, 10, false).await.unwrap().len(),
        1
    );
    assert!(
        kit.store
            .cold_drafts(since, 10, true)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn drafts_not_waiting_for_an_operator_never_go_cold() {
    // Draft-only: the draft waits in the mailbox, not for an operator.
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.submit_lead(&engine, "cold-2").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    kit.clock.advance(Span::hours(2));
    assert_eq!(engine.warm_cold_drafts().await.unwrap(), 0);

    // And with the clock switched off, nothing is ever cold.
    let kit = TestKit::with_policy(approval_required());
    let engine = Engine::new(
        kit.ports(),
        EngineConfig {
            worker_id: "w".into(),
            cold_after: None,
            ..EngineConfig::default()
        },
    );
    kit.submit_lead(&engine, "cold-3").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    kit.clock.advance(Span::hours(2));
    assert_eq!(engine.warm_cold_drafts().await.unwrap(), 0);
}
