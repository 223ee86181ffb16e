//! Notification channels and the durable outbox.

use sqlx::Row as _;

use super::{
    Db, DbConn, DbRow, Lease, PG, WorkQueue, execute_by_id, expect_one, fetch_by_id, json_err,
};
use crate::error::{Result, StoreError};
use crate::model::{
    Channel, NewChannel, NewNotification, NewSubscriberNotification, Notification, Subscriber,
};
use crate::types::*;

macro_rules! channel_cols {
    () => {
        "id, workspace_id, key, name, kind, config, enabled, disabled_reason, created_at"
    };
}

macro_rules! outbox_cols {
    () => {
        "id, workspace_id, channel_id, subscriber_id, event, payload, state, attempts, \
         next_attempt_at, lease_owner, lease_expires_at, last_error, created_at, finished_at"
    };
}

fn channel_from_row(r: &DbRow) -> Result<Channel> {
    let config: String = r.try_get("config")?;
    Ok(Channel {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        key: r.try_get("key")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        config: serde_json::from_str(&config).map_err(json_err("channel config"))?,
        enabled: r.try_get("enabled")?,
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: r.try_get("created_at")?,
    })
}

fn notification_from_row(r: &DbRow) -> Result<Notification> {
    let payload: String = r.try_get("payload")?;
    Ok(Notification {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        channel_id: r.try_get("channel_id")?,
        subscriber_id: r.try_get("subscriber_id")?,
        event: r.try_get("event")?,
        payload: serde_json::from_str(&payload).map_err(json_err("notification payload"))?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_expires_at: r.try_get("lease_expires_at")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

pub(crate) async fn create_channel(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewChannel,
    now: Timestamp,
) -> Result<Channel> {
    let config = encode_channel(new)?;
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO notification_channels (workspace_id, key, name, kind, config, enabled, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        channel_cols!()
    ))
    .bind(ws)
    .bind(new.key.as_deref())
    .bind(&new.name)
    .bind(new.kind)
    .bind(config)
    .bind(new.enabled)
    .bind(now)
    .fetch_one(&mut *c)
    .await?;
    channel_from_row(&row)
}

pub(crate) async fn channels(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<Channel>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        channel_cols!(),
        " FROM notification_channels WHERE workspace_id = $1 ORDER BY id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(channel_from_row).collect()
}

pub(crate) async fn channels_for_monitor(
    c: &mut DbConn,
    ws: WorkspaceId,
    monitor: MonitorId,
) -> Result<Vec<Channel>> {
    let rows = sqlx::query::<Db>(
        "SELECT n.id, n.workspace_id, n.key, n.name, n.kind, n.config, n.enabled, \
         n.disabled_reason, n.created_at FROM monitor_channels mc JOIN notification_channels n ON n.id = mc.channel_id \
         WHERE mc.workspace_id = $1 AND mc.monitor_id = $2 ORDER BY n.id",
    )
    .bind(ws)
    .bind(monitor)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(channel_from_row).collect()
}

/// Checks a channel's name and key, and encodes its settings.
fn encode_channel(new: &NewChannel) -> Result<String> {
    if new.name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    if new.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(StoreError::invalid("key", "must not be empty"));
    }
    serde_json::to_string(&new.config).map_err(json_err("channel config"))
}

pub(crate) async fn channel(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ChannelId,
) -> Result<Option<Channel>> {
    fetch_by_id(
        c,
        select_by_id!("notification_channels", channel_cols!()),
        ws,
        id,
        channel_from_row,
    )
    .await
}

pub(crate) async fn channel_by_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    key: &str,
) -> Result<Option<Channel>> {
    let row = sqlx::query::<Db>(concat!(
        "SELECT ",
        channel_cols!(),
        " FROM notification_channels WHERE workspace_id = $1 AND key = $2"
    ))
    .bind(ws)
    .bind(key)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(channel_from_row).transpose()
}

/// Replaces a channel's settings; enabling it clears why it was disabled.
pub(crate) async fn update_channel(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ChannelId,
    new: &NewChannel,
) -> Result<Channel> {
    let config = encode_channel(new)?;
    let row = sqlx::query::<Db>(concat!(
        "UPDATE notification_channels SET key = $3, name = $4, kind = $5, config = $6, \
         enabled = $7, disabled_reason = CASE WHEN $7 THEN NULL ELSE disabled_reason END \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        channel_cols!()
    ))
    .bind(ws)
    .bind(id)
    .bind(new.key.as_deref())
    .bind(&new.name)
    .bind(new.kind)
    .bind(config)
    .bind(new.enabled)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("channel"))?;
    channel_from_row(&row)
}

/// Enables or disables a channel; the reason is kept only while it is disabled.
pub(crate) async fn set_channel_enabled(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ChannelId,
    enabled: bool,
    reason: Option<&str>,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE notification_channels SET enabled = $3, \
         disabled_reason = CASE WHEN $3 THEN NULL ELSE $4 END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(enabled)
    .bind(reason)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("channel"))
}

/// The monitors that notify through a channel, ascending.
pub(crate) async fn monitors_for_channel(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ChannelId,
) -> Result<Vec<MonitorId>> {
    Ok(sqlx::query_scalar::<Db, MonitorId>(
        "SELECT monitor_id FROM monitor_channels WHERE workspace_id = $1 AND channel_id = $2 \
         ORDER BY monitor_id",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn delete_channel(c: &mut DbConn, ws: WorkspaceId, id: ChannelId) -> Result<()> {
    execute_by_id(c, delete_by_id!("notification_channels"), ws, id, "channel").await
}

pub(crate) async fn enqueue(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewNotification,
    now: Timestamp,
) -> Result<Notification> {
    let payload = serde_json::to_string(&new.payload).map_err(json_err("notification payload"))?;
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO outbox (workspace_id, channel_id, event, payload, state, attempts, \
         next_attempt_at, created_at) \
         SELECT workspace_id, id, $3, $4, 'pending', 0, $5, $6 FROM notification_channels \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        outbox_cols!()
    ))
    .bind(ws)
    .bind(new.channel_id)
    .bind(&new.event)
    .bind(payload)
    .bind(new.not_before)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("channel"))?;
    notification_from_row(&row)
}

/// Puts a row for a status-page subscriber in the outbox.
pub(crate) async fn enqueue_for_subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewSubscriberNotification,
    now: Timestamp,
) -> Result<Notification> {
    let payload = serde_json::to_string(&new.payload).map_err(json_err("notification payload"))?;
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO outbox (workspace_id, subscriber_id, event, payload, state, attempts, \
         next_attempt_at, created_at) \
         SELECT workspace_id, id, $3, $4, 'pending', 0, $5, $6 FROM subscribers \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        outbox_cols!()
    ))
    .bind(ws)
    .bind(new.subscriber_id)
    .bind(&new.event)
    .bind(payload)
    .bind(new.not_before)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("subscriber"))?;
    notification_from_row(&row)
}

/// The confirmed subscribers of the pages that show an incident (see
/// `NotificationStore::incident_subscribers`).
pub(crate) async fn incident_subscribers(
    c: &mut DbConn,
    ws: WorkspaceId,
    incident: IncidentId,
) -> Result<Vec<SubscriberId>> {
    Ok(sqlx::query_scalar::<Db, SubscriberId>(
        "SELECT s.id FROM subscribers s \
         JOIN status_pages p ON p.id = s.page_id \
         JOIN incidents i ON i.workspace_id = s.workspace_id AND i.id = $2 \
         WHERE s.workspace_id = $1 AND s.confirmed \
         AND (i.published OR NOT p.hold_auto_incidents) \
         AND (EXISTS (SELECT 1 FROM incident_components ic \
                      JOIN components c ON c.id = ic.component_id \
                      WHERE ic.incident_id = i.id AND c.page_id = p.id) \
              OR (i.kind = 'automatic' AND i.monitor_id IS NOT NULL \
                  AND EXISTS (SELECT 1 FROM components c \
                              WHERE c.page_id = p.id AND c.monitor_id = i.monitor_id)) \
              OR (i.kind = 'manual' AND NOT EXISTS (SELECT 1 FROM incident_components ic \
                                                    WHERE ic.incident_id = i.id))) \
         ORDER BY s.id",
    )
    .bind(ws)
    .bind(incident)
    .fetch_all(&mut *c)
    .await?)
}

/// A subscriber by id.
pub(crate) async fn subscriber(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: SubscriberId,
) -> Result<Option<Subscriber>> {
    Ok(sqlx::query_as::<Db, Subscriber>(select_by_id!(
        "subscribers",
        "id, workspace_id, page_id, kind, target, token, confirmed, confirmed_at, created_at"
    ))
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn get(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: OutboxId,
) -> Result<Option<Notification>> {
    fetch_by_id(
        c,
        select_by_id!("outbox", outbox_cols!()),
        ws,
        id,
        notification_from_row,
    )
    .await
}

/// The delivery queue: pending rows whose next attempt is due; each claim counts as an attempt.
const OUTBOX: WorkQueue = work_queue! {
    table: "outbox",
    key: "id",
    due: "state = 'pending' AND next_attempt_at <= $1",
    order: "next_attempt_at, id",
    on_claim: ", attempts = attempts + 1",
    returning: outbox_cols!(),
};

/// Claims due pending rows with a lease; each claim counts as an attempt.
pub(crate) async fn claim(c: &mut DbConn, lease: Lease<'_>) -> Result<Vec<Notification>> {
    OUTBOX
        .claim(c, lease, notification_from_row, |n| {
            (n.next_attempt_at, n.id)
        })
        .await
}

pub(crate) async fn mark_sent(
    c: &mut DbConn,
    id: OutboxId,
    node: &str,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE outbox SET state = 'sent', finished_at = $3, lease_owner = NULL, \
         lease_expires_at = NULL, last_error = NULL \
         WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(node)
    .bind(now)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::lease_lost("notification", id.0, node))
}

pub(crate) async fn retry(
    c: &mut DbConn,
    id: OutboxId,
    node: &str,
    next_attempt_at: Timestamp,
    error: &str,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE outbox SET next_attempt_at = $3, last_error = $4, lease_owner = NULL, \
         lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(node)
    .bind(next_attempt_at)
    .bind(error)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::lease_lost("notification", id.0, node))
}

pub(crate) async fn mark_dead(
    c: &mut DbConn,
    id: OutboxId,
    node: &str,
    now: Timestamp,
    error: &str,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE outbox SET state = 'dead', finished_at = $3, last_error = $4, lease_owner = NULL, \
         lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(node)
    .bind(now)
    .bind(error)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::lease_lost("notification", id.0, node))
}

/// Outbox rows of the workspace, newest first, optionally of one state.
pub(crate) async fn list(
    c: &mut DbConn,
    ws: WorkspaceId,
    state: Option<OutboxState>,
    limit: u32,
) -> Result<Vec<Notification>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        outbox_cols!(),
        " FROM outbox WHERE workspace_id = $1 AND ($2 IS NULL OR state = $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(ws)
    .bind(state)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(notification_from_row).collect()
}

/// Pending and dead rows over every workspace.
pub(crate) async fn counts(c: &mut DbConn) -> Result<(i64, i64)> {
    let count = |state: OutboxState| {
        sqlx::query_scalar::<Db, i64>("SELECT COUNT(*) FROM outbox WHERE state = $1").bind(state)
    };
    let pending = count(OutboxState::Pending).fetch_one(&mut *c).await?;
    let dead = count(OutboxState::Dead).fetch_one(&mut *c).await?;
    Ok((pending, dead))
}

/// Gives back every lease `node` holds, keeping attempts and due times.
pub(crate) async fn release_all(c: &mut DbConn, node: &str) -> Result<u64> {
    let done = sqlx::query::<Db>(
        "UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL \
         WHERE lease_owner = $1 AND state = 'pending'",
    )
    .bind(node)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn dead(c: &mut DbConn, ws: WorkspaceId, limit: u32) -> Result<Vec<Notification>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        outbox_cols!(),
        " FROM outbox WHERE workspace_id = $1 AND state = 'dead' \
         ORDER BY finished_at DESC, id DESC LIMIT $2"
    ))
    .bind(ws)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(notification_from_row).collect()
}

/// Puts a dead row back in the queue with a fresh attempt count.
pub(crate) async fn replay(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: OutboxId,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $3, \
         finished_at = NULL, last_error = NULL \
         WHERE workspace_id = $1 AND id = $2 AND state = 'dead'",
    )
    .bind(ws)
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("dead notification"))
}

/// Deletes sent rows finished before `before` (dead rows stay until replayed or purged).
pub(crate) async fn purge_sent(c: &mut DbConn, before: Timestamp) -> Result<u64> {
    let done = sqlx::query::<Db>("DELETE FROM outbox WHERE state = 'sent' AND finished_at < $1")
        .bind(before)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}
