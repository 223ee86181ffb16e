//! Periodic upkeep, each job on its own timer: rollups and retention of results, expired
//! dashboard sessions, delivered notifications, and re-judging monitors judged across
//! locations when a location goes stale (see [`super::quorum`]).
//!
//! Every node runs these; each job is idempotent, so several nodes doing it at once only
//! repeat work.

use std::time::Duration;

use bitwobbly_store::api::{AccountStore, Compaction, OutboxQueue};
use bitwobbly_store::model::RetentionPolicy;

use crate::AppState;

/// How often results are rolled up and old ones deleted.
pub(crate) const COMPACT_EVERY: Duration = Duration::from_secs(5 * 60);
/// How often expired sessions are deleted.
pub(crate) const SESSIONS_EVERY: Duration = Duration::from_secs(10 * 60);
/// How often delivered notifications are purged.
pub(crate) const PURGE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// How often expired ingest events and envelopes are deleted.
pub(crate) const INGEST_RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How often monitors judged across locations are checked for locations gone stale.
pub(crate) const QUORUM_EVERY: Duration = Duration::from_secs(15);
/// How long delivered notifications are kept.
pub(crate) const KEEP_SENT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The first run of each job comes this long after start (or one period, if shorter), so
/// that a node restarting often still does its daily jobs.
const FIRST_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Job {
    Compact,
    Sessions,
    Purge,
    IngestRetention,
    Quorum,
}

/// Runs the jobs until shutdown.
pub(crate) async fn run(state: AppState) {
    let start = tokio::time::Instant::now();
    let mut timers = [
        (Job::Compact, COMPACT_EVERY),
        (Job::Sessions, SESSIONS_EVERY),
        (Job::Purge, PURGE_EVERY),
        (Job::IngestRetention, INGEST_RETENTION_EVERY),
        (Job::Quorum, QUORUM_EVERY),
    ]
    .map(|(job, every)| {
        let mut t = tokio::time::interval_at(start + FIRST_AFTER.min(every), every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        (job, t)
    });
    let [
        (_, compact),
        (_, sessions),
        (_, purge),
        (_, retention),
        (_, quorum),
    ] = &mut timers;
    loop {
        let job = tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = compact.tick() => Job::Compact,
            _ = sessions.tick() => Job::Sessions,
            _ = purge.tick() => Job::Purge,
            _ = retention.tick() => Job::IngestRetention,
            _ = quorum.tick() => Job::Quorum,
        };
        do_job(&state, job).await;
    }
}

async fn do_job(state: &AppState, job: Job) {
    let now = state.clock.now();
    let mut global = state.store.global();
    let outcome = match job {
        Job::Compact => global
            .compact(now, &RetentionPolicy::default())
            .await
            .map(|r| {
                tracing::debug!(
                    hourly = r.hourly_rows,
                    daily = r.daily_rows,
                    deleted = r.results_deleted,
                    "compacted results"
                );
            }),
        Job::Sessions => global.delete_expired_sessions(now).await.map(|n| {
            tracing::debug!(deleted = n, "deleted expired sessions");
        }),
        Job::Purge => global.purge_sent(now.minus(KEEP_SENT)).await.map(|n| {
            tracing::debug!(deleted = n, "purged delivered notifications");
        }),
        Job::IngestRetention => crate::ingest::process::apply_retention(state, now)
            .await
            .map(|(events, envelopes)| {
                tracing::debug!(events, envelopes, "applied ingest retention");
            }),
        Job::Quorum => super::quorum::rejudge_stale(state).await.map(|n| {
            if n > 0 {
                tracing::debug!(monitors = n, "re-judged monitors across locations");
            }
        }),
    };
    if let Err(e) = outcome {
        tracing::warn!(job = ?job, error = %crate::error::error_chain(&e), "housekeeping failed");
    }
}
