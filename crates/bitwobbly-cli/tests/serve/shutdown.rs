//! SIGTERM: the node stops taking work, finishes the request and the check in flight,
//! records the check's result, gives its leases back and exits 0.

use bitwobbly_store::prelude::*;
use serde_json::json;
use tokio::task::JoinSet;

use crate::harness::{Api, Backend, Db, Node, Target, admin_token, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_work_in_flight_and_releases_leases_on_sqlite() {
    sigterm_finishes_work_in_flight(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_work_in_flight_and_releases_leases_on_postgres() {
    sigterm_finishes_work_in_flight(Backend::Postgres).await;
}

async fn sigterm_finishes_work_in_flight(backend: Backend) {
    let db = Db::new(backend).await;
    let target = Target::start().await;
    let token = admin_token(&db, "ops@example.com", "acme").await;
    let mut node = Node::start(&db, &[]).await;
    let api = Api::new(&node, "acme", &token);

    // A scheduled monitor whose check takes 3 s, and a paused one for "check now".
    let scheduled = api
        .post(
            "/monitors",
            json!({"name": "Slow scheduled", "spec": {"type": "http", "url": target.url("/slow/scheduled")},
                   "schedule": {"type": "interval", "every": "10s"}}),
        )
        .await;
    let manual = api
        .post(
            "/monitors",
            json!({"name": "Slow manual", "spec": {"type": "http", "url": target.url("/slow/manual")},
                   "paused": true}),
        )
        .await;
    let scheduled_id = scheduled["id"].as_i64().unwrap();
    let manual_id = manual["id"].as_i64().unwrap();
    wait_until("the scheduled check in flight", || async {
        !target.hits("slow/scheduled").is_empty()
    })
    .await;
    let mut request = JoinSet::new();
    let api2 = api.clone();
    request.spawn(async move {
        api2.post(&format!("/monitors/{manual_id}/check"), json!({}))
            .await
    });
    wait_until("the check-now request in flight", || async {
        !target.hits("slow/manual").is_empty()
    })
    .await;

    // Both are still running (the target answers after 3 s) when the signal arrives.
    let status = node.terminate().await;
    let answer = request
        .join_next()
        .await
        .expect("the request task")
        .expect("the request completed");
    assert_eq!(answer["report"]["status"], "up", "{answer}");
    assert!(status.success(), "exit {status}:\n{}", node.logs());
    let logs = node.logs();
    assert!(logs.contains("shutdown complete"), "{logs}");

    // Nothing is leased any more, and the scheduled check's result was written.
    let store = db.store().await;
    let ws = store
        .global()
        .workspace_by_slug("acme")
        .await
        .unwrap()
        .unwrap();
    let states = store.workspace(ws.id).monitor_states().await.unwrap();
    assert_eq!(states.len(), 2);
    for s in &states {
        assert_eq!(s.lease_owner, None, "{s:?}");
    }
    let sched = states
        .iter()
        .find(|s| s.monitor_id == MonitorId(scheduled_id))
        .unwrap();
    assert_eq!(sched.last_status, Some(CheckStatus::Up), "{sched:?}");
    let latest = store.workspace(ws.id).latest_results().await.unwrap();
    assert!(
        latest
            .iter()
            .any(|r| r.result.monitor_id == MonitorId(scheduled_id)),
        "{latest:?}"
    );
    store.close().await;
    db.finish().await;
}
