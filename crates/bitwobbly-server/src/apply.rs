//! Configuration as code: monitors, notification channels and status-page components
//! declared in a TOML file, identified by stable keys.
//!
//! [`apply`] makes a workspace match a [`Document`]: it creates what is missing, updates what
//! differs and, with `prune`, deletes keyed objects the file does not mention. Everything is
//! validated before anything is written (each problem names the section, the key and the
//! field), and the changes commit in one transaction. Objects without a key (made in the
//! dashboard or through the API without one) are never touched. [`export`] writes the
//! current keyed objects in the same format, leaving out values equal to their defaults, so
//! `export(apply(doc)) == doc` for a document written that way.
//!
//! ```toml
//! [[channel]]
//! key = "ops"
//! name = "Ops webhook"
//! kind = "webhook"
//! config = { url = "https://hooks.example.com/bitwobbly", secret = "whsec_..." }
//!
//! [[monitor]]
//! key = "api"
//! name = "API health"
//! spec = { type = "http", url = "https://api.example.com/health", timeout = "5s" }
//! schedule = { type = "interval", every = "30s" }
//! channels = ["ops"]
//!
//! [[monitor]]
//! key = "nightly-backup"
//! name = "Nightly backup"
//! spec = { type = "heartbeat", expect = { type = "period", period = "1d" }, grace = "1h" }
//! channels = ["ops"]
//!
//! [[status_page]]
//! slug = "acme"
//! title = "Acme status"
//!
//! [[status_page.component]]
//! key = "api"
//! name = "API"
//! monitor = "api"
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use bitwobbly_store::api::{MonitorStore, NotificationStore, StatusPageStore};
use bitwobbly_store::model::{Channel, Monitor, NewComponent, NewMonitor, NewStatusPage};
use bitwobbly_store::types::{ChannelId, MonitorId, StatusPageId, Timestamp, WorkspaceId};
use bitwobbly_store::{Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::channels::{ChannelInput, validate_channel_input};
use crate::api::monitors::{MonitorInput, validate_key, validate_monitor_fields};
use crate::api::workspaces::validate_name;
use crate::config::Config;
use crate::error::ApiError;

// === the document ===

/// A configuration file: keyed monitors, channels and status-page components.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Document {
    /// `[[channel]]` sections.
    #[serde(default, rename = "channel", skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelDoc>,
    /// `[[monitor]]` sections.
    #[serde(default, rename = "monitor", skip_serializing_if = "Vec::is_empty")]
    pub monitors: Vec<MonitorDoc>,
    /// `[[status_page]]` sections, each with its `[[status_page.component]]`s.
    #[serde(default, rename = "status_page", skip_serializing_if = "Vec::is_empty")]
    pub status_pages: Vec<PageDoc>,
}

/// A monitor in a [`Document`]. Fields are those of the API's monitor input, with other
/// objects named by key instead of id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MonitorDoc {
    /// Stable key, unique in the workspace.
    pub key: String,
    /// Display name.
    pub name: String,
    /// The check spec (as in the API), e.g. `{ type = "http", url = "https://..." }`.
    pub spec: Value,
    /// When it runs, e.g. `{ type = "interval", every = "30s" }`. Default: every 60 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Value>,
    /// State-change thresholds (core's fields); missing fields take their defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Value>,
    /// The key of the monitor this one depends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Whether it is paused. Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Locations that run it; empty means the server itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// How the locations' views combine, e.g. `{ share = "majority", stale_after = "5m" }`.
    /// Default: a majority, stale after 5 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Value>,
    /// Keys of the channels it notifies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
}

/// A notification channel in a [`Document`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChannelDoc {
    /// Stable key, unique in the workspace.
    pub key: String,
    /// Display name.
    pub name: String,
    /// `webhook`, `slack`, `discord`, `teams`, `pagerduty`, `ntfy` or `email`.
    pub kind: String,
    /// Whether it sends. Default true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// The kind's settings (as in the API). A webhook without `secret` gets one generated
    /// (or keeps its current one).
    #[serde(default = "empty_object")]
    pub config: Value,
}

/// A status page in a [`Document`]: created when missing; its keyed components follow the
/// file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PageDoc {
    /// The page's slug (its address).
    pub slug: String,
    /// The page's title; default (for a new page) the slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `[[status_page.component]]`s, in display order.
    #[serde(default, rename = "component", skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentDoc>,
}

/// A status-page component in a [`Document`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ComponentDoc {
    /// Stable key, unique on the page.
    pub key: String,
    /// Name shown on the page.
    pub name: String,
    /// Text under the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The key of the monitor whose state it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<String>,
    /// Whether the page shows its uptime bar (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub show_uptime: bool,
    /// Whether the page shows its response times (default false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub show_response_times: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl Document {
    /// Parses a TOML document.
    ///
    /// # Errors
    ///
    /// The TOML error (with line and column), e.g. for an unknown field.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Writes the document as TOML.
    ///
    /// # Errors
    ///
    /// A serialisation error (not expected: nulls are left out).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        let mut doc = self.clone();
        for m in &mut doc.monitors {
            strip_nulls(&mut m.spec);
            m.schedule.as_mut().map(strip_nulls);
            m.thresholds.as_mut().map(strip_nulls);
        }
        for c in &mut doc.channels {
            strip_nulls(&mut c.config);
        }
        toml::to_string(&doc)
    }
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

// === problems and reports ===

/// One thing wrong with a document: which section and key, which field, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// `monitor`, `channel`, `status_page` or `component`.
    pub section: &'static str,
    /// The object's key (a page's slug; a component's `page/key`).
    pub key: String,
    /// The field at fault, as a path (`spec.url`, `channels[1]`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.section, self.key)?;
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Problem {
    fn new(
        section: &'static str,
        key: &str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            section,
            key: key.to_owned(),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn from_api(section: &'static str, key: &str, e: ApiError) -> Self {
        Self {
            section,
            key: key.to_owned(),
            field: e.field,
            message: e.message,
        }
    }
}

/// Why [`apply`] changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The document is invalid; nothing was written.
    #[error("{} problem(s) in the document", .0.len())]
    Invalid(Vec<Problem>),
    /// Writing one object failed (for example a status-page slug taken by another
    /// workspace); the transaction was rolled back.
    #[error("{section} {key:?}: cannot be written")]
    Write {
        /// The section.
        section: &'static str,
        /// The key.
        key: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`apply`] did (or, on a dry run, would do) to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Created.
    Create,
    /// Changed.
    Update,
    /// Deleted (with `prune`).
    Delete,
    /// Already as the file says.
    Unchanged,
}

impl Action {
    /// `created`, `updated`, `deleted` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Update => "updated",
            Self::Delete => "deleted",
            Self::Unchanged => "unchanged",
        }
    }
}

/// One object's change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// `monitor`, `channel`, `status_page` or `component`.
    pub section: &'static str,
    /// The key (a page's slug; a component's `page/key`).
    pub key: String,
    /// What happened.
    pub action: Action,
    /// For updates: the fields that changed.
    pub fields: Vec<&'static str>,
    /// For a created heartbeat monitor: its ping token (the ping URL is
    /// `<public_url>/ping/<token>`).
    pub ping_token: Option<String>,
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Every object of the file and every pruned one, in the order handled.
    pub changes: Vec<Change>,
    /// Nothing was committed (a dry run).
    pub dry_run: bool,
}

impl Report {
    /// How many objects had `action`.
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    /// Whether nothing changed.
    pub fn is_unchanged(&self) -> bool {
        self.changes.iter().all(|c| c.action == Action::Unchanged)
    }

    fn push(&mut self, section: &'static str, key: impl Into<String>, action: Action) {
        self.changes.push(Change {
            section,
            key: key.into(),
            action,
            fields: Vec::new(),
            ping_token: None,
        });
    }

    fn push_fields(&mut self, section: &'static str, key: &str, fields: Vec<&'static str>) {
        let action = if fields.is_empty() {
            Action::Unchanged
        } else {
            Action::Update
        };
        self.changes.push(Change {
            section,
            key: key.to_owned(),
            action,
            fields,
            ping_token: None,
        });
    }
}

/// How [`apply`] runs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Delete keyed objects the file does not mention.
    pub prune: bool,
    /// Work out and report the changes, then roll them back.
    pub dry_run: bool,
    /// The server configuration whose target policy (`targets.deny_private`) monitors
    /// must follow.
    pub config: Config,
}

impl ApplyOptions {
    /// Sets `prune`.
    #[must_use]
    pub fn prune(mut self, on: bool) -> Self {
        self.prune = on;
        self
    }

    /// Sets `dry_run`.
    #[must_use]
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    /// Sets the configuration.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
}

// === apply ===

/// Makes workspace `ws` match `doc` in one transaction (see the module docs).
///
/// # Errors
///
/// [`ApplyError::Invalid`] listing every problem found before anything was written,
/// [`ApplyError::Write`] naming the object whose write failed (nothing is committed), or a
/// database error.
pub async fn apply(
    store: &Store,
    ws: WorkspaceId,
    doc: &Document,
    options: &ApplyOptions,
) -> Result<Report, ApplyError> {
    let validated = validate(doc, &options.config)?;
    let mut tx = store.begin().await?;
    let now = crate::Clock.now();
    check_references(&mut tx, ws, doc, options.prune).await?;

    let mut report = Report {
        changes: Vec::new(),
        dry_run: options.dry_run,
    };
    let channel_ids = apply_channels(&mut tx, ws, doc, now, &mut report).await?;
    let monitor_ids =
        apply_monitors(&mut tx, ws, doc, &validated, &channel_ids, now, &mut report).await?;
    apply_pages(&mut tx, ws, doc, &monitor_ids, now, &mut report).await?;
    if options.prune {
        prune(&mut tx, ws, doc, now, &mut report).await?;
    }
    if options.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

/// What validation made of the document's monitors, by key.
struct Validated {
    monitors: HashMap<String, NewMonitor>,
}

fn monitor_input(m: &MonitorDoc) -> MonitorInput {
    MonitorInput {
        key: Some(m.key.clone()),
        name: m.name.clone(),
        spec: m.spec.clone(),
        schedule: m.schedule.clone(),
        thresholds: m.thresholds.clone(),
        parent_id: None,
        paused: Some(m.paused),
        locations: Some(m.locations.clone()),
        quorum: m.quorum.clone(),
    }
}

fn channel_input(c: &ChannelDoc) -> ChannelInput {
    ChannelInput {
        key: Some(c.key.clone()),
        name: c.name.clone(),
        kind: c.kind.clone(),
        config: c.config.clone(),
        enabled: Some(c.enabled),
    }
}

/// Everything that can be checked without the database.
fn validate(doc: &Document, config: &Config) -> Result<Validated, ApplyError> {
    let mut problems = Vec::new();
    let mut monitors = HashMap::new();

    let mut seen = HashSet::new();
    for c in &doc.channels {
        if !seen.insert(c.key.as_str()) {
            problems.push(Problem::new(
                "channel",
                &c.key,
                "key",
                "the key is used twice in the file",
            ));
        }
        if let Err(e) = validate_channel_input(&channel_input(c), None) {
            problems.push(Problem::from_api("channel", &c.key, e));
        }
    }
    let channel_keys: HashSet<&str> = doc.channels.iter().map(|c| c.key.as_str()).collect();

    let mut seen = HashSet::new();
    for m in &doc.monitors {
        if !seen.insert(m.key.as_str()) {
            problems.push(Problem::new(
                "monitor",
                &m.key,
                "key",
                "the key is used twice in the file",
            ));
        }
        match validate_monitor_fields(&monitor_input(m), config) {
            Ok(new) => {
                monitors.insert(m.key.clone(), new);
            }
            Err(errors) => {
                problems.extend(
                    errors
                        .into_iter()
                        .map(|e| Problem::from_api("monitor", &m.key, e)),
                );
            }
        }
        if m.parent.as_deref() == Some(m.key.as_str()) {
            problems.push(Problem::new(
                "monitor",
                &m.key,
                "parent",
                "a monitor cannot depend on itself",
            ));
        }
        let mut linked = HashSet::new();
        for (i, key) in m.channels.iter().enumerate() {
            if !channel_keys.contains(key.as_str()) {
                problems.push(Problem::new(
                    "monitor",
                    &m.key,
                    format!("channels[{i}]"),
                    format!("no channel with key {key:?} in the file"),
                ));
            }
            if !linked.insert(key.as_str()) {
                problems.push(Problem::new(
                    "monitor",
                    &m.key,
                    format!("channels[{i}]"),
                    format!("channel {key:?} is listed twice"),
                ));
            }
        }
    }
    if let Some(cycle) = parent_cycle(&doc.monitors) {
        problems.push(Problem::new(
            "monitor",
            &cycle[0],
            "parent",
            format!("the parents form a loop: {}", cycle.join(" -> ")),
        ));
    }

    let mut slugs = HashSet::new();
    for p in &doc.status_pages {
        if !slugs.insert(p.slug.as_str()) {
            problems.push(Problem::new(
                "status_page",
                &p.slug,
                "slug",
                "the page is listed twice in the file",
            ));
        }
        if let Err(problem) = crate::ops::admin::check_slug(&p.slug) {
            problems.push(Problem::new("status_page", &p.slug, "slug", problem));
        }
        if let Some(title) = &p.title
            && let Err(e) = validate_name("title", title)
        {
            problems.push(Problem::from_api("status_page", &p.slug, e));
        }
        let mut keys = HashSet::new();
        for c in &p.components {
            let key = format!("{}/{}", p.slug, c.key);
            if let Err(e) = validate_key(&c.key) {
                problems.push(Problem::from_api("component", &key, e));
            }
            if !keys.insert(c.key.as_str()) {
                problems.push(Problem::new(
                    "component",
                    &key,
                    "key",
                    "the key is used twice on the page",
                ));
            }
            if let Err(e) = validate_name("name", &c.name) {
                problems.push(Problem::from_api("component", &key, e));
            }
            if c.description
                .as_ref()
                .is_some_and(|d| d.chars().count() > 2000)
            {
                problems.push(Problem::new(
                    "component",
                    &key,
                    "description",
                    "must be at most 2000 characters",
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(Validated { monitors })
    } else {
        Err(ApplyError::Invalid(problems))
    }
}

/// A loop among the file's parent links, as the keys along it, if there is one.
fn parent_cycle(monitors: &[MonitorDoc]) -> Option<Vec<String>> {
    let parent: HashMap<&str, &str> = monitors
        .iter()
        .filter_map(|m| Some((m.key.as_str(), m.parent.as_deref()?)))
        .collect();
    for m in monitors {
        let mut path = vec![m.key.as_str()];
        let mut cur = m.key.as_str();
        while let Some(&p) = parent.get(cur) {
            if p == m.key {
                path.push(p);
                return Some(path.into_iter().map(str::to_owned).collect());
            }
            if path.contains(&p) || path.len() > monitors.len() {
                break;
            }
            path.push(p);
            cur = p;
        }
    }
    None
}

/// References to keys outside the file must name existing keyed monitors that stay.
async fn check_references(
    tx: &mut Tx,
    ws: WorkspaceId,
    doc: &Document,
    prune: bool,
) -> Result<(), ApplyError> {
    let in_file: HashSet<&str> = doc.monitors.iter().map(|m| m.key.as_str()).collect();
    let mut problems = Vec::new();
    let mut refs: Vec<(&'static str, String, &'static str, &str)> = Vec::new();
    for m in &doc.monitors {
        if let Some(p) = &m.parent {
            refs.push(("monitor", m.key.clone(), "parent", p));
        }
    }
    for p in &doc.status_pages {
        for c in &p.components {
            if let Some(m) = &c.monitor {
                refs.push(("component", format!("{}/{}", p.slug, c.key), "monitor", m));
            }
        }
    }
    for (section, key, field, target) in refs {
        if in_file.contains(target) {
            continue;
        }
        let exists = tx.workspace(ws).monitor_by_key(target).await?.is_some();
        let message = if !exists {
            format!("no monitor with key {target:?} in the file or the workspace")
        } else if prune {
            format!("monitor {target:?} is not in the file, so --prune would delete it")
        } else {
            continue;
        };
        problems.push(Problem::new(section, &key, field, message));
    }
    for m in &doc.monitors {
        let mut scope = tx.workspace(ws);
        for i in crate::api::locations::missing_locations(&mut scope, &m.locations).await? {
            problems.push(Problem::new(
                "monitor",
                &m.key,
                format!("locations[{i}]"),
                format!("no location {:?} in this workspace", m.locations[i].trim()),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Invalid(problems))
    }
}

fn write_err(section: &'static str, key: &str) -> impl FnOnce(StoreError) -> ApplyError {
    let key = key.to_owned();
    move |source| ApplyError::Write {
        section,
        key,
        source,
    }
}

async fn apply_channels(
    tx: &mut Tx,
    ws: WorkspaceId,
    doc: &Document,
    now: Timestamp,
    report: &mut Report,
) -> Result<HashMap<String, ChannelId>, ApplyError> {
    let mut ids = HashMap::new();
    for c in &doc.channels {
        let existing = tx.workspace(ws).channel_by_key(&c.key).await?;
        let new =
            validate_channel_input(&channel_input(c), existing.as_ref().map(|e| &e.config))
                .map_err(|e| ApplyError::Invalid(vec![Problem::from_api("channel", &c.key, e)]))?;
        match existing {
            None => {
                let created = tx
                    .workspace(ws)
                    .create_channel(&new, now)
                    .await
                    .map_err(write_err("channel", &c.key))?;
                ids.insert(c.key.clone(), created.id);
                report.push("channel", &c.key, Action::Create);
            }
            Some(old) => {
                let mut fields = Vec::new();
                if old.name != new.name {
                    fields.push("name");
                }
                if old.kind != new.kind {
                    fields.push("kind");
                }
                if old.config != new.config {
                    fields.push("config");
                }
                if old.enabled != new.enabled {
                    fields.push("enabled");
                }
                if !fields.is_empty() {
                    tx.workspace(ws)
                        .update_channel(old.id, &new, now)
                        .await
                        .map_err(write_err("channel", &c.key))?;
                }
                ids.insert(c.key.clone(), old.id);
                report.push_fields("channel", &c.key, fields);
            }
        }
    }
    Ok(ids)
}

/// The file's monitors, parents before their children.
fn parents_first(monitors: &[MonitorDoc]) -> Vec<&MonitorDoc> {
    let by_key: HashMap<&str, &MonitorDoc> = monitors.iter().map(|m| (m.key.as_str(), m)).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(monitors.len());
    fn visit<'a>(
        m: &'a MonitorDoc,
        by_key: &HashMap<&str, &'a MonitorDoc>,
        done: &mut HashSet<&'a str>,
        out: &mut Vec<&'a MonitorDoc>,
        depth: usize,
    ) {
        if done.contains(m.key.as_str()) || depth > by_key.len() {
            return;
        }
        if let Some(p) = m.parent.as_deref().and_then(|p| by_key.get(p)) {
            visit(p, by_key, done, out, depth + 1);
        }
        if done.insert(m.key.as_str()) {
            out.push(m);
        }
    }
    for m in monitors {
        visit(m, &by_key, &mut done, &mut out, 0);
    }
    out
}

async fn apply_monitors(
    tx: &mut Tx,
    ws: WorkspaceId,
    doc: &Document,
    validated: &Validated,
    channel_ids: &HashMap<String, ChannelId>,
    now: Timestamp,
    report: &mut Report,
) -> Result<HashMap<String, MonitorId>, ApplyError> {
    let mut ids: HashMap<String, MonitorId> = HashMap::new();
    for m in parents_first(&doc.monitors) {
        let Some(validated) = validated.monitors.get(&m.key) else {
            continue;
        };
        let mut new = validated.clone();
        let existing = tx.workspace(ws).monitor_by_key(&m.key).await?;
        new.parent_id = match &m.parent {
            Some(p) => match ids.get(p) {
                Some(id) => Some(*id),
                None => tx.workspace(ws).monitor_by_key(p).await?.map(|p| p.id),
            },
            // A parent without a key cannot be named in the file: it stays.
            None => match existing.as_ref().and_then(|e| e.parent_id) {
                Some(pid) => {
                    let parent = tx.workspace(ws).monitor(pid).await?;
                    parent.filter(|p| p.key.is_none()).map(|p| p.id)
                }
                None => None,
            },
        };
        let wanted: BTreeSet<ChannelId> = m
            .channels
            .iter()
            .filter_map(|k| channel_ids.get(k).copied())
            .collect();
        match existing {
            None => {
                let created = tx
                    .workspace(ws)
                    .create_monitor(&new, now)
                    .await
                    .map_err(write_err("monitor", &m.key))?;
                if !wanted.is_empty() {
                    let list: Vec<ChannelId> = wanted.into_iter().collect();
                    tx.workspace(ws)
                        .set_monitor_channels(created.id, &list)
                        .await
                        .map_err(write_err("monitor", &m.key))?;
                }
                ids.insert(m.key.clone(), created.id);
                report.push("monitor", &m.key, Action::Create);
                if let Some(last) = report.changes.last_mut() {
                    last.ping_token = created.ping_token;
                }
            }
            Some(old) => {
                let mut fields = monitor_diff(&old, &new);
                if !fields.is_empty() {
                    tx.workspace(ws)
                        .update_monitor(old.id, &new, now)
                        .await
                        .map_err(write_err("monitor", &m.key))?;
                }
                let current = tx.workspace(ws).channels_for_monitor(old.id).await?;
                let (keyed, unkeyed): (Vec<Channel>, Vec<Channel>) =
                    current.into_iter().partition(|c| c.key.is_some());
                let have: BTreeSet<ChannelId> = keyed.iter().map(|c| c.id).collect();
                if have != wanted {
                    let list: Vec<ChannelId> = unkeyed.iter().map(|c| c.id).chain(wanted).collect();
                    tx.workspace(ws)
                        .set_monitor_channels(old.id, &list)
                        .await
                        .map_err(write_err("monitor", &m.key))?;
                    fields.push("channels");
                }
                ids.insert(m.key.clone(), old.id);
                report.push_fields("monitor", &m.key, fields);
            }
        }
    }
    Ok(ids)
}

fn monitor_diff(old: &Monitor, new: &NewMonitor) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if old.name != new.name {
        fields.push("name");
    }
    if old.spec != new.spec {
        fields.push("spec");
    }
    if old.schedule != new.schedule {
        fields.push("schedule");
    }
    if old.thresholds != new.thresholds {
        fields.push("thresholds");
    }
    if old.parent_id != new.parent_id {
        fields.push("parent");
    }
    if old.paused != new.paused {
        fields.push("paused");
    }
    if old.locations != new.locations {
        fields.push("locations");
    }
    if old.quorum != new.quorum {
        fields.push("quorum");
    }
    fields
}

async fn apply_pages(
    tx: &mut Tx,
    ws: WorkspaceId,
    doc: &Document,
    monitor_ids: &HashMap<String, MonitorId>,
    now: Timestamp,
    report: &mut Report,
) -> Result<(), ApplyError> {
    let pages = tx.workspace(ws).status_pages().await?;
    for p in &doc.status_pages {
        let page_id: StatusPageId = match pages.iter().find(|s| s.slug == p.slug) {
            None => {
                let created = tx
                    .workspace(ws)
                    .create_status_page(
                        &NewStatusPage::new(
                            p.slug.clone(),
                            p.title.clone().unwrap_or_else(|| p.slug.clone()),
                        ),
                        now,
                    )
                    .await
                    .map_err(write_err("status_page", &p.slug))?;
                report.push("status_page", &p.slug, Action::Create);
                created.id
            }
            Some(page) => {
                let mut fields = Vec::new();
                if let Some(title) = p.title.as_deref().map(str::trim)
                    && title != page.title
                {
                    tx.workspace(ws)
                        .update_status_page(
                            page.id,
                            &NewStatusPage {
                                slug: page.slug.clone(),
                                title: title.to_owned(),
                                description: page.description.clone(),
                                public: page.public,
                                logo_url: page.logo_url.clone(),
                                theme: page.theme,
                                footer_links: page.footer_links.clone(),
                                domains: page.domains.clone(),
                                time_zone: page.time_zone.clone(),
                                hold_auto_incidents: page.hold_auto_incidents,
                            },
                            now,
                        )
                        .await
                        .map_err(write_err("status_page", &p.slug))?;
                    fields.push("title");
                }
                report.push_fields("status_page", &p.slug, fields);
                page.id
            }
        };
        let existing = tx.workspace(ws).components(page_id).await?;
        for (position, c) in p.components.iter().enumerate() {
            let key = format!("{}/{}", p.slug, c.key);
            let monitor_id = match &c.monitor {
                Some(k) => match monitor_ids.get(k) {
                    Some(id) => Some(*id),
                    None => tx.workspace(ws).monitor_by_key(k).await?.map(|m| m.id),
                },
                None => None,
            };
            let old = existing
                .iter()
                .find(|e| e.key.as_deref() == Some(c.key.as_str()));
            let new = NewComponent {
                key: Some(c.key.clone()),
                page_id,
                group_id: old.and_then(|o| o.group_id),
                monitor_id,
                name: c.name.trim().to_owned(),
                description: c.description.clone(),
                position: position as i64,
                show_uptime: c.show_uptime,
                show_response_times: c.show_response_times,
            };
            match old {
                None => {
                    tx.workspace(ws)
                        .create_component(&new, now)
                        .await
                        .map_err(write_err("component", &key))?;
                    report.push("component", key, Action::Create);
                }
                Some(old) => {
                    let mut fields = Vec::new();
                    if old.name != new.name {
                        fields.push("name");
                    }
                    if old.description != new.description {
                        fields.push("description");
                    }
                    if old.monitor_id != new.monitor_id {
                        fields.push("monitor");
                    }
                    if old.position != new.position {
                        fields.push("position");
                    }
                    if old.show_uptime != new.show_uptime {
                        fields.push("show_uptime");
                    }
                    if old.show_response_times != new.show_response_times {
                        fields.push("show_response_times");
                    }
                    if !fields.is_empty() {
                        tx.workspace(ws)
                            .update_component(old.id, &new, now)
                            .await
                            .map_err(write_err("component", &key))?;
                    }
                    report.push_fields("component", &key, fields);
                }
            }
        }
    }
    Ok(())
}

async fn prune(
    tx: &mut Tx,
    ws: WorkspaceId,
    doc: &Document,
    now: Timestamp,
    report: &mut Report,
) -> Result<(), ApplyError> {
    let wanted_components: HashSet<(&str, &str)> = doc
        .status_pages
        .iter()
        .flat_map(|p| {
            p.components
                .iter()
                .map(|c| (p.slug.as_str(), c.key.as_str()))
        })
        .collect();
    for page in tx.workspace(ws).status_pages().await? {
        for c in tx.workspace(ws).components(page.id).await? {
            let Some(key) = &c.key else { continue };
            if !wanted_components.contains(&(page.slug.as_str(), key.as_str())) {
                let key = format!("{}/{key}", page.slug);
                tx.workspace(ws)
                    .delete_component(c.id, now)
                    .await
                    .map_err(write_err("component", &key))?;
                report.push("component", key, Action::Delete);
            }
        }
    }
    let wanted: HashSet<&str> = doc.monitors.iter().map(|m| m.key.as_str()).collect();
    let mut doomed: Vec<Monitor> = tx
        .workspace(ws)
        .monitors()
        .await?
        .into_iter()
        .filter(|m| m.key.as_deref().is_some_and(|k| !wanted.contains(k)))
        .collect();
    // Children before their parents.
    let depth = |m: &Monitor, all: &[Monitor]| {
        let mut d = 0;
        let mut cur = m.parent_id;
        while let Some(p) = cur {
            d += 1;
            cur = all.iter().find(|x| x.id == p).and_then(|x| x.parent_id);
            if d > all.len() {
                break;
            }
        }
        d
    };
    let all = doomed.clone();
    doomed.sort_by_key(|m| std::cmp::Reverse(depth(m, &all)));
    for m in doomed {
        let key = m.key.clone().unwrap_or_default();
        tx.workspace(ws)
            .delete_monitor(m.id)
            .await
            .map_err(write_err("monitor", &key))?;
        report.push("monitor", key, Action::Delete);
    }
    let wanted: HashSet<&str> = doc.channels.iter().map(|c| c.key.as_str()).collect();
    for c in tx.workspace(ws).channels().await? {
        let Some(key) = c.key else { continue };
        if !wanted.contains(key.as_str()) {
            tx.workspace(ws)
                .delete_channel(c.id)
                .await
                .map_err(write_err("channel", &key))?;
            report.push("channel", key, Action::Delete);
        }
    }
    Ok(())
}

// === export ===

/// The workspace's keyed monitors, channels and status-page components as a [`Document`]:
/// monitors and channels sorted by key, pages by slug, components in display order; values
/// equal to their defaults are left out. Channel settings are included in full, secrets
/// too (the file must recreate them).
///
/// # Errors
///
/// A database error.
pub async fn export(store: &Store, ws: WorkspaceId) -> Result<Document, StoreError> {
    let mut scope = store.workspace(ws);
    let monitors = scope.monitors().await?;
    let key_of: HashMap<MonitorId, String> = monitors
        .iter()
        .filter_map(|m| Some((m.id, m.key.clone()?)))
        .collect();

    let mut channels: Vec<ChannelDoc> = scope
        .channels()
        .await?
        .into_iter()
        .filter_map(|c| {
            Some(ChannelDoc {
                key: c.key?,
                name: c.name,
                kind: c.kind.as_str().to_owned(),
                enabled: c.enabled,
                config: c.config,
            })
        })
        .collect();
    channels.sort_by(|a, b| a.key.cmp(&b.key));

    let config = Config::default();
    let mut docs = Vec::new();
    for m in &monitors {
        let Some(key) = &m.key else { continue };
        let mut linked: Vec<String> = scope
            .channels_for_monitor(m.id)
            .await?
            .into_iter()
            .filter_map(|c| c.key)
            .collect();
        linked.sort();
        let mut doc = MonitorDoc {
            key: key.clone(),
            name: m.name.clone(),
            // Serialising a spec cannot fail (no map has non-text keys).
            spec: serde_json::to_value(&m.spec).unwrap_or_default(),
            schedule: serde_json::to_value(&m.schedule).ok(),
            thresholds: serde_json::to_value(m.thresholds).ok(),
            parent: m.parent_id.and_then(|p| key_of.get(&p).cloned()),
            paused: m.paused,
            locations: m.locations.clone(),
            quorum: serde_json::to_value(m.quorum).ok(),
            channels: linked,
        };
        minimize(&mut doc, &config);
        docs.push(doc);
    }
    docs.sort_by(|a, b| a.key.cmp(&b.key));

    let mut pages = Vec::new();
    let mut all_pages = scope.status_pages().await?;
    all_pages.sort_by(|a, b| a.slug.cmp(&b.slug));
    for page in all_pages {
        let mut components = scope.components(page.id).await?;
        components.sort_by_key(|c| c.position);
        let components: Vec<ComponentDoc> = components
            .into_iter()
            .filter_map(|c| {
                Some(ComponentDoc {
                    key: c.key?,
                    name: c.name,
                    description: c.description,
                    monitor: c.monitor_id.and_then(|m| key_of.get(&m).cloned()),
                    show_uptime: c.show_uptime,
                    show_response_times: c.show_response_times,
                })
            })
            .collect();
        if components.is_empty() {
            continue;
        }
        let title = (page.title != page.slug).then_some(page.title);
        pages.push(PageDoc {
            slug: page.slug,
            title,
            components,
        });
    }
    Ok(Document {
        channels,
        monitors: docs,
        status_pages: pages,
    })
}

/// Leaves out of `doc` every value whose absence validates to the same monitor.
fn minimize(doc: &mut MonitorDoc, config: &Config) {
    let Ok(target) = validate_monitor_fields(&monitor_input(doc), config) else {
        return;
    };
    let same = |d: &MonitorDoc| {
        validate_monitor_fields(&monitor_input(d), config).is_ok_and(|n| n == target)
    };
    let mut trial = doc.clone();
    trial.schedule = None;
    if same(&trial) {
        *doc = trial;
    }
    let mut trial = doc.clone();
    trial.thresholds = None;
    if same(&trial) {
        *doc = trial;
    }
    let mut trial = doc.clone();
    trial.quorum = None;
    if same(&trial) {
        *doc = trial;
    }
    for field in [Field::Spec, Field::Schedule, Field::Thresholds] {
        let mut path = Vec::new();
        prune_defaults(doc, field, &mut path, &same);
    }
}

#[derive(Clone, Copy)]
enum Field {
    Spec,
    Schedule,
    Thresholds,
}

impl Field {
    fn value(self, d: &mut MonitorDoc) -> Option<&mut Value> {
        match self {
            Self::Spec => Some(&mut d.spec),
            Self::Schedule => d.schedule.as_mut(),
            Self::Thresholds => d.thresholds.as_mut(),
        }
    }
}

/// One step into a JSON value: an object's key or an array's index.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Removes, one at a time, the keys under `path` in `field` whose removal keeps the
/// monitor the same; recurses into the objects (and arrays of objects) that must stay.
fn prune_defaults(
    doc: &mut MonitorDoc,
    field: Field,
    path: &mut Vec<Step>,
    same: &impl Fn(&MonitorDoc) -> bool,
) {
    match field.value(doc).and_then(|v| lookup(v, path)) {
        Some(Value::Object(map)) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if key == "type" {
                    continue;
                }
                let mut trial = doc.clone();
                if let Some(Value::Object(map)) =
                    field.value(&mut trial).and_then(|v| lookup_mut(v, path))
                {
                    map.remove(&key);
                }
                if same(&trial) {
                    *doc = trial;
                } else {
                    path.push(Step::Key(key));
                    prune_defaults(doc, field, path, same);
                    path.pop();
                }
            }
        }
        Some(Value::Array(items)) => {
            for i in 0..items.len() {
                path.push(Step::Index(i));
                prune_defaults(doc, field, path, same);
                path.pop();
            }
        }
        _ => {}
    }
}

fn lookup<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

fn lookup_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get_mut(k),
        Step::Index(i) => v.get_mut(i),
    })
}
