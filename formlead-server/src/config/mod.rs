//! Configuration: defaults → optional TOML file (`--config`) → environment.

mod settings;
mod sources;
pub mod spec;

pub use settings::{
    DEV_WEBHOOK_SECRET, GoogleSettings, HubSpotSettings, LlmSettings, LogFormat, Settings,
    WebhookSecret,
};
pub use sources::{Origin, Sources};

/// A setting that cannot be used; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: &str, message: String) -> Self {
        Self {
            key: key.to_owned(),
            message,
        }
    }
}
