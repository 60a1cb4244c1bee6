//! The CRM (HubSpot in production).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};
use crate::domain::{EmailAddress, Prospect, TaskPriority, TaskType};

/// A CRM contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The CRM's contact id.
    pub id: String,
    /// Their email address.
    pub email: String,
    /// The contact's owner, who gets the follow-up task.
    pub owner_id: Option<String>,
    /// Created by `create_contact` just now: it has no CRM history yet, so
    /// recalling its notes can be skipped.
    #[serde(default)]
    pub created: bool,
}

/// A follow-up task to create, associated with a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// Stable per workflow; written into the task so a retry can find it.
    pub idempotency_key: String,
    /// The contact the task is for.
    pub contact_id: String,
    /// The task's title.
    pub subject: String,
    /// Its notes.
    pub body: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Its priority.
    pub priority: TaskPriority,
    /// Call, email or to-do.
    pub task_type: TaskType,
    /// The owner it is assigned to, if any.
    pub owner_id: Option<String>,
}

/// What changes on an existing task; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskUpdate {
    /// The new body.
    pub body: Option<String>,
    /// The new priority.
    pub priority: Option<TaskPriority>,
}

impl TaskUpdate {
    /// Applies the update to a task's `body` and `priority`.
    pub fn apply_to(&self, body: &mut String, priority: &mut TaskPriority) {
        if let Some(new) = &self.body {
            new.clone_into(body);
        }
        if let Some(new) = self.priority {
            *priority = new;
        }
    }
}

/// A timeline note to create, associated with a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNote {
    /// Stable per workflow; written into the note so a retry can find it.
    pub idempotency_key: String,
    /// The contact the note is on.
    pub contact_id: String,
    /// The note's text.
    pub body: String,
    /// When it is dated.
    pub timestamp: DateTime<Utc>,
}

/// A note read back for LongMemory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmNote {
    /// The CRM's note id.
    pub id: String,
    /// The note's text.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A CRM failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrmError {
    #[error("CRM temporarily unavailable: {source}")]
    /// Worth retrying later.
    Transient {
        /// How long to wait first, when the vendor said.
        retry_after: Option<std::time::Duration>,
        #[source]
        /// The cause.
        source: BoxError,
    },
    #[error("CRM rejected the request: {source}")]
    /// Retrying cannot help.
    Permanent {
        #[source]
        /// The cause.
        source: BoxError,
    },
    /// The service refused our credentials (401, or 403 for a missing
    /// scope): an operator must fix the configuration.
    #[error("CRM refused our credentials: {source}")]
    Unauthorized {
        #[source]
        /// The cause.
        source: BoxError,
    },
}
port_error_common!(CrmError, unauthorized: Unauthorized);

/// Contacts, tasks and notes in the CRM.
///
/// Creating methods receive an `idempotency_key`; the `find_*` methods look
/// an earlier creation up by it, which the orchestrator does before creating
/// again when an earlier attempt of the step may already have succeeded.
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait CrmPort: Send + Sync {
    /// The contact with this email, if any.
    ///
    /// # Errors
    /// [`CrmError`]: transient for rate limits, outages and timeouts.
    async fn find_contact(&self, email: &EmailAddress) -> Result<Option<Contact>, CrmError>;

    /// Creates a contact; if it already exists, returns the existing one.
    ///
    /// # Errors
    /// [`CrmError`].
    async fn create_contact(&self, prospect: &Prospect) -> Result<Contact, CrmError>;

    /// Creates a task and returns its CRM id.
    ///
    /// # Errors
    /// [`CrmError`].
    async fn create_task(&self, task: &NewTask) -> Result<String, CrmError>;

    /// Changes task `task_id` as `update` says (idempotent).
    ///
    /// # Errors
    /// [`CrmError`].
    async fn update_task(&self, task_id: &str, update: &TaskUpdate) -> Result<(), CrmError>;

    /// The id of a task created earlier with this idempotency key.
    ///
    /// # Errors
    /// [`CrmError`].
    async fn find_task(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError>;

    /// Creates a note and returns its CRM id.
    ///
    /// # Errors
    /// [`CrmError`].
    async fn create_note(&self, note: &NewNote) -> Result<String, CrmError>;

    /// The id of a note created earlier with this idempotency key.
    ///
    /// # Errors
    /// [`CrmError`].
    async fn find_note(
        &self,
        contact_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, CrmError>;

    /// The most recent notes on a contact, newest first.
    ///
    /// # Errors
    /// [`CrmError`].
    async fn recent_notes(&self, contact_id: &str, limit: usize) -> Result<Vec<CrmNote>, CrmError>;
}
