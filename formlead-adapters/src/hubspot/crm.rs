//! `HubSpotCrm`: the [`CrmPort`] over HubSpot's CRM v3/v4 batch endpoints,
//! within the app's budget.
//!
//! Calls per lead: the contact read by email (1), its upsert when it is new
//! (1), its notes (2, none for a new contact), the task (1) and the note
//! (1). Under a burst, concurrent leads' calls of one kind leave as one
//! batch of up to 100 ([`super::batcher`]), so a burst costs a few calls
//! per hundred leads instead of five per lead.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use formlead_core::domain::{EmailAddress, Prospect};
use formlead_core::ports::{Contact, CrmError, CrmNote, CrmPort, NewNote, NewTask, TaskUpdate};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::batcher::Batcher;
use super::batches::{self, Api, ContactInput};
use super::types::{Association, CreateObject, CrmObject};
use crate::budget::{Budget, BudgetSpec, LocalBudget};
use crate::http::{VendorClient, VendorFailure};

/// task → contact.
pub const TASK_TO_CONTACT: u32 = 204;
/// note → contact.
pub const NOTE_TO_CONTACT: u32 = 202;

/// Notes read to recall a contact's history at most.
const RECENT_NOTES_READ: usize = 50;

/// `PATCH /crm/v3/objects/tasks/{id}`: one call of the app's budget.
const TASK_UPDATE: crate::http::Op = crate::http::Op::new("tasks.update", 1.0);

/// Connection settings.
#[derive(Debug, Clone)]
pub struct HubSpotConfig {
    /// The CRM API's base URL.
    pub api_base: String,
    /// The private app's access token (never logged).
    pub access_token: SecretString,
    /// Calls per rolling 10 s the app may make (HubSpot: 100 on Free and
    /// Starter, 190 on Professional and Enterprise).
    pub calls_per_10s: u32,
    /// How long one request may take.
    pub timeout: Duration,
}

impl HubSpotConfig {
    /// Settings for `api_base` with `access_token` and the default timeout.
    pub fn new(api_base: &str, access_token: SecretString) -> Self {
        Self {
            api_base: api_base.to_owned(),
            access_token,
            calls_per_10s: 100,
            timeout: crate::http::DEFAULT_TIMEOUT,
        }
    }

    /// The app's budget: every process using this token shares it (its
    /// name is a digest of the token, never the token).
    pub fn budget_spec(&self) -> BudgetSpec {
        let digest = Sha256::digest(self.access_token.expose_secret().as_bytes());
        let name = format!("hubspot:{}", hex::encode(&digest[..8]));
        BudgetSpec::rolling_window(
            name,
            "HubSpot",
            f64::from(self.calls_per_10s.max(1)),
            Duration::from_secs(10),
            0.05,
        )
    }
}

/// HubSpot CRM: contacts, tasks, notes.
#[derive(Debug)]
pub struct HubSpotCrm {
    api: Api,
    read_contacts: Batcher<String, Option<Contact>>,
    upsert_contacts: Batcher<ContactInput, Contact>,
    notes_of: Batcher<String, Vec<String>>,
    tasks_of: Batcher<String, Vec<String>>,
    read_notes: Batcher<Vec<String>, Vec<CrmObject>>,
    read_tasks: Batcher<Vec<String>, Vec<CrmObject>>,
    create_tasks: Batcher<CreateObject, String>,
    create_notes: Batcher<CreateObject, String>,
}

fn crm_err(f: VendorFailure) -> CrmError {
    f.into_port()
}

fn one<T>(_: &T) -> usize {
    1
}

#[allow(clippy::ptr_arg)]
fn ids(ids: &Vec<String>) -> usize {
    ids.len().max(1)
}

impl HubSpotCrm {
    /// A client with this process's own budget.
    ///
    /// # Errors
    /// [`CrmError`] when the HTTP client cannot be built.
    pub fn new(config: HubSpotConfig) -> Result<Self, CrmError> {
        let budget = Arc::new(LocalBudget::new(config.budget_spec()));
        Self::with_budget(config, budget)
    }

    /// A client drawing on `budget` (shared by every process on the app).
    ///
    /// # Errors
    /// [`CrmError`] when the HTTP client cannot be built.
    pub fn with_budget(config: HubSpotConfig, budget: Arc<dyn Budget>) -> Result<Self, CrmError> {
        let mut client = VendorClient::new("HubSpot", "hubspot", &config.api_base, config.timeout)
            .map_err(crm_err)?
            .with_budget(budget);
        // A 429 carries no Retry-After: back off about 10 s (the rolling window).
        client.default_429 = Some(Duration::from_secs(10));
        let api = Api {
            client: client.clone(),
            token: config.access_token,
        };
        Ok(Self {
            read_contacts: Batcher::new(
                client.clone(),
                batches::READ_CONTACTS,
                one,
                batches::read_contacts(api.clone()),
            ),
            upsert_contacts: Batcher::new(
                client.clone(),
                batches::UPSERT_CONTACTS,
                one,
                batches::upsert_contacts(api.clone()),
            ),
            notes_of: Batcher::new(
                client.clone(),
                batches::READ_ASSOCIATIONS,
                one,
                batches::read_associations(api.clone(), "notes"),
            ),
            tasks_of: Batcher::new(
                client.clone(),
                batches::READ_ASSOCIATIONS,
                one,
                batches::read_associations(api.clone(), "tasks"),
            ),
            read_notes: Batcher::new(
                client.clone(),
                batches::READ_OBJECTS,
                ids,
                batches::read_objects(api.clone(), "notes", &["hs_note_body", "hs_timestamp"]),
            ),
            read_tasks: Batcher::new(
                client.clone(),
                batches::READ_OBJECTS,
                ids,
                batches::read_objects(api.clone(), "tasks", &["hs_task_body"]),
            ),
            create_tasks: Batcher::new(
                client.clone(),
                batches::CREATE_OBJECTS,
                one,
                batches::create_objects(api.clone(), "tasks", "hs_task_body"),
            ),
            create_notes: Batcher::new(
                client.clone(),
                batches::CREATE_OBJECTS,
                one,
                batches::create_objects(api.clone(), "notes", "hs_note_body"),
            ),
            api,
        })
    }

    pub(crate) fn vendor(&self) -> &VendorClient {
        &self.api.client
    }

    pub(crate) fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api.req(method, path)
    }

    /// The budget this client draws on.
    pub fn budget(&self) -> Option<Arc<dyn Budget>> {
        self.api.client.budget.clone()
    }

    /// The object of `object_type` associated with the contact whose
    /// `property` contains `key` (an earlier attempt's task or note).
    async fn find_by_key(
        &self,
        associated: &Batcher<String, Vec<String>>,
        read: &Batcher<Vec<String>, Vec<CrmObject>>,
        property: &str,
        contact_id: &str,
        key: &str,
    ) -> Result<Option<String>, CrmError> {
        let ids = associated
            .submit(contact_id.to_owned())
            .await
            .map_err(crm_err)?;
        for chunk in ids.chunks(super::batcher::MAX_INPUTS) {
            let objects = read.submit(chunk.to_vec()).await.map_err(crm_err)?;
            if let Some(o) = objects
                .into_iter()
                .find(|o| o.prop(property).is_some_and(|v| v.contains(key)))
            {
                return Ok(Some(o.id));
            }
        }
        Ok(None)
    }
}

/// Percent-encodes a path segment.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl CrmPort for HubSpotCrm {
    async fn find_contact(&self, email: &EmailAddress) -> Result<Option<Contact>, CrmError> {
        self.read_contacts
            .submit(email.as_str().to_lowercase())
            .await
            .map_err(crm_err)
    }

    async fn create_contact(&self, prospect: &Prospect) -> Result<Contact, CrmError> {
        let mut properties = BTreeMap::new();
        properties.insert("email", prospect.email.to_string());
        if let Some(v) = &prospect.first_name {
            properties.insert("firstname", v.clone());
        }
        if let Some(v) = &prospect.last_name {
            properties.insert("lastname", v.clone());
        }
        if let Some(v) = &prospect.company {
            properties.insert("company", v.clone());
        }
        self.upsert_contacts
            .submit(ContactInput {
                email: prospect.email.as_str().to_lowercase(),
                properties,
            })
            .await
            .map_err(crm_err)
    }

    async fn create_task(&self, task: &NewTask) -> Result<String, CrmError> {
        let mut properties = BTreeMap::new();
        properties.insert(
            "hs_timestamp",
            task.due_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        properties.insert("hs_task_subject", task.subject.clone());
        properties.insert("hs_task_body", task.body.clone());
        properties.insert("hs_task_status", "NOT_STARTED".to_owned());
        properties.insert("hs_task_priority", task.priority.as_str().to_owned());
        properties.insert("hs_task_type", task.task_type.as_str().to_owned());
        if let Some(owner) = &task.owner_id {
            properties.insert("hubspot_owner_id", owner.clone());
        }
        let body = CreateObject {
            properties,
            associations: vec![Association::to(&task.contact_id, TASK_TO_CONTACT)],
        };
        self.create_tasks.submit(body).await.map_err(crm_err)
    }

    async fn update_task(&self, task_id: &str, update: &TaskUpdate) -> Result<(), CrmError> {
        let mut properties = BTreeMap::new();
        if let Some(body) = &update.body {
            properties.insert("hs_task_body", body.as_str());
        }
        if let Some(priority) = update.priority {
            properties.insert("hs_task_priority", priority.as_str());
        }
        let req = self.req(
            Method::PATCH,
            &format!("/crm/v3/objects/tasks/{}", urlencode(task_id)),
        );
        // Setting a property to a value is idempotent: retried inline.
        let _: CrmObject = self
            .vendor()
            .call_idempotent(
                req,
                Some(&serde_json::json!({ "properties": properties })),
                TASK_UPDATE,
            )
            .await
            .map_err(crm_err)?;
        Ok(())
    }

    async fn find_task(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError> {
        self.find_by_key(
            &self.tasks_of,
            &self.read_tasks,
            "hs_task_body",
            contact_id,
            idempotency_key,
        )
        .await
    }

    async fn create_note(&self, note: &NewNote) -> Result<String, CrmError> {
        let mut properties = BTreeMap::new();
        properties.insert(
            "hs_timestamp",
            note.timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        properties.insert("hs_note_body", note.body.clone());
        let body = CreateObject {
            properties,
            associations: vec![Association::to(&note.contact_id, NOTE_TO_CONTACT)],
        };
        self.create_notes.submit(body).await.map_err(crm_err)
    }

    async fn find_note(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError> {
        self.find_by_key(
            &self.notes_of,
            &self.read_notes,
            "hs_note_body",
            contact_id,
            idempotency_key,
        )
        .await
    }

    async fn recent_notes(&self, contact_id: &str, limit: usize) -> Result<Vec<CrmNote>, CrmError> {
        let ids = self
            .notes_of
            .submit(contact_id.to_owned())
            .await
            .map_err(crm_err)?;
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Newest ids last is common but not guaranteed: read the last 50 and sort.
        let recent: Vec<String> = ids.iter().rev().take(RECENT_NOTES_READ).cloned().collect();
        let objects = self.read_notes.submit(recent).await.map_err(crm_err)?;
        let mut notes: Vec<CrmNote> = objects
            .into_iter()
            .filter_map(|o| {
                let at = o
                    .prop("hs_timestamp")
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())?;
                Some(CrmNote {
                    id: o.id.clone(),
                    body: o.prop("hs_note_body").unwrap_or_default().to_owned(),
                    created_at: at.with_timezone(&chrono::Utc),
                })
            })
            .collect();
        notes.sort_by_key(|n| std::cmp::Reverse(n.created_at));
        notes.truncate(limit);
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_budget_names() {
        assert_eq!(urlencode("a b@c.io"), "a%20b%40c.io");
        let c = HubSpotConfig::new(
            "https://api.hubapi.com",
            SecretString::from("pat-na1-secret"),
        );
        let spec = c.budget_spec();
        assert!(spec.name.starts_with("hubspot:") && !spec.name.contains("secret"));
        assert!(spec.max_in(Duration::from_secs(10)) <= 100.0);
    }
}
