//! The `formlead` binary: gates at start-up, check-config, the embedded
//! default end to end with `simulate`, `smoke`, and SIGTERM during a burst.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

fn formlead(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_formlead"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    formlead(dir, env, args).output().expect("run formlead")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn check_config_prints_every_setting_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &[("HUBSPOT_WEBHOOK_SECRET", "super-secret-value")],
        &["check-config"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for expected in [
        "DATABASE_URL",
        "sqlite://formlead.db",
        "HUBSPOT_WEBHOOK_SECRET",
        "********",
        "sandbox",
        "Send mode: draft_only",
        "configuration OK",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("super-secret-value"), "secret leaked:\n{out}");

    // A database password is masked too, also when the URL is refused.
    let pg = "postgres://formlead:hunter2-pw@127.0.0.1:1/formlead";
    let o = run(
        dir.path(),
        &[
            ("HUBSPOT_WEBHOOK_SECRET", "super-secret-value"),
            ("DATABASE_URL", pg),
        ],
        &["check-config"],
    );
    let out = text(&o);
    assert!(
        out.contains("postgres://formlead:***@127.0.0.1:1/formlead"),
        "{out}"
    );
    assert!(!out.contains("hunter2-pw"), "password leaked:\n{out}");
    let o = run(
        dir.path(),
        &[("DATABASE_URL", "mysql://formlead:hunter2-pw@db/formlead")],
        &["check-config"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!text(&o).contains("hunter2-pw"), "{}", text(&o));
}

#[test]
fn unsafe_send_settings_stop_serve_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("MODE_DRAFT_ONLY", "false")], "MODE_DRAFT_ONLY"),
        (
            &[("MODE_DRAFT_ONLY", "false"), ("API_ENV", "staging")],
            "MODE_DRAFT_ONLY",
        ),
        (
            &[
                ("MODE_DRAFT_ONLY", "false"),
                ("API_ENV", "production"),
                ("HUBSPOT_WEBHOOK_SECRET", "0123456789abcdef"),
            ],
            "SEND_EMAIL_ALLOWLIST",
        ),
        (&[("FORMLEAD_BIND", "0.0.0.0:0")], "FORMLEAD_OPERATOR_TOKEN"),
    ];
    for (env, needle) in cases {
        for cmd in ["check-config", "serve"] {
            let o = run(dir.path(), env, &[cmd]);
            let out = text(&o);
            assert!(!o.status.success(), "{cmd} with {env:?} succeeded:\n{out}");
            assert!(
                out.contains(needle),
                "{cmd} with {env:?} does not say why ({needle}):\n{out}"
            );
        }
    }
    assert!(
        !dir.path().join("formlead.db").exists(),
        "refused before touching the database"
    );
}

/// Deployments where the public development secret would verify webhooks,
/// or where operator routes would be open beyond a loopback development
/// server: `serve`, `worker` (secret only) and `check-config` exit 2 and
/// name the setting, before touching the database.
#[test]
fn forgeable_webhooks_and_open_operator_routes_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let token = ("FORMLEAD_OPERATOR_TOKEN", "0123456789abcdef-token");
    let secret = ("HUBSPOT_WEBHOOK_SECRET", "a-real-client-secret");
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);
    let all: &[&str] = &["check-config", "serve", "worker"];
    let http: &[&str] = &["check-config", "serve"];
    let cases: &[Case<'_>] = &[
        // The reproduction: staging, public bind, a token, a HubSpot token, no secret.
        (
            &[
                ("API_ENV", "staging"),
                ("FORMLEAD_BIND", "0.0.0.0:0"),
                token,
                ("HUBSPOT_ACCESS_TOKEN", "pat-na1-x"),
            ],
            "HUBSPOT_WEBHOOK_SECRET",
            all,
        ),
        (
            &[("HUBSPOT_ACCESS_TOKEN", "pat-na1-x")],
            "HUBSPOT_WEBHOOK_SECRET",
            all,
        ),
        (
            &[
                ("API_ENV", "staging"),
                token,
                ("HUBSPOT_WEBHOOK_SECRET", "formlead-dev-secret"),
            ],
            "HUBSPOT_WEBHOOK_SECRET",
            all,
        ),
        (
            &[
                ("API_ENV", "production"),
                ("HUBSPOT_WEBHOOK_SECRET", "too-short"),
            ],
            "HUBSPOT_WEBHOOK_SECRET",
            all,
        ),
        (
            &[("API_ENV", "staging"), secret],
            "FORMLEAD_OPERATOR_TOKEN",
            http,
        ),
        (
            &[("FORMLEAD_PUBLIC_URL", "https://hooks.acme.test"), secret],
            "FORMLEAD_OPERATOR_TOKEN",
            http,
        ),
        (
            &[
                ("API_ENV", "production"),
                ("MODE_DRAFT_ONLY", "false"),
                ("SEND_EMAIL_ALLOWLIST", "@acme.test"),
                ("HUBSPOT_WEBHOOK_SECRET", "0123456789abcdef"),
            ],
            "FORMLEAD_OPERATOR_TOKEN",
            http,
        ),
    ];
    for (env, needle, commands) in cases {
        for cmd in *commands {
            let o = run(dir.path(), env, &[cmd]);
            let out = text(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} with {env:?}:\n{out}");
            assert!(
                out.contains(needle),
                "{cmd} with {env:?} does not name {needle}:\n{out}"
            );
            assert!(!out.contains("pat-na1-x"), "a secret leaked:\n{out}");
        }
    }
    assert!(
        !dir.path().join("formlead.db").exists(),
        "refused before touching the database"
    );
    // The same staging deployment with a real secret and a token is fine.
    let o = run(
        dir.path(),
        &[
            ("API_ENV", "staging"),
            token,
            secret,
            ("HUBSPOT_ACCESS_TOKEN", "pat-na1-x"),
        ],
        &["check-config"],
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// A SQLite file in a directory that is not there: `serve` stops at once
/// and names the directory.
#[test]
fn a_missing_database_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let url = format!("sqlite://{}", missing.join("formlead.db").display());
    let o = run(
        dir.path(),
        &[("DATABASE_URL", &url), ("FORMLEAD_BIND", "127.0.0.1:0")],
        &["serve"],
    );
    let out = text(&o);
    assert!(!o.status.success(), "serve started:\n{out}");
    assert!(
        out.contains(&format!(
            "the directory {} does not exist",
            missing.display()
        )),
        "{out}"
    );
    assert!(!missing.exists(), "nothing was created");
}

struct Server {
    child: Child,
    base: String,
    /// The server's log (stderr), shown when a check on it fails.
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path, port: u16) -> Self {
        let bind = format!("127.0.0.1:{port}");
        let n = std::fs::read_dir(dir).map_or(0, Iterator::count);
        let log = dir.join(format!("serve-{n}.log"));
        let child = formlead(
            dir,
            &[
                ("FORMLEAD_BIND", &bind),
                ("FORMLEAD_RETRY_BASE_MS", "500"),
                ("FORMLEAD_WORKERS", "8"),
                ("FORMLEAD_LOG", "info"),
            ],
            &["serve"],
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create the server log"))
        .spawn()
        .expect("spawn serve");
        let base = format!("http://{bind}");
        let start = Instant::now();
        while std::net::TcpStream::connect(&bind).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, base, log }
    }

    /// The last lines of the server's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "serve exited with {status}");
                return;
            }
            // Well inside the 30-s shutdown timeout: the runs in flight
            // take milliseconds, so a stop that needs the timeout is stuck.
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "serve did not stop within 15 s of SIGTERM; its log ends:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn api(client: &reqwest::Client, base: &str, path: &str) -> Value {
    client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_completed(client: &reqwest::Client, base: &str, n: u64) {
    let start = Instant::now();
    loop {
        let v = api(
            client,
            base,
            "/api/dashboard/workflows?status=completed&limit=1",
        )
        .await;
        if v["total"].as_u64() == Some(n) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} of {n} completed",
            v["total"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_200_against_serve_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(dir.path(), port);
    let o = run(
        dir.path(),
        &[("FORMLEAD_BIND", &format!("127.0.0.1:{port}"))],
        &["simulate", "--count", "200", "--concurrency", "16"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("accepted:   200"), "{out}");
    let client = reqwest::Client::new();
    wait_completed(&client, &server.base, 200).await;
    let drafts = api(&client, &server.base, "/api/dashboard/drafts?limit=1").await;
    assert_eq!(drafts["total"], 200, "one sandbox draft per workflow");
    let all = api(&client, &server.base, "/api/dashboard/workflows?limit=500").await;
    let mut tasks = 0;
    for w in all["workflows"].as_array().unwrap() {
        let d = api(
            &client,
            &server.base,
            &format!("/api/dashboard/workflows/{}", w["id"].as_str().unwrap()),
        )
        .await;
        tasks += d["tasks"].as_array().unwrap().len();
        assert_eq!(d["steps"].as_array().unwrap().len(), 13);
    }
    assert_eq!(tasks, 200, "one sandbox task per workflow");
    server.terminate();
}

#[test]
fn smoke_prints_13_steps() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &[], &["smoke"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for (i, step) in [
        "validate_submission",
        "upsert_contact",
        "read_threads",
        "recall_history",
        "find_assets",
        "find_meeting_slots",
        "plan_next_step",
        "write_draft",
        "check_send_policy",
        "create_mail_draft",
        "create_crm_task",
        "log_crm_note",
        "finalize",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            out.contains(&format!("{:>2}. {step}", i + 1)),
            "step {step} missing:\n{out}"
        );
    }
    assert!(out.contains("smoke test passed"), "{out}");
    assert!(
        !dir.path().join("formlead.db").exists(),
        "smoke writes nothing to the database"
    );
}

/// SIGTERM in the middle of a burst: every request that got 202 has its
/// workflow completed after a restart; nothing got 202 without being stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(dir.path(), port);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let url = format!("{}{PATH}", server.base);
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 3)).await;
            let b = body(&format!("burst-{i}"), &format!("burst{i}@acme.example"));
            let ts = chrono::Utc::now().timestamp_millis();
            let sig = formlead_core::signature::sign_v3(
                formlead_server::config::DEV_WEBHOOK_SECRET.as_bytes(),
                "POST",
                &url,
                b.as_bytes(),
                ts,
            );
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hubspot-signature-v3", sig)
                .header("x-hubspot-request-timestamp", ts.to_string())
                .body(b)
                .send()
                .await;
            match r {
                Ok(r) => Some((
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap_or(Value::Null),
                )),
                Err(_) => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.terminate();
    let mut accepted = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Some((202, v)) => accepted.push(v["workflow_id"].as_str().unwrap().to_owned()),
            Some((s, v)) => panic!("unexpected {s}: {v}"),
            None => refused += 1,
        }
    }
    assert!(
        !accepted.is_empty() && refused > 0,
        "the burst straddled the shutdown ({} accepted, {refused} refused)",
        accepted.len()
    );

    let stopped = server;
    let server = Server::start(dir.path(), port);
    let start = Instant::now();
    for id in &accepted {
        loop {
            let d = api(
                &client,
                &server.base,
                &format!("/api/dashboard/workflows/{id}"),
            )
            .await;
            assert!(
                d["workflow"].is_object(),
                "202 without a stored workflow: {id}"
            );
            if d["workflow"]["status"] == "completed" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "workflow {id} not completed after restart: {}; the log of the stopped server ends:\n{}",
                d["workflow"]["status"],
                stopped.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Every 202 is stored (checked above), and nothing was stored that was
    // not sent. A request can be stored without its client seeing the 202
    // (the client gave up while the commit was under way); HubSpot then
    // retries it and gets the duplicate answer, so that is allowed.
    let all = api(&client, &server.base, "/api/dashboard/workflows?limit=1").await;
    let stored = all["total"].as_u64().unwrap_or_default();
    if stored != accepted.len() as u64 {
        eprintln!(
            "note: {stored} stored, {} got 202, {refused} got no answer",
            accepted.len()
        );
    }
    assert!(
        stored >= accepted.len() as u64 && stored <= (accepted.len() + refused) as u64,
        "{stored} stored for {} accepted and {refused} refused",
        accepted.len()
    );
}

/// `reconcile` pulls a form's submissions from HubSpot (cursor pages, newest
/// first, stopping at `--since`) through the same dedupe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_accepts_missed_submissions_once() {
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let hubspot = MockServer::start().await;
    let now = chrono::Utc::now().timestamp_millis();
    let record = |id: &str, email: &str, at: i64| {
        serde_json::json!({"conversionId": id, "submittedAt": at, "pageUrl": "https://example.com/contact",
            "values": [{"name": "email", "value": email}, {"name": "firstname", "value": "Rae"}]})
    };
    Mock::given(method("GET"))
        .and(path("/form-integrations/v1/submissions/forms/form-guid-1"))
        .and(query_param("after", "cursor-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "results": [record("conv-old", "old@acme.example", now - 30 * 86_400_000)]
        })))
        .mount(&hubspot)
        .await;
    Mock::given(method("GET"))
        .and(path("/form-integrations/v1/submissions/forms/form-guid-1"))
        .and(header("authorization", "Bearer pat-test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "results": [record("conv-2", "two@acme.example", now - 60_000), record("conv-1", "one@acme.example", now - 120_000)],
            "paging": {"next": {"after": "cursor-2"}}
        })))
        .mount(&hubspot)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let base = hubspot.uri();
    let env = [
        ("HUBSPOT_ACCESS_TOKEN", "pat-test-token"),
        ("HUBSPOT_API_BASE", base.as_str()),
    ];
    let o = run(
        dir.path(),
        &env,
        &["reconcile", "--form", "form-guid-1", "--since", "7d"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("2 submissions since") && out.contains("2 new, 0 already known"),
        "{out}"
    );
    let again = run(
        dir.path(),
        &env,
        &["reconcile", "--form", "form-guid-1", "--since", "7d"],
    );
    let out = text(&again);
    assert!(
        again.status.success() && out.contains("0 new, 2 already known"),
        "{out}"
    );
    let o = run(
        dir.path(),
        &[],
        &["reconcile", "--form", "form-guid-1", "--since", "7d"],
    );
    assert!(
        !o.status.success() && text(&o).contains("HUBSPOT_ACCESS_TOKEN"),
        "{}",
        text(&o)
    );
}

/// A submission that arrived by webhook without a `formSubmissionId` (a
/// HubSpot workflow's "send a webhook" body) is recognised in the forms
/// API's list by form, email and time: `reconcile` does not start it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_knows_a_webhook_without_an_id() {
    use formlead_adapters::sql::{SqliteDurability, SqliteStore};
    use formlead_core::ports::Store;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let dir = tempfile::tempdir().unwrap();
    let at = chrono::Utc::now().timestamp_millis() / 1000 * 1000 - 60_000;
    {
        let url = format!("sqlite://{}", dir.path().join("formlead.db").display());
        let store = SqliteStore::connect_sqlite(&url, SqliteDurability::Full, 4)
            .await
            .unwrap();
        // No formSubmissionId: stored under the body's hash.
        let body = serde_json::json!({"formId": "form-guid-1", "submittedAt": at,
            "email": "nia@acme.example", "firstname": "Nia", "message": "A demo, please"})
        .to_string();
        let sub = formlead_core::domain::FormSubmission::from_webhook_body(
            body.as_bytes(),
            chrono::Utc::now(),
        )
        .unwrap();
        assert!(sub.form_submission_id.starts_with("body-sha256:"));
        store.accept_submission(&sub).await.unwrap();
    }

    let hubspot = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/form-integrations/v1/submissions/forms/form-guid-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "results": [
                {"conversionId": "conv-nia", "submittedAt": at, "pageUrl": "https://example.com/contact",
                 "values": [{"name": "email", "value": "Nia@Acme.example"}, {"name": "firstname", "value": "Nia"}]},
                {"conversionId": "conv-new", "submittedAt": at + 5_000, "pageUrl": "https://example.com/contact",
                 "values": [{"name": "email", "value": "new@acme.example"}]}
            ]
        })))
        .mount(&hubspot)
        .await;
    let base = hubspot.uri();
    let env = [
        ("HUBSPOT_ACCESS_TOKEN", "pat-test-token"),
        ("HUBSPOT_API_BASE", base.as_str()),
    ];
    let o = run(
        dir.path(),
        &env,
        &["reconcile", "--form", "form-guid-1", "--since", "1d"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("known conv-nia (arrived by webhook without an id)")
            && out.contains("1 new, 1 already known"),
        "{out}"
    );
}

/// `formlead voice learn` without Google credentials learns from the
/// bundled sample sent mail and writes a profile `VOICE_PROFILE` takes.
#[test]
fn voice_learn_writes_a_profile_the_writer_takes() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &[], &["voice", "learn", "--out", "voice.toml"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("bundled sample sent messages"), "{out}");
    assert!(out.contains("changes from the profile in force"), "{out}");
    let toml = std::fs::read_to_string(dir.path().join("voice.toml")).unwrap();
    let p = formlead_core::agents::VoiceProfile::from_toml(&toml).unwrap();
    assert_eq!(p.greeting, "Hi {first_name},");
    assert_eq!(p.sign_off, "Best regards,");
    assert_eq!(p.signature, "Alex Morgan\nAccount Executive, Acme");
    assert!(p.examples.is_empty(), "no LLM writer, no example sentences");
    // With an LLM writer configured, a few anonymised sentences for it.
    let llm = [
        ("LLM_API_BASE", "http://127.0.0.1:9/v1"),
        ("LLM_API_KEY", "sk-voice-test"),
        ("LLM_MODEL", "gpt-4o-mini"),
    ];
    let o = run(
        dir.path(),
        &llm,
        &["voice", "learn", "--out", "voice-llm.toml"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("example sentence(s) for the LLM writer"),
        "{out}"
    );
    assert!(!out.contains("sk-voice-test"), "{out}");
    let toml = std::fs::read_to_string(dir.path().join("voice-llm.toml")).unwrap();
    let with = formlead_core::agents::VoiceProfile::from_toml(&toml).unwrap();
    assert!((1..=5).contains(&with.examples.len()), "{toml}");
    assert!(
        with.examples
            .iter()
            .all(|e| !e.contains("Alex") && !e.contains("Acme")),
        "{toml}"
    );
    assert_eq!(with.greeting, p.greeting);
    // The server starts with it.
    let o = run(
        dir.path(),
        &[("VOICE_PROFILE", "voice.toml")],
        &["check-config"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let help = text(&run(dir.path(), &[], &["voice", "--help"]));
    assert!(help.contains("learn"), "{help}");
    let bad = run(dir.path(), &[], &["voice", "learn", "--messages", "1"]);
    assert!(!bad.status.success());
}

/// `formlead google authorize`: the consent URL names exactly formlead's
/// scopes and a loopback redirect; following the redirect with a code (as
/// the browser would after consent) exchanges it, and the refresh token
/// is printed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_authorize_runs_the_installed_app_flow() {
    use std::io::{BufRead, BufReader};
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let google = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=fake-code-123"))
        .and(body_string_contains("code_verifier="))
        .and(body_string_contains(
            "client_secret=GOCSPX-authorize-secret",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "ya29.x", "expires_in": 3599, "refresh_token": "1//fresh-refresh-token",
            "scope": "https://www.googleapis.com/auth/gmail.modify", "token_type": "Bearer"})))
        .expect(1)
        .mount(&google)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = formlead(
        dir.path(),
        &[
            ("GOOGLE_CLIENT_ID", "client-9.apps.googleusercontent.com"),
            ("GOOGLE_CLIENT_SECRET", "GOCSPX-authorize-secret"),
            ("GOOGLE_TOKEN_URL", &format!("{}/token", google.uri())),
            ("GOOGLE_AUTH_URL", &format!("{}/auth", google.uri())),
        ],
        &["google", "authorize", "--timeout", "20"],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let consent = loop {
        let line = lines.next().expect("the consent URL").unwrap();
        if line.starts_with("http") {
            break reqwest::Url::parse(&line).unwrap();
        }
    };
    let param = |k: &str| {
        consent
            .query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    assert!(
        consent
            .as_str()
            .starts_with(&format!("{}/auth?", google.uri()))
    );
    assert_eq!(
        param("scope"),
        "https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/calendar.freebusy https://www.googleapis.com/auth/drive.readonly"
    );
    assert_eq!(
        (
            param("access_type").as_str(),
            param("code_challenge_method").as_str()
        ),
        ("offline", "S256")
    );
    let redirect = param("redirect_uri");
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/oauth2callback"));
    // A redirect with another state is refused; the right one is taken.
    let wrong = reqwest::get(format!("{redirect}?code=x&state=not-this-run"))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let page = reqwest::get(format!(
        "{redirect}?code=fake-code-123&state={}",
        param("state")
    ))
    .await
    .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("formlead is authorised")
    );
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{rest:?}");
    let out = rest.join("\n");
    assert_eq!(
        out.matches("GOOGLE_REFRESH_TOKEN=1//fresh-refresh-token")
            .count(),
        1,
        "{out}"
    );
    assert!(!out.contains("GOCSPX-authorize-secret"), "{out}");
}
