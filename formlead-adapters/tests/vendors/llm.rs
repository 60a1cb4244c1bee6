//! The LLM writer and its template fallback.

use std::time::Duration;

use formlead_adapters::llm::{LlmConfig, LlmWriter};
use formlead_core::agents::{MemoryRecall, NextAction, NextStep, TemplateWriter, VoiceProfile};
use formlead_core::domain::{EmailAddress, Prospect};
use formlead_core::ports::{DraftInput, DraftWriter};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_partial_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{fixture, json};

fn input() -> DraftInput {
    DraftInput {
        prospect: Prospect {
            email: EmailAddress::parse("maria.lopez@globex.example").unwrap(),
            first_name: Some("Maria".into()),
            last_name: None,
            company: Some("Globex".into()),
            message: Some("We need to automate onboarding".into()),
        },
        plan: NextStep {
            action: NextAction::ProposeMeeting,
            reason: "demo".into(),
            asset: None,
            slots: vec![],
        },
        thread: None,
        memory: MemoryRecall::default(),
        time_zone: chrono_tz::UTC,
        more_asks: Vec::new(),
        support_handoff: false,
    }
}

fn writer(server: &MockServer) -> LlmWriter {
    writer_with(server, VoiceProfile::default())
}

/// The LLM writer over the template writer for `voice` (company Northwind).
fn writer_with(server: &MockServer, voice: VoiceProfile) -> LlmWriter {
    let config = LlmConfig {
        api_base: format!("{}/v1", server.uri()),
        api_key: SecretString::from("sk-test"),
        model: "gpt-4o-mini".into(),
        timeout: Duration::from_millis(800),
    };
    LlmWriter::new(
        config,
        TemplateWriter::new(VoiceProfile {
            company_name: "Northwind".into(),
            ..voice
        }),
    )
    .unwrap()
}

fn completion(subject: &str, body: &str) -> ResponseTemplate {
    let content = json!({"subject": subject, "body": body}).to_string();
    json(200, &json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}).to_string())
}

#[tokio::test]
async fn a_valid_answer_is_used_with_safe_html() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_partial_json(
            json!({"model": "gpt-4o-mini", "response_format": {"type": "json_object"}}),
        ))
        .respond_with(json(200, fixture!("llm_completion.json")))
        .expect(1)
        .mount(&server)
        .await;
    let d = writer(&server).write(&input()).await.unwrap();
    assert_eq!(d.subject, "Onboarding automation for Globex");
    assert!(d.body_text.starts_with("Hi Maria,"));
    assert!(d.body_html.starts_with("<div><p>Hi Maria,</p>"));
}

/// A profile's example sentences reach the LLM in its instructions; a
/// profile without them sends none.
#[tokio::test]
async fn the_voice_profiles_example_sentences_are_in_the_prompt() {
    let example = "Happy to walk you through it whenever suits you.";
    for (voice, expected) in [
        (
            VoiceProfile {
                examples: vec![example.into()],
                ..VoiceProfile::default()
            },
            1,
        ),
        (VoiceProfile::default(), 0),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(body_string_contains(
                "Sentences the sender wrote, to match their style",
            ))
            .and(body_string_contains(example))
            .respond_with(json(200, fixture!("llm_completion.json")))
            .expect(expected)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(json(200, fixture!("llm_completion.json")))
            .expect(1 - expected)
            .mount(&server)
            .await;
        let d = writer_with(&server, voice).write(&input()).await.unwrap();
        assert_eq!(d.subject, "Onboarding automation for Globex");
    }
}

#[tokio::test]
async fn invalid_answers_errors_and_timeouts_fall_back_to_the_template() {
    let template = TemplateWriter::new(VoiceProfile {
        company_name: "Northwind".into(),
        ..VoiceProfile::default()
    })
    .compose(&input());
    let cases = vec![
        (
            "missing the name",
            completion("Hello", "Hi there, thanks for your note."),
        ),
        ("empty", completion("", "")),
        (
            "too long",
            completion("Hi", &format!("Hi Maria, {}", "word ".repeat(400))),
        ),
        (
            "markup",
            completion("Hi", "Hi Maria, <script>alert(1)</script>"),
        ),
        (
            "not JSON",
            json(
                200,
                r#"{"choices":[{"message":{"content":"Sure! Here is your email: Hi Maria"}}]}"#,
            ),
        ),
        ("500", ResponseTemplate::new(500)),
        (
            "timeout",
            json(200, fixture!("llm_completion.json")).set_delay(Duration::from_secs(3)),
        ),
    ];
    for (name, response) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(response)
            .mount(&server)
            .await;
        let d = writer(&server).write(&input()).await.unwrap();
        assert_eq!(d, template, "{name}: fell back to the template");
    }
}
