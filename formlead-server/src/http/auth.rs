//! Operator authentication. With `FORMLEAD_OPERATOR_TOKEN` set, operator
//! routes need `Authorization: Bearer <token>` or the session cookie the
//! login page sets (HttpOnly, SameSite=Strict); state-changing requests
//! made with the cookie also need the `X-CSRF-Token` the pages carry.
//! Without a token (loopback only), operator routes are open.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::AppState;
use super::errors::ApiError;

pub const SESSION_COOKIE: &str = "formlead_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions last twelve hours.
pub const SESSION_SECS: i64 = 12 * 3600;

/// An authenticated operator (the name goes into the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    /// The CSRF token for pages to embed (cookie sessions only).
    pub csrf: Option<String>,
}

fn mac(token: &SecretString, parts: &[&str]) -> String {
    let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(token.expose_secret().as_bytes())
    else {
        return String::new();
    };
    for p in parts {
        m.update(p.as_bytes());
        m.update(b"\n");
    }
    hex::encode(m.finalize().into_bytes())
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Keeps operator names printable and short.
pub fn clean_name(raw: &str) -> String {
    let n: String = raw
        .chars()
        .filter(|c| c.is_alphanumeric() || " ._@-".contains(*c))
        .take(64)
        .collect();
    let n = n.trim().to_owned();
    if n.is_empty() {
        "operator".to_owned()
    } else {
        n
    }
}

/// A session cookie value for `name`: `name|expiry|mac`.
pub fn session_value(token: &SecretString, name: &str) -> String {
    let name = clean_name(name).replace('|', "");
    let expires = (Utc::now().timestamp() + SESSION_SECS).to_string();
    let sig = mac(token, &["session", &name, &expires]);
    format!("{name}|{expires}|{sig}")
}

/// The operator name of a valid, unexpired session cookie.
pub fn verify_session(token: &SecretString, value: &str) -> Option<String> {
    let mut parts = value.split('|');
    let (name, expires, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !same(sig, &mac(token, &["session", name, expires])) {
        return None;
    }
    (expires.parse::<i64>().ok()? > Utc::now().timestamp()).then(|| name.to_owned())
}

/// The CSRF token bound to a session cookie.
pub fn csrf_for(token: &SecretString, session: &str) -> String {
    mac(token, &["csrf", session])
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

/// Refuses state-changing requests a browser sent from another site
/// (`Sec-Fetch-Site`, or an `Origin` whose host is not ours). API clients
/// such as curl send neither header and are unaffected.
pub fn check_same_origin(parts: &Parts) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let forbidden = || {
        ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "cross-site request refused",
        )
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    // Browsers that send Sec-Fetch-Site say exactly where the request came
    // from; trust it (their Origin may be "null" under a strict referrer
    // policy, even for same-origin form posts).
    if let Some(site) = header("sec-fetch-site") {
        return if matches!(site, "same-origin" | "none") {
            Ok(())
        } else {
            Err(forbidden())
        };
    }
    if let (Some(origin), Some(host)) = (header("origin"), header("host")) {
        let origin_host = origin
            .split("://")
            .nth(1)
            .unwrap_or(origin)
            .trim_end_matches('/');
        if origin != "null" && !origin_host.eq_ignore_ascii_case(host) {
            return Err(forbidden());
        }
    }
    Ok(())
}

/// How a request is authenticated, if at all.
pub fn authenticate(state: &AppState, parts: &Parts) -> Result<Operator, ApiError> {
    check_same_origin(parts)?;
    let Some(token) = &state.settings.operator_token else {
        let name = parts
            .headers
            .get("x-operator")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "operator".to_owned(), clean_name);
        return Ok(Operator { name, csrf: None });
    };
    if let Some(auth) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let bearer = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "));
        return match bearer {
            Some(candidate) if is_token(token, candidate) => {
                let name = parts
                    .headers
                    .get("x-operator")
                    .and_then(|v| v.to_str().ok())
                    .map_or_else(|| "api".to_owned(), clean_name);
                Ok(Operator { name, csrf: None })
            }
            _ => Err(ApiError::unauthorized("invalid operator token")),
        };
    }
    let session = cookie(parts, SESSION_COOKIE).ok_or_else(|| {
        ApiError::unauthorized("operator token required (Authorization: Bearer …)")
    })?;
    let name = verify_session(token, &session)
        .ok_or_else(|| ApiError::unauthorized("session expired; log in again"))?;
    let csrf = csrf_for(token, &session);
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let given = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(given, &csrf) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "missing or invalid CSRF token",
            ));
        }
    }
    Ok(Operator {
        name,
        csrf: Some(csrf),
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
    fn sessions_verify_and_cannot_be_forged() {
        let token = SecretString::from("0123456789abcdef-token");
        let v = session_value(&token, "Alice <script>");
        assert_eq!(verify_session(&token, &v).as_deref(), Some("Alice script"));
        assert_eq!(
            verify_session(&SecretString::from("another-token-123456"), &v),
            None
        );
        let forged = v.replacen("Alice script", "Mallory", 1);
        assert_eq!(verify_session(&token, &forged), None);
        let mut parts: Vec<&str> = v.split('|').collect();
        let past = (Utc::now().timestamp() - 1).to_string();
        parts[1] = &past;
        assert_eq!(
            verify_session(&token, &parts.join("|")),
            None,
            "expiry is signed"
        );
        assert_ne!(csrf_for(&token, &v), csrf_for(&token, "other"));
        assert!(is_token(&token, " 0123456789abcdef-token "));
        assert!(!is_token(&token, "0123456789abcdef-toke"));
    }
}
