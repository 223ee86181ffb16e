//! Status pages, component groups, components, maintenance windows and subscribers.

use sqlx::Row as _;

use super::{
    Db, DbConn, DbRow, LinkTable, begin_write, derived, execute_by_id, expect_one, fetch_by_id,
};
use crate::error::{Result, StoreError};
use crate::model::{
    Component, ComponentGroup, Maintenance, NewComponent, NewMaintenance, NewStatusPage,
    StatusPage, Subscriber,
};
use crate::types::*;

macro_rules! page_cols {
    () => {
        "id, workspace_id, slug, title, description, custom_domain, public, created_at"
    };
}
macro_rules! component_cols {
    () => {
        "id, key, page_id, group_id, monitor_id, name, description, status, position"
    };
}
macro_rules! maintenance_cols {
    () => {
        "id, workspace_id, title, message, starts_at, ends_at, recurrence_cron, recurrence_tz, \
         duration_secs, created_at"
    };
}

pub(crate) async fn create_page(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewStatusPage,
    now: Timestamp,
) -> Result<StatusPage> {
    if new.slug.is_empty() {
        return Err(StoreError::invalid("slug", "must not be empty"));
    }
    Ok(sqlx::query_as::<Db, StatusPage>(concat!(
        "INSERT INTO status_pages (workspace_id, slug, title, description, custom_domain, public, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        page_cols!()
    ))
    .bind(ws)
    .bind(&new.slug)
    .bind(&new.title)
    .bind(&new.description)
    .bind(&new.custom_domain)
    .bind(new.public)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn update_page(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: StatusPageId,
    new: &NewStatusPage,
) -> Result<StatusPage> {
    sqlx::query_as::<Db, StatusPage>(concat!(
        "UPDATE status_pages SET slug = $3, title = $4, description = $5, custom_domain = $6, \
         public = $7 WHERE workspace_id = $1 AND id = $2 RETURNING ",
        page_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(&new.slug)
    .bind(&new.title)
    .bind(&new.description)
    .bind(&new.custom_domain)
    .bind(new.public)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))
}

pub(crate) async fn page(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: StatusPageId,
) -> Result<Option<StatusPage>> {
    fetch_by_id(
        c,
        select_by_id!("status_pages", page_cols!()),
        ws,
        id,
        derived,
    )
    .await
}

pub(crate) async fn pages(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<StatusPage>> {
    Ok(sqlx::query_as::<Db, StatusPage>(concat!(
        "SELECT ",
        page_cols!(),
        " FROM status_pages WHERE workspace_id = $1 ORDER BY id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?)
}

/// The page served at a slug or custom domain (public lookup, no workspace yet).
pub(crate) async fn page_by_address(c: &mut DbConn, address: &str) -> Result<Option<StatusPage>> {
    Ok(sqlx::query_as::<Db, StatusPage>(concat!(
        "SELECT ",
        page_cols!(),
        " FROM status_pages WHERE custom_domain = $1 OR slug = $1 \
         ORDER BY CASE WHEN custom_domain = $1 THEN 0 ELSE 1 END LIMIT 1"
    ))
    .bind(address)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn delete_page(c: &mut DbConn, ws: WorkspaceId, id: StatusPageId) -> Result<()> {
    execute_by_id(c, delete_by_id!("status_pages"), ws, id, "status page").await
}

pub(crate) async fn create_group(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    name: &str,
    position: i64,
) -> Result<ComponentGroup> {
    sqlx::query_as::<Db, ComponentGroup>(
        "INSERT INTO component_groups (workspace_id, page_id, name, position) \
         SELECT workspace_id, id, $3, $4 FROM status_pages WHERE workspace_id = $1 AND id = $2 \
         RETURNING id, page_id, name, position",
    )
    .bind(ws)
    .bind(page)
    .bind(name)
    .bind(position)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))
}

pub(crate) async fn groups(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
) -> Result<Vec<ComponentGroup>> {
    Ok(sqlx::query_as::<Db, ComponentGroup>(
        "SELECT id, page_id, name, position FROM component_groups \
         WHERE workspace_id = $1 AND page_id = $2 ORDER BY position, id",
    )
    .bind(ws)
    .bind(page)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn delete_group(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentGroupId,
) -> Result<()> {
    execute_by_id(
        c,
        delete_by_id!("component_groups"),
        ws,
        id,
        "component group",
    )
    .await
}

/// Adds a component; its page, group and monitor must all be in the workspace.
pub(crate) async fn create_component(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewComponent,
) -> Result<Component> {
    check_component_key(new)?;
    sqlx::query_as::<Db, Component>(concat!(
        "INSERT INTO components (workspace_id, page_id, group_id, monitor_id, name, description, \
         status, position, key) \
         SELECT p.workspace_id, p.id, $3, $4, $5, $6, 'operational', $7, $8 FROM status_pages p \
         WHERE p.workspace_id = $1 AND p.id = $2 \
           AND ($3 IS NULL OR EXISTS (SELECT 1 FROM component_groups g \
                WHERE g.id = $3 AND g.page_id = p.id)) \
           AND ($4 IS NULL OR EXISTS (SELECT 1 FROM monitors m \
                WHERE m.id = $4 AND m.workspace_id = p.workspace_id)) \
         RETURNING ",
        component_cols!()
    ))
    .bind(ws)
    .bind(new.page_id)
    .bind(new.group_id)
    .bind(new.monitor_id)
    .bind(&new.name)
    .bind(&new.description)
    .bind(new.position)
    .bind(new.key.as_deref())
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("status page, group or monitor"))
}

fn check_component_key(new: &NewComponent) -> Result<()> {
    if new.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(StoreError::invalid("key", "must not be empty"));
    }
    Ok(())
}

pub(crate) async fn component(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentId,
) -> Result<Option<Component>> {
    fetch_by_id(
        c,
        select_by_id!("components", component_cols!()),
        ws,
        id,
        derived,
    )
    .await
}

pub(crate) async fn component_by_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    key: &str,
) -> Result<Option<Component>> {
    Ok(sqlx::query_as::<Db, Component>(concat!(
        "SELECT ",
        component_cols!(),
        " FROM components WHERE workspace_id = $1 AND page_id = $2 AND key = $3"
    ))
    .bind(ws)
    .bind(page)
    .bind(key)
    .fetch_optional(&mut *c)
    .await?)
}

/// Replaces a component's group, monitor, key, name, description and position; the group
/// must be on its page and the monitor in the workspace.
pub(crate) async fn update_component(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentId,
    new: &NewComponent,
) -> Result<Component> {
    check_component_key(new)?;
    let mut tx = begin_write(c).await?;
    let page: StatusPageId = sqlx::query_scalar::<Db, StatusPageId>(
        "SELECT page_id FROM components WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("component"))?;
    if new.page_id != page {
        return Err(StoreError::invalid(
            "page_id",
            "a component cannot move to another page",
        ));
    }
    let updated = sqlx::query_as::<Db, Component>(concat!(
        "UPDATE components SET group_id = $3, monitor_id = $4, name = $5, description = $6, \
         position = $7, key = $8 \
         WHERE workspace_id = $1 AND id = $2 \
           AND ($3 IS NULL OR EXISTS (SELECT 1 FROM component_groups g \
                WHERE g.id = $3 AND g.page_id = components.page_id)) \
           AND ($4 IS NULL OR EXISTS (SELECT 1 FROM monitors m \
                WHERE m.id = $4 AND m.workspace_id = components.workspace_id)) \
         RETURNING ",
        component_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(new.group_id)
    .bind(new.monitor_id)
    .bind(&new.name)
    .bind(&new.description)
    .bind(new.position)
    .bind(new.key.as_deref())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("component group or monitor"))?;
    tx.commit().await?;
    Ok(updated)
}

pub(crate) async fn components(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
) -> Result<Vec<Component>> {
    Ok(sqlx::query_as::<Db, Component>(concat!(
        "SELECT ",
        component_cols!(),
        " FROM components WHERE workspace_id = $1 AND page_id = $2 ORDER BY position, id"
    ))
    .bind(ws)
    .bind(page)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn set_component_status(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentId,
    status: ComponentStatus,
) -> Result<()> {
    let done =
        sqlx::query::<Db>("UPDATE components SET status = $3 WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .bind(status)
            .execute(&mut *c)
            .await?;
    expect_one(done, || StoreError::not_found("component"))
}

/// Sets the order of a page's components to the order of `ids`.
pub(crate) async fn reorder_components(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    ids: &[ComponentId],
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    for (pos, id) in ids.iter().enumerate() {
        let done = sqlx::query::<Db>(
            "UPDATE components SET position = $4 \
             WHERE workspace_id = $1 AND page_id = $2 AND id = $3",
        )
        .bind(ws)
        .bind(page)
        .bind(*id)
        .bind(i64::try_from(pos).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        expect_one(done, || StoreError::not_found("component"))?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn delete_component(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentId,
) -> Result<()> {
    execute_by_id(c, delete_by_id!("components"), ws, id, "component").await
}

/// The components a maintenance window covers.
const MAINTENANCE_COMPONENTS: LinkTable = link_table! {
    table: "maintenance_components",
    owner: "maintenance_id" in "maintenance_windows" as "maintenance window",
    target: "component_id" in "components" as "component",
};

/// The monitors a maintenance window covers directly.
const MAINTENANCE_MONITORS: LinkTable = link_table! {
    table: "maintenance_monitors",
    owner: "maintenance_id" in "maintenance_windows" as "maintenance window",
    target: "monitor_id" in "monitors" as "monitor",
};

/// Checks a window's times and recurrence (the cron expression and zone are parsed by core).
fn check_maintenance(new: &NewMaintenance) -> Result<()> {
    if new.ends_at <= new.starts_at {
        return Err(StoreError::invalid("ends_at", "must be after starts_at"));
    }
    if new.recurrence_cron.is_some() != new.duration_secs.is_some() {
        return Err(StoreError::invalid(
            "recurrence",
            "a recurring window needs both a cron expression and a duration",
        ));
    }
    if new.duration_secs.is_some_and(|d| d <= 0) {
        return Err(StoreError::invalid("duration_secs", "must be positive"));
    }
    match (&new.recurrence_cron, &new.recurrence_tz) {
        (Some(expr), tz) => {
            let tz = tz.as_deref().unwrap_or("UTC");
            bitwobbly_core::schedule::CronSchedule::new(expr, tz).map_err(|e| {
                let field = if e.field == "tz" {
                    "recurrence_tz"
                } else {
                    "recurrence_cron"
                };
                StoreError::invalid(field, e.problem)
            })?;
        }
        (None, Some(_)) => {
            return Err(StoreError::invalid(
                "recurrence_tz",
                "only a recurring window has a time zone",
            ));
        }
        (None, None) => {}
    }
    Ok(())
}

/// A window row without its links.
fn maintenance_from_row(r: &DbRow) -> Result<Maintenance> {
    Ok(Maintenance {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        title: r.try_get("title")?,
        message: r.try_get("message")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        recurrence_cron: r.try_get("recurrence_cron")?,
        recurrence_tz: r.try_get("recurrence_tz")?,
        duration_secs: r.try_get("duration_secs")?,
        components: Vec::new(),
        monitors: Vec::new(),
        created_at: r.try_get("created_at")?,
    })
}

/// Reads window rows and fills in their links.
async fn with_links(c: &mut DbConn, ws: WorkspaceId, rows: &[DbRow]) -> Result<Vec<Maintenance>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut m = maintenance_from_row(row)?;
        m.components = MAINTENANCE_COMPONENTS.list(c, ws, m.id).await?;
        m.monitors = MAINTENANCE_MONITORS.list(c, ws, m.id).await?;
        out.push(m);
    }
    Ok(out)
}

pub(crate) async fn create_maintenance(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewMaintenance,
    now: Timestamp,
) -> Result<Maintenance> {
    check_maintenance(new)?;
    let mut tx = begin_write(c).await?;
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO maintenance_windows (workspace_id, title, message, starts_at, ends_at, \
         recurrence_cron, recurrence_tz, duration_secs, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
        maintenance_cols!()
    ))
    .bind(ws)
    .bind(&new.title)
    .bind(&new.message)
    .bind(new.starts_at)
    .bind(new.ends_at)
    .bind(&new.recurrence_cron)
    .bind(&new.recurrence_tz)
    .bind(new.duration_secs)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let id: MaintenanceId = row.try_get("id")?;
    MAINTENANCE_COMPONENTS
        .add(&mut tx, ws, id, &new.components)
        .await?;
    MAINTENANCE_MONITORS
        .add(&mut tx, ws, id, &new.monitors)
        .await?;
    let m = with_links(&mut tx, ws, &[row]).await?.pop();
    tx.commit().await?;
    m.ok_or_else(|| StoreError::not_found("maintenance window"))
}

/// Replaces a window's settings and links.
pub(crate) async fn update_maintenance(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MaintenanceId,
    new: &NewMaintenance,
) -> Result<Maintenance> {
    check_maintenance(new)?;
    let mut tx = begin_write(c).await?;
    let row = sqlx::query::<Db>(concat!(
        "UPDATE maintenance_windows SET title = $3, message = $4, starts_at = $5, ends_at = $6, \
         recurrence_cron = $7, recurrence_tz = $8, duration_secs = $9 \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        maintenance_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(&new.title)
    .bind(&new.message)
    .bind(new.starts_at)
    .bind(new.ends_at)
    .bind(&new.recurrence_cron)
    .bind(&new.recurrence_tz)
    .bind(new.duration_secs)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("maintenance window"))?;
    MAINTENANCE_COMPONENTS
        .replace(&mut tx, ws, id, &new.components)
        .await?;
    MAINTENANCE_MONITORS
        .replace(&mut tx, ws, id, &new.monitors)
        .await?;
    let m = with_links(&mut tx, ws, &[row]).await?.pop();
    tx.commit().await?;
    m.ok_or_else(|| StoreError::not_found("maintenance window"))
}

pub(crate) async fn maintenance(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MaintenanceId,
) -> Result<Option<Maintenance>> {
    let rows = sqlx::query::<Db>(select_by_id!("maintenance_windows", maintenance_cols!()))
        .bind(ws)
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
    Ok(with_links(c, ws, &rows).await?.pop())
}

/// Windows that end after `after` (current, upcoming and recurring ones), by start.
pub(crate) async fn maintenances(
    c: &mut DbConn,
    ws: WorkspaceId,
    after: Timestamp,
) -> Result<Vec<Maintenance>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        maintenance_cols!(),
        " FROM maintenance_windows WHERE workspace_id = $1 AND ends_at > $2 \
         ORDER BY starts_at, id"
    ))
    .bind(ws)
    .bind(after)
    .fetch_all(&mut *c)
    .await?;
    with_links(c, ws, &rows).await
}

/// Windows linked to a monitor directly or through a component that shows it, by start.
pub(crate) async fn maintenances_for_monitor(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitor: MonitorId,
) -> Result<Vec<Maintenance>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        maintenance_cols!(),
        " FROM maintenance_windows w WHERE w.workspace_id = $1 AND (\
           EXISTS (SELECT 1 FROM maintenance_monitors mm \
             WHERE mm.maintenance_id = w.id AND mm.monitor_id = $2) \
           OR EXISTS (SELECT 1 FROM maintenance_components mc \
             JOIN components k ON k.id = mc.component_id \
             WHERE mc.maintenance_id = w.id AND k.monitor_id = $2)) \
         ORDER BY w.starts_at, w.id"
    ))
    .bind(ws)
    .bind(monitor)
    .fetch_all(&mut *c)
    .await?;
    with_links(c, ws, &rows).await
}

pub(crate) async fn maintenance_components(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MaintenanceId,
) -> Result<Vec<ComponentId>> {
    MAINTENANCE_COMPONENTS.list(c, ws, id).await
}

pub(crate) async fn maintenance_monitors(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MaintenanceId,
) -> Result<Vec<MonitorId>> {
    MAINTENANCE_MONITORS.list(c, ws, id).await
}

pub(crate) async fn delete_maintenance(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: MaintenanceId,
) -> Result<()> {
    execute_by_id(
        c,
        delete_by_id!("maintenance_windows"),
        ws,
        id,
        "maintenance window",
    )
    .await
}

pub(crate) async fn add_subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    kind: SubscriberKind,
    target: &str,
    now: Timestamp,
) -> Result<Subscriber> {
    sqlx::query_as::<Db, Subscriber>(
        "INSERT INTO subscribers (workspace_id, page_id, kind, target, confirmed, created_at) \
         SELECT workspace_id, id, $3, $4, FALSE, $5 FROM status_pages \
         WHERE workspace_id = $1 AND id = $2 \
         RETURNING id, page_id, kind, target, confirmed, created_at",
    )
    .bind(ws)
    .bind(page)
    .bind(kind)
    .bind(target)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))
}

pub(crate) async fn confirm_subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: SubscriberId,
) -> Result<()> {
    execute_by_id(
        c,
        "UPDATE subscribers SET confirmed = TRUE WHERE workspace_id = $1 AND id = $2",
        ws,
        id,
        "subscriber",
    )
    .await
}

pub(crate) async fn subscribers(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
) -> Result<Vec<Subscriber>> {
    Ok(sqlx::query_as::<Db, Subscriber>(
        "SELECT id, page_id, kind, target, confirmed, created_at FROM subscribers \
         WHERE workspace_id = $1 AND page_id = $2 ORDER BY id",
    )
    .bind(ws)
    .bind(page)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn remove_subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: SubscriberId,
) -> Result<()> {
    execute_by_id(c, delete_by_id!("subscribers"), ws, id, "subscriber").await
}
