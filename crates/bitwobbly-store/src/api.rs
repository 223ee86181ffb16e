//! The storage traits.
//!
//! Tenant-owned data is reached through [`Scoped`] (from [`Store::workspace`] or
//! [`Tx::workspace`]): the workspace id is part of the scope, so a method cannot be called
//! without it and never sees another workspace's rows. What no single workspace owns (accounts,
//! and the work queues that nodes claim from) is reached through [`Global`].
//!
//! Every method takes `&mut self` so that the same traits work on a pooled [`Store`] scope and
//! inside a [`Tx`].
//!
//! [`Store`]: crate::Store
//! [`Store::workspace`]: crate::Store::workspace
//! [`Tx`]: crate::Tx
//! [`Tx::workspace`]: crate::Tx::workspace

use std::time::Duration;

use crate::backend::Lease;
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::query::*;
use crate::secret;
use crate::store::{Global, Scoped, Source, run};
use crate::types::*;

// === global ===

/// Workspaces, users, sessions and API-token authentication.
pub trait AccountStore {
    /// Creates a workspace.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the slug is taken.
    fn create_workspace(
        &mut self,
        slug: &str,
        name: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Workspace>> + Send;

    /// A workspace by id.
    fn workspace(
        &mut self,
        id: WorkspaceId,
    ) -> impl Future<Output = Result<Option<Workspace>>> + Send;

    /// A workspace by slug.
    fn workspace_by_slug(
        &mut self,
        slug: &str,
    ) -> impl Future<Output = Result<Option<Workspace>>> + Send;

    /// Deletes a workspace and everything it owns.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn delete_workspace(&mut self, id: WorkspaceId) -> impl Future<Output = Result<()>> + Send;

    /// Renames a workspace (its slug stays).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn rename_workspace(
        &mut self,
        id: WorkspaceId,
        name: &str,
    ) -> impl Future<Output = Result<Workspace>> + Send;

    /// Creates a user; the password is hashed with argon2id. The email is trimmed and lowercased.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the email is taken.
    fn create_user(
        &mut self,
        email: &str,
        name: &str,
        password: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<User>> + Send;

    /// A user by id.
    fn user(&mut self, id: UserId) -> impl Future<Output = Result<Option<User>>> + Send;

    /// A user by email (trimmed and lowercased before the lookup).
    fn user_by_email(&mut self, email: &str) -> impl Future<Output = Result<Option<User>>> + Send;

    /// How many users exist (zero before the first administrator is set up).
    fn user_count(&mut self) -> impl Future<Output = Result<i64>> + Send;

    /// Makes a one-time set-up token (for creating the first administrator), live for `ttl`;
    /// the secret is returned once and only its hash is stored.
    fn create_setup_token(
        &mut self,
        now: Timestamp,
        ttl: Duration,
    ) -> impl Future<Output = Result<Secret>> + Send;

    /// Uses up a set-up token: `true` the first time a live token is presented, `false` if it
    /// is unknown, expired or already used.
    fn consume_setup_token(
        &mut self,
        secret: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The user whose email and password match, or `None`.
    fn verify_login(
        &mut self,
        email: &str,
        password: &str,
    ) -> impl Future<Output = Result<Option<User>>> + Send;

    /// Replaces a user's password.
    fn set_password(
        &mut self,
        user: UserId,
        password: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Every workspace the user belongs to, with their role there.
    fn workspaces_of(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<(Workspace, Role)>>> + Send;

    /// Opens a login session; the secret is returned once and only its hash is stored.
    fn create_session(
        &mut self,
        user: UserId,
        now: Timestamp,
        ttl: Duration,
    ) -> impl Future<Output = Result<(Session, Secret)>> + Send;

    /// The live session for a secret (and its user), marking it seen; `None` if unknown or
    /// expired.
    fn session(
        &mut self,
        secret: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<(Session, User)>>> + Send;

    /// Ends a session (logout). Returns whether it existed.
    fn delete_session(&mut self, secret: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Deletes expired sessions; returns how many.
    fn delete_expired_sessions(
        &mut self,
        now: Timestamp,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// The live API token for a secret, recording its use; `None` if unknown, revoked or
    /// expired. The hash comparison is constant-time.
    fn authenticate_token(
        &mut self,
        secret: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<ApiToken>>> + Send;
}

/// Scheduling leases: nodes claim due monitors, renew and release them.
pub trait ScheduleStore {
    /// Claims up to `limit` due, unpaused monitors whose lease is free or expired, for `node`,
    /// with a lease of `lease`. Concurrent claimers never get the same monitor while its lease
    /// is live. Only monitors the server runs itself are claimed
    /// ([`NewMonitor::runs_locally`]): agents run the others.
    fn claim_due_monitors(
        &mut self,
        node: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ClaimedMonitor>>> + Send;

    /// Extends a live lease held by `node`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if `node` does not hold a live lease.
    fn renew_monitor_lease(
        &mut self,
        monitor: MonitorId,
        node: &str,
        now: Timestamp,
        lease: Duration,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Gives the lease back and sets when the monitor is next due.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if another node holds it now.
    fn release_monitor(
        &mut self,
        monitor: MonitorId,
        node: &str,
        next_run_at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Drops every monitor lease `node` holds, leaving `next_run_at` as it is (graceful
    /// shutdown); returns how many.
    fn release_all_monitors(&mut self, node: &str) -> impl Future<Output = Result<u64>> + Send;

    /// The heartbeat monitor whose ping token this is (any workspace), with its state.
    fn monitor_by_ping_token(
        &mut self,
        token: &str,
    ) -> impl Future<Output = Result<Option<(Monitor, MonitorState)>>> + Send;
}

/// The delivery side of the notification outbox.
pub trait OutboxQueue {
    /// Claims up to `limit` due pending notifications with a lease (each claim counts as an
    /// attempt).
    fn claim_notifications(
        &mut self,
        node: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Notification>>> + Send;

    /// Marks a claimed notification delivered.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if `node` does not hold it.
    fn mark_sent(
        &mut self,
        id: OutboxId,
        node: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Gives a claimed notification back to be tried again at `next_attempt_at`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if `node` does not hold it.
    fn schedule_retry(
        &mut self,
        id: OutboxId,
        node: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Gives up on a claimed notification: it stays, dead, for an operator to see and replay.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if `node` does not hold it.
    fn mark_dead(
        &mut self,
        id: OutboxId,
        node: &str,
        now: Timestamp,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes sent notifications finished before `before`; returns how many.
    fn purge_sent(&mut self, before: Timestamp) -> impl Future<Output = Result<u64>> + Send;

    /// How many notifications are pending and how many are dead, over every workspace (for
    /// metrics): `(pending, dead)`.
    fn outbox_counts(&mut self) -> impl Future<Output = Result<(i64, i64)>> + Send;

    /// Gives back every notification lease `node` holds (graceful shutdown), keeping the
    /// attempt count and the due time; returns how many.
    fn release_notifications(&mut self, node: &str) -> impl Future<Output = Result<u64>> + Send;
}

/// Rollups and retention of check results.
pub trait Compaction {
    /// Builds hourly rollups of every closed hour (ended `policy.settle` ago), daily rollups of
    /// every fully rolled-up day, then deletes raw results and rollups past their retention
    /// (raw results only once rolled up). Idempotent.
    fn compact(
        &mut self,
        now: Timestamp,
        policy: &RetentionPolicy,
    ) -> impl Future<Output = Result<CompactionReport>> + Send;
}

impl<S: Source> AccountStore for Global<S> {
    async fn create_workspace(
        &mut self,
        slug: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<Workspace> {
        if slug.is_empty() {
            return Err(StoreError::invalid("slug", "must not be empty"));
        }
        run!(self.src, |c, ops| ops::accounts::create_workspace(
            c, slug, name, now
        )
        .await)
    }

    async fn workspace(&mut self, id: WorkspaceId) -> Result<Option<Workspace>> {
        run!(self.src, |c, ops| ops::accounts::workspace(c, id).await)
    }

    async fn workspace_by_slug(&mut self, slug: &str) -> Result<Option<Workspace>> {
        run!(self.src, |c, ops| ops::accounts::workspace_by_slug(c, slug)
            .await)
    }

    async fn delete_workspace(&mut self, id: WorkspaceId) -> Result<()> {
        run!(self.src, |c, ops| ops::accounts::delete_workspace(c, id)
            .await)
    }

    async fn rename_workspace(&mut self, id: WorkspaceId, name: &str) -> Result<Workspace> {
        run!(self.src, |c, ops| ops::accounts::rename_workspace(
            c, id, name
        )
        .await)
    }

    async fn create_user(
        &mut self,
        email: &str,
        name: &str,
        password: &str,
        now: Timestamp,
    ) -> Result<User> {
        let email = email.trim().to_lowercase();
        if !email.contains('@') {
            return Err(StoreError::invalid("email", "must contain @"));
        }
        let hash = secret::hash_password(password).await?;
        run!(self.src, |c, ops| ops::accounts::create_user(
            c, &email, name, &hash, now
        )
        .await)
    }

    async fn user(&mut self, id: UserId) -> Result<Option<User>> {
        run!(self.src, |c, ops| ops::accounts::user(c, id).await)
    }

    async fn user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        let email = email.trim().to_lowercase();
        run!(self.src, |c, ops| ops::accounts::user_by_email(c, &email)
            .await)
    }

    async fn user_count(&mut self) -> Result<i64> {
        run!(self.src, |c, ops| ops::accounts::user_count(c).await)
    }

    async fn create_setup_token(&mut self, now: Timestamp, ttl: Duration) -> Result<Secret> {
        let (secret, hash) = secret::new_setup_secret()?;
        let expires = now.plus(ttl);
        run!(self.src, |c, ops| ops::accounts::create_setup_token(
            c, &hash, now, expires
        )
        .await)?;
        Ok(secret)
    }

    async fn consume_setup_token(&mut self, secret: &str, now: Timestamp) -> Result<bool> {
        let hash = secret::token_hash(secret);
        run!(self.src, |c, ops| ops::accounts::consume_setup_token(
            c, &hash, now
        )
        .await)
    }

    async fn verify_login(&mut self, email: &str, password: &str) -> Result<Option<User>> {
        let email = email.trim().to_lowercase();
        let found = run!(self.src, |c, ops| ops::accounts::user_with_hash(c, &email)
            .await)?;
        match found {
            Some((user, hash)) if secret::verify_password(password, &hash).await? => Ok(Some(user)),
            _ => Ok(None),
        }
    }

    async fn set_password(&mut self, user: UserId, password: &str) -> Result<()> {
        let hash = secret::hash_password(password).await?;
        run!(self.src, |c, ops| ops::accounts::set_password_hash(
            c, user, &hash
        )
        .await)
    }

    async fn workspaces_of(&mut self, user: UserId) -> Result<Vec<(Workspace, Role)>> {
        run!(self.src, |c, ops| ops::accounts::workspaces_of(c, user)
            .await)
    }

    async fn create_session(
        &mut self,
        user: UserId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(Session, Secret)> {
        let (secret, hash) = secret::new_session_secret()?;
        let expires = now.plus(ttl);
        let session = run!(self.src, |c, ops| ops::accounts::create_session(
            c, user, &hash, now, expires
        )
        .await)?;
        Ok((session, secret))
    }

    async fn session(&mut self, secret: &str, now: Timestamp) -> Result<Option<(Session, User)>> {
        let hash = secret::token_hash(secret);
        run!(self.src, |c, ops| ops::accounts::session_by_hash(
            c, &hash, now
        )
        .await)
    }

    async fn delete_session(&mut self, secret: &str) -> Result<bool> {
        let hash = secret::token_hash(secret);
        run!(self.src, |c, ops| ops::accounts::delete_session(c, &hash)
            .await)
    }

    async fn delete_expired_sessions(&mut self, now: Timestamp) -> Result<u64> {
        run!(self.src, |c, ops| ops::accounts::delete_expired_sessions(
            c, now
        )
        .await)
    }

    async fn authenticate_token(
        &mut self,
        secret: &str,
        now: Timestamp,
    ) -> Result<Option<ApiToken>> {
        let Some(prefix) = secret::token_prefix(secret) else {
            return Ok(None);
        };
        let found = run!(self.src, |c, ops| ops::accounts::token_by_prefix(c, prefix)
            .await)?;
        let Some((mut token, hash)) = found else {
            return Ok(None);
        };
        let matches = secret::hashes_equal(&secret::token_hash(secret), &hash);
        let live = token.revoked_at.is_none() && token.expires_at.is_none_or(|e| e > now);
        if !(matches && live) {
            return Ok(None);
        }
        run!(self.src, |c, ops| ops::accounts::touch_token(
            c, token.id, now
        )
        .await)?;
        token.last_used_at = Some(now);
        Ok(Some(token))
    }
}

impl<S: Source> ScheduleStore for Global<S> {
    async fn claim_due_monitors(
        &mut self,
        node: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedMonitor>> {
        let lease = Lease::new(node, now, lease, limit);
        run!(self.src, |c, ops| ops::monitors::claim_due(c, lease).await)
    }

    async fn renew_monitor_lease(
        &mut self,
        monitor: MonitorId,
        node: &str,
        now: Timestamp,
        lease: Duration,
    ) -> Result<()> {
        let until = now.plus(lease);
        run!(self.src, |c, ops| ops::monitors::renew(
            c, monitor, node, now, until
        )
        .await)
    }

    async fn release_monitor(
        &mut self,
        monitor: MonitorId,
        node: &str,
        next_run_at: Timestamp,
    ) -> Result<()> {
        run!(self.src, |c, ops| ops::monitors::release(
            c,
            monitor,
            node,
            next_run_at
        )
        .await)
    }

    async fn release_all_monitors(&mut self, node: &str) -> Result<u64> {
        run!(self.src, |c, ops| ops::monitors::release_all(c, node).await)
    }

    async fn monitor_by_ping_token(
        &mut self,
        token: &str,
    ) -> Result<Option<(Monitor, MonitorState)>> {
        run!(self.src, |c, ops| ops::monitors::by_ping_token(c, token)
            .await)
    }
}

impl<S: Source> OutboxQueue for Global<S> {
    async fn claim_notifications(
        &mut self,
        node: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let lease = Lease::new(node, now, lease, limit);
        run!(self.src, |c, ops| ops::notify::claim(c, lease).await)
    }

    async fn mark_sent(&mut self, id: OutboxId, node: &str, now: Timestamp) -> Result<()> {
        run!(self.src, |c, ops| ops::notify::mark_sent(c, id, node, now)
            .await)
    }

    async fn schedule_retry(
        &mut self,
        id: OutboxId,
        node: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<()> {
        run!(self.src, |c, ops| ops::notify::retry(
            c,
            id,
            node,
            next_attempt_at,
            error
        )
        .await)
    }

    async fn mark_dead(
        &mut self,
        id: OutboxId,
        node: &str,
        now: Timestamp,
        error: &str,
    ) -> Result<()> {
        run!(self.src, |c, ops| ops::notify::mark_dead(
            c, id, node, now, error
        )
        .await)
    }

    async fn purge_sent(&mut self, before: Timestamp) -> Result<u64> {
        run!(self.src, |c, ops| ops::notify::purge_sent(c, before).await)
    }

    async fn outbox_counts(&mut self) -> Result<(i64, i64)> {
        run!(self.src, |c, ops| ops::notify::counts(c).await)
    }

    async fn release_notifications(&mut self, node: &str) -> Result<u64> {
        run!(self.src, |c, ops| ops::notify::release_all(c, node).await)
    }
}

impl<S: Source> Compaction for Global<S> {
    async fn compact(
        &mut self,
        now: Timestamp,
        policy: &RetentionPolicy,
    ) -> Result<CompactionReport> {
        run!(self.src, |c, ops| ops::results::compact(c, now, policy)
            .await)
    }
}

// === workspace-scoped ===

/// Members of the workspace and its API tokens.
pub trait MemberStore {
    /// Adds a user to the workspace, or changes their role.
    fn set_member(
        &mut self,
        user: UserId,
        role: Role,
        now: Timestamp,
    ) -> impl Future<Output = Result<Membership>> + Send;

    /// Removes a user from the workspace.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if they were not a member.
    fn remove_member(&mut self, user: UserId) -> impl Future<Output = Result<()>> + Send;

    /// Every member.
    fn members(&mut self) -> impl Future<Output = Result<Vec<Membership>>> + Send;

    /// A user's role here, if they are a member.
    fn role_of(&mut self, user: UserId) -> impl Future<Output = Result<Option<Role>>> + Send;

    /// Creates an API token acting with `role`; the secret is returned once.
    fn create_api_token(
        &mut self,
        name: &str,
        role: Role,
        created_by: Option<UserId>,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> impl Future<Output = Result<(ApiToken, Secret)>> + Send;

    /// Every API token (without secrets).
    fn api_tokens(&mut self) -> impl Future<Output = Result<Vec<ApiToken>>> + Send;

    /// An API token by id (without its secret).
    fn api_token(
        &mut self,
        id: ApiTokenId,
    ) -> impl Future<Output = Result<Option<ApiToken>>> + Send;

    /// Revokes a token.
    fn revoke_api_token(
        &mut self,
        id: ApiTokenId,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Monitors and their running state.
pub trait MonitorStore {
    /// Creates a monitor, due at once. A heartbeat monitor gets its ping token and its
    /// heartbeat state, and is due at its first deadline instead.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty name, an empty key or a parent that is the
    /// monitor itself; [`StoreError::NotFound`] for a parent not in the workspace;
    /// [`StoreError::Conflict`] for a key already used in the workspace.
    fn create_monitor(
        &mut self,
        new: &NewMonitor,
        now: Timestamp,
    ) -> impl Future<Output = Result<Monitor>> + Send;

    /// A monitor by id.
    fn monitor(&mut self, id: MonitorId) -> impl Future<Output = Result<Option<Monitor>>> + Send;

    /// Every monitor, by id.
    fn monitors(&mut self) -> impl Future<Output = Result<Vec<Monitor>>> + Send;

    /// A monitor by its configuration key.
    fn monitor_by_key(&mut self, key: &str)
    -> impl Future<Output = Result<Option<Monitor>>> + Send;

    /// Replaces a monitor's definition (its ping token is kept; a monitor that becomes a
    /// heartbeat gets one, and its heartbeat state starts at `now`).
    ///
    /// # Errors
    /// As [`MonitorStore::create_monitor`], and [`StoreError::Invalid`] for a parent chain
    /// that would loop back to the monitor.
    fn update_monitor(
        &mut self,
        id: MonitorId,
        new: &NewMonitor,
        now: Timestamp,
    ) -> impl Future<Output = Result<Monitor>> + Send;

    /// Pauses or resumes a monitor. Resuming makes a check due at once; a paused heartbeat
    /// that is resumed counts from `now`, as if just created (its next deadline is one
    /// period plus grace away).
    fn set_paused(
        &mut self,
        id: MonitorId,
        paused: bool,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes a monitor with its results and rollups.
    fn delete_monitor(&mut self, id: MonitorId) -> impl Future<Output = Result<()>> + Send;

    /// A monitor's running state.
    fn monitor_state(
        &mut self,
        id: MonitorId,
    ) -> impl Future<Output = Result<Option<MonitorState>>> + Send;

    /// A monitor's running state, locked until the transaction ends: call it on a
    /// [`Tx`](crate::Tx) scope, then [`MonitorStore::update_monitor_state`] and commit.
    /// Two transactions doing this on one monitor run one after the other (PostgreSQL
    /// `FOR UPDATE`; SQLite holds its write lock from the start of the transaction).
    fn monitor_state_for_update(
        &mut self,
        id: MonitorId,
    ) -> impl Future<Output = Result<Option<MonitorState>>> + Send;

    /// The running state of every monitor of the workspace, by monitor id.
    fn monitor_states(&mut self) -> impl Future<Output = Result<Vec<MonitorState>>> + Send;

    /// Writes the state core decided after a result.
    fn update_monitor_state(
        &mut self,
        id: MonitorId,
        update: &StateUpdate,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Replaces the notification channels of a monitor.
    fn set_monitor_channels(
        &mut self,
        id: MonitorId,
        channels: &[ChannelId],
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Check results and their rollups.
pub trait ResultStore {
    /// Writes a batch of results in one transaction; returns how many.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if any monitor is not in the workspace (nothing is written).
    fn insert_results(
        &mut self,
        batch: &[NewCheckResult],
    ) -> impl Future<Output = Result<u64>> + Send;

    /// A page of one monitor's results in a time range.
    fn results(
        &mut self,
        query: &ResultQuery,
    ) -> impl Future<Output = Result<Page<CheckResult>>> + Send;

    /// The newest result of each monitor that has one.
    fn latest_results(&mut self) -> impl Future<Output = Result<Vec<CheckResult>>> + Send;

    /// Hourly rollups of a monitor with `bucket_start` in `[from, to)`.
    fn hourly_rollups(
        &mut self,
        monitor: MonitorId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<Rollup>>> + Send;

    /// Daily rollups of a monitor with `bucket_start` in `[from, to)`.
    fn daily_rollups(
        &mut self,
        monitor: MonitorId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<Rollup>>> + Send;

    /// Daily up/degraded/down counts of many monitors (an uptime bar), one query.
    fn uptime_days(
        &mut self,
        monitors: &[MonitorId],
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<DayUptime>>> + Send;
}

/// Incidents and their timelines.
pub trait IncidentStore {
    /// Opens an incident with its first update. Manual incidents are published at once;
    /// automatic ones wait for review (pages that hold automatic incidents show them only
    /// after [`publish_incident`](Self::publish_incident)). An automatic incident affects every
    /// component that shows its monitor.
    fn open_incident(&mut self, new: &NewIncident)
    -> impl Future<Output = Result<Incident>> + Send;

    /// Opens an incident that affects `components` with their statuses (recorded on the
    /// first update too).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if a component or the monitor is not in the workspace.
    fn open_incident_affecting(
        &mut self,
        new: &NewIncident,
        components: &[AffectedComponent],
    ) -> impl Future<Output = Result<Incident>> + Send;

    /// Posts an update, moving the incident to its status (resolved sets `resolved_at`) and
    /// setting the status of the components it lists in the incident (adding them if they
    /// were not affected); the changes are kept on the update.
    fn post_incident_update(
        &mut self,
        id: IncidentId,
        update: &NewIncidentUpdate,
        at: Timestamp,
    ) -> impl Future<Output = Result<IncidentUpdate>> + Send;

    /// Changes an incident's title and impact.
    fn edit_incident(
        &mut self,
        id: IncidentId,
        title: &str,
        impact: Impact,
        at: Timestamp,
    ) -> impl Future<Output = Result<Incident>> + Send;

    /// Releases an incident for pages that hold automatic incidents.
    fn publish_incident(
        &mut self,
        id: IncidentId,
        at: Timestamp,
    ) -> impl Future<Output = Result<Incident>> + Send;

    /// The components an incident affects with their status in it, by component id.
    fn incident_component_statuses(
        &mut self,
        id: IncidentId,
    ) -> impl Future<Output = Result<Vec<AffectedComponent>>> + Send;

    /// The incidents a page shows, newest first, with their updates (newest first, each
    /// with its component changes) and the page's components they affect (page order).
    ///
    /// An incident is on a page when it affects one of the page's components, when it is
    /// automatic and a component of the page shows its monitor, or when it is manual and
    /// affects no component at all (then it is on every page of the workspace). A page that
    /// holds automatic incidents shows only published ones. A constant number of queries.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the page is not in the workspace.
    fn page_incidents(
        &mut self,
        page: StatusPageId,
        query: &PageIncidentQuery,
    ) -> impl Future<Output = Result<Vec<IncidentDetail>>> + Send;

    /// An incident by id.
    fn incident(&mut self, id: IncidentId)
    -> impl Future<Output = Result<Option<Incident>>> + Send;

    /// Incidents, newest first; `open_only` leaves out resolved ones.
    fn incidents(
        &mut self,
        open_only: bool,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Incident>>> + Send;

    /// The unresolved incident of a monitor, if any.
    fn open_incident_for_monitor(
        &mut self,
        monitor: MonitorId,
    ) -> impl Future<Output = Result<Option<Incident>>> + Send;

    /// Posts an update, moving the incident to `status` (resolved sets `resolved_at`).
    fn add_incident_update(
        &mut self,
        id: IncidentId,
        status: IncidentStatus,
        message: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<IncidentUpdate>> + Send;

    /// Resolves an incident: sets `resolved_at` (kept if already resolved) and the status,
    /// and posts `message` as the resolving update.
    fn resolve_incident(
        &mut self,
        id: IncidentId,
        at: Timestamp,
        message: &str,
    ) -> impl Future<Output = Result<IncidentUpdate>> + Send;

    /// A monitor's incidents, newest first.
    fn incidents_for_monitor(
        &mut self,
        monitor: MonitorId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Incident>>> + Send;

    /// An incident's updates, oldest first, each with its component changes.
    fn incident_updates(
        &mut self,
        id: IncidentId,
    ) -> impl Future<Output = Result<Vec<IncidentUpdate>>> + Send;

    /// Replaces the status-page components an incident affects.
    fn set_incident_components(
        &mut self,
        id: IncidentId,
        components: &[ComponentId],
    ) -> impl Future<Output = Result<()>> + Send;

    /// The components an incident affects.
    fn incident_components(
        &mut self,
        id: IncidentId,
    ) -> impl Future<Output = Result<Vec<ComponentId>>> + Send;
}

/// Notification channels and the workspace's side of the outbox.
pub trait NotificationStore {
    /// Creates a channel.
    fn create_channel(
        &mut self,
        new: &NewChannel,
        now: Timestamp,
    ) -> impl Future<Output = Result<Channel>> + Send;

    /// Every channel.
    fn channels(&mut self) -> impl Future<Output = Result<Vec<Channel>>> + Send;

    /// A channel by id.
    fn channel(&mut self, id: ChannelId) -> impl Future<Output = Result<Option<Channel>>> + Send;

    /// A channel by its configuration key.
    fn channel_by_key(&mut self, key: &str)
    -> impl Future<Output = Result<Option<Channel>>> + Send;

    /// Replaces a channel's settings; an enabled channel loses its `disabled_reason`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Conflict`] for a key already used.
    fn update_channel(
        &mut self,
        id: ChannelId,
        new: &NewChannel,
        now: Timestamp,
    ) -> impl Future<Output = Result<Channel>> + Send;

    /// Enables or disables a channel, recording why (`reason` is cleared when enabling).
    fn set_channel_enabled(
        &mut self,
        id: ChannelId,
        enabled: bool,
        reason: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The monitors that notify through a channel.
    fn monitors_for_channel(
        &mut self,
        id: ChannelId,
    ) -> impl Future<Output = Result<Vec<MonitorId>>> + Send;

    /// The channels of a monitor.
    fn channels_for_monitor(
        &mut self,
        monitor: MonitorId,
    ) -> impl Future<Output = Result<Vec<Channel>>> + Send;

    /// Deletes a channel (and its pending notifications).
    fn delete_channel(&mut self, id: ChannelId) -> impl Future<Output = Result<()>> + Send;

    /// Puts a notification in the outbox. Call it on a [`Tx`](crate::Tx) scope to commit it
    /// with the change that caused it.
    fn enqueue_notification(
        &mut self,
        new: &NewNotification,
        now: Timestamp,
    ) -> impl Future<Output = Result<Notification>> + Send;

    /// An outbox row by id.
    fn notification(
        &mut self,
        id: OutboxId,
    ) -> impl Future<Output = Result<Option<Notification>>> + Send;

    /// Outbox rows, newest first, optionally of one state.
    fn notifications(
        &mut self,
        state: Option<OutboxState>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Notification>>> + Send;

    /// Dead notifications, most recent first.
    fn dead_notifications(
        &mut self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Notification>>> + Send;

    /// Puts a dead notification back in the queue, due at `now`, with a fresh attempt count.
    fn replay_notification(
        &mut self,
        id: OutboxId,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Puts a notification for a status-page subscriber in the outbox (call it on a
    /// [`Tx`](crate::Tx) scope to commit it with the change that caused it).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the workspace has no such subscriber.
    fn enqueue_subscriber_notification(
        &mut self,
        new: &NewSubscriberNotification,
        now: Timestamp,
    ) -> impl Future<Output = Result<Notification>> + Send;

    /// The confirmed subscribers of every page that shows `incident`, ascending: pages with
    /// one of its affected components, pages showing its monitor (automatic incidents), every
    /// page of the workspace for a manual incident without components; a page holding
    /// automatic incidents for review counts only once the incident is published.
    fn incident_subscribers(
        &mut self,
        incident: IncidentId,
    ) -> impl Future<Output = Result<Vec<SubscriberId>>> + Send;

    /// A status-page subscriber by id, confirmed or not (the deliverer's view of an outbox
    /// row's target).
    fn outbox_subscriber(
        &mut self,
        id: SubscriberId,
    ) -> impl Future<Output = Result<Option<Subscriber>>> + Send;
}

impl<S: Source> MemberStore for Scoped<S> {
    async fn set_member(&mut self, user: UserId, role: Role, now: Timestamp) -> Result<Membership> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::accounts::set_member(
            c, ws, user, role, now
        )
        .await)
    }

    async fn remove_member(&mut self, user: UserId) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::accounts::remove_member(c, ws, user)
            .await)
    }

    async fn members(&mut self) -> Result<Vec<Membership>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::accounts::members(c, ws).await)
    }

    async fn role_of(&mut self, user: UserId) -> Result<Option<Role>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::accounts::role_of(c, ws, user).await)
    }

    async fn create_api_token(
        &mut self,
        name: &str,
        role: Role,
        created_by: Option<UserId>,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<(ApiToken, Secret)> {
        let ws = self.ws;
        let (secret, prefix, hash) = secret::new_token()?;
        let token = run!(self.src, |c, ops| ops::accounts::create_token(
            c, ws, name, &prefix, &hash, role, created_by, now, expires_at
        )
        .await)?;
        Ok((token, secret))
    }

    async fn api_tokens(&mut self) -> Result<Vec<ApiToken>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::accounts::tokens(c, ws).await)
    }

    async fn api_token(&mut self, id: ApiTokenId) -> Result<Option<ApiToken>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::accounts::token(c, ws, id).await)
    }

    async fn revoke_api_token(&mut self, id: ApiTokenId, now: Timestamp) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::accounts::revoke_token(
            c, ws, id, now
        )
        .await)
    }
}

impl<S: Source> MonitorStore for Scoped<S> {
    async fn create_monitor(&mut self, new: &NewMonitor, now: Timestamp) -> Result<Monitor> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::create(c, ws, new, now)
            .await)
    }

    async fn monitor(&mut self, id: MonitorId) -> Result<Option<Monitor>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::get(c, ws, id).await)
    }

    async fn monitors(&mut self) -> Result<Vec<Monitor>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::list(c, ws).await)
    }

    async fn monitor_by_key(&mut self, key: &str) -> Result<Option<Monitor>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::by_key(c, ws, key).await)
    }

    async fn update_monitor(
        &mut self,
        id: MonitorId,
        new: &NewMonitor,
        now: Timestamp,
    ) -> Result<Monitor> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::update(
            c, ws, id, new, now
        )
        .await)
    }

    async fn set_paused(&mut self, id: MonitorId, paused: bool, now: Timestamp) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::set_paused(
            c, ws, id, paused, now
        )
        .await)
    }

    async fn delete_monitor(&mut self, id: MonitorId) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::delete(c, ws, id).await)
    }

    async fn monitor_state(&mut self, id: MonitorId) -> Result<Option<MonitorState>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::state(c, ws, id).await)
    }

    async fn monitor_state_for_update(&mut self, id: MonitorId) -> Result<Option<MonitorState>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::state_for_update(
            c, ws, id
        )
        .await)
    }

    async fn monitor_states(&mut self) -> Result<Vec<MonitorState>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::states(c, ws).await)
    }

    async fn update_monitor_state(&mut self, id: MonitorId, update: &StateUpdate) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::update_state(
            c, ws, id, update
        )
        .await)
    }

    async fn set_monitor_channels(&mut self, id: MonitorId, channels: &[ChannelId]) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::monitors::set_channels(
            c, ws, id, channels
        )
        .await)
    }
}

impl<S: Source> ResultStore for Scoped<S> {
    async fn insert_results(&mut self, batch: &[NewCheckResult]) -> Result<u64> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::results::insert(c, ws, batch).await)
    }

    async fn results(&mut self, query: &ResultQuery) -> Result<Page<CheckResult>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::results::query(c, ws, query).await)
    }

    async fn latest_results(&mut self) -> Result<Vec<CheckResult>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::results::latest(c, ws).await)
    }

    async fn hourly_rollups(
        &mut self,
        monitor: MonitorId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Rollup>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::results::rollups(
            c, ws, false, monitor, from, to
        )
        .await)
    }

    async fn daily_rollups(
        &mut self,
        monitor: MonitorId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Rollup>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::results::rollups(
            c, ws, true, monitor, from, to
        )
        .await)
    }

    async fn uptime_days(
        &mut self,
        monitors: &[MonitorId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DayUptime>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::results::uptime_days(
            c, ws, monitors, from, to
        )
        .await)
    }
}

impl<S: Source> IncidentStore for Scoped<S> {
    async fn open_incident(&mut self, new: &NewIncident) -> Result<Incident> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::open(c, ws, new, &[])
            .await)
    }

    async fn open_incident_affecting(
        &mut self,
        new: &NewIncident,
        components: &[AffectedComponent],
    ) -> Result<Incident> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::open(
            c, ws, new, components
        )
        .await)
    }

    async fn post_incident_update(
        &mut self,
        id: IncidentId,
        update: &NewIncidentUpdate,
        at: Timestamp,
    ) -> Result<IncidentUpdate> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::post_update(
            c, ws, id, update, at
        )
        .await)
    }

    async fn edit_incident(
        &mut self,
        id: IncidentId,
        title: &str,
        impact: Impact,
        at: Timestamp,
    ) -> Result<Incident> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::edit(
            c, ws, id, title, impact, at
        )
        .await)
    }

    async fn publish_incident(&mut self, id: IncidentId, at: Timestamp) -> Result<Incident> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::publish(c, ws, id, at)
            .await)
    }

    async fn incident_component_statuses(
        &mut self,
        id: IncidentId,
    ) -> Result<Vec<AffectedComponent>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::component_statuses(
            c, ws, id
        )
        .await)
    }

    async fn page_incidents(
        &mut self,
        page: StatusPageId,
        query: &PageIncidentQuery,
    ) -> Result<Vec<IncidentDetail>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::for_page(
            c, ws, page, query
        )
        .await)
    }

    async fn incident(&mut self, id: IncidentId) -> Result<Option<Incident>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::get(c, ws, id).await)
    }

    async fn incidents(&mut self, open_only: bool, limit: u32) -> Result<Vec<Incident>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::list(
            c, ws, open_only, limit
        )
        .await)
    }

    async fn open_incident_for_monitor(&mut self, monitor: MonitorId) -> Result<Option<Incident>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::open_for_monitor(
            c, ws, monitor
        )
        .await)
    }

    async fn add_incident_update(
        &mut self,
        id: IncidentId,
        status: IncidentStatus,
        message: &str,
        at: Timestamp,
    ) -> Result<IncidentUpdate> {
        let ws = self.ws;
        let update = NewIncidentUpdate {
            status,
            message: message.to_owned(),
            components: Vec::new(),
        };
        run!(self.src, |c, ops| ops::incidents::post_update(
            c, ws, id, &update, at
        )
        .await)
    }

    async fn resolve_incident(
        &mut self,
        id: IncidentId,
        at: Timestamp,
        message: &str,
    ) -> Result<IncidentUpdate> {
        let ws = self.ws;
        let update = NewIncidentUpdate {
            status: IncidentStatus::Resolved,
            message: message.to_owned(),
            components: Vec::new(),
        };
        run!(self.src, |c, ops| ops::incidents::post_update(
            c, ws, id, &update, at
        )
        .await)
    }

    async fn incidents_for_monitor(
        &mut self,
        monitor: MonitorId,
        limit: u32,
    ) -> Result<Vec<Incident>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::for_monitor(
            c, ws, monitor, limit
        )
        .await)
    }

    async fn incident_updates(&mut self, id: IncidentId) -> Result<Vec<IncidentUpdate>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::updates(c, ws, id).await)
    }

    async fn set_incident_components(
        &mut self,
        id: IncidentId,
        components: &[ComponentId],
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::set_components(
            c, ws, id, components
        )
        .await)
    }

    async fn incident_components(&mut self, id: IncidentId) -> Result<Vec<ComponentId>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::incidents::components(c, ws, id)
            .await)
    }
}

impl<S: Source> NotificationStore for Scoped<S> {
    async fn create_channel(&mut self, new: &NewChannel, now: Timestamp) -> Result<Channel> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::create_channel(
            c, ws, new, now
        )
        .await)
    }

    async fn channels(&mut self) -> Result<Vec<Channel>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::channels(c, ws).await)
    }

    async fn channels_for_monitor(&mut self, monitor: MonitorId) -> Result<Vec<Channel>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::channels_for_monitor(
            c, ws, monitor
        )
        .await)
    }

    async fn delete_channel(&mut self, id: ChannelId) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::delete_channel(c, ws, id)
            .await)
    }

    async fn enqueue_notification(
        &mut self,
        new: &NewNotification,
        now: Timestamp,
    ) -> Result<Notification> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::enqueue(c, ws, new, now)
            .await)
    }

    async fn notification(&mut self, id: OutboxId) -> Result<Option<Notification>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::get(c, ws, id).await)
    }

    async fn enqueue_subscriber_notification(
        &mut self,
        new: &NewSubscriberNotification,
        now: Timestamp,
    ) -> Result<Notification> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::enqueue_for_subscriber(
            c, ws, new, now
        )
        .await)
    }

    async fn incident_subscribers(&mut self, incident: IncidentId) -> Result<Vec<SubscriberId>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::incident_subscribers(
            c, ws, incident
        )
        .await)
    }

    async fn outbox_subscriber(&mut self, id: SubscriberId) -> Result<Option<Subscriber>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::subscriber(c, ws, id).await)
    }

    async fn notifications(
        &mut self,
        state: Option<OutboxState>,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::list(c, ws, state, limit)
            .await)
    }

    async fn channel(&mut self, id: ChannelId) -> Result<Option<Channel>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::channel(c, ws, id).await)
    }

    async fn channel_by_key(&mut self, key: &str) -> Result<Option<Channel>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::channel_by_key(c, ws, key)
            .await)
    }

    async fn update_channel(
        &mut self,
        id: ChannelId,
        new: &NewChannel,
        _now: Timestamp,
    ) -> Result<Channel> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::update_channel(
            c, ws, id, new
        )
        .await)
    }

    async fn set_channel_enabled(
        &mut self,
        id: ChannelId,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::set_channel_enabled(
            c, ws, id, enabled, reason
        )
        .await)
    }

    async fn monitors_for_channel(&mut self, id: ChannelId) -> Result<Vec<MonitorId>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::monitors_for_channel(
            c, ws, id
        )
        .await)
    }

    async fn dead_notifications(&mut self, limit: u32) -> Result<Vec<Notification>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::dead(c, ws, limit).await)
    }

    async fn replay_notification(&mut self, id: OutboxId, now: Timestamp) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::notify::replay(c, ws, id, now).await)
    }
}

/// Status pages and what is on them.
pub trait StatusPageStore {
    /// Creates a page (open: no password).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the slug or a domain is taken (by any workspace);
    /// [`StoreError::Invalid`] for an empty slug or title, a bad logo or footer URL, domain
    /// or time zone.
    fn create_status_page(
        &mut self,
        new: &NewStatusPage,
        now: Timestamp,
    ) -> impl Future<Output = Result<StatusPage>> + Send;

    /// Replaces a page's settings and domains (its password stays).
    ///
    /// # Errors
    /// As [`create_status_page`](Self::create_status_page), and [`StoreError::NotFound`].
    fn update_status_page(
        &mut self,
        id: StatusPageId,
        new: &NewStatusPage,
        now: Timestamp,
    ) -> impl Future<Output = Result<StatusPage>> + Send;

    /// Sets the page's password (argon2id; `None` opens the page). Every new password gets a
    /// new, later `password_set_at`.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty password; [`StoreError::NotFound`].
    fn set_status_page_password(
        &mut self,
        id: StatusPageId,
        password: Option<&str>,
        now: Timestamp,
    ) -> impl Future<Output = Result<StatusPage>> + Send;

    /// A page by id.
    fn status_page(
        &mut self,
        id: StatusPageId,
    ) -> impl Future<Output = Result<Option<StatusPage>>> + Send;

    /// Every page.
    fn status_pages(&mut self) -> impl Future<Output = Result<Vec<StatusPage>>> + Send;

    /// Deletes a page with its groups, components and subscribers.
    fn delete_status_page(&mut self, id: StatusPageId) -> impl Future<Output = Result<()>> + Send;

    /// Adds a component group to a page.
    fn create_component_group(
        &mut self,
        page: StatusPageId,
        name: &str,
        position: i64,
        now: Timestamp,
    ) -> impl Future<Output = Result<ComponentGroup>> + Send;

    /// A group by id.
    fn component_group(
        &mut self,
        id: ComponentGroupId,
    ) -> impl Future<Output = Result<Option<ComponentGroup>>> + Send;

    /// Renames a group.
    fn rename_component_group(
        &mut self,
        id: ComponentGroupId,
        name: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<ComponentGroup>> + Send;

    /// Orders a page's groups as listed (groups not listed keep their position).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if a group is not on the page; nothing changes then.
    fn reorder_component_groups(
        &mut self,
        page: StatusPageId,
        order: &[ComponentGroupId],
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// A page's groups in order.
    fn component_groups(
        &mut self,
        page: StatusPageId,
    ) -> impl Future<Output = Result<Vec<ComponentGroup>>> + Send;

    /// Deletes a group (its components stay, ungrouped).
    fn delete_component_group(
        &mut self,
        id: ComponentGroupId,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Adds a component (status operational); page, group and monitor must be in the
    /// workspace, the group on the page.
    fn create_component(
        &mut self,
        new: &NewComponent,
        now: Timestamp,
    ) -> impl Future<Output = Result<Component>> + Send;

    /// A page's components in order.
    fn components(
        &mut self,
        page: StatusPageId,
    ) -> impl Future<Output = Result<Vec<Component>>> + Send;

    /// A component by id.
    fn component(
        &mut self,
        id: ComponentId,
    ) -> impl Future<Output = Result<Option<Component>>> + Send;

    /// A page's component by its configuration key.
    fn component_by_key(
        &mut self,
        page: StatusPageId,
        key: &str,
    ) -> impl Future<Output = Result<Option<Component>>> + Send;

    /// Replaces a component's group, monitor, key, name, description, position and display
    /// flags (its page and status stay).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if it, its group or its monitor is not in the workspace;
    /// [`StoreError::Conflict`] for a key already used on the page.
    fn update_component(
        &mut self,
        id: ComponentId,
        new: &NewComponent,
        now: Timestamp,
    ) -> impl Future<Output = Result<Component>> + Send;

    /// Sets a component's own status (what a manual component shows).
    fn set_component_status(
        &mut self,
        id: ComponentId,
        status: ComponentStatus,
        now: Timestamp,
    ) -> impl Future<Output = Result<Component>> + Send;

    /// Orders a page's components as listed (components not listed keep their position).
    fn reorder_components(
        &mut self,
        page: StatusPageId,
        order: &[ComponentId],
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes a component.
    fn delete_component(
        &mut self,
        id: ComponentId,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Schedules a maintenance window (one-off or recurring) on some components.
    fn create_maintenance(
        &mut self,
        new: &NewMaintenance,
        now: Timestamp,
    ) -> impl Future<Output = Result<Maintenance>> + Send;

    /// Windows that end after `after`, by start.
    fn maintenances(
        &mut self,
        after: Timestamp,
    ) -> impl Future<Output = Result<Vec<Maintenance>>> + Send;

    /// A window by id.
    fn maintenance(
        &mut self,
        id: MaintenanceId,
    ) -> impl Future<Output = Result<Option<Maintenance>>> + Send;

    /// Replaces a window's settings and links.
    fn update_maintenance(
        &mut self,
        id: MaintenanceId,
        new: &NewMaintenance,
    ) -> impl Future<Output = Result<Maintenance>> + Send;

    /// The components a window covers.
    fn maintenance_components(
        &mut self,
        id: MaintenanceId,
    ) -> impl Future<Output = Result<Vec<ComponentId>>> + Send;

    /// The monitors a window is linked to directly.
    fn maintenance_monitors(
        &mut self,
        id: MaintenanceId,
    ) -> impl Future<Output = Result<Vec<MonitorId>>> + Send;

    /// The windows that cover a monitor: linked to it directly or through a component that
    /// shows it; by start. Past windows are included (the caller decides which are active).
    fn maintenances_for_monitor(
        &mut self,
        monitor: MonitorId,
    ) -> impl Future<Output = Result<Vec<Maintenance>>> + Send;

    /// Windows that end after `after` and cover the page (linked to one of its components,
    /// or directly to a monitor that one of its components shows), by start. Their
    /// `components` list every linked component, also those of other pages.
    fn maintenances_for_page(
        &mut self,
        page: StatusPageId,
        after: Timestamp,
    ) -> impl Future<Output = Result<Vec<Maintenance>>> + Send;

    /// Deletes a window.
    fn delete_maintenance(&mut self, id: MaintenanceId) -> impl Future<Output = Result<()>> + Send;

    /// Subscribes an email address or webhook to a page (unconfirmed), with a new random
    /// link token.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if already subscribed.
    fn add_subscriber(
        &mut self,
        page: StatusPageId,
        kind: SubscriberKind,
        target: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Subscriber>> + Send;

    /// Marks a subscriber confirmed (`confirmed_at` is kept from the first time).
    fn confirm_subscriber(
        &mut self,
        id: SubscriberId,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// A page's subscribers.
    fn subscribers(
        &mut self,
        page: StatusPageId,
    ) -> impl Future<Output = Result<Vec<Subscriber>>> + Send;

    /// Removes a subscriber.
    fn remove_subscriber(&mut self, id: SubscriberId) -> impl Future<Output = Result<()>> + Send;
}

/// The global side of status pages: finding a page for a public request (by slug or custom
/// domain), checking its password, and finding a subscriber by the token in a link.
pub trait PageDirectory {
    /// The page with this slug (any workspace).
    fn status_page_by_slug(
        &mut self,
        slug: &str,
    ) -> impl Future<Output = Result<Option<StatusPage>>> + Send;

    /// The page served at this custom domain (compared lowercase, a trailing dot ignored;
    /// strip any port first).
    fn status_page_by_domain(
        &mut self,
        domain: &str,
    ) -> impl Future<Output = Result<Option<StatusPage>>> + Send;

    /// Whether `password` opens the page (argon2id, off the async threads); false for an
    /// open or unknown page.
    fn verify_status_page_password(
        &mut self,
        page: StatusPageId,
        password: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The subscriber whose confirm/unsubscribe link carries this token.
    fn subscriber_by_token(
        &mut self,
        token: &str,
    ) -> impl Future<Output = Result<Option<Subscriber>>> + Send;
}

impl<S: Source> PageDirectory for Global<S> {
    async fn status_page_by_slug(&mut self, slug: &str) -> Result<Option<StatusPage>> {
        run!(self.src, |c, ops| ops::pages::page_by_slug(c, slug).await)
    }

    async fn status_page_by_domain(&mut self, domain: &str) -> Result<Option<StatusPage>> {
        run!(self.src, |c, ops| ops::pages::page_by_domain(c, domain)
            .await)
    }

    async fn verify_status_page_password(
        &mut self,
        page: StatusPageId,
        password: &str,
    ) -> Result<bool> {
        run!(self.src, |c, ops| ops::pages::verify_page_password(
            c, page, password
        )
        .await)
    }

    async fn subscriber_by_token(&mut self, token: &str) -> Result<Option<Subscriber>> {
        run!(self.src, |c, ops| ops::pages::subscriber_by_token(c, token)
            .await)
    }
}

/// Error-tracking and cron ingest owned by a workspace.
pub trait IngestStore {
    /// Creates a project.
    fn create_project(
        &mut self,
        slug: &str,
        name: &str,
        platform: Option<&str>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Project>> + Send;

    /// Every project.
    fn projects(&mut self) -> impl Future<Output = Result<Vec<Project>>> + Send;

    /// A project by id.
    fn project(&mut self, id: ProjectId) -> impl Future<Output = Result<Option<Project>>> + Send;

    /// Replaces the notification channels of a project.
    fn set_project_channels(
        &mut self,
        project: ProjectId,
        channels: &[ChannelId],
    ) -> impl Future<Output = Result<()>> + Send;

    /// The notification channels of a project.
    fn project_channels(
        &mut self,
        project: ProjectId,
    ) -> impl Future<Output = Result<Vec<ChannelId>>> + Send;

    /// Creates an active DSN key with a random public key.
    fn create_dsn_key(
        &mut self,
        project: ProjectId,
        label: &str,
        rate_limit_per_minute: Option<i64>,
        now: Timestamp,
    ) -> impl Future<Output = Result<DsnKey>> + Send;

    /// A project's DSN keys.
    fn dsn_keys(&mut self, project: ProjectId) -> impl Future<Output = Result<Vec<DsnKey>>> + Send;

    /// Enables or disables a key and sets its rate limit.
    fn update_dsn_key(
        &mut self,
        id: DsnKeyId,
        status: KeyStatus,
        rate_limit_per_minute: Option<i64>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records a received envelope's manifest: it joins the processing queue.
    fn record_envelope(
        &mut self,
        new: &NewEnvelope,
    ) -> impl Future<Output = Result<Envelope>> + Send;

    /// An envelope manifest by id.
    fn envelope(&mut self, id: EnvelopeId)
    -> impl Future<Output = Result<Option<Envelope>>> + Send;

    /// Stores an event; `None` if the project already has one with this event id.
    fn insert_event(
        &mut self,
        new: &NewEvent,
    ) -> impl Future<Output = Result<Option<Event>>> + Send;

    /// An event by its SDK event id.
    fn event(
        &mut self,
        project: ProjectId,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<Event>>> + Send;

    /// An issue's latest events.
    fn events_for_issue(
        &mut self,
        issue: IssueId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;

    /// Records an event on its issue: creates the issue, counts the event, or reopens a
    /// resolved issue as regressed.
    fn record_sighting(
        &mut self,
        sighting: &IssueSighting,
    ) -> impl Future<Output = Result<IssueOutcome>> + Send;

    /// An issue by id.
    fn issue(&mut self, id: IssueId) -> impl Future<Output = Result<Option<Issue>>> + Send;

    /// A project's issues, most recently seen first, optionally of one status.
    fn issues(
        &mut self,
        project: ProjectId,
        status: Option<IssueStatus>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Issue>>> + Send;

    /// Resolves, ignores or reopens an issue.
    fn set_issue_status(
        &mut self,
        id: IssueId,
        status: IssueStatus,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Stores performance transactions in one transaction.
    fn insert_transactions(
        &mut self,
        batch: &[NewTransaction],
    ) -> impl Future<Output = Result<u64>> + Send;

    /// A project's transactions in `[from, to)`.
    fn transactions(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<NewTransaction>>> + Send;

    /// Adds session counts to their release/environment/bucket row.
    fn add_session_counts(
        &mut self,
        counts: &SessionCounts,
    ) -> impl Future<Output = Result<()>> + Send;

    /// A project's session rollups with buckets in `[from, to)`.
    fn session_counts(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<SessionCounts>>> + Send;

    /// Stores a cron check-in.
    fn insert_check_in(&mut self, new: &NewCheckIn)
    -> impl Future<Output = Result<CheckIn>> + Send;

    /// A cron monitor's latest check-ins.
    fn check_ins(
        &mut self,
        project: ProjectId,
        monitor_slug: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<CheckIn>>> + Send;

    /// Stores an attachment reference.
    fn insert_attachment(
        &mut self,
        new: &NewAttachment,
        now: Timestamp,
    ) -> impl Future<Output = Result<Attachment>> + Send;

    /// An event's attachments.
    fn attachments(
        &mut self,
        project: ProjectId,
        event_id: &str,
    ) -> impl Future<Output = Result<Vec<Attachment>>> + Send;

    /// Stores a batch of events (each with its own project); returns each one's row id in
    /// input order, `None` for a duplicate event id (already stored, or earlier in the batch).
    fn insert_events(
        &mut self,
        batch: &[NewEvent],
    ) -> impl Future<Output = Result<Vec<Option<EventRowId>>>> + Send;

    /// Points stored events at their issue.
    fn assign_issue(
        &mut self,
        issue: IssueId,
        events: &[EventRowId],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Adds distinct user hashes to an issue; returns how many were new (and counted on
    /// `user_count`).
    fn add_issue_users(
        &mut self,
        issue: IssueId,
        users: &[i64],
    ) -> impl Future<Output = Result<i64>> + Send;

    /// How many events of an issue happened at or after `since`.
    fn issue_events_since(
        &mut self,
        issue: IssueId,
        since: Timestamp,
    ) -> impl Future<Output = Result<i64>> + Send;

    /// Notes a frequency alert on an issue unless one was noted at or after `quiet_since`;
    /// `true` when this call noted it.
    fn claim_frequency_alert(
        &mut self,
        issue: IssueId,
        now: Timestamp,
        quiet_since: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// A project's processing settings (retention, frequency alerts).
    fn project_processing(
        &mut self,
        project: ProjectId,
    ) -> impl Future<Output = Result<Option<ProjectProcessing>>> + Send;

    /// Replaces a project's processing settings.
    fn set_project_processing(
        &mut self,
        project: ProjectId,
        settings: &ProjectProcessing,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Adds distinct session users to their hourly buckets (keeping each one's worst status).
    fn add_session_users(
        &mut self,
        batch: &[SessionUser],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Distinct and crashed session users per release and environment, buckets in
    /// `[from, to)`.
    fn session_user_counts(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<SessionUserCounts>>> + Send;

    /// Adds client-report counts.
    fn add_client_reports(
        &mut self,
        batch: &[ClientReportCount],
    ) -> impl Future<Output = Result<()>> + Send;

    /// A project's client-report counts with buckets in `[from, to)`.
    fn client_reports(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<ClientReportCount>>> + Send;

    /// Stores user feedback.
    fn insert_feedback(
        &mut self,
        new: &NewFeedback,
    ) -> impl Future<Output = Result<Feedback>> + Send;

    /// A project's feedback, newest first; with `event_id`, only feedback about that event.
    fn feedback(
        &mut self,
        project: ProjectId,
        event_id: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Feedback>>> + Send;

    /// The cron monitor of a project's slug.
    fn cron_monitor(
        &mut self,
        project: ProjectId,
        slug: &str,
    ) -> impl Future<Output = Result<Option<CronMonitor>>> + Send;

    /// Links a project's cron slug to a heartbeat monitor, or updates the link.
    fn upsert_cron_monitor(
        &mut self,
        project: ProjectId,
        slug: &str,
        monitor: MonitorId,
        config: Option<&str>,
        now: Timestamp,
    ) -> impl Future<Output = Result<CronMonitor>> + Send;
}

/// The global side of ingest: key lookup for authentication, public page lookup, and the
/// envelope processing queue.
pub trait IngestQueue {
    /// The DSN key with this public key (any workspace), for authenticating SDK requests.
    fn dsn_key_by_public_key(
        &mut self,
        public_key: &str,
    ) -> impl Future<Output = Result<Option<DsnKey>>> + Send;

    /// Every active DSN key, to fill an ingest cache.
    fn active_dsn_keys(&mut self) -> impl Future<Output = Result<Vec<DsnKey>>> + Send;

    /// Makes a batch of received envelopes durable in one transaction (the ingest endpoint's
    /// group commit): each manifest joins the processing queue with its inline body, if any.
    /// Returns the new ids in batch order. Workspaces and projects are not checked against
    /// each other here: the caller takes both from the authenticated DSN key.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an item type containing a comma; a database error (for
    /// example a project deleted meanwhile) fails the whole batch.
    fn record_envelopes(
        &mut self,
        batch: &[DurableEnvelope],
    ) -> impl Future<Output = Result<Vec<EnvelopeId>>> + Send;

    /// An envelope's raw bytes (as the endpoint parsed them, after any `Content-Encoding`
    /// was decoded), whichever way they are stored: inline in the manifest row or in `blobs`
    /// under its blob key. `None` when the manifest is gone.
    ///
    /// # Errors
    /// [`StoreError::BlobNotFound`] when the blob is gone, [`StoreError::Corrupt`] when an
    /// inline body does not decompress to its recorded size.
    fn envelope_body(
        &mut self,
        id: EnvelopeId,
        blobs: &dyn crate::blob::BlobStore,
    ) -> impl Future<Output = Result<Option<bytes::Bytes>>> + Send;

    /// The raw bytes of several envelopes at once (one query per 1,000 ids), as
    /// [`IngestQueue::envelope_body`] gives them one by one: each id with its bytes, `Ok(None)`
    /// when its manifest is gone, or its own error (a missing blob, a corrupt inline body).
    ///
    /// # Errors
    /// A database error reading the manifests.
    fn envelope_bodies(
        &mut self,
        ids: &[EnvelopeId],
        blobs: &dyn crate::blob::BlobStore,
    ) -> impl Future<Output = Result<Vec<(EnvelopeId, Result<Option<bytes::Bytes>>)>>> + Send;

    /// Marks claimed envelopes processed (a batch at a time).
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if `node` does not hold all of them.
    fn complete_envelopes(
        &mut self,
        ids: &[EnvelopeId],
        node: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The status page served at a slug or custom domain (custom domain wins).
    fn status_page_by_address(
        &mut self,
        address: &str,
    ) -> impl Future<Output = Result<Option<StatusPage>>> + Send;

    /// Claims up to `limit` pending envelopes, oldest first, with a lease (each claim counts as
    /// an attempt).
    fn claim_envelopes(
        &mut self,
        node: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Envelope>>> + Send;

    /// Marks a claimed envelope processed.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] if `node` does not hold it.
    fn complete_envelope(
        &mut self,
        id: EnvelopeId,
        node: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Gives a claimed envelope back to the queue after a transient error.
    fn release_envelope(
        &mut self,
        id: EnvelopeId,
        node: &str,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Marks a claimed envelope failed for good.
    fn fail_envelope(
        &mut self,
        id: EnvelopeId,
        node: &str,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes up to `limit` processed manifests received before `before`; returns their blob
    /// keys for the caller to delete from blob storage.
    fn delete_processed_envelopes(
        &mut self,
        before: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// Every project's retention settings, for the retention job.
    fn project_retentions(&mut self) -> impl Future<Output = Result<Vec<ProjectRetention>>> + Send;

    /// Deletes up to `limit` of a project's events that happened before `before` and up to
    /// `limit` of its attachments stored before it; returns the events deleted and the
    /// attachments' blob keys, for the caller to delete.
    fn delete_expired_events(
        &mut self,
        project: ProjectId,
        before: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<(u64, Vec<String>)>> + Send;

    /// Deletes up to `limit` of a project's processed envelopes received before `before`
    /// that no stored event points into; returns how many and their (non-empty) blob keys,
    /// for the caller to delete.
    fn delete_expired_envelopes(
        &mut self,
        project: ProjectId,
        before: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<(u64, Vec<String>)>> + Send;
}

/// The ingest query API's reads, and its management writes: projects, DSN keys, issue search
/// and bulk status, attachments, transaction statistics, release health, cron monitors.
pub trait IngestQuery {
    /// Renames a project and sets its platform.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the project is not in the workspace.
    fn update_project(
        &mut self,
        id: ProjectId,
        name: &str,
        platform: Option<&str>,
    ) -> impl Future<Output = Result<Project>> + Send;

    /// Deletes a project with its keys, envelopes, issues, events, transactions, sessions,
    /// check-ins and attachments; returns the blob keys they pointed to, for the caller to
    /// delete from blob storage.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the project is not in the workspace.
    fn delete_project(&mut self, id: ProjectId)
    -> impl Future<Output = Result<Vec<String>>> + Send;

    /// A DSN key of a project.
    fn dsn_key(
        &mut self,
        project: ProjectId,
        id: DsnKeyId,
    ) -> impl Future<Output = Result<Option<DsnKey>>> + Send;

    /// Sets a key's label, status and rate limit.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the key is not one of the project's.
    fn set_dsn_key(
        &mut self,
        project: ProjectId,
        id: DsnKeyId,
        label: &str,
        status: KeyStatus,
        rate_limit_per_minute: Option<i64>,
    ) -> impl Future<Output = Result<DsnKey>> + Send;

    /// Replaces a key with a new random one (same label and rate limit) and disables the old
    /// one at once, in one transaction; returns the new key.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the key is not one of the project's.
    fn rotate_dsn_key(
        &mut self,
        project: ProjectId,
        id: DsnKeyId,
        now: Timestamp,
    ) -> impl Future<Output = Result<DsnKey>> + Send;

    /// Deletes a key for good.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the key is not one of the project's.
    fn delete_dsn_key(
        &mut self,
        project: ProjectId,
        id: DsnKeyId,
    ) -> impl Future<Output = Result<()>> + Send;

    /// A page of a project's issues matching `filter`.
    fn search_issues(
        &mut self,
        filter: &IssueFilter,
    ) -> impl Future<Output = Result<IssuePage>> + Send;

    /// An issue of a project.
    fn project_issue(
        &mut self,
        project: ProjectId,
        id: IssueId,
    ) -> impl Future<Output = Result<Option<Issue>>> + Send;

    /// A page of an issue's events, newest first, starting after `after`.
    fn issue_events_page(
        &mut self,
        issue: IssueId,
        after: Option<EventCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;

    /// Tag value counts over the issue's latest [`TAG_SAMPLE_EVENTS`] events (environment and
    /// release included), so that a huge issue costs no more than that.
    fn issue_tag_counts(
        &mut self,
        issue: IssueId,
    ) -> impl Future<Output = Result<TagCounts>> + Send;

    /// Sets the status of several issues of a project in one transaction (as
    /// [`IngestStore::set_issue_status`] does for one); returns them afterwards, in order.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if one is not the project's; nothing changes then.
    fn set_issues_status(
        &mut self,
        project: ProjectId,
        ids: &[IssueId],
        status: IssueStatus,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Issue>>> + Send;

    /// An attachment of a project by id.
    fn attachment(
        &mut self,
        project: ProjectId,
        id: AttachmentId,
    ) -> impl Future<Output = Result<Option<Attachment>>> + Send;

    /// Per transaction name over `[from, to)`: count, failures, p50/p95/p99 and mean
    /// duration (quantiles within [`crate::LatencySketch::RELATIVE_ERROR`]); busiest first.
    fn transaction_summaries(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<TransactionSummary>>> + Send;

    /// One transaction name's statistics per `bucket` over `[from, to)`, buckets starting at
    /// `from`, empty ones included.
    fn transaction_series(
        &mut self,
        project: ProjectId,
        name: &str,
        from: Timestamp,
        to: Timestamp,
        bucket: Duration,
    ) -> impl Future<Output = Result<Vec<TransactionBucket>>> + Send;

    /// Session counts per release and environment over buckets in `[from, to)`, most recently
    /// seen first.
    fn release_health(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<ReleaseHealth>>> + Send;

    /// A project's cron monitors (every slug with a check-in) with their latest check-in.
    fn cron_summaries(
        &mut self,
        project: ProjectId,
    ) -> impl Future<Output = Result<Vec<CronSummary>>> + Send;
}

impl<S: Source> StatusPageStore for Scoped<S> {
    async fn create_status_page(
        &mut self,
        new: &NewStatusPage,
        now: Timestamp,
    ) -> Result<StatusPage> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::create_page(c, ws, new, now)
            .await)
    }

    async fn update_status_page(
        &mut self,
        id: StatusPageId,
        new: &NewStatusPage,
        now: Timestamp,
    ) -> Result<StatusPage> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::update_page(
            c, ws, id, new, now
        )
        .await)
    }

    async fn set_status_page_password(
        &mut self,
        id: StatusPageId,
        password: Option<&str>,
        now: Timestamp,
    ) -> Result<StatusPage> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::set_page_password(
            c, ws, id, password, now
        )
        .await)
    }

    async fn status_page(&mut self, id: StatusPageId) -> Result<Option<StatusPage>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::page(c, ws, id).await)
    }

    async fn status_pages(&mut self) -> Result<Vec<StatusPage>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::pages(c, ws).await)
    }

    async fn delete_status_page(&mut self, id: StatusPageId) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::delete_page(c, ws, id).await)
    }

    async fn create_component_group(
        &mut self,
        page: StatusPageId,
        name: &str,
        position: i64,
        now: Timestamp,
    ) -> Result<ComponentGroup> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::create_group(
            c, ws, page, name, position, now
        )
        .await)
    }

    async fn component_group(&mut self, id: ComponentGroupId) -> Result<Option<ComponentGroup>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::group(c, ws, id).await)
    }

    async fn rename_component_group(
        &mut self,
        id: ComponentGroupId,
        name: &str,
        now: Timestamp,
    ) -> Result<ComponentGroup> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::rename_group(
            c, ws, id, name, now
        )
        .await)
    }

    async fn reorder_component_groups(
        &mut self,
        page: StatusPageId,
        order: &[ComponentGroupId],
        now: Timestamp,
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::reorder_groups(
            c, ws, page, order, now
        )
        .await)
    }

    async fn component_groups(&mut self, page: StatusPageId) -> Result<Vec<ComponentGroup>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::groups(c, ws, page).await)
    }

    async fn delete_component_group(&mut self, id: ComponentGroupId, now: Timestamp) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::delete_group(c, ws, id, now)
            .await)
    }

    async fn create_component(&mut self, new: &NewComponent, now: Timestamp) -> Result<Component> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::create_component(
            c, ws, new, now
        )
        .await)
    }

    async fn components(&mut self, page: StatusPageId) -> Result<Vec<Component>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::components(c, ws, page).await)
    }

    async fn component(&mut self, id: ComponentId) -> Result<Option<Component>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::component(c, ws, id).await)
    }

    async fn component_by_key(
        &mut self,
        page: StatusPageId,
        key: &str,
    ) -> Result<Option<Component>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::component_by_key(
            c, ws, page, key
        )
        .await)
    }

    async fn update_component(
        &mut self,
        id: ComponentId,
        new: &NewComponent,
        now: Timestamp,
    ) -> Result<Component> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::update_component(
            c, ws, id, new, now
        )
        .await)
    }

    async fn set_component_status(
        &mut self,
        id: ComponentId,
        status: ComponentStatus,
        now: Timestamp,
    ) -> Result<Component> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::set_component_status(
            c, ws, id, status, now
        )
        .await)
    }

    async fn reorder_components(
        &mut self,
        page: StatusPageId,
        order: &[ComponentId],
        now: Timestamp,
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::reorder_components(
            c, ws, page, order, now
        )
        .await)
    }

    async fn delete_component(&mut self, id: ComponentId, now: Timestamp) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::delete_component(
            c, ws, id, now
        )
        .await)
    }

    async fn create_maintenance(
        &mut self,
        new: &NewMaintenance,
        now: Timestamp,
    ) -> Result<Maintenance> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::create_maintenance(
            c, ws, new, now
        )
        .await)
    }

    async fn maintenances(&mut self, after: Timestamp) -> Result<Vec<Maintenance>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::maintenances(c, ws, after)
            .await)
    }

    async fn maintenance(&mut self, id: MaintenanceId) -> Result<Option<Maintenance>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::maintenance(c, ws, id).await)
    }

    async fn update_maintenance(
        &mut self,
        id: MaintenanceId,
        new: &NewMaintenance,
    ) -> Result<Maintenance> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::update_maintenance(
            c, ws, id, new
        )
        .await)
    }

    async fn maintenance_monitors(&mut self, id: MaintenanceId) -> Result<Vec<MonitorId>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::maintenance_monitors(
            c, ws, id
        )
        .await)
    }

    async fn maintenances_for_monitor(&mut self, monitor: MonitorId) -> Result<Vec<Maintenance>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::maintenances_for_monitor(
            c, ws, monitor
        )
        .await)
    }

    async fn maintenance_components(&mut self, id: MaintenanceId) -> Result<Vec<ComponentId>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::maintenance_components(
            c, ws, id
        )
        .await)
    }

    async fn maintenances_for_page(
        &mut self,
        page: StatusPageId,
        after: Timestamp,
    ) -> Result<Vec<Maintenance>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::maintenances_for_page(
            c, ws, page, after
        )
        .await)
    }

    async fn delete_maintenance(&mut self, id: MaintenanceId) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::delete_maintenance(c, ws, id)
            .await)
    }

    async fn add_subscriber(
        &mut self,
        page: StatusPageId,
        kind: SubscriberKind,
        target: &str,
        now: Timestamp,
    ) -> Result<Subscriber> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::add_subscriber(
            c, ws, page, kind, target, now
        )
        .await)
    }

    async fn confirm_subscriber(&mut self, id: SubscriberId, now: Timestamp) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::confirm_subscriber(
            c, ws, id, now
        )
        .await)
    }

    async fn subscribers(&mut self, page: StatusPageId) -> Result<Vec<Subscriber>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::subscribers(c, ws, page)
            .await)
    }

    async fn remove_subscriber(&mut self, id: SubscriberId) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::pages::remove_subscriber(c, ws, id)
            .await)
    }
}

impl<S: Source> IngestStore for Scoped<S> {
    async fn create_project(
        &mut self,
        slug: &str,
        name: &str,
        platform: Option<&str>,
        now: Timestamp,
    ) -> Result<Project> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::create_project(
            c, ws, slug, name, platform, now
        )
        .await)
    }

    async fn projects(&mut self) -> Result<Vec<Project>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::projects(c, ws).await)
    }

    async fn project(&mut self, id: ProjectId) -> Result<Option<Project>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::project(c, ws, id).await)
    }

    async fn set_project_channels(
        &mut self,
        project: ProjectId,
        channels: &[ChannelId],
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::set_project_channels(
            c, ws, project, channels
        )
        .await)
    }

    async fn project_channels(&mut self, project: ProjectId) -> Result<Vec<ChannelId>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::project_channels(
            c, ws, project
        )
        .await)
    }

    async fn create_dsn_key(
        &mut self,
        project: ProjectId,
        label: &str,
        rate_limit_per_minute: Option<i64>,
        now: Timestamp,
    ) -> Result<DsnKey> {
        let ws = self.ws;
        let public_key = secret::new_public_key()?;
        run!(self.src, |c, ops| ops::ingest::create_dsn_key(
            c,
            ws,
            project,
            &public_key,
            label,
            rate_limit_per_minute,
            now
        )
        .await)
    }

    async fn dsn_keys(&mut self, project: ProjectId) -> Result<Vec<DsnKey>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::dsn_keys(c, ws, project)
            .await)
    }

    async fn update_dsn_key(
        &mut self,
        id: DsnKeyId,
        status: KeyStatus,
        rate_limit_per_minute: Option<i64>,
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::update_dsn_key(
            c,
            ws,
            id,
            status,
            rate_limit_per_minute
        )
        .await)
    }

    async fn record_envelope(&mut self, new: &NewEnvelope) -> Result<Envelope> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::record_envelope(c, ws, new)
            .await)
    }

    async fn envelope(&mut self, id: EnvelopeId) -> Result<Option<Envelope>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::envelope(c, ws, id).await)
    }

    async fn insert_event(&mut self, new: &NewEvent) -> Result<Option<Event>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::insert_event(c, ws, new)
            .await)
    }

    async fn event(&mut self, project: ProjectId, event_id: &str) -> Result<Option<Event>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::event(
            c, ws, project, event_id
        )
        .await)
    }

    async fn events_for_issue(&mut self, issue: IssueId, limit: u32) -> Result<Vec<Event>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::events_for_issue(
            c, ws, issue, None, limit
        )
        .await)
    }

    async fn record_sighting(&mut self, sighting: &IssueSighting) -> Result<IssueOutcome> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::record_sighting(
            c, ws, sighting
        )
        .await)
    }

    async fn issue(&mut self, id: IssueId) -> Result<Option<Issue>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::issue(c, ws, id).await)
    }

    async fn issues(
        &mut self,
        project: ProjectId,
        status: Option<IssueStatus>,
        limit: u32,
    ) -> Result<Vec<Issue>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::issues(
            c, ws, project, status, limit
        )
        .await)
    }

    async fn set_issue_status(
        &mut self,
        id: IssueId,
        status: IssueStatus,
        now: Timestamp,
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::set_issue_status(
            c, ws, id, status, now
        )
        .await)
    }

    async fn insert_transactions(&mut self, batch: &[NewTransaction]) -> Result<u64> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::insert_transactions(
            c, ws, batch
        )
        .await)
    }

    async fn transactions(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<NewTransaction>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::transactions(
            c, ws, project, from, to, limit
        )
        .await)
    }

    async fn add_session_counts(&mut self, counts: &SessionCounts) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::add_session_counts(
            c, ws, counts
        )
        .await)
    }

    async fn session_counts(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<SessionCounts>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::session_counts(
            c, ws, project, from, to
        )
        .await)
    }

    async fn insert_check_in(&mut self, new: &NewCheckIn) -> Result<CheckIn> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::insert_check_in(c, ws, new)
            .await)
    }

    async fn check_ins(
        &mut self,
        project: ProjectId,
        monitor_slug: &str,
        limit: u32,
    ) -> Result<Vec<CheckIn>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::check_ins(
            c,
            ws,
            project,
            monitor_slug,
            limit
        )
        .await)
    }

    async fn insert_attachment(
        &mut self,
        new: &NewAttachment,
        now: Timestamp,
    ) -> Result<Attachment> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::insert_attachment(
            c, ws, new, now
        )
        .await)
    }

    async fn attachments(&mut self, project: ProjectId, event_id: &str) -> Result<Vec<Attachment>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::attachments(
            c, ws, project, event_id
        )
        .await)
    }

    async fn insert_events(&mut self, batch: &[NewEvent]) -> Result<Vec<Option<EventRowId>>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::insert_events(c, ws, batch)
            .await)
    }

    async fn assign_issue(&mut self, issue: IssueId, events: &[EventRowId]) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::assign_issue(
            c, ws, issue, events
        )
        .await)
    }

    async fn add_issue_users(&mut self, issue: IssueId, users: &[i64]) -> Result<i64> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::add_issue_users(
            c, ws, issue, users
        )
        .await)
    }

    async fn issue_events_since(&mut self, issue: IssueId, since: Timestamp) -> Result<i64> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::issue_events_since(
            c, ws, issue, since
        )
        .await)
    }

    async fn claim_frequency_alert(
        &mut self,
        issue: IssueId,
        now: Timestamp,
        quiet_since: Timestamp,
    ) -> Result<bool> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::claim_frequency_alert(
            c,
            ws,
            issue,
            now,
            quiet_since
        )
        .await)
    }

    async fn project_processing(
        &mut self,
        project: ProjectId,
    ) -> Result<Option<ProjectProcessing>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::project_processing(
            c, ws, project
        )
        .await)
    }

    async fn set_project_processing(
        &mut self,
        project: ProjectId,
        settings: &ProjectProcessing,
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::set_project_processing(
            c, ws, project, settings
        )
        .await)
    }

    async fn add_session_users(&mut self, batch: &[SessionUser]) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::add_session_users(
            c, ws, batch
        )
        .await)
    }

    async fn session_user_counts(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<SessionUserCounts>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::session_user_counts(
            c, ws, project, from, to
        )
        .await)
    }

    async fn add_client_reports(&mut self, batch: &[ClientReportCount]) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::add_client_reports(
            c, ws, batch
        )
        .await)
    }

    async fn client_reports(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ClientReportCount>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::client_reports(
            c, ws, project, from, to
        )
        .await)
    }

    async fn insert_feedback(&mut self, new: &NewFeedback) -> Result<Feedback> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::insert_feedback(c, ws, new)
            .await)
    }

    async fn feedback(
        &mut self,
        project: ProjectId,
        event_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Feedback>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::feedback(
            c, ws, project, event_id, limit
        )
        .await)
    }

    async fn cron_monitor(
        &mut self,
        project: ProjectId,
        slug: &str,
    ) -> Result<Option<CronMonitor>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::cron_monitor(
            c, ws, project, slug
        )
        .await)
    }

    async fn upsert_cron_monitor(
        &mut self,
        project: ProjectId,
        slug: &str,
        monitor: MonitorId,
        config: Option<&str>,
        now: Timestamp,
    ) -> Result<CronMonitor> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::upsert_cron_monitor(
            c, ws, project, slug, monitor, config, now
        )
        .await)
    }
}

impl<S: Source> IngestQueue for Global<S> {
    async fn dsn_key_by_public_key(&mut self, public_key: &str) -> Result<Option<DsnKey>> {
        run!(self.src, |c, ops| ops::ingest::dsn_key_by_public_key(
            c, public_key
        )
        .await)
    }

    async fn active_dsn_keys(&mut self) -> Result<Vec<DsnKey>> {
        run!(self.src, |c, ops| ops::ingest::active_dsn_keys(c).await)
    }

    async fn record_envelopes(&mut self, batch: &[DurableEnvelope]) -> Result<Vec<EnvelopeId>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        run!(self.src, |c, ops| ops::ingest_commit::record_envelopes(
            c, batch
        )
        .await)
    }

    async fn envelope_body(
        &mut self,
        id: EnvelopeId,
        blobs: &dyn crate::blob::BlobStore,
    ) -> Result<Option<bytes::Bytes>> {
        let stored = run!(self.src, |c, ops| ops::ingest_commit::stored_body(c, id)
            .await)?;
        let Some((blob_key, size, inline)) = stored else {
            return Ok(None);
        };
        let mut unpacker = zstd::bulk::Decompressor::new().map_err(|e| StoreError::Corrupt {
            column: "envelopes.body",
            problem: e.to_string(),
        })?;
        unpack_body(&mut unpacker, &blob_key, size, inline, blobs)
            .await
            .map(Some)
    }

    async fn envelope_bodies(
        &mut self,
        ids: &[EnvelopeId],
        blobs: &dyn crate::blob::BlobStore,
    ) -> Result<Vec<(EnvelopeId, Result<Option<bytes::Bytes>>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = run!(self.src, |c, ops| ops::ingest::stored_bodies(c, ids).await)?;
        let mut unpacker = zstd::bulk::Decompressor::new().map_err(|e| StoreError::Corrupt {
            column: "envelopes.body",
            problem: e.to_string(),
        })?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for (id, blob_key, size, inline) in rows {
            found.insert(
                id,
                unpack_body(&mut unpacker, &blob_key, size, inline, blobs).await,
            );
        }
        Ok(ids
            .iter()
            .map(|id| (*id, found.remove(id).transpose()))
            .collect())
    }

    async fn complete_envelopes(&mut self, ids: &[EnvelopeId], node: &str) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        run!(self.src, |c, ops| ops::ingest::complete_envelopes(
            c, ids, node
        )
        .await)
    }

    async fn status_page_by_address(&mut self, address: &str) -> Result<Option<StatusPage>> {
        run!(self.src, |c, ops| ops::pages::page_by_address(c, address)
            .await)
    }

    async fn claim_envelopes(
        &mut self,
        node: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Envelope>> {
        let lease = Lease::new(node, now, lease, limit);
        run!(self.src, |c, ops| ops::ingest::claim_envelopes(c, lease)
            .await)
    }

    async fn complete_envelope(&mut self, id: EnvelopeId, node: &str) -> Result<()> {
        run!(self.src, |c, ops| ops::ingest::finish_envelope(
            c,
            id,
            node,
            EnvelopeState::Done,
            None
        )
        .await)
    }

    async fn release_envelope(&mut self, id: EnvelopeId, node: &str, error: &str) -> Result<()> {
        run!(self.src, |c, ops| ops::ingest::finish_envelope(
            c,
            id,
            node,
            EnvelopeState::Pending,
            Some(error)
        )
        .await)
    }

    async fn fail_envelope(&mut self, id: EnvelopeId, node: &str, error: &str) -> Result<()> {
        run!(self.src, |c, ops| ops::ingest::finish_envelope(
            c,
            id,
            node,
            EnvelopeState::Failed,
            Some(error)
        )
        .await)
    }

    async fn delete_processed_envelopes(
        &mut self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<String>> {
        run!(self.src, |c, ops| ops::ingest::delete_processed_envelopes(
            c, before, limit
        )
        .await)
    }

    async fn project_retentions(&mut self) -> Result<Vec<ProjectRetention>> {
        run!(self.src, |c, ops| ops::ingest::project_retentions(c).await)
    }

    async fn delete_expired_events(
        &mut self,
        project: ProjectId,
        before: Timestamp,
        limit: u32,
    ) -> Result<(u64, Vec<String>)> {
        run!(self.src, |c, ops| ops::ingest::delete_expired_events(
            c, project, before, limit
        )
        .await)
    }

    async fn delete_expired_envelopes(
        &mut self,
        project: ProjectId,
        before: Timestamp,
        limit: u32,
    ) -> Result<(u64, Vec<String>)> {
        run!(self.src, |c, ops| ops::ingest::delete_expired_envelopes(
            c, project, before, limit
        )
        .await)
    }
}

impl<S: Source> IngestQuery for Scoped<S> {
    async fn update_project(
        &mut self,
        id: ProjectId,
        name: &str,
        platform: Option<&str>,
    ) -> Result<Project> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::update_project(
            c, ws, id, name, platform
        )
        .await)
    }

    async fn delete_project(&mut self, id: ProjectId) -> Result<Vec<String>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::delete_project(
            c, ws, id
        )
        .await)
    }

    async fn dsn_key(&mut self, project: ProjectId, id: DsnKeyId) -> Result<Option<DsnKey>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::dsn_key(
            c, ws, project, id
        )
        .await)
    }

    async fn set_dsn_key(
        &mut self,
        project: ProjectId,
        id: DsnKeyId,
        label: &str,
        status: KeyStatus,
        rate_limit_per_minute: Option<i64>,
    ) -> Result<DsnKey> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::set_dsn_key(
            c,
            ws,
            project,
            id,
            label,
            status,
            rate_limit_per_minute
        )
        .await)
    }

    async fn rotate_dsn_key(
        &mut self,
        project: ProjectId,
        id: DsnKeyId,
        now: Timestamp,
    ) -> Result<DsnKey> {
        let ws = self.ws;
        let public_key = secret::new_public_key()?;
        run!(self.src, |c, ops| ops::ingest_query::rotate_dsn_key(
            c,
            ws,
            project,
            id,
            &public_key,
            now
        )
        .await)
    }

    async fn delete_dsn_key(&mut self, project: ProjectId, id: DsnKeyId) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::delete_dsn_key(
            c, ws, project, id
        )
        .await)
    }

    async fn search_issues(&mut self, filter: &IssueFilter) -> Result<IssuePage> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::search_issues(
            c, ws, filter
        )
        .await)
    }

    async fn project_issue(&mut self, project: ProjectId, id: IssueId) -> Result<Option<Issue>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::project_issue(
            c, ws, project, id
        )
        .await)
    }

    async fn issue_events_page(
        &mut self,
        issue: IssueId,
        after: Option<EventCursor>,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest::events_for_issue(
            c, ws, issue, after, limit
        )
        .await)
    }

    async fn issue_tag_counts(&mut self, issue: IssueId) -> Result<TagCounts> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::issue_tag_counts(
            c, ws, issue
        )
        .await)
    }

    async fn set_issues_status(
        &mut self,
        project: ProjectId,
        ids: &[IssueId],
        status: IssueStatus,
        now: Timestamp,
    ) -> Result<Vec<Issue>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::set_issues_status(
            c, ws, project, ids, status, now
        )
        .await)
    }

    async fn attachment(
        &mut self,
        project: ProjectId,
        id: AttachmentId,
    ) -> Result<Option<Attachment>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::attachment(
            c, ws, project, id
        )
        .await)
    }

    async fn transaction_summaries(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<TransactionSummary>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::transaction_summaries(
            c, ws, project, from, to
        )
        .await)
    }

    async fn transaction_series(
        &mut self,
        project: ProjectId,
        name: &str,
        from: Timestamp,
        to: Timestamp,
        bucket: Duration,
    ) -> Result<Vec<TransactionBucket>> {
        let ws = self.ws;
        let bucket_ms = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX);
        run!(self.src, |c, ops| ops::ingest_query::transaction_series(
            c, ws, project, name, from, to, bucket_ms
        )
        .await)
    }

    async fn release_health(
        &mut self,
        project: ProjectId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ReleaseHealth>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::release_health(
            c, ws, project, from, to
        )
        .await)
    }

    async fn cron_summaries(&mut self, project: ProjectId) -> Result<Vec<CronSummary>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_query::cron_summaries(
            c, ws, project
        )
        .await)
    }
}

/// The state ingest keeps so that repeated SDK updates count once: individual sessions by
/// `sid`, and check-ins updated in place by `check_in_id`.
pub trait IngestDedup {
    /// The stored state of a session, inserting `initial` when there is none. On PostgreSQL
    /// the row stays locked until the transaction ends, so concurrent workers count one
    /// session's updates one after the other.
    fn lock_session_state(
        &mut self,
        initial: &SessionState,
    ) -> impl Future<Output = Result<SessionState>> + Send;

    /// Inserts or replaces the state of a session.
    fn put_session_state(
        &mut self,
        state: &SessionState,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The check-in a later update changes: the row with `check_in_id` for the slug, or with
    /// `None` (the nil id) the slug's latest check-in still in progress.
    fn check_in_to_update(
        &mut self,
        project: ProjectId,
        monitor_slug: &str,
        check_in_id: Option<&str>,
    ) -> impl Future<Output = Result<Option<CheckIn>>> + Send;

    /// Applies a later update to a stored check-in.
    fn update_check_in(
        &mut self,
        id: CheckInId,
        update: &CheckInUpdate,
    ) -> impl Future<Output = Result<()>> + Send;
}

impl<S: Source> IngestDedup for Scoped<S> {
    async fn lock_session_state(&mut self, initial: &SessionState) -> Result<SessionState> {
        let ws = self.ws;
        run!(self.src, |c, ops| {
            ops::ingest_dedup::lock_session_state(c, ws, initial).await
        })
    }

    async fn put_session_state(&mut self, state: &SessionState) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_dedup::put_session_state(
            c, ws, state
        )
        .await)
    }

    async fn check_in_to_update(
        &mut self,
        project: ProjectId,
        monitor_slug: &str,
        check_in_id: Option<&str>,
    ) -> Result<Option<CheckIn>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_dedup::check_in_to_update(
            c,
            ws,
            project,
            monitor_slug,
            check_in_id
        )
        .await)
    }

    async fn update_check_in(&mut self, id: CheckInId, update: &CheckInUpdate) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::ingest_dedup::update_check_in(
            c, ws, id, update
        )
        .await)
    }
}

/// Retention of the de-duplication state (global: the retention job runs for every project).
pub trait IngestDedupRetention {
    /// Deletes up to `limit` of a project's session states last updated before `before`;
    /// returns how many.
    fn delete_expired_session_states(
        &mut self,
        project: ProjectId,
        before: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<u64>> + Send;
}

impl<S: Source> IngestDedupRetention for Global<S> {
    async fn delete_expired_session_states(
        &mut self,
        project: ProjectId,
        before: Timestamp,
        limit: u32,
    ) -> Result<u64> {
        run!(self.src, |c, ops| {
            ops::ingest_dedup::delete_expired_session_states(c, project, before, limit).await
        })
    }
}

/// An envelope's raw bytes from its stored form: the inline zstd frame (checked against the
/// recorded size), else the blob under `blob_key`.
async fn unpack_body(
    unpacker: &mut zstd::bulk::Decompressor<'_>,
    blob_key: &str,
    size: i64,
    inline: Option<Vec<u8>>,
    blobs: &dyn crate::blob::BlobStore,
) -> Result<bytes::Bytes> {
    let Some(packed) = inline else {
        return blobs.get(blob_key).await;
    };
    let bad = |problem: String| StoreError::Corrupt {
        column: "envelopes.body",
        problem,
    };
    let size = usize::try_from(size).map_err(|_| bad(format!("size {size}")))?;
    let raw = unpacker
        .decompress(&packed, size)
        .map_err(|e| bad(e.to_string()))?;
    if raw.len() != size {
        return Err(bad(format!(
            "decompressed to {} bytes, recorded size {size}",
            raw.len()
        )));
    }
    Ok(bytes::Bytes::from(raw))
}

// === agents ===

/// Locations, their agent tokens, agent batches and the per-location state of monitors.
pub trait AgentStore {
    /// Creates a location.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty name; [`StoreError::Conflict`] for a name already
    /// used in the workspace.
    fn create_location(
        &mut self,
        name: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Location>> + Send;

    /// Every location, by name.
    fn locations(&mut self) -> impl Future<Output = Result<Vec<Location>>> + Send;

    /// A location by name.
    fn location(&mut self, name: &str) -> impl Future<Output = Result<Option<Location>>> + Send;

    /// Deletes a location with its tokens, cursors and per-monitor states.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if there is no such location.
    fn delete_location(&mut self, name: &str) -> impl Future<Output = Result<()>> + Send;

    /// Creates an agent token for a location; the secret (`bwa_...`) is returned once.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the location is not in the workspace.
    fn create_agent_token(
        &mut self,
        location: LocationId,
        name: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(AgentToken, Secret)>> + Send;

    /// A location's agent tokens (without secrets), by id.
    fn agent_tokens(
        &mut self,
        location: LocationId,
    ) -> impl Future<Output = Result<Vec<AgentToken>>> + Send;

    /// Revokes an agent token of a location (revoking twice keeps the first time).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the token is not the location's.
    fn revoke_agent_token(
        &mut self,
        location: LocationId,
        id: AgentTokenId,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records an agent's hello (its id and version become the location's latest, `now` its
    /// last contact) and returns the highest sequence number stored for the agent.
    fn agent_hello(
        &mut self,
        location: LocationId,
        agent_id: &str,
        version: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// The highest sequence number stored for an agent of a location (0 when none).
    fn agent_cursor(
        &mut self,
        location: LocationId,
        agent_id: &str,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Records a batch of an agent in one transaction: the rows of results above the
    /// agent's cursor, the new cursor, and the location's last contact. Results at or below
    /// the cursor are duplicates and dropped. Exactly once: a batch sent twice is stored once.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] (`seq`) unless sequence numbers increase within the batch;
    /// [`StoreError::NotFound`] for a location or a monitor not in the workspace (nothing is
    /// written).
    fn record_agent_batch(
        &mut self,
        location: LocationId,
        agent_id: &str,
        batch: &[AgentResultRow],
        now: Timestamp,
    ) -> impl Future<Output = Result<AgentBatchOutcome>> + Send;

    /// Every location's state of a monitor, by location name.
    fn location_states(
        &mut self,
        monitor: MonitorId,
    ) -> impl Future<Output = Result<Vec<LocationState>>> + Send;

    /// Writes one location's state of a monitor.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if the monitor is not in the workspace.
    fn save_location_state(
        &mut self,
        state: &LocationState,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Agent authentication and the monitors judged across locations, for every workspace.
pub trait AgentDirectory {
    /// The live agent token for a secret and its location, recording the token's use and the
    /// location's contact; `None` if unknown or revoked. The hash comparison is constant-time.
    fn authenticate_agent(
        &mut self,
        secret: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<(AgentToken, Location)>>> + Send;

    /// Unpaused check monitors that a location other than `local` runs, as
    /// `(workspace, monitor)`, by monitor id.
    fn quorum_monitors(
        &mut self,
    ) -> impl Future<Output = Result<Vec<(WorkspaceId, MonitorId)>>> + Send;
}

impl<S: Source> AgentStore for Scoped<S> {
    async fn create_location(&mut self, name: &str, now: Timestamp) -> Result<Location> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::create_location(
            c, ws, name, now
        )
        .await)
    }

    async fn locations(&mut self) -> Result<Vec<Location>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::locations(c, ws).await)
    }

    async fn location(&mut self, name: &str) -> Result<Option<Location>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::location(c, ws, name).await)
    }

    async fn delete_location(&mut self, name: &str) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::delete_location(c, ws, name)
            .await)
    }

    async fn create_agent_token(
        &mut self,
        location: LocationId,
        name: &str,
        now: Timestamp,
    ) -> Result<(AgentToken, Secret)> {
        let ws = self.ws;
        let (secret, prefix, hash) = secret::new_tagged_token(AGENT_TOKEN_TAG)?;
        let token = run!(self.src, |c, ops| ops::agents::create_token(
            c, ws, location, name, &prefix, &hash, now
        )
        .await)?;
        Ok((token, secret))
    }

    async fn agent_tokens(&mut self, location: LocationId) -> Result<Vec<AgentToken>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::tokens(c, ws, location)
            .await)
    }

    async fn revoke_agent_token(
        &mut self,
        location: LocationId,
        id: AgentTokenId,
        now: Timestamp,
    ) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::revoke_token(
            c, ws, location, id, now
        )
        .await)
    }

    async fn agent_hello(
        &mut self,
        location: LocationId,
        agent_id: &str,
        version: &str,
        now: Timestamp,
    ) -> Result<u64> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::hello(
            c, ws, location, agent_id, version, now
        )
        .await)
    }

    async fn agent_cursor(&mut self, location: LocationId, agent_id: &str) -> Result<u64> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::cursor(
            c, ws, location, agent_id
        )
        .await)
    }

    async fn record_agent_batch(
        &mut self,
        location: LocationId,
        agent_id: &str,
        batch: &[AgentResultRow],
        now: Timestamp,
    ) -> Result<AgentBatchOutcome> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::record_batch(
            c, ws, location, agent_id, batch, now
        )
        .await)
    }

    async fn location_states(&mut self, monitor: MonitorId) -> Result<Vec<LocationState>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::location_states(
            c, ws, monitor
        )
        .await)
    }

    async fn save_location_state(&mut self, state: &LocationState) -> Result<()> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::agents::save_location_state(
            c, ws, state
        )
        .await)
    }
}

/// The tag of agent tokens (`bwa_<prefix>_<secret>`); API tokens are `bw_...`.
const AGENT_TOKEN_TAG: &str = "bwa";

impl<S: Source> AgentDirectory for Global<S> {
    async fn authenticate_agent(
        &mut self,
        secret: &str,
        now: Timestamp,
    ) -> Result<Option<(AgentToken, Location)>> {
        let Some(prefix) = secret::tagged_token_prefix(AGENT_TOKEN_TAG, secret) else {
            return Ok(None);
        };
        let found = run!(self.src, |c, ops| ops::agents::token_by_prefix(c, prefix)
            .await)?;
        let Some((token, hash)) = found else {
            return Ok(None);
        };
        let matches = secret::hashes_equal(&secret::token_hash(secret), &hash);
        if !(matches && token.revoked_at.is_none()) {
            return Ok(None);
        }
        let location = run!(self.src, |c, ops| ops::agents::touch(c, &token, now).await)?;
        Ok(location.map(|mut l| {
            l.last_seen_at = Some(now);
            let mut token = token;
            token.last_used_at = Some(now);
            (token, l)
        }))
    }

    async fn quorum_monitors(&mut self) -> Result<Vec<(WorkspaceId, MonitorId)>> {
        run!(self.src, |c, ops| ops::agents::quorum_monitors(c).await)
    }
}
