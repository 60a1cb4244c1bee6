//! HubSpot: CRM (contacts, tasks, notes) and the forms submissions API.

mod crm;
mod forms;
mod types;

pub use crm::{HubSpotConfig, HubSpotCrm, NOTE_TO_CONTACT, TASK_TO_CONTACT};
