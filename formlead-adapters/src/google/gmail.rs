//! `GmailMailer`: the [`MailPort`] over the Gmail API. Every draft carries
//! our Message-ID; a send first checks (`rfc822msgid:` in sent mail) whether
//! an earlier attempt went out, and re-checks the send policy.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use formlead_core::domain::EmailAddress;
use formlead_core::ports::{
    DraftRef, FlagPolicy, MailError, MailPort, MailThread, OutgoingMail, SendRequest, SentRef,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::mime;
use super::oauth::GoogleApi;
use crate::http::{Op, VendorFailure};

pub(super) fn mail_err(f: VendorFailure) -> MailError {
    f.into_port()
}

/// Threads read per lookup at most (each is a `threads.get`, 10 quota
/// units): the reply goes into the most recent one, so a few are enough.
const MAX_THREADS: usize = 3;

/// Gmail, as the sender's mailbox.
pub struct GmailMailer {
    api: GoogleApi,
    policy: Arc<dyn FlagPolicy>,
    from_email: String,
    from_name: String,
}

impl std::fmt::Debug for GmailMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmailMailer")
            .field("from", &self.from_email)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Thread {
    id: String,
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    id: String,
    #[serde(default)]
    thread_id: Option<String>,
    #[serde(default)]
    internal_date: Option<String>,
    #[serde(default)]
    snippet: String,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    headers: Vec<Header>,
}

#[derive(Deserialize)]
struct Header {
    name: String,
    value: String,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.payload
            .as_ref()?
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn at(&self) -> Option<DateTime<Utc>> {
        let ms: i64 = self.internal_date.as_deref()?.parse().ok()?;
        Utc.timestamp_millis_opt(ms).single()
    }
}

#[derive(Deserialize)]
struct DraftList {
    #[serde(default)]
    drafts: Vec<Draft>,
}

#[derive(Deserialize)]
struct Draft {
    id: String,
    message: Option<MessageRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageRef {
    #[serde(default)]
    thread_id: Option<String>,
}

/// `drafts.get` with `format=metadata`.
#[derive(Deserialize)]
struct FullDraft {
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize)]
struct MessageList {
    #[serde(default)]
    messages: Vec<Message>,
}

impl Draft {
    fn into_ref(self) -> DraftRef {
        DraftRef {
            thread_id: self.message.and_then(|m| m.thread_id),
            draft_id: self.id,
        }
    }
}

impl GmailMailer {
    /// A draft's `message`: the MIME message as `raw`, in its thread.
    fn draft_message(&self, mail: &OutgoingMail) -> Result<serde_json::Value, MailError> {
        let bytes = mime::build(mail, &self.from_email, &self.from_name, Utc::now())
            .map_err(MailError::permanent)?;
        let mut message = json!({ "raw": mime::raw(&bytes) });
        if let Some(reply) = &mail.reply_to {
            message["threadId"] = json!(reply.thread_id);
        }
        Ok(message)
    }

    /// The mailbox behind `api`, sending as `from_name <from_email>`;
    /// `policy` checks every send once more.
    pub fn new(
        api: GoogleApi,
        policy: Arc<dyn FlagPolicy>,
        from_email: &str,
        from_name: &str,
    ) -> Self {
        Self {
            api,
            policy,
            from_email: from_email.to_owned(),
            from_name: from_name.to_owned(),
        }
    }

    fn get(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.api
            .client
            .request(Method::GET, path)
            .bearer_auth(token)
    }

    async fn read_thread(&self, id: &str, prospect: &str) -> Result<Option<MailThread>, MailError> {
        let path = format!(
            "/gmail/v1/users/me/threads/{}",
            crate::google::path_segment(id)
        );
        let thread: Thread = self
            .api
            .read(THREADS_GET, |t| {
                self.get(t, &path).query(&[
                    ("format", "metadata"),
                    ("metadataHeaders", "Subject"),
                    ("metadataHeaders", "Message-ID"),
                    ("metadataHeaders", "From"),
                ])
            })
            .await
            .map_err(mail_err)?;
        let Some(last) = thread.messages.iter().max_by_key(|m| m.at()) else {
            return Ok(None);
        };
        let subject = thread
            .messages
            .iter()
            .find_map(|m| m.header("Subject"))
            .unwrap_or("(no subject)")
            .to_owned();
        Ok(Some(MailThread {
            thread_id: thread.id,
            subject,
            last_message_id: last.header("Message-ID").map(str::to_owned),
            last_message_at: last.at().unwrap_or_else(Utc::now),
            message_count: u32::try_from(thread.messages.len()).unwrap_or(u32::MAX),
            snippet: last.snippet.clone(),
            last_from_prospect: last
                .header("From")
                .is_some_and(|f| f.to_lowercase().contains(prospect)),
        }))
    }

    /// The id of a sent message with this Message-ID, if any.
    async fn sent_with(&self, message_id: &str) -> Result<Option<String>, MailError> {
        let q = format!("rfc822msgid:{} in:sent", mime::bare_id(message_id));
        let list: MessageList = self
            .api
            .read(MESSAGES_LIST, |t| {
                self.get(t, "/gmail/v1/users/me/messages")
                    .query(&[("q", q.as_str()), ("maxResults", "1")])
            })
            .await
            .map_err(mail_err)?;
        Ok(list.messages.first().map(|m| m.id.clone()))
    }
}

#[async_trait]
impl MailPort for GmailMailer {
    async fn threads_with(
        &self,
        email: &EmailAddress,
        limit: usize,
    ) -> Result<Vec<MailThread>, MailError> {
        // messages.list (5 units) rather than threads.list (10): most
        // leads have no history, and then this is the only call.
        let q = format!("from:{email} OR to:{email}");
        let list: MessageList = self
            .api
            .read(MESSAGES_LIST, |t| {
                self.get(t, "/gmail/v1/users/me/messages")
                    .query(&[("q", q.as_str()), ("maxResults", "20")])
            })
            .await
            .map_err(mail_err)?;
        // Newest first; each thread once.
        let mut ids: Vec<&str> = Vec::new();
        for m in &list.messages {
            if let Some(t) = m.thread_id.as_deref()
                && !ids.contains(&t)
            {
                ids.push(t);
            }
        }
        let mut threads = Vec::new();
        for id in ids.into_iter().take(limit.clamp(1, MAX_THREADS)) {
            if let Some(thread) = self.read_thread(id, email.as_str()).await? {
                threads.push(thread);
            }
        }
        threads.sort_by_key(|t| std::cmp::Reverse(t.last_message_at));
        Ok(threads)
    }

    async fn create_draft(&self, mail: &OutgoingMail) -> Result<DraftRef, MailError> {
        let body = json!({ "message": self.draft_message(mail)? });
        let draft: Draft = self
            .api
            .call(DRAFTS_CREATE, |t| {
                self.api
                    .client
                    .request(Method::POST, "/gmail/v1/users/me/drafts")
                    .bearer_auth(t)
                    .json(&body)
            })
            .await
            .map_err(mail_err)?;
        Ok(draft.into_ref())
    }

    async fn update_draft(
        &self,
        draft_id: &str,
        mail: &OutgoingMail,
    ) -> Result<DraftRef, MailError> {
        let body = json!({ "id": draft_id, "message": self.draft_message(mail)? });
        let path = format!(
            "/gmail/v1/users/me/drafts/{}",
            crate::google::path_segment(draft_id)
        );
        // Replacing a draft's content is idempotent: retried inline.
        let draft: Draft = self
            .api
            .read(DRAFTS_UPDATE, |t| {
                self.api
                    .client
                    .request(Method::PUT, &path)
                    .bearer_auth(t)
                    .json(&body)
            })
            .await
            .map_err(mail_err)?;
        Ok(draft.into_ref())
    }

    async fn find_draft(&self, message_id: &str) -> Result<Option<DraftRef>, MailError> {
        let q = format!("rfc822msgid:{}", mime::bare_id(message_id));
        let list: DraftList = self
            .api
            .read(DRAFTS_LIST, |t| {
                self.get(t, "/gmail/v1/users/me/drafts")
                    .query(&[("q", q.as_str()), ("maxResults", "1")])
            })
            .await
            .map_err(mail_err)?;
        Ok(list.drafts.into_iter().next().map(Draft::into_ref))
    }

    async fn draft_recipients(&self, draft_id: &str) -> Result<Vec<String>, MailError> {
        let path = format!(
            "/gmail/v1/users/me/drafts/{}",
            crate::google::path_segment(draft_id)
        );
        let draft: FullDraft = self
            .api
            .read(DRAFTS_GET, |t| {
                self.get(t, &path).query(&[
                    ("format", "metadata"),
                    ("metadataHeaders", "To"),
                    ("metadataHeaders", "Cc"),
                    ("metadataHeaders", "Bcc"),
                ])
            })
            .await
            .map_err(mail_err)?;
        let headers = draft
            .message
            .and_then(|m| m.payload)
            .map(|p| p.headers)
            .unwrap_or_default();
        Ok(headers
            .iter()
            .filter(|h| ["to", "cc", "bcc"].contains(&h.name.to_ascii_lowercase().as_str()))
            .flat_map(|h| super::addresses::parse_list(&h.value))
            .collect())
    }

    async fn send_draft(&self, request: &SendRequest) -> Result<SentRef, MailError> {
        // Defence in depth: the policy again, immediately before sending.
        self.policy
            .authorize_send(&request.to, &request.approval)
            .await?;
        // Never send twice: an earlier attempt may have gone out.
        if let Some(id) = self.sent_with(&request.message_id).await? {
            return Ok(SentRef {
                message_id: id,
                already_sent: true,
            });
        }
        let body = json!({ "id": request.draft_id });
        let sent: Message = self
            .api
            .call(DRAFTS_SEND, |t| {
                self.api
                    .client
                    .request(Method::POST, "/gmail/v1/users/me/drafts/send")
                    .bearer_auth(t)
                    .json(&body)
            })
            .await
            .map_err(mail_err)?;
        Ok(SentRef {
            message_id: sent.id,
            already_sent: false,
        })
    }
}

/// Gmail's default quota per mailbox: 250 units a second (15,000 a minute).
pub const GMAIL_UNITS_PER_SECOND: u32 = 250;

// What each method costs in quota units (Google's table).
pub(super) const MESSAGES_LIST: Op = Op::new("messages.list", 5.0);
pub(super) const MESSAGES_GET: Op = Op::new("messages.get", 5.0);
const THREADS_GET: Op = Op::new("threads.get", 10.0);
const DRAFTS_CREATE: Op = Op::new("drafts.create", 10.0);
const DRAFTS_UPDATE: Op = Op::new("drafts.update", 15.0);
const DRAFTS_LIST: Op = Op::new("drafts.list", 5.0);
const DRAFTS_GET: Op = Op::new("drafts.get", 5.0);
const DRAFTS_SEND: Op = Op::new("drafts.send", 100.0);
