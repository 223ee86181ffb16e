//! Running the assigned monitors: one task per monitor on its own schedule, a bounded pool
//! of checks, and assignments refreshed by polling.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bitwobbly_check::Checker;
use bitwobbly_core::CheckReport;
use bitwobbly_core::monitor::next_run;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::buffer::{Unnumbered, write_atomically};
use super::client::{CallError, Client};
use super::protocol::{Assignment, Assignments};
use super::{Shared, retry_delay};
use crate::scheduler::record::run_spec;

/// How long checks under way may take to finish when the agent stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The file in the state directory keeping the last assignments.
const CACHE_FILE: &str = "assignments.json";

/// The most of an HTTP body a buffered result keeps: the server stores the verdict, the
/// timings and the status, not the body, so a result need not carry up to a megabyte of it.
pub(crate) const BODY_KEPT: usize = 1024;

/// One monitor being run.
#[derive(Debug)]
struct Running {
    assignment: Assignment,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// What applying new assignments changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) added: usize,
    pub(crate) changed: usize,
    pub(crate) removed: usize,
}

/// The assigned monitors and their tasks.
#[derive(Debug)]
pub(crate) struct Runner {
    checker: Checker,
    pool: Arc<Semaphore>,
    results: mpsc::UnboundedSender<Unnumbered>,
    stop: CancellationToken,
    state_dir: PathBuf,
    running: HashMap<i64, Running>,
    etag: Option<String>,
}

impl Runner {
    /// A runner sending results to `results`, at most `concurrency` checks at once, until
    /// `stop`.
    pub(crate) fn new(
        checker: Checker,
        concurrency: usize,
        results: mpsc::UnboundedSender<Unnumbered>,
        stop: CancellationToken,
        state_dir: PathBuf,
    ) -> Self {
        Self {
            checker,
            pool: Arc::new(Semaphore::new(concurrency.max(1))),
            results,
            stop,
            state_dir,
            running: HashMap::new(),
            etag: None,
        }
    }

    /// How many monitors run.
    pub(crate) fn len(&self) -> usize {
        self.running.len()
    }

    /// Starts the assignments kept in the state directory by the last run (so an agent
    /// restarted while the server is unreachable goes on checking).
    pub(crate) async fn load_cached(&mut self) {
        let path = self.state_dir.join(CACHE_FILE);
        let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
        let bytes = match read {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the kept assignments; waiting for the server's");
                return;
            }
            Err(_) => return,
        };
        match serde_json::from_slice::<Assignments>(&bytes) {
            Ok(a) => {
                let changes = self.apply(a);
                tracing::info!(
                    monitors = changes.added,
                    "running the assignments kept from the last run until the server answers"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "the kept assignments are corrupt; waiting for the server's");
            }
        }
    }

    /// Makes the running monitors match `assignments`: new ones start, changed ones
    /// restart (a check of the old version in flight is dropped), missing ones stop.
    pub(crate) fn apply(&mut self, assignments: Assignments) -> Changes {
        let mut changes = Changes::default();
        let mut wanted: HashMap<i64, Assignment> = HashMap::new();
        for a in assignments.monitors {
            if a.spec.is_heartbeat() {
                tracing::warn!(
                    monitor = a.monitor_id,
                    "ignoring a heartbeat monitor among the assignments (nothing to run)"
                );
                continue;
            }
            wanted.insert(a.monitor_id, a);
        }
        let gone: Vec<i64> = self
            .running
            .keys()
            .filter(|id| !wanted.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(r) = self.running.remove(&id) {
                r.cancel.cancel();
                changes.removed += 1;
                tracing::info!(monitor = id, name = %r.assignment.name, "monitor unassigned");
            }
        }
        for (id, a) in wanted {
            match self.running.get(&id) {
                Some(r) if r.assignment == a => continue,
                Some(r) => {
                    r.cancel.cancel();
                    changes.changed += 1;
                    tracing::info!(monitor = id, name = %a.name, "monitor changed");
                }
                None => {
                    changes.added += 1;
                    tracing::info!(monitor = id, name = %a.name, "monitor assigned");
                }
            }
            let cancel = CancellationToken::new();
            let task = crate::spawn(
                "agent-monitor",
                run_monitor(
                    a.clone(),
                    self.checker.clone(),
                    self.pool.clone(),
                    self.results.clone(),
                    cancel.clone(),
                    self.stop.clone(),
                ),
            );
            self.running.insert(
                id,
                Running {
                    assignment: a,
                    cancel,
                    task,
                },
            );
        }
        self.etag = Some(assignments.etag);
        changes
    }

    /// Polls the assignments every `every` until the agent stops, applying and keeping
    /// each change.
    pub(crate) async fn poll(&mut self, shared: &Shared, client: &Client, every: Duration) {
        let mut failures = 0u32;
        loop {
            let wait = match client.assignments(self.etag.as_deref()).await {
                Ok(Some(a)) => {
                    failures = 0;
                    let keep = a.clone();
                    let etag = a.etag.clone();
                    let changes = self.apply(a);
                    if changes != Changes::default() {
                        tracing::info!(
                            etag = %etag,
                            monitors = self.len(),
                            added = changes.added,
                            changed = changes.changed,
                            removed = changes.removed,
                            "assignments updated"
                        );
                    }
                    let dir = self.state_dir.clone();
                    let kept = tokio::task::spawn_blocking(move || {
                        write_atomically(&dir, CACHE_FILE, &keep)
                    })
                    .await;
                    if let Ok(Err(e)) = kept {
                        tracing::warn!(error = %e, "cannot keep the assignments in the state directory");
                    }
                    every
                }
                Ok(None) => {
                    failures = 0;
                    every
                }
                Err(CallError::Fatal(e)) => {
                    shared.fail(e);
                    return;
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(error = %e, "cannot refresh the assignments; running the last known ones");
                    }
                    e.retry_after()
                        .unwrap_or_else(|| retry_delay(failures))
                        .min(every)
                }
            };
            tokio::select! {
                () = shared.stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Stops every monitor: no check starts any more, and checks under way get
    /// [`SHUTDOWN_GRACE`] to finish (then they are dropped). Their results are in the channel
    /// for the writer, which ends once the runner is gone.
    pub(crate) async fn shutdown(mut self) {
        self.stop.cancel();
        let running: Vec<Running> = self.running.drain().map(|(_, r)| r).collect();
        let cancels: Vec<CancellationToken> = running.iter().map(|r| r.cancel.clone()).collect();
        let mut tasks: Vec<JoinHandle<()>> = running.into_iter().map(|r| r.task).collect();
        let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
            for t in &mut tasks {
                let _ = t.await;
            }
        })
        .await;
        if finished.is_err() {
            tracing::warn!("checks still running after the shutdown grace period; dropping them");
            for c in cancels {
                c.cancel();
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }
}

/// Cuts a report's HTTP body to [`BODY_KEPT`] bytes (marking it truncated).
pub(crate) fn trim_body(report: &mut CheckReport) {
    if let Some(http) = report.http.as_mut()
        && http.body.len() > BODY_KEPT
    {
        http.body.truncate(BODY_KEPT);
        http.body_truncated = true;
    }
}

/// Runs one monitor at each of its slots (core [`next_run`], the server's per-monitor
/// spread), sending each report to `results`, until `cancel` (the monitor changed or went:
/// a check under way is dropped) or `stop` (the agent stops: a check under way finishes).
async fn run_monitor(
    a: Assignment,
    checker: Checker,
    pool: Arc<Semaphore>,
    results: mpsc::UnboundedSender<Unnumbered>,
    cancel: CancellationToken,
    stop: CancellationToken,
) {
    let id = a.monitor_id;
    let mut from = OffsetDateTime::now_utc();
    loop {
        let Some(at) = next_run(&a.schedule, id, from) else {
            tracing::info!(monitor = id, "the monitor's schedule has no further run");
            return;
        };
        let wait = at - OffsetDateTime::now_utc();
        let wait = if wait.is_positive() {
            wait.unsigned_abs()
        } else {
            Duration::ZERO
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let run = async {
            let _permit = tokio::select! {
                () = stop.cancelled() => return None,
                p = pool.acquire() => p.ok()?,
            };
            Some(run_spec(&checker, false, &a.spec, || ()).await)
        };
        let report = tokio::select! {
            () = cancel.cancelled() => return,
            r = run => r,
        };
        let Some(mut report) = report else { return };
        trim_body(&mut report);
        tracing::debug!(
            monitor = id,
            status = report.status.as_str(),
            total_us = report.timings.total.as_micros() as u64,
            "checked"
        );
        if results
            .send(Unnumbered {
                monitor_id: id,
                report,
            })
            .is_err()
        {
            return;
        }
        // The next slot after this one, even if the check ended within the same instant.
        from = OffsetDateTime::now_utc().max(at);
    }
}
