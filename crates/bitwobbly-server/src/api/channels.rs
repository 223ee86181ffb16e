//! Notification channels and the dead-letter list of the outbox.

use std::str::FromStr;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::monitors::{parse_limit, validate_key};
use super::views::{dt, odt};
use super::workspaces::validate_name;
use super::{ErrorBody, IdPath, OrNotFound as _};
use crate::auth::{Access, Read, Write};
use crate::error::ApiError;
use crate::state::AppState;

/// What secret settings are shown as.
pub const REDACTED: &str = "********";

/// Setting names whose values are secrets, at any depth of a channel's config.
const SECRET_KEYS: [&str; 4] = ["secret", "password", "token", "routing_key"];

/// A notification channel as sent to create or replace it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    /// A stable key for configuration as code, unique in the workspace.
    #[serde(default)]
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// `webhook`, `slack`, `discord`, `teams`, `pagerduty`, `ntfy` or `email`.
    pub kind: String,
    /// Settings of the kind, e.g. `{"url": "https://..."}` for a webhook (its `secret` is
    /// generated when absent and shown in the creation answer). On replace, secret settings
    /// left out or sent as `********` keep their current value; `null` removes them.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: Value,
    /// Whether it sends (default true). Enabling clears `disabled_reason`.
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A notification channel.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelView {
    /// Id.
    pub id: i64,
    /// Configuration key.
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Settings; secret ones (`secret`, `password`, `token`, `routing_key`) show as
    /// `********`, except in the answer that created the channel.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Whether it sends.
    pub enabled: bool,
    /// Why it was disabled automatically (for example, the receiver answered 410 Gone).
    pub disabled_reason: Option<String>,
    /// The monitors that notify through it.
    pub monitor_ids: Vec<i64>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Replaces secret settings by [`REDACTED`].
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && !v.is_null() {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Keeps the old value of secret settings the new config leaves out or sends redacted;
/// drops those it sets to `null`.
fn carry_secrets(old: &Value, new: &mut Value) {
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return;
    };
    for (k, ov) in old {
        if SECRET_KEYS.contains(&k.as_str()) {
            match new.get(k) {
                None => {
                    new.insert(k.clone(), ov.clone());
                }
                Some(Value::String(s)) if s == REDACTED => {
                    new.insert(k.clone(), ov.clone());
                }
                Some(Value::Null) => {
                    new.remove(k);
                }
                Some(_) => {}
            }
        } else if let Some(nv) = new.get_mut(k) {
            carry_secrets(ov, nv);
        }
    }
}

/// A channel as the API shows it, with its linked monitors; `reveal` shows secrets.
pub(crate) async fn channel_view<S>(
    scope: &mut bitwobbly_store::Scoped<S>,
    c: Channel,
    reveal: bool,
) -> Result<ChannelView, ApiError>
where
    S: bitwobbly_store::Source,
    bitwobbly_store::Scoped<S>: NotificationStore,
{
    let monitor_ids = scope
        .monitors_for_channel(c.id)
        .await?
        .into_iter()
        .map(|m| m.0)
        .collect();
    let mut config = c.config;
    if !reveal {
        redact(&mut config);
    }
    Ok(ChannelView {
        id: c.id.0,
        key: c.key,
        name: c.name,
        kind: c.kind.as_str().to_owned(),
        config,
        enabled: c.enabled,
        disabled_reason: c.disabled_reason,
        monitor_ids,
        created_at: dt(c.created_at),
    })
}

/// Channels as the API shows them (secrets redacted), each with its linked monitors.
pub(crate) async fn channel_views<S>(
    scope: &mut bitwobbly_store::Scoped<S>,
    channels: Vec<Channel>,
) -> Result<Vec<ChannelView>, ApiError>
where
    S: bitwobbly_store::Source,
    bitwobbly_store::Scoped<S>: NotificationStore,
{
    let mut out = Vec::with_capacity(channels.len());
    for c in channels {
        out.push(channel_view(scope, c, false).await?);
    }
    Ok(out)
}

/// Validates a channel's input; `old` is the stored config when replacing.
///
/// # Errors
/// 422 with the field (`name`, `kind`, `key`, `config.<setting>`).
pub fn validate_channel_input(
    input: &ChannelInput,
    old: Option<&Value>,
) -> Result<NewChannel, ApiError> {
    if let Some(key) = &input.key {
        validate_key(key)?;
    }
    let name = validate_name("name", &input.name)?;
    let kind = ChannelKind::from_str(&input.kind).map_err(|_| {
        let kinds: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::invalid(
            "kind",
            format!(
                "unknown channel kind {:?}: expected one of {}",
                input.kind,
                kinds.join(", ")
            ),
        )
    })?;
    if !input.config.is_object() {
        return Err(ApiError::invalid("config", "must be an object"));
    }
    let mut config = input.config.clone();
    match old {
        Some(old) => carry_secrets(old, &mut config),
        None => {
            if kind == ChannelKind::Webhook
                && let Value::Object(map) = &mut config
                && map.get("secret").is_none_or(Value::is_null)
            {
                map.insert(
                    "secret".to_owned(),
                    Value::String(crate::notify::new_webhook_secret()),
                );
            }
        }
    }
    crate::notify::validate_channel(kind, &config)?;
    Ok(NewChannel {
        key: input.key.clone(),
        name,
        kind,
        config,
        enabled: input.enabled.unwrap_or(true),
    })
}

fn key_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => {
            ApiError::conflict("another channel of this workspace has this key").with_field("key")
        }
        e => e.into(),
    }
}

/// The workspace's notification channels.
#[utoipa::path(get, path = "/workspaces/{workspace}/channels", tag = "channels",
    params(("workspace" = String, Path, description = "Workspace slug")),
    responses((status = 200, body = [ChannelView]), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access<Read>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    Ok(Json(list_channels(&state, access.ws()).await?))
}

/// The workspace's channels as the API lists them (secrets redacted).
pub(crate) async fn list_channels(
    state: &AppState,
    ws: WorkspaceId,
) -> Result<Vec<ChannelView>, ApiError> {
    let mut scope = state.store.workspace(ws);
    let list = scope.channels().await?;
    channel_views(&mut scope, list).await
}

/// Creates a channel (member). A webhook without a `secret` gets one, shown in this answer.
#[utoipa::path(post, path = "/workspaces/{workspace}/channels", tag = "channels",
    params(("workspace" = String, Path, description = "Workspace slug")),
    request_body = ChannelInput,
    responses(
        (status = 201, body = ChannelView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    let view = create_channel(&state, &access, &input).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Creates a channel; the view shows its secrets (a generated webhook secret is shown once).
///
/// # Errors
/// 422 naming the field, 409 `key` when another channel has the key.
pub(crate) async fn create_channel(
    state: &AppState,
    access: &Access<Write>,
    input: &ChannelInput,
) -> Result<ChannelView, ApiError> {
    let new = validate_channel_input(input, None)?;
    let mut scope = state.store.workspace(access.ws());
    let c = scope
        .create_channel(&new, state.clock.now())
        .await
        .map_err(key_conflict)?;
    channel_view(&mut scope, c, true).await
}

/// A channel.
#[utoipa::path(get, path = "/workspaces/{workspace}/channels/{id}", tag = "channels",
    params(IdPath),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<ChannelView>, ApiError> {
    Ok(Json(get_channel(&state, access.ws(), id).await?))
}

/// Channel `id` of the workspace (secrets redacted).
///
/// # Errors
/// 404 for a channel of another workspace.
pub(crate) async fn get_channel(
    state: &AppState,
    ws: WorkspaceId,
    id: i64,
) -> Result<ChannelView, ApiError> {
    let mut scope = state.store.workspace(ws);
    let c = scope
        .channel(ChannelId(id))
        .await?
        .or_not_found("channel")?;
    channel_view(&mut scope, c, false).await
}

/// Replaces a channel's settings (member).
#[utoipa::path(put, path = "/workspaces/{workspace}/channels/{id}", tag = "channels",
    params(IdPath),
    request_body = ChannelInput,
    responses(
        (status = 200, body = ChannelView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<Json<ChannelView>, ApiError> {
    Ok(Json(update_channel(&state, &access, id, &input).await?))
}

/// Replaces channel `id`'s settings (secrets left out or sent as [`REDACTED`] keep their
/// value); the view redacts secrets.
///
/// # Errors
/// 404 for a channel of another workspace, 422 naming the field, 409 `key`.
pub(crate) async fn update_channel(
    state: &AppState,
    access: &Access<Write>,
    id: i64,
    input: &ChannelInput,
) -> Result<ChannelView, ApiError> {
    let id = ChannelId(id);
    let mut scope = state.store.workspace(access.ws());
    let old = scope.channel(id).await?.or_not_found("channel")?;
    let new = validate_channel_input(input, Some(&old.config))?;
    let c = scope
        .update_channel(id, &new, state.clock.now())
        .await
        .map_err(key_conflict)?;
    channel_view(&mut scope, c, false).await
}

/// Turns channel `id` on or off through [`update_channel`] (every other setting kept);
/// turning it on clears `disabled_reason`.
///
/// # Errors
/// 404 for a channel of another workspace.
pub(crate) async fn set_channel_enabled(
    state: &AppState,
    access: &Access<Write>,
    id: i64,
    enabled: bool,
) -> Result<ChannelView, ApiError> {
    let c = state
        .store
        .workspace(access.ws())
        .channel(ChannelId(id))
        .await?
        .or_not_found("channel")?;
    let input = ChannelInput {
        key: c.key,
        name: c.name,
        kind: c.kind.as_str().to_owned(),
        config: c.config,
        enabled: Some(enabled),
    };
    update_channel(state, access, id, &input).await
}

/// Deletes a channel and its pending notifications (member).
#[utoipa::path(delete, path = "/workspaces/{workspace}/channels/{id}", tag = "channels",
    params(IdPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    delete_channel(&state, &access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes channel `id` and its pending notifications.
///
/// # Errors
/// 404 for a channel of another workspace.
pub(crate) async fn delete_channel(
    state: &AppState,
    access: &Access<Write>,
    id: i64,
) -> Result<(), ApiError> {
    state
        .store
        .workspace(access.ws())
        .delete_channel(ChannelId(id))
        .await?;
    Ok(())
}

/// Sends a test notification through a channel now (member), not through the outbox.
#[utoipa::path(post, path = "/workspaces/{workspace}/channels/{id}/test", tag = "channels",
    params(IdPath),
    responses(
        (status = 204, description = "The receiver accepted it"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 502, description = "The receiver refused it (`channel_failed`)", body = ErrorBody),
    ))]
pub async fn test(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    crate::notify::send_test(&state, access.ws(), ChannelId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// === outbox ===

/// Query of the outbox.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// `pending`, `sent` or `dead` (the dead letters); all when absent.
    pub state: Option<String>,
    /// Most rows, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// A row of the notification outbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    /// Id (receivers see `msg_<id>` as the idempotency key).
    pub id: i64,
    /// The channel, or `null` for a row to a status-page subscriber.
    pub channel_id: Option<i64>,
    /// The status-page subscriber, or `null` for a row to a channel.
    pub subscriber_id: Option<i64>,
    /// What happened, e.g. `incident.opened`.
    pub event: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When it is next due.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// Enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Sent or given up.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// What is sent (an alert).
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id.0,
            channel_id: n.channel_id.map(|c| c.0),
            subscriber_id: n.subscriber_id.map(|s| s.0),
            event: n.event,
            state: n.state.as_str().to_owned(),
            attempts: n.attempts,
            next_attempt_at: dt(n.next_attempt_at),
            last_error: n.last_error,
            created_at: dt(n.created_at),
            finished_at: odt(n.finished_at),
            payload: n.payload,
        }
    }
}

/// The workspace's notifications, newest first; `?state=dead` lists the dead letters.
#[utoipa::path(get, path = "/workspaces/{workspace}/notifications", tag = "notifications",
    params(("workspace" = String, Path, description = "Workspace slug"), NotificationsQuery),
    responses(
        (status = 200, body = [NotificationView]),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn notifications(
    State(state): State<AppState>,
    access: Access<Read>,
    ApiQuery(q): ApiQuery<NotificationsQuery>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    Ok(Json(list_notifications(&state, access.ws(), &q).await?))
}

/// The workspace's notifications, newest first, filtered by `q.state`, at most `q.limit`.
///
/// # Errors
/// 422 `state` or `limit`.
pub(crate) async fn list_notifications(
    state: &AppState,
    ws: WorkspaceId,
    q: &NotificationsQuery,
) -> Result<Vec<NotificationView>, ApiError> {
    let filter = q
        .state
        .as_deref()
        .map(|s| {
            OutboxState::from_str(s)
                .map_err(|_| ApiError::invalid("state", "must be `pending`, `sent` or `dead`"))
        })
        .transpose()?;
    let limit = parse_limit(q.limit.as_deref(), 100, 1000)?;
    let list = state
        .store
        .workspace(ws)
        .notifications(filter, limit)
        .await?;
    Ok(list.into_iter().map(NotificationView::from).collect())
}

/// Puts a dead notification back in the queue (member): due now, attempts from zero, same
/// idempotency key.
#[utoipa::path(post, path = "/workspaces/{workspace}/notifications/{id}/replay", tag = "notifications",
    params(IdPath),
    responses(
        (status = 200, body = NotificationView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Only dead notifications are replayed", body = ErrorBody),
    ))]
pub async fn replay(
    State(state): State<AppState>,
    access: Access<Write>,
    ApiPath(IdPath { id, .. }): ApiPath<IdPath>,
) -> Result<Json<NotificationView>, ApiError> {
    Ok(Json(replay_notification(&state, &access, id).await?))
}

/// Puts dead notification `id` back in the queue: due now, attempts from zero.
///
/// # Errors
/// 404 for a notification of another workspace, 409 when it is not dead.
pub(crate) async fn replay_notification(
    state: &AppState,
    access: &Access<Write>,
    id: i64,
) -> Result<NotificationView, ApiError> {
    let id = OutboxId(id);
    let mut scope = state.store.workspace(access.ws());
    let n = scope.notification(id).await?.or_not_found("notification")?;
    if n.state != OutboxState::Dead {
        return Err(ApiError::conflict(format!(
            "only dead notifications can be replayed; this one is {}",
            n.state
        )));
    }
    scope.replay_notification(id, state.clock.now()).await?;
    let n = scope.notification(id).await?.or_not_found("notification")?;
    Ok(n.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = serde_json::json!({
            "url": "https://x", "secret": "whsec_abc",
            "smtp": {"host": "h", "password": "p"}, "topic": "t"
        });
        redact(&mut v);
        assert_eq!(v["secret"], REDACTED);
        assert_eq!(v["smtp"]["password"], REDACTED);
        assert_eq!(v["url"], "https://x");
    }

    #[test]
    fn replacing_keeps_left_out_and_redacted_secrets_and_drops_nulled_ones() {
        let old = serde_json::json!({"url": "a", "secret": "s1", "smtp": {"password": "p1"}, "token": "t"});
        let mut new =
            serde_json::json!({"url": "b", "smtp": {"password": REDACTED}, "token": null});
        carry_secrets(&old, &mut new);
        assert_eq!(
            new,
            serde_json::json!({"url": "b", "secret": "s1", "smtp": {"password": "p1"}})
        );
    }
}
