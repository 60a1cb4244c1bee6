//! The mailbox (Gmail in production).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};
use super::policy::{Approval, SendRefusal};
use crate::domain::EmailAddress;

/// An earlier thread with the prospect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailThread {
    /// The mail system's thread id.
    pub thread_id: String,
    /// The thread's subject.
    pub subject: String,
    /// RFC 5322 `Message-ID` of the latest message (for `In-Reply-To`).
    pub last_message_id: Option<String>,
    /// When its last message arrived.
    pub last_message_at: DateTime<Utc>,
    /// How many messages it has.
    pub message_count: u32,
    /// The start of its last message.
    pub snippet: String,
    /// Whether the latest message came from the prospect (awaiting our reply).
    pub last_from_prospect: bool,
}

/// The thread a draft replies in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTo {
    /// The thread to reply in.
    pub thread_id: String,
    /// `Message-ID` of the message replied to (`In-Reply-To`, `References`).
    pub message_id: String,
}

/// A message to put in the drafts folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    /// The recipient.
    pub to: EmailAddress,
    /// The recipient's name, if known.
    pub to_name: Option<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub body_text: String,
    /// The HTML body.
    pub body_html: String,
    /// The `Message-ID` header, generated from the workflow id; the
    /// idempotency key of both draft creation and sending.
    pub message_id: String,
    /// The thread and message it answers, if any.
    pub reply_to: Option<ReplyTo>,
}

/// A draft that exists in the mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftRef {
    /// The mailbox's draft id.
    pub draft_id: String,
    /// The thread it is in, if any.
    pub thread_id: Option<String>,
}

/// A request to send an existing draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The mailbox's draft id.
    pub draft_id: String,
    /// The draft's `Message-ID` (a resend finds the earlier send by it).
    pub message_id: String,
    /// The recipient the policy approved.
    pub to: EmailAddress,
    /// Who asked; adapters re-check the send policy with it.
    pub approval: Approval,
}

/// A message that went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRef {
    /// The mail system's message id.
    pub message_id: String,
    /// `true` when an earlier attempt had already sent it.
    pub already_sent: bool,
}

/// A mailbox failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The send policy refused the send (never retried).
    #[error("send refused by policy: {0}")]
    Refused(#[from] SendRefusal),
    #[error("mail service temporarily unavailable: {source}")]
    /// Worth retrying later.
    Transient {
        /// How long to wait first, when the vendor said.
        retry_after: Option<std::time::Duration>,
        #[source]
        /// The cause.
        source: BoxError,
    },
    #[error("mail service rejected the request: {source}")]
    /// Retrying cannot help.
    Permanent {
        #[source]
        /// The cause.
        source: BoxError,
    },
    /// The service refused our credentials (401, or 403 for a missing
    /// scope): an operator must fix the configuration.
    #[error("mail service refused our credentials: {source}")]
    Unauthorized {
        #[source]
        /// The cause.
        source: BoxError,
    },
}
port_error_common!(MailError, unauthorized: Unauthorized);

/// Threads, drafts and sends.
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait MailPort: Send + Sync {
    /// Recent threads with this address, newest first.
    ///
    /// # Errors
    /// [`MailError`].
    async fn threads_with(
        &self,
        email: &EmailAddress,
        limit: usize,
    ) -> Result<Vec<MailThread>, MailError>;

    /// Creates a draft (a reply in `reply_to`'s thread when given).
    ///
    /// # Errors
    /// [`MailError`].
    async fn create_draft(&self, mail: &OutgoingMail) -> Result<DraftRef, MailError>;

    /// Replaces the content of draft `draft_id` with `mail` (same
    /// `Message-ID`, same thread): idempotent.
    ///
    /// # Errors
    /// [`MailError`].
    async fn update_draft(
        &self,
        draft_id: &str,
        mail: &OutgoingMail,
    ) -> Result<DraftRef, MailError>;

    /// The draft carrying this `Message-ID`, if an earlier attempt made it.
    ///
    /// # Errors
    /// [`MailError`].
    async fn find_draft(&self, message_id: &str) -> Result<Option<DraftRef>, MailError>;

    /// Every recipient (To, Cc and Bcc) of the mailbox draft `draft_id` as it
    /// is now: someone may have edited it in the mail client since it was
    /// created. The engine checks each against the send policy before a
    /// send. Addresses are returned as written (they may not be valid).
    ///
    /// # Errors
    /// [`MailError`].
    async fn draft_recipients(&self, draft_id: &str) -> Result<Vec<String>, MailError>;

    /// Sends a draft. Implementations must check the send policy first and
    /// must not send twice: when a message with `message_id` already went
    /// out, they return it with `already_sent: true`.
    ///
    /// # Errors
    /// [`MailError::Refused`] when the policy says no; otherwise [`MailError`].
    async fn send_draft(&self, request: &SendRequest) -> Result<SentRef, MailError>;
}
