//! Draft emails and their approval status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{DraftId, WorkflowId};
use super::str_enum::str_enum;

str_enum! {
    /// Draft status (contract §1): `pending_approval` → `approved` |
    /// `rejected` → `sent` (only where the send policy allows).
    pub enum DraftStatus: "draft status" {
        PendingApproval => "pending_approval",
        Approved => "approved",
        Rejected => "rejected",
        Sent => "sent",
    }
}

/// A reply the engine wrote, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftEmail {
    pub id: DraftId,
    pub workflow_id: WorkflowId,
    pub to_email: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The RFC 5322 `Message-ID` we generated (idempotency key of the send).
    pub message_id: String,
    /// Mail thread the draft replies in, if any.
    pub thread_id: Option<String>,
    /// `In-Reply-To` of a threaded reply.
    pub in_reply_to: Option<String>,
    /// The mail system's draft id (e.g. Gmail's), once created.
    pub external_id: Option<String>,
    pub status: DraftStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who approved or rejected it (operator name, or `auto` for auto-send).
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    /// The mail system's id of the sent message.
    pub sent_message_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}
