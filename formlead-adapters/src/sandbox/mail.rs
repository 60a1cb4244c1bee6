//! `SandboxMail`: a mailbox that records drafts and sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::{Faults, lock};
use super::recent::Recent;
use formlead_core::domain::EmailAddress;
use formlead_core::ports::{
    DraftRef, FlagPolicy, MailError, MailPort, MailThread, OutgoingMail, SendRequest, SentRef,
};

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    threads: HashMap<String, Vec<MailThread>>,
    drafts: Recent<(DraftRef, OutgoingMail)>,
    /// Recipients changed in the mailbox after creation, by draft id.
    edited_recipients: HashMap<String, Vec<String>>,
    sent: Recent<SendRequest>,
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
    /// An empty mailbox whose sends `policy` checks, as a real one would.
    pub fn new(policy: Arc<dyn FlagPolicy>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            policy,
            faults: Faults::default(),
        }
    }

    /// Scripted failures and latency, per operation.
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

    /// Drafts created (the most recent [`super::SANDBOX_HISTORY`]).
    pub fn drafts(&self) -> Vec<(DraftRef, OutgoingMail)> {
        lock(&self.state).drafts.to_vec()
    }

    /// Changes a draft's recipients (To, Cc, Bcc together), as someone
    /// editing it in the mail client would.
    pub fn edit_draft_recipients(&self, draft_id: &str, recipients: Vec<String>) {
        lock(&self.state)
            .edited_recipients
            .insert(draft_id.to_owned(), recipients);
    }

    /// Sends that happened (the most recent [`super::SANDBOX_HISTORY`]).
    pub fn sent(&self) -> Vec<SendRequest> {
        lock(&self.state).sent.to_vec()
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

    async fn update_draft(
        &self,
        draft_id: &str,
        mail: &OutgoingMail,
    ) -> Result<DraftRef, MailError> {
        let after = self.faults.before::<MailError>("update_draft").await?;
        let draft = {
            let mut s = lock(&self.state);
            let Some((draft, stored)) = s.drafts.iter_mut().find(|(d, _)| d.draft_id == draft_id)
            else {
                return Err(MailError::Permanent {
                    source: format!("no draft {draft_id}").into(),
                });
            };
            *stored = mail.clone();
            draft.clone()
        };
        if after {
            return Err(Faults::after_effect("update_draft"));
        }
        Ok(draft)
    }

    async fn find_draft(&self, message_id: &str) -> Result<Option<DraftRef>, MailError> {
        self.faults.before::<MailError>("find_draft").await?;
        Ok(lock(&self.state)
            .drafts
            .iter()
            .rev()
            .find(|(_, m)| m.message_id == message_id)
            .map(|(d, _)| d.clone()))
    }

    async fn draft_recipients(&self, draft_id: &str) -> Result<Vec<String>, MailError> {
        self.faults.before::<MailError>("draft_recipients").await?;
        let s = lock(&self.state);
        if let Some(edited) = s.edited_recipients.get(draft_id) {
            return Ok(edited.clone());
        }
        s.drafts
            .iter()
            .rev()
            .find(|(d, _)| d.draft_id == draft_id)
            .map(|(_, m)| vec![m.to.to_string()])
            .ok_or_else(|| MailError::permanent(format!("no draft {draft_id} in the mailbox")))
    }

    async fn send_draft(&self, request: &SendRequest) -> Result<SentRef, MailError> {
        let after = self.faults.before::<MailError>("send_draft").await?;
        self.policy
            .authorize_send(&request.to, &request.approval)
            .await?;
        let sent = {
            let mut s = lock(&self.state);
            let already = s
                .sent
                .iter()
                .rev()
                .any(|r| r.message_id == request.message_id);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SANDBOX_HISTORY;
    use formlead_core::policy::GatedPolicy;

    fn mail(n: usize) -> OutgoingMail {
        OutgoingMail {
            to: EmailAddress::parse("ann@acme.example").expect("valid"),
            to_name: None,
            subject: "Hello".into(),
            body_text: "Hi".into(),
            body_html: "<p>Hi</p>".into(),
            message_id: format!("<{n}@formlead>"),
            reply_to: None,
        }
    }

    #[tokio::test]
    async fn a_long_running_sandbox_keeps_only_recent_drafts() {
        let sandbox = SandboxMail::new(Arc::new(GatedPolicy::default()));
        for n in 0..=SANDBOX_HISTORY {
            sandbox.create_draft(&mail(n)).await.expect("draft");
        }
        assert_eq!(sandbox.drafts().len(), SANDBOX_HISTORY);
        assert_eq!(
            sandbox.find_draft(&mail(0).message_id).await.expect("find"),
            None
        );
        let last = sandbox
            .find_draft(&mail(SANDBOX_HISTORY).message_id)
            .await
            .expect("find");
        assert_eq!(
            last.map(|d| d.draft_id),
            Some(format!("sandbox-draft-{}", SANDBOX_HISTORY + 1))
        );
    }
}
