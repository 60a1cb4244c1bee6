//! Draft emails and their approval status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{DraftId, WorkflowId};
use super::str_enum::str_enum;

str_enum! {
    /// Draft status (contract §1): `pending_approval` → `approved` |
    /// `rejected` → `sent` (only where the send policy allows).
    pub enum DraftStatus: "draft status" {
        /// Written; waits for an operator.
        PendingApproval => "pending_approval",
        /// Approved (by an operator, or claimed by an auto-send).
        Approved => "approved",
        /// Rejected by an operator; never sent.
        Rejected => "rejected",
        /// Sent from the mailbox.
        Sent => "sent",
    }
}

/// A reply the engine wrote, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftEmail {
    /// The draft's id.
    pub id: DraftId,
    /// The workflow that wrote it.
    pub workflow_id: WorkflowId,
    /// The recipient's address.
    pub to_email: String,
    /// The recipient's name, if known.
    pub to_name: Option<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub body_text: String,
    /// The HTML body.
    pub body_html: String,
    /// The RFC 5322 `Message-ID` we generated (idempotency key of the send).
    pub message_id: String,
    /// Mail thread the draft replies in, if any.
    pub thread_id: Option<String>,
    /// `In-Reply-To` of a threaded reply.
    pub in_reply_to: Option<String>,
    /// The mail system's draft id (e.g. Gmail's), once created.
    pub external_id: Option<String>,
    /// Where the draft stands (pending approval, approved, rejected, sent).
    pub status: DraftStatus,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Who approved or rejected it (operator name, or `auto` for auto-send).
    pub decided_by: Option<String>,
    /// When an operator (or the auto-send) decided it.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// The mail system's id of the sent message.
    pub sent_message_id: Option<String>,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
}
