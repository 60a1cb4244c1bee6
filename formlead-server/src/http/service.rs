//! `/healthz`, `/readyz`, `/metrics`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// How long `/readyz` and `/metrics` wait for the store. A database that
/// cannot be reached would otherwise hold them for the pool's connection
/// timeout (10 s), longer than a probe or a scrape usually waits.
const STORE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn readyz(State(state): State<AppState>) -> Response {
    let ping = state.engine.ports().store.ping();
    let error = match tokio::time::timeout(STORE_PROBE_TIMEOUT, ping).await {
        Ok(Ok(())) => {
            return Json(json!({"status": "ready", "store": state.store_kind})).into_response();
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!(
            "the store did not answer within {} s",
            STORE_PROBE_TIMEOUT.as_secs()
        ),
    };
    tracing::warn!(error = %error, "readiness check failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "store": state.store_kind})),
    )
        .into_response()
}

/// Prometheus text. With an operator token configured, it needs the token
/// as a bearer token (Prometheus' `authorization` setting).
pub async fn metrics(State(state): State<AppState>, parts: axum::http::request::Parts) -> Response {
    if let Some(token) = &state.settings.operator_token
        && !super::auth::bearer(&parts).is_some_and(|t| super::auth::is_token(token, t))
    {
        let mut r = super::errors::ApiError::unauthorized(
            "metrics need the operator token (Authorization: Bearer …)",
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    // The gauges read from the store; without an answer in time they keep
    // their last values and the counters are served anyway.
    let ports = state.engine.ports();
    let gauges = async {
        if let Ok(by_status) = ports.store.workflow_counts().await {
            let depth = ports.queue.depth().await.ok();
            let dead = ports.queue.dead().await.ok().flatten();
            crate::metrics::set_store_gauges(&by_status, depth, dead);
        }
    };
    if tokio::time::timeout(STORE_PROBE_TIMEOUT, gauges)
        .await
        .is_err()
    {
        tracing::warn!(
            "metrics: the store did not answer within {} s; store gauges keep their last values",
            STORE_PROBE_TIMEOUT.as_secs()
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
