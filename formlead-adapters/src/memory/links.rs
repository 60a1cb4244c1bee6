//! One reply per prospect in memory: finding the reply a repeat submission
//! joins, and what happens to linked submissions afterwards.

use std::time::Duration;

use chrono::{DateTime, Utc};
use formlead_core::domain::{
    DraftId, DraftStatus, EmailAddress, FormSubmission, SubmissionId, TaskId, Workflow, WorkflowId,
    WorkflowStatus,
};
use formlead_core::ports::{LinkedSubmission, StartAttempt, StoreError, TaskUpdate};

use super::store::{MemoryStore, State, WorkflowRow, check_owner, release, take_lease};
use crate::sandbox::faults::lock;

impl State {
    /// The earliest workflow of `submission`'s prospect, created within
    /// `window` before it, whose reply is not sent or approved yet.
    pub(super) fn open_reply(
        &self,
        submission: &FormSubmission,
        window: Duration,
    ) -> Option<WorkflowId> {
        // An invalid address fails its own workflow at step 1.
        EmailAddress::parse(submission.email()).ok()?;
        if window.is_zero() {
            return None;
        }
        let since = submission.received_at - chrono::Duration::from_std(window).ok()?;
        self.workflows
            .values()
            .map(|r| &r.workflow)
            .filter(|w| {
                w.prospect_email == submission.email()
                    && w.created_at >= since
                    && (w.status.is_replying()
                        || (w.status.has_reply()
                            && self.drafts.iter().any(|d| {
                                d.workflow_id == w.id && d.status == DraftStatus::PendingApproval
                            })))
            })
            .min_by_key(|w| w.created_at)
            .map(|w| w.id)
    }

    /// A new `triggered` workflow for `submission`.
    pub(super) fn insert_workflow(&mut self, id: WorkflowId, submission: &FormSubmission) {
        let now = submission.received_at;
        self.workflows.insert(
            id,
            WorkflowRow {
                workflow: Workflow {
                    id,
                    submission_id: submission.id,
                    status: WorkflowStatus::Triggered,
                    prospect_email: submission.email().to_owned(),
                    attempts: 0,
                    created_at: now,
                    updated_at: now,
                    started_at: None,
                    completed_at: None,
                    next_retry_at: None,
                    last_error: None,
                },
                lease_owner: None,
                lease_until: None,
            },
        );
        self.order.push(id);
    }
}

impl MemoryStore {
    pub(super) fn lease_reply_now(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        self.with_row(id, |row| {
            if !row.workflow.status.has_reply() {
                return Ok(StartAttempt::NotRunnable(row.workflow.status));
            }
            if let (Some(holder), Some(until)) = (&row.lease_owner, row.lease_until)
                && holder != owner
                && until >= now
            {
                return Ok(StartAttempt::Busy { until });
            }
            take_lease(row, owner, now, lease);
            Ok(StartAttempt::Started(row.workflow.clone()))
        })
    }

    pub(super) fn release_lease_now(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with_row(id, |row| {
            check_owner(row, owner)?;
            release(row);
            row.workflow.updated_at = now;
            Ok(())
        })
    }

    pub(super) fn links_of(&self, id: WorkflowId) -> Vec<LinkedSubmission> {
        lock(&self.state)
            .links
            .iter()
            .filter(|l| l.workflow_id == id)
            .cloned()
            .collect()
    }

    pub(super) fn apply_link_now(
        &self,
        submission: SubmissionId,
        note_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        let link = s
            .links
            .iter_mut()
            .find(|l| l.submission.id == submission)
            .ok_or_else(|| StoreError::not_found("linked submission", submission))?;
        link.applied_at.get_or_insert(now);
        link.note_id = Some(note_id.to_owned());
        Ok(())
    }

    /// The link becomes a workflow of its own (the caller enqueues it).
    pub(super) fn unlink_now(&self, submission: SubmissionId) -> Result<WorkflowId, StoreError> {
        let mut s = lock(&self.state);
        let i = s
            .links
            .iter()
            .position(|l| l.submission.id == submission)
            .ok_or_else(|| StoreError::not_found("linked submission", submission))?;
        let link = s.links.remove(i);
        let id = WorkflowId::new();
        s.insert_workflow(id, &link.submission);
        if let Some(a) = s.by_form_id.get_mut(&link.submission.form_submission_id) {
            a.workflow_id = id;
            a.linked = false;
        }
        Ok(id)
    }

    pub(super) fn revise_draft_now(
        &self,
        id: DraftId,
        [subject, body_text, body_html]: [&str; 3],
        expected: DraftStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut s = lock(&self.state);
        let draft = s
            .drafts
            .iter_mut()
            .find(|d| d.id == id)
            .ok_or_else(|| StoreError::not_found("draft", id))?;
        if draft.status != expected {
            return Ok(false);
        }
        subject.clone_into(&mut draft.subject);
        body_text.clone_into(&mut draft.body_text);
        body_html.clone_into(&mut draft.body_html);
        draft.updated_at = now;
        Ok(true)
    }

    pub(super) fn revise_task_now(
        &self,
        id: TaskId,
        update: &TaskUpdate,
    ) -> Result<(), StoreError> {
        let mut s = lock(&self.state);
        let task = s
            .tasks
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| StoreError::not_found("task", id))?;
        update.apply_to(&mut task.body, &mut task.priority);
        Ok(())
    }
}
