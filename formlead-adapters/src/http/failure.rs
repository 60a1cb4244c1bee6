//! Vendor failures, classified: 429, 5xx and timeouts are transient (with
//! the vendor's retry-after when given); other 4xx are permanent with the
//! vendor's message kept. Messages never contain credentials.

use std::time::Duration;

use formlead_core::ports::{FromRetry, Retry};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// A classified vendor failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorFailure {
    /// Whether and when a retry may help.
    pub retry: Retry,
    /// What went wrong, with the vendor's own message (no secrets).
    pub message: String,
    /// The HTTP status, when the vendor answered.
    pub status: Option<u16>,
    /// The vendor refused our credentials (401, a 403 for a scope, an
    /// OAuth grant that is no longer valid): an operator must act.
    pub credentials: bool,
}

impl VendorFailure {
    /// A failure worth retrying (after `after`, if the vendor said).
    pub fn transient(message: impl Into<String>, after: Option<Duration>) -> Self {
        Self {
            retry: Retry::Later { after },
            message: message.into(),
            status: None,
            credentials: false,
        }
    }

    /// A failure retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            retry: Retry::Never,
            message: message.into(),
            status: None,
            credentials: false,
        }
    }

    /// A refusal of our credentials (never retried; an operator must act).
    pub fn credentials(message: impl Into<String>) -> Self {
        Self {
            credentials: true,
            ..Self::permanent(message)
        }
    }

    #[must_use]
    /// Records the HTTP status the vendor answered with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Converts into a port's error type, with this failure as its source
    /// (`downcast_ref::<VendorFailure>()` gives the status back).
    pub fn into_port<E: FromRetry>(self) -> E {
        if self.credentials {
            E::from_unauthorized(Box::new(self))
        } else {
            E::from_retry(self.retry, Box::new(self))
        }
    }
}

impl std::fmt::Display for VendorFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for VendorFailure {}

/// Longest `Retry-After` taken from a vendor (a day): vendor data never
/// drives clock arithmetic out of range.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as seconds or an HTTP date, at most [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let after = if let Ok(secs) = raw.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
        (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .ok()?
    };
    Some(after.min(MAX_RETRY_AFTER))
}

/// The vendor's own message from an error body (HubSpot `message`, Google
/// `error.message` / `error_description`), shortened.
pub fn vendor_message(body: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let msg = json.as_ref().and_then(|v| {
        v.get("message")
            .and_then(|m| m.as_str())
            .or_else(|| v.pointer("/error/message").and_then(|m| m.as_str()))
            .or_else(|| v.get("error_description").and_then(|m| m.as_str()))
            .or_else(|| v.get("error").and_then(|m| m.as_str()))
            .map(str::to_owned)
    });
    let msg = msg.unwrap_or_else(|| body.chars().filter(|c| !c.is_control()).collect());
    msg.chars().take(300).collect()
}

/// Classifies an HTTP error response. `default_429` is the back-off when a
/// 429 carries no `Retry-After` (HubSpot sends none: about 10 s).
pub fn classify(
    vendor: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    default_429: Option<Duration>,
) -> VendorFailure {
    let message = format!("{vendor} {}: {}", status.as_u16(), vendor_message(body));
    let after = retry_after(headers);
    let failure = match status.as_u16() {
        429 => VendorFailure::transient(message, after.or(default_429)),
        408 | 500..=599 => VendorFailure::transient(message, after),
        423 => VendorFailure::transient(message, Some(after.unwrap_or(Duration::from_secs(2)))),
        477 => VendorFailure::transient(message, after),
        403 if is_google_rate_limit(body) => {
            VendorFailure::transient(message, after.or(Some(Duration::from_secs(60))))
        }
        401 | 403 => VendorFailure::credentials(message),
        _ => VendorFailure::permanent(message),
    };
    failure.with_status(status.as_u16())
}

/// Google reports some quota errors as 403 with a rate-limit reason.
fn is_google_rate_limit(body: &str) -> bool {
    [
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "dailyLimitExceeded",
        "quotaExceeded",
    ]
    .iter()
    .any(|r| body.contains(r))
}

/// A transport error (no response): timeouts and connection failures are
/// transient. The URL is dropped from the message.
pub fn transport(vendor: &str, e: &reqwest::Error) -> VendorFailure {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response was cut off"
    } else {
        "request failed"
    };
    VendorFailure::transient(format!("{vendor}: {kind}"), None)
}

/// A 2xx response whose body did not parse (a truncated or proxied answer):
/// transient — the retry's idempotency lookups make it safe.
pub fn malformed(vendor: &str, e: &serde_json::Error) -> VendorFailure {
    VendorFailure::transient(format!("{vendor}: malformed response ({e})"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(retry_after: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = retry_after {
            h.insert(reqwest::header::RETRY_AFTER, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_port_error_keeps_the_vendor_failure_as_its_source() {
        use formlead_core::ports::{Classify, CrmError};
        use std::error::Error as _;

        let body = r#"{"message": "You have reached your ten_secondly_rolling limit."}"#;
        let e: CrmError = classify(
            "HubSpot",
            StatusCode::TOO_MANY_REQUESTS,
            &h(None),
            body,
            Some(Duration::from_secs(10)),
        )
        .into_port();
        assert!(e.is_transient());
        let failure = e
            .source()
            .and_then(|s| s.downcast_ref::<VendorFailure>())
            .expect("the source is the vendor failure");
        assert_eq!(failure.status, Some(429));
        assert!(failure.message.contains("ten_secondly_rolling"));

        let e: CrmError =
            classify("HubSpot", StatusCode::UNAUTHORIZED, &h(None), "{}", None).into_port();
        assert!(e.needs_operator());
        let failure = e.source().and_then(|s| s.downcast_ref::<VendorFailure>());
        assert!(failure.is_some_and(|f| f.credentials && f.status == Some(401)));
    }

    #[test]
    fn absurd_retry_afters_are_clamped() {
        assert_eq!(
            retry_after(&h(Some("18446744073709551615"))),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after(&h(Some("Fri, 31 Dec 9999 23:59:59 GMT"))),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(&h(Some("-5"))), None);
        assert_eq!(retry_after(&h(Some("soon"))), None);
    }

    #[test]
    fn classification_matrix() {
        let ten = Some(Duration::from_secs(10));
        let c = |s: u16, ra: Option<&str>, body: &str| {
            classify(
                "HubSpot",
                StatusCode::from_u16(s).unwrap(),
                &h(ra),
                body,
                ten,
            )
        };
        assert_eq!(c(429, None, "").retry, Retry::Later { after: ten });
        assert_eq!(
            c(429, Some("3"), "").retry,
            Retry::Later {
                after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(c(500, None, "").retry, Retry::Later { after: None });
        assert_eq!(
            c(503, Some("7"), "").retry,
            Retry::Later {
                after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            c(
                400,
                None,
                r#"{"status":"error","message":"Property values were not valid"}"#
            )
            .retry,
            Retry::Never
        );
        assert!(
            c(400, None, r#"{"message":"Property values were not valid"}"#)
                .message
                .contains("Property values were not valid")
        );
        assert_eq!(c(401, None, "").retry, Retry::Never);
        assert!(c(401, None, "").credentials && c(403, None, "{}").credentials);
        assert!(!c(404, None, "").credentials && !c(400, None, "").credentials);
        assert_eq!(c(404, None, "").retry, Retry::Never);
        assert_eq!(
            c(
                403,
                None,
                r#"{"error":{"errors":[{"reason":"userRateLimitExceeded"}]}}"#
            )
            .retry,
            Retry::Later {
                after: Some(Duration::from_secs(60))
            }
        );
        assert_eq!(
            c(
                403,
                None,
                r#"{"error":{"message":"Insufficient Permission"}}"#
            )
            .retry,
            Retry::Never
        );
        assert_eq!(
            vendor_message(r#"{"error":{"code":400,"message":"Invalid value"}}"#),
            "Invalid value"
        );
        assert_eq!(
            vendor_message(r#"{"error":"invalid_grant","error_description":"Bad Request"}"#),
            "Bad Request"
        );
    }
}
