//! HubSpot's batch endpoints, one function per operation: the request
//! shape, and how each input finds its own answer in the batch's.
//!
//! - contacts by email: `POST /crm/v3/objects/contacts/batch/read` with
//!   `idProperty: email` (not the search API, which has its own 5/s limit
//!   and lags behind new contacts);
//! - contacts created or found: `POST /crm/v3/objects/contacts/batch/upsert`
//!   by email, which can be repeated safely after a lost answer;
//! - a contact's notes or tasks: `POST /crm/v4/associations/contacts/{to}/batch/read`;
//! - notes or tasks by id: `POST /crm/v3/objects/{type}/batch/read`;
//! - tasks and notes: `POST /crm/v3/objects/{type}/batch/create` with the
//!   association to the contact inline.
//!
//! A batch that HubSpot refuses as a whole (400) is split and each input
//! sent alone, so one bad input fails only its own lead.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use formlead_core::ports::Contact;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::batcher::BatchFn;
use super::types::{CreateObject, CrmObject};
use crate::http::client::retry_inline;
use crate::http::{Op, VendorClient, VendorFailure};

pub(crate) const READ_CONTACTS: Op = Op::new("contacts.batch_read", 1.0);
pub(crate) const UPSERT_CONTACTS: Op = Op::new("contacts.batch_upsert", 1.0);
pub(crate) const READ_ASSOCIATIONS: Op = Op::new("associations.batch_read", 1.0);
pub(crate) const READ_OBJECTS: Op = Op::new("objects.batch_read", 1.0);
pub(crate) const CREATE_OBJECTS: Op = Op::new("objects.batch_create", 1.0);

/// The properties read with a contact.
const CONTACT_PROPERTIES: [&str; 2] = ["email", "hubspot_owner_id"];

/// The HubSpot client and its token.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    pub client: VendorClient,
    pub token: SecretString,
}

impl Api {
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, path)
            .bearer_auth(self.token.expose_secret())
    }

    /// Posts one batch. The first attempt uses the budget the dispatcher
    /// reserved (`reserved`); retries of an idempotent batch reserve their own.
    async fn post(
        &self,
        op: Op,
        path: &str,
        body: &Value,
        reserved: bool,
        idempotent: bool,
    ) -> Result<Answer, VendorFailure> {
        let first = AtomicBool::new(reserved);
        let attempt = || async {
            let req = self.req(Method::POST, path).json(body);
            let response = if first.swap(false, Ordering::Relaxed) {
                self.client.send_reserved(req, op).await?
            } else {
                self.client.send(req, op).await?
            };
            self.client.json::<Answer>(response).await
        };
        if !idempotent {
            return attempt().await;
        }
        retry_inline(attempt).await
    }
}

/// A batch endpoint's answer (200, or 207 when some inputs failed).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Answer {
    #[serde(default)]
    pub results: Vec<Value>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

impl Answer {
    fn objects(&self) -> impl Iterator<Item = CrmObject> + '_ {
        self.results
            .iter()
            .filter_map(|v| serde_json::from_value::<CrmObject>(v.clone()).ok())
    }
}

/// Sends `inputs` as one batch; each input's result comes from `answer_for`
/// (the answer, the input's index and the input). On a 400 for several
/// inputs, each is sent alone.
async fn per_input<I, O, B, A>(
    api: &Api,
    op: Op,
    path: &str,
    inputs: Vec<I>,
    idempotent: bool,
    body: B,
    answer_for: A,
) -> Vec<Result<O, VendorFailure>>
where
    B: Fn(&[I]) -> Value,
    A: Fn(&Answer, usize, &I) -> Result<O, VendorFailure>,
{
    match api.post(op, path, &body(&inputs), true, idempotent).await {
        Ok(answer) => inputs
            .iter()
            .enumerate()
            .map(|(i, input)| answer_for(&answer, i, input))
            .collect(),
        Err(f) if f.status == Some(400) && inputs.len() > 1 => {
            tracing::warn!(operation = op.name, inputs = inputs.len(), error = %f.message, "HubSpot refused a batch; sending its inputs one by one");
            let mut out = Vec::with_capacity(inputs.len());
            for input in &inputs {
                let one = std::slice::from_ref(input);
                out.push(
                    match api.post(op, path, &body(one), false, idempotent).await {
                        Ok(answer) => answer_for(&answer, 0, input),
                        Err(f) => Err(f),
                    },
                );
            }
            out
        }
        Err(f) => inputs.iter().map(|_| Err(f.clone())).collect(),
    }
}

fn boxed<I, O, F, Fut>(f: F) -> BatchFn<I, O>
where
    F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Result<O, VendorFailure>>> + Send + 'static,
{
    Arc::new(move |inputs| Box::pin(f(inputs)))
}

fn contact_of(obj: &CrmObject, fallback_email: &str, created: bool) -> Contact {
    Contact {
        id: obj.id.clone(),
        email: obj.prop("email").unwrap_or(fallback_email).to_owned(),
        owner_id: obj.prop("hubspot_owner_id").map(str::to_owned),
        created,
    }
}

fn unique(items: &[String]) -> Vec<&String> {
    let mut seen: Vec<&String> = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen
}

/// Contacts by email; `None` for an email HubSpot does not know.
pub(crate) fn read_contacts(api: Api) -> BatchFn<String, Option<Contact>> {
    boxed(move |emails: Vec<String>| {
        let api = api.clone();
        async move {
            per_input(
                &api,
                READ_CONTACTS,
                "/crm/v3/objects/contacts/batch/read",
                emails,
                true,
                |emails| {
                    json!({
                        "idProperty": "email",
                        "properties": CONTACT_PROPERTIES,
                        "inputs": unique(emails).iter().map(|e| json!({"id": e})).collect::<Vec<_>>(),
                    })
                },
                |answer, _, email| {
                    Ok(answer
                        .objects()
                        .find(|o| o.prop("email").is_some_and(|e| e.eq_ignore_ascii_case(email)))
                        .map(|o| contact_of(&o, email, false)))
                },
            )
            .await
        }
    })
}

/// What a contact is upserted with.
#[derive(Debug, Clone)]
pub(crate) struct ContactInput {
    pub email: String,
    pub properties: BTreeMap<&'static str, String>,
}

/// Contacts created (or found) by email.
pub(crate) fn upsert_contacts(api: Api) -> BatchFn<ContactInput, Contact> {
    boxed(move |inputs: Vec<ContactInput>| {
        let api = api.clone();
        async move {
            per_input(
                &api,
                UPSERT_CONTACTS,
                "/crm/v3/objects/contacts/batch/upsert",
                inputs,
                true,
                |inputs| {
                    let mut seen = Vec::new();
                    let inputs: Vec<Value> = inputs
                        .iter()
                        .filter(|c| {
                            let new = !seen.contains(&c.email);
                            seen.push(c.email.clone());
                            new
                        })
                        .map(|c| json!({"idProperty": "email", "id": c.email, "properties": c.properties}))
                        .collect();
                    json!({ "inputs": inputs })
                },
                |answer, i, input| {
                    let matching = answer
                        .results
                        .iter()
                        .find(|v| {
                            v.pointer("/properties/email")
                                .and_then(Value::as_str)
                                .is_some_and(|e| e.eq_ignore_ascii_case(&input.email))
                        })
                        .or_else(|| (answer.results.len() == 1).then(|| &answer.results[0]))
                        .or_else(|| answer.results.get(i));
                    let value = matching.ok_or_else(|| {
                        VendorFailure::transient(
                            format!("HubSpot: the upsert answered nothing for {}", input.email),
                            None,
                        )
                    })?;
                    let created = value.get("new").and_then(Value::as_bool).unwrap_or(false);
                    let obj: CrmObject = serde_json::from_value(value.clone()).map_err(|e| {
                        VendorFailure::transient(format!("HubSpot: malformed upsert result ({e})"), None)
                    })?;
                    Ok(contact_of(&obj, &input.email, created))
                },
            )
            .await
        }
    })
}

/// Ids of the objects of `to_type` (notes, tasks) associated with each contact.
pub(crate) fn read_associations(api: Api, to_type: &'static str) -> BatchFn<String, Vec<String>> {
    boxed(move |contacts: Vec<String>| {
        let api = api.clone();
        let path = format!("/crm/v4/associations/contacts/{to_type}/batch/read");
        async move {
            per_input(
                &api,
                READ_ASSOCIATIONS,
                &path,
                contacts,
                true,
                |ids| json!({"inputs": unique(ids).iter().map(|id| json!({"id": id})).collect::<Vec<_>>()}),
                |answer, _, contact| {
                    Ok(answer
                        .results
                        .iter()
                        .filter(|r| id_text(r.pointer("/from/id")) == Some(contact.clone()))
                        .flat_map(|r| r.get("to").and_then(Value::as_array).cloned().unwrap_or_default())
                        .filter_map(|t| id_text(t.get("toObjectId")))
                        .collect())
                },
            )
            .await
        }
    })
}

/// An id that HubSpot sends as a number or a string.
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Objects of `object_type` by id, with `properties`; each input is a list
/// of ids (its weight in the batch).
pub(crate) fn read_objects(
    api: Api,
    object_type: &'static str,
    properties: &'static [&'static str],
) -> BatchFn<Vec<String>, Vec<CrmObject>> {
    boxed(move |inputs: Vec<Vec<String>>| {
        let api = api.clone();
        let path = format!("/crm/v3/objects/{object_type}/batch/read");
        async move {
            per_input(
                &api,
                READ_OBJECTS,
                &path,
                inputs,
                true,
                |inputs| {
                    let all: Vec<String> = inputs.iter().flatten().cloned().collect();
                    json!({
                        "properties": properties,
                        "inputs": unique(&all).iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                    })
                },
                |answer, _, ids| Ok(answer.objects().filter(|o| ids.contains(&o.id)).collect()),
            )
            .await
        }
    })
}

/// Creates tasks or notes (with their association); each gets its id. The
/// answer is matched by `key_property` (the body, which holds the lead's
/// idempotency key), or by position.
pub(crate) fn create_objects(
    api: Api,
    object_type: &'static str,
    key_property: &'static str,
) -> BatchFn<CreateObject, String> {
    boxed(move |inputs: Vec<CreateObject>| {
        let api = api.clone();
        let path = format!("/crm/v3/objects/{object_type}/batch/create");
        async move {
            per_input(
                &api,
                CREATE_OBJECTS,
                &path,
                inputs,
                false,
                |inputs| json!({ "inputs": inputs }),
                |answer, i, input| {
                    let key = input.properties.get(key_property);
                    let objects: Vec<CrmObject> = answer.objects().collect();
                    let echoed = objects.iter().any(|o| o.prop(key_property).is_some());
                    let found = if objects.len() == 1 && answer.errors.is_empty() {
                        // One input, one object: it is this input's.
                        objects.first()
                    } else if echoed {
                        objects
                            .iter()
                            .find(|o| key.is_some_and(|k| o.prop(key_property) == Some(k.as_str())))
                    } else if answer.errors.is_empty() {
                        // No properties echoed and nothing failed: by position.
                        objects.get(i)
                    } else {
                        None
                    };
                    match found {
                        Some(o) => Ok(o.id.clone()),
                        None if !answer.errors.is_empty() => {
                            Err(VendorFailure::permanent(format!(
                                "HubSpot refused this {object_type}: {}",
                                crate::http::failure::vendor_message(
                                    &Value::Array(answer.errors.clone()).to_string()
                                )
                            )))
                        }
                        None => Err(VendorFailure::transient(
                            format!(
                                "HubSpot: the batch create answered no {object_type} for this input"
                            ),
                            None,
                        )),
                    }
                },
            )
            .await
        }
    })
}
