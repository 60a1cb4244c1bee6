//! `StaticAssets`: a fixed asset catalogue, loadable from TOML.

use async_trait::async_trait;
use serde::Deserialize;

use super::faults::Faults;
use formlead_core::agents::asset_hunter::is_safe_link;
use formlead_core::ports::{Asset, AssetError, AssetPort};

/// A catalogue that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("asset catalogue: {0}")]
pub struct CatalogueError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default, rename = "asset")]
    assets: Vec<Asset>,
}

/// In-memory [`AssetPort`] over a fixed list (AssetHunter does the ranking).
#[derive(Debug, Default)]
pub struct StaticAssets {
    assets: Vec<Asset>,
    faults: Faults,
}

impl StaticAssets {
    /// A catalogue of `assets`.
    pub fn new(assets: Vec<Asset>) -> Self {
        Self {
            assets,
            faults: Faults::default(),
        }
    }

    /// Parses a catalogue:
    ///
    /// ```toml
    /// [[asset]]
    /// id = "onboarding-case-study"
    /// title = "How Initech automated onboarding"
    /// url = "https://example.com/case-studies/initech"
    /// description = "Onboarding automation for a 200-person sales team"
    /// tags = ["onboarding", "automation", "saas"]
    /// ```
    ///
    /// # Errors
    /// [`CatalogueError`] for bad TOML, duplicate ids or non-http(s) links.
    pub fn from_toml(text: &str) -> Result<Self, CatalogueError> {
        let file: CatalogueFile =
            toml::from_str(text).map_err(|e| CatalogueError(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for a in &file.assets {
            if !seen.insert(a.id.clone()) {
                return Err(CatalogueError(format!("duplicate asset id \"{}\"", a.id)));
            }
            if !is_safe_link(&a.url) {
                return Err(CatalogueError(format!(
                    "asset \"{}\" needs an http(s) url",
                    a.id
                )));
            }
        }
        Ok(Self::new(file.assets))
    }

    /// A small generic catalogue, used when none is configured.
    pub fn sample() -> Self {
        let a = |id: &str, title: &str, description: &str, tags: &[&str]| Asset {
            id: id.into(),
            title: title.into(),
            url: format!("https://example.com/resources/{id}"),
            description: description.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        };
        Self::new(vec![
            a(
                "onboarding-case-study",
                "Onboarding automation case study",
                "How a 200-person sales team automated onboarding and cut ramp time",
                &["onboarding", "automation", "sales"],
            ),
            a(
                "pricing-overview",
                "Pricing overview",
                "Plans, seats and pricing for teams of every size",
                &["pricing", "plans", "quote", "seats"],
            ),
            a(
                "security-whitepaper",
                "Security and compliance whitepaper",
                "SOC 2, GDPR, encryption and data residency",
                &["security", "compliance", "gdpr", "soc2"],
            ),
            a(
                "integration-guide",
                "CRM integration guide",
                "Connecting HubSpot, Salesforce and Gmail",
                &["integration", "hubspot", "salesforce", "crm", "api"],
            ),
            a(
                "roi-calculator",
                "ROI calculator",
                "Estimate the return of faster lead response",
                &["roi", "budget", "cost", "savings"],
            ),
        ])
    }

    /// Scripted failures and latency of searches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every asset in the catalogue.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }
}

#[async_trait]
impl AssetPort for StaticAssets {
    async fn search(&self, _terms: &[String], _limit: usize) -> Result<Vec<Asset>, AssetError> {
        self.faults.before::<AssetError>("search").await?;
        Ok(self.assets.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_catalogues() {
        let c = StaticAssets::from_toml(
            "[[asset]]\nid = \"a\"\ntitle = \"A\"\nurl = \"https://x.io/a\"\ntags = [\"t\"]\n",
        )
        .unwrap();
        assert_eq!(c.assets().len(), 1);
        assert!(
            StaticAssets::from_toml(
                "[[asset]]\nid = \"a\"\ntitle = \"A\"\nurl = \"javascript:x\"\n"
            )
            .is_err()
        );
        assert!(StaticAssets::from_toml("[[asset]]\nid = \"a\"\ntitle = \"A\"\nurl = \"https://x\"\n[[asset]]\nid = \"a\"\ntitle = \"B\"\nurl = \"https://y\"\n").is_err());
        assert!(StaticAssets::from_toml("[[asset]]\nid = 1").is_err());
        assert!(StaticAssets::from_toml("").unwrap().assets().is_empty());
    }
}
