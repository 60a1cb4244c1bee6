// Longer than 400 lines: `from_sources` reads and validates every setting in one place, in the order of the settings table.
//! Typed, validated settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use formlead_adapters::sql::SqliteDurability;
use formlead_core::agents::BusinessHours;
use formlead_core::domain::EmailAddress;
use formlead_core::policy::{Allowlist, ApiEnv, SendPolicyConfig};
use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::business_hours::business_hours;
use super::database_url::DatabaseUrl;
use super::proxies::TrustedProxies;
use super::reader::{Reader, err};
use super::sources::Sources;
use super::spec::SPECS;

/// Webhook secret used when none is configured, so the quick start works
/// with nothing set (`formlead simulate` signs with it too). Only accepted in
/// development on loopback without live vendor credentials
/// ([`Settings::startup_refusals`]).
pub const DEV_WEBHOOK_SECRET: &str = "formlead-dev-secret";

/// `FORMLEAD_WORKERS=auto` with live vendors: a lead spends most of its
/// time waiting on vendor round trips (about 100 ms each), so enough leads
/// must be in flight to keep the vendor budgets busy (BENCHMARKS.md,
/// "Vendor budget").
pub const WORKERS_WITH_VENDORS: usize = 32;
/// `FORMLEAD_WORKERS=auto` with the sandboxes: no vendor waits, but each
/// workflow still waits on its durable writes, which the store groups
/// across workflows; enough in flight keeps both cores busy
/// (BENCHMARKS.md, "Workflow throughput").
pub const WORKERS_WITH_SANDBOXES: usize = 64;

/// Shortest webhook secret accepted in production.
pub const MIN_PRODUCTION_SECRET_CHARS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The webhook signing secret and whether it is the development default.
#[derive(Debug, Clone)]
pub struct WebhookSecret {
    pub secret: SecretString,
    pub dev_default: bool,
}

#[derive(Debug, Clone)]
pub struct HubSpotSettings {
    pub access_token: Option<SecretString>,
    pub api_base: String,
    pub rate_per_10s: u32,
}

#[derive(Debug, Clone)]
pub struct GoogleSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
    pub token_url: String,
    pub gmail_base: String,
    pub calendar_base: String,
    pub drive_base: String,
    pub calendar_id: String,
    pub drive_folder_id: Option<String>,
    /// The mailbox's Gmail quota units per second.
    pub gmail_units_per_s: u32,
}

#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub api_base: String,
    pub api_key: SecretString,
    pub model: String,
}

/// Everything the server needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub public_url: Option<String>,
    pub workers: usize,
    pub max_attempts: u32,
    pub retry_base: Duration,
    /// How long a prospect's repeat submissions join their first reply.
    pub merge_window: Duration,
    /// A draft waiting for approval longer than this is going cold.
    pub cold_after: Option<Duration>,
    pub orphan_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub request_timeout: Duration,
    pub sqlite_durability: SqliteDurability,
    pub max_body_bytes: usize,
    pub webhook_rate_limit: u32,
    /// Proxies allowed to name the client in `X-Forwarded-For`.
    pub trusted_proxies: TrustedProxies,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Refuse webhooks without a valid v3 signature.
    pub require_signature_v3: bool,
    pub operator_token: Option<SecretString>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub send_policy: SendPolicyConfig,
    pub webhook_secret: WebhookSecret,
    pub hubspot: HubSpotSettings,
    /// `None`: sandbox mail, calendar and assets.
    pub google: Option<GoogleSettings>,
    pub sender_email: Option<EmailAddress>,
    pub sender_name: String,
    /// Who support requests are handed to (a HubSpot owner id).
    pub support_owner_id: Option<String>,
    pub voice_profile: Option<PathBuf>,
    pub asset_catalogue: Option<PathBuf>,
    pub business_hours: BusinessHours,
    pub llm: Option<LlmSettings>,
    /// Non-fatal observations for `check-config` and the start-up log.
    pub warnings: Vec<String>,
    /// The raw sources, for `check-config`.
    pub sources: Sources,
}

impl Settings {
    /// Parses and validates every setting.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming the setting and the fix.
    pub fn from_sources(src: Sources) -> Result<Self, ConfigError> {
        let r = Reader::new(&src);
        let mut warnings = Vec::new();

        let database_url = r.string("DATABASE_URL");
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err(
                "DATABASE_URL",
                format!(
                    "must start with sqlite:// or postgres:// (got \"{}\")",
                    super::database_url::redact_url(&database_url)
                ),
            ));
        }
        if database_url.starts_with("sqlite:") {
            formlead_adapters::sql::sqlite_path(&database_url)
                .map_err(|m| err("DATABASE_URL", m))?;
        }
        let bind_raw = r.string("FORMLEAD_BIND");
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            err(
                "FORMLEAD_BIND",
                format!("must be host:port, e.g. 127.0.0.1:8000 (got \"{bind_raw}\")"),
            )
        })?;
        let public_url = match r.opt("FORMLEAD_PUBLIC_URL") {
            Some(_) => Some(r.url("FORMLEAD_PUBLIC_URL")?),
            None => None,
        };

        let api_env = ApiEnv::parse(&r.string("API_ENV")).map_err(|m| err("API_ENV", m))?;
        let allowlist = Allowlist::parse(&r.string("SEND_EMAIL_ALLOWLIST"))
            .map_err(|m| err("SEND_EMAIL_ALLOWLIST", m))?;
        let send_policy = SendPolicyConfig {
            api_env,
            mode_draft_only: r.bool("MODE_DRAFT_ONLY")?,
            allow_auto_send: r.bool("ALLOW_AUTO_SEND")?,
            allowlist,
            require_operator_approval: r.bool("REQUIRE_OPERATOR_APPROVAL")?,
        };
        let policy_key =
            if !send_policy.mode_draft_only && send_policy.api_env != ApiEnv::Production {
                "MODE_DRAFT_ONLY"
            } else {
                "SEND_EMAIL_ALLOWLIST"
            };
        warnings.extend(send_policy.validate().map_err(|e| err(policy_key, e.0))?);

        let webhook_secret = match r.secret("HUBSPOT_WEBHOOK_SECRET") {
            Some(secret)
                if api_env == ApiEnv::Production
                    && secret.expose_secret().chars().count() < MIN_PRODUCTION_SECRET_CHARS =>
            {
                return Err(err(
                    "HUBSPOT_WEBHOOK_SECRET",
                    format!(
                        "must be at least {MIN_PRODUCTION_SECRET_CHARS} characters with API_ENV=production (use the HubSpot app's client secret)"
                    ),
                ));
            }
            Some(secret) => WebhookSecret {
                dev_default: secret.expose_secret() == DEV_WEBHOOK_SECRET,
                secret,
            },
            None if api_env == ApiEnv::Production => {
                return Err(err(
                    "HUBSPOT_WEBHOOK_SECRET",
                    "is required with API_ENV=production (the HubSpot app's client secret)",
                ));
            }
            None => {
                warnings.push(format!(
                    "HUBSPOT_WEBHOOK_SECRET is not set: webhooks are verified with the development secret \"{DEV_WEBHOOK_SECRET}\""
                ));
                WebhookSecret {
                    secret: SecretString::from(DEV_WEBHOOK_SECRET),
                    dev_default: true,
                }
            }
        };

        let hubspot = HubSpotSettings {
            access_token: r.secret("HUBSPOT_ACCESS_TOKEN"),
            api_base: r.url("HUBSPOT_API_BASE")?,
            rate_per_10s: r.number("HUBSPOT_RATE_LIMIT_PER_10S", 1, 10_000)?,
        };

        let google_parts = [
            r.opt("GOOGLE_CLIENT_ID"),
            r.opt("GOOGLE_CLIENT_SECRET"),
            r.opt("GOOGLE_REFRESH_TOKEN"),
        ];
        let google = match google_parts {
            [Some(client_id), Some(client_secret), Some(refresh_token)] => Some(GoogleSettings {
                client_id,
                client_secret: SecretString::from(client_secret),
                refresh_token: SecretString::from(refresh_token),
                token_url: r.url("GOOGLE_TOKEN_URL")?,
                gmail_base: r.url("GMAIL_API_BASE")?,
                calendar_base: r.url("GOOGLE_CALENDAR_API_BASE")?,
                drive_base: r.url("GOOGLE_DRIVE_API_BASE")?,
                calendar_id: r.string("GOOGLE_CALENDAR_ID"),
                drive_folder_id: r.opt("GOOGLE_DRIVE_FOLDER_ID"),
                gmail_units_per_s: r.number("GMAIL_QUOTA_UNITS_PER_S", 1, 100_000)?,
            }),
            [None, None, None] => None,
            _ => {
                return Err(err(
                    "GOOGLE_CLIENT_ID",
                    "set GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REFRESH_TOKEN together (or none of them for the sandbox)",
                ));
            }
        };

        let sender_email = match r.opt("SENDER_EMAIL") {
            Some(raw) => {
                Some(EmailAddress::parse(&raw).map_err(|e| err("SENDER_EMAIL", e.to_string()))?)
            }
            None => None,
        };
        if google.is_some() && sender_email.is_none() {
            return Err(err(
                "SENDER_EMAIL",
                "is required with Google credentials (the mailbox the drafts are written from)",
            ));
        }

        let llm_parts = [
            r.opt("LLM_API_BASE"),
            r.opt("LLM_API_KEY"),
            r.opt("LLM_MODEL"),
        ];
        let llm = match llm_parts {
            [Some(_), Some(key), Some(model)] => Some(LlmSettings {
                api_base: r.url("LLM_API_BASE")?,
                api_key: SecretString::from(key),
                model,
            }),
            [None, None, None] => None,
            _ => {
                return Err(err(
                    "LLM_API_BASE",
                    "set LLM_API_BASE, LLM_API_KEY and LLM_MODEL together (or none for the template writer)",
                ));
            }
        };

        let voice_profile = r.opt("VOICE_PROFILE").map(PathBuf::from);
        if let Some(p) = &voice_profile
            && !p.is_file()
        {
            return Err(err(
                "VOICE_PROFILE",
                format!("{} does not exist", p.display()),
            ));
        }
        let asset_catalogue = r.opt("ASSET_CATALOGUE").map(PathBuf::from);
        if let Some(p) = &asset_catalogue
            && !p.is_file()
        {
            return Err(err(
                "ASSET_CATALOGUE",
                format!("{} does not exist", p.display()),
            ));
        }

        let business_hours = business_hours(&r)?;

        let log_format = match r
            .string("FORMLEAD_LOG_FORMAT")
            .to_ascii_lowercase()
            .as_str()
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(err(
                    "FORMLEAD_LOG_FORMAT",
                    format!("must be text or json (got \"{other}\")"),
                ));
            }
        };
        let sqlite_durability = match r
            .string("FORMLEAD_SQLITE_SYNCHRONOUS")
            .to_ascii_lowercase()
            .as_str()
        {
            "full" => SqliteDurability::Full,
            "normal" => SqliteDurability::Normal,
            other => {
                return Err(err(
                    "FORMLEAD_SQLITE_SYNCHRONOUS",
                    format!("must be full or normal (got \"{other}\")"),
                ));
            }
        };
        let operator_token = r.secret("FORMLEAD_OPERATOR_TOKEN");
        if let Some(t) = &operator_token
            && t.expose_secret().len() < 16
        {
            return Err(err(
                "FORMLEAD_OPERATOR_TOKEN",
                "must be at least 16 characters",
            ));
        }

        if api_env == ApiEnv::Production && public_url.is_none() {
            warnings.push(
                "FORMLEAD_PUBLIC_URL is not set: v2/v3 webhook signatures are checked against a URL rebuilt from the client's Host header; set it to the public base URL HubSpot calls".to_owned(),
            );
        }
        let trusted_proxies = TrustedProxies::parse(&r.string("FORMLEAD_TRUSTED_PROXIES"))
            .map_err(|m| err("FORMLEAD_TRUSTED_PROXIES", m))?;

        let live_vendors = hubspot.access_token.is_some() || google.is_some();
        Ok(Self {
            database_url: DatabaseUrl::new(database_url),
            bind,
            public_url,
            workers: if r.string("FORMLEAD_WORKERS").eq_ignore_ascii_case("auto") {
                if live_vendors {
                    WORKERS_WITH_VENDORS
                } else {
                    WORKERS_WITH_SANDBOXES
                }
            } else {
                r.number("FORMLEAD_WORKERS", 1, 256)?
            },
            max_attempts: r.number("FORMLEAD_MAX_ATTEMPTS", 1, 100)?,
            retry_base: r.millis("FORMLEAD_RETRY_BASE_MS", 0, 86_400_000)?,
            merge_window: r.millis("FORMLEAD_MERGE_WINDOW_MS", 0, 30 * 86_400_000)?,
            cold_after: Some(r.millis("FORMLEAD_COLD_AFTER_MS", 0, 30 * 86_400_000)?)
                .filter(|d| !d.is_zero()),
            orphan_timeout: r.millis("FORMLEAD_ORPHAN_TIMEOUT_MS", 1_000, 86_400_000)?,
            shutdown_timeout: r.millis("FORMLEAD_SHUTDOWN_TIMEOUT_MS", 0, 3_600_000)?,
            request_timeout: r.millis("FORMLEAD_REQUEST_TIMEOUT_MS", 100, 3_600_000)?,
            sqlite_durability,
            max_body_bytes: r.number("FORMLEAD_MAX_BODY_BYTES", 1_024, 16 * 1024 * 1024)?,
            webhook_rate_limit: r.number("FORMLEAD_WEBHOOK_RATE_LIMIT", 0, 1_000_000)?,
            trusted_proxies,
            max_connections: r.number("FORMLEAD_MAX_CONNECTIONS", 8, 1_000_000)?,
            require_signature_v3: r.bool("HUBSPOT_REQUIRE_SIGNATURE_V3")?,
            operator_token,
            log_format,
            log_filter: r.log_filter("FORMLEAD_LOG")?,
            send_policy,
            webhook_secret,
            hubspot,
            google,
            sender_email,
            sender_name: r.string("SENDER_NAME"),
            support_owner_id: r
                .opt("FORMLEAD_SUPPORT_OWNER_ID")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            voice_profile,
            asset_catalogue,
            business_hours,
            llm,
            warnings,
            sources: src.clone(),
        })
    }

    /// Whether the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url.is_postgres()
    }

    /// `(key, shown value, origin)` for every setting, secrets masked.
    pub fn describe(&self) -> Vec<(&'static str, String, &'static str)> {
        SPECS
            .iter()
            .map(|s| {
                let value = match self.sources.get(s.key) {
                    None => "(not set)".to_owned(),
                    Some(_) if s.secret => "********".to_owned(),
                    Some(v) if s.key == "DATABASE_URL" => super::database_url::redact_url(v),
                    Some(v) => v.to_owned(),
                };
                let origin = self.sources.origin(s.key).map_or("-", |o| o.as_str());
                (s.key, value, origin)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

    fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::from_sources(Sources::load_from(None, env)?)
    }

    #[test]
    fn defaults_are_the_embedded_quick_start() {
        let s = load(&[]).unwrap();
        assert_eq!(s.database_url.expose(), "sqlite://formlead.db");
        assert_eq!(s.max_connections, 1024);
        assert_eq!(s.workers, WORKERS_WITH_SANDBOXES);
        let live = load(&[
            ("HUBSPOT_ACCESS_TOKEN", "pat-x"),
            ("HUBSPOT_WEBHOOK_SECRET", "0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(live.workers, WORKERS_WITH_VENDORS);
        assert!(!s.require_signature_v3 && s.trusted_proxies.is_empty());
        assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.max_attempts, 3);
        assert_eq!(s.retry_base, Duration::from_secs(60));
        assert_eq!(s.merge_window, Duration::from_secs(24 * 3600));
        assert_eq!(s.max_body_bytes, 256 * 1024);
        assert!(s.google.is_none() && s.hubspot.access_token.is_none() && s.llm.is_none());
        assert!(s.send_policy.mode_draft_only);
        assert!(s.webhook_secret.dev_default);
        assert_eq!(s.webhook_secret.secret.expose_secret(), DEV_WEBHOOK_SECRET);
        assert_eq!(s.business_hours.workdays.len(), 5);
    }

    #[test]
    fn unsafe_send_settings_are_refused_with_the_fix() {
        let e = load(&[("MODE_DRAFT_ONLY", "false")]).unwrap_err();
        assert_eq!(e.key, "MODE_DRAFT_ONLY");
        assert!(e.message.contains("API_ENV=production"), "{e}");
        let e = load(&[
            ("MODE_DRAFT_ONLY", "false"),
            ("API_ENV", "production"),
            ("HUBSPOT_WEBHOOK_SECRET", "0123456789abcdef"),
        ])
        .unwrap_err();
        assert_eq!(e.key, "SEND_EMAIL_ALLOWLIST");
        let ok = load(&[
            ("MODE_DRAFT_ONLY", "false"),
            ("API_ENV", "production"),
            ("HUBSPOT_WEBHOOK_SECRET", "0123456789abcdef"),
            ("SEND_EMAIL_ALLOWLIST", "[\"@acme.com\"]"),
        ]);
        assert!(ok.is_ok());
        assert_eq!(
            load(&[("API_ENV", "production")]).unwrap_err().key,
            "HUBSPOT_WEBHOOK_SECRET"
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (k, v) in [
            ("FORMLEAD_BIND", "localhost"),
            ("FORMLEAD_WORKERS", "0"),
            ("FORMLEAD_MAX_ATTEMPTS", "lots"),
            ("MODE_DRAFT_ONLY", "maybe"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_URL", "sqlite::memory:"),
            ("BUSINESS_TIME_ZONE", "Mars/Olympus"),
            ("BUSINESS_HOURS", "9-5"),
            ("BUSINESS_DAYS", "Mon-Funday"),
            ("HUBSPOT_API_BASE", "ftp://x"),
            ("FORMLEAD_LOG_FORMAT", "xml"),
            ("FORMLEAD_LOG", "formlead=loud"),
            ("FORMLEAD_OPERATOR_TOKEN", "short"),
            ("SENDER_EMAIL", "nope"),
            ("VOICE_PROFILE", "/does/not/exist.toml"),
            ("API_ENV", "prod-ish"),
            ("SEND_EMAIL_ALLOWLIST", "not-an-address"),
            ("FORMLEAD_TRUSTED_PROXIES", "proxy.internal"),
            ("FORMLEAD_MAX_CONNECTIONS", "0"),
            ("HUBSPOT_REQUIRE_SIGNATURE_V3", "sometimes"),
        ] {
            let e = load(&[(k, v)]).unwrap_err();
            assert_eq!(e.key, k, "{k}={v}: {e}");
        }
        assert_eq!(
            load(&[("GOOGLE_CLIENT_ID", "x")]).unwrap_err().key,
            "GOOGLE_CLIENT_ID"
        );
        assert_eq!(load(&[("LLM_MODEL", "x")]).unwrap_err().key, "LLM_API_BASE");
        let google = [
            ("GOOGLE_CLIENT_ID", "a"),
            ("GOOGLE_CLIENT_SECRET", "b"),
            ("GOOGLE_REFRESH_TOKEN", "c"),
        ];
        assert_eq!(load(&google).unwrap_err().key, "SENDER_EMAIL");
    }

    #[test]
    fn toml_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("formlead.toml");
        std::fs::write(&path, "FORMLEAD_WORKERS = 8\nsend_email_allowlist = [\"a@b.co\", \"@c.io\"]\nDATABASE_URL = \"sqlite://x.db\"\n").unwrap();
        let env = vec![("FORMLEAD_WORKERS".to_owned(), "2".to_owned())];
        let s = Settings::from_sources(Sources::load_from(Some(&path), env).unwrap()).unwrap();
        assert_eq!(s.workers, 2, "environment wins over the file");
        assert_eq!(s.database_url.expose(), "sqlite://x.db");
        assert_eq!(s.send_policy.allowlist.entries(), ["a@b.co", "@c.io"]);
        std::fs::write(&path, "DATABSE_URL = \"typo\"\n").unwrap();
        let e = Sources::load_from(Some(&path), Vec::new()).unwrap_err();
        assert!(e.message.contains("unknown setting"), "{e}");
    }

    #[test]
    fn secrets_are_masked() {
        let s = load(&[
            ("HUBSPOT_ACCESS_TOKEN", "pat-na1-very-secret"),
            ("FORMLEAD_OPERATOR_TOKEN", "0123456789abcdef"),
        ])
        .unwrap();
        let shown = format!("{:?}", s.describe());
        assert!(
            !shown.contains("very-secret") && !shown.contains("0123456789abcdef"),
            "{shown}"
        );
        assert!(
            !format!("{s:?}").contains("very-secret"),
            "Debug hides secrets too"
        );
    }

    #[test]
    fn production_secrets_are_long_and_database_passwords_masked() {
        let e = load(&[
            ("API_ENV", "production"),
            ("HUBSPOT_WEBHOOK_SECRET", "short-secret"),
        ])
        .unwrap_err();
        assert_eq!(e.key, "HUBSPOT_WEBHOOK_SECRET");
        assert!(e.message.contains("16"), "{e}");
        let s = load(&[
            (
                "DATABASE_URL",
                "postgres://formlead:hunter2-pw@db:5432/formlead",
            ),
            ("API_ENV", "production"),
            ("HUBSPOT_WEBHOOK_SECRET", "0123456789abcdef"),
        ])
        .unwrap();
        assert!(s.warnings.iter().any(|w| w.contains("FORMLEAD_PUBLIC_URL")));
        let shown = format!("{s:?} {:?} {}", s.describe(), s.database_url);
        assert!(!shown.contains("hunter2-pw"), "{shown}");
        assert!(shown.contains("postgres://formlead:***@db:5432/formlead"));
        let e = load(&[("DATABASE_URL", "mysql://u:hunter2-pw@h/db")]).unwrap_err();
        assert!(!e.to_string().contains("hunter2-pw"), "{e}");
    }
}
