//! Offered meeting times are checked again when a draft is approved or
//! auto-sent in a later attempt: a past or booked time is re-picked and the
//! draft rewritten before the send; with no free time left, the operator is
//! told and nothing is sent.

use chrono::Duration as Span;
use formlead_adapters::testing::{Fault, TestKit};

use crate::{approval_required, send_mode};
use formlead_core::domain::DraftStatus;
use formlead_core::orchestrator::{ActionError, Engine};
use formlead_core::ports::{BusyBlock, Clock, Conflict, Store};

/// A lead asking for a demo, drafted with slots offered, awaiting approval.
async fn drafted() -> (TestKit, Engine, formlead_core::domain::DraftEmail) {
    let kit = TestKit::with_policy(approval_required());
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "slots-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let draft = kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0]
        .clone();
    assert!(
        draft.body_text.contains("Any of these times"),
        "{}",
        draft.body_text
    );
    (kit, engine, draft)
}

/// The slot lines ("- Wed 25 Nov, 12:00–12:30 (UTC)") of a draft.
fn offered(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("- "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_past_slot_is_re_picked_at_approval() {
    let (kit, engine, draft) = drafted().await;
    let before = offered(&draft.body_text);
    assert!(!before.is_empty());
    // The operator approves three days later: every offered time is past.
    kit.clock.advance(Span::days(3));
    let sent = engine.approve_draft(draft.id, "alice").await.unwrap();
    assert_eq!(sent.status, DraftStatus::Sent);
    let after = offered(&sent.body_text);
    assert!(!after.is_empty(), "{}", sent.body_text);
    assert!(
        after.iter().all(|l| !before.contains(l)),
        "{before:?} → {after:?}"
    );
    // What went out is the rewritten mailbox draft.
    assert_eq!(offered(&kit.mail.drafts()[0].1.body_text), after);
    let audit = kit
        .store
        .audit_for_workflow(draft.workflow_id)
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "draft.slots_repicked"));
    // The plan now offers the new times: approving again changes nothing.
    let again = engine.approve_draft(draft.id, "alice").await.unwrap();
    assert_eq!(again.body_text, sent.body_text);
}

#[tokio::test]
async fn a_booked_slot_is_re_picked() {
    let (kit, engine, draft) = drafted().await;
    let plan_first = offered(&draft.body_text)[0].clone();
    // Someone booked the whole first offered day meanwhile.
    let now = kit.clock.now();
    kit.calendar.add_busy(BusyBlock {
        start: now,
        end: now + Span::hours(30),
    });
    let sent = engine.approve_draft(draft.id, "alice").await.unwrap();
    let after = offered(&sent.body_text);
    assert!(
        !after.contains(&plan_first),
        "{plan_first} still offered: {after:?}"
    );
    assert!(!after.is_empty());
}

#[tokio::test]
async fn with_no_free_slot_the_operator_is_told_and_nothing_is_sent() {
    let (kit, engine, draft) = drafted().await;
    let now = kit.clock.now();
    kit.calendar.add_busy(BusyBlock {
        start: now - Span::days(1),
        end: now + Span::days(60),
    });
    match engine.approve_draft(draft.id, "alice").await {
        Err(ActionError::Conflict(Conflict::NoFreeSlot(id))) => assert_eq!(id, draft.id),
        other => panic!("expected no free slot, got {other:?}"),
    }
    assert!(kit.mail.sent().is_empty(), "nothing sent");
    let stored = kit.store.get_draft(draft.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        DraftStatus::PendingApproval,
        "still the operator's to decide"
    );
    let audit = kit
        .store
        .audit_for_workflow(draft.workflow_id)
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "draft.slots_unavailable"));
}

/// An auto-send right after the run planned the reply trusts the free/busy
/// answer step 6 read moments earlier: one calendar call per lead.
#[tokio::test]
async fn an_auto_send_in_the_planning_run_reads_the_calendar_once() {
    let kit = TestKit::with_policy(send_mode(true));
    let engine = kit.engine();
    kit.submit_lead(&engine, "slots-auto").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    assert_eq!(kit.mail.sent().len(), 1);
    assert!(
        !offered(&kit.mail.drafts()[0].1.body_text).is_empty(),
        "slots were offered"
    );
    assert_eq!(kit.calendar.faults().calls("busy"), 1);
}

/// An auto-send in a later attempt (the first one's send failed) checks the
/// offered times again: three days on, every one has passed and is
/// re-picked before the send.
#[tokio::test]
async fn an_auto_send_resumed_days_later_re_picks_past_slots() {
    let kit = TestKit::with_policy(send_mode(true));
    let engine = kit.engine();
    kit.mail.faults().inject("send_draft", Fault::Transient);
    let ids = kit.submit_lead(&engine, "slots-late").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    assert!(kit.mail.sent().is_empty(), "the first send failed");
    let before = offered(&kit.mail.drafts()[0].1.body_text);
    assert!(!before.is_empty());

    kit.clock.advance(Span::days(3));
    kit.run_due(&engine).await.unwrap();
    let sent = kit.mail.sent();
    assert_eq!(sent.len(), 1);
    let after = offered(&kit.mail.drafts()[0].1.body_text);
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|l| !before.contains(l)),
        "{before:?} → {after:?}"
    );
    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "draft.slots_repicked"));
    assert_eq!(
        kit.calendar.faults().calls("busy"),
        2,
        "step 6, then the re-check"
    );
}
