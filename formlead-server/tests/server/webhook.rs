//! Every status code of the webhook route (contract §3); nothing is stored
//! for a rejected request.

use chrono::Utc;
use formlead_core::domain::WorkflowStatus;
use serde_json::Value;

use crate::helpers::*;

async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_then_duplicate_makes_one_workflow() {
    let app = spawn_app(&[]).await;
    let b = body("sub-1", "john@acme.example");
    let (status, first) = json(app.post_signed(&b).await).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["status"], "accepted");
    assert!(first["submission_id"].is_string() && first["workflow_id"].is_string());
    let (status, dup) = json(app.post_signed(&b).await).await;
    assert_eq!(status, 409, "{dup}");
    assert_eq!(dup["status"], "duplicate");
    assert_eq!(dup["workflow_id"], first["workflow_id"]);
    assert_eq!(dup["submission_id"], first["submission_id"]);
    // A different body with the same formSubmissionId is still a duplicate.
    let (status, _) = json(
        app.post_signed(&body("sub-1", "someone@else.example"))
            .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(app.workflow_count().await, 1);
    app.wait_for_status(
        WorkflowStatus::Completed,
        1,
        std::time::Duration::from_secs(20),
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_v2_and_flat_bodies_are_accepted() {
    let app = spawn_app(&[]).await;
    let b = body("v1", "a@acme.example");
    assert_eq!(
        app.post_raw(PATH, &v1_headers(b.as_bytes()), b.clone().into_bytes())
            .await
            .status(),
        202
    );
    let b = body("v2", "b@acme.example");
    let url = app.url(PATH);
    assert_eq!(
        app.post_raw(
            PATH,
            &v2_headers(&url, b.as_bytes()),
            b.clone().into_bytes()
        )
        .await
        .status(),
        202
    );
    let flat = r#"{"formSubmissionId":"flat-1","email":"C@Acme.example","firstname":"Cy","company":"Acme"}"#;
    assert_eq!(app.post_signed(flat).await.status(), 202);
    assert_eq!(app.workflow_count().await, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_with_an_encoded_uri_behind_a_public_url() {
    let app = spawn_app(&[
        ("FORMLEAD_PUBLIC_URL", "https://hooks.example.com/formlead"),
        ("FORMLEAD_OPERATOR_TOKEN", "0123456789abcdef-token"),
    ])
    .await;
    let b = body("pub-1", "a@acme.example");
    // HubSpot called the public URL with a query containing escapes; the proxy
    // forwarded path and query unchanged.
    let query = "?source=hubspot%3Aforms&tag=a%2Cb%20c";
    let public = format!("https://hooks.example.com/formlead{PATH}{query}");
    let ts = Utc::now().timestamp_millis();
    let (status, v) = json(
        app.post_raw(
            &format!("{PATH}{query}"),
            &v3_headers(&public, b.as_bytes(), ts),
            b.clone().into_bytes(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 202, "{v}");
    // Signed for the internal URL instead: refused.
    let internal = app.url(&format!("{PATH}{query}"));
    let b2 = body("pub-2", "b@acme.example");
    let r = app
        .post_raw(
            &format!("{PATH}{query}"),
            &v3_headers(&internal, b2.as_bytes(), ts),
            b2.into_bytes(),
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(app.workflow_count().await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_store_nothing() {
    let app = spawn_app(&[]).await;
    let url = app.url(PATH);
    let now = Utc::now().timestamp_millis();
    let good = body("rej", "a@acme.example");
    let json_ct = ("content-type", "application/json".to_owned());

    // 401: unsigned, wrong signature, stale timestamp, body changed after signing, wrong secret.
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Vec<u8>);
    let cases: Vec<Case<'_>> = vec![
        ("unsigned", vec![json_ct.clone()], good.clone().into_bytes()),
        (
            "garbage signature",
            vec![
                json_ct.clone(),
                ("x-hubspot-signature-v3", "bm9wZQ==".into()),
                ("x-hubspot-request-timestamp", now.to_string()),
            ],
            good.clone().into_bytes(),
        ),
        (
            "stale timestamp",
            v3_headers(&url, good.as_bytes(), now - 6 * 60 * 1000),
            good.clone().into_bytes(),
        ),
        (
            "future timestamp",
            v3_headers(&url, good.as_bytes(), now + 6 * 60 * 1000),
            good.clone().into_bytes(),
        ),
        (
            "body changed",
            v3_headers(&url, good.as_bytes(), now),
            good.replace("a@acme", "x@acme").into_bytes(),
        ),
        (
            "v1 over another body",
            v1_headers(b"{}"),
            good.clone().into_bytes(),
        ),
    ];
    for (name, headers, b) in cases {
        let (status, v) = json(app.post_raw(PATH, &headers, b).await).await;
        assert_eq!(status, 401, "{name}: {v}");
        assert!(v["error"].is_string(), "{name}");
    }

    // 413: a 300 KiB body (signed, so only its size is wrong).
    let big = format!(
        r#"{{"email":"a@acme.example","formSubmissionId":"big","message":"{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let (status, v) = json(
        app.post_raw(
            PATH,
            &v3_headers(&url, big.as_bytes(), now),
            big.clone().into_bytes(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 413, "{v}");

    // 415: wrong or missing content type.
    for ct in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let mut h = v3_headers(&url, good.as_bytes(), now);
        h.retain(|(k, _)| *k != "content-type");
        if !ct.is_empty() {
            h.push(("content-type", ct.into()));
        }
        let (status, _) = json(app.post_raw(PATH, &h, good.clone().into_bytes()).await).await;
        assert_eq!(status, 415, "content type {ct:?}");
    }
    // `application/json; charset=utf-8` is fine.
    let mut h = v3_headers(&url, good.as_bytes(), now);
    h.retain(|(k, _)| *k != "content-type");
    h.push(("content-type", "application/json; charset=utf-8".into()));
    let before = app.workflow_count().await;
    assert_eq!(before, 0);

    // 400: malformed JSON, missing email, not an object.
    for (bad, field) in [
        ("{not json", Value::Null),
        (
            r#"{"formSubmissionId":"x","firstname":"A"}"#,
            Value::from("email"),
        ),
        ("[1,2]", Value::Null),
    ] {
        let (status, v) = json(
            app.post_raw(
                PATH,
                &v3_headers(&url, bad.as_bytes(), now),
                bad.as_bytes().to_vec(),
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert_eq!(v["field"], field, "{bad}: {v}");
        assert!(v["error"].is_string());
    }
    assert_eq!(
        app.workflow_count().await,
        0,
        "nothing stored for any rejected request"
    );

    let (status, _) = json(app.post_raw(PATH, &h, good.clone().into_bytes()).await).await;
    assert_eq!(status, 202, "charset parameter accepted");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_ip_rate_limit_when_configured() {
    let app = spawn_app(&[("FORMLEAD_WEBHOOK_RATE_LIMIT", "2")]).await;
    let mut codes = Vec::new();
    for i in 0..4 {
        codes.push(
            app.post_signed(&body(&format!("rl-{i}"), "a@acme.example"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&codes[..2], &[202, 202]);
    assert!(codes[2..].contains(&429), "{codes:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_routes() {
    let app = spawn_app(&[]).await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["store"], "sqlite");
    app.post_signed(&body("m-1", "a@acme.example")).await;
    app.post_raw(
        PATH,
        &[("content-type", "application/json".into())],
        b"{}".to_vec(),
    )
    .await;
    app.wait_for_status(
        WorkflowStatus::Completed,
        1,
        std::time::Duration::from_secs(20),
    )
    .await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    for name in [
        "formlead_webhooks_total{outcome=\"accepted\"}",
        "formlead_webhooks_total{outcome=\"unauthorized\",reason=\"missing\"}",
        "formlead_workflows{status=\"completed\"}",
        "formlead_step_duration_seconds_bucket",
        "formlead_time_to_draft_seconds_bucket{le=\"86400\"}",
        "# HELP formlead_time_to_draft_seconds Time from a submission's arrival to its mail draft's creation",
        "formlead_queue_depth",
        "formlead_build_info{version=\"",
        "formlead_http_request_duration_seconds_bucket{route=\"/api/webhooks/hubspot/forms\",status=\"2xx\"",
        "formlead_http_request_duration_seconds_bucket{route=\"/api/webhooks/hubspot/forms\",status=\"4xx\"",
        "formlead_jobs_total",
        "\nformlead_retries_total ",
        "\nformlead_dead_letters_total ",
        "\nformlead_worker_restarts_total 0",
        "\nformlead_jobs_running ",
        "# HELP formlead_jobs_running Workflow jobs being processed by this process now",
        "# HELP formlead_webhooks_total Webhook deliveries by outcome",
        "# HELP formlead_step_duration_seconds Duration of workflow steps",
    ] {
        assert!(text.contains(name), "missing {name} in:\n{text}");
    }
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

/// A store that does not answer (as a database that cannot be reached, while
/// the pool waits out its connection timeout) makes `/readyz` say 503 and
/// `/metrics` serve its counters within the 2 s probe timeout, rather than
/// outwaiting the probe or the scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_routes_answer_while_the_store_hangs() {
    let app = spawn_app(&[]).await;
    let running = app.running.as_ref().expect("running");
    let formlead_server::app::Database::Sqlite(db) = &running.database else {
        panic!("the test server runs on SQLite");
    };
    db.faults()
        .set_latency("ping", std::time::Duration::from_secs(6));
    db.faults()
        .set_latency("stats", std::time::Duration::from_secs(6));

    let started = std::time::Instant::now();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "unavailable");
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("\nformlead_retries_total ")
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered after {:?}, not within the probe timeout",
        started.elapsed()
    );

    db.faults().clear();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

fn sqlite_faults(app: &TestApp) -> &formlead_adapters::sandbox::Faults {
    let running = app.running.as_ref().expect("running");
    let formlead_server::app::Database::Sqlite(db) = &running.database else {
        panic!("the test server runs on SQLite");
    };
    db.faults()
}

/// A commit that cannot be made in time is 503 with Retry-After (HubSpot
/// retries a 5xx, never a 408): the lead is not lost. Its retry finds it
/// stored (409) or stores it (202), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_commit_gets_503_with_retry_after() {
    let app = spawn_app(&[("FORMLEAD_REQUEST_TIMEOUT_MS", "400")]).await;
    sqlite_faults(&app).set_latency("accept_submission", std::time::Duration::from_secs(2));
    let lead = body("stall-1", "stall@acme.example");
    let r = app.post_signed(&lead).await;
    assert_eq!(r.status(), 503);
    assert!(
        r.headers().get("retry-after").is_some(),
        "{:?}",
        r.headers()
    );
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("retry"), "{v}");
    sqlite_faults(&app).clear();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let retried = app.post_signed(&lead).await.status().as_u16();
    assert!(matches!(retried, 202 | 409), "{retried}");
    assert_eq!(app.workflow_count().await, 1);
    app.stop().await;
}

/// Every other way the commit can fail (a full disk, an exhausted pool, a
/// constraint) is a 5xx with Retry-After too, never a 4xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_commit_is_503_never_4xx() {
    use formlead_adapters::sandbox::Fault;
    let app = spawn_app(&[]).await;
    for (i, fault) in [Fault::Transient, Fault::Permanent].into_iter().enumerate() {
        sqlite_faults(&app).inject("accept_submission", fault);
        let r = app
            .post_signed(&body(&format!("fail-{i}"), "fail@acme.example"))
            .await;
        assert_eq!(r.status(), 503, "{fault:?}");
        assert!(r.headers().get("retry-after").is_some());
        let text = r.text().await.unwrap();
        assert!(!text.contains("injected"), "internals leak: {text}");
    }
    assert_eq!(app.workflow_count().await, 0);
    app.stop().await;
}

/// A stale timestamp is counted by reason, so skew can be alerted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_refusals_are_counted_by_reason() {
    let app = spawn_app(&[]).await;
    let url = app.url(PATH);
    let lead = body("skew", "skew@acme.example");
    let stale = Utc::now().timestamp_millis() - 10 * 60 * 1000;
    let r = app
        .post_raw(
            PATH,
            &v3_headers(&url, lead.as_bytes(), stale),
            lead.clone().into_bytes(),
        )
        .await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("ms off"), "{v}");
    let mut mismatch = v3_headers(&url, b"{}", Utc::now().timestamp_millis());
    mismatch.retain(|(k, _)| *k != "content-type");
    mismatch.push(("content-type", "application/json".into()));
    assert_eq!(
        app.post_raw(PATH, &mismatch, lead.clone().into_bytes())
            .await
            .status(),
        401
    );
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in ["stale", "mismatch"] {
        let series =
            format!("formlead_webhooks_total{{outcome=\"unauthorized\",reason=\"{reason}\"}}");
        assert!(text.contains(&series), "missing {series} in:\n{text}");
    }
    app.stop().await;
}

/// With HUBSPOT_REQUIRE_SIGNATURE_V3, a correctly signed v1 or v2 delivery
/// (no timestamp, replayable forever) is refused; v3 passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_can_be_required() {
    let app = spawn_app(&[("HUBSPOT_REQUIRE_SIGNATURE_V3", "true")]).await;
    let url = app.url(PATH);
    let b1 = body("v3only-1", "v@acme.example");
    let (status, v) = json(
        app.post_raw(PATH, &v1_headers(b1.as_bytes()), b1.clone().into_bytes())
            .await,
    )
    .await;
    assert_eq!(status, 401, "{v}");
    assert!(v["error"].as_str().unwrap().contains("v3"), "{v}");
    let (status, _) = json(
        app.post_raw(
            PATH,
            &v2_headers(&url, b1.as_bytes()),
            b1.clone().into_bytes(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(app.post_signed(&b1).await.status(), 202);
    assert_eq!(app.workflow_count().await, 1);
    app.stop().await;
}
