//! Account security: email verification, TOTP, recovery codes, single-use links and the
//! sessions a user has open.

use super::{Db, DbConn, begin_write};
use crate::error::Result;
use crate::security::{AccountToken, NewAccountToken, SessionInfo, UserSecurity};
use crate::types::*;

macro_rules! account_token_cols {
    () => {
        "id, purpose, user_id, email, workspace_id, role, created_by, created_at, expires_at, \
         used_at"
    };
}

pub(crate) async fn user_security(c: &mut DbConn, user: UserId) -> Result<Option<UserSecurity>> {
    Ok(sqlx::query_as::<Db, UserSecurity>(
        "SELECT email_verified_at, totp_secret, totp_enabled_at FROM users WHERE id = $1",
    )
    .bind(user)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn set_email_verified(c: &mut DbConn, user: UserId, now: Timestamp) -> Result<()> {
    sqlx::query::<Db>(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1",
    )
    .bind(user)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn begin_totp(c: &mut DbConn, user: UserId, secret: &str) -> Result<bool> {
    let done = sqlx::query::<Db>(
        "UPDATE users SET totp_secret = $2 WHERE id = $1 AND totp_enabled_at IS NULL",
    )
    .bind(user)
    .bind(secret)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn enable_totp(
    c: &mut DbConn,
    user: UserId,
    code_hashes: &[Vec<u8>],
    now: Timestamp,
) -> Result<bool> {
    let mut tx = begin_write(c).await?;
    let done = sqlx::query::<Db>(
        "UPDATE users SET totp_enabled_at = $2 \
         WHERE id = $1 AND totp_secret IS NOT NULL AND totp_enabled_at IS NULL",
    )
    .bind(user)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query::<Db>("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    for hash in code_hashes {
        sqlx::query::<Db>(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user)
        .bind(hash.as_slice())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(crate) async fn use_totp_step(c: &mut DbConn, user: UserId, step: i64) -> Result<bool> {
    let done = sqlx::query::<Db>(
        "UPDATE users SET totp_last_step = $2 \
         WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(user)
    .bind(step)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn disable_totp(c: &mut DbConn, user: UserId) -> Result<()> {
    let mut tx = begin_write(c).await?;
    sqlx::query::<Db>(
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL \
         WHERE id = $1",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query::<Db>("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn use_recovery_code(
    c: &mut DbConn,
    user: UserId,
    hash: &[u8],
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query::<Db>(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user)
    .bind(hash)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() >= 1)
}

pub(crate) async fn recovery_codes_left(c: &mut DbConn, user: UserId) -> Result<i64> {
    Ok(sqlx::query_scalar::<Db, i64>(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn create_account_token(
    c: &mut DbConn,
    new: &NewAccountToken<'_>,
    email: &str,
    hash: &[u8],
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<AccountToken> {
    Ok(sqlx::query_as::<Db, AccountToken>(concat!(
        "INSERT INTO account_tokens (purpose, token_hash, user_id, email, workspace_id, role, \
         created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING ",
        account_token_cols!()
    ))
    .bind(new.purpose.as_str())
    .bind(hash)
    .bind(new.user_id)
    .bind(email)
    .bind(new.workspace_id)
    .bind(new.role)
    .bind(new.created_by)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *c)
    .await?)
}

pub(crate) async fn account_token(
    c: &mut DbConn,
    hash: &[u8],
    purpose: &str,
    now: Timestamp,
) -> Result<Option<AccountToken>> {
    Ok(sqlx::query_as::<Db, AccountToken>(concat!(
        "SELECT ",
        account_token_cols!(),
        " FROM account_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL \
         AND expires_at > $3"
    ))
    .bind(hash)
    .bind(purpose)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn consume_account_token(
    c: &mut DbConn,
    hash: &[u8],
    purpose: &str,
    now: Timestamp,
) -> Result<Option<AccountToken>> {
    Ok(sqlx::query_as::<Db, AccountToken>(concat!(
        "UPDATE account_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING ",
        account_token_cols!()
    ))
    .bind(hash)
    .bind(purpose)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?)
}

pub(crate) async fn invitations(
    c: &mut DbConn,
    ws: WorkspaceId,
    now: Timestamp,
) -> Result<Vec<AccountToken>> {
    Ok(sqlx::query_as::<Db, AccountToken>(concat!(
        "SELECT ",
        account_token_cols!(),
        " FROM account_tokens WHERE workspace_id = $1 AND purpose = 'invitation' \
         AND used_at IS NULL AND expires_at > $2 ORDER BY id DESC"
    ))
    .bind(ws)
    .bind(now)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn delete_invitation(c: &mut DbConn, ws: WorkspaceId, id: i64) -> Result<bool> {
    let done = sqlx::query::<Db>(
        "DELETE FROM account_tokens WHERE workspace_id = $1 AND id = $2 \
         AND purpose = 'invitation'",
    )
    .bind(ws)
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_session_client(
    c: &mut DbConn,
    session: SessionId,
    user_agent: &str,
    ip: &str,
) -> Result<()> {
    sqlx::query::<Db>("UPDATE sessions SET user_agent = $2, ip = $3 WHERE id = $1")
        .bind(session)
        .bind(user_agent)
        .bind(ip)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(crate) async fn sessions_of(
    c: &mut DbConn,
    user: UserId,
    now: Timestamp,
) -> Result<Vec<SessionInfo>> {
    Ok(sqlx::query_as::<Db, SessionInfo>(
        "SELECT id, created_at, last_seen_at, expires_at, user_agent, ip FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC, id DESC",
    )
    .bind(user)
    .bind(now)
    .fetch_all(&mut *c)
    .await?)
}

pub(crate) async fn end_session(c: &mut DbConn, user: UserId, session: SessionId) -> Result<bool> {
    let done = sqlx::query::<Db>("DELETE FROM sessions WHERE user_id = $1 AND id = $2")
        .bind(user)
        .bind(session)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn end_other_sessions(
    c: &mut DbConn,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<u64> {
    let done =
        sqlx::query::<Db>("DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)")
            .bind(user)
            .bind(keep)
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected())
}
