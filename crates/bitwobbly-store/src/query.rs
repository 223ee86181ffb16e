//! What the ingest query API asks of the store ([`IngestQuery`](crate::api::IngestQuery)):
//! issue filters, sort orders and cursors, and the aggregates it answers with (transaction
//! statistics, release health, cron monitors).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::{Event, Issue};
use crate::types::{
    CheckInStatus, EventRowId, IssueStatus, MonitorId, MonitorStatus, ProjectId, Timestamp,
};

/// The order issues are listed in: descending by the named value, ties broken by id,
/// descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IssueSort {
    /// Most recently seen first.
    #[default]
    LastSeen,
    /// Most recently created first.
    FirstSeen,
    /// Most events first.
    Count,
    /// Most distinct users first.
    Users,
}

impl IssueSort {
    /// The sort value of an issue under this order.
    pub fn value_of(self, issue: &Issue) -> i64 {
        match self {
            Self::LastSeen => issue.last_seen.as_millis(),
            Self::FirstSeen => issue.first_seen.as_millis(),
            Self::Count => issue.event_count,
            Self::Users => issue.user_count,
        }
    }
}

/// Where the next page of issues starts: after the issue with this sort value and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueCursor {
    pub(crate) value: i64,
    pub(crate) id: i64,
}

impl IssueCursor {
    /// The cursor after `issue` under `sort`.
    pub fn after(issue: &Issue, sort: IssueSort) -> Self {
        Self {
            value: sort.value_of(issue),
            id: issue.id.0,
        }
    }

    /// The cursor as a string safe for URLs (`<value>.<id>`).
    pub fn encode(&self) -> String {
        format!("{}.{}", self.value, self.id)
    }

    /// Parses a string made by [`IssueCursor::encode`].
    ///
    /// # Errors
    /// [`StoreError::Invalid`] if it is not one.
    pub fn decode(s: &str) -> Result<Self> {
        let bad = || StoreError::invalid("cursor", "not a cursor from a previous page");
        let (value, id) = s.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            value: value.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// Which issues of a project to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueFilter {
    /// The project.
    pub project_id: ProjectId,
    /// Only issues of this status.
    pub status: Option<IssueStatus>,
    /// Only issues whose latest level is this (`error`, `warning`, ...).
    pub level: Option<String>,
    /// Only issues with an event in this environment.
    pub environment: Option<String>,
    /// Only issues with an event of this release.
    pub release: Option<String>,
    /// Only issues whose title or culprit contains this text (case-insensitive for ASCII).
    pub text: Option<String>,
    /// The order.
    pub sort: IssueSort,
    /// Start after this issue (from the previous page).
    pub after: Option<IssueCursor>,
    /// Page size.
    pub limit: u32,
}

impl IssueFilter {
    /// Every issue of `project`, most recently seen first, `limit` at a time.
    pub fn new(project_id: ProjectId, limit: u32) -> Self {
        Self {
            project_id,
            status: None,
            level: None,
            environment: None,
            release: None,
            text: None,
            sort: IssueSort::LastSeen,
            after: None,
            limit,
        }
    }
}

/// One page of issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuePage {
    /// The issues.
    pub items: Vec<Issue>,
    /// Where the next page starts, if there may be one.
    pub next: Option<IssueCursor>,
}

/// Count, failures and duration quantiles of a set of transactions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionStats {
    /// Transactions.
    pub count: u64,
    /// Transactions whose status is a failure (anything but `ok`, `cancelled`, `unknown` or
    /// none, as Sentry counts its failure rate).
    pub failures: u64,
    /// Median duration, in microseconds.
    pub p50_us: Option<f64>,
    /// 95th percentile, in microseconds.
    pub p95_us: Option<f64>,
    /// 99th percentile, in microseconds.
    pub p99_us: Option<f64>,
    /// Mean duration, in microseconds.
    pub mean_us: Option<f64>,
}

/// Statistics of one transaction name over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionSummary {
    /// The transaction name (route).
    pub name: String,
    /// Its statistics.
    pub stats: TransactionStats,
}

/// Statistics of one transaction name over one bucket of a time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionBucket {
    /// Start of the bucket.
    pub start: Timestamp,
    /// Its statistics.
    pub stats: TransactionStats,
}

/// Whether a transaction status counts as a failure (Sentry's failure rate: every status but
/// `ok`, `cancelled` and `unknown`; a missing status is unknown).
pub fn is_failure_status(status: Option<&str>) -> bool {
    !matches!(
        status,
        None | Some("ok" | "cancelled" | "unknown" | "unknown_error" | "")
    )
}

/// Session counts of one release in one environment, added up over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseHealth {
    /// Release.
    pub release: String,
    /// Environment (empty when none).
    pub environment: String,
    /// Sessions started.
    pub started: i64,
    /// Sessions ended normally.
    pub exited: i64,
    /// Sessions with handled errors.
    pub errored: i64,
    /// Sessions that crashed.
    pub crashed: i64,
    /// Sessions that ended abnormally.
    pub abnormal: i64,
    /// The first bucket with sessions.
    pub first_seen: Timestamp,
    /// The last bucket with sessions.
    pub last_seen: Timestamp,
}

/// A cron monitor of a project as its check-ins show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronSummary {
    /// The monitor's slug (as SDKs send it).
    pub monitor_slug: String,
    /// Check-ins received.
    pub check_ins: i64,
    /// The latest check-in's status.
    pub last_status: CheckInStatus,
    /// When the latest check-in arrived.
    pub last_check_in_at: Timestamp,
    /// The latest check-in's environment.
    pub environment: Option<String>,
    /// The heartbeat monitor that judges it, when one is linked.
    pub monitor_id: Option<MonitorId>,
    /// That monitor's current status.
    pub monitor_status: Option<MonitorStatus>,
}

/// Where the next page of an issue's events starts: after the event with this timestamp and
/// row id (events are listed newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    /// The last listed event's timestamp.
    pub timestamp: Timestamp,
    /// The last listed event's row id.
    pub id: EventRowId,
}

impl EventCursor {
    /// The cursor after `event`.
    pub fn after(event: &Event) -> Self {
        Self {
            timestamp: event.event.timestamp,
            id: event.id,
        }
    }

    /// The cursor as a string safe for URLs (`<millis>.<id>`).
    pub fn encode(&self) -> String {
        format!("{}.{}", self.timestamp.as_millis(), self.id.0)
    }

    /// Parses a string made by [`EventCursor::encode`].
    ///
    /// # Errors
    /// [`StoreError::Invalid`] if it is not one.
    pub fn decode(s: &str) -> Result<Self> {
        let c = IssueCursor::decode(s)?;
        Ok(Self {
            timestamp: Timestamp::from_millis(c.value),
            id: EventRowId(c.id),
        })
    }
}

/// Most events [`TagCounts`] reads: the counts describe an issue's latest events, so a huge
/// issue costs no more than this.
pub const TAG_SAMPLE_EVENTS: u32 = 1000;
/// Most values kept per tag key (the most frequent).
pub const TAG_TOP_VALUES: usize = 10;
/// Most tag keys kept.
pub const TAG_MAX_KEYS: usize = 50;

/// One value of a tag with how many of the sampled events had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagValueCount {
    /// The value.
    pub value: String,
    /// Events with it.
    pub count: u64,
}

/// One tag key of an issue with its most frequent values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagKeyCounts {
    /// The key (`environment`, `release`, `browser`, ...).
    pub key: String,
    /// Sampled events that had the key.
    pub total: u64,
    /// Its most frequent values, most frequent first (ties by value), at most
    /// [`TAG_TOP_VALUES`].
    pub values: Vec<TagValueCount>,
}

/// Tag value counts over an issue's latest events (at most [`TAG_SAMPLE_EVENTS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCounts {
    /// Events counted.
    pub sampled: u64,
    /// Per key, sorted by key, at most [`TAG_MAX_KEYS`] (the most used).
    pub keys: Vec<TagKeyCounts>,
}

impl TagCounts {
    /// Counts the tags of some events: each event's `environment` and `release` count as tags
    /// of those names (as Sentry shows them), then its own tags (a key sent twice counts once).
    pub fn count<'a, I, T>(events: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut by_key: BTreeMap<&str, (u64, HashMap<&str, u64>)> = BTreeMap::new();
        let mut sampled = 0u64;
        for tags in events {
            sampled += 1;
            let mut seen: Vec<&str> = Vec::new();
            for (k, v) in tags {
                if seen.contains(&k) {
                    continue;
                }
                seen.push(k);
                let entry = by_key.entry(k).or_default();
                entry.0 += 1;
                *entry.1.entry(v).or_default() += 1;
            }
        }
        let mut keys: Vec<TagKeyCounts> = by_key
            .into_iter()
            .map(|(key, (total, values))| {
                let mut values: Vec<TagValueCount> = values
                    .into_iter()
                    .map(|(value, count)| TagValueCount {
                        value: value.to_owned(),
                        count,
                    })
                    .collect();
                values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                values.truncate(TAG_TOP_VALUES);
                TagKeyCounts {
                    key: key.to_owned(),
                    total,
                    values,
                }
            })
            .collect();
        if keys.len() > TAG_MAX_KEYS {
            keys.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
            keys.truncate(TAG_MAX_KEYS);
            keys.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Self { sampled, keys }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_counts_rank_values_and_cap_keys() {
        let events: Vec<Vec<(&str, &str)>> = vec![
            vec![("environment", "prod"), ("browser", "Firefox")],
            vec![
                ("environment", "prod"),
                ("browser", "Chrome"),
                ("browser", "dup"),
            ],
            vec![("environment", "staging")],
        ];
        let c = TagCounts::count(events.iter().map(|e| e.iter().copied()));
        assert_eq!(c.sampled, 3);
        assert_eq!(c.keys.len(), 2);
        assert_eq!(c.keys[0].key, "browser");
        assert_eq!(c.keys[0].total, 2);
        assert_eq!(c.keys[1].key, "environment");
        assert_eq!(
            c.keys[1].values[0],
            TagValueCount {
                value: "prod".into(),
                count: 2
            }
        );
        assert_eq!(c.keys[1].values[1].value, "staging");
        let many: Vec<Vec<(String, String)>> = (0..100)
            .map(|i| {
                (0..=i % 60)
                    .map(|k| (format!("k{k:02}"), format!("v{}", i % 20)))
                    .collect()
            })
            .collect();
        let c = TagCounts::count(
            many.iter()
                .map(|e| e.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        assert_eq!(c.keys.len(), TAG_MAX_KEYS);
        assert_eq!(c.keys[0].key, "k00");
        assert!(c.keys.iter().all(|k| k.values.len() <= TAG_TOP_VALUES));
        assert!(c.keys.windows(2).all(|w| w[0].key < w[1].key));
    }

    #[test]
    fn event_cursors_round_trip() {
        let c = EventCursor {
            timestamp: Timestamp::from_millis(1_700_000_000_123),
            id: EventRowId(9),
        };
        assert_eq!(EventCursor::decode(&c.encode()).unwrap(), c);
        assert!(EventCursor::decode("x").is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = IssueCursor { value: -5, id: 42 };
        assert_eq!(IssueCursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "1", "a.b", "1.", ".2", "1.2.3"] {
            assert!(IssueCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failures_are_what_sentry_counts() {
        for ok in [None, Some("ok"), Some("cancelled"), Some("unknown")] {
            assert!(!is_failure_status(ok), "{ok:?}");
        }
        for bad in [
            "internal_error",
            "deadline_exceeded",
            "not_found",
            "aborted",
        ] {
            assert!(is_failure_status(Some(bad)), "{bad}");
        }
    }
}
