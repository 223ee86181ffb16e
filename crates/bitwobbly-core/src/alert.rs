//! What an alert says, independent of the channel that carries it.
//!
//! The server builds an [`Alert`] when an incident opens, changes or resolves and stores it in
//! the notification outbox; each channel renders the same alert in its own format and within
//! its own size limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertKind {
    /// The monitor went down: an incident opened.
    Down,
    /// The monitor is degraded (slow or a soft assertion failed).
    Degraded,
    /// The monitor keeps changing state; one alert stands for the whole episode.
    Flapping,
    /// The monitor recovered: the incident is resolved.
    Recovered,
    /// A test sent from the API to check a channel's settings.
    Test,
    /// A notification channel was disabled (its receiver answered 410 Gone); sent to the
    /// workspace's other channels so that the owner hears of it.
    ChannelDisabled,
    /// An error-tracking issue was seen for the first time. For issue alerts `monitor` holds
    /// the issue's title, `target` the project's name, `reason` a summary (culprit, counts,
    /// release, environment) and `started_at` the issue's first event.
    NewIssue,
    /// A resolved issue received a new event and is open again.
    Regression,
    /// An issue received more events within its window than the project's frequency
    /// threshold.
    FrequentIssue,
}

impl AlertKind {
    /// The stable event name, e.g. `incident.opened`.
    pub fn event(self) -> &'static str {
        match self {
            Self::Down | Self::Degraded | Self::Flapping => "incident.opened",
            Self::Recovered => "incident.resolved",
            Self::Test => "channel.test",
            Self::ChannelDisabled => "channel.disabled",
            Self::NewIssue => "issue.created",
            Self::Regression => "issue.regressed",
            Self::FrequentIssue => "issue.frequent",
        }
    }

    /// A short word for titles: `DOWN`, `DEGRADED`, `FLAPPING`, `RECOVERED`, `TEST`,
    /// `CHANNEL DISABLED`, `NEW ISSUE`, `REGRESSION`, `FREQUENT ISSUE`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Down => "DOWN",
            Self::Degraded => "DEGRADED",
            Self::Flapping => "FLAPPING",
            Self::Recovered => "RECOVERED",
            Self::Test => "TEST",
            Self::ChannelDisabled => "CHANNEL DISABLED",
            Self::NewIssue => "NEW ISSUE",
            Self::Regression => "REGRESSION",
            Self::FrequentIssue => "FREQUENT ISSUE",
        }
    }

    /// Whether this is good news.
    pub fn is_resolution(self) -> bool {
        matches!(self, Self::Recovered)
    }

    /// Whether this is about an error-tracking issue rather than a monitor.
    pub fn is_issue(self) -> bool {
        matches!(
            self,
            Self::NewIssue | Self::Regression | Self::FrequentIssue
        )
    }
}

/// One alert, as stored in the outbox and rendered by every channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What happened.
    pub kind: AlertKind,
    /// The incident's id (stable across the opened and resolved alerts; the PagerDuty dedup
    /// key is derived from it). `None` for tests.
    pub incident_id: Option<i64>,
    /// The monitor's id.
    pub monitor_id: Option<i64>,
    /// The monitor's name.
    pub monitor: String,
    /// What it checks: a URL, `host:port`, a DNS name, or `heartbeat`.
    pub target: String,
    /// Why (the failing check's reason), when bad.
    pub reason: Option<String>,
    /// When the trouble started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long it lasted (set when recovered).
    #[serde(with = "humantime_serde", default)]
    pub duration: Option<Duration>,
    /// A link to the monitor or incident in the dashboard.
    pub link: String,
    /// When this alert was raised.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Alert {
    /// A one-line title, e.g. `DOWN: API health (https://api.example.com/health)`.
    pub fn title(&self) -> String {
        format!("{}: {} ({})", self.kind.label(), self.monitor, self.target)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn alert(kind: AlertKind) -> Alert {
        Alert {
            kind,
            incident_id: Some(7),
            monitor_id: Some(3),
            monitor: "API".into(),
            target: "https://api.example.test/health".into(),
            reason: Some("status 503 is not 2xx".into()),
            started_at: datetime!(2025-01-01 10:00 UTC),
            duration: (kind == AlertKind::Recovered).then(|| Duration::from_secs(125)),
            link: "http://127.0.0.1:8080/monitors/3".into(),
            at: datetime!(2025-01-01 10:02:05 UTC),
        }
    }

    #[test]
    fn title() {
        let a = alert(AlertKind::Recovered);
        assert_eq!(
            a.title(),
            "RECOVERED: API (https://api.example.test/health)"
        );
    }

    #[test]
    fn issue_kinds_have_their_own_events() {
        assert_eq!(AlertKind::NewIssue.event(), "issue.created");
        assert_eq!(AlertKind::Regression.event(), "issue.regressed");
        assert_eq!(AlertKind::FrequentIssue.event(), "issue.frequent");
        assert!(AlertKind::NewIssue.is_issue());
        assert!(!AlertKind::Down.is_issue());
        let a = Alert {
            monitor: "ZeroDivisionError: division by zero".into(),
            target: "backend".into(),
            ..alert(AlertKind::Regression)
        };
        assert_eq!(
            a.title(),
            "REGRESSION: ZeroDivisionError: division by zero (backend)"
        );
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["kind"], "regression");
    }

    #[test]
    fn round_trips_as_json() {
        let a = alert(AlertKind::Down);
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["kind"], "down");
        let back: Alert = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
