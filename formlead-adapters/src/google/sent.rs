//! The sender's sent mail, for learning their voice (`formlead voice
//! learn`): `messages.list` with `in:sent`, then `messages.get` for each,
//! keeping the plain-text part.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use formlead_core::ports::MailError;
use reqwest::Method;
use serde::Deserialize;

use super::gmail::{MESSAGES_GET, MESSAGES_LIST, mail_err};
use super::oauth::GoogleApi;

/// Reads the mailbox's sent messages.
#[derive(Debug, Clone)]
pub struct SentMail {
    api: GoogleApi,
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    messages: Vec<Id>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Full {
    payload: Option<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    data: Option<String>,
}

impl Part {
    /// The first `text/plain` part, depth first, decoded.
    fn plain_text(&self) -> Option<String> {
        if self.mime_type.eq_ignore_ascii_case("text/plain")
            && let Some(data) = self.body.as_ref().and_then(|b| b.data.as_deref())
        {
            let bytes = URL_SAFE_NO_PAD
                .decode(data.trim_end_matches('='))
                .or_else(|_| URL_SAFE.decode(data))
                .ok()?;
            return Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        self.parts.iter().find_map(Part::plain_text)
    }
}

impl SentMail {
    /// The sent mail of the mailbox behind `api`.
    pub fn new(api: GoogleApi) -> Self {
        Self { api }
    }

    /// The plain-text bodies of the last `n` sent messages, newest first
    /// (messages without a plain-text part are skipped).
    ///
    /// # Errors
    /// [`MailError`].
    pub async fn recent(&self, n: usize) -> Result<Vec<String>, MailError> {
        let max = n.clamp(1, 500).to_string();
        let list: List = self
            .api
            .read(MESSAGES_LIST, |t| {
                self.api
                    .client
                    .request(Method::GET, "/gmail/v1/users/me/messages")
                    .bearer_auth(t)
                    .query(&[("q", "in:sent"), ("maxResults", max.as_str())])
            })
            .await
            .map_err(mail_err)?;
        let mut out = Vec::with_capacity(list.messages.len());
        for m in list.messages {
            let path = format!("/gmail/v1/users/me/messages/{}", super::path_segment(&m.id));
            let full: Full = self
                .api
                .read(MESSAGES_GET, |t| {
                    self.api
                        .client
                        .request(Method::GET, &path)
                        .bearer_auth(t)
                        .query(&[("format", "full")])
                })
                .await
                .map_err(mail_err)?;
            if let Some(text) = full.payload.as_ref().and_then(Part::plain_text) {
                out.push(text);
            }
        }
        Ok(out)
    }
}
