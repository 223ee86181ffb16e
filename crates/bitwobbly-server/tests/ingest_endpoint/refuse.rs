//! Missing, malformed, unknown, disabled and foreign keys, and bad project ids.

use bitwobbly_store::prelude::*;

use crate::harness::{Backend, both};
use crate::setup::{
    EVENT_ID, Env, assert_accepted, assert_refused, error_envelope, new_project, x_sentry_auth,
};

both!(
    bad_auth_is_refused_with_the_right_status,
    other_projects_and_workspaces_are_refused,
    disabled_keys_are_refused_and_reenabled_keys_work,
);

/// URL, headers, body, expected status and error code.
type Case = (
    String,
    Vec<(&'static str, String)>,
    Vec<u8>,
    u16,
    &'static str,
);

async fn bad_auth_is_refused_with_the_right_status(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let body = error_envelope(EVENT_ID);
    let post = |url: String, headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let mut req = env.http.post(url).body(body);
        for (n, v) in headers {
            req = req.header(n, v);
        }
        req.send()
    };
    let url = env.url("envelope");
    let cases: Vec<Case> = vec![
        (url.clone(), vec![], body.clone(), 401, "missing_auth"),
        (
            url.clone(),
            vec![("x-sentry-auth", "Sentry sentry_version=7".to_owned())],
            body.clone(),
            401,
            "invalid_auth",
        ),
        (
            url.clone(),
            vec![("x-sentry-auth", "Sentry sentry_key=has spaces!".to_owned())],
            body.clone(),
            401,
            "invalid_auth",
        ),
        (
            url.clone(),
            vec![("x-sentry-auth", x_sentry_auth("0123456789abcdef0123456789abcdef"))],
            body.clone(),
            403,
            "unknown_key",
        ),
        (
            url.clone(),
            vec![(
                "x-sentry-auth",
                format!("Sentry sentry_key={}, sentry_version=8", env.key.public_key),
            )],
            body.clone(),
            400,
            "unsupported_version",
        ),
        (
            format!("{url}?sentry_key=ffffffffffffffffffffffffffffffff"),
            vec![("x-sentry-auth", env.auth())],
            body.clone(),
            401,
            "invalid_auth",
        ),
        (
            env.server.url("/api/not-a-number/envelope/"),
            vec![("x-sentry-auth", env.auth())],
            body.clone(),
            400,
            "invalid_project",
        ),
        (
            env.server.url("/api/99999999999999999999/envelope/"),
            vec![("x-sentry-auth", env.auth())],
            body.clone(),
            400,
            "invalid_project",
        ),
        // The envelope's dsn must agree with the request's key.
        (
            url.clone(),
            vec![("x-sentry-auth", env.auth())],
            format!(
                "{{\"dsn\":\"http://0123456789abcdef0123456789abcdef@h/{}\"}}\n{{\"type\":\"event\"}}\n{{}}",
                env.project.id.0
            )
            .into_bytes(),
            400,
            "dsn_mismatch",
        ),
        // A tunnel envelope without a dsn, or with a broken one.
        (
            url.clone(),
            vec![],
            b"{}\n{\"type\":\"event\"}\n{}".to_vec(),
            401,
            "missing_auth",
        ),
        (
            url.clone(),
            vec![],
            b"{\"dsn\":\"not a dsn\"}\n{\"type\":\"event\"}\n{}".to_vec(),
            401,
            "invalid_auth",
        ),
        // /store/ has no envelope header to fall back on.
        (env.url("store"), vec![], b"{}".to_vec(), 401, "missing_auth"),
        (
            env.url("store"),
            vec![("x-sentry-auth", env.auth())],
            b"{\"unterminated".to_vec(),
            400,
            "invalid_json",
        ),
    ];
    for (url, headers, body, status, code) in cases {
        let res = post(url.clone(), headers, body).await.expect("answered");
        assert_refused(res, status, code).await;
    }
    assert!(env.stored().await.is_empty());
    let metrics = env.server.state.metrics.render();
    assert!(
        metrics.contains(
            "bitwobbly_ingest_envelopes_total{outcome=\"rejected\",reason=\"unknown_key\"} 1"
        ),
        "{metrics}"
    );
    env.finish().await;
}

async fn other_projects_and_workspaces_are_refused(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let now = env.server.state.clock.now();
    // Another project of the same workspace, and another workspace's project.
    let (sibling, sibling_key) = new_project(env.store(), env.ws, "api", now).await;
    let other_ws = env
        .store()
        .global()
        .create_workspace("globex", "Globex", now)
        .await
        .unwrap()
        .id;
    let (foreign, foreign_key) = new_project(env.store(), other_ws, "web", now).await;
    let body = error_envelope(EVENT_ID);
    for (project, key) in [
        (sibling.id, &env.key.public_key),
        (env.project.id, &sibling_key.public_key),
        (foreign.id, &env.key.public_key),
        (env.project.id, &foreign_key.public_key),
    ] {
        let res = env
            .http
            .post(env.server.url(&format!("/api/{}/envelope/", project.0)))
            .header("x-sentry-auth", x_sentry_auth(key))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_refused(res, 403, "project_mismatch").await;
    }
    // A tunnel envelope naming another workspace's project in its dsn, posted to ours.
    let tunnel = format!(
        "{{\"dsn\":\"http://{}@h/{}\"}}\n{{\"type\":\"event\"}}\n{{}}",
        foreign_key.public_key, foreign.id.0
    );
    let res = env
        .http
        .post(env.url("envelope"))
        .body(tunnel)
        .send()
        .await
        .unwrap();
    assert_refused(res, 400, "dsn_mismatch").await;
    // Each key works for its own project, and lands in its own workspace.
    let res = env
        .http
        .post(env.server.url(&format!("/api/{}/envelope/", foreign.id.0)))
        .header("x-sentry-auth", x_sentry_auth(&foreign_key.public_key))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_accepted(res, Some(EVENT_ID)).await;
    assert!(env.stored().await.is_empty(), "nothing in our workspace");
    let theirs =
        crate::setup::stored_envelopes(env.store(), env.server.state.blobs.as_ref(), other_ws)
            .await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].0.manifest.project_id, foreign.id);
    env.finish().await;
}

async fn disabled_keys_are_refused_and_reenabled_keys_work(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let body = error_envelope(EVENT_ID);
    assert_accepted(env.post(body.clone()).await, Some(EVENT_ID)).await;
    env.store()
        .workspace(env.ws)
        .update_dsn_key(env.key.id, KeyStatus::Disabled, None)
        .await
        .unwrap();
    env.server.state.ingest.forget_key(&env.key.public_key);
    assert_refused(env.post(body.clone()).await, 403, "key_disabled").await;
    // Remembered as disabled: refused again without asking the database.
    assert_refused(env.post(body.clone()).await, 403, "key_disabled").await;
    env.store()
        .workspace(env.ws)
        .update_dsn_key(env.key.id, KeyStatus::Active, None)
        .await
        .unwrap();
    let n = env
        .server
        .state
        .ingest
        .refresh_keys(env.store())
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_accepted(env.post(body).await, Some(EVENT_ID)).await;
    assert_eq!(env.stored().await.len(), 2);
    env.finish().await;
}
