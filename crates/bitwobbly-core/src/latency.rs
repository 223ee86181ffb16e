//! Latency statistics over a set of samples.

use std::time::Duration;

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
