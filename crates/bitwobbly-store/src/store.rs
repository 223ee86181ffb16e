//! The [`Store`] handle, transactions ([`Tx`]) and the scopes that the traits are implemented on.

use std::fmt;
use std::time::Duration;

use crate::error::{Result, StoreError};
use crate::types::WorkspaceId;

/// How hard SQLite works to keep committed transactions across a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SqliteDurability {
    /// `synchronous=NORMAL` in WAL mode: a committed transaction survives a killed process; a
    /// power loss may lose the last transactions committed before it, never corrupting the file.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced before it returns, so it survives power loss.
    Full,
}

/// Options for [`Store::open_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Largest number of pooled connections. Default: 4 for SQLite, 10 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// Apply the embedded migrations on open. Default: `true`.
    pub migrate: bool,
    /// SQLite only: commit durability. Default: [`SqliteDurability::Normal`].
    pub sqlite_durability: SqliteDurability,
    /// SQLite only: how long a writer waits for the write lock. Default: 5 s.
    pub busy_timeout: Duration,
    /// How long to wait for a free pooled connection. Default: 30 s.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            migrate: true,
            sqlite_durability: SqliteDurability::Normal,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

impl StoreOptions {
    /// Sets the pool size.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// Whether to migrate on open.
    pub fn migrate(mut self, on: bool) -> Self {
        self.migrate = on;
        self
    }

    /// Sets SQLite's commit durability.
    pub fn sqlite_durability(mut self, d: SqliteDurability) -> Self {
        self.sqlite_durability = d;
        self
    }
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// A handle on the database: a connection pool for SQLite or PostgreSQL. Cheap to clone.
///
/// Work happens through scopes: [`Store::workspace`] for everything a workspace owns (the
/// workspace id is fixed in the scope, so no method can forget it) and [`Store::global`] for
/// what is not owned by one workspace (accounts, and the work queues that nodes claim from).
/// [`Store::begin`] opens a [`Tx`] with the same two scopes, to commit several changes at once.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `url` with default options, applying migrations.
    ///
    /// `sqlite://path/to/file.db` (created if missing), `sqlite::memory:`, or
    /// `postgres://user@host/db` (also `postgresql://`).
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`], [`StoreError::BackendDisabled`], or a database or
    /// migration error.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, StoreOptions::default()).await
    }

    /// Opens the database at `url` with `options`.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        let store = match scheme {
            "sqlite" => {
                #[cfg(feature = "sqlite")]
                {
                    Self {
                        backend: Backend::Sqlite(
                            crate::backend::sqlite::connect(url, &options).await?,
                        ),
                    }
                }
                #[cfg(not(feature = "sqlite"))]
                return Err(StoreError::BackendDisabled { backend: "sqlite" });
            }
            "postgres" | "postgresql" => {
                #[cfg(feature = "postgres")]
                {
                    Self {
                        backend: Backend::Postgres(
                            crate::backend::postgres::connect(url, &options).await?,
                        ),
                    }
                }
                #[cfg(not(feature = "postgres"))]
                return Err(StoreError::BackendDisabled {
                    backend: "postgres",
                });
            }
            other => {
                return Err(StoreError::UnsupportedUrl {
                    scheme: other.to_owned(),
                });
            }
        };
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies the embedded migrations of this backend (idempotent).
    ///
    /// # Errors
    /// [`StoreError::Migrate`].
    pub async fn migrate(&self) -> Result<()> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => crate::backend::sqlite::MIGRATOR.run(pool).await?,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => crate::backend::postgres::MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// The versions of this backend's embedded migrations that the database has not applied
    /// (successfully); empty when the schema is current. Used by readiness checks.
    ///
    /// # Errors
    /// [`StoreError::Database`] if the database cannot be asked.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>> {
        // No bookkeeping table yet means nothing is applied.
        fn versions(rows: std::result::Result<Vec<(i64,)>, sqlx::Error>) -> Result<Vec<i64>> {
            match rows {
                Ok(rows) => Ok(rows.into_iter().map(|(v,)| v).collect()),
                Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => {
                    Ok(Vec::new())
                }
                Err(e) => Err(StoreError::Database(e)),
            }
        }
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success = TRUE";
        let (done, migrator) = match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => (
                versions(sqlx::query_as(APPLIED).fetch_all(pool).await)?,
                &crate::backend::sqlite::MIGRATOR,
            ),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => (
                versions(sqlx::query_as(APPLIED).fetch_all(pool).await)?,
                &crate::backend::postgres::MIGRATOR,
            ),
        };
        Ok(migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !done.contains(v))
            .collect())
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => BackendKind::Sqlite,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Everything `workspace` owns: monitors, results, incidents, pages, projects, ...
    pub fn workspace(&self, workspace: WorkspaceId) -> Scoped<&Self> {
        Scoped {
            src: self,
            ws: workspace,
        }
    }

    /// What belongs to no single workspace: accounts, and the queues nodes claim work from.
    pub fn global(&self) -> Global<&Self> {
        Global { src: self }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// there is one writer at a time and a transaction never fails half way for a lock.
    /// Dropping the [`Tx`] without [`Tx::commit`] rolls it back. An in-memory SQLite
    /// database has a single connection: do not use the `Store` itself while a `Tx` is open on
    /// it (the call would wait for the connection).
    ///
    /// # Errors
    /// A database error.
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => TxInner::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx { inner })
    }

    /// Closes every pooled connection (waits for those in use).
    pub async fn close(&self) {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => pool.close().await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

enum TxInner {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A unit of work: several operations that commit or roll back together, e.g. an incident
/// change and the outbox rows that announce it.
///
/// Use [`Tx::workspace`] and [`Tx::global`] exactly like the [`Store`] scopes.
pub struct Tx {
    inner: TxInner,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}

impl Tx {
    /// Everything `workspace` owns, inside this transaction.
    pub fn workspace(&mut self, workspace: WorkspaceId) -> Scoped<&mut Self> {
        Scoped {
            src: self,
            ws: workspace,
        }
    }

    /// The global scope, inside this transaction.
    pub fn global(&mut self) -> Global<&mut Self> {
        Global { src: self }
    }

    /// Commits.
    ///
    /// # Errors
    /// A database error; nothing was committed then.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            #[cfg(feature = "sqlite")]
            TxInner::Sqlite(tx) => tx.commit().await?,
            #[cfg(feature = "postgres")]
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls back (the same happens when a `Tx` is dropped).
    ///
    /// # Errors
    /// A database error.
    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            #[cfg(feature = "sqlite")]
            TxInner::Sqlite(tx) => tx.rollback().await?,
            #[cfg(feature = "postgres")]
            TxInner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// Internals that the public [`Source`] trait needs to name; not part of the API.
#[doc(hidden)]
pub mod __private {
    /// A connection held for one operation.
    #[allow(missing_debug_implementations)]
    pub enum Hold<'a> {
        /// From the SQLite pool.
        #[cfg(feature = "sqlite")]
        SqlitePooled(sqlx::pool::PoolConnection<sqlx::Sqlite>),
        /// Inside a SQLite transaction.
        #[cfg(feature = "sqlite")]
        SqliteTx(&'a mut sqlx::SqliteConnection),
        /// From the PostgreSQL pool.
        #[cfg(feature = "postgres")]
        PgPooled(sqlx::pool::PoolConnection<sqlx::Postgres>),
        /// Inside a PostgreSQL transaction.
        #[cfg(feature = "postgres")]
        PgTx(&'a mut sqlx::PgConnection),
    }

    pub(crate) enum Conn<'c> {
        #[cfg(feature = "sqlite")]
        Sqlite(&'c mut sqlx::SqliteConnection),
        #[cfg(feature = "postgres")]
        Postgres(&'c mut sqlx::PgConnection),
    }

    impl Hold<'_> {
        pub(crate) fn conn(&mut self) -> Conn<'_> {
            match self {
                #[cfg(feature = "sqlite")]
                Self::SqlitePooled(c) => Conn::Sqlite(&mut *c),
                #[cfg(feature = "sqlite")]
                Self::SqliteTx(c) => Conn::Sqlite(c),
                #[cfg(feature = "postgres")]
                Self::PgPooled(c) => Conn::Postgres(&mut *c),
                #[cfg(feature = "postgres")]
                Self::PgTx(c) => Conn::Postgres(c),
            }
        }
    }

    pub trait Sealed {}
}

/// Where a scope gets its connection: a [`Store`] (a pooled connection per operation) or a
/// [`Tx`] (the transaction's connection). Sealed: implemented by this crate only.
pub trait Source: __private::Sealed + Send {
    /// Takes a connection for one operation.
    #[doc(hidden)]
    fn hold(&mut self) -> impl Future<Output = Result<__private::Hold<'_>>> + Send;
}

impl __private::Sealed for &Store {}
impl __private::Sealed for Store {}
impl __private::Sealed for &mut Tx {}

async fn hold_from_pool(store: &Store) -> Result<__private::Hold<'static>> {
    use __private::Hold;
    Ok(match &store.backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite(pool) => Hold::SqlitePooled(pool.acquire().await?),
        #[cfg(feature = "postgres")]
        Backend::Postgres(pool) => Hold::PgPooled(pool.acquire().await?),
    })
}

impl Source for &Store {
    async fn hold(&mut self) -> Result<__private::Hold<'_>> {
        hold_from_pool(self).await
    }
}

impl Source for Store {
    async fn hold(&mut self) -> Result<__private::Hold<'_>> {
        hold_from_pool(self).await
    }
}

impl Source for &mut Tx {
    async fn hold(&mut self) -> Result<__private::Hold<'_>> {
        use __private::Hold;
        Ok(match &mut self.inner {
            #[cfg(feature = "sqlite")]
            TxInner::Sqlite(tx) => Hold::SqliteTx(tx),
            #[cfg(feature = "postgres")]
            TxInner::Postgres(tx) => Hold::PgTx(tx),
        })
    }
}

/// Operations on what one workspace owns. Made by [`Store::workspace`] or [`Tx::workspace`];
/// the traits in [`crate::api`] are implemented on it.
#[derive(Debug)]
pub struct Scoped<S> {
    pub(crate) src: S,
    pub(crate) ws: WorkspaceId,
}

impl<S> Scoped<S> {
    /// The workspace every operation is limited to.
    pub fn workspace_id(&self) -> WorkspaceId {
        self.ws
    }
}

/// Operations on what no single workspace owns. Made by [`Store::global`] or [`Tx::global`].
#[derive(Debug)]
pub struct Global<S> {
    pub(crate) src: S,
}

/// Runs `$body` with `$c` bound to the backend's connection and `$ops` to its operations module.
macro_rules! run {
    ($src:expr, |$c:ident, $ops:ident| $body:expr) => {{
        let mut hold = $crate::store::Source::hold(&mut $src).await?;
        match hold.conn() {
            #[cfg(feature = "sqlite")]
            $crate::store::__private::Conn::Sqlite($c) => {
                use $crate::backend::sqlite::ops as $ops;
                $body
            }
            #[cfg(feature = "postgres")]
            $crate::store::__private::Conn::Postgres($c) => {
                use $crate::backend::postgres::ops as $ops;
                $body
            }
        }
    }};
}
pub(crate) use run;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("bitwobbly-store needs at least one backend feature: `sqlite` or `postgres`");
