//! Who may reach the operator routes: revocable sessions, throttled logins,
//! loopback-only hosts without a token, no caching, metrics behind the
//! token, and request ids a client cannot forge into the logs.

use std::time::Duration;

use reqwest::redirect::Policy;

use crate::helpers::*;

const TOKEN: &str = "access-token-0123456789";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Signs in as `name`; the whole `Set-Cookie` value.
async fn sign_in(app: &TestApp, client: &reqwest::Client, name: &str) -> String {
    let r = client
        .post(app.url("/dashboard/login"))
        .form(&[("token", TOKEN), ("name", name)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{name}");
    r.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn status_with_cookie(app: &TestApp, client: &reqwest::Client, cookie: &str) -> u16 {
    client
        .get(app.url("/api/dashboard/workflows"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_and_names_may_be_any_script() {
    let app = spawn_app(&[("FORMLEAD_OPERATOR_TOKEN", TOKEN)]).await;
    let client = no_redirects();
    let set = sign_in(&app, &client, "Jörg").await;
    let cookie = cookie_pair(&set);
    // The cookie is a random id: nothing of the token or the name in it.
    let value = cookie.split_once('=').unwrap().1;
    assert!(
        value.len() >= 64 && value.bytes().all(|b| b.is_ascii_hexdigit()),
        "{value}"
    );
    assert!(!set.contains("Secure"), "plain http: no Secure flag");
    let html = client
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200, "a non-ASCII name signs in");
    assert!(html.text().await.unwrap().contains("Signed in as Jörg"));
    assert_eq!(status_with_cookie(&app, &client, &cookie).await, 200);

    let r = client
        .post(app.url("/dashboard/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // The old cookie, replayed after logout, no longer works.
    assert_eq!(status_with_cookie(&app, &client, &cookie).await, 401);
    let r = client
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/dashboard/login");
    app.stop().await;
}

/// A restart (which a new token needs) ends every session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_do_not_outlive_the_process() {
    let client = no_redirects();
    let app = spawn_app(&[("FORMLEAD_OPERATOR_TOKEN", TOKEN)]).await;
    let cookie = cookie_pair(&sign_in(&app, &client, "Ana").await);
    app.stop().await;
    let app = spawn_app(&[("FORMLEAD_OPERATOR_TOKEN", TOKEN)]).await;
    assert_eq!(status_with_cookie(&app, &client, &cookie).await, 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_and_https_cookies_are_secure() {
    let app = spawn_app(&[
        ("FORMLEAD_OPERATOR_TOKEN", TOKEN),
        ("FORMLEAD_PUBLIC_URL", "https://leads.acme.test"),
    ])
    .await;
    let client = no_redirects();
    let mut codes = Vec::new();
    for _ in 0..6 {
        let r = client
            .post(app.url("/dashboard/login"))
            .form(&[("token", "wrong-wrong-wrong-wrong"), ("name", "x")])
            .send()
            .await
            .unwrap();
        codes.push(r.status().as_u16());
    }
    assert_eq!(codes, [401, 401, 401, 401, 401, 429]);
    // Locked out: even the right token gets 429 for the rest of the minute.
    let r = client
        .post(app.url("/dashboard/login"))
        .form(&[("token", TOKEN), ("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    app.stop().await;

    let app = spawn_app(&[
        ("FORMLEAD_OPERATOR_TOKEN", TOKEN),
        ("FORMLEAD_PUBLIC_URL", "https://leads.acme.test"),
    ])
    .await;
    let set = sign_in(&app, &client, "Ana").await;
    assert!(set.contains("; Secure"), "{set}");
    app.stop().await;
}

/// Without a token, a page on another site that rebinds its name to
/// 127.0.0.1 still cannot use the operator routes: they answer only
/// loopback host names. The signed webhook stays reachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_only_loopback_hosts_reach_operator_routes() {
    let app = spawn_app(&[]).await;
    for path in [
        "/dashboard",
        "/api/dashboard/workflows",
        "/dashboard/partials/live",
    ] {
        let r = app
            .client
            .get(app.url(path))
            .header("host", "rebind.evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 421, "{path}");
        let port = app.base.rsplit(':').next().unwrap();
        for host in [
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            "[::1]".to_owned(),
        ] {
            let r = app
                .client
                .get(app.url(path))
                .header("host", &host)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path} via {host}");
        }
    }
    let lead = body("rebind-1", "a@acme.example");
    let url = app.url(PATH);
    let mut headers = v3_headers(&url, lead.as_bytes(), chrono::Utc::now().timestamp_millis());
    headers.push(("host", app.base.trim_start_matches("http://").to_owned()));
    let r = app.post_raw(PATH, &headers, lead.into_bytes()).await;
    assert_eq!(
        r.status(),
        202,
        "the webhook does not depend on the host check"
    );

    // `Origin: null` is not same-origin.
    let r = app
        .client
        .post(app.url("/api/dashboard/workflows/retry-failed"))
        .header("origin", "null")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_not_cached_and_metrics_need_the_token() {
    let app = spawn_app(&[("FORMLEAD_OPERATOR_TOKEN", TOKEN)]).await;
    let client = no_redirects();
    let cookie = cookie_pair(&sign_in(&app, &client, "Ana").await);
    for path in [
        "/dashboard",
        "/dashboard/partials/live",
        "/api/dashboard/workflows",
        "/api/dashboard/drafts",
        "/dashboard/login",
    ] {
        let r = client
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    let r = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(app.url("/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("formlead_retries_total"));
    for open in ["/healthz", "/readyz"] {
        assert_eq!(
            client.get(app.url(open)).send().await.unwrap().status(),
            200,
            "{open}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_plain_tokens() {
    let app = spawn_app(&[]).await;
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap()
    };
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-7f3a.2_x")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&r), "lb-7f3a.2_x", "a plain id is kept");
    for bad in ["has space", "a\"b", &"x".repeat(65), "line=1;evil"] {
        let r = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let id = id_of(&r);
        assert_ne!(id, bad);
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "replaced by a fresh one: {id}"
        );
    }
    app.stop().await;
}
