//! The HTML pages (compile-time askama templates under `templates/pages/`): the status page,
//! the incident history by month, an incident's detail and the password form.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bitwobbly_store::api::IncidentStore;
use bitwobbly_store::model::PageIncidentQuery;
use bitwobbly_store::types::{ComponentStatus, IncidentId, IncidentStatus, Timestamp};
use serde::Deserialize;
use time::macros::format_description;
use time::{Date, Month};

use super::PublicPage;
use super::snapshot::{
    DaySegment, IncidentView, Indicator, MaintenanceView, Snapshot, Theme, incident_views,
};
use crate::error::ApiError;
use crate::state::AppState;

const HTML: &str = "text/html; charset=utf-8";

/// The stylesheet, inlined into every page.
const CSS: &str = include_str!("../../templates/pages/style.css");

/// Incidents listed for one month at most.
const MONTH_LIMIT: u32 = 500;

/// Helpers every template calls.
trait View {
    fn snapshot(&self) -> &Snapshot;
    fn base(&self) -> &str;

    fn theme(&self) -> &'static str {
        self.snapshot().page.theme.as_str()
    }

    fn color_scheme(&self) -> &'static str {
        match self.snapshot().page.theme {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::System => "light dark",
        }
    }

    fn home(&self) -> String {
        if self.base().is_empty() {
            "/".to_owned()
        } else {
            self.base().to_owned()
        }
    }

    fn status_label(&self, s: &ComponentStatus) -> &'static str {
        status_label(*s)
    }

    fn status_class(&self, s: &ComponentStatus) -> &'static str {
        match *s {
            ComponentStatus::Operational => "ok",
            ComponentStatus::DegradedPerformance => "degraded",
            ComponentStatus::PartialOutage => "partial",
            ComponentStatus::MajorOutage => "major",
            ComponentStatus::UnderMaintenance => "maint",
        }
    }

    fn incident_status(&self, s: &IncidentStatus) -> &'static str {
        match *s {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
        }
    }

    fn indicator_class(&self) -> &'static str {
        match self.snapshot().overall.indicator {
            Indicator::None => "ok",
            Indicator::Minor => "minor",
            Indicator::Major => "major",
            Indicator::Critical => "critical",
            Indicator::Maintenance => "maintenance",
        }
    }

    fn iso(&self, t: &Timestamp) -> String {
        super::cache::rfc3339_ms(*t)
    }

    fn when(&self, t: &Timestamp) -> String {
        (*t).to_datetime()
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .unwrap_or_default()
    }

    fn uptime(&self, u: &Option<f64>) -> String {
        u.map_or_else(|| "No data".to_owned(), format_percent)
    }

    fn ms(&self, v: &f64) -> String {
        format!("{v:.0} ms")
    }

    fn segment_class(&self, d: &DaySegment) -> &'static str {
        match d.uptime {
            None => "u9",
            Some(u) if u >= 100.0 && d.incidents.is_empty() => "u0",
            Some(u) if u >= 99.0 => "u1",
            Some(u) if u >= 95.0 => "u2",
            Some(_) => "u3",
        }
    }

    fn segment_label(&self, d: &DaySegment) -> String {
        segment_label(d)
    }
}

/// A component status for people.
pub fn status_label(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => "Operational",
        ComponentStatus::DegradedPerformance => "Degraded performance",
        ComponentStatus::PartialOutage => "Partial outage",
        ComponentStatus::MajorOutage => "Major outage",
        ComponentStatus::UnderMaintenance => "Under maintenance",
    }
}

/// A percentage with up to three decimals, without trailing zeros (`99.95%`, `100%`).
pub fn format_percent(u: f64) -> String {
    let s = format!("{u:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// What a segment's tooltip says: date, uptime and incidents.
pub fn segment_label(d: &DaySegment) -> String {
    let uptime = d.uptime.map_or_else(
        || "no data".to_owned(),
        |u| format!("{} uptime", format_percent(u)),
    );
    let incidents = match d.incidents.len() {
        0 => "no incidents".to_owned(),
        1 => format!("1 incident: {}", d.incidents[0]),
        n => format!("{n} incidents: {}", d.incidents.join("; ")),
    };
    format!("{}: {uptime}, {incidents}", d.date)
}

macro_rules! view {
    ($t:ty) => {
        impl View for $t {
            fn snapshot(&self) -> &Snapshot {
                self.s
            }
            fn base(&self) -> &str {
                self.base
            }
        }
    };
}

#[derive(Template)]
#[template(path = "pages/page.html")]
struct PageTpl<'a> {
    s: &'a Snapshot,
    base: &'a str,
}
view!(PageTpl<'_>);

impl PageTpl<'_> {
    /// Maintenance windows running now.
    fn active_maintenances(&self) -> Vec<&MaintenanceView> {
        self.s.active_maintenances().collect()
    }

    /// Maintenance windows not started yet.
    fn upcoming_maintenances(&self) -> Vec<&MaintenanceView> {
        self.s.upcoming_maintenances().collect()
    }

    /// Resolved incidents among the recent ones.
    fn past_incidents(&self) -> Vec<&IncidentView> {
        self.s
            .recent_incidents
            .iter()
            .filter(|i| !i.is_active())
            .take(10)
            .collect()
    }
}

#[derive(Template)]
#[template(path = "pages/history.html")]
struct HistoryTpl<'a> {
    s: &'a Snapshot,
    base: &'a str,
    month_label: String,
    prev: String,
    next: Option<String>,
    incidents: Vec<IncidentView>,
}
view!(HistoryTpl<'_>);

#[derive(Template)]
#[template(path = "pages/incident.html")]
struct IncidentTpl<'a> {
    s: &'a Snapshot,
    base: &'a str,
    i: &'a IncidentView,
}
view!(IncidentTpl<'_>);

#[derive(Template)]
#[template(path = "pages/unlock.html")]
struct UnlockTpl<'a> {
    s: &'a Snapshot,
    base: &'a str,
    next: &'a str,
    failed: bool,
}
view!(UnlockTpl<'_>);

#[derive(Template)]
#[template(path = "pages/notice.html")]
struct NoticeTpl<'a> {
    s: &'a Snapshot,
    base: &'a str,
    heading: &'a str,
    message: &'a str,
    form: bool,
}
view!(NoticeTpl<'_>);

/// A short notice in the page's look (subscription results), optionally with the subscribe
/// form.
pub(crate) fn notice(s: &Snapshot, base: &str, heading: &str, message: &str, form: bool) -> String {
    NoticeTpl {
        s,
        base,
        heading,
        message,
        form,
    }
    .render()
    .unwrap_or_default()
}

fn render(t: &impl Template) -> Vec<u8> {
    // Rendering into a String cannot fail for these templates (no fallible filters).
    t.render().unwrap_or_default().into_bytes()
}

/// The status page's HTML.
pub fn page_html(s: &Snapshot, base: &str) -> Vec<u8> {
    render(&PageTpl { s, base })
}

/// The password form.
pub(crate) fn unlock(s: &Snapshot, base: &str, next: &str, failed: bool) -> String {
    UnlockTpl {
        s,
        base,
        next,
        failed,
    }
    .render()
    .unwrap_or_default()
}

/// `GET {base}/`.
pub(crate) async fn page(
    State(state): State<AppState>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    page: Result<PublicPage, Response>,
    headers: HeaderMap,
) -> Response {
    let page = match page {
        Ok(page) => page,
        // The server's own address is no status page's domain: its root (not an unknown
        // `/s/{slug}`) is the dashboard.
        Err(refused)
            if refused.status() == axum::http::StatusCode::NOT_FOUND
                && uri.path() == "/"
                && own_host(&state, &headers) =>
        {
            return axum::response::Redirect::to("/app").into_response();
        }
        Err(refused) => return refused,
    };
    let base = page.base.clone();
    page.respond(&headers, "index.html", HTML, |s| page_html(s, &base))
}

/// Whether the request's `Host` is the host of the server's public URL.
fn own_host(state: &AppState, headers: &HeaderMap) -> bool {
    let Ok(public) = url::Url::parse(&state.config.public_url()) else {
        return false;
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let bare = |h: &str| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_lowercase()
    };
    public.host_str().is_some_and(|p| bare(p) == bare(host))
}

/// `?month=YYYY-MM`.
#[derive(Debug, Deserialize)]
pub(crate) struct MonthQuery {
    month: Option<String>,
}

/// Parses `YYYY-MM` (years 2000 to 9999).
pub fn parse_month(s: &str) -> Option<Date> {
    let (y, m) = s.split_once('-')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if y.len() != 4 || m.len() != 2 || !digits(y) || !digits(m) {
        return None;
    }
    let y: i32 = y.parse().ok()?;
    let m: u8 = m.parse().ok()?;
    if !(2000..=9999).contains(&y) {
        return None;
    }
    Date::from_calendar_date(y, Month::try_from(m).ok()?, 1).ok()
}

fn month_key(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), u8::from(d.month()))
}

fn next_month(d: Date) -> Option<Date> {
    let (y, m) = if d.month() == Month::December {
        (d.year() + 1, Month::January)
    } else {
        (d.year(), d.month().next())
    };
    Date::from_calendar_date(y, m, 1).ok()
}

fn prev_month(d: Date) -> Option<Date> {
    let (y, m) = if d.month() == Month::January {
        (d.year() - 1, Month::December)
    } else {
        (d.year(), d.month().previous())
    };
    Date::from_calendar_date(y, m, 1).ok()
}

fn midnight(d: Date) -> Timestamp {
    Timestamp::from(d.midnight().assume_utc())
}

/// `GET {base}/history?month=YYYY-MM` (default: the current month).
pub(crate) async fn history(
    State(state): State<AppState>,
    page: PublicPage,
    Query(q): Query<MonthQuery>,
    headers: HeaderMap,
) -> Response {
    let now = page.snapshot.built_at.to_datetime().date();
    let this_month = Date::from_calendar_date(now.year(), now.month(), 1).unwrap_or(now);
    let month = match q.month.as_deref() {
        None | Some("") => this_month,
        Some(m) => match parse_month(m) {
            Some(d) => d,
            None => {
                return ApiError::invalid("month", "month must be YYYY-MM (years 2000 to 9999)")
                    .into_response();
            }
        },
    };
    let key = format!("history/{}", month_key(month));
    if let Some(v) = page.entry.cached(&page.base, &key) {
        return v.respond(&headers);
    }
    let (Some(prev), Some(next)) = (prev_month(month), next_month(month)) else {
        return ApiError::invalid("month", "month out of range").into_response();
    };
    let s = &page.snapshot;
    let details = match state
        .store
        .workspace(s.page.workspace_id)
        .page_incidents(
            s.page.id,
            &PageIncidentQuery {
                open_only: false,
                from: Some(midnight(month)),
                to: Some(midnight(next)),
                limit: MONTH_LIMIT,
            },
        )
        .await
    {
        Ok(d) => d,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let incidents = incident_views(details);
    let label = format!("{} {}", month.month(), month.year());
    let base = page.base.clone();
    page.respond(&headers, &key, HTML, move |s| {
        render(&HistoryTpl {
            s,
            base: &base,
            month_label: label,
            prev: month_key(prev),
            next: (month < this_month).then(|| month_key(next)),
            incidents,
        })
    })
}

/// `GET {base}/incidents/{id}`.
pub(crate) async fn incident(
    State(state): State<AppState>,
    page: PublicPage,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = params
        .iter()
        .find(|(k, _)| k == "id")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .map(IncidentId)
    else {
        return ApiError::not_found("incident").into_response();
    };
    let key = format!("incidents/{}", id.0);
    if let Some(v) = page.entry.cached(&page.base, &key) {
        return v.respond(&headers);
    }
    let s = page.snapshot.clone();
    let found = match s.incident(id) {
        Some(i) => Some(i.clone()),
        None => match find_incident(&state, &s, id).await {
            Ok(i) => i,
            Err(e) => return e.into_response(),
        },
    };
    let Some(i) = found else {
        return ApiError::not_found("incident").into_response();
    };
    let base = page.base.clone();
    page.respond(&headers, &key, HTML, move |s| {
        render(&IncidentTpl {
            s,
            base: &base,
            i: &i,
        })
    })
}

/// An incident older than the snapshot's, if it is on this page (the store's page rules
/// decide, through a query for incidents that started at the same moment).
async fn find_incident(
    state: &AppState,
    s: &Snapshot,
    id: IncidentId,
) -> Result<Option<IncidentView>, ApiError> {
    let mut scope = state.store.workspace(s.page.workspace_id);
    let Some(inc) = scope.incident(id).await? else {
        return Ok(None);
    };
    let details = scope
        .page_incidents(
            s.page.id,
            &PageIncidentQuery {
                open_only: false,
                from: Some(inc.started_at),
                to: Some(Timestamp::from_millis(inc.started_at.as_millis() + 1)),
                limit: MONTH_LIMIT,
            },
        )
        .await?;
    Ok(incident_views(details).into_iter().find(|i| i.id == id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(
            parse_month("2024-02"),
            Date::from_calendar_date(2024, Month::February, 1).ok()
        );
        for bad in [
            "",
            "2024",
            "2024-1",
            "2024-13",
            "2024-00",
            "1999-12",
            "10000-01",
            "2024-01-01",
            "abcd-ef",
            "+024-01",
            "2024-+1",
            "２０２４-01",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        let dec = parse_month("2024-12").unwrap();
        assert_eq!(next_month(dec).map(month_key).as_deref(), Some("2025-01"));
        let jan = parse_month("2024-01").unwrap();
        assert_eq!(prev_month(jan).map(month_key).as_deref(), Some("2023-12"));
    }

    #[test]
    fn segment_labels_name_date_uptime_and_incidents() {
        let d = DaySegment {
            date: Date::from_calendar_date(2024, Month::May, 3).unwrap(),
            uptime: Some(99.5),
            down: 3,
            incidents: vec!["API down".into(), "Slow DB".into()],
        };
        assert_eq!(
            segment_label(&d),
            "2024-05-03: 99.5% uptime, 2 incidents: API down; Slow DB"
        );
        let empty = DaySegment {
            uptime: None,
            incidents: vec![],
            ..d
        };
        assert_eq!(segment_label(&empty), "2024-05-03: no data, no incidents");
        assert_eq!(format_percent(100.0), "100%");
        assert_eq!(format_percent(99.9504), "99.95%");
        assert_eq!(format_percent(0.0), "0%");
    }
}
