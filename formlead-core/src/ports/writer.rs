//! DraftWriter: the port that writes the reply (step 8), and what it is given.

use async_trait::async_trait;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};
use crate::agents::{ChosenThread, MemoryRecall, NextStep};
use crate::domain::Prospect;

/// Everything the writer may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftInput {
    /// Who the reply is to.
    pub prospect: Prospect,
    /// What the reply should achieve.
    pub plan: NextStep,
    /// The thread the reply goes into, if any (the subject must match it).
    pub thread: Option<ChosenThread>,
    /// What is known of the prospect from before.
    pub memory: MemoryRecall,
    /// Zone the meeting slots are shown in.
    pub time_zone: Tz,
    /// The messages of the prospect's repeat submissions this reply also
    /// answers, oldest first (empty for most replies).
    pub more_asks: Vec<String>,
    /// A support request is handed to support (a task assigned to the
    /// support owner): only then may the reply say support will be in
    /// touch.
    pub support_handoff: bool,
}

/// The written reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftContent {
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub body_text: String,
    /// The HTML body.
    pub body_html: String,
}

/// A writer failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriterError {
    #[error("writer temporarily unavailable: {source}")]
    /// Worth retrying later.
    Transient {
        /// How long to wait first, when the vendor said.
        retry_after: Option<std::time::Duration>,
        #[source]
        /// The cause.
        source: BoxError,
    },
    #[error("writer failed: {source}")]
    /// Retrying cannot help.
    Permanent {
        #[source]
        /// The cause.
        source: BoxError,
    },
}
port_error_common!(WriterError);

/// Writes the reply (step 8). The default is [`TemplateWriter`](crate::agents::TemplateWriter); an LLM
/// writer can replace it.
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait DraftWriter: Send + Sync {
    /// # Errors
    /// [`WriterError`].
    async fn write(&self, input: &DraftInput) -> Result<DraftContent, WriterError>;
}
