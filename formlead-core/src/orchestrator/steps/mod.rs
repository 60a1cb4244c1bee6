//! The 13 steps of contract §1, in order, one function each. A step runs
//! under its checkpoint: a resumed workflow reads back what a finished step
//! produced and goes on after it. Steps 3–6 only read and run concurrently.

mod compose;
mod contact;
mod context;
mod effects;
mod finalize;
mod validate;

use super::checkpoint::Checkpoints;
use super::engine::Engine;
use super::failure::{StepFailure, permanent, store_failure};
use super::lease::Lease;
use crate::domain::{FormSubmission, StepName, StepRecord, Workflow, WorkflowStatus};
use crate::ports::{RunInputs, StoreWrite};

impl Engine {
    /// Runs (or resumes) every step of `wf`: the status it ends in, and
    /// the records not written yet (for the attempt's last write).
    pub(crate) async fn run_steps(
        &self,
        wf: &Workflow,
        inputs: Option<RunInputs>,
        lease: &Lease,
    ) -> Result<(WorkflowStatus, Vec<StoreWrite>), StepFailure> {
        let (submission, steps, earlier) = match inputs {
            Some(RunInputs {
                submission,
                steps,
                earlier_workflows,
            }) => (submission, steps, Some(earlier_workflows)),
            None => {
                let (submission, steps) = self.read_inputs(wf).await?;
                (submission, steps, None)
            }
        };
        let submission = submission.ok_or_else(|| {
            permanent(
                StepName::ValidateSubmission,
                "the workflow's submission is missing",
            )
        })?;
        let mut done = Checkpoints::new(steps);
        if earlier == Some(false) {
            done.set_new_prospect(&wf.prospect_email);
        }

        self.renew_lease(wf, lease).await?;
        let prospect = self.validate_submission(wf, &done, &submission).await?;
        self.renew_lease(wf, lease).await?;
        let contact = self.upsert_contact(wf, &done, &prospect).await?;
        self.renew_lease(wf, lease).await?;
        let context = self.gather_context(wf, &done, &prospect, &contact).await?;
        self.renew_lease(wf, lease).await?;
        let plan = self.plan_next_step(wf, &done, &prospect, &context).await?;
        self.renew_lease(wf, lease).await?;
        let content = self
            .write_draft(wf, &done, &prospect, &plan, &context)
            .await?;
        self.renew_lease(wf, lease).await?;
        let decision = self.check_send_policy(wf, &done, &prospect).await?;
        self.renew_lease(wf, lease).await?;
        let draft = self
            .create_mail_draft(
                wf,
                &done,
                &prospect,
                &context,
                &content,
                submission.received_at,
            )
            .await?;
        self.renew_lease(wf, lease).await?;
        let task = self
            .create_crm_task(wf, &done, &prospect, &contact, &plan, &content, &decision)
            .await?;
        self.renew_lease(wf, lease).await?;
        let reply = effects::Reply {
            content: &content,
            plan: &plan,
            decision: &decision,
            draft: &draft,
            task: &task,
        };
        self.log_crm_note(wf, &done, &contact, &reply).await?;
        self.renew_lease(wf, lease).await?;
        let status = self
            .finalize(wf, &done, &decision, &draft, &plan.slots)
            .await?;
        Ok((status, done.into_deferred()))
    }

    /// The run's inputs, when the store did not read them with the lease.
    async fn read_inputs(
        &self,
        wf: &Workflow,
    ) -> Result<(Option<FormSubmission>, Vec<StepRecord>), StepFailure> {
        let store = &self.ports.store;
        let submission = store
            .get_submission(wf.submission_id)
            .await
            .map_err(store_failure(None))?;
        let steps = store.list_steps(wf.id).await.map_err(store_failure(None))?;
        Ok((submission, steps))
    }
}
