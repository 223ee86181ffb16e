//! Notification channels and the durable outbox deliverer.
//!
//! Alerts reach people through the outbox: the scheduler writes a row per alert and channel
//! in the same transaction as the incident change (`event` = [`AlertKind::event`], `payload`
//! = the [`Alert`] as JSON), and [`run`] delivers the rows:
//!
//! - it claims due rows with a lease (twice the send timeout), sends up to
//!   `notifier.concurrency` at once and marks each sent;
//! - a failed send is retried with exponential backoff (from `initial_backoff`, doubling up to
//!   `max_backoff`, with equal jitter), later when a 429 or 503 carries a `Retry-After`;
//!   after `max_attempts` attempts the row is dead, for an operator to list and replay;
//! - a receiver answering `410 Gone` has its channel disabled, the row marked dead and the
//!   workspace's other enabled channels told;
//! - on shutdown it stops claiming, lets sends in flight finish within `shutdown_grace` and
//!   gives back its leases.
//!
//! A killed process loses nothing: its rows stay pending and their leases expire. A send
//! interrupted mid-flight may be repeated, always with the same idempotency key: the webhook
//! `webhook-id` is `msg_<outbox id>`, the PagerDuty `dedup_key` is
//! `bitwobbly-incident-<incident id>`, and an email's `Message-ID` is derived from the row.
//!
//! Channels: [`ChannelKind::Webhook`] (Standard Webhooks signatures), Slack, Discord, Teams
//! (Workflows adaptive card), PagerDuty Events v2, ntfy and email over SMTP. Their settings are
//! checked by [`validate_channel`]; [`send_test`] sends a test alert at once.

pub(crate) mod backoff;
mod deliver;
mod discord;
pub(crate) mod email;
pub(crate) mod fields;
pub(crate) mod http;
mod ntfy;
mod pagerduty;
mod slack;
pub(crate) mod subscriber;
mod teams;
mod text;
mod webhook;

use std::fmt;
use std::time::Duration;

use axum::http::StatusCode;
pub use bitwobbly_core::alert::{Alert, AlertKind};
use bitwobbly_store::prelude::*;
use time::OffsetDateTime;

use crate::api::OrNotFound as _;
use crate::error::ApiError;
use crate::state::AppState;

pub use deliver::CHANNEL_GONE_REASON;

/// The deliverer: sends due outbox rows until `state.shutdown` is cancelled, then drains (see
/// the [module docs](self)). With `notifier.enabled` off it only waits for the shutdown.
pub fn run(state: AppState) -> impl Future<Output = ()> + Send + 'static {
    deliver::run(state)
}

/// Checks a channel's settings for its kind.
///
/// # Errors
///
/// 422 `validation_failed` with `field` naming the setting, e.g. `config.url` or
/// `config.smtp.port`.
pub fn validate_channel(kind: ChannelKind, config: &serde_json::Value) -> Result<(), ApiError> {
    Settings::parse(kind, config).map(drop)
}

/// A new Standard Webhooks secret (`whsec_` and 32 random bytes in base64), for a webhook
/// channel created without one.
pub fn new_webhook_secret() -> String {
    webhook::new_secret()
}

/// Sends a test alert ([`AlertKind::Test`]) through a channel at once, not through the outbox.
///
/// # Errors
///
/// 404 `not_found` when the workspace has no such channel, 422 when its settings are invalid,
/// 502 `channel_failed` with the receiver's status and the start of its answer when the send
/// fails.
pub async fn send_test(
    state: &AppState,
    ws: WorkspaceId,
    channel: ChannelId,
) -> Result<(), ApiError> {
    let ch = state
        .store
        .workspace(ws)
        .channel(channel)
        .await?
        .or_not_found("channel")?;
    let settings = Settings::parse(ch.kind, &ch.config)?;
    let now = state.clock.now_utc();
    let alert = Alert {
        kind: AlertKind::Test,
        incident_id: None,
        monitor_id: None,
        monitor: "Bit Wobbly test".to_owned(),
        target: format!("channel {}", ch.name),
        reason: Some(format!(
            "A test notification for the channel \"{}\": it works. No action is needed.",
            ch.name
        )),
        started_at: now,
        duration: None,
        link: state.config.public_url(),
        at: now,
    };
    let mut random = [0u8; 12];
    rand::fill(&mut random);
    let message_id = format!(
        "msg_test_{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let http = http::client(state.config.targets.deny_private);
    let ctx = SendCtx {
        http: &http,
        deny_private: state.config.targets.deny_private,
        timeout: state.config.notifier.send_timeout,
        now,
        message_id: &message_id,
        event: AlertKind::Test.event(),
    };
    settings.send(&ctx, &alert).await.map_err(|e| {
        tracing::debug!(channel_id = ch.id.0, kind = %ch.kind, error = %e, "test notification failed");
        ApiError::new(StatusCode::BAD_GATEWAY, "channel_failed", e.message)
    })
}

/// Why a send failed, and what the receiver asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendError {
    /// What happened, for the outbox row and the API (never holds a secret URL).
    pub(crate) message: String,
    /// The receiver's HTTP status, when it answered.
    pub(crate) status: Option<u16>,
    /// The receiver's `Retry-After` (429 or 503).
    pub(crate) retry_after: Option<Duration>,
    /// Retrying cannot help (the message cannot be built).
    pub(crate) permanent: bool,
}

impl SendError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: None,
            retry_after: None,
            permanent: false,
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        Self {
            permanent: true,
            ..Self::new(message)
        }
    }

    /// The receiver answered `410 Gone`: the endpoint is gone for good.
    pub(crate) fn is_gone(&self) -> bool {
        self.status == Some(410)
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What one send needs besides the channel's settings.
#[derive(Debug)]
pub(crate) struct SendCtx<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) deny_private: bool,
    pub(crate) timeout: Duration,
    pub(crate) now: OffsetDateTime,
    /// The idempotency key: `msg_<outbox id>`.
    pub(crate) message_id: &'a str,
    /// The event name, e.g. `incident.opened`.
    pub(crate) event: &'a str,
}

/// A channel's parsed settings, one variant per kind.
#[derive(Debug, Clone)]
pub(crate) enum Settings {
    Webhook(webhook::Settings),
    Slack(http::HookUrl),
    Discord(http::HookUrl),
    Teams(http::HookUrl),
    PagerDuty(pagerduty::Settings),
    Ntfy(ntfy::Settings),
    Email(email::Settings),
}

impl Settings {
    /// Parses and checks `config` for `kind`.
    pub(crate) fn parse(kind: ChannelKind, config: &serde_json::Value) -> Result<Self, ApiError> {
        Ok(match kind {
            ChannelKind::Webhook => Self::Webhook(webhook::Settings::parse(config)?),
            ChannelKind::Slack => Self::Slack(http::HookUrl::parse(config)?),
            ChannelKind::Discord => Self::Discord(http::HookUrl::parse(config)?),
            ChannelKind::Teams => Self::Teams(http::HookUrl::parse(config)?),
            ChannelKind::PagerDuty => Self::PagerDuty(pagerduty::Settings::parse(config)?),
            ChannelKind::Ntfy => Self::Ntfy(ntfy::Settings::parse(config)?),
            ChannelKind::Email => Self::Email(email::Settings::parse(config)?),
        })
    }

    /// Sends `alert`, within the send timeout.
    pub(crate) async fn send(&self, ctx: &SendCtx<'_>, alert: &Alert) -> Result<(), SendError> {
        let send = async {
            match self {
                Self::Webhook(s) => s.send(ctx, alert).await,
                Self::Slack(s) => s.send(ctx, &slack::render(alert)).await,
                Self::Discord(s) => s.send(ctx, &discord::render(alert)).await,
                Self::Teams(s) => s.send(ctx, &teams::render(alert)).await,
                Self::PagerDuty(s) => s.send(ctx, alert).await,
                Self::Ntfy(s) => s.send(ctx, alert).await,
                Self::Email(s) => s.send(ctx, alert).await,
            }
        };
        // Each channel has its own timeout too; this bounds the whole send whatever it does.
        match tokio::time::timeout(ctx.timeout + Duration::from_secs(1), send).await {
            Ok(result) => result,
            Err(_) => Err(SendError::new("timed out")),
        }
    }
}
