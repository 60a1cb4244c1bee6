//! The person behind a submission, cleaned up for use in a reply.

use serde::{Deserialize, Serialize};

use super::email::{EmailAddress, InvalidEmail};
use super::submission::FormSubmission;

/// Longest name kept (characters).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest company kept (characters).
pub const MAX_COMPANY_CHARS: usize = 200;
/// Longest message kept (characters).
pub const MAX_MESSAGE_CHARS: usize = 5_000;

/// A prospect: a validated email plus cleaned names, company and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prospect {
    /// Their email address.
    pub email: EmailAddress,
    /// Their first name, if given.
    pub first_name: Option<String>,
    /// Their last name, if given.
    pub last_name: Option<String>,
    /// Their company, if given.
    pub company: Option<String>,
    /// What they wrote, if anything.
    pub message: Option<String>,
}

impl Prospect {
    /// Builds the prospect from a submission's fields (`email`, `firstname`,
    /// `lastname`, `company`, `message`, with common aliases).
    ///
    /// # Errors
    /// [`InvalidEmail`] when the email does not validate.
    pub fn from_submission(submission: &FormSubmission) -> Result<Self, InvalidEmail> {
        let email = EmailAddress::parse(submission.email())?;
        let pick = |names: &[&str]| names.iter().find_map(|n| submission.field(n));

        let mut first_name = pick(&["firstname", "first_name", "fname"]).and_then(clean_name);
        let mut last_name = pick(&["lastname", "last_name", "lname"]).and_then(clean_name);
        if first_name.is_none()
            && let Some(full) = pick(&["name", "fullname", "full_name"]).and_then(clean_name)
        {
            let mut parts = full.splitn(2, ' ');
            first_name = parts.next().map(str::to_owned);
            if last_name.is_none() {
                last_name = parts.next().map(str::to_owned);
            }
        }
        let company = pick(&["company", "company_name", "organization", "organisation"])
            .and_then(|c| clean_line(c, MAX_COMPANY_CHARS));
        let message = pick(&[
            "message",
            "comments",
            "inquiry",
            "enquiry",
            "how_can_we_help",
        ])
        .and_then(clean_message);
        Ok(Self {
            email,
            first_name,
            last_name,
            company,
            message,
        })
    }

    /// The name to greet with: the first name, or "there" ("Hi there,").
    pub fn greeting_name(&self) -> &str {
        self.first_name.as_deref().unwrap_or("there")
    }

    /// "First Last", or whatever part is known, or `None`.
    pub fn full_name(&self) -> Option<String> {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(n), None) | (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        }
    }
}

/// Single line: control characters (including CR/LF, which would allow
/// header injection further down) become spaces, runs of whitespace collapse.
fn clean_line(raw: &str, max_chars: usize) -> Option<String> {
    let collapsed = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let cut: String = collapsed.chars().take(max_chars).collect();
    let cut = cut.trim().to_owned();
    (!cut.is_empty()).then_some(cut)
}

/// Names: a clean line, and "JOHN" / "john" become "John".
fn clean_name(raw: &str) -> Option<String> {
    let line = clean_line(raw, MAX_NAME_CHARS)?;
    let has_lower = line.chars().any(char::is_lowercase);
    let has_upper = line.chars().any(char::is_uppercase);
    if has_lower && has_upper {
        return Some(line);
    }
    Some(
        line.split(' ')
            .map(|word| {
                let mut chars = word.chars();
                match chars.next() {
                    Some(first) => first
                        .to_uppercase()
                        .chain(chars.flat_map(char::to_lowercase))
                        .collect(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Messages keep their line breaks but lose other control characters.
fn clean_message(raw: &str) -> Option<String> {
    let text: String = raw
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect();
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn submission(body: &str) -> FormSubmission {
        FormSubmission::from_webhook_body(body.as_bytes(), Utc::now()).unwrap()
    }

    #[test]
    fn builds_a_clean_prospect() {
        let p = Prospect::from_submission(&submission(
            r#"{"email":" JOHN@ACME.COM","firstname":"  JOHN ","lastname":"o'neil","company":" Acme\r\nBcc: x ","message":"  Hello\r\nWorld \u0007 "}"#,
        ))
        .unwrap();
        assert_eq!(p.email.as_str(), "john@acme.com");
        assert_eq!(p.first_name.as_deref(), Some("John"));
        assert_eq!(p.last_name.as_deref(), Some("O'neil"));
        assert_eq!(p.company.as_deref(), Some("Acme Bcc: x"));
        assert_eq!(p.message.as_deref(), Some("Hello\nWorld"));
        assert_eq!(p.full_name().as_deref(), Some("John O'neil"));
    }

    #[test]
    fn keeps_mixed_case_names_and_splits_full_names() {
        let p = Prospect::from_submission(&submission(
            r#"{"email":"a@b.co","name":"Marie-Claire McDonald"}"#,
        ))
        .unwrap();
        assert_eq!(p.first_name.as_deref(), Some("Marie-Claire"));
        assert_eq!(p.last_name.as_deref(), Some("McDonald"));
    }

    #[test]
    fn greets_anonymous_prospects() {
        let p = Prospect::from_submission(&submission(r#"{"email":"a@b.co","firstname":"   "}"#))
            .unwrap();
        assert_eq!(p.first_name, None);
        assert_eq!(p.greeting_name(), "there");
        assert_eq!(p.full_name(), None);
    }

    #[test]
    fn rejects_invalid_email() {
        assert!(Prospect::from_submission(&submission(r#"{"email":"nope"}"#)).is_err());
    }

    #[test]
    fn caps_long_values() {
        let long = "x".repeat(MAX_MESSAGE_CHARS + 50);
        let p = Prospect::from_submission(&submission(&format!(
            r#"{{"email":"a@b.co","message":"{long}","company":"{long}"}}"#
        )))
        .unwrap();
        assert_eq!(p.message.unwrap().chars().count(), MAX_MESSAGE_CHARS);
        assert_eq!(p.company.unwrap().chars().count(), MAX_COMPANY_CHARS);
    }
}
