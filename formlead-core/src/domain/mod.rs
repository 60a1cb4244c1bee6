//! Domain types. Constructors validate; invalid input is an error value.

mod audit;
mod draft;
mod email;
mod ids;
mod prospect;
mod storable;
mod str_enum;
mod submission;
mod task;
mod workflow;

pub use audit::{AuditEvent, ErrorKind, WorkflowError};
pub use draft::{DraftEmail, DraftStatus};
pub use email::{EmailAddress, InvalidEmail};
pub use ids::{AuditId, DraftId, ErrorId, SubmissionId, TaskId, WorkflowId};
pub use prospect::Prospect;
pub use storable::MAX_EMAIL_CHARS;
pub use str_enum::UnknownVariant;
pub use submission::{
    FormSubmission, FormsApiSubmission, FormsApiValue, MAX_FIELD_CHARS, MAX_FIELDS,
    SubmissionError, SubmissionSource, UNIDENTIFIED_PREFIX,
};
pub use task::{CrmTask, TaskPriority, TaskType};
pub use workflow::{StepName, StepRecord, StepStatus, Workflow, WorkflowStatus, WorkflowSummary};
