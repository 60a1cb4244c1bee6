//! Google: OAuth, Gmail (threads, drafts, sends), Calendar (free/busy) and
//! Drive (assets).

mod addresses;
mod calendar;
mod drive;
mod gmail;
pub mod mime;
mod oauth;

use std::sync::Arc;
use std::time::Duration;

pub use calendar::GoogleCalendar;
pub use drive::{DriveAssets, quote as drive_quote};
pub use gmail::GmailMailer;
pub use oauth::{GoogleApi, GoogleAuth, GoogleCredentials};

use crate::http::{RateLimiter, VendorClient, VendorFailure};

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
    pub gmail: String,
    pub calendar: String,
    pub drive: String,
}

/// The three API clients sharing one token source.
#[derive(Debug, Clone)]
pub struct GoogleClients {
    pub auth: Arc<GoogleAuth>,
    pub gmail: GoogleApi,
    pub calendar: GoogleApi,
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
        let gmail_limiter = Arc::new(RateLimiter::new(
            gmail::GMAIL_CALLS_PER_SECOND,
            gmail::GMAIL_WINDOW,
        ));
        let api = |vendor,
                   base: &str,
                   limiter: Option<Arc<RateLimiter>>|
         -> Result<GoogleApi, VendorFailure> {
            let mut client = VendorClient::new(vendor, base, timeout)?;
            if let Some(l) = limiter {
                client = client.with_limiter(l);
            }
            Ok(GoogleApi {
                client,
                auth: auth.clone(),
            })
        };
        Ok(Self {
            gmail: api("Gmail", &endpoints.gmail, Some(gmail_limiter))?,
            calendar: api("Google Calendar", &endpoints.calendar, None)?,
            drive: api("Google Drive", &endpoints.drive, None)?,
            auth,
        })
    }
}
