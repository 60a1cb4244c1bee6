//! Every setting formlead reads: name, default, whether it is a secret, and
//! what it means. `check-config` prints this table; the README documents it
//! (a test keeps the two in step).

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub key: &'static str,
    /// Default as text; empty means "not set".
    pub default: &'static str,
    pub secret: bool,
    pub doc: &'static str,
}

const fn s(key: &'static str, default: &'static str, doc: &'static str) -> Spec {
    Spec {
        key,
        default,
        secret: false,
        doc,
    }
}

const fn secret(key: &'static str, doc: &'static str) -> Spec {
    Spec {
        key,
        default: "",
        secret: true,
        doc,
    }
}

/// All settings, grouped as in the README.
pub const SPECS: &[Spec] = &[
    // Storage and runtime
    s(
        "DATABASE_URL",
        "sqlite://formlead.db",
        "`sqlite://path` (embedded default) or `postgres://…` (scale-out)",
    ),
    s(
        "FORMLEAD_BIND",
        "127.0.0.1:8000",
        "HTTP listen address; a non-loopback address needs FORMLEAD_OPERATOR_TOKEN",
    ),
    s(
        "FORMLEAD_PUBLIC_URL",
        "",
        "public base URL HubSpot calls (behind a proxy); v2/v3 signatures are checked against it",
    ),
    s(
        "FORMLEAD_WORKERS",
        "auto",
        "workflow jobs processed concurrently per process; `auto`: 32 with live HubSpot or Google credentials (each lead mostly waits on vendor round trips), 64 with the sandboxes (each waits on its grouped durable writes)",
    ),
    s(
        "FORMLEAD_MAX_ATTEMPTS",
        "3",
        "attempts per workflow before it is dead-lettered (`failed`)",
    ),
    s(
        "FORMLEAD_RETRY_BASE_MS",
        "60000",
        "delay before retry n is base × 2^(n-1) ms (or the vendor's retry-after, if larger)",
    ),
    s(
        "FORMLEAD_MERGE_WINDOW_MS",
        "86400000",
        "a repeat submission from a prospect within this long of their first one joins that reply (one draft, one task, a note per submission) while its draft is neither sent nor approved; 0: every submission gets its own reply",
    ),
    s(
        "FORMLEAD_COLD_AFTER_MS",
        "900000",
        "a draft waiting for approval longer than this is going cold: flagged first in the dashboard, counted in formlead_cold_drafts_total, its HubSpot task raised to high priority once; 0: never",
    ),
    s(
        "FORMLEAD_ORPHAN_TIMEOUT_MS",
        "300000",
        "a workflow whose worker stopped renewing its lease this long ago is resumed by another worker",
    ),
    s(
        "FORMLEAD_SHUTDOWN_TIMEOUT_MS",
        "30000",
        "on SIGTERM/SIGINT, how long in-flight requests and steps may finish",
    ),
    s(
        "FORMLEAD_REQUEST_TIMEOUT_MS",
        "30000",
        "a webhook whose body has not arrived within this gets 408, one whose commit cannot be made within it 503 with Retry-After (HubSpot retries it); operator request bodies get the same limit; a connection idle twice this long (or stalling mid-headers) is closed",
    ),
    s(
        "FORMLEAD_SQLITE_SYNCHRONOUS",
        "full",
        "`full` (a commit survives power loss) or `normal` (survives a process crash)",
    ),
    s(
        "FORMLEAD_MAX_BODY_BYTES",
        "262144",
        "largest webhook body accepted (larger: 413)",
    ),
    s(
        "FORMLEAD_WEBHOOK_RATE_LIMIT",
        "0",
        "webhook requests per second per client IP (0: no limit; over it: 429)",
    ),
    s(
        "FORMLEAD_TRUSTED_PROXIES",
        "",
        "addresses or CIDR ranges of reverse proxies allowed to name the client in `X-Forwarded-For` (rate limits, login throttling, logs); others are ignored",
    ),
    s(
        "FORMLEAD_MAX_CONNECTIONS",
        "1024",
        "most HTTP connections open at once; at the cap, the longest-idle connection is closed for a new one (keep it below the open-file limit)",
    ),
    secret(
        "FORMLEAD_OPERATOR_TOKEN",
        "token for the dashboard (login), the operator API and `/metrics` (bearer); required unless API_ENV=development on loopback, draft-only, without FORMLEAD_PUBLIC_URL",
    ),
    s(
        "FORMLEAD_LOG_FORMAT",
        "text",
        "`text` (coloured on a terminal unless `NO_COLOR` is set) or `json` logs",
    ),
    s(
        "FORMLEAD_LOG",
        "info",
        "log filter (tracing `EnvFilter` syntax), e.g. `info,formlead_core=debug`",
    ),
    // Send policy (contract §2)
    s(
        "API_ENV",
        "development",
        "`development`, `staging` or `production`",
    ),
    s(
        "MODE_DRAFT_ONLY",
        "true",
        "only drafts are created; `false` is allowed in production only",
    ),
    s(
        "ALLOW_AUTO_SEND",
        "false",
        "send without a human click (needs REQUIRE_OPERATOR_APPROVAL=false)",
    ),
    s(
        "SEND_EMAIL_ALLOWLIST",
        "",
        "JSON list or comma list of addresses or `@domain` that may receive mail",
    ),
    s(
        "REQUIRE_OPERATOR_APPROVAL",
        "true",
        "a send needs an operator's approval",
    ),
    // HubSpot
    secret(
        "HUBSPOT_WEBHOOK_SECRET",
        "app client secret used to verify webhook signatures (16+ characters in production); unset, `formlead-dev-secret` is used, but only with API_ENV=development, a loopback bind and no HubSpot or Google credentials",
    ),
    s(
        "HUBSPOT_REQUIRE_SIGNATURE_V3",
        "false",
        "refuse webhooks without a valid v3 signature (recommended in production: a captured v1/v2 delivery has no timestamp and could be replayed)",
    ),
    secret(
        "HUBSPOT_ACCESS_TOKEN",
        "private app token; unset: the sandbox CRM is used",
    ),
    s(
        "HUBSPOT_API_BASE",
        "https://api.hubapi.com",
        "HubSpot API base URL",
    ),
    s(
        "HUBSPOT_RATE_LIMIT_PER_10S",
        "100",
        "the HubSpot app's calls per rolling 10 s (100 on Free/Starter, 190 on Professional/Enterprise, 250 with the API add-on); every process on one database shares it",
    ),
    // Google
    s(
        "GOOGLE_CLIENT_ID",
        "",
        "OAuth client id; with the secret and refresh token: live Gmail, Calendar and Drive",
    ),
    secret("GOOGLE_CLIENT_SECRET", "OAuth client secret"),
    secret(
        "GOOGLE_REFRESH_TOKEN",
        "OAuth refresh token (offline access) of the sender's mailbox",
    ),
    s(
        "GOOGLE_TOKEN_URL",
        "https://oauth2.googleapis.com/token",
        "OAuth token endpoint",
    ),
    s(
        "GOOGLE_AUTH_URL",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "OAuth consent page (`formlead google authorize`, which obtains GOOGLE_REFRESH_TOKEN)",
    ),
    s(
        "GMAIL_API_BASE",
        "https://gmail.googleapis.com",
        "Gmail API base URL",
    ),
    s(
        "GOOGLE_CALENDAR_API_BASE",
        "https://www.googleapis.com/calendar/v3",
        "Calendar API base URL",
    ),
    s(
        "GOOGLE_DRIVE_API_BASE",
        "https://www.googleapis.com/drive/v3",
        "Drive API base URL",
    ),
    s(
        "GMAIL_QUOTA_UNITS_PER_S",
        "250",
        "the mailbox's Gmail quota units per second (Google's default: 15,000 a minute); every process on one database shares it",
    ),
    s(
        "GOOGLE_CALENDAR_ID",
        "primary",
        "calendar whose free/busy sets the meeting slots",
    ),
    s(
        "GOOGLE_DRIVE_FOLDER_ID",
        "",
        "Drive folder searched for assets (unset: the asset catalogue)",
    ),
    // Writing
    s(
        "SENDER_EMAIL",
        "",
        "the sender's address (From, Message-ID domain); required with Google credentials",
    ),
    s("SENDER_NAME", "formlead", "the sender's display name"),
    s(
        "FORMLEAD_SUPPORT_OWNER_ID",
        "",
        "HubSpot owner id (a person or a team's queue) that support requests are handed to: their follow-up task is assigned there and the reply says support will be in touch; unset, the reply promises no support follow-up",
    ),
    s(
        "VOICE_PROFILE",
        "",
        "path to a TOML voice profile (tone, greeting, sign-off, signature, max words, phrases to avoid)",
    ),
    s(
        "ASSET_CATALOGUE",
        "",
        "path to a TOML asset catalogue (unset: a small sample catalogue)",
    ),
    s(
        "BUSINESS_TIME_ZONE",
        "UTC",
        "IANA time zone of the sender's business hours",
    ),
    s("BUSINESS_HOURS", "09:00-17:00", "meeting hours, local time"),
    s(
        "BUSINESS_DAYS",
        "Mon-Fri",
        "meeting days, e.g. `Mon-Fri` or `Mon,Tue,Thu`",
    ),
    s(
        "LLM_API_BASE",
        "",
        "OpenAI-compatible API base; with LLM_API_KEY and LLM_MODEL the LLM writer is used (template fallback)",
    ),
    secret("LLM_API_KEY", "LLM API key"),
    s("LLM_MODEL", "", "LLM model name"),
];

/// The spec of `key`.
pub fn spec(key: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.key == key)
}

/// The settings table for README.md.
pub fn markdown_table() -> String {
    let mut out = String::from("| setting | default | meaning |\n|---|---|---|\n");
    for s in SPECS {
        let default = if s.secret {
            "*(secret)*".to_owned()
        } else if s.default.is_empty() {
            "—".to_owned()
        } else {
            format!("`{}`", s.default)
        };
        out.push_str(&format!("| `{}` | {default} | {} |\n", s.key, s.doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README.md documents every setting, exactly as here.
    #[test]
    fn readme_settings_table_is_current() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("<!-- settings:start -->\n")
            .map(|i| i + "<!-- settings:start -->\n".len());
        let end = readme.find("<!-- settings:end -->");
        let (Some(start), Some(end)) = (start, end) else {
            panic!("README.md lacks the settings markers")
        };
        let table = markdown_table();
        assert!(
            readme[start..end] == table,
            "README settings table is out of date; replace it with:\n{table}"
        );
    }

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<&str> = SPECS.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SPECS.len());
    }
}
