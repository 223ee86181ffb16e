//! Error-tracking projects: CRUD, their DSN keys (with the DSN string to paste into an SDK),
//! their alert channels, and what their SDKs report about performance (transactions),
//! release health (sessions) and cron jobs (check-ins).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bitwobbly_store::prelude::*;
use bitwobbly_store::{Scoped, Source};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::monitors::{parse_limit, parse_time};
use super::views::dt;
use super::workspaces::validate_name;
use super::{ErrorBody, IdPath, OrNotFound as _};
use crate::auth::{Access, Manage, Read};
use crate::config::Config;
use crate::error::ApiError;
use crate::ops::admin::{check_slug, slugify};
use crate::state::AppState;

// === DSN ===

/// The DSN an SDK is configured with: `{scheme}://{public_key}@{host}[:{port}][{path}]/{project_id}`,
/// built from the server's public URL (so SDKs post to `{public_url}/api/{project_id}/envelope/`).
pub fn dsn(public_url: &str, public_key: &str, project: ProjectId) -> String {
    let base = public_url.trim_end_matches('/');
    match base.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{public_key}@{rest}/{}", project.0),
        None => format!("http://{public_key}@{base}/{}", project.0),
    }
}

/// The DSN of `key` on this server (see [`dsn`]).
pub fn key_dsn(config: &Config, key: &DsnKey) -> String {
    dsn(&config.public_url(), &key.public_key, key.project_id)
}

// === views ===

/// A DSN key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyView {
    /// Id.
    pub id: i64,
    /// Label.
    pub label: String,
    /// The public key (32 hex characters).
    pub public_key: String,
    /// The DSN to configure an SDK with.
    pub dsn: String,
    /// Whether it accepts events (a rotated key is disabled).
    pub enabled: bool,
    /// Envelopes accepted per minute, if limited.
    pub rate_limit_per_minute: Option<i64>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A DSN key as the API shows it.
pub fn key_view(config: &Config, k: DsnKey) -> KeyView {
    KeyView {
        id: k.id.0,
        dsn: key_dsn(config, &k),
        label: k.label,
        public_key: k.public_key,
        enabled: k.status == KeyStatus::Active,
        rate_limit_per_minute: k.rate_limit_per_minute,
        created_at: dt(k.created_at),
    }
}

/// A project with its keys and alert channels.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectView {
    /// Id (the number at the end of its DSNs).
    pub id: i64,
    /// URL name, unique in the workspace.
    pub slug: String,
    /// Name.
    pub name: String,
    /// SDK platform, e.g. `python`.
    pub platform: Option<String>,
    /// The DSN of its first enabled key, to paste into an SDK.
    pub dsn: Option<String>,
    /// Its DSN keys.
    pub keys: Vec<KeyView>,
    /// The channels that hear about new and regressed issues.
    pub channel_ids: Vec<i64>,
    /// Retention and issue-frequency alert settings (`null` fields: the server's defaults).
    pub settings: ProjectSettings,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

async fn project_view<S: Source>(
    config: &Config,
    scope: &mut Scoped<S>,
    p: Project,
) -> Result<ProjectView, ApiError> {
    let keys: Vec<KeyView> = scope
        .dsn_keys(p.id)
        .await?
        .into_iter()
        .map(|k| key_view(config, k))
        .collect();
    let channel_ids = scope
        .project_channels(p.id)
        .await?
        .into_iter()
        .map(|c| c.0)
        .collect();
    let settings = scope.project_processing(p.id).await?.unwrap_or_default();
    Ok(ProjectView {
        settings: settings.into(),
        id: p.id.0,
        slug: p.slug,
        name: p.name,
        platform: p.platform,
        dsn: keys.iter().find(|k| k.enabled).map(|k| k.dsn.clone()),
        keys,
        channel_ids,
        created_at: dt(p.created_at),
    })
}

/// The project `id` of the workspace, or 404.
pub(crate) async fn project_of<S: Source>(
    scope: &mut Scoped<S>,
    id: i64,
) -> Result<Project, ApiError> {
    scope.project(ProjectId(id)).await?.or_not_found("project")
}

/// A project's retention and issue-frequency alert settings; `null` means the server's
/// default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    /// Days events and their attachments are kept (1 to 3650).
    #[serde(default)]
    pub event_retention_days: Option<i64>,
    /// Days raw envelopes are kept (1 to 3650).
    #[serde(default)]
    pub envelope_retention_days: Option<i64>,
    /// Events of one issue within `alert_frequency_minutes` that alert (0 turns it off).
    #[serde(default)]
    pub alert_frequency_count: Option<i64>,
    /// The window of that alert, in minutes (1 to 10080).
    #[serde(default)]
    pub alert_frequency_minutes: Option<i64>,
}

impl From<ProjectProcessing> for ProjectSettings {
    fn from(p: ProjectProcessing) -> Self {
        Self {
            event_retention_days: p.event_retention_days,
            envelope_retention_days: p.envelope_retention_days,
            alert_frequency_count: p.alert_frequency_count,
            alert_frequency_minutes: p.alert_frequency_minutes,
        }
    }
}

impl ProjectSettings {
    /// Checks the ranges and gives the store's form.
    ///
    /// # Errors
    /// 422 `validation_failed` on `settings.<field>`.
    pub fn validate(&self) -> Result<ProjectProcessing, ApiError> {
        let range = |v: Option<i64>, field: &str, lo: i64, hi: i64| match v {
            Some(n) if !(lo..=hi).contains(&n) => Err(ApiError::invalid(
                format!("settings.{field}"),
                format!("must be from {lo} to {hi}, or null for the server's default"),
            )),
            _ => Ok(v),
        };
        Ok(ProjectProcessing {
            event_retention_days: range(
                self.event_retention_days,
                "event_retention_days",
                1,
                3650,
            )?,
            envelope_retention_days: range(
                self.envelope_retention_days,
                "envelope_retention_days",
                1,
                3650,
            )?,
            alert_frequency_count: range(
                self.alert_frequency_count,
                "alert_frequency_count",
                0,
                1_000_000,
            )?,
            alert_frequency_minutes: range(
                self.alert_frequency_minutes,
                "alert_frequency_minutes",
                1,
                10_080,
            )?,
        })
    }
}

// === input ===

/// Reads a present JSON value, `null` included, as `Some(value)`; with `#[serde(default)]` an
/// absent field stays `None` ("leave as it is").
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A new project.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProjectInput {
    /// Name (1 to 200 characters).
    pub name: String,
    /// URL name: 1 to 63 of `a-z 0-9 -` (default: made from the name).
    #[serde(default)]
    pub slug: Option<String>,
    /// SDK platform, e.g. `python` or `javascript-react` (1 to 64 of `a-z 0-9 . _ -`).
    #[serde(default)]
    pub platform: Option<String>,
    /// Channels to alert on new and regressed issues.
    #[serde(default)]
    pub channel_ids: Vec<i64>,
    /// Retention and alert settings (default: the server's).
    #[serde(default)]
    pub settings: Option<ProjectSettings>,
}

/// Changes to a project; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// SDK platform; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub platform: Option<Option<String>>,
    /// Channels to alert (replacing the current ones).
    #[serde(default)]
    pub channel_ids: Option<Vec<i64>>,
    /// Retention and alert settings (replacing the current ones: a missing field inside
    /// means the server's default).
    #[serde(default)]
    pub settings: Option<ProjectSettings>,
}

/// Checks a platform name.
///
/// # Errors
/// 422 `validation_failed` on `platform`.
pub fn validate_platform(p: &str) -> Result<String, ApiError> {
    let p = p.trim();
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    if p.is_empty() || p.len() > 64 || !p.chars().all(ok) {
        return Err(ApiError::invalid(
            "platform",
            "must be 1 to 64 of a-z, 0-9, `.`, `_` and `-`",
        ));
    }
    Ok(p.to_owned())
}

/// Checks that each channel is the workspace's; the ids without repeats.
async fn check_channels<S: Source>(
    scope: &mut Scoped<S>,
    ids: &[i64],
) -> Result<Vec<ChannelId>, ApiError> {
    let mut out = Vec::with_capacity(ids.len());
    for (i, c) in ids.iter().enumerate() {
        if scope.channel(ChannelId(*c)).await?.is_none() {
            return Err(ApiError::invalid(
                format!("channel_ids[{i}]"),
                "no channel with this id in this workspace",
            ));
        }
        if !out.contains(&ChannelId(*c)) {
            out.push(ChannelId(*c));
        }
    }
    Ok(out)
}

fn slug_conflict(e: StoreError) -> ApiError {
    if e.is_conflict() {
        ApiError::conflict("another project of this workspace has this slug").with_field("slug")
    } else {
        e.into()
    }
}

// === project handlers ===

/// The workspace's projects with their keys.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects", tag = "projects",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = [ProjectView]), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access<Read>,
) -> Result<Json<Vec<ProjectView>>, ApiError> {
    Ok(Json(list_projects(&state, &access).await?))
}

/// The workspace's projects with their keys (the API's and the dashboard's list).
pub(crate) async fn list_projects(
    state: &AppState,
    access: &Access<Read>,
) -> Result<Vec<ProjectView>, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let mut out = Vec::new();
    for p in scope.projects().await? {
        out.push(project_view(&state.config, &mut scope, p).await?);
    }
    Ok(out)
}

/// Creates a project with one DSN key, `Default` (admin).
#[utoipa::path(post, path = "/workspaces/{workspace}/projects", tag = "projects",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = NewProjectInput,
    responses(
        (status = 201, body = ProjectView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The slug is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiJson(input): ApiJson<NewProjectInput>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    let view = create_project(&state, &access, &input).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Creates a project with one DSN key, `Default`.
///
/// # Errors
/// 422 naming the field at fault; 409 on `slug` when it is taken.
pub(crate) async fn create_project(
    state: &AppState,
    access: &Access<Manage>,
    input: &NewProjectInput,
) -> Result<ProjectView, ApiError> {
    let name = validate_name("name", &input.name)?;
    let slug = match input.slug.as_deref() {
        Some(s) => s.trim().to_owned(),
        None => slugify(&name),
    };
    check_slug(&slug).map_err(|p| ApiError::invalid("slug", p))?;
    let platform = input
        .platform
        .as_deref()
        .map(validate_platform)
        .transpose()?;
    let settings = input.settings.unwrap_or_default().validate()?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let mut scope = tx.workspace(access.ws());
    let channels = check_channels(&mut scope, &input.channel_ids).await?;
    let p = scope
        .create_project(&slug, &name, platform.as_deref(), now)
        .await
        .map_err(slug_conflict)?;
    scope.set_project_channels(p.id, &channels).await?;
    scope.set_project_processing(p.id, &settings).await?;
    scope.create_dsn_key(p.id, "Default", None, now).await?;
    tx.commit().await?;
    let mut scope = state.store.workspace(access.ws());
    project_view(&state.config, &mut scope, p).await
}

/// A project with its keys.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}", tag = "projects",
    params(IdPath),
    responses((status = 200, body = ProjectView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<ProjectView>, ApiError> {
    Ok(Json(get_project(&state, &access, id).await?))
}

/// A project of the workspace with its keys, or 404.
pub(crate) async fn get_project(
    state: &AppState,
    access: &Access<Read>,
    id: i64,
) -> Result<ProjectView, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    project_view(&state.config, &mut scope, p).await
}

/// Renames a project, sets its platform or its alert channels (admin).
#[utoipa::path(patch, path = "/workspaces/{workspace}/projects/{id}", tag = "projects",
    params(IdPath),
    request_body = ProjectPatch,
    responses(
        (status = 200, body = ProjectView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(patch): ApiJson<ProjectPatch>,
) -> Result<Json<ProjectView>, ApiError> {
    Ok(Json(update_project(&state, &access, id, &patch).await?))
}

/// Applies `patch` to the project `id`.
///
/// # Errors
/// 404 for another workspace's project; 422 naming the field at fault.
pub(crate) async fn update_project(
    state: &AppState,
    access: &Access<Manage>,
    id: i64,
    patch: &ProjectPatch,
) -> Result<ProjectView, ApiError> {
    let mut tx = state.store.begin().await?;
    let mut scope = tx.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let name = match &patch.name {
        Some(n) => validate_name("name", n)?,
        None => p.name.clone(),
    };
    let platform = match &patch.platform {
        None => p.platform.clone(),
        Some(None) => None,
        Some(Some(s)) => Some(validate_platform(s)?),
    };
    let settings = patch.settings.map(|s| s.validate()).transpose()?;
    let p = scope
        .update_project(p.id, &name, platform.as_deref())
        .await?;
    if let Some(ids) = &patch.channel_ids {
        let channels = check_channels(&mut scope, ids).await?;
        scope.set_project_channels(p.id, &channels).await?;
    }
    if let Some(settings) = settings {
        scope.set_project_processing(p.id, &settings).await?;
    }
    tx.commit().await?;
    let mut scope = state.store.workspace(access.ws());
    project_view(&state.config, &mut scope, p).await
}

/// Deletes a project with everything it received (admin): keys stop working at once.
#[utoipa::path(delete, path = "/workspaces/{workspace}/projects/{id}", tag = "projects",
    params(IdPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    delete_project(&state, &access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the project `id` with everything it received; its keys stop working at once.
pub(crate) async fn delete_project(
    state: &AppState,
    access: &Access<Manage>,
    id: i64,
) -> Result<(), ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let keys = scope.dsn_keys(p.id).await?;
    let blobs = scope.delete_project(p.id).await?;
    for k in keys {
        state.ingest.forget_key(&k.public_key);
    }
    for key in blobs {
        if let Err(e) = state.blobs.delete(&key).await {
            tracing::warn!(blob_key = %key, error = %e, "a deleted project's blob stays behind");
        }
    }
    Ok(())
}

// === keys ===

/// The path of one DSN key.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    /// Workspace slug
    pub workspace: String,
    /// The project's id
    pub id: i64,
    /// The key's id
    pub key_id: i64,
}

/// A new DSN key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyInput {
    /// Label (default `Default`).
    #[serde(default)]
    pub label: Option<String>,
    /// Envelopes accepted per minute (1 to 1,000,000); none means unlimited.
    #[serde(default)]
    pub rate_limit_per_minute: Option<i64>,
}

/// Changes to a DSN key; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Envelopes accepted per minute; `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub rate_limit_per_minute: Option<Option<i64>>,
    /// Whether the key accepts events.
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn validate_rate_limit(limit: Option<i64>) -> Result<Option<i64>, ApiError> {
    match limit {
        Some(n) if !(1..=1_000_000).contains(&n) => Err(ApiError::invalid(
            "rate_limit_per_minute",
            "must be from 1 to 1000000, or null for no limit",
        )),
        other => Ok(other),
    }
}

/// A project's DSN keys.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/keys", tag = "projects",
    params(IdPath),
    responses((status = 200, body = [KeyView]), (status = 404, body = ErrorBody)))]
pub async fn list_keys(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let keys = scope.dsn_keys(p.id).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| key_view(&state.config, k))
            .collect(),
    ))
}

/// Adds a DSN key to a project (admin).
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/keys", tag = "projects",
    params(IdPath),
    request_body = NewKeyInput,
    responses(
        (status = 201, body = KeyView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_key(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(input): ApiJson<NewKeyInput>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let key = create_key_of(&state, &access, id, &input).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Adds a DSN key to the project `id`.
///
/// # Errors
/// 404 for another workspace's project; 422 on `label` or `rate_limit_per_minute`.
pub(crate) async fn create_key_of(
    state: &AppState,
    access: &Access<Manage>,
    id: i64,
    input: &NewKeyInput,
) -> Result<KeyView, ApiError> {
    let label = match &input.label {
        Some(l) => validate_name("label", l)?,
        None => "Default".to_owned(),
    };
    let limit = validate_rate_limit(input.rate_limit_per_minute)?;
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let key = scope
        .create_dsn_key(p.id, &label, limit, state.clock.now())
        .await?;
    Ok(key_view(&state.config, key))
}

/// Changes a key's label, rate limit, or whether it accepts events (admin).
#[utoipa::path(patch, path = "/workspaces/{workspace}/projects/{id}/keys/{key_id}",
    tag = "projects",
    params(KeyPath),
    request_body = KeyPatch,
    responses(
        (status = 200, body = KeyView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_key(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(path): ApiPath<KeyPath>,
    ApiJson(patch): ApiJson<KeyPatch>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(update_key_of(&state, &access, &path, &patch).await?))
}

/// Applies `patch` to a DSN key (its label, rate limit, whether it accepts events).
///
/// # Errors
/// 404 for a key that is not the project's; 422 on `label` or `rate_limit_per_minute`.
pub(crate) async fn update_key_of(
    state: &AppState,
    access: &Access<Manage>,
    path: &KeyPath,
    patch: &KeyPatch,
) -> Result<KeyView, ApiError> {
    let (project, id) = (ProjectId(path.id), DsnKeyId(path.key_id));
    let mut scope = state.store.workspace(access.ws());
    let k = scope.dsn_key(project, id).await?.or_not_found("dsn key")?;
    let label = match &patch.label {
        Some(l) => validate_name("label", l)?,
        None => k.label.clone(),
    };
    let limit = match patch.rate_limit_per_minute {
        Some(l) => validate_rate_limit(l)?,
        None => k.rate_limit_per_minute,
    };
    let status = match patch.enabled {
        Some(true) => KeyStatus::Active,
        Some(false) => KeyStatus::Disabled,
        None => k.status,
    };
    let k = scope
        .set_dsn_key(project, id, &label, status, limit)
        .await?;
    state.ingest.forget_key(&k.public_key);
    Ok(key_view(&state.config, k))
}

/// Rotates a key (admin): a new key with the same label and rate limit replaces it, and the
/// old key is disabled at once (no grace period: SDKs must be given the new DSN).
#[utoipa::path(post, path = "/workspaces/{workspace}/projects/{id}/keys/{key_id}/rotate",
    tag = "projects",
    params(KeyPath),
    responses(
        (status = 201, description = "The new key", body = KeyView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn rotate_key(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(path): ApiPath<KeyPath>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let key = rotate_key_of(&state, &access, &path).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Rotates a DSN key: the new key replaces it and the old one is disabled at once.
pub(crate) async fn rotate_key_of(
    state: &AppState,
    access: &Access<Manage>,
    path: &KeyPath,
) -> Result<KeyView, ApiError> {
    let (project, id) = (ProjectId(path.id), DsnKeyId(path.key_id));
    let mut scope = state.store.workspace(access.ws());
    let old = scope.dsn_key(project, id).await?.or_not_found("dsn key")?;
    let key = scope.rotate_dsn_key(project, id, state.clock.now()).await?;
    state.ingest.forget_key(&old.public_key);
    Ok(key_view(&state.config, key))
}

/// Revokes a key for good (admin): it is deleted and refused from then on.
#[utoipa::path(delete, path = "/workspaces/{workspace}/projects/{id}/keys/{key_id}",
    tag = "projects",
    params(KeyPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn revoke_key(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(path): ApiPath<KeyPath>,
) -> Result<StatusCode, ApiError> {
    revoke_key_of(&state, &access, &path).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes a DSN key for good.
pub(crate) async fn revoke_key_of(
    state: &AppState,
    access: &Access<Manage>,
    path: &KeyPath,
) -> Result<(), ApiError> {
    let (project, id) = (ProjectId(path.id), DsnKeyId(path.key_id));
    let mut scope = state.store.workspace(access.ws());
    let old = scope.dsn_key(project, id).await?.or_not_found("dsn key")?;
    scope.delete_dsn_key(project, id).await?;
    state.ingest.forget_key(&old.public_key);
    Ok(())
}

// === time windows ===

/// A time window: `from`/`to`, or `period` ending now.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// Start, inclusive: RFC 3339 or milliseconds since the epoch.
    pub from: Option<String>,
    /// End, exclusive: RFC 3339 or milliseconds (default: now).
    pub to: Option<String>,
    /// Length ending at `to` when `from` is not given, e.g. `24h`, `7d` (default depends on
    /// the resource).
    pub period: Option<String>,
}

/// The longest window any query may cover.
pub const MAX_WINDOW: Duration = Duration::from_secs(400 * 86_400);

/// Reads a window, defaulting to `default` ending now.
///
/// # Errors
/// 422 `validation_failed` on `from`, `to` or `period`.
pub fn parse_window(
    from: Option<&str>,
    to: Option<&str>,
    period: Option<&str>,
    now: Timestamp,
    default: Duration,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let to = match to {
        Some(s) => parse_time("to", s)?,
        None => Timestamp::from_millis(now.as_millis() + 1),
    };
    let from = match (from, period) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "period",
                "give either `from` or `period`",
            ));
        }
        (Some(s), None) => parse_time("from", s)?,
        (None, p) => {
            let len = match p {
                Some(p) => humantime::parse_duration(p).map_err(|e| {
                    ApiError::invalid("period", format!("not a duration like `24h`: {e}"))
                })?,
                None => default,
            };
            if len.is_zero() || len > MAX_WINDOW {
                return Err(ApiError::invalid(
                    "period",
                    "must be longer than zero and at most 400 days",
                ));
            }
            to.minus(len)
        }
    };
    if from >= to {
        return Err(ApiError::invalid("from", "must be before `to`"));
    }
    if to.as_millis() - from.as_millis() > MAX_WINDOW.as_millis() as i64 {
        return Err(ApiError::invalid(
            "from",
            "the window may cover at most 400 days",
        ));
    }
    Ok((from, to))
}

// === transactions ===

/// Count, failure rate and duration quantiles of some transactions (durations in
/// milliseconds, quantiles within about 1%).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionStatsView {
    /// Transactions.
    pub count: u64,
    /// Failed transactions (status other than `ok`, `cancelled`, `unknown`).
    pub failures: u64,
    /// Failures over count; `null` without transactions.
    pub error_rate: Option<f64>,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Mean.
    pub mean_ms: Option<f64>,
}

impl From<TransactionStats> for TransactionStatsView {
    fn from(s: TransactionStats) -> Self {
        let ms = |us: f64| (us / 1000.0 * 1000.0).round() / 1000.0;
        #[allow(clippy::cast_precision_loss)]
        let rate = (s.count > 0).then(|| s.failures as f64 / s.count as f64);
        Self {
            count: s.count,
            failures: s.failures,
            error_rate: rate,
            p50_ms: s.p50_us.map(ms),
            p95_ms: s.p95_us.map(ms),
            p99_ms: s.p99_us.map(ms),
            mean_ms: s.mean_us.map(ms),
        }
    }
}

/// One transaction name's statistics over the window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionSummaryView {
    /// The transaction name (route).
    pub name: String,
    /// Its statistics.
    #[serde(flatten)]
    pub stats: TransactionStatsView,
}

/// Transaction statistics per name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionsView {
    /// Window start.
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// Window end.
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// Per name, busiest first.
    pub transactions: Vec<TransactionSummaryView>,
}

/// Per transaction name: count, error rate and p50/p95/p99 duration over a window (default
/// the last 24 hours).
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/transactions",
    tag = "projects",
    params(IdPath, WindowQuery),
    responses(
        (status = 200, body = TransactionsView),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn transactions(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> Result<Json<TransactionsView>, ApiError> {
    Ok(Json(transactions_of(&state, &access, id, &q).await?))
}

/// Per transaction name of the project `id`: count, error rate and p50/p95/p99 over a window.
///
/// # Errors
/// 404 for another workspace's project; 422 on `from`, `to` or `period`.
pub(crate) async fn transactions_of(
    state: &AppState,
    access: &Access<Read>,
    id: i64,
    q: &WindowQuery,
) -> Result<TransactionsView, ApiError> {
    let (from, to) = parse_window(
        q.from.as_deref(),
        q.to.as_deref(),
        q.period.as_deref(),
        state.clock.now(),
        Duration::from_secs(86_400),
    )?;
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let list = scope.transaction_summaries(p.id, from, to).await?;
    Ok(TransactionsView {
        from: dt(from),
        to: dt(to),
        transactions: list
            .into_iter()
            .map(|t| TransactionSummaryView {
                name: t.name,
                stats: t.stats.into(),
            })
            .collect(),
    })
}

/// The query of one transaction name's time series.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// The transaction name.
    pub name: String,
    /// Start, inclusive.
    pub from: Option<String>,
    /// End, exclusive (default: now).
    pub to: Option<String>,
    /// Length ending at `to` when `from` is not given (default `24h`).
    pub period: Option<String>,
    /// Bucket length, e.g. `1h` (default: the window split in 60, at least a minute).
    pub interval: Option<String>,
}

/// Most buckets in one series.
pub const MAX_BUCKETS: u64 = 1000;

/// One bucket of a series.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BucketView {
    /// Bucket start.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// Its statistics.
    #[serde(flatten)]
    pub stats: TransactionStatsView,
}

/// One transaction name over time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesView {
    /// The transaction name.
    pub name: String,
    /// Bucket length in seconds.
    pub interval_secs: u64,
    /// The buckets, oldest first (empty ones included).
    pub buckets: Vec<BucketView>,
}

/// One transaction name's count, error rate and p50/p95/p99 per time bucket.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/transactions/series",
    tag = "projects",
    params(IdPath, SeriesQuery),
    responses(
        (status = 200, body = SeriesView),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn transaction_series(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Json<SeriesView>, ApiError> {
    Ok(Json(series_of(&state, &access, id, &q).await?))
}

/// One transaction name's statistics per time bucket.
///
/// # Errors
/// 404 for another workspace's project; 422 on `name`, `from`, `to`, `period` or `interval`.
pub(crate) async fn series_of(
    state: &AppState,
    access: &Access<Read>,
    id: i64,
    q: &SeriesQuery,
) -> Result<SeriesView, ApiError> {
    if q.name.is_empty() || q.name.len() > 1000 {
        return Err(ApiError::invalid("name", "must be 1 to 1000 bytes"));
    }
    let (from, to) = parse_window(
        q.from.as_deref(),
        q.to.as_deref(),
        q.period.as_deref(),
        state.clock.now(),
        Duration::from_secs(86_400),
    )?;
    let span_ms = u64::try_from(to.as_millis() - from.as_millis()).unwrap_or(u64::MAX);
    let interval = match q.interval.as_deref() {
        Some(s) => humantime::parse_duration(s)
            .map_err(|e| ApiError::invalid("interval", format!("not a duration like `1h`: {e}")))?,
        None => Duration::from_secs((span_ms / 60_000).div_ceil(60).max(1) * 60),
    };
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    if interval < Duration::from_secs(60) || span_ms.div_ceil(interval_ms) > MAX_BUCKETS {
        return Err(ApiError::invalid(
            "interval",
            format!("must be at least 1m and make at most {MAX_BUCKETS} buckets"),
        ));
    }
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let buckets = scope
        .transaction_series(p.id, &q.name, from, to, interval)
        .await?;
    Ok(SeriesView {
        name: q.name.clone(),
        interval_secs: interval.as_secs(),
        buckets: buckets
            .into_iter()
            .map(|b| BucketView {
                start: dt(b.start),
                stats: b.stats.into(),
            })
            .collect(),
    })
}

// === releases ===

/// A release's session health in one environment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReleaseView {
    /// Release.
    pub release: String,
    /// Environment (empty when none).
    pub environment: String,
    /// Sessions started.
    pub sessions: i64,
    /// Sessions that ended normally.
    pub exited: i64,
    /// Sessions with handled errors.
    pub errored: i64,
    /// Sessions that crashed.
    pub crashed: i64,
    /// Sessions that ended abnormally.
    pub abnormal: i64,
    /// Share of sessions that did not crash, in percent; `null` without sessions.
    pub crash_free_sessions_percent: Option<f64>,
    /// Distinct users with sessions.
    pub users: i64,
    /// Distinct users with a crashed session.
    pub crashed_users: i64,
    /// Share of users without a crashed session, in percent; `null` without users.
    pub crash_free_users_percent: Option<f64>,
    /// First hour with sessions in the window.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// Last hour with sessions in the window.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// The crash-free share of `total` given `bad`, in percent (two decimals).
pub fn crash_free_percent(total: i64, bad: i64) -> Option<f64> {
    if total <= 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let share = 1.0 - (bad.clamp(0, total) as f64 / total as f64);
    Some((share * 10_000.0).round() / 100.0)
}

impl ReleaseView {
    /// A release's sessions with its distinct users (from the session users' rollup).
    pub fn new(r: ReleaseHealth, users: Option<&SessionUserCounts>) -> Self {
        let (users, crashed_users) = users.map_or((0, 0), |u| (u.users, u.crashed_users));
        Self {
            crash_free_sessions_percent: crash_free_percent(r.started, r.crashed),
            crash_free_users_percent: crash_free_percent(users, crashed_users),
            users,
            crashed_users,
            release: r.release,
            environment: r.environment,
            sessions: r.started,
            exited: r.exited,
            errored: r.errored,
            crashed: r.crashed,
            abnormal: r.abnormal,
            first_seen: dt(r.first_seen),
            last_seen: dt(r.last_seen),
        }
    }
}

/// Releases with their session health per environment over a window (default the last 30
/// days), most recently seen first.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/releases", tag = "projects",
    params(IdPath, WindowQuery),
    responses(
        (status = 200, body = [ReleaseView]),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn releases(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> Result<Json<Vec<ReleaseView>>, ApiError> {
    Ok(Json(releases_of(&state, &access, id, &q).await?))
}

/// The project's releases with their session health per environment over a window.
///
/// # Errors
/// 404 for another workspace's project; 422 on `from`, `to` or `period`.
pub(crate) async fn releases_of(
    state: &AppState,
    access: &Access<Read>,
    id: i64,
    q: &WindowQuery,
) -> Result<Vec<ReleaseView>, ApiError> {
    let (from, to) = parse_window(
        q.from.as_deref(),
        q.to.as_deref(),
        q.period.as_deref(),
        state.clock.now(),
        Duration::from_secs(30 * 86_400),
    )?;
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let list = scope.release_health(p.id, from, to).await?;
    let users = scope.session_user_counts(p.id, from, to).await?;
    Ok(list
        .into_iter()
        .map(|r| {
            let u = users
                .iter()
                .find(|u| u.release == r.release && u.environment == r.environment);
            ReleaseView::new(r, u)
        })
        .collect())
}

// === crons ===

/// A cron monitor of a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CronView {
    /// The monitor slug SDKs check in with.
    pub slug: String,
    /// Check-ins received.
    pub check_ins: i64,
    /// The latest check-in's status: `in_progress`, `ok`, `error`, `missed` or `timeout`.
    pub last_status: String,
    /// When the latest check-in arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub last_check_in_at: OffsetDateTime,
    /// The latest check-in's environment.
    pub environment: Option<String>,
    /// The heartbeat monitor that judges missed and late runs, when there is one.
    pub monitor_id: Option<i64>,
    /// That monitor's status (`up`, `down`, ...).
    pub monitor_status: Option<String>,
}

/// A project's cron monitors with their latest check-in and their monitor's state.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/crons", tag = "projects",
    params(IdPath),
    responses((status = 200, body = [CronView]), (status = 404, body = ErrorBody)))]
pub async fn crons(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<Vec<CronView>>, ApiError> {
    Ok(Json(crons_of(&state, &access, id).await?))
}

/// The project's cron monitors with their latest check-in and their monitor's state.
pub(crate) async fn crons_of(
    state: &AppState,
    access: &Access<Read>,
    id: i64,
) -> Result<Vec<CronView>, ApiError> {
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let list = scope.cron_summaries(p.id).await?;
    Ok(list
        .into_iter()
        .map(|c| CronView {
            slug: c.monitor_slug,
            check_ins: c.check_ins,
            last_status: c.last_status.as_str().to_owned(),
            last_check_in_at: dt(c.last_check_in_at),
            environment: c.environment,
            monitor_id: c.monitor_id.map(|m| m.0),
            monitor_status: c.monitor_status.map(|s| s.as_str().to_owned()),
        })
        .collect())
}

/// The path of one cron monitor.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CronPath {
    /// Workspace slug
    pub workspace: String,
    /// The project's id
    pub id: i64,
    /// The cron monitor's slug
    pub slug: String,
}

/// `?limit=` for check-ins.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckInsQuery {
    /// Most check-ins to return, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// One cron check-in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckInView {
    /// Row id.
    pub id: i64,
    /// The SDK's check-in id.
    pub check_in_id: String,
    /// `in_progress`, `ok`, `error`, `missed` or `timeout`.
    pub status: String,
    /// How long the run took, in milliseconds, if reported.
    pub duration_ms: Option<i64>,
    /// Environment.
    pub environment: Option<String>,
    /// When it arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// A cron monitor's latest check-ins, newest first.
#[utoipa::path(get, path = "/workspaces/{workspace}/projects/{id}/crons/{slug}/check-ins",
    tag = "projects",
    params(CronPath, CheckInsQuery),
    responses(
        (status = 200, body = [CheckInView]),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn check_ins(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(path): ApiPath<CronPath>,
    ApiQuery(q): ApiQuery<CheckInsQuery>,
) -> Result<Json<Vec<CheckInView>>, ApiError> {
    Ok(Json(
        check_ins_of(&state, &access, path.id, &path.slug, &q).await?,
    ))
}

/// A cron monitor's latest check-ins, newest first; 404 for a slug without check-ins.
///
/// # Errors
/// 404 for another workspace's project or an unknown slug; 422 on `limit`.
pub(crate) async fn check_ins_of(
    state: &AppState,
    access: &Access<Read>,
    id: i64,
    slug: &str,
    q: &CheckInsQuery,
) -> Result<Vec<CheckInView>, ApiError> {
    let limit = parse_limit(q.limit.as_deref(), 100, 1000)?;
    let mut scope = state.store.workspace(access.ws());
    let p = project_of(&mut scope, id).await?;
    let list = scope.check_ins(p.id, slug, limit).await?;
    if list.is_empty() {
        return Err(ApiError::not_found("cron monitor"));
    }
    Ok(list
        .into_iter()
        .map(|c| CheckInView {
            id: c.id.0,
            check_in_id: c.check_in.check_in_id,
            status: c.check_in.status.as_str().to_owned(),
            duration_ms: c.check_in.duration_ms,
            environment: c.check_in.environment,
            received_at: dt(c.check_in.received_at),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_follow_the_public_url() {
        let key = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            dsn("http://127.0.0.1:8080", key, ProjectId(42)),
            format!("http://{key}@127.0.0.1:8080/42")
        );
        assert_eq!(
            dsn("https://bw.example.com/sentry/", key, ProjectId(7)),
            format!("https://{key}@bw.example.com/sentry/7")
        );
        let parsed: bitwobbly_envelope::Dsn =
            dsn("https://bw.example.com/sentry", key, ProjectId(7))
                .parse()
                .unwrap();
        assert_eq!(
            (parsed.host(), parsed.path(), parsed.project_id()),
            ("bw.example.com", "/sentry", 7)
        );
        assert_eq!(
            parsed.envelope_url(),
            "https://bw.example.com/sentry/api/7/envelope/"
        );
    }

    #[test]
    fn windows_default_and_refuse_nonsense() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let day = Duration::from_secs(86_400);
        let (from, to) = parse_window(None, None, None, now, day).unwrap();
        assert_eq!(to.as_millis() - from.as_millis(), 86_400_000);
        let (from, _) = parse_window(None, None, Some("1h"), now, day).unwrap();
        assert_eq!(now.as_millis() + 1 - from.as_millis(), 3_600_000);
        for (f, t, p, field) in [
            (Some("x"), None, None, "from"),
            (None, Some("nope"), None, "to"),
            (None, None, Some("soon"), "period"),
            (None, None, Some("0s"), "period"),
            (None, None, Some("1000d"), "period"),
            (Some("1000"), None, Some("1h"), "period"),
            (Some("2000"), Some("1000"), None, "from"),
            (Some("0"), Some("1700000000000"), None, "from"),
        ] {
            let e = parse_window(f, t, p, now, day).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{f:?} {t:?} {p:?}");
        }
    }

    #[test]
    fn crash_free_rates() {
        assert_eq!(crash_free_percent(0, 0), None);
        assert_eq!(crash_free_percent(200, 1), Some(99.5));
        assert_eq!(crash_free_percent(3, 1), Some(66.67));
        assert_eq!(crash_free_percent(3, 9), Some(0.0));
    }
}
