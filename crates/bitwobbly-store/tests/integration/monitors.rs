use std::time::Duration;

use bitwobbly_core::{Schedule, Thresholds};
use bitwobbly_store::prelude::*;

use crate::harness::{
    T0, TestDb, at, conformance, http_monitor, keyed_monitor, machine_down, webhook, workspace,
};

async fn monitors_round_trip_their_definition(store: Store) {
    let ws = workspace(&store, "m").await;
    let mut s = store.workspace(ws);
    let mut new = http_monitor("api");
    new.schedule = Schedule::cron("*/5 * * * *", "Europe/Paris").unwrap();
    let mut thresholds = Thresholds::default();
    thresholds.down_after = 3;
    thresholds.degraded_after = 1;
    thresholds.window = 5;
    thresholds.recover_after = 2;
    thresholds.flap_window = Duration::from_secs(600);
    new.thresholds = thresholds;
    new.locations = vec!["eu-west".into(), "us-east".into()];
    let m = s.create_monitor(&new, T0).await.unwrap();
    assert_eq!(m.workspace_id, ws);
    assert_eq!(
        (m.schedule.clone(), m.thresholds),
        (new.schedule.clone(), new.thresholds)
    );
    assert_eq!(
        (m.key.as_deref(), m.parent_id, m.ping_token.as_deref()),
        (None, None, None)
    );
    assert_eq!(m.spec, new.spec);
    assert_eq!(m.locations, new.locations);
    assert_eq!(s.monitor(m.id).await.unwrap(), Some(m.clone()));

    let mut changed = new.clone();
    changed.name = "api v2".into();
    changed.schedule = Schedule::interval(Duration::from_secs(30)).unwrap();
    let updated = s.update_monitor(m.id, &changed, at(5)).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.updated_at),
        ("api v2", at(5))
    );
    assert_eq!(updated.schedule, changed.schedule);
    assert_eq!(s.monitor(m.id).await.unwrap(), Some(updated.clone()));
    assert_eq!(updated.created_at, T0);

    let second = s.create_monitor(&http_monitor("web"), T0).await.unwrap();
    let all = s.monitors().await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![m.id, second.id]
    );

    s.delete_monitor(m.id).await.unwrap();
    assert_eq!(s.monitor(m.id).await.unwrap(), None);
    assert!(s.delete_monitor(m.id).await.unwrap_err().is_not_found());
}

async fn invalid_monitors_are_refused(store: Store) {
    let ws = workspace(&store, "inv").await;
    let mut s = store.workspace(ws);
    let mut bad = http_monitor(" ");
    assert!(matches!(
        s.create_monitor(&bad, T0).await.unwrap_err(),
        StoreError::Invalid { field: "name", .. }
    ));
    bad.name = "x".into();
    bad.schedule = Schedule::Interval(Duration::from_secs(1));
    assert!(matches!(
        s.create_monitor(&bad, T0).await.unwrap_err(),
        StoreError::Invalid {
            field: "schedule",
            ..
        }
    ));
    bad.schedule = Schedule::Interval(Duration::from_secs(60));
    bad.thresholds.down_after = 0;
    assert!(matches!(
        s.create_monitor(&bad, T0).await.unwrap_err(),
        StoreError::Invalid {
            field: "thresholds",
            ..
        }
    ));
    bad.thresholds = Thresholds::default();
    bad.key = Some(" ".into());
    assert!(matches!(
        s.create_monitor(&bad, T0).await.unwrap_err(),
        StoreError::Invalid { field: "key", .. }
    ));
    assert!(
        s.monitors().await.unwrap().is_empty(),
        "nothing was written"
    );
}

async fn monitor_state_is_kept_and_pausing_stops_scheduling(store: Store) {
    let ws = workspace(&store, "st").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let st = s.monitor_state(m.id).await.unwrap().unwrap();
    assert_eq!(
        (st.status, st.next_run_at, st.heartbeat.clone()),
        (MonitorStatus::Unknown, T0, None)
    );
    assert_eq!(st.machine, bitwobbly_core::MonitorState::new());

    let machine = machine_down();
    let update = StateUpdate {
        last_result_at: Some(at(60)),
        last_status: Some(CheckStatus::Down),
        last_message: Some("connection refused".into()),
        ..StateUpdate::new(MonitorStatus::Down, machine.clone())
    };
    s.update_monitor_state(m.id, &update).await.unwrap();
    let st = s.monitor_state(m.id).await.unwrap().unwrap();
    assert_eq!(
        (
            st.status,
            st.last_result_at,
            st.last_status,
            st.last_message.as_deref(),
            st.next_run_at
        ),
        (
            MonitorStatus::Down,
            Some(at(60)),
            Some(CheckStatus::Down),
            Some("connection refused"),
            T0
        )
    );
    assert_eq!(st.machine, machine);
    assert_eq!(st.machine.health(), bitwobbly_core::Health::Down);

    s.set_paused(m.id, true, at(70)).await.unwrap();
    assert!(s.monitor(m.id).await.unwrap().unwrap().paused);
    assert_eq!(
        s.monitor_state(m.id).await.unwrap().unwrap().status,
        MonitorStatus::Paused
    );
    let claimed = store
        .global()
        .claim_due_monitors("n1", at(100), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert!(claimed.is_empty(), "paused monitors are not scheduled");

    s.set_paused(m.id, false, at(200)).await.unwrap();
    let st = s.monitor_state(m.id).await.unwrap().unwrap();
    assert_eq!(
        (st.status, st.next_run_at),
        (MonitorStatus::Unknown, at(200))
    );
    let claimed = store
        .global()
        .claim_due_monitors("n1", at(200), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
}

async fn monitors_link_notification_channels(store: Store) {
    let ws = workspace(&store, "ch").await;
    let a = webhook(&store, ws).await;
    let b = webhook(&store, ws).await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    s.set_monitor_channels(m.id, &[a.id, b.id]).await.unwrap();
    let ids: Vec<_> = s
        .channels_for_monitor(m.id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![a.id, b.id]);
    s.set_monitor_channels(m.id, &[b.id]).await.unwrap();
    assert_eq!(s.channels_for_monitor(m.id).await.unwrap()[0].id, b.id);
    s.delete_channel(b.id).await.unwrap();
    assert!(s.channels_for_monitor(m.id).await.unwrap().is_empty());
    assert_eq!(s.channels().await.unwrap().len(), 1);
}

async fn monitor_keys_are_unique_per_workspace(store: Store) {
    let a = workspace(&store, "ka").await;
    let b = workspace(&store, "kb").await;
    let mut sa = store.workspace(a);
    let api = sa
        .create_monitor(&keyed_monitor("api", "api"), T0)
        .await
        .unwrap();
    assert_eq!(api.key.as_deref(), Some("api"));
    assert_eq!(sa.monitor_by_key("api").await.unwrap(), Some(api.clone()));
    assert_eq!(sa.monitor_by_key("web").await.unwrap(), None);
    assert!(
        sa.create_monitor(&keyed_monitor("again", "api"), T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    // Monitors without a key never clash.
    sa.create_monitor(&http_monitor("x"), T0).await.unwrap();
    sa.create_monitor(&http_monitor("y"), T0).await.unwrap();

    // Another workspace has keys of its own.
    let mut sb = store.workspace(b);
    assert_eq!(sb.monitor_by_key("api").await.unwrap(), None);
    let other = sb
        .create_monitor(&keyed_monitor("api", "api"), T0)
        .await
        .unwrap();
    assert_eq!(
        sb.monitor_by_key("api").await.unwrap().unwrap().id,
        other.id
    );
    assert_eq!(sa.monitor_by_key("api").await.unwrap().unwrap().id, api.id);

    // A key can be changed, and a taken one is refused on update too.
    let web = sa
        .create_monitor(&keyed_monitor("web", "web"), T0)
        .await
        .unwrap();
    let renamed = sa
        .update_monitor(api.id, &keyed_monitor("api", "api-v2"), at(1))
        .await
        .unwrap();
    assert_eq!(renamed.key.as_deref(), Some("api-v2"));
    assert_eq!(sa.monitor_by_key("api").await.unwrap(), None);
    assert!(
        sa.update_monitor(web.id, &keyed_monitor("web", "api-v2"), at(2))
            .await
            .unwrap_err()
            .is_conflict()
    );
}

async fn parents_stay_in_the_workspace_and_never_loop(store: Store) {
    let ws = workspace(&store, "pa").await;
    let other = workspace(&store, "pb").await;
    let foreign = store
        .workspace(other)
        .create_monitor(&http_monitor("elsewhere"), T0)
        .await
        .unwrap();
    let mut s = store.workspace(ws);
    let child = |parent: Option<MonitorId>| NewMonitor {
        parent_id: parent,
        ..http_monitor("child")
    };
    let err = s
        .create_monitor(&child(Some(foreign.id)), T0)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    let a = s.create_monitor(&http_monitor("a"), T0).await.unwrap();
    let b = s.create_monitor(&child(Some(a.id)), T0).await.unwrap();
    let c = s.create_monitor(&child(Some(b.id)), T0).await.unwrap();
    assert_eq!((b.parent_id, c.parent_id), (Some(a.id), Some(b.id)));

    // a -> c would close the loop a <- b <- c <- a.
    let looped = s.update_monitor(a.id, &child(Some(c.id)), at(1)).await;
    assert!(matches!(
        looped,
        Err(StoreError::Invalid {
            field: "parent_id",
            ..
        })
    ));
    let itself = s.update_monitor(a.id, &child(Some(a.id)), at(1)).await;
    assert!(matches!(
        itself,
        Err(StoreError::Invalid {
            field: "parent_id",
            ..
        })
    ));
    assert_eq!(s.monitor(a.id).await.unwrap().unwrap().parent_id, None);

    // Re-parenting without a loop is fine; deleting a parent orphans its child.
    let moved = s
        .update_monitor(c.id, &child(Some(a.id)), at(2))
        .await
        .unwrap();
    assert_eq!(moved.parent_id, Some(a.id));
    s.delete_monitor(a.id).await.unwrap();
    assert_eq!(s.monitor(b.id).await.unwrap().unwrap().parent_id, None);
    assert_eq!(s.monitor(c.id).await.unwrap().unwrap().parent_id, None);

    // A workspace goes with its whole dependency tree.
    let d = s.create_monitor(&child(Some(b.id)), T0).await.unwrap();
    s.create_monitor(&child(Some(d.id)), T0).await.unwrap();
    store.global().delete_workspace(ws).await.unwrap();
    assert!(store.workspace(ws).monitors().await.unwrap().is_empty());
}

async fn state_updates_write_optional_parts_only_when_given(store: Store) {
    let ws = workspace(&store, "su").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let full = StateUpdate {
        last_result_at: Some(at(10)),
        last_status: Some(CheckStatus::Down),
        last_message: Some("refused".into()),
        next_run_at: Some(at(15)),
        ..StateUpdate::new(MonitorStatus::Down, machine_down())
    };
    s.update_monitor_state(m.id, &full).await.unwrap();
    // Only the status and the machine: the rest stays.
    let bare = StateUpdate::new(
        MonitorStatus::Maintenance,
        bitwobbly_core::MonitorState::new(),
    );
    s.update_monitor_state(m.id, &bare).await.unwrap();
    let st = s.monitor_state(m.id).await.unwrap().unwrap();
    assert_eq!(st.status, MonitorStatus::Maintenance);
    assert_eq!(st.machine, bitwobbly_core::MonitorState::new());
    assert_eq!(
        (
            st.last_result_at,
            st.last_status,
            st.last_message.as_deref(),
            st.next_run_at,
            st.heartbeat
        ),
        (
            Some(at(10)),
            Some(CheckStatus::Down),
            Some("refused"),
            at(15),
            None
        )
    );
}

async fn monitor_states_list_the_workspace(store: Store) {
    let a = workspace(&store, "sa").await;
    let b = workspace(&store, "sb").await;
    let m1 = store
        .workspace(a)
        .create_monitor(&http_monitor("one"), T0)
        .await
        .unwrap();
    let m2 = store
        .workspace(a)
        .create_monitor(&http_monitor("two"), at(1))
        .await
        .unwrap();
    store
        .workspace(b)
        .create_monitor(&http_monitor("other"), T0)
        .await
        .unwrap();
    store
        .workspace(a)
        .update_monitor_state(m2.id, &StateUpdate::new(MonitorStatus::Up, machine_down()))
        .await
        .unwrap();
    let states = store.workspace(a).monitor_states().await.unwrap();
    assert_eq!(
        states
            .iter()
            .map(|s| (s.monitor_id, s.workspace_id, s.status, s.next_run_at))
            .collect::<Vec<_>>(),
        vec![
            (m1.id, a, MonitorStatus::Unknown, T0),
            (m2.id, a, MonitorStatus::Up, at(1))
        ]
    );
    assert_eq!(states[1].machine, machine_down());
}

conformance!(
    monitors_round_trip_their_definition,
    invalid_monitors_are_refused,
    monitor_state_is_kept_and_pausing_stops_scheduling,
    monitors_link_notification_channels,
    monitor_keys_are_unique_per_workspace,
    parents_stay_in_the_workspace_and_never_loop,
    state_updates_write_optional_parts_only_when_given,
    monitor_states_list_the_workspace,
);

/// Rows written before the core schedule, thresholds and state machine were stored (by the
/// first migration's columns only) still read.
async fn rows_of_the_first_schema_still_read(db: &TestDb) {
    let ws = workspace(&db.store, "legacy").await;
    let m = db
        .store
        .workspace(ws)
        .create_monitor(&http_monitor("old"), T0)
        .await
        .unwrap();
    db.execute(&format!(
        "UPDATE monitors SET schedule = NULL, thresholds = NULL, schedule_kind = 'cron', \
         interval_secs = NULL, cron = '*/5 * * * *', failure_threshold = 3, \
         recovery_threshold = 2 WHERE id = {}",
        m.id
    ))
    .await;
    db.execute(&format!(
        "UPDATE monitor_state SET machine = NULL WHERE monitor_id = {}",
        m.id
    ))
    .await;
    let mut s = db.store.workspace(ws);
    let read = s.monitor(m.id).await.unwrap().unwrap();
    assert_eq!(read.schedule, Schedule::cron("*/5 * * * *", "UTC").unwrap());
    let t = read.thresholds;
    assert_eq!((t.down_after, t.recover_after, t.window), (3, 2, 3));
    t.validate().expect("derived thresholds are valid");
    let st = s.monitor_state(m.id).await.unwrap().unwrap();
    assert_eq!(st.machine, bitwobbly_core::MonitorState::new());

    db.execute(&format!(
        "UPDATE monitors SET schedule_kind = 'interval', interval_secs = 90, cron = NULL \
         WHERE id = {}",
        m.id
    ))
    .await;
    assert_eq!(
        s.monitor(m.id).await.unwrap().unwrap().schedule,
        Schedule::Interval(Duration::from_secs(90))
    );
}

mod first_schema {
    use super::rows_of_the_first_schema_still_read;

    bitwobbly_test_support::both_backends!(
        crate::harness::with_db;
        rows_of_the_first_schema_still_read
    );
}
