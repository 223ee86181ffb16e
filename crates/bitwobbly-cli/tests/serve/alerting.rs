//! The whole alerting path through the real binary, on SQLite and on PostgreSQL: a user and
//! token made with the admin commands while `serve` runs, a webhook and an email channel, a
//! monitor created through the API against a local server; the server fails, the incident
//! opens, a signed webhook and an email arrive; it recovers, the incident resolves and both
//! channels say so.

use serde_json::json;

use crate::harness::{
    Api, Backend, Db, Node, Receiver, Smtp, Target, WEBHOOK_SECRET, admin_token, eager, metric_sum,
    ok, wait_until,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerting_end_to_end_on_sqlite() {
    alerting_end_to_end(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerting_end_to_end_on_postgres() {
    alerting_end_to_end(Backend::Postgres).await;
}

async fn alerting_end_to_end(backend: Backend) {
    let db = Db::new(backend).await;
    let target = Target::start().await;
    let receiver = Receiver::start().await;
    let smtp = Smtp::start().await;

    let mut node = Node::start(&db, &[]).await;
    // A fresh database: the first-run link is printed (and the admin commands work too).
    assert!(
        node.stdout().contains("to create the first admin"),
        "{}",
        node.stdout()
    );
    let token = admin_token(&db, "ops@example.com", "acme").await;
    let api = Api::new(&node, "acme", &token);

    let hook = api
        .post(
            "/channels",
            json!({"name": "Ops webhook", "kind": "webhook",
                   "config": {"url": receiver.url(), "secret": WEBHOOK_SECRET}}),
        )
        .await;
    let mail = api
        .post(
            "/channels",
            json!({"name": "Ops email", "kind": "email",
                   "config": {"to": ["oncall@example.test"],
                              "smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none",
                                       "from": "Bit Wobbly <alerts@example.test>"}}}),
        )
        .await;
    let monitor = api
        .post(
            "/monitors",
            json!({"name": "Checkout", "spec": {"type": "http", "url": target.url("/t/checkout"), "assertions": [ok()]},
                   "schedule": {"type": "interval", "every": "10s"}, "thresholds": eager()}),
        )
        .await;
    let id = monitor["id"].as_i64().expect("monitor id");
    api.put(
        &format!("/monitors/{id}/channels"),
        json!({"channel_ids": [hook["id"], mail["id"]]}),
    )
    .await;
    wait_until("the monitor to be up", || async {
        api.status(id).await == "up"
    })
    .await;

    // The service breaks.
    target.set_failing(true);
    wait_until("an open incident", || async {
        api.incidents()
            .await
            .iter()
            .any(|i| i["monitor_id"] == id && i["resolved_at"].is_null())
    })
    .await;
    wait_until("a signed incident.opened webhook", || async {
        receiver
            .deliveries()
            .iter()
            .any(|d| d.body["type"] == "incident.opened")
    })
    .await;
    wait_until("the DOWN email", || async {
        smtp.messages()
            .iter()
            .any(|m| m.contains("Subject: DOWN: Checkout"))
    })
    .await;

    // It recovers.
    target.set_failing(false);
    wait_until("the incident to resolve", || async {
        let incidents = api.incidents().await;
        !incidents.is_empty() && incidents.iter().all(|i| !i["resolved_at"].is_null())
    })
    .await;
    wait_until("the incident.resolved webhook", || async {
        receiver
            .deliveries()
            .iter()
            .any(|d| d.body["type"] == "incident.resolved")
    })
    .await;
    wait_until("the RECOVERED email", || async {
        smtp.messages()
            .iter()
            .any(|m| m.contains("Subject: RECOVERED: Checkout"))
    })
    .await;

    // Every webhook was signed per Standard Webhooks, carries the facts, and its id is the
    // outbox row's.
    let deliveries = receiver.deliveries();
    let rows = api.notifications().await;
    for d in &deliveries {
        assert!(d.signed, "{d:?}");
        assert_eq!(d.body["monitor"], "Checkout", "{d:?}");
        assert!(
            d.body["target"]
                .as_str()
                .is_some_and(|t| t.contains("/t/checkout")),
            "{d:?}"
        );
        assert!(
            rows.iter()
                .any(|r| format!("msg_{}", r["id"]) == d.id && r["channel_id"] == hook["id"]),
            "{} among {rows:?}",
            d.id
        );
    }
    let opened = deliveries
        .iter()
        .find(|d| d.body["type"] == "incident.opened")
        .unwrap();
    assert!(
        opened.body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("500")),
        "{opened:?}"
    );
    let mail = smtp.messages();
    let down = mail
        .iter()
        .find(|m| m.contains("Subject: DOWN: Checkout"))
        .unwrap();
    assert!(down.contains("oncall@example.test"), "{down}");
    assert!(down.contains("/t/checkout"), "{down}");
    let incidents = api.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["status"], "resolved");
    assert!(rows.iter().all(|r| r["state"] == "sent"), "{rows:?}");

    // The metrics saw the checks and the monitor.
    let metrics = node.metrics().await;
    assert!(
        metric_sum(&metrics, "bitwobbly_checks_total") >= 3.0,
        "{metrics}"
    );
    assert!(metrics.contains(&format!("monitor=\"{id}\"")), "{metrics}");
    assert!(
        metric_sum(&metrics, "bitwobbly_notification_deliveries_total") >= 4.0,
        "{metrics}"
    );

    let status = node.terminate().await;
    assert!(status.success(), "{status}: {}", node.logs());
    db.finish().await;
}
