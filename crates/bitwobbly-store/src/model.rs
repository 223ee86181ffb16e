//! The records the store reads and writes.
//!
//! `New*` structs are what a caller hands in; the plain names are what comes back, with ids and
//! times filled in. Everything a workspace owns carries its [`WorkspaceId`].

use std::time::Duration;

use bitwobbly_core::CheckSpec;
use bitwobbly_core::heartbeat::HeartbeatState;
use bitwobbly_core::quorum::QuorumPolicy;
use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::Thresholds;
use serde::{Deserialize, Serialize};

use crate::types::*;

// === accounts ===

/// A workspace: the tenant that owns monitors, pages, projects and the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Workspace {
    /// Id.
    pub id: WorkspaceId,
    /// Unique URL-safe name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A user account. The password hash never leaves the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Unique email address (stored lowercased).
    pub email: String,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A user's membership in a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Membership {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The user.
    pub user_id: UserId,
    /// Their role there.
    pub role: Role,
    /// When they joined.
    pub created_at: Timestamp,
}

/// A login session. The secret token is handed out once, on creation; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Session {
    /// Id.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// Created.
    pub created_at: Timestamp,
    /// Expires.
    pub expires_at: Timestamp,
    /// Last seen (updated on lookup).
    pub last_seen_at: Timestamp,
}

/// An API token. The secret is handed out once, on creation; the store keeps its SHA-256 hash
/// and a short public prefix for lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ApiToken {
    /// Id.
    pub id: ApiTokenId,
    /// The workspace the token acts in.
    pub workspace_id: WorkspaceId,
    /// A label.
    pub name: String,
    /// The public prefix (first part of the secret, safe to show).
    pub prefix: String,
    /// The role the token acts with.
    pub role: Role,
    /// Who created it, if that user still exists.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: Timestamp,
    /// Expiry, if any.
    pub expires_at: Option<Timestamp>,
    /// Last successful use.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// A freshly created secret (session or API token): shown once, never stored in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    /// The secret text to hand to the user.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

// === monitors ===

/// A monitor to create, or the new content of one to update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMonitor {
    /// A stable key for configuration as code, unique in the workspace.
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// What to check; [`CheckSpec::Heartbeat`] for a monitor that receives pings.
    pub spec: CheckSpec,
    /// When it runs (ignored for heartbeat monitors, which follow their pings).
    pub schedule: Schedule,
    /// When its state changes, per the core state machine.
    pub thresholds: Thresholds,
    /// The monitor it depends on (a monitor of the same workspace).
    pub parent_id: Option<MonitorId>,
    /// Whether scheduling is paused.
    pub paused: bool,
    /// Locations (agent regions) that run it; empty means the local node.
    pub locations: Vec<String>,
    /// How the locations' views combine into the monitor's state.
    pub quorum: QuorumPolicy,
}

/// The location name of the server itself: a monitor whose locations are empty or include
/// it is run by the server's own scheduler.
pub const LOCAL_LOCATION: &str = "local";

impl NewMonitor {
    /// Whether the server's own scheduler runs (or, for a heartbeat, judges) this monitor:
    /// a heartbeat, or a monitor whose locations are empty or include [`LOCAL_LOCATION`].
    pub fn runs_locally(&self) -> bool {
        self.spec.is_heartbeat()
            || self.locations.is_empty()
            || self.locations.iter().any(|l| l == LOCAL_LOCATION)
    }
}

/// A stored monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// Id.
    pub id: MonitorId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Stable key for configuration as code, unique in the workspace.
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// What to check.
    pub spec: CheckSpec,
    /// When it runs.
    pub schedule: Schedule,
    /// State-change thresholds.
    pub thresholds: Thresholds,
    /// The monitor it depends on.
    pub parent_id: Option<MonitorId>,
    /// Whether scheduling is paused.
    pub paused: bool,
    /// Locations that run it.
    pub locations: Vec<String>,
    /// How the locations' views combine into the monitor's state.
    pub quorum: QuorumPolicy,
    /// For heartbeat monitors: the secret, URL-safe token of its ping URL (unique across all
    /// workspaces, made at creation and kept on update). `None` for other monitors.
    pub ping_token: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// A monitor's running state (written by the scheduler after each result, or by the ping
/// handler for heartbeat monitors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    /// Which monitor.
    pub monitor_id: MonitorId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Current status as decided by core.
    pub status: MonitorStatus,
    /// The core state machine, as it was last written.
    pub machine: bitwobbly_core::state::MonitorState,
    /// What a heartbeat monitor has received (`None` for other monitors).
    pub heartbeat: Option<HeartbeatState>,
    /// When the last result started (or the last ping arrived).
    pub last_result_at: Option<Timestamp>,
    /// The last result's outcome.
    pub last_status: Option<CheckStatus>,
    /// The last result's message; for a heartbeat, the last ping's body (capped by the
    /// caller).
    pub last_message: Option<String>,
    /// When it is next due (for a heartbeat: its next deadline).
    pub next_run_at: Timestamp,
    /// Which node holds the scheduling lease, if any.
    pub lease_owner: Option<String>,
    /// When that lease expires.
    pub lease_expires_at: Option<Timestamp>,
}

/// The state to write after a result (or a ping) was judged by core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateUpdate {
    /// New status.
    pub status: MonitorStatus,
    /// The state machine after the result.
    pub machine: bitwobbly_core::state::MonitorState,
    /// When the last result started.
    pub last_result_at: Option<Timestamp>,
    /// The last result's outcome.
    pub last_status: Option<CheckStatus>,
    /// The heartbeat state; written when `Some`, left as is when `None`.
    pub heartbeat: Option<HeartbeatState>,
    /// The last message (a ping body); written when `Some`, left as is when `None`.
    pub last_message: Option<String>,
    /// When it is next due (a heartbeat deadline, or "now" to check at once); written when
    /// `Some`, left as is when `None`.
    pub next_run_at: Option<Timestamp>,
}

impl StateUpdate {
    /// An update that writes `status` and `machine` only, leaving the rest as it is.
    pub fn new(status: MonitorStatus, machine: bitwobbly_core::state::MonitorState) -> Self {
        Self {
            status,
            machine,
            last_result_at: None,
            last_status: None,
            heartbeat: None,
            last_message: None,
            next_run_at: None,
        }
    }
}

/// A monitor handed to a scheduler node with a lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedMonitor {
    /// The monitor.
    pub monitor: Monitor,
    /// Its running state when it was claimed (state machine, heartbeat state, lease).
    pub state: MonitorState,
    /// When it was due.
    pub due_at: Timestamp,
    /// When the lease expires unless renewed.
    pub lease_expires_at: Timestamp,
}

// === results and rollups ===

/// Phase durations of one check, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTimes {
    /// DNS resolution.
    pub dns_us: i64,
    /// TCP connect.
    pub connect_us: i64,
    /// TLS handshake.
    pub tls_us: i64,
    /// Time to first byte.
    pub ttfb_us: i64,
    /// Body transfer.
    pub transfer_us: i64,
    /// Total.
    pub total_us: i64,
}

impl From<&bitwobbly_core::Timings> for PhaseTimes {
    fn from(t: &bitwobbly_core::Timings) -> Self {
        let us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Self {
            dns_us: us(t.dns),
            connect_us: us(t.connect),
            tls_us: us(t.tls),
            ttfb_us: us(t.ttfb),
            transfer_us: us(t.transfer),
            total_us: us(t.total),
        }
    }
}

/// One check result to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCheckResult {
    /// Which monitor (must belong to the workspace).
    pub monitor_id: MonitorId,
    /// Where it ran (empty for the local node).
    pub location: String,
    /// When the check started.
    pub started_at: Timestamp,
    /// Outcome.
    pub status: CheckStatus,
    /// Timing breakdown.
    pub timings: PhaseTimes,
    /// The HTTP status code, for HTTP checks that got one.
    pub http_status: Option<u16>,
    /// The error kind's stable name, when the check failed.
    pub error_kind: Option<String>,
    /// A short human-readable reason.
    pub message: Option<String>,
}

/// A stored check result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Id (increases with insertion order).
    pub id: ResultId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The rest, as written.
    pub result: NewCheckResult,
}

/// An opaque position in a result listing; pass it back to get the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub(crate) started_at: i64,
    pub(crate) id: i64,
}

impl Cursor {
    /// The cursor as a string safe for URLs.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.started_at, self.id)
    }

    /// Parses a string made by [`Cursor::encode`].
    ///
    /// # Errors
    /// [`StoreError::Invalid`](crate::StoreError::Invalid) if it is not one.
    pub fn decode(s: &str) -> crate::Result<Self> {
        let bad = || crate::StoreError::invalid("cursor", "not a cursor this store made");
        let (a, b) = s.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            started_at: a.parse().map_err(|_| bad())?,
            id: b.parse().map_err(|_| bad())?,
        })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

/// Which way a result listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Order {
    /// Oldest first.
    Ascending,
    /// Newest first.
    #[default]
    Descending,
}

/// A query over one monitor's results: a half-open time range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultQuery {
    /// The monitor.
    pub monitor_id: MonitorId,
    /// Start (inclusive).
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
    /// Order.
    pub order: Order,
    /// Page size (clamped to 1..=10_000).
    pub limit: u32,
    /// Continue after this cursor.
    pub after: Option<Cursor>,
}

/// Counts and latency of one monitor over one hour or one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// The monitor.
    pub monitor_id: MonitorId,
    /// Start of the hour or day (UTC).
    pub bucket_start: Timestamp,
    /// Up results.
    pub up: i64,
    /// Degraded results.
    pub degraded: i64,
    /// Down results.
    pub down: i64,
    /// Latency summary of the up and degraded results (down results have no latency).
    pub latency: crate::sketch::LatencySketch,
    /// Smallest total time in microseconds.
    pub min_us: Option<i64>,
    /// Largest total time in microseconds.
    pub max_us: Option<i64>,
    /// Sum of total times in microseconds (mean = sum / latency count).
    pub sum_us: i64,
}

impl Rollup {
    /// All results counted.
    pub fn total(&self) -> i64 {
        self.up + self.degraded + self.down
    }

    /// Mean total time in microseconds, if any latency was recorded.
    pub fn mean_us(&self) -> Option<f64> {
        let n = self.latency.count();
        (n > 0).then(|| self.sum_us as f64 / n as f64)
    }
}

/// One day of a 90-day uptime bar: counts only, from the daily rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DayUptime {
    /// The monitor.
    pub monitor_id: MonitorId,
    /// The day (UTC midnight).
    pub day: Timestamp,
    /// Up results.
    pub up: i64,
    /// Degraded results.
    pub degraded: i64,
    /// Down results.
    pub down: i64,
}

/// How long each kind of data is kept, and how late results may arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetentionPolicy {
    /// Raw results older than this are deleted once rolled up. Default: 30 days.
    pub raw: Duration,
    /// Hourly rollups older than this are deleted. Default: 90 days.
    pub hourly: Duration,
    /// Daily rollups older than this are deleted; `None` keeps them. Default: `None`.
    pub daily: Option<Duration>,
    /// An hour is rolled up once it ended this long ago. Default: 5 minutes. Results that
    /// arrive later than this for an hour already rolled up stay out of its rollup (they are
    /// still listed as raw results until retention deletes them).
    pub settle: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            raw: Duration::from_secs(30 * 86_400),
            hourly: Duration::from_secs(90 * 86_400),
            daily: None,
            settle: Duration::from_secs(300),
        }
    }
}

impl RetentionPolicy {
    /// Sets how long raw results are kept.
    pub fn with_raw(mut self, d: Duration) -> Self {
        self.raw = d;
        self
    }

    /// Sets how long hourly rollups are kept.
    pub fn with_hourly(mut self, d: Duration) -> Self {
        self.hourly = d;
        self
    }

    /// Sets how long daily rollups are kept (`None`: forever).
    pub fn with_daily(mut self, d: Option<Duration>) -> Self {
        self.daily = d;
        self
    }

    /// Sets how long after its end an hour is rolled up.
    pub fn with_settle(mut self, d: Duration) -> Self {
        self.settle = d;
        self
    }
}

/// What one compaction run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionReport {
    /// Hourly rollup rows written.
    pub hourly_rows: u64,
    /// Daily rollup rows written.
    pub daily_rows: u64,
    /// Raw results deleted.
    pub results_deleted: u64,
    /// Rollup rows deleted by retention.
    pub rollups_deleted: u64,
    /// Hours up to this time (exclusive) are now rolled up.
    pub hourly_until: Option<Timestamp>,
}

// === incidents ===

/// An incident to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIncident {
    /// The monitor that caused it (automatic incidents).
    pub monitor_id: Option<MonitorId>,
    /// Automatic or manual.
    pub kind: IncidentKind,
    /// Title.
    pub title: String,
    /// Starting status.
    pub status: IncidentStatus,
    /// Impact.
    pub impact: Impact,
    /// First update's message.
    pub message: String,
    /// When it started.
    pub started_at: Timestamp,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Incident {
    /// Id.
    pub id: IncidentId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The monitor that caused it, if any.
    pub monitor_id: Option<MonitorId>,
    /// Automatic or manual.
    pub kind: IncidentKind,
    /// Title.
    pub title: String,
    /// Current status.
    pub status: IncidentStatus,
    /// Impact.
    pub impact: Impact,
    /// Started.
    pub started_at: Timestamp,
    /// Resolved, if it is.
    pub resolved_at: Option<Timestamp>,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Whether it was released for pages that hold automatic incidents (manual incidents
    /// always are; automatic ones once someone publishes them).
    pub published: bool,
}

/// One update on an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct IncidentUpdate {
    /// Id.
    pub id: IncidentUpdateId,
    /// The incident.
    pub incident_id: IncidentId,
    /// The status it moved to.
    pub status: IncidentStatus,
    /// Message.
    pub message: String,
    /// When.
    pub created_at: Timestamp,
    /// The component statuses it changed.
    #[sqlx(skip)]
    pub components: Vec<ComponentChange>,
}

/// A component an incident affects, with its status during the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AffectedComponent {
    /// The component.
    pub component_id: ComponentId,
    /// Its status during the incident.
    pub status: ComponentStatus,
}

/// A component status changed by an incident update (Statuspage `affected_components`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ComponentChange {
    /// The component.
    pub component_id: ComponentId,
    /// Its status in the incident before the update (`None`: newly affected).
    pub old_status: Option<ComponentStatus>,
    /// Its status after the update.
    pub new_status: ComponentStatus,
}

/// An update to post on an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIncidentUpdate {
    /// The status the incident moves to (resolved sets `resolved_at`).
    pub status: IncidentStatus,
    /// Message.
    pub message: String,
    /// Components whose status in the incident changes (added when not yet affected).
    pub components: Vec<AffectedComponent>,
}

/// An incident as a status page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDetail {
    /// The incident.
    pub incident: Incident,
    /// Its updates, newest first, each with the component changes it made.
    pub updates: Vec<IncidentUpdate>,
    /// The page's components it affects, in page order, with their status in the incident.
    pub components: Vec<AffectedComponent>,
}

/// Which of a page's incidents to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageIncidentQuery {
    /// Only unresolved incidents.
    pub open_only: bool,
    /// Only incidents that started at or after this time.
    pub from: Option<Timestamp>,
    /// Only incidents that started before this time.
    pub to: Option<Timestamp>,
    /// At most this many, newest first (at least 1).
    pub limit: u32,
}

// === notifications ===

/// A notification channel to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewChannel {
    /// A stable key for configuration as code, unique in the workspace.
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: ChannelKind,
    /// Kind-specific settings (addresses, URL, ...), validated by the server.
    pub config: serde_json::Value,
    /// Whether it sends.
    pub enabled: bool,
}

/// A stored notification channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Id.
    pub id: ChannelId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Stable key for configuration as code, unique in the workspace.
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: ChannelKind,
    /// Settings.
    pub config: serde_json::Value,
    /// Whether it sends.
    pub enabled: bool,
    /// Why it was disabled automatically (e.g. the endpoint is gone), if it was.
    pub disabled_reason: Option<String>,
    /// Created.
    pub created_at: Timestamp,
}

/// A notification to put in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNotification {
    /// Where to send it.
    pub channel_id: ChannelId,
    /// What happened, e.g. `incident.opened`.
    pub event: String,
    /// What to send.
    pub payload: serde_json::Value,
    /// Not before.
    pub not_before: Timestamp,
}

/// A notification for a status-page subscriber, to put in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSubscriberNotification {
    /// Who gets it.
    pub subscriber_id: SubscriberId,
    /// What happened, e.g. `incident.created` or `subscription.confirm`.
    pub event: String,
    /// What to send (the server's subscriber message).
    pub payload: serde_json::Value,
    /// Not before.
    pub not_before: Timestamp,
}

/// A row of the notification outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Id.
    pub id: OutboxId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Where to send it: a notification channel, or else ...
    pub channel_id: Option<ChannelId>,
    /// ... a status-page subscriber (exactly one of the two is set).
    pub subscriber_id: Option<SubscriberId>,
    /// What happened.
    pub event: String,
    /// What to send.
    pub payload: serde_json::Value,
    /// Life-cycle state.
    pub state: OutboxState,
    /// Delivery attempts so far (counted when claimed).
    pub attempts: i64,
    /// When it is next due.
    pub next_attempt_at: Timestamp,
    /// The node holding the delivery lease.
    pub lease_owner: Option<String>,
    /// When that lease expires.
    pub lease_expires_at: Option<Timestamp>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// Enqueued.
    pub created_at: Timestamp,
    /// Sent or given up.
    pub finished_at: Option<Timestamp>,
}

// === status pages ===

/// A link in a status page's footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FooterLink {
    /// The text shown.
    pub label: String,
    /// Where it leads (http or https).
    pub url: String,
}

/// A status page to create or the new settings of one (its password is set apart, with
/// [`StatusPageStore::set_status_page_password`](crate::api::StatusPageStore::set_status_page_password)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStatusPage {
    /// Unique URL name (the public address `/s/<slug>`).
    pub slug: String,
    /// Title.
    pub title: String,
    /// Text under the title.
    pub description: Option<String>,
    /// Whether it is served to visitors at all.
    pub public: bool,
    /// A logo image (http or https URL).
    pub logo_url: Option<String>,
    /// Colour scheme.
    pub theme: PageTheme,
    /// Links in the footer, in order.
    pub footer_links: Vec<FooterLink>,
    /// Custom domains that serve the page (lowercase host names, unique across workspaces).
    pub domains: Vec<String>,
    /// The IANA time zone dates are shown in.
    pub time_zone: String,
    /// Whether automatic incidents wait for someone to publish them before they show.
    pub hold_auto_incidents: bool,
}

impl NewStatusPage {
    /// A public page with the defaults: no description, logo, footer links or domains,
    /// the system theme, UTC, automatic incidents shown at once.
    pub fn new(slug: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            slug: slug.into(),
            title: title.into(),
            description: None,
            public: true,
            logo_url: None,
            theme: PageTheme::System,
            footer_links: Vec::new(),
            domains: Vec::new(),
            time_zone: "UTC".to_owned(),
            hold_auto_incidents: false,
        }
    }
}

/// A stored status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPage {
    /// Id.
    pub id: StatusPageId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Unique URL name.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Text under the title.
    pub description: Option<String>,
    /// Whether it is served to visitors.
    pub public: bool,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Colour scheme.
    pub theme: PageTheme,
    /// Footer links, in order.
    pub footer_links: Vec<FooterLink>,
    /// Custom domains, sorted.
    pub domains: Vec<String>,
    /// The IANA time zone dates are shown in.
    pub time_zone: String,
    /// When the current password was set; `None` for an open page. It changes with every new
    /// password, so visitor cookies that name it stop working.
    pub password_set_at: Option<Timestamp>,
    /// Whether automatic incidents wait to be published.
    pub hold_auto_incidents: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last change to the page, its groups or its components (settings or status).
    pub updated_at: Timestamp,
}

impl StatusPage {
    /// Whether visitors need the password.
    pub fn is_protected(&self) -> bool {
        self.password_set_at.is_some()
    }

    /// Whether the page shows `incident` when it affects the page: manual and published
    /// incidents always, unpublished automatic ones only on pages that do not hold them.
    pub fn shows(&self, incident: &Incident) -> bool {
        incident.published || !self.hold_auto_incidents
    }
}

/// A group of components on a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ComponentGroup {
    /// Id.
    pub id: ComponentGroupId,
    /// The page.
    pub page_id: StatusPageId,
    /// Name.
    pub name: String,
    /// Order on the page (ascending).
    pub position: i64,
    /// Created.
    pub created_at: Timestamp,
    /// Last renamed or moved.
    pub updated_at: Timestamp,
}

/// A component to add to a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComponent {
    /// A stable key for configuration as code, unique on the page.
    pub key: Option<String>,
    /// The page.
    pub page_id: StatusPageId,
    /// Its group, if any.
    pub group_id: Option<ComponentGroupId>,
    /// The monitor whose state it shows, if any (`None`: a manual component).
    pub monitor_id: Option<MonitorId>,
    /// Public name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Order on the page (ascending).
    pub position: i64,
    /// Whether the page shows its 90-day uptime bar.
    pub show_uptime: bool,
    /// Whether the page shows its response times.
    pub show_response_times: bool,
}

/// A component shown on a status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Component {
    /// Id.
    pub id: ComponentId,
    /// Stable key for configuration as code, unique on the page.
    pub key: Option<String>,
    /// The page.
    pub page_id: StatusPageId,
    /// Its group.
    pub group_id: Option<ComponentGroupId>,
    /// The monitor whose state it shows (`None`: a manual component).
    pub monitor_id: Option<MonitorId>,
    /// Public name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The status set by hand (what a manual component shows; a monitor-backed component
    /// shows its monitor's state).
    pub status: ComponentStatus,
    /// Order on the page.
    pub position: i64,
    /// Whether the page shows its uptime bar.
    pub show_uptime: bool,
    /// Whether the page shows its response times.
    pub show_response_times: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last change to its settings or status.
    pub updated_at: Timestamp,
}

/// A maintenance window to schedule: one-off (`starts_at`..`ends_at`) or recurring (a cron
/// expression for the starts, each lasting `duration_secs`, between `starts_at` and `ends_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMaintenance {
    /// Title.
    pub title: String,
    /// Message shown during the window.
    pub message: String,
    /// Start (of the window, or of the recurrence).
    pub starts_at: Timestamp,
    /// End (of the window, or of the recurrence).
    pub ends_at: Timestamp,
    /// Recurrence as a cron expression (interpreted by core), if recurring.
    pub recurrence_cron: Option<String>,
    /// The IANA time zone of `recurrence_cron` (UTC when `None`).
    pub recurrence_tz: Option<String>,
    /// Length of each recurring window in seconds.
    pub duration_secs: Option<i64>,
    /// Affected components.
    pub components: Vec<ComponentId>,
    /// Affected monitors (directly; a component's monitor is affected through it too).
    pub monitors: Vec<MonitorId>,
}

/// A stored maintenance window, with the components and monitors it is linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// Id.
    pub id: MaintenanceId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// Recurrence.
    pub recurrence_cron: Option<String>,
    /// The time zone of the recurrence (UTC when `None`).
    pub recurrence_tz: Option<String>,
    /// Length of each recurring window.
    pub duration_secs: Option<i64>,
    /// Linked components.
    pub components: Vec<ComponentId>,
    /// Directly linked monitors.
    pub monitors: Vec<MonitorId>,
    /// Created.
    pub created_at: Timestamp,
}

impl Maintenance {
    /// The core window: one-off from `starts_at` to `ends_at`, or recurring by its cron
    /// expression (in its time zone, UTC by default). `None` for a recurring window that
    /// cannot be understood (bad expression or zone, no duration); it is then never active.
    pub fn window(&self) -> Option<bitwobbly_core::maintenance::MaintenanceWindow> {
        use bitwobbly_core::maintenance::MaintenanceWindow;
        match &self.recurrence_cron {
            None => Some(MaintenanceWindow::Once {
                start: self.starts_at.to_datetime(),
                end: self.ends_at.to_datetime(),
            }),
            Some(expr) => {
                let tz = self.recurrence_tz.as_deref().unwrap_or("UTC");
                let cron = bitwobbly_core::schedule::CronSchedule::new(expr, tz).ok()?;
                let secs = u64::try_from(self.duration_secs?).ok().filter(|s| *s > 0)?;
                Some(MaintenanceWindow::Recurring {
                    cron,
                    duration: Duration::from_secs(secs),
                })
            }
        }
    }

    /// Whether it covers `now`: a recurring window only between its `starts_at` and
    /// `ends_at`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        if self.recurrence_cron.is_some() && (now < self.starts_at || now >= self.ends_at) {
            return false;
        }
        self.window()
            .is_some_and(|w| w.active_at(now.to_datetime()).is_some())
    }
}

#[cfg(test)]
mod maintenance_tests {
    use super::*;

    fn window(cron: Option<&str>, start: i64, end: i64, secs: Option<i64>) -> Maintenance {
        Maintenance {
            id: MaintenanceId(1),
            workspace_id: WorkspaceId(1),
            title: "w".into(),
            message: String::new(),
            starts_at: Timestamp::from_millis(start),
            ends_at: Timestamp::from_millis(end),
            recurrence_cron: cron.map(str::to_owned),
            recurrence_tz: None,
            duration_secs: secs,
            components: vec![],
            monitors: vec![],
            created_at: Timestamp::EPOCH,
        }
    }

    #[test]
    fn one_off_windows_cover_their_span() {
        let w = window(None, 1_000, 2_000, None);
        assert!(!w.is_active(Timestamp::from_millis(999)));
        assert!(w.is_active(Timestamp::from_millis(1_000)));
        assert!(!w.is_active(Timestamp::from_millis(2_000)));
    }

    #[test]
    fn recurring_windows_stay_within_their_recurrence() {
        const HOUR: i64 = 3_600_000;
        // Every day at 02:00 UTC for one hour, from day 1 to day 3.
        let w = window(Some("0 2 * * *"), 86_400_000, 3 * 86_400_000, Some(3600));
        let at = |day: i64, ms: i64| Timestamp::from_millis(day * 86_400_000 + ms);
        assert!(w.is_active(at(1, 2 * HOUR + 10)));
        assert!(!w.is_active(at(1, 3 * HOUR)));
        assert!(!w.is_active(at(0, 2 * HOUR + 10)), "before the recurrence");
        assert!(!w.is_active(at(3, 2 * HOUR + 10)), "after the recurrence");
        let broken = window(Some("not cron"), 0, i64::MAX, Some(3600));
        assert!(broken.window().is_none());
    }
}

/// A subscriber of a status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Subscriber {
    /// Id.
    pub id: SubscriberId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The page.
    pub page_id: StatusPageId,
    /// Email or webhook.
    pub kind: SubscriberKind,
    /// The address or URL.
    pub target: String,
    /// A random token (32 hex characters) for the confirm and unsubscribe links.
    pub token: String,
    /// Whether they confirmed (double opt-in).
    pub confirmed: bool,
    /// When they confirmed.
    pub confirmed_at: Option<Timestamp>,
    /// Subscribed.
    pub created_at: Timestamp,
}

// === ingest ===

/// An ingest project (a Sentry "project").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Project {
    /// Id (the number in the DSN path).
    pub id: ProjectId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// URL name, unique in the workspace.
    pub slug: String,
    /// Name.
    pub name: String,
    /// SDK platform, e.g. `python`.
    pub platform: Option<String>,
    /// Created.
    pub created_at: Timestamp,
}

/// A DSN key: the public key SDKs authenticate with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DsnKey {
    /// Id.
    pub id: DsnKeyId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The project.
    pub project_id: ProjectId,
    /// The public key (32 hex characters).
    pub public_key: String,
    /// Label.
    pub label: String,
    /// Active or disabled.
    pub status: KeyStatus,
    /// Events accepted per minute, if limited.
    pub rate_limit_per_minute: Option<i64>,
    /// Created.
    pub created_at: Timestamp,
}

/// An envelope made durable: its manifest row (the raw bytes are in blob storage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEnvelope {
    /// The project.
    pub project_id: ProjectId,
    /// The envelope's event id, if its header has one.
    pub event_id: Option<String>,
    /// When it was received.
    pub received_at: Timestamp,
    /// Size in bytes.
    pub size: i64,
    /// Where the raw bytes are.
    pub blob_key: String,
    /// The item types it holds (`event`, `transaction`, `check_in`, unknown ones too).
    pub item_types: Vec<String>,
}

/// A stored envelope manifest: one row of the processing queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Id.
    pub id: EnvelopeId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The rest, as written.
    pub manifest: NewEnvelope,
    /// Processing state.
    pub state: EnvelopeState,
    /// Processing attempts (counted when claimed).
    pub attempts: i64,
    /// The last processing error.
    pub last_error: Option<String>,
}

/// zstd level for inline envelope bodies: level 3 (zstd's default) gets a 2 KB JSON event to
/// about half its size in tens of microseconds.
const INLINE_BODY_LEVEL: i32 = 3;

/// An envelope to make durable in one group commit
/// ([`IngestQueue::record_envelopes`](crate::api::IngestQueue::record_envelopes)): the
/// manifest row and, for a small envelope, its raw bytes kept inline in the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableEnvelope {
    /// Owner (the DSN key's workspace).
    pub workspace_id: WorkspaceId,
    /// The manifest; `blob_key` is empty for an inline body.
    pub manifest: NewEnvelope,
    /// The zstd frame of the raw bytes when they are kept inline; `None` when they are in blob
    /// storage under `manifest.blob_key`.
    pub inline_body: Option<Vec<u8>>,
}

impl DurableEnvelope {
    /// An envelope whose raw bytes are kept inline, compressed (`manifest.blob_key` is
    /// cleared and `manifest.size` set to the raw length).
    ///
    /// # Errors
    /// [`StoreError::Invalid`](crate::StoreError::Invalid) if compression fails (it does not
    /// for in-memory input).
    pub fn inline(
        workspace_id: WorkspaceId,
        mut manifest: NewEnvelope,
        raw: &[u8],
    ) -> crate::Result<Self> {
        let packed = zstd::bulk::compress(raw, INLINE_BODY_LEVEL)
            .map_err(|e| crate::StoreError::invalid("envelope body", e.to_string()))?;
        manifest.blob_key.clear();
        manifest.size = i64::try_from(raw.len()).unwrap_or(i64::MAX);
        Ok(Self {
            workspace_id,
            manifest,
            inline_body: Some(packed),
        })
    }

    /// An envelope whose raw bytes are already in blob storage under `manifest.blob_key`.
    pub fn in_blob(workspace_id: WorkspaceId, manifest: NewEnvelope) -> Self {
        Self {
            workspace_id,
            manifest,
            inline_body: None,
        }
    }
}

/// An event to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The project.
    pub project_id: ProjectId,
    /// The SDK's event id (32 hex characters).
    pub event_id: String,
    /// The issue it was grouped into.
    pub issue_id: Option<IssueId>,
    /// Level (`error`, `warning`, ...).
    pub level: String,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Title.
    pub title: String,
    /// Culprit.
    pub culprit: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Where the full payload is, when it is a blob of its own.
    pub blob_key: Option<String>,
    /// Where the full payload is, when it is a byte range of its raw envelope.
    pub payload: Option<PayloadRef>,
}

/// Where an event's payload is: a byte range of its raw (decompressed) envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadRef {
    /// The envelope.
    pub envelope_id: EnvelopeId,
    /// Offset of the payload in the envelope's bytes.
    pub offset: i64,
    /// Length of the payload.
    pub len: i64,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Row id.
    pub id: EventRowId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The rest, as written.
    pub event: NewEvent,
}

/// What one event tells its issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSighting {
    /// The project.
    pub project_id: ProjectId,
    /// The grouping fingerprint.
    pub fingerprint: String,
    /// Title.
    pub title: String,
    /// Culprit.
    pub culprit: Option<String>,
    /// Level.
    pub level: String,
    /// When the latest event happened.
    pub seen_at: Timestamp,
    /// When the earliest event happened (a new issue's first seen).
    pub first_seen: Timestamp,
    /// Events seen (at least 1).
    pub events: i64,
    /// Users not seen on this issue before.
    pub new_users: i64,
    /// Release of the latest event.
    pub release: Option<String>,
    /// Environment of the latest event.
    pub environment: Option<String>,
    /// The grouping algorithm's version.
    pub grouping_version: Option<String>,
}

/// An error-tracking issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Issue {
    /// Id.
    pub id: IssueId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The project.
    pub project_id: ProjectId,
    /// Grouping fingerprint (unique per project).
    pub fingerprint: String,
    /// Title.
    pub title: String,
    /// Culprit.
    pub culprit: Option<String>,
    /// Level of the latest event.
    pub level: String,
    /// Status.
    pub status: IssueStatus,
    /// First event.
    pub first_seen: Timestamp,
    /// Latest event.
    pub last_seen: Timestamp,
    /// Events.
    pub event_count: i64,
    /// Distinct users.
    pub user_count: i64,
    /// Whether it came back after being resolved.
    pub regressed: bool,
    /// When it was resolved.
    pub resolved_at: Option<Timestamp>,
}

/// What recording a sighting did to its issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[must_use = "new and regressed issues alert like incidents"]
pub struct IssueOutcome {
    /// The issue after the sighting.
    pub issue: Issue,
    /// The sighting created the issue.
    pub created: bool,
    /// The issue was resolved and is now open again (marked regressed).
    pub regressed: bool,
}

/// A performance transaction to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTransaction {
    /// The project.
    pub project_id: ProjectId,
    /// The SDK's event id.
    pub event_id: String,
    /// Transaction name (route).
    pub name: String,
    /// Operation, e.g. `http.server`.
    pub op: Option<String>,
    /// Duration in microseconds.
    pub duration_us: i64,
    /// Status, e.g. `ok`.
    pub status: Option<String>,
    /// When it ended.
    pub timestamp: Timestamp,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Trace id (32 hex).
    pub trace_id: Option<String>,
}

/// Session counts of one release and environment over one bucket (added up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SessionCounts {
    /// The project.
    pub project_id: ProjectId,
    /// Release.
    pub release: String,
    /// Environment (empty when none).
    pub environment: String,
    /// Start of the bucket.
    pub bucket_start: Timestamp,
    /// Sessions started.
    pub started: i64,
    /// Sessions ended normally.
    pub exited: i64,
    /// Sessions with handled errors.
    pub errored: i64,
    /// Sessions that crashed.
    pub crashed: i64,
    /// Sessions that ended abnormally.
    pub abnormal: i64,
}

/// A cron check-in to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCheckIn {
    /// The project.
    pub project_id: ProjectId,
    /// The SDK's check-in id.
    pub check_in_id: String,
    /// The cron monitor's slug.
    pub monitor_slug: String,
    /// Status.
    pub status: CheckInStatus,
    /// Duration in milliseconds, if reported.
    pub duration_ms: Option<i64>,
    /// Environment.
    pub environment: Option<String>,
    /// When it was received.
    pub received_at: Timestamp,
    /// Release.
    pub release: Option<String>,
    /// The heartbeat monitor it was fed to; `None` for a slug without a monitor.
    pub monitor_id: Option<MonitorId>,
}

/// A stored check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    /// Row id.
    pub id: CheckInId,
    /// The rest, as written.
    pub check_in: NewCheckIn,
}

/// An attachment reference to store (the bytes are in blob storage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAttachment {
    /// The project.
    pub project_id: ProjectId,
    /// The event it belongs to.
    pub event_id: String,
    /// File name.
    pub name: String,
    /// Content type.
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// Where the bytes are.
    pub blob_key: String,
    /// Sentry attachment type, e.g. `event.attachment` or `event.minidump`.
    pub attachment_type: Option<String>,
}

/// A stored attachment reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Row id.
    pub id: AttachmentId,
    /// The rest, as written.
    pub attachment: NewAttachment,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// A project's processing settings; `None` means the server's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProjectProcessing {
    /// Days events (and their attachments) are kept.
    pub event_retention_days: Option<i64>,
    /// Days raw envelopes that no kept event needs are kept.
    pub envelope_retention_days: Option<i64>,
    /// Events of one issue within `alert_frequency_minutes` that raise a frequency alert
    /// (0 turns it off).
    pub alert_frequency_count: Option<i64>,
    /// The window of the frequency alert, in minutes.
    pub alert_frequency_minutes: Option<i64>,
}

/// One distinct session user in an hourly bucket, with the worst status seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// The project.
    pub project_id: ProjectId,
    /// Release.
    pub release: String,
    /// Environment (empty when none).
    pub environment: String,
    /// Start of the hour.
    pub bucket_start: Timestamp,
    /// Hash of the session's distinct id.
    pub user_hash: i64,
    /// Worst status: 0 ok, 1 errored, 2 abnormal, 3 crashed.
    pub worst: i64,
}

/// Distinct users of one release and environment over a time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SessionUserCounts {
    /// Release.
    pub release: String,
    /// Environment (empty when none).
    pub environment: String,
    /// Distinct users.
    pub users: i64,
    /// Distinct users with a crashed session.
    pub crashed_users: i64,
}

/// Dropped data an SDK reported, counted per hour, category and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ClientReportCount {
    /// The project.
    pub project_id: ProjectId,
    /// Start of the hour.
    pub bucket_start: Timestamp,
    /// Data category, e.g. `error`.
    pub category: String,
    /// Why it was dropped, e.g. `queue_overflow`.
    pub reason: String,
    /// How many.
    pub quantity: i64,
}

/// User feedback to store (a `feedback` item or a legacy `user_report`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFeedback {
    /// The project.
    pub project_id: ProjectId,
    /// `feedback` or `user_report`.
    pub kind: String,
    /// The feedback's own event id (feedback items).
    pub event_id: Option<String>,
    /// The event it is about.
    pub associated_event_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// What the user said.
    pub message: String,
    /// The page it was given on.
    pub url: Option<String>,
    /// When it was received.
    pub received_at: Timestamp,
}

/// Stored feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// Row id.
    pub id: i64,
    /// The rest, as written.
    pub feedback: NewFeedback,
}

/// A Sentry cron monitor: a project's monitor slug and the heartbeat monitor behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CronMonitor {
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The project.
    pub project_id: ProjectId,
    /// The slug SDKs send.
    pub slug: String,
    /// The heartbeat monitor.
    pub monitor_id: MonitorId,
    /// The last `monitor_config` received, as JSON text.
    pub config: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed by a `monitor_config`.
    pub updated_at: Timestamp,
}

/// A project's retention settings with its owner, for the retention job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProjectRetention {
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The project.
    pub id: ProjectId,
    /// Days events are kept; `None` for the default.
    pub event_retention_days: Option<i64>,
    /// Days raw envelopes are kept; `None` for the default.
    pub envelope_retention_days: Option<i64>,
}

/// What an individual session (by `sid`) has counted in the session rollups, so that repeated
/// updates count once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SessionState {
    /// The project.
    pub project_id: ProjectId,
    /// The SDK's session id.
    pub sid: String,
    /// Release of the rollup row its counts went to.
    pub release: String,
    /// Environment of that row (empty when none).
    pub environment: String,
    /// Bucket of that row.
    pub bucket_start: Timestamp,
    /// 1 once its start (`init` update) was counted, else 0.
    pub started: i64,
    /// The end state counted: 0 none, 1 exited, 2 errored, 3 abnormal, 4 crashed.
    pub outcome: i64,
    /// When an update of it was last received (retention prunes by this).
    pub updated_at: Timestamp,
}

/// A later update of a stored check-in (Sentry updates one check-in in place).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInUpdate {
    /// The new status.
    pub status: CheckInStatus,
    /// Duration in milliseconds; `None` keeps the stored one.
    pub duration_ms: Option<i64>,
    /// Environment; `None` keeps the stored one.
    pub environment: Option<String>,
    /// Release; `None` keeps the stored one.
    pub release: Option<String>,
    /// The heartbeat monitor; `None` keeps the stored one.
    pub monitor_id: Option<MonitorId>,
}

// === agents ===

/// A location: a named place (a region, a network) where checker agents run monitors. The
/// server itself is the location `local`, which has no row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Location {
    /// Id.
    pub id: LocationId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Name, unique in the workspace (what monitors list in their `locations`).
    pub name: String,
    /// Created.
    pub created_at: Timestamp,
    /// The latest authenticated request from any agent of this location.
    pub last_seen_at: Option<Timestamp>,
    /// The agent installation that last said hello.
    pub last_agent_id: Option<String>,
    /// That agent's version.
    pub last_version: Option<String>,
}

/// An agent token: lets agents of one location of one workspace fetch their assignments and
/// push results. The secret is handed out once; the store keeps its SHA-256 hash and a public
/// prefix, like [`ApiToken`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AgentToken {
    /// Id.
    pub id: AgentTokenId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The location it runs for.
    pub location_id: LocationId,
    /// A label.
    pub name: String,
    /// The public prefix (safe to show).
    pub prefix: String,
    /// Created.
    pub created_at: Timestamp,
    /// Last successful use.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// One location's own view of a monitor: its health tracker and latest result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationState {
    /// Which monitor.
    pub monitor_id: MonitorId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The location's name (`local` for the server).
    pub location: String,
    /// The core tracker fed with this location's results.
    pub tracker: bitwobbly_core::state::HealthTracker,
    /// When its latest result started.
    pub last_result_at: Option<Timestamp>,
    /// Its latest result's outcome.
    pub last_status: Option<CheckStatus>,
    /// Its latest result's reason, when not up.
    pub reason: Option<String>,
}

/// One result of an agent batch, by its sequence number. `result` is `None` for a result the
/// server will not store (its monitor is not assigned to the location any more); it still
/// moves the cursor, so the agent can forget it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentResultRow {
    /// The agent's sequence number (1, 2, 3, ...).
    pub seq: u64,
    /// The row to store, if any.
    pub result: Option<NewCheckResult>,
}

/// What recording an agent batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentBatchOutcome {
    /// Indexes (into the batch) of the results stored now, in order.
    pub stored: Vec<usize>,
    /// Results at or below the stored cursor, dropped.
    pub duplicates: usize,
    /// Results above the cursor without a row to store, dropped.
    pub ignored: usize,
    /// The cursor afterwards: the highest sequence number stored for the agent.
    pub last_seq: u64,
}
