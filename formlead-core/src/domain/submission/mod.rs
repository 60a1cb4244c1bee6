// About 400 lines: the two webhook body shapes and the forms API record are parsed into one type here.
//! A form submission as it arrived, parsed from either webhook body shape or
//! from HubSpot's forms API.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ids::SubmissionId;
use super::storable;

mod json;

use json::{
    collect_name_value_list, get_ci, has_nul_escape, insert_field, parse_timestamp, parse_u64,
    scalar_text,
};

/// How the key of a body without `formSubmissionId` starts: the SHA-256
/// of the body follows. The forms API's copy of such a submission has its
/// real id, so `reconcile` matches these by form, email and time instead.
pub const UNIDENTIFIED_PREFIX: &str = "body-sha256:";

/// Where a submission came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionSource {
    /// `POST /api/webhooks/hubspot/forms`.
    Webhook,
    /// Pulled from the forms submissions API by `formlead reconcile`.
    FormsApi,
}

impl SubmissionSource {
    /// The source's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::FormsApi => "forms_api",
        }
    }

    /// Inverse of [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(Self::Webhook),
            "forms_api" => Some(Self::FormsApi),
            _ => None,
        }
    }
}

/// A rejected submission body. `field()` names the offending field for the
/// webhook's `{"error": …, "field": …}` answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmissionError {
    #[error("body is not valid JSON: {0}")]
    /// The body is not JSON.
    InvalidJson(String),
    #[error("body must be a JSON object")]
    /// The body is JSON but not an object.
    NotAnObject,
    #[error("missing required field '{0}'")]
    /// A required field is missing.
    MissingField(&'static str),
    #[error("field '{field}' is invalid: {reason}")]
    /// A field's value cannot be used.
    InvalidField {
        /// The field.
        field: Cow<'static, str>,
        /// Why not.
        reason: Cow<'static, str>,
    },
}

impl SubmissionError {
    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::MissingField(f) => Some(f),
            Self::InvalidField { field, .. } => Some(field),
            Self::InvalidJson(_) | Self::NotAnObject => None,
        }
    }

    fn invalid(field: impl Into<Cow<'static, str>>, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Maximum number of characters kept from one field value.
pub const MAX_FIELD_CHARS: usize = 10_000;
/// Maximum number of fields kept from one submission.
pub const MAX_FIELDS: usize = 200;

/// A form submission: HubSpot's metadata, the fields by property name and the
/// raw payload exactly as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormSubmission {
    /// Our id for it.
    pub id: SubmissionId,
    /// HubSpot's `formSubmissionId` (or `conversionId`); the dedupe key. When
    /// a body carries none, a digest of the raw body stands in, so an exact
    /// redelivery is still recognised.
    pub form_submission_id: String,
    /// HubSpot's portal (account) id.
    pub portal_id: Option<u64>,
    /// HubSpot's form id.
    pub form_id: Option<String>,
    /// When the prospect submitted it.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The page the form was on.
    pub page_url: Option<String>,
    /// Field values by HubSpot property name (lower-cased).
    pub fields: BTreeMap<String, String>,
    /// The body verbatim (webhook) or the API record re-serialised (reconcile).
    pub raw_payload: String,
    /// How it reached us.
    pub source: SubmissionSource,
    /// When it reached us.
    pub received_at: DateTime<Utc>,
}

/// Keys of the flat shape that are metadata, not form fields.
const META_KEYS: &[&str] = &[
    "formsubmissionid",
    "conversionid",
    "portalid",
    "formid",
    "submittedat",
    "pageurl",
    "fields",
    "values",
    "properties",
];

impl FormSubmission {
    /// Parses a webhook body: the contract's `{"fields": [{name, value}]}`
    /// shape, or a flat object of HubSpot property names (a workflow's
    /// "Send a webhook" action with a customised body), or an object with a
    /// `properties` map. `email` must be present and non-empty.
    ///
    /// # Errors
    /// [`SubmissionError`] for invalid JSON, a non-object body, a missing
    /// email or malformed metadata.
    pub fn from_webhook_body(
        raw: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Self, SubmissionError> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| SubmissionError::InvalidJson("body is not UTF-8".into()))?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| SubmissionError::InvalidJson(e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(SubmissionError::NotAnObject);
        };
        if let Some(field) = storable::field_with_unstorable_number(text) {
            return Err(SubmissionError::invalid(
                field,
                "holds a number too large or too precise to store",
            ));
        }

        let mut fields = BTreeMap::new();
        for key in ["fields", "values"] {
            if let Some(list) = get_ci(&obj, key) {
                collect_name_value_list(list, &mut fields, key)?;
            }
        }
        if let Some(props) = get_ci(&obj, "properties") {
            let Value::Object(props) = props else {
                return Err(SubmissionError::invalid("properties", "must be an object"));
            };
            for (k, v) in props {
                // Either `{"email": "a@b"}` or `{"email": {"value": "a@b"}}`.
                let v = v.get("value").unwrap_or(v);
                insert_field(&mut fields, k, v);
            }
        }
        for (k, v) in &obj {
            if !META_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                insert_field(&mut fields, k, v);
            }
        }

        let form_submission_id =
            match get_ci(&obj, "formSubmissionId").or_else(|| get_ci(&obj, "conversionId")) {
                Some(v) => scalar_text(v)
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().to_owned())
                    .ok_or(SubmissionError::invalid(
                        "formSubmissionId",
                        "must be a non-empty string or number",
                    ))?,
                None => format!("{UNIDENTIFIED_PREFIX}{}", hex::encode(Sha256::digest(raw))),
            };
        if form_submission_id.chars().count() > 200 {
            return Err(SubmissionError::invalid(
                "formSubmissionId",
                "longer than 200 characters",
            ));
        }

        let portal_id = match get_ci(&obj, "portalId") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_u64(v).filter(|p| i64::try_from(*p).is_ok()).ok_or(
                SubmissionError::invalid("portalId", "must be a positive integer below 2^63"),
            )?),
        };
        let submitted_at = match get_ci(&obj, "submittedAt") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_timestamp(v).ok_or(SubmissionError::invalid(
                "submittedAt",
                "must be milliseconds since the Unix epoch or an RFC 3339 time",
            ))?),
        };
        let form_id = get_ci(&obj, "formId").and_then(scalar_text);
        let page_url = get_ci(&obj, "pageUrl").and_then(scalar_text);

        let submission = Self {
            id: SubmissionId::new(),
            form_submission_id,
            portal_id,
            form_id,
            submitted_at,
            page_url,
            fields,
            raw_payload: text.to_owned(),
            source: SubmissionSource::Webhook,
            received_at,
        }
        .without_nul();
        submission.require_email()?;
        submission.require_storable()?;
        Ok(submission)
    }

    /// Builds a submission from one record of HubSpot's forms submissions API
    /// (`GET /form-integrations/v1/submissions/forms/{guid}`).
    ///
    /// # Errors
    /// [`SubmissionError::MissingField`] when the record has no email.
    pub fn from_forms_api(
        record: &FormsApiSubmission,
        form_id: &str,
        received_at: DateTime<Utc>,
    ) -> Result<Self, SubmissionError> {
        let mut fields = BTreeMap::new();
        for nv in &record.values {
            insert_field(&mut fields, &nv.name, &nv.value);
        }
        let raw_payload = serde_json::to_string(record)
            .map_err(|e| SubmissionError::InvalidJson(e.to_string()))?;
        let submission = Self {
            id: SubmissionId::new(),
            form_submission_id: record.conversion_id.clone(),
            portal_id: None,
            form_id: Some(form_id.to_owned()),
            submitted_at: Utc.timestamp_millis_opt(record.submitted_at).single(),
            page_url: record.page_url.clone(),
            fields,
            raw_payload,
            source: SubmissionSource::FormsApi,
            received_at,
        }
        .without_nul();
        submission.require_email()?;
        submission.require_storable()?;
        Ok(submission)
    }

    /// Every U+0000 (NUL) in the submission, keys and values, becomes
    /// U+FFFD. PostgreSQL's text and JSONB cannot hold a NUL: one pasted
    /// into a form field would fail every attempt to store the lead (a 500
    /// that HubSpot retries for days). The raw payload is re-serialised
    /// only when it has one.
    fn without_nul(mut self) -> Self {
        /// Whether `s` had a NUL.
        fn scrub(s: &mut String) -> bool {
            let found = s.contains('\0');
            if found {
                *s = s.replace('\0', "\u{FFFD}");
            }
            found
        }
        fn scrub_value(v: &mut Value) -> bool {
            match v {
                Value::String(s) => scrub(s),
                Value::Array(items) => items
                    .iter_mut()
                    .fold(false, |found, i| scrub_value(i) | found),
                Value::Object(map) => {
                    let mut found = false;
                    for (mut key, mut value) in std::mem::take(map) {
                        found |= scrub(&mut key) | scrub_value(&mut value);
                        map.insert(key, value);
                    }
                    found
                }
                _ => false,
            }
        }
        // JSON text can only carry a NUL as this escape. It may sit where
        // the parsed value no longer shows it (under a repeated key, whose
        // last value wins), and PostgreSQL refuses it there too: the raw
        // payload is re-serialised from the parsed value whenever it has
        // one (an escaped backslash before "u0000" is not one).
        if has_nul_escape(&self.raw_payload)
            && let Ok(mut raw) = serde_json::from_str::<Value>(&self.raw_payload)
        {
            scrub_value(&mut raw);
            self.raw_payload = raw.to_string();
        }
        scrub(&mut self.form_submission_id);
        for text in [&mut self.form_id, &mut self.page_url]
            .into_iter()
            .flatten()
        {
            scrub(text);
        }
        if self
            .fields
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            self.fields = std::mem::take(&mut self.fields)
                .into_iter()
                .map(|(mut k, mut v)| {
                    scrub(&mut k);
                    scrub(&mut v);
                    (k, v)
                })
                .collect();
        }
        self
    }

    /// The submitted email, trimmed and lower-cased but not yet validated
    /// (validation is workflow step 1).
    pub fn email(&self) -> &str {
        self.fields.get("email").map_or("", String::as_str)
    }

    /// A field by property name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn require_email(&self) -> Result<(), SubmissionError> {
        if self.email().is_empty() {
            Err(SubmissionError::MissingField("email"))
        } else {
            Ok(())
        }
    }

    /// Values the databases could refuse, refused here instead.
    fn require_storable(&self) -> Result<(), SubmissionError> {
        if self.email().chars().count() > storable::MAX_EMAIL_CHARS {
            return Err(SubmissionError::invalid(
                "email",
                format!("longer than {} characters", storable::MAX_EMAIL_CHARS),
            ));
        }
        if let Some(at) = self.submitted_at {
            let (earliest, latest) = storable::submitted_at_range();
            if at < earliest || at > latest {
                return Err(SubmissionError::invalid(
                    "submittedAt",
                    "must lie between 1970 and the year 9999",
                ));
            }
        }
        Ok(())
    }
}

/// One record of the forms submissions API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormsApiSubmission {
    /// HubSpot's id of the submission.
    pub conversion_id: String,
    /// When it was submitted (Unix milliseconds).
    pub submitted_at: i64,
    #[serde(default)]
    /// The form's fields.
    pub values: Vec<FormsApiValue>,
    #[serde(default)]
    /// The page the form was on.
    pub page_url: Option<String>,
}

/// A `{name, value}` pair of the forms API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormsApiValue {
    /// The field's property name.
    pub name: String,
    #[serde(default)]
    /// Its value as sent.
    pub value: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_769_162_460_000).unwrap()
    }

    const CONTRACT_BODY: &str = r#"{"portalId": 12345, "formId": "abc-123", "formSubmissionId": "uuid-here",
 "submittedAt": 1769162400000, "pageUrl": "https://example.com/contact",
 "fields": [{"name": "email", "value": "prospect@example.com"},
            {"name": "firstname", "value": "John"},
            {"name": "lastname", "value": "Doe"},
            {"name": "company", "value": "Acme"},
            {"name": "message", "value": "We need ..."}]}"#;

    #[test]
    fn a_nul_becomes_a_replacement_character() {
        let body = r#"{"formSubmissionId": "n\u0000-1", "email": "a@b.co", "message": "hi\u0000there",
            "we\u0000ird": "x", "pageUrl": "https://x.example/\u0000"}"#;
        let s = FormSubmission::from_webhook_body(body.as_bytes(), now()).unwrap();
        assert_eq!(s.field("message"), Some("hi\u{FFFD}there"));
        assert_eq!(s.field("we\u{FFFD}ird"), Some("x"));
        assert_eq!(s.form_submission_id, "n\u{FFFD}-1");
        assert_eq!(s.page_url.as_deref(), Some("https://x.example/\u{FFFD}"));
        assert!(!s.raw_payload.contains("\\u0000"), "{}", s.raw_payload);
        let raw: Value = serde_json::from_str(&s.raw_payload).unwrap();
        assert_eq!(raw["message"], "hi\u{FFFD}there");
        assert_eq!(raw["we\u{FFFD}ird"], "x");

        // An escaped backslash before "u0000" is no NUL: kept verbatim.
        let body = r#"{"email": "a@b.co", "message": "C:\\u0000"}"#;
        let s = FormSubmission::from_webhook_body(body.as_bytes(), now()).unwrap();
        assert_eq!(s.raw_payload, body);
        assert_eq!(s.field("message"), Some("C:\\u0000"));
    }

    #[test]
    fn parses_the_contract_shape() {
        let s = FormSubmission::from_webhook_body(CONTRACT_BODY.as_bytes(), now()).unwrap();
        assert_eq!(s.form_submission_id, "uuid-here");
        assert_eq!(s.portal_id, Some(12345));
        assert_eq!(s.form_id.as_deref(), Some("abc-123"));
        assert_eq!(
            s.submitted_at.unwrap().timestamp_millis(),
            1_769_162_400_000
        );
        assert_eq!(s.page_url.as_deref(), Some("https://example.com/contact"));
        assert_eq!(s.email(), "prospect@example.com");
        assert_eq!(s.field("firstname"), Some("John"));
        assert_eq!(s.field("message"), Some("We need ..."));
        assert_eq!(s.raw_payload, CONTRACT_BODY);
        assert_eq!(s.source, SubmissionSource::Webhook);
    }

    #[test]
    fn parses_the_flat_shape() {
        let body = br#"{"formSubmissionId": 991, "email": " Jane@Example.org ", "firstname": "Jane", "company": "Initech", "numemployees": 50}"#;
        let s = FormSubmission::from_webhook_body(body, now()).unwrap();
        assert_eq!(s.form_submission_id, "991");
        assert_eq!(s.email(), "jane@example.org");
        assert_eq!(s.field("company"), Some("Initech"));
        assert_eq!(s.field("numemployees"), Some("50"));
        assert!(s.field("formsubmissionid").is_none());
    }

    #[test]
    fn parses_a_properties_map() {
        let body = br#"{"formSubmissionId":"x","properties":{"email":{"value":"a@b.co"},"firstname":"Al"}}"#;
        let s = FormSubmission::from_webhook_body(body, now()).unwrap();
        assert_eq!(s.email(), "a@b.co");
        assert_eq!(s.field("firstname"), Some("Al"));
    }

    #[test]
    fn derives_a_stable_id_when_none_is_sent() {
        let body = br#"{"email":"a@b.co"}"#;
        let a = FormSubmission::from_webhook_body(body, now()).unwrap();
        let b = FormSubmission::from_webhook_body(body, now()).unwrap();
        assert!(a.form_submission_id.starts_with("body-sha256:"));
        assert_eq!(a.form_submission_id, b.form_submission_id);
    }

    #[test]
    fn rejects_bad_bodies_with_the_field_named() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"{not json", None),
            (b"[1,2]", None),
            (b"\xff\xfe", None),
            (br#"{"formSubmissionId":"x"}"#, Some("email")),
            (br#"{"formSubmissionId":"x","email":"   "}"#, Some("email")),
            (
                br#"{"fields":[{"name":"email","value":null}]}"#,
                Some("email"),
            ),
            (br#"{"fields":{"email":"a@b.co"}}"#, Some("fields")),
            (br#"{"fields":[{"value":"a@b.co"}]}"#, Some("fields")),
            (br#"{"email":"a@b.co","portalId":"abc"}"#, Some("portalId")),
            (
                br#"{"email":"a@b.co","submittedAt":"yesterday"}"#,
                Some("submittedAt"),
            ),
            (
                br#"{"email":"a@b.co","formSubmissionId":""}"#,
                Some("formSubmissionId"),
            ),
        ];
        for (body, field) in cases {
            let err = FormSubmission::from_webhook_body(body, now()).unwrap_err();
            assert_eq!(
                err.field(),
                *field,
                "{err} for {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn accepts_an_invalid_email_for_step_one_to_judge() {
        let s = FormSubmission::from_webhook_body(br#"{"email":"not-an-email"}"#, now()).unwrap();
        assert_eq!(s.email(), "not-an-email");
    }

    #[test]
    fn parses_forms_api_records() {
        let record: FormsApiSubmission = serde_json::from_str(
            r#"{"conversionId":"c-1","submittedAt":1769162400000,"pageUrl":"https://x.io/p",
                "values":[{"name":"email","value":"Z@X.IO"},{"name":"firstname","value":"Zoë"}]}"#,
        )
        .unwrap();
        let s = FormSubmission::from_forms_api(&record, "guid", now()).unwrap();
        assert_eq!(s.form_submission_id, "c-1");
        assert_eq!(s.email(), "z@x.io");
        assert_eq!(s.field("firstname"), Some("Zoë"));
        assert_eq!(s.source, SubmissionSource::FormsApi);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = FormSubmission::from_webhook_body(&body, now());
        }

        #[test]
        fn arbitrary_field_values_never_panic(values in proptest::collection::vec(".*", 6), id in ".*") {
            let names = ["email", "firstname", "lastname", "company", "message", "name"];
            let fields: Vec<serde_json::Value> = names
                .iter()
                .zip(&values)
                .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
                .collect();
            let body = serde_json::json!({"formSubmissionId": id, "fields": fields}).to_string();
            if let Ok(s) = FormSubmission::from_webhook_body(body.as_bytes(), now()) {
                let _ = crate::domain::Prospect::from_submission(&s);
            }
        }
    }

    #[test]
    fn values_the_databases_would_refuse_are_400s_naming_the_field() {
        let field = |body: &str| {
            FormSubmission::from_webhook_body(body.as_bytes(), now())
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        let long_email = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            field(&format!(r#"{{"email":"{long_email}"}}"#)).as_deref(),
            Some("email")
        );
        assert_eq!(
            field(r#"{"email":"a@b.co","budget":1e-20000}"#).as_deref(),
            Some("budget")
        );
        for at in [
            "253402300800000",
            "-1",
            "\"+10000-01-01T00:00:00Z\"",
            "1e300",
        ] {
            assert_eq!(
                field(&format!(r#"{{"email":"a@b.co","submittedAt":{at}}}"#)).as_deref(),
                Some("submittedAt"),
                "{at}"
            );
        }
        assert_eq!(
            field(r#"{"email":"a@b.co","portalId":18446744073709551615}"#).as_deref(),
            Some("portalId")
        );
        // The edges themselves are fine.
        let ok = format!(
            r#"{{"email":"{}@example.com","submittedAt":253402300799000,"n":1e300}}"#,
            "a".repeat(242)
        );
        assert!(FormSubmission::from_webhook_body(ok.as_bytes(), now()).is_ok());
    }

    #[test]
    fn repeated_names_are_capped_after_merging() {
        let entries: Vec<String> = (0..50)
            .map(|i| {
                format!(
                    r#"{{"name":"interests","value":"{i}{}"}}"#,
                    "x".repeat(1_000)
                )
            })
            .collect();
        let body = format!(
            r#"{{"fields":[{{"name":"email","value":"a@b.co"}},{}]}}"#,
            entries.join(",")
        );
        let s = FormSubmission::from_webhook_body(body.as_bytes(), now()).unwrap();
        assert_eq!(
            s.field("interests").unwrap().chars().count(),
            MAX_FIELD_CHARS
        );
    }

    #[test]
    fn a_nul_under_a_repeated_key_is_dropped_too() {
        // The first "x" (with a NUL) is overwritten by the second; the raw
        // body must not keep the NUL either (PostgreSQL refuses it).
        let body = r#"{"email":"a@b.co","x":{"\u0000":1},"x":2,"y":"\\u0000"}"#;
        let s = FormSubmission::from_webhook_body(body.as_bytes(), now()).unwrap();
        assert!(!has_nul_escape(&s.raw_payload), "{}", s.raw_payload);
        assert!(has_nul_escape(r#""\u0000""#));
        assert!(!has_nul_escape(r#""\\u0000""#));
        assert!(has_nul_escape(r#""\\\u0000""#));
    }

    #[test]
    fn keeps_repeated_checkbox_values() {
        let body = br#"{"email":"a@b.co","fields":[{"name":"interest","value":"a"},{"name":"interest","value":"b"}]}"#;
        let s = FormSubmission::from_webhook_body(body, now()).unwrap();
        assert_eq!(s.field("interest"), Some("a;b"));
    }
}
