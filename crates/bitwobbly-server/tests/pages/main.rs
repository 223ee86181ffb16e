//! Public status pages on SQLite and PostgreSQL: HTML for up, degraded, down, maintenance and
//! mixed states, the Statuspage v2 JSON field by field, ETag/304, invalidation after a
//! monitor change, passwords, custom domains, the rate limit and hostile input.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::{MonitorState as Machine, Thresholds};
use bitwobbly_core::{CheckSpec, HttpSpec};
use bitwobbly_server::config::Config;
use bitwobbly_server::{AppState, Clock};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn run(backend: Backend, test: impl AsyncFnOnce(&Store)) {
    let db = TestDatabase::create(backend, "pages").await;
    let store = Store::open(db.url()).await.expect("open the store");
    test(&store).await;
    store.close().await;
    db.finish().await;
}

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        bitwobbly_test_support::both_backends!(crate::run; $($name),+);
    };
}

struct App {
    state: AppState,
    app: Router,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }
}

fn config() -> Config {
    let mut c = Config::default();
    c.public_url = Some("https://status.example.test".to_owned());
    c
}

impl App {
    fn new(store: &Store, config: Config) -> Self {
        let state = AppState::new(store.clone(), config, "pages-test".to_owned());
        let app = bitwobbly_server::server::router(state.clone());
        Self { state, app }
    }

    async fn req(&self, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            b = b.header(header::HOST, "127.0.0.1:8080");
        }
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        let mut req = b.body(Body::from(body.to_owned())).expect("request");
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let res = self.app.clone().oneshot(req).await.expect("infallible");
        let (parts, body) = res.into_parts();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.expect("body").to_bytes().to_vec(),
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, &[], "").await
    }

    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.req(Method::GET, path, headers, "").await
    }
}

fn monitor_def(name: &str) -> NewMonitor {
    let mut t = Thresholds::default();
    t.down_after = 1;
    t.degraded_after = 1;
    t.window = 1;
    t.recover_after = 1;
    t.flap_changes = 0;
    NewMonitor {
        key: None,
        name: name.to_owned(),
        // A closed loopback port: down when checked.
        spec: CheckSpec::Http(HttpSpec::get("http://127.0.0.1:9/")),
        schedule: Schedule::interval(Duration::from_secs(60)).expect("60s"),
        thresholds: t,
        parent_id: None,
        paused: false,
        locations: vec![],
        quorum: Default::default(),
    }
}

struct Fixture {
    ws: WorkspaceId,
    page: StatusPage,
    monitors: Vec<Monitor>,
    components: Vec<Component>,
}

/// A workspace with page `slug` and one monitor-backed component per name (in a group
/// "Core" for the first two), plus a manual component "Docs".
async fn fixture(store: &Store, slug: &str, names: &[&str]) -> Fixture {
    let now = Clock.now();
    let ws = store
        .global()
        .create_workspace(slug, slug, now)
        .await
        .expect("workspace")
        .id;
    let mut scope = store.workspace(ws);
    let mut new = NewStatusPage::new(slug, format!("{slug} status"));
    new.description = Some("Everything <we> run".to_owned());
    new.domains = vec![format!("{slug}.status.example.test")];
    new.footer_links = vec![FooterLink {
        label: "Home".into(),
        url: "https://example.test/".into(),
    }];
    let page = scope.create_status_page(&new, now).await.expect("page");
    let group = scope
        .create_component_group(page.id, "Core", 0, now)
        .await
        .expect("group");
    let mut monitors = Vec::new();
    let mut components = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let m = scope
            .create_monitor(&monitor_def(name), now)
            .await
            .expect("monitor");
        let c = scope
            .create_component(
                &NewComponent {
                    key: None,
                    page_id: page.id,
                    group_id: (i < 2).then_some(group.id),
                    monitor_id: Some(m.id),
                    name: (*name).to_owned(),
                    description: None,
                    position: i as i64,
                    show_uptime: true,
                    show_response_times: true,
                },
                now,
            )
            .await
            .expect("component");
        monitors.push(m);
        components.push(c);
    }
    let docs = scope
        .create_component(
            &NewComponent {
                key: None,
                page_id: page.id,
                group_id: None,
                monitor_id: None,
                name: "Docs".to_owned(),
                description: Some("The manual".to_owned()),
                position: 100,
                show_uptime: true,
                show_response_times: false,
            },
            now,
        )
        .await
        .expect("manual component");
    components.push(docs);
    Fixture {
        ws,
        page,
        monitors,
        components,
    }
}

async fn set_status(store: &Store, ws: WorkspaceId, m: MonitorId, status: MonitorStatus) {
    store
        .workspace(ws)
        .update_monitor_state(m, &StateUpdate::new(status, Machine::new()))
        .await
        .expect("state");
}

fn status_of<'a>(summary: &'a Value, name: &str) -> &'a str {
    summary["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {summary}"))["status"]
        .as_str()
        .expect("status")
}

fn html_status(html: &str, id: ComponentId) -> String {
    let marker = format!("data-component=\"{}\" data-status=\"", id.0);
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("component {id} not in page"));
    let rest = &html[at + marker.len()..];
    rest[..rest.find('"').expect("quote")].to_owned()
}

mod states {
    use super::*;

    // === states ===

    async fn all_up(store: &Store) {
        let f = fixture(store, "up", &["API", "Web"]).await;
        for m in &f.monitors {
            set_status(store, f.ws, m.id, MonitorStatus::Up).await;
        }
        let app = App::new(store, config());
        let r = app.get("/s/up").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let html = r.text();
        assert!(html.contains("All Systems Operational"));
        assert!(html.contains("up status"));
        assert!(
            html.contains("Everything &#60;we&#62; run")
                || html.contains("Everything &lt;we&gt; run"),
            "escaped description"
        );
        assert!(!html.contains("<we>"));
        for c in &f.components {
            assert_eq!(html_status(&html, c.id), "operational");
        }
        // 90 focusable segments with a date, an uptime and incidents in their label.
        assert_eq!(html.matches("<li tabindex=\"0\"").count(), 90 * 2);
        assert!(html.contains("no data, no incidents"));
        assert!(html.contains("<main id=\"main\""));
        assert!(html.contains("prefers-color-scheme:dark"));
        assert!(!html.contains("<script"));
        let s = app.get("/s/up/api/v2/summary.json").await.json();
        assert_eq!(s["status"]["indicator"], "none");
        assert_eq!(s["status"]["description"], "All Systems Operational");
    }

    async fn degraded_down_and_mixed(store: &Store) {
        let f = fixture(store, "mixed", &["API", "Web", "Queue"]).await;
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Up).await;
        set_status(store, f.ws, f.monitors[1].id, MonitorStatus::Degraded).await;
        set_status(store, f.ws, f.monitors[2].id, MonitorStatus::Up).await;
        let app = App::new(store, config());
        let html = app.get("/s/mixed").await.text();
        assert_eq!(
            html_status(&html, f.components[1].id),
            "degraded_performance"
        );
        assert!(html.contains("Minor Service Outage"));
        let s = app.get("/s/mixed/api/v2/summary.json").await.json();
        assert_eq!(s["status"]["indicator"], "minor");
        assert_eq!(status_of(&s, "Web"), "degraded_performance");
        // The group's status is the worst of its components.
        assert_eq!(status_of(&s, "Core"), "degraded_performance");

        set_status(store, f.ws, f.monitors[2].id, MonitorStatus::Down).await;
        app.state.pages.invalidate(f.ws);
        let s = app.get("/s/mixed/api/v2/summary.json").await.json();
        assert_eq!(status_of(&s, "Queue"), "major_outage");
        assert_eq!(s["status"]["indicator"], "major");
        let html = app.get("/s/mixed").await.text();
        assert!(html.contains("Partial System Outage"));
        assert_eq!(html_status(&html, f.components[2].id), "major_outage");
        assert!(html.contains("Major outage"));
    }

    /// A one-off maintenance window on component `c`.
    async fn window(
        store: &Store,
        ws: WorkspaceId,
        title: &str,
        from: Timestamp,
        to: Timestamp,
        c: ComponentId,
    ) {
        let new = NewMaintenance {
            title: title.into(),
            message: format!("{title}: details"),
            starts_at: from,
            ends_at: to,
            recurrence_cron: None,
            recurrence_tz: None,
            duration_secs: None,
            components: vec![c],
            monitors: vec![],
        };
        store
            .workspace(ws)
            .create_maintenance(&new, Clock.now())
            .await
            .expect("maintenance");
    }

    async fn maintenance_shows(store: &Store) {
        let f = fixture(store, "maint", &["API"]).await;
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Up).await;
        let now = Clock.now();
        let c = f.components[0].id;
        let (hour, day) = (Duration::from_secs(3600), Duration::from_secs(86_400));
        let started = now.minus(Duration::from_secs(60));
        window(store, f.ws, "Database upgrade", started, now.plus(hour), c).await;
        window(
            store,
            f.ws,
            "Network work",
            now.plus(day),
            now.plus(day + hour),
            c,
        )
        .await;
        let app = App::new(store, config());
        let html = app.get("/s/maint").await.text();
        assert!(html.contains("Service Under Maintenance"), "{html}");
        assert!(html.contains("Database upgrade"));
        assert!(html.contains("In progress"));
        assert!(html.contains("Network work"));
        assert_eq!(html_status(&html, f.components[0].id), "under_maintenance");
        let s = app.get("/s/maint/api/v2/summary.json").await.json();
        assert_eq!(s["status"]["indicator"], "maintenance");
        assert_eq!(s["scheduled_maintenances"].as_array().unwrap().len(), 2);
        let active = app
            .get("/s/maint/api/v2/scheduled-maintenances/active.json")
            .await
            .json();
        let active = active["scheduled_maintenances"].as_array().unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0]["name"], "Database upgrade");
        assert_eq!(active[0]["status"], "in_progress");
        assert_eq!(active[0]["impact"], "maintenance");
        for k in [
            "scheduled_for",
            "scheduled_until",
            "incident_updates",
            "components",
            "shortlink",
        ] {
            assert!(active[0].get(k).is_some(), "missing {k}");
        }
        let up = app
            .get("/s/maint/api/v2/scheduled-maintenances/upcoming.json")
            .await
            .json();
        let up = up["scheduled_maintenances"].as_array().unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0]["status"], "scheduled");
    }

    both!(all_up, degraded_down_and_mixed, maintenance_shows);
}

mod json {
    use super::*;

    // === JSON, field by field ===

    fn is_ts(v: &Value) -> bool {
        let Some(s) = v.as_str() else { return false };
        // 2024-05-01T12:00:00.000+00:00
        s.len() == 29 && &s[10..11] == "T" && &s[19..20] == "." && s.ends_with("+00:00")
    }

    async fn statuspage_json(store: &Store) {
        let f = fixture(store, "json", &["API", "Web", "Queue"]).await;
        for m in &f.monitors {
            set_status(store, f.ws, m.id, MonitorStatus::Up).await;
        }
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Down).await;
        let now = Clock.now();
        let inc = store
            .workspace(f.ws)
            .open_incident_affecting(
                &NewIncident {
                    monitor_id: None,
                    kind: IncidentKind::Manual,
                    title: "API errors".into(),
                    status: IncidentStatus::Investigating,
                    impact: Impact::Major,
                    message: "Looking into it".into(),
                    started_at: now,
                },
                &[AffectedComponent {
                    component_id: f.components[0].id,
                    status: ComponentStatus::PartialOutage,
                }],
            )
            .await
            .expect("incident");
        let app = App::new(store, config());
        let s = app.get("/s/json/api/v2/summary.json").await.json();
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "page",
            "status",
            "components",
            "incidents",
            "scheduled_maintenances",
        ] {
            assert!(keys.contains(&k), "summary lacks {k}: {keys:?}");
        }
        let page = &s["page"];
        assert_eq!(page["id"], f.page.id.0.to_string());
        assert_eq!(page["name"], "json status");
        assert_eq!(page["url"], "https://status.example.test/s/json");
        assert_eq!(page["time_zone"], "UTC");
        assert!(is_ts(&page["updated_at"]), "{}", page["updated_at"]);
        assert_eq!(s["status"]["indicator"], "major");

        let comps = s["components"].as_array().unwrap();
        assert_eq!(comps.len(), 5, "group + 3 + Docs: {comps:?}");
        let group = comps.iter().find(|c| c["group"] == true).expect("group");
        assert_eq!(group["name"], "Core");
        assert_eq!(group["components"].as_array().unwrap().len(), 2);
        for c in comps {
            for k in [
                "id",
                "name",
                "status",
                "created_at",
                "updated_at",
                "position",
                "description",
                "showcase",
                "start_date",
                "group_id",
                "page_id",
                "group",
                "only_show_if_degraded",
            ] {
                assert!(c.get(k).is_some(), "component lacks {k}: {c}");
            }
            assert!(is_ts(&c["created_at"]) && is_ts(&c["updated_at"]));
            assert!(c["id"].is_string() && c["position"].is_i64());
            assert!(
                [
                    "operational",
                    "degraded_performance",
                    "partial_outage",
                    "major_outage",
                    "under_maintenance"
                ]
                .contains(&c["status"].as_str().unwrap())
            );
            if c["group"] == false {
                assert!(c.get("components").is_none(), "leaf with components: {c}");
            }
        }
        let api = comps.iter().find(|c| c["name"] == "API").unwrap();
        assert_eq!(api["group_id"], group["id"]);
        assert_eq!(
            api["status"], "major_outage",
            "monitor down beats the incident's partial outage"
        );
        let docs = comps.iter().find(|c| c["name"] == "Docs").unwrap();
        assert_eq!(docs["group_id"], Value::Null);
        assert_eq!(docs["description"], "The manual");

        let incidents = s["incidents"].as_array().unwrap();
        assert_eq!(incidents.len(), 1);
        let i = &incidents[0];
        for k in [
            "id",
            "name",
            "status",
            "created_at",
            "updated_at",
            "monitoring_at",
            "resolved_at",
            "impact",
            "shortlink",
            "started_at",
            "page_id",
            "incident_updates",
            "components",
        ] {
            assert!(i.get(k).is_some(), "incident lacks {k}: {i}");
        }
        assert_eq!(i["id"], inc.id.0.to_string());
        assert_eq!(i["name"], "API errors");
        assert_eq!(i["status"], "investigating");
        assert_eq!(i["impact"], "major");
        assert_eq!(i["monitoring_at"], Value::Null);
        assert_eq!(i["resolved_at"], Value::Null);
        assert_eq!(
            i["shortlink"],
            format!("https://status.example.test/s/json/incidents/{}", inc.id.0)
        );
        assert_eq!(i["components"][0]["name"], "API");
        let u = &i["incident_updates"][0];
        for k in [
            "id",
            "status",
            "body",
            "incident_id",
            "created_at",
            "updated_at",
            "display_at",
            "affected_components",
            "deliver_notifications",
            "custom_tweet",
            "tweet_id",
        ] {
            assert!(u.get(k).is_some(), "update lacks {k}: {u}");
        }
        assert_eq!(u["body"], "Looking into it");
        assert_eq!(u["incident_id"], i["id"]);
        assert!(u["affected_components"].is_array());

        let status = app.get("/s/json/api/v2/status.json").await.json();
        assert_eq!(status.as_object().unwrap().len(), 2);
        assert_eq!(status["status"], s["status"]);
        let comps2 = app.get("/s/json/api/v2/components.json").await.json();
        assert_eq!(comps2["components"], s["components"]);
        let all = app.get("/s/json/api/v2/incidents.json").await.json();
        assert_eq!(all["incidents"].as_array().unwrap().len(), 1);
        let open = app
            .get("/s/json/api/v2/incidents/unresolved.json")
            .await
            .json();
        assert_eq!(open["incidents"].as_array().unwrap().len(), 1);
        let sm = app
            .get("/s/json/api/v2/scheduled-maintenances.json")
            .await
            .json();
        assert_eq!(sm["scheduled_maintenances"], Value::Array(vec![]));

        // Resolved: off the unresolved list, still in incidents.json; the page is green again.
        store
            .workspace(f.ws)
            .resolve_incident(inc.id, Clock.now(), "Fixed")
            .await
            .expect("resolve");
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Up).await;
        app.state.pages.invalidate(f.ws);
        let open = app
            .get("/s/json/api/v2/incidents/unresolved.json")
            .await
            .json();
        assert_eq!(open["incidents"], Value::Array(vec![]));
        let all = app.get("/s/json/api/v2/incidents.json").await.json();
        assert_eq!(all["incidents"][0]["status"], "resolved");
        assert!(is_ts(&all["incidents"][0]["resolved_at"]));
        let detail = app.get(&format!("/s/json/incidents/{}", inc.id.0)).await;
        assert_eq!(detail.status, 200);
        assert!(detail.text().contains("API errors") && detail.text().contains("Fixed"));
    }

    both!(statuspage_json);
}

mod caching {
    use super::*;

    // === HTTP caching ===

    async fn etag_and_304(store: &Store) {
        let f = fixture(store, "etag", &["API"]).await;
        let app = App::new(store, config());
        for path in ["/s/etag", "/s/etag/api/v2/summary.json"] {
            let r = app.get(path).await;
            assert_eq!(r.status, 200);
            let etag = r.header("etag").expect("etag").to_owned();
            assert!(
                etag.starts_with('"') && etag.ends_with('"'),
                "strong: {etag}"
            );
            let lm = r.header("last-modified").expect("last-modified").to_owned();
            let cc = r.header("cache-control").unwrap();
            assert!(
                cc.contains("public")
                    && cc.contains("max-age=")
                    && cc.contains("stale-while-revalidate")
            );
            let again = app.get_with(path, &[("if-none-match", &etag)]).await;
            assert_eq!(again.status, 304);
            assert!(again.body.is_empty());
            assert_eq!(again.header("etag"), Some(etag.as_str()));
            let ims = app.get_with(path, &[("if-modified-since", &lm)]).await;
            assert_eq!(ims.status, 304);
            let other = app.get_with(path, &[("if-none-match", "\"nope\"")]).await;
            assert_eq!(other.status, 200);
            // If-None-Match wins over If-Modified-Since.
            let both = app
                .get_with(
                    path,
                    &[("if-none-match", "\"nope\""), ("if-modified-since", &lm)],
                )
                .await;
            assert_eq!(both.status, 200);
            let gz = app.get_with(path, &[("accept-encoding", "gzip")]).await;
            assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
            {
                assert_ne!(gz.header("etag"), Some(etag.as_str()));
                let mut d = flate2::read::GzDecoder::new(&gz.body[..]);
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut d, &mut out).unwrap();
                assert_eq!(out, r.body);
                let gz_tag = gz.header("etag").unwrap().to_owned();
                let nm = app
                    .get_with(
                        path,
                        &[("accept-encoding", "gzip"), ("if-none-match", &gz_tag)],
                    )
                    .await;
                assert_eq!(nm.status, 304);
            }
            assert!(
                r.header("vary")
                    .is_some_and(|v| v.contains("accept-encoding"))
            );
        }
        // Small bodies are sent as they are (never compressed on the fly under the identity
        // tag).
        let plain = app.get("/s/etag/api/v2/status.json").await;
        let gz = app
            .get_with(
                "/s/etag/api/v2/status.json",
                &[("accept-encoding", "gzip, br")],
            )
            .await;
        if gz.header("content-encoding").is_none() {
            assert_eq!(gz.header("etag"), plain.header("etag"));
            assert_eq!(gz.body, plain.body);
        } else {
            assert_ne!(gz.header("etag"), plain.header("etag"));
        }
        // A change makes a new tag.
        let before = app.get("/s/etag/api/v2/summary.json").await;
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Down).await;
        app.state.pages.invalidate(f.ws);
        let after = app.get("/s/etag/api/v2/summary.json").await;
        assert_ne!(before.header("etag"), after.header("etag"));
    }

    /// A real monitor check through the scheduler's record path invalidates the cache.
    async fn invalidated_by_a_monitor_change(store: &Store) {
        let f = fixture(store, "inval", &["API"]).await;
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Up).await;
        let app = App::new(store, config());
        let s = app.get("/s/inval/api/v2/summary.json").await.json();
        assert_eq!(status_of(&s, "API"), "operational");
        let done = bitwobbly_server::scheduler::check_now(&app.state, f.ws, f.monitors[0].id)
            .await
            .expect("check now");
        assert!(done.recorded);
        assert_eq!(done.monitor_status, MonitorStatus::Down);
        // No explicit invalidation here: the record path did it.
        let s = app.get("/s/inval/api/v2/summary.json").await.json();
        assert_eq!(status_of(&s, "API"), "major_outage", "{s}");
        assert_ne!(s["status"]["indicator"], "none");
        let open = app
            .get("/s/inval/api/v2/incidents/unresolved.json")
            .await
            .json();
        assert_eq!(open["incidents"].as_array().unwrap().len(), 1, "{open}");
    }

    both!(etag_and_304, invalidated_by_a_monitor_change);
}

mod access {
    use super::*;

    // === access rules ===

    async fn password_protected(store: &Store) {
        let f = fixture(store, "secret", &["API"]).await;
        store
            .workspace(f.ws)
            .set_status_page_password(f.page.id, Some("hunter2-long"), Clock.now())
            .await
            .expect("password");
        let app = App::new(store, config());
        let json = app.get("/s/secret/api/v2/summary.json").await;
        assert_eq!(json.status, 401);
        assert_eq!(json.json()["error"]["code"], "password_required");
        let html = app.get_with("/s/secret", &[("accept", "text/html")]).await;
        assert_eq!(html.status, 401);
        assert!(html.text().contains("name=\"password\""));
        assert!(
            !html.text().contains("API</span>"),
            "no content without the password"
        );
        let wrong = app
            .req(
                Method::POST,
                "/s/secret/unlock",
                &[("content-type", "application/x-www-form-urlencoded")],
                "password=nope&next=%2Fs%2Fsecret",
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.header("set-cookie").is_none());
        let ok = app
            .req(
                Method::POST,
                "/s/secret/unlock",
                &[("content-type", "application/x-www-form-urlencoded")],
                "password=hunter2-long&next=%2F%2Fevil.example",
            )
            .await;
        assert_eq!(ok.status, 303);
        assert_eq!(ok.header("location"), Some("/s/secret"), "no open redirect");
        let cookie = ok.header("set-cookie").expect("cookie").to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("Path=/s/secret"));
        let pair = cookie.split(';').next().unwrap().to_owned();
        let r = app
            .get_with("/s/secret/api/v2/summary.json", &[("cookie", &pair)])
            .await;
        assert_eq!(r.status, 200);
        assert!(r.header("cache-control").unwrap().contains("private"));
        // A forged cookie is refused.
        let (name, value) = pair.split_once('=').unwrap();
        let forged = format!("{name}={}0", &value[..value.len() - 1]);
        let r = app
            .get_with("/s/secret/api/v2/summary.json", &[("cookie", &forged)])
            .await;
        assert_eq!(r.status, 401);
        // A new password logs everyone out.
        store
            .workspace(f.ws)
            .set_status_page_password(f.page.id, Some("another-one"), Clock.now())
            .await
            .expect("password");
        app.state.pages.invalidate(f.ws);
        let r = app
            .get_with("/s/secret/api/v2/summary.json", &[("cookie", &pair)])
            .await;
        assert_eq!(r.status, 401);
    }

    async fn non_public_is_404(store: &Store) {
        let f = fixture(store, "hidden", &["API"]).await;
        let mut new = NewStatusPage::new("hidden", "hidden status");
        new.public = false;
        store
            .workspace(f.ws)
            .update_status_page(f.page.id, &new, Clock.now())
            .await
            .expect("update");
        let app = App::new(store, config());
        assert_eq!(app.get("/s/hidden").await.status, 404);
        assert_eq!(app.get("/s/hidden/api/v2/status.json").await.status, 404);
        assert_eq!(app.get("/s/nothing-here").await.status, 404);
    }

    async fn custom_domains(store: &Store) {
        let _f = fixture(store, "dom", &["API"]).await;
        let app = App::new(store, config());
        let host = [("host", "DOM.status.example.test:443")];
        let r = app.get_with("/", &host).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("dom status"));
        assert!(
            r.text().contains("href=\"/history\""),
            "links without the /s prefix"
        );
        let j = app.get_with("/api/v2/status.json", &host).await;
        assert_eq!(j.status, 200);
        assert_eq!(j.json()["page"]["name"], "dom status");
        assert_eq!(app.get_with("/history", &host).await.status, 200);
        // Other hosts: the root routes are not the page's.
        assert_eq!(
            app.get_with("/", &[("host", "other.example.test")])
                .await
                .status,
            404
        );
        assert_eq!(app.get("/api/v2/status.json").await.status, 404);
        // The rest of the app still answers on the page's domain.
        assert_eq!(app.get_with("/healthz", &host).await.status, 200);
    }

    async fn rate_limited(store: &Store) {
        let _f = fixture(store, "limit", &["API"]).await;
        let mut c = config();
        c.pages.requests_per_minute = 3;
        let app = App::new(store, c);
        for _ in 0..3 {
            assert_eq!(app.get("/s/limit/api/v2/status.json").await.status, 200);
        }
        let r = app.get("/s/limit/api/v2/status.json").await;
        assert_eq!(r.status, 429);
        assert!(
            r.header("retry-after")
                .is_some_and(|v| v.parse::<u64>().unwrap() >= 1)
        );
        assert_eq!(r.json()["error"]["code"], "rate_limited");
    }

    async fn hostile_input(store: &Store) {
        let _f = fixture(store, "host", &["API"]).await;
        let app = App::new(store, config());
        for path in [
            "/s/%2e%2e%2f%2e%2e",
            "/s/%3Cscript%3E",
            "/s/a%00b",
            &format!("/s/{}", "a".repeat(5000)),
            "/s/host/incidents/999999999",
            "/s/host/incidents/-1",
            "/s/host/incidents/abc",
            "/s/host/incidents/99999999999999999999999",
            "/s/host/api/v2/nope.json",
        ] {
            let r = app.get(path).await;
            assert_eq!(r.status, 404, "{path}: {}", r.text());
        }
        for month in [
            "2024-13",
            "99999-01",
            "abcd",
            "2024-1",
            "1999-12",
            "2024-00",
            "%00",
            "2024-01-01",
            "2024-+1",
        ] {
            let r = app.get(&format!("/s/host/history?month={month}")).await;
            assert_eq!(r.status, 422, "{month}: {}", r.text());
            assert_eq!(r.json()["error"]["field"], "month");
        }
        let r = app.get("/s/host/history?month=2024-02").await;
        assert_eq!(r.status, 200);
        assert!(r.text().contains("No incidents in February 2024"));
        assert!(r.text().contains("month=2024-01") && r.text().contains("month=2024-03"));
        let huge = "h".repeat(10_000);
        let r = app.get_with("/", &[("host", &huge)]).await;
        assert_eq!(r.status, 404);
        let r = app.get_with("/", &[("host", "bad host!")]).await;
        assert_eq!(r.status, 404);
        let big = "x".repeat(5000);
        let r = app
            .req(
                Method::POST,
                "/s/host/unlock",
                &[("content-type", "application/x-www-form-urlencoded")],
                &format!("password={big}"),
            )
            .await;
        assert_eq!(r.status, 303, "an open page needs no password");
    }

    both!(
        password_protected,
        non_public_is_404,
        custom_domains,
        rate_limited,
        hostile_input
    );
}

// === across nodes (PostgreSQL) ===

#[tokio::test]
async fn invalidation_crosses_nodes_on_postgres() {
    run(Backend::Postgres, async |store: &Store| {
        let f = fixture(store, "nodes", &["API"]).await;
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Up).await;
        let a = App::new(store, config());
        let other = AppState::new(store.clone(), config(), "pages-test-b".to_owned());
        let b = App {
            app: bitwobbly_server::server::router(other.clone()),
            state: other,
        };
        let tasks = tokio_util::task::TaskTracker::new();
        bitwobbly_server::pages::spawn_tasks(&a.state, &tasks);
        bitwobbly_server::pages::spawn_tasks(&b.state, &tasks);
        let s = b.get("/s/nodes/api/v2/status.json").await.json();
        assert_eq!(s["status"]["indicator"], "none");
        set_status(store, f.ws, f.monitors[0].id, MonitorStatus::Down).await;
        // Node A announces; B drops its copy when it hears.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            a.state.pages.invalidate(f.ws);
            let s = b.get("/s/nodes/api/v2/status.json").await.json();
            if s["status"]["indicator"] != "none" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "node B never heard");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        a.state.shutdown.cancel();
        b.state.shutdown.cancel();
        tasks.close();
        tasks.wait().await;
    })
    .await;
}
