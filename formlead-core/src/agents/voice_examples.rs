//! Example sentences for the LLM writer: a few short sentences the sender
//! wrote, chosen so that nothing in them names a person, a company, a
//! place, a number or an address.
//!
//! Nothing is rewritten, so nothing can be half-anonymised: a sentence is
//! kept only if it has no digit, no `@`, no link and no symbol beyond
//! ordinary punctuation, and no capitalised word other than "I" (and its
//! contractions), a weekday, a month or our own company's name. Its first
//! word, capitalised anyway, must be one the sender also writes in lower
//! case, or a common opener: a sentence that starts with a name is dropped.

use std::collections::HashSet;

/// How many example sentences a learned profile carries.
pub const EXAMPLES: usize = 5;

const MIN_WORDS: usize = 5;
const MAX_WORDS: usize = 20;

/// Capitalised words that name nobody.
const ALWAYS_CAPITALISED: &[&str] = &[
    "i",
    "i'm",
    "i'll",
    "i'd",
    "i've",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Words that open sentences and are no one's name.
const OPENERS: &[&str] = &[
    "a", "all", "also", "and", "any", "as", "attached", "but", "can", "could", "do", "does",
    "feel", "for", "glad", "great", "happy", "have", "hope", "how", "if", "in", "it", "it's",
    "just", "let", "let's", "looking", "no", "not", "of", "on", "once", "our", "please", "so",
    "sorry", "sounds", "thank", "thanks", "that", "that's", "the", "there", "there's", "these",
    "this", "to", "we", "we'll", "we're", "we've", "what", "when", "which", "will", "with",
    "would", "yes", "you", "you'll", "you're", "your",
];

/// Up to [`EXAMPLES`] sentences from `bodies` (the sender's own text of
/// each message, greeting and signature cut), taken in turn from different
/// messages; `company` is our company's name.
pub fn example_sentences(bodies: &[&str], company: &str) -> Vec<String> {
    let lower_words: HashSet<String> = bodies
        .iter()
        .flat_map(|b| b.split_whitespace())
        .map(bare)
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .collect();
    let company: HashSet<String> = company
        .split_whitespace()
        .map(|w| bare(w).to_lowercase())
        .collect();
    let per_message: Vec<Vec<String>> = bodies
        .iter()
        .map(|b| {
            sentences(b)
                .into_iter()
                .filter(|s| is_example(s, &lower_words, &company))
                .collect()
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let longest = per_message.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for message in &per_message {
            if out.len() == EXAMPLES {
                return out;
            }
            if let Some(s) = message.get(i)
                && seen.insert(s.to_lowercase())
            {
                out.push(s.clone());
            }
        }
    }
    out
}

/// A word without the punctuation around it.
fn bare(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .replace('’', "'")
}

/// The sentences of `text`, whitespace collapsed.
fn sentences(text: &str) -> Vec<String> {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = flat.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| *n == ' ') {
            out.push(current.trim().to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

fn is_example(sentence: &str, lower_words: &HashSet<String>, company: &HashSet<String>) -> bool {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    if !(MIN_WORDS..=MAX_WORDS).contains(&words.len()) {
        return false;
    }
    let plain = |c: char| c.is_alphabetic() || " ,.;!?'’-".contains(c);
    if !sentence.chars().all(plain) || !sentence.ends_with(['.', '!', '?']) {
        return false;
    }
    words.iter().enumerate().all(|(i, w)| {
        let w = bare(w);
        let lower = w.to_lowercase();
        if !w.chars().next().is_some_and(char::is_uppercase) {
            return true;
        }
        if ALWAYS_CAPITALISED.contains(&lower.as_str()) || company.contains(&lower) {
            return true;
        }
        i == 0 && (OPENERS.contains(&lower.as_str()) || lower_words.contains(&lower))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_naming_anyone_or_anything_are_left_out() {
        let bodies = [
            "Thanks for getting in touch. Sarah from our team will call you on Tuesday. \
             Happy to walk you through the product whenever suits you.",
            "Our pricing starts at 49 per seat, see https://acme.example/pricing for details. \
             Let me know if a short call would help you decide.",
            "Maria mentioned you are looking at tools for onboarding. \
             We usually get teams set up within a single week! Write to bob@acme.example.",
            "Acme Robotics sounds like a great fit for what we do at Formlead. \
             Feel free to reply here with any questions at all.",
        ];
        let examples = example_sentences(&bodies, "Formlead");
        assert_eq!(
            examples,
            vec![
                // One from each message in turn, then the next of the first.
                "Thanks for getting in touch.",
                "Let me know if a short call would help you decide.",
                "We usually get teams set up within a single week!",
                "Feel free to reply here with any questions at all.",
                "Happy to walk you through the product whenever suits you.",
            ]
        );
        for e in &examples {
            for leak in ["Sarah", "Maria", "49", "https", "@", "Acme", "Robotics"] {
                assert!(!e.contains(leak), "{e}");
            }
        }
    }

    #[test]
    fn a_weekday_our_name_and_i_are_not_names() {
        let bodies = ["I can show you how Formlead drafts replies on Monday morning."];
        assert_eq!(
            example_sentences(&bodies, "Formlead"),
            vec!["I can show you how Formlead drafts replies on Monday morning."]
        );
        assert!(example_sentences(&["Too short."], "X").is_empty());
    }

    #[test]
    fn at_most_five_and_no_repeats() {
        let body = "Happy to help with anything you need here. ".repeat(3)
            + "Let me know what time works best for you. We can keep it short and focused. \
               It would be good to hear more about your team. Looking forward to hearing from you soon. \
               Please share anything you would like us to prepare.";
        let examples = example_sentences(&[body.as_str()], "X");
        assert_eq!(examples.len(), EXAMPLES);
        assert_eq!(examples[0], "Happy to help with anything you need here.");
        assert_eq!(
            examples.iter().filter(|e| e.starts_with("Happy")).count(),
            1
        );
    }
}
