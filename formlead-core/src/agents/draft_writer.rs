//! TemplateWriter: the default [`DraftWriter`] — subject, plain-text and
//! HTML body of the reply, in the company's voice.

use async_trait::async_trait;

use super::asset_hunter::is_safe_link;
use super::long_memory::MemoryRecall;
use super::next_step::NextAction;
use super::voice::{Tone, VoiceProfile};
use crate::html::escape_html;
use crate::ports::{DraftContent, DraftInput, DraftWriter, WriterError};

/// Deterministic, template-based writer following a [`VoiceProfile`].
#[derive(Debug, Clone, Default)]
pub struct TemplateWriter {
    /// The company's voice.
    pub voice: VoiceProfile,
}

#[async_trait]
impl DraftWriter for TemplateWriter {
    async fn write(&self, input: &DraftInput) -> Result<DraftContent, WriterError> {
        Ok(self.compose(input))
    }
}

/// A piece of a line: text, or a link.
#[derive(Debug, Clone)]
enum Inline {
    Text(String),
    Link { label: String, url: String },
}

/// A paragraph (lines) or a bullet list; optional blocks are dropped first
/// when the reply is too long.
#[derive(Debug, Clone)]
struct Block {
    lines: Vec<Vec<Inline>>,
    bullets: bool,
    optional: bool,
}

impl Block {
    fn para(line: Vec<Inline>) -> Self {
        Self {
            lines: vec![line],
            bullets: false,
            optional: false,
        }
    }

    fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    fn text(&self) -> String {
        let render = |line: &Vec<Inline>| {
            line.iter()
                .map(|i| match i {
                    Inline::Text(t) => t.clone(),
                    Inline::Link { label, url } => format!("{label} ({url})"),
                })
                .collect::<String>()
        };
        self.lines
            .iter()
            .map(|l| {
                if self.bullets {
                    format!("- {}", render(l))
                } else {
                    render(l)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn html(&self) -> String {
        let render = |line: &Vec<Inline>| {
            line.iter()
                .map(|i| match i {
                    Inline::Text(t) => escape_html(t),
                    Inline::Link { label, url } => {
                        format!(
                            "<a href=\"{}\">{}</a>",
                            escape_html(url),
                            escape_html(label)
                        )
                    }
                })
                .collect::<String>()
        };
        if self.bullets {
            let items: String = self
                .lines
                .iter()
                .map(|l| format!("<li>{}</li>", render(l)))
                .collect();
            format!("<ul>{items}</ul>")
        } else {
            format!(
                "<p>{}</p>",
                self.lines
                    .iter()
                    .map(render)
                    .collect::<Vec<_>>()
                    .join("<br>")
            )
        }
    }
}

fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

/// Longest subject kept (characters).
const MAX_SUBJECT_CHARS: usize = 150;
/// Words of the prospect's message echoed as the topic.
const TOPIC_WORDS: usize = 12;

impl TemplateWriter {
    /// A writer in `voice`.
    pub fn new(voice: VoiceProfile) -> Self {
        Self { voice }
    }

    /// Builds the reply. Deterministic for a given input.
    pub fn compose(&self, input: &DraftInput) -> DraftContent {
        let v = &self.voice;
        let p = &input.prospect;
        let company = p.company.clone();
        let topic = topic_of(p.message.as_deref()).filter(|t| !v.has_avoided_phrase(t));

        let mut blocks = Vec::new();
        let greeting = v
            .greeting
            .replace("{first_name}", p.greeting_name())
            .replace("{company}", company.as_deref().unwrap_or("your team"));
        blocks.push(Block::para(vec![text(single_line(&greeting))]));
        blocks.push(Block::para(self.opener(
            topic.as_deref(),
            company.as_deref(),
            &input.memory,
        )));
        blocks.extend(self.more_asks(input, topic.as_deref()));
        blocks.extend(self.action_blocks(input));
        blocks.push(Block {
            lines: std::iter::once(v.sign_off.as_str())
                .chain(v.signature.lines())
                .map(|l| vec![text(l)])
                .collect(),
            bullets: false,
            optional: false,
        });

        // Optional blocks that would say an avoided phrase go first; then
        // optional blocks from the end until the body fits max_words.
        blocks.retain(|b| !(b.optional && v.has_avoided_phrase(&b.text())));
        while word_count(&blocks) > v.max_words {
            match blocks.iter().rposition(|b| b.optional) {
                Some(i) => {
                    blocks.remove(i);
                }
                None => break,
            }
        }

        let body_text = blocks
            .iter()
            .map(Block::text)
            .collect::<Vec<_>>()
            .join("\n\n");
        let body_html = format!(
            "<div>{}</div>",
            blocks.iter().map(Block::html).collect::<Vec<_>>().join("")
        );
        DraftContent {
            subject: self.subject(input),
            body_text,
            body_html,
        }
    }

    fn subject(&self, input: &DraftInput) -> String {
        let raw = match &input.thread {
            Some(thread) => {
                let s = single_line(&thread.subject);
                if s.to_lowercase().starts_with("re:") {
                    s
                } else {
                    format!("Re: {s}")
                }
            }
            None => match &input.prospect.company {
                Some(c) => format!(
                    "Your inquiry to {} ({})",
                    self.voice.company_name,
                    single_line(c)
                ),
                None => format!("Your inquiry to {}", self.voice.company_name),
            },
        };
        raw.chars().take(MAX_SUBJECT_CHARS).collect()
    }

    fn opener(
        &self,
        topic: Option<&str>,
        company: Option<&str>,
        memory: &MemoryRecall,
    ) -> Vec<Inline> {
        let about = topic.map(|t| format!(" about “{t}”")).unwrap_or_default();
        let again = if memory.returning { " again" } else { "" };
        let line = match self.voice.tone {
            Tone::Friendly => {
                let team = company.map_or_else(|| "you".to_owned(), |c| format!("the {c} team"));
                format!(
                    "Thanks so much for reaching out{again}{about}. It would be great to help {team} with this."
                )
            }
            Tone::Formal => {
                let on_behalf = company
                    .map(|c| format!(" on behalf of {c}"))
                    .unwrap_or_default();
                format!(
                    "Thank you for contacting {}{again}{on_behalf}{about}.",
                    self.voice.company_name
                )
            }
            Tone::Concise => format!("Thanks for your message{about}."),
        };
        vec![text(line)]
    }

    /// What the prospect asked in repeat submissions (each by its topic,
    /// at most [`TOPIC_WORDS`] words of it), so one reply answers them all.
    fn more_asks(&self, input: &DraftInput, first: Option<&str>) -> Option<Block> {
        let mut topics: Vec<String> = Vec::new();
        for ask in &input.more_asks {
            if let Some(t) = topic_of(Some(without_also(ask)))
                && !self.voice.has_avoided_phrase(&t)
                && Some(t.as_str()) != first
                && !topics.contains(&t)
            {
                topics.push(t);
            }
        }
        if topics.is_empty() {
            return None;
        }
        let quoted: Vec<String> = topics.iter().map(|t| format!("“{t}”")).collect();
        let list = match quoted.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => quoted.join(""),
        };
        let line = match self.voice.tone {
            Tone::Friendly => format!("You also asked about {list}: happy to cover that too."),
            Tone::Formal => {
                format!("You also enquired about {list}; we will address this as well.")
            }
            Tone::Concise => format!("Also noted: {list}."),
        };
        Some(Block::para(vec![text(line)]))
    }

    fn action_blocks(&self, input: &DraftInput) -> Vec<Block> {
        let plan = &input.plan;
        let tz = input.time_zone;
        let slot_list = || Block {
            lines: plan
                .slots
                .iter()
                .map(|s| vec![text(format!("{} ({})", s.display(tz), tz.name()))])
                .collect(),
            bullets: true,
            optional: false,
        };
        let asset_line = |intro: &str| {
            plan.asset
                .as_ref()
                .filter(|a| is_safe_link(&a.asset.url))
                .map(|a| {
                    Block::para(vec![
                        text(intro),
                        Inline::Link {
                            label: single_line(&a.asset.title),
                            url: a.asset.url.trim().to_owned(),
                        },
                    ])
                })
        };
        let ask_for_time = || {
            Block::para(vec![text(
                "Would you have 30 minutes for a short call this week or next? Just reply with a time that suits you.",
            )])
        };

        let mut blocks = Vec::new();
        match plan.action {
            // Support follows up only when the lead was handed to them.
            NextAction::RouteToSupport if input.support_handoff => {
                blocks.push(Block::para(vec![text(
                    "I have passed your message to our support team so the right person picks it up quickly; they will be in touch shortly.",
                )]));
                return blocks;
            }
            NextAction::RouteToSupport => {
                blocks.push(Block::para(vec![text(
                    "This sounds like a question about using the product rather than a new enquiry. I have noted your message on your account so that it is followed up.",
                )]));
                return blocks;
            }
            NextAction::FollowUpThread => {
                if let Some(t) = &input.thread {
                    blocks.push(Block::para(vec![text(format!(
                        "Picking up our earlier conversation (“{}”): happy to take this forward.",
                        single_line(&t.subject)
                    ))]));
                }
                if !plan.slots.is_empty() {
                    blocks.push(
                        Block::para(vec![text(
                            "If a call is easier, any of these times would work for me:",
                        )])
                        .optional(),
                    );
                    blocks.push(slot_list().optional());
                }
                blocks.extend(
                    asset_line("In the meantime, this may be useful: ").map(Block::optional),
                );
            }
            NextAction::ProposeMeeting => {
                if plan.slots.is_empty() {
                    blocks.push(ask_for_time());
                } else {
                    blocks.push(Block::para(vec![text(
                        "Would a short call help? Any of these times would work for me:",
                    )]));
                    blocks.push(slot_list());
                    blocks.push(
                        Block::para(vec![text(
                            "If none suits you, just reply with a time that does.",
                        )])
                        .optional(),
                    );
                }
                blocks.extend(
                    asset_line("In the meantime, this may be useful: ").map(Block::optional),
                );
            }
            NextAction::ShareAsset => {
                match asset_line("Here is something that should help: ") {
                    Some(b) => blocks.push(b),
                    None => blocks.push(ask_for_time()),
                }
                if !plan.slots.is_empty() {
                    blocks.push(
                        Block::para(vec![text(
                            "If it is easier to talk it through, I am free at any of these times:",
                        )])
                        .optional(),
                    );
                    blocks.push(slot_list().optional());
                }
            }
        }
        blocks
    }
}

/// The first sentence of the message, at most [`TOPIC_WORDS`] words,
/// without a leading salutation ("Hi team,").
fn topic_of(message: Option<&str>) -> Option<String> {
    let message = message?.trim();
    let mut rest = message;
    let lower = rest.to_lowercase();
    for salutation in [
        "hi",
        "hello",
        "hey",
        "dear",
        "good morning",
        "good afternoon",
    ] {
        if lower.starts_with(salutation) {
            if let Some((head, tail)) = rest.split_once([',', '!', '\n'])
                && head.split_whitespace().count() <= 3
            {
                rest = tail.trim_start();
            }
            break;
        }
    }
    let sentence = rest
        .split(['.', '!', '?', '\n'])
        .map(str::trim)
        .find(|s| !s.is_empty())?;
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let mut topic = words
        .iter()
        .take(TOPIC_WORDS)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if words.len() > TOPIC_WORDS {
        topic.push('…');
    }
    (!topic.is_empty()).then_some(topic)
}

/// A repeat ask without its leading "also" or "and".
fn without_also(ask: &str) -> &str {
    let ask = ask.trim_start();
    for lead in ["also", "and"] {
        if let Some(head) = ask.get(..lead.len())
            && head.eq_ignore_ascii_case(lead)
        {
            let rest = &ask[lead.len()..];
            if rest.starts_with([':', ',', ' ']) {
                return rest.trim_start_matches([':', ',', ' ']);
            }
        }
    }
    ask
}

/// Collapses control characters and whitespace runs into single spaces.
fn single_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn word_count(blocks: &[Block]) -> usize {
    blocks
        .iter()
        .map(|b| b.text().split_whitespace().count())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::asset_hunter::RankedAsset;
    use crate::agents::meeting_slot::MeetingSlot;
    use crate::agents::next_step::NextStep;
    use crate::agents::thread_reader::ChosenThread;
    use crate::domain::EmailAddress;
    use crate::domain::Prospect;
    use crate::ports::Asset;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn prospect(first: &str, company: &str, message: &str) -> Prospect {
        Prospect {
            email: EmailAddress::parse("a@b.co").unwrap(),
            first_name: Some(first.into()),
            last_name: None,
            company: Some(company.into()),
            message: Some(message.into()),
        }
    }

    fn slots() -> Vec<MeetingSlot> {
        let s = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        vec![
            MeetingSlot {
                start: s,
                end: s + chrono::Duration::minutes(30),
            },
            MeetingSlot {
                start: s + chrono::Duration::days(1),
                end: s + chrono::Duration::days(1) + chrono::Duration::minutes(30),
            },
        ]
    }

    fn asset() -> RankedAsset {
        RankedAsset {
            asset: Asset {
                id: "cs".into(),
                title: "Onboarding case study".into(),
                url: "https://acme.example/onboarding?x=1&y=2".into(),
                description: String::new(),
                tags: vec![],
            },
            score: 2,
            matched: vec!["onboarding".into()],
        }
    }

    fn input(p: Prospect, action: NextAction) -> DraftInput {
        DraftInput {
            prospect: p,
            plan: NextStep {
                action,
                reason: String::new(),
                asset: Some(asset()),
                slots: slots(),
            },
            thread: None,
            memory: MemoryRecall::default(),
            time_zone: chrono_tz::Europe::Berlin,
            more_asks: Vec::new(),
            support_handoff: false,
        }
    }

    fn writer() -> TemplateWriter {
        TemplateWriter::new(VoiceProfile {
            company_name: "Formlead".into(),
            ..VoiceProfile::default()
        })
    }

    #[test]
    fn uses_name_company_topic_asset_and_slots() {
        let d = writer().compose(&input(
            prospect(
                "John",
                "Acme",
                "Hi team, we need help automating onboarding for 40 reps. Thanks!",
            ),
            NextAction::ProposeMeeting,
        ));
        assert_eq!(d.subject, "Your inquiry to Formlead (Acme)");
        let t = &d.body_text;
        assert!(t.starts_with("Hi John,"), "{t}");
        assert!(
            t.contains("“we need help automating onboarding for 40 reps”"),
            "{t}"
        );
        assert!(t.contains("the Acme team"), "{t}");
        assert!(
            t.contains("- Thu 26 Nov, 10:00–10:30 (Europe/Berlin)"),
            "{t}"
        );
        assert!(
            t.contains("Onboarding case study (https://acme.example/onboarding?x=1&y=2)"),
            "{t}"
        );
        assert!(d.body_html.contains(
            "<a href=\"https://acme.example/onboarding?x=1&amp;y=2\">Onboarding case study</a>"
        ));
        assert!(
            d.body_html
                .contains("<li>Thu 26 Nov, 10:00–10:30 (Europe/Berlin)</li>")
        );
    }

    /// Repeat submissions are answered in the same reply, each by its
    /// topic (at most 12 words of it, without a leading "also"), once.
    #[test]
    fn answers_every_ask_of_repeat_submissions() {
        let mut i = input(
            prospect("John", "Acme", "We need help automating onboarding."),
            NextAction::ProposeMeeting,
        );
        i.more_asks = vec![
            "Also: do you integrate with Salesforce?".into(),
            "We need help automating onboarding.".into(),
            "and what does pricing look like for forty seats across three regions and two brands?"
                .into(),
            "Also: do you integrate with Salesforce?".into(),
        ];
        let t = writer().compose(&i).body_text;
        assert!(t.contains("“do you integrate with Salesforce”"), "{t}");
        assert!(
            t.contains("“what does pricing look like for forty seats across three regions and…”"),
            "{t}"
        );
        assert_eq!(t.matches("Salesforce").count(), 1, "once: {t}");
        assert_eq!(t.matches("automating onboarding").count(), 1, "{t}");
        i.more_asks.clear();
        let alone = writer().compose(&i).body_text;
        assert!(!alone.contains("also asked"), "{alone}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Whatever the prospect wrote (and wrote again), the reply
        /// quotes at most 12 consecutive words of it, stays within the
        /// profile's max words when that leaves room for the fixed
        /// blocks, and never says an avoided phrase the message contains.
        #[test]
        fn quotes_little_keeps_length_and_avoids_phrases(
            words in proptest::collection::vec("[a-z]{1,9}", 1..80),
            asks in proptest::collection::vec(proptest::collection::vec("[a-z]{1,9}", 1..40), 0..3),
            avoid in "[a-z]{10,14}",
            max_words in 120usize..300,
            action in proptest::sample::select(vec![
                NextAction::ProposeMeeting,
                NextAction::ShareAsset,
                NextAction::RouteToSupport,
                NextAction::FollowUpThread,
            ]),
        ) {
            let mut message = words.clone();
            message.insert(message.len() / 2, avoid.clone());
            let mut w = writer();
            w.voice.max_words = max_words;
            w.voice.avoid_phrases = vec![avoid.clone()];
            let mut i = input(prospect("Ann", "Initech", &message.join(" ")), action);
            i.more_asks = asks.iter().map(|a| a.join(" ")).collect();
            let body = w.compose(&i).body_text;
            let body_words: Vec<&str> = body
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            for source in std::iter::once(&message).chain(asks.iter()) {
                for run in source.windows(13) {
                    proptest::prop_assert!(
                        !body_words.windows(13).any(|b| b == run),
                        "13 words of the message quoted: {}", body
                    );
                }
            }
            proptest::prop_assert!(body.split_whitespace().count() <= max_words, "{} words: {}", body.split_whitespace().count(), body);
            proptest::prop_assert!(!body.to_lowercase().contains(&avoid), "{}", body);
        }
    }

    #[test]
    fn is_deterministic() {
        let i = input(
            prospect("Ann", "Initech", "Pricing for 10 seats?"),
            NextAction::ShareAsset,
        );
        assert_eq!(writer().compose(&i), writer().compose(&i));
    }

    #[test]
    fn escapes_form_content_in_html() {
        let d = writer().compose(&input(
            prospect(
                "<script>alert(1)</script>",
                "<img src=x onerror=alert(1)>",
                "<b>bold</b> & \"quotes\"",
            ),
            NextAction::ProposeMeeting,
        ));
        assert!(!d.body_html.contains("<script"), "{}", d.body_html);
        assert!(!d.body_html.contains("<img"), "{}", d.body_html);
        assert!(!d.body_html.contains("<b>"), "{}", d.body_html);
        assert!(
            d.body_html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        );
    }

    #[test]
    fn replies_in_thread_with_matching_subject() {
        let mut i = input(
            prospect("Ann", "Initech", "any news?"),
            NextAction::FollowUpThread,
        );
        i.thread = Some(ChosenThread {
            thread_id: "t1".into(),
            subject: "Pricing question".into(),
            message_id: "<m@x>".into(),
            last_message_at: Utc::now(),
            awaiting_our_reply: true,
        });
        let d = writer().compose(&i);
        assert_eq!(d.subject, "Re: Pricing question");
        assert!(
            d.body_text
                .contains("Picking up our earlier conversation (“Pricing question”)")
        );
        i.thread.as_mut().unwrap().subject = "RE: Pricing".into();
        assert_eq!(writer().compose(&i).subject, "RE: Pricing");
    }

    /// "Support will be in touch" only when the lead was handed to them.
    #[test]
    fn routes_support_without_slots_and_promises_only_a_hand_off() {
        let mut i = input(
            prospect("Ann", "Initech", "login broken"),
            NextAction::RouteToSupport,
        );
        let d = writer().compose(&i);
        assert!(!d.body_text.contains("support team"), "{}", d.body_text);
        assert!(!d.body_text.contains("in touch"), "{}", d.body_text);
        assert!(!d.body_text.contains("Europe/Berlin"));
        i.support_handoff = true;
        let d = writer().compose(&i);
        assert!(
            d.body_text.contains("support team") && d.body_text.contains("will be in touch"),
            "{}",
            d.body_text
        );
        assert!(!d.body_text.contains("Europe/Berlin"));
    }

    #[test]
    fn respects_max_words_and_avoided_phrases() {
        let mut w = writer();
        w.voice.max_words = 40;
        let d = w.compose(&input(
            prospect("Ann", "Initech", "We need a demo of onboarding"),
            NextAction::ProposeMeeting,
        ));
        assert!(
            !d.body_text.contains("In the meantime"),
            "optional asset block dropped: {}",
            d.body_text
        );
        assert!(d.body_text.contains("Thu 26 Nov"), "required slots kept");

        let mut w = writer();
        w.voice.avoid_phrases = vec!["synergy".into(), "in the meantime".into()];
        let d = w.compose(&input(
            prospect("Ann", "Initech", "We want synergy now"),
            NextAction::ProposeMeeting,
        ));
        assert!(
            !d.body_text.to_lowercase().contains("synergy"),
            "{}",
            d.body_text
        );
        assert!(
            !d.body_text.to_lowercase().contains("in the meantime"),
            "{}",
            d.body_text
        );
    }

    #[test]
    fn subject_cannot_inject_headers() {
        let mut p = prospect("Ann", "Evil\r\nBcc: victim@x.com", "hi");
        p.company = Some("Evil\r\nBcc: victim@x.com".into());
        let d = writer().compose(&input(p, NextAction::ShareAsset));
        assert!(!d.subject.contains('\n') && !d.subject.contains('\r'));
    }

    #[test]
    fn topic_extraction() {
        assert_eq!(
            topic_of(Some("Hello, we need X. More.")).as_deref(),
            Some("we need X")
        );
        assert_eq!(
            topic_of(Some("Hi there! Pricing?")).as_deref(),
            Some("Pricing")
        );
        assert_eq!(topic_of(Some("   ")), None);
        assert_eq!(topic_of(None), None);
        let long = "one two three four five six seven eight nine ten eleven twelve thirteen";
        assert!(topic_of(Some(long)).unwrap().ends_with("twelve…"));
    }

    proptest! {
        #[test]
        fn html_never_contains_unescaped_input(first in ".*", company in ".*", message in ".*", subject in ".*") {
            let mut i = input(prospect(&first, &company, &message), NextAction::ProposeMeeting);
            i.thread = Some(ChosenThread { thread_id: "t".into(), subject, message_id: "<m@x>".into(), last_message_at: Utc::now(), awaiting_our_reply: false });
            let d = writer().compose(&i);
            // Every '<' in the HTML must start one of our own tags.
            let allowed = ["<div>", "</div>", "<p>", "</p>", "<br>", "<ul>", "</ul>", "<li>", "</li>", "<a href=", "</a>"];
            for (idx, _) in d.body_html.match_indices('<') {
                let rest = &d.body_html[idx..];
                prop_assert!(allowed.iter().any(|t| rest.starts_with(t)), "unexpected tag at {}", rest);
            }
            prop_assert!(!d.subject.contains('\n') && !d.subject.contains('\r'));
        }
    }
}
