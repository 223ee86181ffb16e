use std::time::Duration;

use bitwobbly_core::quorum::{QuorumPolicy, Share};
use bitwobbly_core::state::{HealthTracker, Thresholds};
use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance, http_monitor, result, workspace};

fn row(seq: u64, r: Option<NewCheckResult>) -> AgentResultRow {
    AgentResultRow { seq, result: r }
}

fn located(monitor: MonitorId, location: &str, secs: i64) -> NewCheckResult {
    let mut r = result(monitor, at(secs), CheckStatus::Up, 1000);
    r.location = location.to_owned();
    r
}

async fn locations_are_unique_per_workspace_and_listed_by_name(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    let mut s = store.workspace(a);
    let us = s.create_location("us-1", T0).await.unwrap();
    s.create_location("eu-1", at(1)).await.unwrap();
    assert!(
        s.create_location("us-1", T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(matches!(
        s.create_location(" ", T0).await.unwrap_err(),
        StoreError::Invalid { field: "name", .. }
    ));
    // Another workspace may use the same name, and sees none of a's.
    store
        .workspace(b)
        .create_location("us-1", T0)
        .await
        .unwrap();
    let names: Vec<String> = s
        .locations()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["eu-1", "us-1"]);
    assert_eq!(s.location("us-1").await.unwrap(), Some(us.clone()));
    assert_eq!(us.last_seen_at, None);
    assert_eq!(store.workspace(b).locations().await.unwrap().len(), 1);

    s.delete_location("us-1").await.unwrap();
    assert_eq!(s.location("us-1").await.unwrap(), None);
    assert!(s.delete_location("us-1").await.unwrap_err().is_not_found());
    assert!(store.workspace(b).location("us-1").await.unwrap().is_some());
}

async fn agent_tokens_authenticate_until_revoked(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    let place = store
        .workspace(a)
        .create_location("eu-1", T0)
        .await
        .unwrap();
    let (token, secret) = store
        .workspace(a)
        .create_agent_token(place.id, "host-1", T0)
        .await
        .unwrap();
    assert!(secret.expose().starts_with("bwa_"));
    assert!(secret.expose().contains(&token.prefix));
    assert_eq!(token.location_id, place.id);

    // Another workspace cannot make a token for a's location, nor list or revoke a's.
    assert!(
        store
            .workspace(b)
            .create_agent_token(place.id, "x", T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .workspace(b)
            .agent_tokens(place.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .workspace(b)
            .revoke_agent_token(place.id, token.id, T0)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let (got, loc) = store
        .global()
        .authenticate_agent(secret.expose(), at(5))
        .await
        .unwrap()
        .expect("a live token authenticates");
    assert_eq!((got.id, got.last_used_at), (token.id, Some(at(5))));
    assert_eq!((loc.id, loc.last_seen_at), (place.id, Some(at(5))));
    let stored = store.workspace(a).location("eu-1").await.unwrap().unwrap();
    assert_eq!(stored.last_seen_at, Some(at(5)));

    // Wrong secrets: a changed tail, an API-token shape, garbage.
    let mut wrong = secret.expose().to_owned();
    wrong.pop();
    wrong.push('x');
    let (_, api) = store
        .workspace(a)
        .create_api_token("api", Role::Admin, None, T0, None)
        .await
        .unwrap();
    for bad in [
        wrong.as_str(),
        "bw_0123456789ab_cd",
        "",
        "bwa_",
        api.expose(),
    ] {
        assert!(
            store
                .global()
                .authenticate_agent(bad, at(6))
                .await
                .unwrap()
                .is_none(),
            "{bad:?}"
        );
    }

    store
        .workspace(a)
        .revoke_agent_token(place.id, token.id, at(7))
        .await
        .unwrap();
    assert!(
        store
            .global()
            .authenticate_agent(secret.expose(), at(8))
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.workspace(a).agent_tokens(place.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(at(7)));

    // Deleting the location takes its tokens with it.
    store.workspace(a).delete_location("eu-1").await.unwrap();
    assert!(
        store
            .workspace(a)
            .agent_tokens(place.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn agent_batches_are_stored_exactly_once(store: Store) {
    let ws = workspace(&store, "a").await;
    let place = store
        .workspace(ws)
        .create_location("eu-1", T0)
        .await
        .unwrap();
    let m = store
        .workspace(ws)
        .create_monitor(&http_monitor("api"), T0)
        .await
        .unwrap();
    let mut s = store.workspace(ws);
    assert_eq!(
        s.agent_hello(place.id, "agent-a", "1.0.0", at(1))
            .await
            .unwrap(),
        0
    );
    let hello = s.location("eu-1").await.unwrap().unwrap();
    assert_eq!(hello.last_agent_id.as_deref(), Some("agent-a"));
    assert_eq!(hello.last_version.as_deref(), Some("1.0.0"));

    let batch = [
        row(1, Some(located(m.id, "eu-1", 10))),
        row(2, None),
        row(3, Some(located(m.id, "eu-1", 20))),
    ];
    let first = s
        .record_agent_batch(place.id, "agent-a", &batch, at(30))
        .await
        .unwrap();
    assert_eq!(
        (
            first.stored.clone(),
            first.duplicates,
            first.ignored,
            first.last_seq
        ),
        (vec![0, 2], 0, 1, 3)
    );
    // Sent again (the answer was lost): nothing new is stored.
    let again = s
        .record_agent_batch(place.id, "agent-a", &batch, at(31))
        .await
        .unwrap();
    assert_eq!(
        (
            again.stored.len(),
            again.duplicates,
            again.ignored,
            again.last_seq
        ),
        (0, 3, 0, 3)
    );
    // Overlapping: 3 is old, 4 is new.
    let more = s
        .record_agent_batch(
            place.id,
            "agent-a",
            &[
                row(3, Some(located(m.id, "eu-1", 20))),
                row(4, Some(located(m.id, "eu-1", 40))),
            ],
            at(41),
        )
        .await
        .unwrap();
    assert_eq!(
        (more.stored, more.duplicates, more.last_seq),
        (vec![1], 1, 4)
    );
    let stored = s.latest_results().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].result.location, "eu-1");
    let page = s
        .results(&ResultQuery {
            monitor_id: m.id,
            from: T0,
            to: at(3600),
            order: Order::Ascending,
            limit: 100,
            after: None,
        })
        .await
        .unwrap();
    let starts: Vec<Timestamp> = page.items.iter().map(|r| r.result.started_at).collect();
    assert_eq!(starts, [at(10), at(20), at(40)]);
    assert_eq!(page.items.len(), 3);
    assert_eq!(s.agent_cursor(place.id, "agent-a").await.unwrap(), 4);
    // Another agent of the location has its own cursor.
    assert_eq!(s.agent_cursor(place.id, "agent-b").await.unwrap(), 0);
    assert_eq!(
        s.agent_hello(place.id, "agent-a", "1.0.1", at(50))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        s.location("eu-1").await.unwrap().unwrap().last_seen_at,
        Some(at(50))
    );
}

async fn a_failing_batch_writes_nothing(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    let place = store
        .workspace(a)
        .create_location("eu-1", T0)
        .await
        .unwrap();
    let mine = store
        .workspace(a)
        .create_monitor(&http_monitor("api"), T0)
        .await
        .unwrap();
    let theirs = store
        .workspace(b)
        .create_monitor(&http_monitor("other"), T0)
        .await
        .unwrap();
    let mut s = store.workspace(a);
    // A monitor of another workspace: nothing written, cursor and contact unchanged.
    let err = s
        .record_agent_batch(
            place.id,
            "agent-a",
            &[
                row(1, Some(located(mine.id, "eu-1", 1))),
                row(2, Some(located(theirs.id, "eu-1", 2))),
            ],
            at(10),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(s.agent_cursor(place.id, "agent-a").await.unwrap(), 0);
    assert!(s.latest_results().await.unwrap().is_empty());
    assert_eq!(
        s.location("eu-1").await.unwrap().unwrap().last_seen_at,
        None
    );
    // Sequence numbers must increase within a batch.
    let err = s
        .record_agent_batch(place.id, "agent-a", &[row(2, None), row(2, None)], at(10))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "seq", .. }),
        "{err:?}"
    );
    let err = s
        .record_agent_batch(place.id, "agent-a", &[row(u64::MAX, None)], at(10))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "seq", .. }),
        "{err:?}"
    );
    // Another workspace's location id is not found from this workspace.
    let err = store
        .workspace(b)
        .record_agent_batch(place.id, "agent-a", &[row(1, None)], at(10))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(s.agent_cursor(place.id, "agent-a").await.unwrap(), 0);
}

async fn location_states_round_trip_per_monitor(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    let m = store
        .workspace(a)
        .create_monitor(&http_monitor("api"), T0)
        .await
        .unwrap();
    let mut tracker = HealthTracker::new();
    let _ = tracker.record(
        &Thresholds::default(),
        bitwobbly_core::Status::Down,
        Some("refused"),
        at(1).to_datetime(),
    );
    let mut state = LocationState {
        monitor_id: m.id,
        workspace_id: a,
        location: "eu-1".into(),
        tracker,
        last_result_at: Some(at(1)),
        last_status: Some(CheckStatus::Down),
        reason: Some("refused".into()),
    };
    let mut s = store.workspace(a);
    s.save_location_state(&state).await.unwrap();
    let mut local = state.clone();
    local.location = "local".into();
    local.tracker = HealthTracker::new();
    s.save_location_state(&local).await.unwrap();
    assert_eq!(
        s.location_states(m.id).await.unwrap(),
        [state.clone(), local.clone()]
    );
    // Saving again replaces the location's row.
    state.last_status = Some(CheckStatus::Up);
    state.reason = None;
    state.last_result_at = Some(at(2));
    s.save_location_state(&state).await.unwrap();
    assert_eq!(
        s.location_states(m.id).await.unwrap(),
        [state.clone(), local]
    );
    // Another workspace can neither write nor read it.
    assert!(
        store
            .workspace(b)
            .save_location_state(&state)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .workspace(b)
            .location_states(m.id)
            .await
            .unwrap()
            .is_empty()
    );
    // Deleting the monitor deletes its states.
    s.delete_monitor(m.id).await.unwrap();
    assert!(s.location_states(m.id).await.unwrap().is_empty());
}

async fn quorum_is_stored_and_agent_monitors_are_not_claimed_here(store: Store) {
    let ws = workspace(&store, "a").await;
    let mut s = store.workspace(ws);
    let mut remote = http_monitor("remote");
    remote.locations = vec!["eu-1".into(), "us-1".into()];
    remote.quorum.share = Share::Percent(34);
    let remote = s.create_monitor(&remote, T0).await.unwrap();
    assert_eq!(remote.quorum.share, Share::Percent(34));
    let mut both = http_monitor("both");
    both.locations = vec!["local".into(), "eu-1".into()];
    let both = s.create_monitor(&both, T0).await.unwrap();
    let plain = s.create_monitor(&http_monitor("plain"), T0).await.unwrap();
    assert_eq!(plain.quorum, QuorumPolicy::default());
    let mut bad = http_monitor("bad");
    bad.quorum.stale_after = Duration::ZERO;
    assert!(matches!(
        s.create_monitor(&bad, T0).await.unwrap_err(),
        StoreError::Invalid {
            field: "quorum",
            ..
        }
    ));

    let claimed: Vec<MonitorId> = store
        .global()
        .claim_due_monitors("n1", at(1), Duration::from_secs(30), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.monitor.id)
        .collect();
    assert_eq!(claimed, [both.id, plain.id]);
    assert_eq!(
        store.global().quorum_monitors().await.unwrap(),
        [(ws, remote.id), (ws, both.id)]
    );

    // Adding `local` to the remote one makes it claimable here; removing it stops that.
    let mut changed = http_monitor("remote");
    changed.locations = vec!["local".into()];
    s.update_monitor(remote.id, &changed, at(2)).await.unwrap();
    let claimed = store
        .global()
        .claim_due_monitors("n1", at(3), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.monitor.id).collect::<Vec<_>>(),
        [remote.id]
    );
    assert_eq!(
        store.global().quorum_monitors().await.unwrap(),
        [(ws, both.id)]
    );
}

conformance!(
    locations_are_unique_per_workspace_and_listed_by_name,
    agent_tokens_authenticate_until_revoked,
    agent_batches_are_stored_exactly_once,
    a_failing_batch_writes_nothing,
    location_states_round_trip_per_monitor,
    quorum_is_stored_and_agent_monitors_are_not_claimed_here,
);
