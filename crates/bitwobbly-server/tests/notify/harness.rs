//! Fresh databases per test, the server state over them, loopback receivers that record
//! requests, and an SMTP server process.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bitwobbly_server::notify::{Alert, AlertKind};
use bitwobbly_server::{AppState, Config};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};
use time::OffsetDateTime;
use time::macros::datetime;

/// How long any wait in these tests may take before it fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs `test` on a fresh database of `backend` (dropped or deleted afterwards), handing it
/// the store.
pub(crate) async fn with_store(backend: Backend, test: impl AsyncFnOnce(Store)) {
    let db = TestDatabase::create(backend, "notify").await;
    let store = Store::open(db.url()).await.expect("open the store");
    test(store.clone()).await;
    store.close().await;
    db.finish().await;
}

/// Runs each listed `async fn(Store)` of the enclosing module on SQLite and on PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!(crate::harness::with_store; $($name),+);
    };
}
pub(crate) use both;

/// A configuration for fast tests: small backoff, quick polling, a short lease.
pub(crate) fn config() -> Config {
    let mut c = Config::default();
    c.public_url = Some("http://bitwobbly.test".to_owned());
    c.notifier.max_attempts = 3;
    c.notifier.initial_backoff = Duration::from_millis(200);
    c.notifier.max_backoff = Duration::from_secs(2);
    c.notifier.send_timeout = Duration::from_secs(5);
    c.notifier.poll_interval = Duration::from_millis(20);
    c.notifier.concurrency = 4;
    c.shutdown_grace = Duration::from_secs(5);
    c
}

/// Server state over `store` for node `node`.
pub(crate) fn state(store: &Store, config: Config, node: &str) -> AppState {
    AppState::new(store.clone(), config, node.to_owned())
}

/// A running deliverer; stopped gracefully by [`Deliverer::stop`] or killed by
/// [`Deliverer::kill`].
pub(crate) struct Deliverer {
    pub(crate) state: AppState,
    handle: tokio::task::JoinHandle<()>,
}

impl Deliverer {
    pub(crate) fn start(state: &AppState) -> Self {
        let handle =
            bitwobbly_server::spawn("notify", bitwobbly_server::notify::run(state.clone()));
        Self {
            state: state.clone(),
            handle,
        }
    }

    /// Cancels the shutdown token and waits for the drain.
    pub(crate) async fn stop(self) {
        self.state.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.handle)
            .await
            .expect("the deliverer stops")
            .expect("the deliverer does not panic");
    }

    /// Drops the deliverer mid-way, as a killed process would: nothing is released.
    pub(crate) async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}

/// A workspace for a test.
pub(crate) async fn workspace(store: &Store) -> WorkspaceId {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    store
        .global()
        .create_workspace(
            &format!("ws-{n}"),
            "Test",
            Timestamp::from(OffsetDateTime::now_utc()),
        )
        .await
        .expect("create workspace")
        .id
}

/// Creates a channel.
pub(crate) async fn channel(
    store: &Store,
    ws: WorkspaceId,
    name: &str,
    kind: ChannelKind,
    config: serde_json::Value,
) -> Channel {
    bitwobbly_server::notify::validate_channel(kind, &config).expect("valid channel settings");
    store
        .workspace(ws)
        .create_channel(
            &NewChannel {
                key: None,
                name: name.to_owned(),
                kind,
                config,
                enabled: true,
            },
            now(),
        )
        .await
        .expect("create channel")
}

/// Now, as a store timestamp.
pub(crate) fn now() -> Timestamp {
    Timestamp::from(OffsetDateTime::now_utc())
}

/// An alert of `kind` for incident 42 of monitor 7.
pub(crate) fn alert(kind: AlertKind) -> Alert {
    Alert {
        kind,
        incident_id: Some(42),
        monitor_id: Some(7),
        monitor: "API health".to_owned(),
        target: "https://api.example.test/health".to_owned(),
        reason: Some("status 503 is not 2xx".to_owned()),
        started_at: datetime!(2025-01-01 10:00 UTC),
        duration: kind.is_resolution().then(|| Duration::from_secs(125)),
        link: "http://bitwobbly.test/incidents/42".to_owned(),
        at: datetime!(2025-01-01 10:02:05 UTC),
    }
}

/// Puts `alert` in the outbox for `channel`, as the scheduler does.
pub(crate) async fn enqueue(store: &Store, channel: &Channel, alert: &Alert) -> Notification {
    store
        .workspace(channel.workspace_id)
        .enqueue_notification(
            &NewNotification {
                channel_id: channel.id,
                event: alert.kind.event().to_owned(),
                payload: serde_json::to_value(alert).expect("alert as JSON"),
                not_before: now(),
            },
            now(),
        )
        .await
        .expect("enqueue")
}

/// The outbox row `id` of `ws`.
pub(crate) async fn row(store: &Store, ws: WorkspaceId, id: OutboxId) -> Notification {
    store
        .workspace(ws)
        .notification(id)
        .await
        .expect("read the row")
        .expect("the row exists")
}

/// Polls `row` until `done` holds for it, for at most [`DEADLINE`].
pub(crate) async fn wait_row(
    store: &Store,
    ws: WorkspaceId,
    id: OutboxId,
    what: &str,
    done: impl Fn(&Notification) -> bool,
) -> Notification {
    let start = tokio::time::Instant::now();
    loop {
        let n = row(store, ws, id).await;
        if done(&n) {
            return n;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "waited too long for the row to be {what}: {n:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `row` until it is in `state`, for at most [`DEADLINE`].
pub(crate) async fn wait_state(
    store: &Store,
    ws: WorkspaceId,
    id: OutboxId,
    state: OutboxState,
) -> Notification {
    wait_row(store, ws, id, state.as_str(), |r| r.state == state).await
}

/// Polls `cond` until it holds, for at most [`DEADLINE`].
pub(crate) async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !cond().await {
        assert!(start.elapsed() < DEADLINE, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// === receivers ===

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// When it arrived.
    pub(crate) at: Timestamp,
}

impl Recorded {
    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a receiver answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).expect("a status"),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Decides the reply to the n-th request (0-based), possibly after waiting.
pub(crate) type Responder = Arc<dyn Fn(usize, Recorded) -> BoxFuture<Reply> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Recorded>>>,
    responder: Responder,
}

/// An HTTP server on loopback that records every request and answers through a
/// [`Responder`].
pub(crate) struct Receiver {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// A receiver answering through `responder`.
    pub(crate) async fn start(responder: Responder) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            log: log.clone(),
            responder,
        };
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let addr = listener.local_addr().expect("receiver address");
        let server = bitwobbly_server::spawn("receiver", async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            log,
            _server: server,
        }
    }

    /// A receiver answering `status` to everything.
    pub(crate) async fn answering(status: u16) -> Self {
        Self::start(Arc::new(move |_, _| {
            Box::pin(async move { Reply::status(status) })
        }))
        .await
    }

    /// A receiver answering `replies` in order, then the last one forever.
    pub(crate) async fn sequence(replies: Vec<Reply>) -> Self {
        let replies: VecDeque<Reply> = replies.into();
        let replies = Arc::new(replies);
        Self::start(Arc::new(move |n, _| {
            let reply = replies
                .get(n)
                .or(replies.back())
                .cloned()
                .expect("at least one reply");
            Box::pin(async move { reply })
        }))
        .await
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log.lock().expect("receiver log").clone()
    }

    /// Waits until at least `n` requests arrived and returns them all.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        wait_until(&format!("{n} requests at the receiver"), || async {
            self.requests().len() >= n
        })
        .await;
        self.requests()
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rec = Recorded {
        method,
        path: uri
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        headers,
        body,
        at: now(),
    };
    let n = {
        let mut log = shared.log.lock().expect("receiver log");
        log.push(rec.clone());
        log.len() - 1
    };
    let reply = (shared.responder)(n, rec).await;
    let mut res = (reply.status, reply.body).into_response();
    for (name, value) in reply.headers {
        res.headers_mut()
            .insert(name, value.parse().expect("a header value"));
    }
    res
}

// === SMTP ===

/// A real SMTP server (aiosmtpd) saving each message into a Maildir.
pub(crate) use bitwobbly_test_support::smtp::Smtp;
