//! Operator authentication. With `FORMLEAD_OPERATOR_TOKEN` set, operator
//! routes need `Authorization: Bearer <token>` or a dashboard session (a
//! random id in an HttpOnly, SameSite=Strict cookie; see [`super::sessions`]);
//! state-changing requests made with the cookie also need the session's
//! `X-CSRF-Token`. Without a token (development on loopback only), operator
//! routes answer only requests addressed to a loopback host name, so a web
//! page cannot reach them through DNS rebinding.
//!
//! The audit trail's actor comes from the session (the name given at
//! login), the token (`api`) or the open loopback mode (`operator`), never
//! from a header the client sets.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::AppState;
use super::errors::ApiError;

pub const SESSION_COOKIE: &str = "formlead_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated operator (the name goes into the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    /// The CSRF token for pages to embed (cookie sessions only).
    pub csrf: Option<String>,
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Keeps operator names printable and short (any script: `Jörg`, `Zoë`).
pub fn clean_name(raw: &str) -> String {
    let n: String = raw
        .chars()
        .filter(|c| c.is_alphanumeric() || " ._@-'".contains(*c))
        .take(64)
        .collect();
    let n = n.trim().to_owned();
    if n.is_empty() {
        "operator".to_owned()
    } else {
        n
    }
}

/// Whether `candidate` is the operator token.
pub fn is_token(token: &SecretString, candidate: &str) -> bool {
    same(candidate.trim(), token.expose_secret())
}

pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The bearer token of `Authorization`, if the header is a bearer one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let auth = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(value)
}

/// Refuses state-changing requests a browser sent from another site
/// (`Sec-Fetch-Site`, or an `Origin` that is not ours; `Origin: null`, as
/// a sandboxed frame or a `data:` page sends, is not ours either). API
/// clients such as curl send neither header and are unaffected.
pub fn check_same_origin(parts: &Parts) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let forbidden = || ApiError::new(StatusCode::FORBIDDEN, "cross-site request refused");
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    // Browsers that send Sec-Fetch-Site say exactly where the request came from.
    if let Some(site) = header("sec-fetch-site") {
        return if matches!(site, "same-origin" | "none") {
            Ok(())
        } else {
            Err(forbidden())
        };
    }
    if let Some(origin) = header("origin") {
        let origin_host = origin
            .split("://")
            .nth(1)
            .unwrap_or(origin)
            .trim_end_matches('/');
        let ours = request_host(parts).is_some_and(|host| origin_host.eq_ignore_ascii_case(host));
        if origin == "null" || !ours {
            return Err(forbidden());
        }
    }
    Ok(())
}

/// The host the request was addressed to (`Host`, or the HTTP/2 authority).
fn request_host(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

/// Whether `host` (with or without a port) names this machine's loopback:
/// `127.0.0.1`, `localhost` or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, port)) if port.is_empty() || port.starts_with(':') => inside,
            _ => return false,
        }
    } else {
        host.split(':').next().unwrap_or(host)
    };
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "::1"
}

/// How a request is authenticated, if at all.
pub fn authenticate(state: &AppState, parts: &Parts) -> Result<Operator, ApiError> {
    check_same_origin(parts)?;
    let Some(token) = &state.settings.operator_token else {
        // Open mode (development on loopback): only for requests that were
        // addressed to loopback, which a rebinding page's are not.
        if !request_host(parts).is_some_and(is_loopback_host) {
            return Err(ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "without FORMLEAD_OPERATOR_TOKEN the operator routes answer only http://127.0.0.1, http://localhost or http://[::1]",
            ));
        }
        return Ok(Operator {
            name: "operator".to_owned(),
            csrf: None,
        });
    };
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return match bearer(parts) {
            Some(candidate) if is_token(token, candidate) => Ok(Operator {
                name: "api".to_owned(),
                csrf: None,
            }),
            _ => Err(ApiError::unauthorized("invalid operator token")),
        };
    }
    let id = cookie(parts, SESSION_COOKIE).ok_or_else(|| {
        ApiError::unauthorized("operator token required (Authorization: Bearer …)")
    })?;
    let session = state
        .sessions
        .get(&id)
        .ok_or_else(|| ApiError::unauthorized("session ended or expired; sign in again"))?;
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let given = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(given, &session.csrf) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing or invalid CSRF token",
            ));
        }
    }
    Ok(Operator {
        name: session.name,
        csrf: Some(session.csrf),
    })
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_names() {
        let token = SecretString::from("0123456789abcdef-token");
        assert!(is_token(&token, " 0123456789abcdef-token "));
        assert!(!is_token(&token, "0123456789abcdef-toke"));
        assert_eq!(clean_name("Alice <script>"), "Alice script");
        assert_eq!(clean_name("Jörg"), "Jörg");
        assert_eq!(clean_name("\u{202e}"), "operator");
    }

    #[test]
    fn loopback_hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8000",
            "localhost",
            "LOCALHOST:9",
            "[::1]",
            "[::1]:8000",
            "localhost.",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8000",
            "127.0.0.1.evil.example",
            "localhost.evil",
            "[::1]x",
            "10.0.0.1",
            "",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
