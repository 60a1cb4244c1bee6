//! Operator decisions racing the workflow, and what the mailbox would
//! actually send: a rejected draft is never sent, a decision made while the
//! workflow runs is the status it ends in, and edited recipients are
//! checked before a send.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use formlead_adapters::sandbox::SandboxCrm;
use formlead_adapters::testing::TestKit;

use crate::send_mode;
use formlead_core::domain::{DraftStatus, EmailAddress, Prospect, WorkflowStatus};
use formlead_core::orchestrator::*;
use formlead_core::ports::{Contact, CrmError, CrmNote, CrmPort, NewNote, NewTask, Store};

#[derive(Debug, Clone, Copy)]
enum Decision {
    Approve,
    Reject,
}

/// The sandbox CRM, except that logging the note (step 12) first has an
/// operator decide on the workflow's draft: the moment between the side
/// effects and `finalize`.
struct DecidingCrm {
    inner: Arc<SandboxCrm>,
    engine: OnceLock<Engine>,
    decision: Decision,
}

#[async_trait]
impl CrmPort for DecidingCrm {
    async fn find_contact(&self, email: &EmailAddress) -> Result<Option<Contact>, CrmError> {
        self.inner.find_contact(email).await
    }
    async fn create_contact(&self, prospect: &Prospect) -> Result<Contact, CrmError> {
        self.inner.create_contact(prospect).await
    }
    async fn create_task(&self, task: &NewTask) -> Result<String, CrmError> {
        self.inner.create_task(task).await
    }
    async fn update_task(
        &self,
        task_id: &str,
        update: &formlead_core::ports::TaskUpdate,
    ) -> Result<(), CrmError> {
        self.inner.update_task(task_id, update).await
    }
    async fn find_task(&self, contact_id: &str, key: &str) -> Result<Option<String>, CrmError> {
        self.inner.find_task(contact_id, key).await
    }
    async fn create_note(&self, note: &NewNote) -> Result<String, CrmError> {
        let engine = self.engine.get().expect("engine set");
        let pending = engine
            .ports()
            .store
            .list_drafts(Some(DraftStatus::PendingApproval), 10, 0)
            .await
            .unwrap();
        let draft = pending.items[0].id;
        match self.decision {
            Decision::Approve => {
                engine.approve_draft(draft, "alice").await.unwrap();
            }
            Decision::Reject => {
                engine
                    .reject_draft(draft, "bob", "wrong tone")
                    .await
                    .unwrap();
            }
        }
        self.inner.create_note(note).await
    }
    async fn find_note(&self, contact_id: &str, key: &str) -> Result<Option<String>, CrmError> {
        self.inner.find_note(contact_id, key).await
    }
    async fn recent_notes(&self, contact_id: &str, limit: usize) -> Result<Vec<CrmNote>, CrmError> {
        self.inner.recent_notes(contact_id, limit).await
    }
}

/// An engine on `kit` whose CRM makes `decision` during step 12.
fn deciding_engine(kit: &TestKit, decision: Decision) -> Engine {
    let crm = Arc::new(DecidingCrm {
        inner: kit.crm.clone(),
        engine: OnceLock::new(),
        decision,
    });
    let mut ports = kit.ports();
    ports.crm = crm.clone();
    let engine = Engine::new(ports, EngineConfig::default());
    let _ = crm.engine.set(engine.clone());
    engine
}

async fn workflow_status(kit: &TestKit, id: formlead_core::domain::WorkflowId) -> WorkflowStatus {
    kit.store.get_workflow(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn a_reject_between_steps_12_and_13_stops_the_auto_send() {
    let kit = TestKit::with_policy(send_mode(true));
    let engine = deciding_engine(&kit, Decision::Reject);
    let ids = kit.submit_lead(&engine, "race-1").await.unwrap();
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );
    assert!(kit.mail.sent().is_empty(), "a rejected draft is never sent");
    let draft = &kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0];
    assert_eq!(draft.status, DraftStatus::Rejected);
    assert_eq!(draft.decided_by.as_deref(), Some("operator:bob"));
    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "send.skipped"));
    assert!(!audit.iter().any(|e| e.action == "draft.sent"));
}

#[tokio::test]
async fn decisions_made_while_the_workflow_runs_end_it_completed() {
    for decision in [Decision::Approve, Decision::Reject] {
        let kit = TestKit::with_policy(send_mode(false));
        let engine = deciding_engine(&kit, decision);
        let ids = kit.submit_lead(&engine, "race-2").await.unwrap();
        assert_eq!(
            kit.run_due(&engine).await.unwrap(),
            vec![ProcessOutcome::Finished(WorkflowStatus::Completed)],
            "{decision:?}"
        );
        assert_eq!(
            workflow_status(&kit, ids.workflow_id).await,
            WorkflowStatus::Completed
        );
        let draft = &kit
            .store
            .drafts_for_workflow(ids.workflow_id)
            .await
            .unwrap()[0];
        match decision {
            Decision::Approve => {
                assert_eq!(draft.status, DraftStatus::Sent);
                assert_eq!(kit.mail.sent().len(), 1);
            }
            Decision::Reject => {
                assert_eq!(draft.status, DraftStatus::Rejected);
                assert!(kit.mail.sent().is_empty());
            }
        }
    }
}

#[tokio::test]
async fn recipients_edited_in_the_mailbox_are_checked_before_a_send() {
    let kit = TestKit::with_policy(send_mode(false));
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "edit-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let draft = kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0]
        .clone();
    let external = draft.external_id.clone().unwrap();
    // Someone adds a Bcc outside the allowlist in the mail client.
    kit.mail.edit_draft_recipients(
        &external,
        vec!["john.doe@acme.example".into(), "eve@evil.example".into()],
    );
    let refused = engine.approve_draft(draft.id, "alice").await;
    match refused {
        Err(ActionError::Refused(r)) => assert!(r.reason.contains("eve@evil.example"), "{r}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(kit.mail.sent().is_empty());
    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    assert!(audit.iter().any(|e| {
        e.action == "send.refused"
            && e.detail["reason"]
                .as_str()
                .unwrap_or("")
                .contains("eve@evil.example")
    }));
    // A recipient that is not an address at all is refused too.
    kit.mail
        .edit_draft_recipients(&external, vec!["not an address".into()]);
    assert!(matches!(
        engine.approve_draft(draft.id, "alice").await,
        Err(ActionError::Refused(_))
    ));
    // Back to allowed recipients (another allowed one added): the approval sends.
    kit.mail.edit_draft_recipients(
        &external,
        vec!["john.doe@acme.example".into(), "boss@acme.example".into()],
    );
    let sent = engine.approve_draft(draft.id, "alice").await.unwrap();
    assert_eq!(sent.status, DraftStatus::Sent);
    assert_eq!(kit.mail.sent().len(), 1);
}
