//! Reads for overview screens: uptime and recent latency of many monitors at once, and one
//! monitor's latency by check phase.
//!
//! A monitors list of a thousand monitors must not ask the database once per monitor:
//! [`DashboardQuery::monitor_summaries`] answers a whole page of them with five indexed
//! queries, whatever the page size (up to 500 monitors).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::{Scoped, Source, run};
use crate::types::{MonitorId, MonitorStatus, Timestamp};

/// Check counts and latency totals over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCounts {
    /// Up results.
    pub up: i64,
    /// Degraded results.
    pub degraded: i64,
    /// Down results.
    pub down: i64,
    /// Results with a latency (up and degraded).
    pub lat_count: i64,
    /// Sum of their total latency, in microseconds.
    pub lat_sum_us: i64,
}

impl WindowCounts {
    /// Adds another window's counts.
    pub fn add(&mut self, other: &Self) {
        self.up += other.up;
        self.degraded += other.degraded;
        self.down += other.down;
        self.lat_count += other.lat_count;
        self.lat_sum_us += other.lat_sum_us;
    }

    /// All results counted.
    pub fn total(&self) -> i64 {
        self.up + self.degraded + self.down
    }

    /// Mean latency in microseconds, when any result had one.
    pub fn mean_us(&self) -> Option<f64> {
        (self.lat_count > 0).then(|| self.lat_sum_us as f64 / self.lat_count as f64)
    }
}

/// One monitor's uptime windows and hourly latency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorSummary {
    /// The monitor.
    pub monitor_id: MonitorId,
    /// Counts over each window asked for, in the order asked.
    pub windows: Vec<WindowCounts>,
    /// Counts of each hour from the sparkline start to now, oldest first (one entry per
    /// hour, empty hours included).
    pub hours: Vec<WindowCounts>,
}

/// What the monitors list needs of one monitor, read without the rest of the monitor (its
/// schedule, thresholds, locations, state machine) and without parsing its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorListItem {
    /// The monitor.
    pub id: MonitorId,
    /// Its name.
    pub name: String,
    /// Its key, if it has one.
    pub key: Option<String>,
    /// Its kind of check (`http`, `tcp`, ...).
    pub kind: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Its status from its state, `None` when it has no state row.
    pub status: Option<MonitorStatus>,
    /// The spec as stored (JSON), parsed only when [`Self::target`] is asked.
    pub(crate) spec: String,
}

impl MonitorListItem {
    /// What it checks, as [`bitwobbly_core::CheckSpec::target`] says it (parses the spec;
    /// empty when the stored spec cannot be read).
    pub fn target(&self) -> String {
        serde_json::from_str::<bitwobbly_core::CheckSpec>(&self.spec)
            .map(|s| s.target())
            .unwrap_or_default()
    }

    /// Whether [`Self::target`] contains `q_lower` (already lowercased), ignoring case.
    ///
    /// Apart from a heartbeat's (which adds words of its own), every letter or digit of a
    /// target comes from a value in the stored spec, so a spec whose text lacks one of the
    /// query's runs of letters and digits cannot match, and is not parsed: a search over
    /// many monitors parses only the likely ones.
    pub fn target_contains(&self, q_lower: &str) -> bool {
        let spec = self.spec.to_lowercase();
        let possible = self.kind == "heartbeat"
            || q_lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|run| !run.is_empty())
                .all(|run| spec.contains(run));
        possible && self.target().to_lowercase().contains(q_lower)
    }
}

/// Mean phase durations of a monitor's successful checks in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRow {
    /// Bucket start.
    pub bucket_start: Timestamp,
    /// Up and degraded checks in the bucket.
    pub count: i64,
    /// Sums of the phase durations in microseconds: DNS, connect, TLS, first byte, transfer.
    pub sums_us: [i64; 5],
    /// Sum of the total durations in microseconds.
    pub total_sum_us: i64,
}

/// Reads for overview screens (implemented on a workspace scope).
pub trait DashboardQuery {
    /// Uptime counts over several windows and hourly latency for a set of monitors, in
    /// a fixed number of queries.
    ///
    /// Each window runs from its start in `window_starts` to `now`. The counts come from
    /// the daily rollups for whole days before the daily watermark (only for windows that
    /// start at midnight UTC), the hourly rollups up to the hourly watermark, and the raw
    /// results after it, so they include the latest checks without reading a month of raw
    /// rows. `hours_from` (floored to the hour) starts the hourly series. Monitors of
    /// another workspace, or unknown ones, get nothing; the answer is in `monitors` order.
    fn monitor_summaries(
        &mut self,
        monitors: &[MonitorId],
        window_starts: &[Timestamp],
        hours_from: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<MonitorSummary>>> + Send;

    /// Every monitor's id and name, by name: for pickers and labels, without reading
    /// (and parsing) whole monitors.
    fn monitor_names(&mut self) -> impl Future<Output = Result<Vec<(MonitorId, String)>>> + Send;

    /// Every monitor of the workspace for the monitors list, by id: names, kinds, paused
    /// flags and statuses in one query, without reading or parsing whole monitors.
    fn monitor_list(&mut self) -> impl Future<Output = Result<Vec<MonitorListItem>>> + Send;

    /// A monitor's successful checks in `[from, to)` grouped into `bucket`-long buckets
    /// (aligned to the Unix epoch), with their phase sums; buckets without one are left out.
    fn phase_rows(
        &mut self,
        monitor: MonitorId,
        from: Timestamp,
        to: Timestamp,
        bucket: Duration,
    ) -> impl Future<Output = Result<Vec<PhaseRow>>> + Send;
}

impl<S: Source> DashboardQuery for Scoped<S> {
    async fn monitor_summaries(
        &mut self,
        monitors: &[MonitorId],
        window_starts: &[Timestamp],
        hours_from: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<MonitorSummary>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::dashboard::summaries(
            c,
            ws,
            monitors,
            window_starts,
            hours_from,
            now
        )
        .await)
    }

    async fn monitor_names(&mut self) -> Result<Vec<(MonitorId, String)>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::dashboard::monitor_names(c, ws)
            .await)
    }

    async fn monitor_list(&mut self) -> Result<Vec<MonitorListItem>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::dashboard::monitor_list(c, ws).await)
    }

    async fn phase_rows(
        &mut self,
        monitor: MonitorId,
        from: Timestamp,
        to: Timestamp,
        bucket: Duration,
    ) -> Result<Vec<PhaseRow>> {
        let ws = self.ws;
        run!(self.src, |c, ops| ops::dashboard::phase_rows(
            c, ws, monitor, from, to, bucket
        )
        .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, spec: &str) -> MonitorListItem {
        MonitorListItem {
            id: MonitorId(1),
            name: "n".into(),
            key: None,
            kind: kind.into(),
            paused: false,
            status: None,
            spec: spec.into(),
        }
    }

    #[test]
    fn target_search_finds_what_the_target_shows() {
        let tcp = item(
            "tcp",
            r#"{"type": "tcp", "host": "DB.internal", "port": 5432}"#,
        );
        assert!(tcp.target_contains("internal:54"));
        assert!(tcp.target_contains("db.internal:5432"));
        assert!(!tcp.target_contains("internal:6379"));
        assert!(!tcp.target_contains("redis"));
        let beat = item(
            "heartbeat",
            r#"{"type": "heartbeat", "expect": {"type": "period", "period": "5m"}}"#,
        );
        assert!(beat.target_contains("ping every"));
        assert!(!item("tcp", "not json").target_contains("not"));
    }
}
