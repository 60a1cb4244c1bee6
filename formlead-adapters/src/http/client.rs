//! A vendor HTTP client: base URL, timeout, the vendor account's budget,
//! JSON in and out, classified failures, inline retries of idempotent
//! calls, and metrics per operation.
//!
//! A 429 never reaches the workflow as long as the vendor's wait is short:
//! the client pauses the budget (for every process sharing it) for the
//! vendor's `Retry-After` and sends the call again, so a lead does not spend
//! one of its attempts on a rate limit.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use formlead_core::ports::Retry;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::failure::{VendorFailure, classify, malformed, transport};
use crate::budget::{self, Budget};

/// The counter of calls to vendor APIs, by `vendor`, `operation` and `outcome`.
pub const VENDOR_CALLS_METRIC: &str = "formlead_vendor_calls_total";
/// The counter of 429 answers, by `vendor`.
pub const VENDOR_429_METRIC: &str = "formlead_vendor_rate_limited_total";
/// Histogram of vendor call durations (to the response's headers), by
/// vendor, operation and outcome.
pub const VENDOR_DURATION_METRIC: &str = "formlead_vendor_call_duration_seconds";

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
/// A call answered 429 is sent again (after the pause) at most this often,
/// and only when the vendor's wait is at most [`MAX_INLINE_RETRY_AFTER`];
/// a longer wait is left to the workflow's durable retry.
pub const MAX_429_RETRIES: u32 = 3;

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

/// Runs `attempt` again after a transient failure, as an idempotent call
/// may be: up to [`INLINE_RETRIES`] times, jittered exponential back-off from
/// [`INLINE_FIRST_DELAY`], honouring a `Retry-After` of up to
/// [`MAX_INLINE_RETRY_AFTER`].
///
/// # Errors
/// The last [`VendorFailure`].
pub(crate) async fn retry_inline<T, F, Fut>(attempt: F) -> Result<T, VendorFailure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, VendorFailure>>,
{
    attempt
        .retry(inline_backoff())
        .when(|f: &VendorFailure| matches!(f.retry, Retry::Later { .. }))
        .adjust(inline_wait)
        .notify(|f: &VendorFailure, wait: Duration| {
            tracing::debug!(error = %f.message, wait_ms = wait.as_millis() as u64, "retrying an idempotent call inline");
        })
        .await
}

/// `req` with `body` as its JSON body, if there is one.
fn with_body<B: Serialize + ?Sized>(req: RequestBuilder, body: Option<&B>) -> RequestBuilder {
    match body {
        Some(b) => req.json(b),
        None => req,
    }
}

/// One kind of call: its name in metrics and its cost in the vendor
/// budget's units (1 for HubSpot; Gmail's quota units per method).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Op {
    /// The operation's name, for metrics and logs (`create_draft`).
    pub name: &'static str,
    /// What one call costs against the vendor's budget (Gmail quota units; 1 elsewhere).
    pub cost: f64,
}

impl Op {
    /// An operation `name` costing `cost` budget units.
    pub const fn new(name: &'static str, cost: f64) -> Self {
        Self { name, cost }
    }
}

/// One vendor's HTTP endpoint.
#[derive(Debug, Clone)]
pub struct VendorClient {
    /// The vendor's name in messages (`HubSpot`, `Google Calendar`).
    pub vendor: &'static str,
    /// The vendor's name in metrics (`hubspot`, `google_calendar`).
    pub label: &'static str,
    /// The API's base URL.
    pub base: String,
    /// The shared HTTP client.
    pub http: reqwest::Client,
    /// The account's budget; `None` for calls that are not rate-limited.
    pub budget: Option<Arc<dyn Budget>>,
    /// Back-off for a 429 without `Retry-After`.
    pub default_429: Option<Duration>,
}

impl VendorClient {
    /// # Errors
    /// [`VendorFailure`] when the TLS/HTTP client cannot be built.
    pub fn new(
        vendor: &'static str,
        label: &'static str,
        base: &str,
        timeout: Duration,
    ) -> Result<Self, VendorFailure> {
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
            label,
            base: base.trim_end_matches('/').to_owned(),
            http,
            budget: None,
            default_429: None,
        })
    }

    #[must_use]
    /// Calls wait for `budget` before they go out.
    pub fn with_budget(mut self, budget: Arc<dyn Budget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request of `method` to `path`.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Waits for `op`'s share of the budget (no wait without a budget).
    pub async fn reserve(&self, op: Op) {
        if let Some(b) = &self.budget {
            budget::acquire(b.as_ref(), op.cost).await;
        }
    }

    /// Waits for the budget and sends; a 429 pauses the budget for the
    /// vendor's `Retry-After` and sends again (up to [`MAX_429_RETRIES`]
    /// times). Returns the response if it is a success.
    ///
    /// # Errors
    /// [`VendorFailure`]: transport errors and error statuses, classified.
    pub async fn send(&self, req: RequestBuilder, op: Op) -> Result<Response, VendorFailure> {
        self.reserve(op).await;
        self.send_reserved(req, op).await
    }

    /// [`Self::send`] for a call whose budget was already reserved (a batch
    /// waits for its budget before it is put together).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn send_reserved(
        &self,
        req: RequestBuilder,
        op: Op,
    ) -> Result<Response, VendorFailure> {
        // Every request formlead makes has a buffered body, so it can be
        // sent again; one that could not is sent once.
        let Some(mut next) = req.try_clone() else {
            return self.send_once(req, op).await;
        };
        let mut attempt = 0;
        loop {
            let result = self.send_once(next, op).await;
            let (Err(f), Some(budget)) = (&result, &self.budget) else {
                return result;
            };
            if f.status != Some(429) || attempt >= MAX_429_RETRIES {
                return result;
            }
            let pause = match f.retry {
                Retry::Later { after: Some(a) } => a,
                _ => self.default_429.unwrap_or(Duration::from_secs(1)),
            };
            if pause > MAX_INLINE_RETRY_AFTER {
                // Still pause everyone: the vendor said so.
                budget.pause(pause).await;
                return result;
            }
            tracing::warn!(
                vendor = self.vendor,
                operation = op.name,
                pause_ms = pause.as_millis() as u64,
                "rate limited (429): pausing the vendor budget and sending again"
            );
            budget.pause(pause).await;
            budget::acquire(budget.as_ref(), op.cost).await;
            attempt += 1;
            next = match req.try_clone() {
                Some(r) => r,
                None => return result,
            };
        }
    }

    async fn send_once(&self, req: RequestBuilder, op: Op) -> Result<Response, VendorFailure> {
        let started = std::time::Instant::now();
        let result = req.send().await;
        let took = started.elapsed();
        let outcome = match &result {
            Ok(r) if r.status().is_success() => "ok",
            Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            Ok(r) if r.status().is_server_error() => "server_error",
            Ok(_) => "client_error",
            Err(e) if e.is_timeout() => "timeout",
            Err(_) => "transport_error",
        };
        metrics::counter!(VENDOR_CALLS_METRIC, "vendor" => self.label, "operation" => op.name, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(VENDOR_DURATION_METRIC, "vendor" => self.label, "operation" => op.name, "outcome" => outcome)
            .record(took.as_secs_f64());
        if outcome == "rate_limited" {
            metrics::counter!(VENDOR_429_METRIC, "vendor" => self.label).increment(1);
        }
        let response = result.map_err(|e| transport(self.vendor, &e))?;
        self.heed_rate_limit_headers(response.headers()).await;
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

    /// HubSpot says how much of its window is left
    /// (`X-HubSpot-RateLimit-Remaining`, `-Interval-Milliseconds`): when
    /// nothing is, the budget pauses for a tenth of the window (at most a
    /// second) rather than let the next call collect a 429. This catches
    /// calls the budget does not see (another integration on the same app).
    async fn heed_rate_limit_headers(&self, headers: &reqwest::header::HeaderMap) {
        let Some(budget) = &self.budget else {
            return;
        };
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if number("x-hubspot-ratelimit-remaining") == Some(0) {
            let interval = number("x-hubspot-ratelimit-interval-milliseconds").unwrap_or(10_000);
            let pause = Duration::from_millis(interval / 10).min(Duration::from_secs(1));
            tracing::debug!(
                vendor = self.vendor,
                pause_ms = pause.as_millis() as u64,
                "the vendor's window is spent: pausing the budget"
            );
            budget.pause(pause).await;
        }
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
        op: Op,
    ) -> Result<Response, VendorFailure> {
        retry_inline(|| async { self.send(self.repeat(&req)?, op).await }).await
    }

    fn repeat(&self, req: &RequestBuilder) -> Result<RequestBuilder, VendorFailure> {
        req.try_clone().ok_or_else(|| {
            VendorFailure::permanent(format!("{}: the request cannot be repeated", self.vendor))
        })
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
        op: Op,
    ) -> Result<T, VendorFailure> {
        let response = self.send(with_body(req, body), op).await?;
        self.json(response).await
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
        op: Op,
    ) -> Result<T, VendorFailure> {
        let req = with_body(req, body);
        retry_inline(|| async {
            let response = self.send(self.repeat(&req)?, op).await?;
            self.json(response).await
        })
        .await
    }
}
