//! Status pages: their settings, custom domains and password, component groups and
//! components. Every change invalidates the workspace's cached public pages.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bitwobbly_core::page as rules;
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath};
use super::views::{dt, odt};
use super::workspaces::{validate_name, validate_slug};
use super::{ErrorBody, OrNotFound as _};
use crate::auth::{Access, Read, Write};
use crate::error::ApiError;
use crate::state::AppState;

/// The longest description of a page or component, in bytes.
const MAX_DESCRIPTION: usize = 5_000;

/// The longest page password, in bytes.
const MAX_PASSWORD: usize = 1_024;

// === enums ===

/// A status page's colour scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiTheme {
    /// Light colours.
    Light,
    /// Dark colours.
    Dark,
    /// Follow the visitor's system setting.
    #[default]
    System,
}

impl From<ApiTheme> for PageTheme {
    fn from(t: ApiTheme) -> Self {
        match t {
            ApiTheme::Light => Self::Light,
            ApiTheme::Dark => Self::Dark,
            ApiTheme::System => Self::System,
        }
    }
}

/// A component's status (Statuspage vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiComponentStatus {
    /// Working.
    Operational,
    /// Slow.
    DegradedPerformance,
    /// Partly down.
    PartialOutage,
    /// Down.
    MajorOutage,
    /// In maintenance.
    UnderMaintenance,
}

impl From<ApiComponentStatus> for ComponentStatus {
    fn from(s: ApiComponentStatus) -> Self {
        match s {
            ApiComponentStatus::Operational => Self::Operational,
            ApiComponentStatus::DegradedPerformance => Self::DegradedPerformance,
            ApiComponentStatus::PartialOutage => Self::PartialOutage,
            ApiComponentStatus::MajorOutage => Self::MajorOutage,
            ApiComponentStatus::UnderMaintenance => Self::UnderMaintenance,
        }
    }
}

// === inputs ===

/// A footer link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FooterLinkInput {
    /// The text shown (1 to 200 characters).
    pub label: String,
    /// Where it leads: an absolute http or https URL.
    pub url: String,
}

/// A status page's settings, to create it or replace them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageInput {
    /// Unique URL name (the page is at `/s/<slug>`): lowercase letters, digits and `-`.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Text under the title.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether visitors are served the page (default true).
    #[serde(default)]
    pub public: Option<bool>,
    /// Logo image URL (http or https).
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Colour scheme (default `system`).
    #[serde(default)]
    pub theme: ApiTheme,
    /// Footer links, in order (at most 20).
    #[serde(default)]
    pub footer_links: Vec<FooterLinkInput>,
    /// Custom domains that serve the page at `/` (host names, at most 20, unique across
    /// workspaces).
    #[serde(default)]
    pub domains: Vec<String>,
    /// IANA time zone dates are shown in (default `UTC`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Hold automatic incidents until someone publishes them (default false).
    #[serde(default)]
    pub hold_auto_incidents: bool,
}

/// A page's new password, or `null` to open the page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    /// The password (8 to 1024 bytes), or `null` to remove it.
    pub password: Option<String>,
}

/// A component group to create or rename.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    /// Name.
    pub name: String,
    /// Order on the page (default: after the others).
    #[serde(default)]
    pub position: Option<i64>,
}

/// A new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// Ids in the wanted order (each once; ones left out follow, in their current order).
    pub ids: Vec<i64>,
}

/// A component to create, or its new settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentInput {
    /// Public name.
    pub name: String,
    /// Text under the name.
    #[serde(default)]
    pub description: Option<String>,
    /// Its group on the page.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// The monitor whose state it shows; without one it is a manual component.
    #[serde(default)]
    pub monitor_id: Option<i64>,
    /// Order on the page (default: after the others).
    #[serde(default)]
    pub position: Option<i64>,
    /// Status of a manual component (a monitor-backed one shows its monitor's).
    #[serde(default)]
    pub status: Option<ApiComponentStatus>,
    /// Show the 90-day uptime bar (default true).
    #[serde(default)]
    pub show_uptime: Option<bool>,
    /// Show response times (default false).
    #[serde(default)]
    pub show_response_times: Option<bool>,
}

// === views ===

/// A status page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PageView {
    /// Id.
    pub id: i64,
    /// URL name.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Text under the title.
    pub description: Option<String>,
    /// Whether visitors are served the page.
    pub public: bool,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// `light`, `dark` or `system`.
    pub theme: String,
    /// Footer links.
    pub footer_links: Vec<FooterLinkInput>,
    /// Custom domains, sorted.
    pub domains: Vec<String>,
    /// IANA time zone.
    pub time_zone: String,
    /// Whether visitors need a password.
    pub password_protected: bool,
    /// When the current password was set.
    #[serde(with = "time::serde::rfc3339::option")]
    pub password_set_at: Option<OffsetDateTime>,
    /// Whether automatic incidents wait to be published.
    pub hold_auto_incidents: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change to the page, its groups or components.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<StatusPage> for PageView {
    fn from(p: StatusPage) -> Self {
        Self {
            id: p.id.0,
            password_protected: p.is_protected(),
            slug: p.slug,
            title: p.title,
            description: p.description,
            public: p.public,
            logo_url: p.logo_url,
            theme: p.theme.as_str().to_owned(),
            footer_links: p
                .footer_links
                .into_iter()
                .map(|l| FooterLinkInput {
                    label: l.label,
                    url: l.url,
                })
                .collect(),
            domains: p.domains,
            time_zone: p.time_zone,
            password_set_at: odt(p.password_set_at),
            hold_auto_incidents: p.hold_auto_incidents,
            created_at: dt(p.created_at),
            updated_at: dt(p.updated_at),
        }
    }
}

/// A component group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    /// Id.
    pub id: i64,
    /// The page.
    pub page_id: i64,
    /// Name.
    pub name: String,
    /// Order on the page.
    pub position: i64,
}

impl From<ComponentGroup> for GroupView {
    fn from(g: ComponentGroup) -> Self {
        Self {
            id: g.id.0,
            page_id: g.page_id.0,
            name: g.name,
            position: g.position,
        }
    }
}

/// A component.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentView {
    /// Id.
    pub id: i64,
    /// The page.
    pub page_id: i64,
    /// Configuration-as-code key, if it has one.
    pub key: Option<String>,
    /// Its group.
    pub group_id: Option<i64>,
    /// The monitor whose state it shows (`null`: manual).
    pub monitor_id: Option<i64>,
    /// Public name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Its own status (what a manual component shows).
    pub status: String,
    /// Order on the page.
    pub position: i64,
    /// Whether its uptime bar is shown.
    pub show_uptime: bool,
    /// Whether its response times are shown.
    pub show_response_times: bool,
}

impl From<Component> for ComponentView {
    fn from(c: Component) -> Self {
        Self {
            id: c.id.0,
            page_id: c.page_id.0,
            key: c.key,
            group_id: c.group_id.map(|g| g.0),
            monitor_id: c.monitor_id.map(|m| m.0),
            name: c.name,
            description: c.description,
            status: c.status.as_str().to_owned(),
            position: c.position,
            show_uptime: c.show_uptime,
            show_response_times: c.show_response_times,
        }
    }
}

/// A page with its groups and components, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PageDetail {
    /// The page.
    #[serde(flatten)]
    pub page: PageView,
    /// Its groups.
    pub groups: Vec<GroupView>,
    /// Its components.
    pub components: Vec<ComponentView>,
}

// === validation ===

/// Checks optional text: trimmed, empty is none, at most `max` bytes.
fn optional_text(field: &str, text: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if t.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    Ok(Some(t.to_owned()))
}

/// Checks a page's settings, naming the field at fault.
fn validate_page(input: &PageInput) -> Result<NewStatusPage, ApiError> {
    let slug = input.slug.trim();
    validate_slug(slug)?;
    let title = validate_name("title", &input.title)?;
    let description = optional_text("description", input.description.as_deref(), MAX_DESCRIPTION)?;
    let logo_url = match input.logo_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => {
            rules::check_web_url(u).map_err(|p| ApiError::invalid("logo_url", p))?;
            Some(u.to_owned())
        }
    };
    if input.footer_links.len() > rules::MAX_FOOTER_LINKS {
        return Err(ApiError::invalid(
            "footer_links",
            format!("at most {} links", rules::MAX_FOOTER_LINKS),
        ));
    }
    let mut footer_links = Vec::with_capacity(input.footer_links.len());
    for (i, l) in input.footer_links.iter().enumerate() {
        let label = validate_name(&format!("footer_links[{i}].label"), &l.label)?;
        let url = l.url.trim();
        rules::check_web_url(url)
            .map_err(|p| ApiError::invalid(format!("footer_links[{i}].url"), p))?;
        footer_links.push(FooterLink {
            label,
            url: url.to_owned(),
        });
    }
    if input.domains.len() > rules::MAX_DOMAINS {
        return Err(ApiError::invalid(
            "domains",
            format!("at most {} domains", rules::MAX_DOMAINS),
        ));
    }
    let mut domains: Vec<String> = Vec::with_capacity(input.domains.len());
    for (i, d) in input.domains.iter().enumerate() {
        let d = rules::normalize_domain(d)
            .map_err(|p| ApiError::invalid(format!("domains[{i}]"), p))?;
        if domains.contains(&d) {
            return Err(ApiError::invalid(
                format!("domains[{i}]"),
                "is listed twice",
            ));
        }
        domains.push(d);
    }
    let time_zone = input.time_zone.as_deref().map_or("UTC", str::trim);
    rules::check_time_zone(time_zone).map_err(|p| ApiError::invalid("time_zone", p))?;
    Ok(NewStatusPage {
        slug: slug.to_owned(),
        title,
        description,
        public: input.public.unwrap_or(true),
        logo_url,
        theme: input.theme.into(),
        footer_links,
        domains,
        time_zone: time_zone.to_owned(),
        hold_auto_incidents: input.hold_auto_incidents,
    })
}

/// A store error on saving page `id` (`None` when creating) with settings `new`: a taken
/// slug or domain is 409 naming which (looked up, since databases name constraints
/// differently).
async fn page_conflict(
    state: &AppState,
    e: StoreError,
    id: Option<StatusPageId>,
    new: &NewStatusPage,
) -> ApiError {
    if !e.is_conflict() {
        return e.into();
    }
    let mut g = state.store.global();
    let taken_by_other = |p: &Option<StatusPage>| p.as_ref().is_some_and(|p| Some(p.id) != id);
    match g.status_page_by_slug(&new.slug).await {
        Ok(p) if taken_by_other(&p) => {
            return ApiError::conflict("a status page with this slug already exists")
                .with_field("slug");
        }
        Ok(_) => {}
        Err(e) => return e.into(),
    }
    for (i, d) in new.domains.iter().enumerate() {
        match g.status_page_by_domain(d).await {
            Ok(p) if taken_by_other(&p) => {
                return ApiError::conflict("this domain already serves another status page")
                    .with_field(format!("domains[{i}]"));
            }
            Ok(_) => {}
            Err(e) => return e.into(),
        }
    }
    ApiError::conflict("the slug or a domain is already used by a status page")
}

/// The page with this id in the caller's workspace, or 404.
pub(crate) async fn find_page(
    state: &AppState,
    ws: WorkspaceId,
    id: i64,
) -> Result<StatusPage, ApiError> {
    state
        .store
        .workspace(ws)
        .status_page(StatusPageId(id))
        .await?
        .or_not_found("status page")
}

/// The page's detail view.
pub(crate) async fn page_detail(
    state: &AppState,
    page: StatusPage,
) -> Result<PageDetail, ApiError> {
    let mut scope = state.store.workspace(page.workspace_id);
    let groups = scope.component_groups(page.id).await?;
    let components = scope.components(page.id).await?;
    Ok(PageDetail {
        page: page.into(),
        groups: groups.into_iter().map(Into::into).collect(),
        components: components.into_iter().map(Into::into).collect(),
    })
}

/// The position after every existing one.
fn next_position<T>(items: &[T], position: impl Fn(&T) -> i64) -> i64 {
    items
        .iter()
        .map(position)
        .max()
        .map_or(0, |p| p.saturating_add(1))
}

type PagePath = ApiPath<(String, i64)>;
type PageChildPath = ApiPath<(String, i64, i64)>;

// === pages ===

/// The workspace's status pages.
#[utoipa::path(get, path = "/workspaces/{workspace}/pages", tag = "pages",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = [PageView]), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access<Read>,
) -> Result<Json<Vec<PageView>>, ApiError> {
    Ok(Json(list_pages(&state, access.ws()).await?))
}

/// The workspace's status pages (what `GET .../pages` answers).
pub(crate) async fn list_pages(
    state: &AppState,
    ws: WorkspaceId,
) -> Result<Vec<PageView>, ApiError> {
    let pages = state.store.workspace(ws).status_pages().await?;
    Ok(pages.into_iter().map(Into::into).collect())
}

/// Creates a status page (member).
#[utoipa::path(post, path = "/workspaces/{workspace}/pages", tag = "pages",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = PageInput,
    responses(
        (status = 201, body = PageDetail),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The slug or a domain is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiJson(input): ApiJson<PageInput>,
) -> Result<(StatusCode, Json<PageDetail>), ApiError> {
    let detail = create_page(&state, &access, &input).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Creates a status page from `input` and drops the workspace's cached public pages.
///
/// # Errors
/// 422 naming the field, 409 for a taken slug or domain.
pub(crate) async fn create_page(
    state: &AppState,
    access: &Access<Write>,
    input: &PageInput,
) -> Result<PageDetail, ApiError> {
    let new = validate_page(input)?;
    let page = state
        .store
        .workspace(access.ws())
        .create_status_page(&new, state.clock.now())
        .await;
    let page = match page {
        Ok(p) => p,
        Err(e) => return Err(page_conflict(state, e, None, &new).await),
    };
    state.pages.invalidate(access.ws());
    page_detail(state, page).await
}

/// A status page with its groups and components.
#[utoipa::path(get, path = "/workspaces/{workspace}/pages/{id}", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    responses((status = 200, body = PageDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath((_, id)): PagePath,
) -> Result<Json<PageDetail>, ApiError> {
    let page = find_page(&state, access.ws(), id).await?;
    Ok(Json(page_detail(&state, page).await?))
}

/// Replaces a status page's settings and domains (member); the password stays.
#[utoipa::path(put, path = "/workspaces/{workspace}/pages/{id}", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    request_body = PageInput,
    responses(
        (status = 200, body = PageDetail),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The slug or a domain is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): PagePath,
    ApiJson(input): ApiJson<PageInput>,
) -> Result<Json<PageDetail>, ApiError> {
    Ok(Json(update_page(&state, &access, id, &input).await?))
}

/// Replaces page `id`'s settings and domains (not its password) and drops the workspace's
/// cached public pages.
///
/// # Errors
/// 404 for a page of another workspace, 422 naming the field, 409 for a taken slug or domain.
pub(crate) async fn update_page(
    state: &AppState,
    access: &Access<Write>,
    id: i64,
    input: &PageInput,
) -> Result<PageDetail, ApiError> {
    let new = validate_page(input)?;
    let page = state
        .store
        .workspace(access.ws())
        .update_status_page(StatusPageId(id), &new, state.clock.now())
        .await;
    let page = match page {
        Ok(p) => p,
        Err(e) => return Err(page_conflict(state, e, Some(StatusPageId(id)), &new).await),
    };
    state.pages.invalidate(access.ws());
    page_detail(state, page).await
}

/// Deletes a status page with its groups, components and subscribers (member).
#[utoipa::path(delete, path = "/workspaces/{workspace}/pages/{id}", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): PagePath,
) -> Result<StatusCode, ApiError> {
    delete_page(&state, &access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes page `id` with its groups, components and subscribers and drops the workspace's
/// cached public pages.
///
/// # Errors
/// 404 for a page of another workspace.
pub(crate) async fn delete_page(
    state: &AppState,
    access: &Access<Write>,
    id: i64,
) -> Result<(), ApiError> {
    state
        .store
        .workspace(access.ws())
        .delete_status_page(StatusPageId(id))
        .await?;
    state.pages.invalidate(access.ws());
    Ok(())
}

/// Sets or removes a status page's password (member). A new password logs every visitor
/// out.
#[utoipa::path(put, path = "/workspaces/{workspace}/pages/{id}/password", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    request_body = PasswordInput,
    responses(
        (status = 200, body = PageView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn set_password(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): PagePath,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<Json<PageView>, ApiError> {
    Ok(Json(
        set_page_password(&state, &access, id, input.password.as_deref()).await?,
    ))
}

/// Sets (or, with `None`, removes) page `id`'s password, which logs every visitor out, and
/// drops the workspace's cached public pages.
///
/// # Errors
/// 422 `password` outside 8 to 1024 bytes, 404 for a page of another workspace.
pub(crate) async fn set_page_password(
    state: &AppState,
    access: &Access<Write>,
    id: i64,
    password: Option<&str>,
) -> Result<PageView, ApiError> {
    if let Some(p) = password
        && (p.len() < 8 || p.len() > MAX_PASSWORD)
    {
        return Err(ApiError::invalid(
            "password",
            format!("must be 8 to {MAX_PASSWORD} bytes"),
        ));
    }
    let page = state
        .store
        .workspace(access.ws())
        .set_status_page_password(StatusPageId(id), password, state.clock.now())
        .await?;
    state.pages.invalidate(access.ws());
    Ok(page.into())
}

// === groups ===

/// Adds a component group to a page (member).
#[utoipa::path(post, path = "/workspaces/{workspace}/pages/{id}/groups", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    request_body = GroupInput,
    responses(
        (status = 201, body = GroupView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_group(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): PagePath,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let group = add_group(&state, &access, id, &input).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// Adds a component group to page `page` and drops the workspace's cached public pages.
///
/// # Errors
/// 422 `name`, 404 for a page of another workspace.
pub(crate) async fn add_group(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    input: &GroupInput,
) -> Result<GroupView, ApiError> {
    let name = validate_name("name", &input.name)?;
    let page = find_page(state, access.ws(), page).await?;
    let mut scope = state.store.workspace(access.ws());
    let position = match input.position {
        Some(p) => p,
        None => next_position(&scope.component_groups(page.id).await?, |g| g.position),
    };
    let group = scope
        .create_component_group(page.id, &name, position, state.clock.now())
        .await?;
    state.pages.invalidate(access.ws());
    Ok(group.into())
}

/// The group `group` of page `page`, or 404.
async fn find_group(
    state: &AppState,
    ws: WorkspaceId,
    page: i64,
    group: i64,
) -> Result<ComponentGroup, ApiError> {
    state
        .store
        .workspace(ws)
        .component_group(ComponentGroupId(group))
        .await?
        .filter(|g| g.page_id == StatusPageId(page))
        .or_not_found("component group")
}

/// Renames a component group (member); a `position` moves it too.
#[utoipa::path(patch, path = "/workspaces/{workspace}/pages/{id}/groups/{group_id}",
    tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
        ("group_id" = i64, Path, description = "Component group id"),
    ),
    request_body = GroupInput,
    responses(
        (status = 200, body = GroupView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_group(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, page, group)): PageChildPath,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(
        edit_group(&state, &access, page, group, &input).await?,
    ))
}

/// Renames group `group` of page `page` (and moves it to `input.position` when given), then
/// drops the workspace's cached public pages.
///
/// # Errors
/// 422 `name`, 404 for a group that is not on this page of this workspace.
pub(crate) async fn edit_group(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    group: i64,
    input: &GroupInput,
) -> Result<GroupView, ApiError> {
    let name = validate_name("name", &input.name)?;
    let group = find_group(state, access.ws(), page, group).await?;
    let now = state.clock.now();
    let mut scope = state.store.workspace(access.ws());
    let mut renamed = scope.rename_component_group(group.id, &name, now).await?;
    if let Some(position) = input.position
        && position != renamed.position
    {
        let mut order: Vec<ComponentGroup> = scope
            .component_groups(renamed.page_id)
            .await?
            .into_iter()
            .filter(|g| g.id != renamed.id)
            .collect();
        let at = usize::try_from(position.max(0))
            .unwrap_or(usize::MAX)
            .min(order.len());
        order.insert(at, renamed.clone());
        let ids: Vec<ComponentGroupId> = order.iter().map(|g| g.id).collect();
        scope
            .reorder_component_groups(renamed.page_id, &ids, now)
            .await?;
        renamed = scope
            .component_group(renamed.id)
            .await?
            .or_not_found("component group")?;
    }
    state.pages.invalidate(access.ws());
    Ok(renamed.into())
}

/// Deletes a component group (member); its components stay on the page, ungrouped.
#[utoipa::path(delete, path = "/workspaces/{workspace}/pages/{id}/groups/{group_id}",
    tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
        ("group_id" = i64, Path, description = "Component group id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete_group(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, page, group)): PageChildPath,
) -> Result<StatusCode, ApiError> {
    delete_group_of(&state, &access, page, group).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes group `group` of page `page` (its components stay, ungrouped) and drops the
/// workspace's cached public pages.
///
/// # Errors
/// 404 for a group that is not on this page of this workspace.
pub(crate) async fn delete_group_of(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    group: i64,
) -> Result<(), ApiError> {
    let group = find_group(state, access.ws(), page, group).await?;
    state
        .store
        .workspace(access.ws())
        .delete_component_group(group.id, state.clock.now())
        .await?;
    state.pages.invalidate(access.ws());
    Ok(())
}

/// Checks an order (every id once and on the page) and completes it with the ids left out,
/// in their current order.
fn full_order(ids: &[i64], known: &[i64], what: &str) -> Result<Vec<i64>, ApiError> {
    for (i, id) in ids.iter().enumerate() {
        if !known.contains(id) {
            return Err(ApiError::invalid(
                format!("ids[{i}]"),
                format!("no {what} with this id on this page"),
            ));
        }
        if ids[..i].contains(id) {
            return Err(ApiError::invalid(format!("ids[{i}]"), "is listed twice"));
        }
    }
    let mut all = ids.to_vec();
    all.extend(known.iter().filter(|k| !ids.contains(k)));
    Ok(all)
}

/// `ids` with `id` swapped with the nearest id before it (`up`) or after it for which `peer`
/// holds (for components: one of the same group); `None` when `id` is not listed or has no
/// such neighbour.
pub(crate) fn moved(
    ids: &[i64],
    id: i64,
    up: bool,
    peer: impl Fn(i64) -> bool,
) -> Option<Vec<i64>> {
    let at = ids.iter().position(|x| *x == id)?;
    let other = if up {
        ids[..at].iter().rposition(|x| peer(*x))?
    } else {
        at + 1 + ids[at + 1..].iter().position(|x| peer(*x))?
    };
    let mut order = ids.to_vec();
    order.swap(at, other);
    Some(order)
}

/// Orders a page's component groups (member).
#[utoipa::path(put, path = "/workspaces/{workspace}/pages/{id}/group-order", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    request_body = OrderInput,
    responses(
        (status = 200, body = [GroupView]),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn order_groups(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): PagePath,
    ApiJson(input): ApiJson<OrderInput>,
) -> Result<Json<Vec<GroupView>>, ApiError> {
    Ok(Json(
        set_group_order(&state, &access, id, &input.ids).await?,
    ))
}

/// Orders page `page`'s groups as `order` says (ids left out follow in their current order)
/// and drops the workspace's cached public pages; the groups in their new order.
///
/// # Errors
/// 422 `ids[i]` for an unknown or repeated id, 404 for a page of another workspace.
pub(crate) async fn set_group_order(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    order: &[i64],
) -> Result<Vec<GroupView>, ApiError> {
    let page = find_page(state, access.ws(), page).await?;
    let mut scope = state.store.workspace(access.ws());
    let known: Vec<i64> = scope
        .component_groups(page.id)
        .await?
        .iter()
        .map(|g| g.id.0)
        .collect();
    let ids: Vec<ComponentGroupId> = full_order(order, &known, "component group")?
        .into_iter()
        .map(ComponentGroupId)
        .collect();
    scope
        .reorder_component_groups(page.id, &ids, state.clock.now())
        .await?;
    state.pages.invalidate(access.ws());
    let groups = scope.component_groups(page.id).await?;
    Ok(groups.into_iter().map(Into::into).collect())
}

// === components ===

/// Checks a component against the page and the workspace.
async fn validate_component(
    state: &AppState,
    page: &StatusPage,
    input: &ComponentInput,
    existing: Option<&Component>,
) -> Result<NewComponent, ApiError> {
    let name = validate_name("name", &input.name)?;
    let description = optional_text("description", input.description.as_deref(), MAX_DESCRIPTION)?;
    let mut scope = state.store.workspace(page.workspace_id);
    if let Some(g) = input.group_id {
        let on_page = scope
            .component_group(ComponentGroupId(g))
            .await?
            .is_some_and(|g| g.page_id == page.id);
        if !on_page {
            return Err(ApiError::invalid(
                "group_id",
                "no component group with this id on this page",
            ));
        }
    }
    if let Some(m) = input.monitor_id
        && scope.monitor(MonitorId(m)).await?.is_none()
    {
        return Err(ApiError::invalid(
            "monitor_id",
            "no monitor with this id in this workspace",
        ));
    }
    if input.monitor_id.is_some() && input.status.is_some() {
        return Err(ApiError::invalid(
            "status",
            "a component backed by a monitor shows the monitor's state; only manual components \
             take a status",
        ));
    }
    let position = match (input.position, existing) {
        (Some(p), _) => p,
        (None, Some(c)) => c.position,
        (None, None) => next_position(&scope.components(page.id).await?, |c| c.position),
    };
    Ok(NewComponent {
        key: existing.and_then(|c| c.key.clone()),
        page_id: page.id,
        group_id: input.group_id.map(ComponentGroupId),
        monitor_id: input.monitor_id.map(MonitorId),
        name,
        description,
        position,
        show_uptime: input
            .show_uptime
            .unwrap_or_else(|| existing.is_none_or(|c| c.show_uptime)),
        show_response_times: input
            .show_response_times
            .unwrap_or_else(|| existing.is_some_and(|c| c.show_response_times)),
    })
}

/// The component `component` of page `page`, or 404.
async fn find_component(
    state: &AppState,
    ws: WorkspaceId,
    page: i64,
    component: i64,
) -> Result<Component, ApiError> {
    state
        .store
        .workspace(ws)
        .component(ComponentId(component))
        .await?
        .filter(|c| c.page_id == StatusPageId(page))
        .or_not_found("component")
}

/// Adds a component to a page (member): backed by a monitor, or manual with a status.
#[utoipa::path(post, path = "/workspaces/{workspace}/pages/{id}/components", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    request_body = ComponentInput,
    responses(
        (status = 201, body = ComponentView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_component(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): PagePath,
    ApiJson(input): ApiJson<ComponentInput>,
) -> Result<(StatusCode, Json<ComponentView>), ApiError> {
    let created = add_component(&state, &access, id, &input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Adds a component to page `page` (backed by a monitor, or manual with a status) and drops
/// the workspace's cached public pages.
///
/// # Errors
/// 422 naming the field, 404 for a page of another workspace.
pub(crate) async fn add_component(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    input: &ComponentInput,
) -> Result<ComponentView, ApiError> {
    let page = find_page(state, access.ws(), page).await?;
    let new = validate_component(state, &page, input, None).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let mut created = tx
        .workspace(access.ws())
        .create_component(&new, now)
        .await?;
    if let Some(status) = input.status {
        created = tx
            .workspace(access.ws())
            .set_component_status(created.id, status.into(), now)
            .await?;
    }
    tx.commit().await?;
    state.pages.invalidate(access.ws());
    Ok(created.into())
}

/// Replaces a component's settings (member); a `status` sets a manual component's status.
#[utoipa::path(put, path = "/workspaces/{workspace}/pages/{id}/components/{component_id}",
    tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
        ("component_id" = i64, Path, description = "Component id"),
    ),
    request_body = ComponentInput,
    responses(
        (status = 200, body = ComponentView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_component(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, page, component)): PageChildPath,
    ApiJson(input): ApiJson<ComponentInput>,
) -> Result<Json<ComponentView>, ApiError> {
    Ok(Json(
        edit_component(&state, &access, page, component, &input).await?,
    ))
}

/// Replaces component `component` of page `page` (a `status` sets a manual component's
/// status) and drops the workspace's cached public pages.
///
/// # Errors
/// 422 naming the field, 404 for a component that is not on this page of this workspace.
pub(crate) async fn edit_component(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    component: i64,
    input: &ComponentInput,
) -> Result<ComponentView, ApiError> {
    let page = find_page(state, access.ws(), page).await?;
    let old = find_component(state, access.ws(), page.id.0, component).await?;
    let new = validate_component(state, &page, input, Some(&old)).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let mut updated = tx
        .workspace(access.ws())
        .update_component(old.id, &new, now)
        .await?;
    if let Some(status) = input.status {
        updated = tx
            .workspace(access.ws())
            .set_component_status(old.id, status.into(), now)
            .await?;
    }
    tx.commit().await?;
    state.pages.invalidate(access.ws());
    Ok(updated.into())
}

/// Deletes a component (member).
#[utoipa::path(delete, path = "/workspaces/{workspace}/pages/{id}/components/{component_id}",
    tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
        ("component_id" = i64, Path, description = "Component id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete_component(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, page, component)): PageChildPath,
) -> Result<StatusCode, ApiError> {
    delete_component_of(&state, &access, page, component).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes component `component` of page `page` and drops the workspace's cached public
/// pages.
///
/// # Errors
/// 404 for a component that is not on this page of this workspace.
pub(crate) async fn delete_component_of(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    component: i64,
) -> Result<(), ApiError> {
    let c = find_component(state, access.ws(), page, component).await?;
    state
        .store
        .workspace(access.ws())
        .delete_component(c.id, state.clock.now())
        .await?;
    state.pages.invalidate(access.ws());
    Ok(())
}

/// Orders a page's components (member).
#[utoipa::path(put, path = "/workspaces/{workspace}/pages/{id}/component-order", tag = "pages",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Status page id"),
    ),
    request_body = OrderInput,
    responses(
        (status = 200, body = [ComponentView]),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn order_components(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): PagePath,
    ApiJson(input): ApiJson<OrderInput>,
) -> Result<Json<Vec<ComponentView>>, ApiError> {
    Ok(Json(
        set_component_order(&state, &access, id, &input.ids).await?,
    ))
}

/// Orders page `page`'s components as `order` says (ids left out follow in their current
/// order) and drops the workspace's cached public pages; the components in their new order.
///
/// # Errors
/// 422 `ids[i]` for an unknown or repeated id, 404 for a page of another workspace.
pub(crate) async fn set_component_order(
    state: &AppState,
    access: &Access<Write>,
    page: i64,
    order: &[i64],
) -> Result<Vec<ComponentView>, ApiError> {
    let page = find_page(state, access.ws(), page).await?;
    let mut scope = state.store.workspace(access.ws());
    let known: Vec<i64> = scope
        .components(page.id)
        .await?
        .iter()
        .map(|c| c.id.0)
        .collect();
    let ids: Vec<ComponentId> = full_order(order, &known, "component")?
        .into_iter()
        .map(ComponentId)
        .collect();
    scope
        .reorder_components(page.id, &ids, state.clock.now())
        .await?;
    state.pages.invalidate(access.ws());
    let components = scope.components(page.id).await?;
    Ok(components.into_iter().map(Into::into).collect())
}

#[cfg(test)]
mod tests {
    use super::moved;

    #[test]
    fn moving_swaps_with_the_neighbour_and_stops_at_the_ends() {
        let any = |_| true;
        assert_eq!(moved(&[1, 2, 3], 2, true, any), Some(vec![2, 1, 3]));
        assert_eq!(moved(&[1, 2, 3], 2, false, any), Some(vec![1, 3, 2]));
        assert_eq!(moved(&[1, 2, 3], 1, true, any), None);
        assert_eq!(moved(&[1, 2, 3], 3, false, any), None);
        assert_eq!(moved(&[1, 2, 3], 9, true, any), None);
        assert_eq!(moved(&[], 1, false, any), None);
    }

    #[test]
    fn moving_skips_ids_that_are_not_peers() {
        let odd = |x: i64| x % 2 == 1;
        assert_eq!(moved(&[1, 2, 4, 3], 3, true, odd), Some(vec![3, 2, 4, 1]));
        assert_eq!(moved(&[1, 2, 4, 3], 1, false, odd), Some(vec![3, 2, 4, 1]));
        assert_eq!(moved(&[2, 1, 4], 1, true, odd), None);
    }
}
