//! Configuration: defaults → optional TOML file (`--config`) → environment.

mod business_hours;
mod database_url;
mod proxies;
mod reader;
mod settings;
mod sources;
pub mod spec;
mod startup;

pub use database_url::{DatabaseUrl, redact_url};
pub use proxies::{IpNet, TrustedProxies, canonical as canonical_ip};
pub use settings::{
    DEV_WEBHOOK_SECRET, GoogleSettings, HubSpotSettings, LlmSettings, LogFormat,
    MIN_PRODUCTION_SECRET_CHARS, Settings, WebhookSecret,
};
pub use sources::{Origin, Sources};
pub use startup::Role;

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
