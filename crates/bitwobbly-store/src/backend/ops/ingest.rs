//! Sentry-compatible ingest: projects, DSN keys, the envelope queue, events, issues,
//! transactions, session rollups, check-ins and attachment references.

use sqlx::Row as _;

use super::{
    Db, DbConn, DbRow, Lease, LinkTable, PG, WorkQueue, begin_write, derived, ensure_by_id,
    expect_one, fetch_by_id, json_err,
};
use crate::error::{Result, StoreError};
use crate::model::{
    Attachment, CheckIn, DsnKey, Envelope, Event, Issue, IssueOutcome, IssueSighting,
    NewAttachment, NewCheckIn, NewEnvelope, NewEvent, NewTransaction, Project, SessionCounts,
};
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
         environment, title, culprit, tags, blob_key"
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
            "(last_seen, $4), event_count = event_count + 1, user_count = user_count + $5, \
             level = $6, title = $7 WHERE workspace_id = $1 AND project_id = $2 \
             AND fingerprint = $3",
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
         release, environment, title, culprit, tags, blob_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
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

pub(crate) async fn events_for_issue(
    c: &mut DbConn,
    ws: WorkspaceId,
    issue: IssueId,
    limit: u32,
) -> Result<Vec<Event>> {
    let rows = sqlx::query::<Db>(concat!(
        "SELECT ",
        event_cols!(),
        " FROM events WHERE workspace_id = $1 AND issue_id = $2 \
         ORDER BY timestamp DESC, id DESC LIMIT $3"
    ))
    .bind(ws)
    .bind(issue)
    .bind(i64::from(limit.max(1)))
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
         first_seen, last_seen, event_count, user_count, regressed) \
         VALUES ($1, $2, $3, $4, $5, $6, 'unresolved', $7, $7, 1, $8, FALSE) \
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
             status, timestamp) ",
        );
        q.push_values(chunk, |mut b, t| {
            b.push_bind(ws)
                .push_bind(t.project_id)
                .push_bind(t.event_id.clone())
                .push_bind(t.name.clone())
                .push_bind(t.op.clone())
                .push_bind(t.duration_us)
                .push_bind(t.status.clone())
                .push_bind(t.timestamp);
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
        "SELECT project_id, event_id, name, op, duration_us, status, timestamp FROM transactions \
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

fn check_in_from_row(r: &DbRow) -> Result<CheckIn> {
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
         duration_ms, environment, received_at) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, $8 FROM projects \
         WHERE workspace_id = $1 AND id = $2 \
         RETURNING id, project_id, check_in_id, monitor_slug, status, duration_ms, environment, \
           received_at",
    )
    .bind(ws)
    .bind(new.project_id)
    .bind(&new.check_in_id)
    .bind(&new.monitor_slug)
    .bind(new.status)
    .bind(new.duration_ms)
    .bind(&new.environment)
    .bind(new.received_at)
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
         received_at FROM check_ins WHERE workspace_id = $1 AND project_id = $2 \
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
         blob_key, created_at) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, $8 FROM projects \
         WHERE workspace_id = $1 AND id = $2 \
         RETURNING id, project_id, event_id, name, content_type, size, blob_key, created_at",
    )
    .bind(ws)
    .bind(new.project_id)
    .bind(&new.event_id)
    .bind(&new.name)
    .bind(&new.content_type)
    .bind(new.size)
    .bind(&new.blob_key)
    .bind(now)
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
        "SELECT id, project_id, event_id, name, content_type, size, blob_key, created_at \
         FROM attachments WHERE workspace_id = $1 AND project_id = $2 AND event_id = $3 \
         ORDER BY id",
    )
    .bind(ws)
    .bind(project)
    .bind(event_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(attachment_from_row).collect()
}
