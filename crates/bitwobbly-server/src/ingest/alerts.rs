//! Issue alerts: a new issue, a regression, and an issue receiving more events within a window
//! than the project's frequency threshold.
//!
//! Alerts go through the same durable outbox as monitor alerts: a row per enabled channel of
//! the project (`project_channels`), written in the transaction that records the events, so the
//! issue change and its alerts commit or roll back together. Every channel renders them with
//! the shared text helpers ([`AlertKind::NewIssue`], [`AlertKind::Regression`],
//! [`AlertKind::FrequentIssue`]: `monitor` is the issue title, `target` the project).
//!
//! A frequency alert fires when an issue has at least `alert_frequency_count` events in the
//! last `alert_frequency_minutes` (per project, else `[ingest.processing]`), at most once per
//! window per issue (the time of the last one is kept on the issue).

use std::time::Duration;

use bitwobbly_core::alert::{Alert, AlertKind};
use bitwobbly_store::Tx;
use bitwobbly_store::api::{IngestStore, NotificationStore};
use bitwobbly_store::model::{Issue, IssueOutcome, Project};
use bitwobbly_store::types::{Timestamp, WorkspaceId};

/// A project's frequency-alert setting: `count` events within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frequency {
    /// Events that trigger the alert (0: off).
    pub count: i64,
    /// The window.
    pub window: Duration,
}

/// The alert for `issue` of `project`.
pub fn issue_alert(
    kind: AlertKind,
    project: &Project,
    issue: &Issue,
    public_url: &str,
    now: Timestamp,
) -> Alert {
    let mut details = vec![];
    if let Some(c) = issue.culprit.as_deref().filter(|c| !c.is_empty()) {
        details.push(c.to_owned());
    }
    details.push(format!(
        "{} event{}, {} user{}, level {}",
        issue.event_count,
        if issue.event_count == 1 { "" } else { "s" },
        issue.user_count,
        if issue.user_count == 1 { "" } else { "s" },
        issue.level
    ));
    Alert {
        kind,
        incident_id: None,
        monitor_id: None,
        monitor: issue.title.clone(),
        target: project.name.clone(),
        reason: Some(details.join(" · ")),
        started_at: issue.first_seen.to_datetime(),
        duration: None,
        link: format!(
            "{public_url}/projects/{}/issues/{}",
            project.id.0, issue.id.0
        ),
        at: now.to_datetime(),
    }
}

/// Enqueues the alerts a sighting calls for (new issue or regression, and a frequency alert
/// when the threshold is crossed) on the project's enabled channels, inside `tx`; returns how
/// many outbox rows were written.
///
/// # Errors
///
/// A store error; the caller rolls `tx` back.
pub async fn after_sighting(
    tx: &mut Tx,
    ws: WorkspaceId,
    project: &Project,
    outcome: &IssueOutcome,
    frequency: Frequency,
    public_url: &str,
    now: Timestamp,
) -> bitwobbly_store::Result<usize> {
    let mut kinds = vec![];
    if outcome.created {
        kinds.push(AlertKind::NewIssue);
    } else if outcome.regressed {
        kinds.push(AlertKind::Regression);
    }
    if frequency.count > 0 && !frequency.window.is_zero() {
        let since = now.minus(frequency.window);
        let issue = outcome.issue.id;
        if tx.workspace(ws).issue_events_since(issue, since).await? >= frequency.count
            && tx
                .workspace(ws)
                .claim_frequency_alert(issue, now, since)
                .await?
        {
            kinds.push(AlertKind::FrequentIssue);
        }
    }
    if kinds.is_empty() {
        return Ok(0);
    }
    let mut channels = vec![];
    for id in tx.workspace(ws).project_channels(project.id).await? {
        if tx
            .workspace(ws)
            .channel(id)
            .await?
            .is_some_and(|c| c.enabled)
        {
            channels.push(id);
        }
    }
    let mut n = 0;
    for kind in kinds {
        let alert = issue_alert(kind, project, &outcome.issue, public_url, now);
        n += crate::incident::enqueue_alert(tx, ws, &channels, &alert, now).await?;
    }
    Ok(n)
}
