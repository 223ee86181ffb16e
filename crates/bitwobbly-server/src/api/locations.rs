//! Locations (where checker agents run monitors) and their agent tokens.
//!
//! A workspace lists its locations with their last contact; `local` (this server) is always
//! there. An agent token is scoped to one location of one workspace, shown once, stored
//! hashed, and revocable. Managing tokens takes the admin role.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bitwobbly_core::quorum::QuorumPolicy;
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, from_value};
use super::views::{dt, odt};
use super::workspaces::validate_name;
use super::{ErrorBody, OrNotFound as _};
use crate::auth::{Access, Manage, Read};
use crate::error::ApiError;
use crate::scheduler::quorum::runs_at;
use crate::state::AppState;

/// The longest location name.
pub const MAX_LOCATION_NAME: usize = 64;

// === validation ===

/// Checks a location name: 1 to 64 letters, digits, `.`, `_` or `-`.
///
/// # Errors
/// 422 `validation_failed` on `field`.
pub fn validate_location_name(field: &str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > MAX_LOCATION_NAME {
        return Err(ApiError::invalid(field, "must be 1 to 64 characters"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !name.chars().all(ok) {
        return Err(ApiError::invalid(
            field,
            "must be letters, digits, `.`, `_` and `-`",
        ));
    }
    Ok(())
}

/// Reads a monitor's quorum policy: given fields over the defaults (a majority, stale after
/// 5 minutes).
///
/// # Errors
/// 422 on `quorum` or one of its fields (`quorum.share`, `quorum.stale_after`).
pub fn parse_quorum(v: Option<&Value>) -> Result<QuorumPolicy, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(QuorumPolicy::default());
    };
    if !v.is_object() {
        return Err(ApiError::invalid("quorum", "must be an object"));
    }
    let q: QuorumPolicy = from_value(v, "quorum")?;
    q.validate().map_err(|e| {
        let e = e.within("quorum");
        ApiError::invalid(e.field, e.problem)
    })?;
    Ok(q)
}

/// The indexes of `names` that are neither `local` nor a location of the scope's workspace.
///
/// # Errors
/// A store error.
pub async fn missing_locations<S: bitwobbly_store::Source>(
    scope: &mut bitwobbly_store::Scoped<S>,
    names: &[String],
) -> bitwobbly_store::Result<Vec<usize>>
where
    bitwobbly_store::Scoped<S>: AgentStore,
{
    let mut missing = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let name = name.trim();
        if name != LOCAL_LOCATION && scope.location(name).await?.is_none() {
            missing.push(i);
        }
    }
    Ok(missing)
}

/// Refuses a monitor naming a location the workspace does not have (`local` always exists).
///
/// # Errors
/// 422 `validation_failed` on `locations[i]` for the first unknown one.
pub async fn check_locations<S: bitwobbly_store::Source>(
    scope: &mut bitwobbly_store::Scoped<S>,
    names: &[String],
) -> Result<(), ApiError>
where
    bitwobbly_store::Scoped<S>: AgentStore,
{
    match missing_locations(scope, names).await?.first() {
        Some(&i) => Err(ApiError::invalid(
            format!("locations[{i}]"),
            format!(
                "no location {:?} in this workspace (create it first, or use `local`)",
                names[i].trim()
            ),
        )),
        None => Ok(()),
    }
}

/// Creates an agent token for the location `location` of the scope's workspace; with
/// `create_location`, a missing location is created first. Returns the token, its secret
/// (shown once) and the location.
///
/// # Errors
/// 422 for a bad location or token name (or `local`, which needs no agent); 404 when the
/// location does not exist and `create_location` is off; a store error.
pub async fn issue_agent_token<S: bitwobbly_store::Source>(
    scope: &mut bitwobbly_store::Scoped<S>,
    location: &str,
    name: &str,
    create_location: bool,
    now: Timestamp,
) -> Result<(AgentToken, Secret, Location), ApiError>
where
    bitwobbly_store::Scoped<S>: AgentStore,
{
    validate_location_name("location", location)?;
    if location == LOCAL_LOCATION {
        return Err(ApiError::invalid(
            "location",
            "`local` is this server itself; agents run elsewhere",
        ));
    }
    let name = validate_name("name", name)?;
    let place = match scope.location(location).await? {
        Some(l) => l,
        None if create_location => scope.create_location(location, now).await?,
        None => return Err(ApiError::not_found("location")),
    };
    let (token, secret) = scope.create_agent_token(place.id, &name, now).await?;
    Ok((token, secret, place))
}

// === views ===

/// A location and the latest contact from its agents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LocationView {
    /// Name (`local` is this server).
    pub name: String,
    /// Whether this is the server itself.
    pub local: bool,
    /// Created (`null` for `local`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// The latest request from any of its agents (now, for `local`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
    /// Whether no agent has been in contact within `[agents] stale_after` (or ever).
    pub stale: bool,
    /// The agent installation that last said hello.
    pub agent_id: Option<String>,
    /// That agent's version.
    pub agent_version: Option<String>,
    /// How many monitors this location runs.
    pub monitors: usize,
}

/// The locations of a workspace, `local` first, with the number of monitors each runs.
///
/// # Errors
/// A store error.
pub async fn location_views(
    state: &AppState,
    ws: WorkspaceId,
) -> Result<Vec<LocationView>, ApiError> {
    let mut scope = state.store.workspace(ws);
    let places = scope.locations().await?;
    let monitors = scope.monitors().await?;
    let now = state.clock.now();
    let count = |name: &str| monitors.iter().filter(|m| runs_at(m, name)).count();
    let horizon = now.minus(state.config.agents.stale_after);
    let mut out = vec![LocationView {
        name: LOCAL_LOCATION.to_owned(),
        local: true,
        created_at: None,
        last_seen_at: Some(dt(now)),
        stale: false,
        agent_id: None,
        agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        monitors: count(LOCAL_LOCATION),
    }];
    out.extend(places.into_iter().map(|l| LocationView {
        monitors: count(&l.name),
        stale: l.last_seen_at.is_none_or(|t| t < horizon),
        local: false,
        created_at: Some(dt(l.created_at)),
        last_seen_at: odt(l.last_seen_at),
        agent_id: l.last_agent_id,
        agent_version: l.last_version,
        name: l.name,
    }));
    Ok(out)
}

/// An agent token, without its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentTokenView {
    /// Id.
    pub id: i64,
    /// The location it runs for.
    pub location: String,
    /// Label.
    pub name: String,
    /// The public start of the secret (`bwa_<prefix>_...`).
    pub prefix: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last successful use.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl AgentTokenView {
    fn new(t: AgentToken, location: &str) -> Self {
        Self {
            id: t.id.0,
            location: location.to_owned(),
            name: t.name,
            prefix: t.prefix,
            created_at: dt(t.created_at),
            last_used_at: odt(t.last_used_at),
            revoked_at: odt(t.revoked_at),
        }
    }
}

/// A new agent token: its secret is in this response and nowhere else, ever.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAgentToken {
    /// The token.
    pub token: AgentTokenView,
    /// The secret to give `bitwobbly agent --token`. Shown once.
    pub secret: String,
}

// === inputs and paths ===

/// A location to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLocationInput {
    /// Name: 1 to 64 letters, digits, `.`, `_` or `-` (not `local`).
    pub name: String,
}

/// An agent token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgentTokenInput {
    /// Label, e.g. the host the agent runs on.
    pub name: String,
}

/// The path of one location.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LocationPath {
    /// Workspace slug
    pub workspace: String,
    /// The location's name
    pub name: String,
}

/// The path of one agent token of a location.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AgentTokenPath {
    /// Workspace slug
    pub workspace: String,
    /// The location's name
    pub name: String,
    /// The token's id
    pub id: i64,
}

async fn find(state: &AppState, ws: WorkspaceId, name: &str) -> Result<Location, ApiError> {
    state
        .store
        .workspace(ws)
        .location(name)
        .await?
        .or_not_found("location")
}

// === handlers ===

/// The workspace's locations with their last contact, staleness, agent version and number
/// of monitors; `local` (this server) first.
#[utoipa::path(get, path = "/workspaces/{workspace}/locations", tag = "locations",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = [LocationView]), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access<Read>,
) -> Result<Json<Vec<LocationView>>, ApiError> {
    Ok(Json(location_views(&state, access.ws()).await?))
}

/// Creates a location (admin).
#[utoipa::path(post, path = "/workspaces/{workspace}/locations", tag = "locations",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = NewLocationInput,
    responses(
        (status = 201, body = LocationView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiJson(input): ApiJson<NewLocationInput>,
) -> Result<(StatusCode, Json<LocationView>), ApiError> {
    validate_location_name("name", &input.name)?;
    if input.name == LOCAL_LOCATION {
        return Err(ApiError::conflict(
            "`local` is this server and always exists",
        ));
    }
    state
        .store
        .workspace(access.ws())
        .create_location(&input.name, state.clock.now())
        .await
        .map_err(|e| {
            if e.is_conflict() {
                ApiError::conflict(format!("a location named {:?} exists", input.name))
            } else {
                e.into()
            }
        })?;
    let view = location_views(&state, access.ws())
        .await?
        .into_iter()
        .find(|v| v.name == input.name)
        .or_not_found("location")?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Deletes a location with its agent tokens (admin). A location still named by a monitor
/// is refused (409): change the monitors first.
#[utoipa::path(delete, path = "/workspaces/{workspace}/locations/{name}", tag = "locations",
    params(LocationPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Monitors still run there", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(LocationPath { name, .. }): ApiPath<LocationPath>,
) -> Result<StatusCode, ApiError> {
    let place = find(&state, access.ws(), &name).await?;
    let mut scope = state.store.workspace(access.ws());
    let using = scope
        .monitors()
        .await?
        .iter()
        .filter(|m| runs_at(m, &place.name))
        .count();
    if using > 0 {
        return Err(ApiError::conflict(format!(
            "{using} monitor(s) still run at {:?}; change their locations first",
            place.name
        )));
    }
    scope.delete_location(&place.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A location's agent tokens, without secrets (admin).
#[utoipa::path(get, path = "/workspaces/{workspace}/locations/{name}/tokens", tag = "locations",
    params(LocationPath),
    responses(
        (status = 200, body = [AgentTokenView]),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(LocationPath { name, .. }): ApiPath<LocationPath>,
) -> Result<Json<Vec<AgentTokenView>>, ApiError> {
    let place = find(&state, access.ws(), &name).await?;
    let tokens = state
        .store
        .workspace(access.ws())
        .agent_tokens(place.id)
        .await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| AgentTokenView::new(t, &place.name))
            .collect(),
    ))
}

/// Creates an agent token for a location (admin); the secret is shown in this response only.
#[utoipa::path(post, path = "/workspaces/{workspace}/locations/{name}/tokens", tag = "locations",
    params(LocationPath),
    request_body = NewAgentTokenInput,
    responses(
        (status = 201, body = CreatedAgentToken),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(LocationPath { name, .. }): ApiPath<LocationPath>,
    ApiJson(input): ApiJson<NewAgentTokenInput>,
) -> Result<(StatusCode, Json<CreatedAgentToken>), ApiError> {
    let mut scope = state.store.workspace(access.ws());
    if scope.location(&name).await?.is_none() {
        return Err(ApiError::not_found("location"));
    }
    let (token, secret, place) =
        issue_agent_token(&mut scope, &name, &input.name, false, state.clock.now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAgentToken {
            token: AgentTokenView::new(token, &place.name),
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Revokes an agent token (admin); agents using it are refused at once.
#[utoipa::path(delete, path = "/workspaces/{workspace}/locations/{name}/tokens/{id}",
    tag = "locations",
    params(AgentTokenPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    access: Access<Manage>,
    ApiPath(AgentTokenPath { name, id, .. }): ApiPath<AgentTokenPath>,
) -> Result<StatusCode, ApiError> {
    let place = find(&state, access.ws(), &name).await?;
    state
        .store
        .workspace(access.ws())
        .revoke_agent_token(place.id, AgentTokenId(id), state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_names_are_short_and_plain() {
        assert!(validate_location_name("name", "eu-west_1.a").is_ok());
        for bad in ["", "eu west", "ü", "a/b", &"x".repeat(65)] {
            let e = validate_location_name("locations[2]", bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("locations[2]"), "{bad:?}");
        }
    }

    #[test]
    fn quorum_defaults_and_refusals_name_their_field() {
        assert_eq!(parse_quorum(None).unwrap(), QuorumPolicy::default());
        let q = parse_quorum(Some(&serde_json::json!({"share": {"percent": 34}}))).unwrap();
        assert_eq!(q.share, bitwobbly_core::quorum::Share::Percent(34));
        let e = parse_quorum(Some(&serde_json::json!({"share": {"percent": 0}}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("quorum.share"));
        let e = parse_quorum(Some(&serde_json::json!({"stale_after": "0s"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("quorum.stale_after"));
        let e = parse_quorum(Some(&serde_json::json!({"nope": 1}))).unwrap_err();
        assert_eq!(e.code, "unknown_field");
        let e = parse_quorum(Some(&serde_json::json!([1]))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("quorum"));
    }
}
