//! Reads for overview screens: many monitors' uptime and hourly latency in a few queries,
//! and one monitor's latency by phase.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::QueryBuilder;

use super::{Db, DbConn};
use crate::dash::{MonitorListItem, MonitorSummary, PhaseRow, WindowCounts};
use crate::error::Result;
use crate::types::*;

const HOUR_MS: i64 = 3_600_000;
/// Bucket start, count, then the sums of DNS, connect, TLS, first byte, transfer and total.
type PhaseSums = (i64, i64, i64, i64, i64, i64, i64, i64);
const DAY_MS: i64 = 86_400_000;
/// Monitors per `IN (...)` list.
const CHUNK: usize = 500;

/// Where a row of counts comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Daily,
    Hourly,
    Raw,
}

/// A bucket of counts of one monitor.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    monitor: MonitorId,
    start: i64,
    source: Source,
    counts: WindowCounts,
}

async fn watermarks(c: &mut DbConn) -> Result<(Option<Timestamp>, Option<Timestamp>)> {
    let rows: Vec<(String, Timestamp)> = sqlx::query_as::<Db, (String, Timestamp)>(
        "SELECT name, value FROM compaction_state \
         WHERE name = 'hourly_until' OR name = 'daily_until'",
    )
    .fetch_all(&mut *c)
    .await?;
    let get = |n: &str| rows.iter().find(|r| r.0 == n).map(|r| r.1);
    Ok((get("hourly_until"), get("daily_until")))
}

/// Appends ` AND <column> IN (..)` for one chunk.
fn push_ids(q: &mut QueryBuilder<Db>, column: &str, ids: &[MonitorId]) {
    q.push(" AND ").push(column).push(" IN (");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
}

/// The ids among `ids` of monitors of the workspace.
async fn owned(c: &mut DbConn, ws: WorkspaceId, ids: &[MonitorId]) -> Result<Vec<MonitorId>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<Db>::new("SELECT id FROM monitors WHERE workspace_id = ");
        q.push_bind(ws);
        push_ids(&mut q, "id", chunk);
        let found: Vec<MonitorId> = q
            .build_query_scalar()
            .persistent(false)
            .fetch_all(&mut *c)
            .await?;
        out.extend(found);
    }
    Ok(out)
}

/// Rollup rows (daily or hourly) of `ids` with `bucket_start` in `[from, to)`.
async fn rollup_rows(
    c: &mut DbConn,
    daily: bool,
    ws: WorkspaceId,
    ids: &[MonitorId],
    from: Timestamp,
    to: Timestamp,
    out: &mut Vec<Bucket>,
) -> Result<()> {
    if from >= to {
        return Ok(());
    }
    let table = if daily {
        "rollups_daily"
    } else {
        "rollups_hourly"
    };
    for chunk in ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT monitor_id, bucket_start, up, degraded, down, lat_count, lat_sum_us \
             FROM {table} WHERE workspace_id = "
        ));
        q.push_bind(ws)
            .push(" AND bucket_start >= ")
            .push_bind(from)
            .push(" AND bucket_start < ")
            .push_bind(to);
        push_ids(&mut q, "monitor_id", chunk);
        // One statement shape per list length: not worth a slot in the statement cache.
        let rows: Vec<(MonitorId, i64, i64, i64, i64, i64, i64)> = q
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut *c)
            .await?;
        out.extend(rows.into_iter().map(
            |(monitor, start, up, degraded, down, lat_count, lat_sum_us)| Bucket {
                monitor,
                start,
                source: if daily { Source::Daily } else { Source::Hourly },
                counts: WindowCounts {
                    up,
                    degraded,
                    down,
                    lat_count,
                    lat_sum_us,
                },
            },
        ));
    }
    Ok(())
}

/// Raw results of `ids` from `from` to `to` (inclusive), counted by monitor, hour and status.
async fn raw_rows(
    c: &mut DbConn,
    ws: WorkspaceId,
    ids: &[MonitorId],
    from: Timestamp,
    to: Timestamp,
    out: &mut Vec<Bucket>,
) -> Result<()> {
    if from > to {
        return Ok(());
    }
    for chunk in ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT monitor_id, started_at - (started_at % 3600000) AS hour, status, \
             COUNT(*), CAST(SUM(total_us) AS BIGINT) FROM check_results WHERE workspace_id = ",
        );
        q.push_bind(ws)
            .push(" AND started_at >= ")
            .push_bind(from)
            .push(" AND started_at <= ")
            .push_bind(to);
        push_ids(&mut q, "monitor_id", chunk);
        q.push(" GROUP BY 1, 2, 3");
        let rows: Vec<(MonitorId, i64, CheckStatus, i64, i64)> = q
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut *c)
            .await?;
        out.extend(rows.into_iter().map(|(monitor, start, status, n, sum)| {
            let mut counts = WindowCounts::default();
            match status {
                CheckStatus::Up => counts.up = n,
                CheckStatus::Degraded => counts.degraded = n,
                CheckStatus::Down => counts.down = n,
            }
            if status != CheckStatus::Down {
                counts.lat_count = n;
                counts.lat_sum_us = sum;
            }
            Bucket {
                monitor,
                start,
                source: Source::Raw,
                counts,
            }
        }));
    }
    Ok(())
}

/// Whether a bucket counts in the window starting at `w`: daily rollups only for
/// windows that start at midnight, hourly rollups only where no daily one covers them.
fn counts_in(b: &Bucket, w: i64, daily_until: Option<i64>) -> bool {
    let uses_daily = daily_until.is_some() && w.rem_euclid(DAY_MS) == 0;
    if b.start < w - w.rem_euclid(HOUR_MS) {
        return false;
    }
    match b.source {
        Source::Daily => uses_daily,
        Source::Hourly => !uses_daily || daily_until.is_none_or(|d| b.start >= d),
        Source::Raw => true,
    }
}

pub(crate) async fn summaries(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitors: &[MonitorId],
    window_starts: &[Timestamp],
    hours_from: Timestamp,
    now: Timestamp,
) -> Result<Vec<MonitorSummary>> {
    if monitors.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids = monitors.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let ids = owned(c, ws, &ids).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (hourly_until, daily_until) = watermarks(c).await?;
    let hours_from = hours_from.floor_hour().min(now.floor_hour());
    let earliest = window_starts
        .iter()
        .copied()
        .chain([hours_from])
        .min()
        .unwrap_or(hours_from);
    let d = daily_until.map(Timestamp::as_millis);
    let mut buckets = Vec::new();
    // Daily rollups: from the earliest midnight window to the daily watermark.
    if let Some(du) = daily_until
        && let Some(from) = window_starts
            .iter()
            .filter(|w| w.as_millis().rem_euclid(DAY_MS) == 0)
            .min()
    {
        rollup_rows(c, true, ws, &ids, *from, du, &mut buckets).await?;
    }
    // Hourly rollups: from where the daily ones stop (or the window starts) to the hourly
    // watermark.
    if let Some(hu) = hourly_until {
        let from = window_starts
            .iter()
            .map(|w| {
                let w = w.as_millis();
                match d {
                    Some(d) if w.rem_euclid(DAY_MS) == 0 => w.max(d),
                    _ => w,
                }
            })
            .chain([hours_from.as_millis()])
            .min()
            .map_or(hours_from, Timestamp::from_millis);
        rollup_rows(c, false, ws, &ids, from, hu, &mut buckets).await?;
    }
    // Raw results after the hourly watermark.
    let raw_from = hourly_until.map_or(earliest, |h| h.max(earliest));
    raw_rows(c, ws, &ids, raw_from, now, &mut buckets).await?;

    let n_hours =
        usize::try_from((now.floor_hour().as_millis() - hours_from.as_millis()) / HOUR_MS + 1)
            .unwrap_or(1);
    let mut by_monitor: HashMap<MonitorId, MonitorSummary> = ids
        .iter()
        .map(|id| {
            (
                *id,
                MonitorSummary {
                    monitor_id: *id,
                    windows: vec![WindowCounts::default(); window_starts.len()],
                    hours: vec![WindowCounts::default(); n_hours],
                },
            )
        })
        .collect();
    for b in &buckets {
        let Some(s) = by_monitor.get_mut(&b.monitor) else {
            continue;
        };
        for (i, w) in window_starts.iter().enumerate() {
            if counts_in(b, w.as_millis(), d) {
                s.windows[i].add(&b.counts);
            }
        }
        if b.source != Source::Daily && b.start >= hours_from.as_millis() {
            let i = usize::try_from((b.start - hours_from.as_millis()) / HOUR_MS).unwrap_or(0);
            if let Some(h) = s.hours.get_mut(i) {
                h.add(&b.counts);
            }
        }
    }
    Ok(monitors
        .iter()
        .filter_map(|id| by_monitor.get(id).cloned())
        .collect())
}

pub(crate) async fn phase_rows(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitor: MonitorId,
    from: Timestamp,
    to: Timestamp,
    bucket: Duration,
) -> Result<Vec<PhaseRow>> {
    let bucket = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX).max(1);
    let rows: Vec<PhaseSums> = sqlx::query_as::<Db, PhaseSums>(
        "SELECT started_at - (started_at % $4) AS b, COUNT(*), \
             CAST(SUM(dns_us) AS BIGINT), CAST(SUM(connect_us) AS BIGINT), \
             CAST(SUM(tls_us) AS BIGINT), CAST(SUM(ttfb_us) AS BIGINT), \
             CAST(SUM(transfer_us) AS BIGINT), CAST(SUM(total_us) AS BIGINT) \
             FROM check_results WHERE monitor_id = $1 AND workspace_id = $2 \
             AND started_at >= $3 AND started_at < $5 AND status <> 'down' \
             GROUP BY 1 ORDER BY 1",
    )
    .bind(monitor)
    .bind(ws)
    .bind(from)
    .bind(bucket)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(b, count, dns, connect, tls, ttfb, transfer, total)| PhaseRow {
                bucket_start: Timestamp::from_millis(b),
                count,
                sums_us: [dns, connect, tls, ttfb, transfer],
                total_sum_us: total,
            },
        )
        .collect())
}

pub(crate) async fn monitor_names(
    c: &mut DbConn,
    ws: WorkspaceId,
) -> Result<Vec<(MonitorId, String)>> {
    Ok(sqlx::query_as::<Db, (MonitorId, String)>(
        "SELECT id, name FROM monitors WHERE workspace_id = $1 ORDER BY name, id",
    )
    .bind(ws)
    .fetch_all(&mut *c)
    .await?)
}

/// Id, name, key, kind, spec, paused, status.
type ListRow = (
    MonitorId,
    String,
    Option<String>,
    String,
    String,
    bool,
    Option<MonitorStatus>,
);

pub(crate) async fn monitor_list(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<MonitorListItem>> {
    let rows: Vec<ListRow> = sqlx::query_as::<Db, ListRow>(
        "SELECT m.id, m.name, m.key, m.kind, m.spec, m.paused, s.status FROM monitors m \
         LEFT JOIN monitor_state s ON s.monitor_id = m.id AND s.workspace_id = m.workspace_id \
         WHERE m.workspace_id = $1 ORDER BY m.id",
    )
    .bind(ws)
    .fetch_all(&mut *c)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, key, kind, spec, paused, status)| MonitorListItem {
                id,
                name,
                key,
                kind,
                paused,
                status,
                spec,
            },
        )
        .collect())
}
