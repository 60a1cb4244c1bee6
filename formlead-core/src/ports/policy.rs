//! The send policy port (`FlagPolicy`): may this draft be sent, and how?

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::EmailAddress;

/// What step 9 decided for a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendMode {
    /// Only a draft is created; a human sends it from the mailbox.
    DraftOnly,
    /// Sending is possible, after an operator approves.
    NeedsApproval,
    /// The engine sends without a human click.
    AutoSend,
}

impl SendMode {
    /// The mode's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DraftOnly => "draft_only",
            Self::NeedsApproval => "needs_approval",
            Self::AutoSend => "auto_send",
        }
    }
}

/// A send decision with the reason, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendDecision {
    /// What to do with the draft.
    pub mode: SendMode,
    /// Why.
    pub reason: String,
}

/// Who is asking to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// An operator approved this draft.
    Operator(String),
    /// The workflow wants to send on its own.
    Automatic,
}

/// A refused send, with the gate that refused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{reason}")]
pub struct SendRefusal {
    /// Which gate said no, and why.
    pub reason: String,
}

/// Decides whether mail may be sent. Checked at step 9 and again immediately
/// before every send.
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait FlagPolicy: Send + Sync {
    /// How a draft to `recipient` should be handled (step 9).
    async fn decide(&self, recipient: &EmailAddress) -> SendDecision;

    /// Whether a send to `recipient` may happen now.
    ///
    /// # Errors
    /// [`SendRefusal`] naming the gate that said no.
    async fn authorize_send(
        &self,
        recipient: &EmailAddress,
        approval: &Approval,
    ) -> Result<(), SendRefusal>;

    /// The mode in force, for the start-up audit event and `check-config`.
    fn describe(&self) -> serde_json::Value;
}
