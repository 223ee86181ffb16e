//! The snapshot of one status page: everything the HTML, the Statuspage v2 JSON, the feeds and
//! the badges show, read from the database in one go and then shared (`Arc<Snapshot>`) by every
//! renderer until the page is invalidated or the snapshot is too old.

use bitwobbly_store::model::{AffectedComponent, ComponentChange};
use bitwobbly_store::types::{
    ComponentGroupId, ComponentId, ComponentStatus, Impact, IncidentId, IncidentKind,
    IncidentStatus, IncidentUpdateId, MaintenanceId, MonitorId, StatusPageId, Timestamp,
    WorkspaceId,
};
use serde::Serialize;

/// How many daily segments an uptime bar has.
pub const UPTIME_DAYS: usize = 90;

/// How many incidents (any status) a snapshot keeps besides the active ones: the 50 of
/// Statuspage's `incidents.json`.
pub const RECENT_INCIDENTS: usize = 50;

/// The page's colour scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Always light.
    Light,
    /// Always dark.
    Dark,
    /// Follows the visitor's system (`prefers-color-scheme`).
    #[default]
    System,
}

impl Theme {
    /// Parses the stored name; anything unknown follows the system.
    pub fn parse(s: &str) -> Self {
        match s {
            "light" => Self::Light,
            "dark" => Self::Dark,
            _ => Self::System,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
            Self::System => "system",
        }
    }
}

/// A link in the page's footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FooterLink {
    /// Text.
    pub label: String,
    /// Target.
    pub url: String,
}

/// The page's own settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageInfo {
    /// Id.
    pub id: StatusPageId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// URL name (`/s/{slug}`).
    pub slug: String,
    /// Title.
    pub title: String,
    /// Text under the title.
    pub description: Option<String>,
    /// Logo image URL.
    pub logo_url: Option<String>,
    /// Colour scheme.
    pub theme: Theme,
    /// Footer links.
    pub footer_links: Vec<FooterLink>,
    /// IANA time zone (Statuspage `page.time_zone`).
    pub time_zone: String,
    /// Custom domains (lowercase) that serve this page at `/`.
    pub domains: Vec<String>,
    /// Whether visitors must enter a password.
    pub password_protected: bool,
    /// When the page's content last changed (the newest of the page's settings, its
    /// incidents and maintenance); `Last-Modified` and Statuspage's `page.updated_at`.
    pub updated_at: Timestamp,
}

/// Statuspage's overall indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Everything works.
    None,
    /// Some degradation.
    Minor,
    /// A partial outage.
    Major,
    /// A major outage.
    Critical,
    /// Under maintenance (only when nothing is otherwise wrong).
    Maintenance,
}

impl Indicator {
    /// The Statuspage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
            Self::Maintenance => "maintenance",
        }
    }
}

/// The page's overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Overall {
    /// Statuspage indicator.
    pub indicator: Indicator,
    /// Statuspage description ("All Systems Operational", ...).
    pub description: &'static str,
}

/// A group of components, in page order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupView {
    /// Id.
    pub id: ComponentGroupId,
    /// Name.
    pub name: String,
    /// Position on the page.
    pub position: i64,
    /// Worst status of its components.
    pub status: ComponentStatus,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Its components (indexes into [`Snapshot::components`]), in order.
    pub components: Vec<usize>,
}

/// One day of an uptime bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaySegment {
    /// The UTC day.
    pub date: time::Date,
    /// Uptime in percent (degraded counts as up); `None` with no results that day.
    pub uptime: Option<f64>,
    /// Down results that day.
    pub down: i64,
    /// Titles of the incidents on the component that overlapped the day.
    pub incidents: Vec<String>,
}

/// Response times over the last 24 hours, from hourly rollups.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ResponseSummary {
    /// Mean total time in milliseconds.
    pub mean_ms: f64,
    /// 95th percentile in milliseconds, if known.
    pub p95_ms: Option<f64>,
    /// Smallest total time in milliseconds.
    pub min_ms: Option<f64>,
    /// Largest total time in milliseconds.
    pub max_ms: Option<f64>,
}

/// A component with its current status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentView {
    /// Id.
    pub id: ComponentId,
    /// Group, if any.
    pub group_id: Option<ComponentGroupId>,
    /// Public name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Current status: maintenance, then the worst of its monitor, its active incidents and
    /// its manual status.
    pub status: ComponentStatus,
    /// Position on the page.
    pub position: i64,
    /// The monitor it shows, if any.
    pub monitor_id: Option<MonitorId>,
    /// Whether the uptime bar is shown.
    pub show_uptime: bool,
    /// Whether response times are shown.
    pub show_response_times: bool,
    /// [`UPTIME_DAYS`] daily segments, oldest first (empty when it has no monitor or
    /// `show_uptime` is off).
    pub days: Vec<DaySegment>,
    /// Uptime over the whole bar in percent (`None` without results).
    pub uptime_90d: Option<f64>,
    /// Uptime over the last 24 hours, 7 and 30 days in percent (for badges).
    pub uptime_24h: Option<f64>,
    /// See `uptime_24h`.
    pub uptime_7d: Option<f64>,
    /// See `uptime_24h`.
    pub uptime_30d: Option<f64>,
    /// Response times over the last 24 hours (when it has a monitor; shown only if
    /// `show_response_times`).
    pub response: Option<ResponseSummary>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed (settings or manual status).
    pub updated_at: Timestamp,
}

/// One update on an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateView {
    /// Id.
    pub id: IncidentUpdateId,
    /// Status it moved to.
    pub status: IncidentStatus,
    /// Message.
    pub message: String,
    /// When.
    pub created_at: Timestamp,
    /// The component statuses it changed (on this page).
    pub components: Vec<ComponentChange>,
}

/// An incident shown on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentView {
    /// Id.
    pub id: IncidentId,
    /// Title.
    pub title: String,
    /// Current status.
    pub status: IncidentStatus,
    /// Impact.
    pub impact: Impact,
    /// Automatic or manual.
    pub kind: IncidentKind,
    /// Started.
    pub started_at: Timestamp,
    /// Resolved, if it is.
    pub resolved_at: Option<Timestamp>,
    /// Last changed.
    pub updated_at: Timestamp,
    /// When it first moved to `monitoring`, if it did.
    pub monitoring_at: Option<Timestamp>,
    /// Updates, newest first.
    pub updates: Vec<UpdateView>,
    /// Affected components on this page (in page order) with their status during the
    /// incident.
    pub components: Vec<AffectedComponent>,
}

impl IncidentView {
    /// Whether it is still open.
    pub fn is_active(&self) -> bool {
        self.resolved_at.is_none() && self.status != IncidentStatus::Resolved
    }
}

/// Where a maintenance window is, at the snapshot's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    /// Not started yet.
    Scheduled,
    /// Running now.
    InProgress,
    /// Over.
    Completed,
}

impl MaintenanceStatus {
    /// The Statuspage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
        }
    }
}

/// A maintenance window on the page's components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintenanceView {
    /// Id.
    pub id: MaintenanceId,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// Start of the current or next occurrence (for a one-off window: its start).
    pub scheduled_for: Timestamp,
    /// End of that occurrence.
    pub scheduled_until: Timestamp,
    /// At the snapshot's time.
    pub status: MaintenanceStatus,
    /// Covered components on this page.
    pub components: Vec<ComponentId>,
    /// Created.
    pub created_at: Timestamp,
}

/// Everything one status page shows, at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// When it was built.
    pub built_at: Timestamp,
    /// Page settings.
    pub page: PageInfo,
    /// Overall status.
    pub overall: Overall,
    /// Groups in order (ungrouped components are not in any group).
    pub groups: Vec<GroupView>,
    /// Every component, in page order (groups' components by group position, then the
    /// ungrouped ones), each with its current status.
    pub components: Vec<ComponentView>,
    /// Indexes into `components` of the ungrouped ones, in order.
    pub ungrouped: Vec<usize>,
    /// Unresolved incidents, newest first.
    pub active_incidents: Vec<IncidentView>,
    /// The [`RECENT_INCIDENTS`] newest incidents of any status, newest first (includes the
    /// active ones).
    pub recent_incidents: Vec<IncidentView>,
    /// Maintenance windows that are running or upcoming, by start.
    pub maintenances: Vec<MaintenanceView>,
    /// Recently completed maintenance windows (for `scheduled-maintenances.json` and feeds),
    /// newest first.
    pub past_maintenances: Vec<MaintenanceView>,
}

impl Snapshot {
    /// A component by id.
    pub fn component(&self, id: ComponentId) -> Option<&ComponentView> {
        self.components.iter().find(|c| c.id == id)
    }

    /// An incident kept in the snapshot, by id.
    pub fn incident(&self, id: IncidentId) -> Option<&IncidentView> {
        self.recent_incidents
            .iter()
            .chain(&self.active_incidents)
            .find(|i| i.id == id)
    }

    /// Maintenance windows running now.
    pub fn active_maintenances(&self) -> impl Iterator<Item = &MaintenanceView> {
        self.maintenances
            .iter()
            .filter(|m| m.status == MaintenanceStatus::InProgress)
    }

    /// Maintenance windows not started yet.
    pub fn upcoming_maintenances(&self) -> impl Iterator<Item = &MaintenanceView> {
        self.maintenances
            .iter()
            .filter(|m| m.status == MaintenanceStatus::Scheduled)
    }
}

// === building ===

use std::collections::HashMap;
use std::time::Duration;

use bitwobbly_core::uptime::Tally;
use bitwobbly_store::LatencySketch;
use bitwobbly_store::api::{IncidentStore, MonitorStore, ResultStore, StatusPageStore};
use bitwobbly_store::model::{
    DayUptime, IncidentDetail, Maintenance, PageIncidentQuery, StatusPage,
};
use bitwobbly_store::types::MonitorStatus;

use crate::error::ApiError;
use crate::state::AppState;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Incidents read for the uptime bars at most (the 90 days before the snapshot).
const BAR_INCIDENTS: u32 = 1000;

/// Completed maintenance windows kept for `scheduled-maintenances.json` (the 50 newest).
const PAST_MAINTENANCES: usize = 50;

/// A component's status from its monitor's state.
pub fn monitor_component_status(status: MonitorStatus) -> ComponentStatus {
    match status {
        MonitorStatus::Up | MonitorStatus::Unknown | MonitorStatus::Paused => {
            ComponentStatus::Operational
        }
        MonitorStatus::Degraded => ComponentStatus::DegradedPerformance,
        MonitorStatus::Down => ComponentStatus::MajorOutage,
        MonitorStatus::Maintenance => ComponentStatus::UnderMaintenance,
    }
}

/// The worse of two component statuses.
pub fn worse(a: ComponentStatus, b: ComponentStatus) -> ComponentStatus {
    if b.severity() > a.severity() { b } else { a }
}

/// The overall status from the components' statuses, the active incidents' impacts and
/// whether a maintenance is running: the worse of the components' indicator (every component
/// in major outage: critical; any major or partial outage: major; any degraded: minor) and
/// the worst incident impact; `maintenance` only when nothing is otherwise wrong.
pub fn overall(
    components: &[ComponentStatus],
    impacts: &[Impact],
    maintenance_running: bool,
) -> Overall {
    let by_components = if !components.is_empty()
        && components
            .iter()
            .all(|s| *s == ComponentStatus::MajorOutage)
    {
        Indicator::Critical
    } else if components.iter().any(|s| {
        matches!(
            s,
            ComponentStatus::MajorOutage | ComponentStatus::PartialOutage
        )
    }) {
        Indicator::Major
    } else if components.contains(&ComponentStatus::DegradedPerformance) {
        Indicator::Minor
    } else {
        Indicator::None
    };
    let by_incidents = impacts
        .iter()
        .map(|i| match i {
            Impact::None => Indicator::None,
            Impact::Minor => Indicator::Minor,
            Impact::Major => Indicator::Major,
            Impact::Critical => Indicator::Critical,
        })
        .max()
        .unwrap_or(Indicator::None);
    let mut indicator = by_components.max(by_incidents);
    if indicator == Indicator::None
        && (maintenance_running || components.contains(&ComponentStatus::UnderMaintenance))
    {
        indicator = Indicator::Maintenance;
    }
    let description = match indicator {
        Indicator::None => "All Systems Operational",
        Indicator::Minor => "Minor Service Outage",
        Indicator::Major => "Partial System Outage",
        Indicator::Critical => "Major System Outage",
        Indicator::Maintenance => "Service Under Maintenance",
    };
    Overall {
        indicator,
        description,
    }
}

fn incident_view(d: IncidentDetail) -> IncidentView {
    let monitoring_at = d
        .updates
        .iter()
        .filter(|u| u.status == IncidentStatus::Monitoring)
        .map(|u| u.created_at)
        .min();
    IncidentView {
        id: d.incident.id,
        title: d.incident.title,
        status: d.incident.status,
        impact: d.incident.impact,
        kind: d.incident.kind,
        started_at: d.incident.started_at,
        resolved_at: d.incident.resolved_at,
        updated_at: d.incident.updated_at,
        monitoring_at,
        updates: d
            .updates
            .into_iter()
            .map(|u| UpdateView {
                id: u.id,
                status: u.status,
                message: u.message,
                created_at: u.created_at,
                components: u.components,
            })
            .collect(),
        components: d.components,
    }
}

/// Converts store incident details (as `page_incidents` returns them) to views.
pub fn incident_views(details: Vec<IncidentDetail>) -> Vec<IncidentView> {
    details.into_iter().map(incident_view).collect()
}

/// A window as the page shows it at `now`: its current occurrence if running, else its next
/// one (else its last one, completed).
fn maintenance_view(m: &Maintenance, on_page: &[ComponentId], now: Timestamp) -> MaintenanceView {
    let components = m
        .components
        .iter()
        .copied()
        .filter(|c| on_page.contains(c))
        .collect();
    let (from, until, status) = match m.window() {
        Some(w) if m.recurrence_cron.is_some() => {
            let in_range = now >= m.starts_at && now < m.ends_at;
            match w.active_at(now.to_datetime()) {
                Some((s, e)) if in_range => (s.into(), e.into(), MaintenanceStatus::InProgress),
                _ => match w.next_start_after(now.to_datetime()).map(Timestamp::from) {
                    Some(next) if next < m.ends_at => {
                        let len = Duration::from_secs(
                            u64::try_from(m.duration_secs.unwrap_or(0)).unwrap_or(0),
                        );
                        (next, next.plus(len), MaintenanceStatus::Scheduled)
                    }
                    _ => (m.starts_at, m.ends_at, MaintenanceStatus::Completed),
                },
            }
        }
        _ => {
            let status = if now < m.starts_at {
                MaintenanceStatus::Scheduled
            } else if now < m.ends_at && m.is_active(now) {
                MaintenanceStatus::InProgress
            } else {
                MaintenanceStatus::Completed
            };
            (m.starts_at, m.ends_at, status)
        }
    };
    MaintenanceView {
        id: m.id,
        title: m.title.clone(),
        message: m.message.clone(),
        scheduled_for: from,
        scheduled_until: until,
        status,
        components,
        created_at: m.created_at,
    }
}

fn percent(t: Tally) -> Option<f64> {
    t.uptime_percent()
}

fn tally(d: &DayUptime) -> Tally {
    Tally::new(
        u64::try_from(d.up).unwrap_or(0),
        u64::try_from(d.degraded).unwrap_or(0),
        u64::try_from(d.down).unwrap_or(0),
    )
}

/// Reads everything `page` shows at `now` (about a dozen queries plus one per monitor-backed
/// component for its response times).
///
/// # Errors
/// A database error.
pub async fn build(
    state: &AppState,
    page: &StatusPage,
    now: Timestamp,
) -> Result<Snapshot, ApiError> {
    let mut scope = state.store.workspace(page.workspace_id);
    let groups = scope.component_groups(page.id).await?;
    let mut components = scope.components(page.id).await?;
    let states: HashMap<MonitorId, MonitorStatus> = scope
        .monitor_states()
        .await?
        .into_iter()
        .map(|s| (s.monitor_id, s.status))
        .collect();
    let today = now.floor_day();
    let bar_from = today.minus(DAY * (UPTIME_DAYS as u32 - 1));
    let monitors: Vec<MonitorId> = {
        let mut m: Vec<MonitorId> = components.iter().filter_map(|c| c.monitor_id).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let days = if monitors.is_empty() {
        Vec::new()
    } else {
        scope
            .uptime_days(&monitors, bar_from, today.plus(DAY))
            .await?
    };
    let mut hourly = HashMap::new();
    for m in &monitors {
        let rollups = scope.hourly_rollups(*m, now.minus(DAY), now).await?;
        hourly.insert(*m, rollups);
    }
    let query = |open_only, from, limit| PageIncidentQuery {
        open_only,
        from,
        to: None,
        limit,
    };
    let active = incident_views(
        scope
            .page_incidents(page.id, &query(true, None, BAR_INCIDENTS))
            .await?,
    );
    let recent = incident_views(
        scope
            .page_incidents(page.id, &query(false, None, RECENT_INCIDENTS as u32))
            .await?,
    );
    let bar_incidents = incident_views(
        scope
            .page_incidents(page.id, &query(false, Some(bar_from), BAR_INCIDENTS))
            .await?,
    );
    let windows = scope
        .maintenances_for_page(page.id, now.minus(DAY * 30))
        .await?;

    // Page order: groups by position, their components by position, then the ungrouped.
    components.sort_by_key(|c| (c.position, c.id));
    let component_ids: Vec<ComponentId> = components.iter().map(|c| c.id).collect();
    let mut maintenances: Vec<MaintenanceView> = windows
        .iter()
        .map(|m| maintenance_view(m, &component_ids, now))
        .collect();
    maintenances.sort_by_key(|m| (m.scheduled_for, m.id));
    let mut past: Vec<MaintenanceView> = maintenances
        .iter()
        .filter(|m| m.status == MaintenanceStatus::Completed)
        .cloned()
        .collect();
    past.reverse();
    past.truncate(PAST_MAINTENANCES);
    maintenances.retain(|m| m.status != MaintenanceStatus::Completed);
    let in_maintenance = |c: &bitwobbly_store::model::Component| {
        windows.iter().any(|w| {
            (w.components.contains(&c.id) || c.monitor_id.is_some_and(|m| w.monitors.contains(&m)))
                && maintenance_view(w, &component_ids, now).status == MaintenanceStatus::InProgress
        })
    };

    let mut by_monitor_day: HashMap<(MonitorId, Timestamp), Tally> = HashMap::new();
    for d in &days {
        by_monitor_day.insert((d.monitor_id, d.day), tally(d));
    }
    let mut views = Vec::with_capacity(components.len());
    for c in &components {
        let mut status = match c.monitor_id {
            Some(m) => {
                monitor_component_status(states.get(&m).copied().unwrap_or(MonitorStatus::Unknown))
            }
            None => c.status,
        };
        for i in &active {
            if let Some(a) = i.components.iter().find(|a| a.component_id == c.id) {
                status = worse(status, a.status);
            }
        }
        if in_maintenance(c) {
            status = ComponentStatus::UnderMaintenance;
        }
        let (segments, uptime_90d, u7, u30, u1) = match c.monitor_id {
            Some(m) => {
                let mut segs = Vec::with_capacity(UPTIME_DAYS);
                let mut total = Tally::default();
                let (mut t7, mut t30, mut t1) =
                    (Tally::default(), Tally::default(), Tally::default());
                for i in 0..UPTIME_DAYS {
                    let day = bar_from.plus(DAY * i as u32);
                    let t = by_monitor_day.get(&(m, day)).copied().unwrap_or_default();
                    total = total.merge(t);
                    let age = UPTIME_DAYS - 1 - i;
                    if age < 30 {
                        t30 = t30.merge(t);
                    }
                    if age < 7 {
                        t7 = t7.merge(t);
                    }
                    if age < 1 {
                        t1 = t1.merge(t);
                    }
                    let end = day.plus(DAY);
                    let incidents = bar_incidents
                        .iter()
                        .filter(|inc| {
                            inc.components.iter().any(|a| a.component_id == c.id)
                                && inc.started_at < end
                                && inc.resolved_at.is_none_or(|r| r >= day)
                        })
                        .map(|inc| inc.title.clone())
                        .collect();
                    segs.push(DaySegment {
                        date: day.to_datetime().date(),
                        uptime: percent(t),
                        down: i64::try_from(t.down).unwrap_or(i64::MAX),
                        incidents,
                    });
                }
                (segs, percent(total), percent(t7), percent(t30), percent(t1))
            }
            _ => (Vec::new(), None, None, None, None),
        };
        let (response, uptime_24h) = match c.monitor_id.and_then(|m| hourly.get(&m)) {
            Some(rollups) => {
                let mut sketch = LatencySketch::new();
                let (mut sum, mut min, mut max) = (0i64, None::<i64>, None::<i64>);
                let mut t = Tally::default();
                for r in rollups {
                    sketch.merge(&r.latency);
                    sum = sum.saturating_add(r.sum_us);
                    min = match (min, r.min_us) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    max = match (max, r.max_us) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                    t = t.merge(Tally::new(
                        u64::try_from(r.up).unwrap_or(0),
                        u64::try_from(r.degraded).unwrap_or(0),
                        u64::try_from(r.down).unwrap_or(0),
                    ));
                }
                let n = sketch.count();
                let summary = (n > 0).then(|| ResponseSummary {
                    mean_ms: sum as f64 / n as f64 / 1000.0,
                    p95_ms: sketch.quantile(0.95).map(|us| us / 1000.0),
                    min_ms: min.map(|us| us as f64 / 1000.0),
                    max_ms: max.map(|us| us as f64 / 1000.0),
                });
                (summary, percent(t).or(u1))
            }
            None => (None, u1),
        };
        views.push(ComponentView {
            id: c.id,
            group_id: c.group_id,
            name: c.name.clone(),
            description: c.description.clone(),
            status,
            position: c.position,
            monitor_id: c.monitor_id,
            show_uptime: c.show_uptime,
            show_response_times: c.show_response_times,
            days: if c.show_uptime { segments } else { Vec::new() },
            uptime_90d,
            uptime_24h,
            uptime_7d: u7,
            uptime_30d: u30,
            response,
            created_at: c.created_at,
            updated_at: c.updated_at,
        });
    }

    // Order: each group's components (groups by position), then the ungrouped ones.
    let mut sorted_groups = groups.clone();
    sorted_groups.sort_by_key(|g| (g.position, g.id));
    let mut ordered: Vec<ComponentView> = Vec::with_capacity(views.len());
    let mut group_views = Vec::with_capacity(sorted_groups.len());
    for g in &sorted_groups {
        let start = ordered.len();
        ordered.extend(views.iter().filter(|v| v.group_id == Some(g.id)).cloned());
        let members: Vec<usize> = (start..ordered.len()).collect();
        let status = ordered[start..]
            .iter()
            .map(|v| v.status)
            .fold(ComponentStatus::Operational, worse);
        group_views.push(GroupView {
            id: g.id,
            name: g.name.clone(),
            position: g.position,
            status,
            created_at: g.created_at,
            updated_at: g.updated_at,
            components: members,
        });
    }
    let start = ordered.len();
    ordered.extend(
        views
            .iter()
            .filter(|v| {
                v.group_id
                    .is_none_or(|g| !sorted_groups.iter().any(|x| x.id == g))
            })
            .cloned(),
    );
    let ungrouped = (start..ordered.len()).collect();

    let statuses: Vec<ComponentStatus> = ordered.iter().map(|c| c.status).collect();
    let impacts: Vec<Impact> = active.iter().map(|i| i.impact).collect();
    let running = maintenances
        .iter()
        .any(|m| m.status == MaintenanceStatus::InProgress);
    let overall = overall(&statuses, &impacts, running);

    let updated_at = [page.updated_at]
        .into_iter()
        .chain(recent.iter().map(|i| i.updated_at))
        .chain(active.iter().map(|i| i.updated_at))
        .chain(ordered.iter().map(|c| c.updated_at))
        .chain(groups.iter().map(|g| g.updated_at))
        .chain(windows.iter().map(|w| w.created_at))
        .max()
        .unwrap_or(page.updated_at);

    Ok(Snapshot {
        built_at: now,
        page: PageInfo {
            id: page.id,
            workspace_id: page.workspace_id,
            slug: page.slug.clone(),
            title: page.title.clone(),
            description: page.description.clone(),
            logo_url: page.logo_url.clone(),
            theme: Theme::parse(page.theme.as_str()),
            footer_links: page
                .footer_links
                .iter()
                .map(|l| FooterLink {
                    label: l.label.clone(),
                    url: l.url.clone(),
                })
                .collect(),
            time_zone: page.time_zone.clone(),
            domains: page.domains.clone(),
            password_protected: page.is_protected(),
            updated_at,
        },
        overall,
        groups: group_views,
        components: ordered,
        ungrouped,
        active_incidents: active,
        recent_incidents: recent,
        maintenances,
        past_maintenances: past,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;

    #[test]
    fn overall_follows_components_incidents_and_maintenance() {
        assert_eq!(overall(&[], &[], false).indicator, Indicator::None);
        assert_eq!(
            overall(&[Operational, Operational], &[], false).description,
            "All Systems Operational"
        );
        assert_eq!(
            overall(&[Operational, DegradedPerformance], &[], false).indicator,
            Indicator::Minor
        );
        assert_eq!(
            overall(&[Operational, PartialOutage], &[], false).indicator,
            Indicator::Major
        );
        assert_eq!(
            overall(&[Operational, MajorOutage], &[], false).indicator,
            Indicator::Major
        );
        assert_eq!(
            overall(&[MajorOutage, MajorOutage], &[], false).indicator,
            Indicator::Critical
        );
        assert_eq!(
            overall(&[Operational], &[Impact::Critical], false).indicator,
            Indicator::Critical
        );
        assert_eq!(
            overall(&[DegradedPerformance], &[Impact::None], false).indicator,
            Indicator::Minor
        );
        assert_eq!(
            overall(&[Operational], &[], true).indicator,
            Indicator::Maintenance
        );
        assert_eq!(
            overall(&[UnderMaintenance], &[], false).description,
            "Service Under Maintenance"
        );
        // Something wrong beats maintenance.
        assert_eq!(
            overall(&[UnderMaintenance, MajorOutage], &[], true).indicator,
            Indicator::Major
        );
    }

    #[test]
    fn monitor_states_map_to_component_statuses() {
        assert_eq!(monitor_component_status(MonitorStatus::Up), Operational);
        assert_eq!(
            monitor_component_status(MonitorStatus::Unknown),
            Operational
        );
        assert_eq!(monitor_component_status(MonitorStatus::Paused), Operational);
        assert_eq!(
            monitor_component_status(MonitorStatus::Degraded),
            DegradedPerformance
        );
        assert_eq!(monitor_component_status(MonitorStatus::Down), MajorOutage);
        assert_eq!(
            monitor_component_status(MonitorStatus::Maintenance),
            UnderMaintenance
        );
        assert_eq!(worse(Operational, MajorOutage), MajorOutage);
        assert_eq!(worse(PartialOutage, DegradedPerformance), PartialOutage);
    }
}
