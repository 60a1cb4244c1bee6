//! The company's voice: a TOML profile the DraftWriter follows.

use serde::{Deserialize, Serialize};

/// Overall register of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    #[default]
    /// Warm and personal.
    Friendly,
    /// Polite and reserved.
    Formal,
    /// Short and to the point.
    Concise,
}

/// How replies sound. Placeholders in `greeting`: `{first_name}`, `{company}`.
///
/// ```toml
/// tone = "friendly"
/// greeting = "Hi {first_name},"
/// sign_off = "Best regards,"
/// signature = "Alex Morgan\nAcme Sales"
/// company_name = "Acme"
/// max_words = 180
/// avoid_phrases = ["synergy", "circle back"]
/// # Only for the LLM writer; optional.
/// examples = ["Happy to walk you through it whenever suits you."]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceProfile {
    /// The tone.
    pub tone: Tone,
    /// The greeting (`{first_name}`, `{company}` are filled in).
    pub greeting: String,
    /// The line before the signature.
    pub sign_off: String,
    /// The signature block.
    pub signature: String,
    /// Our company, as named in subjects and the opener.
    pub company_name: String,
    /// Upper bound on the words of the plain-text body.
    pub max_words: usize,
    /// Phrases that must never appear (case-insensitive).
    pub avoid_phrases: Vec<String>,
    /// A few short, anonymised sentences the sender wrote, as style
    /// examples for the LLM writer (`formlead voice learn` adds them when
    /// an LLM is configured). The template writer does not use them.
    pub examples: Vec<String>,
}

impl Default for VoiceProfile {
    fn default() -> Self {
        Self {
            tone: Tone::Friendly,
            greeting: "Hi {first_name},".into(),
            sign_off: "Best regards,".into(),
            signature: "The formlead team".into(),
            company_name: "our team".into(),
            max_words: 180,
            avoid_phrases: Vec::new(),
            examples: Vec::new(),
        }
    }
}

/// A profile that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VoiceError {
    #[error("voice profile is not valid TOML: {0}")]
    /// The profile is not valid TOML.
    Parse(String),
    #[error("voice profile: {0}")]
    /// A value of the profile is not allowed.
    Invalid(String),
}

/// The fewest `max_words` a profile may set.
pub const MIN_WORDS: usize = 40;

/// The most example sentences a profile may carry, and their longest.
pub const MAX_EXAMPLES: usize = 10;
const MAX_EXAMPLE_CHARS: usize = 240;

impl VoiceProfile {
    /// Parses and validates a TOML profile. Missing keys take defaults.
    ///
    /// # Errors
    /// [`VoiceError`] for bad TOML, unknown keys or invalid values.
    pub fn from_toml(text: &str) -> Result<Self, VoiceError> {
        let profile: Self = toml::from_str(text).map_err(|e| VoiceError::Parse(e.to_string()))?;
        profile.validate()?;
        Ok(profile)
    }

    /// # Errors
    /// [`VoiceError::Invalid`] naming the offending key.
    pub fn validate(&self) -> Result<(), VoiceError> {
        if self.max_words < MIN_WORDS {
            return Err(VoiceError::Invalid(format!(
                "max_words must be at least {MIN_WORDS}"
            )));
        }
        for (key, value) in [("greeting", &self.greeting), ("sign_off", &self.sign_off)] {
            if value.trim().is_empty() {
                return Err(VoiceError::Invalid(format!("{key} must not be empty")));
            }
            let stripped = value.replace("{first_name}", "").replace("{company}", "");
            if stripped.contains('{') || stripped.contains('}') {
                return Err(VoiceError::Invalid(format!(
                    "{key} has an unknown placeholder (known: {{first_name}}, {{company}})"
                )));
            }
        }
        if self.examples.len() > MAX_EXAMPLES {
            return Err(VoiceError::Invalid(format!(
                "examples has {} entries; at most {MAX_EXAMPLES}",
                self.examples.len()
            )));
        }
        if let Some(e) = self
            .examples
            .iter()
            .find(|e| e.trim().is_empty() || e.chars().count() > MAX_EXAMPLE_CHARS)
        {
            return Err(VoiceError::Invalid(format!(
                "examples has an empty entry or one over {MAX_EXAMPLE_CHARS} characters ({} characters)",
                e.chars().count()
            )));
        }
        for phrase in &self.avoid_phrases {
            if phrase.trim().is_empty() {
                return Err(VoiceError::Invalid(
                    "avoid_phrases has an empty entry".into(),
                ));
            }
            let lower = phrase.to_lowercase();
            let examples = self.examples.join("\n");
            for (key, value) in [
                ("greeting", &self.greeting),
                ("sign_off", &self.sign_off),
                ("signature", &self.signature),
                ("examples", &examples),
            ] {
                if value.to_lowercase().contains(&lower) {
                    return Err(VoiceError::Invalid(format!(
                        "{key} contains the avoided phrase \"{phrase}\""
                    )));
                }
            }
        }
        Ok(())
    }

    /// The profile as the TOML [`Self::from_toml`] reads.
    pub fn to_toml(&self) -> String {
        // A JSON string is a valid TOML basic string.
        let s = |v: &str| serde_json::Value::from(v).to_string();
        let list = |items: &[String]| items.iter().map(|p| s(p)).collect::<Vec<_>>().join(", ");
        let examples = if self.examples.is_empty() {
            String::new()
        } else {
            format!("examples = [{}]\n", list(&self.examples))
        };
        let tone = match self.tone {
            Tone::Friendly => "friendly",
            Tone::Formal => "formal",
            Tone::Concise => "concise",
        };
        format!(
            "tone = \"{tone}\"\ngreeting = {}\nsign_off = {}\nsignature = {}\ncompany_name = {}\nmax_words = {}\navoid_phrases = [{}]\n{examples}",
            s(&self.greeting),
            s(&self.sign_off),
            s(&self.signature),
            s(&self.company_name),
            self.max_words,
            list(&self.avoid_phrases),
        )
    }

    /// Whether `text` contains an avoided phrase.
    pub fn has_avoided_phrase(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.avoid_phrases
            .iter()
            .any(|p| lower.contains(&p.to_lowercase()))
    }
}

/// What changed from `current` to `learned`, one line per key.
pub fn profile_changes(current: &VoiceProfile, learned: &VoiceProfile) -> Vec<String> {
    /// Each key as the comparison shows it.
    fn shown(p: &VoiceProfile) -> [(&'static str, String); 7] {
        [
            ("tone", format!("{:?}", p.tone).to_lowercase()),
            ("greeting", p.greeting.clone()),
            ("sign_off", p.sign_off.clone()),
            ("signature", p.signature.clone()),
            ("max_words", p.max_words.to_string()),
            ("avoid_phrases", p.avoid_phrases.join(", ")),
            ("examples", format!("{} sentence(s)", p.examples.len())),
        ]
    }
    shown(current)
        .into_iter()
        .zip(shown(learned))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((key, a), (_, b))| format!("{key}: {a:?} → {b:?}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_changed_key_only() {
        let current = VoiceProfile::default();
        assert!(profile_changes(&current, &current).is_empty());
        let learned = VoiceProfile {
            greeting: "Dear {first_name},".into(),
            examples: vec!["Happy to help whenever suits you.".into()],
            ..VoiceProfile::default()
        };
        assert_eq!(
            profile_changes(&current, &learned),
            vec![
                r#"greeting: "Hi {first_name}," → "Dear {first_name},""#,
                r#"examples: "0 sentence(s)" → "1 sentence(s)""#,
            ]
        );
    }

    #[test]
    fn parses_a_full_profile() {
        let p = VoiceProfile::from_toml(
            r#"
tone = "formal"
greeting = "Dear {first_name},"
sign_off = "Kind regards,"
signature = "Alex"
company_name = "Acme"
max_words = 120
avoid_phrases = ["synergy"]
"#,
        )
        .unwrap();
        assert_eq!(p.tone, Tone::Formal);
        assert_eq!(p.max_words, 120);
        assert!(p.has_avoided_phrase("Great SYNERGY here"));
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let p = VoiceProfile::from_toml("company_name = \"Acme\"").unwrap();
        assert_eq!(p.greeting, "Hi {first_name},");
        assert_eq!(p.company_name, "Acme");
    }

    #[test]
    fn rejects_bad_profiles() {
        for bad in [
            "tone = \"shouty\"",
            "unknown_key = 1",
            "max_words = 5",
            "greeting = \"Hi {name},\"",
            "sign_off = \"  \"",
            "avoid_phrases = [\"best\"]\nsign_off = \"Best,\"",
            "max_words = \"many\"",
        ] {
            assert!(VoiceProfile::from_toml(bad).is_err(), "accepted {bad}");
        }
    }
}
