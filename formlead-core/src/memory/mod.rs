//! In-memory implementations of every port. They record everything they
//! would have done, support fault and latency injection, and need no async
//! runtime. The server uses the sandbox CRM/mail/calendar as its adapters
//! when no credentials are configured (they keep the most recent
//! [`SANDBOX_HISTORY`] records of each kind); tests and examples use all of
//! them.

mod assets;
mod calendar;
mod clock;
mod crm;
mod faults;
mod mail;
mod queue;
mod recent;
mod store;

pub use assets::{CatalogueError, StaticAssets};
pub use calendar::SandboxCalendar;
pub use clock::ManualClock;
pub use crm::SandboxCrm;
pub use faults::{Fault, Faults, sleep};
pub use mail::SandboxMail;
pub use queue::RecordingQueue;
pub use recent::SANDBOX_HISTORY;
pub use store::MemoryStore;
