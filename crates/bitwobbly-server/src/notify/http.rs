//! The one HTTP client every HTTP channel shares, and how a receiver's answer is judged.
//!
//! The client uses rustls with the ring provider and the webpki roots, follows no redirects
//! (a 3xx is a failed delivery, as the Standard Webhooks spec asks), ignores proxy settings
//! from the environment, and, when private targets are denied, resolves names itself and
//! refuses any non-public address (see [`crate::netguard`]).

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, header};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;
use url::Url;

use super::backoff::parse_retry_after;
use super::fields::Fields;
use super::text::truncate_bytes;
use super::{SendCtx, SendError};
use crate::error::{ApiError, error_chain};
use crate::netguard;

/// The most of a receiver's error body kept for the error message.
const BODY_EXCERPT: usize = 300;

/// The `User-Agent` of every notification.
pub(crate) const USER_AGENT: &str = concat!("bitwobbly/", env!("CARGO_PKG_VERSION"));

/// The shared client for `deny_private` (one per setting, built on first use).
pub(crate) fn client(deny_private: bool) -> reqwest::Client {
    static OPEN: OnceLock<reqwest::Client> = OnceLock::new();
    static GUARDED: OnceLock<reqwest::Client> = OnceLock::new();
    let cell = if deny_private { &GUARDED } else { &OPEN };
    cell.get_or_init(|| build_client(deny_private)).clone()
}

/// The public web's root certificates (webpki roots).
pub(crate) fn public_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The rustls configuration of outbound HTTP clients (notifications, checker agents): the
/// ring provider, the safe default protocol versions, `roots`, ALPN h2 and http/1.1.
pub(crate) fn tls_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

fn build_client(deny_private: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(public_roots()))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(USER_AGENT)
        .pool_idle_timeout(Duration::from_secs(30));
    if deny_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder
        .build()
        .expect("a client with a preconfigured rustls configuration builds")
}

/// Resolves with the system resolver and refuses names with any non-public address.
#[derive(Debug)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            for addr in &addrs {
                netguard::check_ip(true, addr.ip())?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Refuses a URL whose host is a literal non-public address (names are checked by the
/// resolver when they are looked up).
pub(crate) fn check_literal(url: &Url, deny_private: bool) -> Result<(), SendError> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    netguard::check_ip(deny_private, ip).map_err(|e| SendError::new(e.to_string()))
}

/// Settings that are only the URL of a webhook taking one JSON message (Slack, Discord,
/// Teams): `{"url": "https://..."}`.
#[derive(Debug, Clone)]
pub(crate) struct HookUrl {
    url: Url,
}

impl HookUrl {
    pub(crate) fn parse(config: &Value) -> Result<Self, ApiError> {
        let f = Fields::new(config, "config", &["url"])?;
        Ok(Self {
            url: f.http_url("url")?,
        })
    }

    /// Posts `message` as JSON to the URL.
    pub(crate) async fn send(&self, ctx: &SendCtx<'_>, message: &Value) -> Result<(), SendError> {
        post_json(ctx, &self.url, message).await
    }
}

/// Posts `message` as JSON to `url`, as [`post`] does.
pub(crate) async fn post_json(
    ctx: &SendCtx<'_>,
    url: &Url,
    message: &Value,
) -> Result<(), SendError> {
    let body = serde_json::to_vec(message).unwrap_or_default();
    post(ctx, url, json_headers(), body).await
}

/// Posts `body` to `url` with the context's client, target rule and timeout, and judges the
/// answer: any 2xx is delivered, anything else is a [`SendError`] with the status, a body
/// excerpt and, for 429 and 503, the `Retry-After`.
pub(crate) async fn post(
    ctx: &SendCtx<'_>,
    url: &Url,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<(), SendError> {
    check_literal(url, ctx.deny_private)?;
    let res = ctx
        .http
        .post(url.clone())
        .headers(headers)
        .timeout(ctx.timeout)
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::new(format!("request failed: {}", describe(e))))?;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        res.headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, ctx.now))
    } else {
        None
    };
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let excerpt = read_excerpt(res).await;
    let mut message = format!("the receiver answered {status}");
    if status.is_redirection() {
        message.push_str(" (redirects are not followed)");
        if let Some(to) = location {
            message.push_str(": to ");
            message.push_str(&truncate_bytes(&to, BODY_EXCERPT));
        }
    } else if !excerpt.is_empty() {
        message.push_str(": ");
        message.push_str(&excerpt);
    }
    Err(SendError {
        message,
        status: Some(status.as_u16()),
        retry_after,
        permanent: false,
    })
}

/// The start of a response body, trimmed, on one line.
async fn read_excerpt(mut res: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_EXCERPT * 4 {
        match res.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_bytes(&one_line, BODY_EXCERPT)
}

/// A request error with its causes (the resolver's refusal, a timeout, a refused connection),
/// without the URL: Slack and Discord URLs are secrets.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    error_chain(&e.without_url() as &dyn StdError)
}

/// Headers with a JSON `Content-Type`.
pub(crate) fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}
