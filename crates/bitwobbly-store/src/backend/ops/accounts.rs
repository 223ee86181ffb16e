//! Workspaces, users, memberships, sessions and API tokens.

use super::{Db, DbConn, execute_by_id, expect_one};
use crate::error::{Result, StoreError};
use crate::model::{ApiToken, Membership, Session, User, Workspace};
use crate::types::*;

macro_rules! token_cols {
    () => {
        "id, workspace_id, name, prefix, role, created_by, created_at, expires_at, last_used_at, \
         revoked_at"
    };
}

pub(crate) async fn create_workspace(
    c: &mut DbConn,
    slug: &str,
    name: &str,
    now: Timestamp,
) -> Result<Workspace> {
    Ok(sqlx::query_as::<Db, Workspace>(
        "INSERT INTO workspaces (slug, name, created_at) VALUES ($1, $2, $3) \
         RETURNING id, slug, name, created_at",
    )
    .bind(slug)
    .bind(name)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn workspace(c: &mut DbConn, id: WorkspaceId) -> Result<Option<Workspace>> {
    Ok(sqlx::query_as::<Db, Workspace>(
        "SELECT id, slug, name, created_at FROM workspaces WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn workspace_by_slug(c: &mut DbConn, slug: &str) -> Result<Option<Workspace>> {
    Ok(sqlx::query_as::<Db, Workspace>(
        "SELECT id, slug, name, created_at FROM workspaces WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn rename_workspace(
    c: &mut DbConn,
    id: WorkspaceId,
    name: &str,
) -> Result<Workspace> {
    sqlx::query_as::<Db, Workspace>(
        "UPDATE workspaces SET name = $2 WHERE id = $1 RETURNING id, slug, name, created_at",
    )
    .bind(id)
    .bind(name)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::not_found("workspace"))
}

pub(crate) async fn delete_workspace(c: &mut DbConn, id: WorkspaceId) -> Result<()> {
    let mut tx = super::begin_write(c).await?;
    // Bulk tables carry no foreign key; clear them first, through their monitor index.
    for sql in [
        "DELETE FROM check_results WHERE monitor_id IN \
         (SELECT id FROM monitors WHERE workspace_id = $1)",
        "DELETE FROM rollups_hourly WHERE monitor_id IN \
         (SELECT id FROM monitors WHERE workspace_id = $1)",
        "DELETE FROM rollups_daily WHERE monitor_id IN \
         (SELECT id FROM monitors WHERE workspace_id = $1)",
    ] {
        sqlx::query::<Db>(sql).bind(id).execute(&mut *tx).await?;
    }
    let done = sqlx::query::<Db>("DELETE FROM workspaces WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    expect_one(done, || StoreError::not_found("workspace"))?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn create_user(
    c: &mut DbConn,
    email: &str,
    name: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<User> {
    Ok(sqlx::query_as::<Db, User>(
        "INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id, email, name, created_at",
    )
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn user(c: &mut DbConn, id: UserId) -> Result<Option<User>> {
    Ok(
        sqlx::query_as::<Db, User>("SELECT id, email, name, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?,
    )
}

/// The user with this email and their password hash.
pub(crate) async fn user_with_hash(c: &mut DbConn, email: &str) -> Result<Option<(User, String)>> {
    use sqlx::Row as _;
    let row = sqlx::query::<Db>(
        "SELECT id, email, name, created_at, password_hash FROM users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| {
        Ok((
            <User as sqlx::FromRow<'_, _>>::from_row(&r)?,
            r.try_get("password_hash")?,
        ))
    })
    .transpose()
}

pub(crate) async fn set_password_hash(c: &mut DbConn, id: UserId, hash: &str) -> Result<()> {
    let done = sqlx::query::<Db>("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&mut *c)
        .await?;
    expect_one(done, || StoreError::not_found("user"))
}

pub(crate) async fn create_session(
    c: &mut DbConn,
    user: UserId,
    hash: &[u8],
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<Session> {
    Ok(sqlx::query_as::<Db, Session>(
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $3) \
         RETURNING id, user_id, created_at, expires_at, last_seen_at",
    )
    .bind(user)
    .bind(hash)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *c)
    .await?)
}

/// A live session by its token hash; marks it seen.
pub(crate) async fn session_by_hash(
    c: &mut DbConn,
    hash: &[u8],
    now: Timestamp,
) -> Result<Option<(Session, User)>> {
    let session = sqlx::query_as::<Db, Session>(
        "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND expires_at > $2 \
         RETURNING id, user_id, created_at, expires_at, last_seen_at",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?;
    let Some(session) = session else {
        return Ok(None);
    };
    let user = user(c, session.user_id)
        .await?
        .ok_or_else(|| StoreError::not_found("user"))?;
    Ok(Some((session, user)))
}

pub(crate) async fn delete_session(c: &mut DbConn, hash: &[u8]) -> Result<bool> {
    let done = sqlx::query::<Db>("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn delete_expired_sessions(c: &mut DbConn, now: Timestamp) -> Result<u64> {
    let done = sqlx::query::<Db>("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn set_member(
    c: &mut DbConn,
    ws: WorkspaceId,
    user: UserId,
    role: Role,
    now: Timestamp,
) -> Result<Membership> {
    Ok(sqlx::query_as::<Db, Membership>(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role \
         RETURNING workspace_id, user_id, role, created_at",
    )
    .bind(ws)
    .bind(user)
    .bind(role)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn remove_member(c: &mut DbConn, ws: WorkspaceId, user: UserId) -> Result<()> {
    execute_by_id(
        c,
        "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
        ws,
        user,
        "membership",
    )
    .await
}

pub(crate) async fn members(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<Membership>> {
    Ok(sqlx::query_as::<Db, Membership>(
        "SELECT workspace_id, user_id, role, created_at FROM memberships \
         WHERE workspace_id = $1 ORDER BY user_id",
    )
    .bind(ws)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn role_of(c: &mut DbConn, ws: WorkspaceId, user: UserId) -> Result<Option<Role>> {
    Ok(sqlx::query_scalar::<Db, Role>(
        "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(ws)
    .bind(user)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn workspaces_of(c: &mut DbConn, user: UserId) -> Result<Vec<(Workspace, Role)>> {
    use sqlx::Row as _;
    let rows = sqlx::query::<Db>(
        "SELECT w.id, w.slug, w.name, w.created_at, m.role FROM memberships m \
         JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY w.id",
    )
    .bind(user)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                <Workspace as sqlx::FromRow<'_, _>>::from_row(r)?,
                r.try_get("role")?,
            ))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn create_token(
    c: &mut DbConn,
    ws: WorkspaceId,
    name: &str,
    prefix: &str,
    hash: &[u8],
    role: Role,
    created_by: Option<UserId>,
    now: Timestamp,
    expires_at: Option<Timestamp>,
) -> Result<ApiToken> {
    Ok(sqlx::query_as::<Db, ApiToken>(concat!(
        "INSERT INTO api_tokens (workspace_id, name, prefix, token_hash, role, created_by, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
        token_cols!()
    ))
    .bind(ws)
    .bind(name)
    .bind(prefix)
    .bind(hash)
    .bind(role)
    .bind(created_by)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn tokens(c: &mut DbConn, ws: WorkspaceId) -> Result<Vec<ApiToken>> {
    Ok(sqlx::query_as::<Db, ApiToken>(concat!(
        "SELECT ",
        token_cols!(),
        " FROM api_tokens WHERE workspace_id = $1 ORDER BY id"
    ))
    .bind(ws)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn revoke_token(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ApiTokenId,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query::<Db>(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    expect_one(done, || StoreError::not_found("api token"))
}

/// The token with this prefix and its hash.
pub(crate) async fn token_by_prefix(
    c: &mut DbConn,
    prefix: &str,
) -> Result<Option<(ApiToken, Vec<u8>)>> {
    use sqlx::Row as _;
    let row = sqlx::query::<Db>(concat!(
        "SELECT token_hash, ",
        token_cols!(),
        " FROM api_tokens WHERE prefix = $1"
    ))
    .bind(prefix)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| {
        Ok((
            <ApiToken as sqlx::FromRow<'_, _>>::from_row(&r)?,
            r.try_get("token_hash")?,
        ))
    })
    .transpose()
}

pub(crate) async fn touch_token(c: &mut DbConn, id: ApiTokenId, now: Timestamp) -> Result<()> {
    sqlx::query::<Db>("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(crate) async fn user_by_email(c: &mut DbConn, email: &str) -> Result<Option<User>> {
    Ok(
        sqlx::query_as::<Db, User>(
            "SELECT id, email, name, created_at FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&mut *c)
        .await?,
    )
}

pub(crate) async fn user_count(c: &mut DbConn) -> Result<i64> {
    Ok(sqlx::query_scalar::<Db, i64>("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *c)
        .await?)
}

pub(crate) async fn token(
    c: &mut DbConn,
    ws: WorkspaceId,
    id: ApiTokenId,
) -> Result<Option<ApiToken>> {
    super::fetch_by_id(
        c,
        select_by_id!("api_tokens", token_cols!()),
        ws,
        id,
        super::derived,
    )
    .await
}

pub(crate) async fn create_setup_token(
    c: &mut DbConn,
    hash: &[u8],
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    sqlx::query::<Db>(
        "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Marks a live, unused set-up token used; whether one was.
pub(crate) async fn consume_setup_token(
    c: &mut DbConn,
    hash: &[u8],
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query::<Db>(
        "UPDATE setup_tokens SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}
