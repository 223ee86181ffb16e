//! The agent's HTTP client for the three endpoints of the [`protocol`](super::protocol).

use std::fmt;
use std::time::Duration;

use http::{StatusCode, header};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::de::DeserializeOwned;
use url::Url;

use super::protocol::{Assignments, BatchAck, Hello, ResultBatch, Welcome};
use super::{AgentConfig, AgentError};
use crate::notify::backoff::parse_retry_after;
use crate::notify::http::{public_roots, tls_config};

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of an error body kept for messages.
const EXCERPT: usize = 300;

/// Why a call did not succeed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The server could not be reached, or the answer could not be read: try again later.
    Unreachable(String),
    /// 5xx or 429: try again later (after `retry_after` when the server said).
    Busy {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    /// 413: the batch is too large.
    TooLarge,
    /// The server refused the agent or does not speak the protocol: stop.
    Fatal(AgentError),
}

impl CallError {
    /// When the server asked to be called again.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Busy { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(e) => f.write_str(e),
            Self::Busy {
                status, message, ..
            } => write!(f, "the server answered {status}: {message}"),
            Self::TooLarge => f.write_str("the server refused a batch as too large"),
            Self::Fatal(e) => write!(f, "{e}"),
        }
    }
}

/// The HTTP client of one agent.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
}

/// Reads the CA certificates of `config.ca_file`.
fn extra_roots(config: &AgentConfig) -> Result<Vec<CertificateDer<'static>>, AgentError> {
    let Some(path) = &config.ca_file else {
        return Ok(Vec::new());
    };
    let bad = |problem: String| AgentError::Config {
        field: "ca_file",
        problem: format!("{}: {problem}", path.display()),
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad("holds no certificate".to_owned()));
    }
    Ok(certs)
}

impl Client {
    /// A client for `config.server`, trusting the public roots and `config.ca_file`.
    ///
    /// # Errors
    ///
    /// [`AgentError::Config`] for `ca_file` when it cannot be read or holds no usable
    /// certificate.
    pub(crate) fn new(config: &AgentConfig) -> Result<Self, AgentError> {
        let mut roots = public_roots();
        for cert in extra_roots(config)? {
            roots.add(cert).map_err(|e| AgentError::Config {
                field: "ca_file",
                problem: format!("a certificate cannot be used as a root: {e}"),
            })?;
        }
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(roots))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("bitwobbly-agent/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| AgentError::Config {
                field: "server",
                problem: format!("cannot build an HTTP client: {e}"),
            })?;
        let mut base = config.server.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self {
            http,
            base,
            token: config.token.trim().to_owned(),
        })
    }

    fn url(&self, endpoint: &str) -> Url {
        self.base
            .join(endpoint)
            .expect("a relative path joins onto an http(s) URL")
    }

    /// `POST /api/v1/agent/hello`.
    pub(crate) async fn hello(&self, hello: &Hello) -> Result<Welcome, CallError> {
        let req = self.http.post(self.url("api/v1/agent/hello")).json(hello);
        let res = self.send("hello", req).await?;
        json("hello", res).await
    }

    /// `GET /api/v1/agent/assignments`; `None` when the server answers 304 to `etag`.
    pub(crate) async fn assignments(
        &self,
        etag: Option<&str>,
    ) -> Result<Option<Assignments>, CallError> {
        let mut req = self.http.get(self.url("api/v1/agent/assignments"));
        if let Some(etag) = etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        let res = self.send("assignments", req).await?;
        if res.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let etag_header = res
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut a: Assignments = json("assignments", res).await?;
        // The header is what If-None-Match is compared with.
        if let Some(h) = etag_header {
            a.etag = h;
        }
        Ok(Some(a))
    }

    /// `POST /api/v1/agent/results`.
    pub(crate) async fn results(&self, batch: &ResultBatch) -> Result<BatchAck, CallError> {
        let req = self.http.post(self.url("api/v1/agent/results")).json(batch);
        let res = self.send("results", req).await?;
        json("results", res).await
    }

    /// Sends `req` with the token; sorts the answer into success (2xx, 304) and the errors.
    async fn send(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| CallError::Unreachable(crate::error::error_chain(&e)))?;
        let status = res.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(res);
        }
        let retry_after = res
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let body = res.bytes().await.unwrap_or_default();
        Err(classify(endpoint, status, &body, retry_after))
    }
}

/// Reads a JSON answer.
async fn json<T: DeserializeOwned>(
    endpoint: &'static str,
    res: reqwest::Response,
) -> Result<T, CallError> {
    let body = res
        .bytes()
        .await
        .map_err(|e| CallError::Unreachable(crate::error::error_chain(&e)))?;
    serde_json::from_slice(&body).map_err(|e| {
        CallError::Fatal(AgentError::Protocol {
            endpoint,
            problem: format!(
                "the answer is not what this agent understands ({e}): {}",
                excerpt(&body)
            ),
        })
    })
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(EXCERPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim().to_owned()
}

/// Sorts an error answer: 401/403 refuse the agent, 5xx/429 are retried, 413 shrinks the
/// batch, anything else means the server does not speak this protocol.
pub(crate) fn classify(
    endpoint: &'static str,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> CallError {
    #[derive(serde::Deserialize)]
    struct Shape {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        code: String,
        message: String,
    }
    let (code, message) = match serde_json::from_slice::<Shape>(body) {
        Ok(s) => (s.error.code, s.error.message),
        Err(_) => (String::new(), excerpt(body)),
    };
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            let hint = if status == StatusCode::UNAUTHORIZED {
                "the agent token is unknown or revoked: create a new one for this location and pass it with --token"
            } else if code == "location_mismatch" {
                "the token belongs to another location: pass its location with --location, or a token of this location"
            } else {
                "the token may not do this: check that it is an agent token of this location"
            };
            CallError::Fatal(AgentError::Refused {
                status: status.as_u16(),
                code,
                message,
                hint,
            })
        }
        StatusCode::PAYLOAD_TOO_LARGE => CallError::TooLarge,
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => CallError::Busy {
            status,
            message: if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            },
            retry_after,
        },
        s => {
            let what = if s == StatusCode::NOT_FOUND {
                "the server has no agent endpoint here: is --server the Bit Wobbly server's base URL?"
            } else {
                "the server refused the request"
            };
            let detail = if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            };
            CallError::Fatal(AgentError::Protocol {
                endpoint,
                problem: format!("{what} ({s}: {detail})"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, message: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"error": {"code": code, "message": message}}))
            .unwrap()
    }

    #[test]
    fn refusals_stop_with_a_hint() {
        let e = classify(
            "results",
            StatusCode::UNAUTHORIZED,
            &body("unauthorized", "no"),
            None,
        );
        let CallError::Fatal(e) = e else {
            panic!("{e}")
        };
        assert!(e.is_refused());
        assert!(e.to_string().contains("unknown or revoked"), "{e}");
        let e = classify(
            "hello",
            StatusCode::FORBIDDEN,
            &body("location_mismatch", "this token runs for eu"),
            None,
        );
        let CallError::Fatal(e) = e else {
            panic!("{e}")
        };
        assert!(e.to_string().contains("another location"), "{e}");
        assert!(e.to_string().contains("this token runs for eu"), "{e}");
    }

    #[test]
    fn busy_answers_are_retried_after_what_the_server_says() {
        let after = Some(Duration::from_secs(7));
        let e = classify("results", StatusCode::SERVICE_UNAVAILABLE, b"", after);
        assert!(matches!(e, CallError::Busy { .. }), "{e}");
        assert_eq!(e.retry_after(), after);
        let e = classify(
            "results",
            StatusCode::TOO_MANY_REQUESTS,
            &body("rate_limited", "slow"),
            None,
        );
        assert!(matches!(e, CallError::Busy { .. }), "{e}");
        assert!(e.to_string().contains("rate_limited"), "{e}");
        let e = classify("results", StatusCode::PAYLOAD_TOO_LARGE, b"", None);
        assert!(matches!(e, CallError::TooLarge));
    }

    #[test]
    fn other_answers_say_what_is_wrong() {
        let e = classify("hello", StatusCode::NOT_FOUND, b"<html>nope</html>", None);
        let CallError::Fatal(e) = e else {
            panic!("{e}")
        };
        assert!(e.to_string().contains("--server"), "{e}");
        assert!(e.to_string().contains("<html>nope</html>"), "{e}");
        let long = "x".repeat(10_000);
        let e = classify(
            "results",
            StatusCode::UNPROCESSABLE_ENTITY,
            long.as_bytes(),
            None,
        );
        assert!(e.to_string().len() < 1000, "the body is cut");
    }
}
