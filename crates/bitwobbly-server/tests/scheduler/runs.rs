//! Runs on the interval, check-now, the private-target guard and the connectivity guard;
//! deleting a monitor while its check runs or is being recorded.

use std::time::Duration;

use bitwobbly_core::ErrorKind;
use bitwobbly_core::heartbeat::HeartbeatPolicy;
use bitwobbly_core::monitor::schedule_key;
use bitwobbly_core::{CheckSpec, Status, TcpSpec};
use bitwobbly_server::scheduler::check_now;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};
use bitwobbly_test_support::http::TestServer;

use crate::harness::*;

both!(
    a_monitor_runs_on_its_interval_at_its_own_offset,
    check_now_runs_records_and_judges_at_once,
    deny_private_refuses_loopback_targets,
    lost_connectivity_records_no_down_results,
    graceful_stop_flushes_results_and_releases_leases,
    deleting_a_monitor_during_its_check_records_nothing,
);

async fn a_monitor_runs_on_its_interval_at_its_own_offset(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let server = TestServer::http().unwrap();
    let m = create(
        store,
        ws,
        &http_monitor("API", &server.url("/ok"), thresholds(1, 1)),
    )
    .await;
    let run = Running::start(app(store, fast_config(), "node-a"));

    // Created due at once; then it runs by itself, once per 10 s slot.
    let results = eventually("three runs", || async {
        let r = all_results(store, ws, m.id).await;
        (r.len() >= 3).then_some(r)
    })
    .await;
    run.stop().await;

    let r: Vec<_> = results.iter().map(|r| &r.result).collect();
    assert!(r.iter().all(|r| r.status == CheckStatus::Up), "{r:?}");
    assert!(r.iter().all(|r| r.location == "local"));
    assert!(r.iter().all(|r| r.http_status == Some(200)));
    // The first run comes at creation, the next ones on the monitor's slots: never twice in
    // one interval.
    let gap = r[2].started_at.as_millis() - r[1].started_at.as_millis();
    assert!(gap >= 5_000, "two runs {gap} ms apart in one 10 s interval");

    // Every scheduled run after the first starts on the monitor's own slot: the 10 s grid
    // shifted by its stable offset.
    let offset = m.schedule.offset_for(schedule_key(m.id.0));
    let offset_ms = i64::try_from(offset.as_millis()).unwrap();
    let s = state_of(store, ws, m.id).await;
    assert_eq!(
        (s.next_run_at.as_millis() - offset_ms).rem_euclid(10_000),
        0,
        "next run {} is not on the slot of offset {offset_ms} ms",
        s.next_run_at
    );
    assert!(
        s.lease_owner.is_none(),
        "the graceful stop releases the lease"
    );
    assert_eq!(s.status, MonitorStatus::Up);
}

async fn check_now_runs_records_and_judges_at_once(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let other_ws = workspace(store, "other").await;
    let server = TestServer::http().unwrap();
    let mut def = http_monitor("API", &server.url("/ok"), thresholds(1, 1));
    def.paused = true; // the scheduler leaves it alone: only check-now runs it
    let m = create(store, ws, &def).await;
    let hb = create(
        store,
        ws,
        &NewMonitor {
            spec: CheckSpec::Heartbeat(HeartbeatPolicy::every(
                Duration::from_secs(60),
                Duration::ZERO,
            )),
            ..http_monitor("Nightly", &server.url("/"), thresholds(1, 1))
        },
    )
    .await;
    // No scheduler loop: check-now needs none.
    let state = app(store, fast_config(), "node-a");
    let before = state_of(store, ws, m.id).await.next_run_at;

    let done = check_now(&state, ws, m.id).await.expect("check now");
    assert_eq!(done.report.status, Status::Up);
    assert!(done.recorded);
    // A paused monitor stays paused; its result is judged and stored all the same.
    assert_eq!(done.monitor_status, MonitorStatus::Paused);
    let results = all_results(store, ws, m.id).await;
    assert_eq!(results.len(), 1, "stored at once, not batched");
    let s = state_of(store, ws, m.id).await;
    assert_eq!(s.last_status, Some(CheckStatus::Up));
    assert_eq!(s.machine.health(), bitwobbly_core::Health::Up);
    assert_eq!(s.next_run_at, before, "the schedule is not moved");
    let json = serde_json::to_value(&done).unwrap();
    assert_eq!(json["report"]["status"], "up");
    assert_eq!(json["monitor_status"], "paused");

    let e = check_now(&state, other_ws, m.id).await.unwrap_err();
    assert_eq!(e.status.as_u16(), 404);
    assert_eq!(e.code, "not_found");
    let e = check_now(&state, ws, hb.id).await.unwrap_err();
    assert_eq!(e.status.as_u16(), 422);
    assert_eq!(e.code, "validation_failed");

    // A down check through check-now opens the incident as a scheduled one would.
    let mut down_def = http_monitor(
        "Gone",
        &format!("http://127.0.0.1:{}/", closed_port()),
        thresholds(1, 1),
    );
    down_def.paused = true;
    let down = create(store, ws, &down_def).await;
    let done = check_now(&state, ws, down.id).await.unwrap();
    assert_eq!(done.report.status, Status::Down);
    assert_eq!(
        done.report.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::ConnectionRefused)
    );
    assert_eq!(incidents_of(store, ws, down.id).await.len(), 1);
}

async fn deny_private_refuses_loopback_targets(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let server = TestServer::http().unwrap();
    let mut config = fast_config();
    config.targets.deny_private = true;
    let state = app(store, config, "node-a");

    let mut literal = http_monitor("Literal", &server.url("/ok"), thresholds(1, 1));
    literal.paused = true;
    let literal = create(store, ws, &literal).await;
    let done = check_now(&state, ws, literal.id).await.unwrap();
    assert_eq!(done.report.status, Status::Down);
    let err = done.report.error.expect("refused");
    assert_eq!(err.kind, ErrorKind::InvalidTarget);
    assert!(err.message.contains("127.0.0.1"), "{err}");
    assert!(err.message.contains("loopback"), "{err}");
    assert!(err.message.contains("does not allow"), "{err}");
    let stored = all_results(store, ws, literal.id).await;
    assert_eq!(
        stored[0].result.error_kind.as_deref(),
        Some("invalid_target")
    );

    // A name is refused where it resolves (localhost is in the hosts file).
    let mut named = http_monitor(
        "Named",
        &format!("http://localhost:{}/ok", server.port()),
        thresholds(1, 1),
    );
    named.paused = true;
    let named = create(store, ws, &named).await;
    let done = check_now(&state, ws, named.id).await.unwrap();
    let err = done.report.error.expect("refused");
    assert_eq!(err.kind, ErrorKind::InvalidTarget, "{err}");
    assert!(err.message.contains("localhost resolves to"), "{err}");
    assert!(err.message.contains("loopback"), "{err}");

    // TCP targets too, and through the scheduler loop.
    let tcp = create(
        store,
        ws,
        &NewMonitor {
            spec: CheckSpec::Tcp(TcpSpec::connect("127.0.0.1", server.port())),
            ..http_monitor("Tcp", &server.url("/"), thresholds(1, 1))
        },
    )
    .await;
    let run = Running::start(state.clone());
    let s = run_once(store, ws, tcp.id).await;
    assert_eq!(s.last_status, Some(CheckStatus::Down));
    let (_, results) = settle(store, ws, tcp.id).await;
    let last = &results.last().unwrap().result;
    assert_eq!(last.error_kind.as_deref(), Some("invalid_target"));
    assert!(
        last.message
            .as_deref()
            .unwrap_or_default()
            .contains("loopback")
    );
    run.stop().await;

    // Off (the default), the same target is checked.
    let open = app(store, fast_config(), "node-b");
    let done = check_now(&open, ws, literal.id).await.unwrap();
    assert_eq!(done.report.status, Status::Up);
}

async fn lost_connectivity_records_no_down_results(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let server = TestServer::http().unwrap();
    let mut config = fast_config();
    config.scheduler.connectivity_probes = vec![format!("http://127.0.0.1:{}/", closed_port())];
    config.scheduler.connectivity_interval = Duration::from_secs(1);
    let mut dead = http_monitor(
        "Looks down",
        &format!("http://127.0.0.1:{}/", closed_port()),
        thresholds(1, 1),
    );
    dead.paused = true;
    let dead = create(store, ws, &dead).await;
    let mut alive = http_monitor("Still up", &server.url("/ok"), thresholds(1, 1));
    alive.paused = true;
    let alive = create(store, ws, &alive).await;

    let run = Running::start(app(store, config, "node-a"));
    eventually("the probes to fail", || async {
        (!run.state.scheduler.online()).then_some(())
    })
    .await;
    for id in [dead.id, alive.id] {
        store
            .workspace(ws)
            .set_paused(id, false, bitwobbly_server::Clock.now())
            .await
            .unwrap();
    }
    eventually("down results to be skipped", || async {
        (counter(&run.state, "bitwobbly_checks_total{outcome=\"skipped\"}") >= 2.0).then_some(())
    })
    .await;
    let (alive_state, alive_results) = settle(store, ws, alive.id).await;
    assert!(!alive_results.is_empty(), "up results are still recorded");
    assert_eq!(alive_state.status, MonitorStatus::Up);

    let s = state_of(store, ws, dead.id).await;
    assert_eq!(s.status, MonitorStatus::Unknown, "{s:?}");
    assert_eq!(s.last_result_at, None);
    assert!(all_results(store, ws, dead.id).await.is_empty());
    assert!(incidents_of(store, ws, dead.id).await.is_empty());
    run.stop().await;
}

async fn graceful_stop_flushes_results_and_releases_leases(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let server = TestServer::http().unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let m = create(
            store,
            ws,
            &http_monitor(
                &format!("m{i}"),
                &server.url("/sleep-head/300"),
                thresholds(1, 1),
            ),
        )
        .await;
        ids.push(m.id);
    }
    let mut config = fast_config();
    // Results wait for the final flush.
    config.scheduler.result_flush_interval = Duration::from_secs(3600);
    config.scheduler.result_batch = 100_000;
    let run = Running::start(app(store, config, "node-a"));
    eventually("checks to be running", || async {
        let running = ids
            .iter()
            .filter(|id| run.state.scheduler.is_running(**id))
            .count();
        (running > 0).then_some(())
    })
    .await;
    let state = run.state.clone();
    run.stop().await;

    // Every check that was judged has its result written; no lease is left.
    let mut judged = 0;
    for id in &ids {
        let s = state_of(store, ws, *id).await;
        assert!(s.lease_owner.is_none(), "lease of {id:?} left behind");
        let results = all_results(store, ws, *id).await;
        assert_eq!(
            results.last().map(|r| r.result.started_at),
            s.last_result_at,
            "result of {id:?} not flushed"
        );
        judged += results.len();
    }
    assert!(judged > 0);
    assert_eq!(state.scheduler.pending_results(), 0);
}

/// A monitor deleted while its check hangs on a stalled target: the delete succeeds, and
/// the check, when it ends, finds the monitor gone and writes nothing (no state, no result).
async fn deleting_a_monitor_during_its_check_records_nothing(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let server = TestServer::http().unwrap();
    let m = create(
        store,
        ws,
        &http_monitor("Slow", &server.url("/stall-head"), thresholds(1, 1)),
    )
    .await;
    let run = Running::start(app(store, fast_config(), "node-a"));
    // Claimed (and so running: it was due at creation).
    eventually("the check to be claimed", || async {
        let s = state_of(store, ws, m.id).await;
        (s.lease_owner.as_deref() == Some("node-a")).then_some(())
    })
    .await;
    store.workspace(ws).delete_monitor(m.id).await.unwrap();
    // The target gives up: the check ends and is recorded (or not) before the drain ends.
    drop(server);
    run.stop().await;

    let mut s = store.workspace(ws);
    assert!(s.monitor(m.id).await.unwrap().is_none());
    assert!(s.monitor_state(m.id).await.unwrap().is_none());
    assert!(all_results(store, ws, m.id).await.is_empty());
}

/// PostgreSQL: a check being recorded holds its monitor's state row and then writes rows
/// that reference the monitor. A delete arriving meanwhile waits for the record instead of
/// locking the monitor row first (which made the two wait on each other: a deadlock, and
/// one of them failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_waits_for_a_record_holding_the_state() {
    let db = TestDatabase::create(Backend::Postgres, "sched").await;
    let store = Store::open(db.url()).await.expect("open the test store");
    let ws = workspace(&store, "acme").await;
    let m = create(
        &store,
        ws,
        &http_monitor("API", "http://127.0.0.1:9/", thresholds(1, 1)),
    )
    .await;
    let channel = webhook(&store, ws, "hook", true).await;

    // The record: the state row locked, as the scheduler's record transaction takes it.
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.workspace(ws)
            .monitor_state_for_update(m.id)
            .await
            .unwrap()
            .is_some()
    );
    let deleting = bitwobbly_server::spawn("delete", {
        let store = store.clone();
        async move { store.workspace(ws).delete_monitor(m.id).await }
    });
    eventually("the delete to wait on a lock", || async {
        let waiting: i64 = db
            .scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await;
        (waiting >= 1).then_some(())
    })
    .await;
    // The record goes on writing a row that references the monitor, and commits.
    tx.workspace(ws)
        .set_monitor_channels(m.id, &[channel.id])
        .await
        .expect("the record is not blocked by the delete");
    tx.commit().await.expect("the record commits");
    deleting
        .await
        .unwrap()
        .expect("the delete succeeds after the record");
    let mut s = store.workspace(ws);
    assert!(s.monitor(m.id).await.unwrap().is_none());
    assert!(s.monitor_state(m.id).await.unwrap().is_none());
    store.close().await;
    db.finish().await;
}
