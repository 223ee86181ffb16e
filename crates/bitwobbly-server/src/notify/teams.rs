//! Microsoft Teams through a Workflows (Power Automate) webhook.
//!
//! Settings: `{"url": "https://....logic.azure.com/workflows/..."}`. The body is a `message`
//! with one Adaptive Card (version 1.4: later versions were not rendered by Teams): a
//! coloured `Container` with the title (`attention` when bad, `good` when recovered), a
//! `FactSet` with the facts, the reason as text and an `Action.OpenUrl` to the link. Texts are
//! cut so the card stays well under Teams' 28 KB message limit.

use bitwobbly_core::alert::{Alert, AlertKind};
use serde_json::{Value, json};
use url::Url;

use super::text::{self, truncate_chars};

const TITLE_MAX: usize = 256;
const FACT_MAX: usize = 1024;
const REASON_MAX: usize = 8000;

/// The container style of an alert kind.
fn style(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Down => "attention",
        AlertKind::Recovered => "good",
        AlertKind::Test => "accent",
        _ => "warning",
    }
}

/// The message body.
pub(crate) fn render(alert: &Alert) -> Value {
    let facts: Vec<Value> = text::facts(alert)
        .into_iter()
        .filter(|(name, _)| *name != text::reason_label(alert))
        .map(|(name, value)| json!({ "title": name, "value": truncate_chars(&value, FACT_MAX) }))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "Container",
                "style": style(alert.kind),
                "bleed": true,
                "items": [{
                    "type": "TextBlock",
                    "text": truncate_chars(&alert.title(), TITLE_MAX),
                    "weight": "Bolder",
                    "size": "Medium",
                    "wrap": true,
                }],
            },
            { "type": "FactSet", "facts": facts },
            {
                "type": "TextBlock",
                "text": truncate_chars(&format!("{}: {}", text::reason_label(alert), text::reason(alert)), REASON_MAX),
                "wrap": true,
            },
        ],
        "msteams": { "width": "Full" },
    });
    if Url::parse(&alert.link).is_ok() {
        card["actions"] = json!([{
            "type": "Action.OpenUrl",
            "title": "Open in Bit Wobbly",
            "url": alert.link,
        }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}
