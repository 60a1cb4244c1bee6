//! Robustness under arbitrary input: webhook parsing, signature
//! verification and MIME building never panic, and what they accept keeps
//! its invariants.
//!
//! Each property runs a short round in every `cargo test`. The long run is
//! `#[ignore]`d and timed by `FORMLEAD_ROBUSTNESS_SECS` per property
//! (`benches/robustness.sh` runs all three; BENCHMARKS.md records it):
//!
//! ```sh
//! FORMLEAD_ROBUSTNESS_SECS=600 cargo test --release -p formlead-adapters \
//!     --features google --test robustness -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod inputs;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use formlead_adapters::google::mime;
use formlead_core::domain::{FormSubmission, MAX_EMAIL_CHARS};
use formlead_core::signature::{self, SignatureHeaders, SignedRequest};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Runs `property` on values of `strategy` until `budget` is spent (at
/// least `min_cases` cases); returns the number of cases run.
fn run_for<S: Strategy>(
    name: &str,
    strategy: S,
    budget: Duration,
    min_cases: u32,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u64 {
    let started = Instant::now();
    let mut cases = 0u64;
    let mut round = 0u64;
    loop {
        let config = Config {
            cases: min_cases.min(512),
            failure_persistence: None,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &seed(name, round),
            ),
        );
        if let Err(e) = runner.run(&strategy, &property) {
            panic!("{name}: {e}");
        }
        cases += u64::from(min_cases.min(512));
        round += 1;
        if started.elapsed() >= budget && cases >= u64::from(min_cases) {
            break;
        }
    }
    eprintln!(
        "{name}: {cases} cases in {:.1} s, no panic, invariants held",
        started.elapsed().as_secs_f64()
    );
    cases
}

/// A different, reproducible seed per property and round.
fn seed(name: &str, round: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    let base = std::env::var("FORMLEAD_ROBUSTNESS_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0x5EED);
    let mixed = name.bytes().fold(base ^ round.rotate_left(17), |h, b| {
        h.wrapping_mul(0x100_0000_01B3) ^ u64::from(b)
    });
    s[..8].copy_from_slice(&mixed.to_le_bytes());
    s[8..16].copy_from_slice(&round.to_le_bytes());
    s
}

fn budget() -> Duration {
    Duration::from_secs(
        std::env::var("FORMLEAD_ROBUSTNESS_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    )
}

fn webhook_property(body: Vec<u8>) -> Result<(), TestCaseError> {
    let at = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
    if let Ok(s) = FormSubmission::from_webhook_body(&body, at) {
        // What the parser accepts, the databases store.
        prop_assert!(!s.email().is_empty());
        prop_assert!(s.email().chars().count() <= MAX_EMAIL_CHARS);
        prop_assert!(s.fields.len() <= formlead_core::domain::MAX_FIELDS);
        for (k, v) in &s.fields {
            prop_assert!(!k.contains('\0') && !v.contains('\0'));
            prop_assert!(v.chars().count() <= formlead_core::domain::MAX_FIELD_CHARS);
        }
        // No NUL escape left in the raw body (PostgreSQL's JSONB refuses
        // one); an escaped backslash before "u0000" is text.
        let raw = s.raw_payload.as_bytes();
        let no_nul_escape = s
            .raw_payload
            .match_indices("\\u0000")
            .all(|(at, _)| raw[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1);
        prop_assert!(no_nul_escape, "a NUL escape in the raw body");
        prop_assert!(s.form_submission_id.chars().count() <= 200);
        if let Some(t) = s.submitted_at {
            prop_assert!(t.timestamp() >= 0 && t.format("%Y").to_string().len() == 4);
        }
    }
    Ok(())
}

fn signature_property(case: inputs::SignatureCase) -> Result<(), TestCaseError> {
    let headers = SignatureHeaders {
        signature_v3: case.v3.as_deref(),
        timestamp: case.timestamp.as_deref(),
        signature: case.v1v2.as_deref(),
        version: case.version.as_deref(),
    };
    let req = SignedRequest {
        method: "POST",
        uri: &case.uri,
        body: &case.body,
        headers,
    };
    // Arbitrary headers: an answer, never a panic.
    let _ = signature::verify(&req, &case.secret, case.now_ms);
    // A correct v3 signature verifies; any change to the body does not.
    let ts = case.now_ms.clamp(0, 4_000_000_000_000);
    let sig = signature::sign_v3(&case.secret, "POST", &case.uri, &case.body, ts);
    let ts_text = ts.to_string();
    let good = SignedRequest {
        method: "POST",
        uri: &case.uri,
        body: &case.body,
        headers: SignatureHeaders {
            signature_v3: Some(&sig),
            timestamp: Some(&ts_text),
            ..SignatureHeaders::default()
        },
    };
    prop_assert_eq!(
        signature::verify(&good, &case.secret, ts),
        Ok(signature::SignatureVersion::V3)
    );
    let mut tampered = case.body.clone();
    tampered.push(b'x');
    let bad = SignedRequest {
        body: &tampered,
        ..good
    };
    prop_assert!(signature::verify(&bad, &case.secret, ts).is_err());
    Ok(())
}

fn mime_property(mail: formlead_core::ports::OutgoingMail) -> Result<(), TestCaseError> {
    let date = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
    let bytes = mime::build(
        &mail,
        "sam@northwind.example",
        "Sam\r\nBcc: eve@evil.example",
        date,
    )
    .expect("building into memory");
    let parsed = mail_parser::MessageParser::default()
        .parse(&bytes)
        .expect("a parseable message");
    // No value can start a header of its own (no injected Bcc/Cc).
    prop_assert!(parsed.bcc().is_none(), "injected Bcc");
    prop_assert!(parsed.cc().is_none(), "injected Cc");
    let to = parsed
        .to()
        .and_then(|t| t.first())
        .and_then(|a| a.address());
    prop_assert_eq!(to, Some(mail.to.as_str()));
    prop_assert!(!mime::raw(&bytes).contains(['+', '/', '=']));
    Ok(())
}

#[test]
fn webhook_parsing_never_panics() {
    run_for(
        "webhook parsing",
        inputs::webhook_body(),
        Duration::ZERO,
        300,
        webhook_property,
    );
}

#[test]
fn signature_verification_never_panics() {
    run_for(
        "signature verification",
        inputs::signature_case(),
        Duration::ZERO,
        300,
        signature_property,
    );
}

#[test]
fn mime_building_never_panics() {
    run_for(
        "MIME building",
        inputs::outgoing_mail(),
        Duration::ZERO,
        200,
        mime_property,
    );
}

/// The long run: `FORMLEAD_ROBUSTNESS_SECS` per property.
#[test]
#[ignore = "long robustness run: benches/robustness.sh"]
fn long_run() {
    let budget = budget();
    let total = run_for(
        "webhook parsing",
        inputs::webhook_body(),
        budget,
        512,
        webhook_property,
    ) + run_for(
        "signature verification",
        inputs::signature_case(),
        budget,
        512,
        signature_property,
    ) + run_for(
        "MIME building",
        inputs::outgoing_mail(),
        budget,
        512,
        mime_property,
    );
    eprintln!("robustness: {total} cases in all");
}
