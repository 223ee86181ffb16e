//! Public status pages: HTML, Statuspage v2-compatible JSON, Atom/RSS feeds, SVG badges and
//! subscriptions, served from a cached snapshot per page.
//!
//! A request goes through [`PublicPage`] (rate limit per client address, page by slug or by
//! custom-domain Host, public check, password cookie), which hands out the page's cached
//! [`Snapshot`]; [`PublicPage::respond`] renders a representation of it once per snapshot and
//! serves the cached bytes (precompressed, strong ETag, `304`). The cache is dropped per
//! workspace by [`Pages::invalidate`] (and, on PostgreSQL, on every node through
//! `LISTEN/NOTIFY`) and rebuilt after [`PagesConfig::max_age`] in any case.

pub mod badges;
pub mod cache;
pub mod feeds;
pub mod html;
pub mod json;
pub mod password;
pub mod snapshot;
pub mod subscribe;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bitwobbly_store::api::PageDirectory;
use bitwobbly_store::model::StatusPage;
use bitwobbly_store::types::{StatusPageId, WorkspaceId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::auth::Buckets;
use crate::error::ApiError;
use crate::state::AppState;

pub use cache::Cached;
pub use snapshot::Snapshot;

/// `[pages]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PagesConfig {
    /// Public page requests allowed per client address and minute (a token bucket: bursts up
    /// to this many); 0 turns the limit off. Default: 600.
    pub requests_per_minute: u32,
    /// A cached snapshot is rebuilt after this long even when nothing invalidated it
    /// (maintenance starts, days roll over). Default: 60 s.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// `Cache-Control: max-age` sent to browsers and proxies. Default: 10 s.
    #[serde(with = "humantime_serde")]
    pub client_max_age: Duration,
    /// `Cache-Control: stale-while-revalidate`. Default: 60 s.
    #[serde(with = "humantime_serde")]
    pub stale_while_revalidate: Duration,
    /// The key that signs password cookies. Set the same value on every node; without it each
    /// node makes a random key at start (visitors then re-enter the password after a restart
    /// or on another node).
    pub cookie_secret: Option<String>,
    /// How long a password cookie is valid. Default: 7 days.
    #[serde(with = "humantime_serde")]
    pub password_ttl: Duration,
    /// Subscriptions by email and webhook (`[pages.subscribers]`).
    pub subscribers: subscribe::SubscribersConfig,
}

impl Default for PagesConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 600,
            max_age: Duration::from_secs(60),
            client_max_age: Duration::from_secs(10),
            stale_while_revalidate: Duration::from_secs(60),
            cookie_secret: None,
            password_ttl: Duration::from_secs(7 * 24 * 3600),
            subscribers: subscribe::SubscribersConfig::default(),
        }
    }
}

/// Entries of the address cache beyond which it is emptied (hostile Host headers cannot grow
/// it without bound).
const MAX_ADDRESSES: usize = 10_000;

/// The longest slug or Host looked up; longer ones are not found without a query.
const MAX_ADDRESS_LEN: usize = 253;

/// A page found by address, with when it was looked up.
#[derive(Debug, Clone)]
struct Found {
    page: Option<Arc<StatusPage>>,
    at: Instant,
}

/// Status pages' shared parts, kept in [`AppState`].
#[derive(Debug)]
pub struct Pages {
    config: PagesConfig,
    /// Slug (`s:slug`) or custom domain (`h:host`) to the page (or to nothing).
    addresses: RwLock<HashMap<String, Found>>,
    /// Cached snapshots by page.
    entries: RwLock<HashMap<StatusPageId, Arc<Cached>>>,
    /// Bumped per workspace by every invalidation: a snapshot built while one happened is not
    /// kept.
    generations: Mutex<HashMap<WorkspaceId, u64>>,
    /// One build at a time per page.
    building: Mutex<HashMap<StatusPageId, Arc<tokio::sync::Mutex<()>>>>,
    limiter: Buckets<Option<IpAddr>>,
    /// Subscriptions' SMTP server and rate limits.
    subscriptions: subscribe::Subscriptions,
    cookie_key: [u8; 32],
    /// Invalidations to announce to other nodes.
    announce: mpsc::UnboundedSender<WorkspaceId>,
    announcements: Mutex<Option<mpsc::UnboundedReceiver<WorkspaceId>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave a map half-written.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pages {
    /// Builds the shared parts from the configuration.
    pub fn new(config: &PagesConfig) -> Self {
        let cookie_key = match &config.cookie_secret {
            Some(secret) => password::derive_key(secret.as_bytes()),
            None => rand::random(),
        };
        let (announce, rx) = mpsc::unbounded_channel();
        Self {
            config: config.clone(),
            addresses: RwLock::new(HashMap::new()),
            entries: RwLock::new(HashMap::new()),
            generations: Mutex::new(HashMap::new()),
            building: Mutex::new(HashMap::new()),
            limiter: Buckets::new(),
            subscriptions: subscribe::Subscriptions::new(&config.subscribers),
            cookie_key,
            announce,
            announcements: Mutex::new(Some(rx)),
        }
    }

    /// Subscriptions' shared parts.
    pub(crate) fn subscriptions(&self) -> &subscribe::Subscriptions {
        &self.subscriptions
    }

    /// The SMTP server of subscribers' mail, if `[pages.subscribers.smtp]` is set.
    pub(crate) fn subscriber_smtp(&self) -> Option<&crate::notify::email::Smtp> {
        self.subscriptions.smtp()
    }

    /// The configuration.
    pub fn config(&self) -> &PagesConfig {
        &self.config
    }

    /// Forgets every cached snapshot of the workspace on this node and, on PostgreSQL, on the
    /// others. Cheap and synchronous; call it after the change is committed.
    pub fn invalidate(&self, ws: WorkspaceId) {
        self.invalidate_local(ws);
        // Nobody listens when the listener task is not running (tests without it).
        let _ = self.announce.send(ws);
    }

    /// Forgets the workspace's snapshots on this node only (what a NOTIFY from another node
    /// does).
    pub(crate) fn invalidate_local(&self, ws: WorkspaceId) {
        *lock(&self.generations).entry(ws).or_insert(0) += 1;
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, e| e.snapshot.page.workspace_id != ws);
        // Slugs, domains and visibility may have changed.
        self.addresses
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Forgets every cached snapshot on this node (after missed announcements).
    pub(crate) fn invalidate_all(&self) {
        for g in lock(&self.generations).values_mut() {
            *g += 1;
        }
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.addresses
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn generation(&self, ws: WorkspaceId) -> u64 {
        lock(&self.generations).get(&ws).copied().unwrap_or(0)
    }

    /// The page's current snapshot: the cached one while it is fresh, else a new one.
    ///
    /// # Errors
    /// A database error.
    pub async fn snapshot(
        &self,
        state: &AppState,
        page: &StatusPage,
    ) -> Result<Arc<Snapshot>, ApiError> {
        Ok(self.entry(state, page).await?.snapshot.clone())
    }

    /// The page's cached entry (snapshot and rendered bytes), built if missing or stale.
    async fn entry(&self, state: &AppState, page: &StatusPage) -> Result<Arc<Cached>, ApiError> {
        if let Some(e) = self.fresh(page.id) {
            return Ok(e);
        }
        let gate = lock(&self.building)
            .entry(page.id)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
            .clone();
        let _building = gate.lock().await;
        if let Some(e) = self.fresh(page.id) {
            return Ok(e);
        }
        let generation = self.generation(page.workspace_id);
        let snapshot = snapshot::build(state, page, state.clock.now()).await?;
        let entry = Arc::new(Cached::new(
            Arc::new(snapshot),
            page.password_set_at.filter(|_| page.is_protected()),
            &self.config,
        ));
        if self.generation(page.workspace_id) == generation {
            self.entries
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(page.id, entry.clone());
        }
        Ok(entry)
    }

    fn fresh(&self, page: StatusPageId) -> Option<Arc<Cached>> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(&page)
            .filter(|e| e.built.elapsed() < self.config.max_age)
            .cloned()
    }

    /// The page at an address key (`s:slug` or `h:host`), cached (also when there is none).
    async fn lookup(
        &self,
        state: &AppState,
        key: String,
    ) -> Result<Option<Arc<StatusPage>>, ApiError> {
        {
            let addresses = self
                .addresses
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(found) = addresses.get(&key)
                && found.at.elapsed() < self.config.max_age
            {
                return Ok(found.page.clone());
            }
        }
        let address = &key[2..];
        let mut global = state.store.global();
        let page = if key.starts_with("s:") {
            global.status_page_by_slug(address).await?
        } else {
            global.status_page_by_domain(address).await?
        }
        .map(Arc::new);
        let mut addresses = self
            .addresses
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if addresses.len() >= MAX_ADDRESSES {
            addresses.clear();
        }
        addresses.insert(
            key,
            Found {
                page: page.clone(),
                at: Instant::now(),
            },
        );
        Ok(page)
    }
}

/// A public page request that passed every rule: rate limit, address, visibility, password.
#[derive(Debug, Clone)]
pub struct PublicPage {
    /// The page's cached entry.
    pub entry: Arc<Cached>,
    /// Its snapshot.
    pub snapshot: Arc<Snapshot>,
    /// Prefix for links on the page: `/s/{slug}`, or empty on a custom domain.
    pub base: String,
}

/// How a request named its page.
#[derive(Debug, Clone)]
struct Address {
    /// Cache key: `s:slug` or `h:host`.
    key: String,
    /// Link prefix.
    base: String,
}

/// Normalises a Host header: lowercase, without port and trailing dot; `None` when it is
/// not a plausible host name.
fn host_name(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::HOST)?.to_str().ok()?;
    if raw.len() > MAX_ADDRESS_LEN + 6 {
        return None;
    }
    let host = match raw.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => raw,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= MAX_ADDRESS_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then_some(host)
}

/// Whether a slug is worth looking up.
fn plausible_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_ADDRESS_LEN
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A public page's 404 (the same for a missing, non-public or unknown page).
pub(crate) fn page_not_found() -> Response {
    ApiError::not_found("status page").into_response()
}

/// A request resolved to its page: rate limited, found, public.
pub(crate) struct Resolved {
    pub(crate) page: Arc<StatusPage>,
    pub(crate) entry: Arc<Cached>,
    pub(crate) base: String,
}

/// Counts the request against its client address; the refusal (`429` with `Retry-After`)
/// when the address has no requests left.
pub(crate) fn rate_limit(state: &AppState, parts: &Parts) -> Option<Response> {
    let pages = &state.pages;
    limit_address(
        &pages.limiter,
        crate::auth::client_addr(parts),
        pages.config.requests_per_minute,
        "too many requests from this address; try again later",
    )
}

/// Takes one request from `addr`'s bucket in `buckets` (a budget of `per_minute`); when it is
/// spent, the 429 `rate_limited` answer saying `message`, with `RateLimit-*` and `Retry-After`.
pub(crate) fn limit_address(
    buckets: &Buckets<Option<IpAddr>>,
    addr: Option<IpAddr>,
    per_minute: u32,
    message: &'static str,
) -> Option<Response> {
    let decision = buckets.take(&[addr], per_minute, tokio::time::Instant::now());
    if decision.allowed {
        return None;
    }
    let mut res =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response();
    decision.write_headers(res.headers_mut());
    Some(res)
}

/// Finds the request's page (by `{slug}` or custom-domain Host) and its cached entry, after
/// the rate limit; `404` for a missing or non-public page. The password is not checked.
pub(crate) async fn resolve(parts: &mut Parts, state: &AppState) -> Result<Resolved, Response> {
    if let Some(refused) = rate_limit(state, parts) {
        return Err(refused);
    }
    let slug = RawPathParams::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == "slug")
                .map(|(_, v)| v.to_owned())
        });
    let address = match slug {
        Some(slug) if plausible_slug(&slug) => Address {
            base: format!("/s/{slug}"),
            key: format!("s:{slug}"),
        },
        Some(_) => return Err(page_not_found()),
        None => match host_name(&parts.headers) {
            Some(host) => Address {
                key: format!("h:{host}"),
                base: String::new(),
            },
            None => return Err(page_not_found()),
        },
    };
    let pages = &state.pages;
    let page = match pages.lookup(state, address.key).await {
        Ok(Some(p)) if p.public => p,
        Ok(_) => return Err(page_not_found()),
        Err(e) => return Err(e.into_response()),
    };
    let entry = pages
        .entry(state, &page)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Resolved {
        page,
        entry,
        base: address.base,
    })
}

impl FromRequestParts<AppState> for PublicPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Resolved { entry, base, .. } = resolve(parts, state).await?;
        if entry.protected.is_some()
            && !password::cookie_ok(
                &state.pages.cookie_key,
                &parts.headers,
                &entry,
                state.clock.now(),
            )
        {
            return Err(password::refuse(parts, &entry, &base));
        }
        Ok(Self {
            snapshot: entry.snapshot.clone(),
            entry,
            base,
        })
    }
}

impl PublicPage {
    /// Serves `render`'s bytes for `key`, rendered once per snapshot and link base, with
    /// precompressed variants, a strong ETag, Last-Modified, Cache-Control and `304` answers
    /// to `If-None-Match` / `If-Modified-Since`.
    pub fn respond(
        &self,
        req: &HeaderMap,
        key: &str,
        content_type: &'static str,
        render: impl FnOnce(&Snapshot) -> Vec<u8>,
    ) -> Response {
        self.entry
            .variant(&self.base, key, content_type, || render(&self.snapshot))
            .respond(req)
    }
}

/// The public page routes (`/s/{slug}/...` and `/` by custom domain).
pub fn router() -> axum::Router<AppState> {
    let page = axum::Router::new()
        .route("/", get(html::page))
        .route("/history", get(html::history))
        .route("/incidents/{id}", get(html::incident))
        .route("/unlock", get(password::form).post(password::submit))
        .merge(json::routes())
        .merge(feeds::routes())
        .merge(badges::routes())
        .merge(subscribe::routes());
    axum::Router::new()
        .nest("/s/{slug}", page.clone())
        .merge(page)
}

/// Starts the pages' background tasks (cross-node cache invalidation) on `tasks`.
pub fn spawn_tasks(state: &AppState, tasks: &TaskTracker) {
    let Some(rx) = lock(&state.pages.announcements).take() else {
        return;
    };
    drop(crate::spawn(
        "pages-invalidation",
        tasks.track_future(cache::cross_node(state.clone(), rx)),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn host(v: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(v).unwrap());
        host_name(&h)
    }

    #[test]
    fn hosts_are_normalised_and_checked() {
        assert_eq!(
            host("Status.Example.COM:443").as_deref(),
            Some("status.example.com")
        );
        assert_eq!(
            host("status.example.com.").as_deref(),
            Some("status.example.com")
        );
        assert_eq!(host("[::1]:8080"), None);
        assert_eq!(host("bad host"), None);
        assert_eq!(host("a/b"), None);
        assert_eq!(host(&"a".repeat(300)), None);
        assert_eq!(host_name(&HeaderMap::new()), None);
    }

    #[test]
    fn slugs_are_checked_before_any_query() {
        assert!(plausible_slug("acme-status_2"));
        assert!(!plausible_slug(""));
        assert!(!plausible_slug("../x"));
        assert!(!plausible_slug("a b"));
        assert!(!plausible_slug(&"a".repeat(300)));
    }
}
