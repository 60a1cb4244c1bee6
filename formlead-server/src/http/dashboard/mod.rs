//! The operator dashboard: `/dashboard` (leads, tiles, approval queue,
//! auto-refresh), `/dashboard/workflows/{id}`, login/logout, and the two
//! static assets, all served from the binary.

pub mod render;

use axum::Form;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use formlead_core::domain::DraftStatus;

use serde::Deserialize;

use super::AppState;
use super::auth::{self, Operator, SESSION_COOKIE};
use super::operator::{ListQuery, workflow_filter, workflow_id};
use super::sessions::SESSION_TTL;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// An operator on a dashboard page; unauthenticated visitors are sent to
/// the login page (pages) or get 401 (the live partial).
pub struct Viewer(pub Operator);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match auth::authenticate(state, parts) {
            Ok(op) => Ok(Self(op)),
            Err(e)
                if e.status == StatusCode::UNAUTHORIZED
                    && !parts.uri.path().starts_with("/dashboard/partials") =>
            {
                Err(Redirect::to("/dashboard/login").into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

fn page(title: &str, viewer: &Viewer, state: &AppState, body: &str) -> Response {
    let signed_in = state
        .settings
        .operator_token
        .is_some()
        .then_some(viewer.0.name.as_str());
    Html(render::layout(
        title,
        viewer.0.csrf.as_deref(),
        signed_in,
        body,
    ))
    .into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(render::layout(
            "Error",
            None,
            None,
            &format!(
                "<h1>{}</h1><p><a href=\"/dashboard\">Back to the dashboard</a></p>",
                formlead_core::html::escape_html(message)
            ),
        )),
    )
        .into_response()
}

async fn live_html(state: &AppState, q: &ListQuery) -> Result<String, Response> {
    let filter = workflow_filter(q).map_err(IntoResponse::into_response)?;
    let store = &state.engine.ports().store;
    let now = Utc::now();
    let midnight = super::operator::midnight_utc(now);
    let internal =
        |e: formlead_core::ports::StoreError| super::errors::ApiError::from(e).into_response();
    let (stats, list, drafts) = futures_util::try_join!(
        store.stats(midnight),
        store.list_workflows(&filter),
        store.list_drafts(Some(DraftStatus::PendingApproval), 20, 0),
    )
    .map_err(internal)?;
    let mut budgets = Vec::with_capacity(state.budgets.len());
    for b in &state.budgets {
        budgets.push(render::BudgetUse {
            label: b.spec().label.clone(),
            backlog: b.backlog().await,
            rate_per_sec: b.spec().rate_per_sec,
        });
    }
    // Leads going cold come first.
    let cold = match state.engine.cold_since(now) {
        Some(since) => {
            let cold = store
                .cold_drafts(since, 10, false)
                .await
                .map_err(internal)?;
            render::cold_banner(&cold, now, (now - since).to_std().unwrap_or_default())
        }
        None => String::new(),
    };
    Ok(format!(
        "{cold}{}",
        render::live(&stats, &list, &filter, &drafts, &budgets)
    ))
}

pub async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter = match workflow_filter(&q) {
        Ok(f) => f,
        Err(e) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                e.body["error"].as_str().unwrap_or("bad filter"),
            );
        }
    };
    let now = Utc::now();
    let activity = state
        .engine
        .ports()
        .store
        .activity(now - chrono::Duration::hours(24))
        .await;
    let chart = match activity {
        Ok(a) => render::chart::svg(&render::chart::hours(&a, now)),
        Err(e) => return super::errors::ApiError::from(e).into_response(),
    };
    match live_html(&state, &q).await {
        Ok(live) => page(
            "Leads",
            &viewer,
            &state,
            &render::index(&live, &filter, &state.voice, &chart),
        ),
        Err(r) => r,
    }
}

pub async fn live(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Response {
    match live_html(&state, &q).await {
        Ok(html) => Html(html).into_response(),
        Err(r) => r,
    }
}

pub async fn workflow(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = workflow_id(&id) else {
        return error_page(StatusCode::BAD_REQUEST, "That is not a workflow id.");
    };
    match state.engine.workflow_detail(id).await {
        Ok(Some(d)) => page(
            &format!("Lead {}", d.workflow.prospect_email),
            &viewer,
            &state,
            &render::workflow::page(&d),
        ),
        Ok(None) => error_page(StatusCode::NOT_FOUND, "No such workflow."),
        Err(e) => super::errors::ApiError::from(e).into_response(),
    }
}

pub async fn login_form(State(state): State<AppState>) -> Response {
    if state.settings.operator_token.is_none() {
        return Redirect::to("/dashboard").into_response();
    }
    Html(render::layout("Sign in", None, None, &render::login(None))).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    name: String,
}

pub async fn login(
    State(state): State<AppState>,
    parts: RequestParts,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(e) = auth::check_same_origin(&parts.0) {
        return e.into_response();
    }
    let Some(token) = &state.settings.operator_token else {
        return Redirect::to("/dashboard").into_response();
    };
    let client = parts.client_ip(&state);
    if let Err(retry) = state.login_throttle.check(client) {
        tracing::warn!(%client, "dashboard login refused: too many failed attempts");
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Html(render::layout(
                "Sign in",
                None,
                None,
                &render::login(Some(&format!(
                    "Too many failed sign-ins from here; try again in {retry} s."
                ))),
            )),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    if !auth::is_token(token, &form.token) {
        state.login_throttle.failed(client);
        tracing::warn!(%client, "dashboard login refused: wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            Html(render::layout(
                "Sign in",
                None,
                None,
                &render::login(Some("That token is not right.")),
            )),
        )
            .into_response();
    }
    state.login_throttle.succeeded(client);
    let name = auth::clean_name(&form.name);
    let value = state.sessions.start(&name);
    let secure = state
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    tracing::info!(operator = %name, %client, "operator signed in");
    let mut r = Redirect::to("/dashboard").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub async fn logout(State(state): State<AppState>, parts: RequestParts) -> Response {
    if let Err(e) = auth::check_same_origin(&parts.0) {
        return e.into_response();
    }
    if let Some(id) = auth::cookie(&parts.0, SESSION_COOKIE) {
        state.sessions.end(&id);
    }
    let mut r = Redirect::to("/dashboard/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("formlead_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// The request head, for handlers that also take a body.
pub struct RequestParts(pub Parts);

impl RequestParts {
    /// The client's address (see [`super::client_ip`]).
    fn client_ip(&self, state: &AppState) -> std::net::IpAddr {
        let peer = self
            .0
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        super::client_ip::client_ip(peer, &self.0.headers, &state.settings.trusted_proxies)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.clone()))
    }
}

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

pub async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

/// Security headers on every dashboard response: no inline script, no
/// framing, no sniffing, no referrer.
pub async fn security_headers(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
