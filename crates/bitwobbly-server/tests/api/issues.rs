//! Issues (filters, sorting, cursors, status changes one at a time and in bulk), event detail
//! with the raw payload, and attachments downloaded byte for byte, over rows and blobs written
//! through the store.

use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::harness::{Api, Call, Tenant, both, tenant};
use crate::projects::create_project;

/// A project with issues and events written through the store.
struct Shop {
    t: Tenant,
    project: ProjectId,
    /// Issue ids by name: `key` (KeyError, 5 events, production, 1.0), `value` (ValueError,
    /// 2 events, staging, 2.0), `timeout` (warning, 1 event, production, 2.0).
    key: i64,
    value: i64,
    timeout: i64,
}

// A fixture builder: each argument is one column of the row it writes.
#[allow(clippy::too_many_arguments)]
async fn sighting(
    store: &Store,
    t: &Tenant,
    project: ProjectId,
    fingerprint: &str,
    title: &str,
    culprit: &str,
    level: &str,
    at: Timestamp,
) -> Issue {
    store
        .workspace(t.ws.id)
        .record_sighting(&IssueSighting {
            project_id: project,
            fingerprint: fingerprint.into(),
            title: title.into(),
            culprit: Some(culprit.into()),
            level: level.into(),
            seen_at: at,
            first_seen: at,
            events: 1,
            new_users: 1,
            release: None,
            environment: None,
            grouping_version: None,
        })
        .await
        .expect("sighting")
        .issue
}

// A fixture builder: each argument is one column of the row it writes.
#[allow(clippy::too_many_arguments)]
async fn event(
    store: &Store,
    t: &Tenant,
    project: ProjectId,
    issue: &Issue,
    n: u32,
    release: &str,
    environment: &str,
    at: Timestamp,
) -> String {
    let event_id = format!("{:016x}{:016x}", issue.id.0, n);
    store
        .workspace(t.ws.id)
        .insert_event(&NewEvent {
            project_id: project,
            event_id: event_id.clone(),
            issue_id: Some(issue.id),
            level: issue.level.clone(),
            timestamp: at,
            release: Some(release.into()),
            environment: Some(environment.into()),
            title: issue.title.clone(),
            culprit: issue.culprit.clone(),
            tags: vec![("browser".into(), "Firefox".into())],
            blob_key: None,
            payload: None,
        })
        .await
        .expect("event")
        .expect("new event");
    event_id
}

async fn shop(store: &Store, api: &Api) -> Shop {
    let t = tenant(store, "acme").await;
    let project = ProjectId(
        create_project(api, &t, "shop").await["id"]
            .as_i64()
            .unwrap(),
    );
    let base = Clock.now().minus(Duration::from_secs(3600));
    let at = |m: u64| base.plus(Duration::from_secs(60 * m));
    // KeyError: first seen first, 5 events, last seen at minute 30.
    let mut key = None;
    for (i, m) in [0, 10, 20, 25, 30].into_iter().enumerate() {
        let issue = sighting(
            store,
            &t,
            project,
            "fp-key",
            "KeyError: 'user_id'",
            "app.views in checkout",
            "error",
            at(m),
        )
        .await;
        event(
            store,
            &t,
            project,
            &issue,
            i as u32,
            "shop@1.0",
            "production",
            at(m),
        )
        .await;
        key = Some(issue);
    }
    // ValueError 100%_off: 2 events, last seen at minute 50.
    let mut value = None;
    for (i, m) in [5, 50].into_iter().enumerate() {
        let issue = sighting(
            store,
            &t,
            project,
            "fp-value",
            "ValueError: 100%_off",
            "app.cart in apply",
            "error",
            at(m),
        )
        .await;
        event(
            store,
            &t,
            project,
            &issue,
            i as u32,
            "shop@2.0",
            "staging",
            at(m),
        )
        .await;
        value = Some(issue);
    }
    let timeout = sighting(
        store,
        &t,
        project,
        "fp-timeout",
        "Timeout talking to payments",
        "payments",
        "warning",
        at(40),
    )
    .await;
    event(
        store,
        &t,
        project,
        &timeout,
        0,
        "shop@2.0",
        "production",
        at(40),
    )
    .await;
    Shop {
        project,
        key: key.unwrap().id.0,
        value: value.unwrap().id.0,
        timeout: timeout.id.0,
        t,
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

async fn issues_are_filtered_sorted_and_paged(store: &Store) {
    let api = Api::default_config(store);
    let s = shop(store, &api).await;
    let list = |q: &str| {
        Call::get(&s.t.path(&format!("/projects/{}/issues{q}", s.project.0)))
            .bearer(&s.t.viewer_token)
    };
    let all = api.call(list("")).await.ok(200);
    assert_eq!(ids(&all), [s.value, s.timeout, s.key], "last seen first");
    assert!(all["next_cursor"].is_null());
    let key = &all["items"][2];
    assert_eq!(key["count"], 5);
    assert_eq!(key["status"], "unresolved");
    assert_eq!(key["title"], "KeyError: 'user_id'");
    assert_eq!(key["project_id"], s.project.0);

    for (q, want) in [
        ("?sort=count", vec![s.key, s.value, s.timeout]),
        ("?sort=first_seen", vec![s.timeout, s.value, s.key]),
        ("?level=warning", vec![s.timeout]),
        ("?environment=production", vec![s.timeout, s.key]),
        ("?environment=staging", vec![s.value]),
        ("?release=shop%401.0", vec![s.key]),
        (
            "?release=shop%402.0&environment=production",
            vec![s.timeout],
        ),
        ("?query=keyerror", vec![s.key]),
        ("?query=CHECKOUT", vec![s.key]),
        // LIKE wildcards are literal text.
        ("?query=100%25_off", vec![s.value]),
        ("?query=%25", vec![s.value]),
        ("?query=_", vec![s.value, s.key]),
        ("?status=resolved", vec![]),
        (
            "?status=unresolved&sort=count",
            vec![s.key, s.value, s.timeout],
        ),
        ("?environment=nowhere", vec![]),
    ] {
        let page = api.call(list(q)).await.ok(200);
        assert_eq!(ids(&page), want, "{q}");
    }
    // Pages of two, by each order, cover everything once.
    for sort in ["last_seen", "first_seen", "count"] {
        let full = ids(&api.call(list(&format!("?sort={sort}"))).await.ok(200));
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("?sort={sort}&limit=2&cursor={c}"),
                None => format!("?sort={sort}&limit=2"),
            };
            let page = api.call(list(&q)).await.ok(200);
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
            assert!(seen.len() <= full.len(), "paging does not end");
        }
        assert_eq!(seen, full, "{sort}");
    }

    for (q, field, code) in [
        ("?status=open", "status", "validation_failed"),
        ("?level=loud", "level", "validation_failed"),
        ("?sort=random", "sort", "validation_failed"),
        ("?limit=0", "limit", "validation_failed"),
        ("?limit=501", "limit", "validation_failed"),
        ("?cursor=abc", "cursor", "validation_failed"),
        ("?query=", "query", "validation_failed"),
        ("?colour=red", "colour", "unknown_field"),
    ] {
        let e = api.call(list(q)).await.error(422, code);
        assert_eq!(e["field"], field, "{q}");
    }
    let long = format!("?query={}", "x".repeat(300));
    let e = api.call(list(&long)).await.error(422, "validation_failed");
    assert_eq!(e["field"], "query");
}

async fn issue_detail_lists_its_latest_events(store: &Store) {
    let api = Api::default_config(store);
    let s = shop(store, &api).await;
    let path =
        s.t.path(&format!("/projects/{}/issues/{}", s.project.0, s.key));
    let d = api
        .call(Call::get(&path).bearer(&s.t.viewer_token))
        .await
        .ok(200);
    assert_eq!(d["id"], s.key);
    let events = d["events"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(events[0]["event_id"], format!("{:016x}{:016x}", s.key, 4));
    assert_eq!(events[0]["tags"]["browser"], "Firefox");
    assert_eq!(events[0]["environment"], "production");
    let d = api
        .call(Call::get(&format!("{path}?limit=2")).bearer(&s.t.viewer_token))
        .await
        .ok(200);
    assert_eq!(d["events"].as_array().unwrap().len(), 2);
    api.call(Call::get(&format!("{path}?limit=101")).bearer(&s.t.viewer_token))
        .await
        .error(422, "validation_failed");
    // Not through another project, nor by a made-up id.
    let other = create_project(&api, &s.t, "other").await["id"]
        .as_i64()
        .unwrap();
    api.call(
        Call::get(&s.t.path(&format!("/projects/{other}/issues/{}", s.key)))
            .bearer(&s.t.viewer_token),
    )
    .await
    .error(404, "not_found");
    api.call(
        Call::get(&s.t.path(&format!("/projects/{}/issues/999999", s.project.0)))
            .bearer(&s.t.viewer_token),
    )
    .await
    .error(404, "not_found");
}

async fn issues_are_resolved_ignored_and_reopened_alone_or_in_bulk(store: &Store) {
    let api = Api::default_config(store);
    let s = shop(store, &api).await;
    let base = s.t.path(&format!("/projects/{}/issues", s.project.0));
    let one = |id: i64, action: &str| {
        Call::post(&format!("{base}/{id}/{action}")).bearer(&s.t.member_token)
    };
    let r = api.call(one(s.key, "resolve")).await.ok(200);
    assert_eq!(r["status"], "resolved");
    assert!(r["resolved_at"].is_string());
    let r = api.call(one(s.key, "ignore")).await.ok(200);
    assert_eq!(r["status"], "ignored");
    assert!(r["resolved_at"].is_null());
    let r = api.call(one(s.key, "unresolve")).await.ok(200);
    assert_eq!(r["status"], "unresolved");
    // Viewers read only.
    api.call(Call::post(&format!("{base}/{}/resolve", s.key)).bearer(&s.t.viewer_token))
        .await
        .error(403, "forbidden");

    // Bulk: all at once, repeats ignored, in the order asked.
    let bulk = |action: &str, ids: Value| {
        Call::post(&format!("{base}/{action}"))
            .bearer(&s.t.member_token)
            .json(&json!({ "ids": ids }))
    };
    let r = api
        .call(bulk("resolve", json!([s.timeout, s.key, s.timeout])))
        .await
        .ok(200);
    let got: Vec<(i64, String)> = r["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_i64().unwrap(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (s.timeout, "resolved".to_owned()),
            (s.key, "resolved".to_owned())
        ]
    );
    let resolved = api
        .call(Call::get(&format!("{base}?status=resolved")).bearer(&s.t.viewer_token))
        .await
        .ok(200);
    assert_eq!(ids(&resolved).len(), 2);

    // An id of another project (or another workspace) refuses the whole batch.
    let other_t = tenant(store, "bravo").await;
    let theirs = create_project(&api, &other_t, "theirs").await["id"]
        .as_i64()
        .unwrap();
    let foreign = sighting(
        store,
        &other_t,
        ProjectId(theirs),
        "fp",
        "Boom",
        "x",
        "error",
        Clock.now(),
    )
    .await;
    let e = api
        .call(bulk("ignore", json!([s.value, foreign.id.0])))
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "ids[1]");
    let value = store
        .workspace(s.t.ws.id)
        .issue(IssueId(s.value))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(value.status, IssueStatus::Unresolved, "nothing changed");
    api.call(one(foreign.id.0, "resolve"))
        .await
        .error(404, "not_found");
    let theirs_now = store
        .workspace(other_t.ws.id)
        .issue(foreign.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs_now.status, IssueStatus::Unresolved);

    for (body, field) in [
        (json!({"ids": []}), "ids"),
        (json!({"ids": (0..1001).collect::<Vec<i64>>()}), "ids"),
        (json!({"ids": ["x"]}), "ids[0]"),
        (json!({}), "body"),
    ] {
        let e = api
            .call(
                Call::post(&format!("{base}/unresolve"))
                    .bearer(&s.t.member_token)
                    .json(&body),
            )
            .await
            .error(422, "validation_failed");
        assert_eq!(e["field"], field, "{body}");
    }
    let r = api
        .call(bulk("unresolve", json!([s.key, s.timeout])))
        .await
        .ok(200);
    assert!(
        r["issues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "unresolved")
    );
}

async fn events_show_their_payload_raw_bytes_and_attachments(store: &Store) {
    let api = Api::default_config(store);
    let blobs = api.state().blobs.clone();
    let t = tenant(store, "acme").await;
    let project = ProjectId(
        create_project(&api, &t, "shop").await["id"]
            .as_i64()
            .unwrap(),
    );
    let issue = sighting(
        store,
        &t,
        project,
        "fp",
        "KeyError: 'a'",
        "main",
        "error",
        Clock.now(),
    )
    .await;
    let payload = serde_json::to_vec(&json!({
        "event_id": "0123456789abcdef0123456789abcdef",
        "platform": "python",
        "exception": {"values": [{"type": "KeyError", "value": "'a'", "stacktrace": {"frames": [
            {"function": "<module>", "filename": "app.py", "lineno": 10, "in_app": true},
            {"function": "lookup", "module": "lib.store", "lineno": 99, "in_app": false}
        ]}}]},
        "breadcrumbs": [{"category": "query", "message": "SELECT 1", "timestamp": 1700000000}],
        "user": {"id": "u-1", "email": "u@example.com"},
        "contexts": {"runtime": {"name": "CPython", "version": "3.12.1"}},
        "tags": {"browser": "Firefox"},
        "extra": {"unknown": ["kept", "in", "raw"]}
    }))
    .unwrap();
    blobs
        .put("events/test/payload", Bytes::from(payload.clone()))
        .await
        .unwrap();
    let event_id = "0123456789abcdef0123456789abcdef";
    store
        .workspace(t.ws.id)
        .insert_event(&NewEvent {
            project_id: project,
            event_id: event_id.into(),
            issue_id: Some(issue.id),
            level: "error".into(),
            timestamp: Clock.now(),
            release: Some("shop@1.0".into()),
            environment: Some("production".into()),
            title: "KeyError: 'a'".into(),
            culprit: Some("main".into()),
            tags: vec![("browser".into(), "Firefox".into())],
            blob_key: Some("events/test/payload".into()),
            payload: None,
        })
        .await
        .unwrap()
        .unwrap();
    // Attachments: binary bytes (not UTF-8), and one whose content type is hostile.
    let binary: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, 0x00, 0x80]).collect();
    let mut attachment_ids = Vec::new();
    for (name, ct, bytes) in [
        ("core.bin", Some("application/x-core"), binary.clone()),
        (
            "<script>.html",
            Some("text/html"),
            b"<script>alert(1)</script>".to_vec(),
        ),
        ("notes", None, b"plain".to_vec()),
    ] {
        let key = format!(
            "attachments/{}/{event_id}/{}",
            project.0,
            attachment_ids.len()
        );
        blobs.put(&key, Bytes::from(bytes.clone())).await.unwrap();
        let a = store
            .workspace(t.ws.id)
            .insert_attachment(
                &NewAttachment {
                    project_id: project,
                    event_id: event_id.into(),
                    name: name.into(),
                    content_type: ct.map(str::to_owned),
                    size: bytes.len() as i64,
                    blob_key: key,
                    attachment_type: None,
                },
                Clock.now(),
            )
            .await
            .unwrap();
        attachment_ids.push(a.id.0);
    }

    let ev = |rest: &str| {
        Call::get(&t.path(&format!("/projects/{}/events/{rest}", project.0)))
            .bearer(&t.viewer_token)
    };
    let d = api.call(ev(event_id)).await.ok(200);
    assert_eq!(d["event_id"], event_id);
    assert_eq!(d["issue_id"], issue.id.0);
    assert_eq!(d["tags"]["browser"], "Firefox");
    let p = &d["payload"];
    assert_eq!(p["platform"], "python");
    let frames = p["exceptions"][0]["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0]["function"], "<module>");
    assert_eq!(frames[0]["in_app"], true);
    assert_eq!(frames[1]["in_app"], false);
    assert_eq!(p["exceptions"][0]["type"], "KeyError");
    assert_eq!(p["breadcrumbs"][0]["message"], "SELECT 1");
    assert_eq!(p["user"]["email"], "u@example.com");
    assert_eq!(p["contexts"]["runtime"], "CPython 3.12.1");
    assert_eq!(d["attachments"].as_array().unwrap().len(), 3);
    // The same event by its UUID form.
    api.call(ev("01234567-89ab-cdef-0123-456789abcdef"))
        .await
        .ok(200);

    // The raw payload, byte for byte.
    let raw = api.call(ev(&format!("{event_id}/raw"))).await;
    assert_eq!(raw.status.as_u16(), 200);
    assert_eq!(raw.body, payload);
    assert_eq!(raw.header("content-type"), Some("application/json"));

    // Attachments listed, then downloaded exactly, never run by a browser.
    let listed = api
        .call(ev(&format!("{event_id}/attachments")))
        .await
        .ok(200);
    assert_eq!(listed[0]["name"], "core.bin");
    assert_eq!(listed[0]["size"], binary.len());
    let get = |id: i64| {
        Call::get(&t.path(&format!("/projects/{}/attachments/{id}", project.0)))
            .bearer(&t.viewer_token)
    };
    let r = api.call(get(attachment_ids[0])).await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.body, binary);
    assert_eq!(r.header("content-type"), Some("application/x-core"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"core.bin\"")
    );
    let r = api.call(get(attachment_ids[1])).await;
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(
        r.header("content-security-policy")
            .is_some_and(|c| c.contains("sandbox"))
    );
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"_script_.html\"")
    );
    let r = api.call(get(attachment_ids[2])).await;
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, b"plain");

    // Missing things are 404s: unknown ids, malformed ids, another project, a lost blob.
    api.call(ev("ffffffffffffffffffffffffffffffff"))
        .await
        .error(404, "not_found");
    api.call(ev("not-an-event-id"))
        .await
        .error(404, "not_found");
    api.call(ev("../../etc/passwd"))
        .await
        .error(404, "not_found");
    api.call(get(999_999)).await.error(404, "not_found");
    let other = create_project(&api, &t, "other").await["id"]
        .as_i64()
        .unwrap();
    api.call(
        Call::get(&t.path(&format!(
            "/projects/{other}/attachments/{}",
            attachment_ids[0]
        )))
        .bearer(&t.viewer_token),
    )
    .await
    .error(404, "not_found");
    api.call(
        Call::get(&t.path(&format!("/projects/{other}/events/{event_id}"))).bearer(&t.viewer_token),
    )
    .await
    .error(404, "not_found");
    blobs.delete("events/test/payload").await.unwrap();
    let d = api.call(ev(event_id)).await.ok(200);
    assert!(d["payload"].is_null(), "{d}");
    api.call(ev(&format!("{event_id}/raw")))
        .await
        .error(404, "not_found");
}

both!(
    issues_are_filtered_sorted_and_paged,
    issue_detail_lists_its_latest_events,
    issues_are_resolved_ignored_and_reopened_alone_or_in_bulk,
    events_show_their_payload_raw_bytes_and_attachments,
);
