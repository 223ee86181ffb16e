//! The deliverer loop: claim, send, then mark sent, retry later, or give up.

use std::time::Duration;

use bitwobbly_core::alert::{Alert, AlertKind};
use bitwobbly_store::prelude::*;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::{SendCtx, Settings, backoff, http};
use crate::error::error_chain;
use crate::state::AppState;

/// Why a channel whose receiver answered `410 Gone` was disabled.
pub const CHANNEL_GONE_REASON: &str = "the receiver answered 410 Gone";

pub(super) async fn run(state: AppState) {
    let cfg = state.config.notifier.clone();
    let concurrency = cfg.concurrency.max(1);
    let lease = (cfg.send_timeout * 2).max(Duration::from_secs(2));
    if !cfg.enabled {
        tracing::info!("notification delivery is off on this node");
        state.shutdown.cancelled().await;
        return;
    }
    let mut tasks: JoinSet<()> = JoinSet::new();
    tracing::info!(node = %state.node, concurrency, "notification deliverer started");
    loop {
        if state.shutdown.is_cancelled() {
            break;
        }
        while let Some(done) = tasks.try_join_next() {
            log_join(done);
        }
        let free = concurrency.saturating_sub(tasks.len());
        let mut claimed = 0;
        if free > 0 {
            let limit = u32::try_from(free).unwrap_or(u32::MAX);
            match state
                .store
                .global()
                .claim_notifications(&state.node, state.clock.now(), lease, limit)
                .await
            {
                Ok(rows) => {
                    claimed = rows.len();
                    for row in rows {
                        let span = tracing::info_span!(
                            "deliver",
                            outbox_id = row.id.0,
                            channel_id = row.channel_id.map(|c| c.0),
                            subscriber_id = row.subscriber_id.map(|s| s.0),
                            attempt = row.attempts
                        );
                        tasks.spawn(deliver(state.clone(), row).instrument(span));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "claiming notifications failed");
                }
            }
        }
        if free > 0 && claimed == free {
            // A full batch: more may be due at once.
            continue;
        }
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            () = tokio::time::sleep(cfg.poll_interval) => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => log_join(done),
        }
    }
    drain(&state, tasks).await;
}

/// Lets sends in flight finish within the shutdown grace, then gives back every lease held.
async fn drain(state: &AppState, mut tasks: JoinSet<()>) {
    let in_flight = tasks.len();
    let finished = tokio::time::timeout(state.config.shutdown_grace, async {
        while let Some(done) = tasks.join_next().await {
            log_join(done);
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "sends still in flight after the shutdown grace; abandoning them"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    match state
        .store
        .global()
        .release_notifications(&state.node)
        .await
    {
        Ok(released) => {
            tracing::info!(in_flight, released, "notification deliverer stopped");
        }
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "releasing notification leases failed; they expire");
        }
    }
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "a delivery task panicked; its row is retried when its lease expires");
    }
}

/// How one delivery ended, as the metrics name it.
pub(super) enum Outcome {
    Sent,
    Retry,
    Dead,
    Disabled,
}

impl Outcome {
    pub(super) fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retry => "retry",
            Self::Dead => "dead",
            Self::Disabled => "disabled",
        }
    }
}

/// Delivers one claimed row and records what happened.
async fn deliver(state: AppState, row: Notification) {
    let Some(channel_id) = row.channel_id else {
        super::subscriber::deliver(&state, &row).await;
        return;
    };
    let channel = match state
        .store
        .workspace(row.workspace_id)
        .channel(channel_id)
        .await
    {
        Ok(channel) => channel,
        Err(e) => {
            // The lease expires and the row is tried again.
            tracing::warn!(error = %error_chain(&e), "loading the channel failed");
            return;
        }
    };
    let Some(channel) = channel else {
        give_up(&state, &row, "the channel no longer exists").await;
        return;
    };
    let kind = channel.kind.as_str();
    if !channel.enabled {
        let why = match &channel.disabled_reason {
            Some(reason) => format!("the channel is disabled ({reason})"),
            None => "the channel is disabled".to_owned(),
        };
        give_up(&state, &row, &why).await;
        state.metrics.count_delivery(kind, Outcome::Dead.as_str());
        return;
    }
    let settings = match Settings::parse(channel.kind, &channel.config) {
        Ok(s) => s,
        Err(e) => {
            let field = e.field.as_deref().unwrap_or("config");
            give_up(
                &state,
                &row,
                &format!("the channel's settings are invalid: {field} {}", e.message),
            )
            .await;
            state.metrics.count_delivery(kind, Outcome::Dead.as_str());
            return;
        }
    };
    let alert: Alert = match serde_json::from_value(row.payload.clone()) {
        Ok(a) => a,
        Err(e) => {
            give_up(&state, &row, &format!("the payload is not an alert: {e}")).await;
            state.metrics.count_delivery(kind, Outcome::Dead.as_str());
            return;
        }
    };

    let message_id = format!("msg_{}", row.id.0);
    let http = http::client(state.config.targets.deny_private);
    let ctx = SendCtx {
        http: &http,
        deny_private: state.config.targets.deny_private,
        timeout: state.config.notifier.send_timeout,
        now: state.clock.now_utc(),
        message_id: &message_id,
        event: &row.event,
    };
    let outcome = match settings.send(&ctx, &alert).await {
        Err(e) if e.is_gone() => {
            disable_channel(&state, &row, &channel, &e.message).await;
            Outcome::Disabled
        }
        result => record(&state, &row, kind, result).await,
    };
    state.metrics.count_delivery(kind, outcome.as_str());
}

/// Records how a send of `row` (through a `kind` of receiver) ended: sent, retried later
/// with backoff, or dead after the last attempt or a permanent failure.
pub(super) async fn record(
    state: &AppState,
    row: &Notification,
    kind: &str,
    result: Result<(), super::SendError>,
) -> Outcome {
    let now = state.clock.now();
    let node = state.node.as_str();
    match result {
        Ok(()) => match state.store.global().mark_sent(row.id, node, now).await {
            Ok(()) => {
                tracing::debug!(kind, "notification sent");
                Outcome::Sent
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "sent, but marking the row sent failed; it may be sent again with the same id");
                Outcome::Sent
            }
        },
        Err(e) => {
            let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
            let cfg = &state.config.notifier;
            if e.permanent || attempts >= cfg.max_attempts {
                tracing::warn!(kind, attempts, error = %e.message, "notification failed for good; it is dead");
                give_up(state, row, &e.message).await;
                Outcome::Dead
            } else {
                let delay = backoff::with_retry_after(
                    backoff::delay(
                        attempts,
                        cfg.initial_backoff,
                        cfg.max_backoff,
                        rand::random(),
                    ),
                    e.retry_after,
                    cfg.max_backoff,
                );
                tracing::info!(kind, attempts, retry_in_ms = delay.as_millis() as u64, error = %e.message, "notification failed; retrying");
                if let Err(err) = state
                    .store
                    .global()
                    .schedule_retry(row.id, node, now.plus(delay), &e.message)
                    .await
                {
                    tracing::warn!(error = %error_chain(&err), "scheduling the retry failed; the lease expires instead");
                }
                Outcome::Retry
            }
        }
    }
}

/// Marks the row dead with `why`.
pub(super) async fn give_up(state: &AppState, row: &Notification, why: &str) {
    if let Err(e) = state
        .store
        .global()
        .mark_dead(row.id, &state.node, state.clock.now(), why)
        .await
    {
        tracing::warn!(error = %error_chain(&e), "marking the row dead failed");
    }
}

/// A `410 Gone`: disables the channel, marks the row dead and tells the workspace's other
/// enabled channels, all in one transaction.
async fn disable_channel(state: &AppState, row: &Notification, channel: &Channel, error: &str) {
    tracing::warn!(
        workspace_id = channel.workspace_id.0,
        channel_id = channel.id.0,
        channel = %channel.name,
        kind = %channel.kind,
        "the receiver answered 410 Gone: disabling the channel"
    );
    let now = state.clock.now();
    let at = state.clock.now_utc();
    let notice = Alert {
        kind: AlertKind::ChannelDisabled,
        incident_id: None,
        monitor_id: None,
        monitor: channel.name.clone(),
        target: format!("{} channel", channel.kind),
        reason: Some(format!(
            "The channel \"{}\" was disabled: {CHANNEL_GONE_REASON}. Alerts are no longer sent \
             through it; fix the receiver and enable the channel again.",
            channel.name
        )),
        started_at: at,
        duration: None,
        link: format!("{}/channels/{}", state.config.public_url(), channel.id.0),
        at,
    };
    let result = async {
        let payload = serde_json::to_value(&notice).map_err(|e| StoreError::Invalid {
            field: "payload",
            problem: e.to_string(),
        })?;
        let mut tx = state.store.begin().await?;
        tx.workspace(channel.workspace_id)
            .set_channel_enabled(channel.id, false, Some(CHANNEL_GONE_REASON))
            .await?;
        tx.global()
            .mark_dead(row.id, &state.node, now, error)
            .await?;
        let others = tx.workspace(channel.workspace_id).channels().await?;
        let mut told = 0;
        for other in others.iter().filter(|c| c.enabled && c.id != channel.id) {
            tx.workspace(channel.workspace_id)
                .enqueue_notification(
                    &NewNotification {
                        channel_id: other.id,
                        event: AlertKind::ChannelDisabled.event().to_owned(),
                        payload: payload.clone(),
                        not_before: now,
                    },
                    now,
                )
                .await?;
            told += 1;
        }
        tx.commit().await?;
        Ok::<_, StoreError>(told)
    }
    .await;
    match result {
        Ok(told) => tracing::warn!(
            channel_id = channel.id.0,
            told,
            "channel disabled; the workspace's other channels were told"
        ),
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "disabling the channel failed; the row is tried again when its lease expires")
        }
    }
}
