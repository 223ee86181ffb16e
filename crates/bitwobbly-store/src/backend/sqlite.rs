//! SQLite: one file in WAL mode, a small pool of connections, one writer at a time.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::Result;
use crate::store::{SqliteDurability, StoreOptions};

pub(crate) type Db = sqlx::Sqlite;
pub(crate) type DbConn = sqlx::SqliteConnection;
/// The dialect switch read by the shared operations.
pub(crate) const PG: bool = false;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

// The same operations compile once per backend, on purpose: see `ops/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(crate) mod ops;

pub(crate) async fn connect(url: &str, o: &StoreOptions) -> Result<sqlx::SqlitePool> {
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(if memory {
            SqliteJournalMode::Memory
        } else {
            SqliteJournalMode::Wal
        })
        .synchronous(match o.sqlite_durability {
            SqliteDurability::Full => SqliteSynchronous::Full,
            _ => SqliteSynchronous::Normal,
        })
        .foreign_keys(true)
        .busy_timeout(o.busy_timeout)
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-32000")
        .optimize_on_close(true, 400);
    let mut pool = SqlitePoolOptions::new().acquire_timeout(o.acquire_timeout);
    pool = if memory {
        // An in-memory database lives as long as its one connection.
        pool.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        pool.max_connections(o.max_connections.unwrap_or(4))
    };
    Ok(pool.connect_with(options).await?)
}

/// Opens a write transaction: `BEGIN IMMEDIATE` so the write lock is taken up front (one
/// writer at a time, no lock upgrade failures), or a savepoint inside a running transaction.
pub(crate) async fn begin_write(c: &mut DbConn) -> Result<sqlx::Transaction<'_, Db>> {
    use sqlx::Connection as _;
    if c.is_in_transaction() {
        Ok(c.begin().await?)
    } else {
        Ok(c.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Rows per multi-row `INSERT` (14 parameters each, under SQLite's 32766-parameter limit).
const RESULT_ROWS_PER_STATEMENT: usize = 500;

/// Inserts a batch of results with multi-row `INSERT`s; the caller holds the transaction.
pub(crate) async fn insert_result_rows(
    c: &mut DbConn,
    ws: crate::types::WorkspaceId,
    batch: &[crate::model::NewCheckResult],
) -> Result<u64> {
    let mut n = 0;
    for chunk in batch.chunks(RESULT_ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO check_results (workspace_id, monitor_id, location, started_at, status, \
             dns_us, connect_us, tls_us, ttfb_us, transfer_us, total_us, http_status, \
             error_kind, message) ",
        );
        q.push_values(chunk, |mut b, r| {
            let t = &r.timings;
            b.push_bind(ws)
                .push_bind(r.monitor_id)
                .push_bind(r.location.clone())
                .push_bind(r.started_at)
                .push_bind(r.status)
                .push_bind(t.dns_us)
                .push_bind(t.connect_us)
                .push_bind(t.tls_us)
                .push_bind(t.ttfb_us)
                .push_bind(t.transfer_us)
                .push_bind(t.total_us)
                .push_bind(r.http_status.map(i64::from))
                .push_bind(r.error_kind.clone())
                .push_bind(r.message.clone());
        });
        // One statement shape per batch size: not worth a slot in the statement cache.
        n += q
            .build()
            .persistent(false)
            .execute(&mut *c)
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// One row per monitor: its daily counts in `[from, to)` packed as `day:up:degraded:down,...`.
pub(crate) async fn packed_uptime_rows(
    c: &mut DbConn,
    ws: crate::types::WorkspaceId,
    monitors: &[crate::types::MonitorId],
    from: crate::types::Timestamp,
    to: crate::types::Timestamp,
) -> Result<Vec<(crate::types::MonitorId, String)>> {
    let mut q = sqlx::QueryBuilder::<Db>::new(
        "SELECT monitor_id, group_concat(bucket_start || ':' || up || ':' || degraded || ':' \
         || down, ',') FROM rollups_daily WHERE workspace_id = ",
    );
    q.push_bind(ws)
        .push(" AND bucket_start >= ")
        .push_bind(from)
        .push(" AND bucket_start < ")
        .push_bind(to)
        .push(" AND monitor_id IN (");
    let mut sep = q.separated(", ");
    for id in monitors {
        sep.push_bind(*id);
    }
    q.push(") GROUP BY monitor_id ORDER BY monitor_id");
    Ok(q.build_query_as().fetch_all(&mut *c).await?)
}
