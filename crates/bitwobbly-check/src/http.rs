//! The HTTP(S) probe: one fresh connection per request, every phase timed, redirects
//! followed hop by hop.
//!
//! HTTP/1.1 goes through the lean one-request client in [`crate::h1`]; HTTP/2 through
//! hyper. What is learned is written to the [`Run`] as soon as it is known (the
//! response head before the body is read, the body length as it grows) so that a check
//! that runs out of time mid-body still reports the status and headers it saw.
//!
//! The steps that hold large state while they wait (connecting, the TLS handshake, the
//! HTTP/2 handshake) are boxed, so that a check waiting for its response holds only
//! what that wait needs.

use std::error::Error as _;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bitwobbly_core::{
    CheckError, ErrorKind, Hop, HttpFacts, HttpSpec, HttpVersionPref, Phase, Timings,
};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tracing::Instrument;
use url::Url;

use crate::checker::{Checker, Run};
use crate::connect;
use crate::h1;
use crate::tls;

const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Runs an HTTP check, recording what it learns in `run`.
pub(crate) async fn run(
    checker: &Checker,
    spec: &HttpSpec,
    target: &Url,
    run: &mut Run,
) -> Result<(), CheckError> {
    endpoint(target, run.clock.current())?;
    let mut url = target.clone();
    let mut plan = RequestPlan::from_spec(spec, run.clock.current())?;
    let mut probe = Probe::new(run);
    let mut redirects: u8 = 0;
    loop {
        if redirects > 0 {
            probe.start_hop(&url);
        }
        let Exchange { head, mut body } = exchange(checker, spec, &url, &plan, probe.run).await?;
        let status = head.status;
        let location = (spec.redirects.follow && is_redirect(status))
            .then(|| head.header("location").map(str::to_owned))
            .flatten();
        probe.record_head(&url, head);

        if let Some(location) = location {
            let phase = probe.run.clock.current();
            if redirects >= spec.redirects.max {
                return Err(CheckError::new(
                    ErrorKind::TooManyRedirects,
                    phase,
                    format!("more than {} redirects", spec.redirects.max),
                ));
            }
            let next = resolve_location(&url, &location).ok_or_else(|| {
                CheckError::new(
                    ErrorKind::TooManyRedirects,
                    phase,
                    format!("redirect to an unusable location {location:?}"),
                )
            })?;
            // This hop is over: its connection closes and its time is cut here.
            drop(body);
            plan.follow(status, &url, &next);
            probe.end_hop(
                next.host_str()
                    .map_or(Phase::Dns, crate::resolve::first_phase),
            );
            url = next;
            redirects += 1;
            continue;
        }

        probe.run.clock.enter(Phase::Transfer);
        probe.read_body(spec, &mut body).await?;
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
    /// The body bytes kept so far for the response in `run.http`; it grows as bytes
    /// arrive, never beyond the capture limit.
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
    fn record_head(&mut self, url: &Url, head: Head) {
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
            hop.status = Some(head.status);
            hop.remote_addr = self.run.remote_addr;
        }
        self.capture.clear();
        self.run.http = Some(HttpFacts {
            status: head.status,
            version: head.version.to_owned(),
            headers: head.headers,
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
    async fn read_body(&mut self, spec: &HttpSpec, body: &mut Body) -> Result<(), CheckError> {
        let declared = body.declared_len();
        if let Some(max) = spec.max_body
            && declared > max
        {
            return Err(too_large(max, format!("declared length {declared}")));
        }
        let mut total: u64 = 0;
        match body {
            Body::H1(conn) => {
                conn.read_body(|data| self.take(spec, data, &mut total))
                    .await
            }
            Body::H2 { body, .. } => {
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| hyper_error(&e, Phase::Transfer))?;
                    if let Ok(data) = frame.into_data() {
                        self.take(spec, &data, &mut total)?;
                    }
                    // Anything else is trailers, which are not kept.
                }
                Ok(())
            }
        }
    }

    /// Counts a piece of the body, keeps what fits in the capture, and fails once the
    /// body is past `max_body`.
    fn take(&mut self, spec: &HttpSpec, data: &[u8], total: &mut u64) -> Result<(), CheckError> {
        *total += data.len() as u64;
        let room = spec.body_capture.saturating_sub(self.capture.len());
        let kept = room.min(data.len());
        if kept > 0 {
            self.capture.extend_from_slice(&data[..kept]);
        }
        if let Some(http) = self.run.http.as_mut() {
            http.body_len = *total;
            if kept < data.len() {
                http.body_truncated = true;
            }
        }
        if let Some(max) = spec.max_body
            && *total > max
        {
            return Err(too_large(max, format!("at least {total} bytes")));
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

/// A response head and the body still to be read.
struct Exchange {
    head: Head,
    body: Body,
}

/// The head of a response, whatever the protocol.
#[derive(Debug)]
struct Head {
    status: u16,
    version: &'static str,
    /// Header fields in order, names lowercase.
    headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lowercase).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response body still to be read, with what must stay alive while it is.
enum Body {
    H1(h1::Connection<Io>),
    H2 {
        body: Incoming,
        _sender: http2::SendRequest<Full<Bytes>>,
        _connection: TaskGuard,
    },
}

impl Body {
    /// The length the head declared, 0 when it declared none.
    fn declared_len(&self) -> u64 {
        match self {
            Self::H1(conn) => conn.declared_len(),
            Self::H2 { body, .. } => body.size_hint().lower(),
        }
    }
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
    let tcp = Box::pin(connect::open(
        checker,
        host,
        port,
        spec.ip,
        &spec.resolver,
        run,
    ))
    .await?;
    let (io, h2) = if https {
        let alpn: &[&[u8]] = match spec.http_version {
            HttpVersionPref::Http1 => &[ALPN_HTTP1],
            HttpVersionPref::Http2 => &[ALPN_H2],
            _ => &[ALPN_H2, ALPN_HTTP1],
        };
        let stream = Box::pin(tls::handshake(checker, tcp, host, &spec.tls, alpn, run)).await?;
        let h2 = match spec.http_version {
            HttpVersionPref::Http1 => false,
            HttpVersionPref::Http2 => true,
            _ => stream.get_ref().1.alpn_protocol() == Some(ALPN_H2),
        };
        (Io::Tls(Box::new(stream)), h2)
    } else {
        (Io::Plain(tcp), spec.http_version == HttpVersionPref::Http2)
    };
    run.clock.enter(Phase::Ttfb);
    let user_agent = &checker.inner().user_agent;
    if h2 {
        Box::pin(exchange_h2(io, url, plan, user_agent)).await
    } else {
        exchange_h1(io, url, plan, user_agent).await
    }
}

/// Sends the request over HTTP/1.1 and reads the response head.
async fn exchange_h1(
    io: Io,
    url: &Url,
    plan: &RequestPlan,
    user_agent: &str,
) -> Result<Exchange, CheckError> {
    let mut conn = h1::Connection::new(io);
    {
        let request = plan.encode_h1(url, user_agent)?;
        conn.send(&request)
            .await
            .map_err(|e| e.into_check_error(Phase::Ttfb))?;
    }
    let head = conn
        .read_head(&plan.method)
        .await
        .map_err(|e| e.into_check_error(Phase::Ttfb))?;
    Ok(Exchange {
        head: Head {
            status: head.status,
            version: if head.minor_version == 0 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
            headers: head.headers,
        },
        body: Body::H1(conn),
    })
}

/// Runs the HTTP/2 handshake, drives the connection on a task that ends with the
/// check, sends the request and waits for the response head.
async fn exchange_h2(
    io: Io,
    url: &Url,
    plan: &RequestPlan,
    user_agent: &str,
) -> Result<Exchange, CheckError> {
    let (mut sender, conn) = http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| hyper_error(&e, Phase::Ttfb))?;
    let connection = spawn_task("http2_connection", drive(conn));
    let request = plan.build_h2(url, user_agent)?;
    sender
        .ready()
        .await
        .map_err(|e| hyper_error(&e, Phase::Ttfb))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| hyper_error(&e, Phase::Ttfb))?;
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Exchange {
        head: Head {
            status: parts.status.as_u16(),
            version: version_name(parts.version),
            headers,
        },
        body: Body::H2 {
            body,
            _sender: sender,
            _connection: connection,
        },
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

// === impl Io ===

/// A connection's transport: TCP, or TLS over TCP (boxed: the TLS state is large and
/// most of it is only needed once the handshake is done).
#[derive(Debug)]
enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
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

    /// The request target for `url`: origin-form (`/path?query`), or absolute-form when
    /// `absolute`; checked to be a valid URI.
    fn target(url: &Url, absolute: bool) -> Result<String, CheckError> {
        let mut target = String::new();
        if absolute {
            target.push_str(url.scheme());
            target.push_str("://");
            target.push_str(&authority(url));
        }
        target.push_str(url.path());
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        Uri::try_from(target.as_str()).map_err(|_| {
            CheckError::new(
                ErrorKind::InvalidTarget,
                Phase::Ttfb,
                format!("invalid URL {url}"),
            )
        })?;
        Ok(target)
    }

    /// The HTTP/1.1 request for `url`, encoded: origin-form target, then `Host`, the
    /// spec's headers, `User-Agent` and `Accept` unless the spec set them, and the body
    /// with a `Content-Length` (chunked when the spec set a `Transfer-Encoding`).
    fn encode_h1(&self, url: &Url, user_agent: &str) -> Result<Vec<u8>, CheckError> {
        let target = Self::target(url, false)?;
        let host = authority(url);
        check_header_value(&host, url, "host")?;
        check_header_value(user_agent, url, "user agent")?;
        let has_body = !self.body.is_empty();
        // Without a body there is nothing to frame; with one, a transfer coding the
        // spec set wins over any length and must end in `chunked`.
        let chunked = has_body && self.has(&header::TRANSFER_ENCODING);
        let last_te = self
            .headers
            .iter()
            .rposition(|(n, _)| n == header::TRANSFER_ENCODING);
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let mut field = |name: &str, value: &[u8]| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        if !self.has(&header::HOST) {
            field("host", host.as_bytes());
        }
        for (i, (name, value)) in self.headers.iter().enumerate() {
            if name == header::TRANSFER_ENCODING {
                if !has_body {
                    continue;
                }
                if Some(i) == last_te && !ends_in_chunked(value.as_bytes()) {
                    let mut value = value.as_bytes().to_vec();
                    value.extend_from_slice(b", chunked");
                    field(name.as_str(), &value);
                    continue;
                }
            }
            if chunked && name == header::CONTENT_LENGTH {
                continue;
            }
            field(name.as_str(), value.as_bytes());
        }
        if !self.has(&header::USER_AGENT) {
            field("user-agent", user_agent.as_bytes());
        }
        if !self.has(&header::ACCEPT) {
            field("accept", b"*/*");
        }
        if has_body && !chunked && !self.has(&header::CONTENT_LENGTH) {
            field("content-length", self.body.len().to_string().as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if chunked {
            out.extend_from_slice(format!("{:x}\r\n", self.body.len()).as_bytes());
            out.extend_from_slice(&self.body);
            out.extend_from_slice(b"\r\n0\r\n\r\n");
        } else {
            out.extend_from_slice(&self.body);
        }
        Ok(out)
    }

    /// The HTTP/2 request for `url`: absolute-form (`:authority`), the spec's headers,
    /// and `User-Agent` and `Accept` unless the spec set them.
    fn build_h2(&self, url: &Url, user_agent: &str) -> Result<Request<Full<Bytes>>, CheckError> {
        let target = Self::target(url, true)?;
        let ua = HeaderValue::from_str(user_agent).map_err(|_| {
            CheckError::new(
                ErrorKind::InvalidTarget,
                Phase::Ttfb,
                format!("invalid user agent {user_agent:?}"),
            )
        })?;
        let uri = Uri::try_from(target).map_err(|_| {
            CheckError::new(
                ErrorKind::InvalidTarget,
                Phase::Ttfb,
                format!("invalid URL {url}"),
            )
        })?;
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_2;
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if !self.has(&header::USER_AGENT) {
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

/// Fails with `invalid_target` unless `value` can be sent as a header value (visible
/// ASCII, spaces, tabs and obs-text; no control characters).
fn check_header_value(value: &str, url: &Url, what: &str) -> Result<(), CheckError> {
    if value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
    {
        Ok(())
    } else {
        Err(CheckError::new(
            ErrorKind::InvalidTarget,
            Phase::Ttfb,
            format!("invalid {what} {value:?} for {url}"),
        ))
    }
}

/// Whether a `Transfer-Encoding` value's last coding is `chunked`.
fn ends_in_chunked(value: &[u8]) -> bool {
    value
        .rsplit(|&b| b == b',')
        .next()
        .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"))
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
fn resolve_location(base: &Url, location: &str) -> Option<Url> {
    let location = location.trim();
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

pub(crate) fn io_kind(e: &io::Error) -> ErrorKind {
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
        let rel = "../c";
        assert_eq!(
            resolve_location(&base, rel).unwrap().as_str(),
            "http://127.0.0.1:8080/c"
        );
        let abs = "https://example.com/ok";
        assert_eq!(
            resolve_location(&base, abs).unwrap().as_str(),
            "https://example.com/ok"
        );
        let ftp = "ftp://example.com/";
        assert!(resolve_location(&base, ftp).is_none());
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
        let h1 = plan.encode_h1(&target, "bw-test").unwrap();
        assert_eq!(
            String::from_utf8(h1).unwrap(),
            "GET /p?q=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nuser-agent: bw-test\r\n\
             accept: */*\r\n\r\n"
        );
        let h2 = plan.build_h2(&target, "bw-test").unwrap();
        assert_eq!(h2.uri(), "http://127.0.0.1:8080/p?q=1");
        assert!(h2.headers().get(header::HOST).is_none());
        assert_eq!(h2.headers()[header::USER_AGENT], "bw-test");
        assert_eq!(h2.headers()[header::ACCEPT], "*/*");
        assert!(h2.headers().get(header::ACCEPT_ENCODING).is_none());
        assert!(plan.encode_h1(&target, "bad\nagent").is_err());
    }

    #[test]
    fn request_bodies_are_framed() {
        let mut spec = HttpSpec::get("http://example.com/in");
        spec.method = "POST".to_owned();
        spec.body = Some("a=1".to_owned());
        spec.headers = vec![("Accept".to_owned(), "text/plain".to_owned())];
        let plan = RequestPlan::from_spec(&spec, Phase::Connect).unwrap();
        let h1 = plan.encode_h1(&url(&spec.url), "ua").unwrap();
        assert_eq!(
            String::from_utf8(h1).unwrap(),
            "POST /in HTTP/1.1\r\nhost: example.com\r\naccept: text/plain\r\n\
             user-agent: ua\r\ncontent-length: 3\r\n\r\na=1"
        );
        spec.headers = vec![
            ("Transfer-Encoding".to_owned(), "gzip".to_owned()),
            ("Content-Length".to_owned(), "3".to_owned()),
        ];
        let plan = RequestPlan::from_spec(&spec, Phase::Connect).unwrap();
        let h1 = plan.encode_h1(&url(&spec.url), "ua").unwrap();
        assert_eq!(
            String::from_utf8(h1).unwrap(),
            "POST /in HTTP/1.1\r\nhost: example.com\r\ntransfer-encoding: gzip, chunked\r\n\
             user-agent: ua\r\naccept: */*\r\n\r\n3\r\na=1\r\n0\r\n\r\n"
        );
        spec.body = None;
        let plan = RequestPlan::from_spec(&spec, Phase::Connect).unwrap();
        let h1 = String::from_utf8(plan.encode_h1(&url(&spec.url), "ua").unwrap()).unwrap();
        assert!(!h1.contains("transfer-encoding"), "{h1}");
        assert!(h1.ends_with("\r\n\r\n"), "{h1}");
    }

    #[test]
    fn unsupported_schemes_are_invalid_targets() {
        let err = endpoint(&url("ftp://example.com/"), Phase::Dns).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidTarget);
        assert_eq!(crate::resolve::first_phase("[::1]"), Phase::Connect);
        assert_eq!(crate::resolve::first_phase("example.com"), Phase::Dns);
    }
}
