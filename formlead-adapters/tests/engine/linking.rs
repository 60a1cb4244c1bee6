//! One reply per prospect: repeat submissions join the reply that is still
//! open, an operator cannot approve a draft that is about to change, and a
//! reply decided first leaves the repeat submission a reply of its own.

use formlead_adapters::testing::TestKit;

use crate::approval_required;
use formlead_core::domain::{DraftStatus, WorkflowStatus};
use formlead_core::orchestrator::{AcceptOutcome, ActionError, ProcessOutcome};
use formlead_core::ports::{Conflict, Store};

async fn repeat(
    kit: &TestKit,
    engine: &formlead_core::orchestrator::Engine,
    id: &str,
    ask: &str,
) -> AcceptOutcome {
    let body = TestKit::body(id, "john.doe@acme.example", "John", "Acme", ask);
    kit.submit(engine, &body).await.unwrap()
}

#[tokio::test]
async fn a_repeat_before_the_run_joins_the_reply() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let first = kit.submit_lead(&engine, "l-1").await.unwrap();
    let AcceptOutcome::Linked(second) = repeat(
        &kit,
        &engine,
        "l-2",
        "Also: do you support SAML single sign-on?",
    )
    .await
    else {
        panic!("not linked")
    };
    assert_eq!(second.workflow_id, first.workflow_id);
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![
            ProcessOutcome::Finished(WorkflowStatus::Completed),
            ProcessOutcome::Amended { linked: 1 },
        ]
    );
    let drafts = kit.mail.drafts();
    assert_eq!(drafts.len(), 1);
    assert!(
        drafts[0].1.body_text.contains("SAML single sign-on"),
        "{}",
        drafts[0].1.body_text
    );
    assert_eq!(kit.crm.tasks().len(), 1);
    assert_eq!(kit.crm.notes().len(), 2);
}

#[tokio::test]
async fn a_draft_is_not_approved_while_it_is_being_updated() {
    let kit = TestKit::with_policy(approval_required());
    let engine = kit.engine();
    let first = kit.submit_lead(&engine, "a-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let draft = kit
        .store
        .drafts_for_workflow(first.workflow_id)
        .await
        .unwrap()[0]
        .clone();
    let AcceptOutcome::Linked(_) =
        repeat(&kit, &engine, "a-2", "Can the demo include the API?").await
    else {
        panic!("not linked")
    };
    match engine.approve_draft(draft.id, "alice").await {
        Err(ActionError::Conflict(Conflict::DraftUpdating(id))) => assert_eq!(id, draft.id),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Amended { linked: 1 }]
    );
    let sent = engine.approve_draft(draft.id, "alice").await.unwrap();
    assert_eq!(sent.status, DraftStatus::Sent);
    assert!(sent.body_text.contains("the API"), "{}", sent.body_text);
    let mailbox = kit.mail.drafts();
    assert!(
        mailbox[0].1.body_text.contains("the API"),
        "what went out is the updated draft"
    );
}

#[tokio::test]
async fn a_reply_rejected_first_leaves_the_repeat_its_own_reply() {
    let kit = TestKit::with_policy(approval_required());
    let engine = kit.engine();
    let first = kit.submit_lead(&engine, "r-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let draft = kit
        .store
        .drafts_for_workflow(first.workflow_id)
        .await
        .unwrap()[0]
        .clone();
    let AcceptOutcome::Linked(linked) = repeat(
        &kit,
        &engine,
        "r-2",
        "Second question about security reviews",
    )
    .await
    else {
        panic!("not linked")
    };
    engine
        .reject_draft(draft.id, "bob", "wrong product")
        .await
        .unwrap();
    let outcomes = kit.run_due(&engine).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            ProcessOutcome::Amended { linked: 0 },
            ProcessOutcome::Finished(WorkflowStatus::AwaitingApproval),
        ]
    );
    assert!(
        kit.store
            .linked_submissions(first.workflow_id)
            .await
            .unwrap()
            .is_empty()
    );
    let own = kit.store.find_submission("r-2").await.unwrap().unwrap();
    assert_eq!(own.submission_id, linked.submission_id);
    assert_ne!(own.workflow_id, first.workflow_id);
    assert!(!own.linked);
    assert_eq!(kit.mail.drafts().len(), 2, "its own draft");
}
