//! Step 13, `finalize`: the status the workflow ends in, and an auto-send where
//! every gate allows it.

use super::super::checkpoint::Checkpoints;
use super::super::engine::Engine;
use super::super::failure::{StepFailure, permanent, port_failure, store_failure};
use super::super::send::SendFailure;
use super::super::slots::SlotCheck;
use super::effects::DraftCheckpoint;
use crate::agents::MeetingSlot;
use crate::domain::{AuditEvent, DraftStatus, StepName, Workflow, WorkflowStatus};
use crate::ports::{Approval, SendDecision, SendMode, StoreWrite};

impl Engine {
    pub(super) async fn finalize(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        decision: &SendDecision,
        draft: &DraftCheckpoint,
        offered: &[MeetingSlot],
    ) -> Result<WorkflowStatus, StepFailure> {
        let step = StepName::Finalize;
        // Only an auto-send reaches outside: otherwise nothing needs the
        // `running` record first, and the step is written with the rest.
        let effect = decision.mode == SendMode::AutoSend;
        self.checkpointed_as(wf, step, done, effect, |_| async {
            let (status, summary) = match decision.mode {
                SendMode::DraftOnly => (
                    WorkflowStatus::Completed,
                    "draft ready in the mailbox (draft-only)".to_owned(),
                ),
                SendMode::NeedsApproval => self.awaiting_decision(draft).await?,
                SendMode::AutoSend => self.auto_send(done, draft, offered).await?,
            };
            let event = AuditEvent::new(
                Some(wf.id),
                "system",
                "workflow.finalized",
                serde_json::json!({"status": status.as_str(), "send_mode": decision.mode.as_str()}),
                self.ports.clock.now(),
            );
            done.defer(StoreWrite::Audit(event));
            Ok((status, summary))
        })
        .await
    }

    /// The draft waits for an operator, unless one decided while the
    /// workflow ran.
    async fn awaiting_decision(
        &self,
        draft: &DraftCheckpoint,
    ) -> Result<(WorkflowStatus, String), StepFailure> {
        let stored = self
            .ports
            .store
            .get_draft(draft.draft_id)
            .await
            .map_err(store_failure(Some(StepName::Finalize)))?;
        Ok(match stored.map(|d| d.status) {
            Some(DraftStatus::PendingApproval) | None => (
                WorkflowStatus::AwaitingApproval,
                "draft awaits an operator's approval".to_owned(),
            ),
            Some(decided) => (
                WorkflowStatus::Completed,
                format!("the draft was {decided} by an operator while the workflow ran"),
            ),
        })
    }

    /// Sends without a click; a refusal leaves it to an operator.
    ///
    /// The offered meeting times are checked again first, unless this
    /// attempt read the calendar itself (step 6 has no checkpoint from an
    /// earlier attempt) and none of them has started: then the free/busy
    /// answer is moments old, and asking again would only add a calendar
    /// call and four reads to the lead's time to reply.
    async fn auto_send(
        &self,
        done: &Checkpoints,
        draft: &DraftCheckpoint,
        offered: &[MeetingSlot],
    ) -> Result<(WorkflowStatus, String), StepFailure> {
        let step = StepName::Finalize;
        let stored = self
            .ports
            .store
            .get_draft(draft.draft_id)
            .await
            .map_err(store_failure(Some(step)))?
            .ok_or_else(|| permanent(step, "the workflow's draft is missing"))?;
        let now = self.ports.clock.now();
        let read_now = done.get(&StepName::FindMeetingSlots).is_none()
            && offered.iter().all(|s| s.start > now);
        let stored = if read_now {
            stored
        } else {
            match self.recheck_slots(stored, "system").await? {
                SlotCheck::Sendable(draft) => *draft,
                SlotCheck::NoFreeSlot => {
                    return Ok((
                        WorkflowStatus::AwaitingApproval,
                        "not sent: the offered meeting times are taken and none is free; awaiting an operator".to_owned(),
                    ));
                }
            }
        };
        Ok(
            match self
                .send_draft(stored, &Approval::Automatic, "system")
                .await
            {
                Ok(sent) => (
                    WorkflowStatus::Completed,
                    format!(
                        "sent automatically ({})",
                        sent.sent_message_id.unwrap_or_default()
                    ),
                ),
                Err(SendFailure::Refused(r)) => (
                    WorkflowStatus::AwaitingApproval,
                    format!("auto-send refused ({r}); awaiting approval"),
                ),
                Err(SendFailure::NotSendable(status)) => (
                    WorkflowStatus::Completed,
                    format!("not sent: an operator {status} the draft first"),
                ),
                Err(SendFailure::Draft(m)) => return Err(permanent(step, m)),
                Err(SendFailure::Store(e)) => return Err(store_failure(Some(step))(e)),
                Err(SendFailure::Mail(e)) => return Err(port_failure(step)(e)),
            },
        )
    }
}
