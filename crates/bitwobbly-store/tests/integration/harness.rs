//! Fresh databases per test, and the macro that runs a test on every backend.

use std::sync::atomic::{AtomicU32, Ordering};

use std::time::Duration;

use bitwobbly_core::{CheckSpec, HeartbeatPolicy, HttpSpec, Schedule, Thresholds};
use bitwobbly_store::prelude::*;

/// A database made for one test; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn pg_admin_url() -> String {
    std::env::var("BITWOBBLY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("postgres url with a database");
    format!("{base}/{db}")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::open(&url).await.expect("open sqlite");
        Self {
            store,
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub(crate) async fn postgres() -> Self {
        use sqlx::Connection as _;
        let admin = pg_admin_url();
        let name = format!(
            "bw_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            Timestamp::from(time::OffsetDateTime::now_utc()).as_millis() % 1_000_000
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL is needed for the conformance suite at {admin}: {e}")
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let url = with_database(&admin, &name);
        let store = Store::open_with(&url, StoreOptions::default().max_connections(8))
            .await
            .expect("open postgres");
        Self {
            store,
            url,
            pg_name: Some(name),
            _dir: None,
        }
    }

    /// Runs one SQL statement on the test database over a connection of its own, outside
    /// the store (to set up rows as an older version wrote them).
    pub(crate) async fn execute(&self, sql: &str) {
        use sqlx::Connection as _;
        if self.pg_name.is_some() {
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .expect("raw statement");
            c.close().await.ok();
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .expect("raw statement");
            c.close().await.ok();
        }
    }

    pub(crate) async fn finish(mut self) {
        self.store.close().await;
        if let Some(name) = self.pg_name.take() {
            drop_pg(&name).await;
        }
    }
}

async fn drop_pg(name: &str) {
    use sqlx::Connection as _;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A failed test never reached `finish`: drop its database from a helper thread.
        if let Some(name) = self.pg_name.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_pg(&name));
                }
            })
            .join();
        }
    }
}

/// Runs each listed `async fn(Store)` of the enclosing module on SQLite and on PostgreSQL.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::harness::TestDb::sqlite().await;
                    super::$name(db.store.clone()).await;
                    db.finish().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::harness::TestDb::postgres().await;
                    super::$name(db.store.clone()).await;
                    db.finish().await;
                }
            )+
        }
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
