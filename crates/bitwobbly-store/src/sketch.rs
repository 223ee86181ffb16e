//! A mergeable latency histogram with fixed logarithmic buckets.
//!
//! Every value (microseconds) falls in bucket `1 + floor(ln(v) / ln(GAMMA))` (values below one
//! microsecond share bucket 0). Buckets are the same for every sketch, so merging is adding
//! counts: days merge from hours exactly. A quantile is answered with the geometric middle of its
//! bucket, within [`LatencySketch::RELATIVE_ERROR`] of the true nearest-rank value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Ratio between consecutive bucket bounds.
const GAMMA: f64 = 1.02;
/// Version byte of the serialised form.
const FORMAT_V1: u8 = 1;

/// A latency distribution: counts per logarithmic bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySketch {
    buckets: BTreeMap<u32, u64>,
    count: u64,
}

impl LatencySketch {
    /// The largest relative error of [`quantile`](Self::quantile) (about 1%).
    pub const RELATIVE_ERROR: f64 = (GAMMA - 1.0) / (GAMMA + 1.0);

    /// An empty sketch.
    pub fn new() -> Self {
        Self::default()
    }

    fn bucket_of(us: i64) -> u32 {
        if us < 1 {
            return 0;
        }
        // Truncation is the bucket rule; values are far below u32::MAX buckets.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let b = ((us as f64).ln() / GAMMA.ln()).floor() as u32;
        b + 1
    }

    fn representative(bucket: u32) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        let lower = GAMMA.powi(bucket as i32 - 1);
        lower * 2.0 * GAMMA / (1.0 + GAMMA)
    }

    /// Records one value in microseconds.
    pub fn add(&mut self, us: i64) {
        *self.buckets.entry(Self::bucket_of(us)).or_default() += 1;
        self.count += 1;
    }

    /// Adds every count of `other` to this sketch.
    pub fn merge(&mut self, other: &Self) {
        for (b, c) in &other.buckets {
            *self.buckets.entry(*b).or_default() += c;
        }
        self.count += other.count;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1, nearest rank), in microseconds; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        // Nearest rank: the ceil(q * n)-th smallest value, at least the first.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                return Some(Self::representative(*b));
            }
        }
        self.buckets
            .keys()
            .next_back()
            .map(|b| Self::representative(*b))
    }

    /// The serialised form: a version byte, then (bucket delta, count) pairs as LEB128 varints.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.buckets.len() * 3);
        out.push(FORMAT_V1);
        let mut prev = 0u32;
        for (b, c) in &self.buckets {
            put_varint(&mut out, u64::from(b - prev));
            put_varint(&mut out, *c);
            prev = *b;
        }
        out
    }

    /// Reads the form written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if the bytes are not a sketch.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let corrupt = |problem: &str| StoreError::Corrupt {
            column: "sketch",
            problem: problem.to_owned(),
        };
        let (&version, mut rest) = bytes.split_first().ok_or_else(|| corrupt("empty"))?;
        if version != FORMAT_V1 {
            return Err(corrupt("unknown version"));
        }
        let mut sketch = Self::new();
        let mut bucket = 0u32;
        while !rest.is_empty() {
            let delta = take_varint(&mut rest).ok_or_else(|| corrupt("truncated"))?;
            let count = take_varint(&mut rest).ok_or_else(|| corrupt("truncated"))?;
            bucket = u32::try_from(delta)
                .ok()
                .and_then(|d| bucket.checked_add(d))
                .ok_or_else(|| corrupt("bucket out of range"))?;
            *sketch.buckets.entry(bucket).or_default() += count;
            sketch.count = sketch
                .count
                .checked_add(count)
                .ok_or_else(|| corrupt("count overflow"))?;
        }
        Ok(sketch)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(values: &mut [i64], q: f64) -> f64 {
        values.sort_unstable();
        let rank = ((q * values.len() as f64).ceil() as usize).max(1);
        values[rank - 1] as f64
    }

    #[test]
    fn quantiles_are_within_the_relative_error() {
        let mut values: Vec<i64> = (0..5000).map(|i| 800 + (i * i) % 250_000).collect();
        let mut s = LatencySketch::new();
        for v in &values {
            s.add(*v);
        }
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let want = exact(&mut values, q);
            let got = s.quantile(q).unwrap();
            assert!(
                (got - want).abs() <= want * LatencySketch::RELATIVE_ERROR + 1e-9,
                "q={q} want {want} got {got}"
            );
        }
    }

    #[test]
    fn merging_equals_adding_everything_to_one() {
        let (mut a, mut b, mut all) = (
            LatencySketch::new(),
            LatencySketch::new(),
            LatencySketch::new(),
        );
        for v in 0..1000 {
            a.add(v * 7);
            all.add(v * 7);
            b.add(v * 13 + 5);
            all.add(v * 13 + 5);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }

    #[test]
    fn bytes_round_trip_and_reject_garbage() {
        let mut s = LatencySketch::new();
        for v in [0, 1, 2, 1000, 1_000_000, 600_000_000] {
            s.add(v);
        }
        assert_eq!(LatencySketch::from_bytes(&s.to_bytes()).unwrap(), s);
        assert!(LatencySketch::from_bytes(&[]).is_err());
        assert!(LatencySketch::from_bytes(&[9]).is_err());
        assert!(LatencySketch::from_bytes(&[1, 0x80]).is_err());
    }

    #[test]
    fn empty_sketch_has_no_quantile() {
        assert_eq!(LatencySketch::new().quantile(0.5), None);
    }
}
