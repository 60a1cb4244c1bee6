//! The dashboard over HTTP: login, cookie and CSRF rules, cross-site
//! refusal, security headers, escaping, empty state, page weight.

use std::time::Duration;

use formlead_core::domain::WorkflowStatus;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::helpers::*;

const TOKEN: &str = "dashboard-token-0123456789";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn login(app: &TestApp, client: &reqwest::Client) -> String {
    let r = client
        .post(app.url("/dashboard/login"))
        .form(&[("token", TOKEN), ("name", "Alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    cookie.split(';').next().unwrap().to_owned()
}

fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf-token\" content=\"").unwrap()
        + "name=\"csrf-token\" content=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_state_assets_headers_and_weight() {
    let app = spawn_app(&[]).await;
    let r = app.client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains("No leads yet") && html.contains("formlead simulate"),
        "{html}"
    );
    // The voice profile in force, and how to learn one.
    assert!(
        html.contains("Voice profile: friendly, “Hi {first_name},”")
            && html.contains("formlead voice learn"),
        "{html}"
    );
    let css = app
        .client
        .get(app.url("/dashboard/assets/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        css.headers().get("content-type").unwrap(),
        "text/css; charset=utf-8"
    );
    let css = css.bytes().await.unwrap().len();
    let js = app
        .client
        .get(app.url("/dashboard/assets/app.js"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();

    for i in 0..50 {
        app.post_signed(&body(&format!("w-{i}"), &format!("lead{i}@acme.example")))
            .await;
    }
    app.wait_for_status(WorkflowStatus::Completed, 50, Duration::from_secs(60))
        .await;
    let page = app
        .client
        .get(app.url("/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let total = page.len() + css + js;
    assert!(
        total < 100 * 1024,
        "dashboard page with 50 rows and its assets weigh {total} bytes"
    );
    assert!(page.contains("<caption>Workflows, newest first (50 of 50)</caption>"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_content_is_rendered_as_text() {
    let app = spawn_app(&[]).await;
    let evil = r#"{"formSubmissionId":"xss","email":"eve@evil.example","firstname":"<img src=x onerror=alert(1)>","company":"<script>alert(2)</script>","message":"<b>hi</b>"}"#;
    assert_eq!(app.post_signed(evil).await.status(), 202);
    app.wait_for_status(WorkflowStatus::Completed, 1, Duration::from_secs(20))
        .await;
    let list: Value = app
        .client
        .get(app.url("/api/dashboard/workflows"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["workflows"][0]["id"].as_str().unwrap().to_owned();
    for path in [
        "/dashboard".to_owned(),
        format!("/dashboard/workflows/{id}"),
    ] {
        let html = app
            .client
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !html.contains("<img src=x") && !html.contains("<script>alert"),
            "{path} leaks markup"
        );
        assert!(
            html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
            "{path} shows it as text"
        );
    }
    let html = app
        .client
        .get(app.url(&format!("/dashboard/workflows/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("sandbox=\"\""),
        "the draft preview is a sandboxed frame"
    );
    assert_eq!(
        html.matches("class=\"step ").count(),
        13,
        "13 steps in the timeline"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_cookie_and_csrf() {
    let app = spawn_app(&[("FORMLEAD_OPERATOR_TOKEN", TOKEN)]).await;
    app.post_signed(&body("c-1", "a@acme.example")).await;
    app.wait_for_status(WorkflowStatus::Completed, 1, Duration::from_secs(20))
        .await;
    let client = no_redirects();

    let r = client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers().get("location").unwrap().to_str().unwrap()
        ),
        (303, "/dashboard/login")
    );
    assert_eq!(
        client
            .get(app.url("/dashboard/partials/live"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let bad = client
        .post(app.url("/dashboard/login"))
        .form(&[("token", "nope-nope-nope-nope"), ("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.headers().get("set-cookie").is_none());

    let cookie = login(&app, &client).await;
    let html = client
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Signed in as Alice"));
    let csrf = csrf_of(&html);
    let drafts: Value = client
        .get(app.url("/api/dashboard/drafts"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let draft = drafts["drafts"][0]["id"].as_str().unwrap().to_owned();
    let approve = app.url(&format!("/api/dashboard/drafts/{draft}/approve"));

    let r = client
        .post(&approve)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "cookie without CSRF token");
    let r = client
        .post(&approve)
        .header("cookie", &cookie)
        .header("x-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "wrong CSRF token");
    let r = client
        .post(&approve)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "cross-site origin");
    let r = client
        .post(&approve)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["draft"]["decided_by"], "operator:Alice",
        "who approved is recorded"
    );

    let r = client
        .post(app.url("/dashboard/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_cross_site_posts_are_still_refused() {
    let app = spawn_app(&[]).await;
    app.post_signed(&body("x-1", "a@acme.example")).await;
    app.wait_for_status(WorkflowStatus::Completed, 1, Duration::from_secs(20))
        .await;
    let drafts: Value = app
        .client
        .get(app.url("/api/dashboard/drafts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let approve = app.url(&format!(
        "/api/dashboard/drafts/{}/approve",
        drafts["drafts"][0]["id"].as_str().unwrap()
    ));
    let r = app
        .client
        .post(&approve)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .post(&approve)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app.client.post(&approve).send().await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "API clients without browser headers work on loopback"
    );
    app.stop().await;
}
