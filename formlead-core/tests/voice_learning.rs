//! `VoiceLearner` on three fixture mailboxes of clearly different styles:
//! each yields its greeting, sign-off, signature, tone and length band,
//! with quoted replies (and the other party's sign-offs in them) ignored.

use formlead_core::agents::{TemplateWriter, Tone, VoiceLearner, VoiceProfile};

fn mailbox(text: &str) -> Vec<String> {
    text.split("\n=====\n").map(str::to_owned).collect()
}

#[test]
fn terse_formal_and_friendly_mailboxes() {
    let base = VoiceProfile {
        company_name: "Acme".into(),
        ..VoiceProfile::default()
    };
    let cases = [
        (
            include_str!("fixtures/voice/terse.txt"),
            "Hi {first_name},",
            "Thx,",
            "J.",
            Tone::Concise,
            40..=80,
        ),
        (
            include_str!("fixtures/voice/formal.txt"),
            "Dear {first_name},",
            "Kind regards,",
            "Eleanor Whitfield\nHead of Partnerships\nNorthwind Ltd",
            Tone::Formal,
            100..=140,
        ),
        (
            include_str!("fixtures/voice/friendly.txt"),
            "Hi {first_name},",
            "Cheers,",
            "Priya\nCustomer Success, Brightline",
            Tone::Friendly,
            80..=120,
        ),
    ];
    for (text, greeting, sign_off, signature, tone, band) in cases {
        let messages = mailbox(text);
        assert!(messages.len() >= 10);
        let learned = VoiceLearner.learn(&messages, &base).unwrap();
        let p = &learned.profile;
        assert_eq!(
            (
                p.greeting.as_str(),
                p.sign_off.as_str(),
                p.signature.as_str(),
                p.tone
            ),
            (greeting, sign_off, signature, tone),
            "{learned:?}"
        );
        assert!(
            band.contains(&p.max_words),
            "{} not in {band:?}",
            p.max_words
        );
        assert_eq!(p.company_name, "Acme", "kept from the current profile");
        assert_eq!(learned.messages, messages.len());
        // The learned profile is one the writer takes, in the same TOML.
        assert_eq!(&VoiceProfile::from_toml(&p.to_toml()).unwrap(), p);
        let _ = TemplateWriter::new(p.clone());
    }
}

#[test]
fn frequent_phrases_are_the_senders_own() {
    let learned = VoiceLearner
        .learn(
            &mailbox(include_str!("fixtures/voice/formal.txt")),
            &VoiceProfile::default(),
        )
        .unwrap();
    assert!(
        learned
            .frequent_phrases
            .iter()
            .any(|p| p == "i would be" || p == "would be pleased"),
        "{:?}",
        learned.frequent_phrases
    );
    assert!(learned.frequent_phrases.iter().all(|p| !p.contains("dave")));
}

/// Each mailbox gives example sentences for an LLM writer that name no one:
/// none of the people, companies, numbers or addresses in the mail.
#[test]
fn example_sentences_name_no_one() {
    // Every person and company the three mailboxes name.
    const NAMES: &[&str] = &[
        "Alex",
        "Ana",
        "Bauer",
        "Ben",
        "Blake",
        "Brien",
        "Brightline",
        "Casey",
        "Dave",
        "Drew",
        "Eleanor",
        "Eva",
        "Ferreira",
        "Fletcher",
        "Harrison",
        "James",
        "Jamie",
        "Jon",
        "Jordan",
        "Kim",
        "Lee",
        "Lindqvist",
        "Mensah",
        "Mia",
        "Morgan",
        "Northwind",
        "Novak",
        "Okafor",
        "Park",
        "Priya",
        "Raj",
        "Riley",
        "Robin",
        "Rossi",
        "Sam",
        "Tanaka",
        "Taylor",
        "Tom",
        "Whitfield",
        "Zoe",
    ];
    // A terse writer has few sentences of five words or more.
    for (text, least) in [
        (include_str!("fixtures/voice/terse.txt"), 1),
        (include_str!("fixtures/voice/formal.txt"), 3),
        (include_str!("fixtures/voice/friendly.txt"), 3),
    ] {
        let learned = VoiceLearner
            .learn(&mailbox(text), &VoiceProfile::default())
            .unwrap();
        let examples = &learned.example_sentences;
        assert!((least..=5).contains(&examples.len()), "{examples:?}");
        for e in examples {
            assert!(
                !e.chars()
                    .any(|c| c.is_ascii_digit() || c == '@' || c == '/'),
                "{e}"
            );
            for name in NAMES {
                assert!(!e.contains(name), "{e}");
            }
        }
        assert!(learned.profile.examples.is_empty(), "the caller adds them");

        // With them, the profile round-trips through its TOML, and the
        // template writer writes exactly what it writes without them.
        let with = VoiceProfile {
            examples: examples.clone(),
            ..learned.profile.clone()
        };
        assert_eq!(VoiceProfile::from_toml(&with.to_toml()).unwrap(), with);
        let input = draft_input();
        assert_eq!(
            TemplateWriter::new(with).compose(&input),
            TemplateWriter::new(learned.profile.clone()).compose(&input)
        );
    }
}

fn draft_input() -> formlead_core::ports::DraftInput {
    use formlead_core::agents::{MemoryRecall, NextAction, NextStep};
    use formlead_core::domain::{EmailAddress, Prospect};
    formlead_core::ports::DraftInput {
        prospect: Prospect {
            email: EmailAddress::parse("ann@acme.example").expect("valid address"),
            first_name: Some("Ann".into()),
            last_name: None,
            company: Some("Acme".into()),
            message: Some("Could we see a demo next week?".into()),
        },
        plan: NextStep {
            action: NextAction::ProposeMeeting,
            reason: String::new(),
            asset: None,
            slots: Vec::new(),
        },
        thread: None,
        memory: MemoryRecall::default(),
        time_zone: chrono_tz::UTC,
        more_asks: Vec::new(),
        support_handoff: false,
    }
}
