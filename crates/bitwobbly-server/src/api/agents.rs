//! The agent end of the wire protocol ([`crate::agent::protocol`]): `hello`, `assignments`
//! and `results` under `/api/v1/agent`, authenticated with an agent token
//! (`Authorization: Bearer bwa_...`) scoped to one workspace and one location.
//!
//! Every authenticated request counts as contact from the location. A token that is unknown
//! or revoked is refused with 401 `unauthorized`; a request naming another location with 403
//! `location_mismatch`.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bitwobbly_store::prelude::*;
use sha2::{Digest, Sha256};

use super::ErrorBody;
use super::extract::ApiJson;
use crate::agent::protocol::{
    Assignment, Assignments, BatchAck, Hello, MAX_BATCH, PROTOCOL_VERSION, ResultBatch, Welcome,
};
use crate::auth::bearer_secret;
use crate::error::ApiError;
use crate::scheduler::quorum::runs_at;
use crate::state::AppState;

/// The longest `agent_id` accepted.
pub const MAX_AGENT_ID: usize = 128;
/// The longest agent `version` accepted.
pub const MAX_VERSION: usize = 64;

/// An authenticated agent: its token and its location (with the workspace).
#[derive(Debug, Clone)]
pub struct AgentCaller {
    /// The token used.
    pub token: AgentToken,
    /// The location it runs for.
    pub location: Location,
}

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("send the agent token as `Authorization: Bearer bwa_...`")
        })?;
        let secret = bearer_secret(auth)?;
        let (token, location) = state
            .store
            .global()
            .authenticate_agent(secret, state.clock.now())
            .await?
            .ok_or_else(|| ApiError::unauthorized("the agent token is unknown or revoked"))?;
        Ok(Self { token, location })
    }
}

fn location_mismatch(sent: &str, token: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "location_mismatch",
        format!("this token is for location {token:?}, not {sent:?}"),
    )
    .with_field("location")
}

/// Checks an agent id: 1 to 128 visible ASCII characters.
fn validate_agent_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_AGENT_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            field,
            "must be 1 to 128 visible ASCII characters",
        ));
    }
    Ok(())
}

/// Introduces an agent: answers its workspace, polling interval, batch size and the highest
/// `seq` stored for it.
#[utoipa::path(post, path = "/agent/hello", tag = "agent",
    security(("bearer" = [])),
    request_body(content = Object, description = "A `Hello`: location, agent_id, version, protocol"),
    responses(
        (status = 200, description = "A `Welcome`", body = Object),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another location than the token's", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn hello(
    State(state): State<AppState>,
    agent: AgentCaller,
    ApiJson(hello): ApiJson<Hello>,
) -> Result<Json<Welcome>, ApiError> {
    if hello.location != agent.location.name {
        return Err(location_mismatch(&hello.location, &agent.location.name));
    }
    validate_agent_id("agent_id", &hello.agent_id)?;
    if hello.version.is_empty()
        || hello.version.len() > MAX_VERSION
        || !hello.version.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::invalid(
            "version",
            "must be 1 to 64 visible ASCII characters",
        ));
    }
    if hello.protocol != PROTOCOL_VERSION {
        return Err(ApiError::invalid(
            "protocol",
            format!(
                "this server speaks protocol {PROTOCOL_VERSION}, not {}",
                hello.protocol
            ),
        ));
    }
    let ws = agent.location.workspace_id;
    let now = state.clock.now();
    let last_seq = state
        .store
        .workspace(ws)
        .agent_hello(agent.location.id, &hello.agent_id, &hello.version, now)
        .await?;
    let workspace = state
        .store
        .global()
        .workspace(ws)
        .await?
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    Ok(Json(Welcome {
        workspace: workspace.slug,
        location: agent.location.name,
        poll_interval_secs: state.config.agents.poll_interval.as_secs().max(1),
        max_batch: state.config.agents.max_batch.clamp(1, MAX_BATCH),
        last_seq,
        server_time_ms: now.as_millis(),
    }))
}

/// The strong ETag of a location's assignments: a hash of every monitor naming the location
/// (id, last change, paused, heartbeat), so it changes whenever one is added, changed,
/// paused or removed.
fn assignments_etag(monitors: &[&Monitor]) -> String {
    let mut h = Sha256::new();
    for m in monitors {
        h.update(m.id.0.to_le_bytes());
        h.update(m.updated_at.as_millis().to_le_bytes());
        h.update([u8::from(m.paused), u8::from(m.spec.is_heartbeat())]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// The monitors this location runs (not paused, not heartbeats), with a strong `ETag`;
/// `304 Not Modified` when `If-None-Match` names the current one.
#[utoipa::path(get, path = "/agent/assignments", tag = "agent",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`Assignments`, with an `ETag` header", body = Object),
        (status = 304, description = "Nothing changed since the `If-None-Match` ETag"),
        (status = 401, body = ErrorBody),
    ))]
pub async fn assignments(
    State(state): State<AppState>,
    agent: AgentCaller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let all = state
        .store
        .workspace(agent.location.workspace_id)
        .monitors()
        .await?;
    let named: Vec<&Monitor> = all
        .iter()
        .filter(|m| runs_at(m, &agent.location.name))
        .collect();
    let etag = assignments_etag(&named);
    let etag_header = HeaderValue::from_str(&etag)
        .map_err(|e| ApiError::internal(&e as &dyn std::error::Error))?;
    if not_modified(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_header)]).into_response());
    }
    let monitors = named
        .into_iter()
        .filter(|m| !m.paused && !m.spec.is_heartbeat())
        .map(|m| Assignment {
            monitor_id: m.id.0,
            name: m.name.clone(),
            spec: m.spec.clone(),
            schedule: m.schedule.clone(),
            updated_at_ms: m.updated_at.as_millis(),
        })
        .collect();
    Ok((
        [(header::ETAG, etag_header)],
        Json(Assignments { etag, monitors }),
    )
        .into_response())
}

/// Checks a batch's shape: at most [`MAX_BATCH`] results (413), a valid agent id, and `seq`
/// from 1 up, strictly increasing (422 naming the result).
fn check_batch(batch: &ResultBatch) -> Result<(), ApiError> {
    if batch.results.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "a batch carries at most {MAX_BATCH} results, not {}",
                batch.results.len()
            ),
        ));
    }
    validate_agent_id("agent_id", &batch.agent_id)?;
    let mut last = 0u64;
    for (i, r) in batch.results.iter().enumerate() {
        if r.seq == 0 || r.seq > i64::MAX as u64 {
            return Err(ApiError::invalid(
                format!("results[{i}].seq"),
                "must be from 1 to 2^63-1",
            ));
        }
        if r.seq <= last {
            return Err(ApiError::invalid(
                format!("results[{i}].seq"),
                "must increase within a batch",
            ));
        }
        last = r.seq;
    }
    Ok(())
}

/// Stores a batch of results, exactly once: results at or below the agent's stored `seq`
/// are duplicates, results for monitors the location no longer runs are ignored; the rest
/// are stored and judged (per location, then by quorum) in the same transaction.
#[utoipa::path(post, path = "/agent/results", tag = "agent",
    security(("bearer" = [])),
    request_body(content = Object, description = "A `ResultBatch`: agent_id, results"),
    responses(
        (status = 200, description = "A `BatchAck`", body = Object),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, description = "More than 1000 results, or too large", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn results(
    State(state): State<AppState>,
    agent: AgentCaller,
    ApiJson(batch): ApiJson<ResultBatch>,
) -> Result<Json<BatchAck>, ApiError> {
    check_batch(&batch)?;
    let ack = crate::scheduler::quorum::record_batch(&state, &agent.location, &batch).await?;
    Ok(Json(ack))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_wildcards() {
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, "\"a\""));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"b\", W/\"a\""),
        );
        assert!(not_modified(&h, "\"a\""));
        assert!(!not_modified(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&h, "\"c\""));
    }

    #[test]
    fn agent_ids_are_plain_ascii() {
        assert!(validate_agent_id("agent_id", "host-1:abc").is_ok());
        for bad in ["", "a b", "é", &"x".repeat(129)] {
            assert!(validate_agent_id("agent_id", bad).is_err(), "{bad:?}");
        }
    }
}
