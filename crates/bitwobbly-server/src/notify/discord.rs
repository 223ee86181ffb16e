//! Discord webhooks (execute webhook).
//!
//! Settings: `{"url": "https://discord.com/api/webhooks/<id>/<token>"}`. One embed: the title
//! (256 characters), the reason as description (4,096), the facts as fields (name 256, value
//! 1,024), a colour per kind, the link and a timestamp; all of the embed within 6,000
//! characters. `allowed_mentions` is empty so a monitor name cannot ping `@everyone`.

use bitwobbly_core::alert::{Alert, AlertKind};
use serde_json::{Value, json};
use url::Url;

use super::text::{self, truncate_chars};

/// Embed limits, in characters.
pub(crate) const TITLE_MAX: usize = 256;
/// Longest embed description.
pub(crate) const DESCRIPTION_MAX: usize = 4096;
/// Longest field value.
pub(crate) const FIELD_VALUE_MAX: usize = 1024;
/// Longest embed, all texts together.
pub(crate) const EMBED_TOTAL_MAX: usize = 6000;
const FOOTER: &str = "Bit Wobbly";

/// The embed colour (RGB as an integer) of an alert kind.
fn color(kind: AlertKind) -> u32 {
    match kind {
        AlertKind::Down => 0xd0_00_00,
        AlertKind::Recovered => 0x2e_b6_7d,
        AlertKind::Test => 0x3b_82_f6,
        _ => 0xf0_a0_00,
    }
}

/// Discord refuses empty field values.
fn non_empty(s: String) -> String {
    if s.trim().is_empty() {
        "-".to_owned()
    } else {
        s
    }
}

/// The message body.
pub(crate) fn render(alert: &Alert) -> Value {
    let title = truncate_chars(&alert.title(), TITLE_MAX);
    let fields: Vec<(&str, String)> = text::facts(alert)
        .into_iter()
        .filter(|(name, _)| *name != text::reason_label(alert))
        .map(|(name, value)| (name, non_empty(truncate_chars(&value, FIELD_VALUE_MAX))))
        .collect();
    let used = title.chars().count()
        + FOOTER.len()
        + fields
            .iter()
            .map(|(n, v)| n.len() + v.chars().count())
            .sum::<usize>();
    let room = EMBED_TOTAL_MAX.saturating_sub(used).min(DESCRIPTION_MAX);
    let description = truncate_chars(text::reason(alert), room);
    let mut embed = json!({
        "title": title,
        "description": description,
        "color": color(alert.kind),
        "timestamp": text::raised(alert),
        "fields": fields
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value, "inline": *name != "Link" }))
            .collect::<Vec<_>>(),
        "footer": { "text": FOOTER },
    });
    if Url::parse(&alert.link).is_ok() {
        embed["url"] = Value::String(alert.link.clone());
    }
    json!({
        "username": "Bit Wobbly",
        "embeds": [embed],
        "allowed_mentions": { "parse": [] },
    })
}
