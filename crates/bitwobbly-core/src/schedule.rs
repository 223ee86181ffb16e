//! When monitors run: fixed intervals or cron expressions in a time zone.
//!
//! A [`Schedule`] answers "when is the next run after `now`?" ([`Schedule::next_after`]).
//! Monitors sharing an interval are spread over it by a deterministic per-monitor offset
//! ([`Schedule::offset_for`], derived from the monitor's id), and after downtime an overdue
//! monitor runs once soon, spread over a window, instead of replaying every missed run
//! ([`Schedule::due_after_downtime`]).
//!
//! Cron expressions have five fields (minute, hour, day of month, month, day of week) and
//! are evaluated in an IANA time zone from a database compiled into the binary, so no file
//! is read at run time. Nothing here reads the clock: `now` is always an argument.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::SpecError;

/// The shortest interval a monitor may run at.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// The longest interval a monitor may run at.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// How far cron runs are spread after their nominal time (monitors firing on the same
/// cron expression start within this much of each other rather than all at once).
pub const CRON_SPREAD: Duration = Duration::from_secs(15);

/// When a monitor runs.
///
/// Serialised as `{"type": "interval", "every": "30s"}` or
/// `{"type": "cron", "expr": "*/5 * * * *", "tz": "Europe/Berlin"}` (`tz` defaults to
/// `UTC`). Deserialising validates, as [`Schedule::interval`] and [`Schedule::cron`] do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleRepr", into = "ScheduleRepr")]
pub enum Schedule {
    /// Every so often, 10 s to 24 h (build it with [`Schedule::interval`] to validate).
    Interval(Duration),
    /// At the times a cron expression names, in a time zone.
    Cron(CronSchedule),
}

impl Schedule {
    /// A schedule running every `every`.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] for field `every` when `every` is under 10 s or over 24 h.
    pub fn interval(every: Duration) -> Result<Self, SpecError> {
        check_interval(every)?;
        Ok(Self::Interval(every))
    }

    /// A schedule at the times of the five-field cron expression `expr` in time zone `tz`
    /// (an IANA name such as `Europe/Berlin`, or `UTC`).
    ///
    /// # Errors
    ///
    /// A [`SpecError`] for field `expr` or `tz` when either cannot be understood.
    pub fn cron(expr: &str, tz: &str) -> Result<Self, SpecError> {
        CronSchedule::new(expr, tz).map(Self::Cron)
    }

    /// Checks the schedule again (useful for an [`Schedule::Interval`] built directly).
    ///
    /// # Errors
    ///
    /// A [`SpecError`] for field `every` when the interval is out of range.
    pub fn validate(&self) -> Result<(), SpecError> {
        match self {
            Self::Interval(every) => check_interval(*every),
            Self::Cron(_) => Ok(()),
        }
    }

    /// The first run strictly after `now`, with no per-monitor offset.
    ///
    /// Intervals are aligned to the Unix epoch (`now` rounded up to the next multiple of
    /// the interval). Returns `None` only for a cron expression with no further run (for
    /// example one naming 30 February), or a result beyond the supported date range.
    pub fn next_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Interval(every) => {
                let period = every.as_nanos().max(1) as i128;
                let t = now.unix_timestamp_nanos();
                let next = (t.div_euclid(period) + 1) * period;
                OffsetDateTime::from_unix_timestamp_nanos(next).ok()
            }
            Self::Cron(cron) => cron.next_after(now),
        }
    }

    /// The first run strictly after `now` for a monitor whose runs are shifted by `offset`
    /// (see [`Schedule::offset_for`]).
    ///
    /// Shifting by a constant keeps the runs' spacing: the result is the unshifted
    /// schedule's next run after `now - offset`, plus `offset`.
    pub fn next_after_offset(
        &self,
        now: OffsetDateTime,
        offset: Duration,
    ) -> Option<OffsetDateTime> {
        let base = self.next_after(now.checked_sub(time_dur(offset))?)?;
        base.checked_add(time_dur(offset))
    }

    /// How much this monitor's runs are shifted, derived deterministically from `key`
    /// (the monitor's id), so that monitors with the same interval spread over it.
    ///
    /// For an interval the offset is in `[0, interval)`; for cron it is in
    /// `[0, CRON_SPREAD)`. The same key always gives the same offset, on every node.
    pub fn offset_for(&self, key: impl AsRef<[u8]>) -> Duration {
        let span = match self {
            Self::Interval(every) => *every,
            Self::Cron(_) => CRON_SPREAD,
        };
        spread(key.as_ref(), span)
    }

    /// When an overdue monitor should run after downtime (a restart, a paused scheduler).
    ///
    /// `next_due` is the run time stored before the downtime. When it is not more than
    /// `catch_up.grace` in the past it is returned unchanged (ordinary lateness). Otherwise
    /// the monitor runs once at a point within `catch_up.window` after `now`, chosen from
    /// `key` so that many overdue monitors do not all fire together, and never later than
    /// its next regular run. Missed runs are never replayed one by one: after this run
    /// the caller computes the next one with [`Schedule::next_after_offset`].
    pub fn due_after_downtime(
        &self,
        next_due: OffsetDateTime,
        now: OffsetDateTime,
        key: impl AsRef<[u8]>,
        catch_up: &CatchUp,
    ) -> OffsetDateTime {
        if next_due >= now - time_dur(catch_up.grace) {
            return next_due;
        }
        let key = key.as_ref();
        // A different span than the phase offset, so the two are not correlated.
        let soon = now + time_dur(spread_salted(key, catch_up.window, 0x9e37_79b9));
        match self.next_after_offset(now, self.offset_for(key)) {
            Some(regular) if regular < soon => regular,
            _ => soon,
        }
    }
}

/// How overdue monitors are caught up after downtime (see [`Schedule::due_after_downtime`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CatchUp {
    /// Lateness below this is ordinary and the stored time is kept. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
    /// Overdue monitors run once within this long after `now`. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for CatchUp {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(5),
            window: Duration::from_secs(60),
        }
    }
}

/// A validated cron expression with its time zone.
///
/// Serialised as `{"expr": "0 3 * * *", "tz": "Europe/Berlin"}`; `tz` defaults to `UTC`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "CronRepr", into = "CronRepr")]
pub struct CronSchedule {
    expr: String,
    tz_name: String,
    // Boxed: the parsed pattern is large and schedules are often kept in enums.
    cron: Box<croner::Cron>,
    tz: jiff::tz::TimeZone,
}

impl CronSchedule {
    /// Parses a five-field cron expression and an IANA time-zone name.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] for field `expr` (bad expression) or `tz` (unknown zone).
    pub fn new(expr: &str, tz: &str) -> Result<Self, SpecError> {
        let cron = croner::parser::CronParser::new()
            .parse(expr)
            .map_err(|e| SpecError::new("expr", cron_problem(&e)))?;
        let zone = jiff::tz::TimeZone::get(tz)
            .map_err(|_| SpecError::new("tz", format!("unknown time zone {tz:?}")))?;
        Ok(Self {
            expr: expr.to_owned(),
            tz_name: tz.to_owned(),
            cron: Box::new(cron),
            tz: zone,
        })
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The time zone's name as written.
    pub fn tz(&self) -> &str {
        &self.tz_name
    }

    /// The first time strictly after `now` that the expression names, or `None` if there
    /// is none.
    pub fn next_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let zoned = to_zoned(now, &self.tz)?;
        let next = self.cron.find_next_occurrence(&zoned, false).ok()?;
        let next = from_zoned(&next)?;
        // The search works in whole seconds; make sure the answer is strictly later.
        if next > now {
            Some(next)
        } else {
            self.next_after(now.replace_nanosecond(0).ok()? + time::Duration::SECOND)
        }
    }

    /// The last time at or before `now` that the expression names, or `None` if there is
    /// none.
    pub fn last_at_or_before(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let zoned = to_zoned(now, &self.tz)?;
        let prev = self.cron.find_previous_occurrence(&zoned, true).ok()?;
        from_zoned(&prev).filter(|t| *t <= now)
    }
}

impl std::fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expr", &self.expr)
            .field("tz", &self.tz_name)
            .finish()
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz_name == other.tz_name
    }
}

impl Eq for CronSchedule {}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CronRepr {
    expr: String,
    #[serde(default = "utc")]
    tz: String,
}

fn utc() -> String {
    "UTC".to_owned()
}

impl TryFrom<CronRepr> for CronSchedule {
    type Error = SpecError;

    fn try_from(r: CronRepr) -> Result<Self, SpecError> {
        Self::new(&r.expr, &r.tz)
    }
}

impl From<CronSchedule> for CronRepr {
    fn from(c: CronSchedule) -> Self {
        Self {
            expr: c.expr,
            tz: c.tz_name,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ScheduleRepr {
    Interval {
        #[serde(with = "humantime_serde")]
        every: Duration,
    },
    Cron {
        expr: String,
        #[serde(default = "utc")]
        tz: String,
    },
}

impl TryFrom<ScheduleRepr> for Schedule {
    type Error = SpecError;

    fn try_from(r: ScheduleRepr) -> Result<Self, SpecError> {
        match r {
            ScheduleRepr::Interval { every } => Self::interval(every),
            ScheduleRepr::Cron { expr, tz } => Self::cron(&expr, &tz),
        }
    }
}

impl From<Schedule> for ScheduleRepr {
    fn from(s: Schedule) -> Self {
        match s {
            Schedule::Interval(every) => Self::Interval { every },
            Schedule::Cron(c) => Self::Cron {
                expr: c.expr,
                tz: c.tz_name,
            },
        }
    }
}

fn check_interval(every: Duration) -> Result<(), SpecError> {
    if every < MIN_INTERVAL {
        Err(SpecError::new("every", "must be at least 10s"))
    } else if every > MAX_INTERVAL {
        Err(SpecError::new("every", "must be at most 24h"))
    } else {
        Ok(())
    }
}

fn cron_problem(e: &croner::errors::CronError) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "not a valid cron expression: {}{}",
            first.to_lowercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => "not a valid cron expression".to_owned(),
    }
}

/// Converts a `std` duration to a `time` one, saturating.
pub(crate) fn time_dur(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

fn to_zoned(t: OffsetDateTime, tz: &jiff::tz::TimeZone) -> Option<jiff::Zoned> {
    let ts = jiff::Timestamp::from_nanosecond(t.unix_timestamp_nanos()).ok()?;
    Some(ts.to_zoned(tz.clone()))
}

fn from_zoned(z: &jiff::Zoned) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(z.timestamp().as_nanosecond()).ok()
}

/// A stable 64-bit hash (FNV-1a, then a SplitMix64 finaliser to spread the bits). Unlike
/// `std`'s hasher it is the same on every build and every node.
pub(crate) fn stable_hash(bytes: &[u8], salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn spread(key: &[u8], span: Duration) -> Duration {
    spread_salted(key, span, 0)
}

fn spread_salted(key: &[u8], span: Duration, salt: u64) -> Duration {
    let nanos = span.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    let n = u128::from(stable_hash(key, salt)) % nanos;
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn interval_below_ten_seconds_is_refused_naming_every() {
        let err = Schedule::interval(secs(9)).unwrap_err();
        assert_eq!(err.field, "every");
        assert_eq!(err.problem, "must be at least 10s");
    }

    #[test]
    fn interval_above_a_day_is_refused() {
        let err = Schedule::interval(secs(24 * 3600 + 1)).unwrap_err();
        assert_eq!(err.to_string(), "invalid `every`: must be at most 24h");
    }

    #[test]
    fn interval_bounds_are_inclusive() {
        assert!(Schedule::interval(secs(10)).is_ok());
        assert!(Schedule::interval(secs(24 * 3600)).is_ok());
    }

    #[test]
    fn validate_catches_a_directly_built_interval() {
        assert!(Schedule::Interval(secs(1)).validate().is_err());
    }

    #[test]
    fn interval_next_is_aligned_to_the_epoch() {
        let s = Schedule::interval(secs(60)).unwrap();
        let now = datetime!(2025-01-01 10:00:30 UTC);
        assert_eq!(s.next_after(now), Some(datetime!(2025-01-01 10:01:00 UTC)));
    }

    #[test]
    fn interval_next_on_a_boundary_is_the_following_one() {
        let s = Schedule::interval(secs(60)).unwrap();
        let now = datetime!(2025-01-01 10:00:00 UTC);
        assert_eq!(s.next_after(now), Some(datetime!(2025-01-01 10:01:00 UTC)));
    }

    #[test]
    fn interval_offset_shifts_runs() {
        let s = Schedule::interval(secs(60)).unwrap();
        let now = datetime!(2025-01-01 10:00:30 UTC);
        assert_eq!(
            s.next_after_offset(now, secs(45)),
            Some(datetime!(2025-01-01 10:00:45 UTC))
        );
        assert_eq!(
            s.next_after_offset(now, secs(10)),
            Some(datetime!(2025-01-01 10:01:10 UTC))
        );
    }

    #[test]
    fn offset_is_deterministic_and_within_the_interval() {
        let s = Schedule::interval(secs(30)).unwrap();
        let a = s.offset_for("monitor-1");
        assert_eq!(a, s.offset_for("monitor-1"));
        assert!(a < secs(30));
    }

    #[test]
    fn offsets_of_many_monitors_spread_over_the_interval() {
        let s = Schedule::interval(secs(60)).unwrap();
        let mut buckets = [0u32; 6];
        for i in 0..6000 {
            let off = s.offset_for(format!("mon-{i}"));
            buckets[(off.as_secs() / 10) as usize] += 1;
        }
        // Each 10 s bucket should get about 1000; allow generous slack.
        assert!(
            buckets.iter().all(|&n| (800..1200).contains(&n)),
            "{buckets:?}"
        );
    }

    #[test]
    fn cron_next_is_in_its_time_zone() {
        let s = Schedule::cron("0 3 * * *", "Europe/Berlin").unwrap();
        // 03:00 in Berlin in January is 02:00 UTC.
        let now = datetime!(2025-01-10 12:00 UTC);
        assert_eq!(s.next_after(now), Some(datetime!(2025-01-11 02:00 UTC)));
    }

    #[test]
    fn cron_next_is_strictly_after_a_matching_now() {
        let s = Schedule::cron("*/5 * * * *", "UTC").unwrap();
        let now = datetime!(2025-01-10 12:05 UTC);
        assert_eq!(s.next_after(now), Some(datetime!(2025-01-10 12:10 UTC)));
    }

    #[test]
    fn cron_next_after_a_fraction_of_a_second_past_a_match() {
        let s = Schedule::cron("*/5 * * * *", "UTC").unwrap();
        let now = datetime!(2025-01-10 12:05:00.5 UTC);
        assert_eq!(s.next_after(now), Some(datetime!(2025-01-10 12:10 UTC)));
    }

    #[test]
    fn cron_bad_expression_names_expr() {
        let err = Schedule::cron("61 * * * *", "UTC").unwrap_err();
        assert_eq!(err.field, "expr");
        assert!(err.problem.starts_with("not a valid cron expression"));
    }

    #[test]
    fn cron_unknown_zone_names_tz() {
        let err = Schedule::cron("* * * * *", "Mars/Olympus").unwrap_err();
        assert_eq!(err.field, "tz");
    }

    #[test]
    fn cron_last_at_or_before_includes_now() {
        let c = CronSchedule::new("0 * * * *", "UTC").unwrap();
        let now = datetime!(2025-01-10 12:00 UTC);
        assert_eq!(c.last_at_or_before(now), Some(now));
        assert_eq!(
            c.last_at_or_before(datetime!(2025-01-10 12:59 UTC)),
            Some(now)
        );
    }

    #[test]
    fn serde_round_trips_an_interval() {
        let s = Schedule::interval(secs(30)).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"type":"interval","every":"30s"}"#);
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
    }

    #[test]
    fn serde_round_trips_cron_with_default_utc() {
        let s: Schedule = serde_json::from_str(r#"{"type":"cron","expr":"0 3 * * *"}"#).unwrap();
        assert_eq!(s, Schedule::cron("0 3 * * *", "UTC").unwrap());
        let back: Schedule = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn deserialising_validates_the_interval() {
        let err = serde_json::from_str::<Schedule>(r#"{"type":"interval","every":"1s"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 10s"), "{err}");
    }

    #[test]
    fn catch_up_keeps_a_slightly_late_run() {
        let s = Schedule::interval(secs(60)).unwrap();
        let now = datetime!(2025-01-01 10:00:03 UTC);
        let due = datetime!(2025-01-01 10:00:00 UTC);
        assert_eq!(
            s.due_after_downtime(due, now, "m", &CatchUp::default()),
            due
        );
    }

    #[test]
    fn catch_up_runs_an_overdue_monitor_once_within_the_window() {
        let s = Schedule::interval(secs(3600)).unwrap();
        let now = datetime!(2025-01-01 10:00:00 UTC);
        let due = datetime!(2025-01-01 06:00:00 UTC);
        let at = s.due_after_downtime(due, now, "m", &CatchUp::default());
        assert!(at >= now && at < now + time::Duration::seconds(60), "{at}");
    }

    #[test]
    fn catch_up_never_later_than_the_next_regular_run() {
        let s = Schedule::interval(secs(10)).unwrap();
        let now = datetime!(2025-01-01 10:00:00 UTC);
        let due = datetime!(2025-01-01 06:00:00 UTC);
        let at = s.due_after_downtime(due, now, "m", &CatchUp::default());
        assert!(at <= now + time::Duration::seconds(10), "{at}");
    }

    #[test]
    fn catch_up_spreads_many_overdue_monitors() {
        let s = Schedule::interval(secs(3600)).unwrap();
        let now = datetime!(2025-01-01 10:00:00 UTC);
        let due = datetime!(2025-01-01 06:00:00 UTC);
        let distinct: std::collections::BTreeSet<_> = (0..100)
            .map(|i| s.due_after_downtime(due, now, format!("m{i}"), &CatchUp::default()))
            .collect();
        assert!(distinct.len() > 90);
    }

    proptest! {
        #[test]
        fn interval_next_after_is_strictly_increasing(
            every in 10u64..86_400,
            t in 0i64..4_000_000_000,
            off in 0u64..86_400,
        ) {
            let s = Schedule::interval(secs(every)).unwrap();
            let now = OffsetDateTime::from_unix_timestamp(t).unwrap();
            let off = secs(off % every);
            let next = s.next_after_offset(now, off).unwrap();
            prop_assert!(next > now);
            prop_assert!(next <= now + time_dur(secs(every)));
            prop_assert!(s.next_after_offset(next, off).unwrap() > next);
        }

        #[test]
        fn cron_next_after_is_strictly_increasing(t in 0i64..4_000_000_000) {
            let s = Schedule::cron("*/7 1-5 * * 1-5", "America/New_York").unwrap();
            let now = OffsetDateTime::from_unix_timestamp(t).unwrap();
            let next = s.next_after(now).unwrap();
            prop_assert!(next > now);
            prop_assert!(s.next_after(next).unwrap() > next);
        }
    }
}
