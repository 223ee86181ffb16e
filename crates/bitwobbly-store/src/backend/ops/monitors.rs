//! Monitors, their state, and scheduling leases.

use sqlx::{QueryBuilder, Row as _};

use super::{
    Db, DbConn, DbRow, Lease, LinkTable, PG, WorkQueue, begin_write, derived, execute_by_id,
    expect_one, fetch_by_id, json_err,
};
use crate::error::{Result, StoreError};
use crate::model::{
    ClaimedMonitor, Monitor, MonitorState, NewMonitor, Schedule, StateUpdate, Thresholds,
};
use crate::types::*;

macro_rules! monitor_cols {
    () => {
        "id, workspace_id, name, spec, schedule_kind, interval_secs, cron, \
         failure_threshold, recovery_threshold, degraded_after_ms, paused, locations, \
         created_at, updated_at"
    };
}

macro_rules! state_cols {
    () => {
        "monitor_id, workspace_id, status, consecutive_failures, consecutive_successes, \
         last_result_at, last_status, next_run_at, lease_owner, lease_expires_at"
    };
}

fn corrupt(column: &'static str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        column,
        problem: problem.to_string(),
    }
}

fn monitor_from_row(r: &DbRow) -> Result<Monitor> {
    let spec: String = r.try_get("spec")?;
    let locations: String = r.try_get("locations")?;
    let schedule = match r.try_get::<ScheduleKind, _>("schedule_kind")? {
        ScheduleKind::Interval => {
            let secs: Option<i64> = r.try_get("interval_secs")?;
            Schedule::Interval {
                secs: secs
                    .and_then(|s| u32::try_from(s).ok())
                    .ok_or_else(|| corrupt("interval_secs", "missing or out of range"))?,
            }
        }
        ScheduleKind::Cron => Schedule::Cron {
            expr: r
                .try_get::<Option<String>, _>("cron")?
                .ok_or_else(|| corrupt("cron", "missing"))?,
        },
    };
    let threshold = |col: &'static str| -> Result<u32> {
        u32::try_from(r.try_get::<i64, _>(col)?).map_err(|e| corrupt(col, e))
    };
    let degraded_ms: Option<i64> = r.try_get("degraded_after_ms")?;
    Ok(Monitor {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        name: r.try_get("name")?,
        spec: serde_json::from_str(&spec).map_err(|e| corrupt("spec", e))?,
        schedule,
        thresholds: Thresholds {
            failures: threshold("failure_threshold")?,
            recoveries: threshold("recovery_threshold")?,
            degraded_after: degraded_ms
                .map(|ms| std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        },
        paused: r.try_get("paused")?,
        locations: serde_json::from_str(&locations).map_err(|e| corrupt("locations", e))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

struct Encoded {
    kind: String,
    spec: String,
    schedule_kind: ScheduleKind,
    interval_secs: Option<i64>,
    cron: Option<String>,
    degraded_after_ms: Option<i64>,
    locations: String,
}

/// A statement of this backend, with the parameters bound so far.
type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

impl Encoded {
    /// Binds the monitor's stored columns, `name` to `locations`, in table order (as
    /// `create` inserts them and `update` sets them).
    fn bind_columns<'q>(&self, new: &NewMonitor, q: Query<'q>) -> Query<'q> {
        q.bind(&new.name)
            .bind(&self.kind)
            .bind(&self.spec)
            .bind(self.schedule_kind)
            .bind(self.interval_secs)
            .bind(&self.cron)
            .bind(i64::from(new.thresholds.failures))
            .bind(i64::from(new.thresholds.recoveries))
            .bind(self.degraded_after_ms)
            .bind(new.paused)
            .bind(&self.locations)
    }
}

fn encode(new: &NewMonitor) -> Result<Encoded> {
    if new.name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    let (schedule_kind, interval_secs, cron) = match &new.schedule {
        Schedule::Interval { secs } if *secs >= 1 => {
            (ScheduleKind::Interval, Some(i64::from(*secs)), None)
        }
        Schedule::Interval { .. } => {
            return Err(StoreError::invalid(
                "schedule",
                "interval must be at least 1 second",
            ));
        }
        Schedule::Cron { expr } => (ScheduleKind::Cron, None, Some(expr.clone())),
    };
    Ok(Encoded {
        kind: new.spec.kind().to_owned(),
        spec: serde_json::to_string(&new.spec).map_err(json_err("check spec"))?,
        schedule_kind,
        interval_secs,
        cron,
        degraded_after_ms: new
            .thresholds
            .degraded_after
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        locations: serde_json::to_string(&new.locations).map_err(json_err("locations"))?,
    })
}

pub(crate) async fn create(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewMonitor,
    now: Timestamp,
) -> Result<Monitor> {
    let e = encode(new)?;
    let mut tx = begin_write(c).await?;
    let q = sqlx::query::<Db>(concat!(
        "INSERT INTO monitors (workspace_id, name, kind, spec, schedule_kind, interval_secs, \
         cron, failure_threshold, recovery_threshold, degraded_after_ms, paused, locations, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING ",
        monitor_cols!()
    ))
    .bind(ws);
    let row = e.bind_columns(new, q).bind(now).fetch_one(&mut *tx).await?;
    let monitor = monitor_from_row(&row)?;
    sqlx::query::<Db>(
        "INSERT INTO monitor_state (monitor_id, workspace_id, status, consecutive_failures, \
         consecutive_successes, next_run_at, paused) VALUES ($1, $2, $3, 0, 0, $4, $5)",
    )
    .bind(monitor.id)
    .bind(ws)
    .bind(if new.paused {
        MonitorStatus::Paused
    } else {
        MonitorStatus::Unknown
    })
    .bind(now)
    .bind(new.paused)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(monitor)
}

pub(crate) async fn get(c: &mut DbConn, ws: WorkspaceId, id: MonitorId) -> Result<Option<Monitor>> {
    fetch_by_id(
        c,
        select_by_id!("monitors", monitor_cols!()),
        ws,
        id,
        monitor_from_row,
    )
    .await
}

pub(crate) async fn list(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<Monitor>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        monitor_cols!(),
        " FROM monitors WHERE workspace_id = $1 ORDER BY id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(monitor_from_row).collect()
}

pub(crate) async fn update(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MonitorId,
    new: &NewMonitor,
    now: Timestamp,
) -> Result<Monitor> {
    let e = encode(new)?;
    let mut tx = begin_write(c).await?;
    let q = sqlx::query::<Db>(concat!(
        "UPDATE monitors SET name = $3, kind = $4, spec = $5, schedule_kind = $6, \
         interval_secs = $7, cron = $8, failure_threshold = $9, recovery_threshold = $10, \
         degraded_after_ms = $11, paused = $12, locations = $13, updated_at = $14 \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        monitor_cols!()
    ))
    .bind(ws)
    .bind(id);
    let row = e
        .bind_columns(new, q)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("monitor"))?;
    sqlx::query::<Db>("UPDATE monitor_state SET paused = $2 WHERE monitor_id = $1")
        .bind(id)
        .bind(new.paused)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    monitor_from_row(&row)
}

pub(crate) async fn set_paused(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MonitorId,
    paused: bool,
    now: Timestamp,
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    let done = sqlx::query::<Db>(
        "UPDATE monitors SET paused = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(paused)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    expect_one(done, || StoreError::not_found("monitor"))?;
    sqlx::query::<Db>(
        "UPDATE monitor_state SET paused = $2, \
         status = CASE WHEN $2 THEN 'paused' WHEN status = 'paused' THEN 'unknown' ELSE status END, \
         next_run_at = CASE WHEN $2 THEN next_run_at ELSE $3 END WHERE monitor_id = $1",
    )
    .bind(id)
    .bind(paused)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn delete(c: &mut DbConn, ws: WorkspaceId, id: MonitorId) -> Result<()> {
    let mut tx = begin_write(c).await?;
    execute_by_id(&mut tx, delete_by_id!("monitors"), ws, id, "monitor").await?;
    for sql in [
        "DELETE FROM check_results WHERE monitor_id = $1",
        "DELETE FROM rollups_hourly WHERE monitor_id = $1",
        "DELETE FROM rollups_daily WHERE monitor_id = $1",
    ] {
        sqlx::query::<Db>(sql).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn state(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MonitorId,
) -> Result<Option<MonitorState>> {
    fetch_by_id(
        c,
        concat!(
            "SELECT ",
            state_cols!(),
            " FROM monitor_state WHERE workspace_id = $1 AND monitor_id = $2"
        ),
        ws,
        id,
        derived,
    )
    .await
}

pub(crate) async fn update_state(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MonitorId,
    u: &StateUpdate,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE monitor_state SET status = $3, consecutive_failures = $4, \
         consecutive_successes = $5, last_result_at = $6, last_status = $7 \
         WHERE workspace_id = $1 AND monitor_id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(u.status)
    .bind(u.consecutive_failures)
    .bind(u.consecutive_successes)
    .bind(u.last_result_at)
    .bind(u.last_status)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("monitor"))
}

/// The scheduling queue: unpaused monitors whose next run is due.
const SCHEDULE: WorkQueue = work_queue! {
    table: "monitor_state",
    key: "monitor_id",
    due: "paused = FALSE AND next_run_at <= $1",
    order: "next_run_at, monitor_id",
    on_claim: "",
    returning: "monitor_id, next_run_at",
};

pub(crate) async fn claim_due(c: &mut DbConn, lease: Lease<'_>) -> Result<Vec<ClaimedMonitor>> {
    let mut tx = begin_write(c).await?;
    let claimed = SCHEDULE
        .claim_rows(&mut tx, lease)
        .await?
        .iter()
        .map(derived::<(MonitorId, Timestamp)>)
        .collect::<Result<Vec<_>>>()?;
    if claimed.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::<Db>::new(concat!(
        "SELECT ",
        monitor_cols!(),
        " FROM monitors WHERE id IN ("
    ));
    let mut sep = q.separated(", ");
    for (id, _) in &claimed {
        sep.push_bind(*id);
    }
    q.push(")");
    let rows = q.build().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let monitor = monitor_from_row(row)?;
        let due_at = claimed
            .iter()
            .find(|(id, _)| *id == monitor.id)
            .map_or(lease.now, |(_, due)| *due);
        out.push(ClaimedMonitor {
            monitor,
            due_at,
            lease_expires_at: lease.until,
        });
    }
    out.sort_by_key(|m| (m.due_at, m.monitor.id));
    Ok(out)
}

pub(crate) async fn renew(
    c: &mut DbConn,
    id: MonitorId,
    node: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE monitor_state SET lease_expires_at = $4 \
         WHERE monitor_id = $1 AND lease_owner = $2 AND lease_expires_at > $3",
    )
    .bind(id)
    .bind(node)
    .bind(now)
    .bind(lease_until)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::lease_lost("monitor", id.0, node))
}

pub(crate) async fn release(
    c: &mut DbConn,
    id: MonitorId,
    node: &str,
    next_run_at: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE monitor_state SET lease_owner = NULL, lease_expires_at = NULL, next_run_at = $3 \
         WHERE monitor_id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(node)
    .bind(next_run_at)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::lease_lost("monitor", id.0, node))
}

/// Which channels notify for a monitor.
const MONITOR_CHANNELS: LinkTable = link_table! {
    table: "monitor_channels",
    owner: "monitor_id" in "monitors" as "monitor",
    target: "channel_id" in "notification_channels" as "channel",
};

/// Replaces the channels that notify for a monitor; every id must be in the workspace.
pub(crate) async fn set_channels(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MonitorId,
    channels: &[ChannelId],
) -> Result<()> {
    MONITOR_CHANNELS.replace(c, ws, id, channels).await
}
