//! Sentry-compatible ingest: projects, DSN keys, the envelope queue, events, issues,
//! transactions, session rollups, check-ins and attachment references.

use sqlx::Row as _;

use super::{
    Db, DbConn, DbRow, Lease, LinkTable, PG, WorkQueue, begin_write, derived, ensure_by_id,
    expect_one, fetch_by_id, json_err,
};
use crate::error::{Result, StoreError};
use crate::model::{
    Attachment, CheckIn, ClientReportCount, CronMonitor, DsnKey, Envelope, Event, Feedback, Issue,
    IssueOutcome, IssueSighting, NewAttachment, NewCheckIn, NewEnvelope, NewEvent, NewFeedback,
    NewTransaction, PayloadRef, Project, ProjectProcessing, ProjectRetention, SessionCounts,
    SessionUser, SessionUserCounts,
};
use crate::query::EventCursor;
use crate::types::*;

macro_rules! key_cols {
    () => {
        "id, workspace_id, project_id, public_key, label, status, rate_limit_per_minute, created_at"
    };
}
macro_rules! envelope_cols {
    () => {
        "id, workspace_id, project_id, event_id, received_at, size, blob_key, item_types, state, \
         attempts, last_error"
    };
}
macro_rules! event_cols {
    () => {
        "id, workspace_id, project_id, event_id, issue_id, level, timestamp, release, \
         environment, title, culprit, tags, blob_key, envelope_id, payload_offset, payload_len"
    };
}
macro_rules! issue_cols {
    () => {
        "id, workspace_id, project_id, fingerprint, title, culprit, level, status, first_seen, \
         last_seen, event_count, user_count, regressed, resolved_at"
    };
}
/// Counts a sighting on an existing issue (binds as in `record_sighting`). `$max` names the
/// dialect's two-argument maximum; the `regress` form also reopens the issue and matches only
/// a resolved one.
macro_rules! sighting_sql {
    ($max:literal) => {
        sighting_sql!($max, "", "")
    };
    ($max:literal, regress) => {
        sighting_sql!(
            $max,
            "status = 'unresolved', regressed = TRUE, resolved_at = NULL, ",
            " AND status = 'resolved'"
        )
    };
    ($max:literal, $set:literal, $only:literal) => {
        concat!(
            "UPDATE issues SET ",
            $set,
            "last_seen = ",
            $max,
            "(last_seen, $4), event_count = event_count + $8, user_count = user_count + $5, \
             level = $6, title = $7, last_release = COALESCE($9, last_release), \
             environment = COALESCE($10, environment), \
             grouping_version = COALESCE($11, grouping_version) \
             WHERE workspace_id = $1 AND project_id = $2 AND fingerprint = $3",
            $only,
            " RETURNING ",
            issue_cols!()
        )
    };
}
macro_rules! project_cols {
    () => {
        "id, workspace_id, slug, name, platform, created_at"
    };
}

async fn project_owned(c: &mut DbConn, ws: WorkspaceId, project: ProjectId) -> Result<()> {
    ensure_by_id(c, select_by_id!("projects", "id"), ws, project, "project").await
}

/// Which channels notify for a project's new and regressed issues.
const PROJECT_CHANNELS: LinkTable = link_table! {
    table: "project_channels",
    owner: "project_id" in "projects" as "project",
    target: "channel_id" in "notification_channels" as "channel",
};

pub(crate) async fn create_project(
    c: &mut DbConn,
    ws: WorkspaceId,
    slug: &str,
    name: &str,
    platform: Option<&str>,
    now: Timestamp,
) -> Result<Project> {
    Ok(sqlx::query_as::<Db, Project>(concat!(
        "INSERT INTO projects (workspace_id, slug, name, platform, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING ",
        project_cols!()
    ))
    .bind(ws)
    .bind(slug)
    .bind(name)
    .bind(platform)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn projects(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<Project>> {
    Ok(sqlx::query_as::<Db, Project>(concat!(
        "SELECT ",
        project_cols!(),
        " FROM projects WHERE workspace_id = $1 ORDER BY id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn project(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ProjectId,
) -> Result<Option<Project>> {
    fetch_by_id(
        c,
        select_by_id!("projects", project_cols!()),
        ws,
        id,
        derived,
    )
    .await
}

pub(crate) async fn set_project_channels(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    channels: &[ChannelId],
) -> Result<()> {
    PROJECT_CHANNELS.replace(c, ws, project, channels).await
}

pub(crate) async fn project_channels(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
) -> Result<Vec<ChannelId>> {
    PROJECT_CHANNELS.list(c, ws, project).await
}

pub(crate) async fn create_dsn_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    public_key: &str,
    label: &str,
    rate_limit_per_minute: Option<i64>,
    now: Timestamp,
) -> Result<DsnKey> {
    sqlx::query_as::<Db, DsnKey>(concat!(
        "INSERT INTO dsn_keys (workspace_id, project_id, public_key, label, status, \
         rate_limit_per_minute, created_at) \
         SELECT workspace_id, id, $3, $4, 'active', $5, $6 FROM projects \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        key_cols!()
    ))
    .bind(ws)
    .bind(project)
    .bind(public_key)
    .bind(label)
    .bind(rate_limit_per_minute)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("project"))
}

pub(crate) async fn dsn_keys(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
) -> Result<Vec<DsnKey>> {
    Ok(sqlx::query_as::<Db, DsnKey>(concat!(
        "SELECT ",
        key_cols!(),
        " FROM dsn_keys WHERE workspace_id = $1 AND project_id = $2 ORDER BY id"
    ))
    .bind(ws)
    .bind(project)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn update_dsn_key(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: DsnKeyId,
    status: KeyStatus,
    rate_limit_per_minute: Option<i64>,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE dsn_keys SET status = $3, rate_limit_per_minute = $4 \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(status)
    .bind(rate_limit_per_minute)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("dsn key"))
}

pub(crate) async fn dsn_key_by_public_key(
    c: &mut DbConn,
    public_key: &str,
) -> Result<Option<DsnKey>> {
    Ok(sqlx::query_as::<Db, DsnKey>(concat!(
        "SELECT ",
        key_cols!(),
        " FROM dsn_keys WHERE public_key = $1"
    ))
    .bind(public_key)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn active_dsn_keys(c: &mut DbConn) -> Result<Vec<DsnKey>> {
    Ok(sqlx::query_as::<Db, DsnKey>(concat!(
        "SELECT ",
        key_cols!(),
        " FROM dsn_keys WHERE status = 'active' ORDER BY id"
    ))
    .fetch_all(&mut *c)
    .await?)
}

fn envelope_from_row(r: &DbRow) -> Result<Envelope> {
    let types: String = r.try_get("item_types")?;
    Ok(Envelope {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        manifest: NewEnvelope {
            project_id: r.try_get("project_id")?,
            event_id: r.try_get("event_id")?,
            received_at: r.try_get("received_at")?,
            size: r.try_get("size")?,
            blob_key: r.try_get("blob_key")?,
            item_types: types
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        },
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
    })
}

pub(crate) async fn record_envelope(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewEnvelope,
) -> Result<Envelope> {
    if new.item_types.iter().any(|t| t.contains(',')) {
        return Err(StoreError::invalid(
            "item_types",
            "an item type contains a comma",
        ));
    }
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO envelopes (workspace_id, project_id, event_id, received_at, size, blob_key, \
         item_types, state, attempts) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, 'pending', 0 FROM projects \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        envelope_cols!()
    ))
    .bind(ws)
    .bind(new.project_id)
    .bind(&new.event_id)
    .bind(new.received_at)
    .bind(new.size)
    .bind(&new.blob_key)
    .bind(new.item_types.join(","))
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("project"))?;
    envelope_from_row(&row)
}

pub(crate) async fn envelope(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: EnvelopeId,
) -> Result<Option<Envelope>> {
    fetch_by_id(
        c,
        select_by_id!("envelopes", envelope_cols!()),
        ws,
        id,
        envelope_from_row,
    )
    .await
}

/// The processing queue: pending envelopes, oldest first; each claim counts as an attempt.
const ENVELOPES: WorkQueue = work_queue! {
    table: "envelopes",
    key: "id",
    due: "state = 'pending'",
    order: "received_at, id",
    on_claim: ", attempts = attempts + 1",
    returning: envelope_cols!(),
};

pub(crate) async fn claim_envelopes(c: &mut DbConn, lease: Lease<'_>) -> Result<Vec<Envelope>> {
    ENVELOPES
        .claim(c, lease, envelope_from_row, |e| {
            (e.manifest.received_at, e.id)
        })
        .await
}

/// Ends a claimed envelope's processing: `done`, `failed` (for good), or back to `pending`.
pub(crate) async fn finish_envelope(
    c: &mut DbConn,
    id: EnvelopeId,
    node: &str,
    state: EnvelopeState,
    error: Option<&str>,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE envelopes SET state = $3, last_error = $4, lease_owner = NULL, \
         lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(id)
    .bind(node)
    .bind(state)
    .bind(error)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::lease_lost("envelope", id.0, node))
}

/// Ids per statement of the batched envelope reads and updates (well under SQLite's
/// variable limit).
const ENVELOPE_IDS_PER_STATEMENT: usize = 1000;

/// Marks claimed envelopes done in as few statements as possible.
pub(crate) async fn complete_envelopes(
    c: &mut DbConn,
    ids: &[EnvelopeId],
    node: &str,
) -> Result<()> {
    for chunk in ids.chunks(ENVELOPE_IDS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "UPDATE envelopes SET state = 'done', last_error = NULL, lease_owner = NULL, \
             lease_expires_at = NULL WHERE state = 'pending' AND lease_owner = ",
        );
        q.push_bind(node).push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        let done = q.build().persistent(false).execute(&mut *c).await?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::lease_lost("envelope", chunk[0].0, node));
        }
    }
    Ok(())
}

/// The stored bodies of envelopes: (id, blob key, raw size, inline zstd frame).
pub(crate) async fn stored_bodies(
    c: &mut DbConn,
    ids: &[EnvelopeId],
) -> Result<Vec<(EnvelopeId, String, i64, Option<Vec<u8>>)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ENVELOPE_IDS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "SELECT id, blob_key, size, body FROM envelopes WHERE id IN (",
        );
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        for r in q.build().persistent(false).fetch_all(&mut *c).await? {
            out.push((
                r.try_get("id")?,
                r.try_get("blob_key")?,
                r.try_get("size")?,
                r.try_get("body")?,
            ));
        }
    }
    Ok(out)
}

/// Deletes up to `limit` processed (done or failed) manifests received before `before` and
/// returns their blob keys, for the caller to delete from blob storage.
pub(crate) async fn delete_processed_envelopes(
    c: &mut DbConn,
    before: Timestamp,
    limit: u32,
) -> Result<Vec<String>> {
    let mut tx = begin_write(c).await?;
    let rows: Vec<(EnvelopeId, String)> = sqlx::query_as::<Db, (EnvelopeId, String)>(
        "DELETE FROM envelopes WHERE id IN (SELECT id FROM envelopes \
           WHERE state <> 'pending' AND received_at < $1 ORDER BY id LIMIT $2) \
         RETURNING id, blob_key",
    )
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(_, k)| k).collect())
}

fn event_from_row(r: &DbRow) -> Result<Event> {
    let tags: String = r.try_get("tags")?;
    Ok(Event {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        event: NewEvent {
            project_id: r.try_get("project_id")?,
            event_id: r.try_get("event_id")?,
            issue_id: r.try_get("issue_id")?,
            level: r.try_get("level")?,
            timestamp: r.try_get("timestamp")?,
            release: r.try_get("release")?,
            environment: r.try_get("environment")?,
            title: r.try_get("title")?,
            culprit: r.try_get("culprit")?,
            tags: serde_json::from_str(&tags).map_err(json_err("event tags"))?,
            blob_key: r.try_get("blob_key")?,
            payload: match (
                r.try_get::<Option<EnvelopeId>, _>("envelope_id")?,
                r.try_get::<Option<i64>, _>("payload_offset")?,
                r.try_get::<Option<i64>, _>("payload_len")?,
            ) {
                (Some(envelope_id), Some(offset), Some(len)) => Some(PayloadRef {
                    envelope_id,
                    offset,
                    len,
                }),
                _ => None,
            },
        },
    })
}

/// Stores an event; `None` when the project already has an event with this id.
pub(crate) async fn insert_event(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewEvent,
) -> Result<Option<Event>> {
    let mut tx = begin_write(c).await?;
    project_owned(&mut tx, ws, new.project_id).await?;
    if let Some(issue) = new.issue_id {
        let found: Option<i64> = sqlx::query_scalar::<Db, i64>(
            "SELECT id FROM issues WHERE workspace_id = $1 AND id = $2 AND project_id = $3",
        )
        .bind(ws)
        .bind(issue)
        .bind(new.project_id)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(StoreError::not_found("issue"));
        }
    }
    let tags = serde_json::to_string(&new.tags).map_err(json_err("event tags"))?;
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO events (workspace_id, project_id, event_id, issue_id, level, timestamp, \
         release, environment, title, culprit, tags, blob_key, envelope_id, payload_offset, \
         payload_len) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (project_id, event_id) DO NOTHING RETURNING ",
        event_cols!()
    ))
    .bind(ws)
    .bind(new.project_id)
    .bind(&new.event_id)
    .bind(new.issue_id)
    .bind(&new.level)
    .bind(new.timestamp)
    .bind(&new.release)
    .bind(&new.environment)
    .bind(&new.title)
    .bind(&new.culprit)
    .bind(tags)
    .bind(&new.blob_key)
    .bind(new.payload.map(|p| p.envelope_id))
    .bind(new.payload.map(|p| p.offset))
    .bind(new.payload.map(|p| p.len))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.as_ref().map(event_from_row).transpose()
}

pub(crate) async fn event(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    event_id: &str,
) -> Result<Option<Event>> {
    let row = sqlx::query::<Db>(concat!(
        "SELECT ",
        event_cols!(),
        " FROM events WHERE workspace_id = $1 AND project_id = $2 AND event_id = $3"
    ))
    .bind(ws)
    .bind(project)
    .bind(event_id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(event_from_row).transpose()
}

/// An issue's events, newest first, starting after `after` (a previous page's last event).
pub(crate) async fn events_for_issue(
    c: &mut DbConn,
    ws: WorkspaceId,
    issue: IssueId,
    after: Option<EventCursor>,
    limit: u32,
) -> Result<Vec<Event>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        event_cols!(),
        " FROM events WHERE workspace_id = $1 AND issue_id = $2 \
         AND ($4 IS NULL OR timestamp < $4 OR (timestamp = $4 AND id < $5)) \
         ORDER BY timestamp DESC, id DESC LIMIT $3"
    ))
    .bind(ws)
    .bind(issue)
    .bind(i64::from(limit.max(1)))
    .bind(after.map(|a| a.timestamp))
    .bind(after.map(|a| a.id))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(event_from_row).collect()
}

/// Records one event's sighting on its issue: creates it, counts it, or reopens a resolved one
/// as a regression. Safe under concurrent workers (the row lock orders them).
pub(crate) async fn record_sighting(
    c: &mut DbConn,
    ws: WorkspaceId,
    s: &IssueSighting,
) -> Result<IssueOutcome> {
    let mut tx = begin_write(c).await?;
    project_owned(&mut tx, ws, s.project_id).await?;
    let created = sqlx::query_as::<Db, Issue>(concat!(
        "INSERT INTO issues (workspace_id, project_id, fingerprint, title, culprit, level, status, \
         first_seen, last_seen, event_count, user_count, regressed, first_release, last_release, \
         environment, grouping_version) \
         VALUES ($1, $2, $3, $4, $5, $6, 'unresolved', $9, $7, $10, $8, FALSE, $11, $11, $12, \
         $13) \
         ON CONFLICT (project_id, fingerprint) DO NOTHING RETURNING ",
        issue_cols!()
    ))
    .bind(ws)
    .bind(s.project_id)
    .bind(&s.fingerprint)
    .bind(&s.title)
    .bind(&s.culprit)
    .bind(&s.level)
    .bind(s.seen_at)
    .bind(s.new_users)
    .bind(s.first_seen.min(s.seen_at))
    .bind(s.events.max(1))
    .bind(&s.release)
    .bind(&s.environment)
    .bind(&s.grouping_version)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(issue) = created {
        tx.commit().await?;
        return Ok(IssueOutcome {
            issue,
            created: true,
            regressed: false,
        });
    }
    // First the regression case (only a resolved issue matches), then the plain count.
    let (regress_sql, count_sql) = if PG {
        (
            sighting_sql!("GREATEST", regress),
            sighting_sql!("GREATEST"),
        )
    } else {
        (sighting_sql!("MAX", regress), sighting_sql!("MAX"))
    };
    let mut regressed = true;
    let mut issue = None;
    for sql in [regress_sql, count_sql] {
        issue = sqlx::query_as::<Db, Issue>(sql)
            .bind(ws)
            .bind(s.project_id)
            .bind(&s.fingerprint)
            .bind(s.seen_at)
            .bind(s.new_users)
            .bind(&s.level)
            .bind(&s.title)
            .bind(s.events.max(1))
            .bind(&s.release)
            .bind(&s.environment)
            .bind(&s.grouping_version)
            .fetch_optional(&mut *tx)
            .await?;
        if issue.is_some() {
            break;
        }
        regressed = false;
    }
    let issue = issue.ok_or_else(|| StoreError::not_found("issue"))?;
    tx.commit().await?;
    Ok(IssueOutcome {
        issue,
        created: false,
        regressed,
    })
}

pub(crate) async fn issue(c: &mut DbConn, ws: WorkspaceId, id: IssueId) -> Result<Option<Issue>> {
    fetch_by_id(c, select_by_id!("issues", issue_cols!()), ws, id, derived).await
}

/// A project's issues, most recently seen first; `status` filters.
pub(crate) async fn issues(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    status: Option<IssueStatus>,
    limit: u32,
) -> Result<Vec<Issue>> {
    Ok(sqlx::query_as::<Db, Issue>(concat!(
        "SELECT ",
        issue_cols!(),
        " FROM issues WHERE workspace_id = $1 AND project_id = $2 \
         AND ($3 IS NULL OR status = $3) ORDER BY last_seen DESC, id DESC LIMIT $4"
    ))
    .bind(ws)
    .bind(project)
    .bind(status)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn set_issue_status(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: IssueId,
    status: IssueStatus,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE issues SET status = $3, resolved_at = CASE WHEN $3 = 'resolved' THEN $4 ELSE NULL END, \
         regressed = CASE WHEN $3 = 'resolved' THEN FALSE ELSE regressed END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("issue"))
}

pub(crate) async fn insert_transactions(
    c: &mut DbConn,
    ws: WorkspaceId,
    batch: &[NewTransaction],
) -> Result<u64> {
    let mut tx = begin_write(c).await?;
    let mut projects: Vec<ProjectId> = batch.iter().map(|t| t.project_id).collect();
    projects.sort_unstable();
    projects.dedup();
    for p in projects {
        project_owned(&mut tx, ws, p).await?;
    }
    let mut n = 0;
    for chunk in batch.chunks(500) {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO transactions (workspace_id, project_id, event_id, name, op, duration_us, \
             status, timestamp, release, environment, trace_id) ",
        );
        q.push_values(chunk, |mut b, t| {
            b.push_bind(ws)
                .push_bind(t.project_id)
                .push_bind(t.event_id.clone())
                .push_bind(t.name.clone())
                .push_bind(t.op.clone())
                .push_bind(t.duration_us)
                .push_bind(t.status.clone())
                .push_bind(t.timestamp)
                .push_bind(t.release.clone())
                .push_bind(t.environment.clone())
                .push_bind(t.trace_id.clone());
        });
        n += q.build().execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    Ok(n)
}

/// A project's transactions in `[from, to)`, oldest first.
pub(crate) async fn transactions(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    from: Timestamp,
    to: Timestamp,
    limit: u32,
) -> Result<Vec<NewTransaction>> {
    let rows = sqlx::query::<Db>(
        "SELECT project_id, event_id, name, op, duration_us, status, timestamp, release, \
         environment, trace_id FROM transactions \
         WHERE workspace_id = $1 AND project_id = $2 AND timestamp >= $3 AND timestamp < $4 \
         ORDER BY timestamp, id LIMIT $5",
    )
    .bind(ws)
    .bind(project)
    .bind(from)
    .bind(to)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NewTransaction {
                project_id: r.try_get("project_id")?,
                event_id: r.try_get("event_id")?,
                name: r.try_get("name")?,
                op: r.try_get("op")?,
                duration_us: r.try_get("duration_us")?,
                status: r.try_get("status")?,
                timestamp: r.try_get("timestamp")?,
                release: r.try_get("release")?,
                environment: r.try_get("environment")?,
                trace_id: r.try_get("trace_id")?,
            })
        })
        .collect()
}

/// Adds session counts to their bucket.
pub(crate) async fn add_session_counts(
    c: &mut DbConn,
    ws: WorkspaceId,
    s: &SessionCounts,
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    project_owned(&mut tx, ws, s.project_id).await?;
    sqlx::query::<Db>(
        "INSERT INTO session_rollups (workspace_id, project_id, release, environment, \
         bucket_start, started, exited, errored, crashed, abnormal) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (project_id, release, environment, bucket_start) DO UPDATE SET \
         started = session_rollups.started + excluded.started, \
         exited = session_rollups.exited + excluded.exited, \
         errored = session_rollups.errored + excluded.errored, \
         crashed = session_rollups.crashed + excluded.crashed, \
         abnormal = session_rollups.abnormal + excluded.abnormal",
    )
    .bind(ws)
    .bind(s.project_id)
    .bind(&s.release)
    .bind(&s.environment)
    .bind(s.bucket_start)
    .bind(s.started)
    .bind(s.exited)
    .bind(s.errored)
    .bind(s.crashed)
    .bind(s.abnormal)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn session_counts(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<SessionCounts>> {
    Ok(sqlx::query_as::<Db, SessionCounts>(
        "SELECT project_id, release, environment, bucket_start, started, exited, errored, \
         crashed, abnormal FROM session_rollups WHERE workspace_id = $1 AND project_id = $2 \
         AND bucket_start >= $3 AND bucket_start < $4 \
         ORDER BY bucket_start, release, environment",
    )
    .bind(ws)
    .bind(project)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) fn check_in_from_row(r: &DbRow) -> Result<CheckIn> {
    Ok(CheckIn {
        id: r.try_get("id")?,
        check_in: NewCheckIn {
            project_id: r.try_get("project_id")?,
            check_in_id: r.try_get("check_in_id")?,
            monitor_slug: r.try_get("monitor_slug")?,
            status: r.try_get("status")?,
            duration_ms: r.try_get("duration_ms")?,
            environment: r.try_get("environment")?,
            received_at: r.try_get("received_at")?,
            release: r.try_get("release")?,
            monitor_id: r.try_get("monitor_id")?,
        },
    })
}

pub(crate) async fn insert_check_in(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewCheckIn,
) -> Result<CheckIn> {
    let row = sqlx::query::<Db>(
        "INSERT INTO check_ins (workspace_id, project_id, check_in_id, monitor_slug, status, \
         duration_ms, environment, received_at, release, monitor_id) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, $8, $9, $10 FROM projects \
         WHERE workspace_id = $1 AND id = $2 \
         RETURNING id, project_id, check_in_id, monitor_slug, status, duration_ms, environment, \
           received_at, release, monitor_id",
    )
    .bind(ws)
    .bind(new.project_id)
    .bind(&new.check_in_id)
    .bind(&new.monitor_slug)
    .bind(new.status)
    .bind(new.duration_ms)
    .bind(&new.environment)
    .bind(new.received_at)
    .bind(&new.release)
    .bind(new.monitor_id)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("project"))?;
    check_in_from_row(&row)
}

pub(crate) async fn check_ins(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    monitor_slug: &str,
    limit: u32,
) -> Result<Vec<CheckIn>> {
    let rows = sqlx::query::<Db>(
        "SELECT id, project_id, check_in_id, monitor_slug, status, duration_ms, environment, \
         received_at, release, monitor_id FROM check_ins WHERE workspace_id = $1 AND project_id = $2 \
         AND monitor_slug = $3 ORDER BY received_at DESC, id DESC LIMIT $4",
    )
    .bind(ws)
    .bind(project)
    .bind(monitor_slug)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(check_in_from_row).collect()
}

fn attachment_from_row(r: &DbRow) -> Result<Attachment> {
    Ok(Attachment {
        id: r.try_get("id")?,
        attachment: NewAttachment {
            project_id: r.try_get("project_id")?,
            event_id: r.try_get("event_id")?,
            name: r.try_get("name")?,
            content_type: r.try_get("content_type")?,
            size: r.try_get("size")?,
            blob_key: r.try_get("blob_key")?,
            attachment_type: r.try_get("attachment_type")?,
        },
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn insert_attachment(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewAttachment,
    now: Timestamp,
) -> Result<Attachment> {
    let row = sqlx::query::<Db>(
        "INSERT INTO attachments (workspace_id, project_id, event_id, name, content_type, size, \
         blob_key, created_at, attachment_type) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, $8, $9 FROM projects \
         WHERE workspace_id = $1 AND id = $2 \
         RETURNING id, project_id, event_id, name, content_type, size, blob_key, created_at, \
           attachment_type",
    )
    .bind(ws)
    .bind(new.project_id)
    .bind(&new.event_id)
    .bind(&new.name)
    .bind(&new.content_type)
    .bind(new.size)
    .bind(&new.blob_key)
    .bind(now)
    .bind(&new.attachment_type)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("project"))?;
    attachment_from_row(&row)
}

pub(crate) async fn attachments(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    event_id: &str,
) -> Result<Vec<Attachment>> {
    let rows = sqlx::query::<Db>(
        "SELECT id, project_id, event_id, name, content_type, size, blob_key, created_at, \
         attachment_type FROM attachments WHERE workspace_id = $1 AND project_id = $2 AND event_id = $3 \
         ORDER BY id",
    )
    .bind(ws)
    .bind(project)
    .bind(event_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(attachment_from_row).collect()
}

/// Stores events in as few statements as possible (inside the caller's transaction) and
/// returns the row id of each one stored, in input order; `None` for an event id the project
/// already has (a duplicate is not counted again).
pub(crate) async fn insert_events(
    c: &mut DbConn,
    ws: WorkspaceId,
    batch: &[NewEvent],
) -> Result<Vec<Option<EventRowId>>> {
    let mut tx = begin_write(c).await?;
    let mut projects: Vec<ProjectId> = batch.iter().map(|e| e.project_id).collect();
    projects.sort_unstable();
    projects.dedup();
    for p in projects {
        project_owned(&mut tx, ws, p).await?;
    }
    let mut stored = std::collections::HashMap::with_capacity(batch.len());
    for chunk in batch.chunks(200) {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO events (workspace_id, project_id, event_id, issue_id, level, timestamp, \
             release, environment, title, culprit, tags, blob_key, envelope_id, payload_offset, \
             payload_len) ",
        );
        let mut tags = Vec::with_capacity(chunk.len());
        for e in chunk {
            tags.push(serde_json::to_string(&e.tags).map_err(json_err("event tags"))?);
        }
        q.push_values(chunk.iter().zip(tags), |mut b, (e, tags)| {
            b.push_bind(ws)
                .push_bind(e.project_id)
                .push_bind(e.event_id.clone())
                .push_bind(e.issue_id)
                .push_bind(e.level.clone())
                .push_bind(e.timestamp)
                .push_bind(e.release.clone())
                .push_bind(e.environment.clone())
                .push_bind(e.title.clone())
                .push_bind(e.culprit.clone())
                .push_bind(tags)
                .push_bind(e.blob_key.clone())
                .push_bind(e.payload.map(|p| p.envelope_id))
                .push_bind(e.payload.map(|p| p.offset))
                .push_bind(e.payload.map(|p| p.len));
        });
        q.push(" ON CONFLICT (project_id, event_id) DO NOTHING RETURNING id, project_id, event_id");
        let rows: Vec<(EventRowId, ProjectId, String)> =
            q.build_query_as().fetch_all(&mut *tx).await?;
        for (id, project, event_id) in rows {
            stored.insert((project, event_id), id);
        }
    }
    tx.commit().await?;
    // An id repeated inside the batch is stored once: only its first occurrence gets the row.
    Ok(batch
        .iter()
        .map(|e| stored.remove(&(e.project_id, e.event_id.clone())))
        .collect())
}

/// Points stored events at their issue.
pub(crate) async fn assign_issue(
    c: &mut DbConn,
    ws: WorkspaceId,
    issue: IssueId,
    events: &[EventRowId],
) -> Result<()> {
    for chunk in events.chunks(500) {
        let mut q = sqlx::QueryBuilder::<Db>::new("UPDATE events SET issue_id = ");
        q.push_bind(issue)
            .push(" WHERE workspace_id = ")
            .push_bind(ws)
            .push(" AND project_id = (SELECT project_id FROM issues WHERE id = ")
            .push_bind(issue)
            .push(" AND workspace_id = ")
            .push_bind(ws)
            .push(") AND id IN (");
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *c).await?;
    }
    Ok(())
}

/// Adds distinct users to an issue; returns how many were new and counts them on the issue.
pub(crate) async fn add_issue_users(
    c: &mut DbConn,
    ws: WorkspaceId,
    issue: IssueId,
    users: &[i64],
) -> Result<i64> {
    if users.is_empty() {
        return Ok(0);
    }
    let mut tx = begin_write(c).await?;
    ensure_by_id(&mut tx, select_by_id!("issues", "id"), ws, issue, "issue").await?;
    let mut added = 0u64;
    for chunk in users.chunks(500) {
        let mut q = sqlx::QueryBuilder::<Db>::new("INSERT INTO issue_users (issue_id, user_hash) ");
        q.push_values(chunk, |mut b, u| {
            b.push_bind(issue).push_bind(*u);
        });
        q.push(" ON CONFLICT DO NOTHING");
        added += q.build().execute(&mut *tx).await?.rows_affected();
    }
    let added = i64::try_from(added).unwrap_or(i64::MAX);
    if added > 0 {
        sqlx::query::<Db>(
            "UPDATE issues SET user_count = user_count + $3 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(issue)
        .bind(added)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(added)
}

/// How many events of an issue happened at or after `since`.
pub(crate) async fn issue_events_since(
    c: &mut DbConn,
    ws: WorkspaceId,
    issue: IssueId,
    since: Timestamp,
) -> Result<i64> {
    Ok(sqlx::query_scalar::<Db, i64>(
        "SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND issue_id = $2 \
         AND timestamp >= $3",
    )
    .bind(ws)
    .bind(issue)
    .bind(since)
    .fetch_one(&mut *c)
    .await?)
}

/// Notes a frequency alert on an issue unless one was noted after `quiet_since`; `true` when
/// this call noted it (and the caller should alert).
pub(crate) async fn claim_frequency_alert(
    c: &mut DbConn,
    ws: WorkspaceId,
    issue: IssueId,
    now: Timestamp,
    quiet_since: Timestamp,
) -> Result<bool> {
    let done = sqlx::query::<Db>(
        "UPDATE issues SET frequency_alerted_at = $3 WHERE workspace_id = $1 AND id = $2 \
         AND (frequency_alerted_at IS NULL OR frequency_alerted_at < $4)",
    )
    .bind(ws)
    .bind(issue)
    .bind(now)
    .bind(quiet_since)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn project_processing(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
) -> Result<Option<ProjectProcessing>> {
    fetch_by_id(
        c,
        select_by_id!(
            "projects",
            "event_retention_days, envelope_retention_days, alert_frequency_count, \
             alert_frequency_minutes"
        ),
        ws,
        project,
        derived,
    )
    .await
}

pub(crate) async fn set_project_processing(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    p: &ProjectProcessing,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE projects SET event_retention_days = $3, envelope_retention_days = $4, \
         alert_frequency_count = $5, alert_frequency_minutes = $6 \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(project)
    .bind(p.event_retention_days)
    .bind(p.envelope_retention_days)
    .bind(p.alert_frequency_count)
    .bind(p.alert_frequency_minutes)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("project"))
}

/// Adds distinct session users to their buckets, keeping each one's worst status.
pub(crate) async fn add_session_users(
    c: &mut DbConn,
    ws: WorkspaceId,
    batch: &[SessionUser],
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    let mut projects: Vec<ProjectId> = batch.iter().map(|u| u.project_id).collect();
    projects.sort_unstable();
    projects.dedup();
    for p in projects {
        project_owned(&mut tx, ws, p).await?;
    }
    let greatest = if PG { "GREATEST" } else { "MAX" };
    for chunk in batch.chunks(300) {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO session_users (workspace_id, project_id, release, environment, \
             bucket_start, user_hash, worst) ",
        );
        q.push_values(chunk, |mut b, u| {
            b.push_bind(ws)
                .push_bind(u.project_id)
                .push_bind(u.release.clone())
                .push_bind(u.environment.clone())
                .push_bind(u.bucket_start)
                .push_bind(u.user_hash)
                .push_bind(u.worst);
        });
        q.push(
            " ON CONFLICT (project_id, release, environment, bucket_start, user_hash) \
             DO UPDATE SET worst = ",
        );
        q.push(greatest);
        q.push("(session_users.worst, excluded.worst)");
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn session_user_counts(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<SessionUserCounts>> {
    Ok(sqlx::query_as::<Db, SessionUserCounts>(
        "SELECT release, environment, COUNT(DISTINCT user_hash) AS users, \
         COUNT(DISTINCT CASE WHEN worst = 3 THEN user_hash END) AS crashed_users \
         FROM session_users WHERE workspace_id = $1 AND project_id = $2 \
         AND bucket_start >= $3 AND bucket_start < $4 \
         GROUP BY release, environment ORDER BY release, environment",
    )
    .bind(ws)
    .bind(project)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?)
}

/// Adds client-report counts to their hour, category and reason.
pub(crate) async fn add_client_reports(
    c: &mut DbConn,
    ws: WorkspaceId,
    batch: &[ClientReportCount],
) -> Result<()> {
    let mut tx = begin_write(c).await?;
    for r in batch {
        project_owned(&mut tx, ws, r.project_id).await?;
        sqlx::query::<Db>(
            "INSERT INTO client_reports (workspace_id, project_id, bucket_start, category, \
             reason, quantity) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (project_id, bucket_start, category, reason) DO UPDATE SET \
             quantity = client_reports.quantity + excluded.quantity",
        )
        .bind(ws)
        .bind(r.project_id)
        .bind(r.bucket_start)
        .bind(&r.category)
        .bind(&r.reason)
        .bind(r.quantity)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn client_reports(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<ClientReportCount>> {
    Ok(sqlx::query_as::<Db, ClientReportCount>(
        "SELECT project_id, bucket_start, category, reason, quantity FROM client_reports \
         WHERE workspace_id = $1 AND project_id = $2 AND bucket_start >= $3 \
         AND bucket_start < $4 ORDER BY bucket_start, category, reason",
    )
    .bind(ws)
    .bind(project)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?)
}

macro_rules! feedback_cols {
    () => {
        "id, project_id, kind, event_id, associated_event_id, name, email, message, url, \
         received_at"
    };
}

fn feedback_from_row(r: &DbRow) -> Result<Feedback> {
    Ok(Feedback {
        id: r.try_get("id")?,
        feedback: NewFeedback {
            project_id: r.try_get("project_id")?,
            kind: r.try_get("kind")?,
            event_id: r.try_get("event_id")?,
            associated_event_id: r.try_get("associated_event_id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            message: r.try_get("message")?,
            url: r.try_get("url")?,
            received_at: r.try_get("received_at")?,
        },
    })
}

pub(crate) async fn insert_feedback(
    c: &mut DbConn,
    ws: WorkspaceId,
    new: &NewFeedback,
) -> Result<Feedback> {
    let row = sqlx::query::<Db>(concat!(
        "INSERT INTO feedback (workspace_id, project_id, kind, event_id, associated_event_id, \
         name, email, message, url, received_at) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, $8, $9, $10 FROM projects \
         WHERE workspace_id = $1 AND id = $2 RETURNING ",
        feedback_cols!()
    ))
    .bind(ws)
    .bind(new.project_id)
    .bind(&new.kind)
    .bind(&new.event_id)
    .bind(&new.associated_event_id)
    .bind(&new.name)
    .bind(&new.email)
    .bind(&new.message)
    .bind(&new.url)
    .bind(new.received_at)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("project"))?;
    feedback_from_row(&row)
}

/// A project's feedback, newest first; `event_id` keeps only feedback about that event.
pub(crate) async fn feedback(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    event_id: Option<&str>,
    limit: u32,
) -> Result<Vec<Feedback>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        feedback_cols!(),
        " FROM feedback WHERE workspace_id = $1 AND project_id = $2 \
         AND ($3 IS NULL OR associated_event_id = $3) \
         ORDER BY received_at DESC, id DESC LIMIT $4"
    ))
    .bind(ws)
    .bind(project)
    .bind(event_id)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(feedback_from_row).collect()
}

macro_rules! cron_cols {
    () => {
        "workspace_id, project_id, slug, monitor_id, config, created_at, updated_at"
    };
}

pub(crate) async fn cron_monitor(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    slug: &str,
) -> Result<Option<CronMonitor>> {
    Ok(sqlx::query_as::<Db, CronMonitor>(concat!(
        "SELECT ",
        cron_cols!(),
        " FROM cron_monitors WHERE workspace_id = $1 AND project_id = $2 AND slug = $3"
    ))
    .bind(ws)
    .bind(project)
    .bind(slug)
    .fetch_optional(&mut *c)
    .await?)
}

/// Links a project's monitor slug to a monitor of the workspace (or updates the link).
pub(crate) async fn upsert_cron_monitor(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    slug: &str,
    monitor: MonitorId,
    config: Option<&str>,
    now: Timestamp,
) -> Result<CronMonitor> {
    let mut tx = begin_write(c).await?;
    project_owned(&mut tx, ws, project).await?;
    ensure_by_id(
        &mut tx,
        select_by_id!("monitors", "id"),
        ws,
        monitor,
        "monitor",
    )
    .await?;
    let row = sqlx::query_as::<Db, CronMonitor>(concat!(
        "INSERT INTO cron_monitors (workspace_id, project_id, slug, monitor_id, config, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (project_id, slug) DO UPDATE SET monitor_id = excluded.monitor_id, \
         config = excluded.config, updated_at = excluded.updated_at RETURNING ",
        cron_cols!()
    ))
    .bind(ws)
    .bind(project)
    .bind(slug)
    .bind(monitor)
    .bind(config)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub(crate) async fn project_retentions(c: &mut DbConn) -> Result<Vec<ProjectRetention>> {
    Ok(sqlx::query_as::<Db, ProjectRetention>(
        "SELECT workspace_id, id, event_retention_days, envelope_retention_days FROM projects \
         ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await?)
}

/// Deletes up to `limit` of a project's events (with their issue users left as they are)
/// that happened before `before`, and its attachments stored before `before`; returns the
/// events deleted and the attachments' blob keys for the caller to delete.
pub(crate) async fn delete_expired_events(
    c: &mut DbConn,
    project: ProjectId,
    before: Timestamp,
    limit: u32,
) -> Result<(u64, Vec<String>)> {
    let mut tx = begin_write(c).await?;
    let events = sqlx::query::<Db>(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE project_id = $1 \
         AND timestamp < $2 ORDER BY id LIMIT $3)",
    )
    .bind(project)
    .bind(before)
    .bind(i64::from(limit))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let keys: Vec<String> = sqlx::query_scalar::<Db, String>(
        "DELETE FROM attachments WHERE id IN (SELECT id FROM attachments WHERE project_id = $1 \
         AND created_at < $2 ORDER BY id LIMIT $3) RETURNING blob_key",
    )
    .bind(project)
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((events, keys))
}

/// Deletes up to `limit` of a project's processed envelopes received before `before` that no
/// stored event points into; returns their blob keys (empty keys are left out) for the
/// caller to delete.
pub(crate) async fn delete_expired_envelopes(
    c: &mut DbConn,
    project: ProjectId,
    before: Timestamp,
    limit: u32,
) -> Result<(u64, Vec<String>)> {
    let mut tx = begin_write(c).await?;
    let keys: Vec<Option<String>> = sqlx::query_scalar::<Db, Option<String>>(
        "DELETE FROM envelopes WHERE id IN (SELECT id FROM envelopes e WHERE project_id = $1 \
         AND state <> 'pending' AND received_at < $2 \
         AND NOT EXISTS (SELECT 1 FROM events WHERE events.envelope_id = e.id) \
         ORDER BY id LIMIT $3) RETURNING blob_key",
    )
    .bind(project)
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let n = keys.len() as u64;
    Ok((
        n,
        keys.into_iter()
            .flatten()
            .filter(|k| !k.is_empty())
            .collect(),
    ))
}
