//! Rewriting a stored reply in place: its input rebuilt from the
//! workflow's checkpoints and linked submissions, written again, the
//! mailbox draft replaced (`update_draft`, idempotent) and the stored draft
//! revised (compare-and-set on its status). Folding in repeat submissions
//! and re-picking meeting slots at send time both do this.

use serde::de::DeserializeOwned;

use super::engine::Engine;
use super::failure::{StepFailure, permanent, port_failure, store_failure};
use crate::agents::{MemoryRecall, NextStep, ThreadInsight};
use crate::domain::{DraftEmail, EmailAddress, Prospect, StepName, StepRecord, Workflow};
use crate::ports::{DraftContent, DraftInput, OutgoingMail, ReplyTo};

impl Engine {
    /// What the workflow's reply is written from now: the prospect, the
    /// stored plan and context, every linked submission's ask; and the
    /// workflow's checkpoints.
    pub(crate) async fn reply_input(
        &self,
        wf: &Workflow,
    ) -> Result<(DraftInput, Vec<StepRecord>), StepFailure> {
        let step = StepName::WriteDraft;
        let store = &self.ports.store;
        let stored = store_failure(Some(step));
        let submission = store
            .get_submission(wf.submission_id)
            .await
            .map_err(&stored)?
            .ok_or_else(|| permanent(step, "the workflow's submission is missing"))?;
        let prospect = Prospect::from_submission(&submission)
            .map_err(|e| permanent(step, format!("the workflow's prospect: {e}")))?;
        let steps = store.list_steps(wf.id).await.map_err(&stored)?;
        let plan: NextStep = output_of(&steps, StepName::PlanNextStep)
            .ok_or_else(|| permanent(step, "the reply's plan is not stored"))?;
        let memory: MemoryRecall = output_of(&steps, StepName::RecallHistory).unwrap_or_default();
        let threads: ThreadInsight = output_of(&steps, StepName::ReadThreads).unwrap_or_default();
        let more_asks = store
            .linked_submissions(wf.id)
            .await
            .map_err(&stored)?
            .into_iter()
            .filter_map(|l| l.submission.field("message").map(str::to_owned))
            .collect();
        let input = DraftInput {
            prospect,
            plan,
            thread: threads.chosen,
            memory,
            time_zone: self.config.business_hours.time_zone,
            more_asks,
            support_handoff: self.config.support_owner_id.is_some(),
        };
        Ok((input, steps))
    }

    /// Writes `input` and puts it in place of `draft`, in the mailbox and
    /// in the store: the new content, or `None` when the stored draft's
    /// status changed meanwhile (the mailbox draft is updated regardless;
    /// what the stored one became decides what happens next).
    pub(crate) async fn rewrite_draft(
        &self,
        draft: &DraftEmail,
        input: &DraftInput,
    ) -> Result<Option<DraftContent>, StepFailure> {
        let step = StepName::WriteDraft;
        let content = self
            .ports
            .writer
            .write(input)
            .await
            .map_err(port_failure(step))?;
        let step = StepName::CreateMailDraft;
        let external = draft
            .external_id
            .clone()
            .ok_or_else(|| permanent(step, "the draft has no mailbox id"))?;
        let mail = OutgoingMail {
            to: EmailAddress::parse(&draft.to_email)
                .map_err(|e| permanent(step, format!("the draft's recipient: {e}")))?,
            to_name: draft.to_name.clone(),
            subject: content.subject.clone(),
            body_text: content.body_text.clone(),
            body_html: content.body_html.clone(),
            message_id: draft.message_id.clone(),
            reply_to: reply_to(draft),
        };
        self.ports
            .mail
            .update_draft(&external, &mail)
            .await
            .map_err(port_failure(step))?;
        let revised = self
            .ports
            .store
            .revise_draft(
                draft.id,
                &content.subject,
                &content.body_text,
                &content.body_html,
                draft.status,
                self.ports.clock.now(),
            )
            .await
            .map_err(store_failure(Some(step)))?;
        Ok(revised.then_some(content))
    }
}

/// The stored output of a completed (or degraded) step.
pub(crate) fn output_of<T: DeserializeOwned>(steps: &[StepRecord], step: StepName) -> Option<T> {
    let record = steps.iter().find(|r| r.step == step)?;
    if !record.status.is_done() {
        return None;
    }
    serde_json::from_value(record.output.clone()?).ok()
}

/// The thread a stored draft replies in.
fn reply_to(draft: &DraftEmail) -> Option<ReplyTo> {
    Some(ReplyTo {
        thread_id: draft.thread_id.clone()?,
        message_id: draft.in_reply_to.clone()?,
    })
}
