//! The offered meeting times, checked again when a draft is about to go
//! out (an operator's approval, or an auto-send): an offer that has passed
//! or has since been booked is re-picked and the draft rewritten in place
//! (mailbox and store, audited) before the send. With no free slot left the
//! send does not happen; a draft never goes out offering a past time.

use super::engine::Engine;
use super::failure::{StepFailure, port_failure, store_failure};
use crate::agents::{MeetingSlot, MeetingSlotFinder};
use crate::domain::{DraftEmail, StepName, StepRecord};

/// What the check found.
#[derive(Debug)]
pub(crate) enum SlotCheck {
    /// Every offered time is still ahead and free (or none was offered, or
    /// they were re-picked): the draft as it is to go out.
    Sendable(Box<DraftEmail>),
    /// An offered time passed or is booked, and no free one is left.
    NoFreeSlot,
}

impl Engine {
    /// Checks `draft`'s offered meeting times again (see the module).
    pub(crate) async fn recheck_slots(
        &self,
        draft: DraftEmail,
        actor: &str,
    ) -> Result<SlotCheck, StepFailure> {
        let step = StepName::FindMeetingSlots;
        let store = &self.ports.store;
        let Some(wf) = store
            .get_workflow(draft.workflow_id)
            .await
            .map_err(store_failure(Some(step)))?
        else {
            return Ok(SlotCheck::Sendable(Box::new(draft)));
        };
        let (mut input, steps) = self.reply_input(&wf).await?;
        if input.plan.slots.is_empty() {
            return Ok(SlotCheck::Sendable(Box::new(draft)));
        }
        let now = self.ports.clock.now();
        let hours = &self.config.business_hours;
        let (from, to) = hours.window(now);
        let last = input.plan.slots.iter().map(|s| s.end).max().unwrap_or(to);
        let busy = self
            .ports
            .calendar
            .busy(from, to.max(last))
            .await
            .map_err(port_failure(step))?;
        let taken = |s: &MeetingSlot| {
            s.start <= now || busy.iter().any(|b| b.start < s.end && s.start < b.end)
        };
        if !input.plan.slots.iter().any(taken) {
            return Ok(SlotCheck::Sendable(Box::new(draft)));
        }
        let offered = input.plan.slots.clone();
        let fresh = MeetingSlotFinder {
            hours: hours.clone(),
        }
        .propose(now, &busy);
        let shown = |slots: &[MeetingSlot]| {
            slots
                .iter()
                .map(|s| s.display(hours.time_zone))
                .collect::<Vec<_>>()
        };
        if fresh.is_empty() {
            self.audit(
                Some(wf.id),
                actor,
                "draft.slots_unavailable",
                serde_json::json!({"draft_id": draft.id, "offered": shown(&offered)}),
            )
            .await
            .map_err(store_failure(Some(step)))?;
            return Ok(SlotCheck::NoFreeSlot);
        }
        input.plan.slots = fresh;
        let Some(content) = self.rewrite_draft(&draft, &input).await? else {
            // Decided meanwhile: the caller's compare-and-set sees it.
            return Ok(SlotCheck::Sendable(Box::new(draft)));
        };
        // The plan's checkpoint offers what the draft offers now.
        if let Some(record) = steps.iter().find(|r| r.step == StepName::PlanNextStep) {
            let record = StepRecord {
                output: serde_json::to_value(&input.plan).ok(),
                ..record.clone()
            };
            store
                .save_step(&record)
                .await
                .map_err(store_failure(Some(step)))?;
        }
        self.audit(
            Some(wf.id),
            actor,
            "draft.slots_repicked",
            serde_json::json!({"draft_id": draft.id, "offered": shown(&offered), "now_offered": shown(&input.plan.slots)}),
        )
        .await
        .map_err(store_failure(Some(step)))?;
        Ok(SlotCheck::Sendable(Box::new(DraftEmail {
            subject: content.subject,
            body_text: content.body_text,
            body_html: content.body_html,
            updated_at: now,
            ..draft
        })))
    }
}
