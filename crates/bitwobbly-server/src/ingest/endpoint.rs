//! The Sentry ingest endpoints: `POST /api/{project_id}/envelope/` and the legacy
//! `POST /api/{project_id}/store/` (both also without the trailing slash), with CORS.
//!
//! Answers, as SDKs expect them:
//!
//! | case | status | `error.code` |
//! | --- | --- | --- |
//! | stored (or an envelope with no items) | 200 `{"id":"<event id>"}`, `{}` without one | |
//! | project id in the path is not a number | 400 | `invalid_project` |
//! | malformed envelope, empty body, corrupt compressed body, invalid `/store/` JSON | 400 | `invalid_envelope`, `corrupt_body`, `invalid_json` |
//! | `dsn` of the envelope header names another key or project than the request | 400 | `dsn_mismatch` |
//! | `sentry_version` above 7 | 400 | `unsupported_version` |
//! | no key anywhere | 401 | `missing_auth` |
//! | malformed or conflicting auth | 401 | `invalid_auth` |
//! | unknown key, disabled key, key of another project | 403 | `unknown_key`, `key_disabled`, `project_mismatch` |
//! | body, decompressed body, an item or item count over its limit | 413 | `payload_too_large` |
//! | unsupported `Content-Encoding` | 415 | `unsupported_encoding` |
//! | key or project quota used up | 429 + `Retry-After` + `X-Sentry-Rate-Limits` | `rate_limited` |
//! | the database cannot take the envelope | 503 | `unavailable` |
//!
//! Every response carries `Access-Control-Allow-Origin: *`, the exposed Sentry headers and
//! `Cross-Origin-Resource-Policy: cross-origin`; error responses also carry `X-Sentry-Error`.
//! Rate-limit headers appear only on a 429. Envelopes that only carry client reports or
//! unknown items never count against a quota.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use bitwobbly_envelope::{
    Auth, AuthSources, ContentEncoding, Envelope, EnvelopeError, EnvelopeHeaders, EventId, Item,
    ItemType, RateLimit, RateLimitScope, format_rate_limits, parse_envelope_dsn,
};
use bitwobbly_store::model::{DsnKey, DurableEnvelope, NewEnvelope};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use serde::Deserialize;

use super::keys::KeyLookup;
use super::quota::{Limit, QuotaScope, Slot};
use crate::error::ApiError;
use crate::state::AppState;

/// Bodies at least this large are decompressed and parsed off the async threads.
const BLOCKING_THRESHOLD: usize = 256 * 1024;

const X_SENTRY_AUTH: HeaderName = HeaderName::from_static("x-sentry-auth");
const X_SENTRY_ERROR: HeaderName = HeaderName::from_static("x-sentry-error");
const X_SENTRY_RATE_LIMITS: HeaderName = HeaderName::from_static("x-sentry-rate-limits");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// Request headers browsers may send (Relay's list plus what tracing SDKs add).
const ALLOWED_HEADERS: &str = "x-sentry-auth, x-requested-with, x-forwarded-for, origin, \
    referer, accept, content-type, authentication, authorization, content-encoding, \
    transfer-encoding, sentry-trace, baggage";
/// Response headers browser SDKs must be able to read.
const EXPOSED_HEADERS: &str = "x-sentry-error, x-sentry-rate-limits, retry-after";

/// The ingest routes with their CORS layer.
pub(crate) fn router() -> Router<AppState> {
    let envelope: MethodRouter<AppState> = post(envelope).options(preflight);
    let store: MethodRouter<AppState> = post(store).options(preflight);
    Router::new()
        .route("/api/{project_id}/envelope/", envelope.clone())
        .route("/api/{project_id}/envelope", envelope)
        .route("/api/{project_id}/store/", store.clone())
        .route("/api/{project_id}/store", store)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(cors))
}

/// Adds the CORS and cross-origin headers to every ingest response, errors included.
async fn cors(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    h.insert(CORP, HeaderValue::from_static("cross-origin"));
    res
}

/// Answers a CORS preflight.
async fn preflight() -> Response {
    let mut res = StatusCode::OK.into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    res
}

async fn method_not_allowed() -> Response {
    Reject::from(ApiError::method_not_allowed()).into_response()
}

/// A refused request: the API error, plus `X-Sentry-Rate-Limits` for a 429.
#[derive(Debug)]
struct Reject {
    error: ApiError,
    rate_limits: Option<String>,
}

impl From<ApiError> for Reject {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            rate_limits: None,
        }
    }
}

impl Reject {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(status, code, message).into()
    }

    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let sentry_error: String = self
            .error
            .message
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(512)
            .collect();
        let mut res = self.error.into_response();
        if let Ok(v) = HeaderValue::from_str(&sentry_error) {
            res.headers_mut().insert(X_SENTRY_ERROR, v);
        }
        if let Some(limits) = self.rate_limits
            && let Ok(v) = HeaderValue::from_str(&limits)
        {
            res.headers_mut().insert(X_SENTRY_RATE_LIMITS, v);
        }
        res
    }
}

/// Maps an envelope crate error to its answer.
fn envelope_error(e: &EnvelopeError) -> Reject {
    let message = crate::error::error_chain(e);
    match e {
        EnvelopeError::UnsupportedEncoding { .. } => Reject::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("{message}; send gzip, deflate, br, zstd or no Content-Encoding"),
        ),
        EnvelopeError::CorruptBody { .. } => Reject::bad("corrupt_body", message),
        EnvelopeError::UnsupportedVersion { .. } => Reject::bad("unsupported_version", message),
        EnvelopeError::MissingKey => Reject::new(
            StatusCode::UNAUTHORIZED,
            "missing_auth",
            "missing authorization information: no key in X-Sentry-Auth, Authorization, \
             the sentry_key query parameter or the envelope header's dsn",
        ),
        EnvelopeError::ItemTooLarge { item_type, .. } => Reject::too_large(format!(
            "envelope exceeded size limits for type '{item_type}': {message}"
        )),
        _ if e.is_auth() => Reject::new(StatusCode::UNAUTHORIZED, "invalid_auth", message),
        _ if e.is_too_large() => Reject::too_large(message),
        _ => Reject::bad(
            "invalid_envelope",
            format!("invalid event envelope: {message}"),
        ),
    }
}

/// An accepted request's answer: `{"id":"..."}` or `{}`.
fn accepted(event_id: Option<EventId>) -> Response {
    let body = match event_id {
        Some(id) => format!("{{\"id\":\"{id}\"}}"),
        None => "{}".to_owned(),
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// `POST /api/{project_id}/envelope/`.
async fn envelope(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> Response {
    let _in_flight = state.ingest.committer.request_token();
    let result = accept_envelope(&state, &project, req).await;
    answer(&state, result)
}

/// `POST /api/{project_id}/store/`.
async fn store(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> Response {
    let _in_flight = state.ingest.committer.request_token();
    let result = accept_store(&state, &project, req).await;
    answer(&state, result)
}

fn answer(state: &AppState, result: Result<Option<EventId>, Reject>) -> Response {
    match result {
        Ok(event_id) => {
            state.metrics.count_ingest_accepted();
            accepted(event_id)
        }
        Err(reject) => {
            state.metrics.count_ingest_rejected(reject.error.code);
            tracing::debug!(
                code = reject.error.code,
                message = %reject.error.message,
                "envelope refused"
            );
            reject.into_response()
        }
    }
}

async fn accept_envelope(
    state: &AppState,
    project: &str,
    req: Request,
) -> Result<Option<EventId>, Reject> {
    let project_id = parse_project(project)?;
    let (parts, body) = req.into_parts();
    let header_auth = header_auth(&parts.headers, parts.uri.query(), project_id)?;
    let key = match &header_auth {
        Some(auth) => Some(authorize(state, auth, project_id).await?),
        None => None,
    };
    let limit = state.ingest.limits.max_envelope_size;
    let raw = read_body(state, &parts.headers, body, limit).await?;
    let envelope = parse(raw.clone()).await?;
    let key = match (key, header_auth) {
        (Some(key), Some(auth)) => {
            check_envelope_dsn(&envelope, &auth, project_id)?;
            key
        }
        _ => {
            let auth = tunnel_auth(&envelope, project_id)?;
            authorize(state, &auth, project_id).await?
        }
    };
    finish(state, &key, envelope, raw).await
}

async fn accept_store(
    state: &AppState,
    project: &str,
    req: Request,
) -> Result<Option<EventId>, Reject> {
    let project_id = parse_project(project)?;
    let (parts, body) = req.into_parts();
    let auth = header_auth(&parts.headers, parts.uri.query(), project_id)?
        .ok_or_else(|| envelope_error(&EnvelopeError::MissingKey))?;
    let key = authorize(state, &auth, project_id).await?;
    let is_envelope = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-sentry-envelope")
        });
    let limits = &state.ingest.limits;
    if is_envelope {
        let raw = read_body(state, &parts.headers, body, limits.max_envelope_size).await?;
        let envelope = parse(raw.clone()).await?;
        check_envelope_dsn(&envelope, &auth, project_id)?;
        return finish(state, &key, envelope, raw).await;
    }
    let body = read_body(state, &parts.headers, body, limits.max_event_size).await?;
    let json = legacy_store_body(body, limits.max_event_size)?;
    let head: StoreHead<'_> = serde_json::from_slice(&json).map_err(|e| {
        Reject::bad(
            "invalid_json",
            format!("the event is not a JSON object: {e}"),
        )
    })?;
    let event_id = head
        .event_id
        .as_deref()
        .and_then(EventId::parse)
        .unwrap_or_else(new_event_id);
    let ty = if head.ty.as_deref() == Some("transaction") {
        ItemType::Transaction
    } else {
        ItemType::Event
    };
    drop(head);
    let mut envelope = Envelope::new(EnvelopeHeaders::with_event_id(event_id));
    envelope.add_item(Item::new(ty, json));
    let raw = envelope.to_bytes();
    finish(state, &key, envelope, raw).await
}

/// The two keys of a `/store/` event that the endpoint reads (the rest is checked to be JSON
/// and skipped).
#[derive(Deserialize)]
struct StoreHead<'a> {
    #[serde(default, borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(default, rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
}

/// Old SDKs post `/store/` bodies base64-encoded, often of zlib-compressed JSON.
fn legacy_store_body(body: Bytes, limit: usize) -> Result<Bytes, Reject> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none_or(|b| *b == b'{') {
        return Ok(body);
    }
    use base64::Engine as _;
    let trimmed = body.trim_ascii();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map_err(|_| Reject::bad("invalid_json", "the event is neither JSON nor base64"))?;
    let decoded = Bytes::from(decoded);
    if decoded.first() == Some(&b'{') {
        return Ok(decoded);
    }
    bitwobbly_envelope::decompress(ContentEncoding::Deflate, decoded, limit)
        .map_err(|e| envelope_error(&e))
}

/// The numeric project id of the path.
fn parse_project(project: &str) -> Result<u64, Reject> {
    project
        .parse::<u64>()
        .ok()
        .filter(|p| i64::try_from(*p).is_ok())
        .ok_or_else(|| {
            Reject::bad(
                "invalid_project",
                format!("bad project path parameter: {project:?} is not a project id"),
            )
        })
}

/// The key from the request's headers or query; `None` when there is none there (the
/// envelope header's `dsn` may still carry one).
fn header_auth(
    headers: &HeaderMap,
    query: Option<&str>,
    project_id: u64,
) -> Result<Option<Auth>, Reject> {
    let text = |name: &HeaderName| -> Result<Option<&str>, Reject> {
        headers
            .get(name)
            .map(|v| {
                v.to_str().map_err(|_| {
                    Reject::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid_auth",
                        format!("the {name} header is not ASCII"),
                    )
                })
            })
            .transpose()
    };
    let sources = AuthSources {
        x_sentry_auth: text(&X_SENTRY_AUTH)?,
        authorization: text(&header::AUTHORIZATION)?,
        query,
        envelope_dsn: None,
    };
    match sources.resolve() {
        Ok(auth) => {
            if auth.project_id.is_some_and(|p| p != project_id) {
                return Err(dsn_mismatch("project id"));
            }
            Ok(Some(auth))
        }
        Err(EnvelopeError::MissingKey) => Ok(None),
        Err(e) => Err(envelope_error(&e)),
    }
}

fn dsn_mismatch(what: &str) -> Reject {
    Reject::bad(
        "dsn_mismatch",
        format!("the envelope header's dsn and the request disagree on the {what}"),
    )
}

/// With header or query auth, an envelope header `dsn` must name the same key and project.
fn check_envelope_dsn(envelope: &Envelope, auth: &Auth, project_id: u64) -> Result<(), Reject> {
    let Some(dsn) = envelope.headers().dsn() else {
        return Ok(());
    };
    let from_dsn = parse_envelope_dsn(dsn).map_err(|e| {
        Reject::bad(
            "invalid_envelope",
            format!("the envelope header's dsn is not a DSN: {e}"),
        )
    })?;
    if from_dsn.key != auth.key {
        return Err(dsn_mismatch("public key"));
    }
    if from_dsn.project_id != Some(project_id) {
        return Err(dsn_mismatch("project id"));
    }
    Ok(())
}

/// The key of a tunnelled envelope: only its header's `dsn` carries one.
fn tunnel_auth(envelope: &Envelope, project_id: u64) -> Result<Auth, Reject> {
    let dsn = envelope
        .headers()
        .dsn()
        .ok_or_else(|| envelope_error(&EnvelopeError::MissingKey))?;
    let auth = parse_envelope_dsn(dsn).map_err(|e| {
        Reject::new(
            StatusCode::UNAUTHORIZED,
            "invalid_auth",
            format!("bad envelope authentication header: {e}"),
        )
    })?;
    if auth.project_id != Some(project_id) {
        return Err(dsn_mismatch("project id"));
    }
    Ok(auth)
}

/// Finds the key and checks it may send to this project.
async fn authorize(state: &AppState, auth: &Auth, project_id: u64) -> Result<Arc<DsnKey>, Reject> {
    let found = state
        .ingest
        .keys
        .lookup(&state.store, auth.key.as_str())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "DSN key lookup failed");
            Reject::unavailable("the key cannot be checked right now")
        })?;
    let key = match found {
        KeyLookup::Active(key) => key,
        KeyLookup::Disabled => {
            return Err(Reject::forbidden(
                "key_disabled",
                "event submission rejected: the DSN key is disabled",
            ));
        }
        KeyLookup::Unknown => {
            return Err(Reject::forbidden(
                "unknown_key",
                "event submission rejected: unknown DSN key",
            ));
        }
    };
    if u64::try_from(key.project_id.0).ok() != Some(project_id) {
        return Err(Reject::forbidden(
            "project_mismatch",
            format!(
                "event submission rejected: the DSN key does not belong to project {project_id}"
            ),
        ));
    }
    Ok(key)
}

/// The quotas that apply to a key.
fn quota_limits(state: &AppState, key: &DsnKey) -> Vec<Limit> {
    let mut limits = Vec::new();
    if let Some(per_minute) = key.rate_limit_per_minute {
        limits.push(Limit {
            slot: Slot::Key(key.id),
            per_minute: u64::try_from(per_minute).unwrap_or(0),
        });
    }
    if let Some(per_minute) = state.config.ingest.project_rate_limit_per_minute {
        limits.push(Limit {
            slot: Slot::Project(key.project_id),
            per_minute,
        });
    }
    limits
}

/// Spends one envelope of the key's quotas, or refuses with 429.
fn admit(state: &AppState, key: &DsnKey) -> Result<(), Reject> {
    let limits = quota_limits(state, key);
    let Err(over) = state.ingest.quotas.admit(&limits, Instant::now()) else {
        return Ok(());
    };
    let secs = over.retry_after.as_secs() + u64::from(over.retry_after.subsec_nanos() > 0);
    let secs = secs.max(1);
    let (scope, reason, whose) = match over.scope {
        QuotaScope::Key => (RateLimitScope::Key, "key_quota", "DSN key"),
        QuotaScope::Project => (RateLimitScope::Project, "project_quota", "project"),
    };
    let rate_limits = format_rate_limits(&[RateLimit {
        retry_after_secs: secs,
        categories: Vec::new(),
        scope,
        reason_code: Some(reason.to_owned()),
    }]);
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("the {whose}'s envelope quota is used up; retry in {secs} s"),
    )
    .with_retry_after(Duration::from_secs(secs));
    Err(Reject { error, rate_limits })
}

/// Reads the body under `max_body_bytes` (declared and streamed) and decodes its
/// `Content-Encoding` under `decoded_limit`.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    decoded_limit: usize,
) -> Result<Bytes, Reject> {
    let cap = state.config.ingest.max_body_bytes;
    let too_large = || Reject::too_large(format!("the request body is larger than {cap} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let encoding = match headers.get(header::CONTENT_ENCODING) {
        None => ContentEncoding::Identity,
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                envelope_error(&EnvelopeError::UnsupportedEncoding {
                    encoding: String::from_utf8_lossy(v.as_bytes()).into_owned(),
                })
            })?;
            ContentEncoding::from_header(text).map_err(|e| envelope_error(&e))?
        }
    };
    let wire = collect(body, cap, declared).await?.ok_or_else(too_large)?;
    state.metrics.add_ingest_bytes("received", wire.len());
    let decoded = if encoding != ContentEncoding::Identity && wire.len() >= BLOCKING_THRESHOLD {
        tokio::task::spawn_blocking(move || {
            bitwobbly_envelope::decompress(encoding, wire, decoded_limit)
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    } else {
        bitwobbly_envelope::decompress(encoding, wire, decoded_limit)
    };
    decoded.map_err(|e| envelope_error(&e))
}

/// The body's bytes, or `None` once they pass `cap`. A single-chunk body is not copied.
async fn collect(
    mut body: Body,
    cap: usize,
    declared: Option<u64>,
) -> Result<Option<Bytes>, Reject> {
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Reject::bad(
                "invalid_body",
                format!(
                    "the request body could not be read: {}",
                    crate::error::error_chain(&e)
                ),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > cap {
            return Ok(None);
        }
        match (&mut buf, first.take()) {
            (Some(b), _) => b.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(prev)) => {
                let hint = declared.map_or(0, |d| d.min(cap as u64) as usize);
                let mut b = BytesMut::with_capacity(hint.max(prev.len() + data.len()));
                b.extend_from_slice(&prev);
                b.extend_from_slice(&data);
                buf = Some(b);
            }
        }
    }
    Ok(Some(match buf {
        Some(b) => b.freeze(),
        None => first.unwrap_or_default(),
    }))
}

async fn parse(raw: Bytes) -> Result<Envelope, Reject> {
    let parsed = if raw.len() >= BLOCKING_THRESHOLD {
        tokio::task::spawn_blocking(move || Envelope::parse(raw))
            .await
            .map_err(|e| ApiError::internal(&e))?
    } else {
        Envelope::parse(raw)
    };
    parsed.map_err(|e| envelope_error(&e))
}

/// Limits, quota, event id, then durability; returns the event id to answer with.
async fn finish(
    state: &AppState,
    key: &DsnKey,
    envelope: Envelope,
    raw: Bytes,
) -> Result<Option<EventId>, Reject> {
    state
        .ingest
        .limits
        .check(&envelope)
        .map_err(|e| envelope_error(&e))?;
    if counts_against_quota(&envelope) {
        admit(state, key)?;
    }
    let event_id = event_id_of(&envelope);
    if envelope.is_empty() {
        return Ok(event_id);
    }
    let manifest = NewEnvelope {
        project_id: key.project_id,
        event_id: event_id.map(|id| id.to_string()),
        received_at: state.clock.now(),
        size: i64::try_from(raw.len()).unwrap_or(i64::MAX),
        blob_key: String::new(),
        item_types: envelope
            .items()
            .iter()
            .map(|i| i.ty().as_str().to_owned())
            .collect(),
    };
    drop(envelope);
    let mut blob_key = None;
    let durable = if raw.len() <= state.config.ingest.inline_max_bytes {
        DurableEnvelope::inline(key.workspace_id, manifest, &raw)
            .map_err(|e| Reject::from(ApiError::internal(&e)))?
    } else {
        let name = format!(
            "envelopes/{}/{}-{:032x}",
            key.project_id.0,
            manifest.received_at.as_millis(),
            rand::random::<u128>()
        );
        state.blobs.put(&name, raw.clone()).await.map_err(|e| {
            tracing::warn!(error = %crate::error::error_chain(&e), "storing an envelope blob failed");
            Reject::unavailable("the envelope cannot be stored right now")
        })?;
        let mut manifest = manifest;
        manifest.blob_key.clone_from(&name);
        blob_key = Some(name);
        DurableEnvelope::in_blob(key.workspace_id, manifest)
    };
    let stored = durable.inline_body.as_ref().map_or(raw.len(), Vec::len);
    match state.ingest.committer.commit(durable).await {
        Ok(_) => {
            state.metrics.add_ingest_bytes("stored", stored);
            Ok(event_id)
        }
        Err(e) => {
            if let Some(name) = blob_key
                && let Err(e) = state.blobs.delete(&name).await
            {
                tracing::warn!(error = %e, "cannot delete the blob of a refused envelope");
            }
            Err(Reject::unavailable(format!(
                "the envelope cannot be stored right now: {e}"
            )))
        }
    }
}

/// Whether an envelope uses quota: it does unless it only holds items no quota applies to
/// (client reports, unknown types).
fn counts_against_quota(envelope: &Envelope) -> bool {
    envelope
        .items()
        .iter()
        .any(|i| !i.ty().data_categories().is_empty())
}

/// The envelope header's event id; else, when an item needs one, its payload's; else a new one.
fn event_id_of(envelope: &Envelope) -> Option<EventId> {
    if let Some(id) = envelope.event_id() {
        return Some(id);
    }
    if !envelope.items().iter().any(|i| i.ty().requires_event()) {
        return None;
    }
    #[derive(Deserialize)]
    struct PayloadId<'a> {
        #[serde(default, borrow)]
        event_id: Option<Cow<'a, str>>,
    }
    let from_payload = envelope
        .items()
        .iter()
        .filter(|i| {
            matches!(
                i.ty(),
                ItemType::Event | ItemType::Transaction | ItemType::Feedback
            )
        })
        .find_map(|i| {
            let p: PayloadId<'_> = serde_json::from_slice(i.payload()).ok()?;
            EventId::parse(p.event_id.as_deref()?)
        });
    Some(from_payload.unwrap_or_else(new_event_id))
}

/// A random (version 4) event id.
fn new_event_id() -> EventId {
    let r: u128 = rand::random();
    let v4 = (r & !(0xf_u128 << 76)) | (0x4_u128 << 76);
    EventId((v4 & !(0x3_u128 << 62)) | (0x2_u128 << 62))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_event_ids_are_uuid_v4() {
        let id = new_event_id().to_string();
        assert_eq!(id.len(), 32);
        assert_eq!(&id[12..13], "4");
        assert!(matches!(&id[16..17], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(new_event_id(), new_event_id());
    }

    #[test]
    fn project_ids_must_be_numbers_that_fit() {
        assert_eq!(parse_project("42").unwrap(), 42);
        for bad in ["", "abc", "-1", "1.5", "18446744073709551615", " 4"] {
            assert!(parse_project(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn event_id_comes_from_header_then_payload_then_is_generated() {
        let with_header = Envelope::parse(Bytes::from_static(
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\"}\n{}\n",
        ))
        .unwrap();
        assert_eq!(
            event_id_of(&with_header).unwrap().to_string(),
            "9ec79c33ec9942ab8353589fcb2e04dc"
        );
        let in_payload = Envelope::parse(Bytes::from_static(
            b"{}\n{\"type\":\"event\"}\n{\"event_id\":\"0123456789abcdef0123456789abcdef\"}\n",
        ))
        .unwrap();
        assert_eq!(
            event_id_of(&in_payload).unwrap().to_string(),
            "0123456789abcdef0123456789abcdef"
        );
        let none_needed =
            Envelope::parse(Bytes::from_static(b"{}\n{\"type\":\"session\"}\n{}\n")).unwrap();
        assert_eq!(event_id_of(&none_needed), None);
        let generated =
            Envelope::parse(Bytes::from_static(b"{}\n{\"type\":\"event\"}\n{}\n")).unwrap();
        assert!(event_id_of(&generated).is_some());
    }

    #[test]
    fn client_reports_and_unknown_items_use_no_quota() {
        let only_reports = Envelope::parse(Bytes::from_static(
            b"{}\n{\"type\":\"client_report\"}\n{}\n{\"type\":\"future_thing\"}\nxx\n",
        ))
        .unwrap();
        assert!(!counts_against_quota(&only_reports));
        let with_event =
            Envelope::parse(Bytes::from_static(b"{}\n{\"type\":\"event\"}\n{}\n")).unwrap();
        assert!(counts_against_quota(&with_event));
    }

    #[test]
    fn legacy_store_bodies_decode() {
        use base64::Engine as _;
        use std::io::Write as _;
        let json = Bytes::from_static(b"{\"message\":\"hi\"}");
        assert_eq!(legacy_store_body(json.clone(), 1024).unwrap(), json);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&json);
        assert_eq!(legacy_store_body(Bytes::from(b64), 1024).unwrap(), json);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&json).unwrap();
        let b64z = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
        assert_eq!(legacy_store_body(Bytes::from(b64z), 1024).unwrap(), json);
        assert!(legacy_store_body(Bytes::from_static(b"%%%"), 1024).is_err());
    }
}
