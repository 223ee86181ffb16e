//! Dashboard pages: error tracking.
//!
//! Under `/w/{ws}/projects`: the workspace's projects ([`projects`]: create, rename, settings,
//! DSN keys with their SDK set-up snippets), a project's issues, events and attachments
//! ([`issues`]), and what its SDKs report about performance, release health and cron jobs
//! ([`perf`]). Every page reads and writes through the functions the REST API's handlers call
//! (`api::projects`, `api::issues`), so the pages and the API agree on rules and messages.

mod issues;
mod perf;
mod projects;
pub(crate) mod snippets;

use std::fmt;

use axum::Router;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{Dash, DashError};
use crate::AppState;
use crate::api::projects::project_of;

/// This part's routes (relative to `/app`).
pub(super) fn router() -> Router<AppState> {
    const P: &str = "/w/{ws}/projects/{id}";
    Router::new()
        .route(
            "/w/{ws}/projects",
            get(projects::list).post(projects::create),
        )
        .route(P, get(projects::setup))
        .route(
            &format!("{P}/settings"),
            get(projects::settings).post(projects::save_settings),
        )
        .route(&format!("{P}/delete"), post(projects::delete))
        .route(&format!("{P}/keys"), post(projects::create_key))
        .route(&format!("{P}/keys/{{key}}"), post(projects::update_key))
        .route(
            &format!("{P}/keys/{{key}}/rotate"),
            post(projects::rotate_key),
        )
        .route(
            &format!("{P}/keys/{{key}}/revoke"),
            post(projects::revoke_key),
        )
        .route(&format!("{P}/issues"), get(issues::list))
        .route(&format!("{P}/issues/bulk"), post(issues::bulk))
        .route(&format!("{P}/issues/{{issue}}"), get(issues::detail))
        .route(
            &format!("{P}/issues/{{issue}}/status"),
            post(issues::status),
        )
        .route(&format!("{P}/events/{{event}}"), get(issues::event))
        .route(
            &format!("{P}/attachments/{{attachment}}"),
            get(issues::attachment),
        )
        .route(&format!("{P}/transactions"), get(perf::transactions))
        .route(&format!("{P}/releases"), get(perf::releases))
        .route(&format!("{P}/crons"), get(perf::crons))
        .route(&format!("{P}/crons/{{slug}}"), get(perf::cron))
}

// === shared by the pages of a project ===

/// The tabs of a project's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    /// Issues and events.
    Issues,
    /// Transactions.
    Transactions,
    /// Releases.
    Releases,
    /// Cron monitors.
    Crons,
    /// DSN keys and SDK set-up.
    Setup,
    /// Name, platform, retention, alerts.
    Settings,
}

impl Tab {
    const ALL: [(Self, &'static str, &'static str); 6] = [
        (Self::Issues, "Issues", "/issues"),
        (Self::Transactions, "Transactions", "/transactions"),
        (Self::Releases, "Releases", "/releases"),
        (Self::Crons, "Crons", "/crons"),
        (Self::Setup, "Set-up & keys", ""),
        (Self::Settings, "Settings", "/settings"),
    ];
}

/// One tab link.
#[derive(Debug, Clone)]
pub(crate) struct TabLink {
    /// What it says.
    pub label: &'static str,
    /// Where it goes.
    pub href: String,
    /// Whether it is the page's.
    pub current: bool,
}

/// The heading of a project's pages: its name, its URL and the tabs.
#[derive(Debug, Clone)]
pub(crate) struct ProjectHead {
    /// `/app/w/{ws}/projects/{id}`.
    pub base: String,
    /// The projects list of the workspace.
    pub list: String,
    /// Its name.
    pub name: String,
    /// Its platform, if set.
    pub platform: Option<String>,
    /// The tabs.
    pub tabs: Vec<TabLink>,
}

/// The project `id` of the dashboard's workspace (404 page for another workspace's) as the
/// heading of a page on `tab`.
async fn head(state: &AppState, dash: &Dash, id: i64, tab: Tab) -> Result<ProjectHead, DashError> {
    let mut scope = state.store.workspace(dash.ws());
    let p = project_of(&mut scope, id).await?;
    let base = dash.url(&format!("/projects/{}", p.id.0));
    Ok(ProjectHead {
        tabs: Tab::ALL
            .iter()
            .map(|(t, label, path)| TabLink {
                label,
                href: format!("{base}{path}"),
                current: *t == tab,
            })
            .collect(),
        list: dash.url("/projects"),
        base,
        name: p.name,
        platform: p.platform,
    })
}

/// A numeric id of a path: anything else is the 404 page, as for an id that is not there.
fn id_of(s: &str) -> Result<i64, DashError> {
    s.parse::<i64>().map_err(|_| DashError::NotFound)
}

/// A query string read into `T` (`serde_html_form`: repeated keys into `Vec`s, empty values
/// kept); a malformed one is a 400 page.
fn query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, DashError> {
    serde_html_form::from_str(raw.unwrap_or("")).map_err(|e| {
        DashError::Page(
            axum::http::StatusCode::BAD_REQUEST,
            format!("The address's query is malformed: {e}."),
        )
    })
}

/// An optional text field of a form or query: blank means not given.
fn given(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A point in time as the pages show it: `2026-11-24 02:34:02 UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct When(pub OffsetDateTime);

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.to_offset(time::UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl When {
    /// The machine-readable form for `<time datetime>`.
    pub(crate) fn iso(&self) -> String {
        self.0
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
}

/// A count with thousands separators (`12,345`).
pub(crate) fn count(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A percentage with two decimals, or an em dash without data.
pub(crate) fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "—".to_owned(), |p| format!("{p:.2}%"))
}

/// Milliseconds as a duration (`850 ms`, `1.25 s`), or an em dash without data.
pub(crate) fn millis(ms: Option<f64>) -> String {
    ms.map_or_else(|| "—".to_owned(), |ms| super::chart::fmt_us(ms * 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_times_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(-1_234_567), "-1,234,567");
        assert_eq!(percent(Some(99.5)), "99.50%");
        assert_eq!(percent(None), "—");
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(When(t).to_string(), "2023-11-14 22:13:20 UTC");
        assert_eq!(When(t).iso(), "2023-11-14T22:13:20Z");
        assert_eq!(given(Some("  ")), None);
        assert_eq!(given(Some(" a ")).as_deref(), Some("a"));
        assert!(id_of("12").is_ok());
        assert!(matches!(id_of("1e3"), Err(DashError::NotFound)));
    }
}
