//! A validated, normalised email address.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email address: {reason}")]
pub struct InvalidEmail {
    /// What is wrong with it.
    pub reason: &'static str,
}

/// An email address, trimmed and lower-cased.
///
/// Validation is deliberately practical rather than full RFC 5322: one `@`,
/// a dot-atom local part of at most 64 characters, and a domain of at least
/// two labels. Quoted local parts and IP-literal domains are rejected — no
/// form lead arrives with those.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

const LOCAL_SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";

impl EmailAddress {
    /// Validates and normalises `raw`.
    ///
    /// # Errors
    /// [`InvalidEmail`] with the reason when the address is not usable.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let s = raw.trim().to_lowercase();
        let bad = |reason| Err(InvalidEmail { reason });
        if s.is_empty() {
            return bad("empty");
        }
        if s.chars().count() > 254 {
            return bad("longer than 254 characters");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return bad("missing '@'");
        };
        if domain.contains('@') {
            return bad("more than one '@'");
        }
        if local.is_empty() || local.len() > 64 {
            return bad("local part must be 1 to 64 characters");
        }
        if !local
            .chars()
            .all(|c| c.is_alphanumeric() || LOCAL_SPECIALS.contains(c))
        {
            return bad("local part contains a character that is not allowed");
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return bad("misplaced '.' in local part");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return bad("domain needs at least two labels");
        }
        for label in &labels {
            if label.is_empty() || label.chars().count() > 63 {
                return bad("domain label must be 1 to 63 characters");
            }
            if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return bad("domain contains a character that is not allowed");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return bad("domain label starts or ends with '-'");
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return bad("top-level domain is numeric");
        }
        Ok(Self(s))
    }

    /// The address, trimmed and lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let e = EmailAddress::parse("  John.Doe@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "john.doe@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn accepts_plus_tags_and_idn_domains() {
        assert!(EmailAddress::parse("a+tag@sub.example.co.uk").is_ok());
        assert!(EmailAddress::parse("jörg@müller.de").is_ok());
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "plainaddress",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            ".a@b.com",
            "a..b@c.com",
            "a@-b.com",
            "a@b..com",
            "a@1.2.3.4",
            "a@b.com\r\nBcc: x@y.com",
            "<script>@x.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn serde_validates() {
        let ok: EmailAddress = serde_json::from_str("\"A@B.io\"").unwrap();
        assert_eq!(ok.as_str(), "a@b.io");
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
    }
}
