//! Generators: raw bytes, JSON shaped like webhook bodies (both shapes,
//! odd numbers, long and odd strings, repeated names), signature headers,
//! and outgoing mails with hostile text.

use formlead_core::domain::EmailAddress;
use formlead_core::ports::{OutgoingMail, ReplyTo};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Text with the characters that break things: quotes, backslashes, CR/LF,
/// NUL, non-ASCII, RTL marks, emoji.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-z@.\\-+ ]{0,30}",
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("a\r\nBcc: eve@evil.example".to_owned()),
        Just("\u{202e}gnp.exe".to_owned()),
        Just("😀".repeat(50)),
        Just("x".repeat(12_000)),
        Just("\"\\\u{7f}".to_owned()),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        Just("1e-20000".to_owned()),
        Just("-1E+308".to_owned()),
        Just("0.000000000000000000000001".to_owned()),
        (1usize..400).prop_map(|n| "9".repeat(n)),
        (1u32..30_000).prop_map(|e| format!("1e-{e}")),
    ]
}

/// A JSON value as text (numbers kept as written).
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        nasty_text().prop_map(|s| Value::String(s).to_string()),
        number(),
        Just("null".to_owned()),
        Just("true".to_owned()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((nasty_text(), inner), 0..4).prop_map(|kv| {
                let parts: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", Value::String(k)))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }),
        ]
    })
}

fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,10}@[a-z]{1,10}\\.example",
        nasty_text(),
        (240usize..270).prop_map(|n| format!("{}@x.example", "a".repeat(n))),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("email".to_owned()),
        Just("EMAIL".to_owned()),
        Just("formSubmissionId".to_owned()),
        Just("submittedAt".to_owned()),
        Just("portalId".to_owned()),
        Just("message".to_owned()),
        Just("fields".to_owned()),
        Just("properties".to_owned()),
        nasty_text(),
    ]
}

/// A webhook body: arbitrary bytes, or JSON of either body shape.
pub fn webhook_body() -> impl Strategy<Value = Vec<u8>> {
    let flat = prop::collection::vec((key(), value()), 0..8).prop_flat_map(|kv| {
        email().prop_map(move |e| {
            let mut parts: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
                .collect();
            parts.push(format!("\"email\":{}", Value::String(e)));
            format!("{{{}}}", parts.join(",")).into_bytes()
        })
    });
    let listed = (
        prop::collection::vec(("[a-z]{1,8}|email", value()), 0..30),
        email(),
        number(),
        number(),
    )
        .prop_map(|(fields, e, at, portal)| {
            let mut entries: Vec<String> = fields
                .into_iter()
                .map(|(n, v)| format!("{{\"name\":{},\"value\":{v}}}", Value::String(n)))
                .collect();
            entries.push(json!({"name": "email", "value": e}).to_string());
            format!(
                "{{\"formSubmissionId\":\"p-1\",\"submittedAt\":{at},\"portalId\":{portal},\"fields\":[{}]}}",
                entries.join(",")
            )
            .into_bytes()
        });
    let properties = prop::collection::vec((nasty_text(), value()), 0..6).prop_map(|kv| {
        let mut props = Map::new();
        for (k, v) in kv {
            props.insert(k, serde_json::from_str(&v).unwrap_or(Value::Null));
        }
        props.insert("email".into(), json!({"value": "a@b.example"}));
        json!({"properties": props}).to_string().into_bytes()
    });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        flat,
        listed,
        properties,
    ]
}

/// Inputs of one signature check.
#[derive(Debug, Clone)]
pub struct SignatureCase {
    pub secret: Vec<u8>,
    pub uri: String,
    pub body: Vec<u8>,
    pub now_ms: i64,
    pub v3: Option<String>,
    pub timestamp: Option<String>,
    pub v1v2: Option<String>,
    pub version: Option<String>,
}

pub fn signature_case() -> impl Strategy<Value = SignatureCase> {
    (
        prop::collection::vec(any::<u8>(), 0..64),
        prop_oneof![
            "https://[a-z]{1,12}\\.example/[a-z%0-9A-F/?=&]{0,40}",
            ".{0,60}"
        ],
        prop::collection::vec(any::<u8>(), 0..300),
        any::<i64>(),
        prop::option::of(prop_oneof![".{0,60}", "[A-Za-z0-9+/]{43}="]),
        prop::option::of(prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            ".{0,25}"
        ]),
        prop::option::of(prop_oneof![".{0,70}", "[0-9a-f]{64}"]),
        prop::option::of(prop_oneof![
            Just("v1".to_owned()),
            Just("v2".to_owned()),
            ".{0,5}"
        ]),
    )
        .prop_map(
            |(secret, uri, body, now_ms, v3, timestamp, v1v2, version)| SignatureCase {
                secret,
                uri,
                body,
                now_ms,
                v3,
                timestamp,
                v1v2,
                version,
            },
        )
}

pub fn outgoing_mail() -> impl Strategy<Value = OutgoingMail> {
    (
        "[a-z]{1,12}@[a-z]{1,12}\\.example",
        prop::option::of(nasty_text()),
        nasty_text(),
        nasty_text(),
        nasty_text(),
        prop_oneof!["<[a-z0-9.-]{1,30}@[a-z.]{1,20}>", ".{0,40}"],
        prop::option::of((
            "[a-z0-9]{1,16}",
            prop_oneof!["<[a-z0-9]{1,20}@x.example>", ".{0,30}"],
        )),
    )
        .prop_map(
            |(to, to_name, subject, text, html, message_id, reply)| OutgoingMail {
                to: EmailAddress::parse(&to).expect("generated addresses are valid"),
                to_name,
                subject,
                body_text: text,
                body_html: html,
                message_id,
                reply_to: reply.map(|(thread_id, message_id)| ReplyTo {
                    thread_id,
                    message_id,
                }),
            },
        )
}
