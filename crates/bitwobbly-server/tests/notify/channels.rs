//! Each channel's payload against a loopback receiver, through the outbox, and its size
//! limits; "send test" through a channel.

use bitwobbly_server::notify::{self, Alert, AlertKind};
use bitwobbly_store::prelude::*;
use serde_json::{Value, json};

use crate::harness::{
    Deliverer, Receiver, Recorded, Reply, alert, both, channel, config, enqueue, state, wait_state,
    workspace,
};

/// Sends `alerts` through one channel of `kind` (its settings made from the receiver) and
/// returns the requests, one per alert, in order.
async fn deliver(
    store: &Store,
    kind: ChannelKind,
    settings: impl FnOnce(&Receiver) -> Value,
    alerts: &[Alert],
) -> Vec<Recorded> {
    let ws = workspace(store).await;
    let receiver = Receiver::answering(202).await;
    let ch = channel(store, ws, "ch", kind, settings(&receiver)).await;
    let st = state(store, config(), "node-a");
    let d = Deliverer::start(&st);
    for a in alerts {
        // One at a time, so the order of requests is the order of alerts.
        let n = enqueue(store, &ch, a).await;
        wait_state(store, ws, n.id, OutboxState::Sent).await;
    }
    d.stop().await;
    let reqs = receiver.requests();
    assert_eq!(reqs.len(), alerts.len());
    reqs
}

/// An alert with a very long name and reason, with multi-byte characters at every boundary.
fn huge(kind: AlertKind) -> Alert {
    let mut a = alert(kind);
    a.monitor = "Ünïcødé 🦀 monitor <!channel> @everyone ".repeat(40);
    a.reason = Some("é🦀x".repeat(5000));
    a
}

fn chars(v: &Value) -> usize {
    v.as_str().expect("a string").chars().count()
}

fn ends_cut(v: &Value) -> bool {
    v.as_str().expect("a string").ends_with('…')
}

async fn slack_message(store: Store) {
    let reqs = deliver(
        &store,
        ChannelKind::Slack,
        |r| json!({ "url": r.url("/services/T0/B0/x") }),
        &[alert(AlertKind::Down), huge(AlertKind::Recovered)],
    )
    .await;
    let body = reqs[0].json();
    assert_eq!(reqs[0].path, "/services/T0/B0/x");
    assert_eq!(
        body["text"],
        "DOWN: API health (https://api.example.test/health)"
    );
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(body["blocks"][0]["text"]["type"], "plain_text");
    let att = &body["attachments"][0];
    assert_eq!(att["color"], "#d00000");
    let text = att.to_string();
    for needle in [
        "API health",
        "https://api.example.test/health",
        "status 503 is not 2xx",
        "2025-01-01T10:00:00Z",
        "ongoing",
        "<http://bitwobbly.test/incidents/42|Open in Bit Wobbly>",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }

    let body = reqs[1].json();
    assert_eq!(body["attachments"][0]["color"], "#2eb67d");
    let header = &body["blocks"][0]["text"]["text"];
    assert!(chars(header) <= 150 && ends_cut(header), "{header}");
    let blocks = body["attachments"][0]["blocks"].as_array().unwrap();
    for f in blocks[0]["fields"].as_array().unwrap() {
        assert!(chars(&f["text"]) <= 2000);
    }
    assert!(chars(&blocks[1]["text"]["text"]) <= 3000 && ends_cut(&blocks[1]["text"]["text"]));
    assert!(body.to_string().contains("2m 5s"));
    // User text cannot mention everyone.
    for mrkdwn in [&body["text"], &body["attachments"]] {
        assert!(!mrkdwn.to_string().contains("<!channel>"));
        assert!(mrkdwn.to_string().contains("&lt;!channel&gt;"));
    }
}

async fn discord_message(store: Store) {
    let reqs = deliver(
        &store,
        ChannelKind::Discord,
        |r| json!({ "url": r.url("/api/webhooks/1/token") }),
        &[alert(AlertKind::Down), huge(AlertKind::Down)],
    )
    .await;
    let body = reqs[0].json();
    assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
    let embed = &body["embeds"][0];
    assert_eq!(
        embed["title"],
        "DOWN: API health (https://api.example.test/health)"
    );
    assert_eq!(embed["description"], "status 503 is not 2xx");
    assert_eq!(embed["color"], 0xd0_00_00);
    assert_eq!(embed["url"], "http://bitwobbly.test/incidents/42");
    assert_eq!(embed["timestamp"], "2025-01-01T10:02:05Z");
    let fields: Vec<(String, String)> = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(fields.contains(&("Monitor".into(), "API health".into())));
    assert!(fields.contains(&("Started".into(), "2025-01-01T10:00:00Z".into())));
    assert!(fields.contains(&("Link".into(), "http://bitwobbly.test/incidents/42".into())));

    let embed = &reqs[1].json()["embeds"][0];
    assert!(chars(&embed["title"]) <= 256 && ends_cut(&embed["title"]));
    assert!(chars(&embed["description"]) <= 4096 && ends_cut(&embed["description"]));
    let mut total =
        chars(&embed["title"]) + chars(&embed["description"]) + chars(&embed["footer"]["text"]);
    for f in embed["fields"].as_array().unwrap() {
        assert!(chars(&f["value"]) <= 1024);
        total += chars(&f["name"]) + chars(&f["value"]);
    }
    assert!(total <= 6000, "{total}");
}

async fn teams_card(store: Store) {
    let reqs = deliver(
        &store,
        ChannelKind::Teams,
        |r| json!({ "url": r.url("/workflows/abc/triggers/manual/paths/invoke?sig=x") }),
        &[alert(AlertKind::Down), alert(AlertKind::Recovered)],
    )
    .await;
    assert_eq!(
        reqs[0].path,
        "/workflows/abc/triggers/manual/paths/invoke?sig=x"
    );
    let body = reqs[0].json();
    assert_eq!(body["type"], "message");
    let att = &body["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &att["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["body"][0]["type"], "Container");
    assert_eq!(card["body"][0]["style"], "attention");
    assert_eq!(
        card["body"][0]["items"][0]["text"],
        "DOWN: API health (https://api.example.test/health)"
    );
    let facts = card["body"][1]["facts"].as_array().unwrap();
    assert_eq!(card["body"][1]["type"], "FactSet");
    assert!(
        facts.contains(&json!({ "title": "Target", "value": "https://api.example.test/health" }))
    );
    assert!(facts.contains(&json!({ "title": "Duration", "value": "ongoing" })));
    assert!(card.to_string().contains("status 503 is not 2xx"));
    assert_eq!(
        card["actions"][0]["url"],
        "http://bitwobbly.test/incidents/42"
    );
    let card = &reqs[1].json()["attachments"][0]["content"];
    assert_eq!(card["body"][0]["style"], "good");
    assert!(
        card["body"][1]["facts"]
            .as_array()
            .unwrap()
            .contains(&json!({ "title": "Duration", "value": "2m 5s" }))
    );
}

async fn pagerduty_trigger_and_resolve_share_the_dedup_key(store: Store) {
    let key = "R0123456789abcdef0123456789ABCDE";
    let reqs = deliver(
        &store,
        ChannelKind::PagerDuty,
        |r| json!({ "routing_key": key, "url": r.url("/v2/enqueue") }),
        &[
            alert(AlertKind::Down),
            alert(AlertKind::Recovered),
            huge(AlertKind::Degraded),
        ],
    )
    .await;
    let trigger = reqs[0].json();
    assert_eq!(reqs[0].path, "/v2/enqueue");
    assert_eq!(trigger["routing_key"], key);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], "bitwobbly-incident-42");
    let p = &trigger["payload"];
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["source"], "api.example.test");
    assert_eq!(p["timestamp"], "2025-01-01T10:02:05Z");
    assert_eq!(
        p["summary"],
        "DOWN: API health (https://api.example.test/health) - status 503 is not 2xx"
    );
    assert_eq!(
        p["custom_details"]["link"],
        "http://bitwobbly.test/incidents/42"
    );
    assert_eq!(p["custom_details"]["started"], "2025-01-01T10:00:00Z");
    assert_eq!(
        trigger["links"][0]["href"],
        "http://bitwobbly.test/incidents/42"
    );

    let resolve = reqs[1].json();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    assert_eq!(resolve["routing_key"], key);

    let big = reqs[2].json();
    assert_eq!(big["payload"]["severity"], "warning");
    assert!(chars(&big["payload"]["summary"]) <= 1024 && ends_cut(&big["payload"]["summary"]));
}

async fn ntfy_message(store: Store) {
    let reqs = deliver(
        &store,
        ChannelKind::Ntfy,
        |r| json!({ "url": r.url("/"), "topic": "ops-alerts", "token": "tk_secret", "priority": "urgent" }),
        &[alert(AlertKind::Down), huge(AlertKind::Down)],
    )
    .await;
    let rec = &reqs[0];
    assert_eq!(rec.path, "/");
    assert_eq!(rec.header("authorization"), Some("Bearer tk_secret"));
    assert_eq!(rec.header("content-type"), Some("application/json"));
    let body = rec.json();
    assert_eq!(body["topic"], "ops-alerts");
    assert_eq!(
        body["title"],
        "DOWN: API health (https://api.example.test/health)"
    );
    assert_eq!(body["priority"], 5);
    assert_eq!(body["tags"], json!(["rotating_light"]));
    assert_eq!(body["click"], "http://bitwobbly.test/incidents/42");
    let message = body["message"].as_str().unwrap();
    for needle in [
        "Monitor: API health",
        "Reason: status 503 is not 2xx",
        "Started: 2025-01-01T10:00:00Z",
        "Duration: ongoing",
    ] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    let body = reqs[1].json();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.len() <= 4096 && message.ends_with('…'),
        "{}",
        message.len()
    );
    // The reason is cut, not the facts before it.
    assert!(message.contains("Link: http://bitwobbly.test/incidents/42"));
}

async fn send_test_reports_the_receiver(store: Store) {
    let ws = workspace(&store).await;
    let ok = Receiver::answering(200).await;
    let bad = Receiver::sequence(vec![
        Reply::status(400).body("invalid_payload\n  missing   text"),
    ])
    .await;
    let good = channel(
        &store,
        ws,
        "good",
        ChannelKind::Slack,
        json!({ "url": ok.url("/") }),
    )
    .await;
    let failing = channel(
        &store,
        ws,
        "bad",
        ChannelKind::Discord,
        json!({ "url": bad.url("/") }),
    )
    .await;
    let st = state(&store, config(), "node-a");

    notify::send_test(&st, ws, good.id).await.unwrap();
    let body = ok.requests()[0].json();
    assert!(
        body["text"].as_str().unwrap().starts_with("TEST: "),
        "{body}"
    );

    let e = notify::send_test(&st, ws, failing.id).await.unwrap_err();
    assert_eq!(e.status.as_u16(), 502);
    assert_eq!(e.code, "channel_failed");
    assert!(e.message.contains("400"), "{}", e.message);
    assert!(
        e.message.contains("invalid_payload missing text"),
        "{}",
        e.message
    );

    // Another workspace's channel is not found.
    let other = workspace(&store).await;
    let e = notify::send_test(&st, other, good.id).await.unwrap_err();
    assert_eq!(e.status.as_u16(), 404);
    // Nothing went through the outbox.
    assert!(
        store
            .workspace(ws)
            .notifications(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

both!(
    slack_message,
    discord_message,
    teams_card,
    pagerduty_trigger_and_resolve_share_the_dedup_key,
    ntfy_message,
    send_test_reports_the_receiver,
);
