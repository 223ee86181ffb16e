//! Incidents with their timelines, and maintenance windows.

use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use serde_json::json;

use crate::harness::{Api, Call, both, create_monitor, tenant};

async fn incidents_have_a_timeline_and_resolve_by_hand(store: &Store) {
    let api = Api::default_config(store);
    let t = tenant(store, "acme").await;
    let m = create_monitor(&api, &t, "api", "http://127.0.0.1:9/").await;
    let monitor = MonitorId(m["id"].as_i64().unwrap());
    let now = Clock.now();
    let open = |title: &str| NewIncident {
        monitor_id: Some(monitor),
        kind: IncidentKind::Automatic,
        title: title.into(),
        status: IncidentStatus::Investigating,
        impact: Impact::Major,
        message: "3 failures in a row".into(),
        started_at: now,
    };
    let old = store
        .workspace(t.ws.id)
        .open_incident(&open("earlier outage"))
        .await
        .unwrap();
    store
        .workspace(t.ws.id)
        .resolve_incident(old.id, now, "recovered")
        .await
        .unwrap();
    let inc = store
        .workspace(t.ws.id)
        .open_incident(&open("api down"))
        .await
        .unwrap();

    let all = api
        .call(Call::get(&t.path("/incidents")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let open_only = api
        .call(Call::get(&t.path("/incidents?open=true")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(open_only.as_array().unwrap().len(), 1);
    assert_eq!(open_only[0]["id"], inc.id.0);
    assert_eq!(open_only[0]["status"], "investigating");
    assert_eq!(open_only[0]["impact"], "major");
    let limited = api
        .call(Call::get(&t.path("/incidents?limit=1")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(limited.as_array().unwrap().len(), 1);
    let of_monitor = api
        .call(
            Call::get(&t.path(&format!("/monitors/{}/incidents", monitor.0)))
                .bearer(&t.viewer_token),
        )
        .await
        .ok(200);
    assert_eq!(of_monitor.as_array().unwrap().len(), 2);

    let path = t.path(&format!("/incidents/{}", inc.id.0));
    let got = api
        .call(Call::get(&path).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert_eq!(got["title"], "api down");
    assert_eq!(got["updates"].as_array().unwrap().len(), 1);
    assert_eq!(got["updates"][0]["message"], "3 failures in a row");

    let upd = api
        .call(
            Call::post(&format!("{path}/updates"))
                .bearer(&t.member_token)
                .json(&json!({"status": "identified", "message": "the database is full"})),
        )
        .await
        .ok(201);
    assert_eq!(upd["status"], "identified");
    let msgs: Vec<_> = upd["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, ["3 failures in a row", "the database is full"]);
    let e = api
        .call(
            Call::post(&format!("{path}/updates"))
                .bearer(&t.member_token)
                .json(&json!({"status": "identified", "message": " "})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "message");

    // Resolve with an empty body.
    let done = api
        .call(Call::post(&format!("{path}/resolve")).bearer(&t.member_token))
        .await
        .ok(200);
    assert_eq!(done["status"], "resolved");
    assert!(done["resolved_at"].is_string());
    assert_eq!(
        done["updates"].as_array().unwrap().last().unwrap()["message"],
        "Resolved manually."
    );
    api.call(Call::post(&format!("{path}/resolve")).bearer(&t.member_token))
        .await
        .error(409, "conflict");
    let open_only = api
        .call(Call::get(&t.path("/incidents?open=true")).bearer(&t.viewer_token))
        .await
        .ok(200);
    assert!(open_only.as_array().unwrap().is_empty());

    // Posting `resolved` as an update resolves too, with its message.
    let third = store
        .workspace(t.ws.id)
        .open_incident(&open("again"))
        .await
        .unwrap();
    let r = api
        .call(
            Call::post(&t.path(&format!("/incidents/{}/updates", third.id.0)))
                .bearer(&t.member_token)
                .json(&json!({"status": "resolved", "message": "fixed the disk"})),
        )
        .await
        .ok(201);
    assert_eq!(r["status"], "resolved");
    assert!(r["resolved_at"].is_string());
    let r = api
        .call(
            Call::post(&t.path(&format!("/incidents/{}/resolve", third.id.0)))
                .bearer(&t.member_token)
                .json(&json!({"message": "again"})),
        )
        .await;
    r.error(409, "conflict");
    api.call(Call::get(&t.path("/incidents/999999")).bearer(&t.viewer_token))
        .await
        .error(404, "not_found");
}

async fn maintenance_windows_are_created_read_replaced_and_deleted(store: &Store) {
    let api = Api::default_config(store);
    let a = tenant(store, "acme").await;
    let b = tenant(store, "bravo").await;
    let mine = create_monitor(&api, &a, "api", "http://127.0.0.1:9/").await["id"]
        .as_i64()
        .unwrap();
    let theirs = create_monitor(&api, &b, "api", "http://127.0.0.1:9/").await["id"]
        .as_i64()
        .unwrap();

    // One-off, in progress now.
    let now = Clock.now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let once = json!({
        "title": "database upgrade", "message": "Writes may fail.",
        "starts_at": fmt(now - time::Duration::minutes(10)),
        "ends_at": fmt(now + time::Duration::hours(1)),
        "monitor_ids": [mine],
    });
    let w = api
        .call(
            Call::post(&a.path("/maintenance"))
                .bearer(&a.member_token)
                .json(&once),
        )
        .await
        .ok(201);
    assert_eq!(w["title"], "database upgrade");
    assert_eq!(w["active"], true);
    assert_eq!(w["monitor_ids"], json!([mine]));
    assert!(w["recurrence"].is_null());
    let id = w["id"].as_i64().unwrap();
    let path = a.path(&format!("/maintenance/{id}"));
    assert_eq!(
        api.call(Call::get(&path).bearer(&a.viewer_token))
            .await
            .ok(200),
        w
    );
    assert_eq!(
        store
            .workspace(a.ws.id)
            .maintenances_for_monitor(MonitorId(mine))
            .await
            .unwrap()
            .len(),
        1
    );

    // Replace it by a weekly window in Paris, Sundays 02:00 for 2 hours, during 2030.
    let weekly = json!({
        "title": "weekly patching",
        "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2031-01-01T00:00:00Z",
        "recurrence": {"cron": "0 2 * * 0", "tz": "Europe/Paris", "duration": "2h"},
        "monitor_ids": [],
    });
    let u = api
        .call(Call::put(&path).bearer(&a.member_token).json(&weekly))
        .await
        .ok(200);
    assert_eq!(
        u["recurrence"],
        json!({"cron": "0 2 * * 0", "tz": "Europe/Paris", "duration": "2h"})
    );
    assert_eq!(u["active"], false);
    assert_eq!(u["monitor_ids"], json!([]));
    let list = api
        .call(Call::get(&a.path("/maintenance")).bearer(&a.viewer_token))
        .await
        .ok(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["title"], "weekly patching");

    // Problems name their field; another workspace's monitor is not linkable.
    for (patch, field) in [
        (json!({"ends_at": "2029-01-01T00:00:00Z"}), "ends_at"),
        (
            json!({"recurrence": {"cron": "every sunday", "duration": "2h"}}),
            "recurrence.cron",
        ),
        (
            json!({"recurrence": {"cron": "0 2 * * 0", "tz": "Moon/Base", "duration": "2h"}}),
            "recurrence.tz",
        ),
        (
            json!({"recurrence": {"cron": "0 2 * * 0", "duration": "0s"}}),
            "recurrence.duration",
        ),
        (json!({"monitor_ids": [mine, theirs]}), "monitor_ids[1]"),
        (json!({"component_ids": [424242]}), "component_ids[0]"),
        (json!({"title": ""}), "title"),
    ] {
        let mut body = weekly.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let e = api
            .call(
                Call::post(&a.path("/maintenance"))
                    .bearer(&a.member_token)
                    .json(&body),
            )
            .await
            .error(422, "validation_failed");
        assert_eq!(e["field"], field, "{body}");
    }
    let e = api
        .call(
            Call::post(&a.path("/maintenance"))
                .bearer(&a.member_token)
                .json(&json!({"title": "x", "starts_at": "tomorrow", "ends_at": "2031-01-01T00:00:00Z"})),
        )
        .await
        .error(422, "validation_failed");
    assert_eq!(e["field"], "starts_at");

    let d = api.call(Call::delete(&path).bearer(&a.member_token)).await;
    assert_eq!(d.status.as_u16(), 204);
    api.call(Call::get(&path).bearer(&a.viewer_token))
        .await
        .error(404, "not_found");
    let list = api
        .call(Call::get(&a.path("/maintenance")).bearer(&a.viewer_token))
        .await
        .ok(200);
    assert!(list.as_array().unwrap().is_empty());
}

both!(
    incidents_have_a_timeline_and_resolve_by_hand,
    maintenance_windows_are_created_read_replaced_and_deleted,
);
