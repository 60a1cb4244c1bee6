//! NextStepPlanner: what the reply should try to achieve, and why.

use serde::{Deserialize, Serialize};

use super::asset_hunter::RankedAsset;
use super::long_memory::MemoryRecall;
use super::meeting_slot::MeetingSlot;
use super::thread_reader::ThreadInsight;
use crate::domain::Prospect;

/// The action the reply proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextAction {
    /// Propose meeting slots.
    ProposeMeeting,
    /// Share a relevant asset.
    ShareAsset,
    /// Hand over to support (a support request, not a sales lead).
    RouteToSupport,
    /// Answer in the existing thread, which awaits our reply.
    FollowUpThread,
}

impl NextAction {
    /// The action's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProposeMeeting => "propose_meeting",
            Self::ShareAsset => "share_asset",
            Self::RouteToSupport => "route_to_support",
            Self::FollowUpThread => "follow_up_thread",
        }
    }
}

/// The plan, with its reason recorded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    /// What to do.
    pub action: NextAction,
    /// Why, in one sentence.
    pub reason: String,
    /// The best asset, if any (linked whatever the action).
    pub asset: Option<RankedAsset>,
    /// Slots to offer, if any.
    pub slots: Vec<MeetingSlot>,
}

const SUPPORT_WORDS: &[&str] = &[
    "bug",
    "broken",
    "error",
    "crash",
    "crashes",
    "outage",
    "login",
    "password",
    "refund",
    "invoice",
    "billing",
    "cancel",
    "cancellation",
    "unsubscribe",
    "support",
    "ticket",
    "issue",
    "not working",
    "doesn't work",
    "does not work",
    "can't log",
    "cannot log",
];

const MEETING_WORDS: &[&str] = &[
    "demo",
    "call",
    "meeting",
    "meet",
    "pricing",
    "price",
    "quote",
    "talk",
    "schedule",
    "chat",
    "trial",
    "proposal",
    "contract",
    "buy",
    "purchase",
    "sales",
    "walkthrough",
];

/// Rule-based planner. Rules, first match wins:
/// 1. support language → route to support;
/// 2. an earlier thread where the prospect wrote last → follow up there;
/// 3. meeting language and free slots → propose a meeting;
/// 4. a relevant asset → share it;
/// 5. free slots → propose a meeting;
/// 6. otherwise share the best asset we have or, failing that, propose a
///    meeting without slots (the reply asks for a time).
#[derive(Debug, Clone, Copy, Default)]
pub struct NextStepPlanner;

impl NextStepPlanner {
    /// The next step for `prospect`, given what the other agents found.
    pub fn plan(
        &self,
        prospect: &Prospect,
        threads: &ThreadInsight,
        memory: &MemoryRecall,
        assets: &[RankedAsset],
        slots: &[MeetingSlot],
    ) -> NextStep {
        let text = format!(
            " {} ",
            prospect
                .message
                .as_deref()
                .unwrap_or_default()
                .to_lowercase()
        );
        let hit = |words: &[&str]| -> Option<String> {
            words
                .iter()
                .find(|w| contains_word(&text, w))
                .map(|w| (*w).to_owned())
        };
        let asset = assets.first().cloned();
        let with = |action, reason: String| NextStep {
            action,
            reason,
            asset: asset.clone(),
            slots: if action == NextAction::RouteToSupport {
                vec![]
            } else {
                slots.to_vec()
            },
        };

        if let Some(word) = hit(SUPPORT_WORDS) {
            return with(
                NextAction::RouteToSupport,
                format!("message mentions \"{word}\": a support request, not a sales lead"),
            );
        }
        if let Some(thread) = threads.chosen.as_ref().filter(|t| t.awaiting_our_reply) {
            return with(
                NextAction::FollowUpThread,
                format!("they are waiting for our reply in \"{}\"", thread.subject),
            );
        }
        let meeting_word = hit(MEETING_WORDS);
        if let (Some(word), false) = (&meeting_word, slots.is_empty()) {
            return with(
                NextAction::ProposeMeeting,
                format!(
                    "message asks for \"{word}\" and {} free slot(s) exist",
                    slots.len()
                ),
            );
        }
        if let Some(a) = &asset {
            let returning = if memory.returning {
                " (returning prospect)"
            } else {
                ""
            };
            return with(
                NextAction::ShareAsset,
                format!(
                    "\"{}\" matches {}{returning}",
                    a.asset.title,
                    a.matched.join(", ")
                ),
            );
        }
        if !slots.is_empty() {
            return with(
                NextAction::ProposeMeeting,
                "no matching asset; a short call is the best next step".to_owned(),
            );
        }
        with(
            NextAction::ProposeMeeting,
            if meeting_word.is_some() {
                "message asks for a meeting but the calendar has no free slot: ask for a time"
                    .to_owned()
            } else {
                "no matching asset and no free slot: ask for a time".to_owned()
            },
        )
    }
}

/// `needle` occurs in `haystack` not as part of a longer word.
fn contains_word(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::thread_reader::ChosenThread;
    use crate::domain::EmailAddress;
    use crate::ports::Asset;
    use chrono::{TimeZone, Utc};

    fn prospect(msg: &str) -> Prospect {
        Prospect {
            email: EmailAddress::parse("a@b.co").unwrap(),
            first_name: Some("Ann".into()),
            last_name: None,
            company: None,
            message: Some(msg.into()),
        }
    }

    fn no_threads() -> ThreadInsight {
        ThreadInsight {
            thread_count: 0,
            chosen: None,
            summary: String::new(),
        }
    }

    fn slot() -> MeetingSlot {
        let s = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        MeetingSlot {
            start: s,
            end: s + chrono::Duration::minutes(30),
        }
    }

    fn ranked() -> RankedAsset {
        RankedAsset {
            asset: Asset {
                id: "1".into(),
                title: "Case study".into(),
                url: "https://x.io/c".into(),
                description: String::new(),
                tags: vec![],
            },
            score: 2,
            matched: vec!["onboarding".into()],
        }
    }

    #[test]
    fn support_requests_are_routed() {
        let plan = NextStepPlanner.plan(
            &prospect("My login is broken, please help"),
            &no_threads(),
            &MemoryRecall::default(),
            &[ranked()],
            &[slot()],
        );
        assert_eq!(plan.action, NextAction::RouteToSupport);
        assert!(plan.reason.contains("broken"), "{}", plan.reason);
        assert!(plan.slots.is_empty());
    }

    #[test]
    fn support_words_match_whole_words_only() {
        // "issues" in "tissues" / "errors" would be a false positive without word boundaries.
        let plan = NextStepPlanner.plan(
            &prospect("We sell tissues and want a demo"),
            &no_threads(),
            &MemoryRecall::default(),
            &[],
            &[slot()],
        );
        assert_eq!(plan.action, NextAction::ProposeMeeting);
    }

    #[test]
    fn follows_up_a_waiting_thread() {
        let threads = ThreadInsight {
            thread_count: 1,
            chosen: Some(ChosenThread {
                thread_id: "t".into(),
                subject: "Pricing".into(),
                message_id: "<m@x>".into(),
                last_message_at: Utc::now(),
                awaiting_our_reply: true,
            }),
            summary: String::new(),
        };
        let plan = NextStepPlanner.plan(
            &prospect("any update?"),
            &threads,
            &MemoryRecall::default(),
            &[],
            &[slot()],
        );
        assert_eq!(plan.action, NextAction::FollowUpThread);
        assert!(plan.reason.contains("Pricing"));
    }

    #[test]
    fn meeting_requests_get_slots() {
        let plan = NextStepPlanner.plan(
            &prospect("Could we schedule a demo?"),
            &no_threads(),
            &MemoryRecall::default(),
            &[ranked()],
            &[slot()],
        );
        assert_eq!(plan.action, NextAction::ProposeMeeting);
        assert_eq!(plan.slots.len(), 1);
        assert!(plan.asset.is_some());
    }

    #[test]
    fn otherwise_shares_an_asset() {
        let plan = NextStepPlanner.plan(
            &prospect("Curious about onboarding"),
            &no_threads(),
            &MemoryRecall::default(),
            &[ranked()],
            &[slot()],
        );
        assert_eq!(plan.action, NextAction::ShareAsset);
        assert!(plan.reason.contains("Case study"));
    }

    #[test]
    fn falls_back_to_a_meeting() {
        let plan = NextStepPlanner.plan(
            &prospect("hello"),
            &no_threads(),
            &MemoryRecall::default(),
            &[],
            &[slot()],
        );
        assert_eq!(plan.action, NextAction::ProposeMeeting);
        let plan = NextStepPlanner.plan(
            &prospect("a demo please"),
            &no_threads(),
            &MemoryRecall::default(),
            &[],
            &[],
        );
        assert_eq!(plan.action, NextAction::ProposeMeeting);
        assert!(plan.reason.contains("ask for a time"));
    }
}
