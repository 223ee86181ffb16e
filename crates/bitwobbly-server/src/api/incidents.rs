//! Incidents with their timelines, and maintenance windows.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bitwobbly_core::schedule::CronSchedule;
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery, MaybeJson};
use super::monitors::parse_limit;
use super::pages::ApiComponentStatus;
use super::views::{dt, odt};
use super::workspaces::validate_name;
use crate::auth::{Access, Read, Write};
use crate::error::ApiError;
use crate::pages::subscribe::{IncidentEvent, enqueue_incident};
use crate::state::AppState;

// === incidents ===

/// How bad an incident is (Statuspage vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiImpact {
    /// No visible impact.
    None,
    /// Minor.
    Minor,
    /// Major.
    Major,
    /// Critical.
    Critical,
}

impl From<ApiImpact> for Impact {
    fn from(i: ApiImpact) -> Self {
        match i {
            ApiImpact::None => Self::None,
            ApiImpact::Minor => Self::Minor,
            ApiImpact::Major => Self::Major,
            ApiImpact::Critical => Self::Critical,
        }
    }
}

/// A component an incident affects, with its status in the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentStatusInput {
    /// The component (on any page of the workspace).
    pub component_id: i64,
    /// Its status during the incident.
    pub status: ApiComponentStatus,
}

/// A component status an update changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentChangeView {
    /// The component.
    pub component_id: i64,
    /// Its status in the incident before (`null`: newly affected).
    pub old_status: Option<String>,
    /// Its status after.
    pub new_status: String,
}

/// An incident's life-cycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiIncidentStatus {
    /// Looking into it.
    Investigating,
    /// The cause is known.
    Identified,
    /// A fix is out; watching.
    Monitoring,
    /// Over.
    Resolved,
}

impl From<ApiIncidentStatus> for IncidentStatus {
    fn from(s: ApiIncidentStatus) -> Self {
        match s {
            ApiIncidentStatus::Investigating => Self::Investigating,
            ApiIncidentStatus::Identified => Self::Identified,
            ApiIncidentStatus::Monitoring => Self::Monitoring,
            ApiIncidentStatus::Resolved => Self::Resolved,
        }
    }
}

/// An incident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentView {
    /// Id.
    pub id: i64,
    /// The monitor that caused it, for automatic incidents.
    pub monitor_id: Option<i64>,
    /// `automatic` or `manual`.
    pub kind: String,
    /// Title.
    pub title: String,
    /// `investigating`, `identified`, `monitoring` or `resolved`.
    pub status: String,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: String,
    /// Started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Resolved, if it is.
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Released for pages that hold automatic incidents (manual incidents always are).
    pub published: bool,
}

impl From<Incident> for IncidentView {
    fn from(i: Incident) -> Self {
        Self {
            id: i.id.0,
            monitor_id: i.monitor_id.map(|m| m.0),
            kind: i.kind.as_str().to_owned(),
            title: i.title,
            status: i.status.as_str().to_owned(),
            impact: i.impact.as_str().to_owned(),
            started_at: dt(i.started_at),
            resolved_at: odt(i.resolved_at),
            updated_at: dt(i.updated_at),
            published: i.published,
        }
    }
}

/// One update on an incident's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentUpdateView {
    /// Id.
    pub id: i64,
    /// The status it moved the incident to.
    pub status: String,
    /// Message.
    pub message: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The component statuses it changed.
    pub components: Vec<ComponentChangeView>,
}

impl From<IncidentUpdate> for IncidentUpdateView {
    fn from(u: IncidentUpdate) -> Self {
        Self {
            id: u.id.0,
            status: u.status.as_str().to_owned(),
            message: u.message,
            created_at: dt(u.created_at),
            components: u
                .components
                .into_iter()
                .map(|c| ComponentChangeView {
                    component_id: c.component_id.0,
                    old_status: c.old_status.map(|s| s.as_str().to_owned()),
                    new_status: c.new_status.as_str().to_owned(),
                })
                .collect(),
        }
    }
}

/// A component an incident affects.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AffectedComponentView {
    /// The component.
    pub component_id: i64,
    /// Its status in the incident.
    pub status: String,
}

/// An incident with its timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: IncidentView,
    /// Its updates, oldest first.
    pub updates: Vec<IncidentUpdateView>,
    /// The components it affects, by id.
    pub components: Vec<AffectedComponentView>,
}

/// Query of the incident list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentsQuery {
    /// `true`: only unresolved incidents.
    pub open: Option<String>,
    /// Most incidents, 1 to 500 (default 50).
    pub limit: Option<String>,
}

/// An update to post on an incident.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentUpdateInput {
    /// The status it moves the incident to (`resolved` resolves it).
    pub status: ApiIncidentStatus,
    /// What to say.
    pub message: String,
    /// Components whose status in the incident changes (added if not yet affected).
    #[serde(default)]
    pub components: Vec<ComponentStatusInput>,
}

/// A manual incident to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentInput {
    /// Title (the incident's name on status pages).
    pub title: String,
    /// How bad it is.
    pub impact: ApiImpact,
    /// Starting status (default `investigating`).
    #[serde(default)]
    pub status: Option<ApiIncidentStatus>,
    /// The first update's message.
    pub message: String,
    /// Affected components with their status; with none, the incident shows on every page
    /// of the workspace.
    #[serde(default)]
    pub components: Vec<ComponentStatusInput>,
}

/// An incident's new title or impact.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditIncidentInput {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New impact.
    #[serde(default)]
    pub impact: Option<ApiImpact>,
}

/// How an incident is resolved by hand.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    /// The resolving update's message (default "Resolved manually.").
    #[serde(default)]
    pub message: Option<String>,
}

/// An incident of `ws` with its timeline, as the API shows it.
///
/// # Errors
/// 404 when the workspace has no such incident.
pub(crate) async fn detail(
    state: &AppState,
    ws: WorkspaceId,
    id: IncidentId,
) -> Result<IncidentDetail, ApiError> {
    let mut scope = state.store.workspace(ws);
    let incident = scope
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let updates = scope.incident_updates(id).await?;
    let components = scope.incident_component_statuses(id).await?;
    Ok(IncidentDetail {
        incident: incident.into(),
        updates: updates.into_iter().map(Into::into).collect(),
        components: components
            .into_iter()
            .map(|c| AffectedComponentView {
                component_id: c.component_id.0,
                status: c.status.as_str().to_owned(),
            })
            .collect(),
    })
}

/// Checks affected components: each in the workspace (named by its index), listed once.
async fn check_components(
    state: &AppState,
    ws: WorkspaceId,
    input: &[ComponentStatusInput],
) -> Result<Vec<AffectedComponent>, ApiError> {
    if input.len() > 500 {
        return Err(ApiError::invalid("components", "at most 500 components"));
    }
    let mut scope = state.store.workspace(ws);
    let mut out: Vec<AffectedComponent> = Vec::with_capacity(input.len());
    for (i, c) in input.iter().enumerate() {
        let id = ComponentId(c.component_id);
        if out.iter().any(|a| a.component_id == id) {
            return Err(ApiError::invalid(
                format!("components[{i}].component_id"),
                "is listed twice",
            ));
        }
        if scope.component(id).await?.is_none() {
            return Err(ApiError::invalid(
                format!("components[{i}].component_id"),
                "no component with this id in this workspace",
            ));
        }
        out.push(AffectedComponent {
            component_id: id,
            status: c.status.into(),
        });
    }
    Ok(out)
}

fn check_message(message: &str) -> Result<String, ApiError> {
    let m = message.trim();
    if m.is_empty() {
        return Err(ApiError::invalid("message", "must not be empty"));
    }
    if m.len() > 10_000 {
        return Err(ApiError::invalid("message", "must be at most 10000 bytes"));
    }
    Ok(m.to_owned())
}

type IncidentPath = ApiPath<(String, i64)>;

/// The workspace's incidents, newest first; `?open=true` for the unresolved ones.
#[utoipa::path(get, path = "/workspaces/{workspace}/incidents", tag = "incidents",
    params(("workspace" = String, Path, description = "Workspace slug"), IncidentsQuery),
    responses(
        (status = 200, body = [IncidentView]),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiQuery(q): ApiQuery<IncidentsQuery>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    let open = match q.open.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("open", "must be `true` or `false`")),
    };
    let limit = parse_limit(q.limit.as_deref(), 50, 500)?;
    let list = state
        .store
        .workspace(access.ws())
        .incidents(open, limit)
        .await?;
    Ok(Json(list.into_iter().map(IncidentView::from).collect()))
}

/// An incident with its timeline of updates.
#[utoipa::path(get, path = "/workspaces/{workspace}/incidents/{id}", tag = "incidents",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Incident id"),
    ),
    responses((status = 200, body = IncidentDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath((_, id)): IncidentPath,
) -> Result<Json<IncidentDetail>, ApiError> {
    Ok(Json(detail(&state, access.ws(), IncidentId(id)).await?))
}

/// Posts an update on an incident's timeline (member); status `resolved` resolves it.
#[utoipa::path(post, path = "/workspaces/{workspace}/incidents/{id}/updates", tag = "incidents",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Incident id"),
    ),
    request_body = IncidentUpdateInput,
    responses(
        (status = 201, body = IncidentDetail),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn add_update(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): IncidentPath,
    ApiJson(input): ApiJson<IncidentUpdateInput>,
) -> Result<(StatusCode, Json<IncidentDetail>), ApiError> {
    let detail = post_update(&state, access.ws(), IncidentId(id), &input).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Posts an update on an incident of `ws` (the API and the dashboard), with its messages to
/// the pages' subscribers in the same commit.
///
/// # Errors
/// 422 on `message` or `components[i].component_id`; 404 for an unknown incident.
pub(crate) async fn post_update(
    state: &AppState,
    ws: WorkspaceId,
    id: IncidentId,
    input: &IncidentUpdateInput,
) -> Result<IncidentDetail, ApiError> {
    let message = check_message(&input.message)?;
    let now = state.clock.now();
    if state.store.workspace(ws).incident(id).await?.is_none() {
        return Err(ApiError::not_found("incident"));
    }
    let components = check_components(state, ws, &input.components).await?;
    let update = NewIncidentUpdate {
        status: input.status.into(),
        message,
        components,
    };
    // The update and its messages to the page's subscribers commit together.
    let mut tx = state.store.begin().await?;
    tx.workspace(ws)
        .post_incident_update(id, &update, now)
        .await?;
    if let Some(incident) = tx.workspace(ws).incident(id).await? {
        let event = if incident.status == IncidentStatus::Resolved {
            IncidentEvent::Resolved
        } else {
            IncidentEvent::Updated
        };
        enqueue_incident(&mut tx, &incident, event, &update.message, now).await?;
    }
    tx.commit().await?;
    state.pages.invalidate(ws);
    detail(state, ws, id).await
}

/// Resolves an incident by hand (member).
#[utoipa::path(post, path = "/workspaces/{workspace}/incidents/{id}/resolve", tag = "incidents",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Incident id"),
    ),
    request_body(content = Option<ResolveInput>, description = "Optional; an empty body is fine"),
    responses(
        (status = 200, body = IncidentDetail),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
    ))]
pub async fn resolve(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): IncidentPath,
    MaybeJson(input): MaybeJson<ResolveInput>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let message = input.unwrap_or_default().message;
    let detail = resolve_incident(&state, access.ws(), IncidentId(id), message.as_deref()).await?;
    Ok(Json(detail))
}

/// Resolves an incident of `ws` by hand (the API and the dashboard); `message` defaults to
/// "Resolved manually.".
///
/// # Errors
/// 422 on `message`; 404 for an unknown incident; 409 when it is already resolved.
pub(crate) async fn resolve_incident(
    state: &AppState,
    ws: WorkspaceId,
    id: IncidentId,
    message: Option<&str>,
) -> Result<IncidentDetail, ApiError> {
    let message = match message {
        Some(m) => check_message(m)?,
        None => "Resolved manually.".to_owned(),
    };
    let mut tx = state.store.begin().await?;
    let incident = tx
        .workspace(ws)
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    if incident.resolved_at.is_some() {
        return Err(ApiError::conflict("this incident is already resolved"));
    }
    let now = state.clock.now();
    tx.workspace(ws).resolve_incident(id, now, &message).await?;
    enqueue_incident(&mut tx, &incident, IncidentEvent::Resolved, &message, now).await?;
    tx.commit().await?;
    state.pages.invalidate(ws);
    detail(state, ws, id).await
}

/// Opens a manual incident (member): shown at once on the pages of the components it
/// affects (every page of the workspace when it affects none).
#[utoipa::path(post, path = "/workspaces/{workspace}/incidents", tag = "incidents",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = NewIncidentInput,
    responses(
        (status = 201, body = IncidentDetail),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiJson(input): ApiJson<NewIncidentInput>,
) -> Result<(StatusCode, Json<IncidentDetail>), ApiError> {
    let detail = create_incident(&state, access.ws(), &input).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Opens a manual incident in `ws` (the API and the dashboard), with its messages to the
/// pages' subscribers in the same commit.
///
/// # Errors
/// 422 on `title`, `message` or `components[i].component_id`.
pub(crate) async fn create_incident(
    state: &AppState,
    ws: WorkspaceId,
    input: &NewIncidentInput,
) -> Result<IncidentDetail, ApiError> {
    let title = validate_name("title", &input.title)?;
    let message = check_message(&input.message)?;
    let components = check_components(state, ws, &input.components).await?;
    let new = NewIncident {
        monitor_id: None,
        kind: IncidentKind::Manual,
        title,
        status: input
            .status
            .unwrap_or(ApiIncidentStatus::Investigating)
            .into(),
        impact: input.impact.into(),
        message,
        started_at: state.clock.now(),
    };
    let mut tx = state.store.begin().await?;
    let incident = tx
        .workspace(ws)
        .open_incident_affecting(&new, &components)
        .await?;
    enqueue_incident(
        &mut tx,
        &incident,
        IncidentEvent::Created,
        &new.message,
        new.started_at,
    )
    .await?;
    tx.commit().await?;
    state.pages.invalidate(ws);
    detail(state, ws, incident.id).await
}

/// Changes an incident's title or impact (member).
#[utoipa::path(patch, path = "/workspaces/{workspace}/incidents/{id}", tag = "incidents",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Incident id"),
    ),
    request_body = EditIncidentInput,
    responses(
        (status = 200, body = IncidentDetail),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn edit(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): IncidentPath,
    ApiJson(input): ApiJson<EditIncidentInput>,
) -> Result<Json<IncidentDetail>, ApiError> {
    Ok(Json(
        edit_incident(&state, access.ws(), IncidentId(id), &input).await?,
    ))
}

/// Changes the title or impact of an incident of `ws` (the API and the dashboard).
///
/// # Errors
/// 422 on `title`; 404 for an unknown incident.
pub(crate) async fn edit_incident(
    state: &AppState,
    ws: WorkspaceId,
    id: IncidentId,
    input: &EditIncidentInput,
) -> Result<IncidentDetail, ApiError> {
    let mut scope = state.store.workspace(ws);
    let incident = scope
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let title = match &input.title {
        Some(t) => validate_name("title", t)?,
        None => incident.title,
    };
    let impact = input.impact.map_or(incident.impact, Impact::from);
    scope
        .edit_incident(id, &title, impact, state.clock.now())
        .await?;
    state.pages.invalidate(ws);
    detail(state, ws, id).await
}

/// Publishes an automatic incident held for review (member): pages that hold automatic
/// incidents show it from now on. Publishing twice is harmless.
#[utoipa::path(post, path = "/workspaces/{workspace}/incidents/{id}/publish", tag = "incidents",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Incident id"),
    ),
    responses(
        (status = 200, body = IncidentDetail),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn publish(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): IncidentPath,
) -> Result<Json<IncidentDetail>, ApiError> {
    Ok(Json(
        publish_incident(&state, access.ws(), IncidentId(id)).await?,
    ))
}

/// Publishes an automatic incident of `ws` held for review (the API and the dashboard).
///
/// # Errors
/// 404 for an unknown incident.
pub(crate) async fn publish_incident(
    state: &AppState,
    ws: WorkspaceId,
    id: IncidentId,
) -> Result<IncidentDetail, ApiError> {
    state
        .store
        .workspace(ws)
        .publish_incident(id, state.clock.now())
        .await?;
    state.pages.invalidate(ws);
    detail(state, ws, id).await
}

// === maintenance windows ===

/// How a maintenance window repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceInput {
    /// When each window starts: a five-field cron expression.
    pub cron: String,
    /// The IANA time zone of `cron` (default `UTC`).
    #[serde(default)]
    pub tz: Option<String>,
    /// How long each window lasts, e.g. `2h`.
    pub duration: String,
}

/// A maintenance window as sent to create or replace it: one-off (`starts_at` to `ends_at`),
/// or recurring (`recurrence`, repeating between `starts_at` and `ends_at`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceInput {
    /// Title.
    pub title: String,
    /// Shown during the window.
    #[serde(default)]
    pub message: Option<String>,
    /// Start (RFC 3339): of the window, or of the recurrence.
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    /// End (RFC 3339): of the window, or of the recurrence.
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// For a recurring window.
    #[serde(default)]
    pub recurrence: Option<RecurrenceInput>,
    /// Monitors it covers (their alerts are held back and they show as under maintenance).
    #[serde(default)]
    pub monitor_ids: Vec<i64>,
    /// Status-page components it covers.
    #[serde(default)]
    pub component_ids: Vec<i64>,
}

/// A maintenance window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MaintenanceView {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// Start (of the window, or of the recurrence).
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    /// End (of the window, or of the recurrence).
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// For a recurring window.
    pub recurrence: Option<RecurrenceInput>,
    /// Monitors it covers directly.
    pub monitor_ids: Vec<i64>,
    /// Components it covers.
    pub component_ids: Vec<i64>,
    /// Whether a window is in progress now.
    pub active: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A maintenance window as the API shows it; `now` decides `active`.
pub fn maintenance_view(m: Maintenance, now: Timestamp) -> MaintenanceView {
    let active = m.starts_at <= now && now < m.ends_at && m.is_active(now);
    MaintenanceView {
        id: m.id.0,
        title: m.title,
        message: m.message,
        starts_at: dt(m.starts_at),
        ends_at: dt(m.ends_at),
        recurrence: m.recurrence_cron.map(|cron| RecurrenceInput {
            cron,
            tz: m.recurrence_tz,
            duration: humantime::format_duration(Duration::from_secs(
                u64::try_from(m.duration_secs.unwrap_or(0)).unwrap_or(0),
            ))
            .to_string(),
        }),
        monitor_ids: m.monitors.iter().map(|x| x.0).collect(),
        component_ids: m.components.iter().map(|x| x.0).collect(),
        active,
        created_at: dt(m.created_at),
    }
}

/// Validates a maintenance window against core and the workspace's monitors and components.
pub(crate) async fn validate_maintenance(
    state: &AppState,
    ws: WorkspaceId,
    input: &MaintenanceInput,
) -> Result<NewMaintenance, ApiError> {
    let title = validate_name("title", &input.title)?;
    let message = match input.message.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(m) => check_message(m)?,
    };
    if input.ends_at <= input.starts_at {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    let (cron, tz, duration_secs) = match &input.recurrence {
        None => (None, None, None),
        Some(r) => {
            let tz = r.tz.clone().unwrap_or_else(|| "UTC".to_owned());
            CronSchedule::new(&r.cron, &tz).map_err(|e| {
                let field = if e.field == "tz" {
                    "recurrence.tz"
                } else {
                    "recurrence.cron"
                };
                ApiError::invalid(field, e.problem)
            })?;
            let d = humantime::parse_duration(&r.duration).map_err(|e| {
                ApiError::invalid(
                    "recurrence.duration",
                    format!("not a duration like `2h`: {e}"),
                )
            })?;
            if d.is_zero() {
                return Err(ApiError::invalid(
                    "recurrence.duration",
                    "must be more than 0s",
                ));
            }
            let secs = i64::try_from(d.as_secs())
                .map_err(|_| ApiError::invalid("recurrence.duration", "is too long"))?;
            (Some(r.cron.clone()), Some(tz), Some(secs))
        }
    };
    let mut scope = state.store.workspace(ws);
    let mut monitors = Vec::new();
    for (i, id) in input.monitor_ids.iter().enumerate() {
        if scope.monitor(MonitorId(*id)).await?.is_none() {
            return Err(ApiError::invalid(
                format!("monitor_ids[{i}]"),
                "no monitor with this id in this workspace",
            ));
        }
        if !monitors.contains(&MonitorId(*id)) {
            monitors.push(MonitorId(*id));
        }
    }
    let mut components = Vec::new();
    for (i, id) in input.component_ids.iter().enumerate() {
        if scope.component(ComponentId(*id)).await?.is_none() {
            return Err(ApiError::invalid(
                format!("component_ids[{i}]"),
                "no component with this id in this workspace",
            ));
        }
        if !components.contains(&ComponentId(*id)) {
            components.push(ComponentId(*id));
        }
    }
    Ok(NewMaintenance {
        title,
        message,
        starts_at: Timestamp::from(input.starts_at),
        ends_at: Timestamp::from(input.ends_at),
        recurrence_cron: cron,
        recurrence_tz: tz,
        duration_secs,
        components,
        monitors,
    })
}

type MaintenancePath = ApiPath<(String, i64)>;

/// The workspace's maintenance windows (past ones included), by start.
#[utoipa::path(get, path = "/workspaces/{workspace}/maintenance", tag = "maintenance",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = [MaintenanceView]), (status = 404, body = ErrorBody)))]
pub async fn list_maintenance(
    State(state): State<AppState>,
    access: Access<Read>,
) -> Result<Json<Vec<MaintenanceView>>, ApiError> {
    let now = state.clock.now();
    let list = state
        .store
        .workspace(access.ws())
        .maintenances(Timestamp::from_millis(i64::MIN))
        .await?;
    Ok(Json(
        list.into_iter().map(|m| maintenance_view(m, now)).collect(),
    ))
}

/// Schedules a maintenance window (member).
#[utoipa::path(post, path = "/workspaces/{workspace}/maintenance", tag = "maintenance",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = MaintenanceInput,
    responses(
        (status = 201, body = MaintenanceView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_maintenance(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiJson(input): ApiJson<MaintenanceInput>,
) -> Result<(StatusCode, Json<MaintenanceView>), ApiError> {
    let view = save_maintenance(&state, access.ws(), None, &input).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Validates and saves a maintenance window of `ws` (the API and the dashboard): a new one
/// (`id` `None`) or over window `id`.
///
/// # Errors
/// 422 naming the field (`title`, `ends_at`, `recurrence.cron`, `monitor_ids[i]`, ...); 404
/// when `id` is not a window of `ws`.
pub(crate) async fn save_maintenance(
    state: &AppState,
    ws: WorkspaceId,
    id: Option<MaintenanceId>,
    input: &MaintenanceInput,
) -> Result<MaintenanceView, ApiError> {
    if let Some(id) = id
        && state.store.workspace(ws).maintenance(id).await?.is_none()
    {
        return Err(ApiError::not_found("maintenance window"));
    }
    let new = validate_maintenance(state, ws, input).await?;
    let now = state.clock.now();
    let mut scope = state.store.workspace(ws);
    let m = match id {
        None => scope.create_maintenance(&new, now).await?,
        Some(id) => scope.update_maintenance(id, &new).await?,
    };
    state.pages.invalidate(ws);
    Ok(maintenance_view(m, now))
}

/// A maintenance window.
#[utoipa::path(get, path = "/workspaces/{workspace}/maintenance/{id}", tag = "maintenance",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Maintenance window id"),
    ),
    responses((status = 200, body = MaintenanceView), (status = 404, body = ErrorBody)))]
pub async fn get_maintenance(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath((_, id)): MaintenancePath,
) -> Result<Json<MaintenanceView>, ApiError> {
    let m = state
        .store
        .workspace(access.ws())
        .maintenance(MaintenanceId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("maintenance window"))?;
    Ok(Json(maintenance_view(m, state.clock.now())))
}

/// Replaces a maintenance window (member).
#[utoipa::path(put, path = "/workspaces/{workspace}/maintenance/{id}", tag = "maintenance",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Maintenance window id"),
    ),
    request_body = MaintenanceInput,
    responses(
        (status = 200, body = MaintenanceView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_maintenance(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): MaintenancePath,
    ApiJson(input): ApiJson<MaintenanceInput>,
) -> Result<Json<MaintenanceView>, ApiError> {
    let view = save_maintenance(&state, access.ws(), Some(MaintenanceId(id)), &input).await?;
    Ok(Json(view))
}

/// Deletes a maintenance window (member).
#[utoipa::path(delete, path = "/workspaces/{workspace}/maintenance/{id}", tag = "maintenance",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("id" = i64, Path, description = "Maintenance window id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete_maintenance(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath((_, id)): MaintenancePath,
) -> Result<StatusCode, ApiError> {
    delete_maintenance_window(&state, access.ws(), MaintenanceId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a maintenance window of `ws` (the API and the dashboard).
///
/// # Errors
/// 404 for an unknown window.
pub(crate) async fn delete_maintenance_window(
    state: &AppState,
    ws: WorkspaceId,
    id: MaintenanceId,
) -> Result<(), ApiError> {
    state.store.workspace(ws).delete_maintenance(id).await?;
    state.pages.invalidate(ws);
    Ok(())
}
