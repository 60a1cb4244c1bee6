//! Learning the sender's voice from the mail they actually sent: greeting
//! and sign-off habits, the signature block, how long their messages are,
//! how formal they write, and the phrases they keep using. The result is
//! the same [`VoiceProfile`] the template writer reads.
//!
//! Each message is reduced to what the sender wrote: quoted replies (`>`
//! lines, "On … wrote:", forwarded and original-message blocks, and the
//! other party's signature inside them) are cut off first.

use std::collections::HashMap;

use super::voice::{Tone, VoiceError, VoiceProfile};
use super::voice_examples::example_sentences;

/// Fewest messages a profile is learned from.
pub const MIN_MESSAGES: usize = 3;

/// Words that open a greeting line.
const SALUTATIONS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "greetings",
    "hiya",
];

/// Closing lines (compared lower-case, without trailing punctuation).
const CLOSINGS: &[&str] = &[
    "best",
    "best regards",
    "kind regards",
    "warm regards",
    "warmest regards",
    "regards",
    "many thanks",
    "thanks",
    "thank you",
    "thanks again",
    "cheers",
    "sincerely",
    "yours sincerely",
    "yours faithfully",
    "yours truly",
    "all the best",
    "speak soon",
    "talk soon",
    "with best regards",
    "with kind regards",
    "respectfully",
    "thx",
    "ta",
];

/// What one sent message says about its writer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    greeting: Option<String>,
    sign_off: Option<String>,
    signature: Option<String>,
    body_words: usize,
    body: String,
}

/// The learned profile and what it was learned from.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedVoice {
    /// The profile (company name and avoided phrases kept from the base).
    pub profile: VoiceProfile,
    /// Messages it was learned from.
    pub messages: usize,
    /// The median length of a message body, in words.
    pub median_words: usize,
    /// Three-word phrases found in at least a quarter of the messages,
    /// most frequent first.
    pub frequent_phrases: Vec<String>,
    /// Short sentences of the sender's that name nobody and nothing (see
    /// [`super::voice_examples`]): what `profile.examples` carries when an
    /// LLM writes the drafts. Not in `profile` itself.
    pub example_sentences: Vec<String>,
}

/// Derives a [`VoiceProfile`] from sent messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct VoiceLearner;

impl VoiceLearner {
    /// Learns from the plain-text bodies of sent messages; what it cannot
    /// learn (company name, avoided phrases) comes from `base`.
    ///
    /// # Errors
    /// [`VoiceError::Invalid`] with fewer than [`MIN_MESSAGES`] messages
    /// that have any text of the sender's.
    pub fn learn(
        &self,
        messages: &[String],
        base: &VoiceProfile,
    ) -> Result<LearnedVoice, VoiceError> {
        let parsed: Vec<Parsed> = messages
            .iter()
            .map(|m| parse(&own_text(m)))
            .filter(|p| p.body_words > 0)
            .collect();
        if parsed.len() < MIN_MESSAGES {
            return Err(VoiceError::Invalid(format!(
                "{} sent message(s) with text of the sender's; at least {MIN_MESSAGES} are needed",
                parsed.len()
            )));
        }
        let mut lengths: Vec<usize> = parsed.iter().map(|p| p.body_words).collect();
        lengths.sort_unstable();
        let median_words = lengths[lengths.len() / 2];
        let p90 = lengths[(lengths.len() * 9 / 10).min(lengths.len() - 1)];
        let greeting = most_common(parsed.iter().filter_map(|p| p.greeting.clone()))
            .unwrap_or_else(|| base.greeting.clone());
        let sign_off = most_common(parsed.iter().filter_map(|p| p.sign_off.clone()))
            .unwrap_or_else(|| base.sign_off.clone());
        let signature = most_common(parsed.iter().filter_map(|p| p.signature.clone()))
            .unwrap_or_else(|| base.signature.clone());
        let tone = tone_of(&parsed, median_words, &greeting, &sign_off);
        let mut profile = VoiceProfile {
            tone,
            greeting,
            sign_off,
            signature,
            company_name: base.company_name.clone(),
            // Room for the template's fixed parts (greeting, slots,
            // signature) on top of what the sender usually writes.
            max_words: (p90 + 40).div_ceil(10) * 10,
            avoid_phrases: base.avoid_phrases.clone(),
            examples: Vec::new(),
        };
        profile.max_words = profile.max_words.clamp(super::voice::MIN_WORDS, 400);
        // An avoided phrase the sender's own habits contain cannot stay.
        let own = format!(
            "{} {} {}",
            profile.greeting, profile.sign_off, profile.signature
        )
        .to_lowercase();
        profile
            .avoid_phrases
            .retain(|p| !own.contains(&p.to_lowercase()));
        profile.validate()?;
        Ok(LearnedVoice {
            profile,
            messages: parsed.len(),
            median_words,
            frequent_phrases: frequent_phrases(&parsed),
            example_sentences: example_sentences(
                &parsed.iter().map(|p| p.body.as_str()).collect::<Vec<_>>(),
                &base.company_name,
            ),
        })
    }
}

/// What the sender wrote: the message up to the first quoted part.
fn own_text(message: &str) -> String {
    let mut out = Vec::new();
    for line in message.replace("\r\n", "\n").lines() {
        let t = line.trim();
        let lower = t.to_lowercase();
        let quoted_from_here = t.starts_with('>')
            || (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || lower.starts_with("-----original message")
            || lower.starts_with("---------- forwarded message")
            || lower.starts_with("begin forwarded message")
            || (lower.starts_with("from:") && out.len() > 2);
        if quoted_from_here {
            break;
        }
        out.push(line.trim_end().to_owned());
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

fn parse(text: &str) -> Parsed {
    let lines: Vec<&str> = text.lines().collect();
    let mut first = 0;
    while first < lines.len() && lines[first].trim().is_empty() {
        first += 1;
    }
    let greeting = lines.get(first).and_then(|l| greeting_of(l));
    let start = if greeting.is_some() { first + 1 } else { first };
    // The sign-off: the last closing line among the last few lines.
    let tail_from = lines.len().saturating_sub(8).max(start);
    let closing = (tail_from..lines.len())
        .rev()
        .find(|&i| is_closing(lines[i]));
    let (end, sign_off, signature) = match closing {
        Some(i) => {
            let sig: Vec<&str> = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty() && *l != "--")
                .collect();
            (
                i,
                Some(closing_line(lines[i])),
                (!sig.is_empty()).then(|| sig.join("\n")),
            )
        }
        None => (lines.len(), None, None),
    };
    let body = lines[start.min(end)..end].join("\n").trim().to_owned();
    Parsed {
        greeting,
        sign_off,
        signature,
        body_words: body.split_whitespace().count(),
        body,
    }
}

/// `Hi Maria,` → `Hi {first_name},`; `Hello,` stays; not a greeting: `None`.
fn greeting_of(line: &str) -> Option<String> {
    let t = line.trim();
    let lower = t.to_lowercase();
    let salutation = SALUTATIONS.iter().find(|s| {
        lower.starts_with(*s)
            && lower[s.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
    })?;
    if t.split_whitespace().count() > 5 {
        return None;
    }
    let head = &t[..salutation.len()];
    let rest = t[salutation.len()..].trim();
    let punct: String = rest
        .chars()
        .rev()
        .take_while(|c| matches!(c, ',' | '!' | ':' | '.'))
        .collect();
    let name = rest.trim_end_matches([',', '!', ':', '.']).trim();
    Some(if name.is_empty() {
        format!("{head}{punct}")
    } else {
        format!("{head} {{first_name}}{punct}")
    })
}

fn closing_key(line: &str) -> String {
    line.trim()
        .trim_end_matches([',', '!', '.', '-'])
        .trim()
        .to_lowercase()
}

fn is_closing(line: &str) -> bool {
    CLOSINGS.contains(&closing_key(line).as_str())
}

/// The closing line as the sender writes it, with a comma if they use one.
fn closing_line(line: &str) -> String {
    line.trim().to_owned()
}

fn most_common(values: impl Iterator<Item = String>) -> Option<String> {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, v) in values.enumerate() {
        let e = counts.entry(v).or_insert((0, i));
        e.0 += 1;
    }
    // Most frequent; the earliest seen on a tie.
    counts
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(v, _)| v)
}

const CONTRACTIONS: &[&str] = &[
    "i'm",
    "i've",
    "i'll",
    "i'd",
    "we're",
    "we've",
    "we'll",
    "you're",
    "you'll",
    "you've",
    "don't",
    "doesn't",
    "didn't",
    "can't",
    "won't",
    "isn't",
    "aren't",
    "it's",
    "that's",
    "there's",
    "let's",
    "here's",
    "what's",
    "couldn't",
    "wouldn't",
    "shouldn't",
];

/// Concise when short; formal or friendly by greeting, closing,
/// contractions and exclamation marks.
fn tone_of(parsed: &[Parsed], median_words: usize, greeting: &str, sign_off: &str) -> Tone {
    if median_words <= 30 {
        return Tone::Concise;
    }
    let words: usize = parsed.iter().map(|p| p.body_words).sum::<usize>().max(1);
    let text: String = parsed
        .iter()
        .map(|p| p.body.to_lowercase().replace('’', "'"))
        .collect::<Vec<_>>()
        .join(" ");
    let contractions = text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| CONTRACTIONS.contains(w))
        .count();
    let exclamations = text.matches('!').count();
    let mut formal = 0i32;
    let mut friendly = 0i32;
    let g = greeting.to_lowercase();
    if g.starts_with("dear") || g.starts_with("good ") {
        formal += 2;
    } else if g.starts_with("hi") || g.starts_with("hey") {
        friendly += 2;
    }
    match closing_key(sign_off).as_str() {
        "kind regards" | "sincerely" | "yours sincerely" | "yours faithfully" | "respectfully"
        | "with kind regards" | "with best regards" | "regards" => formal += 2,
        "cheers" | "thanks" | "talk soon" | "speak soon" | "all the best" | "best" => friendly += 2,
        _ => {}
    }
    // Per hundred words.
    let per_100 = |n: usize| n * 100 / words;
    if per_100(contractions) >= 1 {
        friendly += 1;
    } else {
        formal += 1;
    }
    if per_100(exclamations) >= 1 {
        friendly += 1;
    }
    if formal > friendly {
        Tone::Formal
    } else {
        Tone::Friendly
    }
}

fn frequent_phrases(parsed: &[Parsed]) -> Vec<String> {
    let mut in_messages: HashMap<String, usize> = HashMap::new();
    for p in parsed {
        let words: Vec<String> = p
            .body
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect();
        let mut seen = std::collections::HashSet::new();
        for w in words.windows(3) {
            let phrase = w.join(" ");
            if seen.insert(phrase.clone()) {
                *in_messages.entry(phrase).or_default() += 1;
            }
        }
    }
    let threshold = parsed.len().div_ceil(4).max(2);
    let mut phrases: Vec<(String, usize)> = in_messages
        .into_iter()
        .filter(|(_, n)| *n >= threshold)
        .collect();
    phrases.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    phrases.into_iter().take(5).map(|(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_generalise_the_name() {
        assert_eq!(
            greeting_of("Hi Maria,").as_deref(),
            Some("Hi {first_name},")
        );
        assert_eq!(
            greeting_of("Dear Ms. Lopez,").as_deref(),
            Some("Dear {first_name},")
        );
        assert_eq!(greeting_of("Hello,").as_deref(), Some("Hello,"));
        assert_eq!(
            greeting_of("Hey Sam!").as_deref(),
            Some("Hey {first_name}!")
        );
        assert_eq!(greeting_of("Highly recommend this"), None);
        assert_eq!(
            greeting_of("Hi there, thanks for the call yesterday about pricing"),
            None
        );
    }

    #[test]
    fn quoted_replies_and_their_signatures_are_cut() {
        let m = "Hi Ann,\n\nSounds good.\n\nBest,\nSam\n\nOn Tue, 1 Dec 2026 at 10:00, Ann <ann@x.example> wrote:\n> Kind regards,\n> Ann Other\n> VP Sales";
        let p = parse(&own_text(m));
        assert_eq!(p.sign_off.as_deref(), Some("Best,"));
        assert_eq!(p.signature.as_deref(), Some("Sam"));
        assert_eq!(p.body, "Sounds good.");
    }

    #[test]
    fn too_few_messages_is_an_error() {
        let r = VoiceLearner.learn(
            &["Hi A,\n\nok\n\nBest,\nSam".to_owned()],
            &VoiceProfile::default(),
        );
        assert!(matches!(r, Err(VoiceError::Invalid(_))));
    }
}
