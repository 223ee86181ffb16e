//! The state ingest keeps so that SDKs' repeated updates count once: individual sessions by
//! `sid` (`session_states`) and check-ins updated in place by `check_in_id`.

use super::{Db, DbConn, PG, expect_one};
use crate::error::{Result, StoreError};
use crate::model::{CheckIn, CheckInUpdate, SessionState};
use crate::types::*;

use super::ingest::check_in_from_row;

/// The stored state of a session, inserting `initial` when there is none. On PostgreSQL the
/// row stays locked until the transaction ends (the insert waits for a concurrent one of the
/// same session), so concurrent workers count one session's updates one after the other.
pub(crate) async fn lock_session_state(
    c: &mut DbConn,
    ws: WorkspaceId,
    initial: &SessionState,
) -> Result<SessionState> {
    put_or_keep_session_state(c, ws, initial, false).await?;
    let sql = if PG {
        "SELECT project_id, sid, release, environment, bucket_start, started, outcome, \
         updated_at FROM session_states WHERE workspace_id = $1 AND project_id = $2 AND sid = $3 \
         FOR UPDATE"
    } else {
        "SELECT project_id, sid, release, environment, bucket_start, started, outcome, \
         updated_at FROM session_states WHERE workspace_id = $1 AND project_id = $2 AND sid = $3"
    };
    sqlx::query_as::<Db, SessionState>(sql)
        .bind(ws)
        .bind(initial.project_id)
        .bind(&initial.sid)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| StoreError::not_found("project"))
}

/// Inserts or replaces the state of a session (of a project of `ws`).
pub(crate) async fn put_session_state(
    c: &mut DbConn,
    ws: WorkspaceId,
    s: &SessionState,
) -> Result<()> {
    put_or_keep_session_state(c, ws, s, true).await
}

async fn put_or_keep_session_state(
    c: &mut DbConn,
    ws: WorkspaceId,
    s: &SessionState,
    replace: bool,
) -> Result<()> {
    let sql = if replace {
        "INSERT INTO session_states (workspace_id, project_id, sid, release, environment, \
         bucket_start, started, outcome, updated_at) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, $8, $9 FROM projects \
         WHERE workspace_id = $1 AND id = $2 \
         ON CONFLICT (project_id, sid) DO UPDATE SET release = excluded.release, \
         environment = excluded.environment, bucket_start = excluded.bucket_start, \
         started = excluded.started, outcome = excluded.outcome, updated_at = excluded.updated_at"
    } else {
        "INSERT INTO session_states (workspace_id, project_id, sid, release, environment, \
         bucket_start, started, outcome, updated_at) \
         SELECT workspace_id, id, $3, $4, $5, $6, $7, $8, $9 FROM projects \
         WHERE workspace_id = $1 AND id = $2 \
         ON CONFLICT (project_id, sid) DO NOTHING"
    };
    let done = sqlx::query::<Db>(sql)
        .bind(ws)
        .bind(s.project_id)
        .bind(&s.sid)
        .bind(&s.release)
        .bind(&s.environment)
        .bind(s.bucket_start)
        .bind(s.started)
        .bind(s.outcome)
        .bind(s.updated_at)
        .execute(&mut *c)
        .await?;
    if replace {
        expect_one(done, || StoreError::not_found("project"))?;
    }
    Ok(())
}

/// Deletes up to `limit` of a project's session states last updated before `before`.
pub(crate) async fn delete_expired_session_states(
    c: &mut DbConn,
    project: ProjectId,
    before: Timestamp,
    limit: u32,
) -> Result<u64> {
    let sql = if PG {
        "DELETE FROM session_states WHERE project_id = $1 AND sid IN (SELECT sid FROM \
         session_states WHERE project_id = $1 AND updated_at < $2 LIMIT $3)"
    } else {
        "DELETE FROM session_states WHERE rowid IN (SELECT rowid FROM session_states \
         WHERE project_id = $1 AND updated_at < $2 LIMIT $3)"
    };
    Ok(sqlx::query::<Db>(sql)
        .bind(project)
        .bind(before)
        .bind(i64::from(limit))
        .execute(&mut *c)
        .await?
        .rows_affected())
}

/// The check-in a later update of `check_in_id` changes: the row with that id for the
/// monitor slug; with no id, the slug's latest one still in progress.
pub(crate) async fn check_in_to_update(
    c: &mut DbConn,
    ws: WorkspaceId,
    project: ProjectId,
    monitor_slug: &str,
    check_in_id: Option<&str>,
) -> Result<Option<CheckIn>> {
    macro_rules! of_slug {
        () => {
            "SELECT id, project_id, check_in_id, monitor_slug, status, duration_ms, environment, \
             received_at, release, monitor_id FROM check_ins \
             WHERE workspace_id = $1 AND project_id = $2 AND monitor_slug = $3"
        };
    }
    let row = match check_in_id {
        Some(id) => {
            sqlx::query::<Db>(concat!(
                of_slug!(),
                " AND check_in_id = $4 ORDER BY id DESC LIMIT 1"
            ))
            .bind(ws)
            .bind(project)
            .bind(monitor_slug)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
        }
        None => {
            sqlx::query::<Db>(concat!(
                of_slug!(),
                " AND status = $4 ORDER BY received_at DESC, id DESC LIMIT 1"
            ))
            .bind(ws)
            .bind(project)
            .bind(monitor_slug)
            .bind(CheckInStatus::InProgress)
            .fetch_optional(&mut *c)
            .await?
        }
    };
    row.as_ref().map(check_in_from_row).transpose()
}

/// Applies a later update to a stored check-in.
pub(crate) async fn update_check_in(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: CheckInId,
    update: &CheckInUpdate,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE check_ins SET status = $3, duration_ms = COALESCE($4, duration_ms), \
         environment = COALESCE($5, environment), release = COALESCE($6, release), \
         monitor_id = COALESCE($7, monitor_id) WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(update.status)
    .bind(update.duration_ms)
    .bind(&update.environment)
    .bind(&update.release)
    .bind(update.monitor_id)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("check-in"))
}
