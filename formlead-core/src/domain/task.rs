//! CRM follow-up tasks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{TaskId, WorkflowId};
use super::str_enum::str_enum;

str_enum! {
    /// Task priority (HubSpot `hs_task_priority`).
    pub enum TaskPriority: "task priority" {
        /// Low.
        Low => "LOW",
        /// Medium.
        Medium => "MEDIUM",
        /// High.
        High => "HIGH",
    }
}

str_enum! {
    /// Task type (HubSpot `hs_task_type`).
    pub enum TaskType: "task type" {
        /// Send an email.
        Email => "EMAIL",
        /// Make a call.
        Call => "CALL",
        /// Anything else.
        Todo => "TODO",
    }
}

/// A follow-up task the engine created in the CRM, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmTask {
    /// The task's id.
    pub id: TaskId,
    /// The workflow that created it.
    pub workflow_id: WorkflowId,
    /// The CRM contact it is for.
    pub contact_id: String,
    /// The CRM's id of the task.
    pub external_id: String,
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
    /// The CRM owner it is assigned to, if any.
    pub owner_id: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}
