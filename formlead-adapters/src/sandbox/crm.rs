//! `SandboxCrm`: a CRM that records what would have been created.

use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{Faults, lock};
use super::recent::{Recent, RecentMap};
use formlead_core::domain::{EmailAddress, Prospect};
use formlead_core::ports::{Contact, CrmError, CrmNote, CrmPort, NewNote, NewTask, TaskUpdate};

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    contacts: RecentMap<Contact>,
    tasks: Recent<(String, NewTask)>,
    notes: Recent<(String, NewNote)>,
    seeded_notes: Vec<(String, CrmNote)>,
}

/// In-memory [`CrmPort`]. Ids are `sandbox-contact-N`, `sandbox-task-N`,
/// `sandbox-note-N`. Operations for fault injection are the method names.
#[derive(Debug, Default)]
pub struct SandboxCrm {
    state: Mutex<State>,
    faults: Faults,
}

impl SandboxCrm {
    /// An empty CRM.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scripted failures and latency, per operation.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Adds an existing contact.
    pub fn seed_contact(&self, contact: Contact) {
        lock(&self.state)
            .contacts
            .insert(contact.email.clone(), contact);
    }

    /// Adds an existing note on a contact.
    pub fn seed_note(&self, contact_id: &str, note: CrmNote) {
        lock(&self.state)
            .seeded_notes
            .push((contact_id.to_owned(), note));
    }

    /// Tasks created, with their ids (the most recent
    /// [`super::SANDBOX_HISTORY`]).
    pub fn tasks(&self) -> Vec<(String, NewTask)> {
        lock(&self.state).tasks.to_vec()
    }

    /// Notes created, with their ids (the most recent
    /// [`super::SANDBOX_HISTORY`]).
    pub fn notes(&self) -> Vec<(String, NewNote)> {
        lock(&self.state).notes.to_vec()
    }

    /// Contacts created so far.
    pub fn contacts(&self) -> Vec<Contact> {
        lock(&self.state).contacts.values().cloned().collect()
    }

    fn next_id(s: &mut State, kind: &str) -> String {
        s.next_id += 1;
        format!("sandbox-{kind}-{}", s.next_id)
    }
}

#[async_trait]
impl CrmPort for SandboxCrm {
    async fn find_contact(&self, email: &EmailAddress) -> Result<Option<Contact>, CrmError> {
        let after = self.faults.before::<CrmError>("find_contact").await?;
        let found = lock(&self.state).contacts.get(email.as_str()).cloned();
        if after {
            return Err(Faults::after_effect("find_contact"));
        }
        Ok(found)
    }

    async fn create_contact(&self, prospect: &Prospect) -> Result<Contact, CrmError> {
        let after = self.faults.before::<CrmError>("create_contact").await?;
        let contact = {
            let mut s = lock(&self.state);
            match s.contacts.get(prospect.email.as_str()) {
                Some(c) => c.clone(),
                None => {
                    let c = Contact {
                        id: Self::next_id(&mut s, "contact"),
                        email: prospect.email.to_string(),
                        owner_id: None,
                        created: false,
                    };
                    s.contacts.insert(c.email.clone(), c.clone());
                    Contact { created: true, ..c }
                }
            }
        };
        if after {
            return Err(Faults::after_effect("create_contact"));
        }
        Ok(contact)
    }

    async fn create_task(&self, task: &NewTask) -> Result<String, CrmError> {
        let after = self.faults.before::<CrmError>("create_task").await?;
        let id = {
            let mut s = lock(&self.state);
            let id = Self::next_id(&mut s, "task");
            s.tasks.push((id.clone(), task.clone()));
            id
        };
        if after {
            return Err(Faults::after_effect("create_task"));
        }
        Ok(id)
    }

    async fn update_task(&self, task_id: &str, update: &TaskUpdate) -> Result<(), CrmError> {
        let after = self.faults.before::<CrmError>("update_task").await?;
        {
            let mut s = lock(&self.state);
            let Some((_, task)) = s.tasks.iter_mut().find(|(id, _)| id == task_id) else {
                return Err(CrmError::Permanent {
                    source: format!("no task {task_id}").into(),
                });
            };
            update.apply_to(&mut task.body, &mut task.priority);
        }
        if after {
            return Err(Faults::after_effect("update_task"));
        }
        Ok(())
    }

    async fn find_task(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError> {
        self.faults.before::<CrmError>("find_task").await?;
        Ok(lock(&self.state)
            .tasks
            .iter()
            .rev()
            .find(|(_, t)| t.contact_id == contact_id && t.idempotency_key == idempotency_key)
            .map(|(id, _)| id.clone()))
    }

    async fn create_note(&self, note: &NewNote) -> Result<String, CrmError> {
        let after = self.faults.before::<CrmError>("create_note").await?;
        let id = {
            let mut s = lock(&self.state);
            let id = Self::next_id(&mut s, "note");
            s.notes.push((id.clone(), note.clone()));
            id
        };
        if after {
            return Err(Faults::after_effect("create_note"));
        }
        Ok(id)
    }

    async fn find_note(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError> {
        self.faults.before::<CrmError>("find_note").await?;
        Ok(lock(&self.state)
            .notes
            .iter()
            .rev()
            .find(|(_, n)| n.contact_id == contact_id && n.idempotency_key == idempotency_key)
            .map(|(id, _)| id.clone()))
    }

    async fn recent_notes(&self, contact_id: &str, limit: usize) -> Result<Vec<CrmNote>, CrmError> {
        self.faults.before::<CrmError>("recent_notes").await?;
        let s = lock(&self.state);
        let mut notes: Vec<CrmNote> = s
            .seeded_notes
            .iter()
            .filter(|(c, _)| c == contact_id)
            .map(|(_, n)| n.clone())
            .chain(
                s.notes
                    .iter()
                    .filter(|(_, n)| n.contact_id == contact_id)
                    .map(|(id, n)| CrmNote {
                        id: id.clone(),
                        body: n.body.clone(),
                        created_at: n.timestamp,
                    }),
            )
            .collect();
        notes.sort_by_key(|n| std::cmp::Reverse(n.created_at));
        notes.truncate(limit);
        Ok(notes)
    }
}
