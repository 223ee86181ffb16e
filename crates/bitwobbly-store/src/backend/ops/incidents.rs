//! Incidents, their updates and affected components.

use std::collections::HashMap;

use super::{Db, DbConn, LinkTable, begin_write, derived, ensure_by_id, expect_one, fetch_by_id};
use crate::error::{Result, StoreError};
use crate::model::{
    AffectedComponent, ComponentChange, Incident, IncidentDetail, IncidentUpdate, NewIncident,
    NewIncidentUpdate, PageIncidentQuery,
};
use crate::types::*;

macro_rules! incident_cols {
    () => {
        "id, workspace_id, monitor_id, kind, title, status, impact, started_at, resolved_at, \
         updated_at, published"
    };
}

/// Opens an incident with its first update. Manual incidents are published at once,
/// automatic ones wait for review (see `StatusPage::shows`). `components` are affected with
/// their statuses; an automatic incident with none given affects every component that shows
/// its monitor, with the status its impact implies.
pub(crate) async fn open(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewIncident,
    components: &[AffectedComponent],
) -> Result<Incident> {
    let mut tx = begin_write(c).await?;
    if let Some(m) = new.monitor_id {
        ensure_by_id(&mut tx, select_by_id!("monitors", "id"), ws, m, "monitor").await?;
    }
    let resolved_at = (new.status == IncidentStatus::Resolved).then_some(new.started_at);
    let incident = sqlx::query_as::<Db, Incident>(concat!(
        "INSERT INTO incidents (workspace_id, monitor_id, kind, title, status, impact, \
         started_at, resolved_at, updated_at, published) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9) RETURNING ",
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
    .bind(new.kind == IncidentKind::Manual)
    .fetch_one(&mut *tx)
    .await?;
    let update: IncidentUpdateId = sqlx::query_scalar::<Db, IncidentUpdateId>(
        "INSERT INTO incident_updates (incident_id, workspace_id, status, message, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(incident.id)
    .bind(ws)
    .bind(new.status)
    .bind(&new.message)
    .bind(new.started_at)
    .fetch_one(&mut *tx)
    .await?;
    match (new.kind, new.monitor_id) {
        (IncidentKind::Automatic, Some(monitor)) if components.is_empty() => {
            link_monitor_components(&mut tx, ws, incident.id, update, monitor, new.impact).await?;
        }
        _ => {
            affect(&mut tx, ws, incident.id, update, components).await?;
        }
    }
    tx.commit().await?;
    Ok(incident)
}

/// Links every component that shows `monitor` to a new automatic incident.
async fn link_monitor_components(
    c: &mut DbConn,
    ws: WorkspaceId,
    incident: IncidentId,
    update: IncidentUpdateId,
    monitor: MonitorId,
    impact: Impact,
) -> Result<()> {
    let status = ComponentStatus::for_impact(impact);
    sqlx::query::<Db>(
        "INSERT INTO incident_components (incident_id, component_id, workspace_id, status) \
         SELECT $2, id, workspace_id, $3 FROM components WHERE workspace_id = $1 AND monitor_id = $4",
    )
    .bind(ws)
    .bind(incident)
    .bind(status)
    .bind(monitor)
    .execute(&mut *c)
    .await?;
    sqlx::query::<Db>(
        "INSERT INTO incident_update_components (update_id, incident_id, component_id, \
         workspace_id, old_status, new_status) \
         SELECT $2, $3, id, workspace_id, NULL, $4 FROM components \
         WHERE workspace_id = $1 AND monitor_id = $5",
    )
    .bind(ws)
    .bind(update)
    .bind(incident)
    .bind(status)
    .bind(monitor)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Sets the status of each of `components` in the incident (adding the ones not yet
/// affected) and records the changes on `update`; returns them. A component listed twice
/// counts once, with its last status.
async fn affect(
    c: &mut DbConn,
    ws: WorkspaceId,
    incident: IncidentId,
    update: IncidentUpdateId,
    components: &[AffectedComponent],
) -> Result<Vec<ComponentChange>> {
    let mut last: Vec<AffectedComponent> = Vec::with_capacity(components.len());
    for a in components {
        match last.iter_mut().find(|l| l.component_id == a.component_id) {
            Some(l) => l.status = a.status,
            None => last.push(*a),
        }
    }
    let mut changes = Vec::with_capacity(last.len());
    for a in last {
        let old = sqlx::query_scalar::<Db, ComponentStatus>(
            "SELECT status FROM incident_components \
             WHERE workspace_id = $1 AND incident_id = $2 AND component_id = $3",
        )
        .bind(ws)
        .bind(incident)
        .bind(a.component_id)
        .fetch_optional(&mut *c)
        .await?;
        let done = sqlx::query::<Db>(
            "INSERT INTO incident_components (incident_id, component_id, workspace_id, status) \
             SELECT $2, id, workspace_id, $4 FROM components WHERE workspace_id = $1 AND id = $3 \
             ON CONFLICT (incident_id, component_id) DO UPDATE SET status = excluded.status",
        )
        .bind(ws)
        .bind(incident)
        .bind(a.component_id)
        .bind(a.status)
        .execute(&mut *c)
        .await?;
        expect_one(done, || StoreError::not_found("component"))?;
        sqlx::query::<Db>(
            "INSERT INTO incident_update_components (update_id, incident_id, component_id, \
             workspace_id, old_status, new_status) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(update)
        .bind(incident)
        .bind(a.component_id)
        .bind(ws)
        .bind(old)
        .bind(a.status)
        .execute(&mut *c)
        .await?;
        changes.push(ComponentChange {
            component_id: a.component_id,
            old_status: old,
            new_status: a.status,
        });
    }
    Ok(changes)
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

/// Posts an update and moves the incident to its status (resolving it, or reopening it),
/// changing the status of the components it lists.
pub(crate) async fn post_update(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
    new: &NewIncidentUpdate,
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
    .bind(new.status)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    expect_one(done, || StoreError::not_found("incident"))?;
    let mut update = sqlx::query_as::<Db, IncidentUpdate>(
        "INSERT INTO incident_updates (incident_id, workspace_id, status, message, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id, incident_id, status, message, created_at",
    )
    .bind(id)
    .bind(ws)
    .bind(new.status)
    .bind(&new.message)
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    update.components = affect(&mut tx, ws, id, update.id, &new.components).await?;
    tx.commit().await?;
    Ok(update)
}

/// Changes an incident's title and impact.
pub(crate) async fn edit(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
    title: &str,
    impact: Impact,
    at: Timestamp,
) -> Result<Incident> {
    if title.trim().is_empty() {
        return Err(StoreError::invalid("title", "must not be empty"));
    }
    sqlx::query_as::<Db, Incident>(concat!(
        "UPDATE incidents SET title = $3, impact = $4, updated_at = $5 \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        incident_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(title.trim())
    .bind(impact)
    .bind(at)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("incident"))
}

/// Releases an incident for pages that hold automatic incidents.
pub(crate) async fn publish(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
    at: Timestamp,
) -> Result<Incident> {
    sqlx::query_as::<Db, Incident>(concat!(
        "UPDATE incidents SET published = TRUE, updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        incident_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(at)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("incident"))
}

/// An incident's updates, oldest first, with the component changes each made.
pub(crate) async fn updates(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
) -> Result<Vec<IncidentUpdate>> {
    let mut updates = sqlx::query_as::<Db, IncidentUpdate>(
        "SELECT id, incident_id, status, message, created_at FROM incident_updates \
         WHERE workspace_id = $1 AND incident_id = $2 ORDER BY created_at, id",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    let changes = sqlx::query_as::<
        Db,
        (
            IncidentUpdateId,
            ComponentId,
            Option<ComponentStatus>,
            ComponentStatus,
        ),
    >(
        "SELECT update_id, component_id, old_status, new_status FROM incident_update_components \
         WHERE workspace_id = $1 AND incident_id = $2 ORDER BY component_id",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    attach_changes(&mut updates, changes, |_| true);
    Ok(updates)
}

/// Puts each change row on its update, keeping only components `keep` accepts.
fn attach_changes(
    updates: &mut [IncidentUpdate],
    changes: Vec<(
        IncidentUpdateId,
        ComponentId,
        Option<ComponentStatus>,
        ComponentStatus,
    )>,
    keep: impl Fn(ComponentId) -> bool,
) {
    let index: HashMap<IncidentUpdateId, usize> =
        updates.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
    for (update, component_id, old_status, new_status) in changes {
        if let Some(&i) = index.get(&update)
            && keep(component_id)
        {
            updates[i].components.push(ComponentChange {
                component_id,
                old_status,
                new_status,
            });
        }
    }
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

/// The components an incident affects with their status in it, by component id.
pub(crate) async fn component_statuses(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IncidentId,
) -> Result<Vec<AffectedComponent>> {
    Ok(sqlx::query_as::<Db, AffectedComponent>(
        "SELECT component_id, status FROM incident_components \
         WHERE workspace_id = $1 AND incident_id = $2 ORDER BY component_id",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(&mut *c)
    .await?)
}

/// The incidents a page shows, newest first, each with its updates (newest first) and the
/// page's components it affects (page order).
///
/// An incident is on the page when it affects one of the page's components, when it is
/// automatic and one of the page's components shows its monitor, or when it is manual and
/// affects no component at all. A page that holds automatic incidents shows only published
/// ones.
pub(crate) async fn for_page(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    q: &PageIncidentQuery,
) -> Result<Vec<IncidentDetail>> {
    let hold = sqlx::query_scalar::<Db, bool>(
        "SELECT hold_auto_incidents FROM status_pages WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(page)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))?;
    let incidents = sqlx::query_as::<Db, Incident>(concat!(
        "SELECT ",
        incident_cols!(),
        " FROM incidents i WHERE i.workspace_id = $1 \
           AND ($3 = FALSE OR i.published) \
           AND ($4 = FALSE OR i.resolved_at IS NULL) \
           AND ($5 IS NULL OR i.started_at >= $5) AND ($6 IS NULL OR i.started_at < $6) \
           AND (EXISTS (SELECT 1 FROM incident_components ic \
                  JOIN components k ON k.id = ic.component_id \
                  WHERE ic.incident_id = i.id AND k.page_id = $2) \
             OR (i.kind = 'automatic' AND i.monitor_id IS NOT NULL AND EXISTS \
                  (SELECT 1 FROM components k WHERE k.page_id = $2 AND k.monitor_id = i.monitor_id)) \
             OR (i.kind = 'manual' AND NOT EXISTS \
                  (SELECT 1 FROM incident_components ic WHERE ic.incident_id = i.id))) \
         ORDER BY i.started_at DESC, i.id DESC LIMIT $7"
    ))
    .bind(ws)
    .bind(page)
    .bind(hold)
    .bind(q.open_only)
    .bind(q.from)
    .bind(q.to)
    .bind(i64::from(q.limit.max(1)))
    .fetch_all(&mut *c)
    .await?;
    if incidents.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<IncidentId> = incidents.iter().map(|i| i.id).collect();
    // The page's components in page order: filters and orders what follows.
    let page_components = sqlx::query_as::<Db, (ComponentId, Option<MonitorId>)>(
        "SELECT id, monitor_id FROM components WHERE workspace_id = $1 AND page_id = $2 \
         ORDER BY position, id",
    )
    .bind(ws)
    .bind(page)
    .fetch_all(&mut *c)
    .await?;
    let rank: HashMap<ComponentId, usize> = page_components
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();

    let mut q = sqlx::QueryBuilder::<Db>::new(
        "SELECT id, incident_id, status, message, created_at FROM incident_updates \
         WHERE workspace_id = ",
    );
    q.push_bind(ws).push(" AND incident_id IN (");
    push_ids(&mut q, &ids);
    q.push(") ORDER BY created_at DESC, id DESC");
    let mut updates: Vec<IncidentUpdate> = q.build_query_as().fetch_all(&mut *c).await?;

    let mut q = sqlx::QueryBuilder::<Db>::new(
        "SELECT update_id, component_id, old_status, new_status FROM incident_update_components \
         WHERE workspace_id = ",
    );
    q.push_bind(ws).push(" AND incident_id IN (");
    push_ids(&mut q, &ids);
    q.push(") ORDER BY component_id");
    let changes = q.build_query_as().fetch_all(&mut *c).await?;
    attach_changes(&mut updates, changes, |id| rank.contains_key(&id));
    for u in &mut updates {
        u.components
            .sort_by_key(|ch| rank.get(&ch.component_id).copied());
    }

    let mut q = sqlx::QueryBuilder::<Db>::new(
        "SELECT incident_id, component_id, status FROM incident_components WHERE workspace_id = ",
    );
    q.push_bind(ws).push(" AND incident_id IN (");
    push_ids(&mut q, &ids);
    q.push(")");
    let linked: Vec<(IncidentId, ComponentId, ComponentStatus)> =
        q.build_query_as().fetch_all(&mut *c).await?;

    let mut out: Vec<IncidentDetail> = incidents
        .into_iter()
        .map(|incident| IncidentDetail {
            incident,
            updates: Vec::new(),
            components: Vec::new(),
        })
        .collect();
    let at: HashMap<IncidentId, usize> = out
        .iter()
        .enumerate()
        .map(|(i, d)| (d.incident.id, i))
        .collect();
    for u in updates {
        if let Some(&i) = at.get(&u.incident_id) {
            out[i].updates.push(u);
        }
    }
    for (incident, component_id, status) in linked {
        if let Some(&i) = at.get(&incident)
            && rank.contains_key(&component_id)
        {
            out[i].components.push(AffectedComponent {
                component_id,
                status,
            });
        }
    }
    for d in &mut out {
        // An automatic incident also affects page components added after it opened that
        // show its monitor.
        if d.incident.kind == IncidentKind::Automatic
            && let Some(m) = d.incident.monitor_id
        {
            for (id, monitor) in &page_components {
                if *monitor == Some(m) && !d.components.iter().any(|a| a.component_id == *id) {
                    d.components.push(AffectedComponent {
                        component_id: *id,
                        status: ComponentStatus::for_impact(d.incident.impact),
                    });
                }
            }
        }
        d.components
            .sort_by_key(|a| rank.get(&a.component_id).copied());
    }
    Ok(out)
}

/// Appends `ids` as bound parameters separated by commas.
fn push_ids(q: &mut sqlx::QueryBuilder<Db>, ids: &[IncidentId]) {
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
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
