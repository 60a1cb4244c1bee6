//! One keep-alive connection of the load generator.
//!
//! Plain `http://` targets get a bare HTTP/1.1 connection (hyper's client
//! connection, no pool, no per-request timer): the generator usually shares
//! the server's machine, and every microsecond of CPU it spends per request
//! is taken from the server it measures. `https://` targets go through
//! reqwest (TLS), one client per connection.

use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The full URL (for reqwest and for messages).
    pub url: String,
    /// `host:port` to connect to, for plain HTTP.
    authority: Option<String>,
    /// Path and query, for plain HTTP.
    path: String,
}

impl Target {
    /// # Errors
    /// When `url` is not an absolute http(s) URL.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
        let host = uri
            .host()
            .with_context(|| format!("URL without a host: {url}"))?;
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), ToString::to_string);
        let authority = match uri.scheme_str() {
            Some("http") => Some(format!("{host}:{}", uri.port_u16().unwrap_or(80))),
            Some("https") => None,
            _ => anyhow::bail!("URL must start with http:// or https://: {url}"),
        };
        Ok(Self {
            url: url.to_owned(),
            authority,
            path,
        })
    }
}

/// A signed request's headers.
pub struct Signed<'a> {
    pub signature: &'a str,
    pub timestamp: &'a str,
}

impl Signed<'_> {
    /// Every header of the request but `Host`.
    fn headers(&self) -> [(&'static str, &str); 3] {
        [
            ("content-type", "application/json"),
            (super::HEADER_SIGNATURE_V3, self.signature),
            (super::HEADER_TIMESTAMP, self.timestamp),
        ]
    }
}

/// One connection; reopened after a failure.
pub enum Connection {
    Plain(Option<SendRequest<Full<Bytes>>>),
    Tls(reqwest::Client),
}

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

impl Connection {
    /// # Errors
    /// When the HTTPS client cannot be built.
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        Ok(match target.authority {
            Some(_) => Self::Plain(None),
            None => Self::Tls(
                reqwest::Client::builder()
                    .timeout(TIMEOUT)
                    .pool_max_idle_per_host(1)
                    .build()
                    .context("HTTP client")?,
            ),
        })
    }

    /// Posts a signed JSON body; the response's status and body, or why
    /// there was none.
    pub async fn post(
        &mut self,
        target: &Target,
        body: String,
        signed: &Signed<'_>,
    ) -> Result<(u16, String), String> {
        match self {
            Self::Tls(client) => {
                let mut request = client.post(&target.url);
                for (name, value) in signed.headers() {
                    request = request.header(name, value);
                }
                let response = request.body(body).send().await.map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                Ok((status, response.text().await.unwrap_or_default()))
            }
            Self::Plain(slot) => {
                let result = tokio::time::timeout(TIMEOUT, post_plain(slot, target, body, signed))
                    .await
                    .unwrap_or_else(|_| Err(format!("no response within {TIMEOUT:?}")));
                if result.is_err() {
                    // The connection may be half-used: open a new one next time.
                    *slot = None;
                }
                result
            }
        }
    }
}

async fn post_plain(
    slot: &mut Option<SendRequest<Full<Bytes>>>,
    target: &Target,
    body: String,
    signed: &Signed<'_>,
) -> Result<(u16, String), String> {
    let authority = target.authority.as_deref().unwrap_or_default();
    let sender = match slot {
        Some(sender) if !sender.is_closed() => sender,
        _ => slot.insert(connect(authority).await?),
    };
    sender.ready().await.map_err(|e| e.to_string())?;
    let mut request =
        hyper::Request::post(target.path.as_str()).header(hyper::header::HOST, authority);
    for (name, value) in signed.headers() {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("connect to {authority}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes.
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:8080/api/webhooks/hubspot/forms").unwrap();
        assert_eq!(t.authority.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(t.path, "/api/webhooks/hubspot/forms");
        let t = Target::parse("http://localhost/x?y=1").unwrap();
        assert_eq!(t.authority.as_deref(), Some("localhost:80"));
        assert_eq!(t.path, "/x?y=1");
        assert!(
            Target::parse("https://example.com/x")
                .unwrap()
                .authority
                .is_none()
        );
        assert!(Target::parse("ftp://example.com/x").is_err());
        assert!(Target::parse("/relative").is_err());
    }
}
