//! What `serve`, `worker` and `check-config` refuse to start with (exit 2):
//! deployments where the webhook could be forged or the operator routes
//! reached by someone who is not an operator. Each refusal names the
//! setting to change and how.

use formlead_core::policy::ApiEnv;
use formlead_core::ports::SendMode;

use super::{ConfigError, DEV_WEBHOOK_SECRET, Settings};

/// Which command is starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `serve`: HTTP (webhook, operator routes) plus workers.
    Serve,
    /// `worker`: workers only, no HTTP.
    Worker,
}

impl Settings {
    /// Every reason `role` must not start, most important first (empty: it
    /// may start).
    pub fn startup_refusals(&self, role: Role) -> Vec<ConfigError> {
        let mut refusals = Vec::new();
        if let Some(e) = self.dev_secret_refusal() {
            refusals.push(e);
        }
        if role == Role::Serve {
            refusals.extend(self.operator_token_refusal());
        }
        refusals
    }

    /// Whether live HubSpot or Google credentials are configured.
    pub fn has_live_vendor_credentials(&self) -> bool {
        self.hubspot.access_token.is_some() || self.google.is_some()
    }

    /// The development webhook secret is public: anyone could sign a
    /// webhook with it. It is accepted only in development, on loopback,
    /// with the vendor sandboxes.
    fn dev_secret_refusal(&self) -> Option<ConfigError> {
        if !self.webhook_secret.dev_default {
            return None;
        }
        let mut why = Vec::new();
        if self.send_policy.api_env != ApiEnv::Development {
            why.push(format!("API_ENV={}", self.send_policy.api_env.as_str()));
        }
        if !self.bind.ip().is_loopback() {
            why.push(format!("FORMLEAD_BIND={} is not loopback", self.bind));
        }
        if self.hubspot.access_token.is_some() {
            why.push("HUBSPOT_ACCESS_TOKEN is set".to_owned());
        }
        if self.google.is_some() {
            why.push("Google credentials are set".to_owned());
        }
        if why.is_empty() {
            return None;
        }
        let what = if self
            .sources
            .get("HUBSPOT_WEBHOOK_SECRET")
            .is_some_and(|v| v == DEV_WEBHOOK_SECRET)
        {
            format!("is the public development secret \"{DEV_WEBHOOK_SECRET}\"")
        } else {
            "is not set".to_owned()
        };
        Some(ConfigError::new(
            "HUBSPOT_WEBHOOK_SECRET",
            format!(
                "{what}, which anyone can sign webhooks with; it is only accepted with API_ENV=development, a loopback FORMLEAD_BIND and no HubSpot or Google credentials (here: {}). Set HUBSPOT_WEBHOOK_SECRET to your HubSpot app's client secret",
                why.join(", ")
            ),
        ))
    }

    /// Operator routes need a token unless this is a development server on
    /// loopback that cannot send mail.
    fn operator_token_refusal(&self) -> Vec<ConfigError> {
        if self.operator_token.is_some() {
            return Vec::new();
        }
        let fix = "set FORMLEAD_OPERATOR_TOKEN to a random value of 16+ characters (e.g. `openssl rand -hex 32`)";
        let mut refusals = Vec::new();
        if !self.bind.ip().is_loopback() {
            refusals.push(ConfigError::new(
                "FORMLEAD_BIND",
                format!(
                    "{} is reachable from the network but FORMLEAD_OPERATOR_TOKEN is not set: {fix}, or bind 127.0.0.1",
                    self.bind
                ),
            ));
        }
        let mut why = Vec::new();
        if self.send_policy.api_env != ApiEnv::Development {
            why.push(format!("API_ENV={}", self.send_policy.api_env.as_str()));
        }
        if self.public_url.is_some() {
            why.push(
                "FORMLEAD_PUBLIC_URL is set (the server is reachable through a proxy)".to_owned(),
            );
        }
        if self.send_policy.mode() != SendMode::DraftOnly {
            why.push(format!(
                "the send mode is {} (MODE_DRAFT_ONLY=false)",
                self.send_policy.mode().as_str()
            ));
        }
        if !why.is_empty() {
            refusals.push(ConfigError::new(
                "FORMLEAD_OPERATOR_TOKEN",
                format!(
                    "is required because {}: without it anything that reaches the server (a reverse proxy, a tunnel, a sidecar) could read leads and approve mail; {fix}",
                    why.join(", ")
                ),
            ));
        }
        refusals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

    const TOKEN: &str = "0123456789abcdef";
    const SECRET: &str = "a-real-client-secret";

    fn load(env: &[(&str, &str)]) -> Settings {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::from_sources(Sources::load_from(None, env).unwrap()).unwrap()
    }

    fn refused(env: &[(&str, &str)], role: Role) -> Vec<String> {
        load(env)
            .startup_refusals(role)
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn the_quick_start_starts() {
        assert!(refused(&[], Role::Serve).is_empty());
        assert!(refused(&[], Role::Worker).is_empty());
    }

    #[test]
    fn the_dev_secret_only_in_development_on_loopback_with_sandboxes() {
        let dev_secret_refused = |env: &[(&str, &str)]| {
            let mut env = env.to_vec();
            env.push(("FORMLEAD_OPERATOR_TOKEN", TOKEN));
            let keys = refused(&env, Role::Worker);
            keys == ["HUBSPOT_WEBHOOK_SECRET"]
        };
        assert!(dev_secret_refused(&[("API_ENV", "staging")]));
        assert!(dev_secret_refused(&[("FORMLEAD_BIND", "0.0.0.0:8000")]));
        assert!(dev_secret_refused(&[("HUBSPOT_ACCESS_TOKEN", "pat-x")]));
        assert!(dev_secret_refused(&[
            ("GOOGLE_CLIENT_ID", "a"),
            ("GOOGLE_CLIENT_SECRET", "b"),
            ("GOOGLE_REFRESH_TOKEN", "c"),
            ("SENDER_EMAIL", "me@acme.test"),
        ]));
        // Configuring the published secret explicitly changes nothing.
        assert!(dev_secret_refused(&[
            ("API_ENV", "staging"),
            ("HUBSPOT_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
        ]));
        // The reproduction: staging, public bind, a token, a HubSpot token.
        let e = load(&[
            ("API_ENV", "staging"),
            ("FORMLEAD_BIND", "0.0.0.0:8000"),
            ("FORMLEAD_OPERATOR_TOKEN", TOKEN),
            ("HUBSPOT_ACCESS_TOKEN", "pat-na1-x"),
        ])
        .startup_refusals(Role::Serve);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.contains("API_ENV=staging"), "{}", e[0]);
        assert!(e[0].message.contains("client secret"), "{}", e[0]);
        // With a real secret the same deployment starts.
        assert!(
            refused(
                &[
                    ("API_ENV", "staging"),
                    ("FORMLEAD_BIND", "0.0.0.0:8000"),
                    ("FORMLEAD_OPERATOR_TOKEN", TOKEN),
                    ("HUBSPOT_ACCESS_TOKEN", "pat-na1-x"),
                    ("HUBSPOT_WEBHOOK_SECRET", SECRET),
                ],
                Role::Serve
            )
            .is_empty()
        );
    }

    #[test]
    fn operator_routes_need_a_token_beyond_loopback_development() {
        let with_secret = |extra: &[(&'static str, &'static str)]| {
            let mut env = vec![("HUBSPOT_WEBHOOK_SECRET", SECRET)];
            env.extend_from_slice(extra);
            env
        };
        assert_eq!(
            refused(&with_secret(&[("API_ENV", "staging")]), Role::Serve),
            ["FORMLEAD_OPERATOR_TOKEN"]
        );
        assert_eq!(
            refused(
                &with_secret(&[("FORMLEAD_PUBLIC_URL", "https://hooks.acme.test")]),
                Role::Serve
            ),
            ["FORMLEAD_OPERATOR_TOKEN"]
        );
        assert_eq!(
            refused(
                &with_secret(&[
                    ("API_ENV", "production"),
                    ("MODE_DRAFT_ONLY", "false"),
                    ("SEND_EMAIL_ALLOWLIST", "@acme.test"),
                ]),
                Role::Serve
            ),
            ["FORMLEAD_OPERATOR_TOKEN"]
        );
        assert_eq!(
            refused(
                &with_secret(&[("FORMLEAD_BIND", "0.0.0.0:8000")]),
                Role::Serve
            ),
            ["FORMLEAD_BIND"]
        );
        // Workers have no operator routes.
        assert!(refused(&with_secret(&[("API_ENV", "staging")]), Role::Worker).is_empty());
        assert!(
            refused(
                &with_secret(&[("API_ENV", "staging"), ("FORMLEAD_OPERATOR_TOKEN", TOKEN)]),
                Role::Serve
            )
            .is_empty()
        );
    }
}
