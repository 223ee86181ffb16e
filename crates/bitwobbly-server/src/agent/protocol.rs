//! The wire protocol between a checker agent (`bitwobbly agent`) and the server, version 1.
//!
//! Every request goes from the agent to the server (outbound connections only), under
//! `/api/v1/agent`, with `Authorization: Bearer <agent token>`. An agent token is scoped to one
//! workspace and one location; the server refuses a token that is unknown or revoked (401
//! `unauthorized`) and a request naming another location (403 `location_mismatch`). Errors use
//! the API's error shape. Every authenticated request counts as contact from the location.
//!
//! 1. `POST /api/v1/agent/hello` with a [`Hello`] answers a [`Welcome`].
//! 2. `GET /api/v1/agent/assignments` answers the monitors this location runs as
//!    [`Assignments`], with a strong `ETag`; sent again with `If-None-Match` it answers `304`
//!    while nothing changed. The agent polls every [`Welcome::poll_interval_secs`].
//! 3. `POST /api/v1/agent/results` with a [`ResultBatch`] answers a [`BatchAck`].
//!
//! **Exactly once.** An agent numbers its results `1, 2, 3, ...` (`seq`, per `agent_id`, kept on
//! disk with its buffer) and sends them in order. The server keeps, per location and
//! `agent_id`, the highest `seq` it has stored, updated in the same transaction as the results;
//! a result at or below it is a duplicate and is dropped (counted in [`BatchAck::duplicates`]).
//! So a batch sent twice (the answer was lost) is stored once, and the agent deletes from its
//! buffer everything up to [`BatchAck::last_seq`].

use bitwobbly_core::CheckReport;
use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::spec::CheckSpec;
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks (sent in [`Hello::protocol`]).
pub const PROTOCOL_VERSION: u32 = 1;

/// The most results one [`ResultBatch`] may carry; larger batches get 413 `payload_too_large`.
pub const MAX_BATCH: usize = 1000;

/// `POST /api/v1/agent/hello`: the agent introduces itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// The location the agent runs for; must be the token's location.
    pub location: String,
    /// A stable id of this agent installation (a random id kept in its state directory).
    pub agent_id: String,
    /// The agent's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The protocol version it speaks ([`PROTOCOL_VERSION`]).
    pub protocol: u32,
}

/// The answer to [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The workspace's slug.
    pub workspace: String,
    /// The location's name.
    pub location: String,
    /// How often to poll for assignments, in seconds.
    pub poll_interval_secs: u64,
    /// The most results to send in one batch (at most [`MAX_BATCH`]).
    pub max_batch: usize,
    /// The highest `seq` the server has stored for this `agent_id` (0 when none): results at or
    /// below it may be dropped from the agent's buffer.
    pub last_seq: u64,
    /// The server's clock, milliseconds since the Unix epoch (for logging clock skew).
    pub server_time_ms: i64,
}

/// `GET /api/v1/agent/assignments`: what this location runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignments {
    /// Changes whenever any assigned monitor is added, changed, paused or removed (also sent as
    /// the `ETag` header).
    pub etag: String,
    /// The monitors to run: not paused, not heartbeats, with this location in their locations.
    pub monitors: Vec<Assignment>,
}

/// One monitor to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The monitor's id (results name it).
    pub monitor_id: i64,
    /// Its name, for logs.
    pub name: String,
    /// What to check.
    pub spec: CheckSpec,
    /// When to run it.
    pub schedule: Schedule,
    /// When the monitor last changed, milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
}

/// `POST /api/v1/agent/results`: results in `seq` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBatch {
    /// The agent installation ([`Hello::agent_id`]).
    pub agent_id: String,
    /// The results, `seq` strictly increasing.
    pub results: Vec<AgentResult>,
}

/// One check result made by an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResult {
    /// The agent's sequence number for this result (1, 2, 3, ...).
    pub seq: u64,
    /// Which monitor.
    pub monitor_id: i64,
    /// When the check started, milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// The full report from the check engine.
    pub report: CheckReport,
}

/// The answer to a [`ResultBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAck {
    /// Results stored now.
    pub accepted: usize,
    /// Results already stored earlier (at or below the stored `seq`), dropped.
    pub duplicates: usize,
    /// Results for monitors this location no longer runs (or that no longer exist), dropped.
    pub ignored: usize,
    /// The highest `seq` now stored for this agent: delete everything up to it.
    pub last_seq: u64,
}
