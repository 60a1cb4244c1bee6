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
