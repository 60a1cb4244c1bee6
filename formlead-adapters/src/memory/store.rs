// Longer than 400 lines: one `Store` impl over one mutex-guarded state, each method a short transaction on it.
//! `MemoryStore`: the whole [`Store`] in memory. For tests, examples and
//! embedding where durability does not matter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::sandbox::faults::{Faults, lock};
use formlead_core::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, FormSubmission, StepName, StepRecord,
    SubmissionId, TaskId, UNIDENTIFIED_PREFIX, Workflow, WorkflowError, WorkflowId, WorkflowStatus,
    WorkflowSummary,
};
use formlead_core::ports::{
    Accepted, Conflict, DEFAULT_MERGE_WINDOW, LeadTimes, LinkedSubmission, Page, PastSubmission,
    ProspectHistory, Queue, StartAttempt, StepFailures, Store, StoreError, StoreWrite, TaskUpdate,
    WorkflowFilter, WorkflowJob, WorkflowStats,
};

#[derive(Debug, Clone)]
pub(super) struct WorkflowRow {
    pub(super) workflow: Workflow,
    pub(super) lease_owner: Option<String>,
    pub(super) lease_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    submissions: HashMap<SubmissionId, FormSubmission>,
    pub(super) by_form_id: HashMap<String, Accepted>,
    pub(super) workflows: HashMap<WorkflowId, WorkflowRow>,
    /// Workflow ids in creation order.
    pub(super) order: Vec<WorkflowId>,
    steps: HashMap<(WorkflowId, StepName), StepRecord>,
    pub(super) drafts: Vec<DraftEmail>,
    pub(super) tasks: Vec<CrmTask>,
    errors: Vec<WorkflowError>,
    audit: Vec<AuditEvent>,
    /// Repeat submissions linked to an earlier workflow, in link order.
    pub(super) links: Vec<LinkedSubmission>,
    /// Drafts found cold, and when.
    pub(super) cold: HashMap<DraftId, DateTime<Utc>>,
}

/// In-memory [`Store`]. Jobs go to the given [`Queue`]. Fault injection:
/// operations are named after the trait methods; `save_step:<step>:<status>`
/// targets one checkpoint, and `accept_submission:after_insert` fails an
/// accept after its rows were written (they are rolled back).
pub struct MemoryStore {
    pub(super) state: Mutex<State>,
    queue: Arc<dyn Queue>,
    faults: Faults,
    merge_window: Duration,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

fn not_found(what: &'static str, id: impl ToString) -> StoreError {
    StoreError::not_found(what, id)
}

impl MemoryStore {
    /// An empty store; accepted submissions' jobs go to `queue`.
    pub fn new(queue: Arc<dyn Queue>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            queue,
            faults: Faults::default(),
            merge_window: DEFAULT_MERGE_WINDOW,
        }
    }

    /// How long a prospect's repeat submissions join their unsent reply
    /// (zero: never).
    #[must_use]
    pub fn with_merge_window(mut self, window: Duration) -> Self {
        self.merge_window = window;
        self
    }

    /// Fault injection and call counts.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Number of stored submissions (for tests).
    pub fn submission_count(&self) -> usize {
        lock(&self.state).submissions.len()
    }

    /// All drafts (for tests).
    pub fn all_drafts(&self) -> Vec<DraftEmail> {
        lock(&self.state).drafts.clone()
    }

    /// All tasks (for tests).
    pub fn all_tasks(&self) -> Vec<CrmTask> {
        lock(&self.state).tasks.clone()
    }

    pub(super) async fn enqueue(&self, id: WorkflowId, delay: Duration) -> Result<(), StoreError> {
        self.queue
            .enqueue(WorkflowJob { workflow_id: id }, delay)
            .await
            .map_err(|e| StoreError::transient(format!("enqueue failed: {e}")))
    }

    pub(super) fn with_row<T>(
        &self,
        id: WorkflowId,
        f: impl FnOnce(&mut WorkflowRow) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut s = lock(&self.state);
        let row = s
            .workflows
            .get_mut(&id)
            .ok_or_else(|| not_found("workflow", id))?;
        f(row)
    }
}

impl MemoryStore {
    /// `write`, as its own method does it.
    async fn write_one(&self, write: StoreWrite) -> Result<(), StoreError> {
        self.write_faults(&write).await?;
        let mut s = lock(&self.state);
        s.check(&write)?;
        s.apply(write);
        Ok(())
    }

    /// The fault points of `write`: those of its own method.
    async fn write_faults(&self, write: &StoreWrite) -> Result<(), StoreError> {
        let f = &self.faults;
        match write {
            StoreWrite::Step(r) => {
                f.before::<StoreError>("save_step").await?;
                let op = format!("save_step:{}:{}", r.step, r.status);
                f.before::<StoreError>(&op).await?;
            }
            StoreWrite::Audit(_) => {
                f.before::<StoreError>("record_audit").await?;
            }
            StoreWrite::Draft(_) => {
                f.before::<StoreError>("insert_draft").await?;
            }
            StoreWrite::Task(_) => {
                f.before::<StoreError>("insert_task").await?;
            }
        }
        Ok(())
    }
}

impl State {
    /// Whether `write` may be applied: its workflow exists, a draft is new.
    fn check(&self, write: &StoreWrite) -> Result<(), StoreError> {
        let workflow = match write {
            StoreWrite::Step(r) => Some(r.workflow_id),
            StoreWrite::Draft(d) => Some(d.workflow_id),
            StoreWrite::Task(t) => Some(t.workflow_id),
            StoreWrite::Audit(_) => None,
        };
        if let Some(id) = workflow.filter(|id| !self.workflows.contains_key(id)) {
            return Err(not_found("workflow", id));
        }
        if let StoreWrite::Draft(d) = write
            && self.drafts.iter().any(|x| x.id == d.id)
        {
            return Err(StoreError::Conflict(Conflict::DraftExists(d.id)));
        }
        Ok(())
    }

    fn apply(&mut self, write: StoreWrite) {
        match write {
            StoreWrite::Step(r) => {
                self.steps.insert((r.workflow_id, r.step), r);
            }
            StoreWrite::Audit(e) => self.audit.push(e),
            StoreWrite::Draft(d) => self.drafts.push(d),
            StoreWrite::Task(t) => self.tasks.push(t),
        }
    }
}

pub(super) fn check_owner(row: &WorkflowRow, owner: &str) -> Result<(), StoreError> {
    if row.lease_owner.as_deref() == Some(owner) {
        Ok(())
    } else {
        Err(StoreError::LeaseLost(row.workflow.id))
    }
}

/// `owner` holds `row`'s lease until `now + lease`.
pub(super) fn take_lease(row: &mut WorkflowRow, owner: &str, now: DateTime<Utc>, lease: Duration) {
    row.lease_owner = Some(owner.to_owned());
    row.lease_until =
        Some(now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX));
}

pub(super) fn release(row: &mut WorkflowRow) {
    row.lease_owner = None;
    row.lease_until = None;
}

#[async_trait]
impl Store for MemoryStore {
    async fn accept_submission(&self, submission: &FormSubmission) -> Result<Accepted, StoreError> {
        self.faults
            .before::<StoreError>("accept_submission")
            .await?;
        let accepted = {
            let mut s = lock(&self.state);
            if let Some(existing) = s.by_form_id.get(&submission.form_submission_id) {
                return Err(StoreError::Duplicate {
                    existing: *existing,
                });
            }
            if let Some(earlier) = s.open_reply(submission, self.merge_window) {
                let accepted = Accepted {
                    submission_id: submission.id,
                    workflow_id: earlier,
                    linked: true,
                };
                s.submissions.insert(submission.id, submission.clone());
                s.by_form_id
                    .insert(submission.form_submission_id.clone(), accepted);
                s.links.push(LinkedSubmission {
                    submission: submission.clone(),
                    workflow_id: earlier,
                    linked_at: submission.received_at,
                    applied_at: None,
                    note_id: None,
                });
                accepted
            } else {
                let workflow_id = WorkflowId::new();
                let accepted = Accepted {
                    submission_id: submission.id,
                    workflow_id,
                    linked: false,
                };
                s.submissions.insert(submission.id, submission.clone());
                s.by_form_id
                    .insert(submission.form_submission_id.clone(), accepted);
                s.insert_workflow(workflow_id, submission);
                accepted
            }
        };
        let rollback = |this: &Self| {
            let mut s = lock(&this.state);
            s.submissions.remove(&accepted.submission_id);
            s.by_form_id.remove(&submission.form_submission_id);
            if accepted.linked {
                s.links
                    .retain(|l| l.submission.id != accepted.submission_id);
            } else {
                s.workflows.remove(&accepted.workflow_id);
                s.order.retain(|id| *id != accepted.workflow_id);
            }
        };
        if let Err(e) = self
            .faults
            .before::<StoreError>("accept_submission:after_insert")
            .await
        {
            rollback(self);
            return Err(e);
        }
        if let Err(e) = self.enqueue(accepted.workflow_id, Duration::ZERO).await {
            rollback(self);
            return Err(e);
        }
        Ok(accepted)
    }

    async fn find_unidentified(
        &self,
        form_id: &str,
        email: &str,
        submitted_at: DateTime<Utc>,
    ) -> Result<Option<Accepted>, StoreError> {
        let s = lock(&self.state);
        Ok(s.submissions
            .values()
            .find(|sub| {
                sub.form_submission_id.starts_with(UNIDENTIFIED_PREFIX)
                    && sub.email() == email
                    && sub.submitted_at == Some(submitted_at)
                    && sub.form_id.as_deref().is_none_or(|f| f == form_id)
            })
            .and_then(|sub| s.by_form_id.get(&sub.form_submission_id).copied()))
    }

    async fn find_submission(
        &self,
        form_submission_id: &str,
    ) -> Result<Option<Accepted>, StoreError> {
        Ok(lock(&self.state)
            .by_form_id
            .get(form_submission_id)
            .copied())
    }

    async fn get_submission(&self, id: SubmissionId) -> Result<Option<FormSubmission>, StoreError> {
        self.faults.before::<StoreError>("get_submission").await?;
        Ok(lock(&self.state).submissions.get(&id).cloned())
    }

    async fn get_workflow(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError> {
        Ok(lock(&self.state)
            .workflows
            .get(&id)
            .map(|r| r.workflow.clone()))
    }

    async fn list_workflows(
        &self,
        filter: &WorkflowFilter,
    ) -> Result<Page<WorkflowSummary>, StoreError> {
        let s = lock(&self.state);
        let needle = filter.email_needle();
        let matching: Vec<&Workflow> = s
            .order
            .iter()
            .rev()
            .filter_map(|id| s.workflows.get(id).map(|r| &r.workflow))
            .filter(|w| filter.status.is_none_or(|st| w.status == st))
            .filter(|w| {
                needle
                    .as_deref()
                    .is_none_or(|n| w.prospect_email.contains(n))
            })
            .filter(|w| {
                filter.failed_at.is_none_or(|f| {
                    s.errors.iter().any(|e| {
                        e.workflow_id == w.id && e.step == Some(f.step) && e.created_at >= f.since
                    })
                })
            })
            .collect();
        Ok(Page {
            total: matching.len() as u64,
            items: matching
                .into_iter()
                .skip(filter.offset as usize)
                .take(filter.clamped_limit() as usize)
                .map(WorkflowSummary::from)
                .collect(),
        })
    }

    async fn start_attempt(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        self.faults.before::<StoreError>("start_attempt").await?;
        self.with_row(id, |row| {
            let w = &mut row.workflow;
            if w.status.is_terminal() {
                return Ok(StartAttempt::NotRunnable(w.status));
            }
            if let Some(at) = w.next_retry_at.filter(|at| *at > now) {
                return Ok(StartAttempt::NotDue { at });
            }
            if let (Some(holder), Some(until)) = (&row.lease_owner, row.lease_until)
                && holder != owner
                && until > now
            {
                return Ok(StartAttempt::Busy { until });
            }
            w.status = WorkflowStatus::Processing;
            w.attempts += 1;
            w.started_at.get_or_insert(now);
            w.next_retry_at = None;
            w.updated_at = now;
            let started = w.clone();
            take_lease(row, owner, now, lease);
            Ok(StartAttempt::Started(started))
        })
    }

    async fn lease_reply(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        self.faults.before::<StoreError>("lease_reply").await?;
        self.lease_reply_now(id, owner, now, lease)
    }

    async fn release_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.release_lease_now(id, owner, now)
    }

    async fn linked_submissions(
        &self,
        id: WorkflowId,
    ) -> Result<Vec<LinkedSubmission>, StoreError> {
        self.faults
            .before::<StoreError>("linked_submissions")
            .await?;
        Ok(self.links_of(id))
    }

    async fn apply_link(
        &self,
        submission: SubmissionId,
        note_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.faults.before::<StoreError>("apply_link").await?;
        self.apply_link_now(submission, note_id, now)
    }

    async fn unlink_submission(
        &self,
        submission: SubmissionId,
        _now: DateTime<Utc>,
    ) -> Result<WorkflowId, StoreError> {
        let id = self.unlink_now(submission)?;
        self.enqueue(id, Duration::ZERO).await?;
        Ok(id)
    }

    async fn revise_draft(
        &self,
        id: DraftId,
        subject: &str,
        body_text: &str,
        body_html: &str,
        expected: DraftStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.faults.before::<StoreError>("revise_draft").await?;
        self.revise_draft_now(id, [subject, body_text, body_html], expected, now)
    }

    async fn cold_drafts(
        &self,
        since: DateTime<Utc>,
        limit: u32,
        unmarked_only: bool,
    ) -> Result<Vec<DraftEmail>, StoreError> {
        let s = lock(&self.state);
        let mut cold: Vec<DraftEmail> = s
            .drafts
            .iter()
            .filter(|d| {
                d.status == DraftStatus::PendingApproval
                    && d.created_at < since
                    && !(unmarked_only && s.cold.contains_key(&d.id))
                    && s.workflows
                        .get(&d.workflow_id)
                        .is_some_and(|w| w.workflow.status == WorkflowStatus::AwaitingApproval)
            })
            .cloned()
            .collect();
        cold.sort_by_key(|d| d.created_at);
        cold.truncate(limit as usize);
        Ok(cold)
    }

    async fn mark_cold(&self, id: DraftId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut s = lock(&self.state);
        if s.cold.contains_key(&id) {
            return Ok(false);
        }
        s.cold.insert(id, now);
        Ok(true)
    }

    async fn revise_task(&self, id: TaskId, update: &TaskUpdate) -> Result<(), StoreError> {
        self.revise_task_now(id, update)
    }

    async fn renew_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.faults.before::<StoreError>("renew_lease").await?;
        self.with_row(id, |row| {
            check_owner(row, owner)?;
            row.lease_until = Some(until);
            Ok(())
        })
    }

    async fn finish_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        status: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.faults.before::<StoreError>("finish_workflow").await?;
        self.with_row(id, |row| {
            check_owner(row, owner)?;
            row.workflow.status = status;
            row.workflow.completed_at = Some(now);
            row.workflow.updated_at = now;
            row.workflow.last_error = None;
            release(row);
            Ok(())
        })
    }

    async fn schedule_retry(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.faults.before::<StoreError>("schedule_retry").await?;
        self.with_row(id, |row| {
            check_owner(row, owner)?;
            row.workflow.status = WorkflowStatus::Retrying;
            row.workflow.next_retry_at = Some(retry_at);
            row.workflow.last_error = Some(error.message.clone());
            row.workflow.updated_at = error.created_at;
            release(row);
            Ok(())
        })?;
        lock(&self.state).errors.push(error.clone());
        let delay = (retry_at - error.created_at).to_std().unwrap_or_default();
        self.enqueue(id, delay).await
    }

    async fn fail_workflow(
        &self,
        id: WorkflowId,
        owner: &str,
        error: &WorkflowError,
    ) -> Result<(), StoreError> {
        self.faults.before::<StoreError>("fail_workflow").await?;
        self.with_row(id, |row| {
            check_owner(row, owner)?;
            row.workflow.status = WorkflowStatus::Failed;
            row.workflow.completed_at = Some(error.created_at);
            row.workflow.next_retry_at = None;
            row.workflow.last_error = Some(error.message.clone());
            row.workflow.updated_at = error.created_at;
            release(row);
            Ok(())
        })?;
        lock(&self.state).errors.push(error.clone());
        Ok(())
    }

    async fn requeue_workflow(
        &self,
        id: WorkflowId,
        now: DateTime<Utc>,
        run_at: DateTime<Utc>,
    ) -> Result<Workflow, StoreError> {
        let workflow = self.with_row(id, |row| {
            if row.workflow.status != WorkflowStatus::Failed {
                return Err(StoreError::Conflict(Conflict::NotRetryable {
                    id,
                    status: row.workflow.status,
                }));
            }
            row.workflow.status = WorkflowStatus::Retrying;
            row.workflow.attempts = 0;
            row.workflow.completed_at = None;
            row.workflow.next_retry_at = Some(run_at.max(now));
            row.workflow.updated_at = now;
            Ok(row.workflow.clone())
        })?;
        self.enqueue(id, (run_at - now).to_std().unwrap_or_default())
            .await?;
        Ok(workflow)
    }

    async fn recover_orphans(&self, now: DateTime<Utc>) -> Result<Vec<WorkflowId>, StoreError> {
        let ids: Vec<WorkflowId> = {
            let mut s = lock(&self.state);
            s.workflows
                .values_mut()
                .filter(|r| {
                    r.workflow.status == WorkflowStatus::Processing
                        && r.lease_until.is_some_and(|u| u < now)
                })
                .map(|r| {
                    r.workflow.status = WorkflowStatus::Retrying;
                    r.workflow.next_retry_at = Some(now);
                    r.workflow.updated_at = now;
                    release(r);
                    r.workflow.id
                })
                .collect()
        };
        for id in &ids {
            self.enqueue(*id, Duration::ZERO).await?;
        }
        Ok(ids)
    }

    async fn transition_workflow(
        &self,
        id: WorkflowId,
        from: WorkflowStatus,
        to: WorkflowStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.with_row(id, |row| {
            if row.workflow.status != from {
                return Ok(false);
            }
            row.workflow.status = to;
            row.workflow.updated_at = now;
            if to.is_terminal() {
                row.workflow.completed_at = Some(now);
            }
            Ok(true)
        })
    }

    async fn save_step(&self, record: &StepRecord) -> Result<(), StoreError> {
        self.write_one(StoreWrite::Step(record.clone())).await
    }

    async fn write_all(&self, writes: &[StoreWrite]) -> Result<(), StoreError> {
        for w in writes {
            self.write_faults(w).await?;
        }
        let mut s = lock(&self.state);
        for w in writes {
            s.check(w)?;
        }
        for w in writes {
            s.apply(w.clone());
        }
        Ok(())
    }

    async fn list_steps(&self, id: WorkflowId) -> Result<Vec<StepRecord>, StoreError> {
        let s = lock(&self.state);
        Ok(StepName::ALL
            .iter()
            .filter_map(|step| s.steps.get(&(id, *step)).cloned())
            .collect())
    }

    async fn insert_draft(&self, draft: &DraftEmail) -> Result<(), StoreError> {
        self.write_one(StoreWrite::Draft(draft.clone())).await
    }

    async fn update_draft(
        &self,
        draft: &DraftEmail,
        expected: DraftStatus,
    ) -> Result<bool, StoreError> {
        self.faults.before::<StoreError>("update_draft").await?;
        let mut s = lock(&self.state);
        let stored = s
            .drafts
            .iter_mut()
            .find(|d| d.id == draft.id)
            .ok_or_else(|| not_found("draft", draft.id))?;
        if stored.status != expected {
            return Ok(false);
        }
        *stored = draft.clone();
        Ok(true)
    }

    async fn get_draft(&self, id: DraftId) -> Result<Option<DraftEmail>, StoreError> {
        Ok(lock(&self.state)
            .drafts
            .iter()
            .find(|d| d.id == id)
            .cloned())
    }

    async fn drafts_for_workflow(&self, id: WorkflowId) -> Result<Vec<DraftEmail>, StoreError> {
        Ok(lock(&self.state)
            .drafts
            .iter()
            .filter(|d| d.workflow_id == id)
            .cloned()
            .collect())
    }

    async fn list_drafts(
        &self,
        status: Option<DraftStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<DraftEmail>, StoreError> {
        let s = lock(&self.state);
        let matching: Vec<&DraftEmail> = s
            .drafts
            .iter()
            .rev()
            .filter(|d| status.is_none_or(|st| d.status == st))
            .collect();
        Ok(Page {
            total: matching.len() as u64,
            items: matching
                .into_iter()
                .skip(offset as usize)
                .take(limit.clamp(1, WorkflowFilter::MAX_LIMIT) as usize)
                .cloned()
                .collect(),
        })
    }

    async fn insert_task(&self, task: &CrmTask) -> Result<(), StoreError> {
        self.write_one(StoreWrite::Task(task.clone())).await
    }

    async fn tasks_for_workflow(&self, id: WorkflowId) -> Result<Vec<CrmTask>, StoreError> {
        Ok(lock(&self.state)
            .tasks
            .iter()
            .filter(|t| t.workflow_id == id)
            .cloned()
            .collect())
    }

    async fn errors_for_workflow(&self, id: WorkflowId) -> Result<Vec<WorkflowError>, StoreError> {
        Ok(lock(&self.state)
            .errors
            .iter()
            .filter(|e| e.workflow_id == id)
            .cloned()
            .collect())
    }

    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.write_one(StoreWrite::Audit(event.clone())).await
    }

    async fn audit_for_workflow(&self, id: WorkflowId) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(lock(&self.state)
            .audit
            .iter()
            .filter(|e| e.workflow_id == Some(id))
            .cloned()
            .collect())
    }

    async fn prospect_history(
        &self,
        email: &str,
        exclude: WorkflowId,
    ) -> Result<ProspectHistory, StoreError> {
        self.faults.before::<StoreError>("prospect_history").await?;
        let s = lock(&self.state);
        let earlier: Vec<&Workflow> = s
            .order
            .iter()
            .rev()
            .filter(|id| **id != exclude)
            .filter_map(|id| s.workflows.get(id).map(|r| &r.workflow))
            .filter(|w| w.prospect_email == email)
            .collect();
        let ids: Vec<WorkflowId> = earlier.iter().map(|w| w.id).collect();
        Ok(ProspectHistory {
            submissions: earlier
                .iter()
                .filter_map(|w| {
                    s.submissions
                        .get(&w.submission_id)
                        .map(|sub| PastSubmission {
                            workflow_id: w.id,
                            received_at: sub.received_at,
                            message: sub.field("message").map(str::to_owned),
                        })
                })
                .collect(),
            drafts: s
                .drafts
                .iter()
                .rev()
                .filter(|d| ids.contains(&d.workflow_id))
                .cloned()
                .collect(),
            tasks: s
                .tasks
                .iter()
                .rev()
                .filter(|t| ids.contains(&t.workflow_id))
                .cloned()
                .collect(),
        })
    }

    async fn activity(&self, since: DateTime<Utc>) -> Result<Vec<LeadTimes>, StoreError> {
        let s = lock(&self.state);
        let mut out: Vec<LeadTimes> = s
            .workflows
            .values()
            .filter(|r| r.workflow.created_at >= since)
            .map(|r| {
                let drafted = s
                    .drafts
                    .iter()
                    .filter(|d| d.workflow_id == r.workflow.id)
                    .map(|d| d.created_at)
                    .min();
                (r.workflow.created_at, drafted)
            })
            .collect();
        out.sort_by_key(|l| std::cmp::Reverse(l.0));
        out.truncate(20_000);
        Ok(out)
    }

    async fn stats(&self, since: DateTime<Utc>) -> Result<WorkflowStats, StoreError> {
        let s = lock(&self.state);
        let mut by_status: HashMap<WorkflowStatus, u64> = HashMap::new();
        let mut created_since = 0;
        for row in s.workflows.values() {
            *by_status.entry(row.workflow.status).or_default() += 1;
            if row.workflow.created_at >= since {
                created_since += 1;
            }
        }
        let draft_latencies_ms = s
            .drafts
            .iter()
            .filter(|d| d.created_at >= since)
            .filter_map(|d| {
                s.workflows
                    .get(&d.workflow_id)
                    .map(|r| (d.created_at - r.workflow.created_at).num_milliseconds())
            })
            .collect();
        let mut by_status: Vec<(WorkflowStatus, u64)> = by_status.into_iter().collect();
        by_status.sort();
        Ok(WorkflowStats {
            created_since,
            by_status,
            drafts_pending: s
                .drafts
                .iter()
                .filter(|d| d.status == DraftStatus::PendingApproval)
                .count() as u64,
            draft_latencies_ms,
            failures_by_step: StepFailures::tally(
                s.errors.iter().filter(|e| e.created_at >= since),
            ),
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.faults.before::<StoreError>("ping").await?;
        Ok(())
    }
}
