//! `SandboxMail`: a mailbox that records drafts and sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::{Faults, lock};
use crate::domain::EmailAddress;
use crate::ports::{
    DraftRef, FlagPolicy, MailError, MailPort, MailThread, OutgoingMail, SendRequest, SentRef,
};

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    threads: HashMap<String, Vec<MailThread>>,
    drafts: Vec<(DraftRef, OutgoingMail)>,
    sent: Vec<SendRequest>,
}

/// In-memory [`MailPort`]. Checks the send policy before every send, and
/// never sends the same `Message-ID` twice.
pub struct SandboxMail {
    state: Mutex<State>,
    policy: Arc<dyn FlagPolicy>,
    faults: Faults,
}

impl std::fmt::Debug for SandboxMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxMail").finish_non_exhaustive()
    }
}

impl SandboxMail {
    pub fn new(policy: Arc<dyn FlagPolicy>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            policy,
            faults: Faults::default(),
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Adds an earlier thread with `email`.
    pub fn seed_thread(&self, email: &str, thread: MailThread) {
        lock(&self.state)
            .threads
            .entry(email.to_lowercase())
            .or_default()
            .push(thread);
    }

    /// Drafts created.
    pub fn drafts(&self) -> Vec<(DraftRef, OutgoingMail)> {
        lock(&self.state).drafts.clone()
    }

    /// Sends that happened.
    pub fn sent(&self) -> Vec<SendRequest> {
        lock(&self.state).sent.clone()
    }
}

#[async_trait]
impl MailPort for SandboxMail {
    async fn threads_with(
        &self,
        email: &EmailAddress,
        limit: usize,
    ) -> Result<Vec<MailThread>, MailError> {
        self.faults.before::<MailError>("threads_with").await?;
        let mut threads = lock(&self.state)
            .threads
            .get(email.as_str())
            .cloned()
            .unwrap_or_default();
        threads.sort_by_key(|t| std::cmp::Reverse(t.last_message_at));
        threads.truncate(limit);
        Ok(threads)
    }

    async fn create_draft(&self, mail: &OutgoingMail) -> Result<DraftRef, MailError> {
        let after = self.faults.before::<MailError>("create_draft").await?;
        let draft = {
            let mut s = lock(&self.state);
            s.next_id += 1;
            let thread_id = mail.reply_to.as_ref().map_or_else(
                || format!("sandbox-thread-{}", s.next_id),
                |r| r.thread_id.clone(),
            );
            let draft = DraftRef {
                draft_id: format!("sandbox-draft-{}", s.next_id),
                thread_id: Some(thread_id),
            };
            s.drafts.push((draft.clone(), mail.clone()));
            draft
        };
        if after {
            return Err(Faults::after_effect("create_draft"));
        }
        Ok(draft)
    }

    async fn find_draft(&self, message_id: &str) -> Result<Option<DraftRef>, MailError> {
        self.faults.before::<MailError>("find_draft").await?;
        Ok(lock(&self.state)
            .drafts
            .iter()
            .find(|(_, m)| m.message_id == message_id)
            .map(|(d, _)| d.clone()))
    }

    async fn send_draft(&self, request: &SendRequest) -> Result<SentRef, MailError> {
        let after = self.faults.before::<MailError>("send_draft").await?;
        self.policy
            .authorize_send(&request.to, &request.approval)
            .await?;
        let sent = {
            let mut s = lock(&self.state);
            let already = s.sent.iter().any(|r| r.message_id == request.message_id);
            if !already {
                s.sent.push(request.clone());
            }
            SentRef {
                message_id: format!("sandbox-sent-{}", request.draft_id),
                already_sent: already,
            }
        };
        if after {
            return Err(Faults::after_effect("send_draft"));
        }
        Ok(sent)
    }
}
