//! One error type for JSON responses; internals are logged, never returned.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use formlead_core::orchestrator::ActionError;
use formlead_core::ports::StoreError;
use serde_json::json;

/// An API error: status plus a JSON body `{"error": …, …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": message.into() }),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(message: impl Into<String>, field: Option<&str>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": message.into(), "field": field }),
            retry_after_secs: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// A 500 that says nothing about the cause (which is logged).
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, .. } => Self::not_found(what),
            StoreError::Conflict(c) => Self::new(StatusCode::CONFLICT, c.to_string()),
            other => Self::internal(&other),
        }
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound { what, .. } => Self::not_found(what),
            ActionError::Conflict(c) => Self::new(StatusCode::CONFLICT, c.to_string()),
            ActionError::Refused(r) => Self::new(
                StatusCode::FORBIDDEN,
                format!("send refused by policy: {}", r.reason),
            ),
            ActionError::SendFailed(e) if e.is_transient() => {
                tracing::warn!(error = %e, "send failed; the operator can approve again");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    body: json!({"error": "the mail service is unavailable; approve again to retry the send"}),
                    retry_after_secs: Some(30),
                }
            }
            ActionError::SendFailed(e) => Self::new(
                StatusCode::BAD_GATEWAY,
                format!("the mail service refused the send: {e}"),
            ),
            ActionError::Store(e) => Self::from(e),
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
