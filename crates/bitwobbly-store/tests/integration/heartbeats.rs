//! Heartbeat monitors: ping tokens, deadlines kept in `next_run_at`, and the locked
//! read-modify-write of a monitor's state.

use std::collections::HashSet;
use std::time::Duration;

use bitwobbly_core::{HeartbeatState, Ping};
use bitwobbly_store::prelude::*;

use crate::harness::{
    T0, at, conformance, heartbeat_monitor, http_monitor, machine_down, spawn, workspace,
};

async fn heartbeats_get_a_ping_token_and_their_first_deadline(store: Store) {
    let ws = workspace(&store, "hb").await;
    let other = workspace(&store, "hb2").await;
    let mut s = store.workspace(ws);
    // Every 5 minutes, 1 minute of grace: first deadline 6 minutes after creation.
    let hb = s
        .create_monitor(&heartbeat_monitor("backup", 300), T0)
        .await
        .unwrap();
    let token = hb.ping_token.clone().expect("a heartbeat has a ping token");
    assert!(
        token.len() >= 22
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token:?} is not a long URL-safe token"
    );
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!(st.next_run_at, at(360));
    assert_eq!(st.heartbeat, Some(HeartbeatState::new(T0.to_datetime())));
    assert_eq!(st.status, MonitorStatus::Unknown);

    // Plain checks have no token; every heartbeat has its own, whatever its workspace.
    let http = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    assert_eq!(http.ping_token, None);
    let mut tokens = HashSet::from([token.clone()]);
    for i in 0..5 {
        let w = if i % 2 == 0 { ws } else { other };
        let m = store
            .workspace(w)
            .create_monitor(&heartbeat_monitor("job", 300), T0)
            .await
            .unwrap();
        assert!(tokens.insert(m.ping_token.unwrap()), "tokens are unique");
    }

    // The token finds the monitor and its state from the global scope.
    let (found, state) = store
        .global()
        .monitor_by_ping_token(&token)
        .await
        .unwrap()
        .expect("found by token");
    assert_eq!((found.id, found.workspace_id), (hb.id, ws));
    assert_eq!(state, st);
    assert_eq!(
        store.global().monitor_by_ping_token("nope").await.unwrap(),
        None
    );
}

async fn updates_keep_the_token_and_follow_the_kind(store: Store) {
    let ws = workspace(&store, "hbu").await;
    let mut s = store.workspace(ws);
    let hb = s
        .create_monitor(&heartbeat_monitor("job", 300), T0)
        .await
        .unwrap();
    let token = hb.ping_token.clone().unwrap();

    // A ping arrives at 2 minutes; the handler stores its state and the next deadline.
    let mut state = HeartbeatState::new(T0.to_datetime());
    state.record(Ping::Success, at(120).to_datetime());
    s.update_monitor_state(
        hb.id,
        &StateUpdate {
            heartbeat: Some(state.clone()),
            next_run_at: Some(at(480)),
            last_result_at: Some(at(120)),
            last_status: Some(CheckStatus::Up),
            last_message: Some("backup ok".into()),
            ..StateUpdate::new(MonitorStatus::Up, bitwobbly_core::MonitorState::new())
        },
    )
    .await
    .unwrap();

    // A longer period: same token, same pings, a deadline from the new policy.
    let renamed = s
        .update_monitor(hb.id, &heartbeat_monitor("nightly job", 600), at(200))
        .await
        .unwrap();
    assert_eq!(renamed.ping_token.as_deref(), Some(token.as_str()));
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!(st.heartbeat.as_ref(), Some(&state));
    assert_eq!(st.next_run_at, at(120 + 600 + 60));
    assert_eq!(st.last_message.as_deref(), Some("backup ok"));

    // No longer a heartbeat: no token, no heartbeat state, due at once.
    let http = s
        .update_monitor(hb.id, &http_monitor("job"), at(300))
        .await
        .unwrap();
    assert_eq!(http.ping_token, None);
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!((st.heartbeat, st.next_run_at), (None, at(300)));
    assert_eq!(
        store.global().monitor_by_ping_token(&token).await.unwrap(),
        None
    );

    // A heartbeat again: a new token, counting from now.
    let again = s
        .update_monitor(hb.id, &heartbeat_monitor("job", 300), at(400))
        .await
        .unwrap();
    let new_token = again.ping_token.unwrap();
    assert_ne!(new_token, token);
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!(
        st.heartbeat,
        Some(HeartbeatState::new(at(400).to_datetime()))
    );
    assert_eq!(st.next_run_at, at(400 + 360));
}

async fn heartbeats_are_claimed_at_their_deadline(store: Store) {
    let ws = workspace(&store, "hbc").await;
    let hb = store
        .workspace(ws)
        .create_monitor(&heartbeat_monitor("job", 300), T0)
        .await
        .unwrap();
    let mut g = store.global();
    let early = g
        .claim_due_monitors("n1", at(359), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert!(early.is_empty(), "not due before its deadline");
    let due = g
        .claim_due_monitors("n1", at(360), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    let claimed = &due[0];
    assert_eq!((claimed.monitor.id, claimed.due_at), (hb.id, at(360)));
    assert_eq!(
        claimed.state.heartbeat,
        Some(HeartbeatState::new(T0.to_datetime()))
    );
    assert_eq!(claimed.state.lease_owner.as_deref(), Some("n1"));
    assert_eq!(claimed.state.lease_expires_at, Some(at(390)));
}

/// Each writer reads a counter from the locked state and writes it back plus one; with the
/// row locked no increment is lost.
async fn locked_state_serialises_read_modify_write(store: Store) {
    const WRITERS: usize = 6;
    const ROUNDS: usize = 5;
    let ws = workspace(&store, "lock").await;
    let m = store
        .workspace(ws)
        .create_monitor(&http_monitor("api"), T0)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let store = store.clone();
        tasks.push(spawn(async move {
            for _ in 0..ROUNDS {
                let mut tx = store.begin().await.unwrap();
                let st = tx
                    .workspace(ws)
                    .monitor_state_for_update(m.id)
                    .await
                    .unwrap()
                    .unwrap();
                let n: u64 = st.last_message.as_deref().unwrap_or("0").parse().unwrap();
                // Give the other writers every chance to read the same value.
                tokio::task::yield_now().await;
                tx.workspace(ws)
                    .update_monitor_state(
                        m.id,
                        &StateUpdate {
                            last_message: Some((n + 1).to_string()),
                            ..StateUpdate::new(MonitorStatus::Up, st.machine)
                        },
                    )
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let st = store
        .workspace(ws)
        .monitor_state(m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        st.last_message.as_deref(),
        Some((WRITERS * ROUNDS).to_string().as_str())
    );
}

async fn locked_state_is_scoped_and_absent_for_unknown_monitors(store: Store) {
    let a = workspace(&store, "la").await;
    let b = workspace(&store, "lb").await;
    let m = store
        .workspace(a)
        .create_monitor(&http_monitor("api"), T0)
        .await
        .unwrap();
    store
        .workspace(a)
        .update_monitor_state(m.id, &StateUpdate::new(MonitorStatus::Down, machine_down()))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.workspace(b)
            .monitor_state_for_update(m.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        tx.workspace(a)
            .monitor_state_for_update(MonitorId(999_999))
            .await
            .unwrap(),
        None
    );
    let st = tx
        .workspace(a)
        .monitor_state_for_update(m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (st.status, st.machine),
        (MonitorStatus::Down, machine_down())
    );
    tx.rollback().await.unwrap();
}

async fn paused_heartbeats_count_again_from_resume(store: Store) {
    let ws = workspace(&store, "hbp").await;
    let mut s = store.workspace(ws);
    let hb = s
        .create_monitor(&heartbeat_monitor("job", 300), T0)
        .await
        .unwrap();
    s.set_paused(hb.id, true, at(100)).await.unwrap();
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!(
        (st.status, st.next_run_at),
        (MonitorStatus::Paused, at(360))
    );
    assert!(
        store
            .global()
            .claim_due_monitors("n1", at(1000), Duration::from_secs(30), 10)
            .await
            .unwrap()
            .is_empty(),
        "a paused heartbeat is not checked"
    );

    s.set_paused(hb.id, false, at(2000)).await.unwrap();
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!(
        (st.status, st.next_run_at, st.heartbeat),
        (
            MonitorStatus::Unknown,
            at(2360),
            Some(HeartbeatState::new(at(2000).to_datetime()))
        )
    );
    // Resuming what is not paused changes nothing.
    s.set_paused(hb.id, false, at(2100)).await.unwrap();
    assert_eq!(
        s.monitor_state(hb.id).await.unwrap().unwrap().next_run_at,
        at(2360)
    );

    // The same through an update of the definition.
    let mut paused = heartbeat_monitor("job", 300);
    paused.paused = true;
    s.update_monitor(hb.id, &paused, at(2500)).await.unwrap();
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!(st.status, MonitorStatus::Paused);
    s.update_monitor(hb.id, &heartbeat_monitor("job", 300), at(3000))
        .await
        .unwrap();
    let st = s.monitor_state(hb.id).await.unwrap().unwrap();
    assert_eq!(
        (st.status, st.next_run_at, st.heartbeat),
        (
            MonitorStatus::Unknown,
            at(3360),
            Some(HeartbeatState::new(at(3000).to_datetime()))
        )
    );
}

async fn a_heartbeat_expecting_no_more_pings_is_never_due(store: Store) {
    let ws = workspace(&store, "hbn").await;
    // 30 February never comes.
    let cron = bitwobbly_core::CronSchedule::new("0 0 30 2 *", "UTC").unwrap();
    let new = NewMonitor {
        spec: bitwobbly_core::CheckSpec::Heartbeat(bitwobbly_core::HeartbeatPolicy::cron(
            cron,
            Duration::ZERO,
        )),
        ..heartbeat_monitor("never", 300)
    };
    let m = store.workspace(ws).create_monitor(&new, T0).await.unwrap();
    let st = store
        .workspace(ws)
        .monitor_state(m.id)
        .await
        .unwrap()
        .unwrap();
    assert!(st.next_run_at > at(100 * 365 * 86_400));
    assert_eq!(
        st.next_run_at.to_datetime().year(),
        9999,
        "still a real date"
    );
}

conformance!(
    paused_heartbeats_count_again_from_resume,
    a_heartbeat_expecting_no_more_pings_is_never_due,
    heartbeats_get_a_ping_token_and_their_first_deadline,
    updates_keep_the_token_and_follow_the_kind,
    heartbeats_are_claimed_at_their_deadline,
    locked_state_serialises_read_modify_write,
    locked_state_is_scoped_and_absent_for_unknown_monitors,
);
