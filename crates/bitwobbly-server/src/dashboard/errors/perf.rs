//! What a project's SDKs report besides errors: transactions (p50/p95/p99 per name, with a
//! chart of one name over time), releases (crash-free sessions and users) and cron monitors
//! (their check-ins on a timeline).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{ProjectHead, Tab, When, count, given, head, id_of, millis, percent, query};
use crate::AppState;
use crate::api::projects::{
    CheckInView, CheckInsQuery, CronView, ReleaseView, SeriesQuery, TransactionSummaryView,
    WindowQuery, check_ins_of, crons_of, releases_of, series_of, transactions_of,
};
use crate::auth::Read;
use crate::dashboard::chart::{self, Series, UptimeSlot};
use crate::dashboard::{Dash, DashError, FormErrors, Layout, Section, render_status};
use crate::error::ApiError;

/// The windows offered, with their labels.
const PERIODS: [(&str, &str); 5] = [
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
];

/// `?period=&name=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct WindowForm {
    period: Option<String>,
    name: Option<String>,
}

/// `Ok(v)`, or no value and the error's field message added to `errors` when it names one.
fn field_error<T>(r: Result<T, ApiError>, errors: &mut FormErrors) -> Result<Option<T>, DashError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => match FormErrors::from_api(&e) {
            Some(fe) => {
                for (f, m) in fe.all() {
                    errors.add(f, m);
                }
                Ok(None)
            }
            None => Err(e.into()),
        },
    }
}

fn status_of(errors: &FormErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

// === transactions ===

/// One transaction name of the table.
#[derive(Debug)]
struct TxRow {
    t: TransactionSummaryView,
    href: String,
    count: String,
    error_rate: String,
    p50: String,
    p95: String,
    p99: String,
    mean: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "dash/errors/transactions.html")]
struct TransactionsPage {
    layout: Layout,
    project: ProjectHead,
    period: String,
    periods: &'static [(&'static str, &'static str)],
    rows: Vec<TxRow>,
    chart: Option<String>,
    chart_name: Option<String>,
    errors: FormErrors,
}

/// `GET /w/{ws}/projects/{id}/transactions?period=&name=`.
pub(super) async fn transactions(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let q: WindowForm = query(raw.as_deref())?;
    let access = dash.access::<Read>()?;
    let project = head(&state, &dash, id, Tab::Transactions).await?;
    let period = given(q.period.as_deref()).unwrap_or_else(|| "24h".to_owned());
    let window = WindowQuery {
        from: None,
        to: None,
        period: Some(period.clone()),
    };
    let mut errors = FormErrors::new();
    let list = field_error(
        transactions_of(&state, &access, id, &window).await,
        &mut errors,
    )?
    .map(|v| v.transactions)
    .unwrap_or_default();
    // The chart shows the chosen name, or the busiest.
    let name = given(q.name.as_deref()).or_else(|| list.first().map(|t| t.name.clone()));
    let mut chart = None;
    if let (Some(name), true) = (&name, errors.is_empty()) {
        let sq = SeriesQuery {
            name: name.clone(),
            from: None,
            to: None,
            period: Some(period.clone()),
            interval: None,
        };
        if let Some(s) = field_error(series_of(&state, &access, id, &sq).await, &mut errors)? {
            let points = |pick: fn(&crate::api::projects::TransactionStatsView) -> Option<f64>| {
                s.buckets
                    .iter()
                    .filter_map(|b| pick(&b.stats).map(|v| (b.start.unix_timestamp() * 1000, v)))
                    .collect::<Vec<_>>()
            };
            let (p50, p95, p99) = (
                points(|s| s.p50_ms),
                points(|s| s.p95_ms),
                points(|s| s.p99_ms),
            );
            chart = Some(chart::line_chart(
                &format!("Duration of {name}"),
                "ms",
                &[
                    Series {
                        label: "p50",
                        points: &p50,
                    },
                    Series {
                        label: "p95",
                        points: &p95,
                    },
                    Series {
                        label: "p99",
                        points: &p99,
                    },
                ],
            ));
        }
    }
    let base = format!("{}/transactions", project.base);
    let rows = list
        .into_iter()
        .map(|t| {
            let mut qs = url::form_urlencoded::Serializer::new(String::new());
            qs.append_pair("period", &period)
                .append_pair("name", &t.name);
            TxRow {
                href: format!("{base}?{}", qs.finish()),
                count: count(t.stats.count),
                error_rate: percent(t.stats.error_rate.map(|r| r * 100.0)),
                p50: millis(t.stats.p50_ms),
                p95: millis(t.stats.p95_ms),
                p99: millis(t.stats.p99_ms),
                mean: millis(t.stats.mean_ms),
                current: name.as_deref() == Some(t.name.as_str()),
                t,
            }
        })
        .collect();
    let page = TransactionsPage {
        layout: dash.layout(
            format!("{} · Transactions", project.name),
            Section::Projects,
        ),
        project,
        period,
        periods: &PERIODS,
        rows,
        chart_name: chart.as_ref().and(name),
        chart,
        errors,
    };
    Ok(render_status(status_of(&page.errors), &page))
}

// === releases ===

#[derive(Debug)]
struct ReleaseRow {
    r: ReleaseView,
    sessions: String,
    crash_free_sessions: String,
    users: String,
    crash_free_users: String,
    last_seen: When,
}

#[derive(Template)]
#[template(path = "dash/errors/releases.html")]
struct ReleasesPage {
    layout: Layout,
    project: ProjectHead,
    period: String,
    periods: &'static [(&'static str, &'static str)],
    rows: Vec<ReleaseRow>,
    errors: FormErrors,
}

/// `GET /w/{ws}/projects/{id}/releases?period=`.
pub(super) async fn releases(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let q: WindowForm = query(raw.as_deref())?;
    let access = dash.access::<Read>()?;
    let project = head(&state, &dash, id, Tab::Releases).await?;
    let period = given(q.period.as_deref()).unwrap_or_else(|| "30d".to_owned());
    let window = WindowQuery {
        from: None,
        to: None,
        period: Some(period.clone()),
    };
    let mut errors = FormErrors::new();
    let rows = field_error(releases_of(&state, &access, id, &window).await, &mut errors)?
        .unwrap_or_default()
        .into_iter()
        .map(|r| ReleaseRow {
            sessions: count(r.sessions),
            crash_free_sessions: percent(r.crash_free_sessions_percent),
            users: count(r.users),
            crash_free_users: percent(r.crash_free_users_percent),
            last_seen: When(r.last_seen),
            r,
        })
        .collect();
    let page = ReleasesPage {
        layout: dash.layout(format!("{} · Releases", project.name), Section::Projects),
        project,
        period,
        periods: &PERIODS,
        rows,
        errors,
    };
    Ok(render_status(status_of(&page.errors), &page))
}

// === crons ===

#[derive(Debug)]
struct CronRow {
    c: CronView,
    href: String,
    last: When,
    check_ins: String,
    monitor: Option<String>,
    tone: &'static str,
}

#[derive(Template)]
#[template(path = "dash/errors/crons.html")]
struct CronsPage {
    layout: Layout,
    project: ProjectHead,
    rows: Vec<CronRow>,
}

/// The badge class of a check-in or monitor status.
fn tone(status: &str) -> &'static str {
    match status {
        "ok" | "up" => "ok",
        "in_progress" | "degraded" | "paused" | "maintenance" => "warn",
        _ => "bad",
    }
}

/// `GET /w/{ws}/projects/{id}/crons`.
pub(super) async fn crons(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let access = dash.access::<Read>()?;
    let project = head(&state, &dash, id, Tab::Crons).await?;
    let rows = crons_of(&state, &access, id)
        .await?
        .into_iter()
        .map(|c| {
            let slug: String = url::form_urlencoded::byte_serialize(c.slug.as_bytes()).collect();
            CronRow {
                href: format!("{}/crons/{slug}", project.base),
                last: When(c.last_check_in_at),
                check_ins: count(c.check_ins),
                monitor: c.monitor_id.map(|m| dash.url(&format!("/monitors/{m}"))),
                tone: tone(&c.last_status),
                c,
            }
        })
        .collect();
    Ok(render_status(
        StatusCode::OK,
        &CronsPage {
            layout: dash.layout(format!("{} · Crons", project.name), Section::Projects),
            project,
            rows,
        },
    ))
}

#[derive(Debug)]
struct CheckInRow {
    c: CheckInView,
    when: When,
    duration: String,
    tone: &'static str,
}

#[derive(Template)]
#[template(path = "dash/errors/cron.html")]
struct CronPage {
    layout: Layout,
    project: ProjectHead,
    slug: String,
    rows: Vec<CheckInRow>,
    timeline: String,
    durations: String,
}

/// Check-ins shown on a cron monitor's page.
const CHECK_INS: &str = "100";

/// `GET /w/{ws}/projects/{id}/crons/{slug}`: the latest check-ins, a timeline and durations.
pub(super) async fn cron(
    State(state): State<AppState>,
    dash: Dash,
    Path((_, id, slug)): Path<(String, String, String)>,
) -> Result<Response, DashError> {
    let id = id_of(&id)?;
    let access = dash.access::<Read>()?;
    let project = head(&state, &dash, id, Tab::Crons).await?;
    let q = CheckInsQuery {
        limit: Some(CHECK_INS.to_owned()),
    };
    let list = check_ins_of(&state, &access, id, &slug, &q).await?;
    // Oldest on the left: a run that is fine is up, one still running degraded, any other
    // outcome (error, missed, timeout) down.
    let slots: Vec<UptimeSlot> = list
        .iter()
        .rev()
        .map(|c| {
            let t = tone(&c.status);
            UptimeSlot {
                label: format!("{} {}", When(c.received_at), c.status),
                up: u64::from(t == "ok"),
                degraded: u64::from(t == "warn"),
                down: u64::from(t == "bad"),
            }
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let durations: Vec<Option<f64>> = list
        .iter()
        .rev()
        .map(|c| c.duration_ms.map(|d| d as f64))
        .collect();
    let rows = list
        .into_iter()
        .map(|c| CheckInRow {
            when: When(c.received_at),
            #[allow(clippy::cast_precision_loss)]
            duration: millis(c.duration_ms.map(|d| d as f64)),
            tone: tone(&c.status),
            c,
        })
        .collect();
    Ok(render_status(
        StatusCode::OK,
        &CronPage {
            layout: dash.layout(format!("{} · Cron {slug}", project.name), Section::Projects),
            timeline: chart::uptime_bar(&slots),
            durations: chart::sparkline(&durations, &format!("Durations of {slug}"), "ms"),
            project,
            slug,
            rows,
        },
    ))
}
