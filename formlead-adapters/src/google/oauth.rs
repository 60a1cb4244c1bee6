//! Google OAuth: the refresh-token grant, a cached access token refreshed a
//! minute before it expires, one refresh shared by concurrent callers, and
//! an authorised-call helper that refreshes once on a 401.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::http::{Op, VendorClient, VendorFailure};

/// The OAuth refresh grant (not part of the Gmail quota).
const TOKEN_REFRESH: Op = Op::new("token_refresh", 0.0);

/// Refresh this long before the token expires.
const EARLY: Duration = Duration::from_secs(60);
/// `expires_in` is clamped into this range (Google sends about 3,599).
const MIN_LIFETIME_SECS: u64 = 60;
const MAX_LIFETIME_SECS: u64 = 24 * 3600;

/// OAuth client credentials and the mailbox's refresh token.
#[derive(Debug, Clone)]
pub struct GoogleCredentials {
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret (never logged).
    pub client_secret: SecretString,
    /// The long-lived refresh token (never logged).
    pub refresh_token: SecretString,
    /// The token endpoint (Google's, or a fake server's in tests).
    pub token_url: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default = "default_expiry")]
    expires_in: u64,
}

fn default_expiry() -> u64 {
    3599
}

#[derive(Debug)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// Access tokens for the configured mailbox.
#[derive(Debug)]
pub struct GoogleAuth {
    client: VendorClient,
    credentials: GoogleCredentials,
    cached: Mutex<Option<Cached>>,
    refreshes: AtomicU64,
}

impl GoogleAuth {
    /// # Errors
    /// [`VendorFailure`] when the HTTP client cannot be built.
    pub fn new(credentials: GoogleCredentials, timeout: Duration) -> Result<Self, VendorFailure> {
        let client = VendorClient::new(
            "Google OAuth",
            "google_oauth",
            &credentials.token_url,
            timeout,
        )?;
        Ok(Self {
            client,
            credentials,
            cached: Mutex::new(None),
            refreshes: AtomicU64::new(0),
        })
    }

    /// How many refresh grants were made (for tests and logs).
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// A valid access token; refreshes when needed. Concurrent callers wait
    /// for the same refresh.
    ///
    /// # Errors
    /// [`VendorFailure`]: `invalid_grant` and `invalid_client` are permanent
    /// configuration errors; outages are transient.
    pub async fn token(&self) -> Result<SecretString, VendorFailure> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let fresh = self.refresh().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `stale` (after a 401), unless another caller already replaced it.
    pub async fn invalidate(&self, stale: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == stale.expose_secret())
        {
            *cached = None;
        }
    }

    async fn refresh(&self) -> Result<Cached, VendorFailure> {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let c = &self.credentials;
        let form = [
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.expose_secret()),
            ("refresh_token", c.refresh_token.expose_secret()),
            ("grant_type", "refresh_token"),
        ];
        let req = self.client.request(Method::POST, "").form(&form);
        let response = match self.client.send_idempotent(req, TOKEN_REFRESH).await {
            Ok(r) => r,
            Err(f)
                if f.message.contains("invalid_grant")
                    || f.message.contains("expired or revoked") =>
            {
                return Err(VendorFailure::credentials(
                    "Google refused the refresh token (invalid_grant): the mailbox must be authorised again; set a new GOOGLE_REFRESH_TOKEN",
                )
                .with_status(f.status.unwrap_or(400)));
            }
            Err(f)
                if f.message.contains("invalid_client")
                    || f.message.contains("unauthorized_client") =>
            {
                return Err(VendorFailure::credentials(
                    "Google rejected GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET (invalid_client)",
                ));
            }
            Err(f) => return Err(f),
        };
        let body: TokenResponse = self.client.json(response).await?;
        // Vendor data: a zero, negative-as-huge or absurd lifetime must not
        // overflow the clock arithmetic below (or refresh on every call).
        let lifetime =
            Duration::from_secs(body.expires_in.clamp(MIN_LIFETIME_SECS, MAX_LIFETIME_SECS))
                .saturating_sub(EARLY)
                .max(Duration::from_secs(MIN_LIFETIME_SECS / 2));
        Ok(Cached {
            token: SecretString::from(body.access_token),
            refresh_at: Instant::now() + lifetime,
        })
    }
}

/// A Google API endpoint called with the mailbox's token.
#[derive(Debug, Clone)]
pub struct GoogleApi {
    /// The HTTP client for this API.
    pub client: VendorClient,
    /// Where its access tokens come from.
    pub auth: Arc<GoogleAuth>,
}

impl GoogleApi {
    /// Sends `build(token)`; on a 401, refreshes the token once and retries once.
    ///
    /// # Errors
    /// [`VendorFailure`].
    pub async fn send(
        &self,
        op: Op,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<Response, VendorFailure> {
        let token = self.auth.token().await?;
        match self.client.send(build(token.expose_secret()), op).await {
            Err(f) if f.status == Some(401) => {
                self.auth.invalidate(&token).await;
                let token = self.auth.token().await?;
                self.client.send(build(token.expose_secret()), op).await.map_err(|f| {
                    if f.status == Some(401) {
                        VendorFailure::credentials(format!("{}: still unauthorised after a token refresh (check the OAuth scopes)", self.client.vendor))
                            .with_status(401)
                    } else {
                        f
                    }
                })
            }
            other => other,
        }
    }

    /// [`Self::call`] for a read: transient failures are retried inline
    /// (see [`VendorClient::send_idempotent`]).
    ///
    /// # Errors
    /// The last [`VendorFailure`].
    pub async fn read<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<T, VendorFailure> {
        crate::http::client::retry_inline(|| self.call(op, &build)).await
    }

    /// [`Self::send`] and parse JSON.
    ///
    /// # Errors
    /// [`VendorFailure`].
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<T, VendorFailure> {
        let response = self.send(op, build).await?;
        self.client.json(response).await
    }
}
