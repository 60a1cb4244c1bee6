//! HTTP: the webhook receiver, the operator API and dashboard, service routes.

pub mod auth;
mod bounded;
pub mod client_ip;
pub mod dashboard;

pub mod errors;
mod login_throttle;
pub mod middleware;
pub mod operator;
pub mod rate_limit;
pub mod service;
pub mod sessions;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use formlead_core::orchestrator::Engine;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use errors::ApiError;
use rate_limit::IpRateLimiter;

/// What handlers share: a cheap handle (one reference count per request,
/// not one per engine part), read through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The state behind an [`AppState`].
pub struct Shared {
    pub engine: Engine,
    pub settings: Arc<Settings>,
    /// What the store is (`sqlite`, `postgres`, `memory`), for `/readyz`.
    pub store_kind: &'static str,
    pub webhook_limiter: Option<Arc<IpRateLimiter>>,
    pub metrics: PrometheusHandle,
    /// The live vendors' budgets, for the dashboard.
    pub budgets: Vec<Arc<dyn formlead_adapters::budget::Budget>>,
    /// Dashboard sessions of this process.
    pub sessions: sessions::Sessions,
    pub login_throttle: login_throttle::LoginThrottle,
    /// The voice profile replies are written in, as loaded at start.
    pub voice: formlead_core::agents::VoiceProfile,
}

impl AppState {
    pub fn new(
        engine: Engine,
        settings: Arc<Settings>,
        store_kind: &'static str,
        budgets: Vec<Arc<dyn formlead_adapters::budget::Budget>>,
    ) -> Self {
        let webhook_limiter = (settings.webhook_rate_limit > 0)
            .then(|| Arc::new(IpRateLimiter::new(settings.webhook_rate_limit)));
        // The engine's writer was built from the same profile (start-up
        // fails on one that does not load).
        let voice = crate::app::voice_profile(&settings).unwrap_or_default();
        Self(Arc::new(Shared {
            voice,
            engine,
            settings,
            store_kind,
            webhook_limiter,
            metrics: crate::metrics::handle(),
            budgets,
            sessions: sessions::Sessions::default(),
            login_throttle: login_throttle::LoginThrottle::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Every route, with request ids and request tracing.
pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let request_id = req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-").to_owned();
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
    });
    // Pages and answers with leads in them: never cached, bodies bounded.
    let operator = Router::new()
        .route("/dashboard", get(dashboard::index))
        .route("/dashboard/", get(dashboard::index))
        .route("/dashboard/partials/live", get(dashboard::live))
        .route("/dashboard/workflows/{id}", get(dashboard::workflow))
        .route(
            "/dashboard/login",
            get(dashboard::login_form).post(dashboard::login),
        )
        .route("/dashboard/logout", post(dashboard::logout))
        .route("/api/dashboard/workflows", get(operator::list_workflows))
        .route(
            "/api/dashboard/workflows/{id}",
            get(operator::workflow_detail),
        )
        .route(
            "/api/dashboard/workflows/retry-failed",
            post(operator::retry_failed),
        )
        .route("/api/dashboard/workflows/{id}/retry", post(operator::retry))
        .route("/api/dashboard/drafts", get(operator::list_drafts))
        .route(
            "/api/dashboard/drafts/{id}/approve",
            post(operator::approve),
        )
        .route("/api/dashboard/drafts/{id}/reject", post(operator::reject))
        .layer(axum::middleware::from_fn(middleware::no_store))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::bounded_body,
        ));
    let assets = Router::new()
        .route("/dashboard/assets/app.css", get(dashboard::css))
        .route("/dashboard/assets/app.js", get(dashboard::js));
    let dashboard_pages = operator
        .merge(assets)
        .layer(axum::middleware::from_fn(dashboard::security_headers));
    Router::new()
        .merge(dashboard_pages)
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/dashboard") }),
        )
        .route(webhook::PATH, post(webhook::receive))
        .route("/healthz", get(service::healthz))
        .route("/readyz", get(service::readyz))
        .route("/metrics", get(service::metrics))
        .route_layer(axum::middleware::from_fn(middleware::request_metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(middleware::sanitize_request_id))
        .with_state(state)
}
