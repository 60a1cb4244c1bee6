//! Values both databases can store. A signed, parseable webhook body must
//! never fail at the commit (a 500 HubSpot would retry for days): what
//! PostgreSQL or SQLite would refuse is found here first and answered 400
//! with the field named.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::value::RawValue;

/// Longest email address (RFC 5321's path limit). Longer ones also overflow
/// PostgreSQL's index entries on the prospect email.
pub const MAX_EMAIL_CHARS: usize = 254;

/// Most digits PostgreSQL's `numeric` (behind JSONB numbers) holds after the
/// decimal point.
const MAX_SCALE: i64 = 16_383;
/// Most digits it holds before the decimal point.
const MAX_WEIGHT: i64 = 131_071;

/// The earliest and latest `submittedAt` stored: four-digit years, which
/// both databases hold and order correctly.
pub fn submitted_at_range() -> (DateTime<Utc>, DateTime<Utc>) {
    let earliest = Utc.timestamp_millis_opt(0).single().unwrap_or_default();
    let latest = Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .map_or(earliest, |t| t + chrono::Duration::milliseconds(999));
    (earliest, latest)
}

/// Whether `text` (JSON) holds a number PostgreSQL's JSONB cannot store,
/// such as `1e-20000`.
pub fn has_unstorable_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip the string, escapes included.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                if !number_is_storable(&text[start..i]) {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// Whether a JSON number token fits PostgreSQL's `numeric`.
fn number_is_storable(token: &str) -> bool {
    let token = token.trim_start_matches('-');
    let (mantissa, exponent) = match token.find(['e', 'E']) {
        Some(at) => (&token[..at], &token[at + 1..]),
        None => (token, ""),
    };
    let exponent: i64 = if exponent.is_empty() {
        0
    } else {
        let (sign, digits) = match exponent.as_bytes().first() {
            Some(b'-') => (-1, &exponent[1..]),
            Some(b'+') => (1, &exponent[1..]),
            _ => (1, exponent),
        };
        // Saturate: an exponent too long for i64 is out of range anyway.
        let magnitude = digits
            .bytes()
            .try_fold(0i64, |n, d| {
                n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
            })
            .unwrap_or(i64::MAX);
        sign * magnitude
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let significant_int = int.trim_start_matches('0').len() as i64;
    let frac_digits = frac.len() as i64;
    let all_zero = int.bytes().chain(frac.bytes()).all(|b| b == b'0');
    let scale = frac_digits.saturating_sub(exponent);
    let weight = if all_zero {
        0
    } else {
        significant_int.saturating_add(exponent)
    };
    scale <= MAX_SCALE && weight <= MAX_WEIGHT
}

/// The field of a webhook body that holds an unstorable number: the
/// top-level key, or for the `fields`/`values` list the entry's `name`.
pub fn field_with_unstorable_number(text: &str) -> Option<String> {
    if !has_unstorable_number(text) {
        return None;
    }
    let Ok(top) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
        return Some("body".to_owned());
    };
    for (key, value) in top {
        if !has_unstorable_number(value.get()) {
            continue;
        }
        let lower = key.to_ascii_lowercase();
        if lower == "fields" || lower == "values" {
            if let Ok(entries) =
                serde_json::from_str::<Vec<BTreeMap<String, &RawValue>>>(value.get())
            {
                for entry in entries {
                    if entry.values().any(|v| has_unstorable_number(v.get())) {
                        let name = entry
                            .get("name")
                            .and_then(|n| serde_json::from_str::<String>(n.get()).ok());
                        if let Some(name) = name {
                            return Some(name);
                        }
                    }
                }
            }
        } else if lower == "properties"
            && let Ok(props) = serde_json::from_str::<BTreeMap<String, &RawValue>>(value.get())
            && let Some((name, _)) = props.iter().find(|(_, v)| has_unstorable_number(v.get()))
        {
            return Some(name.clone());
        }
        return Some(key);
    }
    Some("body".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_postgresql_cannot_hold_are_found() {
        for ok in [
            "1",
            "-0",
            "0.5",
            "1e300",
            "1.5E-300",
            "1e-16383",
            "1e131070",
            "0e-100",
            "12345678901234567890123",
            "[1, 2.5, -3e10]",
        ] {
            assert!(!has_unstorable_number(ok), "{ok}");
        }
        for bad in [
            "1e-20000",
            "1e-16384",
            "1e131072",
            "1e200000",
            "-1E+999999999999999999999",
            "[0, {\"a\": 1e-20000}]",
        ] {
            assert!(has_unstorable_number(bad), "{bad}");
        }
        let long_fraction = format!("0.{}", "1".repeat(16_384));
        assert!(has_unstorable_number(&long_fraction));
        // Numbers inside strings are text.
        assert!(!has_unstorable_number(r#"{"a": "1e-20000", "b\"": "\\" }"#));
    }

    #[test]
    fn the_field_is_named() {
        assert_eq!(
            field_with_unstorable_number(r#"{"email":"a@b.co","budget":1e-20000}"#).as_deref(),
            Some("budget")
        );
        assert_eq!(
            field_with_unstorable_number(
                r#"{"fields":[{"name":"email","value":"a@b.co"},{"name":"employees","value":1e-20000}]}"#
            )
            .as_deref(),
            Some("employees")
        );
        assert_eq!(
            field_with_unstorable_number(
                r#"{"properties":{"email":"a@b.co","x":{"value":1e999999}}}"#
            )
            .as_deref(),
            Some("x")
        );
        assert_eq!(
            field_with_unstorable_number(r#"{"submittedAt":1e-20000}"#).as_deref(),
            Some("submittedAt")
        );
        assert_eq!(field_with_unstorable_number(r#"{"a":1}"#), None);
    }
}
