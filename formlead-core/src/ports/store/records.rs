//! What the store hands back: ids of an accepted submission, list filters
//! and pages, an attempt's start, a prospect's history, the counters.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    AuditEvent, CrmTask, DraftEmail, FormSubmission, StepName, StepRecord, SubmissionId, Workflow,
    WorkflowError, WorkflowId, WorkflowStatus,
};

/// The ids of an accepted submission and its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The stored submission's id.
    pub submission_id: SubmissionId,
    /// Its workflow's id: its own, or the earlier reply it joined.
    pub workflow_id: WorkflowId,
    /// The submission joined an earlier workflow of the same prospect
    /// whose reply was not sent or approved yet (within the merge window)
    /// instead of starting one.
    #[serde(default)]
    pub linked: bool,
}

/// A lead's arrival and, once drafted, its draft's creation.
pub type LeadTimes = (DateTime<Utc>, Option<DateTime<Utc>>);

/// How long after a prospect's first submission a repeat one joins its
/// reply (while that reply is not sent or approved) by default.
pub const DEFAULT_MERGE_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A repeat submission that joined an earlier workflow's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedSubmission {
    /// The submission.
    pub submission: FormSubmission,
    /// The workflow whose reply answers it.
    pub workflow_id: WorkflowId,
    /// When it was linked.
    pub linked_at: DateTime<Utc>,
    /// When the reply was updated to answer it (`None`: not yet).
    pub applied_at: Option<DateTime<Utc>>,
    /// The CRM note logged for it, once applied.
    pub note_id: Option<String>,
}

/// Filter and page of the workflow list. `limit` is clamped by stores to
/// [`WorkflowFilter::MAX_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowFilter {
    /// Only workflows in this status.
    pub status: Option<WorkflowStatus>,
    /// Case-insensitive substring of the prospect email.
    pub email: Option<String>,
    /// Most rows returned (at most [`Self::MAX_LIMIT`]).
    pub limit: u32,
    /// Rows skipped first.
    pub offset: u32,
    /// Only workflows with a failed attempt at a step since a time (what
    /// a row of the dashboard's failures by step lists).
    #[serde(default)]
    pub failed_at: Option<FailedAt>,
}

/// A step and the time since which a workflow failed there
/// ([`WorkflowFilter::failed_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAt {
    /// The step that failed.
    pub step: StepName,
    /// Failures before this time do not count.
    pub since: DateTime<Utc>,
}

impl WorkflowFilter {
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 50;

    /// `limit` clamped into `1..=MAX_LIMIT`.
    pub fn clamped_limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }

    /// The lower-cased email needle, if one is set and non-empty.
    pub fn email_needle(&self) -> Option<String> {
        self.email
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    }
}

impl Default for WorkflowFilter {
    fn default() -> Self {
        Self {
            status: None,
            email: None,
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
            failed_at: None,
        }
    }
}

/// One page of a list, with the total number of matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows in all pages.
    pub total: u64,
}

/// Result of trying to start an attempt of a workflow: what the caller got
/// with the lease (`T`), or why there is no lease to take.
#[derive(Debug, Clone, PartialEq)]
pub enum StartAttempt<T = Workflow> {
    /// The caller holds the lease; `attempts` already counts this attempt.
    Started(T),
    /// Another worker holds the lease until `until`.
    Busy {
        /// When its lease ends.
        until: DateTime<Utc>,
    },
    /// The workflow waits for a retry due at `at` (`next_retry_at`); the
    /// job came early.
    NotDue {
        /// When it is due.
        at: DateTime<Utc>,
    },

    /// Nothing to do: the workflow is completed, awaiting approval or failed.
    NotRunnable(WorkflowStatus),
}

impl<T> StartAttempt<T> {
    /// The same outcome with what came with the lease turned into `U`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> StartAttempt<U> {
        match self {
            Self::Started(t) => StartAttempt::Started(f(t)),
            Self::Busy { until } => StartAttempt::Busy { until },
            Self::NotDue { at } => StartAttempt::NotDue { at },
            Self::NotRunnable(status) => StartAttempt::NotRunnable(status),
        }
    }
}

/// What an attempt starts from: the leased workflow and, when the store
/// read them with the lease, its submission and checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    /// The workflow, leased to the caller.
    pub workflow: Workflow,
    /// Read in the same unit as the lease; `None` leaves the reads to the
    /// run (and a failed read to the run's retry).
    pub inputs: Option<RunInputs>,
}

impl From<Workflow> for RunStart {
    /// The leased workflow alone: the run reads its inputs itself.
    fn from(workflow: Workflow) -> Self {
        Self {
            workflow,
            inputs: None,
        }
    }
}

/// A run's inputs from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInputs {
    /// The workflow's submission (`None`: missing, a permanent failure).
    pub submission: Option<FormSubmission>,
    /// Checkpoints of earlier attempts, in step order.
    pub steps: Vec<StepRecord>,
    /// Whether another workflow has the same `prospect_email` (`false`: a
    /// new prospect, whose history needs no read).
    pub earlier_workflows: bool,
}

/// Earlier activity for an email (LongMemory's input).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProspectHistory {
    /// Earlier submissions, newest first.
    pub submissions: Vec<PastSubmission>,
    /// Drafts written for earlier workflows, newest first.
    pub drafts: Vec<DraftEmail>,
    /// Tasks created for earlier workflows, newest first.
    pub tasks: Vec<CrmTask>,
}

/// An earlier submission, in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastSubmission {
    /// Its workflow.
    pub workflow_id: WorkflowId,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// What the prospect wrote.
    pub message: Option<String>,
}

/// Counters for the dashboard tiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStats {
    /// Workflows created since the `since` argument.
    pub created_since: u64,
    /// Count per status (all time).
    pub by_status: Vec<(WorkflowStatus, u64)>,
    /// Drafts waiting for approval.
    pub drafts_pending: u64,
    /// Milliseconds from submission to draft for recent drafts (unsorted).
    pub draft_latencies_ms: Vec<i64>,
    /// Failed attempts since `since`, per step, in step order (failures
    /// outside a step last).
    #[serde(default)]
    pub failures_by_step: Vec<StepFailures>,
}

/// Failed attempts of one step over a period (table `workflow_errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFailures {
    /// The step; `None` for failures outside a step (the run's set-up).
    pub step: Option<StepName>,
    /// Attempts that failed and were retried later.
    pub retried: u64,
    /// Attempts that ended their workflow (dead letters).
    pub dead_lettered: u64,
    /// The latest failure.
    pub last_at: DateTime<Utc>,
}

impl StepFailures {
    /// Sorts `failures` by step order, failures outside a step last.
    pub fn sort(failures: &mut [Self]) {
        failures.sort_by_key(|f| f.step.map_or(u8::MAX, StepName::number));
    }

    /// Counts `errors` per step, sorted as [`Self::sort`] does: what a
    /// store that keeps its errors in memory returns.
    pub fn tally<'a>(errors: impl IntoIterator<Item = &'a WorkflowError>) -> Vec<Self> {
        let mut out: Vec<Self> = Vec::new();
        for e in errors {
            let i = match out.iter().position(|f| f.step == e.step) {
                Some(i) => i,
                None => {
                    out.push(Self {
                        step: e.step,
                        retried: 0,
                        dead_lettered: 0,
                        last_at: e.created_at,
                    });
                    out.len() - 1
                }
            };
            let f = &mut out[i];
            if e.retry_at.is_some() {
                f.retried += 1;
            } else {
                f.dead_lettered += 1;
            }
            f.last_at = f.last_at.max(e.created_at);
        }
        Self::sort(&mut out);
        out
    }
}

/// One of the records a workflow run writes, handed to the store together
/// with others ([`Store::write_all`](super::Store::write_all)).
#[derive(Debug, Clone)]
pub enum StoreWrite {
    /// A step's checkpoint (replaces the step's earlier one).
    Step(StepRecord),
    /// An audit event.
    Audit(AuditEvent),
    /// A new draft.
    Draft(DraftEmail),
    /// A new CRM task.
    Task(CrmTask),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ErrorId, ErrorKind};

    fn error(step: Option<StepName>, retried: bool, secs: i64) -> WorkflowError {
        let at = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(secs);
        WorkflowError {
            id: ErrorId::new(),
            workflow_id: WorkflowId::new(),
            attempt: 1,
            step,
            kind: if retried {
                ErrorKind::Transient
            } else {
                ErrorKind::Permanent
            },
            message: "boom".into(),
            retry_at: retried.then_some(at),
            created_at: at,
        }
    }

    #[test]
    fn failures_are_tallied_per_step_in_step_order() {
        let errors = [
            error(None, false, 1),
            error(Some(StepName::CreateCrmTask), true, 5),
            error(Some(StepName::UpsertContact), true, 2),
            error(Some(StepName::CreateCrmTask), false, 9),
            error(Some(StepName::CreateCrmTask), true, 7),
        ];
        let t = |s| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(s);
        assert_eq!(
            StepFailures::tally(&errors),
            vec![
                StepFailures {
                    step: Some(StepName::UpsertContact),
                    retried: 1,
                    dead_lettered: 0,
                    last_at: t(2)
                },
                StepFailures {
                    step: Some(StepName::CreateCrmTask),
                    retried: 2,
                    dead_lettered: 1,
                    last_at: t(9)
                },
                StepFailures {
                    step: None,
                    retried: 0,
                    dead_lettered: 1,
                    last_at: t(1)
                },
            ]
        );
        assert!(StepFailures::tally(&[]).is_empty());
    }
}
