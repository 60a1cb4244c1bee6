//! Fakes for tests (feature `test-util`): a manual clock and the mockall
//! mocks of every port. The in-memory store, queue and sandboxes that an
//! engine runs on live in `formlead-adapters` (its `testing` module wires
//! them into a test kit).

mod clock;

pub use crate::ports::{
    MockAssetPort, MockCalendarPort, MockClock, MockCrmPort, MockDraftWriter, MockFlagPolicy,
    MockMailPort, MockQueue, MockStore,
};
pub use clock::ManualClock;
