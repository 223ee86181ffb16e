//! HTTP test servers on loopback: plain HTTP/1.1 (and HTTP/2 with prior knowledge),
//! HTTPS with HTTP/2 through ALPN, and a raw TCP server that answers garbage.
//!
//! [`TestServer`] serves a fixed set of routes, plus any canned responses added with
//! [`TestServerBuilder::route`]:
//!
//! | route | answer |
//! | --- | --- |
//! | `/` | `200`, `ok` (as cheap as possible, for load benchmarks) |
//! | `/ok` | `200`, the JSON body [`OK_JSON`] |
//! | `/status/{code}` | that status, body `status {code}` |
//! | `/big` | `200`, [`BIG_LEN`] bytes of [`pattern`] with a `content-length` |
//! | `/big/{n}` | `200`, `n` bytes of [`pattern`] with a `content-length` |
//! | `/chunked/{n}` | `200`, `n` bytes of [`pattern`], chunked (no declared length) |
//! | `/redirect/{n}` | `302` to `/redirect/{n-1}`, the last one to `/ok`; `?code=307` picks the status |
//! | `/redirect-loop` | `302` to itself |
//! | `/headers` (or `/echo`) | `200`, JSON echo of the request: `method`, `path`, `version`, `headers` (lowercase names), `body` |
//! | `/sleep-head/{ms}` | waits `ms` milliseconds, then `200`, `slept` |
//! | `/stall-head` | never answers (until the server is dropped) |
//! | `/stall-body` | `200` declaring [`STALL_BODY_LEN`] bytes, sends [`STALL_BODY_PREFIX`], then stalls |
//! | anything else | `404`, `not found` |
//!
//! Every server listens on port 0 and shuts down (connections included) when its
//! handle is dropped.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use bitwobbly_test_support::http::TestServer;
//! use bitwobbly_test_support::pki::TestCa;
//!
//! let plain = TestServer::http()?;
//! let url = plain.url("/ok"); // http://127.0.0.1:PORT/ok
//! let leaf = TestCa::shared().leaf(&["127.0.0.1"]);
//! let secure = TestServer::https(leaf.server_config())?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener as StdTcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// The body of `/ok`.
pub const OK_JSON: &str = r#"{"status":"ok","service":"bitwobbly-test","checks":3}"#;
/// The length of `/big`.
pub const BIG_LEN: usize = 256 * 1024;
/// The length `/stall-body` declares.
pub const STALL_BODY_LEN: usize = 1024;
/// What `/stall-body` sends before it stalls.
pub const STALL_BODY_PREFIX: &[u8] = b"partial-body-";
/// What [`RawServer::garbage`] answers to any request.
pub const GARBAGE: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\nthis is not HTTP at all\r\n\r\n";

/// Longest a stalled response waits before giving up by itself.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// Bytes per chunk of pattern bodies: a whole number of alphabets, so chunks join up.
const CHUNK: usize = 26 * 630;

static PATTERN: [u8; CHUNK] = {
    let mut bytes = [0u8; CHUNK];
    let mut i = 0;
    while i < CHUNK {
        bytes[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    bytes
};

/// The first `len` bytes of the body `/big` and friends send: `abc...xyzabc...`.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Whether an IPv6 loopback socket can be bound on this machine.
pub fn ipv6_loopback_available() -> bool {
    StdTcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

// === impl TestServer ===

/// A running HTTP(S) test server. Dropping it stops the server and its connections.
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    shutdown: watch::Sender<bool>,
    _tasks: JoinSet<()>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts configuring a server (plain HTTP on `127.0.0.1:0` by default).
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// Plain HTTP on `127.0.0.1`: HTTP/1.1, and HTTP/2 with prior knowledge.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound. Must be called inside a Tokio runtime.
    pub fn http() -> io::Result<Self> {
        Self::builder().start()
    }

    /// HTTPS on `127.0.0.1` presenting `config`'s certificate (see
    /// [`crate::pki::TestCert::server_config`]); HTTP/2 or HTTP/1.1 as ALPN decides.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound. Must be called inside a Tokio runtime.
    pub fn https(config: Arc<ServerConfig>) -> io::Result<Self> {
        Self::builder().tls(config).start()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://ADDR` or `https://ADDR`, without a trailing slash.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Wakes stalled responses; dropping the task set aborts the accept loop,
        // which owns (and so aborts) every connection.
        let _ = self.shutdown.send(true);
    }
}

/// A canned response added with [`TestServerBuilder::route`].
#[derive(Debug, Clone)]
struct Canned {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

/// Configures a [`TestServer`].
#[derive(Debug, Clone)]
pub struct TestServerBuilder {
    bind: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    http1_only: bool,
    routes: HashMap<String, Canned>,
    switches: HashMap<String, Arc<AtomicU16>>,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            http1_only: false,
            routes: HashMap::new(),
            switches: HashMap::new(),
        }
    }
}

impl TestServerBuilder {
    /// The address to bind. Default `127.0.0.1:0`; use `[::1]:0` for IPv6 (see
    /// [`ipv6_loopback_available`]).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Binds `[::1]:0`.
    #[must_use]
    pub fn ipv6(self) -> Self {
        self.bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
    }

    /// Serve HTTPS with this configuration. Default: plain HTTP.
    #[must_use]
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Speak HTTP/1.1 only (no HTTP/2, even with prior knowledge). Default: both.
    #[must_use]
    pub fn http1_only(mut self) -> Self {
        self.http1_only = true;
        self
    }

    /// Answers `path` (exact match, query ignored) with a fixed response, ahead of
    /// the built-in routes.
    ///
    /// # Panics
    ///
    /// If a header name or value is not valid HTTP.
    #[must_use]
    pub fn route(
        mut self,
        path: impl Into<String>,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Self {
        let canned = Canned {
            status: StatusCode::from_u16(status).expect("a valid status code"),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        HeaderName::from_bytes(n.as_bytes()).expect("a valid header name"),
                        HeaderValue::from_str(v).expect("a valid header value"),
                    )
                })
                .collect(),
            body: body.into(),
        };
        self.routes.insert(path.into(), canned);
        self
    }

    /// Answers `path` (exact match) with the status held in `status` at the time of each
    /// request (body `status {code}`), so a test can make a healthy target fail and recover:
    /// `status.store(500, Ordering::SeqCst)`.
    #[must_use]
    pub fn switchable(mut self, path: impl Into<String>, status: Arc<AtomicU16>) -> Self {
        self.switches.insert(path.into(), status);
        self
    }

    /// Binds and starts serving.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime.
    pub fn start(self) -> io::Result<TestServer> {
        // A long accept queue: under a burst of connections (a load benchmark) a full
        // queue drops SYNs, and each drop costs the client a one-second retransmit.
        let socket = if self.bind.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(self.bind)?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        if self.http1_only {
            builder = builder.http1_only();
        }
        let server = Arc::new(Server {
            builder,
            tls: self.tls.clone().map(TlsAcceptor::from),
            routes: Routes {
                canned: self.routes,
                switches: self.switches,
                shutdown: shutdown_rx,
            },
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(listener, server));
        Ok(TestServer {
            addr,
            tls: self.tls.is_some(),
            shutdown,
            _tasks: tasks,
        })
    }
}

struct Server {
    builder: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    routes: Routes,
}

async fn accept_loop(listener: TcpListener, server: Arc<Server>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve(stream, Arc::clone(&server)));
                }
                // Out of descriptors or similar: let connections finish, then retry.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            // Reap finished connections so a long benchmark does not pile them up.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(stream: TcpStream, server: Arc<Server>) {
    let service = {
        let server = Arc::clone(&server);
        service_fn(move |req| {
            let server = Arc::clone(&server);
            async move { Ok::<_, Infallible>(server.routes.answer(req).await) }
        })
    };
    // Connection errors (a client that hangs up, a failed handshake) are expected in
    // tests that provoke them; there is nobody to report them to.
    match &server.tls {
        Some(acceptor) => {
            if let Ok(tls) = acceptor.accept(stream).await {
                let _ = server
                    .builder
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            }
        }
        None => {
            let _ = server
                .builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    }
}

// === routes ===

struct Routes {
    canned: HashMap<String, Canned>,
    switches: HashMap<String, Arc<AtomicU16>>,
    shutdown: watch::Receiver<bool>,
}

impl Routes {
    async fn answer(&self, req: Request<Incoming>) -> Response<TestBody> {
        let path = req.uri().path();
        if path == "/" {
            return text(StatusCode::OK, "ok");
        }
        if let Some(status) = self.switches.get(path) {
            let code = status.load(Ordering::SeqCst);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return text(status, format!("status {}", status.as_u16()));
        }
        if let Some(canned) = self.canned.get(path) {
            let mut response = Response::new(TestBody::full(canned.body.clone()));
            *response.status_mut() = canned.status;
            for (name, value) in &canned.headers {
                response.headers_mut().append(name.clone(), value.clone());
            }
            return response;
        }
        let (first, rest) = match path[1..].split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (&path[1..], None),
        };
        match (first, rest) {
            ("ok", None) => json(StatusCode::OK, Bytes::from_static(OK_JSON.as_bytes())),
            ("status", Some(code)) => {
                match code.parse().ok().and_then(|c| StatusCode::from_u16(c).ok()) {
                    Some(status) => text(status, format!("status {}", status.as_u16())),
                    None => not_found(),
                }
            }
            ("big", None) => pattern_response(BIG_LEN as u64, true),
            ("big", Some(n)) => n
                .parse()
                .map_or_else(|_| not_found(), |n| pattern_response(n, true)),
            ("chunked", Some(n)) => n
                .parse()
                .map_or_else(|_| not_found(), |n| pattern_response(n, false)),
            ("redirect", Some(n)) => match n.parse::<u32>() {
                Ok(n) => {
                    let code = query_param(req.uri().query(), "code")
                        .and_then(|c| c.parse().ok())
                        .and_then(|c| StatusCode::from_u16(c).ok())
                        .unwrap_or(StatusCode::FOUND);
                    let next = if n > 1 {
                        match req.uri().query() {
                            Some(q) => format!("/redirect/{}?{q}", n - 1),
                            None => format!("/redirect/{}", n - 1),
                        }
                    } else {
                        "/ok".to_owned()
                    };
                    redirect(code, &next)
                }
                Err(_) => not_found(),
            },
            ("redirect-loop", None) => redirect(StatusCode::FOUND, "/redirect-loop"),
            ("headers" | "echo", None) => echo(req).await,
            ("sleep-head", Some(ms)) => match ms.parse() {
                Ok(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    text(StatusCode::OK, "slept")
                }
                Err(_) => not_found(),
            },
            ("stall-head", None) => {
                stalled(self.shutdown.clone()).await;
                text(StatusCode::SERVICE_UNAVAILABLE, "gave up stalling")
            }
            ("stall-body", None) => {
                let body = TestBody {
                    kind: BodyKind::Stall {
                        prefix: Some(Bytes::from_static(STALL_BODY_PREFIX)),
                        wait: Box::pin(stalled(self.shutdown.clone())),
                    },
                };
                let mut response = Response::new(body);
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                response
            }
            _ => not_found(),
        }
    }
}

/// Waits until the server shuts down (or [`STALL_LIMIT`] passes).
async fn stalled(mut shutdown: watch::Receiver<bool>) {
    let _ = tokio::time::timeout(STALL_LIMIT, shutdown.wait_for(|down| *down)).await;
}

fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<TestBody> {
    let mut response = Response::new(TestBody::full(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn json(status: StatusCode, body: Bytes) -> Response<TestBody> {
    let mut response = Response::new(TestBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn not_found() -> Response<TestBody> {
    text(StatusCode::NOT_FOUND, "not found")
}

fn redirect(status: StatusCode, location: &str) -> Response<TestBody> {
    let mut response = text(status, format!("see {location}"));
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn pattern_response(len: u64, declared: bool) -> Response<TestBody> {
    let mut response = Response::new(TestBody {
        kind: BodyKind::Pattern {
            remaining: len,
            declared,
        },
    });
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response
}

async fn echo(req: Request<Incoming>) -> Response<TestBody> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return text(StatusCode::BAD_REQUEST, "unreadable body"),
    };
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        headers.insert(
            name.as_str().to_owned(),
            serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    let echoed = serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    json(StatusCode::OK, Bytes::from(echoed.to_string()))
}

// === impl TestBody ===

/// Response bodies of the test server.
struct TestBody {
    kind: BodyKind,
}

enum BodyKind {
    /// All at once.
    Full(Option<Bytes>),
    /// `remaining` bytes of the pattern, with or without a declared length.
    Pattern { remaining: u64, declared: bool },
    /// A prefix of a [`STALL_BODY_LEN`] body, then nothing until `wait` ends.
    Stall {
        prefix: Option<Bytes>,
        wait: Pin<Box<dyn Future<Output = ()> + Send>>,
    },
}

impl TestBody {
    fn full(bytes: Bytes) -> Self {
        Self {
            kind: BodyKind::Full(Some(bytes)),
        }
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            BodyKind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            BodyKind::Pattern { remaining, .. } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let n = usize::try_from(*remaining).map_or(CHUNK, |r| r.min(CHUNK));
                *remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&PATTERN[..n])))))
            }
            BodyKind::Stall { prefix, wait } => {
                if let Some(prefix) = prefix.take() {
                    return Poll::Ready(Some(Ok(Frame::data(prefix))));
                }
                match wait.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(io::Error::other("stalled body abandoned"))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Full(bytes) => bytes.is_none(),
            BodyKind::Pattern { remaining, .. } => *remaining == 0,
            BodyKind::Stall { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            BodyKind::Pattern {
                remaining,
                declared: true,
            } => SizeHint::with_exact(*remaining),
            BodyKind::Pattern { .. } => SizeHint::default(),
            BodyKind::Stall { .. } => SizeHint::with_exact(STALL_BODY_LEN as u64),
        }
    }
}

// === impl RawServer ===

/// A TCP server on `127.0.0.1` that answers every connection with fixed bytes, read
/// the request or not: for clients that must cope with a peer that does not speak
/// their protocol. Dropping it stops the server.
pub struct RawServer {
    addr: SocketAddr,
    _tasks: JoinSet<()>,
}

impl fmt::Debug for RawServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RawServer {
    /// A server that answers [`GARBAGE`] (an SSH banner) to whatever it is sent.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound. Must be called inside a Tokio runtime.
    pub fn garbage() -> io::Result<Self> {
        Self::start(Bytes::from_static(GARBAGE))
    }

    /// A server that answers `reply` to each connection after reading what the
    /// client sent first, then waits for the client to close.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound. Must be called inside a Tokio runtime.
    pub fn start(reply: Bytes) -> io::Result<Self> {
        let std_listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(answer_raw(stream, reply.clone()));
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(Self {
            addr,
            _tasks: tasks,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn answer_raw(mut stream: TcpStream, reply: Bytes) {
    let mut buf = vec![0u8; 4096];
    // Read the request first (or give up waiting), so that closing later does not
    // reset the connection with unread data before the client sees the reply.
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
    if stream.write_all(&reply).await.is_err() {
        return;
    }
    let _ = stream.flush().await;
    let drain = async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_chunks_join_up() {
        let joined: Vec<u8> = PATTERN.iter().chain(PATTERN.iter()).copied().collect();
        assert_eq!(joined, pattern(2 * CHUNK));
    }

    #[test]
    fn query_params_are_found_by_name() {
        assert_eq!(query_param(Some("a=1&code=307"), "code"), Some("307"));
        assert_eq!(query_param(Some("a=1"), "code"), None);
        assert_eq!(query_param(None, "code"), None);
    }

    #[tokio::test]
    async fn servers_answer_on_loopback_and_stop_on_drop() {
        let server = TestServer::http().unwrap();
        let addr = server.addr();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
        drop(server);
        tokio::task::yield_now().await;
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
