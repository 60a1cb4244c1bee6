//! Sales assets: case studies, decks, docs (a TOML catalogue or Google Drive).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::{BoxError, port_error_common};

/// Something worth linking in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub title: String,
    /// `http(s)` link the prospect can open.
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A failure of the asset source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetError {
    #[error("asset source temporarily unavailable: {source}")]
    Transient {
        retry_after: Option<std::time::Duration>,
        #[source]
        source: BoxError,
    },
    #[error("asset source rejected the request: {source}")]
    Permanent {
        #[source]
        source: BoxError,
    },
    /// The service refused our credentials (401, or 403 for a missing
    /// scope): an operator must fix the configuration.
    #[error("asset source refused our credentials: {source}")]
    Unauthorized {
        #[source]
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
