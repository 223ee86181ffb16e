//! Operability endpoints: `/healthz`, `/readyz`, `/metrics`, and the first-run `/setup`.
//!
//! - `GET /healthz` answers `200 ok` while the process serves requests at all.
//! - `GET /readyz` answers `200 ready` when the database answers and its schema is the one
//!   this binary expects and the blob store answers, else `503` in the API's error shape (also while shutting down, so
//!   a load balancer stops sending traffic).
//! - `GET /metrics` renders every metric in the Prometheus text format, refreshing the
//!   outbox gauges and the process's resident memory at scrape time. With
//!   `metrics.bearer_token` set it requires `Authorization: Bearer <token>`.
//! - `GET /setup?token=...` and `POST /setup` create the first administrator (see [`setup`]);
//!   [`admin`] holds the account steps they share with the `bitwobbly admin` commands.

pub mod admin;
pub mod setup;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bitwobbly_store::api::OutboxQueue;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, error_chain};
use crate::state::AppState;

/// The content type of the Prometheus text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of the OpenMetrics text format (sent when the scraper asks for it).
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The operability routes, mounted at the root: `/healthz`, `/readyz`, `/metrics`, `/setup`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(setup::router())
}

/// `GET /healthz`: the process is alive.
async fn healthz() -> impl IntoResponse {
    text(StatusCode::OK, "ok\n")
}

/// `GET /readyz`: the database answers and the migrations are applied.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.shutdown.is_cancelled() {
        return ApiError::unavailable("the server is shutting down").into_response();
    }
    match ready(&state).await {
        Ok(()) => text(StatusCode::OK, "ready\n").into_response(),
        Err(e) => e.into_response(),
    }
}

/// Whether the store is usable: the database answers and has every embedded migration, and
/// the blob store answers.
async fn ready(state: &AppState) -> Result<(), ApiError> {
    if let Err(e) = crate::blobs::check(state.blobs.as_ref()).await {
        tracing::warn!(error = %e, "readiness check failed: blob store");
        return Err(ApiError::unavailable(
            "the blob store is not reachable (see the server log)",
        ));
    }
    match state.store.pending_migrations().await {
        Ok(pending) if pending.is_empty() => Ok(()),
        Ok(pending) => Err(ApiError::unavailable(format!(
            "the database lacks migrations {pending:?}: run `bitwobbly migrate`"
        ))),
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "readiness check failed");
            Err(ApiError::unavailable("the database is not reachable"))
        }
    }
}

/// `GET /metrics`: every metric, in the Prometheus text format.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics.bearer_token
        && !bearer_matches(&headers, expected)
    {
        let mut res = ApiError::unauthorized("/metrics requires a bearer token").into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return res;
    }
    match state.store.global().outbox_counts().await {
        Ok((pending, dead)) => state.metrics.set_outbox(pending, dead),
        Err(e) => tracing::warn!(error = %error_chain(&e), "cannot read the outbox depth"),
    }
    if let Some(rss) = resident_memory_bytes() {
        state.metrics.set_resident_memory(rss);
    }
    let content_type = if wants_openmetrics(&headers) {
        OPENMETRICS_TEXT
    } else {
        PROMETHEUS_TEXT
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        state.metrics.render(),
    )
        .into_response()
}

/// Whether the `Authorization` header carries `Bearer <expected>` (compared in constant time).
fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
    else {
        return false;
    };
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"))
}

/// The process's resident set size, from `/proc/self/status` (`VmRSS`), on Linux.
pub fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<i64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn text(status: StatusCode, body: &'static str) -> impl IntoResponse {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_matched_exactly() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(bearer_matches(&h, "s3cret"));
        assert!(!bearer_matches(&h, "s3cre"));
        assert!(!bearer_matches(&h, "s3cret2"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(bearer_matches(&h, "s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!bearer_matches(&h, "s3cret"));
    }

    #[test]
    fn resident_memory_is_read_from_proc() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t   12345 kB\nVmHWM:\t1 kB\n"),
            Some(12345 * 1024)
        );
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        // On Linux the real file has it.
        if cfg!(target_os = "linux") {
            assert!(resident_memory_bytes().is_some_and(|b| b > 0));
        }
    }
}
