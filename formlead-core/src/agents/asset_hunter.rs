//! AssetHunter: which assets fit the inquiry, by word overlap.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::Prospect;
use crate::ports::Asset;

/// An asset with its relevance score and the words that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedAsset {
    /// The asset.
    pub asset: Asset,
    /// How well it matches (higher is better).
    pub score: u32,
    /// The words of the message it matched on.
    pub matched: Vec<String>,
}

const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "with", "have", "this", "that",
    "from", "they", "will", "would", "there", "their", "what", "about", "which", "when", "can",
    "could", "our", "out", "all", "any", "how", "has", "had", "was", "were", "been", "being",
    "into", "some", "more", "also", "just", "like", "need", "needs", "want", "wants", "looking",
    "hello", "thanks", "thank", "please", "regards", "best", "hi", "dear", "team", "company",
    "inc", "ltd", "llc", "gmbh", "we", "us", "me", "my", "get", "use", "using", "its", "it's",
    "do", "does", "did", "who", "why", "than", "then", "them", "these", "those", "very", "much",
];

/// Lower-case words of at least three characters, without stopwords.
pub fn tokenize(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .collect()
}

/// A crude stem, so "automate", "automation" and "automated" meet: strips
/// one common suffix when at least four characters remain.
pub fn stem(word: &str) -> String {
    const SUFFIXES: &[&str] = &["ings", "ing", "ions", "ion", "ed", "es", "s", "e"];
    // "automation(s)" -> "automate" first, so it meets "automate(d)".
    let word = match word
        .strip_suffix("ations")
        .or_else(|| word.strip_suffix("ation"))
    {
        Some(base) if base.chars().count() >= 4 => format!("{base}ate"),
        _ => word.to_owned(),
    };
    let word = word.as_str();
    for suffix in SUFFIXES {
        if let Some(base) = word.strip_suffix(suffix)
            && base.chars().count() >= 4
        {
            return base.to_owned();
        }
    }
    word.to_owned()
}

fn stems(text: &str) -> BTreeSet<String> {
    tokenize(text).iter().map(|w| stem(w)).collect()
}

/// Ranks assets by overlap with the prospect's message and company.
#[derive(Debug, Clone, Copy)]
pub struct AssetHunter {
    /// How many ranked assets to keep.
    pub keep: usize,
}

impl Default for AssetHunter {
    fn default() -> Self {
        Self { keep: 3 }
    }
}

impl AssetHunter {
    /// The words to search the asset source with.
    pub fn search_terms(&self, prospect: &Prospect) -> Vec<String> {
        let mut text = prospect.message.clone().unwrap_or_default();
        if let Some(company) = &prospect.company {
            text.push(' ');
            text.push_str(company);
        }
        tokenize(&text).into_iter().take(32).collect()
    }

    /// Scores each asset: a matched tag or title word counts 2, a matched
    /// description word 1. Assets without any match are dropped; ties break
    /// by title so the result is deterministic.
    pub fn rank(&self, prospect: &Prospect, assets: &[Asset]) -> Vec<RankedAsset> {
        // stem -> a word of the prospect's that has it (for `matched`)
        let query: std::collections::BTreeMap<String, String> = self
            .search_terms(prospect)
            .into_iter()
            .map(|w| (stem(&w), w))
            .collect();
        let mut ranked: Vec<RankedAsset> = assets
            .iter()
            .filter(|a| is_safe_link(&a.url))
            .filter_map(|asset| {
                let strong: BTreeSet<String> = stems(&asset.title)
                    .into_iter()
                    .chain(asset.tags.iter().flat_map(|t| stems(t)))
                    .collect();
                let weak = stems(&asset.description);
                let mut matched = BTreeSet::new();
                let mut score = 0;
                for (stemmed, word) in &query {
                    if strong.contains(stemmed) {
                        score += 2;
                        matched.insert(word.clone());
                    } else if weak.contains(stemmed) {
                        score += 1;
                        matched.insert(word.clone());
                    }
                }
                (score > 0).then(|| RankedAsset {
                    asset: asset.clone(),
                    score,
                    matched: matched.into_iter().collect(),
                })
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| a.asset.title.cmp(&b.asset.title))
        });
        ranked.truncate(self.keep);
        ranked
    }
}

/// Only plain http(s) links go into a reply.
pub fn is_safe_link(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    fn prospect(message: &str, company: Option<&str>) -> Prospect {
        Prospect {
            email: EmailAddress::parse("a@b.co").unwrap(),
            first_name: None,
            last_name: None,
            company: company.map(Into::into),
            message: Some(message.into()),
        }
    }

    fn asset(id: &str, title: &str, description: &str, tags: &[&str]) -> Asset {
        Asset {
            id: id.into(),
            title: title.into(),
            url: format!("https://assets.example.com/{id}"),
            description: description.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn ranks_by_overlap() {
        let assets = vec![
            asset(
                "1",
                "Onboarding automation case study",
                "How Initech cut onboarding time",
                &["onboarding"],
            ),
            asset(
                "2",
                "Pricing overview",
                "Plans and pricing for teams",
                &["pricing"],
            ),
            asset(
                "3",
                "Security whitepaper",
                "SOC 2 and encryption details",
                &["security"],
            ),
        ];
        let p = prospect(
            "We need to automate onboarding and want to understand pricing",
            None,
        );
        let ranked = AssetHunter::default().rank(&p, &assets);
        assert_eq!(ranked.len(), 2);
        assert_eq!(ranked[0].asset.id, "1");
        assert_eq!(
            ranked[0].matched,
            ["automate", "onboarding"],
            "stems meet: automate ~ automation"
        );
        assert!(ranked[0].score > ranked[1].score);
        assert_eq!(ranked[1].asset.id, "2");
    }

    #[test]
    fn uses_company_words_and_drops_unsafe_links() {
        let mut bad = asset("4", "Fintech case study", "", &["fintech"]);
        bad.url = "javascript:alert(1)".into();
        let good = asset("5", "Fintech playbook", "", &["fintech"]);
        let p = prospect("hello", Some("Acme Fintech"));
        let ranked = AssetHunter::default().rank(&p, &[bad, good]);
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].asset.id, "5");
    }

    #[test]
    fn nothing_matches() {
        let p = prospect("zzz qqq", None);
        assert!(
            AssetHunter::default()
                .rank(&p, &[asset("1", "Pricing", "", &[])])
                .is_empty()
        );
    }

    #[test]
    fn stems_meet() {
        assert_eq!(stem("automation"), stem("automate"));
        assert_eq!(stem("automated"), stem("automate"));
        assert_eq!(stem("pricing"), stem("price"));
        assert_eq!(stem("onboarding"), "onboard");
        assert_eq!(stem("use"), "use", "short words stay");
    }

    #[test]
    fn tokenizer_drops_stopwords_and_short_words() {
        let t = tokenize("We need the CRM, an API & Zoë's data!");
        assert!(t.contains("crm") && t.contains("api") && t.contains("zoë") && t.contains("data"));
        assert!(!t.contains("we") && !t.contains("the") && !t.contains("an"));
    }
}
