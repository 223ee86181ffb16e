//! The pure decisions a scheduler makes around one monitor: when it runs next, what a
//! heartbeat ping or a missed heartbeat deadline means, and which alert a transition raises.
//!
//! Nothing here reads the clock or touches storage: `now` is an argument, and the caller
//! stores what these functions decide.

use std::time::Duration;

use time::OffsetDateTime;

use crate::alert::AlertKind;
use crate::heartbeat::{Expect, HeartbeatPolicy, HeartbeatState, HeartbeatStatus, Ping};
use crate::schedule::{Schedule, time_dur};
use crate::state::{Condition, Outcome, Suppression, Transition};

/// The key a monitor's schedule offset and catch-up spread are derived from: its id's
/// big-endian bytes, the same on every node.
pub fn schedule_key(monitor_id: i64) -> [u8; 8] {
    monitor_id.to_be_bytes()
}

/// The monitor's next run strictly after `now`: the schedule's next slot shifted by the
/// monitor's stable offset ([`Schedule::offset_for`]), so that monitors sharing an interval
/// spread over it instead of firing together.
///
/// `None` only for a cron expression with no further time.
pub fn next_run(
    schedule: &Schedule,
    monitor_id: i64,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let key = schedule_key(monitor_id);
    schedule.next_after_offset(now, schedule.offset_for(key))
}

/// What a ping received on a heartbeat monitor says about it: `None` for a start (no
/// judgement until the run finishes), up for a success, down for a failure, with the exit
/// status in the reason when the ping carried one.
pub fn ping_outcome(ping: Ping, exit_status: Option<u8>) -> Option<Outcome> {
    match ping {
        Ping::Start => None,
        Ping::Success => Some(Outcome::up()),
        Ping::Fail => Some(Outcome::down(match exit_status {
            Some(code) => format!("exit status {code}"),
            None => "fail ping".to_owned(),
        })),
    }
}

/// What a scheduler concludes when it wakes up for a heartbeat monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatVerdict {
    /// A down outcome when a deadline has passed; `None` when the monitor is on time.
    pub outcome: Option<Outcome>,
    /// When to look again: the next deadline, or (after a miss, when no deadline lies
    /// ahead) one expected period later. `None` when no ping will ever be expected again
    /// (a cron expression with no further time).
    pub wake_at: Option<OffsetDateTime>,
}

/// Judges a heartbeat monitor at `now` (see [`HeartbeatState::check`]).
///
/// A missed ping is down with the reason `no ping within <period + grace>` (or
/// `no ping by <deadline>` for cron expectations); a started run past its maximum run time
/// is down with `run started at <time> did not finish within <max_runtime>`. Repeated
/// misses are judged again every expected period, so a monitor that stays silent stays
/// down without the scheduler waking up for it continuously.
pub fn judge_heartbeat(
    policy: &HeartbeatPolicy,
    state: &HeartbeatState,
    now: OffsetDateTime,
) -> HeartbeatVerdict {
    let outcome = match state.check(policy, now) {
        HeartbeatStatus::OnTime { deadline } => {
            return HeartbeatVerdict {
                outcome: None,
                wake_at: deadline,
            };
        }
        HeartbeatStatus::Missed { deadline } => Outcome::down(match &policy.expect {
            Expect::Period { period } => format!(
                "no ping within {}",
                human(period.saturating_add(policy.grace))
            ),
            Expect::Cron { .. } => format!("no ping by {}", rfc3339(deadline)),
        }),
        HeartbeatStatus::RunTimedOut { started, .. } => Outcome::down(format!(
            "run started at {} did not finish within {}",
            rfc3339(started),
            human(policy.max_runtime.unwrap_or_default())
        )),
    };
    HeartbeatVerdict {
        outcome: Some(outcome),
        wake_at: next_wake_after_miss(policy, state, now),
    }
}

/// The next time to look at a heartbeat monitor after a missed deadline at `now`: a
/// deadline still ahead, else one expected period (or the next cron time plus grace) later.
fn next_wake_after_miss(
    policy: &HeartbeatPolicy,
    state: &HeartbeatState,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let ahead = [state.ping_deadline(policy), state.run_deadline(policy)]
        .into_iter()
        .flatten()
        .filter(|d| *d > now)
        .min();
    if ahead.is_some() {
        return ahead;
    }
    match &policy.expect {
        Expect::Period { period } => now.checked_add(time_dur(*period)),
        Expect::Cron { cron } => cron
            .next_after(now)
            .and_then(|t| t.checked_add(time_dur(policy.grace))),
    }
}

/// The alert a transition raises, if any: going down, degraded or flapping, and
/// recovering. Nothing for no change or for a suppressed one (maintenance, parent down).
pub fn alert_kind(transition: &Transition) -> Option<AlertKind> {
    match transition {
        Transition::WentDown { .. } => Some(AlertKind::Down),
        Transition::Degraded { .. } => Some(AlertKind::Degraded),
        Transition::Flapping { .. } => Some(AlertKind::Flapping),
        Transition::Recovered { .. } => Some(AlertKind::Recovered),
        Transition::None | Transition::Suppressed { .. } => None,
    }
}

/// A one-line description of a transition for an incident's timeline, e.g.
/// `Down: connection refused`, `Recovered after 2m 5s`, or
/// `Would be down, but held back by a maintenance window`.
///
/// `None` for [`Transition::None`].
pub fn describe(transition: &Transition) -> Option<String> {
    let with_reason = |what: &str, reason: &Option<String>| match reason {
        Some(r) => format!("{what}: {r}"),
        None => what.to_owned(),
    };
    Some(match transition {
        Transition::None => return None,
        Transition::WentDown { reason, .. } => with_reason("Down", reason),
        Transition::Degraded { reason, .. } => with_reason("Degraded", reason),
        Transition::Flapping { changes, .. } => {
            format!("Flapping: {changes} state changes recently; further changes are collapsed")
        }
        Transition::Recovered { outage, .. } => format!("Recovered after {}", human(*outage)),
        Transition::Suppressed { would_be, by } => format!(
            "Would be {}, but held back {}",
            condition_word(*would_be),
            match by {
                Suppression::Maintenance => "by a maintenance window",
                Suppression::ParentDown => "because a monitor it depends on is down",
            }
        ),
    })
}

/// An incident title for a monitor named `monitor` that went into `condition`, with the
/// reason when known, e.g. `API is down: connection refused`. At most 200 characters.
pub fn incident_title(monitor: &str, condition: Condition, reason: Option<&str>) -> String {
    let mut title = format!("{monitor} is {}", condition_word(condition));
    if let Some(r) = reason {
        title.push_str(": ");
        title.push_str(r);
    }
    truncate_chars(&title, 200)
}

fn condition_word(c: Condition) -> &'static str {
    match c {
        Condition::Pending => "pending",
        Condition::Up => "up",
        Condition::Degraded => "degraded",
        Condition::Down => "down",
        Condition::Flapping => "flapping",
    }
}

/// `s` cut to at most `max` characters, with `…` at the end when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A duration in whole seconds, as people write it (`1h 5m`).
fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::schedule::CronSchedule;

    const T0: OffsetDateTime = datetime!(2025-01-01 10:00 UTC);

    fn mins(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    fn at(minutes: i64) -> OffsetDateTime {
        T0 + time::Duration::minutes(minutes)
    }

    #[test]
    fn next_run_is_strictly_later_and_one_interval_apart() {
        let s = Schedule::interval(Duration::from_secs(30)).unwrap();
        let a = next_run(&s, 7, T0).unwrap();
        assert!(a > T0 && a <= T0 + time::Duration::seconds(30), "{a}");
        assert_eq!(next_run(&s, 7, a).unwrap(), a + time::Duration::seconds(30));
    }

    #[test]
    fn monitors_with_one_interval_spread_over_it() {
        let s = Schedule::interval(Duration::from_secs(60)).unwrap();
        let mut seconds: Vec<i64> = (1..=200)
            .map(|id| (next_run(&s, id, T0).unwrap() - T0).whole_seconds())
            .collect();
        seconds.sort_unstable();
        seconds.dedup();
        // 200 monitors land on most of the 60 possible seconds, not on a few.
        assert!(seconds.len() > 45, "{seconds:?}");
    }

    #[test]
    fn pings_judge_as_healthchecks_does() {
        assert_eq!(ping_outcome(Ping::Start, None), None);
        assert_eq!(ping_outcome(Ping::Success, None), Some(Outcome::up()));
        assert_eq!(
            ping_outcome(Ping::Fail, Some(3)),
            Some(Outcome::down("exit status 3"))
        );
        assert_eq!(
            ping_outcome(Ping::Fail, None),
            Some(Outcome::down("fail ping"))
        );
    }

    #[test]
    fn on_time_heartbeat_wakes_at_its_deadline() {
        let p = HeartbeatPolicy::every(mins(60), mins(5));
        let v = judge_heartbeat(&p, &HeartbeatState::new(T0), at(30));
        assert_eq!(v.outcome, None);
        assert_eq!(v.wake_at, Some(at(65)));
    }

    #[test]
    fn missed_heartbeat_is_down_and_looks_again_a_period_later() {
        let p = HeartbeatPolicy::every(mins(60), mins(5));
        let v = judge_heartbeat(&p, &HeartbeatState::new(T0), at(66));
        assert_eq!(v.outcome, Some(Outcome::down("no ping within 1h 5m")));
        assert_eq!(v.wake_at, Some(at(126)));
    }

    #[test]
    fn missed_cron_heartbeat_names_the_deadline() {
        let cron = CronSchedule::new("0 * * * *", "UTC").unwrap();
        let p = HeartbeatPolicy::cron(cron, mins(5));
        let v = judge_heartbeat(&p, &HeartbeatState::new(T0), at(70));
        assert_eq!(
            v.outcome,
            Some(Outcome::down("no ping by 2025-01-01T11:05:00Z"))
        );
        assert_eq!(v.wake_at, Some(at(125)));
    }

    #[test]
    fn run_past_max_runtime_is_down_until_its_ping_deadline() {
        let p = HeartbeatPolicy::every(mins(60), mins(5)).with_max_runtime(mins(10));
        let mut s = HeartbeatState::new(T0);
        s.record(Ping::Start, at(20));
        let v = judge_heartbeat(&p, &s, at(31));
        assert_eq!(
            v.outcome,
            Some(Outcome::down(
                "run started at 2025-01-01T10:20:00Z did not finish within 10m"
            ))
        );
        // The ping deadline (65) still lies ahead.
        assert_eq!(v.wake_at, Some(at(65)));
    }

    #[test]
    fn alerts_follow_transitions_but_not_suppressed_ones() {
        let down = Transition::WentDown {
            from: Condition::Up,
            reason: Some("refused".into()),
            since: T0,
        };
        assert_eq!(alert_kind(&down), Some(AlertKind::Down));
        assert_eq!(describe(&down).unwrap(), "Down: refused");
        let rec = Transition::Recovered {
            from: Condition::Down,
            outage: Duration::from_secs(125),
        };
        assert_eq!(alert_kind(&rec), Some(AlertKind::Recovered));
        assert_eq!(describe(&rec).unwrap(), "Recovered after 2m 5s");
        let sup = Transition::Suppressed {
            would_be: Condition::Down,
            by: Suppression::ParentDown,
        };
        assert_eq!(alert_kind(&sup), None);
        assert!(describe(&sup).unwrap().starts_with("Would be down"));
        assert_eq!(alert_kind(&Transition::None), None);
        assert_eq!(describe(&Transition::None), None);
    }

    #[test]
    fn titles_are_short() {
        assert_eq!(
            incident_title("API", Condition::Down, Some("connection refused")),
            "API is down: connection refused"
        );
        let long = "x".repeat(500);
        let t = incident_title("API", Condition::Degraded, Some(&long));
        assert_eq!(t.chars().count(), 200);
        assert!(t.ends_with('…'));
    }
}
