//! `LlmWriter`: a [`DraftWriter`] that asks an OpenAI-compatible
//! chat-completions endpoint for the reply, validates the answer, and falls
//! back to the template writer on any error, timeout or invalid answer.
//! The model writes plain text only; the HTML body is built here from the
//! escaped text, so nothing the model says is ever rendered as markup.

use std::time::Duration;

use async_trait::async_trait;
use formlead_core::agents::TemplateWriter;
use formlead_core::html::escape_html;
use formlead_core::ports::{DraftContent, DraftInput, DraftWriter, WriterError};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use crate::http::{Op, VendorClient, VendorFailure};

/// `POST /chat/completions`.
const COMPLETION: Op = Op::new("chat.completions", 1.0);

/// Connection settings.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1`.
    pub api_base: String,
    /// The API key (never logged).
    pub api_key: SecretString,
    /// The model to ask.
    pub model: String,
    /// How long one completion may take before the template writer answers instead.
    pub timeout: Duration,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: String,
}

#[derive(Deserialize)]
struct Reply {
    subject: String,
    body: String,
}

/// The LLM writer with its template fallback.
pub struct LlmWriter {
    client: VendorClient,
    key: SecretString,
    model: String,
    fallback: TemplateWriter,
}

impl std::fmt::Debug for LlmWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmWriter")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl LlmWriter {
    /// # Errors
    /// [`WriterError`] when the HTTP client cannot be built.
    pub fn new(config: LlmConfig, fallback: TemplateWriter) -> Result<Self, WriterError> {
        let client = VendorClient::new("LLM", "llm", &config.api_base, config.timeout)
            .map_err(VendorFailure::into_port::<WriterError>)?;
        Ok(Self {
            client,
            key: config.api_key,
            model: config.model,
            fallback,
        })
    }

    fn prompt(&self, input: &DraftInput) -> serde_json::Value {
        let v = &self.fallback.voice;
        let template = self.fallback.compose(input);
        let system = format!(
            "You write the first reply to an inbound sales lead for {company}. Tone: {tone:?}. \
             Start with \"{greeting}\" (with the prospect's first name) and end with \"{sign_off}\" followed by the signature. \
             At most {max} words. Never use these phrases: {avoid}. Use only facts from the context; do not invent prices or dates. \
             Promise that support will be in touch only if support_handoff is true; answer every ask in also_asked. \
             Answer with a JSON object {{\"subject\": \"…\", \"body\": \"…\"}}, plain text body, no HTML.{examples}",
            examples = if v.examples.is_empty() {
                String::new()
            } else {
                format!(
                    " Sentences the sender wrote, to match their style (do not copy them): {}",
                    v.examples
                        .iter()
                        .map(|e| serde_json::Value::from(e.as_str()).to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            },
            company = v.company_name,
            tone = v.tone,
            greeting = v.greeting,
            sign_off = v.sign_off,
            max = v.max_words,
            avoid = if v.avoid_phrases.is_empty() {
                "(none)".to_owned()
            } else {
                v.avoid_phrases.join(", ")
            },
        );
        let context = json!({
            "prospect": input.prospect,
            "plan": input.plan,
            "meeting_slots": input.plan.slots.iter().map(|s| s.display(input.time_zone)).collect::<Vec<_>>(),
            "thread_subject": input.thread.as_ref().map(|t| &t.subject),
            "history": input.memory.summary,
            "also_asked": input.more_asks,
            "support_handoff": input.support_handoff,
            "signature": v.signature,
            "reference_draft": template.body_text,
        });
        json!({
            "model": self.model,
            "temperature": 0.3,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": context.to_string()},
            ],
        })
    }

    /// Checks an answer; the reason it is unusable, if it is.
    fn validate(&self, input: &DraftInput, reply: &Reply) -> Result<(), String> {
        let v = &self.fallback.voice;
        let words = reply.body.split_whitespace().count();
        if reply.subject.trim().is_empty() || reply.body.trim().is_empty() {
            return Err("empty subject or body".into());
        }
        if words > v.max_words + v.max_words / 5 {
            return Err(format!("{words} words (max {})", v.max_words));
        }
        if let Some(first) = &input.prospect.first_name
            && !reply.body.contains(first.as_str())
        {
            return Err("the prospect's name is missing".into());
        }
        if v.has_avoided_phrase(&reply.body) || v.has_avoided_phrase(&reply.subject) {
            return Err("uses an avoided phrase".into());
        }
        if reply.body.contains('<') && reply.body.contains('>') {
            return Err("contains markup".into());
        }
        Ok(())
    }

    async fn ask(&self, input: &DraftInput) -> Result<DraftContent, String> {
        let body = self.prompt(input);
        let req = self
            .client
            .request(Method::POST, "/chat/completions")
            .bearer_auth(self.key.expose_secret())
            .json(&body);
        let completion: Completion = self
            .client
            .call::<(), _>(req, None, COMPLETION)
            .await
            .map_err(|f| f.message)?;
        let content = completion
            .choices
            .into_iter()
            .next()
            .map(|c| c.message.content)
            .ok_or("no choices")?;
        let reply: Reply = serde_json::from_str(content.trim())
            .map_err(|e| format!("answer is not the JSON asked for: {e}"))?;
        self.validate(input, &reply)?;
        let subject: String = match &input.thread {
            // Replies keep the thread's subject so Gmail threads them.
            Some(_) => self.fallback.compose(input).subject,
            None => reply
                .subject
                .chars()
                .filter(|c| !c.is_control())
                .take(150)
                .collect(),
        };
        let body_html = format!(
            "<div>{}</div>",
            reply
                .body
                .split("\n\n")
                .map(|p| format!("<p>{}</p>", escape_html(p.trim()).replace('\n', "<br>")))
                .collect::<String>()
        );
        Ok(DraftContent {
            subject,
            body_text: reply.body,
            body_html,
        })
    }
}

/// Counter of drafts the template writer wrote because the LLM's answer
/// was unusable.
pub const LLM_FALLBACKS_METRIC: &str = "formlead_llm_fallbacks_total";

#[async_trait]
impl DraftWriter for LlmWriter {
    async fn write(&self, input: &DraftInput) -> Result<DraftContent, WriterError> {
        match self.ask(input).await {
            Ok(content) => Ok(content),
            Err(reason) => {
                warn!(%reason, "LLM draft unusable; using the template writer");
                metrics::counter!(LLM_FALLBACKS_METRIC).increment(1);
                Ok(self.fallback.compose(input))
            }
        }
    }
}
