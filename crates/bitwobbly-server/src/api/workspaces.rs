//! Workspaces, their members and their API tokens.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath};
use super::views::{ApiRole, TokenView, WorkspaceView, dt};
use super::{ErrorBody, IdPath, OrNotFound as _};
use crate::auth::{Access, Authenticated, Caller, Manage, Own, Read, role_rank};
use crate::error::ApiError;
use crate::state::AppState;

// === workspaces ===

/// A workspace to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspaceInput {
    /// URL name: lowercase letters, digits and `-`, 1 to 63 characters, starting with a letter
    /// or digit.
    pub slug: String,
    /// Display name (default: the slug).
    #[serde(default)]
    pub name: Option<String>,
}

/// A workspace's new name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameWorkspaceInput {
    /// Display name.
    pub name: String,
}

/// Checks a workspace slug.
///
/// # Errors
/// 422 `validation_failed` on field `slug`.
pub fn validate_slug(slug: &str) -> Result<(), ApiError> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if slug.is_empty() || slug.len() > 63 {
        return Err(ApiError::invalid("slug", "must be 1 to 63 characters"));
    }
    if !slug.chars().all(ok_char) || slug.starts_with('-') {
        return Err(ApiError::invalid(
            "slug",
            "must be lowercase letters, digits and `-`, starting with a letter or digit",
        ));
    }
    Ok(())
}

/// Checks a display name (workspaces, monitors, channels, tokens, ...).
///
/// # Errors
/// 422 `validation_failed` on `field`.
pub fn validate_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(ApiError::invalid(field, "must be at most 200 characters"));
    }
    Ok(name.to_owned())
}

/// The workspaces the caller can act in: a user's memberships, or a token's one workspace.
#[utoipa::path(get, path = "/workspaces", tag = "workspaces",
    responses((status = 200, body = [WorkspaceView]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<WorkspaceView>>, ApiError> {
    Ok(Json(super::session::workspaces_of(&state, &caller).await?))
}

/// Creates a workspace; the signed-in user becomes its owner. API tokens act in one
/// workspace and cannot create another (403).
#[utoipa::path(post, path = "/workspaces", tag = "workspaces",
    request_body = NewWorkspaceInput,
    responses(
        (status = 201, body = WorkspaceView),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The slug is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(input): ApiJson<NewWorkspaceInput>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let Caller::Session { user, .. } = &caller else {
        return Err(ApiError::forbidden(
            "an API token acts in one workspace; create workspaces from a signed-in session",
        ));
    };
    validate_slug(&input.slug)?;
    let name = validate_name("name", input.name.as_deref().unwrap_or(&input.slug))?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let ws = tx
        .global()
        .create_workspace(&input.slug, &name, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => {
                ApiError::conflict("a workspace with this slug already exists").with_field("slug")
            }
            e => e.into(),
        })?;
    tx.workspace(ws.id)
        .set_member(user.id, Role::Owner, now)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(WorkspaceView::new(ws, Role::Owner)),
    ))
}

/// A workspace, with the caller's role in it.
#[utoipa::path(get, path = "/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
pub async fn get(access: Access<Read>) -> Json<WorkspaceView> {
    Json(WorkspaceView::new(access.workspace, access.role))
}

/// Renames a workspace (admin).
#[utoipa::path(patch, path = "/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = RenameWorkspaceInput,
    responses(
        (status = 200, body = WorkspaceView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiJson(input): ApiJson<RenameWorkspaceInput>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let name = validate_name("name", &input.name)?;
    let ws = state
        .store
        .global()
        .rename_workspace(access.ws(), &name)
        .await?;
    Ok(Json(WorkspaceView::new(ws, access.role)))
}

/// Deletes a workspace and everything in it (owner).
#[utoipa::path(delete, path = "/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    access: Access<Own>,
) -> Result<StatusCode, ApiError> {
    state.store.global().delete_workspace(access.ws()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// === members ===

/// A member of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The user's id.
    pub user_id: i64,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role here.
    pub role: ApiRole,
    /// When they joined.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An existing user to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberInput {
    /// The user's email address (they must have an account).
    pub email: String,
    /// Their role here.
    pub role: ApiRole,
}

/// A member's new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleInput {
    /// The role.
    pub role: ApiRole,
}

async fn member_view(state: &AppState, m: Membership) -> Result<Option<MemberView>, ApiError> {
    let Some(user) = state.store.global().user(m.user_id).await? else {
        return Ok(None);
    };
    Ok(Some(MemberView {
        user_id: user.id.0,
        email: user.email,
        name: user.name,
        role: m.role.into(),
        created_at: dt(m.created_at),
    }))
}

/// Only owners hand out or take away the owner role.
pub(crate) fn check_owner_change<R>(
    access: &Access<R>,
    from: Option<Role>,
    to: Option<Role>,
) -> Result<(), ApiError> {
    let touches_owner = from == Some(Role::Owner) || to == Some(Role::Owner);
    if touches_owner && access.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only an owner can grant, change or remove the owner role",
        ));
    }
    Ok(())
}

/// Checks that the caller may move `user` from their current role to `to` (`None`: remove
/// them): 404 when `user` is not a member, 403 when the owner role is involved and the caller
/// is no owner, 409 `last_owner` when the workspace would be left without an owner.
async fn check_role_change<R, S>(
    access: &Access<R>,
    ws: &mut bitwobbly_store::Scoped<S>,
    user: UserId,
    to: Option<Role>,
) -> Result<(), ApiError>
where
    bitwobbly_store::Scoped<S>: MemberStore,
{
    let current = ws.role_of(user).await?.or_not_found("member")?;
    check_owner_change(access, Some(current), to)?;
    if current == Role::Owner && to != Some(Role::Owner) {
        let owners = ws
            .members()
            .await?
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        if owners <= 1 {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "last_owner",
                "a workspace keeps at least one owner: make someone else owner first",
            ));
        }
    }
    Ok(())
}

/// The workspace's members.
#[utoipa::path(get, path = "/workspaces/{workspace}/members", tag = "members",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = [MemberView]), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    State(state): State<AppState>,
    access: Access<Read>,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    Ok(Json(members_of(&state, access.ws()).await?))
}

/// The members of a workspace, as views (the API and the dashboard list them alike).
pub(crate) async fn members_of(
    state: &AppState,
    ws: WorkspaceId,
) -> Result<Vec<MemberView>, ApiError> {
    let members = state.store.workspace(ws).members().await?;
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        out.extend(member_view(state, m).await?);
    }
    Ok(out)
}

/// Adds an existing user by email, with a role (admin; owner to add an owner).
#[utoipa::path(post, path = "/workspaces/{workspace}/members", tag = "members",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = AddMemberInput,
    responses(
        (status = 201, body = MemberView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
        (status = 422, description = "No user with this email", body = ErrorBody),
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiJson(input): ApiJson<AddMemberInput>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let role = Role::from(input.role);
    check_owner_change(&access, None, Some(role))?;
    let user = state
        .store
        .global()
        .user_by_email(&input.email)
        .await?
        .ok_or_else(|| ApiError::invalid("email", "no user has this email address"))?;
    let mut ws = state.store.workspace(access.ws());
    if ws.role_of(user.id).await?.is_some() {
        return Err(ApiError::conflict(
            "this user is already a member: change their role instead",
        ));
    }
    let m = ws.set_member(user.id, role, state.clock.now()).await?;
    let view = member_view(&state, m).await?.or_not_found("user")?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Changes a member's role (admin; owner when the owner role is involved). The last owner
/// cannot be demoted.
#[utoipa::path(patch, path = "/workspaces/{workspace}/members/{user_id}", tag = "members",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("user_id" = i64, Path, description = "The member's user id"),
    ),
    request_body = MemberRoleInput,
    responses(
        (status = 200, body = MemberView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The last owner would be demoted", body = ErrorBody),
    ))]
pub async fn update_member(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath((_, user_id)): ApiPath<(String, i64)>,
    ApiJson(input): ApiJson<MemberRoleInput>,
) -> Result<Json<MemberView>, ApiError> {
    let role = Role::from(input.role);
    Ok(Json(
        change_member_role(&state, &access, UserId(user_id), role).await?,
    ))
}

/// Changes a member's role under the rules of [`update_member`] (shared with the dashboard).
pub(crate) async fn change_member_role(
    state: &AppState,
    access: &Access<Manage>,
    user: UserId,
    role: Role,
) -> Result<MemberView, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let mut ws = tx.workspace(access.ws());
    check_role_change(access, &mut ws, user, Some(role)).await?;
    let m = ws.set_member(user, role, now).await?;
    tx.commit().await?;
    member_view(state, m).await?.or_not_found("member")
}

/// Removes a member (admin; owner to remove an owner). The last owner cannot be removed.
#[utoipa::path(delete, path = "/workspaces/{workspace}/members/{user_id}", tag = "members",
    params(
        ("workspace" = String, Path, description = "Workspace slug"),
        ("user_id" = i64, Path, description = "The member's user id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The last owner would be removed", body = ErrorBody),
    ))]
pub async fn remove_member(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath((_, user_id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    remove_member_from(&state, &access, UserId(user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member under the rules of [`remove_member`] (shared with the dashboard).
pub(crate) async fn remove_member_from(
    state: &AppState,
    access: &Access<Manage>,
    user: UserId,
) -> Result<(), ApiError> {
    let mut tx = state.store.begin().await?;
    let mut ws = tx.workspace(access.ws());
    check_role_change(access, &mut ws, user, None).await?;
    ws.remove_member(user).await?;
    tx.commit().await?;
    Ok(())
}

// === API tokens ===

/// An API token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenInput {
    /// A label.
    pub name: String,
    /// The role it acts with (default `member`); at most the creator's own role.
    #[serde(default)]
    pub role: Option<ApiRole>,
    /// When it stops working (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Or: how long it works, e.g. `30d`, `12h`.
    #[serde(default)]
    pub expires_in: Option<String>,
}

/// A new API token: its secret is in this response and nowhere else, ever.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token.
    pub token: TokenView,
    /// The secret to send as `Authorization: Bearer <secret>`. Shown once.
    pub secret: String,
}

/// The workspace's API tokens, without secrets (admin).
#[utoipa::path(get, path = "/workspaces/{workspace}/tokens", tag = "tokens",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses(
        (status = 200, body = [TokenView]),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
    access: Access<Manage>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = state.store.workspace(access.ws()).api_tokens().await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Creates an API token (admin); the secret is shown in this response only.
#[utoipa::path(post, path = "/workspaces/{workspace}/tokens", tag = "tokens",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = NewTokenInput,
    responses(
        (status = 201, body = CreatedToken),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiJson(input): ApiJson<NewTokenInput>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(new_api_token(&state, &access, &input).await?),
    ))
}

/// Creates an API token under the rules of [`create_token`] (shared with the dashboard).
pub(crate) async fn new_api_token(
    state: &AppState,
    access: &Access<Manage>,
    input: &NewTokenInput,
) -> Result<CreatedToken, ApiError> {
    let name = validate_name("name", &input.name)?;
    let role = input.role.map_or(Role::Member, Role::from);
    if role_rank(role) > role_rank(access.role) {
        return Err(ApiError::forbidden(format!(
            "a token cannot have more rights than its creator ({})",
            access.role
        )));
    }
    let now = state.clock.now();
    let expires_at = match (input.expires_at, input.expires_in.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "expires_in",
                "give expires_at or expires_in, not both",
            ));
        }
        (Some(at), None) => Some(Timestamp::from(at)),
        (None, Some(text)) => {
            let d: Duration = humantime::parse_duration(text).map_err(|e| {
                ApiError::invalid("expires_in", format!("not a duration like `30d`: {e}"))
            })?;
            Some(now.plus(d))
        }
        (None, None) => None,
    };
    if expires_at.is_some_and(|at| at <= now) {
        let field = if input.expires_at.is_some() {
            "expires_at"
        } else {
            "expires_in"
        };
        return Err(ApiError::invalid(field, "must be in the future"));
    }
    let (token, secret) = state
        .store
        .workspace(access.ws())
        .create_api_token(&name, role, access.caller.user_id(), now, expires_at)
        .await?;
    Ok(CreatedToken {
        token: token.into(),
        secret: secret.expose().to_owned(),
    })
}

/// Revokes an API token (admin); it stops working at once.
#[utoipa::path(delete, path = "/workspaces/{workspace}/tokens/{id}", tag = "tokens",
    params(IdPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    revoke_api_token(&state, &access, ApiTokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes a token of the workspace (404 for another workspace's), as [`revoke_token`] does.
pub(crate) async fn revoke_api_token(
    state: &AppState,
    access: &Access<Manage>,
    id: ApiTokenId,
) -> Result<(), ApiError> {
    let mut ws = state.store.workspace(access.ws());
    let token = ws.api_token(id).await?.or_not_found("token")?;
    if token.revoked_at.is_none() {
        ws.revoke_api_token(token.id, state.clock.now()).await?;
    }
    Ok(())
}
