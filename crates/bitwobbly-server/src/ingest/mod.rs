//! Sentry-compatible ingest: the envelope and store endpoints, the group-commit writer that
//! makes envelopes durable before answering, and the processing worker that turns them into
//! events, issues, transactions, session rollups, attachments and cron check-ins.
//!
//! An envelope goes through [`endpoint`]: CORS, the key (from any place an SDK puts it, looked
//! up in the [`Ingest`] key cache), the quotas, the body read under a cap, decompression under a
//! cap, parsing and limits (all from `bitwobbly-envelope`), then durability: small envelopes are
//! compressed into their manifest row, large ones go to blob storage first, and the manifest
//! is written by the committer in a group commit before the request is answered `200`.

pub mod alerts;
pub mod crons;
pub mod endpoint;
pub mod process;

mod commit;
mod keys;
mod quota;

use std::time::Duration;

use bitwobbly_envelope::Limits;
use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

use crate::state::AppState;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// `[ingest]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct IngestConfig {
    /// Largest request body as sent (before decompression); larger ones get `413` (declared
    /// lengths at once, streamed bodies as soon as they pass it). Default 200 MiB.
    pub max_body_bytes: usize,
    /// Size and count limits per item and per envelope (Relay's defaults).
    pub limits: IngestLimits,
    /// Envelopes up to this size are kept compressed in their manifest row; larger ones go
    /// to blob storage. Default 64 KiB.
    pub inline_max_bytes: usize,
    /// Envelopes accepted per minute per project (all keys together); `None` = unlimited.
    /// A DSN key's own `rate_limit_per_minute` applies on top.
    pub project_rate_limit_per_minute: Option<u64>,
    /// How often the DSN key cache is reloaded from the database. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub key_refresh: Duration,
    /// How long an unknown or disabled key is remembered before the database is asked
    /// again. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub negative_key_ttl: Duration,
    /// Database lookups per second allowed for keys missing from the cache (a flood of random
    /// keys is refused without querying beyond this). Default 100.
    pub key_lookups_per_second: u32,
    /// Envelopes waiting for the committer at most; requests wait for room beyond this.
    /// Default 16384.
    pub commit_queue: usize,
    /// Envelopes per group commit at most. Default 2048.
    pub commit_batch: usize,
    /// `[ingest.processing]`: the worker that turns envelopes into events and issues,
    /// retention and issue alerts.
    pub processing: process::ProcessingConfig,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 200 * MIB,
            limits: IngestLimits::default(),
            inline_max_bytes: 64 * KIB,
            project_rate_limit_per_minute: None,
            key_refresh: Duration::from_secs(30),
            negative_key_ttl: Duration::from_secs(30),
            key_lookups_per_second: 100,
            commit_queue: 16_384,
            commit_batch: 2048,
            processing: process::ProcessingConfig::default(),
        }
    }
}

/// `[ingest.limits]`: per item and per envelope limits in bytes and counts; the defaults are
/// Relay's (see `bitwobbly_envelope::Limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct IngestLimits {
    /// Whole envelope after decompression. Default 200 MiB.
    pub max_envelope_size: usize,
    /// Each event-like item (at most one per envelope); also a whole `/store/` body.
    /// Default 1 MiB.
    pub max_event_size: usize,
    /// Each attachment. Default 200 MiB.
    pub max_attachment_size: usize,
    /// All attachments of an envelope. Default 200 MiB.
    pub max_attachments_size: usize,
    /// Attachments per envelope. Default 30.
    pub max_attachment_count: usize,
    /// Session items per envelope. Default 100.
    pub max_session_count: usize,
    /// Each session item and their sum. Default 10 MiB.
    pub max_sessions_size: usize,
    /// Each client report. Default 100 KiB.
    pub max_client_report_size: usize,
    /// Client reports per envelope. Default 100.
    pub max_client_report_count: usize,
    /// The check-in item. Default 100 KiB.
    pub max_check_in_size: usize,
    /// A profile or profile chunk. Default 50 MiB.
    pub max_profile_size: usize,
    /// A replay recording or video. Default 10 MiB.
    pub max_replay_compressed_size: usize,
    /// A statsd or metric buckets item. Default 1 MiB.
    pub max_statsd_size: usize,
    /// Average size of one log in a container. Default 2 MiB.
    pub max_log_size: usize,
    /// Average size of one trace metric in a container. Default 1 MiB.
    pub max_trace_metric_size: usize,
    /// Each standalone span. Default 10 MiB.
    pub max_span_size: usize,
    /// Standalone spans per envelope. Default 25.
    pub max_standalone_span_count: usize,
    /// A log, span or trace metric container. Default 12 MiB.
    pub max_container_size: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            max_envelope_size: l.max_envelope_size,
            max_event_size: l.max_event_size,
            max_attachment_size: l.max_attachment_size,
            max_attachments_size: l.max_attachments_size,
            max_attachment_count: l.max_attachment_count,
            max_session_count: l.max_session_count,
            max_sessions_size: l.max_sessions_size,
            max_client_report_size: l.max_client_report_size,
            max_client_report_count: l.max_client_report_count,
            max_check_in_size: l.max_check_in_size,
            max_profile_size: l.max_profile_size,
            max_replay_compressed_size: l.max_replay_compressed_size,
            max_statsd_size: l.max_statsd_size,
            max_log_size: l.max_log_size,
            max_trace_metric_size: l.max_trace_metric_size,
            max_span_size: l.max_span_size,
            max_standalone_span_count: l.max_standalone_span_count,
            max_container_size: l.max_container_size,
        }
    }
}

impl IngestLimits {
    /// The envelope crate's limits with these values.
    pub fn to_limits(&self) -> Limits {
        let mut l = Limits::default();
        l.max_envelope_size = self.max_envelope_size;
        l.max_event_size = self.max_event_size;
        l.max_attachment_size = self.max_attachment_size;
        l.max_attachments_size = self.max_attachments_size;
        l.max_attachment_count = self.max_attachment_count;
        l.max_session_count = self.max_session_count;
        l.max_sessions_size = self.max_sessions_size;
        l.max_client_report_size = self.max_client_report_size;
        l.max_client_report_count = self.max_client_report_count;
        l.max_check_in_size = self.max_check_in_size;
        l.max_profile_size = self.max_profile_size;
        l.max_replay_compressed_size = self.max_replay_compressed_size;
        l.max_statsd_size = self.max_statsd_size;
        l.max_log_size = self.max_log_size;
        l.max_trace_metric_size = self.max_trace_metric_size;
        l.max_span_size = self.max_span_size;
        l.max_standalone_span_count = self.max_standalone_span_count;
        l.max_container_size = self.max_container_size;
        l
    }
}

/// Ingest's shared parts, kept in [`AppState`]: the key cache, the quotas and the committer.
#[derive(Debug)]
pub struct Ingest {
    limits: Limits,
    keys: keys::KeyCache,
    quotas: quota::Quotas,
    committer: commit::Committer,
}

impl Ingest {
    /// Builds the shared parts from the configuration.
    pub fn new(config: &IngestConfig) -> Self {
        Self {
            limits: config.limits.to_limits(),
            keys: keys::KeyCache::new(config.negative_key_ttl, config.key_lookups_per_second),
            quotas: quota::Quotas::default(),
            committer: commit::Committer::new(config.commit_queue, config.commit_batch),
        }
    }

    /// Forgets a DSN key on this node, so its next request reads it from the database. Call
    /// it after revoking, re-enabling, rotating or re-limiting a key (other nodes pick the
    /// change up at their next `key_refresh`).
    pub fn forget_key(&self, public_key: &str) {
        self.keys.forget(public_key);
    }

    /// Reloads every active key from the database now; returns how many there are.
    ///
    /// # Errors
    /// The store's error.
    pub async fn refresh_keys(
        &self,
        store: &bitwobbly_store::Store,
    ) -> Result<usize, bitwobbly_store::StoreError> {
        self.keys.refresh(store).await
    }
}

/// The ingest routes (`/api/{project_id}/envelope/`, `/api/{project_id}/store/`, with and
/// without the trailing slash), with CORS on every response and their own body limit (they
/// are not under the API's `max_body_bytes` nor response compression).
pub fn router() -> axum::Router<AppState> {
    endpoint::router()
}

/// Starts ingest's background tasks on `tasks`: the group committer and the key cache
/// refresher.
pub fn spawn_tasks(state: &AppState, tasks: &TaskTracker) {
    state.ingest.committer.start(state, tasks);
    process::spawn_workers(state, tasks);
    drop(crate::spawn(
        "ingest-keys",
        tasks.track_future(refresh_keys(state.clone())),
    ));
}

/// Reloads the key cache at start and then every `key_refresh`, until shutdown.
async fn refresh_keys(state: AppState) {
    let every = state
        .config
        .ingest
        .key_refresh
        .max(Duration::from_millis(100));
    loop {
        match state.ingest.keys.refresh(&state.store).await {
            Ok(n) => tracing::debug!(keys = n, "DSN key cache refreshed"),
            Err(e) => tracing::warn!(
                error = %crate::error::error_chain(&e),
                "cannot refresh the DSN key cache"
            ),
        }
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
