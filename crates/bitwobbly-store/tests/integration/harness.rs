//! Fresh databases per test, and the macro that runs a test on every backend.

use std::time::Duration;

use bitwobbly_core::{CheckSpec, HeartbeatPolicy, HttpSpec, Schedule, Thresholds};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};

/// A store on a database made for one test; dropped (PostgreSQL) or deleted (SQLite)
/// afterwards.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    db: TestDatabase,
}

impl TestDb {
    pub(crate) async fn new(backend: Backend) -> Self {
        let db = TestDatabase::create(backend, "test").await;
        let store = Store::open(db.url()).await.expect("open the store");
        Self { store, db }
    }

    /// Runs one SQL statement on the test database over a connection of its own, outside
    /// the store (to set up rows as an older version wrote them).
    pub(crate) async fn execute(&self, sql: &str) {
        self.db.execute(sql).await;
    }

    pub(crate) async fn finish(self) {
        self.store.close().await;
        self.db.finish().await;
    }
}

/// Runs `test` on a fresh database of `backend`, handing it the store.
pub(crate) async fn with_store(backend: Backend, test: impl AsyncFnOnce(Store)) {
    let db = TestDb::new(backend).await;
    test(db.store.clone()).await;
    db.finish().await;
}

/// Runs `test` on a fresh database of `backend`, handing it the database.
pub(crate) async fn with_db(backend: Backend, test: impl AsyncFnOnce(&TestDb)) {
    let db = TestDb::new(backend).await;
    test(&db).await;
    db.finish().await;
}

/// Runs each listed `async fn(Store)` of the enclosing module on SQLite and on PostgreSQL.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!(crate::harness::with_store; $($name),+);
    };
}
pub(crate) use conformance;

/// A fixed "now" for tests: 2024-01-01T00:00:00Z.
pub(crate) const T0: Timestamp = Timestamp::from_millis(1_704_067_200_000);

/// `T0` plus `secs` seconds.
pub(crate) fn at(secs: i64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + secs * 1000)
}

pub(crate) fn http_monitor(name: &str) -> NewMonitor {
    NewMonitor {
        key: None,
        name: name.to_owned(),
        spec: CheckSpec::Http(HttpSpec::get("http://127.0.0.1:9/health")),
        schedule: Schedule::Interval(Duration::from_secs(60)),
        thresholds: Thresholds::default(),
        parent_id: None,
        paused: false,
        locations: vec![],
        quorum: Default::default(),
    }
}

/// A heartbeat monitor expecting a ping every `period_secs`, one minute of grace.
pub(crate) fn heartbeat_monitor(name: &str, period_secs: u64) -> NewMonitor {
    NewMonitor {
        spec: CheckSpec::Heartbeat(HeartbeatPolicy::every(
            Duration::from_secs(period_secs),
            Duration::from_secs(60),
        )),
        ..http_monitor(name)
    }
}

/// An HTTP monitor with a configuration key.
pub(crate) fn keyed_monitor(name: &str, key: &str) -> NewMonitor {
    NewMonitor {
        key: Some(key.to_owned()),
        ..http_monitor(name)
    }
}

/// An automatic, major "API down" incident on `monitor`, opened at `T0`.
pub(crate) fn api_down(monitor: MonitorId) -> NewIncident {
    NewIncident {
        monitor_id: Some(monitor),
        kind: IncidentKind::Automatic,
        title: "API down".into(),
        status: IncidentStatus::Investigating,
        impact: Impact::Major,
        message: "3 failures".into(),
        started_at: T0,
    }
}

/// An "incident.opened" notification for `channel`, due at `at`.
pub(crate) fn note(channel: ChannelId, at: Timestamp) -> NewNotification {
    NewNotification {
        channel_id: channel,
        event: "incident.opened".into(),
        payload: serde_json::json!({ "title": "API down", "n": 1 }),
        not_before: at,
    }
}

pub(crate) async fn workspace(store: &Store, slug: &str) -> WorkspaceId {
    store
        .global()
        .create_workspace(slug, slug, T0)
        .await
        .expect("workspace")
        .id
}

pub(crate) fn result(
    monitor: MonitorId,
    at: Timestamp,
    status: CheckStatus,
    total_us: i64,
) -> NewCheckResult {
    NewCheckResult {
        monitor_id: monitor,
        location: String::new(),
        started_at: at,
        status,
        timings: PhaseTimes {
            total_us,
            ttfb_us: total_us / 2,
            ..PhaseTimes::default()
        },
        http_status: (status != CheckStatus::Down).then_some(200),
        error_kind: (status == CheckStatus::Down).then(|| "connect_refused".to_owned()),
        message: None,
    }
}

pub(crate) async fn webhook(store: &Store, ws: WorkspaceId) -> Channel {
    store
        .workspace(ws)
        .create_channel(
            &NewChannel {
                key: None,
                name: "hook".into(),
                kind: ChannelKind::Webhook,
                config: serde_json::json!({ "url": "http://127.0.0.1:9/hook" }),
                enabled: true,
            },
            T0,
        )
        .await
        .expect("channel")
}

/// Spawns a task on the test runtime (tests only: the lint is for production code).
#[allow(clippy::disallowed_methods)]
pub(crate) fn spawn<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(f)
}

/// A state machine that has seen two failures at `T0` (down with the default thresholds).
pub(crate) fn machine_down() -> bitwobbly_core::MonitorState {
    use bitwobbly_core::state::Context;
    use bitwobbly_core::{MonitorState, Outcome};
    let mut m = MonitorState::new();
    let t = Thresholds::default();
    for _ in 0..2 {
        let _ = m.observe(
            &t,
            &Outcome::down("connection refused"),
            Context::new(),
            T0.to_datetime(),
        );
    }
    m
}
