//! HTTP adapters against wiremock: real request shapes (method, path, query,
//! auth, JSON body), realistic vendor JSON, the failure matrix, rate limits,
//! send-once, and the orchestrator end to end on the real adapters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;
mod google;
mod hubspot;
mod inline_retries;
mod llm;

/// A fixture from `tests/fixtures`.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name
        ))
    };
}
pub(crate) use fixture;

/// JSON response with a fixture body.
pub fn json(status: u16, body: &str) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(status)
        .set_body_raw(body.as_bytes().to_vec(), "application/json")
}
