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

    /// Its reply is still being written: a repeat submission from the same
    /// prospect joins it rather than starting a second reply. (A finished
    /// workflow's reply is joined while its draft is `pending_approval`.)
    pub fn is_replying(self) -> bool {
        matches!(self, Self::Triggered | Self::Processing | Self::Retrying)
    }

    /// A finished run whose reply may still be updated (its draft waits).
    pub fn has_reply(self) -> bool {
        matches!(self, Self::AwaitingApproval | Self::Completed)
    }
}

str_enum! {
    /// The 13 steps of contract §1, in order.
    pub enum StepName: "step" {
        /// 1. Check the submission and build the prospect.
        ValidateSubmission => "validate_submission",
        /// 2. Find or create the CRM contact.
        UpsertContact => "upsert_contact",
        /// 3. Read earlier mail threads with the prospect.
        ReadThreads => "read_threads",
        /// 4. Recall earlier submissions and CRM notes.
        RecallHistory => "recall_history",
        /// 5. Find assets that fit the message.
        FindAssets => "find_assets",
        /// 6. Find free meeting slots.
        FindMeetingSlots => "find_meeting_slots",
        /// 7. Decide what the reply should achieve.
        PlanNextStep => "plan_next_step",
        /// 8. Write the reply.
        WriteDraft => "write_draft",
        /// 9. Decide whether it may be sent.
        CheckSendPolicy => "check_send_policy",
        /// 10. Create the mailbox draft.
        CreateMailDraft => "create_mail_draft",
        /// 11. Create the follow-up task.
        CreateCrmTask => "create_crm_task",
        /// 12. Log a note on the contact.
        LogCrmNote => "log_crm_note",
        /// 13. Send where allowed, and settle the status.
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
        /// Started, not finished.
        Running => "running",
        /// Finished with its result.
        Completed => "completed",
        /// Failed; the attempt ended.
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
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The step.
    pub step: StepName,
    /// How it went.
    pub status: StepStatus,
    /// The workflow attempt that last ran this step.
    pub attempt: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// One human-readable line for the dashboard timeline.
    pub summary: Option<String>,
    /// The step's result, which a resumed run reads back instead of redoing
    /// the step (external ids of side effects live here).
    pub output: Option<serde_json::Value>,
    /// The error, if it failed or degraded.
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
    /// The workflow's id.
    pub id: WorkflowId,
    /// The submission it answers.
    pub submission_id: SubmissionId,
    /// Where it stands.
    pub status: WorkflowStatus,
    /// Normalised (lower-cased, trimmed) email as submitted.
    pub prospect_email: String,
    /// Attempts started so far (the first run is attempt 1).
    pub attempts: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached `completed`, `awaiting_approval` or `failed`.
    pub completed_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (status `retrying`).
    pub next_retry_at: Option<DateTime<Utc>>,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// The row shown in lists: `{"id","status","prospect_email","started_at","completed_at"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSummary {
    /// The workflow's id.
    pub id: WorkflowId,
    /// Where it stands.
    pub status: WorkflowStatus,
    /// The prospect's email address.
    pub prospect_email: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it completed.
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
