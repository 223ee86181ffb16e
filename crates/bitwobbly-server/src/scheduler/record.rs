//! Running one claimed monitor and recording what it found.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bitwobbly_core::heartbeat::HeartbeatState;
use bitwobbly_core::monitor::{judge_heartbeat, next_run, schedule_key};
use bitwobbly_core::schedule::CatchUp;
use bitwobbly_core::state::{Context, Health, Outcome, Transition};
use bitwobbly_core::{CheckError, CheckReport, ErrorKind, Phase, Status};
use bitwobbly_store::api::{MonitorStore, ResultStore, ScheduleStore, StatusPageStore};
use bitwobbly_store::model::{
    ClaimedMonitor, Monitor, MonitorState, NewCheckResult, PhaseTimes, StateUpdate,
};
use bitwobbly_store::types::{CheckStatus, MonitorId, MonitorStatus, Timestamp};
use bitwobbly_store::{StoreError, Tx};

use super::guard;
use crate::AppState;
use crate::error::{ApiError, error_chain};
use crate::incident::apply_transition;

/// Where this node's results say they ran.
pub(crate) const LOCATION: &str = bitwobbly_store::model::LOCAL_LOCATION;

/// How far ahead a monitor with no further run (a cron expression with no next time) is
/// parked.
pub(crate) const PARKED: Duration = Duration::from_secs(365 * 24 * 3600);

/// The status to show: maintenance while a window is active, paused while paused, else
/// the state machine's health.
fn status_of(
    monitor: &Monitor,
    machine: &bitwobbly_core::state::MonitorState,
    maintenance: bool,
) -> MonitorStatus {
    if monitor.paused {
        return MonitorStatus::Paused;
    }
    if maintenance {
        return MonitorStatus::Maintenance;
    }
    match machine.health() {
        Health::Pending => MonitorStatus::Unknown,
        Health::Up => MonitorStatus::Up,
        Health::Degraded => MonitorStatus::Degraded,
        Health::Down => MonitorStatus::Down,
    }
}

fn check_status(s: Status) -> CheckStatus {
    CheckStatus::try_from(s).unwrap_or(CheckStatus::Down)
}

/// What to write besides the judged state.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// When the result (or ping) happened.
    pub(crate) at: Option<Timestamp>,
    /// Heartbeat state to write.
    pub(crate) heartbeat: Option<HeartbeatState>,
    /// Last message (a ping body) to write.
    pub(crate) last_message: Option<String>,
    /// Next run time to write (heartbeat deadlines).
    pub(crate) next_run_at: Option<Timestamp>,
    /// Where the result was made: an agent's location, or `None` for this server
    /// ([`LOCATION`]).
    pub(crate) location: Option<String>,
}

/// What one judgement decided.
#[derive(Debug)]
pub(crate) struct Judged {
    /// The monitor's status afterwards.
    pub(crate) status: MonitorStatus,
    /// Whether status pages may show something new (status or incident changed): call
    /// `state.pages.invalidate` after the commit.
    pub(crate) page_changed: bool,
}

/// Inside `tx`, with the monitor's state already locked (`current`): feeds `outcome` (if
/// any; a start ping has none) to the state machine with maintenance and parent context,
/// writes the new state, and applies the transition (incidents, outbox). A monitor judged
/// across locations records the outcome in its location's tracker and decides by quorum
/// instead (see [`super::quorum`]); without an outcome it is decided again as of `now`.
pub(crate) async fn judge(
    tx: &mut Tx,
    state: &AppState,
    monitor: &Monitor,
    current: &MonitorState,
    outcome: Option<&Outcome>,
    extra: Extra,
    now: Timestamp,
) -> bitwobbly_store::Result<Judged> {
    let ws = monitor.workspace_id;
    let windows = tx
        .workspace(ws)
        .maintenances_for_monitor(monitor.id)
        .await?;
    let maintenance = windows.iter().any(|m| m.is_active(now));
    let parent_down =
        match monitor.parent_id {
            Some(p) => tx.workspace(ws).monitor_state(p).await?.is_some_and(|s| {
                s.status == MonitorStatus::Down || s.machine.health() == Health::Down
            }),
            None => false,
        };
    let ctx = Context::new()
        .with_maintenance(maintenance)
        .with_parent_down(parent_down);
    let mut machine = current.machine.clone();
    let transition = if super::quorum::uses_quorum(monitor) {
        let seen = outcome.map(|o| super::quorum::Observation {
            location: extra.location.as_deref().unwrap_or(LOCATION),
            outcome: o,
            at: extra.at.unwrap_or(now),
        });
        super::quorum::observe(tx, monitor, &mut machine, seen, ctx, now).await?
    } else {
        match outcome {
            Some(o) => machine.observe(&monitor.thresholds, o, ctx, now.to_datetime()),
            None => Transition::None,
        }
    };
    let status = status_of(monitor, &machine, maintenance);
    let update = StateUpdate {
        status,
        machine,
        last_result_at: outcome.and(extra.at),
        last_status: outcome.map(|o| check_status(o.status)),
        heartbeat: extra.heartbeat,
        last_message: extra.last_message,
        next_run_at: extra.next_run_at,
    };
    tx.workspace(ws)
        .update_monitor_state(monitor.id, &update)
        .await?;
    let applied =
        apply_transition(tx, monitor, &transition, now, &state.config.public_url()).await?;
    if applied.opened || applied.resolved {
        tracing::info!(
            monitor = monitor.id.0,
            incident = applied.incident.map(|i| i.0),
            opened = applied.opened,
            resolved = applied.resolved,
            notifications = applied.notifications,
            "incident changed"
        );
    }
    let page_changed = status != current.status || applied.incident.is_some();
    Ok(Judged {
        status,
        page_changed,
    })
}

/// The result row of a report.
pub(crate) fn result_row(monitor: MonitorId, report: &CheckReport) -> NewCheckResult {
    NewCheckResult {
        monitor_id: monitor,
        location: LOCATION.to_owned(),
        started_at: Timestamp::from(report.started_at),
        status: check_status(report.status),
        timings: PhaseTimes::from(&report.timings),
        http_status: report.http.as_ref().map(|h| h.status),
        error_kind: report.error.as_ref().map(|e| e.kind.as_str().to_owned()),
        message: report.reason.clone(),
    }
}

/// A down result row for a heartbeat monitor (no probe ran).
pub(crate) fn heartbeat_row(
    monitor: MonitorId,
    at: Timestamp,
    outcome: &Outcome,
) -> NewCheckResult {
    NewCheckResult {
        monitor_id: monitor,
        location: LOCATION.to_owned(),
        started_at: at,
        status: check_status(outcome.status),
        timings: PhaseTimes::default(),
        http_status: None,
        error_kind: None,
        message: outcome.reason.clone(),
    }
}

/// Runs a monitor's check once on this node's checker (private targets refused when
/// configured). Never fails: a spec that cannot be prepared is a down report.
pub(crate) async fn execute(state: &AppState, monitor: &Monitor) -> CheckReport {
    run_spec(
        &state.checker,
        state.config.targets.deny_private,
        &monitor.spec,
        || InFlightGauge::new(state),
    )
    .await
}

/// Runs `spec` once on `checker`, refusing private targets when `deny_private` is on; the
/// scheduler and checker agents ([`crate::agent`]) both run checks through it. `counted` is
/// called when the probe starts and its value dropped when it ends (an in-flight gauge).
/// Never fails: a spec that cannot be prepared is a down report.
pub(crate) async fn run_spec<G>(
    checker: &bitwobbly_check::Checker,
    deny_private: bool,
    spec: &bitwobbly_core::CheckSpec,
    counted: impl FnOnce() -> G,
) -> CheckReport {
    let check = match spec.clone().compile() {
        Ok(c) => c,
        Err(e) => {
            return guard::refused_report(
                spec,
                CheckError::new(
                    ErrorKind::InvalidTarget,
                    Phase::Connect,
                    format!("the monitor's spec cannot run: {e}"),
                ),
            );
        }
    };
    if let Err(e) = guard::preflight(deny_private, &check) {
        return guard::refused_report(check.spec(), e);
    }
    let mut report = {
        let _counted = counted();
        checker.run(&check).await
    };
    guard::postflight(deny_private, &mut report);
    report
}

/// Counts a check in the in-flight gauge for as long as it lives (a check dropped half
/// way, at shutdown or when its lease is lost, is uncounted too).
struct InFlightGauge<'a>(&'a AppState);

impl<'a> InFlightGauge<'a> {
    fn new(state: &'a AppState) -> Self {
        state.metrics.checks_in_flight().inc();
        Self(state)
    }
}

impl Drop for InFlightGauge<'_> {
    fn drop(&mut self) {
        self.0.metrics.checks_in_flight().dec();
    }
}

fn ms(d: i64) -> Duration {
    Duration::from_millis(u64::try_from(d).unwrap_or(0))
}

/// The next run of a monitor after `now` (parked a year ahead when there is none).
///
/// Slots are exact to the nanosecond but stored times to the millisecond: a run that
/// started and finished within the millisecond its slot was stored as would otherwise find
/// the same slot again. Looking from the next millisecond on skips it.
fn next_after(monitor: &Monitor, now: Timestamp) -> Timestamp {
    let from = now.plus(Duration::from_millis(1));
    next_run(&monitor.schedule, monitor.id.0, from.to_datetime())
        .map_or_else(|| now.plus(PARKED), Timestamp::from)
}

/// Decrements the claimed count when a claimed monitor's task ends, however it ends.
struct ClaimSlot<'a>(&'a AppState);

impl Drop for ClaimSlot<'_> {
    fn drop(&mut self) {
        self.0.scheduler.claimed.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Handles one claimed monitor: waits for its due time, then checks it (or judges its
/// heartbeat deadline) and records the outcome, renewing the lease meanwhile.
pub(crate) async fn run_claimed(state: AppState, cm: ClaimedMonitor) {
    let _slot = ClaimSlot(&state);
    let id = cm.monitor.id;
    let wait = cm.due_at.as_millis() - state.clock.now().as_millis();
    if wait > 0 {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(ms(wait)) => {}
        }
    }
    let work = async {
        if cm.monitor.spec.is_heartbeat() {
            heartbeat_due(&state, &cm).await;
        } else {
            check_due(&state, &cm).await;
        }
    };
    tokio::select! {
        biased;
        () = work => {}
        lost = renew_lease(&state, id) => {
            tracing::warn!(monitor = id.0, error = %error_chain(&lost), "lost the lease of a running check; another node has it now");
        }
    }
}

/// Renews a monitor's lease every third of its length; returns when it is lost.
async fn renew_lease(state: &AppState, id: MonitorId) -> StoreError {
    let lease = state.scheduler.config().lease;
    let every = (lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        match state
            .store
            .global()
            .renew_monitor_lease(id, &state.node, state.clock.now(), lease)
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_lease_lost() => return e,
            Err(e) => {
                tracing::warn!(monitor = id.0, error = %error_chain(&e), "renewing a lease failed; trying again");
            }
        }
    }
}

/// Gives a lease back with the next due time, logging a failure (the lease then expires).
async fn release(state: &AppState, id: MonitorId, next: Timestamp) {
    if let Err(e) = state
        .store
        .global()
        .release_monitor(id, &state.node, next)
        .await
    {
        tracing::warn!(monitor = id.0, error = %error_chain(&e), "releasing a monitor failed; its lease will expire");
    }
}

/// A due check monitor: catch-up, the in-process guard, a permit, the check, the record.
async fn check_due(state: &AppState, cm: &ClaimedMonitor) {
    let monitor = &cm.monitor;
    let id = monitor.id;
    let now = state.clock.now();
    // Overdue after downtime: run once soon, spread, instead of all at once.
    let effective = Timestamp::from(monitor.schedule.due_after_downtime(
        cm.due_at.to_datetime(),
        now.to_datetime(),
        schedule_key(id.0),
        &CatchUp::default(),
    ));
    if effective > now {
        release(state, id, effective).await;
        return;
    }
    let Some(_running) = state.scheduler.in_flight.try_start(id) else {
        // A check-now of this monitor is running: this slot is taken care of.
        release(state, id, next_after(monitor, now)).await;
        return;
    };
    let permit = tokio::select! {
        () = state.shutdown.cancelled() => return,
        p = state.scheduler.pool.acquire() => p,
    };
    let Ok(permit) = permit else { return };
    let started = state.clock.now();
    let lag = ms(started.as_millis() - effective.as_millis());
    state.metrics.observe_lag(lag);
    state.scheduler.observe_lag(lag);
    let report = execute(state, monitor).await;
    drop(permit);
    record_scheduled(state, monitor, &report).await;
}

/// Records a scheduled check's report and releases the monitor to its next run.
async fn record_scheduled(state: &AppState, monitor: &Monitor, report: &CheckReport) {
    let id = monitor.id;
    let ws = monitor.workspace_id;
    let now = state.clock.now();
    let next = next_after(monitor, now);
    if report.status == Status::Down && !state.scheduler.online() {
        state.metrics.count_check("skipped");
        let soon = now.plus(state.scheduler.config().connectivity_interval);
        release(state, id, next.min(soon)).await;
        return;
    }
    state.metrics.count_check(report.status.as_str());
    state.metrics.record_probe(ws, id, report);
    let outcome = Outcome::new(report.status, report.reason.clone());
    let extra = Extra {
        at: Some(Timestamp::from(report.started_at)),
        ..Extra::default()
    };
    match persist(state, monitor, Some(&outcome), extra, Some(next), now).await {
        Ok(Some(_)) => state.scheduler.results.push(ws, result_row(id, report)),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(monitor = id.0, error = %error_chain(&e), "recording a check failed; the monitor runs again when its lease expires");
        }
    }
}

/// One transaction: lock the state, judge, release the lease with `release_at` (when
/// given; scheduled runs), commit. `Ok(None)` when the monitor was deleted meanwhile.
async fn persist(
    state: &AppState,
    monitor: &Monitor,
    outcome: Option<&Outcome>,
    extra: Extra,
    release_at: Option<Timestamp>,
    now: Timestamp,
) -> bitwobbly_store::Result<Option<Judged>> {
    let mut tx = state.store.begin().await?;
    let Some(current) = tx
        .workspace(monitor.workspace_id)
        .monitor_state_for_update(monitor.id)
        .await?
    else {
        return Ok(None);
    };
    let judged = judge(&mut tx, state, monitor, &current, outcome, extra, now).await?;
    if let Some(at) = release_at {
        tx.global()
            .release_monitor(monitor.id, &state.node, at)
            .await?;
    }
    tx.commit().await?;
    if judged.page_changed {
        state.pages.invalidate(monitor.workspace_id);
    }
    Ok(Some(judged))
}

/// A heartbeat monitor whose deadline came: judge it on its freshly locked state, record a
/// miss, and sleep until the next deadline.
async fn heartbeat_due(state: &AppState, cm: &ClaimedMonitor) {
    let monitor = &cm.monitor;
    let id = monitor.id;
    let Some(policy) = monitor.spec.heartbeat() else {
        return;
    };
    let now = state.clock.now();
    let result: bitwobbly_store::Result<Option<Outcome>> = async {
        let mut tx = state.store.begin().await?;
        let Some(current) = tx
            .workspace(monitor.workspace_id)
            .monitor_state_for_update(id)
            .await?
        else {
            return Ok(None);
        };
        let hb = current
            .heartbeat
            .clone()
            .unwrap_or_else(|| HeartbeatState::new(monitor.created_at.to_datetime()));
        let verdict = judge_heartbeat(policy, &hb, now.to_datetime());
        let mut wake = verdict
            .wake_at
            .map_or_else(|| now.plus(PARKED), Timestamp::from);
        let mut missed = None;
        let mut page_changed = false;
        if let Some(outcome) = verdict.outcome {
            if state.scheduler.online() {
                let extra = Extra {
                    at: Some(now),
                    ..Extra::default()
                };
                page_changed = judge(
                    &mut tx,
                    state,
                    monitor,
                    &current,
                    Some(&outcome),
                    extra,
                    now,
                )
                .await?
                .page_changed;
                missed = Some(outcome);
            } else {
                // Pings may not reach a node that lost its network: not a miss yet.
                state.metrics.count_check("skipped");
                wake = now.plus(state.scheduler.config().connectivity_interval);
            }
        }
        // A deadline equal to now is not late yet: look again just after it.
        let wake = wake.max(now.plus(Duration::from_millis(1)));
        tx.global().release_monitor(id, &state.node, wake).await?;
        tx.commit().await?;
        if page_changed {
            state.pages.invalidate(monitor.workspace_id);
        }
        Ok(missed)
    }
    .await;
    match result {
        Ok(Some(outcome)) => {
            state.metrics.count_check("down");
            state
                .scheduler
                .results
                .push(monitor.workspace_id, heartbeat_row(id, now, &outcome));
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(monitor = id.0, error = %error_chain(&e), "judging a heartbeat deadline failed; it is judged again when the lease expires");
        }
    }
}

/// Records a check-now report at once (the result row in the same transaction); returns the
/// monitor's status afterwards and whether the result was recorded.
pub(crate) async fn record_now(
    state: &AppState,
    monitor: &Monitor,
    report: &CheckReport,
) -> Result<(MonitorStatus, bool), ApiError> {
    let ws = monitor.workspace_id;
    let now = state.clock.now();
    if report.status == Status::Down && !state.scheduler.online() {
        state.metrics.count_check("skipped");
        let status = state
            .store
            .workspace(ws)
            .monitor_state(monitor.id)
            .await?
            .map_or(MonitorStatus::Unknown, |s| s.status);
        return Ok((status, false));
    }
    state.metrics.count_check(report.status.as_str());
    state.metrics.record_probe(ws, monitor.id, report);
    let outcome = Outcome::new(report.status, report.reason.clone());
    let mut tx = state.store.begin().await?;
    let current = tx
        .workspace(ws)
        .monitor_state_for_update(monitor.id)
        .await?
        .ok_or_else(|| ApiError::not_found("monitor"))?;
    let extra = Extra {
        at: Some(Timestamp::from(report.started_at)),
        ..Extra::default()
    };
    let judged = judge(
        &mut tx,
        state,
        monitor,
        &current,
        Some(&outcome),
        extra,
        now,
    )
    .await?;
    tx.workspace(ws)
        .insert_results(&[result_row(monitor.id, report)])
        .await?;
    tx.commit().await?;
    if judged.page_changed {
        state.pages.invalidate(ws);
    }
    Ok((judged.status, true))
}
