//! Summaries of repeated runs (`--count`): min, median, p95 and max per phase, and
//! up / degraded / down counts.

use std::time::Duration;

use bitwobbly_core::latency::Spread;
use bitwobbly_core::{CheckReport, Phase, Status};
use serde_json::{Value, json};

/// A spread as JSON, in whole microseconds.
fn spread_json(spread: Spread) -> Value {
    json!({
        "min": micros(spread.min),
        "median": micros(spread.median),
        "p95": micros(spread.p95),
        "max": micros(spread.max),
    })
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
                m.insert(format!("{}_us", p.as_str()), spread_json(*s));
            }
            m.insert("total_us".to_owned(), spread_json(total));
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
