//! LongMemory: what we already know about this person.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{CrmNote, ProspectHistory};

/// Longest note excerpt kept (characters).
const NOTE_EXCERPT_CHARS: usize = 200;

/// LongMemory's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryRecall {
    /// They contacted us before (earlier submissions or CRM notes).
    pub returning: bool,
    /// Earlier submissions from this email address.
    pub prior_submissions: usize,
    /// When the most recent of them arrived.
    pub last_submission_at: Option<DateTime<Utc>>,
    /// Subjects of drafts written for earlier submissions, newest first.
    pub prior_draft_subjects: Vec<String>,
    /// Follow-up tasks still due in the future.
    pub pending_tasks: usize,
    /// Excerpts of the latest CRM notes, newest first.
    pub notes: Vec<String>,
    /// One line for the writer and the dashboard.
    pub summary: String,
}

/// Combines the store's history with the CRM's notes.
#[derive(Debug, Clone, Copy, Default)]
pub struct LongMemory;

impl LongMemory {
    /// What is worth remembering of `history` and the CRM's `notes`.
    pub fn recall(
        &self,
        history: &ProspectHistory,
        notes: &[CrmNote],
        now: DateTime<Utc>,
    ) -> MemoryRecall {
        let prior_submissions = history.submissions.len();
        let last_submission_at = history.submissions.iter().map(|s| s.received_at).max();
        let prior_draft_subjects: Vec<String> = history
            .drafts
            .iter()
            .map(|d| d.subject.clone())
            .take(5)
            .collect();
        let pending_tasks = history.tasks.iter().filter(|t| t.due_at > now).count();
        let mut sorted_notes: Vec<&CrmNote> = notes.iter().collect();
        sorted_notes.sort_by_key(|n| std::cmp::Reverse(n.created_at));
        let notes: Vec<String> = sorted_notes
            .iter()
            .take(3)
            .map(|n| excerpt(&n.body, NOTE_EXCERPT_CHARS))
            .collect();
        let returning = prior_submissions > 0 || !notes.is_empty();

        let summary = if returning {
            let mut parts = Vec::new();
            if prior_submissions > 0 {
                parts.push(format!(
                    "{prior_submissions} earlier submission{}{}",
                    if prior_submissions == 1 { "" } else { "s" },
                    last_submission_at
                        .map(|t| format!(" (latest {})", t.format("%Y-%m-%d")))
                        .unwrap_or_default()
                ));
            }
            if !prior_draft_subjects.is_empty() {
                parts.push(format!("{} earlier draft(s)", prior_draft_subjects.len()));
            }
            if pending_tasks > 0 {
                parts.push(format!("{pending_tasks} open follow-up task(s)"));
            }
            if !notes.is_empty() {
                parts.push(format!("{} CRM note(s)", notes.len()));
            }
            format!("returning prospect: {}", parts.join(", "))
        } else {
            "first contact".to_owned()
        };

        MemoryRecall {
            returning,
            prior_submissions,
            last_submission_at,
            prior_draft_subjects,
            pending_tasks,
            notes,
            summary,
        }
    }
}

fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::WorkflowId;
    use crate::ports::PastSubmission;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    #[test]
    fn first_contact() {
        let r = LongMemory.recall(&ProspectHistory::default(), &[], now());
        assert!(!r.returning);
        assert_eq!(r.summary, "first contact");
    }

    #[test]
    fn returning_prospect_with_notes() {
        let history = ProspectHistory {
            submissions: vec![
                PastSubmission {
                    workflow_id: WorkflowId::new(),
                    received_at: now() - Duration::days(40),
                    message: None,
                },
                PastSubmission {
                    workflow_id: WorkflowId::new(),
                    received_at: now() - Duration::days(3),
                    message: Some("hi".into()),
                },
            ],
            drafts: vec![],
            tasks: vec![],
        };
        let notes = vec![
            CrmNote {
                id: "1".into(),
                body: "old   note".into(),
                created_at: now() - Duration::days(9),
            },
            CrmNote {
                id: "2".into(),
                body: "x".repeat(300),
                created_at: now() - Duration::days(1),
            },
        ];
        let r = LongMemory.recall(&history, &notes, now());
        assert!(r.returning);
        assert_eq!(r.prior_submissions, 2);
        assert_eq!(r.last_submission_at, Some(now() - Duration::days(3)));
        assert_eq!(r.notes.len(), 2);
        assert_eq!(r.notes[0].chars().count(), NOTE_EXCERPT_CHARS + 1);
        assert_eq!(r.notes[1], "old note");
        assert!(
            r.summary
                .contains("2 earlier submissions (latest 2026-11-22)")
        );
        assert!(r.summary.contains("2 CRM note(s)"));
    }
}
