//! Monitors, their state, and scheduling leases.

use std::time::Duration;

use bitwobbly_core::heartbeat::{HeartbeatPolicy, HeartbeatState};
use bitwobbly_core::quorum::QuorumPolicy;
use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::Thresholds;
use sqlx::{QueryBuilder, Row as _};

use super::{
    Db, DbConn, DbRow, Lease, LinkTable, PG, WorkQueue, begin_write, execute_by_id, expect_one,
    fetch_by_id, json_err,
};
use crate::error::{Result, StoreError};
use crate::model::{ClaimedMonitor, Monitor, MonitorState, NewMonitor, StateUpdate};
use crate::types::*;

macro_rules! monitor_cols {
    () => {
        "id, workspace_id, key, name, spec, schedule_kind, interval_secs, cron, schedule, \
         thresholds, failure_threshold, recovery_threshold, parent_id, paused, locations, \
         ping_token, created_at, updated_at, quorum"
    };
}

macro_rules! state_cols {
    () => {
        "monitor_id, workspace_id, status, machine, heartbeat, last_result_at, last_status, \
         last_message, next_run_at, lease_owner, lease_expires_at"
    };
}

/// How far a parent chain is followed when looking for a loop.
const MAX_PARENT_DEPTH: usize = 1000;

/// The `next_run_at` of a heartbeat monitor that expects no further ping (a cron expression
/// with no next time): never due. The last millisecond of year 9999, the latest time that
/// still converts to a date.
const NEVER: Timestamp = Timestamp::from_millis(253_402_300_799_999);

fn corrupt(column: &'static str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        column,
        problem: problem.to_string(),
    }
}

/// The schedule of a row written before the `schedule` column existed.
fn legacy_schedule(r: &DbRow) -> Result<Schedule> {
    match r.try_get::<ScheduleKind, _>("schedule_kind")? {
        ScheduleKind::Interval => {
            let secs: Option<i64> = r.try_get("interval_secs")?;
            let secs = secs
                .and_then(|s| u64::try_from(s).ok())
                .filter(|s| *s >= 1)
                .ok_or_else(|| corrupt("interval_secs", "missing or out of range"))?;
            Ok(Schedule::Interval(Duration::from_secs(secs)))
        }
        ScheduleKind::Cron => {
            let expr = r
                .try_get::<Option<String>, _>("cron")?
                .ok_or_else(|| corrupt("cron", "missing"))?;
            Schedule::cron(&expr, "UTC").map_err(|e| corrupt("cron", e))
        }
    }
}

/// The thresholds of a row written before the `thresholds` column existed.
fn legacy_thresholds(r: &DbRow) -> Result<Thresholds> {
    let count = |col: &'static str| -> Result<u32> {
        u32::try_from(r.try_get::<i64, _>(col)?)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| corrupt(col, "out of range"))
    };
    let mut t = Thresholds::default();
    t.down_after = count("failure_threshold")?;
    t.recover_after = count("recovery_threshold")?;
    t.window = t.down_after.max(t.degraded_after);
    Ok(t)
}

fn monitor_from_row(r: &DbRow) -> Result<Monitor> {
    let spec: String = r.try_get("spec")?;
    let locations: String = r.try_get("locations")?;
    let schedule = match r.try_get::<Option<String>, _>("schedule")? {
        Some(json) => serde_json::from_str(&json).map_err(|e| corrupt("schedule", e))?,
        None => legacy_schedule(r)?,
    };
    let thresholds = match r.try_get::<Option<String>, _>("thresholds")? {
        Some(json) => serde_json::from_str(&json).map_err(|e| corrupt("thresholds", e))?,
        None => legacy_thresholds(r)?,
    };
    let quorum = match r.try_get::<Option<String>, _>("quorum")? {
        Some(json) => serde_json::from_str(&json).map_err(|e| corrupt("quorum", e))?,
        None => QuorumPolicy::default(),
    };
    Ok(Monitor {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        key: r.try_get("key")?,
        name: r.try_get("name")?,
        spec: serde_json::from_str(&spec).map_err(|e| corrupt("spec", e))?,
        schedule,
        thresholds,
        parent_id: r.try_get("parent_id")?,
        paused: r.try_get("paused")?,
        locations: serde_json::from_str(&locations).map_err(|e| corrupt("locations", e))?,
        quorum,
        ping_token: r.try_get("ping_token")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub(crate) fn state_from_row(r: &DbRow) -> Result<MonitorState> {
    let machine = match r.try_get::<Option<String>, _>("machine")? {
        Some(json) => serde_json::from_str(&json).map_err(|e| corrupt("machine", e))?,
        None => bitwobbly_core::state::MonitorState::new(),
    };
    let heartbeat = r
        .try_get::<Option<String>, _>("heartbeat")?
        .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("heartbeat", e)))
        .transpose()?;
    Ok(MonitorState {
        monitor_id: r.try_get("monitor_id")?,
        workspace_id: r.try_get("workspace_id")?,
        status: r.try_get("status")?,
        machine,
        heartbeat,
        last_result_at: r.try_get("last_result_at")?,
        last_status: r.try_get("last_status")?,
        last_message: r.try_get("last_message")?,
        next_run_at: r.try_get("next_run_at")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_expires_at: r.try_get("lease_expires_at")?,
    })
}

/// When a heartbeat monitor in state `hb` is next due: its next deadline.
fn heartbeat_due(hb: &HeartbeatState, policy: &HeartbeatPolicy) -> Timestamp {
    hb.deadline(policy).map_or(NEVER, Timestamp::from)
}

struct Encoded {
    kind: String,
    spec: String,
    schedule_kind: ScheduleKind,
    interval_secs: Option<i64>,
    cron: Option<String>,
    schedule: String,
    thresholds: String,
    locations: String,
    quorum: String,
}

/// A statement of this backend, with the parameters bound so far.
type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

impl Encoded {
    /// Binds the monitor's stored columns, `key` to `quorum`, in the order `create`
    /// inserts them and `update` sets them.
    fn bind_columns<'q>(&'q self, new: &'q NewMonitor, q: Query<'q>) -> Query<'q> {
        q.bind(new.key.as_deref())
            .bind(&new.name)
            .bind(&self.kind)
            .bind(&self.spec)
            .bind(self.schedule_kind)
            .bind(self.interval_secs)
            .bind(&self.cron)
            .bind(&self.schedule)
            .bind(&self.thresholds)
            .bind(i64::from(new.thresholds.down_after))
            .bind(i64::from(new.thresholds.recover_after))
            .bind(new.parent_id)
            .bind(new.paused)
            .bind(&self.locations)
            .bind(&self.quorum)
    }
}

fn encode(new: &NewMonitor) -> Result<Encoded> {
    if new.name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    if new.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(StoreError::invalid("key", "must not be empty"));
    }
    if !new.spec.is_heartbeat() {
        new.schedule
            .validate()
            .map_err(|e| StoreError::invalid("schedule", e.to_string()))?;
    }
    new.thresholds
        .validate()
        .map_err(|e| StoreError::invalid("thresholds", e.to_string()))?;
    new.quorum
        .validate()
        .map_err(|e| StoreError::invalid("quorum", e.to_string()))?;
    let (schedule_kind, interval_secs, cron) = match &new.schedule {
        Schedule::Interval(every) => (
            ScheduleKind::Interval,
            Some(i64::try_from(every.as_secs().max(1)).unwrap_or(i64::MAX)),
            None,
        ),
        Schedule::Cron(c) => (ScheduleKind::Cron, None, Some(c.expr().to_owned())),
    };
    Ok(Encoded {
        kind: new.spec.kind().to_owned(),
        spec: serde_json::to_string(&new.spec).map_err(json_err("check spec"))?,
        schedule_kind,
        interval_secs,
        cron,
        schedule: serde_json::to_string(&new.schedule).map_err(json_err("schedule"))?,
        thresholds: serde_json::to_string(&new.thresholds).map_err(json_err("thresholds"))?,
        locations: serde_json::to_string(&new.locations).map_err(json_err("locations"))?,
        quorum: serde_json::to_string(&new.quorum).map_err(json_err("quorum"))?,
    })
}

/// Checks that `parent` is a monitor of the workspace and that making it the parent of
/// `child` (`None` while creating) closes no loop.
async fn check_parent(
    c: &mut DbConn,
    ws: WorkspaceId,
    child: Option<MonitorId>,
    parent: MonitorId,
) -> Result<()> {
    let mut next = Some(parent);
    let mut depth = 0;
    while let Some(id) = next {
        if Some(id) == child {
            return Err(StoreError::invalid(
                "parent_id",
                "a monitor cannot depend on itself, directly or through its parents",
            ));
        }
        depth += 1;
        if depth > MAX_PARENT_DEPTH {
            return Err(StoreError::invalid(
                "parent_id",
                "the parent chain is too long",
            ));
        }
        let row: Option<(Option<MonitorId>,)> = sqlx::query_as::<Db, (Option<MonitorId>,)>(
            "SELECT parent_id FROM monitors WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
        match row {
            Some((up,)) => next = up,
            None if id == parent => return Err(StoreError::not_found("parent monitor")),
            None => next = None,
        }
    }
    Ok(())
}

fn json_of<T: serde::Serialize>(what: &'static str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(json_err(what))
}

pub(crate) async fn create(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewMonitor,
    now: Timestamp,
) -> Result<Monitor> {
    let e = encode(new)?;
    let ping_token = if new.spec.is_heartbeat() {
        Some(crate::secret::new_ping_token()?)
    } else {
        None
    };
    let mut tx = begin_write(c).await?;
    if let Some(parent) = new.parent_id {
        check_parent(&mut tx, ws, None, parent).await?;
    }
    let q = sqlx::query::<Db>(concat!(
        "INSERT INTO monitors (workspace_id, key, name, kind, spec, schedule_kind, \
         interval_secs, cron, schedule, thresholds, failure_threshold, recovery_threshold, \
         parent_id, paused, locations, quorum, ping_token, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $18) RETURNING ",
        monitor_cols!()
    ))
    .bind(ws);
    let row = e
        .bind_columns(new, q)
        .bind(ping_token.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let monitor = monitor_from_row(&row)?;
    let (heartbeat, next_run_at) = match new.spec.heartbeat() {
        Some(policy) => {
            let hb = HeartbeatState::new(now.to_datetime());
            let due = heartbeat_due(&hb, policy);
            (Some(json_of("heartbeat state", &hb)?), due)
        }
        None => (None, now),
    };
    let machine = json_of("state machine", &bitwobbly_core::state::MonitorState::new())?;
    sqlx::query::<Db>(
        "INSERT INTO monitor_state (monitor_id, workspace_id, status, consecutive_failures, \
         consecutive_successes, next_run_at, paused, machine, heartbeat, runs_local) \
         VALUES ($1, $2, $3, 0, 0, $4, $5, $6, $7, $8)",
    )
    .bind(monitor.id)
    .bind(ws)
    .bind(if new.paused {
        MonitorStatus::Paused
    } else {
        MonitorStatus::Unknown
    })
    .bind(next_run_at)
    .bind(new.paused)
    .bind(machine)
    .bind(heartbeat)
    .bind(new.runs_locally())
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

pub(crate) async fn by_key(c: &mut DbConn, ws: WorkspaceId, key: &str) -> Result<Option<Monitor>> {
    let row = sqlx::query::<Db>(concat!(
        "SELECT ",
        monitor_cols!(),
        " FROM monitors WHERE workspace_id = $1 AND key = $2"
    ))
    .bind(ws)
    .bind(key)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(monitor_from_row).transpose()
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
    let fresh_token = if new.spec.is_heartbeat() {
        Some(crate::secret::new_ping_token()?)
    } else {
        None
    };
    let mut tx = begin_write(c).await?;
    if let Some(parent) = new.parent_id {
        check_parent(&mut tx, ws, Some(id), parent).await?;
    }
    // The ping token is kept while the monitor stays a heartbeat, made when it becomes one,
    // and dropped when it stops being one.
    let q = sqlx::query::<Db>(concat!(
        "UPDATE monitors SET key = $3, name = $4, kind = $5, spec = $6, schedule_kind = $7, \
         interval_secs = $8, cron = $9, schedule = $10, thresholds = $11, \
         failure_threshold = $12, recovery_threshold = $13, parent_id = $14, paused = $15, \
         locations = $16, quorum = $17, ping_token = CASE WHEN $18 IS NULL THEN NULL \
           ELSE COALESCE(ping_token, $18) END, \
         updated_at = $19 WHERE workspace_id = $1 AND id = $2 RETURNING ",
        monitor_cols!()
    ))
    .bind(ws)
    .bind(id);
    let row = e
        .bind_columns(new, q)
        .bind(fresh_token.as_deref())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("monitor"))?;
    let old = fetch_by_id(
        &mut tx,
        concat!(
            "SELECT ",
            state_cols!(),
            " FROM monitor_state WHERE workspace_id = $1 AND monitor_id = $2"
        ),
        ws,
        id,
        state_from_row,
    )
    .await?
    .ok_or_else(|| StoreError::not_found("monitor state"))?;
    // A heartbeat keeps what it received and gets the deadline of its new policy; a monitor
    // that becomes a heartbeat, or a heartbeat that is resumed, starts counting now; one that
    // stops being one is due now.
    let resumed = old.status == MonitorStatus::Paused && !new.paused;
    let (heartbeat, next_run_at) = match (new.spec.heartbeat(), old.heartbeat) {
        (Some(policy), Some(hb)) if !resumed => {
            let due = heartbeat_due(&hb, policy);
            (Some(hb), due)
        }
        (Some(policy), _) => {
            let hb = HeartbeatState::new(now.to_datetime());
            let due = heartbeat_due(&hb, policy);
            (Some(hb), due)
        }
        (None, Some(_)) => (None, now),
        (None, None) => (None, old.next_run_at),
    };
    let heartbeat = heartbeat
        .as_ref()
        .map(|hb| json_of("heartbeat state", hb))
        .transpose()?;
    sqlx::query::<Db>(
        "UPDATE monitor_state SET paused = $2, heartbeat = $3, next_run_at = $4, \
         runs_local = $5, \
         status = CASE WHEN $2 THEN 'paused' WHEN status = 'paused' THEN 'unknown' \
           ELSE status END WHERE monitor_id = $1",
    )
    .bind(id)
    .bind(new.paused)
    .bind(heartbeat)
    .bind(next_run_at)
    .bind(new.runs_locally())
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
    let (was_paused, spec): (bool, String) = sqlx::query_as::<Db, (bool, String)>(
        "SELECT paused, spec FROM monitors WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("monitor"))?;
    sqlx::query::<Db>(
        "UPDATE monitors SET paused = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(paused)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Resumed, a check is due at once. A heartbeat that was paused counts from now, as if
    // just created, so that the pings it could not expect while paused are not reported
    // missing; one that was not paused keeps its deadline.
    let spec: bitwobbly_core::CheckSpec =
        serde_json::from_str(&spec).map_err(|e| corrupt("spec", e))?;
    let (next_run_at, heartbeat) = match spec.heartbeat() {
        Some(policy) if was_paused && !paused => {
            let hb = HeartbeatState::new(now.to_datetime());
            (
                Some(heartbeat_due(&hb, policy)),
                Some(json_of("heartbeat state", &hb)?),
            )
        }
        Some(_) => (None, None),
        None => ((!paused).then_some(now), None),
    };
    sqlx::query::<Db>(
        "UPDATE monitor_state SET paused = $2, \
         status = CASE WHEN $2 THEN 'paused' WHEN status = 'paused' THEN 'unknown' ELSE status END, \
         next_run_at = COALESCE($3, next_run_at), heartbeat = COALESCE($4, heartbeat) \
         WHERE monitor_id = $1",
    )
    .bind(id)
    .bind(paused)
    .bind(next_run_at)
    .bind(heartbeat)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn delete(c: &mut DbConn, ws: WorkspaceId, id: MonitorId) -> Result<()> {
    let mut tx = begin_write(c).await?;
    // The state row first, the way a check's record takes them: a record in progress
    // holds it and may then insert rows referencing the monitor, which would wait on this
    // delete's monitor row while the delete's cascade waits on the state row (a deadlock).
    // Waiting here lets the record finish; a record after this finds no state and stops.
    state_for_update(&mut tx, ws, id).await?;
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
        state_from_row,
    )
    .await
}

/// Reads a state row and keeps it locked until the caller's transaction ends.
pub(crate) async fn state_for_update(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MonitorId,
) -> Result<Option<MonitorState>> {
    if PG {
        fetch_by_id(
            c,
            concat!(
                "SELECT ",
                state_cols!(),
                " FROM monitor_state WHERE workspace_id = $1 AND monitor_id = $2 FOR UPDATE"
            ),
            ws,
            id,
            state_from_row,
        )
        .await
    } else {
        // A write first: a transaction that only read would have to upgrade its lock to
        // write later, and could fail with SQLITE_BUSY instead of waiting its turn.
        sqlx::query::<Db>(
            "UPDATE monitor_state SET monitor_id = monitor_id \
             WHERE workspace_id = $1 AND monitor_id = $2",
        )
        .bind(ws)
        .bind(id)
        .execute(&mut *c)
        .await?;
        state(c, ws, id).await
    }
}

pub(crate) async fn states(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<MonitorState>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        state_cols!(),
        " FROM monitor_state WHERE workspace_id = $1 ORDER BY monitor_id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(state_from_row).collect()
}

pub(crate) async fn update_state(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MonitorId,
    u: &StateUpdate,
) -> Result<()> {
    let machine = json_of("state machine", &u.machine)?;
    let heartbeat = u
        .heartbeat
        .as_ref()
        .map(|hb| json_of("heartbeat state", hb))
        .transpose()?;
    let done = sqlx::query::<Db>(
        "UPDATE monitor_state SET status = $3, machine = $4, \
         last_result_at = COALESCE($5, last_result_at), \
         last_status = COALESCE($6, last_status), \
         heartbeat = COALESCE($7, heartbeat), \
         last_message = COALESCE($8, last_message), \
         next_run_at = COALESCE($9, next_run_at) \
         WHERE workspace_id = $1 AND monitor_id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(u.status)
    .bind(machine)
    .bind(u.last_result_at)
    .bind(u.last_status)
    .bind(heartbeat)
    .bind(u.last_message.as_deref())
    .bind(u.next_run_at)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("monitor"))
}

/// The scheduling queue: unpaused monitors this server runs (see `runs_local`) whose next run
/// is due.
const SCHEDULE: WorkQueue = work_queue! {
    table: "monitor_state",
    key: "monitor_id",
    due: "paused = FALSE AND runs_local = TRUE AND next_run_at <= $1",
    order: "next_run_at, monitor_id",
    on_claim: "",
    returning: state_cols!(),
};

/// Reads the monitors with these ids (of any workspace), in no particular order.
async fn monitors_by_ids(c: &mut DbConn, ids: &[MonitorId]) -> Result<Vec<Monitor>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::<Db>::new(concat!(
        "SELECT ",
        monitor_cols!(),
        " FROM monitors WHERE id IN ("
    ));
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
    // One statement shape per list length: not worth a slot in the statement cache.
    let rows = q.build().persistent(false).fetch_all(&mut *c).await?;
    rows.iter().map(monitor_from_row).collect()
}

pub(crate) async fn claim_due(c: &mut DbConn, lease: Lease<'_>) -> Result<Vec<ClaimedMonitor>> {
    let mut tx = begin_write(c).await?;
    let states = SCHEDULE
        .claim_rows(&mut tx, lease)
        .await?
        .iter()
        .map(state_from_row)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<MonitorId> = states.iter().map(|s| s.monitor_id).collect();
    let monitors = monitors_by_ids(&mut tx, &ids).await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(states.len());
    for state in states {
        let Some(monitor) = monitors.iter().find(|m| m.id == state.monitor_id) else {
            continue;
        };
        out.push(ClaimedMonitor {
            monitor: monitor.clone(),
            due_at: state.next_run_at,
            lease_expires_at: lease.until,
            state,
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

/// Drops every lease `node` holds, keeping each monitor's next run time.
pub(crate) async fn release_all(c: &mut DbConn, node: &str) -> Result<u64> {
    let done = sqlx::query::<Db>(
        "UPDATE monitor_state SET lease_owner = NULL, lease_expires_at = NULL \
         WHERE lease_owner = $1",
    )
    .bind(node)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected())
}

/// The heartbeat monitor with this ping token (any workspace) and its state.
pub(crate) async fn by_ping_token(
    c: &mut DbConn,
    token: &str,
) -> Result<Option<(Monitor, MonitorState)>> {
    let Some(row) = sqlx::query::<Db>(concat!(
        "SELECT ",
        monitor_cols!(),
        " FROM monitors WHERE ping_token = $1"
    ))
    .bind(token)
    .fetch_optional(&mut *c)
    .await?
    else {
        return Ok(None);
    };
    let monitor = monitor_from_row(&row)?;
    let state = state(c, monitor.workspace_id, monitor.id)
        .await?
        .ok_or_else(|| StoreError::not_found("monitor state"))?;
    Ok(Some((monitor, state)))
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
