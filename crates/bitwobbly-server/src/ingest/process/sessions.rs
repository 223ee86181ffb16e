//! Individual sessions (`session` items) counted once per session id.
//!
//! SDKs send a session several times: `init: true` on its first update, then again when it
//! gets errors, crashes or ends, and some repeat a terminal state (`@sentry/node` sends a
//! crashed session when the crash is captured and once more from `endSession`). Sentry's
//! release health counts a session as started from its `init` update, and as errored,
//! abnormal or crashed by distinct session id; so does this module, with the state per
//! `(project, sid)` kept in `session_states`:
//!
//! - `started` is counted on the first `init: true` update of a sid, never again;
//! - each session is in at most one of exited, errored, abnormal, crashed, ranked in that
//!   order: an update counts when it is worse than what the session counted so far, and then
//!   moves the session from its old column to the new one (a session counted errored that
//!   then crashes is crashed, not both). A session is errored as soon as an update reports
//!   errors (as in Sentry), before it ends;
//! - counts go to the bucket, release and environment of the session's first counted update,
//!   so a move never splits a session across rows.
//!
//! Ranking makes the outcome independent of the order updates arrive in (`seq` only orders
//! them, and a session's errors and status only get worse), so `seq` is not needed.

use std::collections::{BTreeMap, HashMap};

use bitwobbly_envelope::{Session, SessionStatus};
use bitwobbly_store::Tx;
use bitwobbly_store::api::{IngestDedup, IngestDedupRetention};
use bitwobbly_store::model::{SessionCounts, SessionState, SessionUser};
use bitwobbly_store::types::{ProjectId, Timestamp, WorkspaceId};

use super::{fields, hash63, release_env};
use crate::AppState;

/// Longest session id kept (SDKs send UUIDs).
const SID_MAX: usize = 64;

/// One `session` update, read and ranked, waiting to be counted against its session's state.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SessionUpdate {
    project_id: ProjectId,
    sid: String,
    release: String,
    environment: String,
    bucket_start: Timestamp,
    init: bool,
    /// 0 nothing to count yet, 1 exited, 2 errored, 3 abnormal, 4 crashed.
    outcome: i64,
}

/// Reads one `session` update; `None` without a release or a session id. The distinct user
/// (`did`) goes to `users` with the worst status the update shows (0 ok, 1 errored,
/// 2 abnormal, 3 crashed); user buckets keep the worst, so repeats change nothing.
pub(super) fn update(
    project: ProjectId,
    s: &Session<'_>,
    received: Timestamp,
    users: &mut Vec<SessionUser>,
) -> Option<SessionUpdate> {
    let (release, environment) = release_env(&s.attrs)?;
    let sid = s.sid.trim();
    if sid.is_empty() {
        return None;
    }
    let started = s
        .started
        .map_or(received, |t| fields::timestamp(Some(t.0), received));
    let outcome = match s.status {
        SessionStatus::Crashed => 4,
        SessionStatus::Abnormal => 3,
        _ if s.errors > 0 => 2,
        SessionStatus::Exited => 1,
        _ => 0,
    };
    let bucket_start = started.floor_hour();
    if let Some(did) = &s.did {
        users.push(SessionUser {
            project_id: project,
            release: release.clone(),
            environment: environment.clone(),
            bucket_start,
            user_hash: hash63(did.as_str()),
            worst: (outcome - 1).max(0),
        });
    }
    Some(SessionUpdate {
        project_id: project,
        sid: fields::clip(sid, SID_MAX),
        release,
        environment,
        bucket_start,
        init: s.init,
        outcome,
    })
}

/// Counts `updates` (in the order received) against their sessions' stored state inside
/// `tx`, saves the new states and returns the changes to add to the rollups (a move
/// subtracts from the old column).
///
/// # Errors
///
/// A store error, for the caller to roll back.
pub(super) async fn count(
    tx: &mut Tx,
    ws: WorkspaceId,
    updates: &[&SessionUpdate],
    now: Timestamp,
) -> bitwobbly_store::Result<Vec<SessionCounts>> {
    // Lock every session once, in key order (concurrent workers never wait on each other in
    // a cycle), then count the updates in the order they came.
    let mut first: BTreeMap<(ProjectId, &str), &SessionUpdate> = BTreeMap::new();
    for &u in updates {
        first.entry((u.project_id, u.sid.as_str())).or_insert(u);
    }
    let mut states: HashMap<(ProjectId, &str), (SessionState, bool)> = HashMap::new();
    for (key, u) in first {
        let initial = SessionState {
            project_id: u.project_id,
            sid: u.sid.clone(),
            release: u.release.clone(),
            environment: u.environment.clone(),
            bucket_start: u.bucket_start,
            started: 0,
            outcome: 0,
            updated_at: now,
        };
        let state = tx.workspace(ws).lock_session_state(&initial).await?;
        states.insert(key, (state, false));
    }
    let mut counts = Vec::new();
    for &u in updates {
        let Some((state, changed)) = states.get_mut(&(u.project_id, u.sid.as_str())) else {
            continue;
        };
        if let Some(delta) = apply(state, u) {
            counts.push(delta);
            *changed = true;
        }
    }
    for (state, changed) in states.values_mut() {
        if *changed {
            state.updated_at = now;
            tx.workspace(ws).put_session_state(state).await?;
        }
    }
    Ok(counts)
}

/// Each distinct user of a batch once per bucket, with the worst status seen: one insert
/// must not name a row twice (PostgreSQL refuses an upsert that changes a row twice), and a
/// user's sessions often send several updates in one batch.
pub(super) fn distinct_users<'a>(
    users: impl IntoIterator<Item = &'a SessionUser>,
) -> Vec<SessionUser> {
    let mut by_key: BTreeMap<(ProjectId, &str, &str, Timestamp, i64), SessionUser> =
        BTreeMap::new();
    for u in users {
        let key = (
            u.project_id,
            u.release.as_str(),
            u.environment.as_str(),
            u.bucket_start,
            u.user_hash,
        );
        by_key
            .entry(key)
            .and_modify(|e| e.worst = e.worst.max(u.worst))
            .or_insert_with(|| u.clone());
    }
    by_key.into_values().collect()
}

/// What `u` adds to the rollups given what its session counted so far (and updates `state`);
/// `None` when it adds nothing.
fn apply(state: &mut SessionState, u: &SessionUpdate) -> Option<SessionCounts> {
    let start = u.init && state.started == 0;
    let worse = u.outcome > state.outcome;
    if !start && !worse {
        return None;
    }
    let mut d = SessionCounts {
        project_id: state.project_id,
        release: state.release.clone(),
        environment: state.environment.clone(),
        bucket_start: state.bucket_start,
        started: i64::from(start),
        exited: 0,
        errored: 0,
        crashed: 0,
        abnormal: 0,
    };
    if worse {
        for (outcome, n) in [(state.outcome, -1), (u.outcome, 1)] {
            match outcome {
                1 => d.exited += n,
                2 => d.errored += n,
                3 => d.abnormal += n,
                4 => d.crashed += n,
                _ => {}
            }
        }
        state.outcome = u.outcome;
    }
    if start {
        state.started = 1;
    }
    Some(d)
}

/// Deletes a project's session states not updated since `before` (its event retention),
/// `chunk` rows per statement. A session silent that long is over; should an update of it
/// still come, it counts as a new session would.
///
/// # Errors
///
/// A store error.
pub(super) async fn prune(
    state: &AppState,
    project: ProjectId,
    before: Timestamp,
    chunk: u32,
) -> bitwobbly_store::Result<()> {
    while state
        .store
        .global()
        .delete_expired_session_states(project, before, chunk)
        .await?
        >= u64::from(chunk)
    {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update_of(json: &str) -> Option<SessionUpdate> {
        let s = Session::from_json(json.as_bytes()).unwrap();
        update(
            ProjectId(1),
            &s,
            Timestamp::from_millis(1_700_000_000_000),
            &mut vec![],
        )
    }

    fn totals(json: &[&str]) -> [i64; 5] {
        let first = update_of(json[0]).unwrap();
        let mut state = SessionState {
            project_id: first.project_id,
            sid: first.sid.clone(),
            release: first.release.clone(),
            environment: first.environment.clone(),
            bucket_start: first.bucket_start,
            started: 0,
            outcome: 0,
            updated_at: Timestamp::from_millis(0),
        };
        let mut t = [0; 5];
        for j in json {
            if let Some(d) = apply(&mut state, &update_of(j).unwrap()) {
                for (i, n) in [d.started, d.exited, d.errored, d.abnormal, d.crashed]
                    .into_iter()
                    .enumerate()
                {
                    t[i] += n;
                }
            }
        }
        t
    }

    const A: &str = r#""sid":"s1","attrs":{"release":"r"}"#;

    #[test]
    fn a_session_counts_its_start_once_and_one_end_state() {
        let init_crashed = format!(r#"{{{A},"init":true,"status":"crashed","errors":1}}"#);
        let again = format!(r#"{{{A},"init":false,"status":"crashed","errors":1}}"#);
        assert_eq!(totals(&[&init_crashed, &again, &again]), [1, 0, 0, 0, 1]);
        // Errored while running, then exited: errored once.
        let erroring = format!(r#"{{{A},"init":true,"status":"ok","errors":1}}"#);
        let exited = format!(r#"{{{A},"status":"exited","errors":1}}"#);
        assert_eq!(totals(&[&erroring, &exited]), [1, 0, 1, 0, 0]);
        // Errored, then crashed: moved to crashed; in any order.
        assert_eq!(totals(&[&erroring, &again]), [1, 0, 0, 0, 1]);
        assert_eq!(totals(&[&again, &erroring]), [1, 0, 0, 0, 1]);
        // A repeated init counts one start; a clean exit is exited.
        let init_ok = format!(r#"{{{A},"init":true}}"#);
        let clean = format!(r#"{{{A},"status":"exited"}}"#);
        assert_eq!(
            totals(&[&init_ok, &init_ok, &clean, &clean]),
            [1, 1, 0, 0, 0]
        );
        // Abnormal beats errored, crashed beats abnormal.
        let abnormal = format!(r#"{{{A},"status":"abnormal"}}"#);
        assert_eq!(
            totals(&[&init_ok, &erroring, &abnormal, &again]),
            [1, 0, 0, 0, 1]
        );
    }

    #[test]
    fn a_batch_names_each_user_once_with_the_worst_status() {
        let user = |hash, worst| SessionUser {
            project_id: ProjectId(1),
            release: "r".into(),
            environment: String::new(),
            bucket_start: Timestamp::from_millis(0),
            user_hash: hash,
            worst,
        };
        let users = [user(1, 0), user(2, 1), user(1, 3), user(1, 1)];
        let d = distinct_users(&users);
        assert_eq!(d, vec![user(1, 3), user(2, 1)]);
    }

    #[test]
    fn unusable_sessions_are_skipped() {
        assert!(update_of(r#"{"sid":"s","attrs":{}}"#).is_none());
        assert!(update_of(r#"{"sid":"  ","attrs":{"release":"r"}}"#).is_none());
        let long = format!(
            r#"{{"sid":"{}","attrs":{{"release":"r"}}}}"#,
            "x".repeat(10_000)
        );
        assert_eq!(update_of(&long).unwrap().sid.chars().count(), SID_MAX);
    }
}
