//! Dashboard pages: incidents (the timeline, manual incidents, updates, resolving,
//! publishing) and maintenance windows (list, create, edit, delete).
//!
//! Changes go through the functions the REST API uses (`crate::api::incidents`): the same
//! validation, with its messages on the form fields they name.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use bitwobbly_store::prelude::*;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::monitors::when;
use super::status_pages::{Empty, path_id};
use super::{
    CsrfForm, Dash, DashError, FormErrors, Layout, Section, redirect_with, render, render_status,
};
use crate::AppState;
use crate::api::incidents::{
    self as api, ComponentStatusInput, EditIncidentInput, IncidentDetail, IncidentUpdateInput,
    MaintenanceInput, MaintenanceView, NewIncidentInput, RecurrenceInput,
};

/// This part's routes (relative to `/app`).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{ws}/incidents", get(list).post(create))
        .route("/w/{ws}/incidents/new", get(new_form))
        .route("/w/{ws}/incidents/{id}", get(detail))
        .route("/w/{ws}/incidents/{id}/updates", post(add_update))
        .route("/w/{ws}/incidents/{id}/resolve", post(resolve))
        .route("/w/{ws}/incidents/{id}/edit", post(edit))
        .route("/w/{ws}/incidents/{id}/publish", post(publish))
        .route(
            "/w/{ws}/maintenance",
            get(maintenance_list).post(maintenance_create),
        )
        .route("/w/{ws}/maintenance/new", get(maintenance_new))
        .route(
            "/w/{ws}/maintenance/{id}",
            get(maintenance_edit).post(maintenance_update),
        )
        .route("/w/{ws}/maintenance/{id}/delete", post(maintenance_delete))
}

/// Impacts, for selects.
const IMPACTS: [&str; 4] = ["none", "minor", "major", "critical"];
/// Incident statuses, for selects.
const STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];
/// Component statuses, for selects.
const COMPONENT_STATUSES: [(&str, &str); 5] = [
    ("operational", "Operational"),
    ("degraded_performance", "Degraded performance"),
    ("partial_outage", "Partial outage"),
    ("major_outage", "Major outage"),
    ("under_maintenance", "Under maintenance"),
];
/// A select's option: value, label, selected.
type Choice = (&'static str, &'static str, bool);

/// Incidents listed.
const LIST_LIMIT: u32 = 100;

/// The value of `key` in a sent form (the last one), or "".
fn field<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// A form value read as one of the API's enums by its JSON name (`major`, `resolved`).
fn choice<T: DeserializeOwned>(
    v: &str,
    field: &str,
    allowed: &[&str],
    errors: &mut FormErrors,
) -> Option<T> {
    match serde_json::from_value(serde_json::Value::String(v.trim().to_owned())) {
        Ok(t) => Some(t),
        Err(_) => {
            errors.add(field, format!("must be one of {}", allowed.join(", ")));
            None
        }
    }
}

/// Every component of the workspace's pages: (id, "page / component").
async fn all_components(
    state: &AppState,
    ws: WorkspaceId,
) -> Result<Vec<(i64, String)>, DashError> {
    let mut scope = state.store.workspace(ws);
    let mut out = Vec::new();
    for page in scope.status_pages().await? {
        for c in scope.components(page.id).await? {
            out.push((c.id.0, format!("{} / {}", page.title, c.name)));
        }
    }
    Ok(out)
}

// === incidents ===

/// One incident in the list.
#[derive(Debug)]
struct IncidentRow {
    url: String,
    title: String,
    kind: String,
    status: String,
    impact: String,
    started: String,
    resolved: String,
    published: bool,
    monitor: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "dash/incidents/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<IncidentRow>,
    open_only: bool,
    all_url: String,
    open_url: String,
    new_url: String,
    maintenance_url: String,
    can_write: bool,
    bad_filter: bool,
}

/// `GET /w/{ws}/incidents?open=true`: incidents, newest first.
async fn list(
    State(state): State<AppState>,
    dash: Dash,
    RawQuery(q): RawQuery,
) -> Result<Response, DashError> {
    let mut open_only = false;
    let mut bad_filter = false;
    for (k, v) in url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        if k == "open" {
            match v.as_ref() {
                "true" => open_only = true,
                "false" | "" => {}
                _ => bad_filter = true,
            }
        }
    }
    let mut scope = state.store.workspace(dash.ws());
    let incidents = scope.incidents(open_only, LIST_LIMIT).await?;
    let names: std::collections::HashMap<MonitorId, String> =
        if incidents.iter().any(|i| i.monitor_id.is_some()) {
            scope.monitor_names().await?.into_iter().collect()
        } else {
            std::collections::HashMap::new()
        };
    let rows = incidents
        .into_iter()
        .map(|i| IncidentRow {
            url: dash.url(&format!("/incidents/{}", i.id.0)),
            monitor: i.monitor_id.and_then(|m| {
                names
                    .get(&m)
                    .map(|n| (dash.url(&format!("/monitors/{}", m.0)), n.clone()))
            }),
            title: i.title,
            kind: i.kind.as_str().to_owned(),
            status: i.status.as_str().to_owned(),
            impact: i.impact.as_str().to_owned(),
            started: when(i.started_at),
            resolved: i.resolved_at.map(when).unwrap_or_default(),
            published: i.published,
        })
        .collect();
    let page = ListPage {
        layout: dash.layout("Incidents", Section::Incidents),
        rows,
        open_only,
        all_url: dash.url("/incidents"),
        open_url: dash.url("/incidents?open=true"),
        new_url: dash.url("/incidents/new"),
        maintenance_url: dash.url("/maintenance"),
        can_write: dash.require(Role::Member).is_ok(),
        bad_filter,
    };
    let status = if bad_filter {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(status, &page))
}

#[derive(Template)]
#[template(path = "dash/incidents/new.html")]
struct NewPage {
    layout: Layout,
    errors: FormErrors,
    action: String,
    title: String,
    message: String,
    impacts: Vec<(&'static str, bool)>,
    statuses: Vec<(&'static str, bool)>,
    components: Vec<(i64, String, Vec<Choice>)>,
}

async fn new_page(
    state: &AppState,
    dash: &Dash,
    pairs: &[(String, String)],
    errors: FormErrors,
) -> Result<NewPage, DashError> {
    let impact = Some(field(pairs, "impact"))
        .filter(|s| !s.is_empty())
        .unwrap_or("minor");
    let status = Some(field(pairs, "status"))
        .filter(|s| !s.is_empty())
        .unwrap_or("investigating");
    let components = all_components(state, dash.ws())
        .await?
        .into_iter()
        .map(|(id, name)| {
            let cur = field(pairs, &format!("component.{id}"));
            let opts = COMPONENT_STATUSES
                .iter()
                .map(|(v, l)| (*v, *l, *v == cur))
                .collect();
            (id, name, opts)
        })
        .collect();
    Ok(NewPage {
        layout: dash.layout("New incident", Section::Incidents),
        errors,
        action: dash.url("/incidents"),
        title: field(pairs, "title").to_owned(),
        message: field(pairs, "message").to_owned(),
        impacts: IMPACTS.iter().map(|i| (*i, *i == impact)).collect(),
        statuses: STATUSES[..3].iter().map(|s| (*s, *s == status)).collect(),
        components,
    })
}

/// `GET /w/{ws}/incidents/new`: the form of a manual incident.
async fn new_form(State(state): State<AppState>, dash: Dash) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    Ok(render(
        &new_page(&state, &dash, &[], FormErrors::new()).await?,
    ))
}

/// The affected components of a form (`component.<id>` = status; empty: not affected), and
/// the component id of each, to put the API's `components[i]` messages on the right input.
fn affected(
    pairs: &[(String, String)],
    errors: &mut FormErrors,
) -> (Vec<ComponentStatusInput>, Vec<i64>) {
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for (k, v) in pairs {
        let Some(id) = k.strip_prefix("component.") else {
            continue;
        };
        if v.trim().is_empty() {
            continue;
        }
        let Ok(id) = id.parse::<i64>() else {
            errors.add(k.clone(), "not a component");
            continue;
        };
        let allowed: Vec<&str> = COMPONENT_STATUSES.iter().map(|(v, _)| *v).collect();
        if let Some(status) = choice(v, k, &allowed, errors) {
            out.push(ComponentStatusInput {
                component_id: id,
                status,
            });
            ids.push(id);
        }
    }
    (out, ids)
}

/// `components[i]...` of the API as the form's `component.<id>`.
fn component_field(f: &str, ids: &[i64]) -> String {
    f.strip_prefix("components[")
        .and_then(|r| r.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok())
        .and_then(|i| ids.get(i))
        .map_or_else(|| f.to_owned(), |id| format!("component.{id}"))
}

/// `POST /w/{ws}/incidents`: opens a manual incident.
async fn create(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let mut errors = FormErrors::new();
    let impact = choice(field(&pairs, "impact"), "impact", &IMPACTS, &mut errors);
    let status = match field(&pairs, "status") {
        "" => None,
        s => choice(s, "status", &STATUSES, &mut errors),
    };
    let (components, ids) = affected(&pairs, &mut errors);
    if errors.is_empty()
        && let Some(impact) = impact
    {
        let input = NewIncidentInput {
            title: field(&pairs, "title").to_owned(),
            impact,
            status,
            message: field(&pairs, "message").to_owned(),
            components,
        };
        match api::create_incident(&state, dash.ws(), &input).await {
            Ok(d) => {
                return Ok(redirect_with(
                    &dash.url(&format!("/incidents/{}", d.incident.id)),
                    "Incident opened.",
                ));
            }
            Err(e) => errors.add_api(e, |f| component_field(f, &ids))?,
        }
    }
    let page = new_page(&state, &dash, &pairs, errors).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// One update on the timeline.
#[derive(Debug)]
struct UpdateRow {
    status: String,
    message: String,
    at: String,
    components: Vec<String>,
}

#[derive(Template)]
#[template(path = "dash/incidents/detail.html")]
struct DetailPage {
    layout: Layout,
    errors: FormErrors,
    base: String,
    d: IncidentDetail,
    started: String,
    resolved: String,
    monitor: Option<(String, String)>,
    updates: Vec<UpdateRow>,
    affected: Vec<(String, String)>,
    statuses: Vec<(&'static str, bool)>,
    impacts: Vec<(&'static str, bool)>,
    update_message: String,
    can_write: bool,
}

async fn detail_page(
    state: &AppState,
    dash: &Dash,
    id: IncidentId,
    errors: FormErrors,
    pairs: &[(String, String)],
) -> Result<DetailPage, DashError> {
    let d = api::detail(state, dash.ws(), id).await?;
    let names: std::collections::HashMap<i64, String> = all_components(state, dash.ws())
        .await?
        .into_iter()
        .collect();
    let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    let monitor = match d.incident.monitor_id {
        Some(m) => state
            .store
            .workspace(dash.ws())
            .monitor(MonitorId(m))
            .await?
            .map(|mm| (dash.url(&format!("/monitors/{m}")), mm.name)),
        None => None,
    };
    let ts = |t: OffsetDateTime| when(Timestamp::from(t));
    let status = Some(field(pairs, "status"))
        .filter(|s| !s.is_empty())
        .unwrap_or(d.incident.status.as_str());
    let impact = d.incident.impact.clone();
    Ok(DetailPage {
        layout: dash.layout(d.incident.title.clone(), Section::Incidents),
        errors,
        base: dash.url(&format!("/incidents/{}", d.incident.id)),
        started: ts(d.incident.started_at),
        resolved: d.incident.resolved_at.map(ts).unwrap_or_default(),
        monitor,
        updates: d
            .updates
            .iter()
            .rev()
            .map(|u| UpdateRow {
                status: u.status.clone(),
                message: u.message.clone(),
                at: ts(u.created_at),
                components: u
                    .components
                    .iter()
                    .map(|c| format!("{}: {}", name(c.component_id), c.new_status))
                    .collect(),
            })
            .collect(),
        affected: d
            .components
            .iter()
            .map(|c| (name(c.component_id), c.status.clone()))
            .collect(),
        statuses: STATUSES.iter().map(|s| (*s, *s == status)).collect(),
        impacts: IMPACTS.iter().map(|i| (*i, *i == impact)).collect(),
        update_message: field(pairs, "message").to_owned(),
        can_write: dash.require(Role::Member).is_ok(),
        d,
    })
}

/// `GET /w/{ws}/incidents/{id}`: the incident's timeline, with its update form.
async fn detail(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let id = IncidentId(path_id(&id)?);
    Ok(render(
        &detail_page(&state, &dash, id, FormErrors::new(), &[]).await?,
    ))
}

/// `POST /w/{ws}/incidents/{id}/updates`: posts an update (status `resolved` resolves it).
async fn add_update(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = IncidentId(path_id(&id)?);
    let mut errors = FormErrors::new();
    let status = choice(field(&pairs, "status"), "status", &STATUSES, &mut errors);
    if let Some(status) = status {
        let input = IncidentUpdateInput {
            status,
            message: field(&pairs, "message").to_owned(),
            components: Vec::new(),
        };
        match api::post_update(&state, dash.ws(), id, &input).await {
            Ok(_) => {
                return Ok(redirect_with(
                    &dash.url(&format!("/incidents/{}", id.0)),
                    "Update posted.",
                ));
            }
            Err(e) => errors.add_api(e, str::to_owned)?,
        }
    }
    let page = detail_page(&state, &dash, id, errors, &pairs).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /w/{ws}/incidents/{id}/resolve`: resolves it by hand.
async fn resolve(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = IncidentId(path_id(&id)?);
    let message = Some(field(&pairs, "resolve_message").trim()).filter(|m| !m.is_empty());
    match api::resolve_incident(&state, dash.ws(), id, message).await {
        Ok(_) => Ok(redirect_with(
            &dash.url(&format!("/incidents/{}", id.0)),
            "Incident resolved.",
        )),
        Err(e) => {
            let mut errors = FormErrors::new();
            errors.add_api(e, |f| {
                if f == "message" {
                    "resolve_message".to_owned()
                } else {
                    f.to_owned()
                }
            })?;
            let page = detail_page(&state, &dash, id, errors, &[]).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /w/{ws}/incidents/{id}/edit`: changes the title and impact.
async fn edit(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = IncidentId(path_id(&id)?);
    let mut errors = FormErrors::new();
    let impact = choice(field(&pairs, "impact"), "impact", &IMPACTS, &mut errors);
    if errors.is_empty() {
        let input = EditIncidentInput {
            title: Some(field(&pairs, "title").to_owned()),
            impact,
        };
        match api::edit_incident(&state, dash.ws(), id, &input).await {
            Ok(_) => {
                return Ok(redirect_with(
                    &dash.url(&format!("/incidents/{}", id.0)),
                    "Incident saved.",
                ));
            }
            Err(e) => errors.add_api(e, str::to_owned)?,
        }
    }
    let page = detail_page(&state, &dash, id, errors, &[]).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /w/{ws}/incidents/{id}/publish`: releases an automatic incident to the pages.
async fn publish(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = IncidentId(path_id(&id)?);
    api::publish_incident(&state, dash.ws(), id).await?;
    Ok(redirect_with(
        &dash.url(&format!("/incidents/{}", id.0)),
        "Incident published.",
    ))
}

// === maintenance ===

/// One window in the list.
#[derive(Debug)]
struct WindowRow {
    url: String,
    title: String,
    starts: String,
    ends: String,
    recurrence: String,
    active: bool,
    covers: usize,
}

#[derive(Template)]
#[template(path = "dash/incidents/maintenance.html")]
struct MaintenanceList {
    layout: Layout,
    rows: Vec<WindowRow>,
    new_url: String,
    incidents_url: String,
    can_write: bool,
}

/// `GET /w/{ws}/maintenance`: every window, by start.
async fn maintenance_list(
    State(state): State<AppState>,
    dash: Dash,
) -> Result<Response, DashError> {
    let now = state.clock.now();
    let list = state
        .store
        .workspace(dash.ws())
        .maintenances(Timestamp::from_millis(i64::MIN))
        .await?;
    let rows = list
        .into_iter()
        .map(|m| api::maintenance_view(m, now))
        .map(|v| WindowRow {
            url: dash.url(&format!("/maintenance/{}", v.id)),
            starts: when(Timestamp::from(v.starts_at)),
            ends: when(Timestamp::from(v.ends_at)),
            recurrence: v
                .recurrence
                .as_ref()
                .map(|r| {
                    format!(
                        "{} ({}) for {}",
                        r.cron,
                        r.tz.as_deref().unwrap_or("UTC"),
                        r.duration
                    )
                })
                .unwrap_or_default(),
            covers: v.monitor_ids.len() + v.component_ids.len(),
            active: v.active,
            title: v.title,
        })
        .collect();
    Ok(render(&MaintenanceList {
        layout: dash.layout("Maintenance", Section::Incidents),
        rows,
        new_url: dash.url("/maintenance/new"),
        incidents_url: dash.url("/incidents"),
        can_write: dash.require(Role::Member).is_ok(),
    }))
}

#[derive(Template)]
#[template(path = "dash/incidents/maintenance_form.html")]
struct MaintenanceForm {
    layout: Layout,
    errors: FormErrors,
    action: String,
    delete: Option<String>,
    values: std::collections::BTreeMap<String, String>,
    monitors: Vec<(i64, String, bool)>,
    components: Vec<(i64, String, bool)>,
}

impl MaintenanceForm {
    /// A value of the form.
    fn v(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
}

/// `YYYY-MM-DDTHH:MM` of a time (UTC), as `datetime-local` inputs take it.
fn local(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// Reads a `datetime-local` value (or RFC 3339) as a UTC time.
fn parse_local(v: &str) -> Option<OffsetDateTime> {
    let v = v.trim();
    if let Ok(t) = OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let fs = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(v, &f)
        .or_else(|_| time::PrimitiveDateTime::parse(v, &fs))
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

async fn maintenance_page(
    state: &AppState,
    dash: &Dash,
    id: Option<i64>,
    values: std::collections::BTreeMap<String, String>,
    monitor_ids: &[i64],
    component_ids: &[i64],
    errors: FormErrors,
) -> Result<MaintenanceForm, DashError> {
    let monitors = state
        .store
        .workspace(dash.ws())
        .monitor_names()
        .await?
        .into_iter()
        .map(|(m, name)| (m.0, name, monitor_ids.contains(&m.0)))
        .collect();
    let components = all_components(state, dash.ws())
        .await?
        .into_iter()
        .map(|(i, n)| (i, n, component_ids.contains(&i)))
        .collect();
    let (title, action, delete) = match id {
        None => (
            "New maintenance window".to_owned(),
            dash.url("/maintenance"),
            None,
        ),
        Some(id) => (
            "Edit maintenance window".to_owned(),
            dash.url(&format!("/maintenance/{id}")),
            Some(dash.url(&format!("/maintenance/{id}/delete"))),
        ),
    };
    Ok(MaintenanceForm {
        layout: dash.layout(title, Section::Incidents),
        errors,
        action,
        delete,
        values,
        monitors,
        components,
    })
}

/// `GET /w/{ws}/maintenance/new`.
async fn maintenance_new(State(state): State<AppState>, dash: Dash) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let now = state.clock.now().to_datetime();
    let mut values = std::collections::BTreeMap::new();
    values.insert(
        "starts_at".to_owned(),
        local(now + time::Duration::hours(1)),
    );
    values.insert("ends_at".to_owned(), local(now + time::Duration::hours(2)));
    let page = maintenance_page(&state, &dash, None, values, &[], &[], FormErrors::new()).await?;
    Ok(render(&page))
}

/// `GET /w/{ws}/maintenance/{id}`: the window's form.
async fn maintenance_edit(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    let m = state
        .store
        .workspace(dash.ws())
        .maintenance(MaintenanceId(id))
        .await?
        .ok_or(DashError::NotFound)?;
    let v: MaintenanceView = api::maintenance_view(m, state.clock.now());
    let mut values = std::collections::BTreeMap::new();
    values.insert("title".to_owned(), v.title.clone());
    values.insert("message".to_owned(), v.message.clone());
    values.insert("starts_at".to_owned(), local(v.starts_at));
    values.insert("ends_at".to_owned(), local(v.ends_at));
    if let Some(r) = &v.recurrence {
        values.insert("recurrence.cron".to_owned(), r.cron.clone());
        values.insert("recurrence.tz".to_owned(), r.tz.clone().unwrap_or_default());
        values.insert("recurrence.duration".to_owned(), r.duration.clone());
    }
    let page = maintenance_page(
        &state,
        &dash,
        Some(id),
        values,
        &v.monitor_ids,
        &v.component_ids,
        FormErrors::new(),
    )
    .await?;
    Ok(render(&page))
}

/// Reads and saves a sent window form (a new window when `id` is `None`).
async fn maintenance_save(
    state: &AppState,
    dash: &Dash,
    id: Option<i64>,
    pairs: Vec<(String, String)>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let mut errors = FormErrors::new();
    let ids = |key: &str, errors: &mut FormErrors| -> Vec<i64> {
        pairs
            .iter()
            .filter(|(k, _)| k == key)
            .filter_map(|(_, v)| match v.trim().parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.add(key, "not an id");
                    None
                }
            })
            .collect()
    };
    let monitor_ids = ids("monitor_ids", &mut errors);
    let component_ids = ids("component_ids", &mut errors);
    let time_of = |k: &str, errors: &mut FormErrors| {
        let t = parse_local(field(&pairs, k));
        if t.is_none() {
            errors.add(k, "must be a date and time such as 2026-11-24T10:00 (UTC)");
        }
        t
    };
    let starts = time_of("starts_at", &mut errors);
    let ends = time_of("ends_at", &mut errors);
    let cron = field(&pairs, "recurrence.cron").trim();
    let recurrence = (!cron.is_empty()).then(|| RecurrenceInput {
        cron: cron.to_owned(),
        tz: Some(field(&pairs, "recurrence.tz").trim().to_owned()).filter(|t| !t.is_empty()),
        duration: field(&pairs, "recurrence.duration").trim().to_owned(),
    });
    if let (Some(starts_at), Some(ends_at)) = (starts, ends)
        && errors.is_empty()
    {
        let input = MaintenanceInput {
            title: field(&pairs, "title").to_owned(),
            message: Some(field(&pairs, "message").to_owned()),
            starts_at,
            ends_at,
            recurrence,
            monitor_ids: monitor_ids.clone(),
            component_ids: component_ids.clone(),
        };
        match api::save_maintenance(state, dash.ws(), id.map(MaintenanceId), &input).await {
            Ok(v) => {
                return Ok(redirect_with(
                    &dash.url("/maintenance"),
                    &format!("Maintenance window {} saved.", v.title),
                ));
            }
            Err(e) => errors.add_api(e, |f| f.split('[').next().unwrap_or(f).to_owned())?,
        }
    }
    let values = [
        "title",
        "message",
        "starts_at",
        "ends_at",
        "recurrence.cron",
        "recurrence.tz",
        "recurrence.duration",
    ]
    .into_iter()
    .map(|k| (k.to_owned(), field(&pairs, k).to_owned()))
    .collect();
    let page = maintenance_page(
        state,
        dash,
        id,
        values,
        &monitor_ids,
        &component_ids,
        errors,
    )
    .await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /w/{ws}/maintenance`: schedules a window.
async fn maintenance_create(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    maintenance_save(&state, &dash, None, pairs).await
}

/// `POST /w/{ws}/maintenance/{id}`: replaces a window.
async fn maintenance_update(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let id = path_id(&id)?;
    maintenance_save(&state, &dash, Some(id), pairs).await
}

/// `POST /w/{ws}/maintenance/{id}/delete`.
async fn maintenance_delete(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = MaintenanceId(path_id(&id)?);
    api::delete_maintenance_window(&state, dash.ws(), id).await?;
    Ok(redirect_with(
        &dash.url("/maintenance"),
        "Maintenance window deleted.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_read_as_utc() {
        let t = parse_local("2026-11-24T10:05").unwrap();
        assert_eq!(local(t), "2026-11-24T10:05");
        assert!(parse_local("2026-11-24T10:05:30").is_some());
        assert!(parse_local("2026-11-24T10:05:00+02:00").is_some());
        for bad in ["", "tomorrow", "2026-13-40T99:99", "<script>", "2026-11-24"] {
            assert!(parse_local(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn affected_components_read_by_id() {
        let pairs: Vec<(String, String)> = [
            ("component.4", "major_outage"),
            ("component.5", ""),
            ("component.x", "major_outage"),
            ("component.6", "on_fire"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut errors = FormErrors::new();
        let (list, ids) = affected(&pairs, &mut errors);
        assert_eq!(ids, [4]);
        assert_eq!(list.len(), 1);
        assert!(errors.get("component.x").is_some());
        assert!(errors.get("component.6").unwrap().contains("major_outage"));
        assert_eq!(
            component_field("components[0].component_id", &ids),
            "component.4"
        );
        assert_eq!(
            component_field("components[9].component_id", &ids),
            "components[9].component_id"
        );
        assert_eq!(component_field("title", &ids), "title");
    }
}
