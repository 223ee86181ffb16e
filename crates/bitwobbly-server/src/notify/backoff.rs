//! When to try a failed delivery again: exponential backoff with equal jitter, and the
//! receiver's `Retry-After`.

use std::time::Duration;

use time::OffsetDateTime;
use time::macros::format_description;

/// The delay before the attempt after `attempts` failed ones: `initial * 2^(attempts-1)`
/// capped at `max`, with equal jitter (half fixed, half random). `jitter` in `[0, 1]` is the
/// random draw, so that the function itself is deterministic.
///
/// Equal jitter keeps every delay at least half its nominal value, so delays still grow from
/// one attempt to the next while spreading receivers' retries apart.
pub(crate) fn delay(attempts: u32, initial: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = attempts.saturating_sub(1).min(32);
    let nominal = initial
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(max)
        .min(max);
    let half = nominal / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The delay to wait: the later of the backoff and the receiver's `Retry-After`, capped at
/// `max` (a receiver cannot park a notification for longer than we would).
pub(crate) fn with_retry_after(
    backoff: Duration,
    retry_after: Option<Duration>,
    max: Duration,
) -> Duration {
    match retry_after {
        Some(after) => backoff.max(after).min(max),
        None => backoff,
    }
}

/// A `Retry-After` value: delay seconds or an HTTP date (IMF-fixdate), as a delay from `now`.
/// A date in the past is no delay; anything unparsable is `None`.
pub(crate) fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    let delta = at - now;
    Some(if delta.is_positive() {
        delta.unsigned_abs()
    } else {
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn doubles_up_to_the_cap() {
        let max = Duration::from_secs(60);
        assert_eq!(delay(1, 5 * S, max, 1.0), 5 * S);
        assert_eq!(delay(2, 5 * S, max, 1.0), 10 * S);
        assert_eq!(delay(3, 5 * S, max, 1.0), 20 * S);
        assert_eq!(delay(5, 5 * S, max, 1.0), 60 * S);
        assert_eq!(delay(200, 5 * S, max, 1.0), 60 * S);
        assert_eq!(delay(0, 5 * S, max, 1.0), 5 * S);
    }

    #[test]
    fn jitter_stays_within_half_and_whole() {
        let max = Duration::from_secs(3600);
        for attempts in 1..10 {
            let low = delay(attempts, 2 * S, max, 0.0);
            let high = delay(attempts, 2 * S, max, 1.0);
            assert_eq!(low * 2, high);
            let mid = delay(attempts, 2 * S, max, 0.5);
            assert!(low <= mid && mid <= high);
            // Even with the worst draws, the next delay is not shorter than this one.
            assert!(delay(attempts + 1, 2 * S, max, 0.0) >= high.min(max / 2));
        }
    }

    #[test]
    fn retry_after_wins_when_later_but_is_capped() {
        let max = 100 * S;
        assert_eq!(with_retry_after(5 * S, Some(30 * S), max), 30 * S);
        assert_eq!(with_retry_after(50 * S, Some(30 * S), max), 50 * S);
        assert_eq!(with_retry_after(5 * S, Some(3000 * S), max), max);
        assert_eq!(with_retry_after(5 * S, None, max), 5 * S);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = datetime!(2015-10-21 07:28:00 UTC);
        assert_eq!(parse_retry_after("120", now), Some(120 * S));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(120 * S)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
