//! Status pages, component groups, components, maintenance windows and subscribers.

use sqlx::Row as _;

use super::{
    Db, DbConn, DbRow, LinkTable, begin_write, derived, execute_by_id, expect_one, fetch_by_id,
    json_err,
};
use crate::error::{Result, StoreError};
use crate::model::{
    Component, ComponentGroup, FooterLink, Maintenance, NewComponent, NewMaintenance,
    NewStatusPage, StatusPage, Subscriber,
};
use crate::secret;
use crate::types::*;
use bitwobbly_core::page as rules;

macro_rules! page_cols {
    () => {
        "id, workspace_id, slug, title, description, public, logo_url, theme, footer_links, \
         time_zone, password_set_at, hold_auto_incidents, created_at, updated_at"
    };
}
macro_rules! group_cols {
    () => {
        "id, page_id, name, position, created_at, updated_at"
    };
}
macro_rules! component_cols {
    () => {
        "id, key, page_id, group_id, monitor_id, name, description, status, position, \
         show_uptime, show_response_times, created_at, updated_at"
    };
}
macro_rules! maintenance_cols {
    () => {
        "id, workspace_id, title, message, starts_at, ends_at, recurrence_cron, recurrence_tz, \
         duration_secs, created_at"
    };
}
macro_rules! subscriber_cols {
    () => {
        "id, workspace_id, page_id, kind, target, token, confirmed, confirmed_at, created_at"
    };
}

// === pages ===

/// Checks a page's settings and returns its domains in stored form (lowercase, sorted,
/// without duplicates).
fn check_page(new: &NewStatusPage) -> Result<Vec<String>> {
    if new.slug.trim().is_empty() {
        return Err(StoreError::invalid("slug", "must not be empty"));
    }
    if new.title.trim().is_empty() {
        return Err(StoreError::invalid("title", "must not be empty"));
    }
    if let Some(logo) = &new.logo_url {
        rules::check_web_url(logo).map_err(|p| StoreError::invalid("logo_url", p))?;
    }
    if new.footer_links.len() > rules::MAX_FOOTER_LINKS {
        return Err(StoreError::invalid("footer_links", "too many links"));
    }
    for link in &new.footer_links {
        if link.label.trim().is_empty() {
            return Err(StoreError::invalid("footer_links", "a label is empty"));
        }
        rules::check_web_url(&link.url).map_err(|p| StoreError::invalid("footer_links", p))?;
    }
    rules::check_time_zone(&new.time_zone).map_err(|p| StoreError::invalid("time_zone", p))?;
    if new.domains.len() > rules::MAX_DOMAINS {
        return Err(StoreError::invalid("domains", "too many domains"));
    }
    let mut domains = new
        .domains
        .iter()
        .map(|d| rules::normalize_domain(d).map_err(|p| StoreError::invalid("domains", p)))
        .collect::<Result<Vec<_>>>()?;
    domains.sort();
    domains.dedup();
    Ok(domains)
}

/// A page row without its domains.
fn page_from_row(r: &DbRow) -> Result<StatusPage> {
    let links: String = r.try_get("footer_links")?;
    Ok(StatusPage {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        slug: r.try_get("slug")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        public: r.try_get("public")?,
        logo_url: r.try_get("logo_url")?,
        theme: r.try_get("theme")?,
        footer_links: serde_json::from_str::<Vec<FooterLink>>(&links)
            .map_err(json_err("status_pages.footer_links"))?,
        domains: Vec::new(),
        time_zone: r.try_get("time_zone")?,
        password_set_at: r.try_get("password_set_at")?,
        hold_auto_incidents: r.try_get("hold_auto_incidents")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Reads page rows and fills in their domains (one query for all of them).
async fn pages_with_domains(c: &mut DbConn, rows: &[DbRow]) -> Result<Vec<StatusPage>> {
    let mut pages = rows.iter().map(page_from_row).collect::<Result<Vec<_>>>()?;
    match pages.as_slice() {
        [] => {}
        [one] => {
            let domains = sqlx::query_scalar::<Db, String>(
                "SELECT domain FROM status_page_domains WHERE page_id = $1 ORDER BY domain",
            )
            .bind(one.id)
            .fetch_all(&mut *c)
            .await?;
            pages[0].domains = domains;
        }
        [first, ..] => {
            let all = sqlx::query_as::<Db, (StatusPageId, String)>(
                "SELECT page_id, domain FROM status_page_domains WHERE workspace_id = $1 \
                 ORDER BY domain",
            )
            .bind(first.workspace_id)
            .fetch_all(&mut *c)
            .await?;
            for page in &mut pages {
                page.domains = all
                    .iter()
                    .filter(|(p, _)| *p == page.id)
                    .map(|(_, d)| d.clone())
                    .collect();
            }
        }
    }
    Ok(pages)
}

/// Replaces a page's domains (inside the caller's transaction).
async fn replace_domains(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    domains: &[String],
    now: Timestamp,
) -> Result<()> {
    sqlx::query::<Db>("DELETE FROM status_page_domains WHERE workspace_id = $1 AND page_id = $2")
        .bind(ws)
        .bind(page)
        .execute(&mut *c)
        .await?;
    for d in domains {
        sqlx::query::<Db>(
            "INSERT INTO status_page_domains (domain, page_id, workspace_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(d)
        .bind(page)
        .bind(ws)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Moves a page's `updated_at` forward to `now` (never back).
async fn touch_page(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    now: Timestamp,
) -> Result<()> {
    sqlx::query::<Db>(
        "UPDATE status_pages SET updated_at = CASE WHEN updated_at < $3 THEN $3 ELSE updated_at \
         END WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(page)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

fn footer_json(new: &NewStatusPage) -> Result<String> {
    serde_json::to_string(&new.footer_links).map_err(json_err("footer_links"))
}

pub(crate) async fn create_page(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewStatusPage,
    now: Timestamp,
) -> Result<StatusPage> {
    let domains = check_page(new)?;
    let mut tx = begin_write(c).await?;
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO status_pages (workspace_id, slug, title, description, public, logo_url, \
         theme, footer_links, time_zone, hold_auto_incidents, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ",
        page_cols!()
    ))
    .bind(ws)
    .bind(new.slug.trim())
    .bind(new.title.trim())
    .bind(&new.description)
    .bind(new.public)
    .bind(&new.logo_url)
    .bind(new.theme)
    .bind(footer_json(new)?)
    .bind(&new.time_zone)
    .bind(new.hold_auto_incidents)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let id: StatusPageId = row.try_get("id")?;
    replace_domains(&mut tx, ws, id, &domains, now).await?;
    let page = pages_with_domains(&mut tx, &[row]).await?.pop();
    tx.commit().await?;
    page.ok_or_else(|| StoreError::not_found("status page"))
}

pub(crate) async fn update_page(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: StatusPageId,
    new: &NewStatusPage,
    now: Timestamp,
) -> Result<StatusPage> {
    let domains = check_page(new)?;
    let mut tx = begin_write(c).await?;
    let row = sqlx::query::<Db>(concat!(
        "UPDATE status_pages SET slug = $3, title = $4, description = $5, public = $6, \
         logo_url = $7, theme = $8, footer_links = $9, time_zone = $10, \
         hold_auto_incidents = $11, \
         updated_at = CASE WHEN updated_at < $12 THEN $12 ELSE updated_at END \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        page_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(new.slug.trim())
    .bind(new.title.trim())
    .bind(&new.description)
    .bind(new.public)
    .bind(&new.logo_url)
    .bind(new.theme)
    .bind(footer_json(new)?)
    .bind(&new.time_zone)
    .bind(new.hold_auto_incidents)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))?;
    replace_domains(&mut tx, ws, id, &domains, now).await?;
    let page = pages_with_domains(&mut tx, &[row]).await?.pop();
    tx.commit().await?;
    page.ok_or_else(|| StoreError::not_found("status page"))
}

/// Sets (argon2id) or clears a page's password; a new password always gets a new
/// `password_set_at`, later than the previous one.
pub(crate) async fn set_page_password(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: StatusPageId,
    password: Option<&str>,
    now: Timestamp,
) -> Result<StatusPage> {
    let hash = match password {
        Some("") => {
            return Err(StoreError::invalid("password", "must not be empty"));
        }
        Some(p) => Some(secret::hash_password(p).await?),
        None => None,
    };
    let row = sqlx::query::<Db>(concat!(
        "UPDATE status_pages SET password_hash = $3, \
         password_set_at = CASE WHEN $3 IS NULL THEN NULL \
           WHEN password_set_at IS NOT NULL AND password_set_at >= $4 THEN password_set_at + 1 \
           ELSE $4 END, \
         updated_at = CASE WHEN updated_at < $4 THEN $4 ELSE updated_at END \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        page_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))?;
    pages_with_domains(c, &[row])
        .await?
        .pop()
        .ok_or_else(|| StoreError::not_found("status page"))
}

/// Whether `password` opens the page (false for an open page or an unknown one).
pub(crate) async fn verify_page_password(
    c: &mut DbConn,
    id: StatusPageId,
    password: &str,
) -> Result<bool> {
    let hash = sqlx::query_scalar::<Db, Option<String>>(
        "SELECT password_hash FROM status_pages WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await?
    .flatten();
    match hash {
        Some(h) => secret::verify_password(password, &h).await,
        None => Ok(false),
    }
}

pub(crate) async fn page(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: StatusPageId,
) -> Result<Option<StatusPage>> {
    let rows = sqlx::query::<Db>(select_by_id!("status_pages", page_cols!()))
        .bind(ws)
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
    Ok(pages_with_domains(c, &rows).await?.pop())
}

pub(crate) async fn pages(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<StatusPage>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        page_cols!(),
        " FROM status_pages WHERE workspace_id = $1 ORDER BY id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?;
    pages_with_domains(c, &rows).await
}

/// The page with this slug (public lookup, no workspace yet).
pub(crate) async fn page_by_slug(c: &mut DbConn, slug: &str) -> Result<Option<StatusPage>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        page_cols!(),
        " FROM status_pages WHERE slug = $1"
    ))
    .bind(slug)
    .fetch_all(&mut *c)
    .await?;
    Ok(pages_with_domains(c, &rows).await?.pop())
}

/// The page served at a custom domain (public lookup; the domain is compared lowercase).
pub(crate) async fn page_by_domain(c: &mut DbConn, domain: &str) -> Result<Option<StatusPage>> {
    if domain.len() > 253 {
        return Ok(None);
    }
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        page_cols!(),
        " FROM status_pages WHERE id = (SELECT page_id FROM status_page_domains WHERE domain = $1)"
    ))
    .bind(domain)
    .fetch_all(&mut *c)
    .await?;
    Ok(pages_with_domains(c, &rows).await?.pop())
}

/// The page served at a custom domain or slug (custom domain wins).
pub(crate) async fn page_by_address(c: &mut DbConn, address: &str) -> Result<Option<StatusPage>> {
    match page_by_domain(c, address).await? {
        Some(p) => Ok(Some(p)),
        None => page_by_slug(c, address).await,
    }
}

pub(crate) async fn delete_page(c: &mut DbConn, ws: WorkspaceId, id: StatusPageId) -> Result<()> {
    execute_by_id(c, delete_by_id!("status_pages"), ws, id, "status page").await
}

// === groups ===

/// The page a row of `table` (components or groups) is on.
async fn page_of(
    c: &mut DbConn,
    sql: &'static str,
    ws: WorkspaceId,
    id: i64,
    what: &'static str,
) -> Result<StatusPageId> {
    sqlx::query_scalar::<Db, StatusPageId>(sql)
        .bind(ws)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| StoreError::not_found(what))
}

fn check_group_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    Ok(())
}

pub(crate) async fn create_group(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    name: &str,
    position: i64,
    now: Timestamp,
) -> Result<ComponentGroup> {
    check_group_name(name)?;
    let mut tx = begin_write(c).await?;
    let group = sqlx::query_as::<Db, ComponentGroup>(concat!(
        "INSERT INTO component_groups (workspace_id, page_id, name, position, created_at, \
         updated_at) \
         SELECT workspace_id, id, $3, $4, $5, $5 FROM status_pages \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        group_cols!()
    ))
    .bind(ws)
    .bind(page)
    .bind(name.trim())
    .bind(position)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))?;
    touch_page(&mut tx, ws, page, now).await?;
    tx.commit().await?;
    Ok(group)
}

pub(crate) async fn group(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentGroupId,
) -> Result<Option<ComponentGroup>> {
    fetch_by_id(
        c,
        select_by_id!("component_groups", group_cols!()),
        ws,
        id,
        derived,
    )
    .await
}

pub(crate) async fn groups(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
) -> Result<Vec<ComponentGroup>> {
    Ok(sqlx::query_as::<Db, ComponentGroup>(concat!(
        "SELECT ",
        group_cols!(),
        " FROM component_groups WHERE workspace_id = $1 AND page_id = $2 ORDER BY position, id"
    ))
    .bind(ws)
    .bind(page)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn rename_group(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentGroupId,
    name: &str,
    now: Timestamp,
) -> Result<ComponentGroup> {
    check_group_name(name)?;
    let mut tx = begin_write(c).await?;
    let group = sqlx::query_as::<Db, ComponentGroup>(concat!(
        "UPDATE component_groups SET name = $3, updated_at = $4 \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        group_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(name.trim())
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("component group"))?;
    touch_page(&mut tx, ws, group.page_id, now).await?;
    tx.commit().await?;
    Ok(group)
}

/// Sets the order of rows of `table` on a page to the order of `ids` (every id must be on
/// the page; rows not listed keep their position).
async fn reorder(
    c: &mut DbConn,
    sql: &'static str,
    ws: WorkspaceId,
    page: StatusPageId,
    ids: &[i64],
    what: &'static str,
    now: Timestamp,
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    for (pos, id) in ids.iter().enumerate() {
        let done = sqlx::query::<Db>(sql)
            .bind(ws)
            .bind(page)
            .bind(*id)
            .bind(i64::try_from(pos).unwrap_or(i64::MAX))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        expect_one(done, || StoreError::not_found(what))?;
    }
    touch_page(&mut tx, ws, page, now).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn reorder_groups(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    ids: &[ComponentGroupId],
    now: Timestamp,
) -> Result<()> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    reorder(
        c,
        "UPDATE component_groups SET position = $4, updated_at = $5 \
         WHERE workspace_id = $1 AND page_id = $2 AND id = $3",
        ws,
        page,
        &ids,
        "component group",
        now,
    )
    .await
}

pub(crate) async fn delete_group(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentGroupId,
    now: Timestamp,
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    let page = page_of(
        &mut tx,
        "SELECT page_id FROM component_groups WHERE workspace_id = $1 AND id = $2",
        ws,
        id.0,
        "component group",
    )
    .await?;
    execute_by_id(
        &mut tx,
        delete_by_id!("component_groups"),
        ws,
        id,
        "component group",
    )
    .await?;
    touch_page(&mut tx, ws, page, now).await?;
    tx.commit().await?;
    Ok(())
}

// === components ===

/// Adds a component; its page, group and monitor must all be in the workspace.
pub(crate) async fn create_component(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewComponent,
    now: Timestamp,
) -> Result<Component> {
    check_component(new)?;
    let mut tx = begin_write(c).await?;
    let created = sqlx::query_as::<Db, Component>(concat!(
        "INSERT INTO components (workspace_id, page_id, group_id, monitor_id, name, description, \
         status, position, key, show_uptime, show_response_times, created_at, updated_at) \
         SELECT p.workspace_id, p.id, $3, $4, $5, $6, 'operational', $7, $8, $9, $10, $11, $11 \
         FROM status_pages p \
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
    .bind(new.name.trim())
    .bind(&new.description)
    .bind(new.position)
    .bind(new.key.as_deref())
    .bind(new.show_uptime)
    .bind(new.show_response_times)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("status page, group or monitor"))?;
    touch_page(&mut tx, ws, new.page_id, now).await?;
    tx.commit().await?;
    Ok(created)
}

fn check_component(new: &NewComponent) -> Result<()> {
    if new.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(StoreError::invalid("key", "must not be empty"));
    }
    if new.name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
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

const COMPONENT_PAGE: &str = "SELECT page_id FROM components WHERE workspace_id = $1 AND id = $2";

/// Replaces a component's group, monitor, key, name, description, position and display
/// flags; the group must be on its page and the monitor in the workspace.
pub(crate) async fn update_component(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentId,
    new: &NewComponent,
    now: Timestamp,
) -> Result<Component> {
    check_component(new)?;
    let mut tx = begin_write(c).await?;
    let page = page_of(&mut tx, COMPONENT_PAGE, ws, id.0, "component").await?;
    if new.page_id != page {
        return Err(StoreError::invalid(
            "page_id",
            "a component cannot move to another page",
        ));
    }
    let updated = sqlx::query_as::<Db, Component>(concat!(
        "UPDATE components SET group_id = $3, monitor_id = $4, name = $5, description = $6, \
         position = $7, key = $8, show_uptime = $9, show_response_times = $10, updated_at = $11 \
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
    .bind(new.name.trim())
    .bind(&new.description)
    .bind(new.position)
    .bind(new.key.as_deref())
    .bind(new.show_uptime)
    .bind(new.show_response_times)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("component group or monitor"))?;
    touch_page(&mut tx, ws, page, now).await?;
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
    now: Timestamp,
) -> Result<Component> {
    let mut tx = begin_write(c).await?;
    let updated = sqlx::query_as::<Db, Component>(concat!(
        "UPDATE components SET status = $3, updated_at = $4 \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        component_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(status)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("component"))?;
    touch_page(&mut tx, ws, updated.page_id, now).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Sets the order of a page's components to the order of `ids`.
pub(crate) async fn reorder_components(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    ids: &[ComponentId],
    now: Timestamp,
) -> Result<()> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    reorder(
        c,
        "UPDATE components SET position = $4, updated_at = $5 \
         WHERE workspace_id = $1 AND page_id = $2 AND id = $3",
        ws,
        page,
        &ids,
        "component",
        now,
    )
    .await
}

pub(crate) async fn delete_component(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ComponentId,
    now: Timestamp,
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    let page = page_of(&mut tx, COMPONENT_PAGE, ws, id.0, "component").await?;
    execute_by_id(&mut tx, delete_by_id!("components"), ws, id, "component").await?;
    touch_page(&mut tx, ws, page, now).await?;
    tx.commit().await?;
    Ok(())
}

// === maintenance ===

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

/// Windows that end after `after` and cover the page: linked to one of its components, or
/// directly to a monitor one of its components shows; by start.
pub(crate) async fn maintenances_for_page(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    after: Timestamp,
) -> Result<Vec<Maintenance>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        maintenance_cols!(),
        " FROM maintenance_windows w WHERE w.workspace_id = $1 AND w.ends_at > $3 AND (\
           EXISTS (SELECT 1 FROM maintenance_components mc \
             JOIN components k ON k.id = mc.component_id \
             WHERE mc.maintenance_id = w.id AND k.page_id = $2) \
           OR EXISTS (SELECT 1 FROM maintenance_monitors mm \
             JOIN components k ON k.monitor_id = mm.monitor_id \
             WHERE mm.maintenance_id = w.id AND k.page_id = $2)) \
         ORDER BY w.starts_at, w.id"
    ))
    .bind(ws)
    .bind(page)
    .bind(after)
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

// === subscribers ===

pub(crate) async fn add_subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
    kind: SubscriberKind,
    target: &str,
    now: Timestamp,
) -> Result<Subscriber> {
    if target.trim().is_empty() {
        return Err(StoreError::invalid("target", "must not be empty"));
    }
    // 128 random bits as hex, like a heartbeat's ping token: it only ever opens this one
    // subscription (confirm, unsubscribe) and has to appear in every message sent.
    let token = secret::new_ping_token()?;
    sqlx::query_as::<Db, Subscriber>(concat!(
        "INSERT INTO subscribers (workspace_id, page_id, kind, target, token, confirmed, \
         created_at) \
         SELECT workspace_id, id, $3, $4, $5, FALSE, $6 FROM status_pages \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        subscriber_cols!()
    ))
    .bind(ws)
    .bind(page)
    .bind(kind)
    .bind(target.trim())
    .bind(token)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("status page"))
}

pub(crate) async fn confirm_subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: SubscriberId,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE subscribers SET confirmed = TRUE, confirmed_at = COALESCE(confirmed_at, $3) \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("subscriber"))
}

pub(crate) async fn subscribers(
    c: &mut DbConn,
    ws: WorkspaceId,
    page: StatusPageId,
) -> Result<Vec<Subscriber>> {
    Ok(sqlx::query_as::<Db, Subscriber>(concat!(
        "SELECT ",
        subscriber_cols!(),
        " FROM subscribers WHERE workspace_id = $1 AND page_id = $2 ORDER BY id"
    ))
    .bind(ws)
    .bind(page)
    .fetch_all(&mut *c)
    .await?)
}

/// The subscriber with this link token (public lookup).
pub(crate) async fn subscriber_by_token(c: &mut DbConn, token: &str) -> Result<Option<Subscriber>> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    Ok(sqlx::query_as::<Db, Subscriber>(concat!(
        "SELECT ",
        subscriber_cols!(),
        " FROM subscribers WHERE token = $1"
    ))
    .bind(token)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn remove_subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: SubscriberId,
) -> Result<()> {
    execute_by_id(c, delete_by_id!("subscribers"), ws, id, "subscriber").await
}
