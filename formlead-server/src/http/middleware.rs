//! Cross-cutting request handling: request ids a client may not forge into
//! the logs, `Cache-Control: no-store` on everything that shows personal
//! data, and a read timeout on operator request bodies.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::errors::ApiError;

pub const REQUEST_ID: &str = "x-request-id";

/// Largest operator or login request body (a reject reason, a login form).
pub const OPERATOR_BODY_LIMIT: usize = 64 * 1024;

/// Whether a client-supplied request id may be used: 1–64 characters of
/// `[A-Za-z0-9._-]`.
pub fn valid_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drops an `x-request-id` that is not a plain token, so a fresh one
/// replaces it (a client cannot inject text into the logs through it).
pub async fn sanitize_request_id(mut request: Request, next: Next) -> Response {
    let invalid = request
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .any(|v| !valid_request_id(v.as_bytes()))
        || request.headers().get_all(REQUEST_ID).iter().count() > 1;
    if invalid {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

/// `Cache-Control: no-store`: pages and API answers with leads in them must
/// not be kept by browsers or proxies.
pub async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Reads an operator request's body within `FORMLEAD_REQUEST_TIMEOUT_MS`
/// (408 otherwise) and at most [`OPERATOR_BODY_LIMIT`] bytes (413), so a
/// client trickling a body cannot hold a handler.
pub async fn bounded_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.settings.request_timeout;
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(limit, axum::body::to_bytes(body, OPERATOR_BODY_LIMIT)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {OPERATOR_BODY_LIMIT} bytes"),
        )
        .into_response(),
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Times each request of a matched route:
/// `formlead_http_request_duration_seconds` by route (its pattern, e.g.
/// `/api/dashboard/workflows/{id}`) and status class (`2xx` … `5xx`).
pub async fn request_metrics(
    route: Option<axum::extract::MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.map_or_else(|| "unmatched".to_owned(), |r| r.as_str().to_owned());
    crate::metrics::http_request(route, response.status(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(valid_request_id(b"abc-123_x.y"));
        assert!(valid_request_id(&[b'a'; 64]));
        assert!(!valid_request_id(&[b'a'; 65]));
        assert!(!valid_request_id(b""));
        assert!(!valid_request_id(b"a b"));
        assert!(!valid_request_id(b"a\nforged=1"));
        assert!(!valid_request_id("é".as_bytes()));
    }
}
