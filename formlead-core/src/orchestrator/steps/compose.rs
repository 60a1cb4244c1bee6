//! Steps 7–9: deciding and writing the reply: the next step to propose, the
//! draft in the sender's voice, and what the send policy allows.

use super::super::checkpoint::Checkpoints;
use super::super::engine::Engine;
use super::super::failure::{StepFailure, permanent, port_failure};
use super::context::Context;
use crate::agents::{NextStep, NextStepPlanner};
use crate::domain::{AuditEvent, Prospect, StepName, Workflow};
use crate::ports::{DraftContent, DraftInput};
use crate::ports::{SendDecision, StoreWrite};

impl Engine {
    /// 7. `plan_next_step`.
    pub(super) async fn plan_next_step(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
        context: &Context,
    ) -> Result<NextStep, StepFailure> {
        self.checkpointed(wf, StepName::PlanNextStep, done, |_| async {
            let plan = NextStepPlanner.plan(
                prospect,
                &context.threads,
                &context.memory,
                &context.assets,
                &context.slots,
            );
            let s = format!("{}: {}", plan.action.as_str(), plan.reason);
            Ok((plan, s))
        })
        .await
    }

    /// 8. `write_draft`.
    pub(super) async fn write_draft(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
        plan: &NextStep,
        context: &Context,
    ) -> Result<DraftContent, StepFailure> {
        let step = StepName::WriteDraft;
        self.checkpointed(wf, step, done, |_| async {
            let input = DraftInput {
                prospect: prospect.clone(),
                plan: plan.clone(),
                thread: context.threads.chosen.clone(),
                memory: context.memory.clone(),
                time_zone: self.config.business_hours.time_zone,
                // Repeat submissions join the reply after the run (`amend`).
                more_asks: Vec::new(),
                support_handoff: self.config.support_owner_id.is_some(),
            };
            let content = self
                .ports
                .writer
                .write(&input)
                .await
                .map_err(port_failure(step))?;
            if content.subject.trim().is_empty() || content.body_text.trim().is_empty() {
                return Err(permanent(
                    step,
                    "the writer produced an empty subject or body",
                ));
            }
            let words = content.body_text.split_whitespace().count();
            let s = format!("\"{}\" ({words} words)", content.subject);
            Ok((content, s))
        })
        .await
    }

    /// 9. `check_send_policy` (the decision is audited).
    pub(super) async fn check_send_policy(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
    ) -> Result<SendDecision, StepFailure> {
        let step = StepName::CheckSendPolicy;
        self.checkpointed(wf, step, done, |_| async {
            let decision = self.ports.policy.decide(&prospect.email).await;
            let event = AuditEvent::new(
                Some(wf.id),
                "system",
                "send_policy.decision",
                serde_json::json!({"mode": decision.mode.as_str(), "reason": decision.reason, "recipient": prospect.email.as_str()}),
                self.ports.clock.now(),
            );
            done.defer(StoreWrite::Audit(event));
            let s = format!("{}: {}", decision.mode.as_str(), decision.reason);
            Ok((decision, s))
        })
        .await
    }
}
