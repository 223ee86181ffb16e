//! Text helpers every channel shares: size limits that never split a character, escaping, and
//! the fields each message carries.

use std::time::Duration;

use bitwobbly_core::alert::Alert;
use time::format_description::well_known::Rfc3339;

/// The ellipsis that marks a truncated text.
pub(crate) const ELLIPSIS: char = '…';

/// `s` cut to at most `max` characters (Discord, Slack and Teams count characters).
pub(crate) use bitwobbly_core::monitor::truncate_chars;

/// `s` cut to at most `max` bytes of UTF-8, on a character boundary, ending with an ellipsis
/// when cut (ntfy, email and webhook bodies count bytes).
pub(crate) fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let room = max.saturating_sub(ELLIPSIS.len_utf8());
    if room == 0 {
        return String::new();
    }
    let mut end = room;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
    out.push_str(&s[..end]);
    out.push(ELLIPSIS);
    out
}

/// A text safe inside Slack `mrkdwn`: `&`, `<` and `>` escaped, so a monitor name cannot
/// mention `<!channel>`.
pub(crate) fn slack_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// When the trouble started, RFC 3339.
pub(crate) fn started(alert: &Alert) -> String {
    alert.started_at.format(&Rfc3339).unwrap_or_default()
}

/// When the alert was raised, RFC 3339.
pub(crate) fn raised(alert: &Alert) -> String {
    alert.at.format(&Rfc3339).unwrap_or_default()
}

/// How long it lasted, in whole seconds (`2m 5s`), or `ongoing`.
pub(crate) fn duration(alert: &Alert) -> String {
    match alert.duration {
        Some(d) => humantime::format_duration(Duration::from_secs(d.as_secs())).to_string(),
        None if alert.kind.is_resolution() => "unknown".to_owned(),
        None => "ongoing".to_owned(),
    }
}

/// The reason, or a dash.
pub(crate) fn reason(alert: &Alert) -> &str {
    alert.reason.as_deref().unwrap_or("-")
}

/// The label of the reason fact: `Reason`, or `Details` for an issue alert (where it
/// summarises the issue).
pub(crate) fn reason_label(alert: &Alert) -> &'static str {
    if alert.kind.is_issue() {
        "Details"
    } else {
        "Reason"
    }
}

/// The labelled facts every message carries, in order: monitor, target, reason, started,
/// duration, link; for an issue alert: issue, project, details, first seen, link. Values are
/// not truncated here.
pub(crate) fn facts(alert: &Alert) -> Vec<(&'static str, String)> {
    if alert.kind.is_issue() {
        return vec![
            ("Issue", alert.monitor.clone()),
            ("Project", alert.target.clone()),
            ("Details", reason(alert).to_owned()),
            ("First seen", started(alert)),
            ("Link", alert.link.clone()),
        ];
    }
    vec![
        ("Monitor", alert.monitor.clone()),
        ("Target", alert.target.clone()),
        ("Reason", reason(alert).to_owned()),
        ("Started", started(alert)),
        ("Duration", duration(alert)),
        ("Link", alert.link.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chars_are_cut_with_an_ellipsis() {
        assert_eq!(truncate_chars("hello", 5), "hello");
        assert_eq!(truncate_chars("hello!", 5), "hell…");
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn bytes_never_split_a_character() {
        assert_eq!(truncate_bytes("hello", 5), "hello");
        // "é" is 2 bytes, the ellipsis 3: 7 bytes leave room for 4 bytes of text.
        let cut = truncate_bytes("éééééé", 7);
        assert_eq!(cut, "éé…");
        assert!(cut.len() <= 7);
        // A 4-byte character straddling the limit is dropped whole.
        let cut = truncate_bytes("a🦀🦀", 6);
        assert_eq!(cut, "a…");
        for max in 0..20 {
            let s = truncate_bytes("ü🦀x€yz🦀", max);
            assert!(s.len() <= max, "{max}: {s}");
        }
    }

    #[test]
    fn slack_text_is_escaped() {
        assert_eq!(slack_escape("<!channel> & co"), "&lt;!channel&gt; &amp; co");
    }
}
