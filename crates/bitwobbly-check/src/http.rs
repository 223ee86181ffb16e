//! The HTTP(S) probe: one fresh connection per request, every phase timed, redirects
//! followed hop by hop.
//!
//! What is learned is written to the [`Run`] as soon as it is known (the response head
//! before the body is read, the body length as it grows) so that a check that runs out
//! of time mid-body still reports the status and headers it saw.

use std::error::Error as _;
use std::future::Future;
use std::io;

use bitwobbly_core::{
    CheckError, ErrorKind, Hop, HttpFacts, HttpSpec, HttpVersionPref, Phase, Timings,
};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tracing::Instrument;
use url::Url;

use crate::checker::{Checker, Run};
use crate::connect;
use crate::resolve::parse_ip_literal;
use crate::tls;

const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Runs an HTTP check, recording what it learns in `run`.
pub(crate) async fn run(
    checker: &Checker,
    spec: &HttpSpec,
    run: &mut Run,
) -> Result<(), CheckError> {
    let mut url = parse_target(&spec.url, run.clock.current())?;
    let mut plan = RequestPlan::from_spec(spec, run.clock.current())?;
    let mut probe = Probe::new(run);
    let mut redirects: u8 = 0;
    loop {
        if redirects > 0 {
            probe.start_hop(&url);
        }
        let mut exchange = exchange(checker, spec, &url, &plan, probe.run).await?;
        let status = exchange.response.status().as_u16();
        probe.record_head(&url, &exchange.response);

        let location = exchange.response.headers().get(header::LOCATION);
        if spec.redirects.follow
            && is_redirect(status)
            && let Some(location) = location
        {
            let phase = probe.run.clock.current();
            if redirects >= spec.redirects.max {
                return Err(CheckError::new(
                    ErrorKind::TooManyRedirects,
                    phase,
                    format!("more than {} redirects", spec.redirects.max),
                ));
            }
            let next = resolve_location(&url, location).ok_or_else(|| {
                CheckError::new(
                    ErrorKind::TooManyRedirects,
                    phase,
                    format!("redirect to an unusable location {location:?}"),
                )
            })?;
            // This hop is over: its connection closes and its time is cut here.
            drop(exchange);
            plan.follow(status, &url, &next);
            probe.end_hop(first_phase(&next));
            url = next;
            redirects += 1;
            continue;
        }

        probe.run.clock.enter(Phase::Transfer);
        probe.read_body(spec, exchange.response.body_mut()).await?;
        probe.end_final_hop();
        return Ok(());
    }
}

// === impl Probe ===

/// The state of an HTTP check across hops, holding the run.
///
/// Dropping it (the check finished, failed or ran out of time) writes the captured
/// body and the open hop's timings into the run, so every exit reports what was seen.
struct Probe<'a> {
    run: &'a mut Run,
    /// The body bytes kept so far for the response in `run.http`.
    capture: BytesMut,
    /// Whether the last hop in `run.http` is in progress (its timings not yet cut).
    hop_open: bool,
}

impl<'a> Probe<'a> {
    fn new(run: &'a mut Run) -> Self {
        Self {
            run,
            capture: BytesMut::new(),
            hop_open: false,
        }
    }

    /// Opens the record of a redirect hop to `url`, before it connects.
    fn start_hop(&mut self, url: &Url) {
        self.run.remote_addr = None;
        if let Some(http) = self.run.http.as_mut() {
            http.hops.push(Hop {
                url: url.to_string(),
                status: None,
                remote_addr: None,
                timings: Timings::default(),
            });
            self.hop_open = true;
        }
    }

    /// Records a response head as the check's response, keeping earlier hops.
    fn record_head(&mut self, url: &Url, response: &Response<Incoming>) {
        let mut hops = self.run.http.take().map(|h| h.hops).unwrap_or_default();
        if !self.hop_open {
            hops.push(Hop {
                url: url.to_string(),
                status: None,
                remote_addr: None,
                timings: Timings::default(),
            });
            self.hop_open = true;
        }
        if let Some(hop) = hops.last_mut() {
            hop.status = Some(response.status().as_u16());
            hop.remote_addr = self.run.remote_addr;
        }
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        self.capture.clear();
        self.run.http = Some(HttpFacts {
            status: response.status().as_u16(),
            version: version_name(response.version()).to_owned(),
            headers,
            body: Bytes::new(),
            body_len: 0,
            body_truncated: false,
            hops,
        });
    }

    /// Cuts the current hop's timings; the next hop starts in `next_phase`.
    fn end_hop(&mut self, next_phase: Phase) {
        let timings = self.run.clock.next_hop(next_phase);
        self.close_hop(timings);
    }

    /// Cuts the final hop's timings (the clock keeps running until the check ends).
    fn end_final_hop(&mut self) {
        if self.hop_open {
            let timings = self.run.clock.hop_so_far();
            self.close_hop(timings);
        }
    }

    fn close_hop(&mut self, timings: Timings) {
        if self.hop_open
            && let Some(hop) = self.run.http.as_mut().and_then(|h| h.hops.last_mut())
        {
            hop.timings = timings;
            if hop.remote_addr.is_none() {
                hop.remote_addr = self.run.remote_addr;
            }
        }
        self.hop_open = false;
    }

    /// Streams the body: keeps up to `body_capture` bytes, counts the rest, and fails
    /// as soon as `max_body` is exceeded (or declared to be).
    async fn read_body(&mut self, spec: &HttpSpec, body: &mut Incoming) -> Result<(), CheckError> {
        let declared = body.size_hint().lower();
        if let Some(max) = spec.max_body
            && declared > max
        {
            return Err(too_large(max, format!("declared length {declared}")));
        }
        let cap = spec.body_capture;
        let mut total: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| hyper_error(&e, Phase::Transfer))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            total += data.len() as u64;
            let room = cap.saturating_sub(self.capture.len());
            let kept = room.min(data.len());
            if kept > 0 {
                self.capture.extend_from_slice(&data[..kept]);
            }
            if let Some(http) = self.run.http.as_mut() {
                http.body_len = total;
                if kept < data.len() {
                    http.body_truncated = true;
                }
            }
            if let Some(max) = spec.max_body
                && total > max
            {
                return Err(too_large(max, format!("at least {total} bytes")));
            }
        }
        Ok(())
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        if !self.capture.is_empty()
            && let Some(http) = self.run.http.as_mut()
        {
            http.body = self.capture.split().freeze();
        }
        self.end_final_hop();
    }
}

fn too_large(max: u64, seen: String) -> CheckError {
    CheckError::new(
        ErrorKind::BodyTooLarge,
        Phase::Transfer,
        format!("body longer than the {max} byte limit ({seen})"),
    )
}

// === one request ===

/// A response head, with what must stay alive while its body is read.
struct Exchange {
    response: Response<Incoming>,
    _sender: Sender,
    _connection: TaskGuard,
}

/// Connects to `url` (DNS, TCP, TLS), sends the request and waits for the head.
async fn exchange(
    checker: &Checker,
    spec: &HttpSpec,
    url: &Url,
    plan: &RequestPlan,
    run: &mut Run,
) -> Result<Exchange, CheckError> {
    let (host, port, https) = endpoint(url, run.clock.current())?;
    let tcp = connect::open(checker, host, port, spec.ip, &spec.resolver, run).await?;
    let (mut sender, connection) = if https {
        let alpn: &[&[u8]] = match spec.http_version {
            HttpVersionPref::Http1 => &[ALPN_HTTP1],
            HttpVersionPref::Http2 => &[ALPN_H2],
            _ => &[ALPN_H2, ALPN_HTTP1],
        };
        let stream = tls::handshake(checker, tcp, host, &spec.tls, alpn, run).await?;
        let h2 = match spec.http_version {
            HttpVersionPref::Http1 => false,
            HttpVersionPref::Http2 => true,
            _ => stream.get_ref().1.alpn_protocol() == Some(ALPN_H2),
        };
        run.clock.enter(Phase::Ttfb);
        start(stream, h2).await?
    } else {
        run.clock.enter(Phase::Ttfb);
        start(tcp, spec.http_version == HttpVersionPref::Http2).await?
    };
    let request = plan.build(url, sender.is_h2(), &checker.inner().user_agent)?;
    let response = sender
        .send(request)
        .await
        .map_err(|e| hyper_error(&e, Phase::Ttfb))?;
    Ok(Exchange {
        response,
        _sender: sender,
        _connection: connection,
    })
}

/// Scheme-checked host, port and whether TLS is needed.
fn endpoint(url: &Url, phase: Phase) -> Result<(&str, u16, bool), CheckError> {
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(CheckError::new(
                ErrorKind::InvalidTarget,
                phase,
                format!("unsupported scheme {other:?}"),
            ));
        }
    };
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
        CheckError::new(
            ErrorKind::InvalidTarget,
            phase,
            format!("{url} has no host"),
        )
    })?;
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });
    Ok((host, port, https))
}

fn parse_target(raw: &str, phase: Phase) -> Result<Url, CheckError> {
    let url = Url::parse(raw).map_err(|e| {
        CheckError::new(
            ErrorKind::InvalidTarget,
            phase,
            format!("invalid URL {raw:?}: {e}"),
        )
    })?;
    endpoint(&url, phase)?;
    Ok(url)
}

/// The phase a request to `url` starts in: DNS unless the host is an IP literal.
fn first_phase(url: &Url) -> Phase {
    match url.host_str() {
        Some(h) if parse_ip_literal(h).is_some() => Phase::Connect,
        _ => Phase::Dns,
    }
}

/// A client connection's request half.
enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_h2(&self) -> bool {
        matches!(self, Self::H2(_))
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
        match self {
            Self::H1(s) => {
                s.ready().await?;
                s.send_request(request).await
            }
            Self::H2(s) => {
                s.ready().await?;
                s.send_request(request).await
            }
        }
    }
}

/// Runs the HTTP/1.1 or HTTP/2 client handshake on `io` and drives the connection on
/// a task that ends with the guard.
async fn start<S>(io: S, h2: bool) -> Result<(Sender, TaskGuard), CheckError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await
            .map_err(|e| hyper_error(&e, Phase::Ttfb))?;
        let task = spawn_task("http2_connection", drive(conn));
        Ok((Sender::H2(sender), task))
    } else {
        let (sender, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| hyper_error(&e, Phase::Ttfb))?;
        let task = spawn_task("http1_connection", drive(conn));
        Ok((Sender::H1(sender), task))
    }
}

/// Drives a connection to its end. Its errors also reach the request or body that is
/// waiting on it, where they are reported; here they are only logged.
async fn drive<F>(conn: F)
where
    F: Future<Output = hyper::Result<()>>,
{
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Aborts the task it guards when dropped, so no connection outlives its check.
#[derive(Debug)]
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Spawns the background task `name` of a check, inside a span named after it and
/// under the check's span. The task is aborted when the returned guard is dropped.
fn spawn_task<F>(name: &'static str, task: F) -> TaskGuard
where
    F: Future<Output = ()> + Send + 'static,
{
    let span = tracing::debug_span!("task", name);
    // The one place this crate spawns: the guard ties the task's life to the check.
    #[allow(clippy::disallowed_methods)]
    let handle = tokio::spawn(task.instrument(span));
    TaskGuard(handle)
}

// === impl RequestPlan ===

/// The request to send, as it evolves over redirects.
#[derive(Debug, Clone)]
struct RequestPlan {
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl RequestPlan {
    fn from_spec(spec: &HttpSpec, phase: Phase) -> Result<Self, CheckError> {
        let invalid = |what: String| CheckError::new(ErrorKind::InvalidTarget, phase, what);
        let method = Method::from_bytes(spec.method.as_bytes())
            .map_err(|_| invalid(format!("invalid method {:?}", spec.method)))?;
        let headers = spec
            .headers
            .iter()
            .map(|(name, value)| {
                let n = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| invalid(format!("invalid header name {name:?}")))?;
                let v = HeaderValue::from_str(value)
                    .map_err(|_| invalid(format!("invalid value for header {name:?}")))?;
                Ok((n, v))
            })
            .collect::<Result<_, CheckError>>()?;
        let body = spec.body.clone().map(Bytes::from).unwrap_or_default();
        Ok(Self {
            method,
            headers,
            body,
        })
    }

    fn has(&self, name: &HeaderName) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// The request for `url`: origin-form with `Host` over HTTP/1.1, absolute-form
    /// (`:authority`) over HTTP/2; `User-Agent` and `Accept` unless the spec set them.
    fn build(
        &self,
        url: &Url,
        h2: bool,
        user_agent: &str,
    ) -> Result<Request<Full<Bytes>>, CheckError> {
        let invalid = |what: String| CheckError::new(ErrorKind::InvalidTarget, Phase::Ttfb, what);
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = authority(url);
        let target = if h2 {
            format!("{}://{authority}{path}", url.scheme())
        } else {
            path
        };
        let uri =
            Uri::try_from(target.as_str()).map_err(|_| invalid(format!("invalid URL {url}")))?;
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        let headers = request.headers_mut();
        if !h2 && !self.has(&header::HOST) {
            let host = HeaderValue::from_str(&authority)
                .map_err(|_| invalid(format!("invalid host in {url}")))?;
            headers.insert(header::HOST, host);
        }
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if !self.has(&header::USER_AGENT) {
            let ua = HeaderValue::from_str(user_agent)
                .map_err(|_| invalid(format!("invalid user agent {user_agent:?}")))?;
            headers.insert(header::USER_AGENT, ua);
        }
        if !self.has(&header::ACCEPT) {
            headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        Ok(request)
    }

    /// Adapts the request to follow a `status` redirect from `from` to `to`: 303 (and
    /// 301/302 after a POST) become a GET without body; credentials and an explicit
    /// `Host` are not carried to another origin.
    fn follow(&mut self, status: u16, from: &Url, to: &Url) {
        let to_get = match status {
            303 => self.method != Method::HEAD,
            301 | 302 => self.method == Method::POST,
            _ => false,
        };
        if to_get {
            self.method = Method::GET;
            self.body = Bytes::new();
            self.headers.retain(|(n, _)| {
                n != header::CONTENT_LENGTH
                    && n != header::CONTENT_TYPE
                    && n != header::CONTENT_ENCODING
                    && n != header::TRANSFER_ENCODING
            });
        }
        if from.origin() != to.origin() {
            self.headers.retain(|(n, _)| {
                n != header::AUTHORIZATION
                    && n != header::COOKIE
                    && n != header::PROXY_AUTHORIZATION
                    && n != header::HOST
            });
        }
    }
}

/// `host[:port]` as it goes in `Host`, the port only when not the scheme's default.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The next URL of a redirect, when `location` is a usable `http(s)` reference.
fn resolve_location(base: &Url, location: &HeaderValue) -> Option<Url> {
    let location = std::str::from_utf8(location.as_bytes()).ok()?.trim();
    let next = base.join(location).ok()?;
    (matches!(next.scheme(), "http" | "https") && next.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(next)
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP",
    }
}

// === errors ===

/// Classifies a hyper error by its kind and the errors that caused it: broken HTTP
/// is `http_protocol_error`, a connection that ended early is `connection_reset`.
fn hyper_error(e: &hyper::Error, phase: Phase) -> CheckError {
    let kind = if e.is_parse() {
        ErrorKind::HttpProtocolError
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        ErrorKind::ConnectionReset
    } else if e.is_user() {
        ErrorKind::InvalidTarget
    } else if let Some(h2) = find_source::<h2::Error>(e) {
        h2_kind(h2)
    } else if let Some(io) = find_source::<io::Error>(e) {
        io_kind(io)
    } else if phase == Phase::Transfer {
        // The connection failed while the body streamed in.
        ErrorKind::ConnectionReset
    } else {
        ErrorKind::HttpProtocolError
    };
    CheckError::new(kind, phase, describe(e))
}

fn h2_kind(e: &h2::Error) -> ErrorKind {
    if let Some(io) = e.get_io() {
        return io_kind(io);
    }
    match e.reason() {
        Some(
            h2::Reason::PROTOCOL_ERROR
            | h2::Reason::FRAME_SIZE_ERROR
            | h2::Reason::COMPRESSION_ERROR
            | h2::Reason::FLOW_CONTROL_ERROR
            | h2::Reason::STREAM_CLOSED
            | h2::Reason::HTTP_1_1_REQUIRED
            | h2::Reason::INADEQUATE_SECURITY,
        ) => ErrorKind::HttpProtocolError,
        Some(_) => ErrorKind::ConnectionReset,
        None => ErrorKind::HttpProtocolError,
    }
}

fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        // Malformed framing (a bad chunk size) or a TLS record error.
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => ErrorKind::HttpProtocolError,
        _ => ErrorKind::ConnectionReset,
    }
}

/// The first error of type `E` in `e`'s chain of causes.
fn find_source<'e, E: std::error::Error + 'static>(
    e: &'e (dyn std::error::Error + 'static),
) -> Option<&'e E> {
    let mut cause = e.source();
    while let Some(err) = cause {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        cause = err.source();
    }
    None
}

/// The error and its causes, joined with `: `.
fn describe(e: &hyper::Error) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(err) = cause {
        message.push_str(": ");
        message.push_str(&err.to_string());
        cause = err.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn locations_resolve_against_the_current_url() {
        let base = url("http://127.0.0.1:8080/a/b?x=1");
        let rel = HeaderValue::from_static("../c");
        assert_eq!(
            resolve_location(&base, &rel).unwrap().as_str(),
            "http://127.0.0.1:8080/c"
        );
        let abs = HeaderValue::from_static("https://example.com/ok");
        assert_eq!(
            resolve_location(&base, &abs).unwrap().as_str(),
            "https://example.com/ok"
        );
        let ftp = HeaderValue::from_static("ftp://example.com/");
        assert!(resolve_location(&base, &ftp).is_none());
    }

    #[test]
    fn see_other_turns_a_post_into_a_get_without_body() {
        let mut spec = HttpSpec::get("http://127.0.0.1/form");
        spec.method = "POST".to_owned();
        spec.body = Some("a=1".to_owned());
        spec.headers = vec![
            (
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("Authorization".to_owned(), "Bearer t".to_owned()),
        ];
        let mut plan = RequestPlan::from_spec(&spec, Phase::Connect).unwrap();
        let from = url("http://127.0.0.1/form");
        plan.follow(307, &from, &url("http://127.0.0.1/again"));
        assert_eq!(plan.method, Method::POST);
        assert_eq!(plan.body, "a=1");
        plan.follow(303, &from, &url("http://127.0.0.1/done"));
        assert_eq!(plan.method, Method::GET);
        assert!(plan.body.is_empty());
        assert!(!plan.has(&header::CONTENT_TYPE));
        assert!(plan.has(&header::AUTHORIZATION));
        plan.follow(302, &from, &url("http://elsewhere.example/"));
        assert!(!plan.has(&header::AUTHORIZATION));
    }

    #[test]
    fn requests_carry_host_agent_and_accept() {
        let spec = HttpSpec::get("http://127.0.0.1:8080/p?q=1");
        let plan = RequestPlan::from_spec(&spec, Phase::Connect).unwrap();
        let target = url(&spec.url);
        let h1 = plan.build(&target, false, "bw-test").unwrap();
        assert_eq!(h1.uri(), "/p?q=1");
        assert_eq!(h1.headers()[header::HOST], "127.0.0.1:8080");
        assert_eq!(h1.headers()[header::USER_AGENT], "bw-test");
        assert_eq!(h1.headers()[header::ACCEPT], "*/*");
        assert!(h1.headers().get(header::ACCEPT_ENCODING).is_none());
        let h2 = plan.build(&target, true, "bw-test").unwrap();
        assert_eq!(h2.uri(), "http://127.0.0.1:8080/p?q=1");
        assert!(h2.headers().get(header::HOST).is_none());
    }

    #[test]
    fn unsupported_schemes_are_invalid_targets() {
        let err = parse_target("ftp://example.com/", Phase::Dns).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidTarget);
        assert_eq!(first_phase(&url("http://[::1]:80/")), Phase::Connect);
        assert_eq!(first_phase(&url("http://example.com/")), Phase::Dns);
    }
}
