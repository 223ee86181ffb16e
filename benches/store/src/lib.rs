//! Fixtures for the storage benchmarks (`cargo bench -p bench-store`).
//!
//! PostgreSQL benches connect to the server at `BITWOBBLY_BENCH_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), create a database of their own with `psql`
//! and drop it afterwards. Set `BITWOBBLY_BENCH_SKIP_PG=1` to run the SQLite ones only.

use bitwobbly_core::{CheckSpec, HttpSpec, Schedule, Thresholds};
use bitwobbly_store::prelude::*;

/// 2024-01-01T00:00:00Z: the benches' fixed clock.
pub const T0: Timestamp = Timestamp::from_millis(1_704_067_200_000);

/// A PostgreSQL database made for one bench, dropped on drop.
#[derive(Debug)]
pub struct PgBenchDb {
    admin: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

fn psql(admin: &str, sql: &str) -> bool {
    std::process::Command::new("psql")
        .args([admin, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl PgBenchDb {
    /// Creates a fresh database, unless PostgreSQL benches are switched off.
    ///
    /// # Panics
    /// If `psql` cannot create the database.
    pub fn create(tag: &str) -> Option<Self> {
        if std::env::var_os("BITWOBBLY_BENCH_SKIP_PG").is_some() {
            return None;
        }
        let admin = std::env::var("BITWOBBLY_BENCH_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("bw_bench_{tag}_{}", std::process::id());
        psql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        assert!(
            psql(&admin, &format!("CREATE DATABASE {name}")),
            "psql could not create {name} at {admin} (set BITWOBBLY_BENCH_SKIP_PG=1 to skip)"
        );
        let (base, _) = admin
            .rsplit_once('/')
            .expect("a postgres url with a database");
        let url = format!("{base}/{name}");
        Some(Self { admin, name, url })
    }
}

impl Drop for PgBenchDb {
    fn drop(&mut self) {
        psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A store under benchmark, with one workspace of `monitors` monitors.
#[derive(Debug)]
pub struct Fixture {
    /// The store.
    pub store: Store,
    /// The workspace.
    pub ws: WorkspaceId,
    /// Its monitors.
    pub monitors: Vec<MonitorId>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    /// A fresh SQLite file in a temporary directory.
    ///
    /// # Panics
    /// If the store cannot be set up.
    pub async fn sqlite(monitors: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = Store::open(&url).await.expect("open sqlite");
        Self::populate(store, monitors, Some(dir)).await
    }

    /// A workspace in the PostgreSQL database at `url`.
    ///
    /// # Panics
    /// If the store cannot be set up.
    pub async fn postgres(url: &str, monitors: usize) -> Self {
        let store = Store::open(url).await.expect("open postgres");
        Self::populate(store, monitors, None).await
    }

    async fn populate(store: Store, monitors: usize, dir: Option<tempfile::TempDir>) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let slug = format!("bench-{}-{nanos}", std::process::id());
        let ws = store
            .global()
            .create_workspace(&slug, "bench", T0)
            .await
            .expect("workspace")
            .id;
        let mut ids = Vec::with_capacity(monitors);
        for i in 0..monitors {
            let m = store
                .workspace(ws)
                .create_monitor(&monitor(&format!("m{i}")), T0)
                .await
                .expect("monitor");
            ids.push(m.id);
        }
        Self {
            store,
            ws,
            monitors: ids,
            _dir: dir,
        }
    }

    /// Deletes the workspace (and so everything the bench wrote).
    ///
    /// # Panics
    /// If deletion fails.
    pub async fn cleanup(self) {
        self.store
            .global()
            .delete_workspace(self.ws)
            .await
            .expect("delete bench workspace");
        self.store.close().await;
    }
}

/// An HTTP monitor every minute.
pub fn monitor(name: &str) -> NewMonitor {
    NewMonitor {
        key: None,
        name: name.to_owned(),
        spec: CheckSpec::Http(HttpSpec::get("http://127.0.0.1:9/")),
        schedule: Schedule::Interval(std::time::Duration::from_secs(60)),
        thresholds: Thresholds::default(),
        parent_id: None,
        paused: false,
        locations: vec![],
        quorum: Default::default(),
    }
}

/// `n` results spread over `monitors`, starting at `start`, one per monitor per `step_ms`.
pub fn results(
    monitors: &[MonitorId],
    start: Timestamp,
    step_ms: i64,
    n: usize,
) -> Vec<NewCheckResult> {
    (0..n)
        .map(|i| {
            let m = monitors[i % monitors.len()];
            let round = (i / monitors.len()) as i64;
            let status = match i % 50 {
                0 => CheckStatus::Down,
                1 => CheckStatus::Degraded,
                _ => CheckStatus::Up,
            };
            let total = 20_000 + (i as i64 * 7919) % 180_000;
            NewCheckResult {
                monitor_id: m,
                location: String::new(),
                started_at: Timestamp::from_millis(start.as_millis() + round * step_ms),
                status,
                timings: PhaseTimes {
                    dns_us: 1_000,
                    connect_us: 2_000,
                    tls_us: 5_000,
                    ttfb_us: total - 9_000,
                    transfer_us: 1_000,
                    total_us: total,
                },
                http_status: (status != CheckStatus::Down).then_some(200),
                error_kind: (status == CheckStatus::Down).then(|| "timeout".to_owned()),
                message: None,
            }
        })
        .collect()
}
