//! HubSpot: CRM (contacts, tasks, notes) and the forms submissions API.

mod batcher;
mod batches;
mod crm;
mod forms;
mod types;

pub use batcher::{BATCH_SIZE_METRIC, MAX_INPUTS};
pub use crm::{HubSpotConfig, HubSpotCrm, NOTE_TO_CONTACT, TASK_TO_CONTACT};
