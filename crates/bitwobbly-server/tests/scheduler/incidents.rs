//! Thresholds, incidents, the outbox, dependencies, maintenance and flapping, driven through
//! the running scheduler.

use std::time::Duration;

use bitwobbly_core::alert::{Alert, AlertKind};
use bitwobbly_core::state::Condition;
use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;

use crate::harness::*;

both!(
    down_after_failures_opens_one_incident_and_one_row_per_channel,
    recovery_resolves_the_incident_with_its_duration,
    a_down_parent_suppresses_its_childs_alerts,
    maintenance_suppresses_alerts_and_shows_as_maintenance,
    flapping_collapses_into_one_episode,
);

async fn down_after_failures_opens_one_incident_and_one_row_per_channel(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let target = Toggle::start(false).await;
    let m = create(
        store,
        ws,
        &http_monitor("API", &target.url(), thresholds(3, 2)),
    )
    .await;
    let a = webhook(store, ws, "a", true).await;
    let b = webhook(store, ws, "b", true).await;
    let off = webhook(store, ws, "off", false).await;
    store
        .workspace(ws)
        .set_monitor_channels(m.id, &[a.id, b.id, off.id])
        .await
        .unwrap();
    let run = Running::start(app(store, fast_config(), "node-a"));

    // Down exactly from the third failure in a row; nothing announced before.
    let s = loop {
        run_once(store, ws, m.id).await;
        let (s, results) = settle(store, ws, m.id).await;
        assert_eq!(
            s.status == MonitorStatus::Down,
            results.len() >= 3,
            "{results:?}"
        );
        if s.status == MonitorStatus::Down {
            break s;
        }
        assert!(incidents_of(store, ws, m.id).await.is_empty());
        assert!(outbox(store, ws).await.is_empty());
    };
    assert_eq!(s.last_status, Some(CheckStatus::Down));
    assert_eq!(s.machine.condition(), Condition::Down);

    let incidents = incidents_of(store, ws, m.id).await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let inc = &incidents[0];
    assert_eq!(inc.kind, IncidentKind::Automatic);
    assert_eq!(inc.impact, Impact::Major);
    assert_eq!(inc.status, IncidentStatus::Investigating);
    assert!(inc.title.starts_with("API is down"), "{}", inc.title);
    assert!(inc.resolved_at.is_none());

    let rows = outbox(store, ws).await;
    let mut channels: Vec<ChannelId> = rows.iter().filter_map(|r| r.channel_id).collect();
    channels.sort();
    assert_eq!(channels, vec![a.id, b.id], "one row per enabled channel");
    for row in &rows {
        assert_eq!(row.event, "incident.opened");
        let alert: Alert = serde_json::from_value(row.payload.clone()).expect("an Alert");
        assert_eq!(alert.kind, AlertKind::Down);
        assert_eq!(alert.incident_id, Some(inc.id.0));
        assert_eq!(alert.monitor_id, Some(m.id.0));
        assert_eq!(alert.monitor, "API");
        assert_eq!(alert.target, target.url());
        assert!(
            alert.reason.as_deref().unwrap_or_default().contains("503"),
            "{alert:?}"
        );
        assert_eq!(
            alert.link,
            format!("http://status.example.test/monitors/{}", m.id.0)
        );
    }

    // More failures: still one incident, no more rows.
    for _ in 0..3 {
        run_once(store, ws, m.id).await;
    }
    assert_eq!(incidents_of(store, ws, m.id).await.len(), 1);
    assert_eq!(outbox(store, ws).await.len(), 2);
    run.stop().await;
}

async fn recovery_resolves_the_incident_with_its_duration(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let target = Toggle::start(false).await;
    let m = create(
        store,
        ws,
        &http_monitor("Shop", &target.url(), thresholds(1, 2)),
    )
    .await;
    let hook = webhook(store, ws, "hook", true).await;
    store
        .workspace(ws)
        .set_monitor_channels(m.id, &[hook.id])
        .await
        .unwrap();
    let run = Running::start(app(store, fast_config(), "node-a"));

    let s = run_once(store, ws, m.id).await;
    assert_eq!(s.status, MonitorStatus::Down);
    let opened = incidents_of(store, ws, m.id).await;
    assert_eq!(opened.len(), 1);

    target.set(true);
    // Up again from the second success in a row (recover_after 2), not from the first.
    loop {
        run_once(store, ws, m.id).await;
        let (s, results) = settle(store, ws, m.id).await;
        let successes = results
            .iter()
            .rev()
            .take_while(|r| r.result.status == CheckStatus::Up)
            .count();
        assert_eq!(
            s.machine.condition() == Condition::Up,
            successes >= 2,
            "{results:?}"
        );
        if successes >= 2 {
            assert_eq!(s.status, MonitorStatus::Up);
            break;
        }
        assert!(incidents_of(store, ws, m.id).await[0].resolved_at.is_none());
    }

    let inc = &incidents_of(store, ws, m.id).await[0];
    assert_eq!(inc.id, opened[0].id);
    assert_eq!(inc.status, IncidentStatus::Resolved);
    let resolved_at = inc.resolved_at.expect("resolved");
    assert!(resolved_at >= inc.started_at);
    let updates = store.workspace(ws).incident_updates(inc.id).await.unwrap();
    let last = updates.last().expect("updates");
    assert_eq!(last.status, IncidentStatus::Resolved);
    assert!(
        last.message.starts_with("Recovered after"),
        "{}",
        last.message
    );

    let rows = outbox(store, ws).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].event, "incident.opened");
    assert_eq!(rows[1].event, "incident.resolved");
    let alert: Alert = serde_json::from_value(rows[1].payload.clone()).unwrap();
    assert_eq!(alert.kind, AlertKind::Recovered);
    assert_eq!(alert.incident_id, Some(inc.id.0));
    let lasted = alert.duration.expect("a recovery carries the outage");
    let span = Duration::from_millis((resolved_at.as_millis() - inc.started_at.as_millis()) as u64);
    assert!(
        lasted.as_secs() == span.as_secs()
            || lasted.as_secs() + 1 == span.as_secs()
            || lasted.as_secs() == span.as_secs() + 1,
        "{lasted:?} vs {span:?}"
    );
    run.stop().await;
}

async fn a_down_parent_suppresses_its_childs_alerts(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let target = Toggle::start(false).await;
    let parent = create(
        store,
        ws,
        &http_monitor("Router", &target.url(), thresholds(1, 1)),
    )
    .await;
    let mut child_def = http_monitor("App behind it", &target.url(), thresholds(1, 1));
    child_def.parent_id = Some(parent.id);
    // Held back until its parent is down, so that the order of the first runs is known.
    child_def.paused = true;
    let child = create(store, ws, &child_def).await;
    let hook = webhook(store, ws, "hook", true).await;
    for id in [parent.id, child.id] {
        store
            .workspace(ws)
            .set_monitor_channels(id, &[hook.id])
            .await
            .unwrap();
    }
    let run = Running::start(app(store, fast_config(), "node-a"));

    let p = run_once(store, ws, parent.id).await;
    assert_eq!(p.status, MonitorStatus::Down);
    let rows_after_parent = outbox(store, ws).await.len();
    assert_eq!(rows_after_parent, 1);

    store
        .workspace(ws)
        .set_paused(child.id, false, Clock.now())
        .await
        .unwrap();
    let c = run_once(store, ws, child.id).await;
    // Its failures are recorded, but it does not alert separately.
    assert_eq!(c.status, MonitorStatus::Down);
    assert_eq!(c.last_status, Some(CheckStatus::Down));
    assert!(
        !c.machine.condition().is_bad(),
        "{:?}",
        c.machine.condition()
    );
    assert!(incidents_of(store, ws, child.id).await.is_empty());
    run_once(store, ws, child.id).await;
    assert_eq!(outbox(store, ws).await.len(), rows_after_parent);
    run.stop().await;
}

async fn maintenance_suppresses_alerts_and_shows_as_maintenance(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let target = Toggle::start(false).await;
    let m = create(
        store,
        ws,
        &http_monitor("DB", &target.url(), thresholds(1, 1)),
    )
    .await;
    let other = create(
        store,
        ws,
        &http_monitor("Other", &target.url(), thresholds(1, 1)),
    )
    .await;
    let hook = webhook(store, ws, "hook", true).await;
    for id in [m.id, other.id] {
        store
            .workspace(ws)
            .set_monitor_channels(id, &[hook.id])
            .await
            .unwrap();
    }
    let now = Clock.now();
    store
        .workspace(ws)
        .create_maintenance(
            &NewMaintenance {
                title: "Upgrade".into(),
                message: "Upgrading the database".into(),
                starts_at: now.minus(Duration::from_secs(3600)),
                ends_at: now.plus(Duration::from_secs(3600)),
                recurrence_cron: None,
                recurrence_tz: None,
                duration_secs: None,
                components: vec![],
                monitors: vec![m.id],
            },
            now,
        )
        .await
        .unwrap();
    let run = Running::start(app(store, fast_config(), "node-a"));

    for _ in 0..3 {
        let s = run_once(store, ws, m.id).await;
        assert_eq!(s.status, MonitorStatus::Maintenance);
        assert_eq!(s.last_status, Some(CheckStatus::Down));
    }
    assert!(incidents_of(store, ws, m.id).await.is_empty());
    assert!(rows_for(store, ws, m.id).await.is_empty());

    // A monitor outside the window alerts as usual.
    let o = run_once(store, ws, other.id).await;
    assert_eq!(o.status, MonitorStatus::Down);
    assert_eq!(incidents_of(store, ws, other.id).await.len(), 1);
    assert_eq!(rows_for(store, ws, other.id).await.len(), 1);
    run.stop().await;
}

/// The outbox rows alerting about one monitor.
async fn rows_for(store: &Store, ws: WorkspaceId, id: MonitorId) -> Vec<Notification> {
    outbox(store, ws)
        .await
        .into_iter()
        .filter(|n| n.payload["monitor_id"] == serde_json::json!(id.0))
        .collect()
}

async fn flapping_collapses_into_one_episode(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let target = Toggle::start(true).await;
    let mut t = thresholds(1, 1);
    t.flap_changes = 4;
    t.flap_window = Duration::from_secs(3600);
    let m = create(store, ws, &http_monitor("Wobbly", &target.url(), t)).await;
    let hook = webhook(store, ws, "hook", true).await;
    store
        .workspace(ws)
        .set_monitor_channels(m.id, &[hook.id])
        .await
        .unwrap();
    let run = Running::start(app(store, fast_config(), "node-a"));

    let mut healthy = true;
    let mut s = run_once(store, ws, m.id).await;
    let mut flips = 0;
    while s.machine.condition() != Condition::Flapping {
        healthy = !healthy;
        target.set(healthy);
        s = run_once(store, ws, m.id).await;
        flips += 1;
        assert!(flips <= 10, "never detected flapping: {:?}", s.machine);
    }
    let incidents = incidents_of(store, ws, m.id).await;
    let rows = outbox(store, ws).await.len();
    let open: Vec<_> = incidents
        .iter()
        .filter(|i| i.resolved_at.is_none())
        .collect();
    assert_eq!(
        open.len(),
        1,
        "one open incident for the episode: {incidents:?}"
    );
    let last = outbox(store, ws).await.pop().unwrap();
    let alert: Alert = serde_json::from_value(last.payload).unwrap();
    assert_eq!(alert.kind, AlertKind::Flapping);

    // Many more changes: no more incidents, no more alerts.
    for _ in 0..8 {
        healthy = !healthy;
        target.set(healthy);
        let s = run_once(store, ws, m.id).await;
        assert_eq!(s.machine.condition(), Condition::Flapping);
    }
    assert_eq!(incidents_of(store, ws, m.id).await.len(), incidents.len());
    assert_eq!(outbox(store, ws).await.len(), rows);
    run.stop().await;
}
