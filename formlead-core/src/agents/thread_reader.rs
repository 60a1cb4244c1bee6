//! ThreadReader: what earlier conversations exist, and which thread to reply in.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{MailThread, ReplyTo};

/// The thread a reply should go into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenThread {
    /// The mailbox's thread id.
    pub thread_id: String,
    /// Its subject (the reply keeps it).
    pub subject: String,
    /// The `Message-ID` the reply answers.
    pub message_id: String,
    /// When its last message arrived.
    pub last_message_at: DateTime<Utc>,
    /// The prospect wrote last: they are waiting for us.
    pub awaiting_our_reply: bool,
}

impl ChosenThread {
    /// How a reply joins this thread.
    pub fn reply_to(&self) -> ReplyTo {
        ReplyTo {
            thread_id: self.thread_id.clone(),
            message_id: self.message_id.clone(),
        }
    }
}

/// ThreadReader's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadInsight {
    /// Threads with the prospect found.
    pub thread_count: usize,
    /// The thread to answer in, if one is recent enough.
    pub chosen: Option<ChosenThread>,
    /// One line for the writer and the dashboard.
    pub summary: String,
}

/// Summarises prior threads and picks the one to reply in: the most recent
/// thread younger than `max_age` whose last message has a `Message-ID`.
#[derive(Debug, Clone, Copy)]
pub struct ThreadReader {
    /// Older threads are not continued.
    pub max_age: Duration,
}

impl Default for ThreadReader {
    fn default() -> Self {
        Self {
            max_age: Duration::days(180),
        }
    }
}

impl ThreadReader {
    /// Reads `threads` as of `now`.
    pub fn read(&self, threads: &[MailThread], now: DateTime<Utc>) -> ThreadInsight {
        let mut sorted: Vec<&MailThread> = threads.iter().collect();
        sorted.sort_by_key(|t| std::cmp::Reverse(t.last_message_at));

        let chosen = sorted
            .iter()
            .find(|t| now - t.last_message_at <= self.max_age && t.last_message_id.is_some())
            .and_then(|t| {
                Some(ChosenThread {
                    thread_id: t.thread_id.clone(),
                    subject: t.subject.clone(),
                    message_id: t.last_message_id.clone()?,
                    last_message_at: t.last_message_at,
                    awaiting_our_reply: t.last_from_prospect,
                })
            });

        let summary = match sorted.first() {
            None => "no earlier email threads".to_owned(),
            Some(latest) => {
                let n = sorted.len();
                let mut s = format!(
                    "{n} earlier thread{}; latest \"{}\" on {} ({} message{})",
                    if n == 1 { "" } else { "s" },
                    latest.subject,
                    latest.last_message_at.format("%Y-%m-%d"),
                    latest.message_count,
                    if latest.message_count == 1 { "" } else { "s" },
                );
                match &chosen {
                    Some(c) => s.push_str(&format!("; replying in \"{}\"", c.subject)),
                    None => s.push_str("; none recent enough to reply in"),
                }
                s
            }
        };

        ThreadInsight {
            thread_count: sorted.len(),
            chosen,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn thread(id: &str, days_ago: i64, msg_id: Option<&str>, now: DateTime<Utc>) -> MailThread {
        MailThread {
            thread_id: id.into(),
            subject: format!("subject {id}"),
            last_message_id: msg_id.map(Into::into),
            last_message_at: now - Duration::days(days_ago),
            message_count: 2,
            snippet: String::new(),
            last_from_prospect: true,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    #[test]
    fn no_threads() {
        let i = ThreadReader::default().read(&[], now());
        assert_eq!(i.thread_count, 0);
        assert!(i.chosen.is_none());
        assert_eq!(i.summary, "no earlier email threads");
    }

    #[test]
    fn picks_the_most_recent_replyable_thread() {
        let n = now();
        let threads = [
            thread("old", 30, Some("<a@x>"), n),
            thread("newest-no-id", 1, None, n),
            thread("recent", 5, Some("<b@x>"), n),
        ];
        let i = ThreadReader::default().read(&threads, n);
        assert_eq!(i.thread_count, 3);
        let c = i.chosen.unwrap();
        assert_eq!(c.thread_id, "recent");
        assert_eq!(c.message_id, "<b@x>");
        assert!(
            i.summary
                .starts_with("3 earlier threads; latest \"subject newest-no-id\"")
        );
    }

    #[test]
    fn ignores_stale_threads() {
        let n = now();
        let i = ThreadReader::default().read(&[thread("ancient", 400, Some("<a@x>"), n)], n);
        assert!(i.chosen.is_none());
        assert!(i.summary.contains("none recent enough"));
    }
}
