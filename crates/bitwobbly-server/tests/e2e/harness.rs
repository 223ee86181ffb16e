//! A fresh database per test (SQLite in a temporary directory, or a uniquely named
//! PostgreSQL database dropped afterwards), a server on it, and the macro that runs a test
//! on both backends.

use std::time::Duration;

use bitwobbly_server::Config;
use bitwobbly_server::server::Server;
use bitwobbly_store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long any awaited condition may take before a test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

pub(crate) use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::db::TestDatabase;

/// A database made for one test, and a data directory.
pub(crate) struct TestDb {
    db: TestDatabase,
}

impl TestDb {
    pub(crate) async fn new(backend: Backend) -> Self {
        Self {
            db: TestDatabase::create(backend, "e2e").await,
        }
    }

    /// A configuration for a server on this database: port 0, fast polling, quiet.
    pub(crate) fn config(&self) -> Config {
        let mut c = Config::default();
        c.listen = "127.0.0.1:0".parse().expect("address");
        c.data_dir = self.db.dir().join("data");
        c.database_url = self.db.postgres_url().map(str::to_owned);
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

    pub(crate) async fn finish(self) {
        self.db.finish().await;
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

/// Runs one test body on a backend (the runner [`both`] hands each test to).
pub(crate) async fn run<F: Future<Output = ()>>(backend: Backend, test: impl FnOnce(Backend) -> F) {
    test(backend).await;
}

/// Runs each listed `async fn(Backend)` of the enclosing module on SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!($crate::harness::run; $($name),+);
    };
}
pub(crate) use both;
