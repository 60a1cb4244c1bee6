//! `POST /api/webhooks/hubspot/forms`: size → content type → signature →
//! body → durable accept. 202 only after the submission, its workflow and
//! its job are committed together.
//!
//! Everything shares one deadline, `FORMLEAD_REQUEST_TIMEOUT_MS` from the
//! start: a body that does not arrive by then is the sender's fault (408);
//! a commit that cannot be made by then, or fails, is ours (503 with
//! `Retry-After`, which HubSpot retries). A lead that was not stored never
//! gets a 4xx, which HubSpot would not retry.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use formlead_core::domain::FormSubmission;
use formlead_core::orchestrator::AcceptOutcome;
use formlead_core::signature::{
    self, Accept, HEADER_SIGNATURE, HEADER_SIGNATURE_V3, HEADER_SIGNATURE_VERSION,
    HEADER_TIMESTAMP, SignatureError, SignatureHeaders, SignedRequest,
};
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::time::{Instant, timeout_at};
use tracing::{info, warn};

use super::AppState;
use super::errors::ApiError;
use crate::metrics;

pub const PATH: &str = "/api/webhooks/hubspot/forms";

/// Oversized bodies up to this size are read and dropped before the 413.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// `Retry-After` of a 503: the store could not commit; a short wait is
/// usually enough (HubSpot applies its own back-off on top).
const RETRY_AFTER_SECS: u64 = 5;

async fn drain(body: Body, cap: usize) {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut seen = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen > cap {
            break;
        }
    }
}

pub async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, peer, &uri, &headers, body).await {
        Ok(response) => response,
        Err((outcome, error)) => {
            // Signature refusals were counted with their reason already.
            if outcome != "unauthorized" {
                metrics::webhook(outcome);
            }
            error.into_response()
        }
    }
}

type Rejection = (&'static str, ApiError);

fn body_timeout(limit: Duration) -> Rejection {
    (
        "timeout",
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {} ms", limit.as_millis()),
        ),
    )
}

/// The lead was not stored: 503, retry later.
fn not_stored(message: &str) -> Rejection {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the submission could not be stored right now; retry later",
    );
    e.retry_after_secs = Some(RETRY_AFTER_SECS);
    warn!(error = %message, "webhook not stored; answered 503");
    ("unavailable", e)
}

async fn handle(
    state: &AppState,
    peer: SocketAddr,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Rejection> {
    let limit_time = state.settings.request_timeout;
    let deadline = Instant::now() + limit_time;
    let client = super::client_ip::client_ip(peer.ip(), headers, &state.settings.trusted_proxies);
    if let Some(limiter) = &state.webhook_limiter
        && let Err(retry) = limiter.check(client)
    {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        e.retry_after_secs = Some(retry);
        return Err(("rate_limited", e));
    }

    let limit = state.settings.max_body_bytes;
    let too_large = || {
        (
            "too_large",
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {limit} bytes"),
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Read (and drop) a moderately oversized body before answering, so
        // the client gets the 413 instead of a reset while still sending.
        if declared.is_some_and(|n| n <= DRAIN_LIMIT) {
            let _ = timeout_at(deadline, drain(body, DRAIN_LIMIT)).await;
        }
        return Err(too_large());
    }

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" {
        return Err((
            "unsupported_media_type",
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content type must be application/json",
            ),
        ));
    }

    let raw = timeout_at(deadline, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| body_timeout(limit_time))?
        .map_err(|_| too_large())?;

    let url = signed_url(state.settings.public_url.as_deref(), headers, uri);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = SignedRequest {
        method: "POST",
        uri: &url,
        body: &raw,
        headers: SignatureHeaders {
            signature_v3: header(HEADER_SIGNATURE_V3),
            timestamp: header(HEADER_TIMESTAMP),
            signature: header(HEADER_SIGNATURE),
            version: header(HEADER_SIGNATURE_VERSION),
        },
    };
    let secret = state
        .settings
        .webhook_secret
        .secret
        .expose_secret()
        .as_bytes();
    let accept = if state.settings.require_signature_v3 {
        Accept::V3Only
    } else {
        Accept::AnyVersion
    };
    let now_ms = Utc::now().timestamp_millis();
    if let Err(e) = signature::verify_accepting(&signed, secret, now_ms, accept) {
        metrics::webhook_refused(e.reason());
        if let SignatureError::StaleTimestamp { skew_ms } = e {
            warn!(
                reason = e.reason(), skew_ms, %client, %url,
                "webhook refused: the request timestamp is {} ms {} this server's clock",
                skew_ms.unsigned_abs(),
                if skew_ms >= 0 { "behind" } else { "ahead of" }
            );
        } else {
            warn!(reason = e.reason(), error = %e, %client, %url, "webhook refused: signature");
        }
        return Err(("unauthorized", ApiError::unauthorized(e.to_string())));
    }

    let submission = FormSubmission::from_webhook_body(&raw, Utc::now())
        .map_err(|e| ("invalid", ApiError::bad_request(e.to_string(), e.field())))?;

    let accepted = timeout_at(deadline, state.engine.accept(&submission))
        .await
        .map_err(|_| {
            not_stored(&format!(
                "the store did not commit within {} ms",
                limit_time.as_millis()
            ))
        })?;
    match accepted {
        Ok(AcceptOutcome::Accepted(ids)) => {
            metrics::webhook("accepted");
            info!(workflow_id = %ids.workflow_id, form_submission_id = %submission.form_submission_id, "webhook accepted");
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"status": "accepted", "submission_id": ids.submission_id, "workflow_id": ids.workflow_id})),
            )
                .into_response())
        }
        Ok(AcceptOutcome::Linked(ids)) => {
            metrics::webhook("linked");
            info!(workflow_id = %ids.workflow_id, form_submission_id = %submission.form_submission_id, "webhook accepted; joins the prospect's open reply");
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"status": "linked", "submission_id": ids.submission_id, "workflow_id": ids.workflow_id})),
            )
                .into_response())
        }
        Ok(AcceptOutcome::Duplicate(ids)) => {
            metrics::webhook("duplicate");
            Ok((
                StatusCode::CONFLICT,
                Json(json!({"status": "duplicate", "submission_id": ids.submission_id, "workflow_id": ids.workflow_id})),
            )
                .into_response())
        }
        Err(e) => Err(not_stored(&e.to_string())),
    }
}

/// The URL HubSpot signed: `FORMLEAD_PUBLIC_URL` + path and query when set,
/// otherwise rebuilt from `X-Forwarded-Proto` (default http) and `Host`.
pub fn signed_url(public_url: Option<&str>, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    if let Some(base) = public_url {
        return format!("{}{path_and_query}", base.trim_end_matches('/'));
    }
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let proto = first("x-forwarded-proto").unwrap_or_else(|| "http".to_owned());
    let host = first("host")
        .or_else(|| uri.host().map(str::to_owned))
        .unwrap_or_default();

    format!("{proto}://{host}{path_and_query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_url_prefers_the_public_url() {
        let mut h = HeaderMap::new();
        h.insert("host", "internal:8000".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        let uri: axum::http::Uri = "/api/webhooks/hubspot/forms?a=%3A1".parse().unwrap();
        assert_eq!(
            signed_url(Some("https://hooks.example.com/"), &h, &uri),
            "https://hooks.example.com/api/webhooks/hubspot/forms?a=%3A1"
        );
        assert_eq!(
            signed_url(None, &h, &uri),
            "https://internal:8000/api/webhooks/hubspot/forms?a=%3A1"
        );
        h.remove("x-forwarded-proto");
        assert_eq!(
            signed_url(None, &h, &uri),
            "http://internal:8000/api/webhooks/hubspot/forms?a=%3A1"
        );
    }
}
