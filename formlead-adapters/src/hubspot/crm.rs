//! `HubSpotCrm`: the [`CrmPort`] over HubSpot's CRM v3/v4 REST API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use formlead_core::domain::{EmailAddress, Prospect};
use formlead_core::ports::{Contact, CrmError, CrmNote, CrmPort, NewNote, NewTask};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::types::{Association, Associations, CreateObject, CrmObject, Results};
use crate::http::{RateLimiter, VendorClient, VendorFailure};

/// task → contact.
pub const TASK_TO_CONTACT: u32 = 204;
/// note → contact.
pub const NOTE_TO_CONTACT: u32 = 202;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct HubSpotConfig {
    pub api_base: String,
    pub access_token: SecretString,
    /// Calls per 10 s (the app's budget; default 100).
    pub calls_per_10s: u32,
    /// CRM search calls per second (HubSpot allows 5; default 4).
    pub searches_per_s: u32,
    pub timeout: Duration,
}

impl HubSpotConfig {
    pub fn new(api_base: &str, access_token: SecretString) -> Self {
        Self {
            api_base: api_base.to_owned(),
            access_token,
            calls_per_10s: 100,
            searches_per_s: 4,
            timeout: crate::http::DEFAULT_TIMEOUT,
        }
    }
}

/// HubSpot CRM: contacts, tasks, notes.
#[derive(Debug, Clone)]
pub struct HubSpotCrm {
    client: VendorClient,
    token: SecretString,
    search_limiter: Arc<RateLimiter>,
}

fn crm_err(f: VendorFailure) -> CrmError {
    f.into_port()
}

impl HubSpotCrm {
    /// # Errors
    /// [`CrmError`] when the HTTP client cannot be built.
    pub fn new(config: HubSpotConfig) -> Result<Self, CrmError> {
        let mut client = VendorClient::new("HubSpot", &config.api_base, config.timeout)
            .map_err(crm_err)?
            .with_limiter(Arc::new(RateLimiter::new(
                config.calls_per_10s,
                Duration::from_secs(10),
            )));
        // A 429 carries no Retry-After: back off about 10 s (the rolling window).
        client.default_429 = Some(Duration::from_secs(10));
        Ok(Self {
            client,
            token: config.access_token,
            search_limiter: Arc::new(RateLimiter::new(
                config.searches_per_s,
                Duration::from_secs(1),
            )),
        })
    }

    pub(crate) fn vendor(&self) -> &VendorClient {
        &self.client
    }

    pub(crate) fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, path)
            .bearer_auth(self.token.expose_secret())
    }

    fn contact(obj: &CrmObject, fallback_email: &str) -> Contact {
        Contact {
            id: obj.id.clone(),
            email: obj.prop("email").unwrap_or(fallback_email).to_owned(),
            owner_id: obj.prop("hubspot_owner_id").map(str::to_owned),
        }
    }

    async fn get_contact(
        &self,
        id_or_email: &str,
        by_email: bool,
    ) -> Result<Option<Contact>, CrmError> {
        let mut req = self
            .req(
                Method::GET,
                &format!("/crm/v3/objects/contacts/{}", urlencode(id_or_email)),
            )
            .query(&[("properties", "email,hubspot_owner_id")]);
        if by_email {
            req = req.query(&[("idProperty", "email")]);
        }
        match self.client.send_idempotent(req, None).await {
            Ok(resp) => {
                let obj: CrmObject = self.client.json(resp).await.map_err(crm_err)?;
                Ok(Some(Self::contact(&obj, id_or_email)))
            }
            Err(f) if f.status == Some(404) => Ok(None),
            Err(f) => Err(crm_err(f)),
        }
    }

    /// Ids of `object_type` (tasks, notes) associated with a contact.
    async fn associated(
        &self,
        contact_id: &str,
        object_type: &str,
    ) -> Result<Vec<String>, CrmError> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10 {
            let mut req = self
                .req(
                    Method::GET,
                    &format!(
                        "/crm/v4/objects/contacts/{}/associations/{object_type}",
                        urlencode(contact_id)
                    ),
                )
                .query(&[("limit", "500")]);
            if let Some(a) = &after {
                req = req.query(&[("after", a.as_str())]);
            }
            let page: Associations = self
                .client
                .call_idempotent::<(), _>(req, None, None)
                .await
                .map_err(crm_err)?;
            ids.extend(page.results.iter().map(|r| r.id()));
            after = page.paging.and_then(|p| p.next).map(|n| n.after);
            if after.is_none() {
                break;
            }
        }
        Ok(ids)
    }

    /// Objects of `object_type` by id, with `properties`.
    async fn batch_read(
        &self,
        object_type: &str,
        ids: &[String],
        properties: &[&str],
    ) -> Result<Vec<CrmObject>, CrmError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(100) {
            let body = json!({
                "properties": properties,
                "inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            });
            let page: Results<CrmObject> = self
                .client
                .call_idempotent(
                    self.req(
                        Method::POST,
                        &format!("/crm/v3/objects/{object_type}/batch/read"),
                    ),
                    Some(&body),
                    None,
                )
                .await
                .map_err(crm_err)?;
            out.extend(page.results);
        }
        Ok(out)
    }

    /// An object associated with the contact whose `property` contains `key`.
    async fn find_by_key(
        &self,
        object_type: &str,
        property: &str,
        contact_id: &str,
        key: &str,
    ) -> Result<Option<String>, CrmError> {
        let ids = self.associated(contact_id, object_type).await?;
        if ids.is_empty() {
            return Ok(None);
        }
        let objects = self.batch_read(object_type, &ids, &[property]).await?;
        Ok(objects
            .into_iter()
            .find(|o| o.prop(property).is_some_and(|v| v.contains(key)))
            .map(|o| o.id))
    }

    async fn create(&self, object_type: &str, body: &CreateObject) -> Result<String, CrmError> {
        let obj: CrmObject = self
            .client
            .call(
                self.req(Method::POST, &format!("/crm/v3/objects/{object_type}")),
                Some(body),
                None,
            )
            .await
            .map_err(crm_err)?;
        Ok(obj.id)
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

/// The id in a 409 message: "Contact already exists. Existing ID: 123".
fn existing_id(message: &str) -> Option<String> {
    let idx = message.find("Existing ID:")?;
    let id: String = message[idx + "Existing ID:".len()..]
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!id.is_empty()).then_some(id)
}

#[async_trait]
impl CrmPort for HubSpotCrm {
    async fn find_contact(&self, email: &EmailAddress) -> Result<Option<Contact>, CrmError> {
        let body = json!({
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email.as_str()}]}],
            "properties": ["email", "hubspot_owner_id", "firstname", "lastname"],
            "limit": 1,
        });
        let found: Results<CrmObject> = self
            .client
            .call_idempotent(
                self.req(Method::POST, "/crm/v3/objects/contacts/search"),
                Some(&body),
                Some(&self.search_limiter),
            )
            .await
            .map_err(crm_err)?;
        Ok(found
            .results
            .first()
            .map(|o| Self::contact(o, email.as_str())))
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
        let body = CreateObject {
            properties,
            associations: vec![],
        };
        let req = self
            .req(Method::POST, "/crm/v3/objects/contacts")
            .json(&body);
        match self.client.send(req, None).await {
            Ok(resp) => {
                let obj: CrmObject = self.client.json(resp).await.map_err(crm_err)?;
                Ok(Self::contact(&obj, prospect.email.as_str()))
            }
            // A conflict means it exists (perhaps created by a lost earlier
            // attempt, or not yet in the search index): fetch it.
            Err(f) if f.status == Some(409) => {
                let found = match existing_id(&f.message) {
                    Some(id) => self.get_contact(&id, false).await?,
                    None => self.get_contact(prospect.email.as_str(), true).await?,
                };
                found.ok_or_else(|| {
                    CrmError::transient(format!(
                        "{}; the existing contact could not be read yet",
                        f.message
                    ))
                })
            }
            Err(f) => Err(crm_err(f)),
        }
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
        self.create("tasks", &body).await
    }

    async fn find_task(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError> {
        self.find_by_key("tasks", "hs_task_body", contact_id, idempotency_key)
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
        self.create("notes", &body).await
    }

    async fn find_note(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError> {
        self.find_by_key("notes", "hs_note_body", contact_id, idempotency_key)
            .await
    }

    async fn recent_notes(&self, contact_id: &str, limit: usize) -> Result<Vec<CrmNote>, CrmError> {
        let ids = self.associated(contact_id, "notes").await?;
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Newest ids last is common but not guaranteed: read the last 50 and sort.
        let recent: Vec<String> = ids.iter().rev().take(50).cloned().collect();
        let objects = self
            .batch_read("notes", &recent, &["hs_note_body", "hs_timestamp"])
            .await?;
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
    fn conflict_messages_name_the_existing_contact() {
        assert_eq!(
            existing_id("HubSpot 409: Contact already exists. Existing ID: 12345").as_deref(),
            Some("12345")
        );
        assert_eq!(existing_id("HubSpot 409: conflict"), None);
        assert_eq!(urlencode("a b@c.io"), "a%20b%40c.io");
    }
}
