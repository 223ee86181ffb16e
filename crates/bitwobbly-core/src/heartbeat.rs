//! Deadlines for heartbeat (push) monitors.
//!
//! A heartbeat monitor expects pings: every `period` (plus `grace`), or at the times of a
//! cron expression in a time zone (plus `grace`). A run that pings `start` must finish within
//! `max_runtime`. [`HeartbeatState::deadline`] gives the instant to store and wake up at, so
//! that a restart neither forgets a missed ping nor raises a false one, and
//! [`HeartbeatState::check`] says whether it has passed.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::SpecError;
use crate::schedule::{CronSchedule, time_dur};

/// When pings are expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// A ping at most every `period`.
    Period {
        /// Expected time between pings.
        #[serde(with = "humantime_serde")]
        period: Duration,
    },
    /// A ping at each time `cron` names.
    Cron {
        /// The expected ping times.
        cron: CronSchedule,
    },
}

/// A heartbeat monitor's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HeartbeatPolicy {
    /// When pings are expected.
    pub expect: Expect,
    /// How late a ping may be before it counts as missed.
    #[serde(with = "humantime_serde", default)]
    pub grace: Duration,
    /// How long a run may take between its `start` ping and its finishing ping; `None`
    /// means runs are not timed.
    #[serde(with = "humantime_serde", default)]
    pub max_runtime: Option<Duration>,
}

impl HeartbeatPolicy {
    /// A policy expecting a ping every `period`, `grace` late at most.
    pub fn every(period: Duration, grace: Duration) -> Self {
        Self {
            expect: Expect::Period { period },
            grace,
            max_runtime: None,
        }
    }

    /// A policy expecting pings at the times of `cron`, `grace` late at most.
    pub fn cron(cron: CronSchedule, grace: Duration) -> Self {
        Self {
            expect: Expect::Cron { cron },
            grace,
            max_runtime: None,
        }
    }

    /// Sets the longest a started run may take.
    #[must_use]
    pub fn with_max_runtime(mut self, max: Duration) -> Self {
        self.max_runtime = Some(max);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] for `expect.period` (under 1 minute or over 365 days) or
    /// `max_runtime` (zero).
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Expect::Period { period } = self.expect
            && !(Duration::from_secs(60)..=Duration::from_secs(365 * 86_400)).contains(&period)
        {
            return Err(SpecError::new("expect.period", "must be 1m to 365d"));
        }
        if self.max_runtime.is_some_and(|m| m.is_zero()) {
            return Err(SpecError::new("max_runtime", "must be more than 0s"));
        }
        Ok(())
    }
}

/// The kind of ping received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ping {
    /// A run started (`/ping/<token>/start`).
    Start,
    /// A run finished well (`/ping/<token>` or exit status 0).
    Success,
    /// A run failed (`/ping/<token>/fail` or a non-zero exit status).
    Fail,
}

/// What a heartbeat monitor has received. Serialisable for the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HeartbeatState {
    /// When the monitor was created (the first deadline counts from it).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The latest finishing ping (success or failure).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_ping: Option<OffsetDateTime>,
    /// The latest start ping not yet followed by a finishing one.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub running_since: Option<OffsetDateTime>,
}

/// Where a heartbeat monitor stands at `now`.
#[must_use = "a missed deadline should mark the monitor down"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeartbeatStatus {
    /// Nothing is late; check again at `deadline`.
    OnTime {
        /// The next deadline, `None` when none will come (cron with no further time).
        #[serde(with = "time::serde::rfc3339::option")]
        deadline: Option<OffsetDateTime>,
    },
    /// The expected ping did not arrive by `deadline`.
    Missed {
        /// The deadline that passed.
        #[serde(with = "time::serde::rfc3339")]
        deadline: OffsetDateTime,
    },
    /// A run started and did not finish within the maximum run time.
    RunTimedOut {
        /// When it started.
        #[serde(with = "time::serde::rfc3339")]
        started: OffsetDateTime,
        /// When it should have finished.
        #[serde(with = "time::serde::rfc3339")]
        deadline: OffsetDateTime,
    },
}

impl HeartbeatState {
    /// A monitor created at `created_at` with no pings yet.
    pub fn new(created_at: OffsetDateTime) -> Self {
        Self {
            created_at,
            last_ping: None,
            running_since: None,
        }
    }

    /// Records a ping received at `now`.
    pub fn record(&mut self, ping: Ping, now: OffsetDateTime) {
        match ping {
            Ping::Start => self.running_since = Some(now),
            Ping::Success | Ping::Fail => {
                self.last_ping = Some(now);
                self.running_since = None;
            }
        }
    }

    /// When the next ping is due at the latest (expected time plus grace).
    pub fn ping_deadline(&self, policy: &HeartbeatPolicy) -> Option<OffsetDateTime> {
        let base = self.last_ping.unwrap_or(self.created_at);
        let expected = match &policy.expect {
            Expect::Period { period } => base.checked_add(time_dur(*period))?,
            Expect::Cron { cron } => cron.next_after(base)?,
        };
        expected.checked_add(time_dur(policy.grace))
    }

    /// When the running run must finish, if one is running and runs are timed.
    pub fn run_deadline(&self, policy: &HeartbeatPolicy) -> Option<OffsetDateTime> {
        let started = self.running_since?;
        started.checked_add(time_dur(policy.max_runtime?))
    }

    /// The instant to store and wake up at: the earlier of the two deadlines.
    pub fn deadline(&self, policy: &HeartbeatPolicy) -> Option<OffsetDateTime> {
        match (self.ping_deadline(policy), self.run_deadline(policy)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a deadline has passed at `now` (a deadline equal to `now` has not).
    pub fn check(&self, policy: &HeartbeatPolicy, now: OffsetDateTime) -> HeartbeatStatus {
        if let (Some(started), Some(deadline)) = (self.running_since, self.run_deadline(policy))
            && now > deadline
        {
            return HeartbeatStatus::RunTimedOut { started, deadline };
        }
        match self.ping_deadline(policy) {
            // A timed run in progress is not late for its ping until its own deadline says
            // so; an untimed one is.
            Some(deadline) if now > deadline && self.run_deadline(policy).is_none() => {
                HeartbeatStatus::Missed { deadline }
            }
            _ => HeartbeatStatus::OnTime {
                deadline: self.deadline(policy),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2025-01-01 10:00 UTC);

    fn mins(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    fn at(minutes: i64) -> OffsetDateTime {
        T0 + time::Duration::minutes(minutes)
    }

    #[test]
    fn first_deadline_counts_from_creation() {
        let p = HeartbeatPolicy::every(mins(60), mins(5));
        assert_eq!(HeartbeatState::new(T0).deadline(&p), Some(at(65)));
    }

    #[test]
    fn ping_moves_the_deadline() {
        let p = HeartbeatPolicy::every(mins(60), mins(5));
        let mut s = HeartbeatState::new(T0);
        s.record(Ping::Success, at(50));
        assert_eq!(s.deadline(&p), Some(at(115)));
    }

    #[test]
    fn within_grace_is_on_time() {
        let p = HeartbeatPolicy::every(mins(60), mins(5));
        let s = HeartbeatState::new(T0);
        assert_eq!(
            s.check(&p, at(65)),
            HeartbeatStatus::OnTime {
                deadline: Some(at(65))
            }
        );
    }

    #[test]
    fn past_grace_is_missed() {
        let p = HeartbeatPolicy::every(mins(60), mins(5));
        let s = HeartbeatState::new(T0);
        assert_eq!(
            s.check(&p, at(66)),
            HeartbeatStatus::Missed { deadline: at(65) }
        );
    }

    #[test]
    fn cron_deadline_is_next_time_after_last_ping_plus_grace() {
        let cron = CronSchedule::new("0 3 * * *", "Europe/Berlin").unwrap();
        let p = HeartbeatPolicy::cron(cron, mins(10));
        let mut s = HeartbeatState::new(T0);
        s.record(Ping::Success, datetime!(2025-01-02 02:01 UTC));
        // Next 03:00 Berlin after that is 2025-01-03 02:00 UTC, plus 10 minutes.
        assert_eq!(s.deadline(&p), Some(datetime!(2025-01-03 02:10 UTC)));
    }

    #[test]
    fn started_run_past_max_runtime_timed_out() {
        let p = HeartbeatPolicy::every(mins(60), mins(5)).with_max_runtime(mins(10));
        let mut s = HeartbeatState::new(T0);
        s.record(Ping::Start, at(30));
        assert_eq!(s.deadline(&p), Some(at(40)));
        assert_eq!(
            s.check(&p, at(41)),
            HeartbeatStatus::RunTimedOut {
                started: at(30),
                deadline: at(40)
            }
        );
    }

    #[test]
    fn finishing_clears_the_run() {
        let p = HeartbeatPolicy::every(mins(60), mins(5)).with_max_runtime(mins(10));
        let mut s = HeartbeatState::new(T0);
        s.record(Ping::Start, at(30));
        s.record(Ping::Fail, at(35));
        assert_eq!(s.running_since, None);
        assert_eq!(s.deadline(&p), Some(at(100)));
    }

    #[test]
    fn untimed_run_still_misses_its_ping() {
        let p = HeartbeatPolicy::every(mins(60), mins(5));
        let mut s = HeartbeatState::new(T0);
        s.record(Ping::Start, at(30));
        assert_eq!(
            s.check(&p, at(70)),
            HeartbeatStatus::Missed { deadline: at(65) }
        );
    }

    #[test]
    fn too_short_period_is_refused() {
        let p = HeartbeatPolicy::every(Duration::from_secs(5), mins(1));
        assert_eq!(p.validate().unwrap_err().field, "expect.period");
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut s = HeartbeatState::new(T0);
        s.record(Ping::Start, at(1));
        let back: HeartbeatState =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn policy_deserialises_with_defaults() {
        let p: HeartbeatPolicy =
            serde_json::from_str(r#"{"expect": {"type": "period", "period": "1h"}}"#).unwrap();
        assert_eq!(p, HeartbeatPolicy::every(mins(60), Duration::ZERO));
    }
}
