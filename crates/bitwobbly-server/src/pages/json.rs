//! The Statuspage v2 public API (`/api/v2/*.json`) from a snapshot: the field names, enums,
//! nesting and timestamp format of Atlassian Statuspage, so existing widgets and tools work.
//!
//! Ids are strings, as Statuspage's are: components and incidents by their id, groups as
//! `group-{id}` (groups are components in Statuspage's model), maintenance windows as
//! `maintenance-{id}`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use bitwobbly_store::types::{ComponentStatus, Timestamp};
use serde_json::{Value, json};

use super::PublicPage;
use super::cache::rfc3339_ms;
use super::snapshot::{
    ComponentView, GroupView, IncidentView, MaintenanceStatus, MaintenanceView, Snapshot,
};
use crate::state::AppState;

/// How many incidents and maintenance windows the list endpoints return.
const LIST_LIMIT: usize = 50;

const JSON: &str = "application/json";

fn ts(t: Timestamp) -> Value {
    Value::String(rfc3339_ms(t))
}

fn opt_ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, ts)
}

fn group_id(id: bitwobbly_store::types::ComponentGroupId) -> String {
    format!("group-{}", id.0)
}

/// The page's canonical URL.
fn page_url(state: &AppState, s: &Snapshot) -> String {
    format!(
        "{}/s/{}",
        state.config.public_url().trim_end_matches('/'),
        s.page.slug
    )
}

/// `page`.
pub fn page(state: &AppState, s: &Snapshot) -> Value {
    json!({
        "id": s.page.id.0.to_string(),
        "name": s.page.title,
        "url": page_url(state, s),
        "time_zone": s.page.time_zone,
        "updated_at": ts(s.page.updated_at),
    })
}

/// `status`.
pub fn status(s: &Snapshot) -> Value {
    json!({
        "indicator": s.overall.indicator.as_str(),
        "description": s.overall.description,
    })
}

/// A leaf component.
fn component(s: &Snapshot, c: &ComponentView) -> Value {
    json!({
        "id": c.id.0.to_string(),
        "name": c.name,
        "status": c.status.as_str(),
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "position": c.position,
        "description": c.description,
        "showcase": true,
        "start_date": Value::Null,
        "group_id": c.group_id.map(group_id),
        "page_id": s.page.id.0.to_string(),
        "group": false,
        "only_show_if_degraded": false,
    })
}

/// A group component (the only kind with `components`).
fn group(s: &Snapshot, g: &GroupView) -> Value {
    let children: Vec<String> = g
        .components
        .iter()
        .map(|i| s.components[*i].id.0.to_string())
        .collect();
    json!({
        "id": group_id(g.id),
        "name": g.name,
        "status": g.status.as_str(),
        "created_at": ts(g.created_at),
        "updated_at": ts(g.updated_at),
        "position": g.position,
        "description": Value::Null,
        "showcase": false,
        "start_date": Value::Null,
        "group_id": Value::Null,
        "page_id": s.page.id.0.to_string(),
        "group": true,
        "only_show_if_degraded": false,
        "components": children,
    })
}

/// Every component in page order: each group followed by its children, then the ungrouped.
pub fn components(s: &Snapshot) -> Vec<Value> {
    let mut out = Vec::with_capacity(s.components.len() + s.groups.len());
    for g in &s.groups {
        out.push(group(s, g));
        out.extend(g.components.iter().map(|i| component(s, &s.components[*i])));
    }
    out.extend(s.ungrouped.iter().map(|i| component(s, &s.components[*i])));
    out
}

fn shortlink(state: &AppState, s: &Snapshot, id: i64) -> String {
    format!("{}/incidents/{id}", page_url(state, s))
}

/// An incident with its updates (newest first) and affected components.
pub fn incident(state: &AppState, s: &Snapshot, i: &IncidentView) -> Value {
    let updates: Vec<Value> = i
        .updates
        .iter()
        .map(|u| {
            let affected: Vec<Value> = u
                .components
                .iter()
                .filter_map(|ch| {
                    let c = s.component(ch.component_id)?;
                    Some(json!({
                        "code": c.id.0.to_string(),
                        "name": c.name,
                        "old_status": ch.old_status.unwrap_or(ComponentStatus::Operational).as_str(),
                        "new_status": ch.new_status.as_str(),
                    }))
                })
                .collect();
            json!({
                "id": u.id.0.to_string(),
                "status": u.status.as_str(),
                "body": u.message,
                "incident_id": i.id.0.to_string(),
                "created_at": ts(u.created_at),
                "updated_at": ts(u.created_at),
                "display_at": ts(u.created_at),
                "affected_components": affected,
                "deliver_notifications": true,
                "custom_tweet": Value::Null,
                "tweet_id": Value::Null,
            })
        })
        .collect();
    let comps: Vec<Value> = i
        .components
        .iter()
        .filter_map(|a| s.component(a.component_id).map(|c| component(s, c)))
        .collect();
    json!({
        "id": i.id.0.to_string(),
        "name": i.title,
        "status": i.status.as_str(),
        "created_at": ts(i.started_at),
        "updated_at": ts(i.updated_at),
        "monitoring_at": opt_ts(i.monitoring_at),
        "resolved_at": opt_ts(i.resolved_at),
        "impact": i.impact.as_str(),
        "shortlink": shortlink(state, s, i.id.0),
        "started_at": ts(i.started_at),
        "page_id": s.page.id.0.to_string(),
        "incident_updates": updates,
        "components": comps,
    })
}

/// A scheduled maintenance: an incident's shape with `scheduled_for`/`scheduled_until` and
/// impact `maintenance`; its message is its one update.
pub fn maintenance(state: &AppState, s: &Snapshot, m: &MaintenanceView) -> Value {
    let id = format!("maintenance-{}", m.id.0);
    let status = m.status.as_str();
    let comps: Vec<Value> = m
        .components
        .iter()
        .filter_map(|c| s.component(*c).map(|c| component(s, c)))
        .collect();
    let affected: Vec<Value> = m
        .components
        .iter()
        .filter_map(|c| s.component(*c))
        .map(|c| {
            json!({
                "code": c.id.0.to_string(),
                "name": c.name,
                "old_status": "operational",
                "new_status": "under_maintenance",
            })
        })
        .collect();
    let resolved = (m.status == MaintenanceStatus::Completed).then_some(m.scheduled_until);
    let update = json!({
        "id": format!("{id}-update"),
        "status": status,
        "body": m.message,
        "incident_id": id,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.created_at),
        "display_at": ts(m.created_at),
        "affected_components": affected,
        "deliver_notifications": true,
        "custom_tweet": Value::Null,
        "tweet_id": Value::Null,
    });
    json!({
        "id": id,
        "name": m.title,
        "status": status,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.created_at),
        "monitoring_at": Value::Null,
        "resolved_at": opt_ts(resolved),
        "impact": "maintenance",
        "shortlink": format!("{}#maintenance-{}", page_url(state, s), m.id.0),
        "started_at": ts(m.scheduled_for),
        "page_id": s.page.id.0.to_string(),
        "incident_updates": [update],
        "components": comps,
        "scheduled_for": ts(m.scheduled_for),
        "scheduled_until": ts(m.scheduled_until),
    })
}

fn maintenances<'a>(
    state: &AppState,
    s: &Snapshot,
    list: impl Iterator<Item = &'a MaintenanceView>,
) -> Vec<Value> {
    list.take(LIST_LIMIT)
        .map(|m| maintenance(state, s, m))
        .collect()
}

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// The documents by path (relative to `api/v2/`).
pub fn document(state: &AppState, s: &Snapshot, path: &str) -> Option<Value> {
    let page = page(state, s);
    Some(match path {
        "summary.json" => json!({
            "page": page,
            "status": status(s),
            "components": components(s),
            "incidents": s.active_incidents.iter().map(|i| incident(state, s, i)).collect::<Vec<_>>(),
            "scheduled_maintenances": maintenances(state, s, s.maintenances.iter()),
        }),
        "status.json" => json!({ "page": page, "status": status(s) }),
        "components.json" => json!({ "page": page, "components": components(s) }),
        "incidents.json" => json!({
            "page": page,
            "incidents": s.recent_incidents.iter().take(LIST_LIMIT).map(|i| incident(state, s, i)).collect::<Vec<_>>(),
        }),
        "incidents/unresolved.json" => json!({
            "page": page,
            "incidents": s.active_incidents.iter().map(|i| incident(state, s, i)).collect::<Vec<_>>(),
        }),
        "scheduled-maintenances.json" => {
            // The 50 most recent: running and upcoming first (latest start first), then the
            // completed ones (newest first).
            let mut all: Vec<&MaintenanceView> = s.maintenances.iter().collect();
            all.sort_by_key(|m| std::cmp::Reverse(m.scheduled_for));
            all.extend(s.past_maintenances.iter());
            json!({ "page": page, "scheduled_maintenances": maintenances(state, s, all.into_iter()) })
        }
        "scheduled-maintenances/upcoming.json" => json!({
            "page": page,
            "scheduled_maintenances": maintenances(state, s, s.upcoming_maintenances()),
        }),
        "scheduled-maintenances/active.json" => json!({
            "page": page,
            "scheduled_maintenances": maintenances(state, s, s.active_maintenances()),
        }),
        _ => return None,
    })
}

/// The paths served under `api/v2/`.
pub const PATHS: &[&str] = &[
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
];

async fn serve(
    state: AppState,
    page: PublicPage,
    headers: HeaderMap,
    path: &'static str,
) -> Response {
    let key = format!("api/v2/{path}");
    page.respond(&headers, &key, JSON, |s| {
        document(&state, s, path)
            .as_ref()
            .map(body)
            .unwrap_or_default()
    })
}

/// The `/api/v2/*.json` routes (relative to the page).
pub(crate) fn routes() -> axum::Router<AppState> {
    let mut r = axum::Router::new();
    for &path in PATHS {
        r = r.route(
            &format!("/api/v2/{path}"),
            get(
                move |State(state): State<AppState>, page: PublicPage, headers: HeaderMap| {
                    serve(state, page, headers, path)
                },
            ),
        );
    }
    r
}
