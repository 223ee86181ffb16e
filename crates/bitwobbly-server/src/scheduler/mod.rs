//! The scheduler: claims due monitors with leases, runs them on a bounded checker pool,
//! judges the outcomes with the core state machine, and writes results, state, incidents and
//! notifications.
//!
//! - **Claiming.** Every `poll_interval` the node claims the monitors due within the next
//!   poll interval and a second (`claim_due_monitors`, at most `claim_batch`, each with a
//!   lease of `lease`), and each claimed monitor waits for its own due time, so checks start
//!   on time rather than up to one poll late, even when a claim waits for the database. A lease is renewed while its check runs, so a long
//!   check is never picked up by another node; a node that dies leaves leases that expire,
//!   and another node takes its monitors over. In the process, one monitor never runs twice
//!   at once (check-now included).
//! - **Spreading.** After a run, a monitor is due at its schedule's next slot shifted by a
//!   stable per-monitor offset (core [`next_run`]), so monitors sharing an interval do not
//!   fire together. A monitor found overdue by more than a few seconds (after downtime) is
//!   not run at once: core's catch-up rule moves it to a point within the next minute,
//!   different for each monitor, so a restart does not cause a stampede.
//! - **Recording.** After each check one transaction locks the monitor's state, feeds the
//!   outcome to the state machine (with maintenance windows and the parent's state as
//!   context), writes the state, opens or resolves incidents with their outbox rows
//!   ([`crate::incident::apply_transition`]) and releases the lease with the next run time.
//!   Result rows are written in batches. A storage error is never recorded as a failure of
//!   the target: the lease is left to expire and the monitor runs again.
//! - **Connectivity guard**, **housekeeping** (compaction, expired sessions, sent
//!   notifications) and **graceful shutdown** (stop claiming, let running checks finish
//!   within `shutdown_grace`, flush results, release leases) complete the loop.
//!
//! [`next_run`]: bitwobbly_core::monitor::next_run

mod batch;
mod connectivity;
mod guard;
mod housekeeping;
mod inflight;
pub(crate) mod quorum;
pub(crate) mod record;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bitwobbly_check::{Checker, HickoryResolver};
use bitwobbly_core::CheckReport;
use bitwobbly_store::api::{MonitorStore, ScheduleStore};
use bitwobbly_store::types::{MonitorId, MonitorStatus, WorkspaceId};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::AppState;
use crate::config::{Config, SchedulerConfig};
use crate::error::ApiError;

use self::batch::ResultBatch;
use self::connectivity::Connectivity;
use self::inflight::InFlight;

/// The scheduler's parts shared with request handlers (check-now uses the same pool).
#[derive(Debug)]
pub struct Shared {
    config: SchedulerConfig,
    /// Permits for running checks (`max_concurrent_checks`).
    pool: Arc<Semaphore>,
    /// Monitors being checked on this node.
    in_flight: Arc<InFlight>,
    /// The connectivity guard's verdict.
    connectivity: Connectivity,
    /// Results waiting for the batched writer.
    results: ResultBatch,
    /// Monitors claimed and not yet released by this node's loop.
    claimed: AtomicUsize,
    /// Every scheduling lag, when asked for (benchmarks).
    lag_samples: Mutex<Option<Vec<Duration>>>,
}

impl Shared {
    /// Shared parts per the configuration.
    pub fn new(config: &SchedulerConfig) -> Self {
        Self {
            config: config.clone(),
            pool: Arc::new(Semaphore::new(config.max_concurrent_checks.max(1))),
            in_flight: Arc::new(InFlight::default()),
            connectivity: Connectivity::new(),
            results: ResultBatch::new(config.result_batch),
            claimed: AtomicUsize::new(0),
            lag_samples: Mutex::new(None),
        }
    }

    /// The scheduler configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Whether the connectivity probes say this node can reach the outside world (always
    /// true without probes).
    pub fn online(&self) -> bool {
        self.connectivity.online()
    }

    /// Starts keeping every scheduling lag (start minus due time) in memory, for
    /// [`Shared::take_lag_samples`]. Meant for benchmarks: the metrics histogram is what a
    /// running server uses.
    pub fn keep_lag_samples(&self) {
        let mut s = self
            .lag_samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.get_or_insert_with(Vec::new);
    }

    /// The lags kept since the last call (empty unless [`Shared::keep_lag_samples`] was
    /// called).
    pub fn take_lag_samples(&self) -> Vec<Duration> {
        let mut s = self
            .lag_samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Check results waiting to be written.
    pub fn pending_results(&self) -> usize {
        self.results.len()
    }

    /// Whether a check of `monitor` is running on this node now.
    pub fn is_running(&self, monitor: MonitorId) -> bool {
        self.in_flight.is_running(monitor)
    }

    fn observe_lag(&self, lag: Duration) {
        let mut s = self
            .lag_samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = s.as_mut() {
            v.push(lag);
        }
    }
}

/// The checker every scheduled check uses, built per the configuration: with
/// `targets.deny_private` on, names resolving to a private, loopback or link-local address
/// are refused with an error saying so (IP-literal targets are refused before a check
/// runs).
pub fn build_checker(config: &Config) -> Checker {
    if config.targets.deny_private {
        Checker::builder()
            .resolver(Arc::new(guard::DenyPrivate::new(Arc::new(
                HickoryResolver::new(),
            ))))
            .build()
    } else {
        Checker::new()
    }
}

/// What "check now" returns: the check's report and the monitor's status after it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CheckNow {
    /// What the check saw.
    pub report: CheckReport,
    /// The monitor's status once the result was judged.
    pub monitor_status: MonitorStatus,
    /// Whether the result was recorded (false when the node's connectivity guard held back
    /// a down result).
    pub recorded: bool,
}

/// Runs a monitor at once, through the same path as a scheduled check: the result is
/// stored, the state judged, incidents opened or resolved. The next scheduled run is not
/// moved.
///
/// # Errors
///
/// 404 `not_found` for a monitor not in `ws`; 422 `validation_failed` for a heartbeat
/// monitor (there is nothing to run); 500 for a storage error.
pub async fn check_now(
    state: &AppState,
    ws: WorkspaceId,
    id: MonitorId,
) -> Result<CheckNow, ApiError> {
    let monitor = state
        .store
        .workspace(ws)
        .monitor(id)
        .await?
        .ok_or_else(|| ApiError::not_found("monitor"))?;
    if monitor.spec.is_heartbeat() {
        return Err(ApiError::invalid(
            "spec.type",
            "a heartbeat monitor receives pings; there is nothing to run",
        ));
    }
    let _running = state.scheduler.in_flight.start(id).await;
    let report = {
        let _permit = state
            .scheduler
            .pool
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        record::execute(state, &monitor).await
    };
    let (monitor_status, recorded) = record::record_now(state, &monitor, &report).await?;
    Ok(CheckNow {
        report,
        monitor_status,
        recorded,
    })
}

/// Re-judges the monitors judged across locations whose verdict changed since their latest
/// result because a location went stale (or came back); housekeeping does this every 15 s.
/// Returns how many were re-judged.
///
/// # Errors
/// A store error listing the monitors; one monitor failing is logged and skipped.
pub async fn rejudge_locations(state: &AppState) -> bitwobbly_store::Result<usize> {
    quorum::rejudge_stale(state).await
}

/// Runs the scheduler until `state.shutdown` is cancelled, then drains: stops claiming,
/// lets running checks finish within `config.shutdown_grace`, flushes the result batch and
/// releases this node's leases.
pub async fn run(state: AppState) {
    let mut background = JoinSet::new();
    background.spawn(writer(state.clone()));
    background.spawn(connectivity::run(state.clone()));
    background.spawn(housekeeping::run(state.clone()));

    let mut checks = JoinSet::new();
    claim_loop(&state, &mut checks).await;

    // Drain: checks waiting for their due time stop at once (their leases are released
    // below); running ones get the grace period.
    let grace = state.config.shutdown_grace;
    let drained =
        tokio::time::timeout(grace, async { while checks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            left = checks.len(),
            "checks still running after the shutdown grace period; abandoning them"
        );
        checks.shutdown().await;
    }
    while background.join_next().await.is_some() {}
    let written = state.scheduler.results.flush(&state.store).await;
    let left = state.scheduler.results.len();
    if left > 0 {
        tracing::error!(left, "check results could not be written before shutdown");
    }
    match state.store.global().release_all_monitors(&state.node).await {
        Ok(n) => tracing::info!(released = n, results = written, "scheduler stopped"),
        Err(e) => tracing::warn!(
            error = %crate::error::error_chain(&e),
            "releasing leases at shutdown failed; they will expire"
        ),
    }
}

/// How much further ahead than one poll interval monitors are claimed.
const LOOKAHEAD: Duration = Duration::from_secs(1);

/// Claims due monitors until shutdown, spawning one task per claimed monitor.
async fn claim_loop(state: &AppState, checks: &mut JoinSet<()>) {
    let cfg = state.scheduler.config();
    let poll = cfg.poll_interval.max(Duration::from_millis(10));
    // Claimed monitors wait for their due time and for a permit while holding a lease:
    // claim no more than twice what the pool runs at once.
    let cap = cfg.max_concurrent_checks.max(1).saturating_mul(2);
    // Monitors are claimed this far ahead of their due time and wait for it, so that a
    // claim held up by the database (another writer, a compaction) does not make them late.
    // Claiming ahead treats leases ending within it as ended: a live holder renews its
    // lease every third of it, so keep the look-ahead well under that.
    let ahead = (poll + LOOKAHEAD).min(cfg.lease / 4);
    loop {
        if state.shutdown.is_cancelled() {
            return;
        }
        while checks.try_join_next().is_some() {}
        let claimed_now = state.scheduler.claimed.load(Ordering::Relaxed);
        let room = cap
            .saturating_sub(claimed_now)
            .min(cfg.claim_batch.max(1) as usize);
        let mut more = false;
        if room > 0 {
            let horizon = state.clock.now().plus(ahead);
            match state
                .store
                .global()
                .claim_due_monitors(&state.node, horizon, cfg.lease, room as u32)
                .await
            {
                Ok(claimed) => {
                    more = claimed.len() == room;
                    for cm in claimed {
                        state.scheduler.claimed.fetch_add(1, Ordering::Relaxed);
                        checks.spawn(record::run_claimed(state.clone(), cm));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %crate::error::error_chain(&e), "claiming due monitors failed");
                }
            }
        }
        if more {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Writes the result batch when it fills up or every `result_flush_interval`, until
/// shutdown (the final flush is the drain's).
async fn writer(state: AppState) {
    let every = state
        .scheduler
        .config()
        .result_flush_interval
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
            () = state.scheduler.results.filled() => {}
        }
        state.scheduler.results.flush(&state.store).await;
    }
}
