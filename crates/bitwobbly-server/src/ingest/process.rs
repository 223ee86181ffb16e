//! The processing worker: turns stored envelopes into events and issues, transactions,
//! session rollups, attachments, client reports, feedback and cron check-ins.
//!
//! Each worker claims a batch of pending envelopes with a lease (on PostgreSQL several nodes
//! and workers share the queue with `FOR UPDATE SKIP LOCKED`), reads and parses each one, and
//! writes everything the batch yields in ONE transaction: events in multi-row inserts, one
//! issue upsert per fingerprint, issue alerts in the outbox, and the envelopes marked done.
//! If that transaction fails, the envelopes are retried one by one, so one bad envelope never
//! blocks the others; an envelope that fails `max_attempts` times (or cannot be parsed at all)
//! is marked failed and stays for an operator to look at.
//!
//! An event's payload is not copied: the event row keeps the envelope id and the byte range of
//! the item, and [`event_payload`] reads it back. Items that cannot be used (invalid JSON,
//! wrong types, nesting beyond serde's limit) are skipped; unknown item types are left in the
//! raw envelope, which retention keeps as long as configured.

use std::collections::HashMap;
use std::time::Duration;

use bitwobbly_envelope::{
    CheckIn as SentryCheckIn, Envelope as RawEnvelope, EventInfo, Item, ItemType, Session,
    SessionAggregates,
};
use bitwobbly_store::Tx;
use bitwobbly_store::api::{IngestQueue, IngestStore};
use bitwobbly_store::model::{
    ClientReportCount, Envelope, IssueSighting, NewAttachment, NewEvent, NewFeedback,
    NewTransaction, PayloadRef, Project, SessionCounts, SessionUser,
};
use bitwobbly_store::types::{EnvelopeId, ProjectId, Timestamp, WorkspaceId};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::task::TaskTracker;

use super::alerts::{self, Frequency};
use crate::AppState;
use crate::error::error_chain;

mod fields;
mod sessions;
mod spans;

pub use fields::{culprit, title};

/// `[ingest.processing]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ProcessingConfig {
    /// Whether this node processes envelopes. Default on.
    pub enabled: bool,
    /// Workers on this node. Default 1 (SQLite takes one writer at a time anyway).
    pub workers: usize,
    /// Envelopes claimed and written per transaction. Default 500.
    pub batch: u32,
    /// How long a claim lasts before another worker may take the envelopes. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long an idle worker waits before looking again. Default 200 ms.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Attempts before an envelope is marked failed. Default 5.
    pub max_attempts: i64,
    /// Days events and attachments are kept unless the project says otherwise. Default 90.
    pub event_retention_days: u32,
    /// Days raw envelopes no kept event needs are kept unless the project says otherwise.
    /// Default 30.
    pub envelope_retention_days: u32,
    /// Events of one issue within `alert_frequency_minutes` that raise a frequency alert,
    /// unless the project says otherwise; 0 turns it off. Default 100.
    pub alert_frequency_count: u32,
    /// The frequency alert's window in minutes. Default 60.
    pub alert_frequency_minutes: u32,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            workers: 1,
            batch: 500,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            max_attempts: 5,
            event_retention_days: 90,
            envelope_retention_days: 30,
            alert_frequency_count: 100,
            alert_frequency_minutes: 60,
        }
    }
}

/// Starts the configured workers on `tasks`.
pub fn spawn_workers(state: &AppState, tasks: &TaskTracker) {
    let config = &state.config.ingest.processing;
    if !config.enabled {
        return;
    }
    for i in 0..config.workers.max(1) {
        let owner = format!("{}#process-{i}", state.node);
        drop(crate::spawn(
            "ingest-process",
            tasks.track_future(run(state.clone(), owner)),
        ));
    }
}

/// Processes envelopes until `state.shutdown` is cancelled.
pub async fn run(state: AppState, owner: String) {
    let idle = state.config.ingest.processing.poll_interval;
    loop {
        if state.shutdown.is_cancelled() {
            return;
        }
        let wait = match process_batch(&state, &owner).await {
            Ok(0) => idle,
            Ok(_) => Duration::ZERO,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "ingest processing failed");
                idle
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Claims one batch and processes it; returns how many envelopes were claimed.
///
/// # Errors
///
/// A store error claiming the batch (errors on single envelopes release or fail them).
pub async fn process_batch(state: &AppState, owner: &str) -> bitwobbly_store::Result<usize> {
    let config = &state.config.ingest.processing;
    let now = state.clock.now();
    let mut claimed = state
        .store
        .global()
        .claim_envelopes(owner, now, config.lease, config.batch.max(1))
        .await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    // In the order received (PostgreSQL's claim returns rows in any order): a check-in's
    // updates and a session's updates must be applied in the order the SDK sent them.
    claimed.sort_unstable_by_key(|e| e.id);
    let n = claimed.len();
    let ids: Vec<EnvelopeId> = claimed.iter().map(|e| e.id).collect();
    let bodies = match state
        .store
        .global()
        .envelope_bodies(&ids, state.blobs.as_ref())
        .await
    {
        Ok(b) => b,
        Err(e) => {
            let error = error_chain(&e);
            for env in &claimed {
                retry_later(state, owner, env, &error).await;
            }
            return Ok(n);
        }
    };
    let mut ready = Vec::with_capacity(n);
    for (env, (_, body)) in claimed.into_iter().zip(bodies) {
        match prepare(state, &env, body).await {
            Ok(p) => ready.push(p),
            Err(Failure::Permanent(reason)) => {
                fail(state, owner, &env, &reason).await;
            }
            Err(Failure::Transient(e)) => retry_later(state, owner, &env, &e).await,
        }
    }
    if ready.is_empty() {
        return Ok(n);
    }
    let mut projects = ProjectCache::default();
    let batch = async {
        let mut tx = state.store.begin().await?;
        write(&mut tx, state, &mut projects, &ready, owner, now).await?;
        tx.commit().await
    };
    if let Err(e) = batch.await {
        tracing::debug!(error = %error_chain(&e), "batch failed; processing its envelopes one by one");
        for p in &ready {
            let one = async {
                let mut tx = state.store.begin().await?;
                write(
                    &mut tx,
                    state,
                    &mut projects,
                    std::slice::from_ref(p),
                    owner,
                    now,
                )
                .await?;
                tx.commit().await
            };
            if let Err(e) = one.await {
                retry_later(state, owner, &p.envelope, &error_chain(&e)).await;
            }
        }
    }
    Ok(n)
}

/// Why an envelope could not be prepared.
enum Failure {
    /// It never will be (unparseable, its bytes gone).
    Permanent(String),
    /// It may later (a database or blob store hiccup).
    Transient(String),
}

async fn fail(state: &AppState, owner: &str, env: &Envelope, reason: &str) {
    tracing::debug!(envelope_id = env.id.0, reason, "envelope failed");
    if let Err(e) = state
        .store
        .global()
        .fail_envelope(env.id, owner, reason)
        .await
    {
        tracing::warn!(envelope_id = env.id.0, error = %error_chain(&e), "cannot mark an envelope failed");
    }
}

/// Gives the envelope back, or fails it when it has had its attempts.
async fn retry_later(state: &AppState, owner: &str, env: &Envelope, error: &str) {
    let max = state.config.ingest.processing.max_attempts.max(1);
    if env.attempts >= max {
        fail(
            state,
            owner,
            env,
            &format!("gave up after {max} attempts: {error}"),
        )
        .await;
        return;
    }
    if let Err(e) = state
        .store
        .global()
        .release_envelope(env.id, owner, error)
        .await
    {
        tracing::warn!(envelope_id = env.id.0, error = %error_chain(&e), "cannot release an envelope");
    }
}

/// Everything one envelope yields, ready to write.
struct Prepared {
    envelope: Envelope,
    events: Vec<GroupedEvent>,
    transactions: Vec<NewTransaction>,
    sessions: Vec<SessionCounts>,
    session_users: Vec<SessionUser>,
    client_reports: Vec<ClientReportCount>,
    feedback: Vec<NewFeedback>,
    attachments: Vec<NewAttachment>,
    check_ins: Vec<Bytes>,
    /// Individual session updates, counted against their sessions' state when written.
    session_updates: Vec<sessions::SessionUpdate>,
}

/// An event with what grouping decided.
struct GroupedEvent {
    event: NewEvent,
    fingerprint: String,
    user_hash: Option<i64>,
}

/// What one envelope yields, from its raw bytes as the store read them.
async fn prepare(
    state: &AppState,
    env: &Envelope,
    body: bitwobbly_store::Result<Option<Bytes>>,
) -> Result<Prepared, Failure> {
    let body = match body {
        Ok(Some(b)) => b,
        Ok(None) => return Err(Failure::Permanent("the envelope is gone".into())),
        Err(bitwobbly_store::StoreError::BlobNotFound { .. }) => {
            return Err(Failure::Permanent("the envelope's bytes are gone".into()));
        }
        Err(e @ bitwobbly_store::StoreError::Corrupt { .. }) => {
            return Err(Failure::Permanent(error_chain(&e)));
        }
        Err(e) => return Err(Failure::Transient(error_chain(&e))),
    };
    let parsed = RawEnvelope::parse(body.clone())
        .map_err(|e| Failure::Permanent(format!("unparseable envelope: {e}")))?;
    let mut p = Prepared {
        envelope: env.clone(),
        events: vec![],
        transactions: vec![],
        sessions: vec![],
        session_users: vec![],
        client_reports: vec![],
        feedback: vec![],
        attachments: vec![],
        check_ins: vec![],
        session_updates: vec![],
    };
    let project = env.manifest.project_id;
    let received = env.manifest.received_at;
    let envelope_event_id = parsed
        .event_id()
        .map(|id| id.to_string())
        .or_else(|| env.manifest.event_id.clone());
    for item in parsed.items() {
        let payload = item.payload();
        match item.ty() {
            ItemType::Event => {
                if let Some(e) = event(
                    &body,
                    env.id,
                    project,
                    item,
                    envelope_event_id.as_deref(),
                    received,
                ) {
                    p.events.push(e);
                }
            }
            ItemType::Transaction => {
                if let Some(t) =
                    fields::transaction(payload, project, envelope_event_id.as_deref(), received)
                {
                    p.transactions.push(t);
                }
            }
            ItemType::Session => {
                if let Ok(s) = Session::from_json(payload)
                    && let Some(u) = sessions::update(project, &s, received, &mut p.session_users)
                {
                    p.session_updates.push(u);
                }
            }
            ItemType::Span
                if item
                    .content_type()
                    .is_some_and(|c| c.starts_with(bitwobbly_envelope::SPAN_V2_CONTENT_TYPE)) =>
            {
                p.transactions
                    .extend(spans::transactions(payload, project, received));
            }
            ItemType::Sessions => {
                if let Ok(s) = SessionAggregates::from_json(payload) {
                    sessions(&mut p, project, &s);
                }
            }
            ItemType::ClientReport => {
                p.client_reports
                    .extend(fields::client_report(payload, project, received));
            }
            ItemType::Feedback | ItemType::UserReport => {
                if let Some(f) = fields::feedback(
                    item.ty(),
                    payload,
                    project,
                    envelope_event_id.as_deref(),
                    received,
                ) {
                    p.feedback.push(f);
                }
            }
            ItemType::Attachment => {
                let Some(event_id) = envelope_event_id.clone() else {
                    continue;
                };
                let key = format!(
                    "attachments/{}/{}/{}-{}",
                    project.0,
                    event_id,
                    env.id.0,
                    p.attachments.len()
                );
                if let Err(e) = state.blobs.put(&key, payload.clone()).await {
                    return Err(Failure::Transient(error_chain(&e)));
                }
                p.attachments.push(NewAttachment {
                    project_id: project,
                    event_id,
                    name: fields::clip(item.filename().unwrap_or("attachment"), 255),
                    content_type: item.content_type().map(|c| fields::clip(c, 255)),
                    size: i64::try_from(payload.len()).unwrap_or(i64::MAX),
                    blob_key: key,
                    attachment_type: item.attachment_type().map(|t| fields::clip(t, 64)),
                });
            }
            ItemType::CheckIn => p.check_ins.push(payload.clone()),
            _ => {}
        }
    }
    Ok(p)
}

/// An event item as a row and its grouping; `None` when the payload is unusable.
fn event(
    body: &Bytes,
    envelope: EnvelopeId,
    project: ProjectId,
    item: &Item,
    envelope_event_id: Option<&str>,
    received: Timestamp,
) -> Option<GroupedEvent> {
    let payload = item.payload();
    let info = EventInfo::from_json(payload).ok()?;
    let extra = fields::EventExtra::from_json(payload);
    let event_id = envelope_event_id
        .map(str::to_owned)
        .or_else(|| info.event_id.map(|id| id.to_string()))?;
    let grouping = bitwobbly_envelope::group(&info);
    let offset = (payload.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let user_hash = extra
        .user
        .as_deref()
        .or(info.user_id.as_deref())
        .map(hash63);
    Some(GroupedEvent {
        event: NewEvent {
            project_id: project,
            event_id,
            issue_id: None,
            level: fields::level(info.level.as_deref()),
            timestamp: fields::timestamp(info.timestamp, received),
            release: info.release.as_deref().map(|r| fields::clip(r, 200)),
            environment: info.environment.as_deref().map(|e| fields::clip(e, 64)),
            title: title(&info),
            culprit: culprit(&info, extra.culprit.as_deref()),
            tags: extra.tags,
            blob_key: None,
            payload: Some(PayloadRef {
                envelope_id: envelope,
                offset: i64::try_from(offset).ok()?,
                len: i64::try_from(payload.len()).ok()?,
            }),
        },
        fingerprint: grouping.hash,
        user_hash,
    })
}

/// A 63-bit hash of a user identity (stable across versions and nodes).
fn hash63(s: &str) -> i64 {
    let d = Sha256::digest(s.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) >> 1) as i64
}

fn release_env<'a>(
    attrs: &'a bitwobbly_envelope::SessionAttributes<'a>,
) -> Option<(String, String)> {
    let release = attrs.release.as_deref()?.trim();
    if release.is_empty() {
        return None;
    }
    Some((
        fields::clip(release, 200),
        fields::clip(attrs.environment.as_deref().unwrap_or(""), 64),
    ))
}

/// Aggregated sessions (server-mode SDKs): each bucket's sessions all started and ended.
fn sessions(p: &mut Prepared, project: ProjectId, s: &SessionAggregates<'_>) {
    let Some((release, environment)) = release_env(&s.attrs) else {
        return;
    };
    for a in &s.aggregates {
        let clamp = |n: u64| i64::try_from(n.min(1 << 40)).unwrap_or(0);
        let (exited, errored, abnormal, crashed) = (
            clamp(a.exited),
            clamp(a.errored),
            clamp(a.abnormal),
            clamp(a.crashed),
        );
        let at = fields::timestamp(Some(a.started.0), Timestamp::from_millis(i64::MAX / 2));
        let bucket_start = at.floor_hour();
        p.sessions.push(SessionCounts {
            project_id: project,
            release: release.clone(),
            environment: environment.clone(),
            bucket_start,
            started: exited + errored + abnormal + crashed,
            exited,
            errored,
            crashed,
            abnormal,
        });
        if let Some(did) = &a.did {
            let worst = if crashed > 0 {
                3
            } else if abnormal > 0 {
                2
            } else {
                i64::from(errored > 0)
            };
            p.session_users.push(SessionUser {
                project_id: project,
                release: release.clone(),
                environment: environment.clone(),
                bucket_start,
                user_hash: hash63(did.as_str()),
                worst,
            });
        }
    }
}

/// Projects (with their processing settings) looked up once per batch.
#[derive(Default)]
struct ProjectCache {
    projects: HashMap<ProjectId, Option<(Project, Frequency)>>,
}

impl ProjectCache {
    async fn get(
        &mut self,
        tx: &mut Tx,
        state: &AppState,
        ws: WorkspaceId,
        id: ProjectId,
    ) -> bitwobbly_store::Result<Option<(Project, Frequency)>> {
        if let Some(p) = self.projects.get(&id) {
            return Ok(p.clone());
        }
        let config = &state.config.ingest.processing;
        let found = match tx.workspace(ws).project(id).await? {
            Some(project) => {
                let settings = tx
                    .workspace(ws)
                    .project_processing(id)
                    .await?
                    .unwrap_or_default();
                let count = settings
                    .alert_frequency_count
                    .unwrap_or(i64::from(config.alert_frequency_count));
                let minutes = settings
                    .alert_frequency_minutes
                    .unwrap_or(i64::from(config.alert_frequency_minutes));
                let window = Duration::from_secs(u64::try_from(minutes).unwrap_or(0) * 60);
                Some((project, Frequency { count, window }))
            }
            None => None,
        };
        self.projects.insert(id, found.clone());
        Ok(found)
    }
}

/// Writes prepared envelopes inside `tx` and marks them done.
async fn write(
    tx: &mut Tx,
    state: &AppState,
    projects: &mut ProjectCache,
    batch: &[Prepared],
    owner: &str,
    now: Timestamp,
) -> bitwobbly_store::Result<()> {
    let public_url = state.config.public_url();
    let mut by_ws: HashMap<WorkspaceId, Vec<&Prepared>> = HashMap::new();
    for p in batch {
        by_ws.entry(p.envelope.workspace_id).or_default().push(p);
    }
    for (ws, group) in by_ws {
        let events: Vec<&GroupedEvent> = group.iter().flat_map(|p| &p.events).collect();
        if !events.is_empty() {
            let rows: Vec<NewEvent> = events.iter().map(|e| e.event.clone()).collect();
            let ids = tx.workspace(ws).insert_events(&rows).await?;
            // Per issue: the stored events, in order.
            let mut issues: HashMap<
                (ProjectId, &str),
                Vec<(usize, bitwobbly_store::types::EventRowId)>,
            > = HashMap::new();
            for (i, id) in ids.iter().enumerate() {
                if let Some(id) = id {
                    let e = events[i];
                    issues
                        .entry((e.event.project_id, e.fingerprint.as_str()))
                        .or_default()
                        .push((i, *id));
                }
            }
            let mut keys: Vec<_> = issues.keys().copied().collect();
            keys.sort_unstable();
            for key in keys {
                let stored = &issues[&key];
                let Some((project, frequency)) = projects.get(tx, state, ws, key.0).await? else {
                    continue;
                };
                let latest = stored
                    .iter()
                    .map(|(i, _)| &events[*i].event)
                    .max_by_key(|e| e.timestamp)
                    .unwrap_or(&events[stored[0].0].event);
                let first = stored
                    .iter()
                    .map(|(i, _)| events[*i].event.timestamp)
                    .min()
                    .unwrap_or(latest.timestamp);
                let outcome = tx
                    .workspace(ws)
                    .record_sighting(&IssueSighting {
                        project_id: key.0,
                        fingerprint: key.1.to_owned(),
                        title: latest.title.clone(),
                        culprit: latest.culprit.clone(),
                        level: latest.level.clone(),
                        seen_at: latest.timestamp,
                        first_seen: first,
                        events: i64::try_from(stored.len()).unwrap_or(i64::MAX),
                        new_users: 0,
                        release: latest.release.clone(),
                        environment: latest.environment.clone(),
                        grouping_version: Some(bitwobbly_envelope::GROUPING_VERSION.to_owned()),
                    })
                    .await?;
                let rows: Vec<_> = stored.iter().map(|(_, id)| *id).collect();
                tx.workspace(ws)
                    .assign_issue(outcome.issue.id, &rows)
                    .await?;
                let mut users: Vec<i64> = stored
                    .iter()
                    .filter_map(|(i, _)| events[*i].user_hash)
                    .collect();
                users.sort_unstable();
                users.dedup();
                let mut outcome = outcome;
                outcome.issue.user_count += tx
                    .workspace(ws)
                    .add_issue_users(outcome.issue.id, &users)
                    .await?;
                alerts::after_sighting(tx, ws, &project, &outcome, frequency, &public_url, now)
                    .await?;
            }
        }
        let transactions: Vec<NewTransaction> = group
            .iter()
            .flat_map(|p| p.transactions.iter().cloned())
            .collect();
        if !transactions.is_empty() {
            tx.workspace(ws).insert_transactions(&transactions).await?;
        }
        let mut sessions: HashMap<(ProjectId, &str, &str, Timestamp), SessionCounts> =
            HashMap::new();
        let updates: Vec<&sessions::SessionUpdate> =
            group.iter().flat_map(|p| &p.session_updates).collect();
        let counted = sessions::count(tx, ws, &updates, now).await?;
        for s in group.iter().flat_map(|p| &p.sessions).chain(&counted) {
            let e = sessions
                .entry((s.project_id, &s.release, &s.environment, s.bucket_start))
                .or_insert_with(|| SessionCounts {
                    started: 0,
                    exited: 0,
                    errored: 0,
                    crashed: 0,
                    abnormal: 0,
                    ..s.clone()
                });
            e.started += s.started;
            e.exited += s.exited;
            e.errored += s.errored;
            e.crashed += s.crashed;
            e.abnormal += s.abnormal;
        }
        for s in sessions.values() {
            tx.workspace(ws).add_session_counts(s).await?;
        }
        let users = sessions::distinct_users(group.iter().flat_map(|p| &p.session_users));
        if !users.is_empty() {
            tx.workspace(ws).add_session_users(&users).await?;
        }
        let reports: Vec<ClientReportCount> = group
            .iter()
            .flat_map(|p| p.client_reports.iter().cloned())
            .collect();
        if !reports.is_empty() {
            tx.workspace(ws).add_client_reports(&reports).await?;
        }
        for f in group.iter().flat_map(|p| &p.feedback) {
            tx.workspace(ws).insert_feedback(f).await?;
        }
        for a in group.iter().flat_map(|p| &p.attachments) {
            tx.workspace(ws).insert_attachment(a, now).await?;
        }
        for p in &group {
            for raw in &p.check_ins {
                let Ok(check_in) = SentryCheckIn::from_json(raw) else {
                    continue;
                };
                if let Err(e) = super::crons::record(
                    tx,
                    state,
                    ws,
                    p.envelope.manifest.project_id,
                    &check_in,
                    now,
                )
                .await?
                {
                    tracing::debug!(envelope_id = p.envelope.id.0, error = %e, "check-in skipped");
                }
            }
        }
    }
    let ids: Vec<EnvelopeId> = batch.iter().map(|p| p.envelope.id).collect();
    tx.global().complete_envelopes(&ids, owner).await?;
    Ok(())
}

/// The payload bytes of a stored event (the event item of its raw envelope), for event
/// detail and the raw view; `None` when the event, its envelope or its bytes are gone.
///
/// # Errors
///
/// A store error (a blob store failure other than a missing blob included).
pub async fn event_payload(
    state: &AppState,
    ws: WorkspaceId,
    project: ProjectId,
    event_id: &str,
) -> bitwobbly_store::Result<Option<Bytes>> {
    let Some(event) = state.store.workspace(ws).event(project, event_id).await? else {
        return Ok(None);
    };
    if let Some(key) = &event.event.blob_key {
        return match state.blobs.get(key).await {
            Ok(b) => Ok(Some(b)),
            Err(bitwobbly_store::StoreError::BlobNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let Some(r) = event.event.payload else {
        return Ok(None);
    };
    let body = match state
        .store
        .global()
        .envelope_body(r.envelope_id, state.blobs.as_ref())
        .await
    {
        Ok(Some(b)) => b,
        Ok(None) | Err(bitwobbly_store::StoreError::BlobNotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (Ok(start), Ok(len)) = (usize::try_from(r.offset), usize::try_from(r.len)) else {
        return Ok(None);
    };
    let end = start.checked_add(len).filter(|e| *e <= body.len());
    Ok(end.map(|end| body.slice(start..end)))
}

/// Rows deleted per statement by [`apply_retention`].
const RETENTION_CHUNK: u32 = 1000;

/// Deletes, for every project, events and attachments older than its event retention and
/// processed envelopes older than its envelope retention that no kept event points into, with
/// their blobs. Returns (events, envelopes) deleted. Run by housekeeping.
///
/// # Errors
///
/// A store error (blobs that cannot be deleted are logged and left behind).
pub async fn apply_retention(
    state: &AppState,
    now: Timestamp,
) -> bitwobbly_store::Result<(u64, u64)> {
    let config = &state.config.ingest.processing;
    let day = Duration::from_secs(86_400);
    let days = |d: Option<i64>, default: u32| {
        u32::try_from(d.unwrap_or(i64::from(default)).max(1)).unwrap_or(u32::MAX)
    };
    let (mut events, mut envelopes) = (0, 0);
    for p in state.store.global().project_retentions().await? {
        let before = now.minus(day * days(p.event_retention_days, config.event_retention_days));
        loop {
            let (n, keys) = state
                .store
                .global()
                .delete_expired_events(p.id, before, RETENTION_CHUNK)
                .await?;
            events += n;
            delete_blobs(state, &keys).await;
            if n < u64::from(RETENTION_CHUNK) && keys.len() < RETENTION_CHUNK as usize {
                break;
            }
        }
        sessions::prune(state, p.id, before, RETENTION_CHUNK).await?;
        let before =
            now.minus(day * days(p.envelope_retention_days, config.envelope_retention_days));
        loop {
            let (n, keys) = state
                .store
                .global()
                .delete_expired_envelopes(p.id, before, RETENTION_CHUNK)
                .await?;
            envelopes += n;
            delete_blobs(state, &keys).await;
            if n < u64::from(RETENTION_CHUNK) {
                break;
            }
        }
    }
    Ok((events, envelopes))
}

async fn delete_blobs(state: &AppState, keys: &[String]) {
    for key in keys.iter().filter(|k| !k.is_empty()) {
        if let Err(e) = state.blobs.delete(key).await {
            tracing::warn!(key, error = %error_chain(&e), "cannot delete a blob");
        }
    }
}
