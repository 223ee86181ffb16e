//! Error-tracking projects: CRUD with validation, DSN keys (create, update, rotate, revoke)
//! with their DSN strings, and the transaction, release-health and cron views over rows
//! written through the store.

use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_server::config::Config;
use bitwobbly_store::prelude::*;
use serde_json::{Value, json};

use crate::harness::{Api, Call, Tenant, both, tenant};

/// Creates a project `name` in `t`'s workspace as an admin; its JSON.
pub(crate) async fn create_project(api: &Api, t: &Tenant, name: &str) -> Value {
    api.call(
        Call::post(&t.path("/projects"))
            .bearer(&t.admin_token)
            .json(&json!({"name": name, "platform": "python"})),
    )
    .await
    .ok(201)
}

/// One of each ingest resource in a workspace, for the route table's checks (routes.rs).
pub(crate) struct IngestFixture {
    pub(crate) project: i64,
    pub(crate) key: i64,
    pub(crate) issue: i64,
    pub(crate) event_id: String,
    pub(crate) attachment: i64,
    pub(crate) slug: String,
}

/// The cron slug of [`ingest_fixture`].
const CRON_SLUG: &str = "nightly-report";

/// A project with a key, an issue with an event whose payload is in an inline envelope, an
/// attachment (in the API's blob store), a transaction and a cron check-in.
pub(crate) async fn ingest_fixture(store: &Store, api: &Api, t: &Tenant) -> IngestFixture {
    let now = Clock.now();
    let p = create_project(api, t, "fixture").await;
    let project = ProjectId(p["id"].as_i64().expect("project id"));
    let key = p["keys"][0]["id"].as_i64().expect("key id");
    let event_id = "00112233445566778899aabbccddeeff".to_owned();
    let payload = format!(r#"{{"event_id":"{event_id}","message":"hello","level":"error"}}"#);
    let header = format!("{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n");
    let raw = format!("{header}{payload}\n");
    let manifest = NewEnvelope {
        project_id: project,
        event_id: Some(event_id.clone()),
        received_at: now,
        size: raw.len() as i64,
        blob_key: String::new(),
        item_types: vec!["event".into()],
    };
    let envelope = store
        .global()
        .record_envelopes(&[DurableEnvelope::inline(t.ws.id, manifest, raw.as_bytes()).unwrap()])
        .await
        .expect("envelope")[0];
    let mut scope = store.workspace(t.ws.id);
    let issue = scope
        .record_sighting(&IssueSighting {
            project_id: project,
            fingerprint: "fixture".into(),
            title: "hello".into(),
            culprit: None,
            level: "error".into(),
            seen_at: now,
            first_seen: now,
            events: 1,
            new_users: 0,
            release: None,
            environment: None,
            grouping_version: None,
        })
        .await
        .expect("issue")
        .issue;
    scope
        .insert_event(&NewEvent {
            project_id: project,
            event_id: event_id.clone(),
            issue_id: Some(issue.id),
            level: "error".into(),
            timestamp: now,
            release: None,
            environment: None,
            title: "hello".into(),
            culprit: None,
            tags: Vec::new(),
            blob_key: None,
            payload: Some(PayloadRef {
                envelope_id: envelope,
                offset: header.len() as i64,
                len: payload.len() as i64,
            }),
        })
        .await
        .expect("event")
        .expect("new event");
    let blob_key = format!("attachments/{}/{event_id}/a", project.0);
    api.state()
        .blobs
        .put(&blob_key, bytes::Bytes::from_static(b"\x00\xffbytes"))
        .await
        .expect("blob");
    let attachment = scope
        .insert_attachment(
            &NewAttachment {
                project_id: project,
                event_id: event_id.clone(),
                name: "a.bin".into(),
                content_type: None,
                size: 7,
                blob_key,
                attachment_type: None,
            },
            now,
        )
        .await
        .expect("attachment");
    scope
        .insert_transactions(&[NewTransaction {
            project_id: project,
            event_id: "ffeeddccbbaa99887766554433221100".into(),
            name: "/checkout".into(),
            op: None,
            duration_us: 1000,
            status: None,
            timestamp: now,
            release: None,
            environment: None,
            trace_id: None,
        }])
        .await
        .expect("transaction");
    scope
        .insert_check_in(&NewCheckIn {
            project_id: project,
            check_in_id: "0".repeat(32),
            monitor_slug: CRON_SLUG.into(),
            status: CheckInStatus::Ok,
            duration_ms: None,
            environment: None,
            received_at: now,
            release: None,
            monitor_id: None,
        })
        .await
        .expect("check-in");
    IngestFixture {
        project: project.0,
        key,
        issue: issue.id.0,
        event_id,
        attachment: attachment.id.0,
        slug: CRON_SLUG.into(),
    }
}

impl IngestFixture {
    /// `path` with the fixture's ids in the ingest routes' parameters (`{id}` of
    /// `/projects/{id}` too), and the query a route cannot do without.
    pub(crate) fn fill(&self, path: &str) -> String {
        let mut out = path
            .replace("/projects/{id}", &format!("/projects/{}", self.project))
            .replace("{key_id}", &self.key.to_string())
            .replace("{issue_id}", &self.issue.to_string())
            .replace("{event_id}", &self.event_id)
            .replace("{attachment_id}", &self.attachment.to_string())
            .replace("{slug}", &self.slug);
        if out.ends_with("/transactions/series") {
            out.push_str("?name=%2Fcheckout");
        }
        out
    }

    /// A valid body for each ingest write (`t` is the template after the workspace).
    pub(crate) fn body(&self, method: &str, t: &str) -> Option<Value> {
        Some(match (method, t) {
            ("POST", "/projects") => json!({"name": "another"}),
            ("PATCH", "/projects/{id}") => json!({"name": "renamed"}),
            ("POST", "/projects/{id}/keys") => json!({"label": "more"}),
            ("PATCH", "/projects/{id}/keys/{key_id}") => json!({"rate_limit_per_minute": 5}),
            ("POST", "/projects/{id}/issues/resolve")
            | ("POST", "/projects/{id}/issues/ignore")
            | ("POST", "/projects/{id}/issues/unresolve") => json!({"ids": [self.issue]}),
            _ => return None,
        })
    }
}

/// Everything ingest keeps for workspace `ws`, as text, for "changes nothing" checks.
pub(crate) async fn ingest_snapshot(store: &Store, ws: WorkspaceId) -> String {
    let mut s = store.workspace(ws);
    let mut out = String::new();
    for p in s.projects().await.expect("projects") {
        out += &format!("{p:?}\n");
        out += &format!("{:?}\n", s.dsn_keys(p.id).await.expect("keys"));
        out += &format!("{:?}\n", s.project_channels(p.id).await.expect("channels"));
        out += &format!(
            "{:?}\n",
            s.project_processing(p.id).await.expect("settings")
        );
        let issues = s
            .search_issues(&IssueFilter::new(p.id, 1000))
            .await
            .expect("issues");
        out += &format!("{:?}\n", issues.items);
    }
    out
}

fn public_config() -> Config {
    let mut config = Config::default();
    config.public_url = Some("https://errors.example.com/bw/".into());
    config
}

async fn projects_are_created_with_a_dsn_listed_changed_and_deleted(store: &Store) {
    let api = Api::new(store, public_config());
    let t = tenant(store, "acme").await;
    let p = create_project(&api, &t, "Web Shop").await;
    assert_eq!(p["slug"], "web-shop");
    assert_eq!(p["platform"], "python");
    let id = p["id"].as_i64().unwrap();
    let keys = p["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["label"], "Default");
    assert_eq!(keys[0]["enabled"], true);
    let public_key = keys[0]["public_key"].as_str().unwrap();
    let dsn = p["dsn"].as_str().unwrap();
    assert_eq!(
        dsn,
        format!("https://{public_key}@errors.example.com/bw/{id}")
    );
    // An SDK reads it back to the same key, host and project.
    let parsed: bitwobbly_envelope::Dsn = dsn.parse().unwrap();
    assert_eq!(parsed.public_key().as_str(), public_key);
    assert_eq!(parsed.project_id(), id as u64);
    assert_eq!(
        parsed.envelope_url(),
        format!("https://errors.example.com/bw/api/{id}/envelope/")
    );
    // The key authenticates ingest.
    let found = store
        .global()
        .dsn_key_by_public_key(public_key)
        .await
        .unwrap()
        .expect("the key is stored");
    assert_eq!(found.project_id.0, id);

    let list = api
        .call(Call::get(&t.path("/projects")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["dsn"], dsn);

    // Changes, with channels and settings.
    let channel = api
        .call(
            Call::post(&t.path("/channels"))
                .bearer(&t.admin_token)
                .json(&json!({"name": "hook", "kind": "webhook",
                    "config": {"url": "http://127.0.0.1:9/hook"}})),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let path = t.path(&format!("/projects/{id}"));
    let changed = api
        .call(Call::patch(&path).bearer(&t.admin_token).json(&json!({
            "name": " Shop ", "platform": null, "channel_ids": [channel, channel],
            "settings": {"event_retention_days": 30, "alert_frequency_count": 0}
        })))
        .await
        .ok(200);
    assert_eq!(changed["name"], "Shop");
    assert!(changed["platform"].is_null());
    assert_eq!(changed["slug"], "web-shop");
    assert_eq!(changed["channel_ids"], json!([channel]));
    assert_eq!(changed["settings"]["event_retention_days"], 30);
    assert_eq!(changed["settings"]["alert_frequency_count"], 0);
    assert!(changed["settings"]["envelope_retention_days"].is_null());
    // An absent field stays as it was.
    let same = api
        .call(
            Call::patch(&path)
                .bearer(&t.admin_token)
                .json(&json!({"platform": "node"})),
        )
        .await
        .ok(200);
    assert_eq!(
        (same["name"].as_str(), same["platform"].as_str()),
        (Some("Shop"), Some("node"))
    );
    assert_eq!(same["channel_ids"], json!([channel]));
    assert_eq!(
        store
            .workspace(t.ws.id)
            .project_channels(ProjectId(id))
            .await
            .unwrap(),
        vec![ChannelId(channel)]
    );

    // Deleted with its keys: ingest no longer knows the key.
    let r = api.call(Call::delete(&path).bearer(&t.admin_token)).await;
    assert_eq!(r.status.as_u16(), 204);
    api.call(Call::get(&path).bearer(&t.viewer_token))
        .await
        .error(404, "not_found");
    assert!(
        store
            .global()
            .dsn_key_by_public_key(public_key)
            .await
            .unwrap()
            .is_none()
    );
    api.call(Call::delete(&path).bearer(&t.admin_token))
        .await
        .error(404, "not_found");
}

async fn project_input_is_validated_field_by_field(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let other = tenant(store, "bravo").await;
    let foreign_channel = store
        .workspace(other.ws.id)
        .create_channel(
            &NewChannel {
                key: None,
                name: "theirs".into(),
                kind: ChannelKind::Webhook,
                config: json!({"url": "http://127.0.0.1:9/hook"}),
                enabled: true,
            },
            Clock.now(),
        )
        .await
        .unwrap();
    let post = |body: Value| {
        Call::post(&t.path("/projects"))
            .bearer(&t.admin_token)
            .json(&body)
    };
    for (body, code, field) in [
        (json!({"name": "  "}), "validation_failed", "name"),
        (
            json!({"name": "x".repeat(201)}),
            "validation_failed",
            "name",
        ),
        (
            json!({"name": "a", "slug": "Bad Slug"}),
            "validation_failed",
            "slug",
        ),
        (
            json!({"name": "a", "slug": "-x"}),
            "validation_failed",
            "slug",
        ),
        (
            json!({"name": "a", "platform": "Py thon"}),
            "validation_failed",
            "platform",
        ),
        (
            json!({"name": "a", "platform": "x".repeat(65)}),
            "validation_failed",
            "platform",
        ),
        (json!({"name": "a", "bogus": 1}), "unknown_field", "bogus"),
        (json!({"name": 5}), "validation_failed", "name"),
        (
            json!({"name": "a", "channel_ids": [foreign_channel.id.0]}),
            "validation_failed",
            "channel_ids[0]",
        ),
        (
            json!({"name": "a", "settings": {"event_retention_days": 0}}),
            "validation_failed",
            "settings.event_retention_days",
        ),
        (
            json!({"name": "a", "settings": {"alert_frequency_minutes": 99999}}),
            "validation_failed",
            "settings.alert_frequency_minutes",
        ),
        (
            json!({"name": "a", "settings": {"retention": 1}}),
            "unknown_field",
            "settings.retention",
        ),
    ] {
        let e = api.call(post(body.clone())).await.error(422, code);
        assert_eq!(e["field"], field, "{body}");
    }
    // Hostile bodies.
    api.call(
        Call::post(&t.path("/projects"))
            .bearer(&t.admin_token)
            .raw(Some("application/json"), "{\"name\": "),
    )
    .await
    .error(400, "invalid_json");
    // Deep nesting: refused as the wrong shape at once, or past serde's recursion limit.
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    api.call(
        Call::post(&t.path("/projects"))
            .bearer(&t.admin_token)
            .raw(Some("application/json"), nested),
    )
    .await
    .error(422, "validation_failed");
    let nested = format!(
        r#"{{"name": "a", "settings": {}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    api.call(
        Call::post(&t.path("/projects"))
            .bearer(&t.admin_token)
            .raw(Some("application/json"), nested),
    )
    .await
    .error(422, "validation_failed");
    let huge = json!({"name": "x".repeat(2 * 1024 * 1024)});
    api.call(post(huge)).await.error(413, "payload_too_large");
    // Nothing was created by any of that.
    assert!(
        store
            .workspace(t.ws.id)
            .projects()
            .await
            .unwrap()
            .is_empty()
    );

    api.call(post(json!({"name": "Shop"}))).await.ok(201);
    let e = api
        .call(post(json!({"name": "Other", "slug": "shop"})))
        .await
        .error(409, "conflict");
    assert_eq!(e["field"], "slug");
    // The same slug is fine in another workspace.
    api.call(
        Call::post(&other.path("/projects"))
            .bearer(&other.admin_token)
            .json(&json!({"name": "Shop"})),
    )
    .await
    .ok(201);
    // Members manage issues, not projects.
    api.call(
        Call::post(&t.path("/projects"))
            .bearer(&t.member_token)
            .json(&json!({"name": "Nope"})),
    )
    .await
    .error(403, "forbidden");
}

/// Posts a small event envelope with `public_key` to the full server router over `api`'s
/// state; the HTTP status.
async fn ingest_status(api: &Api, project: i64, public_key: &str) -> u16 {
    use tower::ServiceExt as _;
    let app = bitwobbly_server::server::router(api.state().clone());
    let body = "{}\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n";
    let req = axum::http::Request::post(format!("/api/{project}/envelope/"))
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_version=7, sentry_key={public_key}"),
        )
        .header("host", "127.0.0.1:8080")
        .body(axum::body::Body::from(body))
        .expect("request");
    app.oneshot(req)
        .await
        .expect("infallible")
        .status()
        .as_u16()
}

async fn keys_are_added_limited_disabled_rotated_and_revoked(store: &Store) {
    let api = Api::default_config(store);
    // Ingest's committer (and worker), so that envelopes are answered.
    let tasks = tokio_util::task::TaskTracker::new();
    bitwobbly_server::ingest::spawn_tasks(api.state(), &tasks);
    let t = tenant(store, "acme").await;
    let p = create_project(&api, &t, "shop").await;
    let id = p["id"].as_i64().unwrap();
    let keys_path = t.path(&format!("/projects/{id}/keys"));
    let made = api
        .call(
            Call::post(&keys_path)
                .bearer(&t.admin_token)
                .json(&json!({"label": "browser", "rate_limit_per_minute": 600})),
        )
        .await
        .ok(201);
    assert_eq!(made["rate_limit_per_minute"], 600);
    assert!(made["dsn"].as_str().unwrap().starts_with("http://"));
    let key_id = made["id"].as_i64().unwrap();
    let old_public = made["public_key"].as_str().unwrap().to_owned();
    assert_eq!(old_public.len(), 32);
    for (body, field, code) in [
        (
            json!({"rate_limit_per_minute": 0}),
            "rate_limit_per_minute",
            "validation_failed",
        ),
        (
            json!({"rate_limit_per_minute": -5}),
            "rate_limit_per_minute",
            "validation_failed",
        ),
        (
            json!({"rate_limit_per_minute": 2_000_000}),
            "rate_limit_per_minute",
            "validation_failed",
        ),
        (json!({"label": ""}), "label", "validation_failed"),
        (json!({"secret": "x"}), "secret", "unknown_field"),
    ] {
        let e = api
            .call(Call::post(&keys_path).bearer(&t.admin_token).json(&body))
            .await
            .error(422, code);
        assert_eq!(e["field"], field, "{body}");
    }

    assert_eq!(ingest_status(&api, id, &old_public).await, 200);
    let key_path = format!("{keys_path}/{key_id}");
    let changed = api
        .call(
            Call::patch(&key_path)
                .bearer(&t.admin_token)
                .json(&json!({"rate_limit_per_minute": null, "enabled": false})),
        )
        .await
        .ok(200);
    assert!(changed["rate_limit_per_minute"].is_null());
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["label"], "browser");
    let stored = store
        .global()
        .dsn_key_by_public_key(&old_public)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, KeyStatus::Disabled);
    // Ingest refuses it at once (no wait for the key cache's refresh).
    assert!(
        matches!(ingest_status(&api, id, &old_public).await, 401 | 403),
        "a disabled key is refused"
    );
    api.call(
        Call::patch(&key_path)
            .bearer(&t.admin_token)
            .json(&json!({"enabled": true, "label": "web"})),
    )
    .await
    .ok(200);
    assert_eq!(ingest_status(&api, id, &old_public).await, 200);

    // Rotation: a new key with the same settings; the old one is disabled at once.
    let rotated = api
        .call(Call::post(&format!("{key_path}/rotate")).bearer(&t.admin_token))
        .await
        .ok(201);
    let new_public = rotated["public_key"].as_str().unwrap();
    assert_ne!(new_public, old_public);
    assert_eq!(rotated["label"], "web");
    assert_eq!(rotated["enabled"], true);
    let old = store
        .global()
        .dsn_key_by_public_key(&old_public)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, KeyStatus::Disabled);
    assert!(matches!(
        ingest_status(&api, id, &old_public).await,
        401 | 403
    ));
    assert_eq!(ingest_status(&api, id, new_public).await, 200);
    let listed = api
        .call(Call::get(&keys_path).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(listed.as_array().unwrap().len(), 3);

    // Revocation deletes the key.
    let r = api
        .call(Call::delete(&key_path).bearer(&t.admin_token))
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert!(
        store
            .global()
            .dsn_key_by_public_key(&old_public)
            .await
            .unwrap()
            .is_none()
    );
    api.call(Call::delete(&key_path).bearer(&t.admin_token))
        .await
        .error(404, "not_found");
    // Revoking the new key takes effect at once too.
    let new_id = rotated["id"].as_i64().unwrap();
    let new_public = new_public.to_owned();
    let r = api
        .call(Call::delete(&format!("{keys_path}/{new_id}")).bearer(&t.admin_token))
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert!(matches!(
        ingest_status(&api, id, &new_public).await,
        401 | 403
    ));

    // A key of another project is not reachable through this one.
    let q = create_project(&api, &t, "other").await;
    let their_key = q["keys"][0]["id"].as_i64().unwrap();
    api.call(
        Call::patch(&format!("{keys_path}/{their_key}"))
            .bearer(&t.admin_token)
            .json(&json!({"enabled": false})),
    )
    .await
    .error(404, "not_found");
    api.call(Call::post(&format!("{keys_path}/{their_key}/rotate")).bearer(&t.admin_token))
        .await
        .error(404, "not_found");
    api.call(Call::delete(&format!("{keys_path}/{their_key}")).bearer(&t.admin_token))
        .await
        .error(404, "not_found");
    api.state().shutdown.cancel();
    tasks.close();
    tasks.wait().await;
}

async fn another_workspaces_project_ids_are_not_found(store: &Store) {
    let api = Api::default_config(store);
    let a = tenant(store, "acme").await;
    let b = tenant(store, "bravo").await;
    let theirs = create_project(&api, &a, "shop").await["id"]
        .as_i64()
        .unwrap();
    let key = create_project(&api, &a, "two").await["keys"][0]["id"]
        .as_i64()
        .unwrap();
    // B asks in its own workspace for A's ids.
    for call in [
        Call::get(&b.path(&format!("/projects/{theirs}"))),
        Call::get(&b.path(&format!("/projects/{theirs}/keys"))),
        Call::get(&b.path(&format!("/projects/{theirs}/issues"))),
        Call::get(&b.path(&format!("/projects/{theirs}/transactions"))),
        Call::get(&b.path(&format!("/projects/{theirs}/releases"))),
        Call::get(&b.path(&format!("/projects/{theirs}/crons"))),
        Call::delete(&b.path(&format!("/projects/{theirs}"))),
        Call::post(&b.path(&format!("/projects/{theirs}/keys/{key}/rotate"))),
        Call::delete(&b.path(&format!("/projects/{theirs}/keys/{key}"))),
    ] {
        api.call(call.bearer(&b.owner_token))
            .await
            .error(404, "not_found");
    }
    assert_eq!(store.workspace(a.ws.id).projects().await.unwrap().len(), 2);
}

async fn transactions_have_counts_error_rates_and_percentiles(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let id = create_project(&api, &t, "shop").await["id"]
        .as_i64()
        .unwrap();
    let now = Clock.now();
    let mut batch = Vec::new();
    // /checkout: 100 transactions of 1..=100 ms, 10 failed; /home: 3 ok; one old /home.
    for i in 1..=100_i64 {
        batch.push(NewTransaction {
            project_id: ProjectId(id),
            event_id: format!("{i:032x}"),
            name: "/checkout".into(),
            op: Some("http.server".into()),
            duration_us: i * 1000,
            status: Some(if i % 10 == 0 { "internal_error" } else { "ok" }.into()),
            timestamp: now.minus(Duration::from_secs(60 * (i as u64 % 50))),
            release: None,
            environment: None,
            trace_id: None,
        });
    }
    for i in 0..3_i64 {
        batch.push(NewTransaction {
            project_id: ProjectId(id),
            event_id: format!("{:032x}", 1000 + i),
            name: "/home".into(),
            op: None,
            duration_us: 5000,
            status: None,
            timestamp: now.minus(Duration::from_secs(10)),
            release: None,
            environment: None,
            trace_id: None,
        });
    }
    batch.push(NewTransaction {
        project_id: ProjectId(id),
        event_id: format!("{:032x}", 2000),
        name: "/home".into(),
        op: None,
        duration_us: 1,
        status: Some("aborted".into()),
        timestamp: now.minus(Duration::from_secs(3 * 86_400)),
        release: None,
        environment: None,
        trace_id: None,
    });
    store
        .workspace(t.ws.id)
        .insert_transactions(&batch)
        .await
        .unwrap();
    let path = t.path(&format!("/projects/{id}/transactions"));
    let body = api
        .call(Call::get(&path).bearer(&t.viewer_token))
        .await
        .ok(200);
    let list = body["transactions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{body}");
    let checkout = &list[0];
    assert_eq!(checkout["name"], "/checkout");
    assert_eq!(checkout["count"], 100);
    assert_eq!(checkout["failures"], 10);
    assert_eq!(checkout["error_rate"], 0.1);
    let near = |v: &Value, want: f64| {
        let got = v.as_f64().unwrap();
        assert!((got - want).abs() <= want * 0.03, "{got} vs {want}");
    };
    near(&checkout["p50_ms"], 50.0);
    near(&checkout["p95_ms"], 95.0);
    near(&checkout["p99_ms"], 99.0);
    near(&checkout["mean_ms"], 50.5);
    assert_eq!(list[1]["name"], "/home");
    assert_eq!(list[1]["count"], 3);
    assert_eq!(list[1]["error_rate"], 0.0);
    // A week covers the old one.
    let week = api
        .call(Call::get(&format!("{path}?period=7d")).bearer(&t.viewer_token))
        .await
        .ok(200);
    let home = week["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "/home")
        .unwrap()
        .clone();
    assert_eq!(
        (home["count"].as_u64(), home["failures"].as_u64()),
        (Some(4), Some(1))
    );

    // A series of one name, hour buckets.
    let series = api
        .call(
            Call::get(&format!(
                "{path}/series?name=%2Fcheckout&period=2h&interval=1h"
            ))
            .bearer(&t.viewer_token),
        )
        .await
        .ok(200);
    assert_eq!(series["interval_secs"], 3600);
    let buckets = series["buckets"].as_array().unwrap();
    assert!((2..=3).contains(&buckets.len()), "{series}");
    let total: u64 = buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 100);

    for (query, field) in [
        ("?period=soon", "period"),
        ("?period=0s", "period"),
        ("?from=yesterday", "from"),
        ("?from=2000&to=1000", "from"),
        ("?from=1000&period=1h", "period"),
        ("?window=1h", "window"),
    ] {
        let e = api
            .call(Call::get(&format!("{path}{query}")).bearer(&t.viewer_token))
            .await;
        let code = if field == "window" {
            "unknown_field"
        } else {
            "validation_failed"
        };
        assert_eq!(e.error(422, code)["field"], field, "{query}");
    }
    for (query, field) in [
        ("?period=1h", "name"),
        ("?name=%2Fcheckout&interval=1s", "interval"),
        ("?name=%2Fcheckout&period=30d&interval=1m", "interval"),
        ("?name=%2Fcheckout&interval=often", "interval"),
        ("?name=", "name"),
    ] {
        let r = api
            .call(Call::get(&format!("{path}/series{query}")).bearer(&t.viewer_token))
            .await;
        let e = r.json();
        assert_eq!(r.status.as_u16(), 422, "{query}: {e}");
        if field != "name" || query != "?period=1h" {
            assert_eq!(e["error"]["field"], field, "{query}");
        }
    }
}

async fn releases_show_crash_free_sessions_and_users(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let id = create_project(&api, &t, "app").await["id"]
        .as_i64()
        .unwrap();
    let now = Clock.now();
    let hour = now.floor_hour();
    let mut scope = store.workspace(t.ws.id);
    for (release, env, started, crashed, errored, at) in [
        ("app@1.0", "production", 150, 3, 5, hour),
        (
            "app@1.0",
            "production",
            50,
            1,
            0,
            hour.minus(Duration::from_secs(3600)),
        ),
        ("app@1.0", "staging", 10, 0, 0, hour),
        ("app@2.0", "production", 4, 0, 1, hour),
    ] {
        scope
            .add_session_counts(&SessionCounts {
                project_id: ProjectId(id),
                release: release.into(),
                environment: env.into(),
                bucket_start: at,
                started,
                exited: started - crashed - errored,
                errored,
                crashed,
                abnormal: 0,
            })
            .await
            .unwrap();
    }
    let users: Vec<SessionUser> = (0..10)
        .map(|i| SessionUser {
            project_id: ProjectId(id),
            release: "app@1.0".into(),
            environment: "production".into(),
            bucket_start: hour,
            user_hash: i,
            worst: if i < 2 { 3 } else { 0 },
        })
        .collect();
    scope.add_session_users(&users).await.unwrap();
    let list = api
        .call(Call::get(&t.path(&format!("/projects/{id}/releases"))).bearer(&t.viewer_token))
        .await
        .ok(200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let prod = list
        .iter()
        .find(|r| r["release"] == "app@1.0" && r["environment"] == "production")
        .unwrap();
    assert_eq!(prod["sessions"], 200);
    assert_eq!(prod["crashed"], 4);
    assert_eq!(prod["crash_free_sessions_percent"], 98.0);
    assert_eq!(prod["users"], 10);
    assert_eq!(prod["crashed_users"], 2);
    assert_eq!(prod["crash_free_users_percent"], 80.0);
    let staging = list.iter().find(|r| r["environment"] == "staging").unwrap();
    assert_eq!(staging["crash_free_sessions_percent"], 100.0);
    assert!(staging["crash_free_users_percent"].is_null());
    // An hour-long window ending before the data has nothing.
    let old = api
        .call(
            Call::get(&t.path(&format!("/projects/{id}/releases?from=0&to=3600000")))
                .bearer(&t.viewer_token),
        )
        .await
        .ok(200);
    assert_eq!(old, json!([]));
}

async fn crons_list_their_latest_check_in_and_history(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let id = create_project(&api, &t, "jobs").await["id"]
        .as_i64()
        .unwrap();
    let now = Clock.now();
    let mut scope = store.workspace(t.ws.id);
    for (i, (slug, status)) in [
        ("nightly", CheckInStatus::InProgress),
        ("nightly", CheckInStatus::Ok),
        ("hourly", CheckInStatus::Error),
    ]
    .into_iter()
    .enumerate()
    {
        scope
            .insert_check_in(&NewCheckIn {
                project_id: ProjectId(id),
                check_in_id: format!("{i:032x}"),
                monitor_slug: slug.into(),
                status,
                duration_ms: (status == CheckInStatus::Ok).then_some(1500),
                environment: Some("production".into()),
                received_at: now.plus(Duration::from_secs(i as u64)),
                release: None,
                monitor_id: None,
            })
            .await
            .unwrap();
    }
    let crons = api
        .call(Call::get(&t.path(&format!("/projects/{id}/crons"))).bearer(&t.viewer_token))
        .await
        .ok(200);
    let crons = crons.as_array().unwrap();
    assert_eq!(crons.len(), 2);
    assert_eq!(crons[0]["slug"], "hourly");
    assert_eq!(crons[0]["last_status"], "error");
    assert_eq!(crons[1]["slug"], "nightly");
    assert_eq!(crons[1]["check_ins"], 2);
    assert_eq!(crons[1]["last_status"], "ok");
    assert!(crons[1]["monitor_id"].is_null());
    let history = api
        .call(
            Call::get(&t.path(&format!("/projects/{id}/crons/nightly/check-ins?limit=5")))
                .bearer(&t.viewer_token),
        )
        .await
        .ok(200);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["status"], "ok");
    assert_eq!(history[0]["duration_ms"], 1500);
    assert_eq!(history[1]["status"], "in_progress");
    api.call(
        Call::get(&t.path(&format!("/projects/{id}/crons/weekly/check-ins")))
            .bearer(&t.viewer_token),
    )
    .await
    .error(404, "not_found");
    let e = api
        .call(
            Call::get(&t.path(&format!("/projects/{id}/crons/nightly/check-ins?limit=0")))
                .bearer(&t.viewer_token),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "limit");
}

both!(
    projects_are_created_with_a_dsn_listed_changed_and_deleted,
    project_input_is_validated_field_by_field,
    keys_are_added_limited_disabled_rotated_and_revoked,
    another_workspaces_project_ids_are_not_found,
    transactions_have_counts_error_rates_and_percentiles,
    releases_show_crash_free_sessions_and_users,
    crons_list_their_latest_check_in_and_history,
);
