//! Sales assets: case studies, decks, docs (a TOML catalogue or Google Drive).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};

/// Something worth linking in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// The asset's id.
    pub id: String,
    /// Its title, as shown in the reply.
    pub title: String,
    /// `http(s)` link the prospect can open.
    pub url: String,
    #[serde(default)]
    /// What it is about (matched against the message).
    pub description: String,
    #[serde(default)]
    /// Its tags (matched too).
    pub tags: Vec<String>,
}

/// A failure of the asset source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetError {
    #[error("asset source temporarily unavailable: {source}")]
    /// Worth retrying later.
    Transient {
        /// How long to wait first, when the vendor said.
        retry_after: Option<std::time::Duration>,
        #[source]
        /// The cause.
        source: BoxError,
    },
    #[error("asset source rejected the request: {source}")]
    /// Retrying cannot help.
    Permanent {
        #[source]
        /// The cause.
        source: BoxError,
    },
    /// The service refused our credentials (401, or 403 for a missing
    /// scope): an operator must fix the configuration.
    #[error("asset source refused our credentials: {source}")]
    Unauthorized {
        #[source]
        /// The cause.
        source: BoxError,
    },
}
port_error_common!(AssetError, unauthorized: Unauthorized);

/// Candidate assets for a set of search terms (ranking is AssetHunter's job).
#[cfg_attr(any(test, feature = "test-util"), mockall::automock)]
#[async_trait]
pub trait AssetPort: Send + Sync {
    /// Assets that may match `terms` (lower-case words). Returning more than
    /// needed is fine; `limit` is a hint.
    ///
    /// # Errors
    /// [`AssetError`].
    async fn search(&self, terms: &[String], limit: usize) -> Result<Vec<Asset>, AssetError>;
}
