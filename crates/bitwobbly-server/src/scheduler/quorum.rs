//! Judging a monitor across locations.
//!
//! A monitor runs at its `locations` (`local` is this server; an empty list means `local`
//! alone). A monitor run by `local` alone is judged on its own results, as it always was. Any
//! other monitor is judged by quorum: every result (from this server's scheduler as `local`,
//! or from an agent batch) updates that location's own core `HealthTracker` (one row per
//! monitor and location), then the votes of the monitor's locations are combined with core
//! [`decide`] under the monitor's [`QuorumPolicy`](bitwobbly_core::QuorumPolicy), and the
//! verdict feeds the monitor's announcer, which opens and resolves incidents as usual. The
//! incident's reason says which locations saw what.
//!
//! A location is left out (stale) when its latest result, or its agents' latest contact, is
//! older than the policy's `stale_after`. Housekeeping re-judges these monitors
//! ([`rejudge_stale`]) so that a location that went silent stops counting even though it
//! sends nothing more: a silent majority can neither hold an incident open nor open one.

use std::collections::{BTreeMap, HashMap};

use bitwobbly_core::quorum::{QuorumVerdict, Vote, decide};
use bitwobbly_core::state::{Context, Outcome, Transition};
use bitwobbly_store::api::{AgentDirectory, AgentStore, MonitorStore};
use bitwobbly_store::model::{AgentResultRow, LOCAL_LOCATION, Location, LocationState, Monitor};
use bitwobbly_store::types::{CheckStatus, MonitorId, Timestamp};
use bitwobbly_store::{Store, Tx};

use super::record::{Extra, judge, result_row};
use crate::AppState;
use crate::agent::protocol::{BatchAck, ResultBatch};
use crate::error::error_chain;

/// The locations that run `monitor`: its list, or `local` alone when the list is empty.
pub(crate) fn locations_of(monitor: &Monitor) -> Vec<&str> {
    if monitor.locations.is_empty() {
        vec![LOCAL_LOCATION]
    } else {
        monitor.locations.iter().map(String::as_str).collect()
    }
}

/// Whether `location` runs `monitor`.
pub(crate) fn runs_at(monitor: &Monitor, location: &str) -> bool {
    locations_of(monitor).contains(&location)
}

/// Whether `monitor` is judged across locations: a check monitor run anywhere but by `local`
/// alone. (Heartbeats are judged by their pings, always here.)
pub(crate) fn uses_quorum(monitor: &Monitor) -> bool {
    !monitor.spec.is_heartbeat() && locations_of(monitor) != [LOCAL_LOCATION]
}

/// One result of a location, to record before deciding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observation<'a> {
    /// Where it ran.
    pub(crate) location: &'a str,
    /// What it found.
    pub(crate) outcome: &'a Outcome,
    /// When it started.
    pub(crate) at: Timestamp,
}

/// The votes of `monitor`'s locations from their stored states, each as of the older of its
/// latest result and its agents' latest contact (`local` is in contact now).
fn votes(
    monitor: &Monitor,
    states: &[LocationState],
    places: &[Location],
    now: Timestamp,
) -> Vec<Vote> {
    let contact: HashMap<&str, Option<Timestamp>> = places
        .iter()
        .map(|l| (l.name.as_str(), l.last_seen_at))
        .collect();
    locations_of(monitor)
        .into_iter()
        .map(|name| {
            let seen = if name == LOCAL_LOCATION {
                now
            } else {
                contact
                    .get(name)
                    .copied()
                    .flatten()
                    .unwrap_or(Timestamp::EPOCH)
            };
            match states.iter().find(|s| s.location == name) {
                Some(s) => {
                    let at = s.last_result_at.map_or(seen, |r| r.min(seen));
                    let mut vote = Vote::new(name, s.tracker.health(), at.to_datetime());
                    if let Some(reason) = s.tracker.reason() {
                        vote = vote.with_reason(reason);
                    }
                    if let Some(since) = s.tracker.trouble_since() {
                        vote = vote.with_since(since);
                    }
                    vote
                }
                None => Vote::new(
                    name,
                    bitwobbly_core::state::Health::Pending,
                    seen.to_datetime(),
                ),
            }
        })
        .collect()
}

/// Inside `tx`: records `seen` (if any) in its location's tracker, decides `monitor`'s health
/// across its locations as of `now`, and feeds the verdict to `machine`.
pub(crate) async fn observe(
    tx: &mut Tx,
    monitor: &Monitor,
    machine: &mut bitwobbly_core::state::MonitorState,
    seen: Option<Observation<'_>>,
    ctx: Context,
    now: Timestamp,
) -> bitwobbly_store::Result<Transition> {
    let ws = monitor.workspace_id;
    let mut states = tx.workspace(ws).location_states(monitor.id).await?;
    if let Some(o) = seen {
        let i = match states.iter().position(|s| s.location == o.location) {
            Some(i) => i,
            None => {
                states.push(LocationState {
                    monitor_id: monitor.id,
                    workspace_id: ws,
                    location: o.location.to_owned(),
                    tracker: bitwobbly_core::state::HealthTracker::new(),
                    last_result_at: None,
                    last_status: None,
                    reason: None,
                });
                states.len() - 1
            }
        };
        let s = &mut states[i];
        let _ = s.tracker.record(
            &monitor.thresholds,
            o.outcome.status,
            o.outcome.reason.as_deref(),
            o.at.to_datetime(),
        );
        // Results of a location arrive in order; a late one does not move its clock back.
        s.last_result_at = Some(s.last_result_at.map_or(o.at, |t| t.max(o.at)));
        s.last_status = CheckStatus::try_from(o.outcome.status).ok();
        s.reason = o.outcome.reason.clone();
        tx.workspace(ws).save_location_state(s).await?;
    }
    let places = tx.workspace(ws).locations().await?;
    let verdict = verdict_of(monitor, &states, &places, now);
    Ok(machine.observe_verdict(&monitor.thresholds, &verdict, ctx, now.to_datetime()))
}

/// The verdict across `monitor`'s locations as of `now`.
fn verdict_of(
    monitor: &Monitor,
    states: &[LocationState],
    places: &[Location],
    now: Timestamp,
) -> QuorumVerdict {
    decide(
        &monitor.quorum,
        &votes(monitor, states, places, now),
        now.to_datetime(),
    )
}

/// Re-judges one monitor judged by quorum when its verdict as of `now` differs from the one
/// it holds (a location went stale, or came back); returns whether it did.
async fn rejudge(
    store: &Store,
    state: &AppState,
    monitor: &Monitor,
    now: Timestamp,
) -> bitwobbly_store::Result<bool> {
    let ws = monitor.workspace_id;
    let mut scope = store.workspace(ws);
    let Some(current) = scope.monitor_state(monitor.id).await? else {
        return Ok(false);
    };
    let states = scope.location_states(monitor.id).await?;
    let places = scope.locations().await?;
    let verdict = verdict_of(monitor, &states, &places, now);
    if verdict.health == current.machine.health() {
        return Ok(false);
    }
    let mut tx = store.begin().await?;
    let Some(current) = tx
        .workspace(ws)
        .monitor_state_for_update(monitor.id)
        .await?
    else {
        return Ok(false);
    };
    let judged = judge(
        &mut tx,
        state,
        monitor,
        &current,
        None,
        Extra::default(),
        now,
    )
    .await?;
    tx.commit().await?;
    if judged.page_changed {
        state.pages.invalidate(ws);
    }
    Ok(true)
}

/// Re-judges every monitor judged by quorum whose verdict changed since its latest result
/// (see the module docs); returns how many were re-judged. One monitor failing is logged and
/// does not stop the others.
pub(crate) async fn rejudge_stale(state: &AppState) -> bitwobbly_store::Result<usize> {
    let now = state.clock.now();
    let ids = state.store.global().quorum_monitors().await?;
    let mut changed = 0;
    for (ws, id) in ids {
        let Some(monitor) = state.store.workspace(ws).monitor(id).await? else {
            continue;
        };
        if !uses_quorum(&monitor) {
            continue;
        }
        match rejudge(&state.store, state, &monitor, now).await {
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(monitor = id.0, error = %error_chain(&e), "re-judging a monitor across locations failed");
            }
        }
    }
    Ok(changed)
}

/// Stores an agent batch for `location` and judges it, in one transaction: the rows of new
/// results, the agent's cursor and the location's contact (store
/// [`record_agent_batch`](AgentStore::record_agent_batch)), then each stored result, monitor
/// by monitor in id order (so concurrent batches lock monitors in the same order) and in
/// `seq` order within a monitor, through [`judge`]. Results for monitors the location does
/// not run (deleted, paused, moved, heartbeats) are ignored but acknowledged.
///
/// # Errors
/// A store error; nothing is stored then, and the agent sends the batch again.
pub(crate) async fn record_batch(
    state: &AppState,
    location: &Location,
    batch: &ResultBatch,
) -> bitwobbly_store::Result<BatchAck> {
    let ws = location.workspace_id;
    let now = state.clock.now();
    let assigned: HashMap<MonitorId, Monitor> = state
        .store
        .workspace(ws)
        .monitors()
        .await?
        .into_iter()
        .filter(|m| !m.paused && !m.spec.is_heartbeat() && runs_at(m, &location.name))
        .map(|m| (m.id, m))
        .collect();
    let rows: Vec<AgentResultRow> = batch
        .results
        .iter()
        .map(|r| AgentResultRow {
            seq: r.seq,
            result: assigned.get(&MonitorId(r.monitor_id)).map(|m| {
                let mut row = result_row(m.id, &r.report);
                row.location.clone_from(&location.name);
                row
            }),
        })
        .collect();
    let mut tx = state.store.begin().await?;
    let outcome = tx
        .workspace(ws)
        .record_agent_batch(location.id, &batch.agent_id, &rows, now)
        .await?;
    let mut by_monitor: BTreeMap<MonitorId, Vec<usize>> = BTreeMap::new();
    for &i in &outcome.stored {
        by_monitor
            .entry(MonitorId(batch.results[i].monitor_id))
            .or_default()
            .push(i);
    }
    let mut page_changed = false;
    for (id, indexes) in by_monitor {
        let Some(monitor) = assigned.get(&id) else {
            continue;
        };
        if tx
            .workspace(ws)
            .monitor_state_for_update(id)
            .await?
            .is_none()
        {
            continue;
        }
        for i in indexes {
            let report = &batch.results[i].report;
            let Some(current) = tx.workspace(ws).monitor_state(id).await? else {
                break;
            };
            let outcome = Outcome::new(report.status, report.reason.clone());
            let extra = Extra {
                at: Some(Timestamp::from(report.started_at)),
                location: Some(location.name.clone()),
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
            page_changed |= judged.page_changed;
        }
    }
    tx.commit().await?;
    if page_changed {
        state.pages.invalidate(ws);
    }
    Ok(BatchAck {
        accepted: outcome.stored.len(),
        duplicates: outcome.duplicates,
        ignored: outcome.ignored,
        last_seq: outcome.last_seq,
    })
}

#[cfg(test)]
mod tests {
    use bitwobbly_core::CheckSpec;
    use bitwobbly_core::quorum::QuorumPolicy;
    use bitwobbly_core::schedule::Schedule;
    use bitwobbly_core::state::{Health, HealthTracker, Thresholds};
    use bitwobbly_store::types::{LocationId, MonitorId, WorkspaceId};

    use super::*;

    fn monitor(locations: &[&str]) -> Monitor {
        Monitor {
            id: MonitorId(1),
            workspace_id: WorkspaceId(1),
            key: None,
            name: "m".into(),
            spec: serde_json::from_value::<CheckSpec>(
                serde_json::json!({"type": "http", "url": "http://127.0.0.1:9/"}),
            )
            .unwrap(),
            schedule: Schedule::Interval(std::time::Duration::from_secs(60)),
            thresholds: Thresholds::default(),
            parent_id: None,
            paused: false,
            locations: locations.iter().map(|l| (*l).to_owned()).collect(),
            quorum: QuorumPolicy::default(),
            ping_token: None,
            created_at: Timestamp::EPOCH,
            updated_at: Timestamp::EPOCH,
        }
    }

    fn place(name: &str, seen: Option<Timestamp>) -> Location {
        Location {
            id: LocationId(1),
            workspace_id: WorkspaceId(1),
            name: name.into(),
            created_at: Timestamp::EPOCH,
            last_seen_at: seen,
            last_agent_id: None,
            last_version: None,
        }
    }

    fn down_state(location: &str, at: Timestamp) -> LocationState {
        let mut tracker = HealthTracker::new();
        let t = Thresholds::default();
        for _ in 0..2 {
            let _ = tracker.record(
                &t,
                bitwobbly_core::Status::Down,
                Some("refused"),
                at.to_datetime(),
            );
        }
        LocationState {
            monitor_id: MonitorId(1),
            workspace_id: WorkspaceId(1),
            location: location.into(),
            tracker,
            last_result_at: Some(at),
            last_status: Some(CheckStatus::Down),
            reason: Some("refused".into()),
        }
    }

    #[test]
    fn only_local_or_nothing_is_judged_alone() {
        assert!(!uses_quorum(&monitor(&[])));
        assert!(!uses_quorum(&monitor(&["local"])));
        assert!(uses_quorum(&monitor(&["eu-1"])));
        assert!(uses_quorum(&monitor(&["local", "eu-1"])));
        assert!(runs_at(&monitor(&[]), "local"));
        assert!(!runs_at(&monitor(&["eu-1"]), "local"));
    }

    #[test]
    fn a_silent_agent_makes_its_location_stale() {
        let now = Timestamp::from_millis(10_000_000);
        let m = monitor(&["eu-1", "us-1"]);
        let states = [down_state("eu-1", now), down_state("us-1", now)];
        // eu-1's agent was last in contact an hour ago: its fresh-looking result is stale.
        let places = [
            place(
                "eu-1",
                Some(now.minus(std::time::Duration::from_secs(3600))),
            ),
            place("us-1", Some(now)),
        ];
        let v = verdict_of(&m, &states, &places, now);
        assert_eq!(v.stale, ["eu-1"]);
        assert_eq!(v.health, Health::Down);
        assert_eq!(v.down.len(), 1);
    }

    #[test]
    fn a_location_without_results_is_pending_and_a_deleted_one_stale() {
        let now = Timestamp::from_millis(10_000_000);
        let m = monitor(&["local", "gone"]);
        let v = verdict_of(&m, &[], &[], now);
        assert_eq!(v.pending, ["local"]);
        assert_eq!(v.stale, ["gone"]);
        assert_eq!(v.health, Health::Pending);
    }
}
