//! The send gates of contract §2, and the validator of their configuration.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::EmailAddress;
use crate::ports::{Approval, FlagPolicy, SendDecision, SendMode, SendRefusal};

/// `API_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApiEnv {
    #[default]
    /// A developer's machine: never sends.
    Development,
    /// A staging environment: never sends.
    Staging,
    /// Production: may send, if every other gate agrees.
    Production,
}

impl ApiEnv {
    /// Every environment.
    pub const ALL: [ApiEnv; 3] = [Self::Development, Self::Staging, Self::Production];

    /// The environment's name (`API_ENV`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// # Errors
    /// A message naming the accepted values.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            other => Err(format!(
                "API_ENV must be development, staging or production (got \"{other}\")"
            )),
        }
    }
}

/// `SEND_EMAIL_ALLOWLIST`: addresses and `@domain` entries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Allowlist(Vec<String>);

impl Allowlist {
    /// Parses a JSON list (`["a@x.com","@y.com"]`) or a comma list
    /// (`a@x.com, @y.com`). Entries are lower-cased; empty input is an
    /// empty list.
    ///
    /// # Errors
    /// A message naming the malformed entry.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let entries: Vec<String> = if raw.starts_with('[') {
            serde_json::from_str::<Vec<String>>(raw)
                .map_err(|e| format!("SEND_EMAIL_ALLOWLIST is not a JSON list of strings: {e}"))?
        } else {
            raw.split(',').map(str::to_owned).collect()
        };
        let mut out = Vec::new();
        for entry in entries {
            let e = entry.trim().to_lowercase();
            if e.is_empty() {
                continue;
            }
            let valid = match e.strip_prefix('@') {
                Some(domain) => EmailAddress::parse(&format!("x@{domain}")).is_ok(),
                None => EmailAddress::parse(&e).is_ok(),
            };
            if !valid {
                return Err(format!(
                    "SEND_EMAIL_ALLOWLIST entry \"{e}\" is neither an email address nor an @domain"
                ));
            }
            out.push(e);
        }
        Ok(Self(out))
    }

    /// An allowlist of `entries` (addresses or `@domain`s).
    pub fn from_entries(
        entries: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, String> {
        let joined: Vec<String> = entries.into_iter().map(Into::into).collect();
        Self::parse(&joined.join(","))
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries.
    pub fn entries(&self) -> &[String] {
        &self.0
    }

    /// Exact address match, or the address's domain equals an `@domain` entry.
    pub fn allows(&self, recipient: &EmailAddress) -> bool {
        let domain = format!("@{}", recipient.domain());
        self.0
            .iter()
            .any(|e| e == recipient.as_str() || *e == domain)
    }
}

/// The five settings of contract §2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendPolicyConfig {
    /// `API_ENV`.
    pub api_env: ApiEnv,
    /// `MODE_DRAFT_ONLY`: only drafts are created.
    pub mode_draft_only: bool,
    /// `ALLOW_AUTO_SEND`: the engine may send without a human click.
    pub allow_auto_send: bool,
    /// `SEND_EMAIL_ALLOWLIST`: who may be sent to.
    pub allowlist: Allowlist,
    /// `REQUIRE_OPERATOR_APPROVAL`: a human approves each send.
    pub require_operator_approval: bool,
}

impl Default for SendPolicyConfig {
    /// The safe defaults: development, draft-only, no auto-send, empty
    /// allowlist, approval required.
    fn default() -> Self {
        Self {
            api_env: ApiEnv::Development,
            mode_draft_only: true,
            allow_auto_send: false,
            allowlist: Allowlist::default(),
            require_operator_approval: true,
        }
    }
}

/// An unsafe combination of send settings; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnsafeSendConfig(pub String);

impl SendPolicyConfig {
    /// Rejects combinations that would send where sending is not allowed.
    /// Returns warnings for settings that have no effect.
    ///
    /// # Errors
    /// [`UnsafeSendConfig`] for `MODE_DRAFT_ONLY=false` outside production,
    /// and for send mode in production without an allowlist.
    pub fn validate(&self) -> Result<Vec<String>, UnsafeSendConfig> {
        if !self.mode_draft_only && self.api_env != ApiEnv::Production {
            return Err(UnsafeSendConfig(format!(
                "MODE_DRAFT_ONLY=false is only allowed with API_ENV=production (API_ENV is {}): \
                 set MODE_DRAFT_ONLY=true, or API_ENV=production on a production deployment",
                self.api_env.as_str()
            )));
        }
        if !self.mode_draft_only && self.allowlist.is_empty() {
            return Err(UnsafeSendConfig(
                "MODE_DRAFT_ONLY=false needs a non-empty SEND_EMAIL_ALLOWLIST (addresses or @domains \
                 that may receive mail): set one, or set MODE_DRAFT_ONLY=true"
                    .into(),
            ));
        }
        let mut warnings = Vec::new();
        if self.allow_auto_send && self.mode_draft_only {
            warnings
                .push("ALLOW_AUTO_SEND=true has no effect while MODE_DRAFT_ONLY=true".to_owned());
        }
        if self.allow_auto_send && self.require_operator_approval {
            warnings.push(
                "ALLOW_AUTO_SEND=true has no effect while REQUIRE_OPERATOR_APPROVAL=true"
                    .to_owned(),
            );
        }
        Ok(warnings)
    }

    /// The mode this configuration yields for an allowed recipient.
    pub fn mode(&self) -> SendMode {
        if self.mode_draft_only || self.api_env != ApiEnv::Production || self.allowlist.is_empty() {
            SendMode::DraftOnly
        } else if self.allow_auto_send && !self.require_operator_approval {
            SendMode::AutoSend
        } else {
            SendMode::NeedsApproval
        }
    }
}

/// The default [`FlagPolicy`]: exactly the gates of contract §2.
#[derive(Debug, Clone, Default)]
pub struct GatedPolicy {
    config: SendPolicyConfig,
}

impl GatedPolicy {
    /// Gates configured by `config`.
    pub fn new(config: SendPolicyConfig) -> Self {
        Self { config }
    }

    /// Their settings.
    pub fn config(&self) -> &SendPolicyConfig {
        &self.config
    }

    /// The gate that blocks any send to `recipient`, if one does.
    fn send_blocker(&self, recipient: &EmailAddress) -> Option<String> {
        let c = &self.config;
        if c.api_env != ApiEnv::Production {
            Some(format!("API_ENV is {}, not production", c.api_env.as_str()))
        } else if c.mode_draft_only {
            Some("MODE_DRAFT_ONLY is true".into())
        } else if c.allowlist.is_empty() {
            Some("SEND_EMAIL_ALLOWLIST is empty".into())
        } else if !c.allowlist.allows(recipient) {
            Some(format!("{recipient} is not in SEND_EMAIL_ALLOWLIST"))
        } else {
            None
        }
    }
}

#[async_trait]
impl FlagPolicy for GatedPolicy {
    async fn decide(&self, recipient: &EmailAddress) -> SendDecision {
        if let Some(reason) = self.send_blocker(recipient) {
            return SendDecision {
                mode: SendMode::DraftOnly,
                reason,
            };
        }
        let c = &self.config;
        if c.allow_auto_send && !c.require_operator_approval {
            SendDecision {
                mode: SendMode::AutoSend,
                reason: "production, send mode, recipient allowlisted, auto-send allowed without approval".into(),
            }
        } else {
            SendDecision {
                mode: SendMode::NeedsApproval,
                reason: if c.require_operator_approval {
                    "REQUIRE_OPERATOR_APPROVAL is true".into()
                } else {
                    "ALLOW_AUTO_SEND is false".into()
                },
            }
        }
    }

    async fn authorize_send(
        &self,
        recipient: &EmailAddress,
        approval: &Approval,
    ) -> Result<(), SendRefusal> {
        if let Some(reason) = self.send_blocker(recipient) {
            return Err(SendRefusal { reason });
        }
        let c = &self.config;
        match approval {
            Approval::Operator(_) => Ok(()),
            Approval::Automatic if c.allow_auto_send && !c.require_operator_approval => Ok(()),
            Approval::Automatic => Err(SendRefusal {
                reason: if c.require_operator_approval {
                    "REQUIRE_OPERATOR_APPROVAL is true: an operator must approve".into()
                } else {
                    "ALLOW_AUTO_SEND is false: an operator must approve".into()
                },
            }),
        }
    }

    fn describe(&self) -> serde_json::Value {
        let c = &self.config;
        serde_json::json!({
            "mode": c.mode().as_str(),
            "api_env": c.api_env.as_str(),
            "mode_draft_only": c.mode_draft_only,
            "allow_auto_send": c.allow_auto_send,
            "require_operator_approval": c.require_operator_approval,
            "allowlist_entries": c.allowlist.entries().len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[derive(Clone, Copy, Debug)]
    enum List {
        Empty,
        HasRecipient,
        HasDomain,
        Other,
    }

    fn allowlist(l: List) -> Allowlist {
        match l {
            List::Empty => Allowlist::default(),
            List::HasRecipient => Allowlist::parse("ann@acme.com").unwrap(),
            List::HasDomain => Allowlist::parse("[\"@acme.com\"]").unwrap(),
            List::Other => Allowlist::parse("bob@other.com, @else.org").unwrap(),
        }
    }

    /// Every combination of the five settings (3 × 2 × 2 × 4 × 2 = 96):
    /// the validator, the step-9 decision and both kinds of send must agree
    /// with the contract's rules written out independently here.
    #[tokio::test]
    async fn truth_table() {
        let recipient = email("ann@acme.com");
        let mut sends = 0;
        for env in ApiEnv::ALL {
            for draft_only in [true, false] {
                for auto in [true, false] {
                    for list in [
                        List::Empty,
                        List::HasRecipient,
                        List::HasDomain,
                        List::Other,
                    ] {
                        for approval in [true, false] {
                            let c = SendPolicyConfig {
                                api_env: env,
                                mode_draft_only: draft_only,
                                allow_auto_send: auto,
                                allowlist: allowlist(list),
                                require_operator_approval: approval,
                            };
                            let case = format!("{c:?}");
                            let prod = env == ApiEnv::Production;
                            let nonempty = !matches!(list, List::Empty);
                            let listed = matches!(list, List::HasRecipient | List::HasDomain);

                            let valid = draft_only || (prod && nonempty);
                            assert_eq!(c.validate().is_ok(), valid, "validate {case}");

                            let p = GatedPolicy::new(c);
                            let any_send = prod && !draft_only && nonempty && listed;
                            let auto_send = any_send && auto && !approval;
                            let op = p
                                .authorize_send(&recipient, &Approval::Operator("op".into()))
                                .await;
                            assert_eq!(op.is_ok(), any_send, "operator send {case}");
                            let au = p.authorize_send(&recipient, &Approval::Automatic).await;
                            assert_eq!(au.is_ok(), auto_send, "auto send {case}");
                            if auto_send {
                                sends += 1;
                            }

                            let expected = if !any_send {
                                SendMode::DraftOnly
                            } else if auto_send {
                                SendMode::AutoSend
                            } else {
                                SendMode::NeedsApproval
                            };
                            assert_eq!(p.decide(&recipient).await.mode, expected, "decide {case}");
                            assert!(!p.decide(&recipient).await.reason.is_empty());
                        }
                    }
                }
            }
        }
        // Auto-send: production, send mode, 2 listing variants, auto on, approval off.
        assert_eq!(sends, 2);
    }

    #[test]
    fn validator_messages_say_what_to_change() {
        let c = SendPolicyConfig {
            mode_draft_only: false,
            ..SendPolicyConfig::default()
        };
        let e = c.validate().unwrap_err().0;
        assert!(
            e.contains("MODE_DRAFT_ONLY=false") && e.contains("API_ENV=production"),
            "{e}"
        );
        let c = SendPolicyConfig {
            mode_draft_only: false,
            api_env: ApiEnv::Production,
            ..SendPolicyConfig::default()
        };
        let e = c.validate().unwrap_err().0;
        assert!(e.contains("SEND_EMAIL_ALLOWLIST"), "{e}");
        let c = SendPolicyConfig {
            allow_auto_send: true,
            ..SendPolicyConfig::default()
        };
        assert_eq!(c.validate().unwrap().len(), 2);
    }

    #[test]
    fn allowlist_parsing() {
        assert!(Allowlist::parse("").unwrap().is_empty());
        assert!(Allowlist::parse("  ,  ").unwrap().is_empty());
        assert!(Allowlist::parse("[]").unwrap().is_empty());
        let l = Allowlist::parse("A@X.com, @Y.org").unwrap();
        assert_eq!(l.entries(), ["a@x.com", "@y.org"]);
        assert!(l.allows(&email("a@x.com")));
        assert!(l.allows(&email("anyone@y.org")));
        assert!(!l.allows(&email("b@x.com")));
        assert!(
            !l.allows(&email("a@sub.y.org")),
            "@domain matches that domain only"
        );
        assert!(!l.allows(&email("a@evily.org")));
        assert!(Allowlist::parse("[\"a@x.com\", 3]").is_err());
        assert!(Allowlist::parse("not an address").is_err());
        assert!(Allowlist::parse("[\"@\"]").is_err());
    }

    #[test]
    fn api_env_parsing() {
        assert_eq!(ApiEnv::parse("Production").unwrap(), ApiEnv::Production);
        assert!(ApiEnv::parse("prodution").is_err());
    }
}
