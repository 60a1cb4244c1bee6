//! A vendor HTTP client: base URL, timeout, rate limits, JSON in and out,
//! classified failures, and a `vendor_calls` metric.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use formlead_core::ports::Retry;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::failure::{VendorFailure, classify, malformed, transport};
use super::limiter::RateLimiter;

/// The counter of calls to vendor APIs, by `vendor` and `outcome`.
pub const VENDOR_CALLS_METRIC: &str = "formlead_vendor_calls_total";

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Inline retries of an idempotent call (a read, a search, a token
/// refresh) after a transient failure, before the workflow's durable retry
/// (a minute or more away) takes over: a single 502 costs a lead about
/// 200 ms, not a minute.
pub const INLINE_RETRIES: usize = 3;
/// The first inline retry waits about this long; each next one twice as
/// long (jittered): about 200, 400, 800 ms.
pub const INLINE_FIRST_DELAY: Duration = Duration::from_millis(200);
/// A vendor's `Retry-After` up to this long is waited out inline; a longer
/// one is left to the workflow's durable retry.
pub const MAX_INLINE_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The back-off of inline retries.
pub(crate) fn inline_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(INLINE_FIRST_DELAY)
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(INLINE_RETRIES)
        .with_jitter()
}

/// The wait before the next inline retry: the back-off's, or the vendor's
/// `Retry-After` when longer; `None` (give up inline) when the vendor
/// asks for more than [`MAX_INLINE_RETRY_AFTER`].
pub(crate) fn inline_wait(failure: &VendorFailure, backoff: Option<Duration>) -> Option<Duration> {
    match failure.retry {
        Retry::Later { after: Some(after) } if after > MAX_INLINE_RETRY_AFTER => None,
        Retry::Later { after: Some(after) } => backoff.map(|d| d.max(after)),
        _ => backoff,
    }
}

/// One vendor's HTTP endpoint.
#[derive(Debug, Clone)]
pub struct VendorClient {
    pub vendor: &'static str,
    pub base: String,
    pub http: reqwest::Client,
    pub limiters: Vec<Arc<RateLimiter>>,
    /// Back-off for a 429 without `Retry-After`.
    pub default_429: Option<Duration>,
}

impl VendorClient {
    /// # Errors
    /// [`VendorFailure`] when the TLS/HTTP client cannot be built.
    pub fn new(vendor: &'static str, base: &str, timeout: Duration) -> Result<Self, VendorFailure> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("formlead/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                VendorFailure::permanent(format!("{vendor}: cannot build HTTP client: {e}"))
            })?;
        Ok(Self {
            vendor,
            base: base.trim_end_matches('/').to_owned(),
            http,
            limiters: Vec::new(),
            default_429: None,
        })
    }

    #[must_use]
    pub fn with_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiters.push(limiter);
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Waits for the rate limiters (plus `extra`), sends, and returns the
    /// response if it is a success.
    ///
    /// # Errors
    /// [`VendorFailure`]: transport errors and error statuses, classified.
    pub async fn send(
        &self,
        req: RequestBuilder,
        extra: Option<&RateLimiter>,
    ) -> Result<Response, VendorFailure> {
        let mut permits = Vec::with_capacity(self.limiters.len() + 1);
        for l in &self.limiters {
            permits.push(l.acquire().await);
        }
        if let Some(l) = extra {
            permits.push(l.acquire().await);
        }
        let result = req.send().await;
        drop(permits);

        let outcome = match &result {
            Ok(r) if r.status().is_success() => "ok",
            Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            Ok(r) if r.status().is_server_error() => "server_error",
            Ok(_) => "client_error",
            Err(e) if e.is_timeout() => "timeout",
            Err(_) => "transport_error",
        };
        metrics::counter!(VENDOR_CALLS_METRIC, "vendor" => self.vendor, "outcome" => outcome)
            .increment(1);
        let response = result.map_err(|e| transport(self.vendor, &e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Err(classify(
            self.vendor,
            status,
            &headers,
            &body,
            self.default_429,
        ))
    }

    /// [`Self::send`] for an idempotent request (a read, a search, a token
    /// refresh), retried inline after a transient failure: up to
    /// [`INLINE_RETRIES`] times, jittered exponential back-off from
    /// [`INLINE_FIRST_DELAY`], honouring a `Retry-After` of up to
    /// [`MAX_INLINE_RETRY_AFTER`].
    ///
    /// # Errors
    /// The last [`VendorFailure`].
    pub async fn send_idempotent(
        &self,
        req: RequestBuilder,
        extra: Option<&RateLimiter>,
    ) -> Result<Response, VendorFailure> {
        (|| async {
            let attempt = req.try_clone().ok_or_else(|| {
                VendorFailure::permanent(format!("{}: the request cannot be repeated", self.vendor))
            })?;
            self.send(attempt, extra).await
        })
        .retry(inline_backoff())
        .when(|f: &VendorFailure| matches!(f.retry, Retry::Later { .. }))
        .adjust(inline_wait)
        .notify(|f: &VendorFailure, wait: Duration| {
            tracing::debug!(vendor = self.vendor, error = %f.message, wait_ms = wait.as_millis() as u64, "retrying an idempotent call inline");
        })
        .await
    }

    /// [`Self::call`] for an idempotent request, retried inline as
    /// [`Self::send_idempotent`] (a cut-off or malformed answer too).
    ///
    /// # Errors
    /// The last [`VendorFailure`].
    pub async fn call_idempotent<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
        body: Option<&B>,
        extra: Option<&RateLimiter>,
    ) -> Result<T, VendorFailure> {
        let req = match body {
            Some(b) => req.json(b),
            None => req,
        };
        (|| async {
            let attempt = req.try_clone().ok_or_else(|| {
                VendorFailure::permanent(format!("{}: the request cannot be repeated", self.vendor))
            })?;
            let response = self.send(attempt, extra).await?;
            self.json(response).await
        })
        .retry(inline_backoff())
        .when(|f: &VendorFailure| matches!(f.retry, Retry::Later { .. }))
        .adjust(inline_wait)
        .await
    }

    /// Reads a successful response as JSON.
    ///
    /// # Errors
    /// [`VendorFailure`] when the body is cut off or not the expected JSON.
    pub async fn json<T: DeserializeOwned>(&self, response: Response) -> Result<T, VendorFailure> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(self.vendor, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| malformed(self.vendor, &e))
    }

    /// `send` + `json` for a JSON request body.
    ///
    /// # Errors
    /// [`VendorFailure`].
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
        body: Option<&B>,
        extra: Option<&RateLimiter>,
    ) -> Result<T, VendorFailure> {
        let req = match body {
            Some(b) => req.json(b),
            None => req,
        };
        let response = self.send(req, extra).await?;
        self.json(response).await
    }
}
