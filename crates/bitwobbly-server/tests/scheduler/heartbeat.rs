//! Heartbeat pings through the router, missed deadlines judged by the scheduler, and
//! deadlines surviving a restart.

use std::time::Duration;

use axum::body::Body;
use bitwobbly_core::CheckSpec;
use bitwobbly_core::heartbeat::{HeartbeatPolicy, HeartbeatState};
use bitwobbly_server::{AppState, Clock};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::http::TestServer;
use http::{Method, Request, StatusCode};
use tower::ServiceExt;

use crate::harness::*;

both!(
    pings_start_fail_and_exit_statuses_through_the_router,
    a_missed_deadline_goes_down_and_a_ping_brings_it_up,
    a_restart_neither_forgets_a_miss_nor_raises_a_false_one,
);

const PERIOD: Duration = Duration::from_secs(60);

fn heartbeat_monitor(name: &str, max_runtime: Option<Duration>) -> NewMonitor {
    let mut policy = HeartbeatPolicy::every(PERIOD, Duration::ZERO);
    policy.max_runtime = max_runtime;
    NewMonitor {
        key: None,
        name: name.to_owned(),
        spec: CheckSpec::Heartbeat(policy),
        schedule: bitwobbly_core::schedule::Schedule::interval(PERIOD).unwrap(),
        thresholds: thresholds(1, 1),
        parent_id: None,
        paused: false,
        locations: vec![],
        quorum: Default::default(),
    }
}

async fn ping(state: &AppState, method: Method, path: &str, body: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let res = bitwobbly_server::heartbeat::router()
        .with_state(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes a heartbeat state whose first deadline is `deadline` (period 60 s, no grace),
/// and makes that the monitor's next wake-up.
async fn set_deadline(store: &Store, ws: WorkspaceId, id: MonitorId, deadline: Timestamp) {
    let mut tx = store.begin().await.unwrap();
    let s = tx
        .workspace(ws)
        .monitor_state_for_update(id)
        .await
        .unwrap()
        .unwrap();
    let mut u = StateUpdate::new(s.status, s.machine.clone());
    u.heartbeat = Some(HeartbeatState::new(deadline.minus(PERIOD).to_datetime()));
    u.next_run_at = Some(deadline);
    tx.workspace(ws).update_monitor_state(id, &u).await.unwrap();
    tx.commit().await.unwrap();
}

async fn pings_start_fail_and_exit_statuses_through_the_router(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let m = create(
        store,
        ws,
        &heartbeat_monitor("Backup", Some(Duration::from_secs(600))),
    )
    .await;
    let hook = webhook(store, ws, "hook", true).await;
    store
        .workspace(ws)
        .set_monitor_channels(m.id, &[hook.id])
        .await
        .unwrap();
    let token = m
        .ping_token
        .clone()
        .expect("a heartbeat monitor has a ping token");
    let state = app(store, fast_config(), "node-a");

    // Success: up, next deadline one period after the ping.
    let (code, body) = ping(&state, Method::GET, &format!("/ping/{token}"), "").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "OK"));
    let s = state_of(store, ws, m.id).await;
    assert_eq!(s.status, MonitorStatus::Up);
    assert_eq!(s.last_status, Some(CheckStatus::Up));
    let hb = s.heartbeat.clone().expect("heartbeat state");
    let last_ping = Timestamp::from(hb.last_ping.expect("ping recorded"));
    assert_eq!(s.next_run_at, last_ping.plus(PERIOD));

    // Start: no judgement, only the run is timed from now.
    let (code, _) = ping(
        &state,
        Method::POST,
        &format!("/ping/{token}/start"),
        "starting",
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let s = state_of(store, ws, m.id).await;
    assert_eq!(s.status, MonitorStatus::Up);
    assert!(s.heartbeat.as_ref().unwrap().running_since.is_some());
    assert_eq!(s.last_message.as_deref(), Some("starting"));
    assert_eq!(
        all_results(store, ws, m.id).await.len(),
        1,
        "a start is no result"
    );

    // Fail: down at once (thresholds 1), an incident and an alert.
    let (code, _) = ping(&state, Method::POST, &format!("/ping/{token}/fail"), "boom").await;
    assert_eq!(code, StatusCode::OK);
    let s = state_of(store, ws, m.id).await;
    assert_eq!(s.status, MonitorStatus::Down);
    assert_eq!(s.last_message.as_deref(), Some("boom"));
    assert!(s.heartbeat.as_ref().unwrap().running_since.is_none());
    let last = all_results(store, ws, m.id).await.pop().unwrap();
    assert_eq!(last.result.message.as_deref(), Some("fail ping"));
    assert_eq!(incidents_of(store, ws, m.id).await.len(), 1);
    assert_eq!(outbox(store, ws).await.len(), 1);

    // Exit status 0 is a success: up, the incident resolved.
    let (code, _) = ping(&state, Method::GET, &format!("/ping/{token}/0"), "").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(state_of(store, ws, m.id).await.status, MonitorStatus::Up);
    assert!(incidents_of(store, ws, m.id).await[0].resolved_at.is_some());

    // A non-zero exit status is a failure naming it.
    let (code, _) = ping(&state, Method::POST, &format!("/ping/{token}/3"), "").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(state_of(store, ws, m.id).await.status, MonitorStatus::Down);
    let last = all_results(store, ws, m.id).await.pop().unwrap();
    assert_eq!(last.result.message.as_deref(), Some("exit status 3"));
    assert_eq!(last.result.status, CheckStatus::Down);

    // HEAD works; bodies are capped at 10 KiB.
    let (code, _) = ping(&state, Method::HEAD, &format!("/ping/{token}"), "").await;
    assert_eq!(code, StatusCode::OK);
    let big = "x".repeat(50 * 1024);
    let (code, _) = ping(&state, Method::POST, &format!("/ping/{token}"), &big).await;
    assert_eq!(code, StatusCode::OK);
    let s = state_of(store, ws, m.id).await;
    assert_eq!(s.last_message.as_deref().map(str::len), Some(10 * 1024));
    assert_eq!(s.status, MonitorStatus::Up);

    // Bad exit statuses and unknown tokens.
    for bad in ["256", "-1", "abc", "+1"] {
        let (code, _) = ping(&state, Method::GET, &format!("/ping/{token}/{bad}"), "").await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (code, body) = ping(&state, Method::GET, "/ping/not-a-real-token", "").await;
    assert_eq!((code, body.as_str()), (StatusCode::NOT_FOUND, "not found"));
    let (code, _) = ping(&state, Method::POST, "/ping/not-a-real-token/fail", "").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // A check monitor has no ping URL.
    let server = TestServer::http().unwrap();
    let http = create(
        store,
        ws,
        &http_monitor("Web", &server.url("/"), thresholds(1, 1)),
    )
    .await;
    assert!(http.ping_token.is_none());
}

async fn a_missed_deadline_goes_down_and_a_ping_brings_it_up(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let m = create(store, ws, &heartbeat_monitor("Cron job", None)).await;
    let hook = webhook(store, ws, "hook", true).await;
    store
        .workspace(ws)
        .set_monitor_channels(m.id, &[hook.id])
        .await
        .unwrap();
    let token = m.ping_token.clone().unwrap();
    // The first deadline passed a moment ago.
    let deadline = Clock.now().minus(Duration::from_secs(1));
    set_deadline(store, ws, m.id, deadline).await;
    let run = Running::start(app(store, fast_config(), "node-a"));

    let s = eventually("the miss to be judged", || async {
        let s = state_of(store, ws, m.id).await;
        (s.status == MonitorStatus::Down).then_some(s)
    })
    .await;
    assert_eq!(s.last_status, Some(CheckStatus::Down));
    // The next look is one period later, not at once.
    assert!(s.next_run_at.as_millis() >= s.last_result_at.unwrap().as_millis() + 59_000);
    let (_, results) = settle(store, ws, m.id).await;
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].result.message.as_deref(),
        Some("no ping within 1m")
    );
    let incidents = incidents_of(store, ws, m.id).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(outbox(store, ws).await.len(), 1);

    let (code, _) = ping(&run.state, Method::GET, &format!("/ping/{token}"), "").await;
    assert_eq!(code, StatusCode::OK);
    let s = state_of(store, ws, m.id).await;
    assert_eq!(s.status, MonitorStatus::Up);
    assert!(incidents_of(store, ws, m.id).await[0].resolved_at.is_some());
    let rows = outbox(store, ws).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].event, "incident.resolved");
    run.stop().await;
}

async fn a_restart_neither_forgets_a_miss_nor_raises_a_false_one(db: &TestDb) {
    let store = &db.store;
    let ws = workspace(store, "acme").await;
    let server = TestServer::http().unwrap();
    let m = create(store, ws, &heartbeat_monitor("Nightly", None)).await;
    let token = m.ping_token.clone().unwrap();
    // A check monitor shows when a scheduler has had its chance to act.
    let sentinel = create(
        store,
        ws,
        &http_monitor("Sentinel", &server.url("/"), thresholds(1, 1)),
    )
    .await;

    let first = Running::start(app(store, fast_config(), "node-1"));
    run_once(store, ws, sentinel.id).await;
    first.stop().await;

    // While no scheduler runs, the stored deadline passes.
    let deadline = Clock.now().plus(Duration::from_secs(1));
    set_deadline(store, ws, m.id, deadline).await;
    wait_past(deadline.plus(Duration::from_millis(200))).await;
    assert!(all_results(store, ws, m.id).await.is_empty());

    // A new scheduler finds it: exactly one down.
    let second = Running::start(app(store, fast_config(), "node-2"));
    eventually("the miss to be judged after the restart", || async {
        (state_of(store, ws, m.id).await.status == MonitorStatus::Down).then_some(())
    })
    .await;
    run_once(store, ws, sentinel.id).await;
    second.stop().await;
    let (s, results) = settle(store, ws, m.id).await;
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].result.status, CheckStatus::Down);
    assert!(s.next_run_at > Clock.now().plus(Duration::from_secs(30)));
    assert_eq!(incidents_of(store, ws, m.id).await.len(), 1);

    // A ping, then another restart before the next deadline: no false miss.
    let state = app(store, fast_config(), "node-3");
    let (code, _) = ping(&state, Method::GET, &format!("/ping/{token}"), "").await;
    assert_eq!(code, StatusCode::OK);
    let third = Running::start(state);
    run_once(store, ws, sentinel.id).await;
    run_once(store, ws, sentinel.id).await;
    third.stop().await;
    let (s, results) = settle(store, ws, m.id).await;
    assert_eq!(s.status, MonitorStatus::Up);
    assert_eq!(
        results
            .iter()
            .filter(|r| r.result.status == CheckStatus::Down)
            .count(),
        1
    );
}
