//! Bad input gets the error shape with the right status and code.

use axum::http::Method;
use bitwobbly_server::config::Config;
use bitwobbly_store::Store;
use serde_json::{Value, json};

use crate::harness::{Api, Call, both, http_monitor, tenant};

async fn malformed_json_is_400_invalid_json(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let trailing = format!("{} {{}}", http_monitor("api", "http://127.0.0.1:9/"));
    for body in ["{\"name\": ", "not json", trailing.as_str(), ""] {
        let r = api
            .call(t.post_monitors().raw(Some("application/json"), body))
            .await;
        r.error(400, "invalid_json");
    }
    let r = api
        .call(Call::post("/auth/login").raw(Some("application/json"), "{\"email\": \"a\", "))
        .await;
    r.error(400, "invalid_json");
}

async fn unknown_fields_are_422_unknown_field_with_the_field(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let monitor_with = |edit: fn(&mut Value)| {
        let mut body = http_monitor("api", "http://127.0.0.1:9/");
        edit(&mut body);
        body
    };
    for (body, field) in [
        (monitor_with(|b| b["colour"] = json!("blue")), "colour"),
        // Inside the spec (a core type that refuses unknown fields too).
        (
            monitor_with(|b| b["spec"]["retries"] = json!(3)),
            "spec.retries",
        ),
        // Inside the thresholds.
        (
            monitor_with(|b| b["thresholds"] = json!({"down_after": 1, "fails": 3})),
            "thresholds.fails",
        ),
    ] {
        let r = api.call(t.post_monitors().json(&body)).await;
        assert_eq!(r.error(422, "unknown_field")["field"], field, "{body}");
    }
    // Other resources.
    let r = api
        .call(
            Call::post(&t.path("/tokens"))
                .bearer(&t.owner_token)
                .json(&json!({"name": "ci", "scope": "all"})),
        )
        .await;
    assert_eq!(r.error(422, "unknown_field")["field"], "scope");
    // Query parameters.
    let r = api
        .call(Call::get(&t.path("/incidents?opn=true")).bearer(&t.viewer_token))
        .await;
    assert_eq!(r.error(422, "unknown_field")["field"], "opn");
}

async fn wrong_types_are_422_validation_failed_with_the_field(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let cases = [
        (
            json!({"name": 7, "spec": {"type": "http", "url": "http://x/"}}),
            "name",
        ),
        (
            json!({"name": "a", "spec": {"type": "http", "url": "http://x/"}, "paused": "yes"}),
            "paused",
        ),
        (
            json!({"name": "a", "spec": {"type": "http", "url": "http://x/"}, "locations": [1]}),
            "locations[0]",
        ),
        (
            json!({"spec": {"type": "http", "url": "http://x/"}}),
            "body",
        ),
        (
            json!({"name": "a", "spec": {"type": "http", "url": "http://x/", "timeout": 5}}),
            "spec",
        ),
        (
            json!({"name": "a", "spec": {"type": "carrier-pigeon"}}),
            "spec.type",
        ),
        (
            json!({"name": "a", "spec": {"type": "http", "url": "ftp://x/"}}),
            "spec.url",
        ),
        (
            json!({"name": "a", "spec": {"type": "http", "url": "http://x/"}, "thresholds": {"window": "two"}}),
            "thresholds.window",
        ),
        (
            json!({"name": "a", "spec": {"type": "http", "url": "http://x/"}, "schedule": {"interval": 30}}),
            "schedule.interval",
        ),
    ];
    for (body, field) in cases {
        let r = api.call(t.post_monitors().json(&body)).await;
        let e = r.error(422, "validation_failed");
        assert_eq!(e["field"], field, "{body}");
    }
    let r = api
        .call(
            Call::post(&t.path("/members"))
                .bearer(&t.owner_token)
                .json(&json!({"email": "x@example.com", "role": "emperor"})),
        )
        .await;
    assert_eq!(r.error(422, "validation_failed")["field"], "role");
    let r = api
        .call(Call::get(&t.path("/notifications?limit=lots")).bearer(&t.viewer_token))
        .await;
    assert_eq!(r.error(422, "validation_failed")["field"], "limit");
}

async fn oversized_bodies_are_413(store: &Store) {
    let mut config = Config::default();
    config.http.max_body_bytes = 2048;
    let api = Api::new(store, config);
    let t = tenant(store, "acme").await;
    let mut body = http_monitor("api", "http://127.0.0.1:9/");
    body["name"] = json!("x".repeat(4096));
    let r = api.call(t.post_monitors().json(&body)).await;
    r.error(413, "payload_too_large");
    // Also without a declared length (a streamed body is cut at the limit).
    let big = vec![b' '; 10_000];
    let r = api
        .call(
            Call::post(&t.path("/channels"))
                .bearer(&t.member_token)
                .raw(Some("application/json"), big),
        )
        .await;
    r.error(413, "payload_too_large");
    let r = api
        .call(Call::post("/auth/login").raw(Some("application/json"), vec![b'{'; 5000]))
        .await;
    r.error(413, "payload_too_large");
}

async fn wrong_content_types_are_415(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let body = serde_json::to_vec(&http_monitor("api", "http://127.0.0.1:9/")).unwrap();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let r = api.call(t.post_monitors().raw(ct, body.clone())).await;
        r.error(415, "unsupported_media_type");
    }
    // `application/json` with parameters, and `+json` types, are JSON.
    let r = api
        .call(
            t.post_monitors()
                .raw(Some("application/json; charset=utf-8"), body),
        )
        .await;
    r.ok(201);
}

async fn unknown_routes_and_methods_get_the_error_shape(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let r = api
        .call(Call::get(&t.path("/gadgets")).bearer(&t.viewer_token))
        .await;
    r.error(404, "not_found");
    let r = api.call(Call::get("/nothing/here")).await;
    r.error(404, "not_found");
    let r = api
        .call(Call::new(Method::PATCH, &t.path("/monitors")).bearer(&t.owner_token))
        .await;
    r.error(405, "method_not_allowed");
    let r = api.call(Call::delete("/me")).await;
    r.error(405, "method_not_allowed");
    // An id that names nothing.
    let r = api
        .call(Call::get(&t.path("/monitors/abc")).bearer(&t.viewer_token))
        .await;
    r.error(404, "not_found");
    let r = api
        .call(Call::get(&t.path("/monitors/999999")).bearer(&t.viewer_token))
        .await;
    r.error(404, "not_found");
}

both!(
    malformed_json_is_400_invalid_json,
    unknown_fields_are_422_unknown_field_with_the_field,
    wrong_types_are_422_validation_failed_with_the_field,
    oversized_bodies_are_413,
    wrong_content_types_are_415,
    unknown_routes_and_methods_get_the_error_shape,
);
