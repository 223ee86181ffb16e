//! Sentry Crons: `check_in` items become pings of ordinary heartbeat monitors.
//!
//! A check-in names its monitor by slug. The first check-in of a slug that carries a
//! `monitor_config` creates a heartbeat monitor ([`CheckSpec::Heartbeat`]) in the project's
//! workspace, linked to the project and slug in `cron_monitors` and alerting on the project's
//! channels; later configs update it. The mapping:
//!
//! | `monitor_config` | heartbeat monitor |
//! | --- | --- |
//! | `schedule` crontab + `timezone` | `expect = cron` in that zone (UTC when absent) |
//! | `schedule` interval `value` `unit` | `expect = period` (month = 30 days, year = 365) |
//! | `checkin_margin` (minutes, default 1) | `grace` |
//! | `max_runtime` (minutes, default 30, at most 40,320) | `max_runtime` |
//! | `failure_issue_threshold` (default 1) | down after that many consecutive failures (at most 100) |
//! | `recovery_threshold` (default 1) | up after that many consecutive successes (at most 100) |
//!
//! A check-in is one row of `check_ins`, updated in place by its later updates (the same
//! `check_in_id` and slug; the nil id means the slug's latest check-in in progress), as in
//! Sentry: `in_progress` then `ok` or `error` is one row that ends with the final status and
//! the duration of the closing update (or the time between the two). An update of a
//! check-in that already finished is dropped (when the end arrived first, the late
//! `in_progress` only links the monitor its config created and feeds it the result). Every
//! other check-in is fed to the monitor through [`crate::heartbeat::apply_ping`], the same code
//! path as `/ping`: `in_progress` is a start, `ok` a success, `error` a failure. A missed check-in (no ping by the deadline) or a timed-out
//! run (`in_progress` without an end within `max_runtime`) is then judged by the scheduler
//! like any heartbeat monitor: down, an incident and alerts.
//!
//! A check-in for a slug that has no monitor and carries no (valid) `monitor_config` is
//! recorded with `monitor_id` NULL and its status as sent, and nothing else happens (Sentry
//! drops such check-ins with a processing error; keeping the row shows the user what
//! arrived). An invalid config on an existing monitor is ignored, as in Sentry. A status other
//! than `in_progress`, `ok` or `error` is recorded and not fed to the monitor.

use std::time::Duration;

use bitwobbly_core::CheckSpec;
use bitwobbly_core::heartbeat::{HeartbeatPolicy, Ping};
use bitwobbly_core::schedule::{CronSchedule, Schedule};
use bitwobbly_core::state::Thresholds;
use bitwobbly_envelope::{CheckIn as SentryCheckIn, CheckInStatus as SentryStatus, IntervalUnit};
use bitwobbly_store::Tx;
use bitwobbly_store::api::{IngestDedup, IngestStore, MonitorStore};
use bitwobbly_store::model::{CheckIn, CheckInUpdate, Monitor, NewCheckIn, NewMonitor};
use bitwobbly_store::types::{CheckInStatus, ProjectId, Timestamp, WorkspaceId};

use crate::AppState;

/// Longest slug kept (Relay truncates to 50 characters).
pub const MAX_SLUG: usize = 50;
/// Longest environment accepted (Relay rejects longer ones).
pub const MAX_ENVIRONMENT: usize = 64;
/// Sentry's default margin, in minutes.
const DEFAULT_MARGIN_MIN: u64 = 1;
/// Sentry's default run time limit, in minutes.
const DEFAULT_MAX_RUNTIME_MIN: u64 = 30;
/// Sentry's largest run time limit, in minutes (28 days).
const MAX_RUNTIME_MIN: u64 = 40_320;
/// The most consecutive results the state machine looks at.
const MAX_THRESHOLD: u64 = 100;

/// Why a check-in was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckInError {
    /// The slug is empty.
    #[error("check-in monitor_slug is empty")]
    EmptySlug,
    /// The environment is longer than [`MAX_ENVIRONMENT`].
    #[error("check-in environment is longer than 64 characters")]
    EnvironmentTooLong,
    /// An update of a check-in that already finished (Sentry drops it too).
    #[error("check-in already finished")]
    AlreadyFinished,
}

/// A `monitor_config` turned into a heartbeat policy and thresholds.
///
/// # Errors
///
/// A message naming the bad setting (schedule, time zone, period range).
pub fn policy_from_config(
    config: &bitwobbly_envelope::MonitorConfig<'_>,
) -> Result<(HeartbeatPolicy, Thresholds), String> {
    let margin = config.checkin_margin.unwrap_or(DEFAULT_MARGIN_MIN);
    let grace = Duration::from_secs(margin.min(MAX_RUNTIME_MIN) * 60);
    let runtime = config
        .max_runtime
        .unwrap_or(DEFAULT_MAX_RUNTIME_MIN)
        .clamp(1, MAX_RUNTIME_MIN);
    let policy = match &config.schedule {
        bitwobbly_envelope::Schedule::Crontab { value } => {
            let tz = config.timezone.as_deref().unwrap_or("UTC");
            let cron = CronSchedule::new(value, tz).map_err(|e| format!("schedule: {e}"))?;
            HeartbeatPolicy::cron(cron, grace)
        }
        bitwobbly_envelope::Schedule::Interval { value, unit } => {
            let unit_secs: u64 = match unit {
                IntervalUnit::Minute => 60,
                IntervalUnit::Hour => 3600,
                IntervalUnit::Day => 86_400,
                IntervalUnit::Week => 7 * 86_400,
                IntervalUnit::Month => 30 * 86_400,
                IntervalUnit::Year => 365 * 86_400,
                _ => return Err("schedule.unit: unknown unit".to_owned()),
            };
            let secs = value
                .checked_mul(unit_secs)
                .ok_or_else(|| "schedule.value: too large".to_owned())?;
            HeartbeatPolicy::every(Duration::from_secs(secs), grace)
        }
    }
    .with_max_runtime(Duration::from_secs(runtime * 60));
    policy.validate().map_err(|e| e.to_string())?;
    let threshold = |v: Option<u64>| -> u32 {
        u32::try_from(v.unwrap_or(1).clamp(1, MAX_THRESHOLD)).unwrap_or(1)
    };
    let down = threshold(config.failure_issue_threshold);
    let up = threshold(config.recovery_threshold);
    let mut thresholds = Thresholds::default();
    thresholds.down_after = down;
    thresholds.degraded_after = down;
    thresholds.window = down;
    thresholds.recover_after = up;
    thresholds.flap_changes = 0;
    thresholds.validate().map_err(|e| e.to_string())?;
    Ok((policy, thresholds))
}

/// What a check-in status means to a heartbeat monitor.
fn ping_of(status: SentryStatus) -> Option<Ping> {
    match status {
        SentryStatus::InProgress => Some(Ping::Start),
        SentryStatus::Ok => Some(Ping::Success),
        SentryStatus::Error => Some(Ping::Fail),
        _ => None,
    }
}

fn stored_status(status: SentryStatus) -> CheckInStatus {
    match status {
        SentryStatus::InProgress => CheckInStatus::InProgress,
        SentryStatus::Ok => CheckInStatus::Ok,
        SentryStatus::Error => CheckInStatus::Error,
        _ => CheckInStatus::Unknown,
    }
}

/// Records one check-in inside `tx`: creates or updates its monitor from `monitor_config`,
/// stores the check-in row and feeds the ping to the monitor (see the [module docs](self)).
///
/// # Errors
///
/// [`CheckInError`] (inside `Ok(Err(..))`) for a check-in that is not recorded; a store error
/// for the caller to roll back.
pub async fn record(
    tx: &mut Tx,
    state: &AppState,
    ws: WorkspaceId,
    project: ProjectId,
    check_in: &SentryCheckIn<'_>,
    now: Timestamp,
) -> bitwobbly_store::Result<Result<(), CheckInError>> {
    let slug: String = check_in
        .monitor_slug
        .trim()
        .chars()
        .take(MAX_SLUG)
        .collect();
    if slug.is_empty() {
        return Ok(Err(CheckInError::EmptySlug));
    }
    if check_in
        .environment
        .as_deref()
        .is_some_and(|e| e.chars().count() > MAX_ENVIRONMENT)
    {
        return Ok(Err(CheckInError::EnvironmentTooLong));
    }
    let monitor = upsert_monitor(tx, ws, project, &slug, check_in, now).await?;
    // The nil id (or none) names the slug's latest check-in in progress.
    let sent_id = check_in
        .check_in_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.chars().all(|c| c == '0' || c == '-'))
        .map(|s| bitwobbly_core::monitor::truncate_chars(s, 64));
    let check_in_id = sent_id
        .clone()
        .unwrap_or_else(|| "00000000000000000000000000000000".to_owned());
    let duration_ms = check_in
        .duration
        .filter(|d| d.is_finite() && *d >= 0.0)
        .map(|d| (d * 1000.0).min(1e15) as i64);
    if sent_id.is_some() || check_in.status != SentryStatus::InProgress {
        let open = tx
            .workspace(ws)
            .check_in_to_update(project, &slug, sent_id.as_deref())
            .await?;
        if let Some(open) = open {
            return update_in_place(tx, state, ws, &open, monitor, check_in, duration_ms, now)
                .await;
        }
    }
    tx.workspace(ws)
        .insert_check_in(&NewCheckIn {
            project_id: project,
            check_in_id,
            monitor_slug: slug,
            status: stored_status(check_in.status),
            duration_ms,
            environment: check_in.environment.as_deref().map(str::to_owned),
            received_at: now,
            release: release_of(check_in),
            monitor_id: monitor.as_ref().map(|m| m.id),
        })
        .await?;
    if let (Some(monitor), Some(ping)) = (monitor, ping_of(check_in.status)) {
        crate::heartbeat::apply_ping(tx, state, &monitor, ping, None, &[], now).await?;
    }
    Ok(Ok(()))
}

/// The check-in's release, clipped to 200 characters.
fn release_of(check_in: &SentryCheckIn<'_>) -> Option<String> {
    check_in
        .release
        .as_deref()
        .map(|r| bitwobbly_core::monitor::truncate_chars(r, 200))
}

/// A later update of a stored check-in (same id, or the nil id and the latest one in
/// progress), as Sentry does it: the row takes the new status, and a finishing update its
/// duration (from the SDK, else the time since the check-in arrived); the monitor gets the
/// ping. An update of a check-in that already finished is dropped, unless it brings the
/// monitor the finished check-in lacked (its end arrived first).
#[allow(clippy::too_many_arguments)]
async fn update_in_place(
    tx: &mut Tx,
    state: &AppState,
    ws: WorkspaceId,
    open: &CheckIn,
    monitor: Option<Monitor>,
    check_in: &SentryCheckIn<'_>,
    duration_ms: Option<i64>,
    now: Timestamp,
) -> bitwobbly_store::Result<Result<(), CheckInError>> {
    if open.check_in.status != CheckInStatus::InProgress {
        // SDKs send a run's updates concurrently, so the end may arrive first, before the
        // `in_progress` that carries the `monitor_config` creating the monitor: the finished
        // check-in then gets the monitor and the monitor its result. Otherwise it is dropped.
        let result = match open.check_in.status {
            CheckInStatus::Ok => Some(Ping::Success),
            CheckInStatus::Error => Some(Ping::Fail),
            _ => None,
        };
        let (None, Some(monitor), Some(ping)) = (open.check_in.monitor_id, monitor, result) else {
            return Ok(Err(CheckInError::AlreadyFinished));
        };
        tx.workspace(ws)
            .update_check_in(
                open.id,
                &CheckInUpdate {
                    status: open.check_in.status,
                    duration_ms: None,
                    environment: None,
                    release: None,
                    monitor_id: Some(monitor.id),
                },
            )
            .await?;
        crate::heartbeat::apply_ping(tx, state, &monitor, ping, None, &[], now).await?;
        return Ok(Ok(()));
    }
    let status = stored_status(check_in.status);
    let finishing = status != CheckInStatus::InProgress;
    let duration_ms = duration_ms.or_else(|| {
        finishing.then(|| (now.as_millis() - open.check_in.received_at.as_millis()).max(0))
    });
    tx.workspace(ws)
        .update_check_in(
            open.id,
            &CheckInUpdate {
                status,
                duration_ms,
                environment: check_in.environment.as_deref().map(str::to_owned),
                release: release_of(check_in),
                monitor_id: monitor.as_ref().map(|m| m.id),
            },
        )
        .await?;
    // A repeated `in_progress` keeps the run going: no second start.
    if let (Some(monitor), Some(ping), true) = (monitor, ping_of(check_in.status), finishing) {
        crate::heartbeat::apply_ping(tx, state, &monitor, ping, None, &[], now).await?;
    }
    Ok(Ok(()))
}

/// The slug's monitor: created or updated from the check-in's config, or as it is.
async fn upsert_monitor(
    tx: &mut Tx,
    ws: WorkspaceId,
    project: ProjectId,
    slug: &str,
    check_in: &SentryCheckIn<'_>,
    now: Timestamp,
) -> bitwobbly_store::Result<Option<Monitor>> {
    let link = tx.workspace(ws).cron_monitor(project, slug).await?;
    let existing = match &link {
        Some(l) => tx.workspace(ws).monitor(l.monitor_id).await?,
        None => None,
    };
    let Some(config) = &check_in.monitor_config else {
        return Ok(existing);
    };
    let (policy, thresholds) = match policy_from_config(config) {
        Ok(p) => p,
        Err(problem) => {
            tracing::debug!(
                project_id = project.0,
                slug,
                problem,
                "invalid monitor_config ignored"
            );
            return Ok(existing);
        }
    };
    let config_json = serde_json::json!({
        "schedule": match &config.schedule {
            bitwobbly_envelope::Schedule::Crontab { value } =>
                serde_json::json!({"type": "crontab", "value": value}),
            bitwobbly_envelope::Schedule::Interval { value, unit } =>
                serde_json::json!({"type": "interval", "value": value, "unit": format!("{unit:?}").to_lowercase()}),
        },
        "timezone": config.timezone,
        "checkin_margin": config.checkin_margin,
        "max_runtime": config.max_runtime,
        "failure_issue_threshold": config.failure_issue_threshold,
        "recovery_threshold": config.recovery_threshold,
    })
    .to_string();
    let spec = CheckSpec::Heartbeat(policy);
    if let Some(m) = existing {
        if m.spec == spec && m.thresholds == thresholds {
            return Ok(Some(m));
        }
        let new = NewMonitor {
            key: m.key.clone(),
            name: m.name.clone(),
            spec,
            schedule: m.schedule.clone(),
            thresholds,
            parent_id: m.parent_id,
            paused: m.paused,
            locations: m.locations.clone(),
            quorum: m.quorum,
        };
        let updated = tx.workspace(ws).update_monitor(m.id, &new, now).await?;
        tx.workspace(ws)
            .upsert_cron_monitor(project, slug, m.id, Some(&config_json), now)
            .await?;
        return Ok(Some(updated));
    }
    let project_row = tx.workspace(ws).project(project).await?;
    let project_name = project_row.map_or_else(|| project.0.to_string(), |p| p.slug);
    let new = NewMonitor {
        key: Some(format!("cron-{}-{slug}", project.0)),
        name: bitwobbly_core::monitor::truncate_chars(&format!("{project_name} cron {slug}"), 200),
        spec,
        // Heartbeat monitors follow their pings; the schedule is not used.
        schedule: Schedule::interval(Duration::from_secs(60)).map_err(|e| {
            bitwobbly_store::StoreError::Invalid {
                field: "schedule",
                problem: e.to_string(),
            }
        })?,
        thresholds,
        parent_id: None,
        paused: false,
        locations: vec![],
        quorum: Default::default(),
    };
    let monitor = tx.workspace(ws).create_monitor(&new, now).await?;
    let channels = tx.workspace(ws).project_channels(project).await?;
    tx.workspace(ws)
        .set_monitor_channels(monitor.id, &channels)
        .await?;
    tx.workspace(ws)
        .upsert_cron_monitor(project, slug, monitor.id, Some(&config_json), now)
        .await?;
    tracing::debug!(
        project_id = project.0,
        slug,
        monitor_id = monitor.id.0,
        "cron monitor created"
    );
    Ok(Some(monitor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitwobbly_core::heartbeat::Expect;

    fn config(json: &str) -> Result<(HeartbeatPolicy, Thresholds), String> {
        let c: bitwobbly_envelope::MonitorConfig<'_> = serde_json::from_str(json).unwrap();
        policy_from_config(&c)
    }

    #[test]
    fn interval_and_crontab_configs_map_to_policies() {
        let (p, t) = config(
            r#"{"schedule":{"type":"interval","value":5,"unit":"minute"},"checkin_margin":2,
               "max_runtime":10,"failure_issue_threshold":3,"recovery_threshold":2}"#,
        )
        .unwrap();
        assert_eq!(
            p.expect,
            Expect::Period {
                period: Duration::from_secs(300)
            }
        );
        assert_eq!(p.grace, Duration::from_secs(120));
        assert_eq!(p.max_runtime, Some(Duration::from_secs(600)));
        assert_eq!((t.down_after, t.window, t.recover_after), (3, 3, 2));

        let (p, t) = config(
            r#"{"schedule":{"type":"crontab","value":"0 * * * *"},"timezone":"Europe/Vienna"}"#,
        )
        .unwrap();
        assert!(matches!(p.expect, Expect::Cron { .. }));
        assert_eq!(p.grace, Duration::from_secs(60));
        assert_eq!(p.max_runtime, Some(Duration::from_secs(30 * 60)));
        assert_eq!((t.down_after, t.recover_after), (1, 1));
    }

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        assert!(config(r#"{"schedule":{"type":"crontab","value":"not cron"}}"#).is_err());
        assert!(
            config(r#"{"schedule":{"type":"crontab","value":"0 * * * *"},"timezone":"Mars/Base"}"#)
                .is_err()
        );
        assert!(
            config(
                r#"{"schedule":{"type":"interval","value":18446744073709551615,"unit":"year"}}"#
            )
            .is_err()
        );
        // Thresholds beyond the state machine's window are clamped, not refused.
        let (_, t) = config(
            r#"{"schedule":{"type":"interval","value":1,"unit":"hour"},"failure_issue_threshold":720}"#,
        )
        .unwrap();
        assert_eq!(t.down_after, 100);
    }
}
