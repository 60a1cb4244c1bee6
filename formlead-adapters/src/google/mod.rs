//! Google: OAuth, Gmail (threads, drafts, sends), Calendar (free/busy) and
//! Drive (assets).

mod addresses;
mod calendar;
mod drive;
mod gmail;
pub mod mime;
mod oauth;
mod sent;

use std::sync::Arc;
use std::time::Duration;

pub use calendar::GoogleCalendar;
pub use drive::{DriveAssets, quote as drive_quote};
pub use gmail::GmailMailer;
pub use oauth::{GoogleApi, GoogleAuth, GoogleCredentials};
pub use sent::SentMail;

use crate::budget::{Budget, BudgetSpec, LocalBudget};
use crate::http::{VendorClient, VendorFailure};

/// Percent-encodes a path segment.
pub(crate) fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Base URLs of the Google APIs (configurable for tests and proxies).
#[derive(Debug, Clone)]
pub struct GoogleEndpoints {
    /// Gmail API base URL.
    pub gmail: String,
    /// Calendar API base URL.
    pub calendar: String,
    /// Drive API base URL.
    pub drive: String,
}

/// The three API clients sharing one token source.
#[derive(Debug, Clone)]
pub struct GoogleClients {
    /// The OAuth token source all three share.
    pub auth: Arc<GoogleAuth>,
    /// The Gmail client.
    pub gmail: GoogleApi,
    /// The Calendar client.
    pub calendar: GoogleApi,
    /// The Drive client.
    pub drive: GoogleApi,
}

impl GoogleClients {
    /// # Errors
    /// [`VendorFailure`] when an HTTP client cannot be built.
    pub fn new(
        credentials: GoogleCredentials,
        endpoints: &GoogleEndpoints,
        timeout: Duration,
    ) -> Result<Self, VendorFailure> {
        let auth = Arc::new(GoogleAuth::new(credentials, timeout)?);
        let api = |vendor, label, base: &str| -> Result<GoogleApi, VendorFailure> {
            Ok(GoogleApi {
                client: VendorClient::new(vendor, label, base, timeout)?,
                auth: auth.clone(),
            })
        };
        let mut gmail = api("Gmail", "gmail", &endpoints.gmail)?;
        // Until a shared one is set: this process's own, at Google's
        // default per-mailbox quota.
        gmail.client.budget = Some(Arc::new(LocalBudget::new(gmail_budget(
            "gmail",
            gmail::GMAIL_UNITS_PER_SECOND,
        ))));
        Ok(Self {
            gmail,
            calendar: api("Google Calendar", "google_calendar", &endpoints.calendar)?,
            drive: api("Google Drive", "google_drive", &endpoints.drive)?,
            auth,
        })
    }

    /// Gmail calls draw on `budget` (the mailbox's quota units, shared by
    /// every process sending from it).
    #[must_use]
    pub fn with_gmail_budget(mut self, budget: Arc<dyn Budget>) -> Self {
        self.gmail.client.budget = Some(budget);
        self
    }
}

/// The budget of one mailbox: `units_per_second` quota units (Google's
/// default is 250 per user per second, 15,000 a minute), with a 5 % margin:
/// a burst of 5 % and a pace of 90 %, so that no second sees more than the
/// quota even when a 10-unit call tips it.
pub fn gmail_budget(name: &str, units_per_second: u32) -> BudgetSpec {
    BudgetSpec::rolling_window(
        name,
        "Gmail",
        f64::from(units_per_second.max(1)),
        Duration::from_secs(1),
        0.05,
    )
}
