//! The operator API (contract §3): routes, filters, pagination bounds,
//! ids, auth, approve/reject/retry semantics and the audit trail.

use std::time::Duration;

use formlead_core::domain::WorkflowStatus;
use serde_json::Value;

use crate::helpers::*;

const TOKEN: &str = "operator-token-0123456789";

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(path))
        .bearer_auth(TOKEN)
        // A header the client sets never names the actor in the audit trail.
        .header("x-operator", "alice");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn seeded() -> TestApp {
    let app = spawn_app(&[("FORMLEAD_OPERATOR_TOKEN", TOKEN)]).await;
    for i in 0..5 {
        assert_eq!(
            app.post_signed(&body(&format!("op-{i}"), &format!("lead{i}@acme.example")))
                .await
                .status(),
            202
        );
    }
    assert_eq!(
        app.post_signed(&body("op-bad", "not-an-email"))
            .await
            .status(),
        202
    );
    app.wait_for_status(WorkflowStatus::Completed, 5, Duration::from_secs(30))
        .await;
    app.wait_for_status(WorkflowStatus::Failed, 1, Duration::from_secs(30))
        .await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_and_page() {
    let app = seeded().await;
    let (s, v) = get(&app, "/api/dashboard/workflows").await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 6);
    let first = &v["workflows"][0];
    for key in [
        "id",
        "status",
        "prospect_email",
        "started_at",
        "completed_at",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert_eq!(first["prospect_email"], "not-an-email", "newest first");
    let (_, v) = get(&app, "/api/dashboard/workflows?status=completed").await;
    assert_eq!(v["total"], 5);
    let (_, v) = get(&app, "/api/dashboard/workflows?status=failed").await;
    assert_eq!(v["total"], 1);
    let (_, v) = get(&app, "/api/dashboard/workflows?email=LEAD3").await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["workflows"][0]["prospect_email"], "lead3@acme.example");
    let (_, v) = get(&app, "/api/dashboard/workflows?limit=2&offset=4").await;
    assert_eq!(
        (
            v["total"].as_u64(),
            v["workflows"].as_array().unwrap().len()
        ),
        (Some(6), 2)
    );
    // The failures by step's drill-down: workflows that failed at a step today.
    let (_, v) = get(
        &app,
        "/api/dashboard/workflows?failed_step=validate_submission",
    )
    .await;
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["workflows"][0]["prospect_email"], "not-an-email");
    let (_, v) = get(&app, "/api/dashboard/workflows?failed_step=write_draft").await;
    assert_eq!(v["total"], 0, "{v}");
    let (_, v) = get(&app, "/api/dashboard/workflows?limit=2&offset=100").await;
    assert_eq!(v["workflows"].as_array().unwrap().len(), 0);
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "offset=-1",
        "status=done",
        "email=a%00b",
        "failed_step=step_99",
    ] {
        let (s, v) = get(&app, &format!("/api/dashboard/workflows?{bad}")).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(
            v["error"].is_string() && v["field"].is_string(),
            "{bad}: {v}"
        );
    }
    let (s, _) = get(&app, "/api/dashboard/workflows?limit=1000").await;
    assert_eq!(s, 200);
    let (s, v) = get(&app, "/api/dashboard/drafts?status=pending_approval").await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 5);
    let (s, _) = get(&app, "/api/dashboard/drafts?status=bogus").await;
    assert_eq!(s, 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_ids_and_auth() {
    let app = seeded().await;
    let (_, list) = get(&app, "/api/dashboard/workflows?status=completed&limit=1").await;
    let id = list["workflows"][0]["id"].as_str().unwrap().to_owned();
    let (s, d) = get(&app, &format!("/api/dashboard/workflows/{id}")).await;
    assert_eq!(s, 200);
    let steps = d["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 13);
    assert_eq!(steps[0]["step"], "validate_submission");
    assert_eq!(steps[12]["step"], "finalize");
    assert!(
        steps
            .iter()
            .all(|s| s["duration_ms"].is_number() && s["status"] == "completed")
    );
    assert_eq!(d["drafts"].as_array().unwrap().len(), 1);
    assert_eq!(d["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(d["submission"]["fields"]["firstname"], "John");
    assert!(
        d["audit_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "send_policy.decision")
    );

    let (s, _) = get(&app, "/api/dashboard/workflows/not-a-uuid").await;
    assert_eq!(s, 400);
    let (s, _) = get(
        &app,
        "/api/dashboard/workflows/7f0c3a0e-7b5e-4e0f-9d4b-2a2b3c4d5e6f",
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = post(
        &app,
        "/api/dashboard/drafts/7f0c3a0e-7b5e-4e0f-9d4b-2a2b3c4d5e6f/approve",
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = post(&app, "/api/dashboard/drafts/nope/approve", None).await;
    assert_eq!(s, 400);

    // Unauthorised: no token, wrong token; every operator route.
    for path in [
        "/api/dashboard/workflows",
        &format!("/api/dashboard/workflows/{id}"),
        "/api/dashboard/drafts",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth("wrong-token-wrong-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    for path in [
        format!("/api/dashboard/workflows/{id}/retry"),
        "/api/dashboard/drafts/x/approve".into(),
        "/api/dashboard/drafts/x/reject".into(),
    ] {
        let r = app.client.post(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    // Service routes and the webhook do not need the operator token.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_reject_and_retry() {
    let app = seeded().await;
    let (_, drafts) = get(
        &app,
        "/api/dashboard/drafts?status=pending_approval&limit=2",
    )
    .await;
    let a = drafts["drafts"][0]["id"].as_str().unwrap().to_owned();
    let b = drafts["drafts"][1]["id"].as_str().unwrap().to_owned();

    let (s, v) = post(&app, &format!("/api/dashboard/drafts/{a}/approve"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["draft"]["status"], "approved",
        "draft-only: approved, not sent"
    );
    assert_eq!(v["draft"]["decided_by"], "operator:api");
    let (s, v) = post(&app, &format!("/api/dashboard/drafts/{a}/approve"), None).await;
    assert_eq!(
        (s, v["draft"]["status"].as_str()),
        (200, Some("approved")),
        "approve twice is idempotent"
    );
    let (s, _) = post(
        &app,
        &format!("/api/dashboard/drafts/{a}/reject"),
        Some(serde_json::json!({"reason": "x"})),
    )
    .await;
    assert_eq!(s, 409, "reject after approve");

    let (s, v) = post(
        &app,
        &format!("/api/dashboard/drafts/{b}/reject"),
        Some(serde_json::json!({"reason": "tone is off"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["draft"]["status"], "rejected");
    assert_eq!(v["draft"]["reject_reason"], "tone is off");
    let (s, _) = post(&app, &format!("/api/dashboard/drafts/{b}/approve"), None).await;
    assert_eq!(s, 409, "approve after reject");
    let r = app
        .client
        .post(app.url(&format!("/api/dashboard/drafts/{b}/reject")))
        .bearer_auth(TOKEN)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let wf = drafts["drafts"][1]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, d) = get(&app, &format!("/api/dashboard/workflows/{wf}")).await;
    let audit = d["audit_events"].as_array().unwrap();
    assert!(audit.iter().any(|e| e["action"] == "draft.rejected"
        && e["actor"] == "operator:api"
        && e["detail"]["reason"] == "tone is off"));

    let (_, failed) = get(&app, "/api/dashboard/workflows?status=failed").await;
    let failed_id = failed["workflows"][0]["id"].as_str().unwrap().to_owned();
    let (_, d) = get(&app, &format!("/api/dashboard/workflows/{failed_id}")).await;
    assert_eq!(d["errors"][0]["step"], "validate_submission");
    assert_eq!(d["errors"][0]["kind"], "permanent");
    let (s, v) = post(
        &app,
        &format!("/api/dashboard/workflows/{failed_id}/retry"),
        None,
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["workflow"]["status"], "retrying");
    let (s, _) = post(&app, &format!("/api/dashboard/workflows/{wf}/retry"), None).await;
    assert_eq!(s, 409, "only failed workflows can be retried");
    app.wait_for_status(WorkflowStatus::Failed, 1, Duration::from_secs(20))
        .await;
    let (_, d) = get(&app, &format!("/api/dashboard/workflows/{failed_id}")).await;
    assert!(
        d["audit_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "workflow.retried" && e["actor"] == "operator:api")
    );

    // Failed again: every failed workflow at once.
    let (s, v) = post(&app, "/api/dashboard/workflows/retry-failed", None).await;
    assert_eq!((s, &v["retried"]), (202, &Value::from(1)), "{v}");
    let (_, d) = get(&app, &format!("/api/dashboard/workflows/{failed_id}")).await;
    assert_eq!(
        d["audit_events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "workflow.retried")
            .count(),
        2
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_outside_the_allowlist_are_refused_and_audited() {
    let app = spawn_app(&[
        ("FORMLEAD_OPERATOR_TOKEN", TOKEN),
        ("API_ENV", "production"),
        ("MODE_DRAFT_ONLY", "false"),
        ("SEND_EMAIL_ALLOWLIST", "@allowed.example"),
    ])
    .await;
    assert_eq!(
        app.post_signed(&body("in", "ok@allowed.example"))
            .await
            .status(),
        202
    );
    assert_eq!(
        app.post_signed(&body("out", "someone@elsewhere.example"))
            .await
            .status(),
        202
    );
    app.wait_for_status(WorkflowStatus::AwaitingApproval, 1, Duration::from_secs(20))
        .await;
    app.wait_for_status(WorkflowStatus::Completed, 1, Duration::from_secs(20))
        .await;
    let (_, drafts) = get(&app, "/api/dashboard/drafts").await;
    let by_email = |e: &str| {
        drafts["drafts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["to_email"] == e)
            .unwrap()
            .clone()
    };

    // Allowlisted: approving sends it (sandbox mailbox), exactly once.
    let ok = by_email("ok@allowed.example");
    let (s, v) = post(
        &app,
        &format!(
            "/api/dashboard/drafts/{}/approve",
            ok["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        (s, v["draft"]["status"].as_str()),
        (200, Some("sent")),
        "{v}"
    );
    let (_, v) = post(
        &app,
        &format!(
            "/api/dashboard/drafts/{}/approve",
            ok["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(v["draft"]["status"], "sent");

    // Outside the allowlist: approved but not sent; the refusal is audited.
    let out = by_email("someone@elsewhere.example");
    let (s, v) = post(
        &app,
        &format!(
            "/api/dashboard/drafts/{}/approve",
            out["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        (s, v["draft"]["status"].as_str()),
        (200, Some("approved")),
        "{v}"
    );
    let (_, d) = get(
        &app,
        &format!(
            "/api/dashboard/workflows/{}",
            out["workflow_id"].as_str().unwrap()
        ),
    )
    .await;
    let refused = d["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "send.refused")
        .cloned();
    let refused = refused.expect("send.refused audited");
    assert!(
        refused["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("not in SEND_EMAIL_ALLOWLIST"),
        "{refused}"
    );
    app.stop().await;
}

/// A repeat submission of a prospect whose reply is open: 202 `linked`
/// with the earlier workflow's id, no second workflow, and the workflow's
/// detail (JSON and page) lists it once the reply answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_submission_joins_the_open_reply() {
    let app = spawn_app(&[("FORMLEAD_OPERATOR_TOKEN", TOKEN)]).await;
    let r = app.post_signed(&body("rep-1", "ann@acme.example")).await;
    assert_eq!(r.status().as_u16(), 202);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], "accepted");
    app.wait_for_status(WorkflowStatus::Completed, 1, Duration::from_secs(20))
        .await;
    let r = app.post_signed(&body("rep-2", "ann@acme.example")).await;
    assert_eq!(r.status().as_u16(), 202);
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["status"], "linked", "{second}");
    assert_eq!(second["workflow_id"], first["workflow_id"]);
    assert_ne!(second["submission_id"], first["submission_id"]);
    // Its duplicate names the workflow it joined.
    let r = app.post_signed(&body("rep-2", "ann@acme.example")).await;
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(app.workflow_count().await, 1);

    let id = first["workflow_id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let detail = loop {
        let (s, d) = get(&app, &format!("/api/dashboard/workflows/{id}")).await;
        assert_eq!(s, 200);
        if d["linked_submissions"][0]["applied_at"].is_string() {
            break d;
        }
        assert!(std::time::Instant::now() < deadline, "never applied: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let linked = detail["linked_submissions"].as_array().unwrap();
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["form_submission_id"], "rep-2");
    assert!(linked[0]["note_id"].is_string());
    assert_eq!(detail["drafts"].as_array().unwrap().len(), 1);
    assert!(
        detail["audit_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "draft.updated")
    );
    let page = app
        .client
        .get(app.url(&format!("/dashboard/workflows/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Linked submissions (1)"), "{page}");
    app.stop().await;
}

/// Leads going cold come first on the dashboard: a draft waiting for
/// approval longer than `FORMLEAD_COLD_AFTER_MS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_going_cold_come_first() {
    let app = spawn_app(&[
        ("FORMLEAD_OPERATOR_TOKEN", TOKEN),
        ("API_ENV", "production"),
        ("MODE_DRAFT_ONLY", "false"),
        ("SEND_EMAIL_ALLOWLIST", "@allowed.example"),
        ("FORMLEAD_COLD_AFTER_MS", "1"),
    ])
    .await;
    assert_eq!(
        app.post_signed(&body("cold", "ok@allowed.example"))
            .await
            .status(),
        202
    );
    app.wait_for_status(WorkflowStatus::AwaitingApproval, 1, Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let html = app
        .client
        .get(app.url("/dashboard/partials/live"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.starts_with("<section class=\"cold\"")
            && html.contains("Going cold: 1 draft(s) waiting over 0 min"),
        "{html}"
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("# HELP formlead_cold_drafts_total"),
        "{metrics}"
    );
    app.stop().await;
}
