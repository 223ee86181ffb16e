//! A fresh database per test (SQLite in a temporary directory, or a uniquely named
//! PostgreSQL database dropped afterwards), a server on it, and the macro that runs a test
//! on both backends.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bitwobbly_server::Config;
use bitwobbly_server::server::Server;
use bitwobbly_store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long any awaited condition may take before a test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

fn pg_admin_url() -> String {
    std::env::var("BITWOBBLY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database made for one test, and a data directory.
pub(crate) struct TestDb {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) database_url: Option<String>,
    pg_name: Option<String>,
}

impl TestDb {
    pub(crate) async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Self {
                dir,
                database_url: None,
                pg_name: None,
            },
            Backend::Postgres => {
                use sqlx::Connection as _;
                let admin = pg_admin_url();
                let name = format!(
                    "bw_e2e_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
                );
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL is needed at {admin}: {e}"));
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create the test database");
                conn.close().await.ok();
                let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
                Self {
                    dir,
                    database_url: Some(format!("{base}/{name}")),
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A configuration for a server on this database: port 0, fast polling, quiet.
    pub(crate) fn config(&self) -> Config {
        let mut c = Config::default();
        c.listen = "127.0.0.1:0".parse().expect("address");
        c.data_dir = self.dir.path().join("data");
        c.database_url.clone_from(&self.database_url);
        c.shutdown_grace = Duration::from_secs(5);
        c.scheduler.poll_interval = Duration::from_millis(100);
        c.notifier.poll_interval = Duration::from_millis(100);
        c
    }

    /// The store of this database (opened like the server opens it).
    pub(crate) async fn store(&self) -> Store {
        bitwobbly_server::server::open_store(&self.config())
            .await
            .expect("open the store")
    }

    pub(crate) async fn finish(mut self) {
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

/// A server running in this process until [`Running::stop`].
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) setup_url: Option<String>,
    pub(crate) state: bitwobbly_server::AppState,
    stop: Option<oneshot::Sender<()>>,
    tasks: JoinSet<Result<(), bitwobbly_server::server::ServerError>>,
}

impl Running {
    pub(crate) async fn start(config: Config) -> Self {
        let server = Server::bind(config).await.expect("the server binds");
        let base = format!("http://{}", server.local_addr());
        let setup_url = server.setup_url().map(str::to_owned);
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut tasks = JoinSet::new();
        tasks.spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            setup_url,
            state,
            stop: Some(stop),
            tasks,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Shuts the server down gracefully and waits for it.
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
    }
}

/// An HTTP client that neither follows redirects nor decompresses.
pub(crate) fn client() -> reqwest::Client {
    // reqwest is built without a default TLS provider; plain HTTP needs none, but the
    // builder wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEADLINE)
        .build()
        .expect("a client")
}

/// The API error shape's `code`, asserting the shape.
#[track_caller]
pub(crate) fn error_code(body: &serde_json::Value) -> String {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not the error shape: {body}"));
    assert!(body["error"]["message"].is_string(), "{body}");
    code.to_owned()
}

/// Runs each listed `async fn(Backend)` of the enclosing module on SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Postgres).await;
                }
            )+
        }
    };
}
pub(crate) use both;
