//! Incidents, their updates and affected components.

use super::{Db, DbConn, LinkTable, begin_write, derived, ensure_by_id, expect_one, fetch_by_id};
use crate::error::{Result, StoreError};
use crate::model::{Incident, IncidentUpdate, NewIncident};
use crate::types::*;

macro_rules! incident_cols {
    () => {
        "id, workspace_id, monitor_id, kind, title, status, impact, started_at, resolved_at, \
         updated_at"
    };
}

pub(crate) async fn open(c: &mut DbConn, ws: WorkspaceId, new: &NewIncident) -> Result<Incident> {
    let mut tx = begin_write(c).await?;
    if let Some(m) = new.monitor_id {
        ensure_by_id(&mut tx, select_by_id!("monitors", "id"), ws, m, "monitor").await?;
    }
    let resolved_at = (new.status == IncidentStatus::Resolved).then_some(new.started_at);
    let incident = sqlx::query_as::<Db, Incident>(concat!(
        "INSERT INTO incidents (workspace_id, monitor_id, kind, title, status, impact, \
         started_at, resolved_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7) \
         RETURNING ",
        incident_cols!()
    ))
    .bind(ws)
    .bind(new.monitor_id)
    .bind(new.kind)
    .bind(&new.title)
    .bind(new.status)
    .bind(new.impact)
    .bind(new.started_at)
    .bind(resolved_at)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query::<Db>(
        "INSERT INTO incident_updates (incident_id, workspace_id, status, message, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(incident.id)
    .bind(ws)
    .bind(new.status)
    .bind(&new.message)
    .bind(new.started_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(incident)
}

pub(crate) async fn get(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
) -> Result<Option<Incident>> {
    fetch_by_id(
        c,
        select_by_id!("incidents", incident_cols!()),
        ws,
        id,
        derived,
    )
    .await
}

/// Newest first; `open_only` leaves out resolved ones.
pub(crate) async fn list(
    c: &mut DbConn,
    ws: WorkspaceId,
    open_only: bool,
    limit: u32,
) -> Result<Vec<Incident>> {
    Ok(sqlx::query_as::<Db, Incident>(concat!(
        "SELECT ",
        incident_cols!(),
        " FROM incidents WHERE workspace_id = $1 AND (resolved_at IS NULL OR $2 = FALSE) \
         ORDER BY started_at DESC, id DESC LIMIT $3"
    ))
    .bind(ws)
    .bind(open_only)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn open_for_monitor(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitor: MonitorId,
) -> Result<Option<Incident>> {
    Ok(sqlx::query_as::<Db, Incident>(concat!(
        "SELECT ",
        incident_cols!(),
        " FROM incidents WHERE workspace_id = $1 AND monitor_id = $2 AND resolved_at IS NULL \
         ORDER BY started_at DESC, id DESC LIMIT 1"
    ))
    .bind(ws)
    .bind(monitor)
    .fetch_optional(&mut *c)
    .await?)
}

/// Posts an update and moves the incident to its status (resolving it, or reopening it).
pub(crate) async fn add_update(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
    status: IncidentStatus,
    message: &str,
    at: Timestamp,
) -> Result<IncidentUpdate> {
    let mut tx = begin_write(c).await?;
    let done = sqlx::query::<Db>(
        "UPDATE incidents SET status = $3, updated_at = $4, resolved_at = CASE \
           WHEN $3 = 'resolved' THEN COALESCE(resolved_at, $4) ELSE NULL END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(status)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    expect_one(done, || StoreError::not_found("incident"))?;
    let update = sqlx::query_as::<Db, IncidentUpdate>(
        "INSERT INTO incident_updates (incident_id, workspace_id, status, message, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id, incident_id, status, message, created_at",
    )
    .bind(id)
    .bind(ws)
    .bind(status)
    .bind(message)
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(update)
}

pub(crate) async fn updates(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
) -> Result<Vec<IncidentUpdate>> {
    Ok(sqlx::query_as::<Db, IncidentUpdate>(
        "SELECT id, incident_id, status, message, created_at FROM incident_updates \
         WHERE workspace_id = $1 AND incident_id = $2 ORDER BY created_at, id",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(&mut *c)
    .await?)
}

/// The components an incident affects.
const INCIDENT_COMPONENTS: LinkTable = link_table! {
    table: "incident_components",
    owner: "incident_id" in "incidents" as "incident",
    target: "component_id" in "components" as "component",
};

/// Replaces the components an incident affects; all must be in the workspace.
pub(crate) async fn set_components(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
    components: &[ComponentId],
) -> Result<()> {
    INCIDENT_COMPONENTS.replace(c, ws, id, components).await
}

pub(crate) async fn components(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
) -> Result<Vec<ComponentId>> {
    INCIDENT_COMPONENTS.list(c, ws, id).await
}

/// A monitor's incidents, newest first.
pub(crate) async fn for_monitor(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitor: MonitorId,
    limit: u32,
) -> Result<Vec<Incident>> {
    Ok(sqlx::query_as::<Db, Incident>(concat!(
        "SELECT ",
        incident_cols!(),
        " FROM incidents WHERE workspace_id = $1 AND monitor_id = $2 \
         ORDER BY started_at DESC, id DESC LIMIT $3"
    ))
    .bind(ws)
    .bind(monitor)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?)
}
