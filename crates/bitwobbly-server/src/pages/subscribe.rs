//! Visitors subscribe to a page's incidents by email or webhook.
//!
//! - `POST {page}/subscribe` with a form (`email=...` or `webhook=...`, from the form on the
//!   page, no JavaScript needed; answered with an HTML page) or JSON (`{"email": "..."}` or
//!   `{"webhook": "..."}`; answered `202 {"status": "pending"}` or `201 {"status":
//!   "confirmed"}`). `GET {page}/subscribe` shows the form alone.
//! - Email is double opt-in: the subscriber is stored unconfirmed and a confirmation mail
//!   with a link goes out through the outbox (in the same transaction). Subscribing an address
//!   again sends the confirmation again while it is unconfirmed; the answer is the same in
//!   every case, so the form does not tell who is subscribed.
//! - A webhook is confirmed by a first ping: the server posts `subscription.created` to it
//!   at once (private and loopback targets refused when `targets.deny_private` is on) and
//!   keeps the subscription only if it answers 2xx.
//! - `GET {page}/subscribe/confirm?token=...` confirms; `GET` or `POST
//!   {page}/unsubscribe?token=...` unsubscribes at once (one click; `POST` is RFC 8058's
//!   `List-Unsubscribe-Post`). These work without the page's password: the token is the key.
//! - Subscribe, confirm and unsubscribe requests are limited per client address
//!   (`pages.subscribers.requests_per_minute`, 429 with `Retry-After`), and confirmation mails
//!   per address subscribed (one a minute).
//!
//! Incidents created, updated and resolved on a page reach its confirmed subscribers through
//! the outbox: [`enqueue_incident`] runs inside the transaction of the incident change.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{Query, RawPathParams, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bitwobbly_store::Tx;
use bitwobbly_store::model::{Incident, StatusPage, Subscriber};
use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use url::Url;

use super::PublicPage;
use crate::auth::{Buckets, ClientAddr};
use crate::error::ApiError;
use crate::notify::subscriber::{self, IncidentFacts, MessageKind, SubscriberMessage};
use crate::state::AppState;

/// `[pages.subscribers]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SubscribersConfig {
    /// The SMTP server subscribers' mail goes through: `host`, `port`, `tls` (`starttls`,
    /// `implicit`, `none`), `username`, `password`, `from`, as an email channel's `smtp`.
    /// Without it visitors cannot subscribe by email. Default: none.
    pub smtp: Option<serde_json::Value>,
    /// Whether visitors may subscribe a webhook. Default: true.
    pub webhooks: bool,
    /// Subscribe, confirm and unsubscribe requests allowed per client address and minute (a
    /// token bucket); 0 turns the limit off. Default: 5.
    pub requests_per_minute: u32,
}

impl Default for SubscribersConfig {
    fn default() -> Self {
        Self {
            smtp: None,
            webhooks: true,
            requests_per_minute: 5,
        }
    }
}

/// Subscriptions' shared parts: the SMTP server and the rate limits.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    config: SubscribersConfig,
    smtp: Option<crate::notify::email::Smtp>,
    by_address: Buckets<Option<IpAddr>>,
    by_target: Buckets<String>,
}

impl Subscriptions {
    /// From the configuration; invalid SMTP settings leave email subscriptions off (and are
    /// reported by [`SubscribersConfig::validate`]).
    pub(crate) fn new(config: &SubscribersConfig) -> Self {
        let smtp = config.smtp.as_ref().and_then(|v| {
            subscriber::smtp_from_config(v)
                .map_err(|e| tracing::error!(error = %e, "pages.subscribers.smtp is invalid: email subscriptions are off"))
                .ok()
        });
        Self {
            config: config.clone(),
            smtp,
            by_address: Buckets::new(),
            by_target: Buckets::new(),
        }
    }

    /// The subscribers' SMTP server, if set up.
    pub(crate) fn smtp(&self) -> Option<&crate::notify::email::Smtp> {
        self.smtp.as_ref()
    }

    /// Takes one request of `addr`'s budget; the 429 when it is spent.
    fn limit(&self, addr: Option<IpAddr>) -> Option<Response> {
        super::limit_address(
            &self.by_address,
            addr,
            self.config.requests_per_minute,
            "too many subscription requests from this address; try again later",
        )
    }
}

impl SubscribersConfig {
    /// Checks the SMTP settings.
    ///
    /// # Errors
    ///
    /// 422 naming the field (`pages.subscribers.smtp.host`, ...).
    pub fn validate(&self) -> Result<(), ApiError> {
        match &self.smtp {
            Some(v) => subscriber::smtp_from_config(v).map(drop),
            None => Ok(()),
        }
    }
}

/// The subscription routes, relative to a page.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/subscribe", get(form).post(subscribe))
        .route("/subscribe/confirm", get(confirm))
        .route("/unsubscribe", get(unsubscribe).post(unsubscribe))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// Largest subscribe body.
const MAX_BODY: usize = 4096;
/// Longest email address (RFC 5321 path limit).
const MAX_EMAIL: usize = 254;
/// Longest webhook URL.
const MAX_URL: usize = 2048;

/// What a visitor subscribes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Email(String),
    Webhook(Url),
}

/// The subscribe form or JSON body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeInput {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    webhook: Option<String>,
}

impl SubscribeInput {
    /// The one target, checked.
    fn target(&self, deny_private: bool) -> Result<Target, ApiError> {
        let email = self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let webhook = self
            .webhook
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        match (email, webhook) {
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "webhook",
                "give either an email address or a webhook URL, not both",
            )),
            (None, None) => Err(ApiError::invalid(
                "email",
                "an email address (or a webhook URL) is required",
            )),
            (Some(e), None) => parse_email(e).map(Target::Email),
            (None, Some(w)) => parse_webhook(w, deny_private).map(Target::Webhook),
        }
    }
}

/// A plain `user@domain` address, lowercase.
fn parse_email(s: &str) -> Result<String, ApiError> {
    if s.len() > MAX_EMAIL {
        return Err(ApiError::invalid(
            "email",
            format!("at most {MAX_EMAIL} characters"),
        ));
    }
    let address: lettre::Address = s
        .parse()
        .map_err(|e| ApiError::invalid("email", format!("is not an email address: {e}")))?;
    Ok(address.to_string().to_lowercase())
}

/// An `http(s)` URL without credentials; a literal private address is refused when private
/// targets are denied (names are checked when they are resolved).
fn parse_webhook(s: &str, deny_private: bool) -> Result<Url, ApiError> {
    if s.len() > MAX_URL {
        return Err(ApiError::invalid(
            "webhook",
            format!("at most {MAX_URL} characters"),
        ));
    }
    let url =
        Url::parse(s).map_err(|e| ApiError::invalid("webhook", format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ApiError::invalid("webhook", "must be an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(
            "webhook",
            "must not hold a user name or password",
        ));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        _ => None,
    };
    if let Some(ip) = ip {
        crate::netguard::check_ip(deny_private, ip)
            .map_err(|e| ApiError::invalid("webhook", e.to_string()))?;
    }
    Ok(url)
}

/// Whether the request body is JSON (else a form).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// How a subscription request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscribed {
    /// A confirmation mail is on its way (or nothing, if the address was confirmed already).
    Pending,
    /// The webhook answered its ping: it is subscribed.
    Confirmed,
}

/// `GET {page}/subscribe`: the form alone.
async fn form(page: PublicPage) -> Response {
    notice(
        &page,
        StatusCode::OK,
        "Subscribe to updates",
        "Get an email or a webhook call when an incident is opened, updated or resolved.",
        true,
    )
}

/// `POST {page}/subscribe`.
async fn subscribe(
    page: PublicPage,
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(res) = state.pages.subscriptions().limit(addr) {
        return res;
    }
    let json = is_json(&headers);
    let input: Result<SubscribeInput, ApiError> = if json {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("bad JSON: {e}")))
    } else {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::bad_request(format!("bad form: {e}")))
    };
    let result = match input {
        Ok(input) => add(&state, &page, &input).await,
        Err(e) => Err(e),
    };
    match (json, result) {
        (true, Ok(Subscribed::Pending)) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"status": "pending"})),
        )
            .into_response(),
        (true, Ok(Subscribed::Confirmed)) => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({"status": "confirmed"})),
        )
            .into_response(),
        (true, Err(e)) => e.into_response(),
        (false, Ok(Subscribed::Pending)) => notice(
            &page,
            StatusCode::OK,
            "Check your inbox",
            "We sent a confirmation link to the address you gave. Open it to start receiving updates.",
            false,
        ),
        (false, Ok(Subscribed::Confirmed)) => notice(
            &page,
            StatusCode::OK,
            "Subscribed",
            "Your webhook answered and is now subscribed to this page's incidents.",
            false,
        ),
        (false, Err(e)) => {
            if let Some(after) = e.retry_after {
                let mut res = notice(&page, e.status, "Please try again later", &e.message, true);
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    axum::http::HeaderValue::from(after.as_secs().max(1)),
                );
                return res;
            }
            notice(&page, e.status, "That did not work", &e.message, true)
        }
    }
}

/// Adds the subscriber and starts its confirmation.
async fn add(
    state: &AppState,
    page: &PublicPage,
    input: &SubscribeInput,
) -> Result<Subscribed, ApiError> {
    let deny_private = state.config.targets.deny_private;
    let subs = state.pages.subscriptions();
    let target = input.target(deny_private)?;
    let info = &page.snapshot.page;
    let ws = info.workspace_id;
    let now = state.clock.now();
    match target {
        Target::Email(email) => {
            if subs.smtp().is_none() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "email_unavailable",
                    "this server does not send email to subscribers; subscribe a webhook instead",
                )
                .with_field("email"));
            }
            // One confirmation mail a minute per address, whoever asks.
            let decision =
                subs.by_target
                    .take(std::slice::from_ref(&email), 1, tokio::time::Instant::now());
            if !decision.allowed {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "a confirmation was just sent to this address; try again in a minute",
                )
                .with_retry_after(decision.retry_after.unwrap_or_default()));
            }
            let existing = find(state, ws, info.id, SubscriberKind::Email, &email).await?;
            let sub = match existing {
                Some(s) if s.confirmed => return Ok(Subscribed::Pending),
                Some(s) => s,
                None => {
                    match new_subscriber(state, ws, info.id, SubscriberKind::Email, &email).await {
                        Ok(s) => s,
                        // Subscribed by a concurrent request: it sends the confirmation.
                        Err(StoreError::Conflict { .. }) => return Ok(Subscribed::Pending),
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            let mut tx = state.store.begin().await?;
            enqueue(
                &mut tx,
                ws,
                sub.id,
                SubscriberMessage {
                    kind: MessageKind::Confirm,
                    incident: None,
                },
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(Subscribed::Pending)
        }
        Target::Webhook(url) => {
            if !subs.config.webhooks {
                return Err(ApiError::invalid(
                    "webhook",
                    "this server does not accept webhook subscriptions",
                ));
            }
            let existing = find(state, ws, info.id, SubscriberKind::Webhook, url.as_str()).await?;
            let sub = match existing {
                Some(s) if s.confirmed => return Ok(Subscribed::Confirmed),
                Some(s) => s,
                None => {
                    new_subscriber(state, ws, info.id, SubscriberKind::Webhook, url.as_str())
                        .await?
                }
            };
            let page_row = state
                .store
                .workspace(ws)
                .status_page(info.id)
                .await?
                .ok_or_else(|| ApiError::not_found("status page"))?;
            let ping = SubscriberMessage {
                kind: MessageKind::Subscribed,
                incident: None,
            };
            let message_id = format!("msg_sub_{}_{}", sub.id.0, now.as_millis());
            if let Err(e) = subscriber::send(state, &page_row, &sub, &ping, &message_id).await {
                // Not kept: the visitor may try again once the receiver works.
                state.store.workspace(ws).remove_subscriber(sub.id).await?;
                return Err(ApiError::invalid(
                    "webhook",
                    format!("the webhook did not accept the first ping: {}", e.message),
                ));
            }
            state
                .store
                .workspace(ws)
                .confirm_subscriber(sub.id, now)
                .await?;
            Ok(Subscribed::Confirmed)
        }
    }
}

/// The page's subscriber with this target, if any.
async fn find(
    state: &AppState,
    ws: WorkspaceId,
    page: StatusPageId,
    kind: SubscriberKind,
    target: &str,
) -> Result<Option<Subscriber>, ApiError> {
    Ok(state
        .store
        .workspace(ws)
        .subscribers(page)
        .await?
        .into_iter()
        .find(|s| s.kind == kind && s.target == target))
}

async fn new_subscriber(
    state: &AppState,
    ws: WorkspaceId,
    page: StatusPageId,
    kind: SubscriberKind,
    target: &str,
) -> Result<Subscriber, StoreError> {
    state
        .store
        .workspace(ws)
        .add_subscriber(page, kind, target, state.clock.now())
        .await
}

/// Puts `msg` for one subscriber in the outbox inside `tx`.
async fn enqueue(
    tx: &mut Tx,
    ws: WorkspaceId,
    sub: SubscriberId,
    msg: SubscriberMessage,
    now: Timestamp,
) -> bitwobbly_store::Result<()> {
    let payload = serde_json::to_value(&msg).map_err(|source| StoreError::Json {
        what: "subscriber message",
        source,
    })?;
    tx.workspace(ws)
        .enqueue_subscriber_notification(
            &NewSubscriberNotification {
                subscriber_id: sub,
                event: msg.kind.event().to_owned(),
                payload,
                not_before: now,
            },
            now,
        )
        .await?;
    Ok(())
}

/// What happened to an incident, for its subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentEvent {
    /// Opened, or published after review.
    Created,
    /// A new update.
    Updated,
    /// Resolved.
    Resolved,
}

/// Tells the confirmed subscribers of every page showing `incident` (see
/// `NotificationStore::incident_subscribers`) about `event`, with `message` (the update's
/// text), by putting one outbox row each in `tx`; returns how many. Run it in the
/// transaction of the incident change.
///
/// # Errors
///
/// A store error; the caller rolls the transaction back.
pub async fn enqueue_incident(
    tx: &mut Tx,
    incident: &Incident,
    event: IncidentEvent,
    message: &str,
    now: Timestamp,
) -> bitwobbly_store::Result<usize> {
    let ws = incident.workspace_id;
    let subscribers = tx.workspace(ws).incident_subscribers(incident.id).await?;
    let kind = match event {
        IncidentEvent::Created => MessageKind::IncidentCreated,
        IncidentEvent::Updated => MessageKind::IncidentUpdated,
        IncidentEvent::Resolved => MessageKind::IncidentResolved,
    };
    let status = if event == IncidentEvent::Resolved {
        IncidentStatus::Resolved
    } else {
        incident.status
    };
    let msg = SubscriberMessage {
        kind,
        incident: Some(IncidentFacts {
            id: incident.id,
            title: incident.title.clone(),
            status,
            impact: incident.impact,
            message: message.to_owned(),
            at: now,
        }),
    };
    for sub in &subscribers {
        enqueue(tx, ws, *sub, msg.clone(), now).await?;
    }
    Ok(subscribers.len())
}

/// `?token=...` of the confirm and unsubscribe links.
#[derive(Debug, Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The subscriber of a link's token, on the page the request names (by slug, or by custom
/// domain), with that page.
async fn by_token(
    state: &AppState,
    params: &RawPathParams,
    headers: &HeaderMap,
    token: &str,
) -> Result<(Subscriber, StatusPage, String), Response> {
    let not_found = || ApiError::not_found("subscription").into_response();
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let sub = match state.store.global().subscriber_by_token(token).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    let page = match state
        .store
        .workspace(sub.workspace_id)
        .status_page(sub.page_id)
        .await
    {
        Ok(Some(p)) => p,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    let slug = params.iter().find(|(k, _)| *k == "slug").map(|(_, v)| v);
    let base = match slug {
        Some(slug) if slug == page.slug => format!("/s/{slug}"),
        Some(_) => return Err(not_found()),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| {
                    h.rsplit_once(':')
                        .map_or(h, |(h, _)| h)
                        .to_ascii_lowercase()
                });
            if !host.is_some_and(|h| page.domains.contains(&h)) {
                return Err(not_found());
            }
            String::new()
        }
    };
    Ok((sub, page, base))
}

/// `GET {page}/subscribe/confirm?token=...`.
async fn confirm(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    params: RawPathParams,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Some(res) = state.pages.subscriptions().limit(addr) {
        return res;
    }
    let (sub, page, base) = match by_token(&state, &params, &headers, &q.token).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if !sub.confirmed
        && let Err(e) = state
            .store
            .workspace(sub.workspace_id)
            .confirm_subscriber(sub.id, state.clock.now())
            .await
    {
        return ApiError::from(e).into_response();
    }
    token_notice(
        &state,
        &page,
        &base,
        "Subscription confirmed",
        "You will receive an email when an incident on this page is opened, updated or resolved. Every message has a link to unsubscribe.",
    )
    .await
}

/// `GET` or `POST {page}/unsubscribe?token=...`: one click, no questions.
async fn unsubscribe(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    params: RawPathParams,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Some(res) = state.pages.subscriptions().limit(addr) {
        return res;
    }
    let (sub, page, base) = match by_token(&state, &params, &headers, &q.token).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if let Err(e) = state
        .store
        .workspace(sub.workspace_id)
        .remove_subscriber(sub.id)
        .await
    {
        return ApiError::from(e).into_response();
    }
    token_notice(
        &state,
        &page,
        &base,
        "Unsubscribed",
        "You will not receive any more messages about this page.",
    )
    .await
}

/// A notice page for a confirm or unsubscribe link (the page's look, without its password).
async fn token_notice(
    state: &AppState,
    page: &StatusPage,
    base: &str,
    title: &str,
    message: &str,
) -> Response {
    match state.pages.snapshot(state, page).await {
        Ok(snapshot) => html_response(
            StatusCode::OK,
            super::html::notice(&snapshot, base, title, message, false),
        ),
        Err(e) => e.into_response(),
    }
}

/// A notice page in the page's look, optionally with the subscribe form.
fn notice(
    page: &PublicPage,
    status: StatusCode,
    title: &str,
    message: &str,
    form: bool,
) -> Response {
    html_response(
        status,
        super::html::notice(&page.snapshot, &page.base, title, message, form),
    )
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, Html(body)).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(email: Option<&str>, webhook: Option<&str>) -> SubscribeInput {
        SubscribeInput {
            email: email.map(str::to_owned),
            webhook: webhook.map(str::to_owned),
        }
    }

    #[test]
    fn targets_are_checked() {
        assert_eq!(
            input(Some(" Ops@Example.TEST "), None)
                .target(true)
                .unwrap(),
            Target::Email("ops@example.test".to_owned())
        );
        assert!(matches!(
            input(None, Some("https://hooks.example.test/x")).target(true),
            Ok(Target::Webhook(_))
        ));
        let field = |e: ApiError| e.field.unwrap();
        for (email, webhook, f) in [
            (None, None, "email"),
            (Some(""), Some("  "), "email"),
            (Some("a@b.test"), Some("https://x.test/"), "webhook"),
            (Some("not an address"), None, "email"),
            (Some("<a@b.test>"), None, "email"),
            (Some("a@b.test\r\nBcc: c@d.test"), None, "email"),
            (None, Some("ftp://x.test/"), "webhook"),
            (None, Some("javascript:alert(1)"), "webhook"),
            (None, Some("https://user:pw@x.test/"), "webhook"),
            (None, Some("http://127.0.0.1:9/"), "webhook"),
            (None, Some("http://[::1]/"), "webhook"),
            (None, Some("http://10.0.0.1/"), "webhook"),
        ] {
            let e = input(email, webhook).target(true).unwrap_err();
            assert_eq!(field(e), f, "{email:?} {webhook:?}");
        }
        let long = format!("{}@example.test", "a".repeat(300));
        assert_eq!(
            field(input(Some(&long), None).target(true).unwrap_err()),
            "email"
        );
        let long = format!("https://x.test/{}", "a".repeat(3000));
        assert_eq!(
            field(input(None, Some(&long)).target(true).unwrap_err()),
            "webhook"
        );
        // Loopback is fine when private targets are allowed.
        assert!(
            input(None, Some("http://127.0.0.1:9/"))
                .target(false)
                .is_ok()
        );
    }
}
