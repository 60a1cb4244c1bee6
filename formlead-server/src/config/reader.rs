//! Reads one setting from the sources and validates its type and range;
//! every error names the setting.

use std::time::Duration;

use secrecy::SecretString;

use super::ConfigError;
use super::sources::Sources;

/// The settings' sources, read key by key.
pub(super) struct Reader<'a> {
    src: &'a Sources,
}

pub(super) fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message.into())
}

impl<'a> Reader<'a> {
    pub(super) fn new(src: &'a Sources) -> Self {
        Self { src }
    }

    pub(super) fn opt(&self, key: &str) -> Option<String> {
        self.src.get(key).map(str::to_owned)
    }

    /// A `tracing` filter; a typo is an error here rather than a silent
    /// fallback to `info` once logging starts.
    pub(super) fn log_filter(&self, key: &str) -> Result<String, ConfigError> {
        let filter = self.string(key);
        tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| {
            err(
                key,
                format!("`{filter}` is not a log filter ({e}); e.g. `info` or `info,formlead_core=debug`"),
            )
        })?;
        Ok(filter)
    }

    pub(super) fn string(&self, key: &str) -> String {
        self.opt(key).unwrap_or_default()
    }

    pub(super) fn secret(&self, key: &str) -> Option<SecretString> {
        self.opt(key).map(SecretString::from)
    }

    pub(super) fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.string(key).to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            other => Err(err(key, format!("must be true or false (got \"{other}\")"))),
        }
    }

    pub(super) fn number<T>(&self, key: &str, min: T, max: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let raw = self.string(key);
        let n: T = raw
            .parse()
            .map_err(|_| err(key, format!("must be a whole number (got \"{raw}\")")))?;
        if n < min || n > max {
            return Err(err(
                key,
                format!("must be between {min} and {max} (got {n})"),
            ));
        }
        Ok(n)
    }

    pub(super) fn millis(&self, key: &str, min: u64, max: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.number(key, min, max)?))
    }

    pub(super) fn url(&self, key: &str) -> Result<String, ConfigError> {
        let raw = self.string(key);
        let lower = raw.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://"))
            || raw.contains(char::is_whitespace)
        {
            return Err(err(key, format!("must be an http(s) URL (got \"{raw}\")")));
        }
        Ok(raw.trim_end_matches('/').to_owned())
    }
}
