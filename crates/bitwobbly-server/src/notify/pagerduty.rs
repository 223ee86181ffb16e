//! PagerDuty Events API v2.
//!
//! Settings: `{"routing_key": "<integration key>", "url": "https://events.pagerduty.com/v2/enqueue"}`
//! (`url` optional). An opened incident sends `trigger`, a recovery sends `resolve`, both with
//! the same deterministic `dedup_key` (`bitwobbly-incident-<incident id>`), so a retry or a
//! repeat after a restart is idempotent and a resolve always finds its trigger without storing
//! PagerDuty's answer. Alerts without an incident (tests, notices) use
//! `bitwobbly-<message id>`. Severity: down and flapping are `critical`, degraded `warning`,
//! tests `info`. The summary is at most 1,024 characters.

use bitwobbly_core::alert::{Alert, AlertKind};
use serde_json::{Value, json};
use url::Url;

use super::fields::Fields;
use super::text::{self, truncate_chars};
use super::{SendCtx, SendError, http};
use crate::error::ApiError;

/// Where events go unless the settings say otherwise.
pub(crate) const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

const SUMMARY_MAX: usize = 1024;
const DEDUP_MAX: usize = 255;
const DETAIL_MAX: usize = 4096;

/// A PagerDuty channel's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    routing_key: String,
    url: Url,
}

impl Settings {
    pub(crate) fn parse(config: &Value) -> Result<Self, ApiError> {
        let f = Fields::new(config, "config", &["routing_key", "url"])?;
        let routing_key = f.string("routing_key")?;
        if routing_key.len() > 128 || !routing_key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(f.invalid(
                "routing_key",
                "must be the integration key: letters and digits, at most 128",
            ));
        }
        let url = match f.opt_http_url("url")? {
            Some(url) => url,
            None => Url::parse(DEFAULT_URL).expect("the default URL parses"),
        };
        Ok(Self {
            routing_key: routing_key.to_owned(),
            url,
        })
    }

    pub(crate) async fn send(&self, ctx: &SendCtx<'_>, alert: &Alert) -> Result<(), SendError> {
        let event = render(alert, &self.routing_key, ctx.message_id);
        http::post_json(ctx, &self.url, &event).await
    }
}

/// The deduplication key: per incident, or per message for alerts without one.
pub(crate) fn dedup_key(alert: &Alert, message_id: &str) -> String {
    let key = match alert.incident_id {
        Some(id) => format!("bitwobbly-incident-{id}"),
        None => format!("bitwobbly-{message_id}"),
    };
    truncate_chars(&key, DEDUP_MAX)
}

fn severity(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Down | AlertKind::Flapping => "critical",
        AlertKind::Test => "info",
        _ => "warning",
    }
}

/// The host of the target when it is a URL, else the target itself.
fn source(target: &str) -> String {
    match Url::parse(target) {
        Ok(url) if url.host_str().is_some() => url.host_str().unwrap_or_default().to_owned(),
        _ if target.is_empty() => "bitwobbly".to_owned(),
        _ => truncate_chars(target, 255),
    }
}

/// The event: `resolve` for a recovery, `trigger` otherwise.
pub(crate) fn render(alert: &Alert, routing_key: &str, message_id: &str) -> Value {
    let dedup_key = dedup_key(alert, message_id);
    if alert.kind.is_resolution() {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        });
    }
    let summary = match &alert.reason {
        Some(reason) => format!("{} - {reason}", alert.title()),
        None => alert.title(),
    };
    let details: serde_json::Map<String, Value> = text::facts(alert)
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_lowercase(),
                Value::String(truncate_chars(&v, DETAIL_MAX)),
            )
        })
        .collect();
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": truncate_chars(&summary, SUMMARY_MAX),
            "source": source(&alert.target),
            "severity": severity(alert.kind),
            "timestamp": text::raised(alert),
            "component": truncate_chars(&alert.monitor, 255),
            "class": alert.kind.event(),
            "custom_details": details,
        },
        "client": "Bit Wobbly",
    });
    if Url::parse(&alert.link).is_ok() {
        event["client_url"] = Value::String(alert.link.clone());
        event["links"] = json!([{ "href": alert.link, "text": "Open in Bit Wobbly" }]);
    }
    event
}
