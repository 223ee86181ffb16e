//! Locations, agent tokens, exactly-once result cursors and per-location monitor state.

use sqlx::Row as _;

use super::{Db, DbConn, DbRow, PG, begin_write, derived, expect_one, json_err};
use crate::error::{Result, StoreError};
use crate::model::{
    AgentBatchOutcome, AgentResultRow, AgentToken, Location, LocationState, NewCheckResult,
};
use crate::types::*;

macro_rules! location_cols {
    () => {
        "id, workspace_id, name, created_at, last_seen_at, last_agent_id, last_version"
    };
}

macro_rules! agent_token_cols {
    () => {
        "id, workspace_id, location_id, name, prefix, created_at, last_used_at, revoked_at"
    };
}

macro_rules! location_state_cols {
    () => {
        "monitor_id, workspace_id, location, tracker, last_result_at, last_status, reason"
    };
}

pub(crate) async fn create_location(
    c: &mut DbConn,
    ws: WorkspaceId,
    name: &str,
    now: Timestamp,
) -> Result<Location> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    Ok(sqlx::query_as::<Db, Location>(concat!(
        "INSERT INTO locations (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING ",
        location_cols!()
    ))
    .bind(ws)
    .bind(name)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn locations(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<Location>> {
    Ok(sqlx::query_as::<Db, Location>(concat!(
        "SELECT ",
        location_cols!(),
        " FROM locations WHERE workspace_id = $1 ORDER BY name"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn location(
    c: &mut DbConn,
    ws: WorkspaceId,
    name: &str,
) -> Result<Option<Location>> {
    Ok(sqlx::query_as::<Db, Location>(concat!(
        "SELECT ",
        location_cols!(),
        " FROM locations WHERE workspace_id = $1 AND name = $2"
    ))
    .bind(ws)
    .bind(name)
    .fetch_optional(&mut *c)
    .await?)
}

/// Deletes a location with its tokens, cursors and per-monitor states.
pub(crate) async fn delete_location(c: &mut DbConn, ws: WorkspaceId, name: &str) -> Result<()> {
    let mut tx = begin_write(c).await?;
    let done = sqlx::query::<Db>("DELETE FROM locations WHERE workspace_id = $1 AND name = $2")
        .bind(ws)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    expect_one(done, || StoreError::not_found("location"))?;
    sqlx::query::<Db>(
        "DELETE FROM monitor_location_state WHERE workspace_id = $1 AND location = $2",
    )
    .bind(ws)
    .bind(name)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks that `location` is a location of `ws`.
async fn ensure_location(c: &mut DbConn, ws: WorkspaceId, location: LocationId) -> Result<()> {
    super::ensure_by_id(
        c,
        select_by_id!("locations", "id"),
        ws,
        location,
        "location",
    )
    .await
}

pub(crate) async fn create_token(
    c: &mut DbConn,
    ws: WorkspaceId,
    location: LocationId,
    name: &str,
    prefix: &str,
    hash: &[u8],
    now: Timestamp,
) -> Result<AgentToken> {
    let mut tx = begin_write(c).await?;
    ensure_location(&mut tx, ws, location).await?;
    let token = sqlx::query_as::<Db, AgentToken>(concat!(
        "INSERT INTO agent_tokens (workspace_id, location_id, name, prefix, token_hash, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        agent_token_cols!()
    ))
    .bind(ws)
    .bind(location)
    .bind(name)
    .bind(prefix)
    .bind(hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

pub(crate) async fn tokens(
    c: &mut DbConn,
    ws: WorkspaceId,
    location: LocationId,
) -> Result<Vec<AgentToken>> {
    Ok(sqlx::query_as::<Db, AgentToken>(concat!(
        "SELECT ",
        agent_token_cols!(),
        " FROM agent_tokens WHERE workspace_id = $1 AND location_id = $2 ORDER BY id"
    ))
    .bind(ws)
    .bind(location)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn revoke_token(
    c: &mut DbConn,
    ws: WorkspaceId,
    location: LocationId,
    id: AgentTokenId,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE agent_tokens SET revoked_at = COALESCE(revoked_at, $4) \
         WHERE workspace_id = $1 AND location_id = $2 AND id = $3",
    )
    .bind(ws)
    .bind(location)
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("agent token"))
}

/// The token with this prefix, its hash, and its location.
pub(crate) async fn token_by_prefix(
    c: &mut DbConn,
    prefix: &str,
) -> Result<Option<(AgentToken, Vec<u8>)>> {
    let row = sqlx::query::<Db>(concat!(
        "SELECT token_hash, ",
        agent_token_cols!(),
        " FROM agent_tokens WHERE prefix = $1"
    ))
    .bind(prefix)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| Ok((derived::<AgentToken>(&r)?, r.try_get("token_hash")?)))
        .transpose()
}

/// Records an authenticated request of `token`: its last use and its location's last
/// contact; returns the location.
pub(crate) async fn touch(
    c: &mut DbConn,
    token: &AgentToken,
    now: Timestamp,
) -> Result<Option<Location>> {
    let mut tx = begin_write(c).await?;
    sqlx::query::<Db>("UPDATE agent_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(token.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let location = sqlx::query_as::<Db, Location>(concat!(
        "UPDATE locations SET last_seen_at = $3 WHERE workspace_id = $1 AND id = $2 \
         RETURNING ",
        location_cols!()
    ))
    .bind(token.workspace_id)
    .bind(token.location_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(location)
}

/// The cursor of an agent, created at 0 when missing, locked until the caller's transaction
/// ends.
async fn cursor_for_update(
    c: &mut DbConn,
    location: LocationId,
    agent_id: &str,
    now: Timestamp,
) -> Result<u64> {
    sqlx::query::<Db>(
        "INSERT INTO agent_cursors (location_id, agent_id, last_seq, updated_at) \
         VALUES ($1, $2, 0, $3) ON CONFLICT DO NOTHING",
    )
    .bind(location)
    .bind(agent_id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    let sql = if PG {
        "SELECT last_seq FROM agent_cursors WHERE location_id = $1 AND agent_id = $2 FOR UPDATE"
    } else {
        "SELECT last_seq FROM agent_cursors WHERE location_id = $1 AND agent_id = $2"
    };
    let seq: i64 = sqlx::query_scalar::<Db, i64>(sql)
        .bind(location)
        .bind(agent_id)
        .fetch_one(&mut *c)
        .await?;
    Ok(u64::try_from(seq).unwrap_or(0))
}

/// The highest stored sequence number of an agent (0 when none).
pub(crate) async fn cursor(
    c: &mut DbConn,
    ws: WorkspaceId,
    location: LocationId,
    agent_id: &str,
) -> Result<u64> {
    ensure_location(c, ws, location).await?;
    let seq: Option<i64> = sqlx::query_scalar::<Db, i64>(
        "SELECT last_seq FROM agent_cursors WHERE location_id = $1 AND agent_id = $2",
    )
    .bind(location)
    .bind(agent_id)
    .fetch_optional(&mut *c)
    .await?;
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// Records a hello: the location's agent, version and contact; returns the agent's cursor.
pub(crate) async fn hello(
    c: &mut DbConn,
    ws: WorkspaceId,
    location: LocationId,
    agent_id: &str,
    version: &str,
    now: Timestamp,
) -> Result<u64> {
    let mut tx = begin_write(c).await?;
    let done = sqlx::query::<Db>(
        "UPDATE locations SET last_seen_at = $3, last_agent_id = $4, last_version = $5 \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(location)
    .bind(now)
    .bind(agent_id)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    expect_one(done, || StoreError::not_found("location"))?;
    let seq = cursor(&mut tx, ws, location, agent_id).await?;
    tx.commit().await?;
    Ok(seq)
}

fn seq_param(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| StoreError::invalid("seq", "too large"))
}

/// Stores a batch of an agent in one transaction (nested in the caller's, if any): results
/// above the cursor are written (or ignored when they have no row), the cursor moves to the
/// highest sequence number seen, and the location's last contact is `now`.
pub(crate) async fn record_batch(
    c: &mut DbConn,
    ws: WorkspaceId,
    location: LocationId,
    agent_id: &str,
    batch: &[AgentResultRow],
    now: Timestamp,
) -> Result<AgentBatchOutcome> {
    for pair in batch.windows(2) {
        if pair[1].seq <= pair[0].seq {
            return Err(StoreError::invalid("seq", "must increase within a batch"));
        }
    }
    if let Some(last) = batch.last() {
        seq_param(last.seq)?;
    }
    let mut tx = begin_write(c).await?;
    let done = sqlx::query::<Db>(
        "UPDATE locations SET last_seen_at = $3 WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(location)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    expect_one(done, || StoreError::not_found("location"))?;
    let stored_seq = cursor_for_update(&mut tx, location, agent_id, now).await?;
    let mut out = AgentBatchOutcome {
        last_seq: stored_seq,
        ..AgentBatchOutcome::default()
    };
    let mut rows: Vec<NewCheckResult> = Vec::new();
    for (i, row) in batch.iter().enumerate() {
        if row.seq <= stored_seq {
            out.duplicates += 1;
            continue;
        }
        out.last_seq = row.seq;
        match &row.result {
            Some(r) => {
                rows.push(r.clone());
                out.stored.push(i);
            }
            None => out.ignored += 1,
        }
    }
    if !rows.is_empty() {
        super::results::insert(&mut tx, ws, &rows).await?;
    }
    if out.last_seq > stored_seq {
        sqlx::query::<Db>(
            "UPDATE agent_cursors SET last_seq = $3, updated_at = $4 \
             WHERE location_id = $1 AND agent_id = $2",
        )
        .bind(location)
        .bind(agent_id)
        .bind(seq_param(out.last_seq)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

fn location_state_from_row(r: &DbRow) -> Result<LocationState> {
    let tracker: String = r.try_get("tracker")?;
    Ok(LocationState {
        monitor_id: r.try_get("monitor_id")?,
        workspace_id: r.try_get("workspace_id")?,
        location: r.try_get("location")?,
        tracker: serde_json::from_str(&tracker).map_err(|e| StoreError::Corrupt {
            column: "tracker",
            problem: e.to_string(),
        })?,
        last_result_at: r.try_get("last_result_at")?,
        last_status: r.try_get("last_status")?,
        reason: r.try_get("reason")?,
    })
}

/// Every location's state of a monitor, by location name.
pub(crate) async fn location_states(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitor: MonitorId,
) -> Result<Vec<LocationState>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        location_state_cols!(),
        " FROM monitor_location_state WHERE workspace_id = $1 AND monitor_id = $2 \
         ORDER BY location"
    ))
    .bind(ws)
    .bind(monitor)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(location_state_from_row).collect()
}

/// Writes one location's state of a monitor (of `ws`).
pub(crate) async fn save_location_state(
    c: &mut DbConn,
    ws: WorkspaceId,
    s: &LocationState,
) -> Result<()> {
    let tracker = serde_json::to_string(&s.tracker).map_err(json_err("tracker"))?;
    let done = sqlx::query::<Db>(
        "INSERT INTO monitor_location_state (monitor_id, workspace_id, location, tracker, \
         last_result_at, last_status, reason) \
         SELECT id, workspace_id, $3, $4, $5, $6, $7 FROM monitors \
         WHERE workspace_id = $1 AND id = $2 \
         ON CONFLICT (monitor_id, location) DO UPDATE SET tracker = excluded.tracker, \
         last_result_at = excluded.last_result_at, last_status = excluded.last_status, \
         reason = excluded.reason",
    )
    .bind(ws)
    .bind(s.monitor_id)
    .bind(&s.location)
    .bind(tracker)
    .bind(s.last_result_at)
    .bind(s.last_status)
    .bind(s.reason.as_deref())
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("monitor"))
}

/// Unpaused check monitors (of every workspace) that some location other than `local` runs,
/// as `(workspace, monitor)`, by monitor id.
pub(crate) async fn quorum_monitors(c: &mut DbConn) -> Result<Vec<(WorkspaceId, MonitorId)>> {
    Ok(sqlx::query_as::<Db, (WorkspaceId, MonitorId)>(
        "SELECT workspace_id, id FROM monitors WHERE paused = FALSE AND kind <> 'heartbeat' \
         AND locations <> '[]' AND locations <> '[\"local\"]' ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await?)
}
