//! Embedding formlead with your own CRM.
//!
//! A team that keeps contacts in an in-house system implements `CrmPort`
//! for it and hands it to the `EngineBuilder`; every other port keeps its
//! default (the in-memory store, the sandbox mailbox and calendar). One form
//! submission runs through the 13 steps.
//!
//! Run: `cargo run --example embed`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use formlead::adapters::embedded::EngineBuilder;
use formlead::core::agents::VoiceProfile;
use formlead::core::domain::{EmailAddress, FormSubmission, Prospect};
use formlead::core::orchestrator::AcceptOutcome;
use formlead::core::ports::{Contact, CrmError, CrmNote, CrmPort, NewNote, NewTask};

/// The in-house CRM: contacts by email, tasks and notes in lists.
#[derive(Default)]
struct InHouseCrm {
    contacts: Mutex<HashMap<String, Contact>>,
    log: Mutex<Vec<String>>,
}

impl InHouseCrm {
    fn record(&self, line: String) -> usize {
        let mut log = self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.push(line);
        log.len()
    }
}

#[async_trait]
impl CrmPort for InHouseCrm {
    async fn find_contact(&self, email: &EmailAddress) -> Result<Option<Contact>, CrmError> {
        Ok(self
            .contacts
            .lock()
            .map_err(|_| CrmError::permanent("lock poisoned"))?
            .get(email.as_str())
            .cloned())
    }

    async fn create_contact(&self, prospect: &Prospect) -> Result<Contact, CrmError> {
        let contact = Contact {
            id: format!("inhouse-{}", prospect.email),
            email: prospect.email.to_string(),
            owner_id: Some("sales-team".into()),
            created: false,
        };
        self.contacts
            .lock()
            .map_err(|_| CrmError::permanent("lock poisoned"))?
            .entry(contact.email.clone())
            .or_insert_with(|| contact.clone());
        Ok(contact)
    }

    async fn create_task(&self, task: &NewTask) -> Result<String, CrmError> {
        let n = self.record(format!(
            "task: {} (due {})",
            task.subject,
            task.due_at.format("%Y-%m-%d %H:%M")
        ));
        Ok(format!("task-{n}"))
    }

    async fn update_task(
        &self,
        task_id: &str,
        update: &formlead_core::ports::TaskUpdate,
    ) -> Result<(), CrmError> {
        self.record(format!("task {task_id} updated: {update:?}"));
        Ok(())
    }

    async fn find_task(&self, _contact_id: &str, _key: &str) -> Result<Option<String>, CrmError> {
        Ok(None)
    }

    async fn create_note(&self, note: &NewNote) -> Result<String, CrmError> {
        let n = self.record(format!(
            "note: {}",
            note.body.lines().next().unwrap_or_default()
        ));
        Ok(format!("note-{n}"))
    }

    async fn find_note(&self, _contact_id: &str, _key: &str) -> Result<Option<String>, CrmError> {
        Ok(None)
    }

    async fn recent_notes(
        &self,
        _contact_id: &str,
        _limit: usize,
    ) -> Result<Vec<CrmNote>, CrmError> {
        Ok(vec![])
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crm = Arc::new(InHouseCrm::default());
    let voice = VoiceProfile {
        company_name: "Northwind".into(),
        signature: "Sam Carter\nNorthwind Sales".into(),
        ..VoiceProfile::default()
    };
    let embedded = EngineBuilder::new().crm(crm.clone()).voice(voice).build();
    let (engine, store) = (&embedded.engine, &embedded.ports.store);

    let body = br#"{"formSubmissionId": "embed-demo-1", "email": "Maria.Lopez@Globex.example",
        "firstname": "maria", "lastname": "lopez", "company": "Globex",
        "message": "Hi, we are evaluating tools to automate onboarding for our sales team. Could we get pricing and a demo?"}"#;
    let submission = FormSubmission::from_webhook_body(body, chrono::Utc::now())?;
    let AcceptOutcome::Accepted(ids) = engine.accept(&submission).await? else {
        return Err("unexpected duplicate".into());
    };
    println!(
        "accepted submission {} as workflow {}",
        ids.submission_id, ids.workflow_id
    );

    for outcome in embedded.run_due().await? {
        println!("processed: {}", outcome.label());
    }

    let detail = engine
        .workflow_detail(ids.workflow_id)
        .await?
        .ok_or("workflow vanished")?;
    println!("\nsteps:");
    for step in &detail.steps {
        println!(
            "  {:>2}. {:<20} {}",
            step.step.number(),
            step.step.as_str(),
            step.summary.as_deref().unwrap_or("")
        );
    }
    let draft = store
        .drafts_for_workflow(ids.workflow_id)
        .await?
        .into_iter()
        .next()
        .ok_or("no draft")?;
    println!(
        "\ndraft to {} ({}):\nSubject: {}\n\n{}\n",
        draft.to_email, draft.status, draft.subject, draft.body_text
    );
    println!("in-house CRM received:");
    for line in crm.log.lock().map_err(|_| "lock poisoned")?.iter() {
        println!("  {line}");
    }
    Ok(())
}
