//! Sandbox adapters: the embedded default when no HubSpot or Google
//! credentials are configured. They record what they would have done (the
//! most recent [`SANDBOX_HISTORY`] records of each kind), and can be scripted
//! to fail or be slow ([`Faults`]) for simulations and tests.

mod assets;
mod calendar;
mod crm;
pub(crate) mod faults;
mod mail;
mod recent;

use std::path::Path;

pub use assets::{CatalogueError, StaticAssets};
pub use calendar::SandboxCalendar;
pub use crm::SandboxCrm;
pub use faults::{Fault, Faults, sleep};
pub use mail::SandboxMail;
pub use recent::SANDBOX_HISTORY;

/// Sample sent messages (plain text), what `formlead voice learn` reads
/// without Google credentials.
pub fn sample_sent_messages() -> Vec<String> {
    include_str!("sent_mail.txt")
        .split("\n=====\n")
        .map(|m| m.trim_end().to_owned())
        .collect()
}

/// Loads a TOML asset catalogue (see [`StaticAssets::from_toml`]).
///
/// # Errors
/// [`CatalogueError`] when the file cannot be read or parsed.
pub fn load_catalogue(path: &Path) -> Result<StaticAssets, CatalogueError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CatalogueError(format!("cannot read {}: {e}", path.display())))?;
    StaticAssets::from_toml(&text)
}
