//! The error-tracking pages of the dashboard, over HTTP against the whole server on SQLite and
//! PostgreSQL: projects, DSN keys and SDK snippets, issues (filters, sorts, pages, bulk
//! changes), an issue's stack trace, tags, events and attachments, transactions, releases and
//! cron monitors, with events sent to the real ingest endpoint and processed by the server's
//! own worker. Every form is sent invalid input (the message names the field), every page is
//! asked for by a member of another workspace (404) and, where it matters, by a viewer (403).

#[path = "../dash_common/mod.rs"]
mod common;

mod browser;

use std::time::{SystemTime, UNIX_EPOCH};

use bitwobbly_store::prelude::*;
use common::{Client, DashServer, Page, eventually};
use serde_json::{Value, json};

dash_both!(
    projects_are_created_set_up_and_configured,
    keys_are_created_changed_rotated_and_revoked,
    issues_are_filtered_sorted_paged_and_changed_in_bulk,
    an_issue_shows_its_stack_trace_tags_events_and_attachments,
    transactions_releases_and_crons_are_shown,
    other_workspaces_see_nothing_and_viewers_change_nothing,
    hostile_input_is_refused_or_escaped,
);

const PW: &str = "correct horse battery";

/// The server with `owner@acme.test` owning `acme`, signed in.
async fn acme(backend: bitwobbly_test_support::db::Backend) -> (DashServer, Client) {
    let server = DashServer::start(backend).await;
    server.user("owner@acme.test", PW, "acme").await;
    let c = server.signed_in("owner@acme.test", PW).await;
    (server, c)
}

/// Creates a project through the dashboard; its id and DSN key.
async fn project(server: &DashServer, c: &Client, name: &str, platform: &str) -> (i64, DsnKey) {
    let list = c.get("/app/w/acme/projects").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let res = c
        .post_form(
            "/app/w/acme/projects",
            &[("name", name), ("slug", ""), ("platform", platform)],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let to = res.location();
    let id: i64 = to
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a project page: {to}"));
    let ws = server.workspace("acme").await;
    let keys = server
        .store()
        .workspace(ws.id)
        .dsn_keys(ProjectId(id))
        .await
        .unwrap();
    (id, keys.into_iter().next().expect("a key"))
}

/// Undoes HTML escaping, numeric entities included (askama writes `&#60;` for `<`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("&#") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        match tail
            .find(';')
            .and_then(|end| Some((end, tail[..end].parse::<u32>().ok()?)))
        {
            Some((end, code)) => {
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str("&#");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    common::unescape(&out)
}

/// The `href` of the link marked `rel="next"`.
fn next_link(page: &Page) -> String {
    let at = page.body.find("rel=\"next\"").expect("a next page link");
    let href_at = page.body[..at].rfind("href=\"").unwrap() + 6;
    unescape(&page.body[href_at..href_at + page.body[href_at..].find('"').unwrap()])
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn event_id(n: u64) -> String {
    format!("{n:032x}")
}

/// An envelope of `items` (type, payload) for event `id`.
fn envelope(id: &str, items: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut v = format!("{{\"event_id\":\"{id}\"}}\n").into_bytes();
    for (ty, payload) in items {
        v.extend_from_slice(
            format!("{{\"type\":\"{ty}\",\"length\":{}}}\n", payload.len()).as_bytes(),
        );
        v.extend_from_slice(payload);
        v.push(b'\n');
    }
    v
}

/// Posts an envelope to the ingest endpoint with `key`; the status.
async fn send(server: &DashServer, project: i64, key: &str, body: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .post(server.url(&format!("/api/{project}/envelope/")))
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_version=7, sentry_key={key}"),
        )
        .header("content-type", "application/x-sentry-envelope")
        .body(body)
        .send()
        .await
        .expect("ingest answers")
        .status()
        .as_u16()
}

/// An error event: `ty` raised in `handler` (in-app, with source lines) through a library
/// frame, with tags, a user, breadcrumbs.
fn error_event(n: u64, ty: &str, level: &str, release: &str, env: &str, user: &str) -> Value {
    json!({
        "event_id": event_id(n),
        "timestamp": now_secs(),
        "level": level,
        "platform": "python",
        "release": release,
        "environment": env,
        "tags": {"browser": if n.is_multiple_of(2) { "Firefox" } else { "Chrome" }, "route": "/checkout"},
        "user": {"id": user, "email": format!("{user}@example.com")},
        "sdk": {"name": "sentry.python", "version": "2.0.0"},
        "breadcrumbs": {"values": [
            {"timestamp": now_secs() - 1.0, "category": "http", "message": "GET /cart", "level": "info"},
            {"timestamp": now_secs(), "category": "query", "message": "SELECT * FROM orders"}
        ]},
        "exception": {"values": [{
            "type": ty,
            "value": format!("boom in order {n}"),
            "stacktrace": {"frames": [
                {"function": "dispatch", "module": "framework.core", "filename": "framework/core.py",
                 "lineno": 120, "in_app": false},
                {"function": "handle_checkout", "module": "shop.views", "filename": "shop/views.py",
                 "abs_path": "/srv/shop/views.py", "lineno": 42, "in_app": true,
                 "pre_context": ["def handle_checkout(order):", "    total = order.total()"],
                 "context_line": "    raise ValueError(f\"boom in order {order.id}\")",
                 "post_context": ["", "def other():"]}
            ]}
        }]}
    })
}

/// Sends error event `n`, with an attachment when `attachment` is given.
async fn send_error(
    server: &DashServer,
    project: i64,
    key: &str,
    event: &Value,
    attachment: Option<&[u8]>,
) {
    let id = event["event_id"].as_str().unwrap().to_owned();
    let mut items = vec![("event", serde_json::to_vec(event).unwrap())];
    let body = match attachment {
        Some(bytes) => {
            let mut v = envelope(&id, &items);
            let header = format!(
                "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"report<1>.txt\",\"content_type\":\"text/html\"}}\n",
                bytes.len()
            );
            v.extend_from_slice(header.as_bytes());
            v.extend_from_slice(bytes);
            v.push(b'\n');
            v
        }
        None => envelope(&id, &std::mem::take(&mut items)),
    };
    assert_eq!(send(server, project, key, body).await, 200);
}

/// Waits until the project's issues count `events` events in all.
async fn processed(server: &DashServer, project: i64, events: i64) {
    let ws = server.workspace("acme").await;
    eventually("the events to be processed", || async {
        let mut f = IssueFilter::new(ProjectId(project), 500);
        f.sort = IssueSort::Count;
        let page = server
            .store()
            .workspace(ws.id)
            .search_issues(&f)
            .await
            .ok()?;
        let total: i64 = page.items.iter().map(|i| i.event_count).sum();
        (total >= events).then_some(())
    })
    .await;
}

/// The id in `href="<prefix><id>"` of the first link starting with `prefix`.
fn link_id(page: &Page, prefix: &str) -> i64 {
    let at = page
        .body
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix}: {}", page.body))
        + 6
        + prefix.len();
    page.body[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("an id")
}

// === projects ===

async fn projects_are_created_set_up_and_configured(backend: bitwobbly_test_support::db::Backend) {
    let (server, c) = acme(backend).await;
    let empty = c.get("/app/w/acme/projects").await;
    assert_eq!(empty.status, 200);
    assert!(empty.has("No projects yet"));

    // Invalid input names the field, and keeps what was typed.
    let res = c
        .post_form(
            "/app/w/acme/projects",
            &[("name", "  "), ("slug", ""), ("platform", "")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("name").is_some(), "{}", res.body);
    let res = c
        .post_form(
            "/app/w/acme/projects",
            &[("name", "Shop"), ("slug", "Not A Slug!"), ("platform", "")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("slug").is_some());
    assert_eq!(res.input_value("name").as_deref(), Some("Shop"));
    let res = c
        .post_form(
            "/app/w/acme/projects",
            &[("name", "Shop"), ("slug", ""), ("platform", "Py thon")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("platform").is_some());

    let (id, key) = project(&server, &c, "Shop", "python").await;
    // The same slug again is a conflict on `slug`.
    let res = c
        .post_form(
            "/app/w/acme/projects",
            &[("name", "Shop"), ("slug", "shop"), ("platform", "")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("slug").unwrap().contains("slug"));

    // The set-up page: the DSN made by `dsn()`, to copy, and every SDK's snippet with it.
    let setup = c.get(&format!("/app/w/acme/projects/{id}")).await;
    assert_eq!(setup.status, 200);
    let dsn = bitwobbly_server::api::projects::dsn(&server.base, &key.public_key, ProjectId(id));
    assert_eq!(setup.copy_text().as_deref(), Some(dsn.as_str()));
    let quoted = format!("&#34;{dsn}&#34;");
    for sdk in [
        "sentry_sdk.init(",
        "require(&#34;@sentry/node&#34;)",
        "@sentry/browser",
        "sentry::init((",
        "sentry.Init(",
    ] {
        assert!(setup.has(sdk), "{sdk}");
    }
    assert!(
        setup.body.matches(&quoted).count() >= 5,
        "each snippet has the DSN"
    );
    assert!(setup.body.find("id=\"sdk-python\"") < setup.body.find("id=\"sdk-node\""));

    // Settings: numbers out of range and words name their field; channels of the workspace only.
    let base = format!("/app/w/acme/projects/{id}/settings");
    let page = c.get(&base).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.input_value("name").as_deref(), Some("Shop"));
    let form = |retention: &'static str, count: &'static str| {
        vec![
            ("name", "Shop 2"),
            ("platform", "python-django"),
            ("settings.event_retention_days", retention),
            ("settings.envelope_retention_days", ""),
            ("settings.alert_frequency_count", count),
            ("settings.alert_frequency_minutes", "10"),
        ]
    };
    let res = c.post_form(&base, &form("0", "5")).await;
    assert_eq!(res.status, 422);
    assert!(
        res.field_error("settings.event_retention_days")
            .unwrap()
            .contains("1 to 3650")
    );
    assert_eq!(
        res.input_value("name").as_deref(),
        Some("Shop 2"),
        "what was typed stays"
    );
    let res = c.post_form(&base, &form("30", "many")).await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("settings.alert_frequency_count").is_some());
    let other = server.workspace("other").await;
    let foreign = server
        .store()
        .workspace(other.id)
        .create_channel(
            &NewChannel {
                key: None,
                name: "theirs".into(),
                kind: ChannelKind::Webhook,
                config: json!({"url": "http://127.0.0.1:9/"}),
                enabled: true,
            },
            bitwobbly_server::Clock.now(),
        )
        .await
        .unwrap();
    let foreign_id = foreign.id.0.to_string();
    let mut with_foreign = form("30", "5");
    with_foreign.push(("channel_ids", &foreign_id));
    let res = c.post_form(&base, &with_foreign).await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("channel_ids").is_some());
    let res = c.post_form(&base, &form("30", "5")).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let ws = server.workspace("acme").await;
    let saved = server
        .store()
        .workspace(ws.id)
        .project_processing(ProjectId(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.event_retention_days, Some(30));
    assert_eq!(saved.alert_frequency_count, Some(5));
    let page = c.get(&base).await;
    assert!(page.has("Settings of “Shop 2” saved."), "the flash shows");
    assert_eq!(
        page.input_value("platform").as_deref(),
        Some("python-django")
    );

    // Deleting it.
    let res = c
        .post_form(&format!("/app/w/acme/projects/{id}/delete"), &[])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        c.get(&format!("/app/w/acme/projects/{id}")).await.status,
        404
    );
    server.stop().await;
}

async fn keys_are_created_changed_rotated_and_revoked(
    backend: bitwobbly_test_support::db::Backend,
) {
    let (server, c) = acme(backend).await;
    let (id, first) = project(&server, &c, "Shop", "node").await;
    let base = format!("/app/w/acme/projects/{id}");
    c.get(&base).await;
    let res = c
        .post_form(
            &format!("{base}/keys"),
            &[("label", "CI"), ("rate_limit_per_minute", "lots")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.field_error("rate_limit_per_minute")
            .unwrap()
            .contains("whole number")
    );
    let res = c
        .post_form(
            &format!("{base}/keys"),
            &[("label", "CI"), ("rate_limit_per_minute", "0")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.field_error("rate_limit_per_minute")
            .unwrap()
            .contains("1 to 1000000")
    );
    let res = c
        .post_form(
            &format!("{base}/keys"),
            &[("label", "CI"), ("rate_limit_per_minute", "60")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = c.get(&base).await;
    assert!(page.has("60 / minute"));

    // A key's own form: errors show on its row.
    let k = first.id.0;
    let res = c
        .post_form(
            &format!("{base}/keys/{k}"),
            &[
                ("label", ""),
                ("rate_limit_per_minute", ""),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.field_error(&format!("k{k}-label")).is_some(),
        "{}",
        res.body
    );
    let res = c
        .post_form(
            &format!("{base}/keys/{k}"),
            &[
                ("label", "Web"),
                ("rate_limit_per_minute", "-1"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.field_error(&format!("k{k}-rate_limit_per_minute"))
            .is_some()
    );
    // Unticked: the key stops accepting events.
    let res = c
        .post_form(
            &format!("{base}/keys/{k}"),
            &[("label", "Web"), ("rate_limit_per_minute", "")],
        )
        .await;
    assert_eq!(res.status, 303);
    let ev = error_event(1, "KeyError", "error", "1.0", "prod", "u1");
    let body = envelope(&event_id(1), &[("event", serde_json::to_vec(&ev).unwrap())]);
    assert_ne!(
        send(&server, id, &first.public_key, body.clone()).await,
        200,
        "a disabled key is refused"
    );
    c.get(&base).await;
    c.post_form(
        &format!("{base}/keys/{k}"),
        &[
            ("label", "Web"),
            ("rate_limit_per_minute", ""),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(
        send(&server, id, &first.public_key, body.clone()).await,
        200
    );

    // Rotating: a new key, the old one refused at once; the flash gives the new DSN.
    let res = c.post_form(&format!("{base}/keys/{k}/rotate"), &[]).await;
    assert_eq!(res.status, 303);
    let page = c.get(&base).await;
    assert!(page.has("Key rotated"));
    assert_ne!(
        send(&server, id, &first.public_key, body.clone()).await,
        200
    );
    let ws = server.workspace("acme").await;
    let keys = server
        .store()
        .workspace(ws.id)
        .dsn_keys(ProjectId(id))
        .await
        .unwrap();
    let fresh = keys
        .iter()
        .find(|x| x.label == "Web" && x.status == KeyStatus::Active)
        .expect("the new key");
    let fresh_dsn =
        bitwobbly_server::api::projects::dsn(&server.base, &fresh.public_key, ProjectId(id));
    assert!(
        page.has(&format!("data-copy=\"{fresh_dsn}\"")),
        "the new key's DSN to copy"
    );

    // Revoking.
    let res = c
        .post_form(&format!("{base}/keys/{}/revoke", fresh.id.0), &[])
        .await;
    assert_eq!(res.status, 303);
    let keys = server
        .store()
        .workspace(ws.id)
        .dsn_keys(ProjectId(id))
        .await
        .unwrap();
    assert!(keys.iter().all(|x| x.id != fresh.id));
    // A key of another project (or none) is not found.
    let res = c
        .post_form(&format!("{base}/keys/999999/rotate"), &[])
        .await;
    assert_eq!(res.status, 404);
    server.stop().await;
}

// === issues ===

async fn issues_are_filtered_sorted_paged_and_changed_in_bulk(
    backend: bitwobbly_test_support::db::Backend,
) {
    let (server, c) = acme(backend).await;
    let (id, key) = project(&server, &c, "Shop", "python").await;
    let k = key.public_key.as_str();
    // KeyError: 3 events from 3 users; ValueError: 2 from one user; a warning once.
    for (n, ty, level, user) in [
        (1, "KeyError", "error", "u1"),
        (2, "KeyError", "error", "u2"),
        (3, "KeyError", "error", "u3"),
        (4, "ValueError", "error", "u1"),
        (5, "ValueError", "error", "u1"),
        (6, "SlowQuery", "warning", "u9"),
    ] {
        let env = if ty == "SlowQuery" { "staging" } else { "prod" };
        send_error(
            &server,
            id,
            k,
            &error_event(n, ty, level, "shop@1.0", env, user),
            None,
        )
        .await;
    }
    processed(&server, id, 6).await;
    let list = format!("/app/w/acme/projects/{id}/issues");
    let page = c.get(&list).await;
    assert_eq!(page.status, 200);
    for t in [
        "KeyError: boom in order",
        "ValueError: boom in order",
        "SlowQuery",
    ] {
        assert!(page.has(t), "{t}");
    }
    let only = |p: &Page, yes: &[&str], no: &[&str]| {
        for t in yes {
            assert!(p.has(t), "{t} shown: {}", p.body);
        }
        for t in no {
            assert!(!p.has(t), "{t} hidden");
        }
    };
    only(
        &c.get(&format!("{list}?level=warning")).await,
        &["SlowQuery"],
        &["KeyError"],
    );
    only(
        &c.get(&format!("{list}?environment=staging")).await,
        &["SlowQuery"],
        &["KeyError"],
    );
    only(
        &c.get(&format!("{list}?query=valueerror")).await,
        &["ValueError"],
        &["KeyError"],
    );
    only(
        &c.get(&format!("{list}?release=nope")).await,
        &["No issues match"],
        &["KeyError"],
    );
    // Sorted by users the KeyError leads, by events too; the form keeps the choice.
    let by_users = c.get(&format!("{list}?sort=users")).await;
    assert!(by_users.body.find("KeyError") < by_users.body.find("ValueError"));
    assert!(by_users.has("<option value=\"users\" selected>"));
    // Invalid filters name the field (422) and list nothing.
    for (q, field) in [
        ("sort=loudest", "sort"),
        ("level=panic", "level"),
        ("status=gone", "status"),
        ("cursor=x.y", "cursor"),
    ] {
        let p = c.get(&format!("{list}?{q}")).await;
        assert_eq!(p.status, 422, "{q}");
        assert!(
            p.body.contains(&format!("id=\"{field}-error\"")),
            "{q}: {}",
            p.body
        );
    }
    let long = "r".repeat(600);
    let p = c.get(&format!("{list}?release={long}")).await;
    assert_eq!(p.status, 422);
    assert!(p.field_error("release").unwrap().contains("512"));

    // Bulk: resolve the KeyError and the warning; the default list (unresolved) drops them.
    let key_issue = link_id(&by_users, &format!("{list}/"));
    let page = c.get(&format!("{list}?level=warning")).await;
    let warn_issue = link_id(&page, &format!("{list}/"));
    let back = "status=unresolved&sort=users";
    let a = key_issue.to_string();
    let b = warn_issue.to_string();
    let res = c
        .post_form(
            &format!("{list}/bulk"),
            &[
                ("ids", &a),
                ("ids", &b),
                ("action", "resolve"),
                ("back", back),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location(), format!("{list}?{back}"));
    let page = c.get(&res.location()).await;
    assert!(page.has("Resolved 2 issues."));
    only(&page, &["ValueError"], &["KeyError", "SlowQuery"]);
    only(
        &c.get(&format!("{list}?status=resolved")).await,
        &["KeyError", "SlowQuery"],
        &["ValueError"],
    );
    let res = c
        .post_form(
            &format!("{list}/bulk"),
            &[("ids", &b), ("action", "unresolve"), ("back", "")],
        )
        .await;
    assert_eq!(res.status, 303);
    only(&c.get(&list).await, &["SlowQuery"], &["KeyError"]);
    // Bulk errors: nothing ticked, a bad id, an issue of another project, an unknown action.
    for (fields, field) in [
        (vec![("action", "resolve")], "ids"),
        (vec![("ids", "x"), ("action", "resolve")], "ids"),
        (vec![("ids", "999999"), ("action", "resolve")], "ids"),
        (vec![("ids", a.as_str()), ("action", "explode")], "action"),
    ] {
        let res = c.post_form(&format!("{list}/bulk"), &fields).await;
        assert_eq!(res.status, 422, "{fields:?}");
        assert!(
            res.body.contains(&format!("id=\"{field}-error\"")),
            "{fields:?}"
        );
    }

    // Pages of 50: 55 more issues through the store, then a cursor to the next page.
    let ws = server.workspace("acme").await;
    for n in 0..55 {
        let _ = server
            .store()
            .workspace(ws.id)
            .record_sighting(&IssueSighting {
                project_id: ProjectId(id),
                fingerprint: format!("bulk-{n}"),
                title: format!("Filler{n:02}"),
                culprit: None,
                level: "info".into(),
                seen_at: Timestamp::from_millis(1_600_000_000_000 + n),
                first_seen: Timestamp::from_millis(1_600_000_000_000 + n),
                events: 1,
                new_users: 0,
                release: None,
                environment: None,
                grouping_version: None,
            })
            .await
            .unwrap();
    }
    let first = c.get(&format!("{list}?status=all&level=info")).await;
    assert_eq!(first.body.matches("class=\"issue-row").count(), 50);
    let next = next_link(&first);
    assert!(next.contains("cursor="), "{next}");
    let second = c.get(&next).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.matches("class=\"issue-row").count(), 5);
    assert!(second.has("Filler00") && !second.has("Filler54"));
    assert!(second.has("First page"));
    server.stop().await;
}

async fn an_issue_shows_its_stack_trace_tags_events_and_attachments(
    backend: bitwobbly_test_support::db::Backend,
) {
    let (server, c) = acme(backend).await;
    let (id, key) = project(&server, &c, "Shop", "python").await;
    let bytes: Vec<u8> = b"<script>alert(1)</script>\x00\xff".to_vec();
    // 25 events of one issue, the first with an attachment.
    for n in 1..=25u64 {
        let user = format!("u{}", n % 4);
        let ev = error_event(
            n,
            "ValueError",
            "error",
            if n > 20 { "shop@2.0" } else { "shop@1.0" },
            "prod",
            &user,
        );
        send_error(
            &server,
            id,
            &key.public_key,
            &ev,
            (n == 25).then_some(&bytes[..]),
        )
        .await;
    }
    processed(&server, id, 25).await;
    let list = format!("/app/w/acme/projects/{id}/issues");
    let page = c.get(&list).await;
    let issue = link_id(&page, &format!("{list}/"));
    let url = format!("{list}/{issue}");
    let p = c.get(&url).await;
    assert_eq!(p.status, 200, "{}", p.body);
    // The in-app frame is highlighted and open, with its source line marked; the library
    // frame is folded.
    let app = p
        .body
        .find("<li class=\"frame in-app\">")
        .expect("an in-app frame");
    assert!(p.body[app..].contains("handle_checkout"));
    assert!(p.body[app..].contains("<details open>"));
    assert!(p.has("<span class=\"line current\"><span class=\"ln\">42</span>"));
    let lib = p
        .body
        .find("<li class=\"frame\">")
        .expect("a library frame");
    assert!(p.body[lib..lib + 200].contains("<details>"));
    assert!(p.body[lib..].contains("dispatch"));
    // Tags with counts: 25 events, 5 of release 2.0; the browser tag split.
    assert!(p.has("<h3 class=\"tag-key\">release</h3>"));
    assert!(
        p.has("shop@1.0</span> <span class=\"muted small\">20 · 80%"),
        "{}",
        p.body
    );
    assert!(p.has("<h3 class=\"tag-key\">browser</h3>"));
    assert!(p.has("Counted over the latest 25 events"));
    // Breadcrumbs, user, the attachment's link.
    assert!(p.has("SELECT * FROM orders"));
    assert!(p.has("u1@example.com") || p.has("u0@example.com"));
    assert!(p.has("report&#60;1&#62;.txt"), "the name is escaped");
    let att = link_id(&p, &format!("/app/w/acme/projects/{id}/attachments/"));
    // 20 events a page, then the older ones.
    assert!(
        p.body
            .matches(&format!("/app/w/acme/projects/{id}/events/"))
            .count()
            >= 20
    );
    let older = next_link(&p);
    let p2 = c.get(&older).await;
    assert_eq!(p2.status, 200);
    assert!(p2.has(&event_id(1)) && !p2.has(&format!("<code>{}</code></a></td>", event_id(25))));
    assert_eq!(c.get(&format!("{url}?events=nonsense")).await.status, 400);

    // The attachment downloads byte for byte with the API's safe headers.
    let res = reqwest::Client::new()
        .get(server.url(&format!("/app/w/acme/projects/{id}/attachments/{att}")))
        .header(
            "cookie",
            format!(
                "bitwobbly_session={}",
                c.cookie("bitwobbly_session").unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-security-policy"],
        "sandbox; default-src 'none'"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"report_1_.txt\""
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[..]);
    assert_eq!(
        c.get(&format!("/app/w/acme/projects/{id}/attachments/999999"))
            .await
            .status,
        404
    );

    // An event's own page, and one that is not there.
    let e = c
        .get(&format!("/app/w/acme/projects/{id}/events/{}", event_id(3)))
        .await;
    assert_eq!(e.status, 200);
    assert!(e.has("handle_checkout") && e.has("Back to the issue"));
    assert_eq!(
        c.get(&format!(
            "/app/w/acme/projects/{id}/events/{}",
            event_id(999)
        ))
        .await
        .status,
        404
    );
    assert_eq!(
        c.get(&format!("/app/w/acme/projects/{id}/events/not-an-id"))
            .await
            .status,
        404
    );

    // Resolve, then reopen, from the issue page; a bad action names it.
    let res = c
        .post_form(&format!("{url}/status"), &[("action", "resolve")])
        .await;
    assert_eq!(res.status, 303);
    let p = c.get(&url).await;
    assert!(p.has("id=\"issue-status\">resolved<"));
    assert!(p.has("value=\"unresolve\""));
    let res = c
        .post_form(&format!("{url}/status"), &[("action", "vanish")])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.has("action"));
    assert_eq!(c.get(&format!("{list}/999999")).await.status, 404);
    server.stop().await;
}

// === transactions, releases, crons ===

async fn transactions_releases_and_crons_are_shown(backend: bitwobbly_test_support::db::Backend) {
    let (server, c) = acme(backend).await;
    let (id, key) = project(&server, &c, "Shop", "python").await;
    let k = key.public_key.as_str();
    let now = now_secs();
    for (n, ms, status) in [
        (1u64, 100.0, "ok"),
        (2, 200.0, "ok"),
        (3, 400.0, "internal_error"),
        (4, 800.0, "ok"),
    ] {
        let tx = json!({
            "type": "transaction", "event_id": event_id(100 + n), "transaction": "GET /checkout",
            "start_timestamp": now - 60.0 - ms / 1000.0, "timestamp": now - 60.0,
            "release": "shop@1.0", "environment": "prod",
            "contexts": {"trace": {"trace_id": format!("{n:032x}"), "span_id": format!("{n:016x}"),
                                    "op": "http.server", "status": status}},
            "spans": []
        });
        let id_ = event_id(100 + n);
        assert_eq!(
            send(
                &server,
                id,
                k,
                envelope(&id_, &[("transaction", serde_json::to_vec(&tx).unwrap())])
            )
            .await,
            200
        );
    }
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for (n, status, did) in [
        (1u64, "exited", "a"),
        (2, "exited", "b"),
        (3, "crashed", "c"),
        (4, "exited", "a"),
    ] {
        let s = json!({"sid": format!("{n:032x}"), "did": did, "init": true, "started": started,
                       "status": status, "errors": u32::from(status == "crashed"),
                       "attrs": {"release": "shop@1.0", "environment": "prod"}});
        assert_eq!(
            send(
                &server,
                id,
                k,
                envelope(
                    &event_id(200 + n),
                    &[("session", serde_json::to_vec(&s).unwrap())]
                )
            )
            .await,
            200
        );
    }
    for (n, status) in [(1u64, "ok"), (2, "error"), (3, "ok")] {
        let ci = json!({"check_in_id": format!("{n:032x}"), "monitor_slug": "nightly-report",
                        "status": status, "duration": 1.5, "environment": "prod"});
        assert_eq!(
            send(
                &server,
                id,
                k,
                envelope(
                    &event_id(300 + n),
                    &[("check_in", serde_json::to_vec(&ci).unwrap())]
                )
            )
            .await,
            200
        );
    }
    let base = format!("/app/w/acme/projects/{id}");
    let tx = eventually("transactions to show", || async {
        let p = c.get(&format!("{base}/transactions")).await;
        p.has("GET /checkout").then_some(p)
    })
    .await;
    assert_eq!(tx.status, 200);
    assert!(tx.has("<svg"), "a chart of the busiest transaction");
    assert!(tx.has("25.00%"), "one failure in four: {}", tx.body);
    assert!(tx.has("<th scope=\"col\">p95</th>"));
    let p = c
        .get(&format!(
            "{base}/transactions?period=7d&name=GET%20%2Fcheckout"
        ))
        .await;
    assert_eq!(p.status, 200);
    assert!(p.has("Duration of GET /checkout"));
    let p = c.get(&format!("{base}/transactions?period=forever")).await;
    assert_eq!(p.status, 422);
    assert!(p.field_error("period").is_some());
    let p = c
        .get(&format!("{base}/transactions?name={}", "n".repeat(1200)))
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("id=\"name-error\""));

    let rel = eventually("releases to show", || async {
        let p = c.get(&format!("{base}/releases")).await;
        p.has("shop@1.0").then_some(p)
    })
    .await;
    assert!(
        rel.has("75.00%"),
        "3 of 4 sessions did not crash: {}",
        rel.body
    );
    assert!(rel.has("66.67%"), "2 of 3 users had no crash");
    let p = c.get(&format!("{base}/releases?period=0s")).await;
    assert_eq!(p.status, 422);
    assert!(p.field_error("period").is_some());

    let crons = eventually("cron monitors to show", || async {
        let p = c.get(&format!("{base}/crons")).await;
        p.has("nightly-report").then_some(p)
    })
    .await;
    assert!(crons.has("<span class=\"badge ok\">ok</span>"));
    let cron = c.get(&format!("{base}/crons/nightly-report")).await;
    assert_eq!(cron.status, 200);
    assert_eq!(
        cron.body
            .matches("<span class=\"badge bad\">error</span>")
            .count(),
        1
    );
    assert!(cron.has("uptime-bar"), "the timeline");
    assert!(cron.has("<td>1.50 s</td>"), "{}", cron.body);
    assert_eq!(
        c.get(&format!("{base}/crons/no-such-cron")).await.status,
        404
    );
    server.stop().await;
}

// === tenants and roles ===

/// Every page of project `id` (GET).
fn pages(id: i64, issue: i64, event: &str) -> Vec<String> {
    let b = format!("/app/w/acme/projects/{id}");
    vec![
        "/app/w/acme/projects".to_owned(),
        b.clone(),
        format!("{b}/settings"),
        format!("{b}/issues"),
        format!("{b}/issues/{issue}"),
        format!("{b}/events/{event}"),
        format!("{b}/transactions"),
        format!("{b}/releases"),
        format!("{b}/crons"),
    ]
}

async fn other_workspaces_see_nothing_and_viewers_change_nothing(
    backend: bitwobbly_test_support::db::Backend,
) {
    let (server, c) = acme(backend).await;
    let (id, key) = project(&server, &c, "Shop", "python").await;
    send_error(
        &server,
        id,
        &key.public_key,
        &error_event(1, "KeyError", "error", "1.0", "prod", "u1"),
        None,
    )
    .await;
    processed(&server, id, 1).await;
    let list = c.get(&format!("/app/w/acme/projects/{id}/issues")).await;
    let issue = link_id(&list, &format!("/app/w/acme/projects/{id}/issues/"));
    let b = format!("/app/w/acme/projects/{id}");
    let k = key.id.0;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/app/w/acme/projects".to_owned(), vec![("name", "X")]),
        (format!("{b}/settings"), vec![("name", "X")]),
        (format!("{b}/keys"), vec![("label", "X")]),
        (format!("{b}/keys/{k}"), vec![("label", "X")]),
        (format!("{b}/keys/{k}/rotate"), vec![]),
        (format!("{b}/keys/{k}/revoke"), vec![]),
        (format!("{b}/issues/bulk"), vec![("action", "resolve")]),
        (
            format!("{b}/issues/{issue}/status"),
            vec![("action", "resolve")],
        ),
        (format!("{b}/delete"), vec![]),
    ];

    // A member of another workspace: every page and form of acme is "not found".
    server.user("mallory@other.test", PW, "other").await;
    let m = server.signed_in("mallory@other.test", PW).await;
    m.get("/app/w/other/projects").await;
    for p in pages(id, issue, &event_id(1)) {
        assert_eq!(m.get(&p).await.status, 404, "{p}");
    }
    for (p, fields) in &posts {
        assert_eq!(m.post_form(p, fields).await.status, 404, "{p}");
    }
    // Their own workspace does not reach acme's project either.
    let theirs = format!("/app/w/other/projects/{id}");
    for p in [
        theirs.clone(),
        format!("{theirs}/issues/{issue}"),
        format!("{theirs}/events/{}", event_id(1)),
    ] {
        assert_eq!(m.get(&p).await.status, 404, "{p}");
    }

    // A viewer sees every page, without forms that change things, and is refused (403).
    server
        .member("viewer@acme.test", PW, "acme", Role::Viewer)
        .await;
    let v = server.signed_in("viewer@acme.test", PW).await;
    for p in pages(id, issue, &event_id(1)) {
        let page = v.get(&p).await;
        assert_eq!(page.status, 200, "{p}: {}", page.body);
    }
    assert!(!v.get(&format!("{b}/issues")).await.has("name=\"ids\""));
    assert!(!v.get(&b).await.has("/rotate"));
    for (p, fields) in &posts {
        assert_eq!(v.post_form(p, fields).await.status, 403, "{p}");
    }
    // A member changes issues but not projects or keys.
    server
        .member("member@acme.test", PW, "acme", Role::Member)
        .await;
    let mem = server.signed_in("member@acme.test", PW).await;
    mem.get(&format!("{b}/issues")).await;
    let i = issue.to_string();
    let res = mem
        .post_form(
            &format!("{b}/issues/bulk"),
            &[("ids", &i), ("action", "ignore"), ("back", "")],
        )
        .await;
    assert_eq!(res.status, 303);
    for (p, fields) in &posts[..6] {
        assert_eq!(mem.post_form(p, fields).await.status, 403, "{p}");
    }
    // Not signed in: to the sign-in page.
    let anon = server.client();
    let res = anon.get(&format!("{b}/issues")).await;
    assert_eq!(res.status, 303);
    assert!(res.location().starts_with("/app/login?next="));
    server.stop().await;
}

async fn hostile_input_is_refused_or_escaped(backend: bitwobbly_test_support::db::Backend) {
    let (server, c) = acme(backend).await;
    let (id, key) = project(&server, &c, "<script>alert(1)</script>", "python").await;
    let list = c.get("/app/w/acme/projects").await;
    assert!(list.has("&#60;script&#62;alert(1)") && !list.has("<script>alert(1)"));
    let mut ev = error_event(
        1,
        "<img src=x onerror=alert(1)>",
        "error",
        "1.0",
        "prod",
        "u1",
    );
    ev["breadcrumbs"]["values"][0]["message"] = json!("<b>crumb</b>");
    send_error(&server, id, &key.public_key, &ev, None).await;
    processed(&server, id, 1).await;
    let base = format!("/app/w/acme/projects/{id}");
    let page = c.get(&format!("{base}/issues")).await;
    assert!(!page.has("<img src=x") && page.has("&#60;img src=x onerror=alert(1)&#62;"));
    let issue = link_id(&page, &format!("{base}/issues/"));
    let page = c.get(&format!("{base}/issues/{issue}")).await;
    assert!(!page.has("<img src=x") && !page.has("<b>crumb</b>"));
    assert_eq!(
        page.header("content-security-policy").as_deref(),
        Some(bitwobbly_server::dashboard::CSP)
    );
    // Ids that are not numbers, ids that are too big: not found.
    for p in [
        "/app/w/acme/projects/abc".to_owned(),
        "/app/w/acme/projects/99999999999999999999999".to_owned(),
        format!("{base}/issues/x"),
        format!("{base}/attachments/-1"),
    ] {
        assert_eq!(c.get(&p).await.status, 404, "{p}");
    }
    assert_eq!(
        c.post_form(&format!("{base}/keys/zz/rotate"), &[])
            .await
            .status,
        404
    );
    // A malformed query string, an oversized form, a form without its token.
    assert_eq!(
        c.get(&format!("{base}/issues?status=a&status=b"))
            .await
            .status,
        400
    );
    // Over the body limit: the server answers 413 and stops reading (so the client may see
    // its upload cut off instead); either way nothing is created.
    let big = "x".repeat(3 * 1024 * 1024);
    c.post_too_large("/app/w/acme/projects", &[("name", &big)])
        .await;
    let ws = server.workspace("acme").await;
    assert_eq!(
        server
            .store()
            .workspace(ws.id)
            .projects()
            .await
            .unwrap()
            .len(),
        1
    );
    let res = c
        .post_form_without_csrf("/app/w/acme/projects", &[("name", "Sneaky")])
        .await;
    assert_eq!(res.status, 403);
    let res = c
        .post_form("/app/w/acme/projects", &[("name", &"n".repeat(201))])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("name").is_some());
    // A search of 300 bytes names `query`.
    let res = c
        .get(&format!("{base}/issues?query={}", "q".repeat(300)))
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("query").is_some());
    server.stop().await;
}
