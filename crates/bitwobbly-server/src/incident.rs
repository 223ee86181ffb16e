//! Incidents opened and resolved by the monitor state machine, and the alerts they raise.
//!
//! [`apply_transition`] runs inside the transaction that writes the monitor's new state, so
//! the incident change and its outbox rows commit (or roll back) together with it: a
//! process killed at any point neither loses an alert nor sends one for a change that did
//! not happen.

use bitwobbly_core::alert::Alert;
use bitwobbly_core::monitor::{alert_kind, describe, incident_title};
use bitwobbly_core::state::{Condition, Transition};
use bitwobbly_store::Tx;
use bitwobbly_store::api::{IncidentStore, NotificationStore};
use bitwobbly_store::model::{Incident, Monitor, NewIncident, NewNotification};
use bitwobbly_store::types::{
    ChannelId, Impact, IncidentId, IncidentKind, IncidentStatus, Timestamp, WorkspaceId,
};

/// What [`apply_transition`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Applied {
    /// The incident opened, updated or resolved, if any.
    pub incident: Option<IncidentId>,
    /// Whether an incident was opened.
    pub opened: bool,
    /// Whether an incident was resolved.
    pub resolved: bool,
    /// Outbox rows enqueued (one per enabled channel of the monitor).
    pub notifications: usize,
}

/// Applies a state-machine transition of `monitor` inside `tx`: opens an incident when the
/// monitor goes bad (impact major when down, minor when degraded or flapping), posts an
/// update when an open incident changes, resolves it on recovery (the outage duration in
/// the message), and enqueues an alert for every enabled channel of the monitor.
///
/// A flapping monitor opens one incident and raises one alert for the whole episode (the
/// state machine collapses the changes). A suppressed transition (maintenance, parent
/// down) raises no alert; it is noted on the open incident if there is one.
///
/// `public_url` (no trailing slash) makes the alert's link `<public_url>/monitors/<id>`.
///
/// # Errors
///
/// A store error; the caller rolls the transaction back.
pub async fn apply_transition(
    tx: &mut Tx,
    monitor: &Monitor,
    transition: &Transition,
    now: Timestamp,
    public_url: &str,
) -> bitwobbly_store::Result<Applied> {
    let ws = monitor.workspace_id;
    let Some(message) = describe(transition) else {
        return Ok(Applied::default());
    };
    let open = tx
        .workspace(ws)
        .open_incident_for_monitor(monitor.id)
        .await?;
    let mut applied = Applied::default();
    let (incident, started_at, reason, duration): (
        Option<Incident>,
        Timestamp,
        Option<String>,
        Option<std::time::Duration>,
    ) = match transition {
        Transition::None => return Ok(applied),
        Transition::Suppressed { .. } => {
            if let Some(inc) = open {
                tx.workspace(ws)
                    .add_incident_update(inc.id, inc.status, &message, now)
                    .await?;
                applied.incident = Some(inc.id);
            }
            return Ok(applied);
        }
        Transition::WentDown { reason, since, .. } | Transition::Degraded { reason, since, .. } => {
            let condition = if matches!(transition, Transition::WentDown { .. }) {
                Condition::Down
            } else {
                Condition::Degraded
            };
            let inc = open_or_update(
                tx,
                monitor,
                open,
                condition,
                reason.as_deref(),
                Timestamp::from(*since),
                &message,
                now,
                &mut applied,
            )
            .await?;
            let started = inc.started_at;
            (Some(inc), started, reason.clone(), None)
        }
        Transition::Flapping { .. } => {
            let inc = open_or_update(
                tx,
                monitor,
                open,
                Condition::Flapping,
                None,
                now,
                &message,
                now,
                &mut applied,
            )
            .await?;
            let started = inc.started_at;
            (Some(inc), started, None, None)
        }
        Transition::Recovered { outage, .. } => {
            let started = open
                .as_ref()
                .map_or_else(|| now.minus(*outage), |i| i.started_at);
            if let Some(inc) = &open {
                tx.workspace(ws)
                    .resolve_incident(inc.id, now, &message)
                    .await?;
                applied.resolved = true;
            }
            (open, started, None, Some(*outage))
        }
    };
    applied.incident = incident.as_ref().map(|i| i.id);
    if let Some(inc) = &incident {
        // The pages showing the incident tell their subscribers, in this transaction too.
        use crate::pages::subscribe::{IncidentEvent, enqueue_incident};
        let event = if applied.resolved {
            IncidentEvent::Resolved
        } else if applied.opened {
            IncidentEvent::Created
        } else {
            IncidentEvent::Updated
        };
        enqueue_incident(tx, inc, event, &message, now).await?;
    }
    let Some(kind) = alert_kind(transition) else {
        return Ok(applied);
    };
    let alert = Alert {
        kind,
        incident_id: applied.incident.map(|i| i.0),
        monitor_id: Some(monitor.id.0),
        monitor: monitor.name.clone(),
        target: monitor.spec.target(),
        reason,
        started_at: started_at.to_datetime(),
        duration,
        link: format!("{public_url}/monitors/{}", monitor.id.0),
        at: now.to_datetime(),
    };
    applied.notifications = enqueue(tx, monitor, &alert, now).await?;
    Ok(applied)
}

/// Posts `message` on the open incident, or opens one.
#[allow(clippy::too_many_arguments)]
async fn open_or_update(
    tx: &mut Tx,
    monitor: &Monitor,
    open: Option<Incident>,
    condition: Condition,
    reason: Option<&str>,
    since: Timestamp,
    message: &str,
    now: Timestamp,
    applied: &mut Applied,
) -> bitwobbly_store::Result<Incident> {
    let ws = monitor.workspace_id;
    if let Some(inc) = open {
        tx.workspace(ws)
            .add_incident_update(inc.id, inc.status, message, now)
            .await?;
        return Ok(inc);
    }
    let impact = match condition {
        Condition::Down => Impact::Major,
        _ => Impact::Minor,
    };
    let inc = tx
        .workspace(ws)
        .open_incident(&NewIncident {
            monitor_id: Some(monitor.id),
            kind: IncidentKind::Automatic,
            title: incident_title(&monitor.name, condition, reason),
            status: IncidentStatus::Investigating,
            impact,
            message: message.to_owned(),
            started_at: since.min(now),
        })
        .await?;
    applied.opened = true;
    Ok(inc)
}

/// Puts `alert` in the outbox for every enabled channel of the monitor; returns how many.
async fn enqueue(
    tx: &mut Tx,
    monitor: &Monitor,
    alert: &Alert,
    now: Timestamp,
) -> bitwobbly_store::Result<usize> {
    let ws = monitor.workspace_id;
    let channels = tx.workspace(ws).channels_for_monitor(monitor.id).await?;
    let enabled: Vec<ChannelId> = channels
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.id)
        .collect();
    enqueue_alert(tx, ws, &enabled, alert, now).await
}

/// Puts `alert` in the outbox of workspace `ws` for each of `channels` (the caller picks
/// them: enabled ones only), due at once, inside `tx`; returns how many rows were written.
/// Monitor incidents and issue alerts (`crate::ingest::alerts`) both go through here.
///
/// # Errors
///
/// A store error; the caller rolls the transaction back.
pub async fn enqueue_alert(
    tx: &mut Tx,
    ws: WorkspaceId,
    channels: &[ChannelId],
    alert: &Alert,
    now: Timestamp,
) -> bitwobbly_store::Result<usize> {
    if channels.is_empty() {
        return Ok(0);
    }
    let payload =
        serde_json::to_value(alert).map_err(|source| bitwobbly_store::StoreError::Json {
            what: "alert",
            source,
        })?;
    let event = alert.kind.event();
    for id in channels {
        tx.workspace(ws)
            .enqueue_notification(
                &NewNotification {
                    channel_id: *id,
                    event: event.to_owned(),
                    payload: payload.clone(),
                    not_before: now,
                },
                now,
            )
            .await?;
    }
    Ok(channels.len())
}
