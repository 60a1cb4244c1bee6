//! Ports: the async traits the engine talks to. Adapters implement them;
//! every one is usable as `Arc<dyn …>` and mockable (`Mock*` types under the
//! `test-util` feature).

mod assets;
mod calendar;
mod clock;
mod crm;
mod error;
mod mail;
mod policy;
mod queue;
mod store;
mod writer;

pub use assets::{Asset, AssetError, AssetPort};
pub use calendar::{BusyBlock, CalendarError, CalendarPort};
pub use clock::{Clock, SystemClock};
pub use crm::{Contact, CrmError, CrmNote, CrmPort, NewNote, NewTask, TaskUpdate};
pub use error::{BoxError, Classify, FromRetry, Retry};
pub use mail::{
    DraftRef, MailError, MailPort, MailThread, OutgoingMail, ReplyTo, SendRequest, SentRef,
};
pub use policy::{Approval, FlagPolicy, SendDecision, SendMode, SendRefusal};
pub use queue::{Queue, QueueError, WorkflowJob};
pub use store::{
    Accepted, Conflict, DEFAULT_MERGE_WINDOW, FailedAt, LeadTimes, LinkedSubmission, Page,
    PastSubmission, ProspectHistory, RunInputs, RunStart, StartAttempt, StepFailures, Store,
    StoreError, StoreWrite, WorkflowFilter, WorkflowStats,
};
pub use writer::{DraftContent, DraftInput, DraftWriter, WriterError};

#[cfg(any(test, feature = "test-util"))]
pub use assets::MockAssetPort;
#[cfg(any(test, feature = "test-util"))]
pub use calendar::MockCalendarPort;
#[cfg(any(test, feature = "test-util"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "test-util"))]
pub use crm::MockCrmPort;
#[cfg(any(test, feature = "test-util"))]
pub use mail::MockMailPort;
#[cfg(any(test, feature = "test-util"))]
pub use policy::MockFlagPolicy;
#[cfg(any(test, feature = "test-util"))]
pub use queue::MockQueue;
#[cfg(any(test, feature = "test-util"))]
pub use store::MockStore;
#[cfg(any(test, feature = "test-util"))]
pub use writer::MockDraftWriter;
