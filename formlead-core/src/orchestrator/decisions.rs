//! An operator's decision on a draft: approve (and send, where the gates
//! allow) or reject (with a reason).

use tracing::info;

use super::action_error::{ActionError, SendError};
use super::engine::Engine;
use super::send::SendFailure;
use super::slots::SlotCheck;
use crate::domain::{DraftEmail, DraftId, DraftStatus, EmailAddress, WorkflowStatus};
use crate::ports::{Approval, Conflict, SendMode};

/// Longest reject reason kept (characters).
pub const MAX_REASON_CHARS: usize = 1_000;

impl Engine {
    /// An operator approves a draft. In draft-only mode the draft is marked
    /// `approved` (the operator sends it from the mailbox); where the gates
    /// allow sending, it is sent. Approving twice is harmless; approving a
    /// rejected draft is a conflict.
    ///
    /// # Errors
    /// [`ActionError`].
    pub async fn approve_draft(
        &self,
        id: DraftId,
        operator: &str,
    ) -> Result<DraftEmail, ActionError> {
        let actor = operator_actor(operator);
        let draft = self.draft(id).await?;
        let draft = match draft.status {
            DraftStatus::Rejected => {
                return Err(ActionError::Conflict(Conflict::DraftRejected(id)));
            }
            DraftStatus::Sent => return Ok(draft),
            DraftStatus::Approved => self.with_fresh_slots(draft, &actor).await?,
            DraftStatus::PendingApproval => {
                self.refuse_while_updating(&draft).await?;
                let draft = self.with_fresh_slots(draft, &actor).await?;
                self.decide(draft, &actor, DraftStatus::Approved, None)
                    .await?
            }
        };

        let recipient =
            EmailAddress::parse(&draft.to_email).map_err(|e| ActionError::Conflict(e.into()))?;
        let decision = self.ports.policy.decide(&recipient).await;
        self.audit(Some(draft.workflow_id), &actor, "send_policy.decision", serde_json::json!({
            "draft_id": id, "mode": decision.mode.as_str(), "reason": decision.reason, "recipient": recipient.as_str(),
        }))
        .await?;
        if decision.mode == SendMode::DraftOnly {
            // In a send mode, "draft only" for this draft means a gate (the
            // allowlist) refused this recipient: record the refusal.
            if self.ports.policy.describe()["mode"] != SendMode::DraftOnly.as_str() {
                self.audit(
                    Some(draft.workflow_id),
                    &actor,
                    "send.refused",
                    serde_json::json!({"draft_id": id, "recipient": recipient.as_str(), "reason": decision.reason}),
                )
                .await?;
            }
            return Ok(draft);
        }

        match self
            .send_draft(draft, &Approval::Operator(operator.to_owned()), &actor)
            .await
        {
            Ok(sent) => Ok(sent),
            Err(SendFailure::Refused(r)) => Err(ActionError::Refused(r)),
            Err(SendFailure::NotSendable(status)) => {
                Err(ActionError::Conflict(Conflict::NotSendable { id, status }))
            }
            Err(SendFailure::Draft(m)) => Err(ActionError::SendFailed(SendError::Draft(m))),
            Err(SendFailure::Mail(e)) => Err(ActionError::SendFailed(SendError::Mail(e))),
            Err(SendFailure::Store(e)) => Err(e.into()),
        }
    }

    /// An operator rejects a draft, with a reason. Rejecting twice is
    /// harmless; rejecting an approved or sent draft is a conflict.
    ///
    /// # Errors
    /// [`ActionError`].
    pub async fn reject_draft(
        &self,
        id: DraftId,
        operator: &str,
        reason: &str,
    ) -> Result<DraftEmail, ActionError> {
        let actor = operator_actor(operator);
        let draft = self.draft(id).await?;
        match draft.status {
            DraftStatus::Rejected => Ok(draft),
            DraftStatus::Approved | DraftStatus::Sent => {
                Err(ActionError::Conflict(Conflict::AlreadyDecided {
                    id,
                    status: draft.status,
                }))
            }
            DraftStatus::PendingApproval => {
                // A NUL becomes U+FFFD, as in submissions (PostgreSQL's text
                // cannot hold one).
                let reason: String = reason
                    .trim()
                    .chars()
                    .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
                    .take(MAX_REASON_CHARS)
                    .collect();
                let reason = if reason.is_empty() {
                    "no reason given".to_owned()
                } else {
                    reason
                };
                self.decide(draft, &actor, DraftStatus::Rejected, Some(reason))
                    .await
            }
        }
    }

    /// The draft with its offered meeting times checked again (re-picked if
    /// need be); a conflict when none is free any more.
    async fn with_fresh_slots(
        &self,
        draft: DraftEmail,
        actor: &str,
    ) -> Result<DraftEmail, ActionError> {
        let id = draft.id;
        match self.recheck_slots(draft, actor).await {
            Ok(SlotCheck::Sendable(draft)) => Ok(*draft),
            Ok(SlotCheck::NoFreeSlot) => Err(ActionError::Conflict(Conflict::NoFreeSlot(id))),
            Err(f) => Err(ActionError::SendFailed(SendError::Draft(format!(
                "could not check the offered meeting times again: {}",
                f.message
            )))),
        }
    }

    /// A draft whose prospect submitted again is not approved until it
    /// answers that submission too.
    async fn refuse_while_updating(&self, draft: &DraftEmail) -> Result<(), ActionError> {
        let links = self
            .ports
            .store
            .linked_submissions(draft.workflow_id)
            .await?;
        if links.iter().any(|l| l.applied_at.is_none()) {
            return Err(ActionError::Conflict(Conflict::DraftUpdating(draft.id)));
        }
        Ok(())
    }

    async fn draft(&self, id: DraftId) -> Result<DraftEmail, ActionError> {
        self.ports
            .store
            .get_draft(id)
            .await?
            .ok_or_else(|| ActionError::NotFound {
                what: "draft",
                id: id.to_string(),
            })
    }

    /// Records the decision on a pending draft (compare-and-set: a draft
    /// decided meanwhile is a conflict), audits it, and completes the
    /// workflow if it was waiting for it.
    async fn decide(
        &self,
        draft: DraftEmail,
        actor: &str,
        status: DraftStatus,
        reason: Option<String>,
    ) -> Result<DraftEmail, ActionError> {
        let store = &self.ports.store;
        let now = self.ports.clock.now();
        let id = draft.id;
        let mut decided = draft;
        decided.status = status;
        decided.decided_by = Some(actor.to_owned());
        decided.decided_at = Some(now);
        decided.reject_reason = reason;
        decided.updated_at = now;
        if !store
            .update_draft(&decided, DraftStatus::PendingApproval)
            .await?
        {
            return Err(ActionError::Conflict(Conflict::ChangedMeanwhile(id)));
        }
        let detail = match &decided.reject_reason {
            Some(reason) => serde_json::json!({"draft_id": id, "reason": reason}),
            None => serde_json::json!({"draft_id": id}),
        };
        self.audit(
            Some(decided.workflow_id),
            actor,
            &format!("draft.{status}"),
            detail,
        )
        .await?;
        info!(draft_id = %id, %actor, %status, "operator decision");
        store
            .transition_workflow(
                decided.workflow_id,
                WorkflowStatus::AwaitingApproval,
                WorkflowStatus::Completed,
                now,
            )
            .await?;
        Ok(decided)
    }
}

pub(super) fn operator_actor(operator: &str) -> String {
    let name: String = operator
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    format!(
        "operator:{}",
        if name.is_empty() { "unknown" } else { &name }
    )
}
