//! A node killed (SIGKILL) while its alerts cannot be delivered loses none of them: after a
//! restart every pending alert is delivered, and a repeated send carries the same
//! webhook-id (and the same body) as the interrupted one.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use crate::harness::{
    Api, Backend, Db, Node, Receiver, Target, WEBHOOK_SECRET, admin_token, eager, ok, wait_until,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_pending_deliveries_loses_nothing_on_sqlite() {
    killed_with_pending_deliveries_loses_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_pending_deliveries_loses_nothing_on_postgres() {
    killed_with_pending_deliveries_loses_nothing(Backend::Postgres).await;
}

async fn killed_with_pending_deliveries_loses_nothing(backend: Backend) {
    let db = Db::new(backend).await;
    let target = Target::start().await;
    let receiver = Receiver::start().await;
    // The receiver takes every request and never answers: sends time out and are retried.
    receiver.set_down(true);
    let token = admin_token(&db, "ops@example.com", "acme").await;

    // Enough attempts that nothing goes dead while the receiver hangs.
    let attempts = ("BITWOBBLY_NOTIFIER__MAX_ATTEMPTS", "1000");
    let mut node = Node::start(&db, &[("BITWOBBLY_NODE_NAME", "first"), attempts]).await;
    let api = Api::new(&node, "acme", &token);
    let hook = api
        .post(
            "/channels",
            json!({"name": "Hook", "kind": "webhook",
                   "config": {"url": receiver.url(), "secret": WEBHOOK_SECRET}}),
        )
        .await;
    let monitor = api
        .post(
            "/monitors",
            json!({"name": "Billing", "spec": {"type": "http", "url": target.url("/t/billing"), "assertions": [ok()]},
                   "schedule": {"type": "interval", "every": "10s"}, "thresholds": eager()}),
        )
        .await;
    let id = monitor["id"].as_i64().unwrap();
    api.put(
        &format!("/monitors/{id}/channels"),
        json!({"channel_ids": [hook["id"]]}),
    )
    .await;
    wait_until("the monitor to be up", || async {
        api.status(id).await == "up"
    })
    .await;

    // Down, then up again: two alerts, neither deliverable.
    target.set_failing(true);
    wait_until("the monitor to be down", || async {
        api.status(id).await == "down"
    })
    .await;
    target.set_failing(false);
    wait_until("the monitor to be up again", || async {
        api.status(id).await == "up"
    })
    .await;
    let rows = api.notifications().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let expected: HashSet<String> = rows.iter().map(|r| format!("msg_{}", r["id"])).collect();
    // Both have reached the receiver at least once (and hang there) before the kill.
    wait_until("attempts of both alerts", || async {
        let seen: HashSet<String> = receiver.deliveries().into_iter().map(|d| d.id).collect();
        expected.is_subset(&seen)
    })
    .await;
    assert!(
        api.notifications()
            .await
            .iter()
            .all(|r| r["state"] == "pending"),
        "nothing could be delivered yet"
    );
    node.kill().await;

    // The receiver works again; a new process on the same database delivers everything.
    receiver.set_down(false);
    let node = Node::start(&db, &[("BITWOBBLY_NODE_NAME", "second"), attempts]).await;
    let api = Api::new(&node, "acme", &token);
    wait_until("every alert delivered", || async {
        let rows = api.notifications().await;
        rows.len() == 2 && rows.iter().all(|r| r["state"] == "sent")
    })
    .await;

    let deliveries = receiver.deliveries();
    let mut by_id: HashMap<&str, Vec<&serde_json::Value>> = HashMap::new();
    for d in &deliveries {
        assert!(d.signed, "{d:?}");
        assert!(expected.contains(&d.id), "an unknown webhook-id {}", d.id);
        by_id.entry(d.id.as_str()).or_default().push(&d.body);
    }
    // None lost: every alert was accepted once the receiver worked.
    for id in &expected {
        assert!(
            deliveries.iter().any(|d| &d.id == id && d.accepted),
            "{id} was never delivered: {deliveries:?}"
        );
    }
    // Repeats carry the same id and the same alert.
    assert!(by_id.values().any(|b| b.len() >= 2), "{deliveries:?}");
    for bodies in by_id.values() {
        assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
    }
    let events: HashSet<&str> = deliveries
        .iter()
        .filter_map(|d| d.body["type"].as_str())
        .collect();
    assert_eq!(
        events,
        HashSet::from(["incident.opened", "incident.resolved"])
    );
    drop(node);
    db.finish().await;
}
