//! Databases per test, servers to check, and helpers to drive and observe the scheduler.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::Thresholds;
use bitwobbly_core::{Assertion, AssertionKind, CheckSpec, HttpSpec, StatusMatch};
use bitwobbly_server::config::Config;
use bitwobbly_server::{AppState, Clock};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How long a condition may take to come true before a test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

// === databases ===

/// A database made for one test; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    db: TestDatabase,
}

impl TestDb {
    async fn new(backend: Backend) -> Self {
        let db = TestDatabase::create(backend, "sched").await;
        let store = Self::open(&db).await;
        Self { store, db }
    }

    async fn open(db: &TestDatabase) -> Store {
        Store::open_with(db.url(), StoreOptions::default().max_connections(10))
            .await
            .expect("open the test store")
    }

    pub(crate) async fn postgres() -> Self {
        Self::new(Backend::Postgres).await
    }

    /// Another handle on the same database (as a second node would have).
    pub(crate) async fn reopen(&self) -> Store {
        match self.db.backend() {
            Backend::Postgres => Self::open(&self.db).await,
            Backend::Sqlite => self.store.clone(),
        }
    }

    pub(crate) async fn finish(self) {
        self.store.close().await;
        self.db.finish().await;
    }
}

/// Runs one test body on a fresh database of `backend` (the runner of [`both`]).
pub(crate) async fn run(backend: Backend, test: impl AsyncFnOnce(&TestDb)) {
    let db = TestDb::new(backend).await;
    test(&db).await;
    db.finish().await;
}

/// Runs each listed `async fn(&TestDb)` of the enclosing module on SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!($crate::harness::run; $($name),+);
    };
}
pub(crate) use both;

// === the server under test ===

/// A configuration that reacts quickly: short polls, flushes and grace.
pub(crate) fn fast_config() -> Config {
    let mut c = Config::default();
    c.scheduler.poll_interval = Duration::from_millis(50);
    c.scheduler.result_flush_interval = Duration::from_millis(100);
    c.scheduler.lease = Duration::from_secs(10);
    c.shutdown_grace = Duration::from_secs(10);
    c.public_url = Some("http://status.example.test".to_owned());
    c
}

/// A scheduler running on the test's runtime.
pub(crate) struct Running {
    pub(crate) state: AppState,
    handle: Option<JoinHandle<()>>,
}

impl Running {
    /// Starts `bitwobbly_server::scheduler::run` on `state`.
    pub(crate) fn start(state: AppState) -> Self {
        let handle =
            bitwobbly_server::spawn("scheduler", bitwobbly_server::scheduler::run(state.clone()));
        Self {
            state,
            handle: Some(handle),
        }
    }

    /// Graceful stop: cancels and waits for the drain.
    pub(crate) async fn stop(mut self) {
        self.state.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(PATIENCE, h)
                .await
                .expect("the scheduler stops within the patience")
                .expect("the scheduler does not panic");
        }
    }

    /// Kills it: the task is dropped mid-flight, nothing is released (as a killed process).
    pub(crate) async fn kill(mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
            let _ = h.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Shared state on `store` named `node`.
pub(crate) fn app(store: &Store, config: Config, node: &str) -> AppState {
    AppState::new(store.clone(), config, node.to_owned())
}

// === polling ===

/// Polls `check` until it returns `Some`, failing the test after [`PATIENCE`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the wall clock has passed `t`.
pub(crate) async fn wait_past(t: Timestamp) {
    while Clock.now() <= t {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// === data ===

pub(crate) async fn workspace(store: &Store, slug: &str) -> WorkspaceId {
    store
        .global()
        .create_workspace(slug, slug, Clock.now())
        .await
        .expect("workspace")
        .id
}

/// Thresholds: down after `down` failures in a row, up after `up` successes, no flapping
/// detection unless asked.
pub(crate) fn thresholds(down: u32, up: u32) -> Thresholds {
    let mut t = Thresholds::default();
    t.down_after = down;
    t.degraded_after = down;
    t.window = down;
    t.recover_after = up;
    t.flap_changes = 0;
    t
}

/// An HTTP monitor of `url` every 10 s that wants a 2xx answer.
pub(crate) fn http_monitor(name: &str, url: &str, t: Thresholds) -> NewMonitor {
    let mut spec = HttpSpec::get(url);
    spec.timeout = Duration::from_secs(5);
    spec.assertions
        .push(Assertion::fail(AssertionKind::StatusCode {
            expect: StatusMatch::Range(200, 299),
        }));
    NewMonitor {
        key: None,
        name: name.to_owned(),
        spec: CheckSpec::Http(spec),
        schedule: Schedule::interval(Duration::from_secs(10)).expect("10s"),
        thresholds: t,
        parent_id: None,
        paused: false,
        locations: vec![],
        quorum: Default::default(),
    }
}

pub(crate) async fn create(store: &Store, ws: WorkspaceId, m: &NewMonitor) -> Monitor {
    store
        .workspace(ws)
        .create_monitor(m, Clock.now())
        .await
        .expect("create monitor")
}

pub(crate) async fn webhook(store: &Store, ws: WorkspaceId, name: &str, enabled: bool) -> Channel {
    store
        .workspace(ws)
        .create_channel(
            &NewChannel {
                key: None,
                name: name.to_owned(),
                kind: ChannelKind::Webhook,
                config: serde_json::json!({ "url": "http://127.0.0.1:9/hook", "secret": "whsec_dGVzdA==" }),
                enabled,
            },
            Clock.now(),
        )
        .await
        .expect("channel")
}

pub(crate) async fn state_of(store: &Store, ws: WorkspaceId, id: MonitorId) -> MonitorState {
    store
        .workspace(ws)
        .monitor_state(id)
        .await
        .expect("state")
        .expect("monitor exists")
}

/// Makes a monitor due now, in a transaction holding its state (so a concurrent judgement
/// is never overwritten); returns its `last_result_at` before.
pub(crate) async fn make_due(store: &Store, ws: WorkspaceId, id: MonitorId) -> Option<Timestamp> {
    let mut tx = store.begin().await.expect("begin");
    let s = tx
        .workspace(ws)
        .monitor_state_for_update(id)
        .await
        .expect("lock")
        .expect("monitor exists");
    let mut u = StateUpdate::new(s.status, s.machine.clone());
    u.next_run_at = Some(Clock.now());
    tx.workspace(ws)
        .update_monitor_state(id, &u)
        .await
        .expect("update");
    tx.commit().await.expect("commit");
    s.last_result_at
}

/// Makes the monitor due and waits until the scheduler has judged a new result.
pub(crate) async fn run_once(store: &Store, ws: WorkspaceId, id: MonitorId) -> MonitorState {
    let before = make_due(store, ws, id).await;
    eventually("a new result to be judged", || async {
        let s = state_of(store, ws, id).await;
        (s.last_result_at != before && s.lease_owner.is_none()).then_some(s)
    })
    .await
}

/// The monitor's state and results once its latest judged result has been written (the
/// writer batches them) and no run is in progress.
pub(crate) async fn settle(
    store: &Store,
    ws: WorkspaceId,
    id: MonitorId,
) -> (MonitorState, Vec<CheckResult>) {
    eventually("the latest result to be written", || async {
        let s = state_of(store, ws, id).await;
        let results = all_results(store, ws, id).await;
        let written = results.last().map(|r| r.result.started_at) == s.last_result_at;
        (written && s.lease_owner.is_none()).then_some((s, results))
    })
    .await
}

pub(crate) async fn all_results(store: &Store, ws: WorkspaceId, id: MonitorId) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .workspace(ws)
            .results(&ResultQuery {
                monitor_id: id,
                from: Timestamp::EPOCH,
                to: Timestamp::from_millis(i64::MAX),
                order: Order::Ascending,
                limit: 10_000,
                after,
            })
            .await
            .expect("results");
        out.extend(page.items);
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

pub(crate) async fn incidents_of(store: &Store, ws: WorkspaceId, id: MonitorId) -> Vec<Incident> {
    store
        .workspace(ws)
        .incidents_for_monitor(id, 100)
        .await
        .expect("incidents")
}

pub(crate) async fn outbox(store: &Store, ws: WorkspaceId) -> Vec<Notification> {
    let mut rows = store
        .workspace(ws)
        .notifications(None, 1000)
        .await
        .expect("outbox");
    rows.sort_by_key(|n| n.id);
    rows
}

/// A counter's value in the Prometheus text of `state`'s metrics (0 when absent).
pub(crate) fn counter(state: &AppState, name_and_labels: &str) -> f64 {
    let text = state.metrics.render();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name_and_labels)
                .and_then(|rest| rest.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

// === a target that can be switched up and down ===

/// An HTTP server on loopback that answers `200` or `503` as told.
pub(crate) struct Toggle {
    addr: SocketAddr,
    healthy: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Toggle {
    pub(crate) async fn start(healthy: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let flag = Arc::new(AtomicBool::new(healthy));
        let f = Arc::clone(&flag);
        let task = bitwobbly_server::spawn("toggle", async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let f = Arc::clone(&f);
                bitwobbly_server::spawn("toggle-conn", async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = if f.load(Ordering::SeqCst) {
                        "HTTP/1.1 200 OK"
                    } else {
                        "HTTP/1.1 503 Service Unavailable"
                    };
                    let resp =
                        format!("{head}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self {
            addr,
            healthy: flag,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    pub(crate) fn set(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
}

impl Drop for Toggle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback port with nothing listening.
pub(crate) fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
