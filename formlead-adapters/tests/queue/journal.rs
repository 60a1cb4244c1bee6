//! Vendor fakes whose side effects go to an append-only journal directory,
//! so they outlive a worker process that is killed (like the real vendors'
//! state would). Each process writes its own file; lookups read them all.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use formlead_core::domain::{EmailAddress, Prospect};
use formlead_core::ports::{
    Contact, CrmError, CrmNote, CrmPort, DraftRef, MailError, MailPort, MailThread, NewNote,
    NewTask, OutgoingMail, SendRequest, SentRef,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub kind: String,
    pub key: String,
    pub id: String,
    pub writer: String,
}

pub struct Journal {
    dir: PathBuf,
    file: Mutex<std::fs::File>,
    writer: String,
    /// `create_task` sleeps this long first (to be killed mid-workflow).
    pub slow_task: Option<Duration>,
}

impl Journal {
    pub fn open(dir: &Path, writer: &str) -> Self {
        std::fs::create_dir_all(dir).expect("journal dir");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{writer}.jsonl")))
            .expect("journal file");
        Self {
            dir: dir.to_owned(),
            file: Mutex::new(file),
            writer: writer.to_owned(),
            slow_task: None,
        }
    }

    pub fn read_all(dir: &Path) -> Vec<Entry> {
        let mut out = Vec::new();
        let Ok(files) = std::fs::read_dir(dir) else {
            return out;
        };
        for f in files.flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap_or_default();
            out.extend(
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Entry>(l).ok()),
            );
        }
        out
    }

    fn append(&self, kind: &str, key: &str) -> String {
        let id = format!("{kind}-{}", uuid::Uuid::new_v4().simple());
        let entry = Entry {
            kind: kind.into(),
            key: key.into(),
            id: id.clone(),
            writer: self.writer.clone(),
        };
        let mut line = serde_json::to_string(&entry).expect("entry");
        line.push('\n');
        let mut f = self.file.lock().expect("journal lock");
        f.write_all(line.as_bytes()).expect("journal write");
        f.sync_data().expect("journal sync");
        id
    }

    fn find(&self, kind: &str, key: &str) -> Option<String> {
        Self::read_all(&self.dir)
            .into_iter()
            .find(|e| e.kind == kind && e.key == key)
            .map(|e| e.id)
    }
}

#[async_trait]
impl CrmPort for Journal {
    async fn find_contact(&self, email: &EmailAddress) -> Result<Option<Contact>, CrmError> {
        Ok(Some(Contact {
            id: format!("c-{email}"),
            email: email.to_string(),
            owner_id: None,
            created: false,
        }))
    }

    async fn create_contact(&self, prospect: &Prospect) -> Result<Contact, CrmError> {
        Ok(Contact {
            id: format!("c-{}", prospect.email),
            email: prospect.email.to_string(),
            owner_id: None,
            created: false,
        })
    }

    async fn create_task(&self, task: &NewTask) -> Result<String, CrmError> {
        if let Some(d) = self.slow_task {
            tokio::time::sleep(d).await;
        }
        Ok(self.append("task", &task.idempotency_key))
    }

    async fn update_task(
        &self,
        task_id: &str,
        _update: &formlead_core::ports::TaskUpdate,
    ) -> Result<(), CrmError> {
        self.append("task-update", task_id);
        Ok(())
    }

    async fn find_task(&self, _contact_id: &str, key: &str) -> Result<Option<String>, CrmError> {
        Ok(self.find("task", key))
    }

    async fn create_note(&self, note: &NewNote) -> Result<String, CrmError> {
        Ok(self.append("note", &note.idempotency_key))
    }

    async fn find_note(&self, _contact_id: &str, key: &str) -> Result<Option<String>, CrmError> {
        Ok(self.find("note", key))
    }

    async fn recent_notes(
        &self,
        _contact_id: &str,
        _limit: usize,
    ) -> Result<Vec<CrmNote>, CrmError> {
        Ok(vec![])
    }
}

#[async_trait]
impl MailPort for Journal {
    async fn threads_with(
        &self,
        _email: &EmailAddress,
        _limit: usize,
    ) -> Result<Vec<MailThread>, MailError> {
        Ok(vec![])
    }

    async fn create_draft(&self, mail: &OutgoingMail) -> Result<DraftRef, MailError> {
        Ok(DraftRef {
            draft_id: self.append("draft", &mail.message_id),
            thread_id: None,
        })
    }

    async fn update_draft(
        &self,
        draft_id: &str,
        _mail: &OutgoingMail,
    ) -> Result<DraftRef, MailError> {
        self.append("draft-update", draft_id);
        Ok(DraftRef {
            draft_id: draft_id.to_owned(),
            thread_id: None,
        })
    }

    async fn find_draft(&self, message_id: &str) -> Result<Option<DraftRef>, MailError> {
        Ok(self.find("draft", message_id).map(|draft_id| DraftRef {
            draft_id,
            thread_id: None,
        }))
    }

    /// The journal does not keep recipients: every send is refused.
    async fn draft_recipients(&self, _draft_id: &str) -> Result<Vec<String>, MailError> {
        Ok(vec![])
    }

    async fn send_draft(&self, request: &SendRequest) -> Result<SentRef, MailError> {
        let already = self.find("sent", &request.message_id);
        let id = already
            .clone()
            .unwrap_or_else(|| self.append("sent", &request.message_id));
        Ok(SentRef {
            message_id: id,
            already_sent: already.is_some(),
        })
    }
}
