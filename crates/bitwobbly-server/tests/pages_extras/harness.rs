//! A real server on a fresh database (SQLite or PostgreSQL) with a seeded status page, a
//! target it checks that the test can make fail, and HTTP helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::Thresholds;
use bitwobbly_core::{Assertion, AssertionKind, CheckSpec, HttpSpec, StatusMatch};
use bitwobbly_server::server::Server;
use bitwobbly_server::{AppState, Clock, Config};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};
use bitwobbly_test_support::http::TestServer;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long any awaited condition may take before a test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// The public URL the server is configured with (links in feeds and mail start with it).
pub(crate) const PUBLIC_URL: &str = "http://status.test";

/// Runs each listed `async fn(Backend)` of the enclosing module on SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!($crate::harness::run; $($name),+);
    };
}
pub(crate) use both;

/// Runs a test body for `backend`.
pub(crate) async fn run(backend: Backend, test: impl AsyncFnOnce(Backend)) {
    test(backend).await;
}

/// A configuration for a test server on `db`: port 0, fast polling.
pub(crate) fn config(db: &TestDatabase) -> Config {
    let mut c = Config::default();
    c.listen = "127.0.0.1:0".parse().expect("address");
    c.data_dir = db.dir().join("data");
    c.database_url = Some(db.url().to_owned());
    c.public_url = Some(PUBLIC_URL.to_owned());
    c.shutdown_grace = Duration::from_secs(5);
    c.scheduler.poll_interval = Duration::from_millis(50);
    c.scheduler.result_flush_interval = Duration::from_millis(50);
    c.notifier.poll_interval = Duration::from_millis(50);
    c.notifier.initial_backoff = Duration::from_millis(200);
    c.notifier.send_timeout = Duration::from_secs(5);
    // Snapshots are invalidated on every change; this only bounds how stale time-driven
    // parts get.
    c.pages.max_age = Duration::from_secs(1);
    c
}

/// A server running in this process, with its database and a seeded page.
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) state: AppState,
    pub(crate) store: Store,
    db: Option<TestDatabase>,
    stop: Option<oneshot::Sender<()>>,
    tasks: JoinSet<Result<(), bitwobbly_server::server::ServerError>>,
}

impl Running {
    /// Starts a server on a fresh database of `backend`, `tweak` adjusting its configuration.
    pub(crate) async fn start(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create(backend, "pgx").await;
        let mut c = config(&db);
        tweak(&mut c);
        let server = Server::bind(c).await.expect("the server binds");
        let base = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        let store = state.store.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut tasks = JoinSet::new();
        tasks.spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            state,
            store,
            db: Some(db),
            stop: Some(stop),
            tasks,
        }
    }

    /// `path` on this server.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A link the server made (under [`PUBLIC_URL`]) as a URL of this server.
    pub(crate) fn local(&self, link: &str) -> String {
        let path = link
            .strip_prefix(PUBLIC_URL)
            .unwrap_or_else(|| panic!("{link} is not under {PUBLIC_URL}"));
        self.url(path)
    }

    /// Shuts the server down gracefully, then drops its database.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = tokio::time::timeout(DEADLINE, self.tasks.join_next())
            .await
            .expect("the server stops in time");
        done.expect("a server task")
            .expect("the task ran")
            .expect("the server stopped cleanly");
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.finish().await;
        }
    }
}

/// A target whose answer the test switches (`200` healthy, `500` failing).
pub(crate) struct Target {
    pub(crate) server: TestServer,
    status: Arc<AtomicU16>,
}

impl Target {
    pub(crate) fn start() -> Self {
        let status = Arc::new(AtomicU16::new(200));
        let server = TestServer::builder()
            .switchable("/health", Arc::clone(&status))
            .start()
            .expect("target starts");
        Self { server, status }
    }

    pub(crate) fn url(&self) -> String {
        self.server.url("/health")
    }

    /// Makes the target answer `code` from now on.
    pub(crate) fn set(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }
}

/// What [`seed`] made.
#[derive(Debug, Clone)]
pub(crate) struct Seeded {
    pub(crate) ws: WorkspaceId,
    pub(crate) page: StatusPage,
    /// Components in page order: the monitored ones first.
    pub(crate) components: Vec<Component>,
}

/// A workspace with page `slug` holding `monitored` components backed by HTTP monitors of
/// `target` (every 10 s, down after one failure; uptime and response times shown) and one
/// manual component ("Support desk").
pub(crate) async fn seed(store: &Store, slug: &str, target: &str, monitored: usize) -> Seeded {
    let now = Clock.now();
    let ws = store
        .global()
        .create_workspace(slug, slug, now)
        .await
        .expect("workspace")
        .id;
    let mut scope = store.workspace(ws);
    let mut new_page = NewStatusPage::new(slug, format!("{slug} status"));
    new_page.description = Some("Live status of the <Acme> & co. services".to_owned());
    let page = scope
        .create_status_page(&new_page, now)
        .await
        .expect("page");
    let mut components = Vec::new();
    for i in 0..monitored {
        let m = scope
            .create_monitor(&http_monitor(&format!("API {i}"), target), now)
            .await
            .expect("monitor");
        let c = scope
            .create_component(
                &NewComponent {
                    key: None,
                    page_id: page.id,
                    group_id: None,
                    monitor_id: Some(m.id),
                    name: format!("API {i}"),
                    description: None,
                    position: i as i64,
                    show_uptime: true,
                    show_response_times: true,
                },
                now,
            )
            .await
            .expect("component");
        components.push(c);
    }
    let manual = scope
        .create_component(
            &NewComponent {
                key: None,
                page_id: page.id,
                group_id: None,
                monitor_id: None,
                name: "Support desk".to_owned(),
                description: None,
                position: monitored as i64,
                show_uptime: false,
                show_response_times: false,
            },
            now,
        )
        .await
        .expect("component");
    components.push(manual);
    Seeded {
        ws,
        page,
        components,
    }
}

/// An HTTP monitor of `url` every 10 s that wants a 2xx answer, down after one failure.
pub(crate) fn http_monitor(name: &str, url: &str) -> NewMonitor {
    let mut spec = HttpSpec::get(url);
    spec.timeout = Duration::from_secs(5);
    spec.assertions
        .push(Assertion::fail(AssertionKind::StatusCode {
            expect: StatusMatch::Range(200, 299),
        }));
    let mut t = Thresholds::default();
    t.down_after = 1;
    t.degraded_after = 1;
    t.window = 1;
    t.recover_after = 1;
    t.flap_changes = 0;
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

/// An HTTP client that neither follows redirects nor decompresses.
pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEADLINE)
        .build()
        .expect("a client")
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
