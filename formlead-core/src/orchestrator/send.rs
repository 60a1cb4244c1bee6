//! Sending a stored draft: only an approved one (an auto-send claims a
//! pending one first), after the policy, the mailbox draft's actual
//! recipients and the mail adapter have all agreed; every refusal audited.

use tracing::{info, warn};

use super::engine::Engine;
use crate::domain::{DraftEmail, DraftStatus, EmailAddress};
use crate::ports::{Approval, MailError, SendRefusal, SendRequest, StoreError};

/// Why a send did not happen.
#[derive(Debug)]
pub(crate) enum SendFailure {
    Refused(SendRefusal),
    /// The draft is not one that may be sent (an operator rejected it).
    NotSendable(DraftStatus),
    /// The stored draft cannot be sent as it is.
    Draft(String),
    Store(StoreError),
    Mail(MailError),
}

impl Engine {
    /// Sends a stored draft, after the policy's final check. Idempotent: the
    /// mail adapter recognises an earlier send of the same `Message-ID`.
    ///
    /// Only an `approved` draft is sent, and a `pending_approval` one when
    /// the send is automatic: that one is first claimed (`pending_approval`
    /// → `approved`, compare-and-set), so an operator's reject and the
    /// auto-send cannot both win. A rejected draft is never sent.
    pub(crate) async fn send_draft(
        &self,
        draft: DraftEmail,
        approval: &Approval,
        actor: &str,
    ) -> Result<DraftEmail, SendFailure> {
        let store = &self.ports.store;
        let now = self.ports.clock.now();
        let draft = match (draft.status, approval) {
            (DraftStatus::Sent, _) => return Ok(draft),
            (DraftStatus::Approved, _) => draft,
            (DraftStatus::PendingApproval, Approval::Automatic) => {
                let mut claimed = draft;
                claimed.status = DraftStatus::Approved;
                claimed.decided_by = Some(actor.to_owned());
                claimed.decided_at = Some(now);
                claimed.updated_at = now;
                let won = store
                    .update_draft(&claimed, DraftStatus::PendingApproval)
                    .await
                    .map_err(SendFailure::Store)?;
                if !won {
                    // Decided meanwhile: go by what the operator decided.
                    let current = store
                        .get_draft(claimed.id)
                        .await
                        .map_err(SendFailure::Store)?
                        .ok_or_else(|| SendFailure::Draft("the draft is missing".into()))?;
                    return Box::pin(self.send_draft(current, approval, actor)).await;
                }
                claimed
            }
            (status, _) => {
                self.audit(
                    Some(draft.workflow_id),
                    actor,
                    "send.skipped",
                    serde_json::json!({"draft_id": draft.id, "status": status.as_str(), "reason": "only an approved draft is sent"}),
                )
                .await
                .map_err(SendFailure::Store)?;
                info!(draft_id = %draft.id, %status, "draft not sent: it is not approved");
                return Err(SendFailure::NotSendable(status));
            }
        };
        let recipient =
            EmailAddress::parse(&draft.to_email).map_err(|e| SendFailure::Draft(e.to_string()))?;
        if let Err(refusal) = self.ports.policy.authorize_send(&recipient, approval).await {
            return Err(self
                .refused(&draft, actor, &recipient, refusal, "policy")
                .await);
        }
        let external = draft
            .external_id
            .clone()
            .ok_or_else(|| SendFailure::Draft("the draft has no mailbox id".into()))?;
        // The mailbox sends the draft as it is now, not as we wrote it:
        // every recipient it has must pass the policy too.
        if let Err(refusal) = self.check_mailbox_recipients(&external, approval).await? {
            return Err(self
                .refused(&draft, actor, &recipient, refusal, "mailbox recipients")
                .await);
        }
        let request = SendRequest {
            draft_id: external,
            message_id: draft.message_id.clone(),
            to: recipient.clone(),
            approval: approval.clone(),
        };
        let sent = match self.ports.mail.send_draft(&request).await {
            Ok(sent) => sent,
            Err(MailError::Refused(r)) => {
                return Err(self
                    .refused(&draft, actor, &recipient, r, "mail adapter")
                    .await);
            }
            Err(e) => return Err(SendFailure::Mail(e)),
        };
        let previous = draft.status;
        let mut updated = draft;
        updated.status = DraftStatus::Sent;
        updated.sent_message_id = Some(sent.message_id.clone());
        updated.sent_at = Some(now);
        updated.updated_at = now;
        if updated.decided_by.is_none() {
            updated.decided_by = Some(actor.to_owned());
            updated.decided_at = Some(now);
        }
        let stored = store
            .update_draft(&updated, previous)
            .await
            .map_err(SendFailure::Store)?;
        if !stored {
            // Someone else recorded the send meanwhile; the stored row wins.
            if let Ok(Some(current)) = store.get_draft(updated.id).await {
                updated = current;
            }
        }
        self.audit(
            Some(updated.workflow_id),
            actor,
            "draft.sent",
            serde_json::json!({
                "draft_id": updated.id, "recipient": recipient.as_str(),
                "message_id": sent.message_id, "already_sent": sent.already_sent,
            }),
        )
        .await
        .map_err(SendFailure::Store)?;
        info!(draft_id = %updated.id, already_sent = sent.already_sent, "draft sent");
        Ok(updated)
    }

    /// A refused send, audited (`send.refused`, naming the gate `by`).
    async fn refused(
        &self,
        draft: &DraftEmail,
        actor: &str,
        recipient: &EmailAddress,
        refusal: SendRefusal,
        by: &str,
    ) -> SendFailure {
        let audited = self
            .audit(
                Some(draft.workflow_id),
                actor,
                "send.refused",
                serde_json::json!({
                    "draft_id": draft.id, "recipient": recipient.as_str(), "reason": refusal.reason, "by": by,
                }),
            )
            .await;
        if let Err(e) = audited {
            return SendFailure::Store(e);
        }
        warn!(draft_id = %draft.id, reason = %refusal.reason, by, "send refused");
        SendFailure::Refused(refusal)
    }

    /// Reads the mailbox draft's recipients back; `Ok(Err(refusal))` when
    /// one of them is not a valid address or not allowed by the policy.
    async fn check_mailbox_recipients(
        &self,
        external_id: &str,
        approval: &Approval,
    ) -> Result<Result<(), SendRefusal>, SendFailure> {
        let recipients = self
            .ports
            .mail
            .draft_recipients(external_id)
            .await
            .map_err(SendFailure::Mail)?;
        if recipients.is_empty() {
            return Ok(Err(SendRefusal {
                reason: "the draft in the mailbox has no recipients".into(),
            }));
        }
        let mut refused = Vec::new();
        for raw in &recipients {
            let allowed = match EmailAddress::parse(raw) {
                Ok(address) => self
                    .ports
                    .policy
                    .authorize_send(&address, approval)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if !allowed {
                refused.push(raw.clone());
            }
        }
        if refused.is_empty() {
            Ok(Ok(()))
        } else {
            Ok(Err(SendRefusal {
                reason: format!(
                    "the draft in the mailbox was changed to include recipients the send policy does not allow: {}",
                    refused.join(", ")
                ),
            }))
        }
    }
}
