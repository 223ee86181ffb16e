//! Dashboard pages: monitors. The list (status, uptime over 24 h / 7 d / 30 d, a latency
//! sparkline, filters and search), the form of every check kind, the detail page (latency
//! stacked by phase, uptime bar, recent results, incidents), pause, resume, delete, and
//! "test now" with its timing waterfall.
//!
//! Changes go through the functions the REST API uses (`crate::api::monitors`,
//! `crate::scheduler::check_now`), so the form gets the API's messages, on the same fields.

mod form;
mod view;

use std::collections::HashMap;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use bitwobbly_store::prelude::*;

use self::form::{FIELDS, KINDS, MonitorForm, Section as FormSection, form_field};
use self::view::{FieldView, Filter, LIST_WINDOWS, PAGE_SIZE, RowView, STATUSES};
use super::chart;
use super::status_pages::{Empty, path_id};
use super::{
    CsrfForm, Dash, DashError, FormErrors, Layout, Section, redirect_with, render, render_status,
};
use crate::AppState;
use crate::api::monitors::{
    self as api, MonitorView, StatsView, delete_monitor, load_view, monitor_stats,
    replace_channels, save_monitor, validate_monitor_fields,
};
use crate::api::views::dt;

/// This part's routes (relative to `/app`).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{ws}/monitors", get(list).post(create))
        .route("/w/{ws}/monitors/new", get(new_form))
        .route("/w/{ws}/monitors/{id}", get(detail).post(update))
        .route("/w/{ws}/monitors/{id}/edit", get(edit_form))
        .route("/w/{ws}/monitors/{id}/pause", post(pause))
        .route("/w/{ws}/monitors/{id}/resume", post(resume))
        .route("/w/{ws}/monitors/{id}/delete", post(delete))
        .route("/w/{ws}/monitors/{id}/check", post(check_now))
}

/// A time for people: `2026-11-24 10:05:03 UTC`.
pub(super) fn when(t: Timestamp) -> String {
    let d = dt(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

// === list ===

/// One row of the list.
#[derive(Debug)]
struct Row {
    url: String,
    name: String,
    kind: String,
    target: String,
    status: &'static str,
    uptimes: Vec<String>,
    spark: String,
}

#[derive(Template)]
#[template(path = "dash/monitors/list.html")]
struct ListPage {
    layout: Layout,
    errors: FormErrors,
    filter: Filter,
    rows: Vec<Row>,
    total: usize,
    shown_from: usize,
    counts: Vec<(&'static str, usize)>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    statuses: Vec<(&'static str, bool)>,
    windows: Vec<&'static str>,
    prev: Option<String>,
    next: Option<String>,
    new_links: Vec<(String, &'static str)>,
    can_write: bool,
    base: String,
}

/// `GET /w/{ws}/monitors`: the list, filtered and a page at a time; uptime and the
/// sparklines of the page's monitors come from one store call.
async fn list(
    State(state): State<AppState>,
    dash: Dash,
    RawQuery(q): RawQuery,
) -> Result<Response, DashError> {
    let mut errors = FormErrors::new();
    let filter = Filter::parse(q.as_deref(), &mut errors);
    let now = state.clock.now();
    let mut scope = state.store.workspace(dash.ws());
    let monitors = scope.monitor_list().await?;
    let mut counts: Vec<(&'static str, usize)> = STATUSES.iter().map(|s| (*s, 0)).collect();
    let mut kept: Vec<(&MonitorListItem, &'static str)> = Vec::new();
    for m in &monitors {
        let status = view::status_of(m);
        if let Some(c) = counts.iter_mut().find(|(s, _)| *s == status) {
            c.1 += 1;
        }
        if filter.keeps(m, status) {
            kept.push((m, status));
        }
    }
    kept.sort_by_cached_key(|(m, _)| (m.name.to_lowercase(), m.id));
    let total = kept.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.min(pages);
    let shown = &kept[(page - 1) * PAGE_SIZE..(page * PAGE_SIZE).min(total)];
    let ids: Vec<MonitorId> = shown.iter().map(|(m, _)| m.id).collect();
    let starts: Vec<Timestamp> = LIST_WINDOWS
        .iter()
        .enumerate()
        .map(|(i, (_, len))| {
            // The day window to the hour; longer ones to midnight (daily rollups).
            if i == 0 {
                now.minus(*len).floor_hour()
            } else {
                now.minus(*len).floor_day()
            }
        })
        .collect();
    let summaries = scope
        .monitor_summaries(
            &ids,
            &starts,
            now.minus(Duration::from_secs(23 * 3600)),
            now,
        )
        .await?;
    let by_id: HashMap<MonitorId, &MonitorSummary> =
        summaries.iter().map(|s| (s.monitor_id, s)).collect();
    let rows = shown
        .iter()
        .map(|(m, status)| {
            let s = by_id.get(&m.id);
            Row {
                url: dash.url(&format!("/monitors/{}", m.id.0)),
                name: m.name.clone(),
                kind: m.kind.clone(),
                target: m.target(),
                status,
                uptimes: (0..LIST_WINDOWS.len())
                    .map(|i| {
                        s.and_then(|s| s.windows.get(i))
                            .map_or_else(|| "–".to_owned(), view::uptime_text)
                    })
                    .collect(),
                spark: s.map(|s| view::sparkline(s)).unwrap_or_default(),
            }
        })
        .collect();
    let base = dash.url("/monitors");
    let page_link = |p: usize| {
        let mut f = filter.clone();
        f.page = p;
        format!("{base}?{}", f.query_for_page(p))
    };
    let page_view = ListPage {
        layout: dash.layout("Monitors", Section::Monitors),
        prev: (page > 1).then(|| page_link(page - 1)),
        next: (page < pages).then(|| page_link(page + 1)),
        kinds: KINDS
            .iter()
            .map(|(k, l)| (*k, *l, filter.kind.as_deref() == Some(*k)))
            .collect(),
        statuses: STATUSES
            .iter()
            .map(|s| (*s, filter.status.as_deref() == Some(*s)))
            .collect(),
        windows: LIST_WINDOWS.iter().map(|(n, _)| *n).collect(),
        new_links: KINDS
            .iter()
            .map(|(k, l)| (dash.url(&format!("/monitors/new?kind={k}")), *l))
            .collect(),
        can_write: dash.require(Role::Member).is_ok(),
        shown_from: (page - 1) * PAGE_SIZE + 1,
        errors,
        filter,
        rows,
        total,
        counts,
        base,
    };
    Ok(render(&page_view))
}

// === the form ===

/// A section of the form.
#[derive(Debug)]
struct FormSectionView {
    title: &'static str,
    fields: Vec<FieldView>,
}

#[derive(Template)]
#[template(path = "dash/monitors/form.html")]
struct FormPage {
    layout: Layout,
    errors: FormErrors,
    action: String,
    cancel: String,
    kind: String,
    kind_label: &'static str,
    name: String,
    key: String,
    paused: bool,
    locations: String,
    quorum_percent: String,
    quorum_stale: String,
    parents: Vec<(i64, String, bool)>,
    channels: Vec<(i64, String, bool)>,
    sections: Vec<FormSectionView>,
    rows: Vec<RowView>,
    has_assertions: bool,
    editing: bool,
}

/// The form page for `form` (a new monitor when `id` is `None`).
async fn form_page(
    state: &AppState,
    dash: &Dash,
    id: Option<MonitorId>,
    form: &MonitorForm,
    errors: FormErrors,
) -> Result<FormPage, DashError> {
    let mut scope = state.store.workspace(dash.ws());
    let parent = form.value("parent_id").parse::<i64>().ok();
    let parents = scope
        .monitor_names()
        .await?
        .into_iter()
        .filter(|(m, _)| Some(*m) != id)
        .map(|(m, name)| (m.0, name, Some(m.0) == parent))
        .collect();
    let channels = scope
        .channels()
        .await?
        .into_iter()
        .map(|c| (c.id.0, c.name, form.has_channel(&c.id.0)))
        .collect();
    let kind = form.kind.as_str();
    let sections = [
        (FormSection::Check, "What to check"),
        (FormSection::Schedule, "When it runs"),
        (FormSection::Thresholds, "When its state changes"),
        (FormSection::Advanced, "Network and TLS"),
    ]
    .into_iter()
    .map(|(s, title)| FormSectionView {
        title,
        fields: FIELDS
            .iter()
            .filter(|f| f.section == s && f.applies(kind))
            .map(|f| FieldView::new(f, form, &errors))
            .collect(),
    })
    .filter(|s| !s.fields.is_empty())
    .collect();
    let (action, cancel, title) = match id {
        None => (
            dash.url("/monitors"),
            dash.url("/monitors"),
            "New monitor".to_owned(),
        ),
        Some(id) => (
            dash.url(&format!("/monitors/{}", id.0)),
            dash.url(&format!("/monitors/{}", id.0)),
            format!("Edit {}", form.value("name")),
        ),
    };
    Ok(FormPage {
        layout: dash.layout(title, Section::Monitors),
        rows: view::row_views(form, &errors),
        errors,
        action,
        cancel,
        kind_label: KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or("", |(_, l)| l),
        kind: kind.to_owned(),
        name: form.value("name").to_owned(),
        key: form.value("key").to_owned(),
        paused: form.checked("paused"),
        locations: form.value("locations").to_owned(),
        quorum_percent: form.value("quorum.share.percent").to_owned(),
        quorum_stale: form.value("quorum.stale_after").to_owned(),
        parents,
        channels,
        sections,
        has_assertions: kind != "heartbeat",
        editing: id.is_some(),
    })
}

/// `GET /w/{ws}/monitors/new?kind=`: the form of a new monitor of that kind (HTTP by default).
async fn new_form(
    State(state): State<AppState>,
    dash: Dash,
    RawQuery(q): RawQuery,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let kind = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "kind")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "http".to_owned());
    let Some((kind, _)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        return Err(DashError::NotFound);
    };
    let page = form_page(
        &state,
        &dash,
        None,
        &MonitorForm::new(kind),
        FormErrors::new(),
    )
    .await?;
    Ok(render(&page))
}

/// Validates and saves a sent form (a new monitor when `id` is `None`): the API's
/// validation, every problem on its field; then its channels.
async fn save(
    state: &AppState,
    dash: &Dash,
    id: Option<MonitorId>,
    form: MonitorForm,
) -> Result<Response, DashError> {
    let verb = if id.is_none() { "created" } else { "saved" };
    let (input, origin) = form.to_input();
    let mut errors = FormErrors::new();
    for (field, msg) in &form.problems {
        errors.add(field.clone(), msg.clone());
    }
    let kind = form.kind.clone();
    let mut add = |e: &crate::error::ApiError| match &e.field {
        Some(f) => {
            errors.add(form_field(f, &kind, &origin), e.message.clone());
            true
        }
        None => false,
    };
    let form_named_spec = form.problems.iter().any(|(f, _)| f.starts_with("spec."));
    let saved: Option<MonitorView> = match validate_monitor_fields(&input, &state.config) {
        Err(list) => {
            for e in &list {
                // A spec the API could not read, when the form already named the field.
                if form_named_spec && e.field.as_deref() == Some("spec") {
                    continue;
                }
                if !add(e) {
                    return Err(e.clone().into());
                }
            }
            None
        }
        Ok(_) if !form.problems.is_empty() => None,
        Ok(new) => match save_monitor(state, dash.ws(), id, &new).await {
            Ok(v) => Some(v),
            Err(e) => {
                if !add(&e) {
                    return Err(e.into());
                }
                None
            }
        },
    };
    if let Some(v) = saved {
        let id = MonitorId(v.id);
        match replace_channels(state, dash.ws(), id, &form.channel_ids).await {
            Ok(_) => {}
            Err(e) if e.field.is_some() => {
                errors.add("channel_ids", e.message.clone());
                let form = MonitorForm::from_view(&v, form.channel_ids.clone());
                let page = form_page(state, dash, Some(id), &form, errors).await?;
                return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
            }
            Err(e) => return Err(e.into()),
        }
        return Ok(redirect_with(
            &dash.url(&format!("/monitors/{}", v.id)),
            &format!("Monitor {} {verb}.", v.name),
        ));
    }
    let page = form_page(state, dash, id, &form, errors).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /w/{ws}/monitors`: creates a monitor from the form.
async fn create(
    State(state): State<AppState>,
    dash: Dash,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let form = MonitorForm::from_pairs(&pairs, None);
    if !KINDS.iter().any(|(k, _)| *k == form.kind) {
        let mut errors = FormErrors::new();
        errors.add(
            "spec.type",
            "choose a check kind: http, tcp, dns, tls or heartbeat",
        );
        let page = form_page(&state, &dash, None, &MonitorForm::new("http"), errors).await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    save(&state, &dash, None, form).await
}

/// The monitor of the path, with its linked channel ids.
async fn load(
    state: &AppState,
    dash: &Dash,
    raw: &str,
) -> Result<(MonitorView, Vec<i64>), DashError> {
    let id = MonitorId(path_id(raw)?);
    let view = load_view(state, dash.ws(), id).await?;
    let channels = state
        .store
        .workspace(dash.ws())
        .channels_for_monitor(id)
        .await?
        .into_iter()
        .map(|c| c.id.0)
        .collect();
    Ok((view, channels))
}

/// `GET /w/{ws}/monitors/{id}/edit`: the form of a saved monitor.
async fn edit_form(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let (view, channels) = load(&state, &dash, &id).await?;
    let form = MonitorForm::from_view(&view, channels);
    let page = form_page(
        &state,
        &dash,
        Some(MonitorId(view.id)),
        &form,
        FormErrors::new(),
    )
    .await?;
    Ok(render(&page))
}

/// `POST /w/{ws}/monitors/{id}`: saves the form over a monitor (its kind stays).
async fn update(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let (view, _) = load(&state, &dash, &id).await?;
    let form = MonitorForm::from_pairs(&pairs, Some(&view.kind));
    save(&state, &dash, Some(MonitorId(view.id)), form).await
}

// === detail ===

/// One recent result.
#[derive(Debug)]
struct ResultRow {
    at: String,
    status: String,
    location: String,
    total: String,
    http_status: String,
    message: String,
}

/// One incident of the monitor.
#[derive(Debug)]
struct IncidentRow {
    url: String,
    title: String,
    status: String,
    started: String,
    resolved: String,
}

#[derive(Template)]
#[template(path = "dash/monitors/detail.html")]
struct DetailPage {
    layout: Layout,
    m: MonitorView,
    base: String,
    status: String,
    schedule: String,
    parent: Option<(String, String)>,
    channels: Vec<String>,
    stats: Vec<(String, String, String, String)>,
    uptime_bar: String,
    phases: String,
    results: Vec<ResultRow>,
    incidents: Vec<IncidentRow>,
    can_write: bool,
    runnable: bool,
    last_message: String,
}

/// The schedule in words.
fn schedule_text(v: &MonitorView) -> String {
    match &v.schedule {
        None => "Follows its pings".to_owned(),
        Some(s) => match (s.get("type").and_then(|t| t.as_str()), s) {
            (Some("interval"), s) => format!(
                "Every {}",
                s.get("every").and_then(|e| e.as_str()).unwrap_or("?")
            ),
            (Some("cron"), s) => format!(
                "Cron {} ({})",
                s.get("expr").and_then(|e| e.as_str()).unwrap_or("?"),
                s.get("tz").and_then(|e| e.as_str()).unwrap_or("UTC")
            ),
            _ => s.to_string(),
        },
    }
}

fn stats_rows(stats: &StatsView) -> Vec<(String, String, String, String)> {
    let ms = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| chart::fmt_us(v * 1000.0));
    stats
        .windows
        .iter()
        .map(|w| {
            (
                w.window.clone(),
                w.uptime_percent
                    .map_or_else(|| "–".to_owned(), |p| format!("{p:.2}%")),
                ms(w.latency.p50_ms),
                ms(w.latency.p95_ms),
            )
        })
        .collect()
}

/// `GET /w/{ws}/monitors/{id}`: the monitor's page.
async fn detail(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let id = MonitorId(path_id(&id)?);
    let m = load_view(&state, dash.ws(), id).await?;
    let stats = monitor_stats(&state, dash.ws(), id).await?;
    let now = state.clock.now();
    let mut scope = state.store.workspace(dash.ws());
    let day0 = now.minus(Duration::from_secs(29 * 86_400)).floor_day();
    let days = scope
        .uptime_days(&[id], day0, now.plus(Duration::from_secs(1)))
        .await?;
    let from = now.minus(Duration::from_secs(86_400));
    let bucket = Duration::from_secs(1800);
    let rows = scope
        .phase_rows(id, from, now.plus(Duration::from_secs(1)), bucket)
        .await?;
    let recent = scope
        .results(&ResultQuery {
            monitor_id: id,
            from: Timestamp::EPOCH,
            to: now.plus(Duration::from_secs(1)),
            order: Order::Descending,
            limit: 20,
            after: None,
        })
        .await?;
    let incidents = scope.incidents_for_monitor(id, 10).await?;
    let channels = scope
        .channels_for_monitor(id)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let parent = match m.parent_id {
        Some(p) => scope
            .monitor(MonitorId(p))
            .await?
            .map(|pm| (dash.url(&format!("/monitors/{}", pm.id.0)), pm.name)),
        None => None,
    };
    let page = DetailPage {
        layout: dash.layout(m.name.clone(), Section::Monitors),
        base: dash.url(&format!("/monitors/{}", m.id)),
        status: m.status.clone(),
        schedule: schedule_text(&m),
        parent,
        channels,
        stats: stats_rows(&stats),
        uptime_bar: chart::uptime_bar(&view::uptime_slots(&days, day0, 30)),
        phases: chart::stacked_phases(&view::phase_buckets(&rows, from, now, bucket)),
        results: recent
            .items
            .into_iter()
            .map(|r| ResultRow {
                at: when(r.result.started_at),
                status: r.result.status.as_str().to_owned(),
                location: r.result.location,
                total: chart::fmt_us(r.result.timings.total_us as f64),
                http_status: r
                    .result
                    .http_status
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                message: r.result.message.or(r.result.error_kind).unwrap_or_default(),
            })
            .collect(),
        incidents: incidents
            .into_iter()
            .map(|i| IncidentRow {
                url: dash.url(&format!("/incidents/{}", i.id.0)),
                title: i.title,
                status: i.status.as_str().to_owned(),
                started: when(i.started_at),
                resolved: i.resolved_at.map(when).unwrap_or_default(),
            })
            .collect(),
        can_write: dash.require(Role::Member).is_ok(),
        runnable: m.kind != "heartbeat",
        last_message: m
            .state
            .as_ref()
            .and_then(|s| s.last_message.clone())
            .unwrap_or_default(),
        m,
    };
    Ok(render(&page))
}

// === actions ===

async fn set_paused(
    state: &AppState,
    dash: &Dash,
    raw: &str,
    paused: bool,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = path_id(raw)?;
    let v = api::set_paused(state, dash.ws(), id, paused).await?.0;
    let what = if paused { "paused" } else { "resumed" };
    Ok(redirect_with(
        &dash.url(&format!("/monitors/{id}")),
        &format!("Monitor {} {what}.", v.name),
    ))
}

/// `POST /w/{ws}/monitors/{id}/pause`.
async fn pause(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    set_paused(&state, &dash, &id, true).await
}

/// `POST /w/{ws}/monitors/{id}/resume`.
async fn resume(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    set_paused(&state, &dash, &id, false).await
}

/// `POST /w/{ws}/monitors/{id}/delete`: deletes the monitor with its results.
async fn delete(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = MonitorId(path_id(&id)?);
    let v = load_view(&state, dash.ws(), id).await?;
    delete_monitor(&state, dash.ws(), id).await?;
    Ok(redirect_with(
        &dash.url("/monitors"),
        &format!("Monitor {} deleted.", v.name),
    ))
}

/// An assertion's outcome as shown.
#[derive(Debug)]
struct AssertionRow {
    description: String,
    passed: bool,
    expected: String,
    actual: String,
    severity: String,
}

#[derive(Template)]
#[template(path = "dash/monitors/check.html")]
struct CheckPage {
    layout: Layout,
    back: String,
    name: String,
    status: String,
    reason: String,
    monitor_status: String,
    recorded: bool,
    waterfall: String,
    phases: Vec<(&'static str, String)>,
    total: String,
    remote: String,
    http_status: String,
    assertions: Vec<AssertionRow>,
}

/// `POST /w/{ws}/monitors/{id}/check`: runs the monitor now (as the API's `check` does; the
/// result is recorded) and shows the report with its timing waterfall.
async fn check_now(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, DashError> {
    dash.require(Role::Member)?;
    let id = MonitorId(path_id(&id)?);
    let v = load_view(&state, dash.ws(), id).await?;
    let done = crate::scheduler::check_now(&state, dash.ws(), id).await?;
    let r = &done.report;
    let us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let t = &r.timings;
    let phases = [
        us(t.dns),
        us(t.connect),
        us(t.tls),
        us(t.ttfb),
        us(t.transfer),
    ];
    let page = CheckPage {
        layout: dash.layout(format!("Test of {}", v.name), Section::Monitors),
        back: dash.url(&format!("/monitors/{}", v.id)),
        name: v.name,
        status: r.status.as_str().to_owned(),
        reason: r.reason.clone().unwrap_or_default(),
        monitor_status: done.monitor_status.as_str().to_owned(),
        recorded: done.recorded,
        waterfall: chart::waterfall(phases, us(t.total)),
        phases: chart::PHASE_NAMES
            .iter()
            .copied()
            .zip(phases.map(|p| chart::fmt_us(p as f64)))
            .collect(),
        total: chart::fmt_us(us(t.total) as f64),
        remote: r.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
        http_status: r
            .http
            .as_ref()
            .map(|h| h.status.to_string())
            .unwrap_or_default(),
        assertions: r
            .assertions
            .iter()
            .map(|a| AssertionRow {
                description: a.description.clone(),
                passed: a.passed,
                expected: a.expected.clone(),
                actual: a.actual.clone().unwrap_or_else(|| "(none)".to_owned()),
                severity: format!("{:?}", a.severity).to_lowercase(),
            })
            .collect(),
    };
    Ok(render(&page))
}
