//! One reply per prospect: a repeat submission linked to a workflow whose
//! draft waits (`pending_approval`: for an operator, or in the mailbox in
//! draft-only mode) is folded into that reply. The Gmail draft is
//! rewritten in place to answer every ask, the CRM task's body updated,
//! and one CRM note logged per linked submission; each is idempotent (the
//! draft and task updates replace content, a note is looked up by its key
//! before it is created), so a retry after a crash repeats nothing.
//!
//! A linked submission whose reply was approved, sent or rejected before
//! it could be folded in gets a workflow of its own instead.

use std::time::Duration;

use tracing::{info, warn};

use super::engine::Engine;
use super::failure::{FailureKind, StepFailure, permanent, port_failure, store_failure};
use super::outcome::ProcessOutcome;
use crate::domain::{DraftStatus, StepName, Workflow, WorkflowStatus};
use crate::ports::{LinkedSubmission, NewNote, StartAttempt, StoreError, TaskUpdate, WorkflowJob};

/// How soon a job for a reply being updated by another worker looks again.
pub(crate) const BUSY_RECHECK: Duration = Duration::from_secs(2);

impl Engine {
    /// Folds the workflow's linked submissions not answered yet into its
    /// waiting reply (the job of a linked submission lands here once the
    /// run has finished).
    pub(crate) async fn amend(
        &self,
        job: WorkflowJob,
        status: WorkflowStatus,
    ) -> Result<ProcessOutcome, StoreError> {
        let store = &self.ports.store;
        let id = job.workflow_id;
        let waiting = unapplied(store.linked_submissions(id).await?);
        if waiting.is_empty() {
            return Ok(ProcessOutcome::Skipped(status));
        }
        let owner = self.lease_owner();
        let now = self.ports.clock.now();
        let wf = match store
            .lease_reply(id, &owner, now, self.config.lease)
            .await?
        {
            StartAttempt::Started(wf) => wf,
            StartAttempt::NotRunnable(status) => return Ok(ProcessOutcome::Skipped(status)),
            StartAttempt::Busy { until } | StartAttempt::NotDue { at: until } => {
                self.look_again(job).await;
                return Ok(ProcessOutcome::Busy { until });
            }
        };
        // Linked while this worker waited for the lease: read again.
        let waiting = unapplied(store.linked_submissions(id).await?);
        let outcome = self.fold_in(&wf, &waiting).await;
        store
            .release_lease(id, &owner, self.ports.clock.now())
            .await?;
        match outcome {
            Ok(linked) => {
                info!(workflow_id = %id, linked, "reply updated to answer the prospect's repeat submissions");
                Ok(ProcessOutcome::Amended { linked })
            }
            Err(StepFailure {
                kind: FailureKind::Transient { retry_after },
                message,
                ..
            }) => {
                warn!(workflow_id = %id, error = %message, "updating the reply failed; trying again");
                let wait = retry_after
                    .unwrap_or(self.config.retry.base)
                    .max(Duration::from_secs(1));
                self.ports
                    .queue
                    .enqueue(job, wait)
                    .await
                    .map_err(|e| StoreError::transient(format!("re-queue: {e}")))?;
                Ok(ProcessOutcome::Busy {
                    until: self.ports.clock.now()
                        + chrono::Duration::from_std(wait).unwrap_or_default(),
                })
            }
            Err(f) => {
                warn!(workflow_id = %id, error = %f.message, "the reply could not be updated; the repeat submissions get replies of their own");
                self.audit(
                    Some(id),
                    "system",
                    "draft.update_failed",
                    serde_json::json!({"error": f.message}),
                )
                .await?;
                self.unlink_all(&waiting).await?;
                Ok(ProcessOutcome::Amended { linked: 0 })
            }
        }
    }

    /// Re-queues `job` to look at a reply another worker holds shortly.
    pub(crate) async fn look_again(&self, job: WorkflowJob) {
        if let Err(e) = self.ports.queue.enqueue(job, BUSY_RECHECK).await {
            warn!(error = %e, "could not re-queue a busy workflow; its lease expiry will recover it");
        }
    }

    /// Rewrites the pending draft with every ask, updates the task, logs a
    /// note per submission in `waiting`: how many were folded in.
    async fn fold_in(
        &self,
        wf: &Workflow,
        waiting: &[LinkedSubmission],
    ) -> Result<usize, StepFailure> {
        let step = StepName::WriteDraft;
        let store = &self.ports.store;
        let stored = store_failure(Some(step));
        let draft = store
            .drafts_for_workflow(wf.id)
            .await
            .map_err(&stored)?
            .into_iter()
            .find(|d| d.status == DraftStatus::PendingApproval);
        let Some(draft) = draft else {
            // Decided before it could answer them: each gets its own reply.
            self.unlink_all(waiting).await.map_err(&stored)?;
            return Ok(0);
        };
        let (input, _) = self.reply_input(wf).await?;
        let Some(content) = self.rewrite_draft(&draft, &input).await? else {
            // Decided while it was being rewritten.
            self.unlink_all(waiting).await.map_err(&stored)?;
            return Ok(0);
        };
        let external = draft.external_id.clone().unwrap_or_default();

        let step = StepName::CreateCrmTask;
        let task = store
            .tasks_for_workflow(wf.id)
            .await
            .map_err(store_failure(Some(step)))?
            .into_iter()
            .next();
        let contact_id = match &task {
            Some(task) => {
                let body = format!(
                    "{}\nAlso asked ({} repeat submission(s)): {}",
                    task.body
                        .split("\nAlso asked (")
                        .next()
                        .unwrap_or(&task.body),
                    input.more_asks.len(),
                    input
                        .more_asks
                        .iter()
                        .map(|a| excerpt(a))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let update = TaskUpdate {
                    body: Some(body),
                    priority: None,
                };
                self.ports
                    .crm
                    .update_task(&task.external_id, &update)
                    .await
                    .map_err(port_failure(step))?;
                store
                    .revise_task(task.id, &update)
                    .await
                    .map_err(store_failure(Some(step)))?;
                task.contact_id.clone()
            }
            None => return Err(permanent(step, "the reply's CRM task is not stored")),
        };

        let step = StepName::LogCrmNote;
        for link in waiting {
            let key = format!("formlead:{}:note:{}", wf.id, link.submission.id);
            let found = self
                .ports
                .crm
                .find_note(&contact_id, &key)
                .await
                .map_err(port_failure(step))?;
            let note_id = match found {
                Some(id) => id,
                None => {
                    let note = NewNote {
                        idempotency_key: key.clone(),
                        contact_id: contact_id.clone(),
                        body: format!(
                            "{} submitted again ({}): \"{}\". formlead folded it into the waiting reply: \"{}\" (mail draft {external}).\nref: {key}",
                            input.prospect.email,
                            link.submission.form_id.as_deref().unwrap_or("form"),
                            excerpt(link.submission.field("message").unwrap_or("")),
                            content.subject,
                        ),
                        timestamp: self.ports.clock.now(),
                    };
                    self.ports
                        .crm
                        .create_note(&note)
                        .await
                        .map_err(port_failure(step))?
                }
            };
            store
                .apply_link(link.submission.id, &note_id, self.ports.clock.now())
                .await
                .map_err(store_failure(Some(step)))?;
        }
        self.audit(
            Some(wf.id),
            "system",
            "draft.updated",
            serde_json::json!({
                "draft_id": draft.id,
                "external_id": external,
                "linked_submissions": waiting.iter().map(|l| l.submission.id).collect::<Vec<_>>(),
            }),
        )
        .await
        .map_err(store_failure(Some(step)))?;
        Ok(waiting.len())
    }

    /// Gives each of `links` a workflow of its own.
    async fn unlink_all(&self, links: &[LinkedSubmission]) -> Result<(), StoreError> {
        for link in links {
            let id = self
                .ports
                .store
                .unlink_submission(link.submission.id, self.ports.clock.now())
                .await?;
            self.audit(
                Some(link.workflow_id),
                "system",
                "submission.unlinked",
                serde_json::json!({"submission_id": link.submission.id, "workflow_id": id,
                    "reason": "the reply was decided before it could answer this submission"}),
            )
            .await?;
        }
        Ok(())
    }
}

/// Linked submissions the reply does not answer yet.
fn unapplied(links: Vec<LinkedSubmission>) -> Vec<LinkedSubmission> {
    links
        .into_iter()
        .filter(|l| l.applied_at.is_none())
        .collect()
}

/// At most 12 words of a message, on one line.
fn excerpt(message: &str) -> String {
    let words: Vec<&str> = message.split_whitespace().collect();
    let mut s = words.iter().take(12).copied().collect::<Vec<_>>().join(" ");
    if words.len() > 12 {
        s.push('…');
    }
    s
}
