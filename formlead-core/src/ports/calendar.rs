//! The sender's calendar (Google Calendar in production).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};

/// A busy interval, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyBlock {
    /// When the busy time starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
}

/// A calendar failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    #[error("calendar temporarily unavailable: {source}")]
    /// Worth retrying later.
    Transient {
        /// How long to wait first, when the vendor said.
        retry_after: Option<std::time::Duration>,
        #[source]
        /// The cause.
        source: BoxError,
    },
    #[error("calendar rejected the request: {source}")]
    /// Retrying cannot help.
    Permanent {
        #[source]
        /// The cause.
        source: BoxError,
    },
    /// The service refused our credentials (401, or 403 for a missing
    /// scope): an operator must fix the configuration.
    #[error("calendar refused our credentials: {source}")]
    Unauthorized {
        #[source]
        /// The cause.
        source: BoxError,
    },
}
port_error_common!(CalendarError, unauthorized: Unauthorized);

/// Free/busy lookups.
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait CalendarPort: Send + Sync {
    /// Busy blocks overlapping `[from, to)`.
    ///
    /// # Errors
    /// [`CalendarError`].
    async fn busy(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyBlock>, CalendarError>;
}
