use std::time::Duration;

use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance, http_monitor, webhook, workspace};

async fn monitors_round_trip_their_definition(store: Store) {
    let ws = workspace(&store, "m").await;
    let mut s = store.workspace(ws);
    let mut new = http_monitor("api");
    new.schedule = Schedule::Cron {
        expr: "*/5 * * * *".into(),
    };
    new.thresholds = Thresholds {
        failures: 3,
        recoveries: 2,
        degraded_after: Some(Duration::from_millis(1500)),
    };
    new.locations = vec!["eu-west".into(), "us-east".into()];
    let m = s.create_monitor(&new, T0).await.unwrap();
    assert_eq!(m.workspace_id, ws);
    assert_eq!(
        (m.schedule.clone(), m.thresholds),
        (new.schedule.clone(), new.thresholds)
    );
    assert_eq!(m.spec, new.spec);
    assert_eq!(m.locations, new.locations);
    assert_eq!(s.monitor(m.id).await.unwrap(), Some(m.clone()));

    let mut changed = new.clone();
    changed.name = "api v2".into();
    changed.schedule = Schedule::Interval { secs: 30 };
    let updated = s.update_monitor(m.id, &changed, at(5)).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.updated_at),
        ("api v2", at(5))
    );
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
    bad.schedule = Schedule::Interval { secs: 0 };
    assert!(matches!(
        s.create_monitor(&bad, T0).await.unwrap_err(),
        StoreError::Invalid {
            field: "schedule",
            ..
        }
    ));
}

async fn monitor_state_is_kept_and_pausing_stops_scheduling(store: Store) {
    let ws = workspace(&store, "st").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let st = s.monitor_state(m.id).await.unwrap().unwrap();
    assert_eq!(
        (st.status, st.next_run_at, st.consecutive_failures),
        (MonitorStatus::Unknown, T0, 0)
    );

    let update = StateUpdate {
        status: MonitorStatus::Down,
        consecutive_failures: 3,
        consecutive_successes: 0,
        last_result_at: at(60),
        last_status: CheckStatus::Down,
    };
    s.update_monitor_state(m.id, &update).await.unwrap();
    let st = s.monitor_state(m.id).await.unwrap().unwrap();
    assert_eq!(
        (
            st.status,
            st.consecutive_failures,
            st.last_result_at,
            st.last_status
        ),
        (
            MonitorStatus::Down,
            3,
            Some(at(60)),
            Some(CheckStatus::Down)
        )
    );

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

conformance!(
    monitors_round_trip_their_definition,
    invalid_monitors_are_refused,
    monitor_state_is_kept_and_pausing_stops_scheduling,
    monitors_link_notification_channels,
);
