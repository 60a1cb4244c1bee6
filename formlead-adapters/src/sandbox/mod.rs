//! Sandbox adapters: the embedded default when no HubSpot or Google
//! credentials are configured. They record what they would have done.
//!
//! The implementations are pure and live in `formlead_core::memory` (core's
//! test kit uses them too); this module adds loading an asset catalogue file.

use std::path::Path;

pub use formlead_core::memory::{
    CatalogueError, SandboxCalendar, SandboxCrm, SandboxMail, StaticAssets,
};

/// Loads a TOML asset catalogue (see [`StaticAssets::from_toml`]).
///
/// # Errors
/// [`CatalogueError`] when the file cannot be read or parsed.
pub fn load_catalogue(path: &Path) -> Result<StaticAssets, CatalogueError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CatalogueError(format!("cannot read {}: {e}", path.display())))?;
    StaticAssets::from_toml(&text)
}
