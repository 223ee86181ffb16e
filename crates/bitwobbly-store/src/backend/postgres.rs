//! PostgreSQL: a connection pool; work queues use `FOR UPDATE SKIP LOCKED`.

use sqlx::postgres::PgPoolOptions;

use crate::error::Result;
use crate::store::StoreOptions;

pub(crate) type Db = sqlx::Postgres;
pub(crate) type DbConn = sqlx::PgConnection;
/// The dialect switch read by the shared operations.
pub(crate) const PG: bool = true;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

// The same operations compile once per backend, on purpose: see `ops/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(crate) mod ops;

pub(crate) async fn connect(url: &str, o: &StoreOptions) -> Result<sqlx::PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(o.max_connections.unwrap_or(10))
        .acquire_timeout(o.acquire_timeout)
        .connect(url)
        .await?)
}

/// Opens a transaction, or a savepoint inside a running one.
pub(crate) async fn begin_write(c: &mut DbConn) -> Result<sqlx::Transaction<'_, Db>> {
    use sqlx::Connection as _;
    Ok(c.begin().await?)
}

/// Inserts a batch of results with one `INSERT ... SELECT FROM UNNEST(...)` statement (one
/// array parameter per column); the caller holds the transaction.
pub(crate) async fn insert_result_rows(
    c: &mut DbConn,
    ws: crate::types::WorkspaceId,
    batch: &[crate::model::NewCheckResult],
) -> Result<u64> {
    let n = batch.len();
    let mut monitor = Vec::with_capacity(n);
    let mut location = Vec::with_capacity(n);
    let mut started = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut dns = Vec::with_capacity(n);
    let mut connect = Vec::with_capacity(n);
    let mut tls = Vec::with_capacity(n);
    let mut ttfb = Vec::with_capacity(n);
    let mut transfer = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    let mut http = Vec::with_capacity(n);
    let mut error_kind = Vec::with_capacity(n);
    let mut message = Vec::with_capacity(n);
    for r in batch {
        monitor.push(r.monitor_id.0);
        location.push(r.location.as_str());
        started.push(r.started_at.as_millis());
        status.push(r.status.as_str());
        dns.push(r.timings.dns_us);
        connect.push(r.timings.connect_us);
        tls.push(r.timings.tls_us);
        ttfb.push(r.timings.ttfb_us);
        transfer.push(r.timings.transfer_us);
        total.push(r.timings.total_us);
        http.push(r.http_status.map(i64::from));
        error_kind.push(r.error_kind.as_deref());
        message.push(r.message.as_deref());
    }
    let done = sqlx::query::<Db>(
        "INSERT INTO check_results (workspace_id, monitor_id, location, started_at, status, \
         dns_us, connect_us, tls_us, ttfb_us, transfer_us, total_us, http_status, error_kind, \
         message) \
         SELECT $1, * FROM UNNEST($2::int8[], $3::text[], $4::int8[], $5::text[], $6::int8[], \
           $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], \
           $13::text[], $14::text[])",
    )
    .bind(ws)
    .bind(monitor)
    .bind(location)
    .bind(started)
    .bind(status)
    .bind(dns)
    .bind(connect)
    .bind(tls)
    .bind(ttfb)
    .bind(transfer)
    .bind(total)
    .bind(http)
    .bind(error_kind)
    .bind(message)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected())
}

/// One row per monitor: its daily counts in `[from, to)` packed as `day:up:degraded:down,...`.
/// The monitors go in as one array parameter.
pub(crate) async fn packed_uptime_rows(
    c: &mut DbConn,
    ws: crate::types::WorkspaceId,
    monitors: &[crate::types::MonitorId],
    from: crate::types::Timestamp,
    to: crate::types::Timestamp,
) -> Result<Vec<(crate::types::MonitorId, String)>> {
    let ids: Vec<i64> = monitors.iter().map(|m| m.0).collect();
    Ok(sqlx::query_as::<Db, (crate::types::MonitorId, String)>(
        "SELECT monitor_id, string_agg(bucket_start::text || ':' || up::text || ':' \
         || degraded::text || ':' || down::text, ',') FROM rollups_daily \
         WHERE workspace_id = $1 AND monitor_id = ANY($2) AND bucket_start >= $3 \
         AND bucket_start < $4 GROUP BY monitor_id ORDER BY monitor_id",
    )
    .bind(ws)
    .bind(ids)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?)
}
