//! Atom 1.0 and RSS 2.0 feeds of a page's incidents (with their updates) and maintenance
//! windows, rendered from the page's [`Snapshot`]: `/s/{slug}/history.atom` and
//! `/s/{slug}/history.rss` (and `/history.atom`, `/history.rss` on a custom domain).
//!
//! Entries are the snapshot's recent incidents (up to 50) and its running, upcoming and
//! recently completed maintenance windows, most recently changed first. An incident entry
//! links to its detail page and holds its whole update timeline (HTML, escaped in the feed);
//! a maintenance entry links to the page. Ids are stable URLs under the server's public URL.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use bitwobbly_store::types::{ComponentStatus, IncidentStatus, Timestamp};
use time::format_description::well_known::{Rfc2822, Rfc3339};

use super::PublicPage;
use super::badges::escape;
use super::snapshot::{IncidentView, MaintenanceStatus, MaintenanceView, Snapshot};
use crate::state::AppState;

/// The feed routes, relative to a page (`/history.atom`, `/history.rss`).
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/history.atom", get(atom_feed))
        .route("/history.rss", get(rss_feed))
}

async fn atom_feed(page: PublicPage, State(state): State<AppState>, req: HeaderMap) -> Response {
    serve(&page, &state, &req, FeedFormat::Atom)
}

async fn rss_feed(page: PublicPage, State(state): State<AppState>, req: HeaderMap) -> Response {
    serve(&page, &state, &req, FeedFormat::Rss)
}

fn serve(page: &PublicPage, state: &AppState, req: &HeaderMap, format: FeedFormat) -> Response {
    let page_url = canonical_url(state, &page.snapshot);
    page.respond(req, format.file_name(), format.content_type(), |s| {
        render(s, format, &page_url)
    })
}

/// The page's canonical absolute URL: the server's public URL and `/s/{slug}` (the same on a
/// custom domain, so entry ids do not change with the address a reader used).
pub(crate) fn canonical_url(state: &AppState, snapshot: &Snapshot) -> String {
    format!("{}/s/{}", state.config.public_url(), snapshot.page.slug)
}

/// The two feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// Atom 1.0 (RFC 4287).
    Atom,
    /// RSS 2.0.
    Rss,
}

impl FeedFormat {
    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Atom => "application/atom+xml; charset=utf-8",
            Self::Rss => "application/rss+xml; charset=utf-8",
        }
    }

    /// The file name under the page (`history.atom`, `history.rss`).
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Atom => "history.atom",
            Self::Rss => "history.rss",
        }
    }
}

/// One feed entry, from an incident or a maintenance window.
struct Entry {
    id: String,
    link: String,
    title: String,
    category: &'static str,
    published: Timestamp,
    updated: Timestamp,
    /// HTML (unescaped; the feed escapes it).
    html: String,
}

/// Renders the feed of `snapshot` in `format`; `page_url` is the page's absolute URL
/// (`https://status.example.com/s/acme`, no trailing slash).
pub fn render(snapshot: &Snapshot, format: FeedFormat, page_url: &str) -> Vec<u8> {
    let entries = entries(snapshot, page_url);
    match format {
        FeedFormat::Atom => atom(snapshot, page_url, &entries),
        FeedFormat::Rss => rss(snapshot, page_url, &entries),
    }
    .into_bytes()
}

fn entries(snapshot: &Snapshot, page_url: &str) -> Vec<Entry> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Entry> = snapshot
        .recent_incidents
        .iter()
        .chain(&snapshot.active_incidents)
        .filter(|i| seen.insert(i.id))
        .map(|i| incident_entry(snapshot, i, page_url))
        .collect();
    let mut seen = std::collections::HashSet::new();
    out.extend(
        snapshot
            .maintenances
            .iter()
            .chain(&snapshot.past_maintenances)
            .filter(|m| seen.insert(m.id))
            .map(|m| maintenance_entry(snapshot, m, page_url)),
    );
    out.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| b.id.cmp(&a.id)));
    out
}

/// The incident status as a capitalised word (`Investigating`, ...).
pub(crate) fn status_word(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Investigating => "Investigating",
        IncidentStatus::Identified => "Identified",
        IncidentStatus::Monitoring => "Monitoring",
        IncidentStatus::Resolved => "Resolved",
    }
}

fn component_word(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => "operational",
        ComponentStatus::DegradedPerformance => "degraded performance",
        ComponentStatus::PartialOutage => "partial outage",
        ComponentStatus::MajorOutage => "major outage",
        ComponentStatus::UnderMaintenance => "under maintenance",
    }
}

/// `2025-01-01 10:00 UTC`.
fn human_time(t: Timestamp) -> String {
    let d = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute()
    )
}

fn incident_entry(snapshot: &Snapshot, i: &IncidentView, page_url: &str) -> Entry {
    let mut html = String::new();
    let _ = write!(
        html,
        "<p><strong>Impact:</strong> {}</p>",
        escape(i.impact.as_str())
    );
    let names: Vec<String> = i
        .components
        .iter()
        .filter_map(|a| {
            snapshot
                .component(a.component_id)
                .map(|c| format!("{} ({})", escape(&c.name), component_word(a.status)))
        })
        .collect();
    if !names.is_empty() {
        let _ = write!(
            html,
            "<p><strong>Affected:</strong> {}</p>",
            names.join(", ")
        );
    }
    for u in &i.updates {
        let _ = write!(
            html,
            "<p><strong>{}</strong> <small>{}</small><br>{}</p>",
            status_word(u.status),
            human_time(u.created_at),
            escape(&u.message).replace('\n', "<br>")
        );
    }
    let link = format!("{page_url}/incidents/{}", i.id.0);
    Entry {
        id: link.clone(),
        link,
        title: format!("[{}] {}", status_word(i.status), i.title),
        category: "incident",
        published: i.started_at,
        updated: i.updated_at.max(i.started_at),
        html,
    }
}

fn maintenance_entry(snapshot: &Snapshot, m: &MaintenanceView, page_url: &str) -> Entry {
    let state = match m.status {
        MaintenanceStatus::Scheduled => "Scheduled",
        MaintenanceStatus::InProgress => "In progress",
        MaintenanceStatus::Completed => "Completed",
    };
    let mut html = format!(
        "<p><strong>{state}</strong>: from {} to {}</p>",
        human_time(m.scheduled_for),
        human_time(m.scheduled_until)
    );
    let names: Vec<String> = m
        .components
        .iter()
        .filter_map(|id| snapshot.component(*id).map(|c| escape(&c.name)))
        .collect();
    if !names.is_empty() {
        let _ = write!(
            html,
            "<p><strong>Components:</strong> {}</p>",
            names.join(", ")
        );
    }
    if !m.message.is_empty() {
        let _ = write!(html, "<p>{}</p>", escape(&m.message).replace('\n', "<br>"));
    }
    // A window changes when it starts and when it ends: the feed entry is "updated" then.
    let updated = match m.status {
        MaintenanceStatus::Scheduled => m.created_at,
        MaintenanceStatus::InProgress => m.scheduled_for.max(m.created_at),
        MaintenanceStatus::Completed => m.scheduled_until.max(m.created_at),
    };
    Entry {
        id: format!("{page_url}#maintenance-{}", m.id.0),
        link: page_url.to_owned(),
        title: format!("[Maintenance: {state}] {}", m.title),
        category: "maintenance",
        published: m.created_at,
        updated,
        html,
    }
}

/// `2025-01-01T10:00:00Z` (RFC 3339, UTC).
pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.to_datetime()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn rfc2822(t: Timestamp) -> String {
    t.to_datetime()
        .format(&Rfc2822)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".to_owned())
}

fn feed_title(snapshot: &Snapshot) -> String {
    format!("{} status history", snapshot.page.title)
}

/// The feed's "last changed": the page's, or a newer entry's.
fn feed_updated(snapshot: &Snapshot, entries: &[Entry]) -> Timestamp {
    entries
        .iter()
        .map(|e| e.updated)
        .max()
        .map_or(snapshot.page.updated_at, |t| {
            t.max(snapshot.page.updated_at)
        })
}

fn atom(snapshot: &Snapshot, page_url: &str, entries: &[Entry]) -> String {
    let mut s = String::with_capacity(2048 + entries.len() * 1024);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    s.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let page = escape(page_url);
    let _ = writeln!(s, "<title>{}</title>", escape(&feed_title(snapshot)));
    if let Some(d) = &snapshot.page.description {
        let _ = writeln!(s, "<subtitle>{}</subtitle>", escape(d));
    }
    let _ = writeln!(s, "<id>{page}/history.atom</id>");
    let _ = writeln!(
        s,
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"{page}/history.atom\"/>"
    );
    let _ = writeln!(
        s,
        "<link rel=\"alternate\" type=\"text/html\" href=\"{page}\"/>"
    );
    let _ = writeln!(
        s,
        "<updated>{}</updated>",
        rfc3339(feed_updated(snapshot, entries))
    );
    let _ = writeln!(
        s,
        "<author><name>{}</name><uri>{page}</uri></author>",
        escape(&snapshot.page.title)
    );
    s.push_str("<generator>Bit Wobbly</generator>\n");
    for e in entries {
        s.push_str("<entry>\n");
        let _ = writeln!(s, "<id>{}</id>", escape(&e.id));
        let _ = writeln!(s, "<title>{}</title>", escape(&e.title));
        let _ = writeln!(
            s,
            "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            escape(&e.link)
        );
        let _ = writeln!(s, "<published>{}</published>", rfc3339(e.published));
        let _ = writeln!(s, "<updated>{}</updated>", rfc3339(e.updated));
        let _ = writeln!(s, "<category term=\"{}\"/>", e.category);
        let _ = writeln!(s, "<content type=\"html\">{}</content>", escape(&e.html));
        s.push_str("</entry>\n");
    }
    s.push_str("</feed>\n");
    s
}

fn rss(snapshot: &Snapshot, page_url: &str, entries: &[Entry]) -> String {
    let mut s = String::with_capacity(2048 + entries.len() * 1024);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    s.push_str("<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n");
    let page = escape(page_url);
    let _ = writeln!(s, "<title>{}</title>", escape(&feed_title(snapshot)));
    let _ = writeln!(s, "<link>{page}</link>");
    let description = snapshot
        .page
        .description
        .clone()
        .unwrap_or_else(|| format!("Incidents and maintenance of {}", snapshot.page.title));
    let _ = writeln!(s, "<description>{}</description>", escape(&description));
    let _ = writeln!(
        s,
        "<atom:link href=\"{page}/history.rss\" rel=\"self\" type=\"application/rss+xml\"/>"
    );
    let _ = writeln!(
        s,
        "<lastBuildDate>{}</lastBuildDate>",
        rfc2822(feed_updated(snapshot, entries))
    );
    s.push_str("<generator>Bit Wobbly</generator>\n");
    for e in entries {
        s.push_str("<item>\n");
        let _ = writeln!(s, "<title>{}</title>", escape(&e.title));
        let _ = writeln!(s, "<link>{}</link>", escape(&e.link));
        // Maintenance ids carry a fragment: still a URL, but not one that is its own page.
        let permalink = e.id == e.link;
        let _ = writeln!(
            s,
            "<guid isPermaLink=\"{permalink}\">{}</guid>",
            escape(&e.id)
        );
        let _ = writeln!(s, "<pubDate>{}</pubDate>", rfc2822(e.updated));
        let _ = writeln!(s, "<category>{}</category>", e.category);
        let _ = writeln!(s, "<description>{}</description>", escape(&e.html));
        s.push_str("</item>\n");
    }
    s.push_str("</channel>\n</rss>\n");
    s
}
