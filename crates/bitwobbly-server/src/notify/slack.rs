//! Slack incoming webhooks.
//!
//! Settings: `{"url": "https://hooks.slack.com/services/..."}`. The message has a plain-text
//! `text` (shown in push notifications), a `header` block and, in a coloured attachment, the
//! facts as section fields, the reason and a context line with the link. Limits: header 150
//! characters, section text 3,000, each field 2,000; user text is escaped so a monitor name
//! cannot mention `<!channel>`.

use bitwobbly_core::alert::{Alert, AlertKind};
use serde_json::{Value, json};

use super::text::{self, slack_escape, truncate_chars};

const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;

/// The attachment colour of an alert kind.
fn color(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Down => "#d00000",
        AlertKind::Recovered => "#2eb67d",
        AlertKind::Test => "#3b82f6",
        _ => "#f0a000",
    }
}

/// The message body.
pub(crate) fn render(alert: &Alert) -> Value {
    let title = alert.title();
    let field = |label: &str, value: &str| {
        let value = slack_escape(value);
        json!({
            "type": "mrkdwn",
            "text": truncate_chars(&format!("*{label}*\n{value}"), FIELD_MAX),
        })
    };
    let reason_label = text::reason_label(alert);
    let reason = format!("*{reason_label}*\n{}", slack_escape(text::reason(alert)));
    // The facts as fields; the reason and the link have their own blocks.
    let fields: Vec<Value> = text::facts(alert)
        .iter()
        .filter(|(k, _)| *k != reason_label && *k != "Link")
        .map(|(k, v)| field(k, v))
        .collect();
    let link = format!(
        "Raised {} · <{}|Open in Bit Wobbly>",
        text::raised(alert),
        slack_escape(&alert.link)
    );
    json!({
        "text": truncate_chars(&slack_escape(&title), SECTION_MAX),
        "blocks": [{
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate_chars(&title, HEADER_MAX),
                "emoji": false,
            },
        }],
        "attachments": [{
            "color": color(alert.kind),
            "blocks": [
                {
                    "type": "section",
                    "fields": fields,
                },
                {
                    "type": "section",
                    "text": { "type": "mrkdwn", "text": truncate_chars(&reason, SECTION_MAX) },
                },
                {
                    "type": "context",
                    "elements": [{ "type": "mrkdwn", "text": truncate_chars(&link, SECTION_MAX) }],
                },
            ],
        }],
    })
}
