//! `formlead check-config --probe`: one cheap, read-only call per configured
//! vendor, to tell whether the credentials actually work, and if not, the
//! likely cause and the fix. Never prints a secret: only status codes and
//! the vendor's error codes.

use std::time::Duration;

use chrono::Utc;
use reqwest::{Client, Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::config::{GoogleSettings, Settings};

/// The scopes formlead needs, by API.
pub const HUBSPOT_OWNERS_SCOPE: &str = "crm.objects.owners.read";
pub const GMAIL_SCOPE: &str = "https://www.googleapis.com/auth/gmail.modify";
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar.freebusy";
pub const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";

/// One probe's outcome: what was tried, and `Ok(detail)` or `Err(cause
/// and fix)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub vendor: &'static str,
    pub what: &'static str,
    pub result: Result<String, String>,
}

impl Check {
    fn new(vendor: &'static str, what: &'static str, result: Result<String, String>) -> Self {
        Self {
            vendor,
            what,
            result,
        }
    }

    /// `PASS hubspot  owners read: …` / `FAIL …`.
    pub fn line(&self) -> String {
        match &self.result {
            Ok(detail) => format!("PASS {:<7} {}: {detail}", self.vendor, self.what),
            Err(why) => format!("FAIL {:<7} {}: {why}", self.vendor, self.what),
        }
    }
}

/// Every probe the settings call for (none for sandboxes).
pub async fn probe(settings: &Settings) -> Vec<Check> {
    let client = match Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::new(
                "http",
                "client",
                Err(format!("cannot build an HTTP client: {e}")),
            )];
        }
    };
    let mut checks = Vec::new();
    if let Some(token) = &settings.hubspot.access_token {
        let url = format!("{}/crm/v3/owners", settings.hubspot.api_base);
        let sent = client
            .get(&url)
            .query(&[("limit", "1")])
            .bearer_auth(token.expose_secret())
            .send()
            .await;
        checks.push(Check::new("hubspot", "owners read", hubspot(sent).await));
    }
    if let Some(google) = &settings.google {
        checks.extend(self::google(&client, google).await);
    }
    if let Some(llm) = &settings.llm {
        let sent = client
            .get(format!("{}/models", llm.api_base))
            .bearer_auth(llm.api_key.expose_secret())
            .send()
            .await;
        checks.push(Check::new("llm", "models list", llm_models(sent).await));
    }
    checks
}

async fn hubspot(sent: reqwest::Result<Response>) -> Result<String, String> {
    let (status, body) = answer(sent).await?;
    match status {
        s if s.is_success() => Ok("the token works".into()),
        StatusCode::UNAUTHORIZED => Err(
            "401: the token was revoked or is not valid; create a new private app access token and set HUBSPOT_ACCESS_TOKEN"
                .into(),
        ),
        StatusCode::FORBIDDEN => {
            let scopes = hubspot_scopes(&body);
            let scopes = if scopes.is_empty() {
                HUBSPOT_OWNERS_SCOPE.to_owned()
            } else {
                scopes.join(", ")
            };
            Err(format!(
                "403: a scope is missing ({scopes}); add it to the private app and set the new token"
            ))
        }
        StatusCode::TOO_MANY_REQUESTS => {
            Err("429: rate limited right now; the token is accepted, try again shortly".into())
        }
        s => Err(format!("HTTP {}: {}", s.as_u16(), vendor_message(&body))),
    }
}

/// The scopes a HubSpot 403 names (`errors[].context.requiredGranularScopes`).
fn hubspot_scopes(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for e in body["errors"].as_array().into_iter().flatten() {
        for key in ["requiredGranularScopes", "requiredScopes"] {
            for s in e["context"][key].as_array().into_iter().flatten() {
                if let Some(s) = s.as_str().filter(|s| !out.iter().any(|o| o == s)) {
                    out.push(s.to_owned());
                }
            }
        }
    }
    out
}

async fn google(client: &Client, g: &GoogleSettings) -> Vec<Check> {
    let sent = client
        .post(&g.token_url)
        .form(&[
            ("client_id", g.client_id.as_str()),
            ("client_secret", g.client_secret.expose_secret()),
            ("refresh_token", g.refresh_token.expose_secret()),
            ("grant_type", "refresh_token"),
        ])
        .send()
        .await;
    let token = match token_refresh(sent).await {
        Ok(token) => token,
        Err(why) => {
            let skipped = || Err("skipped: no access token".to_owned());
            let mut checks = vec![
                Check::new("google", "token refresh", Err(why)),
                Check::new("google", "gmail profile", skipped()),
                Check::new("google", "calendar free/busy", skipped()),
            ];
            if g.drive_folder_id.is_some() {
                checks.push(Check::new("google", "drive folder listing", skipped()));
            }
            return checks;
        }
    };
    let mut checks = vec![Check::new(
        "google",
        "token refresh",
        Ok("the grant works".into()),
    )];
    let sent = client
        .get(format!("{}/gmail/v1/users/me/profile", g.gmail_base))
        .bearer_auth(&token)
        .send()
        .await;
    checks.push(Check::new(
        "google",
        "gmail profile",
        google_read(sent, GMAIL_SCOPE, |b| {
            format!("mailbox {}", b["emailAddress"].as_str().unwrap_or("?"))
        })
        .await,
    ));
    let now = Utc::now();
    let sent = client
        .post(format!("{}/freeBusy", g.calendar_base))
        .bearer_auth(&token)
        .json(&json!({
            "timeMin": now.to_rfc3339(),
            "timeMax": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "items": [{"id": g.calendar_id}],
        }))
        .send()
        .await;
    let calendar = google_read(sent, CALENDAR_SCOPE, |b| {
        match b["calendars"][&g.calendar_id]["errors"][0]["reason"].as_str() {
            Some(reason) => format!("ERROR {reason}"),
            None => format!("calendar {} readable", g.calendar_id),
        }
    })
    .await
    .and_then(|d| match d.strip_prefix("ERROR ") {
        Some(reason) => Err(format!(
            "calendar {} answered {reason}: check GOOGLE_CALENDAR_ID and that the mailbox can see it",
            g.calendar_id
        )),
        None => Ok(d),
    });
    checks.push(Check::new("google", "calendar free/busy", calendar));
    if let Some(folder) = &g.drive_folder_id {
        let q = format!(
            "'{}' in parents and trashed = false",
            folder.replace('\'', "\\'")
        );
        let sent = client
            .get(format!("{}/files", g.drive_base))
            .bearer_auth(&token)
            .query(&[
                ("q", q.as_str()),
                ("pageSize", "1"),
                ("fields", "files(id)"),
            ])
            .send()
            .await;
        checks.push(Check::new(
            "google",
            "drive folder listing",
            google_read(sent, DRIVE_SCOPE, |_| format!("folder {folder} listable")).await,
        ));
    }
    checks
}

/// The access token, or why the refresh failed.
async fn token_refresh(sent: reqwest::Result<Response>) -> Result<String, String> {
    let (status, body) = answer(sent).await?;
    if status.is_success() {
        return body["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the token endpoint answered without an access_token".to_owned());
    }
    Err(match body["error"].as_str() {
        Some("invalid_grant") => "invalid_grant: the grant was revoked or has expired (or GOOGLE_REFRESH_TOKEN is wrong); re-consent and set the new refresh token".to_owned(),
        Some("invalid_client") | Some("unauthorized_client") => format!(
            "{}: GOOGLE_CLIENT_ID or GOOGLE_CLIENT_SECRET is wrong, or the refresh token belongs to another client",
            body["error"].as_str().unwrap_or_default()
        ),
        Some(other) => format!("HTTP {}: {other}", status.as_u16()),
        None => format!("HTTP {}: {}", status.as_u16(), vendor_message(&body)),
    })
}

/// A Google read with the access token: `ok` on success, else 401/403
/// explained (`scope` is the one this API needs).
async fn google_read(
    sent: reqwest::Result<Response>,
    scope: &str,
    ok: impl FnOnce(&Value) -> String,
) -> Result<String, String> {
    let (status, body) = answer(sent).await?;
    match status {
        s if s.is_success() => Ok(ok(&body)),
        StatusCode::UNAUTHORIZED => Err(
            "401: the access token was refused; re-consent the grant (a new GOOGLE_REFRESH_TOKEN)"
                .into(),
        ),
        StatusCode::FORBIDDEN if google_scope_missing(&body) => Err(format!(
            "403: a scope is missing ({scope}); re-consent with it and set the new GOOGLE_REFRESH_TOKEN"
        )),
        StatusCode::FORBIDDEN => Err(format!(
            "403: {} (is the API enabled for the OAuth client's project?)",
            vendor_message(&body)
        )),
        StatusCode::NOT_FOUND => Err(format!("404: {}", vendor_message(&body))),
        s => Err(format!("HTTP {}: {}", s.as_u16(), vendor_message(&body))),
    }
}

fn google_scope_missing(body: &Value) -> bool {
    let text = body.to_string();
    text.contains("ACCESS_TOKEN_SCOPE_INSUFFICIENT")
        || text.contains("insufficient authentication scopes")
        || text.contains("insufficientPermissions")
}

async fn llm_models(sent: reqwest::Result<Response>) -> Result<String, String> {
    let (status, body) = answer(sent).await?;
    match status {
        s if s.is_success() => Ok(format!(
            "{} model(s) listed",
            body["data"].as_array().map_or(0, Vec::len)
        )),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(format!(
            "{}: the API key was refused; set a valid LLM_API_KEY",
            status.as_u16()
        )),
        s => Err(format!("HTTP {}: {}", s.as_u16(), vendor_message(&body))),
    }
}

/// Status and JSON body (`Null` when not JSON), or why there was none.
async fn answer(sent: reqwest::Result<Response>) -> Result<(StatusCode, Value), String> {
    let response = sent.map_err(|e| {
        let host = e
            .url()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        if e.is_timeout() {
            format!("{host} did not answer within 10 s")
        } else {
            format!(
                "cannot reach {host}: {}",
                std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string)
            )
        }
    })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    Ok((status, body))
}

/// The vendor's own message, short (never the raw body).
fn vendor_message(body: &Value) -> String {
    let m = body["message"]
        .as_str()
        .or_else(|| body["error"]["message"].as_str())
        .or_else(|| body["error_description"].as_str())
        .unwrap_or("no details");
    m.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_names_the_missing_scopes() {
        let body = json!({"status": "error", "category": "MISSING_SCOPES", "errors": [
            {"message": "One or more of the following scopes are required.",
             "context": {"requiredGranularScopes": ["crm.objects.owners.read", "crm.objects.contacts.read"]}}]});
        assert_eq!(
            hubspot_scopes(&body),
            vec!["crm.objects.owners.read", "crm.objects.contacts.read"]
        );
        assert!(hubspot_scopes(&json!({})).is_empty());
    }
}
