//! `formlead check-config --probe` against fake vendors: every named
//! failure gets its cause and fix, the exit status says whether all
//! passed, and no secret is printed.

use std::process::Command;

use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HUBSPOT_TOKEN: &str = "pat-na1-probe-secret-token";
const CLIENT_SECRET: &str = "GOCSPX-probe-client-secret";
const REFRESH: &str = "1//probe-refresh-secret";
const ACCESS: &str = "ya29.probe-access-secret";
const LLM_KEY: &str = "sk-probe-llm-secret";

fn check_config(server: &MockServer) -> (bool, i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let base = server.uri();
    let o = Command::new(env!("CARGO_BIN_EXE_formlead"))
        .current_dir(dir.path())
        .args(["check-config", "--probe"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HUBSPOT_WEBHOOK_SECRET", "webhook-secret-for-probe")
        .env("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
        .env("HUBSPOT_API_BASE", &base)
        .env("GOOGLE_CLIENT_ID", "client-1.apps.googleusercontent.com")
        .env("GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
        .env("GOOGLE_REFRESH_TOKEN", REFRESH)
        .env("GOOGLE_TOKEN_URL", format!("{base}/token"))
        .env("GMAIL_API_BASE", &base)
        .env("GOOGLE_CALENDAR_API_BASE", format!("{base}/calendar/v3"))
        .env("GOOGLE_DRIVE_API_BASE", format!("{base}/drive/v3"))
        .env("GOOGLE_DRIVE_FOLDER_ID", "folder-1")
        .env("SENDER_EMAIL", "sam@northwind.example")
        .env("LLM_API_BASE", format!("{base}/v1"))
        .env("LLM_API_KEY", LLM_KEY)
        .env("LLM_MODEL", "small-model")
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for secret in [HUBSPOT_TOKEN, CLIENT_SECRET, REFRESH, ACCESS, LLM_KEY] {
        assert!(!out.contains(secret), "{secret} printed:\n{out}");
    }
    (o.status.success(), o.status.code().unwrap_or(-1), out)
}

async fn token(server: &MockServer, status: u16, body: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn get(server: &MockServer, p: &str, status: u16, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn free_busy(server: &MockServer, status: u16, body: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

fn scope_error() -> serde_json::Value {
    json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
        "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vendor_passes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners"))
        .and(query_param("limit", "1"))
        .and(header(
            "authorization",
            format!("Bearer {HUBSPOT_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [{"id": "1"}]})))
        .expect(1)
        .mount(&server)
        .await;
    token(
        &server,
        200,
        json!({"access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer"}),
    )
    .await;
    get(
        &server,
        "/gmail/v1/users/me/profile",
        200,
        json!({"emailAddress": "sam@northwind.example"}),
    )
    .await;
    free_busy(
        &server,
        200,
        json!({"calendars": {"primary": {"busy": []}}}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(query_param(
            "q",
            "'folder-1' in parents and trashed = false",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"files": []})))
        .mount(&server)
        .await;
    get(
        &server,
        "/v1/models",
        200,
        json!({"data": [{"id": "small-model"}]}),
    )
    .await;
    let (ok, _, out) = check_config(&server);
    assert!(ok, "{out}");
    assert_eq!(out.matches("PASS ").count(), 6, "{out}");
    assert!(
        out.contains("mailbox sam@northwind.example") && out.contains("all probes passed"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_and_grants_are_named() {
    let server = MockServer::start().await;
    get(&server, "/crm/v3/owners", 401, json!({"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})).await;
    token(&server, 400, json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})).await;
    get(
        &server,
        "/v1/models",
        401,
        json!({"error": {"message": "Incorrect API key provided"}}),
    )
    .await;
    let (ok, code, out) = check_config(&server);
    assert!(!ok && code == 1, "{out}");
    assert!(
        out.contains("FAIL hubspot owners read: 401: the token was revoked"),
        "{out}"
    );
    assert!(
        out.contains("FAIL google  token refresh: invalid_grant") && out.contains("re-consent"),
        "{out}"
    );
    assert!(out.contains("FAIL google  gmail profile: skipped"), "{out}");
    assert!(
        out.contains("FAIL llm     models list: 401: the API key was refused"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_scopes_are_named() {
    let server = MockServer::start().await;
    get(
        &server,
        "/crm/v3/owners",
        403,
        json!({"status": "error", "category": "MISSING_SCOPES",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.owners.read"]}}]}),
    )
    .await;
    token(
        &server,
        200,
        json!({"access_token": ACCESS, "expires_in": 3599}),
    )
    .await;
    get(&server, "/gmail/v1/users/me/profile", 403, scope_error()).await;
    free_busy(&server, 403, scope_error()).await;
    get(&server, "/drive/v3/files", 403, scope_error()).await;
    get(&server, "/v1/models", 200, json!({"data": []})).await;
    let (ok, code, out) = check_config(&server);
    assert!(!ok && code == 1, "{out}");
    assert!(
        out.contains("403: a scope is missing (crm.objects.owners.read)"),
        "{out}"
    );
    assert!(out.contains("PASS google  token refresh"), "{out}");
    for scope in [
        "https://www.googleapis.com/auth/gmail.modify",
        "https://www.googleapis.com/auth/calendar.freebusy",
        "https://www.googleapis.com/auth/drive.readonly",
    ] {
        assert!(
            out.contains(&format!("a scope is missing ({scope})")),
            "{scope}:\n{out}"
        );
    }
    assert!(out.contains("PASS llm"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_and_an_unknown_calendar_are_named() {
    let server = MockServer::start().await;
    get(&server, "/crm/v3/owners", 200, json!({"results": []})).await;
    token(
        &server,
        401,
        json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
    )
    .await;
    get(&server, "/v1/models", 200, json!({"data": []})).await;
    let (ok, _, out) = check_config(&server);
    assert!(!ok, "{out}");
    assert!(
        out.contains("invalid_client: GOOGLE_CLIENT_ID or GOOGLE_CLIENT_SECRET is wrong"),
        "{out}"
    );

    let server = MockServer::start().await;
    get(&server, "/crm/v3/owners", 200, json!({"results": []})).await;
    token(&server, 200, json!({"access_token": ACCESS})).await;
    get(
        &server,
        "/gmail/v1/users/me/profile",
        200,
        json!({"emailAddress": "sam@northwind.example"}),
    )
    .await;
    free_busy(
        &server,
        200,
        json!({"calendars": {"primary": {"errors": [{"domain": "global", "reason": "notFound"}]}}}),
    )
    .await;
    get(
        &server,
        "/drive/v3/files",
        404,
        json!({"error": {"code": 404, "message": "File not found: folder-1."}}),
    )
    .await;
    get(&server, "/v1/models", 200, json!({"data": []})).await;
    let (ok, _, out) = check_config(&server);
    assert!(!ok, "{out}");
    assert!(out.contains("calendar primary answered notFound"), "{out}");
    assert!(
        out.contains("FAIL google  drive folder listing: 404: File not found"),
        "{out}"
    );
}

#[test]
fn sandboxes_need_no_probe() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_formlead"))
        .current_dir(dir.path())
        .args(["check-config", "--probe"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("none: every vendor is a sandbox"), "{out}");
}
