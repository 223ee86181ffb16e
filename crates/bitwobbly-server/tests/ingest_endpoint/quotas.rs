//! Per-key and per-project quotas: 429 with `Retry-After` and `X-Sentry-Rate-Limits`, and
//! rate-limit headers only when limiting.

use bitwobbly_store::prelude::*;

use crate::harness::{Backend, both};
use crate::setup::{
    EVENT_ID, Env, assert_accepted, assert_refused, error_envelope, new_project, x_sentry_auth,
};

both!(
    key_quota_gives_429_with_sentry_headers,
    project_quota_covers_all_keys,
);

/// Asserts a 429 with integer `Retry-After` and a `X-Sentry-Rate-Limits` for `scope`.
async fn assert_limited(res: reqwest::Response, scope: &str) {
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("integer seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let limits = res.headers()["x-sentry-rate-limits"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(limits, format!("{retry}::{scope}:{scope}_quota"));
    assert_refused(res, 429, "rate_limited").await;
}

async fn key_quota_gives_429_with_sentry_headers(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    env.store()
        .workspace(env.ws)
        .update_dsn_key(env.key.id, KeyStatus::Active, Some(2))
        .await
        .unwrap();
    env.server.state.ingest.forget_key(&env.key.public_key);
    let body = error_envelope(EVENT_ID);
    assert_accepted(env.post(body.clone()).await, Some(EVENT_ID)).await;
    assert_accepted(env.post(body.clone()).await, Some(EVENT_ID)).await;
    assert_limited(env.post(body.clone()).await, "key").await;
    // Client reports never count and are never limited.
    let report = "{}\n{\"type\":\"client_report\"}\n{\"discarded_events\":[{\"reason\":\"ratelimit_backoff\",\"category\":\"error\",\"quantity\":1}]}\n";
    assert_accepted(env.post(report).await, None).await;
    // The tunnel path is limited the same way.
    let tunnel = format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"dsn\":\"{}\"}}\n{{\"type\":\"event\"}}\n{{}}",
        env.dsn()
    );
    let res = env
        .http
        .post(env.url("envelope"))
        .body(tunnel)
        .send()
        .await
        .unwrap();
    assert_limited(res, "key").await;
    assert_eq!(env.stored().await.len(), 3);
    env.finish().await;
}

async fn project_quota_covers_all_keys(backend: Backend) {
    let env = Env::start(backend, |c| {
        c.ingest.project_rate_limit_per_minute = Some(3)
    })
    .await;
    let second = env
        .store()
        .workspace(env.ws)
        .create_dsn_key(env.project.id, "second", None, env.server.state.clock.now())
        .await
        .unwrap();
    let body = error_envelope(EVENT_ID);
    let post = |key: String| {
        env.http
            .post(env.url("envelope"))
            .header("x-sentry-auth", x_sentry_auth(&key))
            .body(body.clone())
            .send()
    };
    for key in [&env.key.public_key, &second.public_key, &env.key.public_key] {
        assert_accepted(post(key.clone()).await.unwrap(), Some(EVENT_ID)).await;
    }
    assert_limited(post(second.public_key.clone()).await.unwrap(), "project").await;
    assert_limited(post(env.key.public_key.clone()).await.unwrap(), "project").await;
    // Another project has its own quota.
    let (other, other_key) =
        new_project(env.store(), env.ws, "other", env.server.state.clock.now()).await;
    let res = env
        .http
        .post(env.server.url(&format!("/api/{}/envelope/", other.id.0)))
        .header("x-sentry-auth", x_sentry_auth(&other_key.public_key))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_accepted(res, Some(EVENT_ID)).await;
    assert_eq!(env.stored().await.len(), 4);
    env.finish().await;
}
