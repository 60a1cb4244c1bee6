//! Operator actions (approve, reject, retry), sending, and the workflow
//! detail view.

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::checkpoint::{permanent, port_failure, store_failure};
use super::engine::{Engine, StepFailure};
use crate::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, EmailAddress, FormSubmission, StepName,
    StepRecord, Workflow, WorkflowError, WorkflowId, WorkflowStatus,
};
use crate::ports::{
    Approval, MailError, SendMode, SendRefusal, SendRequest, StoreError, WorkflowFilter,
};

/// Longest reject reason kept (characters).
pub const MAX_REASON_CHARS: usize = 1_000;

/// Most workflows one [`Engine::retry_failed`] re-queues.
pub const MAX_RETRY_ALL: usize = 10_000;

/// [`Engine::retry_failed`] releases the workflows it re-queues this far
/// apart (50 a second: 10,000 over about three minutes), so a large set
/// does not hit the vendors, the queue and the store in one instant.
pub const RETRY_ALL_SPACING: std::time::Duration = std::time::Duration::from_millis(20);

/// Why an operator action did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The action does not fit the current state (e.g. approve after reject).
    #[error("{0}")]
    Conflict(String),
    /// The send policy refused the send (the draft stays approved).
    #[error("send refused by policy: {0}")]
    Refused(SendRefusal),
    /// The mail service failed; approving again retries the send safely.
    #[error("send failed: {message}")]
    SendFailed { message: String, transient: bool },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => Self::NotFound { what, id },
            StoreError::Conflict(msg) => Self::Conflict(msg),
            other => Self::Store(other),
        }
    }
}

/// Why a send did not happen.
#[derive(Debug)]
pub(crate) enum SendFailure {
    Refused(SendRefusal),
    /// The draft is not one that may be sent (an operator rejected it).
    NotSendable(DraftStatus),
    Failed(StepFailure),
}

/// Everything about one workflow, for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowDetail {
    pub workflow: Workflow,
    pub submission: Option<FormSubmission>,
    pub steps: Vec<StepRecord>,
    pub drafts: Vec<DraftEmail>,
    pub tasks: Vec<CrmTask>,
    pub errors: Vec<WorkflowError>,
    pub audit: Vec<crate::domain::AuditEvent>,
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
        let step = StepName::Finalize;
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
                    .map_err(|e| SendFailure::Failed(store_failure(Some(step))(e)))?;
                if !won {
                    // Decided meanwhile: go by what the operator decided.
                    let current = store
                        .get_draft(claimed.id)
                        .await
                        .map_err(|e| SendFailure::Failed(store_failure(Some(step))(e)))?
                        .ok_or_else(|| {
                            SendFailure::Failed(permanent(step, "the draft is missing"))
                        })?;
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
                .map_err(|e| SendFailure::Failed(store_failure(Some(step))(e)))?;
                info!(draft_id = %draft.id, %status, "draft not sent: it is not approved");
                return Err(SendFailure::NotSendable(status));
            }
        };
        let recipient = EmailAddress::parse(&draft.to_email)
            .map_err(|e| SendFailure::Failed(permanent(step, e.to_string())))?;
        if let Err(refusal) = self.ports.policy.authorize_send(&recipient, approval).await {
            return Err(self
                .refused(&draft, actor, &recipient, refusal, "policy")
                .await);
        }
        let external = draft
            .external_id
            .clone()
            .ok_or_else(|| SendFailure::Failed(permanent(step, "the draft has no mailbox id")))?;
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
            Err(e) => return Err(SendFailure::Failed(port_failure(step)(e))),
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
            .map_err(|e| SendFailure::Failed(store_failure(Some(step))(e)))?;
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
        .map_err(|e| SendFailure::Failed(store_failure(Some(step))(e)))?;
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
            return SendFailure::Failed(store_failure(Some(StepName::Finalize))(e));
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
        let step = StepName::Finalize;
        let recipients = self
            .ports
            .mail
            .draft_recipients(external_id)
            .await
            .map_err(|e| SendFailure::Failed(port_failure(step)(e)))?;
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
        let store = &self.ports.store;
        let actor = operator_actor(operator);
        let draft = store
            .get_draft(id)
            .await?
            .ok_or_else(|| ActionError::NotFound {
                what: "draft",
                id: id.to_string(),
            })?;
        let draft = match draft.status {
            DraftStatus::Rejected => {
                return Err(ActionError::Conflict(format!(
                    "draft {id} was rejected and cannot be approved"
                )));
            }
            DraftStatus::Sent => return Ok(draft),
            DraftStatus::Approved => draft,
            DraftStatus::PendingApproval => {
                let now = self.ports.clock.now();
                let mut approved = draft;
                approved.status = DraftStatus::Approved;
                approved.decided_by = Some(actor.clone());
                approved.decided_at = Some(now);
                approved.updated_at = now;
                if !store
                    .update_draft(&approved, DraftStatus::PendingApproval)
                    .await?
                {
                    return Err(ActionError::Conflict(format!(
                        "draft {id} changed meanwhile; reload and try again"
                    )));
                }
                self.audit(
                    Some(approved.workflow_id),
                    &actor,
                    "draft.approved",
                    serde_json::json!({"draft_id": id}),
                )
                .await?;
                store
                    .transition_workflow(
                        approved.workflow_id,
                        WorkflowStatus::AwaitingApproval,
                        WorkflowStatus::Completed,
                        now,
                    )
                    .await?;
                approved
            }
        };

        let recipient = EmailAddress::parse(&draft.to_email)
            .map_err(|e| ActionError::Conflict(e.to_string()))?;
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
            Err(SendFailure::NotSendable(status)) => Err(ActionError::Conflict(format!(
                "draft {id} is {status} and cannot be sent"
            ))),
            Err(SendFailure::Failed(f)) => Err(ActionError::SendFailed {
                transient: matches!(f.kind, super::engine::FailureKind::Transient { .. }),
                message: f.message,
            }),
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
        let store = &self.ports.store;
        let actor = operator_actor(operator);
        let draft = store
            .get_draft(id)
            .await?
            .ok_or_else(|| ActionError::NotFound {
                what: "draft",
                id: id.to_string(),
            })?;
        match draft.status {
            DraftStatus::Rejected => Ok(draft),
            DraftStatus::Approved | DraftStatus::Sent => Err(ActionError::Conflict(format!(
                "draft {id} is already {} and cannot be rejected",
                draft.status
            ))),
            DraftStatus::PendingApproval => {
                let now = self.ports.clock.now();
                // A NUL becomes U+FFFD, as in submissions (PostgreSQL's text
                // cannot hold one).
                let reason: String = reason
                    .trim()
                    .chars()
                    .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
                    .take(MAX_REASON_CHARS)
                    .collect();
                let mut rejected = draft;
                rejected.status = DraftStatus::Rejected;
                rejected.decided_by = Some(actor.clone());
                rejected.decided_at = Some(now);
                rejected.reject_reason = Some(if reason.is_empty() {
                    "no reason given".into()
                } else {
                    reason
                });
                rejected.updated_at = now;
                if !store
                    .update_draft(&rejected, DraftStatus::PendingApproval)
                    .await?
                {
                    return Err(ActionError::Conflict(format!(
                        "draft {id} changed meanwhile; reload and try again"
                    )));
                }
                self.audit(
                    Some(rejected.workflow_id),
                    &actor,
                    "draft.rejected",
                    serde_json::json!({
                        "draft_id": id, "reason": rejected.reject_reason,
                    }),
                )
                .await?;
                store
                    .transition_workflow(
                        rejected.workflow_id,
                        WorkflowStatus::AwaitingApproval,
                        WorkflowStatus::Completed,
                        now,
                    )
                    .await?;
                Ok(rejected)
            }
        }
    }

    /// An operator re-runs a failed workflow; it resumes after its last
    /// completed step with a fresh attempt budget.
    ///
    /// # Errors
    /// [`ActionError::Conflict`] unless the workflow is `failed`.
    pub async fn retry_workflow(
        &self,
        id: WorkflowId,
        operator: &str,
    ) -> Result<Workflow, ActionError> {
        let now = self.ports.clock.now();
        self.retry_workflow_at(id, operator, now).await
    }

    /// [`Self::retry_workflow`], its job due at `run_at`.
    async fn retry_workflow_at(
        &self,
        id: WorkflowId,
        operator: &str,
        run_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Workflow, ActionError> {
        let actor = operator_actor(operator);
        let workflow = self
            .ports
            .store
            .requeue_workflow(id, self.ports.clock.now(), run_at)
            .await?;
        self.audit(Some(id), &actor, "workflow.retried", serde_json::json!({}))
            .await?;
        info!(workflow_id = %id, %actor, "workflow re-queued by operator");
        Ok(workflow)
    }

    /// Re-queues every failed workflow (at most [`MAX_RETRY_ALL`]), as
    /// [`Self::retry_workflow`] does one: after an outage or a credentials
    /// problem dead-lettered many leads at once. The failed workflows are
    /// listed first, so one that fails again straight away is not retried
    /// twice; one that left `failed` meanwhile (another operator retried
    /// it) is skipped. Returns how many were re-queued.
    ///
    /// # Errors
    /// [`ActionError`] from the store; the ones re-queued before it stay so.
    pub async fn retry_failed(&self, operator: &str) -> Result<usize, ActionError> {
        let mut ids = Vec::new();
        while ids.len() < MAX_RETRY_ALL {
            let page = self
                .ports
                .store
                .list_workflows(&WorkflowFilter {
                    status: Some(WorkflowStatus::Failed),
                    email: None,
                    limit: WorkflowFilter::MAX_LIMIT,
                    offset: u32::try_from(ids.len()).unwrap_or(u32::MAX),
                })
                .await?;
            if page.items.is_empty() {
                break;
            }
            ids.extend(page.items.into_iter().map(|w| w.id));
        }
        ids.truncate(MAX_RETRY_ALL);
        let mut retried = 0;
        let start = self.ports.clock.now();
        let spacing = chrono::Duration::from_std(RETRY_ALL_SPACING).unwrap_or_default();
        for id in ids {
            let run_at = start + spacing * i32::try_from(retried).unwrap_or(i32::MAX);
            match self.retry_workflow_at(id, operator, run_at).await {
                Ok(_) => retried += 1,
                Err(ActionError::Conflict(_) | ActionError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(retried)
    }

    /// Everything about one workflow, or `None` when it does not exist.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn workflow_detail(
        &self,
        id: WorkflowId,
    ) -> Result<Option<WorkflowDetail>, StoreError> {
        let store = &self.ports.store;
        let Some(workflow) = store.get_workflow(id).await? else {
            return Ok(None);
        };
        let (submission, steps, drafts, tasks, errors, audit) = futures_util::try_join!(
            store.get_submission(workflow.submission_id),
            store.list_steps(id),
            store.drafts_for_workflow(id),
            store.tasks_for_workflow(id),
            store.errors_for_workflow(id),
            store.audit_for_workflow(id),
        )?;
        Ok(Some(WorkflowDetail {
            workflow,
            submission,
            steps,
            drafts,
            tasks,
            errors,
            audit,
        }))
    }

    pub(crate) async fn audit(
        &self,
        workflow_id: Option<WorkflowId>,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let event = AuditEvent::new(workflow_id, actor, action, detail, self.ports.clock.now());
        self.ports.store.record_audit(&event).await
    }
}

fn operator_actor(operator: &str) -> String {
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
