//! Check results (batched writes, paged reads), rollups, compaction and retention.

use std::collections::BTreeMap;

use sqlx::{QueryBuilder, Row as _};

use super::{Db, DbConn, DbRow, PG, begin_write};
use crate::error::{Result, StoreError};
use crate::model::{
    CheckResult, CompactionReport, Cursor, DayUptime, NewCheckResult, Order, Page, PhaseTimes,
    ResultQuery, RetentionPolicy, Rollup,
};
use crate::sketch::LatencySketch;
use crate::types::*;

macro_rules! result_cols {
    () => {
        "id, workspace_id, monitor_id, location, started_at, status, dns_us, connect_us, tls_us, \
         ttfb_us, transfer_us, total_us, http_status, error_kind, message"
    };
}

macro_rules! rollup_cols {
    () => {
        "monitor_id, bucket_start, up, degraded, down, lat_min_us, lat_max_us, lat_sum_us, sketch"
    };
}

fn result_from_row(r: &DbRow) -> Result<CheckResult> {
    let http_status: Option<i64> = r.try_get("http_status")?;
    Ok(CheckResult {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        result: NewCheckResult {
            monitor_id: r.try_get("monitor_id")?,
            location: r.try_get("location")?,
            started_at: r.try_get("started_at")?,
            status: r.try_get("status")?,
            timings: PhaseTimes {
                dns_us: r.try_get("dns_us")?,
                connect_us: r.try_get("connect_us")?,
                tls_us: r.try_get("tls_us")?,
                ttfb_us: r.try_get("ttfb_us")?,
                transfer_us: r.try_get("transfer_us")?,
                total_us: r.try_get("total_us")?,
            },
            http_status: http_status.and_then(|s| u16::try_from(s).ok()),
            error_kind: r.try_get("error_kind")?,
            message: r.try_get("message")?,
        },
    })
}

fn rollup_from_row(r: &DbRow) -> Result<Rollup> {
    let sketch: Vec<u8> = r.try_get("sketch")?;
    Ok(Rollup {
        monitor_id: r.try_get("monitor_id")?,
        bucket_start: r.try_get("bucket_start")?,
        up: r.try_get("up")?,
        degraded: r.try_get("degraded")?,
        down: r.try_get("down")?,
        latency: LatencySketch::from_bytes(&sketch)?,
        min_us: r.try_get("lat_min_us")?,
        max_us: r.try_get("lat_max_us")?,
        sum_us: r.try_get("lat_sum_us")?,
    })
}

/// Checks that every monitor named in `ids` belongs to `ws`.
async fn check_owned(c: &mut DbConn, ws: WorkspaceId, ids: &[MonitorId]) -> Result<()> {
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for chunk in distinct.chunks(500) {
        let mut q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM monitors WHERE workspace_id = ");
        q.push_bind(ws).push(" AND id IN (");
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        // One statement shape per list length: not worth a slot in the statement cache.
        let found: i64 = q
            .build_query_scalar()
            .persistent(false)
            .fetch_one(&mut *c)
            .await?;
        if usize::try_from(found).ok() != Some(chunk.len()) {
            return Err(StoreError::not_found("monitor"));
        }
    }
    Ok(())
}

/// Writes a batch in one transaction (SQLite: multi-row inserts; PostgreSQL: one `UNNEST`
/// statement). Every monitor must belong to `ws`, or nothing is written.
pub(crate) async fn insert(
    c: &mut DbConn,
    ws: WorkspaceId,
    batch: &[NewCheckResult],
) -> Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<MonitorId> = batch.iter().map(|r| r.monitor_id).collect();
    let mut tx = begin_write(c).await?;
    check_owned(&mut tx, ws, &ids).await?;
    let n = super::super::insert_result_rows(&mut tx, ws, batch).await?;
    tx.commit().await?;
    Ok(n)
}

pub(crate) async fn query(
    c: &mut DbConn,
    ws: WorkspaceId,
    q: &ResultQuery,
) -> Result<Page<CheckResult>> {
    let limit = q.limit.clamp(1, 10_000);
    let sql = match q.order {
        Order::Ascending => concat!(
            "SELECT ",
            result_cols!(),
            " FROM check_results WHERE monitor_id = $1 AND workspace_id = $2 \
             AND started_at >= $3 AND started_at < $4 \
             AND (started_at > $5 OR (started_at = $5 AND id > $6)) \
             ORDER BY started_at, id LIMIT $7"
        ),
        Order::Descending => concat!(
            "SELECT ",
            result_cols!(),
            " FROM check_results WHERE monitor_id = $1 AND workspace_id = $2 \
             AND started_at >= $3 AND started_at < $4 \
             AND (started_at < $5 OR (started_at = $5 AND id < $6)) \
             ORDER BY started_at DESC, id DESC LIMIT $7"
        ),
    };
    let (cs, ci) = match (q.after, q.order) {
        (Some(cur), _) => (cur.started_at, cur.id),
        (None, Order::Ascending) => (i64::MIN, i64::MIN),
        (None, Order::Descending) => (i64::MAX, i64::MAX),
    };
    let rows = sqlx::query::<Db>(sql)
        .bind(q.monitor_id)
        .bind(ws)
        .bind(q.from)
        .bind(q.to)
        .bind(cs)
        .bind(ci)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *c)
        .await?;
    let mut items = rows
        .iter()
        .map(result_from_row)
        .collect::<Result<Vec<_>>>()?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(|r| Cursor {
            started_at: r.result.started_at.as_millis(),
            id: r.id.0,
        })
    } else {
        None
    };
    Ok(Page { items, next })
}

/// The newest result of every monitor of the workspace that has one.
pub(crate) async fn latest(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<CheckResult>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        result_cols!(),
        " FROM check_results WHERE id IN (SELECT (SELECT r.id FROM check_results r \
           WHERE r.monitor_id = m.id ORDER BY r.started_at DESC, r.id DESC LIMIT 1) \
           FROM monitors m WHERE m.workspace_id = $1) \
         AND workspace_id = $1 ORDER BY monitor_id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(result_from_row).collect()
}

pub(crate) async fn rollups(
    c: &mut DbConn,
    ws: WorkspaceId,
    daily: bool,
    monitor: MonitorId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Rollup>> {
    macro_rules! select {
        ($table:literal) => {
            concat!(
                "SELECT ",
                rollup_cols!(),
                " FROM ",
                $table,
                " WHERE workspace_id = $1 AND monitor_id = $2 \
                 AND bucket_start >= $3 AND bucket_start < $4 ORDER BY bucket_start"
            )
        };
    }
    let sql = if daily {
        select!("rollups_daily")
    } else {
        select!("rollups_hourly")
    };
    let rows = sqlx::query::<Db>(sql)
        .bind(ws)
        .bind(monitor)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(rollup_from_row).collect()
}

/// Daily counts of many monitors over `[from, to)`: one indexed query returning one row per
/// monitor (its days packed as `day:up:degraded:down` text by the backend), so that a 90-day
/// bar for a page of monitors costs a few dozen rows instead of thousands.
pub(crate) async fn uptime_days(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitors: &[MonitorId],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<DayUptime>> {
    if monitors.is_empty() {
        return Ok(Vec::new());
    }
    let rows = super::super::packed_uptime_rows(c, ws, monitors, from, to).await?;
    let bad = || StoreError::Corrupt {
        column: "rollups_daily",
        problem: "unexpected packed uptime row".to_owned(),
    };
    let mut out = Vec::with_capacity(rows.len() * 90);
    for (monitor_id, packed) in rows {
        let start = out.len();
        for day in packed.split(',') {
            let mut f = day.split(':').map(str::parse::<i64>);
            let mut next = || f.next().and_then(|v| v.ok()).ok_or_else(bad);
            out.push(DayUptime {
                monitor_id,
                day: Timestamp::from_millis(next()?),
                up: next()?,
                degraded: next()?,
                down: next()?,
            });
        }
        out[start..].sort_unstable_by_key(|d| d.day);
    }
    Ok(out)
}

// === compaction ===

async fn watermark(c: &mut DbConn, name: &str) -> Result<Option<Timestamp>> {
    Ok(
        sqlx::query_scalar::<Db, Timestamp>("SELECT value FROM compaction_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *c)
            .await?,
    )
}

async fn set_watermark(c: &mut DbConn, name: &str, value: Timestamp) -> Result<()> {
    let sql = if PG {
        "INSERT INTO compaction_state (name, value) VALUES ($1, $2) ON CONFLICT (name) \
         DO UPDATE SET value = GREATEST(compaction_state.value, excluded.value)"
    } else {
        "INSERT INTO compaction_state (name, value) VALUES ($1, $2) ON CONFLICT (name) \
         DO UPDATE SET value = MAX(compaction_state.value, excluded.value)"
    };
    sqlx::query::<Db>(sql)
        .bind(name)
        .bind(value)
        .execute(&mut *c)
        .await?;
    Ok(())
}

#[derive(Default)]
struct Acc {
    up: i64,
    degraded: i64,
    down: i64,
    min: Option<i64>,
    max: Option<i64>,
    sum: i64,
    sketch: LatencySketch,
}

impl Acc {
    fn add_result(&mut self, status: CheckStatus, total_us: i64) {
        match status {
            CheckStatus::Up => self.up += 1,
            CheckStatus::Degraded => self.degraded += 1,
            CheckStatus::Down => {
                self.down += 1;
                return;
            }
        }
        self.min = Some(self.min.map_or(total_us, |m| m.min(total_us)));
        self.max = Some(self.max.map_or(total_us, |m| m.max(total_us)));
        self.sum += total_us;
        self.sketch.add(total_us);
    }

    fn add_rollup(&mut self, r: &Rollup) {
        self.up += r.up;
        self.degraded += r.degraded;
        self.down += r.down;
        self.min = match (self.min, r.min_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, r.max_us) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.sum += r.sum_us;
        self.sketch.merge(&r.latency);
    }
}

async fn upsert_rollups(
    c: &mut DbConn,
    daily: bool,
    ws: WorkspaceId,
    monitor: MonitorId,
    buckets: BTreeMap<i64, Acc>,
) -> Result<u64> {
    macro_rules! upsert {
        ($table:literal) => {
            concat!(
                "INSERT INTO ",
                $table,
                " (monitor_id, bucket_start, workspace_id, up, degraded, down, lat_count, \
                 lat_min_us, lat_max_us, lat_sum_us, sketch) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (monitor_id, bucket_start) DO UPDATE SET up = excluded.up, \
                 degraded = excluded.degraded, down = excluded.down, \
                 lat_count = excluded.lat_count, lat_min_us = excluded.lat_min_us, \
                 lat_max_us = excluded.lat_max_us, lat_sum_us = excluded.lat_sum_us, \
                 sketch = excluded.sketch"
            )
        };
    }
    let sql = if daily {
        upsert!("rollups_daily")
    } else {
        upsert!("rollups_hourly")
    };
    let n = buckets.len() as u64;
    if n == 0 {
        return Ok(0);
    }
    let mut tx = begin_write(c).await?;
    for (start, acc) in buckets {
        sqlx::query::<Db>(sql)
            .bind(monitor)
            .bind(start)
            .bind(ws)
            .bind(acc.up)
            .bind(acc.degraded)
            .bind(acc.down)
            .bind(i64::try_from(acc.sketch.count()).unwrap_or(i64::MAX))
            .bind(acc.min)
            .bind(acc.max)
            .bind(acc.sum)
            .bind(acc.sketch.to_bytes())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Rolls up closed hours and days, then applies retention. Idempotent and safe to run on
/// several nodes at once (rollups are recomputed from the same rows; watermarks only move on).
pub(crate) async fn compact(
    c: &mut DbConn,
    now: Timestamp,
    policy: &RetentionPolicy,
) -> Result<CompactionReport> {
    let mut report = CompactionReport::default();
    let monitors: Vec<(MonitorId, WorkspaceId)> =
        sqlx::query_as::<Db, (MonitorId, WorkspaceId)>("SELECT id, workspace_id FROM monitors")
            .fetch_all(&mut *c)
            .await?;

    // Hours.
    let hour_target = now.minus(policy.settle).floor_hour();
    let hour_start = match watermark(c, "hourly_until").await? {
        Some(w) => w,
        // The oldest result, in one statement that probes the (monitor, time) index once
        // per monitor (there is no index on the time alone, and one query per monitor
        // costs a round trip each: 100,000 of them on every node every few minutes).
        None => sqlx::query_scalar::<Db, Option<Timestamp>>(
            "SELECT MIN((SELECT MIN(r.started_at) FROM check_results r \
             WHERE r.monitor_id = m.id)) FROM monitors m",
        )
        .fetch_one(&mut *c)
        .await?
        .map_or(hour_target, Timestamp::floor_hour),
    };
    if hour_start < hour_target {
        for (id, ws) in &monitors {
            let rows: Vec<(Timestamp, CheckStatus, i64)> =
                sqlx::query_as::<Db, (Timestamp, CheckStatus, i64)>(
                    "SELECT started_at, status, total_us FROM check_results \
                     WHERE monitor_id = $1 AND started_at >= $2 AND started_at < $3",
                )
                .bind(*id)
                .bind(hour_start)
                .bind(hour_target)
                .fetch_all(&mut *c)
                .await?;
            let mut buckets: BTreeMap<i64, Acc> = BTreeMap::new();
            for (at, status, total) in rows {
                buckets
                    .entry(at.floor_hour().as_millis())
                    .or_default()
                    .add_result(status, total);
            }
            report.hourly_rows += upsert_rollups(c, false, *ws, *id, buckets).await?;
        }
        set_watermark(c, "hourly_until", hour_target).await?;
    }
    let hourly_until = watermark(c, "hourly_until").await?;
    report.hourly_until = hourly_until;

    // Days, merged from the hours.
    if let Some(hourly_until) = hourly_until {
        let day_target = hourly_until.floor_day();
        let day_start = match watermark(c, "daily_until").await? {
            Some(w) => w,
            None => sqlx::query_scalar::<Db, Option<Timestamp>>(
                "SELECT MIN(bucket_start) FROM rollups_hourly",
            )
            .fetch_one(&mut *c)
            .await?
            .map_or(day_target, Timestamp::floor_day),
        };
        if day_start < day_target {
            for (id, ws) in &monitors {
                let rows = sqlx::query::<Db>(concat!(
                    "SELECT ",
                    rollup_cols!(),
                    " FROM rollups_hourly WHERE monitor_id = $1 \
                     AND bucket_start >= $2 AND bucket_start < $3"
                ))
                .bind(*id)
                .bind(day_start)
                .bind(day_target)
                .fetch_all(&mut *c)
                .await?;
                let mut buckets: BTreeMap<i64, Acc> = BTreeMap::new();
                for row in &rows {
                    let r = rollup_from_row(row)?;
                    buckets
                        .entry(r.bucket_start.floor_day().as_millis())
                        .or_default()
                        .add_rollup(&r);
                }
                report.daily_rows += upsert_rollups(c, true, *ws, *id, buckets).await?;
            }
            set_watermark(c, "daily_until", day_target).await?;
        }
    }

    // Retention: raw rows only once their hour is rolled up, hours only once their day is.
    if let Some(hourly_until) = hourly_until {
        let raw_cutoff = now.minus(policy.raw).min(hourly_until);
        for (id, _) in &monitors {
            let done = sqlx::query::<Db>(
                "DELETE FROM check_results WHERE monitor_id = $1 AND started_at < $2",
            )
            .bind(*id)
            .bind(raw_cutoff)
            .execute(&mut *c)
            .await?;
            report.results_deleted += done.rows_affected();
        }
    }
    if let Some(daily_until) = watermark(c, "daily_until").await? {
        let cutoff = now.minus(policy.hourly).min(daily_until);
        let done = sqlx::query::<Db>("DELETE FROM rollups_hourly WHERE bucket_start < $1")
            .bind(cutoff)
            .execute(&mut *c)
            .await?;
        report.rollups_deleted += done.rows_affected();
    }
    if let Some(keep) = policy.daily {
        let done = sqlx::query::<Db>("DELETE FROM rollups_daily WHERE bucket_start < $1")
            .bind(now.minus(keep))
            .execute(&mut *c)
            .await?;
        report.rollups_deleted += done.rows_affected();
    }
    Ok(report)
}
