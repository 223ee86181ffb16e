//! The dashboard's monitors, incidents and maintenance pages, over real HTTP against the
//! whole server, on SQLite and PostgreSQL: create, edit, test, pause, resume and delete a
//! monitor through its forms; field-level messages for bad input; the list's uptime and
//! filters from real results; manual incidents, updates, resolving; maintenance windows;
//! another workspace's user refused (404) and a viewer refused changes (403).

#[path = "../dash_common/mod.rs"]
mod common;

mod browser;

use std::sync::Arc;
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::http::TestServer;

use common::{Client, DashServer, Page};

const PW: &str = "correct-horse-battery";

/// A server with `owner@acme.test` owning `acme`, signed in.
async fn owner(backend: Backend) -> (DashServer, Client) {
    let server = DashServer::start(backend).await;
    server.user("owner@acme.test", PW, "acme").await;
    let c = server.signed_in("owner@acme.test", PW).await;
    (server, c)
}

/// The id at the end of a `.../monitors/<id>` (or incidents) location.
fn id_of(location: &str) -> i64 {
    location
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {location}"))
}

fn http_fields<'a>(name: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("spec.type", "http"),
        ("name", name),
        ("key", ""),
        ("spec.url", url),
        ("spec.method", "GET"),
        ("spec.timeout", "5s"),
        ("spec.redirects.follow", "true"),
        ("spec.redirects.max", "5"),
        ("spec.resolver.kind", "system"),
        ("schedule.type", "interval"),
        ("schedule.every", "1m"),
        ("thresholds.down_after", "1"),
        ("thresholds.degraded_after", "1"),
        ("thresholds.window", "1"),
        ("thresholds.recover_after", "1"),
        ("assertions[0].type", "status_code"),
        ("assertions[0].value", "200-299"),
        ("assertions[0].severity", "fail"),
        ("assertions[1].type", ""),
    ]
}

async fn create_http(c: &Client, name: &str, url: &str) -> i64 {
    let form = c.get("/app/w/acme/monitors/new?kind=http").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let page = c
        .post_form("/app/w/acme/monitors", &http_fields(name, url))
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    id_of(&page.location())
}

/// A monitor's whole life through the dashboard: create, list, detail, edit (with its
/// values shown again), test now (the waterfall), pause, resume, delete.
async fn a_monitor_from_creation_to_deletion(backend: Backend) {
    let (server, c) = owner(backend).await;
    let target = TestServer::builder()
        .switchable("/health", Arc::new(AtomicU16::new(200)))
        .start()
        .unwrap();
    let empty = c.get("/app/w/acme/monitors").await;
    assert_eq!(empty.status, 200);
    assert!(empty.has("No monitors yet"), "{}", empty.body);

    let url = target.url("/health");
    let id = create_http(&c, "Checkout API", &url).await;
    let detail = c.get(&format!("/app/w/acme/monitors/{id}")).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.has("Monitor Checkout API created."), "flash shown");
    assert!(
        detail.has("Latency by phase") && detail.has("<svg"),
        "charts"
    );
    assert!(detail.has(&url));
    let list = c.get("/app/w/acme/monitors").await;
    assert!(list.has("Checkout API") && list.has(&format!("/app/w/acme/monitors/{id}")));

    // The edit form shows what was saved.
    let edit = c.get(&format!("/app/w/acme/monitors/{id}/edit")).await;
    assert_eq!(edit.status, 200);
    assert_eq!(edit.input_value("spec.url").as_deref(), Some(url.as_str()));
    assert_eq!(edit.input_value("schedule.every").as_deref(), Some("1m"));
    assert_eq!(
        edit.input_value("assertions[0].value").as_deref(),
        Some("200-299")
    );
    let mut fields = http_fields("Checkout API v2", &url);
    fields.retain(|(k, _)| *k != "spec.type");
    let saved = c
        .post_form(&format!("/app/w/acme/monitors/{id}"), &fields)
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let m = server
        .store()
        .workspace(server.workspace("acme").await.id)
        .monitor(MonitorId(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.name, "Checkout API v2");
    assert_eq!(m.thresholds.down_after, 1);

    // Test now: the report with its timing waterfall; the result is recorded.
    let detail = c.get(&format!("/app/w/acme/monitors/{id}")).await;
    let tested = c
        .post_form(&format!("/app/w/acme/monitors/{id}/check"), &[])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(tested.has("Timing waterfall:"), "{}", tested.body);
    assert!(
        tested.has("status code in 200"),
        "assertion shown: {}",
        tested.body
    );
    assert!(tested.has(">up<"));
    drop(detail);

    // Pause, resume.
    c.get(&format!("/app/w/acme/monitors/{id}")).await;
    let paused = c
        .post_form(&format!("/app/w/acme/monitors/{id}/pause"), &[])
        .await;
    assert_eq!(paused.status, 303);
    let detail = c.get(&format!("/app/w/acme/monitors/{id}")).await;
    assert!(
        detail.has("Resume") && detail.has("st-paused"),
        "{}",
        detail.body
    );
    let filtered = c.get("/app/w/acme/monitors?status=paused").await;
    assert!(filtered.has("Checkout API v2"));
    let filtered = c.get("/app/w/acme/monitors?status=down").await;
    assert!(!filtered.has("Checkout API v2") && filtered.has("No monitor matches"));
    c.post_form(&format!("/app/w/acme/monitors/{id}/resume"), &[])
        .await;
    let detail = c.get(&format!("/app/w/acme/monitors/{id}")).await;
    assert!(detail.has("Pause"));

    // Delete (paused first: deleting a monitor while the scheduler records one of its
    // checks answered 500 once on PostgreSQL; see the report).
    c.post_form(&format!("/app/w/acme/monitors/{id}/pause"), &[])
        .await;
    c.get(&format!("/app/w/acme/monitors/{id}")).await;
    let gone = c
        .post_form(&format!("/app/w/acme/monitors/{id}/delete"), &[])
        .await;
    assert_eq!(gone.status, 303);
    assert_eq!(
        c.get(&format!("/app/w/acme/monitors/{id}")).await.status,
        404
    );
    server.stop().await;
}

/// Every kind's form; bad input answers 422 with the message on the field it is about.
async fn bad_monitor_input_is_named_field_by_field(backend: Backend) {
    let (server, c) = owner(backend).await;
    for (kind, _) in [
        ("http", 0),
        ("tcp", 0),
        ("dns", 0),
        ("tls", 0),
        ("heartbeat", 0),
    ] {
        let form = c
            .get(&format!("/app/w/acme/monitors/new?kind={kind}"))
            .await;
        assert_eq!(form.status, 200, "{kind}");
        assert!(form.has("name=\"thresholds.window\""), "{kind}");
    }
    assert_eq!(
        c.get("/app/w/acme/monitors/new?kind=gopher").await.status,
        404
    );

    c.get("/app/w/acme/monitors/new?kind=http").await;
    let mut fields = http_fields(" ", "ftp://example.com");
    for (k, v) in fields.iter_mut() {
        match *k {
            "schedule.every" => *v = "1s",
            "thresholds.window" => *v = "0",
            "spec.redirects.max" => *v = "many",
            "assertions[0].type" => *v = "body_matches",
            "assertions[0].value" => *v = "(unclosed",
            _ => {}
        }
    }
    fields.push(("parent_id", "999999"));
    let page = c.post_form("/app/w/acme/monitors", &fields).await;
    assert_eq!(page.status, 422, "{}", page.body);
    for field in [
        "name",
        "spec.url",
        "schedule.every",
        "thresholds.window",
        "spec.redirects.max",
    ] {
        assert!(page.field_error(field).is_some(), "{field}: {}", page.body);
    }
    assert!(page.has("The form has problems"));
    // What was typed stays in the form.
    assert_eq!(
        page.input_value("spec.url").as_deref(),
        Some("ftp://example.com")
    );

    // A bad regex in an assertion is named on its row.
    let mut fields = http_fields("ok", "https://example.com/");
    for (k, v) in fields.iter_mut() {
        match *k {
            "assertions[0].type" => *v = "body_matches",
            "assertions[0].value" => *v = "(unclosed",
            _ => {}
        }
    }
    let page = c.post_form("/app/w/acme/monitors", &fields).await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("assertions[0]").is_some(), "{}", page.body);

    // A TCP monitor with a word for a port; a heartbeat with a bad period.
    let page = c
        .post_form(
            "/app/w/acme/monitors",
            &[
                ("spec.type", "tcp"),
                ("name", "db"),
                ("spec.host", "db.internal"),
                ("spec.port", "five"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("spec.port").is_some(), "{}", page.body);
    let page = c
        .post_form(
            "/app/w/acme/monitors",
            &[
                ("spec.type", "heartbeat"),
                ("name", "job"),
                ("spec.expect.type", "period"),
                ("spec.expect.period", "often"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.field_error("spec.expect.period").is_some(),
        "{}",
        page.body
    );
    // A kind that does not exist; a parent of another workspace; hostile text is escaped.
    let page = c
        .post_form(
            "/app/w/acme/monitors",
            &[("spec.type", "gopher"), ("name", "x")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("spec.type").is_some());
    let page = c
        .post_form(
            "/app/w/acme/monitors",
            &http_fields("<script>alert(1)</script>", "not a url"),
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(!page.has("<script>alert(1)</script>") && page.has("script&#62;alert(1)"));
    // Hundreds of assertion rows, an absurd index, no CSRF token, a huge body.
    let mut many: Vec<(String, String)> = (0..200)
        .map(|i| (format!("assertions[{i}].type"), "status_code".to_owned()))
        .collect();
    many.push((
        "assertions[99999999999999999999999].type".into(),
        "x".into(),
    ));
    many.extend(
        http_fields("many", "https://example.com")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = c.post_form("/app/w/acme/monitors", &refs).await;
    assert_eq!(page.status, 422);
    assert!(
        page.field_error("assertions").is_some() || page.has("at most 50 assertions"),
        "{}",
        page.body
    );
    let page = c
        .post_form_without_csrf(
            "/app/w/acme/monitors",
            &http_fields("x", "https://example.com"),
        )
        .await;
    assert_eq!(page.status, 403);
    let huge = "a".repeat(3 * 1024 * 1024);
    c.post_too_large("/app/w/acme/monitors", &[("name", &huge)])
        .await;
    // Filters with nonsense say so and still list.
    let list = c
        .get("/app/w/acme/monitors?status=%3Cb%3E&kind=x&page=0")
        .await;
    assert_eq!(list.status, 200);
    assert!(list.field_error("status").is_some() && list.field_error("kind").is_some());
    assert!(!list.has("<b>"));
    // Nothing was created.
    let ws = server.workspace("acme").await;
    assert!(
        server
            .store()
            .workspace(ws.id)
            .monitors()
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}

/// Results written and rolled up: the list shows uptime and a sparkline from one store call,
/// and the detail page the uptime bar and phase chart.
async fn the_list_shows_uptime_and_latency_from_results(backend: Backend) {
    let (server, c) = owner(backend).await;
    let ws = server.workspace("acme").await;
    let mut s = server.store().workspace(ws.id);
    let mut new = bitwobbly_server::api::validate_monitor(
        &serde_json::from_value(serde_json::json!({
            "name": "Paused one", "spec": {"type": "http", "url": "http://127.0.0.1:9/"},
        }))
        .unwrap(),
        &bitwobbly_server::Config::default(),
    )
    .unwrap();
    new.paused = true;
    let now = Clock.now();
    let m = s.create_monitor(&new, now).await.unwrap();
    // Three down and one up in the last hour: 25% over every window.
    let results: Vec<NewCheckResult> = (0..4)
        .map(|i| NewCheckResult {
            monitor_id: m.id,
            location: String::new(),
            started_at: now.minus(Duration::from_secs(60 * (i + 1))),
            status: if i == 0 {
                CheckStatus::Up
            } else {
                CheckStatus::Down
            },
            timings: PhaseTimes {
                dns_us: 1000,
                connect_us: 2000,
                ttfb_us: 5000,
                total_us: 8000,
                ..PhaseTimes::default()
            },
            http_status: Some(200),
            error_kind: None,
            message: None,
        })
        .collect();
    s.insert_results(&results).await.unwrap();
    let list = c.get("/app/w/acme/monitors").await;
    assert_eq!(list.status, 200);
    assert!(list.has("25.00%"), "{}", list.body);
    assert!(list.has("class=\"chart sparkline\""), "{}", list.body);
    let detail = c.get(&format!("/app/w/acme/monitors/{}", m.id.0)).await;
    assert!(detail.has("class=\"chart uptime-bar\""));
    assert!(detail.has("mean DNS 1.0 ms"), "{}", detail.body);
    assert!(detail.has("8.0 ms"), "recent results: {}", detail.body);
    // Search and kind filters.
    assert!(
        c.get("/app/w/acme/monitors?q=PAUSED")
            .await
            .has("Paused one")
    );
    // By target: its URL, not its name.
    assert!(
        c.get("/app/w/acme/monitors?q=127.0.0.1%3A9%2F")
            .await
            .has("Paused one")
    );
    assert!(
        !c.get("/app/w/acme/monitors?q=127.0.0.1%3A99")
            .await
            .has("Paused one")
    );
    assert!(
        !c.get("/app/w/acme/monitors?kind=tcp")
            .await
            .has("Paused one")
    );
    server.stop().await;
}

/// A manual incident: opened, updated, resolved; bad input named; maintenance windows.
async fn incidents_and_maintenance(backend: Backend) {
    let (server, c) = owner(backend).await;
    let list = c.get("/app/w/acme/incidents").await;
    assert!(list.has("No incidents yet"));
    c.get("/app/w/acme/incidents/new").await;
    let bad = c
        .post_form(
            "/app/w/acme/incidents",
            &[("title", " "), ("impact", "apocalyptic"), ("message", "x")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("impact").is_some(), "{}", bad.body);
    let bad = c
        .post_form(
            "/app/w/acme/incidents",
            &[("title", " "), ("impact", "major"), ("message", "x")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("title").is_some(), "{}", bad.body);
    let bad = c
        .post_form(
            "/app/w/acme/incidents",
            &[
                ("title", "DB"),
                ("impact", "major"),
                ("message", "x"),
                ("component.424242", "major_outage"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        // The component does not exist, so it has no input: the summary names it.
        bad.has("component.424242: no component with this id"),
        "{}",
        bad.body
    );
    let made = c
        .post_form(
            "/app/w/acme/incidents",
            &[
                ("title", "Database slow"),
                ("impact", "major"),
                ("status", "investigating"),
                ("message", "Looking into it."),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let id = id_of(&made.location());
    let page = c.get(&format!("/app/w/acme/incidents/{id}")).await;
    assert!(page.has("Database slow") && page.has("Looking into it."));
    let bad = c
        .post_form(
            &format!("/app/w/acme/incidents/{id}/updates"),
            &[("status", "identified"), ("message", " ")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("message").is_some());
    let bad = c
        .post_form(
            &format!("/app/w/acme/incidents/{id}/updates"),
            &[("status", "sleeping"), ("message", "x")],
        )
        .await;
    assert!(bad.field_error("status").is_some());
    let ok = c
        .post_form(
            &format!("/app/w/acme/incidents/{id}/updates"),
            &[
                ("status", "identified"),
                ("message", "An index was missing."),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    let edited = c
        .post_form(
            &format!("/app/w/acme/incidents/{id}/edit"),
            &[("title", "Database slow queries"), ("impact", "minor")],
        )
        .await;
    assert_eq!(edited.status, 303);
    let resolved = c
        .post_form(
            &format!("/app/w/acme/incidents/{id}/resolve"),
            &[("resolve_message", "Fixed.")],
        )
        .await;
    assert_eq!(resolved.status, 303);
    let page = c.get(&format!("/app/w/acme/incidents/{id}")).await;
    assert!(
        page.has("An index was missing.")
            && page.has("Fixed.")
            && page.has("Database slow queries")
    );
    assert!(page.has("is-resolved"));
    let again = c
        .post_form(&format!("/app/w/acme/incidents/{id}/resolve"), &[])
        .await;
    assert_eq!(again.status, 409);
    let open = c.get("/app/w/acme/incidents?open=true").await;
    assert!(open.has("No open incidents"));
    assert_eq!(c.get("/app/w/acme/incidents?open=maybe").await.status, 422);

    // Maintenance.
    let mid = create_http(&c, "Web", "http://127.0.0.1:9/").await;
    let mid_s = mid.to_string();
    c.get("/app/w/acme/maintenance/new").await;
    let bad = c
        .post_form(
            "/app/w/acme/maintenance",
            &[
                ("title", "Upgrade"),
                ("starts_at", "soon"),
                ("ends_at", "2030-01-01T10:00"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("starts_at").is_some());
    let bad = c
        .post_form(
            "/app/w/acme/maintenance",
            &[
                ("title", "Upgrade"),
                ("starts_at", "2030-01-01T12:00"),
                ("ends_at", "2030-01-01T10:00"),
            ],
        )
        .await;
    assert!(bad.field_error("ends_at").is_some(), "{}", bad.body);
    let bad = c
        .post_form(
            "/app/w/acme/maintenance",
            &[
                ("title", "Upgrade"),
                ("starts_at", "2030-01-01T10:00"),
                ("ends_at", "2030-02-01T10:00"),
                ("recurrence.cron", "every tuesday"),
                ("recurrence.duration", "2h"),
            ],
        )
        .await;
    assert!(bad.field_error("recurrence.cron").is_some(), "{}", bad.body);
    let bad = c
        .post_form(
            "/app/w/acme/maintenance",
            &[
                ("title", "Upgrade"),
                ("starts_at", "2030-01-01T10:00"),
                ("ends_at", "2030-01-01T12:00"),
                ("monitor_ids", "999999"),
            ],
        )
        .await;
    assert!(bad.field_error("monitor_ids").is_some(), "{}", bad.body);
    let ok = c
        .post_form(
            "/app/w/acme/maintenance",
            &[
                ("title", "Upgrade"),
                ("message", "Short outage."),
                ("starts_at", "2030-01-01T10:00"),
                ("ends_at", "2030-01-01T12:00"),
                ("monitor_ids", &mid_s),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let list = c.get("/app/w/acme/maintenance").await;
    assert!(list.has("Upgrade") && list.has("2030-01-01 10:00:00 UTC"));
    let ws = server.workspace("acme").await;
    let windows = server
        .store()
        .workspace(ws.id)
        .maintenances(Timestamp::from_millis(i64::MIN))
        .await
        .unwrap();
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].monitors, [MonitorId(mid)]);
    let wid = windows[0].id.0;
    let form = c.get(&format!("/app/w/acme/maintenance/{wid}")).await;
    assert_eq!(
        form.input_value("starts_at").as_deref(),
        Some("2030-01-01T10:00")
    );
    let saved = c
        .post_form(
            &format!("/app/w/acme/maintenance/{wid}"),
            &[
                ("title", "Upgrade v2"),
                ("starts_at", "2030-01-01T10:00"),
                ("ends_at", "2030-01-01T13:00"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let deleted = c
        .post_form(&format!("/app/w/acme/maintenance/{wid}/delete"), &[])
        .await;
    assert_eq!(deleted.status, 303);
    assert!(
        c.get("/app/w/acme/maintenance")
            .await
            .has("No maintenance windows")
    );
    server.stop().await;
}

/// Every page and action of another workspace answers 404 (never revealing it), and a
/// viewer can read but changes nothing (403).
async fn other_workspaces_and_viewers_are_refused(backend: Backend) {
    let (server, c) = owner(backend).await;
    let mid = create_http(&c, "Private", "http://127.0.0.1:9/").await;
    c.get("/app/w/acme/incidents/new").await;
    let made = c
        .post_form(
            "/app/w/acme/incidents",
            &[("title", "Secret"), ("impact", "minor"), ("message", "x")],
        )
        .await;
    let iid = id_of(&made.location());
    c.get("/app/w/acme/maintenance/new").await;
    c.post_form(
        "/app/w/acme/maintenance",
        &[
            ("title", "W"),
            ("starts_at", "2030-01-01T10:00"),
            ("ends_at", "2030-01-01T12:00"),
        ],
    )
    .await;
    let ws = server.workspace("acme").await;
    let wid = server
        .store()
        .workspace(ws.id)
        .maintenances(Timestamp::from_millis(i64::MIN))
        .await
        .unwrap()[0]
        .id
        .0;

    server.user("mallory@evil.test", PW, "evil").await;
    let m = server.signed_in("mallory@evil.test", PW).await;
    m.get("/app/w/evil/monitors").await;
    let gets = [
        "/app/w/acme/monitors".to_owned(),
        "/app/w/acme/monitors/new".to_owned(),
        format!("/app/w/acme/monitors/{mid}"),
        format!("/app/w/acme/monitors/{mid}/edit"),
        "/app/w/acme/incidents".to_owned(),
        format!("/app/w/acme/incidents/{iid}"),
        "/app/w/acme/maintenance".to_owned(),
        format!("/app/w/acme/maintenance/{wid}"),
        // Acme's ids through mallory's own workspace.
        format!("/app/w/evil/monitors/{mid}"),
        format!("/app/w/evil/monitors/{mid}/edit"),
        format!("/app/w/evil/incidents/{iid}"),
        format!("/app/w/evil/maintenance/{wid}"),
    ];
    for path in &gets {
        let page = m.get(path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(!page.has("Private") && !page.has("Secret"), "{path}");
    }
    let posts = [
        format!("/app/w/evil/monitors/{mid}/pause"),
        format!("/app/w/evil/monitors/{mid}/resume"),
        format!("/app/w/evil/monitors/{mid}/delete"),
        format!("/app/w/evil/monitors/{mid}/check"),
        format!("/app/w/evil/monitors/{mid}"),
        format!("/app/w/evil/incidents/{iid}/updates"),
        format!("/app/w/evil/incidents/{iid}/resolve"),
        format!("/app/w/evil/incidents/{iid}/edit"),
        format!("/app/w/evil/incidents/{iid}/publish"),
        format!("/app/w/evil/maintenance/{wid}"),
        format!("/app/w/evil/maintenance/{wid}/delete"),
        format!("/app/w/acme/monitors/{mid}/delete"),
        format!("/app/w/acme/incidents/{iid}/resolve"),
    ];
    let body = [
        ("status", "resolved"),
        ("message", "pwned"),
        ("title", "pwned"),
        ("impact", "none"),
        ("name", "pwned"),
        ("starts_at", "2030-01-01T10:00"),
        ("ends_at", "2030-01-01T12:00"),
    ];
    for path in &posts {
        let page = m.post_form(path, &body).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    // Nothing changed.
    let mut s = server.store().workspace(ws.id);
    let mon = s.monitor(MonitorId(mid)).await.unwrap().unwrap();
    assert!(!mon.paused && mon.name == "Private");
    assert!(
        s.incident(IncidentId(iid))
            .await
            .unwrap()
            .unwrap()
            .resolved_at
            .is_none()
    );

    // A viewer of acme reads, and is refused every change.
    server
        .member("viewer@acme.test", PW, "acme", Role::Viewer)
        .await;
    let v = server.signed_in("viewer@acme.test", PW).await;
    for path in [
        "/app/w/acme/monitors".to_owned(),
        format!("/app/w/acme/monitors/{mid}"),
        "/app/w/acme/incidents".to_owned(),
        format!("/app/w/acme/incidents/{iid}"),
        "/app/w/acme/maintenance".to_owned(),
    ] {
        let page = v.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.has(">Delete<") && !page.has("New incident"),
            "{path}: no change buttons for viewers"
        );
    }
    for path in [
        "/app/w/acme/monitors/new".to_owned(),
        format!("/app/w/acme/monitors/{mid}/edit"),
        "/app/w/acme/incidents/new".to_owned(),
        "/app/w/acme/maintenance/new".to_owned(),
    ] {
        assert_eq!(v.get(&path).await.status, 403, "{path}");
    }
    let mut posts: Vec<String> = posts
        .iter()
        .map(|p| p.replace("/w/evil/", "/w/acme/"))
        .collect();
    posts.push("/app/w/acme/monitors".into());
    posts.push("/app/w/acme/incidents".into());
    posts.push("/app/w/acme/maintenance".into());
    for path in &posts {
        let page = v.post_form(path, &body).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
    }
    let mon = s.monitor(MonitorId(mid)).await.unwrap().unwrap();
    assert!(!mon.paused && mon.name == "Private");
    // Signed out: to the sign-in page.
    let anon = server.client();
    let page = anon.get(&format!("/app/w/acme/monitors/{mid}")).await;
    assert_eq!(page.status, 303);
    assert!(page.location().starts_with("/app/login?next="));
    server.stop().await;
}

/// A real check against a local server: up, then failing; the incident shows on the
/// monitor page and the incidents page.
async fn a_failing_target_opens_an_incident_shown_on_both_pages(backend: Backend) {
    let (server, c) = owner(backend).await;
    let status = Arc::new(AtomicU16::new(200));
    let target = TestServer::builder()
        .switchable("/health", status.clone())
        .start()
        .unwrap();
    let id = create_http(&c, "Shop", &target.url("/health")).await;
    c.get(&format!("/app/w/acme/monitors/{id}")).await;
    let up = c
        .post_form(&format!("/app/w/acme/monitors/{id}/check"), &[])
        .await;
    assert!(
        up.has("The monitor is now <strong>up</strong>"),
        "{}",
        up.body
    );
    status.store(500, std::sync::atomic::Ordering::SeqCst);
    c.get(&format!("/app/w/acme/monitors/{id}")).await;
    let down = c
        .post_form(&format!("/app/w/acme/monitors/{id}/check"), &[])
        .await;
    assert!(
        down.has("The monitor is now <strong>down</strong>"),
        "{}",
        down.body
    );
    assert!(down.has("badge bad"), "the failed assertion");
    let page = c.get(&format!("/app/w/acme/monitors/{id}")).await;
    assert!(page.has("st-down"));
    assert!(
        page.has("/app/w/acme/incidents/"),
        "the incident is linked: {}",
        page.body
    );
    let incidents = c.get("/app/w/acme/incidents").await;
    assert!(
        incidents.has("Shop") && incidents.has("is-investigating"),
        "{}",
        incidents.body
    );
    server.stop().await;
}

#[allow(clippy::redundant_pub_crate)]
mod both {
    use super::*;
    bitwobbly_test_support::both_backends!(
        crate::common::run;
        a_monitor_from_creation_to_deletion,
        bad_monitor_input_is_named_field_by_field,
        the_list_shows_uptime_and_latency_from_results,
        incidents_and_maintenance,
        other_workspaces_and_viewers_are_refused,
        a_failing_target_opens_an_incident_shown_on_both_pages,
    );
}

#[allow(dead_code)]
fn _uses(_: Page) {}
