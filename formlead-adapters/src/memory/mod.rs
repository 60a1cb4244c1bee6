//! In-memory adapters: the [`MemoryStore`], the tokio [`MemoryQueue`] a
//! worker pool drains, and the [`RecordingQueue`] that only records jobs
//! (for driving an engine by hand).

mod links;
mod queue;
mod recording_queue;
mod store;

pub use queue::MemoryQueue;
pub use recording_queue::RecordingQueue;
pub use store::MemoryStore;
