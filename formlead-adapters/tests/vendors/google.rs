//! Google OAuth, Gmail, Calendar and Drive.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use formlead_adapters::google::{
    DriveAssets, GmailMailer, GoogleCalendar, GoogleClients, GoogleCredentials, GoogleEndpoints,
};
use formlead_core::domain::EmailAddress;
use formlead_core::policy::{Allowlist, ApiEnv, GatedPolicy, SendPolicyConfig};
use formlead_core::ports::{
    Approval, AssetPort, CalendarPort, Classify, MailError, MailPort, OutgoingMail, ReplyTo, Retry,
    SendRequest,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{
    body_partial_json, body_string_contains, header, method, path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{fixture, json};

const ACCESS: &str = "ya29.a0AfB_byC-test-access-token";
const REFRESH: &str = "1//0refresh-token-secret";
const CLIENT_SECRET: &str = "GOCSPX-client-secret";

async fn token_endpoint(server: &MockServer, expect: u64) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(
            "client_id=client-123.apps.googleusercontent.com",
        ))
        .and(body_string_contains(
            "refresh_token=1%2F%2F0refresh-token-secret",
        ))
        .respond_with(json(200, fixture!("google_token.json")))
        .expect(expect)
        .mount(server)
        .await;
}

fn clients(server: &MockServer) -> GoogleClients {
    let credentials = GoogleCredentials {
        client_id: "client-123.apps.googleusercontent.com".into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        refresh_token: SecretString::from(REFRESH),
        token_url: format!("{}/token", server.uri()),
    };
    let endpoints = GoogleEndpoints {
        gmail: server.uri(),
        calendar: format!("{}/calendar/v3", server.uri()),
        drive: format!("{}/drive/v3", server.uri()),
    };
    GoogleClients::new(credentials, &endpoints, Duration::from_millis(800)).unwrap()
}

fn send_policy() -> Arc<GatedPolicy> {
    Arc::new(GatedPolicy::new(SendPolicyConfig {
        api_env: ApiEnv::Production,
        mode_draft_only: false,
        allow_auto_send: false,
        allowlist: Allowlist::parse("@globex.example").unwrap(),
        require_operator_approval: true,
    }))
}

fn gmail(server: &MockServer, policy: Arc<GatedPolicy>) -> GmailMailer {
    GmailMailer::new(
        clients(server).gmail,
        policy,
        "sam@northwind.example",
        "Sam Carter",
    )
}

fn outgoing(reply: bool) -> OutgoingMail {
    OutgoingMail {
        to: EmailAddress::parse("maria.lopez@globex.example").unwrap(),
        to_name: Some("María López-Ñúñez".into()),
        subject: if reply {
            "Re: Pricing question".into()
        } else {
            "Ihre Anfrage — Grüße aus Zürich ✓".into()
        },
        body_text: "Hi María,\n\nThanks!".into(),
        body_html: "<div><p>Hi María,</p></div>".into(),
        message_id: "<formlead-6f1c@northwind.example>".into(),
        reply_to: reply.then(|| ReplyTo {
            thread_id: "18c1f2a3b4c5d6e7".into(),
            message_id: "<CAF5678@globex.example>".into(),
        }),
    }
}

#[tokio::test]
async fn tokens_are_cached_and_refreshed_once_for_concurrent_callers() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    let c = clients(&server);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let auth = c.auth.clone();
            tokio::spawn(async move { auth.token().await })
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    c.auth.token().await.unwrap();
    assert_eq!(c.auth.refreshes(), 1);
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_then_invalid_grant_is_permanent() {
    let server = MockServer::start().await;
    token_endpoint(&server, 2).await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(json(401, r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(json(200, fixture!("calendar_freebusy.json")))
        .mount(&server)
        .await;
    let c = clients(&server);
    let cal = GoogleCalendar::new(c.calendar.clone(), "primary");
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    let busy = cal
        .busy(from, from + chrono::Duration::days(11))
        .await
        .unwrap();
    assert_eq!(busy.len(), 2);
    assert_eq!(c.auth.refreshes(), 2, "the 401 forced one refresh");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(json(400, fixture!("google_invalid_grant.json")))
        .mount(&server)
        .await;
    let c = clients(&server);
    let err = GoogleCalendar::new(c.calendar, "primary")
        .busy(from, from)
        .await
        .unwrap_err();
    assert_eq!(err.retry(), Retry::Never);
    let text = err.to_string();
    assert!(
        text.contains("invalid_grant") && text.contains("GOOGLE_REFRESH_TOKEN"),
        "{text}"
    );
    assert!(
        !text.contains(REFRESH) && !text.contains(CLIENT_SECRET),
        "{text}"
    );
}

#[tokio::test]
async fn threads_with_a_prospect() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages"))
        .and(query_param(
            "q",
            "from:maria.lopez@globex.example OR to:maria.lopez@globex.example",
        ))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(json(200, fixture!("gmail_messages_list.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/threads/18c1f2a3b4c5d6e7"))
        .and(query_param("format", "metadata"))
        .respond_with(json(200, fixture!("gmail_thread.json")))
        .expect(1)
        .mount(&server)
        .await;
    let threads = gmail(&server, send_policy())
        .threads_with(
            &EmailAddress::parse("maria.lopez@globex.example").unwrap(),
            10,
        )
        .await
        .unwrap();
    assert_eq!(threads.len(), 1);
    let t = &threads[0];
    assert_eq!(t.subject, "Pricing question");
    assert_eq!(
        t.last_message_id.as_deref(),
        Some("<CAF5678@globex.example>")
    );
    assert_eq!(t.message_count, 2);
    assert!(t.last_from_prospect);
    assert_eq!(t.last_message_at.timestamp_millis(), 1_793_600_000_000);
}

/// The draft's `raw` decodes and parses as a valid message with the right
/// To, Subject, threading headers and UTF-8 names.
#[tokio::test]
async fn drafts_are_valid_threaded_rfc5322_messages() {
    for reply in [true, false] {
        let server = MockServer::start().await;
        token_endpoint(&server, 1).await;
        let mut create = Mock::given(method("POST")).and(path("/gmail/v1/users/me/drafts"));
        if reply {
            create = create.and(body_partial_json(
                json!({"message": {"threadId": "18c1f2a3b4c5d6e7"}}),
            ));
        }
        create
            .respond_with(json(200, fixture!("gmail_draft_created.json")))
            .expect(1)
            .mount(&server)
            .await;
        let draft = gmail(&server, send_policy())
            .create_draft(&outgoing(reply))
            .await
            .unwrap();
        assert_eq!(draft.draft_id, "r-8163574916153748571");

        let requests = server.received_requests().await.unwrap();
        let create = requests
            .iter()
            .find(|r| r.url.path() == "/gmail/v1/users/me/drafts")
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&create.body).unwrap();
        let raw = body["message"]["raw"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("\nBcc"), "no stray headers");
        let msg = mail_parser::MessageParser::default()
            .parse(&bytes)
            .expect("parses as a message");
        let to = msg.to().unwrap().first().unwrap();
        assert_eq!(to.address(), Some("maria.lopez@globex.example"));
        assert_eq!(
            to.name(),
            Some("María López-Ñúñez"),
            "UTF-8 name intact (RFC 2047)"
        );
        let from = msg.from().unwrap().first().unwrap();
        assert_eq!(
            (from.address(), from.name()),
            (Some("sam@northwind.example"), Some("Sam Carter"))
        );
        assert_eq!(msg.message_id(), Some("formlead-6f1c@northwind.example"));
        assert_eq!(
            msg.body_text(0).unwrap().replace("\r\n", "\n").trim_end(),
            "Hi María,\n\nThanks!"
        );

        assert!(msg.body_html(0).unwrap().contains("<p>Hi María,</p>"));
        if reply {
            assert_eq!(msg.subject(), Some("Re: Pricing question"));
            assert_eq!(msg.in_reply_to().as_text(), Some("CAF5678@globex.example"));
            assert_eq!(msg.references().as_text(), Some("CAF5678@globex.example"));
        } else {
            assert_eq!(
                msg.subject(),
                Some("Ihre Anfrage — Grüße aus Zürich ✓"),
                "UTF-8 subject intact (RFC 2047)"
            );
            assert!(msg.in_reply_to().is_empty());
            assert!(body["message"].get("threadId").is_none());
        }
    }
}

#[tokio::test]
async fn drafts_are_found_by_message_id() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/drafts"))
        .and(query_param(
            "q",
            "rfc822msgid:formlead-6f1c@northwind.example",
        ))
        .respond_with(json(200, fixture!("gmail_drafts_list.json")))
        .mount(&server)
        .await;
    let d = gmail(&server, send_policy())
        .find_draft("<formlead-6f1c@northwind.example>")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.draft_id.as_str(), d.thread_id.as_deref()),
        ("r-8163574916153748571", Some("18c1f2a3b4c5d6e7"))
    );
}

fn send_request(approval: Approval) -> SendRequest {
    SendRequest {
        draft_id: "r-8163574916153748571".into(),
        message_id: "<formlead-6f1c@northwind.example>".into(),
        to: EmailAddress::parse("maria.lopez@globex.example").unwrap(),
        approval,
    }
}

/// The send reaches Gmail but the response is lost; the retry finds the
/// sent message and does not send again.
#[tokio::test]
async fn an_interrupted_send_is_not_repeated() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages"))
        .and(query_param(
            "q",
            "rfc822msgid:formlead-6f1c@northwind.example in:sent",
        ))
        .respond_with(json(200, fixture!("gmail_messages_empty.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages"))
        .respond_with(json(200, fixture!("gmail_messages_sent.json")))
        .mount(&server)
        .await;
    // Gmail accepts the send, but the answer arrives after the client gave up.
    Mock::given(method("POST"))
        .and(path("/gmail/v1/users/me/drafts/send"))
        .and(body_partial_json(json!({"id": "r-8163574916153748571"})))
        .respond_with(json(200, fixture!("gmail_sent.json")).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mail = gmail(&server, send_policy());
    let approval = Approval::Operator("alice".into());
    let first = mail
        .send_draft(&send_request(approval.clone()))
        .await
        .unwrap_err();
    assert!(first.is_transient(), "{first}");
    let second = mail.send_draft(&send_request(approval)).await.unwrap();
    assert!(second.already_sent);
    assert_eq!(second.message_id, "18c1f2a3b4c5d700");
    let sends = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/gmail/v1/users/me/drafts/send")
        .count();
    assert_eq!(sends, 1, "exactly one send request reached Gmail");
}

#[tokio::test]
async fn the_mail_adapter_rechecks_the_policy_before_sending() {
    let server = MockServer::start().await;
    token_endpoint(&server, 0).await;
    let draft_only = Arc::new(GatedPolicy::new(SendPolicyConfig::default()));
    let err = gmail(&server, draft_only)
        .send_draft(&send_request(Approval::Operator("alice".into())))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Refused(_)), "{err}");
    let err = gmail(&server, send_policy())
        .send_draft(&send_request(Approval::Automatic))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MailError::Refused(_)),
        "auto-send needs its own gates: {err}"
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing was sent, not even a token request"
    );
}

#[tokio::test]
async fn gmail_failure_matrix() {
    let cases: Vec<(&str, ResponseTemplate, Retry)> = vec![
        (
            "429 without retry-after",
            json(429, fixture!("gmail_rate_limited.json")),
            Retry::Later { after: None },
        ),
        (
            // Longer than is waited out inline: the workflow's retry waits.
            "429 with retry-after",
            json(429, fixture!("gmail_rate_limited.json")).insert_header("retry-after", "30"),
            Retry::Later {
                after: Some(Duration::from_secs(30)),
            },
        ),
        (
            "403 user rate limit",
            json(403, fixture!("gmail_rate_limited.json")),
            Retry::Later {
                after: Some(Duration::from_secs(60)),
            },
        ),
        (
            "500",
            json(500, r#"{"error":{"code":500,"message":"Backend Error"}}"#),
            Retry::Later { after: None },
        ),
        (
            "503",
            json(
                503,
                r#"{"error":{"code":503,"message":"The service is currently unavailable."}}"#,
            ),
            Retry::Later { after: None },
        ),
        (
            "timeout",
            json(200, fixture!("gmail_draft_created.json")).set_delay(Duration::from_secs(3)),
            Retry::Later { after: None },
        ),
        (
            "malformed JSON",
            ResponseTemplate::new(200)
                .set_body_raw(b"<html>proxy error</html>".to_vec(), "text/html"),
            Retry::Later { after: None },
        ),
        (
            "400",
            json(400, fixture!("gmail_bad_request.json")),
            Retry::Never,
        ),
    ];
    for (name, response, expected) in cases {
        let server = MockServer::start().await;
        token_endpoint(&server, 1).await;
        Mock::given(method("POST"))
            .and(path("/gmail/v1/users/me/drafts"))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = gmail(&server, send_policy())
            .create_draft(&outgoing(false))
            .await
            .unwrap_err();
        assert_eq!(err.retry(), expected, "{name}: {err}");
        assert!(!err.to_string().contains(ACCESS), "{name}: token leaked");
        if name == "400" {
            assert!(err.to_string().contains("Invalid To header"), "{err}");
        }
    }
    // 401 twice: refreshed once, then a clear permanent error.
    let server = MockServer::start().await;
    token_endpoint(&server, 2).await;
    Mock::given(method("POST"))
        .and(path("/gmail/v1/users/me/drafts"))
        .respond_with(json(
            401,
            r#"{"error":{"code":401,"message":"Invalid Credentials"}}"#,
        ))
        .mount(&server)
        .await;
    let err = gmail(&server, send_policy())
        .create_draft(&outgoing(false))
        .await
        .unwrap_err();
    assert_eq!(err.retry(), Retry::Never, "{err}");
    assert!(err.to_string().contains("still unauthorised"), "{err}");
}

#[tokio::test]
async fn calendar_freebusy_request_shape() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        // The window asked for runs 10 minutes past the one requested, so
        // the next requests (a little later) are served from the cache.
        .and(body_partial_json(json!({"timeMin": "2026-11-25T10:00:00Z", "timeMax": "2026-12-06T10:10:00Z", "items": [{"id": "primary"}]})))
        .respond_with(json(200, fixture!("calendar_freebusy.json")))
        .expect(1)
        .mount(&server)
        .await;
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    let calendar = GoogleCalendar::new(clients(&server).calendar, "primary");
    let busy = calendar
        .busy(from, from + chrono::Duration::days(11))
        .await
        .unwrap();
    // The next lead, a few seconds later: the same answer, no second call
    // (`expect(1)` above).
    let later = from + chrono::Duration::seconds(5);
    let again = calendar
        .busy(later, later + chrono::Duration::days(11))
        .await
        .unwrap();
    assert_eq!(again, busy);
    assert_eq!(
        busy[0].start,
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
    );
    assert_eq!(
        busy[1].end,
        Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
    );
}

#[tokio::test]
async fn drive_files_list_with_a_quoted_query() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(query_param("q", "'folder-1' in parents and trashed = false and (fullText contains 'onboarding' or fullText contains 'o\\'brien')"))
        .and(query_param("supportsAllDrives", "true"))
        .respond_with(json(200, fixture!("drive_files.json")))
        .expect(1)
        .mount(&server)
        .await;
    let assets = DriveAssets::new(clients(&server).drive, "folder-1")
        .search(&["onboarding".into(), "o'brien".into()], 20)
        .await
        .unwrap();
    assert_eq!(assets.len(), 2);
    assert_eq!(
        assets[0].url,
        "https://drive.google.com/file/d/1AbC/view?usp=drivesdk"
    );
    assert_eq!(assets[0].description, "How Initech automated onboarding");
}

/// `drafts.get` with `format=metadata` for To, Cc and Bcc: every recipient
/// the mailbox would send to, as edited in Gmail.
#[tokio::test]
async fn draft_recipients_are_read_back_from_gmail() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/drafts/r-8163574916153748571"))
        .and(query_param("format", "metadata"))
        .respond_with(json(200, fixture!("gmail_draft_metadata.json")))
        .expect(1)
        .mount(&server)
        .await;
    let recipients = gmail(&server, send_policy())
        .draft_recipients("r-8163574916153748571")
        .await
        .unwrap();
    assert_eq!(
        recipients,
        [
            "maria.lopez@globex.example",
            "sales@northwind.example",
            "ops@globex.example",
            "eve@evil.example"
        ]
    );
    let asked = &server.received_requests().await.unwrap()[1];
    let headers: Vec<String> = asked
        .url
        .query_pairs()
        .filter(|(k, _)| k == "metadataHeaders")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(headers, ["To", "Cc", "Bcc"]);
}

/// `drafts.update` replaces the draft's message in place (`PUT
/// /drafts/{id}` with the id and the new raw message in its thread); a
/// draft no longer in the mailbox (sent from Gmail meanwhile) is a
/// permanent failure.
#[tokio::test]
async fn a_draft_is_updated_in_place() {
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("PUT"))
        .and(path("/gmail/v1/users/me/drafts/r-8163574916153748571"))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .and(body_partial_json(json!({
            "id": "r-8163574916153748571",
            "message": {"threadId": "18c1f2a3b4c5d6e7"}
        })))
        .respond_with(json(200, fixture!("gmail_draft_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/gmail/v1/users/me/drafts/r-gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}),
        ))
        .mount(&server)
        .await;
    let gmail = gmail(&server, send_policy());
    let draft = gmail
        .update_draft("r-8163574916153748571", &outgoing(true))
        .await
        .unwrap();
    assert_eq!(draft.thread_id.as_deref(), Some("18c1f2a3b4c5d6e7"));
    let requests = server.received_requests().await.unwrap();
    let put = requests
        .iter()
        .find(|r| r.method.as_str() == "PUT")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&put.body).unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body["message"]["raw"].as_str().unwrap())
        .unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(msg.message_id(), Some("formlead-6f1c@northwind.example"));

    let gone = gmail
        .update_draft("r-gone", &outgoing(true))
        .await
        .unwrap_err();
    assert_eq!(gone.retry(), Retry::Never, "{gone}");
}

/// The sent mail for `voice learn`: `messages.list` with `in:sent`, then
/// each message in full, keeping its plain-text part (also inside a
/// multipart/alternative); a message with none is skipped.
#[tokio::test]
async fn sent_mail_is_read_as_plain_text() {
    use formlead_adapters::google::SentMail;
    let server = MockServer::start().await;
    token_endpoint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages"))
        .and(query_param("q", "in:sent"))
        .and(query_param("maxResults", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [{"id": "m1", "threadId": "t1"}, {"id": "m2", "threadId": "t2"}, {"id": "m3", "threadId": "t3"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages/m1"))
        .and(query_param("format", "full"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m1", "payload": {
            "mimeType": "text/plain", "body": {"size": 20, "data": b64("Hi Ann,\n\nSure.\n\nBest,\nSam")}}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages/m2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m2", "payload": {
            "mimeType": "multipart/alternative", "body": {"size": 0}, "parts": [
                {"mimeType": "text/plain", "body": {"size": 10, "data": b64("Hello Bo, ünïcode ok")}},
                {"mimeType": "text/html", "body": {"size": 10, "data": b64("<p>Hello</p>")}}]}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/me/messages/m3"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "m3", "payload": {
            "mimeType": "text/html", "body": {"size": 10, "data": b64("<p>only html</p>")}}})),
        )
        .mount(&server)
        .await;
    let sent = SentMail::new(clients(&server).gmail)
        .recent(3)
        .await
        .unwrap();
    assert_eq!(
        sent,
        vec![
            "Hi Ann,\n\nSure.\n\nBest,\nSam".to_owned(),
            "Hello Bo, ünïcode ok".to_owned()
        ]
    );
}
