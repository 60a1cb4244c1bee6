//! Audit events and recorded workflow errors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{AuditId, ErrorId, WorkflowId};
use super::str_enum::str_enum;
use super::workflow::StepName;

/// Something worth an audit record: a policy decision, the send mode at
/// start-up, an operator's approval, a send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The event's id.
    pub id: AuditId,
    /// The workflow it concerns, if any.
    pub workflow_id: Option<WorkflowId>,
    /// `system`, `worker`, or `operator:<name>`.
    pub actor: String,
    /// Dotted action name, e.g. `send_policy.decision`, `draft.approved`.
    pub action: String,
    /// Structured details (never secrets, never whole form payloads).
    pub detail: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl AuditEvent {
    /// An event by `actor` now.
    pub fn new(
        workflow_id: Option<WorkflowId>,
        actor: impl Into<String>,
        action: impl Into<String>,
        detail: serde_json::Value,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: AuditId::new(),
            workflow_id,
            actor: actor.into(),
            action: action.into(),
            detail,
            created_at,
        }
    }
}

str_enum! {
    /// How a failure is handled.
    pub enum ErrorKind: "error kind" {
        /// Retry later.
        Transient => "transient",
        /// Retrying cannot help: dead-letter.
        Permanent => "permanent",
    }
}

/// One failed attempt of a workflow (table `workflow_errors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowError {
    /// The error's id.
    pub id: ErrorId,
    /// The workflow it happened in.
    pub workflow_id: WorkflowId,
    /// The attempt it ended.
    pub attempt: u32,
    /// The step that failed, if one did.
    pub step: Option<StepName>,
    /// Transient, permanent, or a lost lease.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// When the next attempt was scheduled, if one was.
    pub retry_at: Option<DateTime<Utc>>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}
