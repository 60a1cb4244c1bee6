//! Reading form fields out of loosely typed JSON: case-insensitive keys,
//! `{name, value}` lists, scalars as text, numbers and timestamps.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::{MAX_FIELD_CHARS, MAX_FIELDS, SubmissionError};

/// Whether JSON text holds a `\u0000` escape (not an escaped backslash
/// followed by `u0000`).
pub(super) fn has_nul_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices("\\u0000").any(|(at, _)| {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        backslashes % 2 == 0
    })
}

pub(super) fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(super) fn collect_name_value_list(
    list: &Value,
    fields: &mut BTreeMap<String, String>,
    key: &'static str,
) -> Result<(), SubmissionError> {
    let Value::Array(items) = list else {
        return Err(SubmissionError::invalid(
            key,
            "must be a list of {name, value} objects",
        ));
    };
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .ok_or(SubmissionError::invalid(
                key,
                "every entry needs a string 'name'",
            ))?;
        insert_field(fields, name, item.get("value").unwrap_or(&Value::Null));
    }
    Ok(())
}

pub(super) fn insert_field(fields: &mut BTreeMap<String, String>, name: &str, value: &Value) {
    if fields.len() >= MAX_FIELDS {
        return;
    }
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        return;
    }
    let Some(text) = scalar_text(value) else {
        return;
    };
    let mut text: String = text.chars().take(MAX_FIELD_CHARS).collect();
    if name == "email" {
        text = text.trim().to_lowercase();
    }
    // Multi-value fields (checkboxes) arrive as repeated names: keep them
    // all, within the same cap as one value.
    fields
        .entry(name)
        .and_modify(|existing: &mut String| {
            if !text.is_empty() && existing != &text {
                existing.push(';');
                existing.push_str(&text);
                if existing.len() > MAX_FIELD_CHARS {
                    *existing = existing.chars().take(MAX_FIELD_CHARS).collect();
                }
            }
        })
        .or_insert(text);
}

pub(super) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(scalar_text).collect();
            (!parts.is_empty()).then(|| parts.join(";"))
        }
        Value::Null | Value::Object(_) => None,
    }
}

pub(super) fn parse_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    let millis = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(ms) => Some(ms),
            Err(_) => {
                return DateTime::parse_from_rfc3339(s.trim())
                    .ok()
                    .map(|d| d.with_timezone(&Utc));
            }
        },
        _ => None,
    }?;
    Utc.timestamp_millis_opt(millis).single()
}
