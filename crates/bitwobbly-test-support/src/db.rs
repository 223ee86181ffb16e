//! A fresh database per test: a SQLite file in a temporary directory, or a uniquely named
//! PostgreSQL database on `127.0.0.1:5432` that is dropped afterwards (also when the test
//! panics), and [`both_backends!`](crate::both_backends) to run a test on each.
//!
//! The PostgreSQL server is `postgres://postgres@127.0.0.1:5432/postgres` (trust auth) unless
//! `BITWOBBLY_TEST_PG_URL` names another admin URL.
//!
//! ```ignore
//! let db = TestDatabase::create(Backend::Postgres, "api").await;
//! let store = Store::open(db.url()).await?;
//! // ... the test ...
//! store.close().await;
//! db.finish().await;
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection as _;

/// The environment variable that overrides the PostgreSQL admin URL.
pub const PG_URL_VAR: &str = "BITWOBBLY_TEST_PG_URL";

/// The PostgreSQL admin URL used when [`PG_URL_VAR`] is not set.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database of its own on the PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Both backends, SQLite first.
    pub const ALL: [Self; 2] = [Self::Sqlite, Self::Postgres];
}

/// The PostgreSQL admin URL: `$BITWOBBLY_TEST_PG_URL`, or [`DEFAULT_PG_URL`].
pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_VAR).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// `url` with its database (the last path segment) replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("a PostgreSQL URL that names a database");
    format!("{base}/{db}")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this process or another) uses: `bw_<prefix>_<pid>_<n>_<nanos>`.
fn unique_name(prefix: &str) -> String {
    assert!(
        !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "a database name prefix is lowercase letters, digits and '_': {prefix:?}"
    );
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "bw_{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    )
}

/// A database made for one test, and a temporary directory that lives as long as it.
///
/// Call [`TestDatabase::finish`] at the end of the test, after closing every pool on it; a
/// test that panics before that still has its PostgreSQL database dropped, by `Drop`.
#[derive(Debug)]
pub struct TestDatabase {
    backend: Backend,
    url: String,
    dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDatabase {
    /// Makes a database on `backend`. For PostgreSQL, a database named
    /// `bw_<prefix>_<pid>_<n>_<nanos>` is created (`prefix`: lowercase letters, digits, `_`);
    /// for SQLite, only the URL of a file in the temporary directory is chosen (whoever opens
    /// it creates it).
    ///
    /// # Panics
    /// When the PostgreSQL server cannot be reached or refuses to create the database.
    pub async fn create(backend: Backend, prefix: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    backend,
                    url,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = unique_name(prefix);
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL is needed for these tests at {admin} (set {PG_URL_VAR} to use another): {e}"));
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("create the test database {name}: {e}"));
                conn.close().await.ok();
                Self {
                    backend,
                    url: with_database(&admin, &name),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL: `sqlite://<dir>/test.db` or `postgres://…/<name>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL when this is a PostgreSQL database (`None` for SQLite), for a server that
    /// keeps its SQLite file in its own data directory.
    pub fn postgres_url(&self) -> Option<&str> {
        self.pg_name.as_ref().map(|_| self.url.as_str())
    }

    /// The PostgreSQL database's name (`None` for SQLite).
    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }

    /// The temporary directory (holding the SQLite file, if any); removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs one SQL statement on the database over a connection of its own (for rows as
    /// another version wrote them, say).
    ///
    /// # Panics
    /// When the connection or the statement fails.
    pub async fn execute(&self, sql: &str) {
        let done = match self.backend {
            Backend::Sqlite => execute_on::<sqlx::SqliteConnection>(&self.url, sql).await,
            Backend::Postgres => execute_on::<sqlx::PgConnection>(&self.url, sql).await,
        };
        if let Err(e) = done {
            panic!("{sql}: {e}");
        }
    }

    /// Reads one value (`SELECT count(*) ...`, say) over a connection of its own.
    ///
    /// # Panics
    /// When the connection or the query fails, or it gives no row or another type.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'r> sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send
            + Unpin,
    {
        let got = match self.backend {
            Backend::Sqlite => match sqlx::SqliteConnection::connect(&self.url).await {
                Ok(mut c) => {
                    sqlx::query_scalar::<sqlx::Sqlite, T>(sqlx::AssertSqlSafe(sql.to_owned()))
                        .fetch_one(&mut c)
                        .await
                }
                Err(e) => Err(e),
            },
            Backend::Postgres => match sqlx::PgConnection::connect(&self.url).await {
                Ok(mut c) => {
                    sqlx::query_scalar::<sqlx::Postgres, T>(sqlx::AssertSqlSafe(sql.to_owned()))
                        .fetch_one(&mut c)
                        .await
                }
                Err(e) => Err(e),
            },
        };
        got.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Drops the PostgreSQL database (even with connections still open) and removes the
    /// temporary directory.
    pub async fn finish(mut self) {
        if let Some(name) = self.pg_name.take() {
            drop_pg(&name).await;
        }
    }
}

/// Runs `sql` over a new connection of type `C` to `url`.
async fn execute_on<C>(url: &str, sql: &str) -> Result<(), sqlx::Error>
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    use sqlx::Executor as _;
    let mut conn = C::connect(url).await?;
    let done = conn
        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
        .await
        .map(drop);
    conn.close().await.ok();
    done
}

async fn drop_pg(name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        conn.close().await.ok();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // A test that failed never reached `finish`: drop its database from a thread with a
        // runtime of its own (this may run inside the test's runtime, which cannot block).
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

/// Declares two modules, `sqlite` and `postgres`, with one `#[tokio::test]` (multi-threaded,
/// two workers) per listed function of the enclosing module; each test calls
/// `$run(Backend::Sqlite | Backend::Postgres, super::$name).await`.
///
/// `$run` is the harness's runner, an `async fn(Backend, impl AsyncFnOnce(…))` that makes the
/// database, hands the test what it takes (a store, a fixture), and cleans up; give it as an
/// absolute path (`crate::harness::run`).
///
/// ```ignore
/// async fn creates_a_monitor(store: Store) { /* ... */ }
/// bitwobbly_test_support::both_backends!(crate::harness::with_store; creates_a_monitor);
/// ```
#[macro_export]
macro_rules! both_backends {
    ($run:path; $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $run($crate::db::Backend::Sqlite, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $run($crate::db::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pg_exists(name: &str) -> bool {
        let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
            .await
            .expect("connect to PostgreSQL");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .expect("count databases");
        conn.close().await.ok();
        n == 1
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_databases_are_unique_usable_and_dropped_by_finish() {
        let a = TestDatabase::create(Backend::Postgres, "support").await;
        let b = TestDatabase::create(Backend::Postgres, "support").await;
        let name = a.pg_name().expect("a name").to_owned();
        assert_ne!(a.pg_name(), b.pg_name());
        assert!(name.starts_with("bw_support_"), "{name}");
        assert_eq!(a.postgres_url(), Some(a.url()));
        assert!(a.url().ends_with(&format!("/{name}")), "{}", a.url());
        assert!(pg_exists(&name).await);
        a.execute("CREATE TABLE t (x integer)").await;
        a.execute("INSERT INTO t VALUES (1)").await;
        a.finish().await;
        assert!(!pg_exists(&name).await, "finish drops the database");
        b.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_postgres_database_is_dropped_when_the_test_panics() {
        let db = TestDatabase::create(Backend::Postgres, "support").await;
        let name = db.pg_name().expect("a name").to_owned();
        let task = tokio::task::spawn_blocking(move || {
            let _db = db;
            panic!("the test fails before finish");
        });
        assert!(task.await.expect_err("the task panics").is_panic());
        assert!(!pg_exists(&name).await, "drop removes the database");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_is_a_file_in_the_temporary_directory() {
        let db = TestDatabase::create(Backend::Sqlite, "support").await;
        let file = db.dir().join("test.db");
        assert_eq!(db.url(), format!("sqlite://{}", file.display()));
        assert_eq!((db.postgres_url(), db.pg_name()), (None, None));
        std::fs::File::create(&file).expect("create the file");
        db.execute("CREATE TABLE t (x integer)").await;
        db.execute("INSERT INTO t VALUES (1)").await;
        let dir = db.dir().to_owned();
        db.finish().await;
        assert!(!dir.exists(), "finish removes the directory");
    }

    #[test]
    #[should_panic(expected = "lowercase letters")]
    fn prefixes_are_checked() {
        let _ = unique_name("Bad-Prefix");
    }
}
