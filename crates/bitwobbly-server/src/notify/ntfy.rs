//! ntfy (self-hosted or ntfy.sh), published as JSON.
//!
//! Settings: `{"url": "https://ntfy.sh", "topic": "ops", "token": "tk_...", "priority": 4}`
//! (`token` and `priority` optional; `priority` is 1 to 5 or `min`, `low`, `default`, `high`,
//! `max`, `urgent`). The message is POSTed as JSON to the server URL with `topic`, `title`,
//! `message` (the facts, at most 4,096 bytes, ntfy's message limit), `priority`, `tags` (an
//! emoji per kind) and `click` (the link); the token goes in `Authorization: Bearer`. JSON,
//! unlike ntfy's header form, carries any UTF-8 text unchanged.

use ::http::{HeaderValue, header};
use bitwobbly_core::alert::{Alert, AlertKind};
use serde_json::{Value, json};
use url::Url;

use super::fields::Fields;
use super::text::{self, truncate_bytes};
use super::{SendCtx, SendError, http};
use crate::error::ApiError;

/// ntfy's default message size limit, in bytes.
pub(crate) const MESSAGE_MAX: usize = 4096;
const TITLE_MAX: usize = 256;

/// An ntfy channel's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    url: Url,
    topic: String,
    token: Option<String>,
    priority: Option<u8>,
}

impl Settings {
    pub(crate) fn parse(config: &Value) -> Result<Self, ApiError> {
        let f = Fields::new(config, "config", &["url", "topic", "token", "priority"])?;
        let url = f.http_url("url")?;
        let topic = f.string("topic")?;
        if topic.len() > 64
            || !topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(f.invalid("topic", "must be 1 to 64 letters, digits, '-' or '_'"));
        }
        let token = f.opt_string("token")?;
        if let Some(t) = token
            && HeaderValue::from_str(&format!("Bearer {t}")).is_err()
        {
            return Err(f.invalid("token", "must be printable ASCII"));
        }
        let priority = match f.get("priority") {
            None => None,
            Some(v) => Some(parse_priority(v).ok_or_else(|| {
                f.invalid(
                    "priority",
                    "must be 1 to 5 or one of min, low, default, high, max, urgent",
                )
            })?),
        };
        Ok(Self {
            url,
            topic: topic.to_owned(),
            token: token.map(str::to_owned),
            priority,
        })
    }

    pub(crate) async fn send(&self, ctx: &SendCtx<'_>, alert: &Alert) -> Result<(), SendError> {
        let body =
            serde_json::to_vec(&render(alert, &self.topic, self.priority)).unwrap_or_default();
        let mut headers = http::json_headers();
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| SendError::permanent(format!("bad token: {e}")))?;
            headers.insert(header::AUTHORIZATION, value);
        }
        http::post(ctx, &self.url, headers, body).await
    }
}

fn parse_priority(v: &Value) -> Option<u8> {
    match v {
        Value::Number(n) => n.as_u64().filter(|p| (1..=5).contains(p)).map(|p| p as u8),
        Value::String(s) => match s.as_str() {
            "min" => Some(1),
            "low" => Some(2),
            "default" => Some(3),
            "high" => Some(4),
            "max" | "urgent" => Some(5),
            _ => None,
        },
        _ => None,
    }
}

fn default_priority(kind: AlertKind) -> u8 {
    match kind {
        AlertKind::Down | AlertKind::Flapping => 4,
        AlertKind::Test => 2,
        _ => 3,
    }
}

fn tag(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Down => "rotating_light",
        AlertKind::Recovered => "white_check_mark",
        AlertKind::Test => "test_tube",
        _ => "warning",
    }
}

/// The JSON message.
pub(crate) fn render(alert: &Alert, topic: &str, priority: Option<u8>) -> Value {
    // The reason comes last: when the message is too long, only the reason is cut.
    let mut facts = text::facts(alert);
    let reason = text::reason_label(alert);
    facts.sort_by_key(|(k, _)| *k == reason);
    let message: String = facts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut msg = json!({
        "topic": topic,
        "title": truncate_bytes(&alert.title(), TITLE_MAX),
        "message": truncate_bytes(&message, MESSAGE_MAX),
        "priority": priority.unwrap_or_else(|| default_priority(alert.kind)),
        "tags": [tag(alert.kind)],
    });
    if Url::parse(&alert.link).is_ok() {
        msg["click"] = Value::String(alert.link.clone());
    }
    msg
}
