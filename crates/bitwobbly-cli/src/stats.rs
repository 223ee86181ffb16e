//! Summaries of repeated runs (`--count`): min, median, p95 and max per phase, and
//! up / degraded / down counts.

use std::time::Duration;

use bitwobbly_core::{CheckReport, Phase, Status};
use serde_json::{Value, json};

/// Min, median, 95th percentile and max of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// Smallest.
    pub min: Duration,
    /// Middle value; the mean of the two middle values for an even count.
    pub median: Duration,
    /// 95th percentile by the nearest-rank method: the value at rank ⌈0.95·n⌉.
    pub p95: Duration,
    /// Largest.
    pub max: Duration,
}

impl Spread {
    /// The spread of `samples`, or `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let mut s = samples.to_vec();
        s.sort_unstable();
        let n = s.len();
        let (&min, &max) = (s.first()?, s.last()?);
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        // Nearest rank: ceil(95 * n / 100), counted from 1.
        let rank = (95 * n).div_ceil(100).max(1);
        Some(Self {
            min,
            median,
            p95: s[rank - 1],
            max,
        })
    }

    fn to_json(self) -> Value {
        json!({
            "min": micros(self.min),
            "median": micros(self.median),
            "p95": micros(self.p95),
            "max": micros(self.max),
        })
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What a series of runs came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The target, as in the reports.
    pub target: String,
    /// Runs made.
    pub runs: usize,
    /// Runs that were up.
    pub up: usize,
    /// Runs that were degraded.
    pub degraded: usize,
    /// Runs that were down.
    pub down: usize,
    /// Per-phase spreads, in [`Phase::ALL`] order, over the runs that completed without
    /// an error; empty when none did.
    pub phases: Vec<(Phase, Spread)>,
    /// Spread of the total time over the same runs.
    pub total: Option<Spread>,
}

impl Summary {
    /// Summarises `reports` (all for the same target).
    pub fn of(target: &str, reports: &[CheckReport]) -> Self {
        let count = |st: Status| reports.iter().filter(|r| r.status == st).count();
        let completed: Vec<_> = reports.iter().filter(|r| r.error.is_none()).collect();
        let phases = Phase::ALL
            .into_iter()
            .filter_map(|p| {
                let samples: Vec<_> = completed.iter().map(|r| r.timings.phase(p)).collect();
                Spread::of(&samples).map(|s| (p, s))
            })
            .collect();
        let totals: Vec<_> = completed.iter().map(|r| r.timings.total).collect();
        Self {
            target: target.to_owned(),
            runs: reports.len(),
            up: count(Status::Up),
            degraded: count(Status::Degraded),
            down: count(Status::Down),
            phases,
            total: Spread::of(&totals),
        }
    }

    /// The summary line of `--json --count`:
    /// `{"summary": {"target", "runs", "up", "degraded", "down", "timings"}}`, where
    /// `timings` maps `dns_us` … `transfer_us` and `total_us` to
    /// `{"min", "median", "p95", "max"}` in microseconds, or is `null` when no run
    /// completed.
    pub fn to_json(&self) -> Value {
        let timings = self.total.map(|total| {
            let mut m = serde_json::Map::new();
            for (p, s) in &self.phases {
                m.insert(format!("{}_us", p.as_str()), s.to_json());
            }
            m.insert("total_us".to_owned(), total.to_json());
            Value::Object(m)
        });
        json!({
            "summary": {
                "target": self.target,
                "runs": self.runs,
                "up": self.up,
                "degraded": self.degraded,
                "down": self.down,
                "timings": timings,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{down_report, up_report};

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn spread_of_nothing_is_none() {
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn spread_of_one_sample() {
        let s = Spread::of(&ms(&[7])).unwrap();
        let d = Duration::from_millis(7);
        assert_eq!((s.min, s.median, s.p95, s.max), (d, d, d, d));
    }

    #[test]
    fn odd_count_median_is_the_middle() {
        let s = Spread::of(&ms(&[5, 1, 3])).unwrap();
        assert_eq!(s.min, Duration::from_millis(1));
        assert_eq!(s.median, Duration::from_millis(3));
        assert_eq!(s.p95, Duration::from_millis(5));
        assert_eq!(s.max, Duration::from_millis(5));
    }

    #[test]
    fn even_count_median_is_the_mean_of_the_middle_two() {
        let s = Spread::of(&ms(&[4, 1, 2, 3])).unwrap();
        assert_eq!(s.median, Duration::from_micros(2500));
    }

    #[test]
    fn p95_uses_nearest_rank() {
        // 1..=20: rank ceil(0.95 * 20) = 19.
        let s = Spread::of(&ms(&(1..=20).collect::<Vec<_>>())).unwrap();
        assert_eq!(s.p95, Duration::from_millis(19));
        // 1..=100: rank 95.
        let s = Spread::of(&ms(&(1..=100).rev().collect::<Vec<_>>())).unwrap();
        assert_eq!(s.p95, Duration::from_millis(95));
        assert_eq!(s.median, Duration::from_micros(50_500));
        // 1..=10: rank ceil(9.5) = 10.
        let s = Spread::of(&ms(&(1..=10).collect::<Vec<_>>())).unwrap();
        assert_eq!(s.p95, Duration::from_millis(10));
    }

    #[test]
    fn summary_counts_and_skips_failed_runs_in_timings() {
        let reports = [up_report(), down_report(), up_report()];
        let s = Summary::of("t", &reports);
        assert_eq!((s.runs, s.up, s.degraded, s.down), (3, 2, 0, 1));
        let total = s.total.unwrap();
        assert_eq!(total.min, up_report().timings.total);
        assert_eq!(s.phases.len(), 5);
        let v = s.to_json();
        assert_eq!(v["summary"]["runs"], 3);
        assert_eq!(v["summary"]["down"], 1);
        assert_eq!(v["summary"]["timings"]["total_us"]["max"], 3560);
        assert_eq!(v["summary"]["timings"]["tls_us"]["median"], 2310);
    }

    #[test]
    fn summary_without_completed_runs_has_null_timings() {
        let s = Summary::of("t", &[down_report()]);
        assert_eq!(s.total, None);
        assert!(s.to_json()["summary"]["timings"].is_null());
    }
}
