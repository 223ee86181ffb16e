//! Status pages: settings, domains, password, groups and components; manual incidents with
//! component statuses and the review of automatic incidents.

use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use serde_json::{Value, json};

use crate::harness::{Api, Call, Tenant, both, create_monitor, tenant};

fn page_body(slug: &str) -> Value {
    json!({
        "slug": slug,
        "title": "Acme status",
        "description": "Everything Acme runs",
        "logo_url": "https://cdn.example.com/logo.png",
        "theme": "dark",
        "footer_links": [{"label": "Home", "url": "https://example.com/"}],
        "domains": ["Status.Acme.test", "status.acme.example"],
        "time_zone": "Europe/Berlin",
        "hold_auto_incidents": true,
    })
}

async fn create_page(api: &Api, t: &Tenant, slug: &str) -> Value {
    let mut body = page_body(slug);
    body["domains"] = json!([]);
    api.call(
        Call::post(&t.path("/pages"))
            .bearer(&t.member_token)
            .json(&body),
    )
    .await
    .ok(201)
}

async fn pages_are_created_read_replaced_and_deleted(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let created = api
        .call(
            Call::post(&t.path("/pages"))
                .bearer(&t.member_token)
                .json(&page_body("acme")),
        )
        .await
        .ok(201);
    assert_eq!(created["slug"], "acme");
    assert_eq!(created["theme"], "dark");
    assert_eq!(
        created["domains"],
        json!(["status.acme.example", "status.acme.test"])
    );
    assert_eq!(created["footer_links"][0]["url"], "https://example.com/");
    assert_eq!(created["time_zone"], "Europe/Berlin");
    assert_eq!(created["hold_auto_incidents"], true);
    assert_eq!(created["password_protected"], false);
    assert_eq!(created["public"], true);
    assert_eq!(created["groups"], json!([]));
    assert_eq!(created["components"], json!([]));
    let id = created["id"].as_i64().unwrap();
    let path = t.path(&format!("/pages/{id}"));

    // Slugs and domains are taken across workspaces.
    let b = tenant(store, "bravo").await;
    let e = api
        .call(
            Call::post(&b.path("/pages"))
                .bearer(&b.member_token)
                .json(&page_body("acme")),
        )
        .await
        .error(409, "conflict");
    assert_eq!(e["field"], "slug");
    let mut only_domain = page_body("bravo");
    only_domain["domains"] = json!(["STATUS.acme.test"]);
    let e = api
        .call(
            Call::post(&b.path("/pages"))
                .bearer(&b.member_token)
                .json(&only_domain),
        )
        .await
        .error(409, "conflict");
    assert_eq!(e["field"], "domains[0]");
    let list = api
        .call(Call::get(&b.path("/pages")).bearer(&b.viewer_token))
        .await
        .ok(200);
    assert_eq!(list, json!([]), "nothing half-written");

    // Replace: defaults for what is left out, the password stays.
    api.call(
        Call::put(&format!("{path}/password"))
            .bearer(&t.member_token)
            .json(&json!({"password": "open sesame"})),
    )
    .await
    .ok(200);
    let replaced = api
        .call(
            Call::put(&path)
                .bearer(&t.member_token)
                .json(&json!({"slug": "acme-status", "title": "Acme", "public": false})),
        )
        .await
        .ok(200);
    assert_eq!(replaced["slug"], "acme-status");
    assert_eq!(replaced["theme"], "system");
    assert_eq!(replaced["domains"], json!([]));
    assert_eq!(replaced["time_zone"], "UTC");
    assert_eq!(replaced["public"], false);
    assert_eq!(replaced["password_protected"], true);
    let got = api
        .call(Call::get(&path).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(got["slug"], "acme-status");
    assert!(
        store
            .global()
            .verify_status_page_password(StatusPageId(id), "open sesame")
            .await
            .unwrap()
    );

    // Password: too short is refused, null opens the page.
    let e = api
        .call(
            Call::put(&format!("{path}/password"))
                .bearer(&t.member_token)
                .json(&json!({"password": "short"})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "password");
    let opened = api
        .call(
            Call::put(&format!("{path}/password"))
                .bearer(&t.member_token)
                .json(&json!({"password": null})),
        )
        .await
        .ok(200);
    assert_eq!(opened["password_protected"], false);
    assert!(opened["password_set_at"].is_null());

    let d = api.call(Call::delete(&path).bearer(&t.member_token)).await;
    assert_eq!(d.status.as_u16(), 204);
    api.call(Call::get(&path).bearer(&t.viewer_token))
        .await
        .error(404, "not_found");
}

async fn bad_page_settings_name_their_field(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"slug": "Not A Slug"}), "slug"),
        (json!({"slug": ""}), "slug"),
        (json!({"title": " "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"description": "x".repeat(6000)}), "description"),
        (json!({"logo_url": "javascript:alert(1)"}), "logo_url"),
        (
            json!({"logo_url": "https://u:p@example.com/x.png"}),
            "logo_url",
        ),
        (json!({"theme": "neon"}), "theme"),
        (
            json!({"footer_links": [{"label": "ok", "url": "https://a.example"},
                                    {"label": "bad", "url": "data:text/html,hi"}]}),
            "footer_links[1].url",
        ),
        (
            json!({"footer_links": [{"label": "", "url": "https://a.example"}]}),
            "footer_links[0].label",
        ),
        (
            json!({"domains": ["ok.example.com", "bad domain.example.com"]}),
            "domains[1]",
        ),
        (
            json!({"domains": ["a.example.com", "A.example.com"]}),
            "domains[1]",
        ),
        (json!({"domains": ["127.0.0.1"]}), "domains[0]"),
        (
            json!({"domains": ["status.example.com:8443"]}),
            "domains[0]",
        ),
        (
            json!({"domains": [format!("{}.com", "a".repeat(300))]}),
            "domains[0]",
        ),
        (
            json!({"domains": (0..21).map(|i| format!("s{i}.example.com")).collect::<Vec<_>>()}),
            "domains",
        ),
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"hold_auto_incidents": "yes"}), "hold_auto_incidents"),
    ];
    for (patch, field) in cases {
        let mut body = json!({"slug": "acme", "title": "Acme"});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let e = api
            .call(
                Call::post(&t.path("/pages"))
                    .bearer(&t.member_token)
                    .json(&body),
            )
            .await
            .error(422, "validation_failed");
        assert_eq!(e["field"], field, "{body}");
    }
    let e = api
        .call(
            Call::post(&t.path("/pages"))
                .bearer(&t.member_token)
                .json(&json!({"slug": "acme", "title": "Acme", "custom_domain": "x.example"})),
        )
        .await
        .error(422, "unknown_field");
    assert_eq!(e["field"], "custom_domain");
    api.call(
        Call::post(&t.path("/pages"))
            .bearer(&t.member_token)
            .raw(Some("application/json"), "{\"slug\": "),
    )
    .await
    .error(400, "invalid_json");
    api.call(Call::get(&t.path("/pages/99999")).bearer(&t.viewer_token))
        .await
        .error(404, "not_found");
    api.call(Call::get(&t.path("/pages/not-a-number")).bearer(&t.viewer_token))
        .await
        .error(404, "not_found");
    let list = api
        .call(Call::get(&t.path("/pages")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(list, json!([]));
}

async fn groups_and_components_are_managed_in_order(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let page = create_page(&api, &t, "acme").await;
    let pid = page["id"].as_i64().unwrap();
    let other_page = create_page(&api, &t, "acme-two").await;
    let other_pid = other_page["id"].as_i64().unwrap();
    let p = |rest: &str| t.path(&format!("/pages/{pid}{rest}"));
    let m = create_monitor(&api, &t, "api", "http://127.0.0.1:9/").await;
    let mid = m["id"].as_i64().unwrap();
    let post = |path: String, body: Value| Call::post(&path).bearer(&t.member_token).json(&body);

    let core = api
        .call(post(p("/groups"), json!({"name": "Core"})))
        .await
        .ok(201);
    let edge = api
        .call(post(p("/groups"), json!({"name": "Edge"})))
        .await
        .ok(201);
    assert_eq!(
        (core["position"].as_i64(), edge["position"].as_i64()),
        (Some(0), Some(1))
    );
    let (core_id, edge_id) = (core["id"].as_i64().unwrap(), edge["id"].as_i64().unwrap());
    let e = api
        .call(post(p("/groups"), json!({"name": ""})))
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "name");
    let renamed = api
        .call(
            Call::patch(&p(&format!("/groups/{core_id}")))
                .bearer(&t.member_token)
                .json(&json!({"name": "Core services", "position": 5})),
        )
        .await
        .ok(200);
    assert_eq!(renamed["name"], "Core services");
    assert_eq!(renamed["position"], 1, "moved to the end");
    let order = api
        .call(
            Call::put(&p("/group-order"))
                .bearer(&t.member_token)
                .json(&json!({"ids": [core_id]})),
        )
        .await
        .ok(200);
    let ids: Vec<i64> = order
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![core_id, edge_id], "ones left out follow");
    for (ids, field) in [
        (json!([core_id, core_id]), "ids[1]"),
        (json!([99_999]), "ids[0]"),
    ] {
        let e = api
            .call(
                Call::put(&p("/group-order"))
                    .bearer(&t.member_token)
                    .json(&json!({"ids": ids})),
            )
            .await
            .error(422, "validation_failed");
        assert_eq!(e["field"], field);
    }
    // A group of this page is not reachable through another page.
    api.call(
        Call::patch(&t.path(&format!("/pages/{other_pid}/groups/{core_id}")))
            .bearer(&t.member_token)
            .json(&json!({"name": "x"})),
    )
    .await
    .error(404, "not_found");

    // Components: monitor-backed, and manual with a status.
    let api_c = api
        .call(post(
            p("/components"),
            json!({"name": "API", "group_id": core_id, "monitor_id": mid,
                   "show_response_times": true}),
        ))
        .await
        .ok(201);
    assert_eq!(api_c["show_uptime"], true);
    assert_eq!(api_c["show_response_times"], true);
    assert_eq!(api_c["monitor_id"], mid);
    let db = api
        .call(post(
            p("/components"),
            json!({"name": "Database", "status": "partial_outage", "show_uptime": false}),
        ))
        .await
        .ok(201);
    assert_eq!(db["status"], "partial_outage");
    assert_eq!(db["position"], 1);
    let (api_id, db_id) = (api_c["id"].as_i64().unwrap(), db["id"].as_i64().unwrap());
    let e = api
        .call(post(
            p("/components"),
            json!({"name": "API 2", "monitor_id": mid, "status": "major_outage"}),
        ))
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "status");
    let other_group = api
        .call(post(
            t.path(&format!("/pages/{other_pid}/groups")),
            json!({"name": "Elsewhere"}),
        ))
        .await
        .ok(201);
    for (body, field) in [
        (
            json!({"name": "x", "group_id": other_group["id"]}),
            "group_id",
        ),
        (json!({"name": "x", "monitor_id": 99_999}), "monitor_id"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "status": "on_fire"}), "status"),
        (
            json!({"name": "x", "description": "d".repeat(6000)}),
            "description",
        ),
    ] {
        let e = api
            .call(post(p("/components"), body.clone()))
            .await
            .error(422, "validation_failed");
        assert_eq!(e["field"], field, "{body}");
    }
    let updated = api
        .call(
            Call::put(&p(&format!("/components/{db_id}")))
                .bearer(&t.member_token)
                .json(&json!({"name": "Primary DB", "group_id": edge_id, "status": "operational"})),
        )
        .await
        .ok(200);
    assert_eq!(updated["name"], "Primary DB");
    assert_eq!(updated["status"], "operational");
    assert_eq!(updated["show_uptime"], false, "kept when left out");
    assert_eq!(updated["position"], 1, "kept when left out");
    let order = api
        .call(
            Call::put(&p("/component-order"))
                .bearer(&t.member_token)
                .json(&json!({"ids": [db_id, api_id]})),
        )
        .await
        .ok(200);
    assert_eq!(order[0]["id"], db_id);
    let detail = api
        .call(Call::get(&p("")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(detail["components"][0]["id"], db_id);
    assert_eq!(detail["groups"].as_array().unwrap().len(), 2);
    api.call(
        Call::delete(&t.path(&format!("/pages/{other_pid}/components/{db_id}")))
            .bearer(&t.member_token),
    )
    .await
    .error(404, "not_found");
    let d = api
        .call(Call::delete(&p(&format!("/groups/{edge_id}"))).bearer(&t.member_token))
        .await;
    assert_eq!(d.status.as_u16(), 204);
    let detail = api
        .call(Call::get(&p("")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert!(
        detail["components"][0]["group_id"].is_null(),
        "ungrouped, kept"
    );
    let d = api
        .call(Call::delete(&p(&format!("/components/{db_id}"))).bearer(&t.member_token))
        .await;
    assert_eq!(d.status.as_u16(), 204);
    let detail = api
        .call(Call::get(&p("")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(detail["components"].as_array().unwrap().len(), 1);
}

async fn manual_incidents_carry_component_statuses(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let page = create_page(&api, &t, "acme").await;
    let pid = page["id"].as_i64().unwrap();
    let db = api
        .call(
            Call::post(&t.path(&format!("/pages/{pid}/components")))
                .bearer(&t.member_token)
                .json(&json!({"name": "Database"})),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let created = api
        .call(
            Call::post(&t.path("/incidents"))
                .bearer(&t.member_token)
                .json(&json!({
                    "title": "Database slow", "impact": "minor", "message": "Looking into it",
                    "components": [{"component_id": db, "status": "degraded_performance"}],
                })),
        )
        .await
        .ok(201);
    assert_eq!(created["kind"], "manual");
    assert_eq!(created["status"], "investigating");
    assert_eq!(created["impact"], "minor");
    assert_eq!(created["published"], true);
    assert_eq!(
        created["components"],
        json!([{"component_id": db, "status": "degraded_performance"}])
    );
    assert_eq!(
        created["updates"][0]["components"][0]["new_status"],
        "degraded_performance"
    );
    let path = t.path(&format!("/incidents/{}", created["id"]));
    let upd = api
        .call(
            Call::post(&format!("{path}/updates"))
                .bearer(&t.member_token)
                .json(&json!({
                    "status": "identified", "message": "Disk full",
                    "components": [{"component_id": db, "status": "major_outage"}],
                })),
        )
        .await
        .ok(201);
    assert_eq!(upd["status"], "identified");
    assert_eq!(
        upd["updates"][1]["components"],
        json!([{"component_id": db, "old_status": "degraded_performance",
                "new_status": "major_outage"}])
    );
    assert_eq!(upd["components"][0]["status"], "major_outage");
    let edited = api
        .call(
            Call::patch(&path)
                .bearer(&t.member_token)
                .json(&json!({"impact": "critical"})),
        )
        .await
        .ok(200);
    assert_eq!(
        (edited["impact"].as_str(), edited["title"].as_str()),
        (Some("critical"), Some("Database slow"))
    );
    let resolved = api
        .call(
            Call::post(&format!("{path}/updates"))
                .bearer(&t.member_token)
                .json(&json!({
                    "status": "resolved", "message": "Fixed",
                    "components": [{"component_id": db, "status": "operational"}],
                })),
        )
        .await
        .ok(201);
    assert!(resolved["resolved_at"].is_string());

    // The public page shows it, through the store's page query.
    let shown = store
        .workspace(t.ws.id)
        .page_incidents(
            StatusPageId(pid),
            &PageIncidentQuery {
                open_only: false,
                from: None,
                to: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].updates.len(), 3);

    // Bad input names its field; another workspace's component is not there.
    let b = tenant(store, "bravo").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"title": "", "impact": "minor", "message": "m"}),
            "title",
        ),
        (
            json!({"title": "t", "impact": "huge", "message": "m"}),
            "impact",
        ),
        (
            json!({"title": "t", "impact": "minor", "message": " "}),
            "message",
        ),
        (
            json!({"title": "t", "impact": "minor", "message": "m", "status": "postmortem"}),
            "status",
        ),
        (
            json!({"title": "t", "impact": "minor", "message": "m",
                   "components": [{"component_id": db, "status": "major_outage"}]}),
            "components[0].component_id",
        ),
        (
            json!({"title": "t", "impact": "minor", "message": "x".repeat(10_001)}),
            "message",
        ),
    ];
    for (body, field) in cases {
        let e = api
            .call(
                Call::post(&b.path("/incidents"))
                    .bearer(&b.member_token)
                    .json(&body),
            )
            .await
            .error(422, "validation_failed");
        assert_eq!(e["field"], field, "{body}");
    }
    let e = api
        .call(
            Call::post(&t.path("/incidents"))
                .bearer(&t.member_token)
                .json(&json!({"title": "t", "impact": "minor", "message": "m",
                    "components": [{"component_id": db, "status": "major_outage"},
                                   {"component_id": db, "status": "partial_outage"}]})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "components[1].component_id");
    let none = api
        .call(Call::get(&b.path("/incidents")).bearer(&b.viewer_token))
        .await
        .ok(200);
    assert_eq!(none, json!([]));
}

async fn automatic_incidents_wait_for_review_on_holding_pages(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let page = create_page(&api, &t, "acme").await;
    assert_eq!(page["hold_auto_incidents"], true);
    let pid = page["id"].as_i64().unwrap();
    let m = create_monitor(&api, &t, "api", "http://127.0.0.1:9/").await;
    let mid = MonitorId(m["id"].as_i64().unwrap());
    api.call(
        Call::post(&t.path(&format!("/pages/{pid}/components")))
            .bearer(&t.member_token)
            .json(&json!({"name": "API", "monitor_id": mid.0})),
    )
    .await
    .ok(201);
    let inc = store
        .workspace(t.ws.id)
        .open_incident(&NewIncident {
            monitor_id: Some(mid),
            kind: IncidentKind::Automatic,
            title: "api down".into(),
            status: IncidentStatus::Investigating,
            impact: Impact::Major,
            message: "3 failures".into(),
            started_at: Clock.now(),
        })
        .await
        .unwrap();
    let q = PageIncidentQuery {
        open_only: true,
        from: None,
        to: None,
        limit: 10,
    };
    let shown = |store: &Store| {
        let store = store.clone();
        async move {
            store
                .workspace(t.ws.id)
                .page_incidents(StatusPageId(pid), &q)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(shown(store).await, 0, "held for review");
    let got = api
        .call(Call::get(&t.path(&format!("/incidents/{}", inc.id.0))).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(got["published"], false);
    assert_eq!(got["components"][0]["status"], "major_outage");
    api.call(
        Call::post(&t.path(&format!("/incidents/{}/publish", inc.id.0))).bearer(&t.viewer_token),
    )
    .await
    .error(403, "forbidden");
    let published = api
        .call(
            Call::post(&t.path(&format!("/incidents/{}/publish", inc.id.0)))
                .bearer(&t.member_token),
        )
        .await
        .ok(200);
    assert_eq!(published["published"], true);
    assert_eq!(shown(store).await, 1);
    api.call(Call::post(&t.path("/incidents/99999/publish")).bearer(&t.member_token))
        .await
        .error(404, "not_found");
}

async fn every_change_shows_on_the_cached_page(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let mut body = page_body("acme");
    body["domains"] = json!([]);
    body["hold_auto_incidents"] = json!(false);
    let pid = api
        .call(
            Call::post(&t.path("/pages"))
                .bearer(&t.member_token)
                .json(&body),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let p = |rest: &str| t.path(&format!("/pages/{pid}{rest}"));
    let group = api
        .call(
            Call::post(&p("/groups"))
                .bearer(&t.member_token)
                .json(&json!({"name": "Core"})),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let db = api
        .call(
            Call::post(&p("/components"))
                .bearer(&t.member_token)
                .json(&json!({"name": "DB", "group_id": group})),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let state = api.state();
    let snapshot = || async {
        let page = store
            .global()
            .status_page_by_slug("acme")
            .await
            .unwrap()
            .expect("page");
        state.pages.snapshot(state, &page).await.unwrap()
    };
    let first = snapshot().await;
    assert_eq!(first.components[0].name, "DB");
    assert_eq!(first.components[0].status, ComponentStatus::Operational);
    assert!(std::sync::Arc::ptr_eq(&first, &snapshot().await), "cached");

    api.call(
        Call::put(&p(&format!("/components/{db}")))
            .bearer(&t.member_token)
            .json(&json!({"name": "Database", "group_id": group, "status": "major_outage"})),
    )
    .await
    .ok(200);
    let s = snapshot().await;
    assert_eq!(s.components[0].name, "Database");
    assert_eq!(s.components[0].status, ComponentStatus::MajorOutage);

    api.call(
        Call::patch(&p(&format!("/groups/{group}")))
            .bearer(&t.member_token)
            .json(&json!({"name": "Core services"})),
    )
    .await
    .ok(200);
    assert_eq!(snapshot().await.groups[0].name, "Core services");

    let inc = api
        .call(
            Call::post(&t.path("/incidents"))
                .bearer(&t.member_token)
                .json(
                    &json!({"title": "Database down", "impact": "major", "message": "Looking",
                    "components": [{"component_id": db, "status": "major_outage"}]}),
                ),
        )
        .await
        .ok(201);
    let s = snapshot().await;
    assert_eq!(s.active_incidents.len(), 1);
    assert_eq!(s.active_incidents[0].title, "Database down");
    api.call(
        Call::post(&t.path(&format!("/incidents/{}/resolve", inc["id"]))).bearer(&t.member_token),
    )
    .await
    .ok(200);
    assert!(snapshot().await.active_incidents.is_empty());

    api.call(
        Call::post(&t.path("/maintenance"))
            .bearer(&t.member_token)
            .json(
                &json!({"title": "Upgrade", "starts_at": "2030-01-01T00:00:00Z",
                "ends_at": "2030-01-01T01:00:00Z", "component_ids": [db]}),
            ),
    )
    .await
    .ok(201);
    assert_eq!(snapshot().await.maintenances.len(), 1);

    api.call(Call::delete(&p(&format!("/components/{db}"))).bearer(&t.member_token))
        .await;
    assert!(snapshot().await.components.is_empty());
}

/// A page with a group and a component, for the route table (`routes.rs`).
pub(crate) struct PagesFixture {
    pub(crate) page: i64,
    pub(crate) group: i64,
    pub(crate) component: i64,
}

/// Makes the [`PagesFixture`] in workspace `t`.
pub(crate) async fn pages_fixture(api: &Api, t: &Tenant) -> PagesFixture {
    let call = |path: String, body: Value| {
        Call::post(&t.path(&path))
            .bearer(&t.owner_token)
            .json(&body)
    };
    let page = api
        .call(call(
            "/pages".into(),
            json!({"slug": "acme-status", "title": "Acme"}),
        ))
        .await
        .ok(201)["id"]
        .as_i64()
        .expect("page id");
    let group = api
        .call(call(
            format!("/pages/{page}/groups"),
            json!({"name": "Core"}),
        ))
        .await
        .ok(201)["id"]
        .as_i64()
        .expect("group id");
    let component = api
        .call(call(
            format!("/pages/{page}/components"),
            json!({"name": "API", "group_id": group}),
        ))
        .await
        .ok(201)["id"]
        .as_i64()
        .expect("component id");
    PagesFixture {
        page,
        group,
        component,
    }
}

impl PagesFixture {
    /// Fills the page, group and component ids into a route template.
    pub(crate) fn fill(&self, path: &str) -> String {
        path.replace("/pages/{id}", &format!("/pages/{}", self.page))
            .replace("{group_id}", &self.group.to_string())
            .replace("{component_id}", &self.component.to_string())
    }

    /// A valid body for the page and manual-incident writes (`t` is the path after the
    /// workspace).
    pub(crate) fn body(&self, method: &str, t: &str) -> Option<Value> {
        Some(match (method, t) {
            ("POST", "/incidents") => json!({
                "title": "manual", "impact": "minor", "message": "looking",
                "components": [{"component_id": self.component, "status": "partial_outage"}]
            }),
            ("PATCH", "/incidents/{id}") => json!({"title": "renamed", "impact": "critical"}),
            ("POST", "/pages") | ("PUT", "/pages/{id}") => json!({
                "slug": "made-here", "title": "Made here", "domains": ["made.example.com"]
            }),
            ("PUT", "/pages/{id}/password") => json!({"password": "open sesame"}),
            ("POST", "/pages/{id}/groups") | ("PATCH", "/pages/{id}/groups/{group_id}") => {
                json!({"name": "changed"})
            }
            ("PUT", "/pages/{id}/group-order") => json!({"ids": [self.group]}),
            ("POST", "/pages/{id}/components")
            | ("PUT", "/pages/{id}/components/{component_id}") => {
                json!({"name": "changed", "status": "major_outage"})
            }
            ("PUT", "/pages/{id}/component-order") => json!({"ids": [self.component]}),
            _ => return None,
        })
    }
}

/// Everything a workspace's pages hold, as text (for the route table's "changed nothing").
pub(crate) async fn pages_snapshot(store: &Store, ws: WorkspaceId) -> String {
    let mut s = store.workspace(ws);
    let mut out = String::new();
    for p in s.status_pages().await.expect("pages") {
        out += &format!(
            "{p:?}\n{:?}\n",
            s.component_groups(p.id).await.expect("groups")
        );
        out += &format!("{:?}\n", s.components(p.id).await.expect("components"));
    }
    for i in s.incidents(false, 100).await.expect("incidents") {
        let affected = s.incident_component_statuses(i.id).await.expect("affected");
        out += &format!("{affected:?}\n");
    }
    out
}

both!(
    every_change_shows_on_the_cached_page,
    pages_are_created_read_replaced_and_deleted,
    bad_page_settings_name_their_field,
    groups_and_components_are_managed_in_order,
    manual_incidents_carry_component_statuses,
    automatic_incidents_wait_for_review_on_holding_pages,
);
