//! Uptime arithmetic.

use serde::{Deserialize, Serialize};

/// Counts of check results over a period (or of seconds spent in each state).
///
/// Degraded counts as up: the service answered, only slower or with a soft assertion
/// failing, so it was available. Down is the only thing that lowers uptime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tally {
    /// Up results.
    pub up: u64,
    /// Degraded results (counted as up).
    pub degraded: u64,
    /// Down results.
    pub down: u64,
}

impl Tally {
    /// A tally of the given counts.
    pub fn new(up: u64, degraded: u64, down: u64) -> Self {
        Self { up, degraded, down }
    }

    /// All results.
    pub fn total(&self) -> u64 {
        self.up
            .saturating_add(self.degraded)
            .saturating_add(self.down)
    }

    /// Adds another tally (for example, hourly rollups into a day).
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        Self {
            up: self.up.saturating_add(other.up),
            degraded: self.degraded.saturating_add(other.degraded),
            down: self.down.saturating_add(other.down),
        }
    }

    /// Uptime as a percentage from 0 to 100, degraded counted as up; `None` with no results.
    pub fn uptime_percent(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| {
            let available = self.up.saturating_add(self.degraded);
            available as f64 * 100.0 / total as f64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_results_have_no_uptime() {
        assert_eq!(Tally::default().uptime_percent(), None);
    }

    #[test]
    fn degraded_counts_as_up() {
        assert_eq!(Tally::new(0, 10, 0).uptime_percent(), Some(100.0));
    }

    #[test]
    fn one_down_in_four_is_seventy_five_percent() {
        assert_eq!(Tally::new(2, 1, 1).uptime_percent(), Some(75.0));
    }

    #[test]
    fn merge_adds_counts() {
        let t = Tally::new(1, 2, 3).merge(Tally::new(10, 20, 30));
        assert_eq!(t, Tally::new(11, 22, 33));
        assert_eq!(t.total(), 66);
    }
}
