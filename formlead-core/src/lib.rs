//! # formlead-core
//!
//! The pure heart of formlead: a HubSpot form submission becomes a
//! personalised Gmail draft and a CRM follow-up task through 13 checkpointed
//! steps.
//!
//! - [`domain`]: validated types (submission, prospect, workflow, draft, …).
//! - [`ports`]: the async traits adapters implement (`CrmPort`, `MailPort`,
//!   `CalendarPort`, `AssetPort`, `Store`, `Queue`, `FlagPolicy`, `Clock`).
//! - [`agents`]: the six deciders (threads, memory, assets, slots, plan, writer).
//! - [`orchestrator`]: the [`Engine`](orchestrator::Engine) running the steps.
//! - [`policy`]: the send gates; [`signature`]: HubSpot request signatures;
//!   [`html`]: escaping for drafts and pages.
//! - `testing` (feature `test-util`): a manual clock and mocks of every port.
//!
//! No HTTP, SQL or async runtime lives here.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agents;
pub mod domain;
pub mod html;
pub mod orchestrator;
pub mod policy;
pub mod ports;
pub mod signature;

#[cfg(any(test, feature = "test-util"))]
pub mod testing;
