//! The six agents. Each is a small, deterministic unit: ports fetch, agents decide.

pub mod asset_hunter;
pub mod draft_writer;
pub mod long_memory;
pub mod meeting_slot;
pub mod next_step;
pub mod thread_reader;
pub mod voice;
pub mod voice_examples;
pub mod voice_learner;

pub use asset_hunter::{AssetHunter, RankedAsset};
pub use draft_writer::TemplateWriter;
pub use long_memory::{LongMemory, MemoryRecall};
pub use meeting_slot::{BusinessHours, MeetingSlot, MeetingSlotFinder};
pub use next_step::{NextAction, NextStep, NextStepPlanner};
pub use thread_reader::{ChosenThread, ThreadInsight, ThreadReader};
pub use voice::{Tone, VoiceError, VoiceProfile, profile_changes};
pub use voice_learner::{LearnedVoice, VoiceLearner};
