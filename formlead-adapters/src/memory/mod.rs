//! In-memory adapters: the tokio [`MemoryQueue`] plus core's
//! [`MemoryStore`] (pure, so it lives in `formlead_core::memory`).

mod queue;

pub use formlead_core::memory::MemoryStore;
pub use queue::MemoryQueue;
