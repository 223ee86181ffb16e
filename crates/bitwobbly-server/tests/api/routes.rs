//! Every route, from one table: it is in the OpenAPI document and served by the router;
//! another workspace's token or user is refused with 404 and changes nothing; a role too low
//! is refused with 403 and changes nothing.

use std::collections::BTreeSet;

use axum::http::Method;
use bitwobbly_server::api;
use bitwobbly_store::prelude::*;
use serde_json::{Value, json};

use crate::harness::{
    Api, Backend, Call, PASSWORD, Tenant, both, cookie_of, http_monitor, login, tenant, with_store,
};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Anyone.
    Public,
    /// Any authenticated caller (not tied to one workspace).
    Caller,
    /// A role in the path's workspace.
    Role(Role),
    /// An agent token (`bwa_...`) of a location; the agent protocol's own tests are in
    /// `tests/agents`.
    Agent,
}

/// The routes and who may call them. A route added to the router and the OpenAPI document
/// without a line here fails `the_route_table_matches_the_router_and_the_openapi_document`.
const TABLE: &[(&str, &str, Need)] = &[
    ("get", "/openapi.json", Need::Public),
    ("post", "/auth/login", Need::Public),
    ("post", "/auth/logout", Need::Public),
    ("get", "/me", Need::Caller),
    ("get", "/workspaces", Need::Caller),
    ("post", "/workspaces", Need::Caller),
    ("get", "/workspaces/{workspace}", Need::Role(Role::Viewer)),
    ("patch", "/workspaces/{workspace}", Need::Role(Role::Admin)),
    ("delete", "/workspaces/{workspace}", Need::Role(Role::Owner)),
    (
        "get",
        "/workspaces/{workspace}/members",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/members",
        Need::Role(Role::Admin),
    ),
    (
        "patch",
        "/workspaces/{workspace}/members/{user_id}",
        Need::Role(Role::Admin),
    ),
    (
        "delete",
        "/workspaces/{workspace}/members/{user_id}",
        Need::Role(Role::Admin),
    ),
    (
        "get",
        "/workspaces/{workspace}/tokens",
        Need::Role(Role::Admin),
    ),
    (
        "post",
        "/workspaces/{workspace}/tokens",
        Need::Role(Role::Admin),
    ),
    (
        "delete",
        "/workspaces/{workspace}/tokens/{id}",
        Need::Role(Role::Admin),
    ),
    (
        "get",
        "/workspaces/{workspace}/locations",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/locations",
        Need::Role(Role::Admin),
    ),
    (
        "delete",
        "/workspaces/{workspace}/locations/{name}",
        Need::Role(Role::Admin),
    ),
    (
        "get",
        "/workspaces/{workspace}/locations/{name}/tokens",
        Need::Role(Role::Admin),
    ),
    (
        "post",
        "/workspaces/{workspace}/locations/{name}/tokens",
        Need::Role(Role::Admin),
    ),
    (
        "delete",
        "/workspaces/{workspace}/locations/{name}/tokens/{id}",
        Need::Role(Role::Admin),
    ),
    ("post", "/agent/hello", Need::Agent),
    ("get", "/agent/assignments", Need::Agent),
    ("post", "/agent/results", Need::Agent),
    (
        "get",
        "/workspaces/{workspace}/monitors",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/monitors",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/monitors/validate",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/monitors/{id}",
        Need::Role(Role::Viewer),
    ),
    (
        "put",
        "/workspaces/{workspace}/monitors/{id}",
        Need::Role(Role::Member),
    ),
    (
        "delete",
        "/workspaces/{workspace}/monitors/{id}",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/monitors/{id}/pause",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/monitors/{id}/resume",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/monitors/{id}/check",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/monitors/{id}/channels",
        Need::Role(Role::Viewer),
    ),
    (
        "put",
        "/workspaces/{workspace}/monitors/{id}/channels",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/monitors/{id}/results",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/monitors/{id}/stats",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/monitors/{id}/incidents",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/incidents",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/incidents/{id}",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/incidents",
        Need::Role(Role::Member),
    ),
    (
        "patch",
        "/workspaces/{workspace}/incidents/{id}",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/incidents/{id}/publish",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/pages",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/pages",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/pages/{id}",
        Need::Role(Role::Viewer),
    ),
    (
        "put",
        "/workspaces/{workspace}/pages/{id}",
        Need::Role(Role::Member),
    ),
    (
        "delete",
        "/workspaces/{workspace}/pages/{id}",
        Need::Role(Role::Member),
    ),
    (
        "put",
        "/workspaces/{workspace}/pages/{id}/password",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/pages/{id}/groups",
        Need::Role(Role::Member),
    ),
    (
        "patch",
        "/workspaces/{workspace}/pages/{id}/groups/{group_id}",
        Need::Role(Role::Member),
    ),
    (
        "delete",
        "/workspaces/{workspace}/pages/{id}/groups/{group_id}",
        Need::Role(Role::Member),
    ),
    (
        "put",
        "/workspaces/{workspace}/pages/{id}/group-order",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/pages/{id}/components",
        Need::Role(Role::Member),
    ),
    (
        "put",
        "/workspaces/{workspace}/pages/{id}/components/{component_id}",
        Need::Role(Role::Member),
    ),
    (
        "delete",
        "/workspaces/{workspace}/pages/{id}/components/{component_id}",
        Need::Role(Role::Member),
    ),
    (
        "put",
        "/workspaces/{workspace}/pages/{id}/component-order",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/incidents/{id}/updates",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/incidents/{id}/resolve",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/maintenance",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/maintenance",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/maintenance/{id}",
        Need::Role(Role::Viewer),
    ),
    (
        "put",
        "/workspaces/{workspace}/maintenance/{id}",
        Need::Role(Role::Member),
    ),
    (
        "delete",
        "/workspaces/{workspace}/maintenance/{id}",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/channels",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/channels",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/channels/{id}",
        Need::Role(Role::Viewer),
    ),
    (
        "put",
        "/workspaces/{workspace}/channels/{id}",
        Need::Role(Role::Member),
    ),
    (
        "delete",
        "/workspaces/{workspace}/channels/{id}",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/channels/{id}/test",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/notifications",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/notifications/{id}/replay",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects",
        Need::Role(Role::Admin),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}",
        Need::Role(Role::Viewer),
    ),
    (
        "patch",
        "/workspaces/{workspace}/projects/{id}",
        Need::Role(Role::Admin),
    ),
    (
        "delete",
        "/workspaces/{workspace}/projects/{id}",
        Need::Role(Role::Admin),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/keys",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/keys",
        Need::Role(Role::Admin),
    ),
    (
        "patch",
        "/workspaces/{workspace}/projects/{id}/keys/{key_id}",
        Need::Role(Role::Admin),
    ),
    (
        "delete",
        "/workspaces/{workspace}/projects/{id}/keys/{key_id}",
        Need::Role(Role::Admin),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/keys/{key_id}/rotate",
        Need::Role(Role::Admin),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/transactions",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/transactions/series",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/releases",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/crons",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/crons/{slug}/check-ins",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/issues",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/issues/resolve",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/issues/ignore",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/issues/unresolve",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/issues/{issue_id}",
        Need::Role(Role::Viewer),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/resolve",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/ignore",
        Need::Role(Role::Member),
    ),
    (
        "post",
        "/workspaces/{workspace}/projects/{id}/issues/{issue_id}/unresolve",
        Need::Role(Role::Member),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/events/{event_id}",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/events/{event_id}/raw",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/events/{event_id}/attachments",
        Need::Role(Role::Viewer),
    ),
    (
        "get",
        "/workspaces/{workspace}/projects/{id}/attachments/{attachment_id}",
        Need::Role(Role::Viewer),
    ),
];

fn rank(r: Role) -> u8 {
    match r {
        Role::Viewer => 0,
        Role::Member => 1,
        Role::Admin => 2,
        _ => 3,
    }
}

fn set_of<'a>(it: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeSet<(String, String)> {
    it.into_iter()
        .map(|(m, p)| (m.to_lowercase(), p.to_owned()))
        .collect()
}

/// The (method, path) pairs of an OpenAPI document.
fn openapi_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_route_table_matches_the_router_and_the_openapi_document() {
    with_store(Backend::Sqlite, route_table_matches).await;
}

async fn route_table_matches(store: &Store) {
    let api = Api::default_config(store);
    let doc = api.call(Call::get("/openapi.json")).await.ok(200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "not OpenAPI 3.1: {}",
        doc["openapi"]
    );
    let documented = openapi_routes(&doc);
    let served = set_of(api::ROUTES.iter().copied());
    let tested = set_of(TABLE.iter().map(|(m, p, _)| (*m, *p)));
    assert_eq!(served.len(), api::ROUTES.len(), "a route is listed twice");
    let missing_doc: Vec<_> = served.difference(&documented).collect();
    assert!(
        missing_doc.is_empty(),
        "routes missing from the OpenAPI document: {missing_doc:?}"
    );
    let extra_doc: Vec<_> = documented.difference(&served).collect();
    assert!(
        extra_doc.is_empty(),
        "documented but not served: {extra_doc:?}"
    );
    let untested: Vec<_> = served.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "routes missing from the test table: {untested:?}"
    );
    let stale: Vec<_> = tested.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "tested routes that are not served: {stale:?}"
    );
    // Every path parameter is documented, in order, as required.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let names: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|p| p.split('}').next())
            .collect();
        for (method, op) in item.as_object().expect("operations") {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: Vec<&Value> = params.iter().filter(|p| p["in"] == "path").collect();
            let documented: Vec<&str> = in_path.iter().filter_map(|p| p["name"].as_str()).collect();
            assert_eq!(documented, names, "path parameters of {method} {path}");
            assert!(
                in_path.iter().all(|p| p["required"] == true),
                "optional path parameter in {method} {path}"
            );
        }
    }
    // Every documented request body and schema reference resolves.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap_or_default();
        assert!(
            schemas.contains_key(name),
            "dangling schema reference {name}"
        );
    }
}

/// A request on `(method, path)` of the table, with ids filled in from `fx`.
fn request(method: &str, template: &str, fx: &Fixture) -> Call {
    let id = if template.contains("/monitors/{id}") {
        fx.monitor
    } else if template.contains("/channels/{id}") {
        fx.channel
    } else if template.contains("/incidents/{id}") {
        fx.incident
    } else if template.contains("/maintenance/{id}") {
        fx.maintenance
    } else if template.contains("/notifications/{id}") {
        fx.notification
    } else if template.contains("/tokens/{id}") {
        fx.token
    } else {
        0
    };
    let path = fx
        .ingest
        .fill(&fx.pages.fill(template))
        .replace("{workspace}", &fx.a.ws.slug)
        .replace("{user_id}", &fx.other_user.to_string())
        .replace("{name}", "eu-1")
        .replace("{id}", &id.to_string());
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let call = Call::new(method.clone(), &path);
    match body_for(&method, template, fx) {
        Some(body) => call.json(&body),
        None => call,
    }
}

/// A valid body for each write, so that a refusal is about who asks, not what is asked.
fn body_for(method: &Method, template: &str, fx: &Fixture) -> Option<Value> {
    let t = template.trim_start_matches("/workspaces/{workspace}");
    Some(match (method.as_str(), t) {
        ("PATCH", "") => json!({"name": "Renamed"}),
        ("POST", "/members") => json!({"email": "new@example.com", "role": "viewer"}),
        ("PATCH", "/members/{user_id}") => json!({"role": "admin"}),
        ("POST", "/tokens") => json!({"name": "more"}),
        ("POST", "/locations") => json!({"name": "made-here"}),
        ("POST", "/locations/{name}/tokens") => json!({"name": "more"}),
        ("POST", "/agent/hello") => json!({
            "location": "eu-1", "agent_id": "a", "version": "1", "protocol": 1
        }),
        ("POST", "/agent/results") => json!({"agent_id": "a", "results": []}),
        ("POST", "/monitors") | ("POST", "/monitors/validate") | ("PUT", "/monitors/{id}") => {
            http_monitor("changed", "http://127.0.0.1:9/")
        }
        ("PUT", "/monitors/{id}/channels") => json!({"channel_ids": []}),
        ("POST", "/incidents/{id}/updates") => {
            json!({"status": "identified", "message": "found it"})
        }
        ("POST", "/maintenance") | ("PUT", "/maintenance/{id}") => json!({
            "title": "changed", "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-01T01:00:00Z", "monitor_ids": [fx.monitor]
        }),
        ("POST", "/channels") | ("PUT", "/channels/{id}") => json!({
            "name": "changed", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}
        }),
        ("POST", "/workspaces") => json!({"slug": "made-here"}),
        ("POST", "/auth/login") => json!({"email": "nobody@example.com", "password": "x"}),
        (m, t) => return fx.ingest.body(m, t).or_else(|| fx.pages.body(m, t)),
    })
}

/// Workspace A with one of everything, and workspace B next door.
struct Fixture {
    a: Tenant,
    b: Tenant,
    b_cookie: String,
    monitor: i64,
    channel: i64,
    incident: i64,
    maintenance: i64,
    notification: i64,
    token: i64,
    other_user: i64,
    ingest: crate::projects::IngestFixture,
    pages: crate::pages::PagesFixture,
}

async fn fixture(store: &Store, api: &Api) -> Fixture {
    let a = tenant(store, "acme").await;
    let b = tenant(store, "bravo").await;
    let now = bitwobbly_server::Clock.now();
    let monitor = api
        .call(
            Call::post(&a.path("/monitors"))
                .bearer(&a.owner_token)
                .json(&http_monitor("api", "http://127.0.0.1:9/")),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .expect("monitor id");
    let channel = api
        .call(
            Call::post(&a.path("/channels"))
                .bearer(&a.owner_token)
                .json(&json!({
                    "name": "hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}
                })),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .expect("channel id");
    api.call(
        Call::put(&a.path(&format!("/monitors/{monitor}/channels")))
            .bearer(&a.owner_token)
            .json(&json!({"channel_ids": [channel]})),
    )
    .await
    .ok(200);
    let maintenance = api
        .call(
            Call::post(&a.path("/maintenance"))
                .bearer(&a.owner_token)
                .json(&json!({
                    "title": "upgrade", "starts_at": "2030-01-01T00:00:00Z",
                    "ends_at": "2030-01-01T02:00:00Z", "monitor_ids": [monitor]
                })),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .expect("maintenance id");
    let incident = store
        .workspace(a.ws.id)
        .open_incident(&NewIncident {
            monitor_id: Some(MonitorId(monitor)),
            kind: IncidentKind::Automatic,
            title: "api down".into(),
            status: IncidentStatus::Investigating,
            impact: Impact::Major,
            message: "2 failures".into(),
            started_at: now,
        })
        .await
        .expect("incident")
        .id
        .0;
    let note = store
        .workspace(a.ws.id)
        .enqueue_notification(
            &NewNotification {
                channel_id: ChannelId(channel),
                event: "incident.opened".into(),
                payload: json!({"title": "api down"}),
                not_before: now,
            },
            now,
        )
        .await
        .expect("notification");
    let claimed = store
        .global()
        .claim_notifications("test-node", now, std::time::Duration::from_secs(60), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    store
        .global()
        .mark_dead(note.id, "test-node", now, "receiver gone")
        .await
        .expect("dead");
    let (token, _) = store
        .workspace(a.ws.id)
        .create_api_token("ci", Role::Member, None, now, None)
        .await
        .expect("token");
    let eu = store
        .workspace(a.ws.id)
        .create_location("eu-1", now)
        .await
        .expect("location");
    store
        .workspace(a.ws.id)
        .create_agent_token(eu.id, "agent", now)
        .await
        .expect("agent token");
    let other = store
        .global()
        .create_user("colleague@example.com", "Colleague", PASSWORD, now)
        .await
        .expect("user");
    store
        .workspace(a.ws.id)
        .set_member(other.id, Role::Member, now)
        .await
        .expect("member");
    store
        .global()
        .create_user("new@example.com", "New", PASSWORD, now)
        .await
        .expect("user");
    let ingest = crate::projects::ingest_fixture(store, api, &a).await;
    let pages = crate::pages::pages_fixture(api, &a).await;
    let session = api.call(login(&b.owner.email, PASSWORD)).await;
    session.ok(200);
    Fixture {
        ingest,
        pages,
        b_cookie: cookie_of(&session),
        a,
        b,
        monitor,
        channel,
        incident,
        maintenance,
        notification: note.id.0,
        token: token.id.0,
        other_user: other.id.0,
    }
}

/// Everything workspace `ws` holds, as text (times of last use left out).
async fn snapshot(store: &Store, ws: WorkspaceId) -> String {
    let mut s = store.workspace(ws);
    let mut out = String::new();
    let w = store.global().workspace(ws).await.expect("ws");
    out += &format!("{w:?}\n");
    for m in s.monitors().await.expect("monitors") {
        out += &format!("{m:?}\n");
        let q = ResultQuery {
            monitor_id: m.id,
            from: Timestamp::EPOCH,
            to: Timestamp::from_millis(i64::MAX),
            order: Order::Ascending,
            limit: 1000,
            after: None,
        };
        out += &format!(
            "results {}\n",
            s.results(&q).await.expect("results").items.len()
        );
        out += &format!(
            "channels {:?}\n",
            s.channels_for_monitor(m.id).await.expect("links")
        );
    }
    for st in s.monitor_states().await.expect("states") {
        out += &format!("{:?} {:?} {:?}\n", st.monitor_id, st.status, st.next_run_at);
    }
    out += &format!("{:?}\n", s.channels().await.expect("channels"));
    for i in s.incidents(false, 100).await.expect("incidents") {
        out += &format!(
            "{i:?} {:?}\n",
            s.incident_updates(i.id).await.expect("updates")
        );
    }
    out += &format!(
        "{:?}\n",
        s.maintenances(Timestamp::from_millis(i64::MIN))
            .await
            .expect("maint")
    );
    out += &crate::pages::pages_snapshot(store, ws).await;
    out += &format!("{:?}\n", s.members().await.expect("members"));
    for mut t in s.api_tokens().await.expect("tokens") {
        t.last_used_at = None;
        out += &format!("{t:?}\n");
    }
    for l in s.locations().await.expect("locations") {
        out += &format!(
            "{l:?} {:?}\n",
            s.agent_tokens(l.id).await.expect("agent tokens")
        );
    }
    out += &format!(
        "{:?}\n",
        s.notifications(None, 100).await.expect("notifications")
    );
    out += &crate::projects::ingest_snapshot(store, ws).await;
    out
}

async fn foreign_callers_get_404_and_change_nothing(store: &Store) {
    let api = Api::default_config(store);
    let fx = fixture(store, &api).await;
    let before = snapshot(store, fx.a.ws.id).await;
    let before_b = snapshot(store, fx.b.ws.id).await;
    let mut checked = 0;
    for (method, template, need) in TABLE {
        if !matches!(need, Need::Role(_)) {
            continue;
        }
        let by_token = api
            .call(request(method, template, &fx).bearer(&fx.b.owner_token))
            .await;
        let e = by_token.error(404, "not_found");
        assert_eq!(
            e["message"], "workspace not found",
            "{method} {template} with another workspace's token"
        );
        let by_session = api
            .call(
                request(method, template, &fx)
                    .header("cookie", &fx.b_cookie)
                    .header("origin", "http://127.0.0.1:8080"),
            )
            .await;
        let e = by_session.error(404, "not_found");
        assert_eq!(
            e["message"], "workspace not found",
            "{method} {template} by a user who is not a member"
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} workspace routes");
    assert_eq!(
        snapshot(store, fx.a.ws.id).await,
        before,
        "workspace A changed"
    );
    assert_eq!(
        snapshot(store, fx.b.ws.id).await,
        before_b,
        "workspace B changed"
    );
    // A workspace that does not exist answers the same.
    let r = api
        .call(Call::get("/workspaces/nowhere/monitors").bearer(&fx.b.owner_token))
        .await;
    assert_eq!(r.error(404, "not_found")["message"], "workspace not found");
}

async fn roles_too_low_get_403_and_change_nothing(store: &Store) {
    let api = Api::default_config(store);
    let fx = fixture(store, &api).await;
    let before = snapshot(store, fx.a.ws.id).await;
    let mut refused = 0;
    for (method, template, need) in TABLE {
        let Need::Role(need) = *need else { continue };
        for role in [Role::Viewer, Role::Member, Role::Admin] {
            if rank(role) >= rank(need) {
                continue;
            }
            let r = api
                .call(request(method, template, &fx).bearer(fx.a.token(role)))
                .await;
            let body = r.json();
            assert_eq!(
                (r.status.as_u16(), body["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "{method} {template} as {role}: {body}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 30, "only {refused} refusals");
    assert_eq!(
        snapshot(store, fx.a.ws.id).await,
        before,
        "a refused call changed something"
    );
    // Reads are open to viewers.
    for (method, template, need) in TABLE {
        if *need != Need::Role(Role::Viewer) {
            continue;
        }
        let r = api
            .call(request(method, template, &fx).bearer(&fx.a.viewer_token))
            .await;
        assert!(
            r.status.is_success(),
            "{method} {template} as viewer: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
}

async fn every_route_is_served_and_needs_credentials(store: &Store) {
    let api = Api::default_config(store);
    let fx = fixture(store, &api).await;
    for (method, template, need) in TABLE {
        // A token that is not one: a served route that needs a caller says 401; only the
        // fallback would say "route not found".
        let r = api
            .call(request(method, template, &fx).bearer("bw_000000000000_nope"))
            .await;
        let body = r.json();
        match need {
            Need::Public => assert!(
                body["error"]["message"] != "route not found" && r.status.as_u16() != 405,
                "{method} {template}: {body}"
            ),
            _ => {
                r.error(401, "unauthorized");
            }
        }
        // And without any credentials.
        if *need != Need::Public {
            let r = api.call(request(method, template, &fx)).await;
            r.error(401, "unauthorized");
        }
    }
}

both!(
    foreign_callers_get_404_and_change_nothing,
    roles_too_low_get_403_and_change_nothing,
    every_route_is_served_and_needs_credentials,
);
