//! Where setting values come from: defaults, then an optional TOML file,
//! then environment variables (later wins).

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;
use super::spec::{SPECS, spec};

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Env,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::File => "file",
            Self::Env => "env",
        }
    }
}

/// Raw values by key, with their origin.
#[derive(Clone, Default)]
pub struct Sources {
    values: BTreeMap<&'static str, (String, Origin)>,
}

/// Secrets are masked: `Settings` (and so every log of it) can be printed.
impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (k, (v, _)) in &self.values {
            let secret = spec(k).is_some_and(|s| s.secret);
            let shown = if secret {
                "********".to_owned()
            } else if *k == "DATABASE_URL" {
                super::database_url::redact_url(v)
            } else {
                v.clone()
            };
            map.entry(k, &shown);
        }
        map.finish()
    }
}

impl Sources {
    /// Defaults, then `file` (if any), then the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or has an unknown key.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Self::load`], with an explicit environment (for tests).
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut sources = Self::default();
        for s in SPECS {
            if !s.default.is_empty() {
                sources
                    .values
                    .insert(s.key, (s.default.to_owned(), Origin::Default));
            }
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
            })?;
            sources.merge_toml(&text, path)?;
        }
        for (k, v) in env {
            if let Some(s) = spec(&k) {
                sources.values.insert(s.key, (v, Origin::Env));
            }
        }
        Ok(sources)
    }

    fn merge_toml(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            ConfigError::new(
                "--config",
                format!("{} is not valid TOML: {e}", path.display()),
            )
        })?;
        for (k, v) in table {
            let upper = k.to_ascii_uppercase();
            let Some(s) = spec(&upper) else {
                return Err(ConfigError::new(
                    "--config",
                    format!(
                        "{}: unknown setting \"{k}\" (settings use the environment variable names, e.g. DATABASE_URL)",
                        path.display()
                    ),
                ));
            };
            let text = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Array(items) => {
                    let strings: Option<Vec<String>> = items
                        .into_iter()
                        .map(|i| i.as_str().map(str::to_owned))
                        .collect();
                    let strings = strings.ok_or_else(|| {
                        ConfigError::new(s.key, "must be a list of strings".into())
                    })?;
                    serde_json::to_string(&strings).unwrap_or_default()
                }
                other => {
                    return Err(ConfigError::new(
                        s.key,
                        format!("unsupported TOML value {other:?}"),
                    ));
                }
            };
            self.values.insert(s.key, (text, Origin::File));
        }
        Ok(())
    }

    /// The value of `key`; `None` when unset or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|(v, _)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn origin(&self, key: &str) -> Option<Origin> {
        self.values.get(key).map(|(_, o)| *o)
    }
}
