//! Per-key and per-project envelope quotas: token buckets holding a minute's worth of
//! envelopes, refilled continuously.
//!
//! Only keys and projects that passed authentication get a bucket, so the table is bounded by
//! the number of real keys and projects, whatever clients send.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use bitwobbly_store::types::{DsnKeyId, ProjectId};

/// Whose quota was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotaScope {
    /// The DSN key's `rate_limit_per_minute`.
    Key,
    /// The server-wide per-project limit (`[ingest] project_rate_limit_per_minute`).
    Project,
}

/// A refused envelope: which quota, and when one envelope fits again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverQuota {
    pub(crate) scope: QuotaScope,
    pub(crate) retry_after: Duration,
}

/// One quota to apply: who, and how many envelopes per minute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) slot: Slot,
    pub(crate) per_minute: u64,
}

/// The bucket a limit counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    Key(DsnKeyId),
    Project(ProjectId),
}

impl Slot {
    fn scope(self) -> QuotaScope {
        match self {
            Self::Key(_) => QuotaScope::Key,
            Self::Project(_) => QuotaScope::Project,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    per_minute: u64,
}

impl Bucket {
    fn refill(&mut self, per_minute: u64, now: Instant) {
        let cap = per_minute as f64;
        if self.per_minute != per_minute {
            // The limit changed: keep the spent share, scaled to the new size.
            self.tokens = self.tokens.min(cap);
            self.per_minute = per_minute;
        }
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * cap / 60.0).min(cap);
        self.at = now;
    }

    /// Time until one whole token is available.
    fn wait(&self) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        let per_sec = self.per_minute as f64 / 60.0;
        if per_sec <= 0.0 {
            return Duration::from_secs(60);
        }
        Duration::from_secs_f64(missing / per_sec)
    }
}

/// The buckets of every limited key and project.
#[derive(Debug, Default)]
pub(crate) struct Quotas {
    buckets: Mutex<HashMap<Slot, Bucket>>,
}

impl Quotas {
    /// Takes one envelope from every limit, or none of them when one is exhausted (the
    /// longest wait wins).
    pub(crate) fn admit(&self, limits: &[Limit], now: Instant) -> Result<(), OverQuota> {
        if limits.is_empty() {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut refused: Option<OverQuota> = None;
        for limit in limits {
            let bucket = buckets.entry(limit.slot).or_insert(Bucket {
                tokens: limit.per_minute as f64,
                at: now,
                per_minute: limit.per_minute,
            });
            bucket.refill(limit.per_minute, now);
            if bucket.tokens < 1.0 {
                let wait = bucket.wait();
                if refused.is_none_or(|r| r.retry_after < wait) {
                    refused = Some(OverQuota {
                        scope: limit.slot.scope(),
                        retry_after: wait,
                    });
                }
            }
        }
        if let Some(over) = refused {
            return Err(over);
        }
        for limit in limits {
            if let Some(bucket) = buckets.get_mut(&limit.slot) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: i64, per_minute: u64) -> Limit {
        Limit {
            slot: Slot::Key(DsnKeyId(n)),
            per_minute,
        }
    }

    #[test]
    fn a_bucket_holds_a_minute_and_refills() {
        let q = Quotas::default();
        let t0 = Instant::now();
        let limits = [key(1, 3)];
        for _ in 0..3 {
            q.admit(&limits, t0).unwrap();
        }
        let over = q.admit(&limits, t0).unwrap_err();
        assert_eq!(over.scope, QuotaScope::Key);
        assert_eq!(over.retry_after, Duration::from_secs(20));
        q.admit(&limits, t0 + Duration::from_secs(20)).unwrap();
        assert!(q.admit(&limits, t0 + Duration::from_secs(20)).is_err());
    }

    #[test]
    fn all_or_nothing_across_limits_and_longest_wait_wins() {
        let q = Quotas::default();
        let t0 = Instant::now();
        let project = Limit {
            slot: Slot::Project(ProjectId(9)),
            per_minute: 1,
        };
        q.admit(&[key(1, 100), project], t0).unwrap();
        let over = q.admit(&[key(1, 100), project], t0).unwrap_err();
        assert_eq!(over.scope, QuotaScope::Project);
        assert_eq!(over.retry_after, Duration::from_secs(60));
        // The refused attempt took nothing from the key: 99 remain.
        for _ in 0..99 {
            q.admit(&[key(1, 100)], t0).unwrap();
        }
        assert!(q.admit(&[key(1, 100)], t0).is_err());
    }

    #[test]
    fn keys_are_independent() {
        let q = Quotas::default();
        let t0 = Instant::now();
        q.admit(&[key(1, 1)], t0).unwrap();
        assert!(q.admit(&[key(1, 1)], t0).is_err());
        q.admit(&[key(2, 1)], t0).unwrap();
    }
}
