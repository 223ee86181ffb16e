//! Checker agents, server end, over HTTP on loopback against a real server, on SQLite and
//! PostgreSQL: locations and agent tokens, the wire protocol (hello, assignments with ETags,
//! exactly-once result batches), hostile input, tenant isolation, and quorum judging across
//! locations (incidents open only when enough live locations agree, name who saw what,
//! resolve, and leave stale locations out).
//!
//! PostgreSQL is reached at `BITWOBBLY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates and drops its own database.

mod harness;

use bitwobbly_core::Status;
use bitwobbly_server::agent::protocol::MAX_BATCH;
use bitwobbly_store::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::harness::{Env, both};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Thresholds that follow each location's latest result at once.
fn eager() -> Value {
    json!({"thresholds": {"down_after": 1, "degraded_after": 1, "window": 1, "recover_after": 1}})
}

async fn protocol_end_to_end(env: Env) {
    let t = env.tenant("acme").await;
    let token = env.agent_token(&t, "eu-1").await;
    assert!(token.starts_with("bwa_"), "{token}");

    let welcome = env.hello(&token, "eu-1", "agent-a").await;
    let w = welcome.ok(200);
    assert_eq!(w["workspace"], "acme");
    assert_eq!(w["location"], "eu-1");
    assert_eq!(w["last_seq"], 0);
    assert_eq!(w["max_batch"], 200);
    assert_eq!(w["poll_interval_secs"], 30);
    assert!(w["server_time_ms"].as_i64().unwrap() > 0);

    // Nothing assigned yet.
    let empty = env
        .call(Method::GET, "/agent/assignments", Some(&token), None, &[])
        .await;
    assert_eq!(empty.ok(200)["monitors"], json!([]));
    let empty_tag = empty.etag.clone().expect("an ETag");

    let remote = env.monitor(&t, &["eu-1"], json!({})).await;
    let local = env.monitor(&t, &[], json!({})).await;
    let listed = env
        .call(Method::GET, "/agent/assignments", Some(&token), None, &[])
        .await;
    let body = listed.ok(200).clone();
    let tag = listed.etag.clone().expect("an ETag");
    assert_ne!(tag, empty_tag);
    assert_eq!(body["etag"], tag.as_str());
    let monitors = body["monitors"].as_array().unwrap();
    assert_eq!(monitors.len(), 1, "{body}");
    assert_eq!(monitors[0]["monitor_id"], remote);
    assert_eq!(monitors[0]["spec"]["url"], "http://127.0.0.1:9/health");
    assert!(monitors[0]["schedule"].is_object());

    // Unchanged: 304 without a body, the same tag.
    let same = env
        .call(
            Method::GET,
            "/agent/assignments",
            Some(&token),
            None,
            &[("if-none-match", &tag)],
        )
        .await;
    assert_eq!((same.status, &same.body), (304, &Value::Null));
    assert_eq!(same.etag.as_deref(), Some(tag.as_str()));
    // Pausing changes the tag and empties the list.
    env.call(
        Method::POST,
        &format!("/workspaces/acme/monitors/{remote}/pause"),
        Some(&t.token),
        None,
        &[],
    )
    .await
    .ok(200);
    let paused = env
        .call(
            Method::GET,
            "/agent/assignments",
            Some(&token),
            None,
            &[("if-none-match", &tag)],
        )
        .await;
    assert_eq!(paused.ok(200)["monitors"], json!([]));
    assert_ne!(paused.etag.as_deref(), Some(tag.as_str()));
    env.call(
        Method::POST,
        &format!("/workspaces/acme/monitors/{remote}/resume"),
        Some(&t.token),
        None,
        &[],
    )
    .await
    .ok(200);

    // A batch: two results of the assigned monitor, one for the local-only monitor and one
    // for a monitor that does not exist (both ignored).
    let at = now();
    let batch = [
        (1, remote, Status::Up, at),
        (2, local, Status::Down, at),
        (3, 999_999, Status::Down, at),
        (4, remote, Status::Down, at),
    ];
    let ack = env.send(&token, "agent-a", &batch).await;
    assert_eq!(
        ack.ok(200),
        &json!({"accepted": 2, "duplicates": 0, "ignored": 2, "last_seq": 4})
    );
    // Sent again, as after a lost answer: all duplicates, nothing stored twice.
    let again = env.send(&token, "agent-a", &batch).await;
    assert_eq!(
        again.ok(200),
        &json!({"accepted": 0, "duplicates": 4, "ignored": 0, "last_seq": 4})
    );
    let results = env
        .call(
            Method::GET,
            &format!("/workspaces/acme/monitors/{remote}/results?limit=100"),
            Some(&t.token),
            None,
            &[],
        )
        .await;
    let items = results.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().all(|r| r["location"] == "eu-1"), "{items:?}");
    let stored = env
        .call(
            Method::GET,
            &format!("/workspaces/acme/monitors/{local}/results"),
            Some(&t.token),
            None,
            &[],
        )
        .await;
    assert!(
        stored.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["location"] != "eu-1")
    );

    // A restarted agent learns where it stands; another agent of the location starts at 0.
    assert_eq!(
        env.hello(&token, "eu-1", "agent-a").await.ok(200)["last_seq"],
        4
    );
    assert_eq!(
        env.hello(&token, "eu-1", "agent-b").await.ok(200)["last_seq"],
        0
    );

    // The location shows its contact, agent, version and monitor count; `local` is listed.
    let places = env
        .call(
            Method::GET,
            "/workspaces/acme/locations",
            Some(&t.token),
            None,
            &[],
        )
        .await;
    let places = places.ok(200).as_array().unwrap().clone();
    assert_eq!(places[0]["name"], "local");
    assert_eq!(places[0]["local"], true);
    assert_eq!(places[0]["monitors"], 1);
    assert_eq!(places[1]["name"], "eu-1");
    assert_eq!(places[1]["stale"], false);
    assert_eq!(places[1]["agent_id"], "agent-b");
    assert_eq!(places[1]["agent_version"], "0.1.0");
    assert_eq!(places[1]["monitors"], 1);
    assert!(places[1]["last_seen_at"].is_string());
    env.finish().await;
}

async fn hostile_input_is_refused(env: Env) {
    let t = env.tenant("acme").await;
    let token = env.agent_token(&t, "eu-1").await;
    let remote = env.monitor(&t, &["eu-1"], json!({})).await;

    // Credentials.
    let none = env
        .call(Method::GET, "/agent/assignments", None, None, &[])
        .await;
    none.error(401, "unauthorized");
    let basic = env
        .call(
            Method::GET,
            "/agent/assignments",
            None,
            None,
            &[("authorization", "Basic eDp5")],
        )
        .await;
    basic.error(401, "unauthorized");
    for bad in [t.token.as_str(), "bwa_000000000000_00", "garbage", "bwa_"] {
        env.call(Method::GET, "/agent/assignments", Some(bad), None, &[])
            .await
            .error(401, "unauthorized");
    }

    // Hello: another location, bad fields, another protocol.
    env.hello(&token, "us-1", "a")
        .await
        .error(403, "location_mismatch");
    let e = env.hello(&token, "eu-1", "has space").await;
    assert_eq!(e.error(422, "validation_failed")["field"], "agent_id");
    let e = env.hello(&token, "eu-1", &"x".repeat(129)).await;
    assert_eq!(e.error(422, "validation_failed")["field"], "agent_id");
    let e = env
        .call(
            Method::POST,
            "/agent/hello",
            Some(&token),
            Some(json!({"location": "eu-1", "agent_id": "a", "version": "1", "protocol": 2})),
            &[],
        )
        .await;
    assert_eq!(e.error(422, "validation_failed")["field"], "protocol");
    let e = env
        .call(
            Method::POST,
            "/agent/hello",
            Some(&token),
            Some(
                json!({"location": "eu-1", "agent_id": "a", "version": "1", "protocol": 1, "x": 1}),
            ),
            &[],
        )
        .await;
    e.error(422, "unknown_field");

    // Results: malformed JSON, unknown and missing fields, bad sequence numbers.
    env.raw(
        "/agent/results",
        &token,
        b"{\"agent_id\": \"a\", \"results\": [".to_vec(),
    )
    .await
    .error(400, "invalid_json");
    env.raw(
        "/agent/results",
        &token,
        b"{\"agent_id\": \"a\", \"results\": [], \"x\": 1}".to_vec(),
    )
    .await
    .error(422, "unknown_field");
    env.raw("/agent/results", &token, b"{\"results\": []}".to_vec())
        .await
        .error(422, "validation_failed");
    let at = now();
    let e = env.send(&token, "a", &[(0, remote, Status::Up, at)]).await;
    assert_eq!(e.error(422, "validation_failed")["field"], "results[0].seq");
    let e = env
        .send(
            &token,
            "a",
            &[(5, remote, Status::Up, at), (5, remote, Status::Up, at)],
        )
        .await;
    assert_eq!(e.error(422, "validation_failed")["field"], "results[1].seq");
    let e = env
        .send(&token, "a", &[(u64::MAX, remote, Status::Up, at)])
        .await;
    assert_eq!(e.error(422, "validation_failed")["field"], "results[0].seq");
    let e = env.send(&token, "", &[]).await;
    assert_eq!(e.error(422, "validation_failed")["field"], "agent_id");

    // More than MAX_BATCH results: 413, nothing stored.
    let many: Vec<_> = (1..=MAX_BATCH as u64 + 1)
        .map(|s| (s, remote, Status::Up, at))
        .collect();
    env.send(&token, "a", &many)
        .await
        .error(413, "payload_too_large");
    // A body over the API's limit: 413 too.
    let huge = format!(
        "{{\"agent_id\": \"a\", \"results\": [], \"pad\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    env.raw("/agent/results", &token, huge.into_bytes())
        .await
        .error(413, "payload_too_large");
    assert_eq!(env.hello(&token, "eu-1", "a").await.ok(200)["last_seq"], 0);

    // An empty batch is fine and changes nothing.
    assert_eq!(
        env.send(&token, "a", &[]).await.ok(200),
        &json!({"accepted": 0, "duplicates": 0, "ignored": 0, "last_seq": 0})
    );

    // Management input: bad names, `local`, unknown locations on monitors, bad quorum.
    for (name, status) in [("has space", 422), ("", 422), ("local", 409), ("eu-1", 409)] {
        let e = env
            .call(
                Method::POST,
                "/workspaces/acme/locations",
                Some(&t.token),
                Some(json!({"name": name})),
                &[],
            )
            .await;
        assert_eq!(e.status, status, "{name:?}: {:?}", e.body);
    }
    let e = env
        .call(
            Method::POST,
            "/workspaces/acme/monitors",
            Some(&t.token),
            Some(
                json!({"name": "x", "spec": {"type": "http", "url": "http://127.0.0.1:9/"},
                        "locations": ["local", "eu-1", "mars"]}),
            ),
            &[],
        )
        .await;
    assert_eq!(e.error(422, "validation_failed")["field"], "locations[2]");
    let e = env
        .call(
            Method::POST,
            "/workspaces/acme/monitors",
            Some(&t.token),
            Some(
                json!({"name": "x", "spec": {"type": "http", "url": "http://127.0.0.1:9/"},
                        "quorum": {"share": {"percent": 101}}}),
            ),
            &[],
        )
        .await;
    assert_eq!(e.error(422, "validation_failed")["field"], "quorum.share");
    let e = env
        .call(
            Method::POST,
            "/workspaces/acme/locations/eu-1/tokens",
            Some(&t.token),
            Some(json!({"name": ""})),
            &[],
        )
        .await;
    assert_eq!(e.error(422, "validation_failed")["field"], "name");
    env.call(
        Method::POST,
        "/workspaces/acme/locations/nowhere/tokens",
        Some(&t.token),
        Some(json!({"name": "x"})),
        &[],
    )
    .await
    .error(404, "not_found");
    // A location in use cannot be deleted.
    env.call(
        Method::DELETE,
        "/workspaces/acme/locations/eu-1",
        Some(&t.token),
        None,
        &[],
    )
    .await
    .error(409, "conflict");
    env.finish().await;
}

async fn revoked_and_deleted_tokens_stop_working(env: Env) {
    let t = env.tenant("acme").await;
    let token = env.agent_token(&t, "eu-1").await;
    let second = env.agent_token(&t, "eu-1").await;
    env.hello(&token, "eu-1", "a").await.ok(200);
    let listed = env
        .call(
            Method::GET,
            "/workspaces/acme/locations/eu-1/tokens",
            Some(&t.token),
            None,
            &[],
        )
        .await;
    let tokens = listed.ok(200).as_array().unwrap().clone();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t.get("secret").is_none()));
    assert!(tokens[0]["last_used_at"].is_string());
    let id = tokens[0]["id"].as_i64().unwrap();
    let revoke = env
        .call(
            Method::DELETE,
            &format!("/workspaces/acme/locations/eu-1/tokens/{id}"),
            Some(&t.token),
            None,
            &[],
        )
        .await;
    assert_eq!(revoke.status, 204);
    env.hello(&token, "eu-1", "a")
        .await
        .error(401, "unauthorized");
    env.send(&token, "a", &[]).await.error(401, "unauthorized");
    // The other token of the location still works.
    env.hello(&second, "eu-1", "a").await.ok(200);
    // Deleting the (unused) location takes its tokens along.
    let gone = env
        .call(
            Method::DELETE,
            "/workspaces/acme/locations/eu-1",
            Some(&t.token),
            None,
            &[],
        )
        .await;
    assert_eq!(gone.status, 204);
    env.hello(&second, "eu-1", "a")
        .await
        .error(401, "unauthorized");
    env.finish().await;
}

async fn other_workspaces_are_refused_everywhere(env: Env) {
    let a = env.tenant("acme").await;
    let b = env.tenant("bravo").await;
    let a_agent = env.agent_token(&a, "eu-1").await;
    let b_agent = env.agent_token(&b, "eu-1").await;
    let a_monitor = env.monitor(&a, &["eu-1"], json!({})).await;

    // b's admin token on every location route of a: 404, as if a did not exist.
    let routes: [(Method, &str, Option<Value>); 6] = [
        (Method::GET, "/workspaces/acme/locations", None),
        (
            Method::POST,
            "/workspaces/acme/locations",
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, "/workspaces/acme/locations/eu-1", None),
        (Method::GET, "/workspaces/acme/locations/eu-1/tokens", None),
        (
            Method::POST,
            "/workspaces/acme/locations/eu-1/tokens",
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            "/workspaces/acme/locations/eu-1/tokens/1",
            None,
        ),
    ];
    for (method, path, body) in routes.clone() {
        env.call(method.clone(), path, Some(&b.token), body.clone(), &[])
            .await
            .error(404, "not_found");
        // An agent token is no API token at all.
        env.call(method, path, Some(&a_agent), body, &[])
            .await
            .error(401, "unauthorized");
    }
    // b's agent sees b's assignments only, and cannot store results for a's monitor.
    let listed = env
        .call(Method::GET, "/agent/assignments", Some(&b_agent), None, &[])
        .await;
    assert_eq!(listed.ok(200)["monitors"], json!([]));
    let ack = env
        .send(&b_agent, "b", &[(1, a_monitor, Status::Down, now())])
        .await;
    assert_eq!(ack.ok(200)["ignored"], 1);
    assert!(
        env.state
            .store
            .workspace(a.id)
            .latest_results()
            .await
            .unwrap()
            .is_empty()
    );
    // b cannot name a's locations on its monitors (it has its own eu-1, not a's us-1).
    env.agent_token(&a, "us-1").await;
    let e = env
        .call(
            Method::POST,
            "/workspaces/bravo/monitors",
            Some(&b.token),
            Some(
                json!({"name": "x", "spec": {"type": "http", "url": "http://127.0.0.1:9/"},
                        "locations": ["us-1"]}),
            ),
            &[],
        )
        .await;
    assert_eq!(e.error(422, "validation_failed")["field"], "locations[0]");
    // A viewer may list locations but not manage tokens.
    let now_ts = env.state.clock.now();
    let (_, viewer) = env
        .state
        .store
        .workspace(a.id)
        .create_api_token("viewer", Role::Viewer, None, now_ts, None)
        .await
        .unwrap();
    env.call(
        Method::GET,
        "/workspaces/acme/locations",
        Some(viewer.expose()),
        None,
        &[],
    )
    .await
    .ok(200);
    env.call(
        Method::GET,
        "/workspaces/acme/locations/eu-1/tokens",
        Some(viewer.expose()),
        None,
        &[],
    )
    .await
    .error(403, "forbidden");
    env.finish().await;
}

async fn quorum_opens_names_and_resolves(env: Env) {
    let t = env.tenant("acme").await;
    let a = env.agent_token(&t, "a").await;
    let b = env.agent_token(&t, "b").await;
    let c = env.agent_token(&t, "c").await;
    let m = env.monitor(&t, &["a", "b", "c"], eager()).await;
    let at = now();
    for (token, seq) in [(&a, 1), (&b, 1), (&c, 1)] {
        env.send(token, "x", &[(seq, m, Status::Up, at)])
            .await
            .ok(200);
    }
    // One of three down: no incident.
    env.send(&a, "x", &[(2, m, Status::Down, now())])
        .await
        .ok(200);
    assert!(env.incidents(&t, m).await.is_empty());
    let view = env
        .call(
            Method::GET,
            &format!("/workspaces/acme/monitors/{m}"),
            Some(&t.token),
            None,
            &[],
        )
        .await;
    assert_eq!(view.ok(200)["status"], "up");

    // Two of three: an incident naming who saw what.
    env.send(&b, "x", &[(2, m, Status::Down, now())])
        .await
        .ok(200);
    let incidents = env.incidents(&t, m).await;
    assert_eq!(incidents.len(), 1);
    let (incident, updates) = &incidents[0];
    assert_eq!(incident.resolved_at, None);
    let message = updates.join(" | ");
    assert!(
        message.contains("down from a (connection refused), b (connection refused) (2 of 3)")
            && message.contains("up from c"),
        "{message}"
    );
    let view = env
        .call(
            Method::GET,
            &format!("/workspaces/acme/monitors/{m}"),
            Some(&t.token),
            None,
            &[],
        )
        .await;
    assert_eq!(view.ok(200)["status"], "down");

    // One recovers: back to one of three, resolved.
    env.send(&a, "x", &[(3, m, Status::Up, now())])
        .await
        .ok(200);
    let incidents = env.incidents(&t, m).await;
    assert_eq!(incidents.len(), 1);
    assert!(incidents[0].0.resolved_at.is_some(), "{incidents:?}");
    env.finish().await;
}

async fn stale_locations_are_left_out(env: Env) {
    let t = env.tenant("acme").await;
    let a = env.agent_token(&t, "a").await;
    let b = env.agent_token(&t, "b").await;
    let c = env.agent_token(&t, "c").await;
    let mut fields = eager();
    fields["quorum"] = json!({"stale_after": "1s"});
    let m = env.monitor(&t, &["a", "b", "c"], fields).await;

    // Results made long ago (a buffer sent late) count for nothing: a majority of down
    // results that are stale on arrival opens no incident.
    let old = now() - time::Duration::minutes(10);
    env.send(&a, "x", &[(1, m, Status::Down, old)])
        .await
        .ok(200);
    env.send(&b, "x", &[(1, m, Status::Down, old)])
        .await
        .ok(200);
    env.send(&c, "x", &[(1, m, Status::Up, now())])
        .await
        .ok(200);
    assert!(env.incidents(&t, m).await.is_empty());

    // Fresh down results from a and b open one; c's view is made in the future (a skewed
    // clock), so c stays live for as long as its agent keeps in contact.
    env.send(&a, "x", &[(2, m, Status::Down, now())])
        .await
        .ok(200);
    env.send(&b, "x", &[(2, m, Status::Down, now())])
        .await
        .ok(200);
    env.send(
        &c,
        "x",
        &[(2, m, Status::Up, now() + time::Duration::hours(1))],
    )
    .await
    .ok(200);
    let incidents = env.incidents(&t, m).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].0.resolved_at, None);

    // a and b go silent; c only polls. Once a and b are stale, re-judging leaves them out:
    // the silent majority no longer holds the incident open.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    env.call(Method::GET, "/agent/assignments", Some(&c), None, &[])
        .await
        .ok(200);
    let changed = bitwobbly_server::scheduler::rejudge_locations(&env.state)
        .await
        .unwrap();
    assert!(changed >= 1);
    let incidents = env.incidents(&t, m).await;
    assert!(incidents[0].0.resolved_at.is_some(), "{incidents:?}");
    // Nothing changed since: nothing to re-judge.
    env.call(Method::GET, "/agent/assignments", Some(&c), None, &[])
        .await
        .ok(200);
    assert_eq!(
        bitwobbly_server::scheduler::rejudge_locations(&env.state)
            .await
            .unwrap(),
        0
    );
    env.finish().await;
}

both!(
    protocol_end_to_end,
    hostile_input_is_refused,
    revoked_and_deleted_tokens_stop_working,
    other_workspaces_are_refused_everywhere,
    quorum_opens_names_and_resolves,
    stale_locations_are_left_out,
);
