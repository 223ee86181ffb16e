//! Account security: email verification, two-factor sign-in (TOTP secret and single-use
//! recovery codes), single-use expiring links (verify email, reset password, invitations,
//! the pending second step of a sign-in) and the sessions a user has open.
//!
//! Link secrets and recovery codes are random and kept only as SHA-256 hashes. The TOTP
//! secret is kept as given (it is needed in clear to check codes); it is never part of a
//! view and is cleared when two-factor sign-in is turned off.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::Secret;
use crate::secret;
use crate::store::{Global, Source, run};
use crate::types::{Role, SessionId, Timestamp, UserId, WorkspaceId};

/// What a single-use link (or step) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Confirms that the user reads mail at their address.
    VerifyEmail,
    /// Sets a new password.
    ResetPassword,
    /// Joins a workspace with a role (creating the account when needed).
    Invitation,
    /// The second step of a sign-in whose password was right: waiting for a TOTP or
    /// recovery code. It is not a session and opens nothing else.
    TwoFactor,
}

impl TokenPurpose {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::Invitation => "invitation",
            Self::TwoFactor => "two_factor",
        }
    }
}

/// A single-use link as stored (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AccountToken {
    /// Id.
    pub id: i64,
    /// What it is for (the stored name, see [`TokenPurpose::as_str`]).
    pub purpose: String,
    /// The user it is for, when there is one (not for an invitation of a new address).
    pub user_id: Option<UserId>,
    /// The address it was sent to.
    pub email: String,
    /// Invitations: the workspace.
    pub workspace_id: Option<WorkspaceId>,
    /// Invitations: the role offered.
    pub role: Option<Role>,
    /// Who made it (invitations).
    pub created_by: Option<UserId>,
    /// Made.
    pub created_at: Timestamp,
    /// Unusable from then on.
    pub expires_at: Timestamp,
    /// When it was used (then it is unusable).
    pub used_at: Option<Timestamp>,
}

/// A single-use link to make.
#[derive(Debug, Clone)]
pub struct NewAccountToken<'a> {
    /// What it is for.
    pub purpose: TokenPurpose,
    /// The user, when there is one.
    pub user_id: Option<UserId>,
    /// The address (trimmed and lowercased when stored).
    pub email: &'a str,
    /// Invitations: the workspace.
    pub workspace_id: Option<WorkspaceId>,
    /// Invitations: the role.
    pub role: Option<Role>,
    /// Who makes it.
    pub created_by: Option<UserId>,
}

/// A user's security settings as the server needs them (never shown as such).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserSecurity {
    /// When the email address was confirmed.
    pub email_verified_at: Option<Timestamp>,
    /// The TOTP secret (base32): being set up when `totp_enabled_at` is `None`, in use after.
    pub totp_secret: Option<String>,
    /// When two-factor sign-in was turned on.
    pub totp_enabled_at: Option<Timestamp>,
}

/// An open session as listed to its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SessionInfo {
    /// Id.
    pub id: SessionId,
    /// Opened.
    pub created_at: Timestamp,
    /// Last request.
    pub last_seen_at: Timestamp,
    /// Ends.
    pub expires_at: Timestamp,
    /// The browser's `User-Agent` when it was opened.
    pub user_agent: String,
    /// The client address when it was opened.
    pub ip: String,
}

/// Account security (see the module docs).
pub trait SecurityStore {
    /// The user's security settings; `None` when the user does not exist.
    fn user_security(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Option<UserSecurity>>> + Send;

    /// Marks the user's email address confirmed (the first time only).
    fn set_email_verified(
        &mut self,
        user: UserId,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Starts setting up two-factor sign-in with `secret` (not in use until
    /// [`SecurityStore::enable_totp`]); refused while it is on.
    fn begin_totp(
        &mut self,
        user: UserId,
        secret: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Turns two-factor sign-in on with the secret being set up and replaces the recovery
    /// codes with `recovery_codes` (stored hashed). `false` when no set-up was begun.
    fn enable_totp(
        &mut self,
        user: UserId,
        recovery_codes: &[String],
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Records that a TOTP code of 30-second `step` was accepted: `true` unless a code of
    /// this step or a later one was accepted before (so each code works once).
    fn use_totp_step(
        &mut self,
        user: UserId,
        step: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Turns two-factor sign-in off: clears the secret and the recovery codes.
    fn disable_totp(&mut self, user: UserId) -> impl Future<Output = Result<()>> + Send;

    /// Uses up one of the user's recovery codes: `true` the first time a code is presented.
    fn use_recovery_code(
        &mut self,
        user: UserId,
        code: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// How many recovery codes the user has left.
    fn recovery_codes_left(&mut self, user: UserId) -> impl Future<Output = Result<i64>> + Send;

    /// Makes a single-use link live for `ttl`; the secret is returned once, only its hash is
    /// stored.
    fn create_account_token(
        &mut self,
        new: &NewAccountToken<'_>,
        now: Timestamp,
        ttl: Duration,
    ) -> impl Future<Output = Result<(AccountToken, Secret)>> + Send;

    /// The live, unused link of `secret` for `purpose` (without using it up).
    fn account_token(
        &mut self,
        secret: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<AccountToken>>> + Send;

    /// Uses up the link of `secret` for `purpose`: `Some` the first time a live link is
    /// presented, `None` when unknown, expired, used or for another purpose.
    fn consume_account_token(
        &mut self,
        secret: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<AccountToken>>> + Send;

    /// A workspace's live, unused invitations, newest first.
    fn invitations(
        &mut self,
        ws: WorkspaceId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<AccountToken>>> + Send;

    /// Withdraws an invitation of the workspace; whether there was one.
    fn delete_invitation(
        &mut self,
        ws: WorkspaceId,
        id: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Records where a session was opened from.
    fn set_session_client(
        &mut self,
        session: SessionId,
        user_agent: &str,
        ip: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The user's live sessions, most recently seen first.
    fn sessions_of(
        &mut self,
        user: UserId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<SessionInfo>>> + Send;

    /// Ends one of the user's sessions; whether it existed (another user's is never ended).
    fn end_session(
        &mut self,
        user: UserId,
        session: SessionId,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Ends every session of the user but `keep`; returns how many ended.
    fn end_other_sessions(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> impl Future<Output = Result<u64>> + Send;
}

/// The hash a recovery code is stored as: of its letters and digits, lowercased (so
/// `ABCD-EFGH` and `abcdefgh` are the same code).
fn recovery_hash(code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    secret::token_hash(&normal)
}

impl<S: Source> SecurityStore for Global<S> {
    async fn user_security(&mut self, user: UserId) -> Result<Option<UserSecurity>> {
        run!(self.src, |c, ops| ops::security::user_security(c, user)
            .await)
    }

    async fn set_email_verified(&mut self, user: UserId, now: Timestamp) -> Result<()> {
        run!(self.src, |c, ops| ops::security::set_email_verified(
            c, user, now
        )
        .await)
    }

    async fn begin_totp(&mut self, user: UserId, secret: &str) -> Result<bool> {
        run!(self.src, |c, ops| ops::security::begin_totp(
            c, user, secret
        )
        .await)
    }

    async fn enable_totp(
        &mut self,
        user: UserId,
        recovery_codes: &[String],
        now: Timestamp,
    ) -> Result<bool> {
        let hashes: Vec<Vec<u8>> = recovery_codes.iter().map(|c| recovery_hash(c)).collect();
        run!(self.src, |c, ops| ops::security::enable_totp(
            c, user, &hashes, now
        )
        .await)
    }

    async fn use_totp_step(&mut self, user: UserId, step: i64) -> Result<bool> {
        run!(self.src, |c, ops| ops::security::use_totp_step(
            c, user, step
        )
        .await)
    }

    async fn disable_totp(&mut self, user: UserId) -> Result<()> {
        run!(self.src, |c, ops| ops::security::disable_totp(c, user)
            .await)
    }

    async fn use_recovery_code(
        &mut self,
        user: UserId,
        code: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let hash = recovery_hash(code);
        run!(self.src, |c, ops| ops::security::use_recovery_code(
            c, user, &hash, now
        )
        .await)
    }

    async fn recovery_codes_left(&mut self, user: UserId) -> Result<i64> {
        run!(self.src, |c, ops| ops::security::recovery_codes_left(
            c, user
        )
        .await)
    }

    async fn create_account_token(
        &mut self,
        new: &NewAccountToken<'_>,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(AccountToken, Secret)> {
        let (secret, hash) = secret::new_session_secret()?;
        let email = new.email.trim().to_lowercase();
        let expires = now.plus(ttl);
        let token = run!(self.src, |c, ops| ops::security::create_account_token(
            c, new, &email, &hash, now, expires
        )
        .await)?;
        Ok((token, secret))
    }

    async fn account_token(
        &mut self,
        secret: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> Result<Option<AccountToken>> {
        let hash = secret::token_hash(secret);
        run!(self.src, |c, ops| ops::security::account_token(
            c,
            &hash,
            purpose.as_str(),
            now
        )
        .await)
    }

    async fn consume_account_token(
        &mut self,
        secret: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> Result<Option<AccountToken>> {
        let hash = secret::token_hash(secret);
        run!(self.src, |c, ops| ops::security::consume_account_token(
            c,
            &hash,
            purpose.as_str(),
            now
        )
        .await)
    }

    async fn invitations(&mut self, ws: WorkspaceId, now: Timestamp) -> Result<Vec<AccountToken>> {
        run!(self.src, |c, ops| ops::security::invitations(c, ws, now)
            .await)
    }

    async fn delete_invitation(&mut self, ws: WorkspaceId, id: i64) -> Result<bool> {
        run!(self.src, |c, ops| ops::security::delete_invitation(
            c, ws, id
        )
        .await)
    }

    async fn set_session_client(
        &mut self,
        session: SessionId,
        user_agent: &str,
        ip: &str,
    ) -> Result<()> {
        let ua: String = user_agent.chars().take(300).collect();
        let ip: String = ip.chars().take(64).collect();
        run!(self.src, |c, ops| ops::security::set_session_client(
            c, session, &ua, &ip
        )
        .await)
    }

    async fn sessions_of(&mut self, user: UserId, now: Timestamp) -> Result<Vec<SessionInfo>> {
        run!(self.src, |c, ops| ops::security::sessions_of(c, user, now)
            .await)
    }

    async fn end_session(&mut self, user: UserId, session: SessionId) -> Result<bool> {
        run!(self.src, |c, ops| ops::security::end_session(
            c, user, session
        )
        .await)
    }

    async fn end_other_sessions(&mut self, user: UserId, keep: Option<SessionId>) -> Result<u64> {
        run!(self.src, |c, ops| ops::security::end_other_sessions(
            c, user, keep
        )
        .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_ignore_case_and_separators() {
        assert_eq!(recovery_hash("ABCD-EFGH"), recovery_hash("abcdefgh"));
        assert_ne!(recovery_hash("abcd-efgh"), recovery_hash("abcd-efgi"));
    }
}
