//! Monitors: CRUD, validation, pause and resume, check now, heartbeats, parents, channels,
//! results and statistics.

use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_server::config::Config;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::http::TestServer;
use serde_json::{Value, json};

use crate::harness::{Api, Call, both, create_monitor, http_monitor, tenant};

async fn monitors_are_validated_created_changed_paused_and_deleted(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let tok = &t.member_token;
    let mut input = http_monitor("API", "https://example.com/health");
    input["key"] = json!("api.health");

    // Validation saves nothing and lists every problem.
    let ok = api
        .call(
            Call::post(&t.path("/monitors/validate"))
                .bearer(tok)
                .json(&input),
        )
        .await
        .ok(200);
    assert_eq!(ok, json!({"valid": true, "errors": []}));
    let bad = json!({
        "name": "", "spec": {"type": "http", "url": "gopher://x"},
        "schedule": {"type": "interval", "every": "1s"},
        "thresholds": {"down_after": 5, "window": 2},
    });
    let v = api
        .call(
            Call::post(&t.path("/monitors/validate"))
                .bearer(tok)
                .json(&bad),
        )
        .await
        .ok(200);
    assert_eq!(v["valid"], false);
    let fields: Vec<_> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["name", "spec.url", "schedule.every", "thresholds.window"]
    );
    assert!(
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["code"] == "validation_failed")
    );
    let v = api
        .call(
            Call::post(&t.path("/monitors/validate"))
                .bearer(tok)
                .json(&json!({"name": "a", "spec": {}, "x": 1})),
        )
        .await
        .ok(200);
    assert_eq!(v["errors"][0]["code"], "unknown_field");
    assert_eq!(v["errors"][0]["field"], "x");
    assert!(
        api.call(Call::get(&t.path("/monitors")).bearer(tok))
            .await
            .ok(200)
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Create.
    let m = api
        .call(Call::post(&t.path("/monitors")).bearer(tok).json(&input))
        .await
        .ok(201);
    let id = m["id"].as_i64().unwrap();
    assert_eq!(m["key"], "api.health");
    assert_eq!(m["kind"], "http");
    assert_eq!(m["target"], "https://example.com/health");
    assert_eq!(m["schedule"], json!({"type": "interval", "every": "30s"}));
    assert_eq!(m["thresholds"]["down_after"], 2);
    assert_eq!(m["status"], "unknown");
    assert_eq!(m["paused"], false);
    assert!(m["ping_url"].is_null());
    assert!(m["state"]["next_run_at"].is_string());
    let path = t.path(&format!("/monitors/{id}"));
    assert_eq!(
        api.call(Call::get(&path).bearer(&t.viewer_token))
            .await
            .ok(200),
        m
    );
    let list = api
        .call(Call::get(&t.path("/monitors")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);

    // The key is unique in the workspace.
    let e = api
        .call(Call::post(&t.path("/monitors")).bearer(tok).json(&input))
        .await
        .error(409, "conflict");
    assert_eq!(e["field"], "key");

    // Replace: a cron schedule in the short form, thresholds, locations (which must exist).
    api.call(
        Call::post(&t.path("/locations"))
            .bearer(&t.owner_token)
            .json(&json!({"name": "eu-west"})),
    )
    .await
    .ok(201);
    let changed = json!({
        "key": "api.health", "name": "API (cron)",
        "spec": {"type": "tcp", "host": "example.com", "port": 443},
        "schedule": {"cron": "*/5 * * * *", "tz": "Europe/Paris"},
        "thresholds": {"down_after": 3, "window": 5},
        "locations": ["eu-west"],
    });
    let u = api
        .call(Call::put(&path).bearer(tok).json(&changed))
        .await
        .ok(200);
    assert_eq!(u["name"], "API (cron)");
    assert_eq!(u["kind"], "tcp");
    assert_eq!(u["target"], "example.com:443");
    assert_eq!(
        u["schedule"],
        json!({"type": "cron", "expr": "*/5 * * * *", "tz": "Europe/Paris"})
    );
    assert_eq!(
        (
            u["thresholds"]["down_after"].as_u64(),
            u["thresholds"]["window"].as_u64()
        ),
        (Some(3), Some(5))
    );
    assert_eq!(u["locations"], json!(["eu-west"]));
    let e = api
        .call(
            Call::put(&path)
                .bearer(tok)
                .json(&json!({"name": "x", "spec": {"type": "tcp", "host": "", "port": 1}})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "spec.host");

    // Pause and resume.
    let p = api
        .call(Call::post(&format!("{path}/pause")).bearer(tok))
        .await
        .ok(200);
    assert_eq!(
        (p["paused"].as_bool(), p["status"].as_str()),
        (Some(true), Some("paused"))
    );
    assert!(
        store
            .workspace(t.ws.id)
            .monitor(MonitorId(id))
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    let r = api
        .call(Call::post(&format!("{path}/resume")).bearer(tok))
        .await
        .ok(200);
    assert_eq!(r["paused"], false);
    assert_ne!(r["status"], "paused");

    // Delete.
    let d = api.call(Call::delete(&path).bearer(tok)).await;
    assert_eq!(d.status.as_u16(), 204);
    api.call(Call::get(&path).bearer(tok))
        .await
        .error(404, "not_found");
    api.call(Call::delete(&path).bearer(tok))
        .await
        .error(404, "not_found");
}

async fn heartbeat_monitors_show_their_ping_url(store: &Store) {
    let mut config = Config::default();
    config.public_url = Some("https://status.example.com/".into());
    let api = Api::new(store, config);
    let t = tenant(store, "acme").await;
    let input = json!({
        "name": "nightly backup",
        "spec": {"type": "heartbeat", "expect": {"type": "period", "period": "1h"}, "grace": "5m"},
    });
    let m = api.call(t.post_monitors().json(&input)).await.ok(201);
    assert_eq!(m["kind"], "heartbeat");
    assert!(m["schedule"].is_null());
    let url = m["ping_url"].as_str().expect("ping url").to_owned();
    let token = url
        .strip_prefix("https://status.example.com/ping/")
        .expect("ping url shape");
    assert!(
        token.len() >= 22
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{token}"
    );
    assert_eq!(
        (
            m["thresholds"]["down_after"].as_u64(),
            m["thresholds"]["window"].as_u64(),
            m["thresholds"]["recover_after"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let id = m["id"].as_i64().unwrap();
    let path = t.path(&format!("/monitors/{id}"));
    let mut renamed = input.clone();
    renamed["name"] = json!("nightly backup (db)");
    let u = api
        .call(Call::put(&path).bearer(&t.member_token).json(&renamed))
        .await
        .ok(200);
    assert_eq!(
        u["ping_url"],
        url.as_str(),
        "the ping URL changed on update"
    );
    // Nothing to run.
    api.call(Call::post(&format!("{path}/check")).bearer(&t.member_token))
        .await
        .error(422, "validation_failed");
    // A bad policy names its field.
    let e = api
        .call(t.post_monitors().json(&json!({
            "name": "x", "spec": {"type": "heartbeat", "expect": {"type": "period", "period": "5s"}}
        })))
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "spec.expect.period");
}

async fn check_now_runs_the_monitor_and_records_the_result(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let server = TestServer::http().expect("test server");
    let m = create_monitor(&api, &t, "ok", &server.url("/ok")).await;
    let path = t.path(&format!("/monitors/{}", m["id"]));
    let done = api
        .call(Call::post(&format!("{path}/check")).bearer(&t.member_token))
        .await
        .ok(200);
    assert_eq!(done["report"]["status"], "up", "{done}");
    assert_eq!(done["recorded"], true);
    let results = api
        .call(Call::get(&format!("{path}/results")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(results["items"].as_array().unwrap().len(), 1);
    assert_eq!(results["items"][0]["status"], "up");
    assert_eq!(results["items"][0]["http_status"], 200);
    let got = api
        .call(Call::get(&path).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(got["state"]["last_status"], "up");
}

async fn parents_belong_to_the_workspace_and_are_not_the_monitor(store: &Store) {
    let api = Api::default_config(store);
    let a = tenant(store, "acme").await;
    let b = tenant(store, "bravo").await;
    let create = |t: &crate::harness::Tenant, body: Value| t.post_monitors().json(&body);
    let theirs = api
        .call(create(&b, http_monitor("b", "http://127.0.0.1:9/")))
        .await
        .ok(201);
    let parent = api
        .call(create(&a, http_monitor("gateway", "http://127.0.0.1:9/")))
        .await
        .ok(201);
    let mut child = http_monitor("api", "http://127.0.0.1:9/api");
    child["parent_id"] = theirs["id"].clone();
    let e = api
        .call(create(&a, child.clone()))
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "parent_id");
    child["parent_id"] = parent["id"].clone();
    let c = api.call(create(&a, child.clone())).await.ok(201);
    assert_eq!(c["parent_id"], parent["id"]);
    let path = a.path(&format!("/monitors/{}", c["id"]));
    child["parent_id"] = c["id"].clone();
    let e = api
        .call(Call::put(&path).bearer(&a.member_token).json(&child))
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "parent_id");
    // A loop through the parent is refused too.
    let mut p = http_monitor("gateway", "http://127.0.0.1:9/");
    p["parent_id"] = c["id"].clone();
    let e = api
        .call(
            Call::put(&a.path(&format!("/monitors/{}", parent["id"])))
                .bearer(&a.member_token)
                .json(&p),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "parent_id");
}

async fn private_targets_are_refused_when_configured(store: &Store) {
    let mut config = Config::default();
    config.targets.deny_private = true;
    let api = Api::new(store, config);
    let t = tenant(store, "acme").await;
    for (spec, field) in [
        (
            json!({"type": "http", "url": "http://127.0.0.1:8080/"}),
            "spec.url",
        ),
        (json!({"type": "http", "url": "http://[::1]/"}), "spec.url"),
        (
            json!({"type": "tcp", "host": "192.168.1.1", "port": 22}),
            "spec.host",
        ),
        (
            json!({"type": "tls", "host": "169.254.169.254", "port": 443}),
            "spec.host",
        ),
        (
            json!({"type": "dns", "name": "example.com", "resolver": {"kind": "server", "addr": "10.0.0.53:53"}}),
            "spec.resolver.addr",
        ),
    ] {
        let body = json!({"name": "x", "spec": spec});
        let e = api
            .call(t.post_monitors().json(&body))
            .await
            .error(422, "target_not_allowed");
        assert_eq!(e["field"], field, "{spec}");
    }
    create_monitor(&api, &t, "public", "https://93.184.216.34/").await;
}

async fn monitor_channels_are_linked_within_the_workspace(store: &Store) {
    let api = Api::default_config(store);
    let a = tenant(store, "acme").await;
    let b = tenant(store, "bravo").await;
    let channel = |t: &crate::harness::Tenant| {
        Call::post(&t.path("/channels"))
            .bearer(&t.member_token)
            .json(&json!({
                "name": "hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}
            }))
    };
    let mine = api.call(channel(&a)).await.ok(201)["id"].as_i64().unwrap();
    let theirs = api.call(channel(&b)).await.ok(201)["id"].as_i64().unwrap();
    let m = create_monitor(&api, &a, "api", "http://127.0.0.1:9/").await;
    let path = a.path(&format!("/monitors/{}/channels", m["id"]));
    let e = api
        .call(
            Call::put(&path)
                .bearer(&a.member_token)
                .json(&json!({"channel_ids": [mine, theirs]})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "channel_ids[1]");
    let linked = api
        .call(
            Call::put(&path)
                .bearer(&a.member_token)
                .json(&json!({"channel_ids": [mine, mine]})),
        )
        .await
        .ok(200);
    assert_eq!(linked.as_array().unwrap().len(), 1);
    assert_eq!(linked[0]["id"], mine);
    let got = api
        .call(Call::get(&path).bearer(&a.viewer_token))
        .await
        .ok(200);
    assert_eq!(got, linked);
    let ch = api
        .call(Call::get(&a.path(&format!("/channels/{mine}"))).bearer(&a.viewer_token))
        .await
        .ok(200);
    assert_eq!(ch["monitor_ids"], json!([m["id"]]));
    let none = api
        .call(
            Call::put(&path)
                .bearer(&a.member_token)
                .json(&json!({"channel_ids": []})),
        )
        .await
        .ok(200);
    assert!(none.as_array().unwrap().is_empty());
}

fn result(monitor: MonitorId, at: Timestamp, status: CheckStatus, total_ms: i64) -> NewCheckResult {
    NewCheckResult {
        monitor_id: monitor,
        location: "local".into(),
        started_at: at,
        status,
        timings: PhaseTimes {
            total_us: total_ms * 1000,
            ..PhaseTimes::default()
        },
        http_status: (status != CheckStatus::Down).then_some(200),
        error_kind: (status == CheckStatus::Down).then(|| "connect_refused".to_owned()),
        message: None,
    }
}

async fn results_come_in_pages_with_a_cursor(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let m = create_monitor(&api, &t, "api", "http://127.0.0.1:9/").await;
    let id = MonitorId(m["id"].as_i64().unwrap());
    let t0 = Timestamp::from_millis(1_704_067_200_000); // 2024-01-01T00:00:00Z
    let batch: Vec<_> = (0..5)
        .map(|i| {
            result(
                id,
                t0.plus(Duration::from_secs(60 * i)),
                CheckStatus::Up,
                10 + i as i64,
            )
        })
        .collect();
    store
        .workspace(t.ws.id)
        .insert_results(&batch)
        .await
        .unwrap();
    let base = t.path(&format!("/monitors/{}/results", id.0));
    let mut seen = Vec::new();
    let mut url = format!("{base}?limit=2");
    loop {
        let page = api
            .call(Call::get(&url).bearer(&t.viewer_token))
            .await
            .ok(200);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|r| r["timings"]["total_us"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{base}?limit=2&cursor={c}"),
            None => break,
        }
        assert!(seen.len() <= 5, "pagination does not end");
    }
    assert_eq!(
        seen,
        [14_000, 13_000, 12_000, 11_000, 10_000],
        "newest first, each once"
    );
    // Time range, in RFC 3339 and in milliseconds, oldest first.
    let page = api
        .call(
            Call::get(&format!(
                "{base}?from=2024-01-01T00:01:00Z&to={}&order=asc",
                t0.plus(Duration::from_secs(240)).as_millis()
            ))
            .bearer(&t.viewer_token),
        )
        .await
        .ok(200);
    let got: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timings"]["total_us"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [11_000, 12_000, 13_000]);
    assert_eq!(page["items"][0]["started_at"], "2024-01-01T00:01:00Z");
    for (q, field) in [
        ("cursor=nope", "cursor"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("order=up", "order"),
    ] {
        let e = api
            .call(Call::get(&format!("{base}?{q}")).bearer(&t.viewer_token))
            .await
            .error(422, "validation_failed");
        assert_eq!(e["field"], field, "{q}");
    }
}

async fn stats_add_rollups_and_recent_results(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let m = create_monitor(&api, &t, "api", "http://127.0.0.1:9/").await;
    let id = MonitorId(m["id"].as_i64().unwrap());
    let now = Clock.now();
    let hour = Duration::from_secs(3600);
    let old = now.floor_hour().minus(hour * 30);
    let recent = now.floor_hour().minus(hour * 2);
    let mut batch = Vec::new();
    for i in 0..3 {
        batch.push(result(
            id,
            old.plus(Duration::from_secs(i)),
            CheckStatus::Up,
            100,
        ));
    }
    batch.push(result(
        id,
        old.plus(Duration::from_secs(10)),
        CheckStatus::Down,
        0,
    ));
    for i in 0..4 {
        batch.push(result(
            id,
            recent.plus(Duration::from_secs(i)),
            CheckStatus::Up,
            200,
        ));
    }
    store
        .workspace(t.ws.id)
        .insert_results(&batch)
        .await
        .unwrap();
    let report = store
        .global()
        .compact(now, &RetentionPolicy::default())
        .await
        .unwrap();
    assert!(report.hourly_rows >= 2, "{report:?}");
    // Results after the last rolled-up hour count too.
    let edge = recent.plus(hour);
    store
        .workspace(t.ws.id)
        .insert_results(&[
            result(id, edge.plus(Duration::from_secs(1)), CheckStatus::Up, 400),
            result(id, edge.plus(Duration::from_secs(2)), CheckStatus::Down, 0),
        ])
        .await
        .unwrap();
    let s = api
        .call(Call::get(&t.path(&format!("/monitors/{}/stats", id.0))).bearer(&t.viewer_token))
        .await
        .ok(200);
    let windows = s["windows"].as_array().unwrap();
    let names: Vec<_> = windows
        .iter()
        .map(|w| w["window"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["24h", "7d", "30d", "90d"]);
    let day = &windows[0];
    assert_eq!(
        (
            day["up"].as_u64(),
            day["down"].as_u64(),
            day["total"].as_u64()
        ),
        (Some(5), Some(1), Some(6))
    );
    let pct = day["uptime_percent"].as_f64().unwrap();
    assert!((pct - 500.0 / 6.0).abs() < 0.01, "{pct}");
    let mean = day["latency"]["mean_ms"].as_f64().unwrap();
    assert!((mean - 240.0).abs() < 0.01, "{mean}");
    let p50 = day["latency"]["p50_ms"].as_f64().unwrap();
    assert!((p50 - 200.0).abs() < 200.0 * 0.02, "{p50}");
    for w in &windows[1..] {
        assert_eq!(
            (w["up"].as_u64(), w["down"].as_u64()),
            (Some(8), Some(2)),
            "{w}"
        );
        assert_eq!(w["uptime_percent"].as_f64(), Some(80.0));
    }
    // A monitor without results has no uptime yet.
    let other = create_monitor(&api, &t, "new", "http://127.0.0.1:9/").await;
    let s = api
        .call(
            Call::get(&t.path(&format!("/monitors/{}/stats", other["id"]))).bearer(&t.viewer_token),
        )
        .await
        .ok(200);
    assert!(s["windows"][0]["uptime_percent"].is_null());
    assert_eq!(s["windows"][0]["total"], 0);
}

both!(
    monitors_are_validated_created_changed_paused_and_deleted,
    heartbeat_monitors_show_their_ping_url,
    check_now_runs_the_monitor_and_records_the_result,
    parents_belong_to_the_workspace_and_are_not_the_monitor,
    private_targets_are_refused_when_configured,
    monitor_channels_are_linked_within_the_workspace,
    results_come_in_pages_with_a_cursor,
    stats_add_rollups_and_recent_results,
);
