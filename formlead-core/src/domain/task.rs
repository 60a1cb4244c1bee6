//! CRM follow-up tasks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{TaskId, WorkflowId};
use super::str_enum::str_enum;

str_enum! {
    /// Task priority (HubSpot `hs_task_priority`).
    pub enum TaskPriority: "task priority" {
        Low => "LOW",
        Medium => "MEDIUM",
        High => "HIGH",
    }
}

str_enum! {
    /// Task type (HubSpot `hs_task_type`).
    pub enum TaskType: "task type" {
        Email => "EMAIL",
        Call => "CALL",
        Todo => "TODO",
    }
}

/// A follow-up task the engine created in the CRM, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmTask {
    pub id: TaskId,
    pub workflow_id: WorkflowId,
    pub contact_id: String,
    /// The CRM's id of the task.
    pub external_id: String,
    pub subject: String,
    pub body: String,
    pub due_at: DateTime<Utc>,
    pub priority: TaskPriority,
    pub task_type: TaskType,
    pub owner_id: Option<String>,
    pub created_at: DateTime<Utc>,
}
