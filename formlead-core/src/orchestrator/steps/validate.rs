//! Step 1, `validate_submission`: the prospect from the form (an invalid email
//! fails the workflow for good).

use super::super::checkpoint::Checkpoints;
use super::super::engine::Engine;
use super::super::failure::{StepFailure, permanent};
use crate::domain::{FormSubmission, Prospect, StepName, Workflow};

impl Engine {
    pub(super) async fn validate_submission(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        submission: &FormSubmission,
    ) -> Result<Prospect, StepFailure> {
        let step = StepName::ValidateSubmission;
        self.checkpointed(wf, step, done, |_| async {
            let p = Prospect::from_submission(submission)
                .map_err(|e| permanent(step, format!("{e} (\"{}\")", submission.email())))?;
            let summary = format!(
                "{}{}",
                p.email,
                p.company
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            );
            Ok((p, summary))
        })
        .await
    }
}
