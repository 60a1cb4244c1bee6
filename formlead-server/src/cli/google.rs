//! `formlead google authorize`: the OAuth installed-app flow for the client
//! id and secret in the settings, to obtain `GOOGLE_REFRESH_TOKEN`. It
//! prints the consent URL with exactly the scopes formlead needs, listens
//! on a loopback redirect (`http://127.0.0.1:<port>/oauth2callback`, the
//! standard flow for desktop apps, with PKCE and a state check), exchanges
//! the code, and prints the refresh token once. Nothing is stored.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::probe::{CALENDAR_SCOPE, DRIVE_SCOPE, GMAIL_SCOPE};
use crate::config::Sources;
use crate::config::spec::spec;

#[derive(Debug, Clone, Args)]
pub struct GoogleArgs {
    #[command(subcommand)]
    pub command: GoogleCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum GoogleCommand {
    /// Obtain GOOGLE_REFRESH_TOKEN: open the printed consent URL as the
    /// sender's mailbox; formlead listens on a loopback redirect,
    /// exchanges the code and prints the refresh token once. Needs
    /// GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (a "Desktop app" OAuth
    /// client).
    Authorize {
        /// Loopback port for the redirect (0: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// How long to wait for the consent, in seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
}

/// The scopes formlead needs: Gmail (read threads, write and send
/// drafts), free/busy, and read-only Drive for the asset folder.
pub fn scopes() -> String {
    [GMAIL_SCOPE, CALENDAR_SCOPE, DRIVE_SCOPE].join(" ")
}

/// Runs with the raw settings sources: the refresh token this obtains is
/// the one the full settings would otherwise require.
pub async fn run(sources: &Sources, args: GoogleArgs) -> anyhow::Result<ExitCode> {
    let GoogleCommand::Authorize { port, timeout } = args.command;
    let get = |k: &str| {
        sources
            .get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    // The settings' own defaults (Google's endpoints).
    let or_default =
        |k: &str| get(k).unwrap_or_else(|| spec(k).map_or("", |s| s.default).to_owned());
    let client_id = get("GOOGLE_CLIENT_ID").context(
        "set GOOGLE_CLIENT_ID (and GOOGLE_CLIENT_SECRET) of a \"Desktop app\" OAuth client first",
    )?;
    let client_secret = get("GOOGLE_CLIENT_SECRET").context("set GOOGLE_CLIENT_SECRET first")?;
    let auth_url = or_default("GOOGLE_AUTH_URL");
    let token_url = or_default("GOOGLE_TOKEN_URL");

    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} for the redirect"))?;
    let redirect = format!(
        "http://127.0.0.1:{}/oauth2callback",
        listener.local_addr()?.port()
    );
    let state = uuid::Uuid::new_v4().simple().to_string();
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64url(&Sha256::digest(verifier.as_bytes()));
    let consent = reqwest::Url::parse_with_params(
        &auth_url,
        &[
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("response_type", "code"),
            ("scope", scopes().as_str()),
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("state", state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .with_context(|| format!("GOOGLE_AUTH_URL {auth_url} is not a URL"))?;
    println!(
        "Open this URL in a browser, signed in as the sender's mailbox, and allow access:\n\n{consent}\n"
    );
    println!("Waiting for the redirect on {redirect} …");

    let code = tokio::time::timeout(
        Duration::from_secs(timeout),
        receive_code(&listener, &state),
    )
    .await
    .context("no consent arrived in time; run it again")??;

    let answer: serde_json::Value = reqwest::Client::new()
        .post(&token_url)
        .form(&[
            ("code", code.as_str()),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("grant_type", "authorization_code"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .with_context(|| format!("cannot reach {token_url}"))?
        .json()
        .await
        .context("the token endpoint's answer is not JSON")?;
    let Some(refresh) = answer["refresh_token"].as_str() else {
        bail!(
            "no refresh token in the answer ({}): revoke formlead's access at https://myaccount.google.com/permissions and run this again",
            answer["error"].as_str().unwrap_or("no error code")
        );
    };
    println!("\nGOOGLE_REFRESH_TOKEN={refresh}\n");
    println!(
        "Put this line in formlead's environment file (for example /etc/formlead/formlead.env, mode 0600) \
         or its TOML settings; it is shown only now and stored nowhere else. Then run \
         `formlead check-config --probe`."
    );
    Ok(ExitCode::SUCCESS)
}

/// Answers redirects until one carries the code for `state`.
async fn receive_code(listener: &TcpListener, state: &str) -> anyhow::Result<String> {
    loop {
        let (mut socket, _) = listener.accept().await?;
        let mut buf = vec![0u8; 8192];
        let n = socket.read(&mut buf).await.unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/");
        let url = reqwest::Url::parse(&format!("http://127.0.0.1{target}"))?;
        let param = |k: &str| {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        let (status, page, result) = if url.path() != "/oauth2callback" {
            ("404 Not Found", "Not the OAuth redirect.", None)
        } else if let Some(error) = param("error") {
            (
                "200 OK",
                "Access was not granted. Close this tab and run formlead google authorize again.",
                Some(Err(anyhow::anyhow!("consent refused: {error}"))),
            )
        } else if param("state").as_deref() != Some(state) {
            (
                "400 Bad Request",
                "This redirect is not for this run.",
                None,
            )
        } else if let Some(code) = param("code") {
            (
                "200 OK",
                "formlead is authorised. You can close this tab.",
                Some(Ok(code)),
            )
        } else {
            ("400 Bad Request", "The redirect has no code.", None)
        };
        let body = format!("<!doctype html><title>formlead</title><p>{page}</p>");
        let _ = socket
            .write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await;
        if let Some(result) = result {
            return result;
        }
    }
}

/// Base64url without padding (RFC 7636's code challenge).
fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            base64url(&Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
    }
}
