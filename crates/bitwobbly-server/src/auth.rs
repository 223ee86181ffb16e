//! Authentication (dashboard sessions and bearer API tokens), roles, and rate limits.
//!
//! A request to the API is made by a [`Caller`]: an API token (`Authorization: Bearer bw_...`),
//! bound to one workspace with a role; a dashboard session (the `bitwobbly_session` cookie),
//! whose user has a role in each workspace they belong to; or nobody. [`Access`] resolves the
//! `{workspace}` of the path for the caller and checks its role against a minimum
//! ([`Read`], [`Write`], [`Manage`], [`Own`]). A workspace the caller cannot see answers 404,
//! exactly as one that does not exist; a role too low answers 403.
//!
//! Every API token is rate-limited by a token bucket in [`Limits`]; the response carries
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`, and a 429 adds
//! `Retry-After`. Login attempts are limited per email and per client address.

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use bitwobbly_store::prelude::*;
use tokio::time::Instant;

use crate::config::AuthConfig;
use crate::error::ApiError;
use crate::state::AppState;

/// The name of the dashboard session cookie.
pub const SESSION_COOKIE: &str = "bitwobbly_session";

// === rate limits ===

/// A token bucket: `capacity` requests at once, refilled at `capacity` per minute.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// What a rate-limit check decided, with the values for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use = "a refused request must be answered 429"]
pub struct RateDecision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests allowed per minute (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left right now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`RateLimit-Reset`).
    pub reset: u64,
    /// When refused: how long until one request is allowed again (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl RateDecision {
    /// Writes the `RateLimit-*` headers (and `Retry-After` when refused).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(self.reset));
        if let Some(after) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(ceil_secs(after)));
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Token buckets keyed by `K`, pruned of full (idle) buckets as they grow.
#[derive(Debug)]
pub(crate) struct Buckets<K> {
    map: Mutex<HashMap<K, Bucket>>,
}

/// Beyond this many buckets, full ones are dropped (they hold no information).
const PRUNE_AT: usize = 10_000;

impl<K: Eq + Hash + Clone> Buckets<K> {
    pub(crate) fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Bucket>> {
        // A panic while holding the lock cannot leave a bucket half-written.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one request from each of `keys`' buckets if every one has one left.
    pub(crate) fn take(&self, keys: &[K], per_minute: u32, now: Instant) -> RateDecision {
        if per_minute == 0 {
            return RateDecision {
                allowed: true,
                limit: 0,
                remaining: 0,
                reset: 0,
                retry_after: None,
            };
        }
        let capacity = f64::from(per_minute);
        let rate = capacity / 60.0; // per second
        let mut map = self.lock();
        if map.len() > PRUNE_AT {
            map.retain(|_, b| {
                let t = b.tokens + now.duration_since(b.updated).as_secs_f64() * rate;
                t < capacity
            });
        }
        let mut lowest = capacity;
        for key in keys {
            let b = map.entry(key.clone()).or_insert(Bucket {
                tokens: capacity,
                updated: now,
            });
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            b.tokens = (b.tokens + elapsed * rate).min(capacity);
            b.updated = now;
            lowest = lowest.min(b.tokens);
        }
        let allowed = lowest >= 1.0;
        if allowed {
            for key in keys {
                if let Some(b) = map.get_mut(key) {
                    b.tokens -= 1.0;
                }
            }
            lowest -= 1.0;
        }
        let retry_after = (!allowed).then(|| Duration::from_secs_f64((1.0 - lowest) / rate));
        RateDecision {
            allowed,
            limit: per_minute,
            remaining: lowest.max(0.0).floor() as u32,
            reset: ((capacity - lowest) / rate).ceil().max(0.0) as u64,
            retry_after,
        }
    }
}

/// What a login attempt is limited by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LoginKey {
    Email(String),
    Addr(Option<IpAddr>),
}

/// Login-attempt and per-token request rate limits (in memory, per node).
#[derive(Debug)]
pub struct Limits {
    config: AuthConfig,
    tokens: Buckets<ApiTokenId>,
    logins: Buckets<LoginKey>,
}

impl Limits {
    /// Limits per the configuration.
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            config: config.clone(),
            tokens: Buckets::new(),
            logins: Buckets::new(),
        }
    }

    /// The configuration the limits follow.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Counts one request made with `token` against `token_requests_per_minute` (0: none).
    pub fn check_token(&self, token: ApiTokenId) -> RateDecision {
        self.tokens.take(
            &[token],
            self.config.token_requests_per_minute,
            Instant::now(),
        )
    }

    /// Counts one login attempt for `email` (case-insensitive) from `addr` against
    /// `login_attempts_per_minute` (0: none); both must have attempts left.
    pub fn check_login(&self, email: &str, addr: Option<IpAddr>) -> RateDecision {
        self.logins.take(
            &[
                LoginKey::Email(email.trim().to_lowercase()),
                LoginKey::Addr(addr),
            ],
            self.config.login_attempts_per_minute,
            Instant::now(),
        )
    }
}

/// Where an authenticating extractor leaves the token's rate-limit decision, for
/// [`rate_limit_headers`] to put on the response (whatever the response is).
#[derive(Debug, Clone, Default)]
struct RateSlot(Arc<Mutex<Option<RateDecision>>>);

impl RateSlot {
    fn set(&self, d: RateDecision) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
    }

    fn take(&self) -> Option<RateDecision> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Middleware adding the `RateLimit-*` headers of a token-authenticated request to its
/// response, errors included. The API router installs it.
pub async fn rate_limit_headers(mut req: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    if let Some(d) = slot.take() {
        d.write_headers(res.headers_mut());
    }
    res
}

// === callers ===

/// Who is making a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// A dashboard session's user.
    Session {
        /// The user.
        user: User,
        /// The session.
        session: Session,
    },
    /// An API token, acting in its workspace with its role.
    Token(ApiToken),
}

impl Caller {
    /// The user behind the caller: the session's user, or the user who created the token.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::Anonymous => None,
            Self::Session { user, .. } => Some(user.id),
            Self::Token(t) => t.created_by,
        }
    }

    /// Refuses an anonymous caller with 401.
    ///
    /// # Errors
    /// 401 `unauthorized`.
    pub fn require(&self) -> Result<(), ApiError> {
        match self {
            Self::Anonymous => Err(ApiError::unauthorized(
                "sign in, or send an API token as `Authorization: Bearer bw_...`",
            )),
            _ => Ok(()),
        }
    }
}

/// The value of the session cookie in `headers`, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether session cookies are marked `Secure`: as configured, else when the public URL is
/// https.
pub fn secure_cookies(state: &AppState) -> bool {
    state
        .config
        .auth
        .secure_cookies
        .unwrap_or_else(|| state.config.public_url().starts_with("https://"))
}

/// A `Set-Cookie` value opening a session for `ttl`.
pub fn session_set_cookie(state: &AppState, secret: &str, ttl: Duration) -> String {
    let secure = if secure_cookies(state) {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        ttl.as_secs()
    )
}

/// A `Set-Cookie` value removing the session cookie.
pub fn session_clear_cookie(state: &AppState) -> String {
    let secure = if secure_cookies(state) {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The origin (`scheme://host[:port]`) of a URL, lowercased.
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization().to_lowercase())
}

/// Whether a request that a browser may have sent from another site comes from this one:
/// `Sec-Fetch-Site: same-origin` (or `none`, typed by the user), or an `Origin` equal to the
/// public URL's or to the request's own `Host`.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim().to_lowercase();
    if origin_of(&state.config.public_url()).is_some_and(|o| o == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    host.is_some_and(|host| {
        let host = host.to_lowercase();
        origin == format!("http://{host}") || origin == format!("https://{host}")
    })
}

/// Whether a browser-sent request with this method may change something.
fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The client's address, when the server was started with connection info.
pub fn client_addr(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address as an extractor (`None` without connection info).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(parts)))
    }
}

/// The secret of an `Authorization: Bearer <secret>` header.
///
/// # Errors
/// 401 `unauthorized` for another scheme or an empty secret.
pub fn bearer_secret(auth: &HeaderValue) -> Result<&str, ApiError> {
    auth.to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))
}

/// Authenticates a request once (the result is cached in the request's extensions).
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
    if let Some(c) = parts.extensions.get::<Caller>() {
        return Ok(c.clone());
    }
    let now = state.clock.now();
    let caller = if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let secret = bearer_secret(auth)?;
        let token = state
            .store
            .global()
            .authenticate_token(secret, now)
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("the API token is unknown, expired or revoked")
            })?;
        let decision = state.limits.check_token(token.id);
        // A limit of 0 means none: no headers then (`RateLimit-Limit: 0` would say "stop").
        if decision.limit > 0
            && let Some(slot) = parts.extensions.get::<RateSlot>()
        {
            slot.set(decision);
        }
        if !decision.allowed {
            let after = decision.retry_after.unwrap_or(Duration::from_secs(1));
            return Err(ApiError::rate_limited(after));
        }
        Caller::Token(token)
    } else if let Some(secret) = session_cookie(&parts.headers) {
        match state.store.global().session(&secret, now).await? {
            Some((session, user)) => {
                if is_unsafe(&parts.method) && !same_origin(state, &parts.headers) {
                    return Err(ApiError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "cross_site_request",
                        "a request authenticated by the session cookie must come from this site \
                         (Origin or Sec-Fetch-Site)",
                    ));
                }
                Caller::Session { user, session }
            }
            None => Caller::Anonymous,
        }
    } else {
        Caller::Anonymous
    };
    parts.extensions.insert(caller.clone());
    Ok(caller)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await
    }
}

/// A caller that is not anonymous (401 otherwise).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        caller.require()?;
        Ok(Self(caller))
    }
}

// === roles ===

/// How much a role may do, from viewer (0) to owner (3).
pub fn role_rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Member => 1,
        Role::Admin => 2,
        Role::Owner => 3,
    }
}

/// A minimum role an [`Access`] demands.
pub trait Need: Send + Sync + 'static {
    /// The least role allowed.
    const ROLE: Role;
}

/// Reading: any member (viewer and up).
#[derive(Debug, Clone, Copy)]
pub struct Read;
/// Writing monitors, channels, incidents, maintenance; check now, send test, replay
/// (member and up).
#[derive(Debug, Clone, Copy)]
pub struct Write;
/// Managing members and API tokens, renaming the workspace (admin and up).
#[derive(Debug, Clone, Copy)]
pub struct Manage;
/// Deleting the workspace (owner).
#[derive(Debug, Clone, Copy)]
pub struct Own;

impl Need for Read {
    const ROLE: Role = Role::Viewer;
}
impl Need for Write {
    const ROLE: Role = Role::Member;
}
impl Need for Manage {
    const ROLE: Role = Role::Admin;
}
impl Need for Own {
    const ROLE: Role = Role::Owner;
}

/// The caller's access to the `{workspace}` of the path, with at least the role `R` needs.
///
/// Rejections: 401 without credentials, 404 `not_found` for a workspace that does not exist
/// or that the caller has no access to (a token of another workspace, a user who is not a
/// member), 403 `forbidden` for a role below `R::ROLE`.
#[derive(Debug, Clone)]
pub struct Access<R = Read> {
    /// The workspace.
    pub workspace: Workspace,
    /// The caller's role in it.
    pub role: Role,
    /// The caller.
    pub caller: Caller,
    need: PhantomData<R>,
}

impl<R> Access<R> {
    /// The workspace's id (every store call is scoped by it).
    pub fn ws(&self) -> WorkspaceId {
        self.workspace.id
    }

    /// Refuses unless the caller's role is at least `role`.
    ///
    /// # Errors
    /// 403 `forbidden`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if role_rank(self.role) >= role_rank(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {role} role or higher in this workspace; you are {}",
                self.role
            )))
        }
    }
}

impl<R: Need> Access<R> {
    /// The access of a caller whose workspace and role are already resolved (the dashboard
    /// resolves them from its own path), checked against `R`.
    ///
    /// # Errors
    /// 403 `forbidden` for a role below `R::ROLE`.
    pub(crate) fn for_session(
        workspace: Workspace,
        role: Role,
        caller: Caller,
    ) -> Result<Self, ApiError> {
        let access = Self {
            workspace,
            role,
            caller,
            need: PhantomData,
        };
        access.require(R::ROLE)?;
        Ok(access)
    }
}

/// The workspace slug of the path (`{workspace}`).
async fn workspace_param(parts: &mut Parts, state: &AppState) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::not_found("workspace"))?;
    params
        .iter()
        .find(|(k, _)| *k == "workspace")
        .map(|(_, v)| v.to_owned())
        .ok_or_else(|| ApiError::not_found("workspace"))
}

/// Resolves a workspace slug for a caller: the workspace and the caller's role there.
///
/// # Errors
/// 401 for an anonymous caller; 404 when the workspace does not exist or the caller has no
/// access to it.
pub async fn resolve_workspace(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> Result<(Workspace, Role), ApiError> {
    caller.require()?;
    let not_found = || ApiError::not_found("workspace");
    let ws = state
        .store
        .global()
        .workspace_by_slug(slug)
        .await?
        .ok_or_else(not_found)?;
    let role = match caller {
        Caller::Anonymous => return Err(not_found()),
        Caller::Token(t) if t.workspace_id == ws.id => t.role,
        Caller::Token(_) => return Err(not_found()),
        Caller::Session { user, .. } => state
            .store
            .workspace(ws.id)
            .role_of(user.id)
            .await?
            .ok_or_else(not_found)?,
    };
    Ok((ws, role))
}

impl<R: Need> FromRequestParts<AppState> for Access<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        caller.require()?;
        let slug = workspace_param(parts, state).await?;
        let (workspace, role) = resolve_workspace(state, &caller, &slug).await?;
        let access = Self {
            workspace,
            role,
            caller,
            need: PhantomData,
        };
        access.require(R::ROLE)?;
        Ok(access)
    }
}

/// Refuses a login attempt over the limit with 429 and `Retry-After`.
///
/// # Errors
/// 429 `rate_limited`.
pub fn check_login_limit(
    state: &AppState,
    email: &str,
    addr: Option<IpAddr>,
) -> Result<(), ApiError> {
    let d = state.limits.check_login(email, addr);
    if d.allowed {
        Ok(())
    } else {
        Err(ApiError::rate_limited(
            d.retry_after.unwrap_or(Duration::from_secs(1)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_its_capacity_then_refuses_until_refilled() {
        let b = Buckets::<u8>::new();
        let t0 = Instant::now();
        for i in 0..3 {
            let d = b.take(&[1], 3, t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 2 - i);
        }
        let d = b.take(&[1], 3, t0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        // 3 per minute: one request back every 20 s.
        assert_eq!(d.retry_after.map(ceil_secs), Some(20));
        assert_eq!(d.reset, 60);
        let d = b.take(&[1], 3, t0 + Duration::from_secs(20));
        assert!(d.allowed);
        // Another key is independent.
        assert!(b.take(&[2], 3, t0).allowed);
    }

    #[test]
    fn a_refused_key_consumes_nothing_from_the_others() {
        let b = Buckets::<u8>::new();
        let t0 = Instant::now();
        assert!(b.take(&[1], 1, t0).allowed);
        assert!(!b.take(&[1, 2], 1, t0).allowed);
        assert!(b.take(&[2], 1, t0).allowed);
    }

    #[test]
    fn zero_means_unlimited() {
        let b = Buckets::<u8>::new();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(b.take(&[1], 0, t0).allowed);
        }
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; bitwobbly_session=abc ; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("a=1"));
        assert_eq!(session_cookie(&h), None);
    }
}
