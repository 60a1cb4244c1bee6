//! HubSpot request signatures (v1, v2, v3), verified over the raw body bytes
//! in constant time.
//!
//! - v1: `hex(sha256(secret + body))`
//! - v2: `hex(sha256(secret + METHOD + URI + body))`
//! - v3: `base64(hmac_sha256(secret, METHOD + URI + body + timestamp))`, with
//!   the timestamp (`X-HubSpot-Request-Timestamp`, milliseconds) at most five
//!   minutes away from now, and a handful of percent-escapes in the URI
//!   decoded first (see [`decode_v3_uri`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Largest accepted distance between the v3 timestamp and now.
pub const MAX_TIMESTAMP_SKEW_MS: i64 = 5 * 60 * 1000;

/// Header names (lower-case, as HTTP/2 and most frameworks present them).
pub const HEADER_SIGNATURE_V3: &str = "x-hubspot-signature-v3";
/// The v3 request timestamp header (Unix milliseconds).
pub const HEADER_TIMESTAMP: &str = "x-hubspot-request-timestamp";
/// The v1/v2 signature header.
pub const HEADER_SIGNATURE: &str = "x-hubspot-signature";
/// The v1/v2 signature version header.
pub const HEADER_SIGNATURE_VERSION: &str = "x-hubspot-signature-version";

/// The signature-related header values of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    /// `X-HubSpot-Signature-v3`.
    pub signature_v3: Option<&'a str>,
    /// `X-HubSpot-Request-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-HubSpot-Signature` (v1 or v2).
    pub signature: Option<&'a str>,
    /// `X-HubSpot-Signature-Version`: `v1` or `v2` (v1 when absent).
    pub version: Option<&'a str>,
}

/// What is signed.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The full public URL HubSpot called, with query string.
    pub uri: &'a str,
    /// The body bytes exactly as received.
    pub body: &'a [u8],
    /// The signature headers.
    pub headers: SignatureHeaders<'a>,
}

/// Which scheme verified a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// SHA-256 of secret + body.
    V1,
    /// SHA-256 of secret + method + URI + body.
    V2,
    /// HMAC-SHA256 of method + URI + body + timestamp, base64.
    V3,
}

/// Why a request's signature was not accepted. Every variant means 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("request is not signed")]
    /// No signature header.
    Missing,
    #[error("unsupported signature version")]
    /// A signature version other than v1, v2 or v3.
    UnsupportedVersion,
    #[error("v3 signature without a request timestamp")]
    /// A v3 signature without its timestamp.
    MissingTimestamp,
    #[error("request timestamp is not an integer number of milliseconds")]
    /// A timestamp that is not a number.
    MalformedTimestamp,
    /// `skew_ms` is how far the timestamp was from now: positive when it
    /// lay in the past, negative when in the future.
    #[error("request timestamp is more than 5 minutes from now ({skew_ms} ms off)")]
    /// A timestamp too far from now (by `skew_ms`).
    StaleTimestamp {
        /// How far from now it is, in milliseconds.
        skew_ms: i64,
    },
    #[error("signature is malformed")]
    /// A signature that is not valid hex or base64.
    Malformed,
    #[error("signature does not match")]
    /// A signature that does not match.
    Mismatch,
    /// Only v3 signatures are accepted and the request has none.
    #[error("a v3 signature (X-HubSpot-Signature-v3) is required")]
    V3Required,
}

impl SignatureError {
    /// A short reason for metrics: `stale`, `mismatch`, `missing` or
    /// `malformed`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::StaleTimestamp { .. } => "stale",
            Self::Mismatch => "mismatch",
            Self::Missing | Self::MissingTimestamp | Self::V3Required => "missing",
            Self::UnsupportedVersion | Self::MalformedTimestamp | Self::Malformed => "malformed",
        }
    }
}

/// Which signature versions a receiver accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Accept {
    /// v3, or v1/v2 when no v3 header is present (HubSpot's workflow
    /// webhooks may send either).
    #[default]
    AnyVersion,
    /// v3 only: a captured v1/v2 delivery carries no timestamp and could be
    /// replayed forever, so it is refused.
    V3Only,
}

/// Verifies a request against `secret` at time `now_ms` (Unix milliseconds).
/// A v3 signature is used when present; otherwise `X-HubSpot-Signature`
/// with its declared version.
///
/// ```
/// use formlead_core::signature::{
///     SignatureError, SignatureHeaders, SignatureVersion, SignedRequest, sign_v3, verify,
/// };
///
/// let (secret, now_ms) = (b"app-client-secret", 1_769_162_400_000_i64);
/// let uri = "https://leads.example.com/api/webhooks/hubspot/forms";
/// let body = br#"{"formSubmissionId": "abc", "email": "ana@acme.example"}"#;
/// let signature = sign_v3(secret, "POST", uri, body, now_ms);
/// let timestamp = now_ms.to_string();
/// let request = |signature_v3| SignedRequest {
///     method: "POST",
///     uri,
///     body,
///     headers: SignatureHeaders {
///         signature_v3: Some(signature_v3),
///         timestamp: Some(&timestamp),
///         ..SignatureHeaders::default()
///     },
/// };
/// assert_eq!(verify(&request(&signature), secret, now_ms + 1_000), Ok(SignatureVersion::V3));
/// // A wrong secret, or a delivery replayed ten minutes later, is refused.
/// assert_eq!(verify(&request(&signature), b"another-secret", now_ms), Err(SignatureError::Mismatch));
/// assert!(matches!(
///     verify(&request(&signature), secret, now_ms + 600_000),
///     Err(SignatureError::StaleTimestamp { .. })
/// ));
/// ```
///
/// # Errors
/// [`SignatureError`] saying why the request is refused.
pub fn verify(
    req: &SignedRequest<'_>,
    secret: &[u8],
    now_ms: i64,
) -> Result<SignatureVersion, SignatureError> {
    verify_accepting(req, secret, now_ms, Accept::AnyVersion)
}

/// [`verify`], accepting only the versions `accept` allows.
///
/// # Errors
/// [`SignatureError`]; [`SignatureError::V3Required`] for a v1/v2 (or
/// unsigned) request under [`Accept::V3Only`].
pub fn verify_accepting(
    req: &SignedRequest<'_>,
    secret: &[u8],
    now_ms: i64,
    accept: Accept,
) -> Result<SignatureVersion, SignatureError> {
    let h = &req.headers;
    if let Some(sig) = h.signature_v3 {
        let ts = h.timestamp.ok_or(SignatureError::MissingTimestamp)?;
        let ts_ms: i64 = ts
            .trim()
            .parse()
            .map_err(|_| SignatureError::MalformedTimestamp)?;
        if now_ms.abs_diff(ts_ms) > MAX_TIMESTAMP_SKEW_MS.unsigned_abs() {
            return Err(SignatureError::StaleTimestamp {
                skew_ms: now_ms.saturating_sub(ts_ms),
            });
        }
        let given = BASE64
            .decode(sig.trim())
            .map_err(|_| SignatureError::Malformed)?;
        if given.len() != 32 {
            return Err(SignatureError::Malformed);
        }
        // The documented rule decodes a few escapes; a proxy may already have
        // decoded (or not). Both candidates are authenticated by the secret.
        let decoded = decode_v3_uri(req.uri);
        let mut candidates = vec![decoded.as_str()];
        if decoded != req.uri {
            candidates.push(req.uri);
        }
        for uri in candidates {
            let mac = v3_mac(secret, req.method, uri, req.body, ts.trim())
                .ok_or(SignatureError::Mismatch)?;
            // `verify_slice` compares in constant time.
            if mac.verify_slice(&given).is_ok() {
                return Ok(SignatureVersion::V3);
            }
        }
        return Err(SignatureError::Mismatch);
    }
    if accept == Accept::V3Only {
        return Err(SignatureError::V3Required);
    }

    let sig = h.signature.ok_or(SignatureError::Missing)?;
    let given = hex::decode(sig.trim()).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let (version, expected) = match h.version.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("v1") => (SignatureVersion::V1, v1_digest(secret, req.body)),
        Some("v2") => (
            SignatureVersion::V2,
            v2_digest(secret, req.method, req.uri, req.body),
        ),
        Some(_) => return Err(SignatureError::UnsupportedVersion),
    };
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok(version)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Decodes the escapes HubSpot's v3 rules list (`%3A : %2F / %3F ? %40 @
/// %21 ! %24 $ %27 ' %28 ( %29 ) %2A * %2C , %3B ;`), case-insensitively;
/// every other escape is left as it is.
pub fn decode_v3_uri(uri: &str) -> String {
    const DECODED: &[(u8, char)] = &[
        (0x3A, ':'),
        (0x2F, '/'),
        (0x3F, '?'),
        (0x40, '@'),
        (0x21, '!'),
        (0x24, '$'),
        (0x27, '\''),
        (0x28, '('),
        (0x29, ')'),
        (0x2A, '*'),
        (0x2C, ','),
        (0x3B, ';'),
    ];
    let bytes = uri.as_bytes();
    let mut out = String::with_capacity(uri.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            let byte = hi * 16 + lo;
            if let Some((_, c)) = DECODED.iter().find(|(b, _)| *b == byte) {
                out.push(*c);
                i += 3;
                continue;
            }
        }
        // Copy one whole UTF-8 character.
        let ch_len = uri[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&uri[i..i + ch_len]);
        i += ch_len;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn v1_digest(secret: &[u8], body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(body);
    h.finalize().to_vec()
}

fn v2_digest(secret: &[u8], method: &str, uri: &str, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(method.as_bytes());
    h.update(uri.as_bytes());
    h.update(body);
    h.finalize().to_vec()
}

/// `None` only if the HMAC rejected the key, which HMAC (any key length) never does.
fn v3_mac(
    secret: &[u8],
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()?;
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    Some(mac)
}

/// `X-HubSpot-Signature` value for v1 (used by `formlead simulate` and tests).
pub fn sign_v1(secret: &[u8], body: &[u8]) -> String {
    hex::encode(v1_digest(secret, body))
}

/// `X-HubSpot-Signature` value for v2.
pub fn sign_v2(secret: &[u8], method: &str, uri: &str, body: &[u8]) -> String {
    hex::encode(v2_digest(secret, method, uri, body))
}

/// `X-HubSpot-Signature-v3` value; `uri` is decoded per [`decode_v3_uri`]
/// first, as HubSpot does.
pub fn sign_v3(secret: &[u8], method: &str, uri: &str, body: &[u8], timestamp_ms: i64) -> String {
    v3_mac(
        secret,
        method,
        &decode_v3_uri(uri),
        body,
        &timestamp_ms.to_string(),
    )
    .map(|mac| BASE64.encode(mac.finalize().into_bytes()))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_SECRET: &[u8] = b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const DOC_V1_BODY: &[u8] = br#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
    const DOC_URI: &str = "https://www.example.com/webhook_uri";
    const DOC_V2_BODY: &[u8] = br#"{"example_field":"example_value"}"#;
    const TS: i64 = 1_700_000_000_000;

    fn req<'a>(
        method: &'a str,
        uri: &'a str,
        body: &'a [u8],
        headers: SignatureHeaders<'a>,
    ) -> SignedRequest<'a> {
        SignedRequest {
            method,
            uri,
            body,
            headers,
        }
    }

    fn v1(sig: &str) -> SignatureHeaders<'_> {
        SignatureHeaders {
            signature: Some(sig),
            version: Some("v1"),
            ..Default::default()
        }
    }

    fn v2(sig: &str) -> SignatureHeaders<'_> {
        SignatureHeaders {
            signature: Some(sig),
            version: Some("v2"),
            ..Default::default()
        }
    }

    fn v3<'a>(sig: &'a str, ts: &'a str) -> SignatureHeaders<'a> {
        SignatureHeaders {
            signature_v3: Some(sig),
            timestamp: Some(ts),
            ..Default::default()
        }
    }

    // HubSpot's published vectors.
    #[test]
    fn documented_v1_vector() {
        let sig = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de";
        assert_eq!(sign_v1(DOC_SECRET, DOC_V1_BODY), sig);
        assert_eq!(
            verify(&req("POST", DOC_URI, DOC_V1_BODY, v1(sig)), DOC_SECRET, TS),
            Ok(SignatureVersion::V1)
        );
        // Version header absent means v1; upper-case hex is accepted.
        let upper = sig.to_uppercase();
        let h = SignatureHeaders {
            signature: Some(&upper),
            ..Default::default()
        };
        assert_eq!(
            verify(&req("POST", DOC_URI, DOC_V1_BODY, h), DOC_SECRET, TS),
            Ok(SignatureVersion::V1)
        );
    }

    #[test]
    fn documented_v2_vectors() {
        let get = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e";
        let post = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900";
        assert_eq!(sign_v2(DOC_SECRET, "GET", DOC_URI, b""), get);
        assert_eq!(sign_v2(DOC_SECRET, "POST", DOC_URI, DOC_V2_BODY), post);
        assert_eq!(
            verify(&req("GET", DOC_URI, b"", v2(get)), DOC_SECRET, TS),
            Ok(SignatureVersion::V2)
        );
        assert_eq!(
            verify(&req("POST", DOC_URI, DOC_V2_BODY, v2(post)), DOC_SECRET, TS),
            Ok(SignatureVersion::V2)
        );
        // v2 signs the URI: another URI does not verify.
        assert_eq!(
            verify(
                &req(
                    "POST",
                    "https://www.example.com/other",
                    DOC_V2_BODY,
                    v2(post)
                ),
                DOC_SECRET,
                TS
            ),
            Err(SignatureError::Mismatch)
        );
    }

    // The api-notes v3 vector (computed with Python's hmac, matching
    // HubSpot's Python client).
    #[test]
    fn notes_v3_vector() {
        let sig = "rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o=";
        assert_eq!(sign_v3(DOC_SECRET, "POST", DOC_URI, DOC_V2_BODY, TS), sig);
        let r = req("POST", DOC_URI, DOC_V2_BODY, v3(sig, "1700000000000"));
        assert_eq!(verify(&r, DOC_SECRET, TS + 1_000), Ok(SignatureVersion::V3));
    }

    // Independently computed vectors (Python 3: base64.b64encode(hmac.new(
    // secret, (method + decoded_uri + body + ts).encode(), sha256).digest())).
    #[test]
    fn independent_v3_vectors_with_encoded_uri() {
        let secret = b"s3cr3t-client-secret";
        let body = r#"{"email":"zoë@example.com"}"#.as_bytes();
        let uri = "https://hooks.example.com/api/webhooks/hubspot/forms?src=a%3Ab%2Cc&x=%7E";
        // Decoded for signing: %3A -> ':', %2C -> ',', %7E stays.
        assert_eq!(
            decode_v3_uri(uri),
            "https://hooks.example.com/api/webhooks/hubspot/forms?src=a:b,c&x=%7E"
        );
        let sig = "D2s0okkoePsSyJYlhviol4olsyvoVEdkpy8IOiOVFLk=";
        assert_eq!(sign_v3(secret, "POST", uri, body, 1_769_162_400_000), sig);
        let r = req("POST", uri, body, v3(sig, "1769162400000"));
        assert_eq!(
            verify(&r, secret, 1_769_162_400_000 + 299_000),
            Ok(SignatureVersion::V3)
        );

        let uri2 = "https://x.example/p%40th%28a%29?q=%2A%21%24%27%3B%2f%3f";
        assert_eq!(decode_v3_uri(uri2), "https://x.example/p@th(a)?q=*!$';/?");
        let sig2 = "UoM7wURRHqsVxNwVYZB+LHjcNIY9Bc6YR9N69RbzXzI=";
        assert_eq!(sign_v3(secret, "POST", uri2, b"", 1_769_162_400_000), sig2);
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let sig = sign_v3(DOC_SECRET, "POST", DOC_URI, DOC_V2_BODY, TS);
        let r = req("POST", DOC_URI, DOC_V2_BODY, v3(&sig, "1700000000000"));
        assert_eq!(
            verify(&r, DOC_SECRET, TS + MAX_TIMESTAMP_SKEW_MS),
            Ok(SignatureVersion::V3)
        );
        let late = verify(&r, DOC_SECRET, TS + MAX_TIMESTAMP_SKEW_MS + 1).unwrap_err();
        assert_eq!(
            late,
            SignatureError::StaleTimestamp {
                skew_ms: MAX_TIMESTAMP_SKEW_MS + 1
            }
        );
        assert_eq!(late.reason(), "stale");
        assert!(late.to_string().contains("300001 ms"), "{late}");
        assert_eq!(
            verify(&r, DOC_SECRET, TS - MAX_TIMESTAMP_SKEW_MS - 1),
            Err(SignatureError::StaleTimestamp {
                skew_ms: -MAX_TIMESTAMP_SKEW_MS - 1
            }),
            "a timestamp from the future is as refused as an old one"
        );
    }

    #[test]
    fn v3_only_refuses_v1_and_v2() {
        let v1sig = sign_v1(DOC_SECRET, DOC_V2_BODY);
        let v2sig = sign_v2(DOC_SECRET, "POST", DOC_URI, DOC_V2_BODY);
        let v3sig = sign_v3(DOC_SECRET, "POST", DOC_URI, DOC_V2_BODY, TS);
        let only = |h| {
            verify_accepting(
                &req("POST", DOC_URI, DOC_V2_BODY, h),
                DOC_SECRET,
                TS,
                Accept::V3Only,
            )
        };
        assert_eq!(only(v1(&v1sig)), Err(SignatureError::V3Required));
        assert_eq!(only(v2(&v2sig)), Err(SignatureError::V3Required));
        assert_eq!(
            only(SignatureHeaders::default()).unwrap_err().reason(),
            "missing"
        );
        assert_eq!(only(v3(&v3sig, "1700000000000")), Ok(SignatureVersion::V3));
        // Without the setting both still pass.
        assert_eq!(
            verify(
                &req("POST", DOC_URI, DOC_V2_BODY, v2(&v2sig)),
                DOC_SECRET,
                TS
            ),
            Ok(SignatureVersion::V2)
        );
        assert_eq!(SignatureError::Mismatch.reason(), "mismatch");
        assert_eq!(SignatureError::Malformed.reason(), "malformed");
        assert_eq!(SignatureError::MalformedTimestamp.reason(), "malformed");
        assert_eq!(SignatureError::Missing.reason(), "missing");
    }

    #[test]
    fn tampering_and_wrong_secrets_are_refused() {
        let sig = sign_v3(DOC_SECRET, "POST", DOC_URI, DOC_V2_BODY, TS);
        let tampered = br#"{"example_field":"example_valuE"}"#;
        assert_eq!(
            verify(
                &req("POST", DOC_URI, tampered, v3(&sig, "1700000000000")),
                DOC_SECRET,
                TS
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &req("POST", DOC_URI, DOC_V2_BODY, v3(&sig, "1700000000000")),
                b"other",
                TS
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &req("PUT", DOC_URI, DOC_V2_BODY, v3(&sig, "1700000000000")),
                DOC_SECRET,
                TS
            ),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: changing it breaks the signature.
        assert_eq!(
            verify(
                &req("POST", DOC_URI, DOC_V2_BODY, v3(&sig, "1700000000001")),
                DOC_SECRET,
                TS
            ),
            Err(SignatureError::Mismatch)
        );
        let v1sig = sign_v1(DOC_SECRET, DOC_V1_BODY);
        assert_eq!(
            verify(&req("POST", DOC_URI, b"[]", v1(&v1sig)), DOC_SECRET, TS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&req("POST", DOC_URI, DOC_V1_BODY, v1(&v1sig)), b"wrong", TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let none = SignatureHeaders::default();
        assert_eq!(
            verify(&req("POST", DOC_URI, b"", none), DOC_SECRET, TS),
            Err(SignatureError::Missing)
        );
        let cases: &[(SignatureHeaders<'_>, SignatureError)] = &[
            (
                SignatureHeaders {
                    signature_v3: Some("abc"),
                    ..Default::default()
                },
                SignatureError::MissingTimestamp,
            ),
            (v3("abc", "12.5"), SignatureError::MalformedTimestamp),
            (
                v3("abc", "1700000000000.0"),
                SignatureError::MalformedTimestamp,
            ),
            (
                v3("%%%not-base64", "1700000000000"),
                SignatureError::Malformed,
            ),
            (v3("c2hvcnQ=", "1700000000000"), SignatureError::Malformed),
            (v1("zz"), SignatureError::Malformed),
            (v1("abcd"), SignatureError::Malformed),
            (
                SignatureHeaders {
                    signature: Some("00"),
                    version: Some("v9"),
                    ..Default::default()
                },
                SignatureError::Malformed,
            ),
        ];
        for (h, expected) in cases {
            assert_eq!(
                verify(&req("POST", DOC_URI, b"", *h), DOC_SECRET, TS).unwrap_err(),
                *expected,
                "{h:?}"
            );
        }
        let good_len = "0".repeat(64);
        let h = SignatureHeaders {
            signature: Some(&good_len),
            version: Some("v9"),
            ..Default::default()
        };
        assert_eq!(
            verify(&req("POST", DOC_URI, b"", h), DOC_SECRET, TS),
            Err(SignatureError::UnsupportedVersion)
        );
    }

    #[test]
    fn decoding_leaves_other_escapes_and_utf8_alone() {
        assert_eq!(decode_v3_uri("/a%20b%3a%zz%3"), "/a%20b:%zz%3");
        assert_eq!(decode_v3_uri("/zoë%2Fx"), "/zoë/x");
        assert_eq!(decode_v3_uri(""), "");
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(method in ".*", uri in ".*", body in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
                               s3 in proptest::option::of(".*"), ts in proptest::option::of(".*"),
                               s in proptest::option::of(".*"), ver in proptest::option::of(".*"), now in proptest::num::i64::ANY) {
            let h = SignatureHeaders { signature_v3: s3.as_deref(), timestamp: ts.as_deref(), signature: s.as_deref(), version: ver.as_deref() };
            let _ = verify(&req(&method, &uri, &body, h), b"k", now);
            let _ = decode_v3_uri(&uri);
        }

        #[test]
        fn signed_requests_verify(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256), path in "[a-z%0-9A-F/?=&]{0,40}") {
            let uri = format!("https://h.example/{path}");
            let sig = sign_v3(b"secret", "POST", &uri, &body, TS);
            let ts = TS.to_string();
            proptest::prop_assert_eq!(verify(&req("POST", &uri, &body, v3(&sig, &ts)), b"secret", TS), Ok(SignatureVersion::V3));
        }
    }
}
