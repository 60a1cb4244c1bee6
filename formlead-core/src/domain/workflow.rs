//! A workflow (one per submission), its status, its 13 steps and their records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{SubmissionId, WorkflowId};
use super::str_enum::str_enum;

str_enum! {
    /// Workflow status (contract §1).
    pub enum WorkflowStatus: "workflow status" {
        /// Accepted; its first job is queued.
        Triggered => "triggered",
        /// A worker is running its steps.
        Processing => "processing",
        /// Done: draft and task exist (and the mail went out where allowed).
        Completed => "completed",
        /// Done, but the draft waits for an operator's approval to be sent.
        AwaitingApproval => "awaiting_approval",
        /// A transient failure; the next attempt is scheduled (`next_retry_at`).
        Retrying => "retrying",
        /// Dead-lettered: a permanent error or retries exhausted.
        Failed => "failed",
    }
}

impl WorkflowStatus {
    /// No worker will touch the workflow again without an operator.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::AwaitingApproval | Self::Failed
        )
    }
}

str_enum! {
    /// The 13 steps of contract §1, in order.
    pub enum StepName: "step" {
        ValidateSubmission => "validate_submission",
        UpsertContact => "upsert_contact",
        ReadThreads => "read_threads",
        RecallHistory => "recall_history",
        FindAssets => "find_assets",
        FindMeetingSlots => "find_meeting_slots",
        PlanNextStep => "plan_next_step",
        WriteDraft => "write_draft",
        CheckSendPolicy => "check_send_policy",
        CreateMailDraft => "create_mail_draft",
        CreateCrmTask => "create_crm_task",
        LogCrmNote => "log_crm_note",
        Finalize => "finalize",
    }
}

impl StepName {
    /// 1-based position in the workflow.
    pub fn number(self) -> u8 {
        // ALL is declared in workflow order.
        Self::ALL
            .iter()
            .position(|s| *s == self)
            .map_or(0, |i| i as u8 + 1)
    }

    /// Steps 3–6 only read and run concurrently.
    pub fn is_concurrent_read(self) -> bool {
        matches!(
            self,
            Self::ReadThreads | Self::RecallHistory | Self::FindAssets | Self::FindMeetingSlots
        )
    }

    /// Steps with a side effect on an external system.
    pub fn has_side_effect(self) -> bool {
        matches!(
            self,
            Self::UpsertContact
                | Self::CreateMailDraft
                | Self::CreateCrmTask
                | Self::LogCrmNote
                | Self::Finalize
        )
    }
}

str_enum! {
    /// Outcome of one step run.
    pub enum StepStatus: "step status" {
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        /// An enrichment step (3–6) that failed; the workflow went on
        /// without its context.
        Degraded => "degraded",
    }
}

impl StepStatus {
    /// Finished for good: a resumed run reads its output back.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Completed | Self::Degraded)
    }
}

/// The checkpoint of one step of one workflow (latest attempt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub workflow_id: WorkflowId,
    pub step: StepName,
    pub status: StepStatus,
    /// The workflow attempt that last ran this step.
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// One human-readable line for the dashboard timeline.
    pub summary: Option<String>,
    /// The step's result, which a resumed run reads back instead of redoing
    /// the step (external ids of side effects live here).
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
}

impl StepRecord {
    /// Milliseconds the step took, once finished.
    pub fn duration_ms(&self) -> Option<i64> {
        self.finished_at
            .map(|f| (f - self.started_at).num_milliseconds().max(0))
    }
}

/// One workflow: the processing of one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: WorkflowId,
    pub submission_id: SubmissionId,
    pub status: WorkflowStatus,
    /// Normalised (lower-cased, trimmed) email as submitted.
    pub prospect_email: String,
    /// Attempts started so far (the first run is attempt 1).
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached `completed`, `awaiting_approval` or `failed`.
    pub completed_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (status `retrying`).
    pub next_retry_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The row shown in lists: `{"id","status","prospect_email","started_at","completed_at"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSummary {
    pub id: WorkflowId,
    pub status: WorkflowStatus,
    pub prospect_email: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&Workflow> for WorkflowSummary {
    fn from(w: &Workflow) -> Self {
        Self {
            id: w.id,
            status: w.status,
            prospect_email: w.prospect_email.clone(),
            created_at: w.created_at,
            started_at: w.started_at,
            completed_at: w.completed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_steps_in_contract_order() {
        assert_eq!(StepName::ALL.len(), 13);
        assert_eq!(StepName::ValidateSubmission.number(), 1);
        assert_eq!(StepName::FindMeetingSlots.number(), 6);
        assert_eq!(StepName::Finalize.number(), 13);
        let concurrent: Vec<u8> = StepName::ALL
            .iter()
            .filter(|s| s.is_concurrent_read())
            .map(|s| s.number())
            .collect();
        assert_eq!(concurrent, vec![3, 4, 5, 6]);
    }

    #[test]
    fn statuses_round_trip() {
        for s in WorkflowStatus::ALL {
            assert_eq!(WorkflowStatus::parse(s.as_str()).unwrap(), *s);
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!(WorkflowStatus::parse("done").is_err());
        assert!(StepName::parse("write_draft").is_ok());
    }
}
