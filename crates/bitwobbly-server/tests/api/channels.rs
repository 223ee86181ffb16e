//! Notification channels, send test, and the dead letters with replay.

use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::http::TestServer;
use serde_json::json;

use crate::harness::{Api, Call, both, tenant};

async fn channels_are_created_read_replaced_and_deleted(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let tok = &t.member_token;
    // A webhook without a secret gets one, shown in the creation answer only.
    let c = api
        .call(Call::post(&t.path("/channels")).bearer(tok).json(&json!({
            "key": "ops-hook", "name": "ops", "kind": "webhook",
            "config": {"url": "https://hooks.example.com/bw"}
        })))
        .await
        .ok(201);
    let secret = c["config"]["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        (c["kind"].as_str(), c["enabled"].as_bool()),
        (Some("webhook"), Some(true))
    );
    assert!(c["disabled_reason"].is_null());
    let path = t.path(&format!("/channels/{}", c["id"]));
    let got = api.call(Call::get(&path).bearer(&t.viewer_token)).await;
    assert!(
        !String::from_utf8_lossy(&got.body).contains(&secret),
        "secret shown again"
    );
    let got = got.ok(200);
    assert_eq!(got["config"]["secret"], "********");
    assert_eq!(got["config"]["url"], "https://hooks.example.com/bw");
    let list = api
        .call(Call::get(&t.path("/channels")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["config"]["secret"], "********");

    // Replacing without the secret keeps it; disabling works.
    let u = api
        .call(Call::put(&path).bearer(tok).json(&json!({
            "key": "ops-hook", "name": "ops (paused)", "kind": "webhook",
            "config": {"url": "https://hooks.example.com/bw2", "secret": "********"}, "enabled": false
        })))
        .await
        .ok(200);
    assert_eq!(
        (u["name"].as_str(), u["enabled"].as_bool()),
        (Some("ops (paused)"), Some(false))
    );
    let stored = store
        .workspace(t.ws.id)
        .channel(ChannelId(c["id"].as_i64().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.config["secret"], secret.as_str());
    assert_eq!(stored.config["url"], "https://hooks.example.com/bw2");

    // Bad settings name their field; unknown kinds are refused; keys are unique.
    let e = api
        .call(Call::post(&t.path("/channels")).bearer(tok).json(&json!({
            "name": "x", "kind": "webhook", "config": {"url": "not a url"}
        })))
        .await
        .error(422, "validation_failed");
    assert!(
        e["field"].as_str().is_some_and(|f| f.starts_with("config")),
        "{e}"
    );
    let e = api
        .call(
            Call::post(&t.path("/channels"))
                .bearer(tok)
                .json(&json!({"name": "x", "kind": "pigeon"})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "kind");
    let e = api
        .call(Call::post(&t.path("/channels")).bearer(tok).json(&json!({
            "key": "ops-hook", "name": "dup", "kind": "webhook", "config": {"url": "https://x.example/"}
        })))
        .await
        .error(409, "conflict");
    assert_eq!(e["field"], "key");

    let d = api.call(Call::delete(&path).bearer(tok)).await;
    assert_eq!(d.status.as_u16(), 204);
    api.call(Call::get(&path).bearer(tok))
        .await
        .error(404, "not_found");
}

async fn send_test_reaches_the_receiver_or_says_why_not(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let receiver = TestServer::http().expect("receiver");
    let create = |url: String| {
        Call::post(&t.path("/channels"))
            .bearer(&t.member_token)
            .json(&json!({
                "name": "hook", "kind": "webhook", "config": {"url": url}
            }))
    };
    let good = api.call(create(receiver.url("/ok"))).await.ok(201);
    let r = api
        .call(
            Call::post(&t.path(&format!("/channels/{}/test", good["id"]))).bearer(&t.member_token),
        )
        .await;
    assert_eq!(
        r.status.as_u16(),
        204,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let bad = api.call(create(receiver.url("/status/500"))).await.ok(201);
    api.call(Call::post(&t.path(&format!("/channels/{}/test", bad["id"]))).bearer(&t.member_token))
        .await
        .error(502, "channel_failed");
}

async fn dead_letters_are_listed_and_replayed(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let c = api
        .call(
            Call::post(&t.path("/channels"))
                .bearer(&t.member_token)
                .json(&json!({
                    "name": "hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}
                })),
        )
        .await
        .ok(201);
    let channel = ChannelId(c["id"].as_i64().unwrap());
    let now = Clock.now();
    let mut ids = Vec::new();
    for n in 0..3 {
        let note = store
            .workspace(t.ws.id)
            .enqueue_notification(
                &NewNotification {
                    channel_id: channel,
                    event: "incident.opened".into(),
                    payload: json!({"title": "api down", "n": n}),
                    not_before: now,
                },
                now,
            )
            .await
            .unwrap();
        ids.push(note.id);
    }
    let claimed = store
        .global()
        .claim_notifications("node-1", now, Duration::from_secs(60), 2)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for n in &claimed {
        store
            .global()
            .mark_dead(n.id, "node-1", now, "HTTP 500")
            .await
            .unwrap();
    }
    let dead = api
        .call(Call::get(&t.path("/notifications?state=dead")).bearer(&t.viewer_token))
        .await
        .ok(200);
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 2);
    assert!(
        dead.iter()
            .all(|n| n["state"] == "dead" && n["last_error"] == "HTTP 500" && n["attempts"] == 1)
    );
    let all = api
        .call(Call::get(&t.path("/notifications")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let pending = api
        .call(Call::get(&t.path("/notifications?state=pending")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(pending.as_array().unwrap().len(), 1);
    api.call(Call::get(&t.path("/notifications?state=lost")).bearer(&t.viewer_token))
        .await
        .error(422, "validation_failed");

    let id = dead[0]["id"].as_i64().unwrap();
    let replayed = api
        .call(Call::post(&t.path(&format!("/notifications/{id}/replay"))).bearer(&t.member_token))
        .await
        .ok(200);
    assert_eq!(
        (replayed["state"].as_str(), replayed["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    let dead = api
        .call(Call::get(&t.path("/notifications?state=dead")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(dead.as_array().unwrap().len(), 1);
    // Only dead rows are replayed.
    api.call(Call::post(&t.path(&format!("/notifications/{id}/replay"))).bearer(&t.member_token))
        .await
        .error(409, "conflict");
    // The replayed row is due again: a deliverer can claim it.
    let again = store
        .global()
        .claim_notifications("node-2", Clock.now(), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert!(
        again.iter().any(|n| n.id.0 == id),
        "replayed row not claimable"
    );
    api.call(Call::post(&t.path("/notifications/999999/replay")).bearer(&t.member_token))
        .await
        .error(404, "not_found");
}

both!(
    channels_are_created_read_replaced_and_deleted,
    send_test_reaches_the_receiver_or_says_why_not,
    dead_letters_are_listed_and_replayed,
);
