//! The monitor state machine: from check outcomes to incidents.
//!
//! Two layers, usable together ([`MonitorState`]) or apart (for quorum across locations):
//!
//! - a [`HealthTracker`] applies the [`Thresholds`] to a stream of check results and says
//!   what the monitor's health really is ([`Health`]): down after N failures within the last
//!   M checks, degraded likewise, recovered after K consecutive better results;
//! - an [`Announcer`] turns health changes into [`Transition`]s the caller acts on (open an
//!   incident, resolve it with the outage duration, ...), suppressing bad news during
//!   maintenance or while a parent monitor is down, and collapsing flapping into one
//!   [`Condition::Flapping`] instead of a stream of alerts.
//!
//! Suppressed changes are recorded (the tracker still knows the monitor is down) but not
//! announced; once the suppression ends, the next result announces the real state. Good
//! news (a recovery) is never suppressed. Everything is serialisable so a store can keep it.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::quorum::QuorumVerdict;
use crate::schedule::time_dur;
use crate::{SpecError, Status};

/// The most checks a threshold window may span.
pub const MAX_WINDOW: u32 = 100;

/// Per-monitor thresholds. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Thresholds {
    /// Down when at least this many of the last `window` checks failed. Default 2.
    pub down_after: u32,
    /// Degraded when at least this many of the last `window` checks were degraded or
    /// failed. Default 2.
    pub degraded_after: u32,
    /// How many recent checks the two counts above look at; equal to them means
    /// "consecutive". At least the larger of the two, at most 100. Default 2.
    pub window: u32,
    /// Leaving down or degraded takes this many consecutive better results. Default 2.
    pub recover_after: u32,
    /// Flapping when health changed at least this many times within `flap_window`;
    /// 0 turns flapping detection off. Default 6.
    pub flap_changes: u32,
    /// The window for `flap_changes`. Default 1 hour.
    #[serde(with = "humantime_serde")]
    pub flap_window: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            down_after: 2,
            degraded_after: 2,
            window: 2,
            recover_after: 2,
            flap_changes: 6,
            flap_window: Duration::from_secs(3600),
        }
    }
}

impl Thresholds {
    /// Checks that the thresholds make sense together.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] naming the field: a zero count, a `window` smaller than a count or
    /// over 100, or a zero `flap_window` while flapping detection is on.
    pub fn validate(&self) -> Result<(), SpecError> {
        for (field, n) in [
            ("down_after", self.down_after),
            ("degraded_after", self.degraded_after),
            ("recover_after", self.recover_after),
        ] {
            if n == 0 {
                return Err(SpecError::new(field, "must be at least 1"));
            }
        }
        if self.window < self.down_after.max(self.degraded_after) {
            return Err(SpecError::new(
                "window",
                "must be at least down_after and degraded_after",
            ));
        }
        if self.window > MAX_WINDOW {
            return Err(SpecError::new("window", "must be at most 100"));
        }
        if self.flap_changes > 0 && self.flap_window.is_zero() {
            return Err(SpecError::new("flap_window", "must be more than 0s"));
        }
        Ok(())
    }
}

/// What a tracker concluded about a monitor (or one location of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No conclusion yet (too few results).
    Pending,
    /// Working.
    Up,
    /// Working, but slow or failing a soft assertion.
    Degraded,
    /// Not working.
    Down,
}

impl Health {
    fn from_status(s: Status) -> Self {
        match s {
            Status::Up => Self::Up,
            Status::Degraded => Self::Degraded,
            Status::Down => Self::Down,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Pending | Self::Up => 0,
            Self::Degraded => 1,
            Self::Down => 2,
        }
    }
}

/// What has been announced about a monitor: the state incidents follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Nothing announced yet.
    Pending,
    /// Up.
    Up,
    /// Degraded.
    Degraded,
    /// Down.
    Down,
    /// Changing too often to alert on each change.
    Flapping,
}

impl Condition {
    fn from_health(h: Health) -> Self {
        match h {
            Health::Pending => Self::Pending,
            Health::Up => Self::Up,
            Health::Degraded => Self::Degraded,
            Health::Down => Self::Down,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Pending | Self::Up => 0,
            Self::Degraded => 1,
            Self::Flapping => 2,
            Self::Down => 3,
        }
    }

    /// Whether this condition has an incident open (degraded, down or flapping).
    pub fn is_bad(self) -> bool {
        self.rank() > 0
    }
}

/// Why an alert was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    /// A maintenance window is active.
    Maintenance,
    /// A monitor this one depends on is down.
    ParentDown,
}

/// Circumstances of one update that may hold alerts back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// A maintenance window covers `now` (see [`crate::maintenance::any_active`]).
    pub maintenance: bool,
    /// A parent monitor is down.
    pub parent_down: bool,
}

impl Context {
    /// Nothing held back.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether a maintenance window is active.
    #[must_use]
    pub fn with_maintenance(mut self, on: bool) -> Self {
        self.maintenance = on;
        self
    }

    /// Sets whether a parent monitor is down.
    #[must_use]
    pub fn with_parent_down(mut self, on: bool) -> Self {
        self.parent_down = on;
        self
    }

    fn suppression(self) -> Option<Suppression> {
        if self.maintenance {
            Some(Suppression::Maintenance)
        } else if self.parent_down {
            Some(Suppression::ParentDown)
        } else {
            None
        }
    }
}

/// What the caller should do after an update.
#[must_use = "a transition may open or resolve an incident"]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Transition {
    /// Nothing to announce.
    None,
    /// The monitor went down: open (or escalate) an incident.
    WentDown {
        /// What was announced before.
        from: Condition,
        /// The latest failure's reason.
        reason: Option<String>,
        /// When the trouble started (the first bad result of the streak).
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// The monitor is degraded: open an incident, or lower a down one to degraded.
    Degraded {
        /// What was announced before.
        from: Condition,
        /// The latest degraded result's reason.
        reason: Option<String>,
        /// When the trouble started.
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// The monitor is up again: resolve the incident.
    Recovered {
        /// What was announced before (degraded, down or flapping).
        from: Condition,
        /// How long the trouble lasted, from its first bad result to `now`.
        #[serde(with = "humantime_serde")]
        outage: Duration,
    },
    /// The monitor keeps changing: one alert instead of one per change.
    Flapping {
        /// What was announced before.
        from: Condition,
        /// Health changes counted within the flap window.
        changes: u32,
    },
    /// A change was recorded but not announced.
    Suppressed {
        /// The condition that would have been announced.
        would_be: Condition,
        /// Why it was held back.
        by: Suppression,
    },
}

impl Transition {
    /// Whether this opens an incident (from a good condition to a bad one).
    pub fn opens_incident(&self) -> bool {
        match self {
            Self::WentDown { from, .. }
            | Self::Degraded { from, .. }
            | Self::Flapping { from, .. } => !from.is_bad(),
            _ => false,
        }
    }

    /// Whether this resolves an incident.
    pub fn resolves_incident(&self) -> bool {
        matches!(self, Self::Recovered { .. })
    }
}

/// Applies [`Thresholds`] to check results and keeps the resulting [`Health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthTracker {
    health: Health,
    /// The last `window` results, oldest first.
    recent: VecDeque<Status>,
    /// First non-up result of the current trouble, cleared once up again.
    #[serde(with = "time::serde::rfc3339::option")]
    trouble_since: Option<OffsetDateTime>,
    reason: Option<String>,
    /// Consecutive results better than `health`.
    better_streak: u32,
}

impl Default for HealthTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthTracker {
    /// A tracker with no results yet ([`Health::Pending`]).
    pub fn new() -> Self {
        Self {
            health: Health::Pending,
            recent: VecDeque::new(),
            trouble_since: None,
            reason: None,
            better_streak: 0,
        }
    }

    /// The current health.
    pub fn health(&self) -> Health {
        self.health
    }

    /// When the current trouble began (first non-up result), if there is trouble.
    pub fn trouble_since(&self) -> Option<OffsetDateTime> {
        self.trouble_since
    }

    /// The reason given by the latest non-up result, if the latest result was not up.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Records one result and returns the health after it.
    pub fn record(
        &mut self,
        t: &Thresholds,
        status: Status,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Health {
        let window = t.window.clamp(1, MAX_WINDOW) as usize;
        self.recent.push_back(status);
        while self.recent.len() > window {
            self.recent.pop_front();
        }
        if status == Status::Up {
            self.reason = None;
        } else {
            self.reason = reason.map(str::to_owned);
            self.trouble_since.get_or_insert(now);
        }

        let fails = self.recent.iter().filter(|s| **s == Status::Down).count();
        let bad = self.recent.iter().filter(|s| **s != Status::Up).count();
        let candidate = if fails >= t.down_after as usize {
            Health::Down
        } else if bad >= t.degraded_after as usize {
            Health::Degraded
        } else {
            Health::Up
        };

        let current = self.health;
        if Health::from_status(status).rank() < current.rank() {
            self.better_streak = self.better_streak.saturating_add(1);
        } else {
            self.better_streak = 0;
        }
        let next = if current == Health::Pending {
            // Without a verdict, only escalate or take the latest result if it is up.
            if candidate != Health::Up || status == Status::Up {
                candidate
            } else {
                Health::Pending
            }
        } else if candidate.rank() > current.rank()
            || (candidate.rank() < current.rank() && self.better_streak >= t.recover_after)
        {
            // Escalate at once; improve only after enough consecutive better results.
            candidate
        } else {
            current
        };
        if next != current {
            self.better_streak = 0;
        }
        self.health = next;
        if next == Health::Up && status == Status::Up {
            self.trouble_since = None;
        }
        next
    }
}

/// One check outcome as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Outcome {
    /// Up, degraded or down.
    pub status: Status,
    /// Why, when not up (see [`crate::verdict`]).
    pub reason: Option<String>,
}

impl Outcome {
    /// An outcome with a status and an optional reason.
    pub fn new(status: Status, reason: Option<String>) -> Self {
        Self { status, reason }
    }

    /// A passing check.
    pub fn up() -> Self {
        Self::new(Status::Up, None)
    }

    /// A degraded check with its reason.
    pub fn degraded(reason: impl Into<String>) -> Self {
        Self::new(Status::Degraded, Some(reason.into()))
    }

    /// A failed check with its reason.
    pub fn down(reason: impl Into<String>) -> Self {
        Self::new(Status::Down, Some(reason.into()))
    }
}

/// Turns health changes into announced [`Transition`]s, with suppression and flapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcer {
    announced: Condition,
    /// When the open incident's trouble began.
    #[serde(with = "time::serde::rfc3339::option")]
    incident_since: Option<OffsetDateTime>,
    last_health: Health,
    /// Times health changed, within the flap window.
    #[serde(with = "rfc3339_deque")]
    changes: VecDeque<OffsetDateTime>,
    last_suppressed: Option<Condition>,
    suppressed_by: Option<Suppression>,
}

impl Default for Announcer {
    fn default() -> Self {
        Self::new()
    }
}

impl Announcer {
    /// Nothing announced yet.
    pub fn new() -> Self {
        Self {
            announced: Condition::Pending,
            incident_since: None,
            last_health: Health::Pending,
            changes: VecDeque::new(),
            last_suppressed: None,
            suppressed_by: None,
        }
    }

    /// The announced condition.
    pub fn condition(&self) -> Condition {
        self.announced
    }

    /// When the open incident's trouble began, if one is open.
    pub fn incident_since(&self) -> Option<OffsetDateTime> {
        self.incident_since
    }

    /// What held alerts back at the latest update, if anything.
    pub fn suppressed_by(&self) -> Option<Suppression> {
        self.suppressed_by
    }

    /// Takes the latest health (from a [`HealthTracker`] or a quorum) and says what to do.
    ///
    /// `trouble_since` is when the trouble began (for the incident's start and the outage
    /// duration); `reason` is the latest bad result's reason.
    pub fn update(
        &mut self,
        t: &Thresholds,
        health: Health,
        trouble_since: Option<OffsetDateTime>,
        reason: Option<&str>,
        ctx: Context,
        now: OffsetDateTime,
    ) -> Transition {
        self.suppressed_by = ctx.suppression();
        if health != self.last_health {
            if self.last_health != Health::Pending {
                self.changes.push_back(now);
            }
            self.last_health = health;
        }
        let horizon = now - time_dur(t.flap_window);
        while self.changes.front().is_some_and(|c| *c <= horizon) {
            self.changes.pop_front();
        }
        let cap = (t.flap_changes as usize).max(1) * 2;
        while self.changes.len() > cap {
            self.changes.pop_front();
        }
        let count = self.changes.len() as u32;
        let flapping = t.flap_changes > 0
            && if self.announced == Condition::Flapping {
                count * 2 > t.flap_changes
            } else {
                count >= t.flap_changes
            };

        let target = if flapping {
            Condition::Flapping
        } else {
            Condition::from_health(health)
        };
        if target == self.announced || target == Condition::Pending {
            self.last_suppressed = None;
            return Transition::None;
        }
        if target.rank() == 0 && self.announced.rank() == 0 {
            // First verdict, and a good one: nothing to tell anyone.
            self.announced = target;
            self.last_suppressed = None;
            return Transition::None;
        }
        if target.rank() > self.announced.rank()
            && let Some(by) = self.suppressed_by
        {
            if self.last_suppressed == Some(target) {
                return Transition::None;
            }
            self.last_suppressed = Some(target);
            return Transition::Suppressed {
                would_be: target,
                by,
            };
        }
        self.last_suppressed = None;
        let from = self.announced;
        self.announced = target;
        if !from.is_bad() && target.is_bad() {
            self.incident_since = Some(trouble_since.unwrap_or(now).min(now));
        }
        let since = self.incident_since.unwrap_or(now);
        let reason = reason.map(str::to_owned);
        match target {
            Condition::Up | Condition::Pending => {
                self.incident_since = None;
                Transition::Recovered {
                    from,
                    outage: (now - since).try_into().unwrap_or_default(),
                }
            }
            Condition::Down => Transition::WentDown {
                from,
                reason,
                since,
            },
            Condition::Degraded => Transition::Degraded {
                from,
                reason,
                since,
            },
            Condition::Flapping => Transition::Flapping {
                from,
                changes: count,
            },
        }
    }
}

/// One monitor's (or one location's) whole state: tracker plus announcer.
///
/// # Example
///
/// ```
/// use bitwobbly_core::state::{Context, MonitorState, Outcome, Thresholds, Transition};
/// use time::macros::datetime;
///
/// let t = Thresholds::default(); // down after 2 failures, recovered after 2 successes
/// let mut m = MonitorState::new();
/// let now = datetime!(2025-01-01 10:00 UTC);
/// let ctx = Context::new();
/// assert_eq!(m.observe(&t, &Outcome::up(), ctx, now), Transition::None);
/// assert_eq!(m.observe(&t, &Outcome::down("timeout"), ctx, now), Transition::None);
/// let went_down = m.observe(&t, &Outcome::down("timeout"), ctx, now);
/// assert!(went_down.opens_incident());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    tracker: HealthTracker,
    announcer: Announcer,
    /// The latest quorum verdict's health, for a monitor judged across locations
    /// ([`MonitorState::observe_verdict`]); `None` while it judges its own results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    combined: Option<Health>,
}

impl MonitorState {
    /// A monitor with no results yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one check outcome at `now` and says what to do about it.
    pub fn observe(
        &mut self,
        t: &Thresholds,
        outcome: &Outcome,
        ctx: Context,
        now: OffsetDateTime,
    ) -> Transition {
        self.combined = None;
        let health = self
            .tracker
            .record(t, outcome.status, outcome.reason.as_deref(), now);
        let since = self.tracker.trouble_since();
        let reason = self.tracker.reason().map(str::to_owned);
        self.announcer
            .update(t, health, since, reason.as_deref(), ctx, now)
    }

    /// Takes a verdict across locations (each location keeps its own
    /// [`HealthTracker`]; see [`crate::quorum::decide`]) instead of a result of its own, and
    /// says what to do. The incident starts at the verdict's
    /// [`since`](QuorumVerdict::since) and its reason is the verdict's
    /// [`summary`](QuorumVerdict::summary) (which locations saw what). A
    /// [`Health::Pending`] verdict (no live location) announces nothing.
    pub fn observe_verdict(
        &mut self,
        t: &Thresholds,
        verdict: &QuorumVerdict,
        ctx: Context,
        now: OffsetDateTime,
    ) -> Transition {
        self.combined = Some(verdict.health);
        let reason = verdict.summary();
        self.announcer
            .update(t, verdict.health, verdict.since, Some(&reason), ctx, now)
    }

    /// The tracked health (what is really going on, announced or not): the latest verdict
    /// across locations for a monitor judged by quorum, else its own tracker's.
    pub fn health(&self) -> Health {
        self.combined.unwrap_or_else(|| self.tracker.health())
    }

    /// The announced condition (what incidents follow).
    pub fn condition(&self) -> Condition {
        self.announcer.condition()
    }

    /// Whether the latest update was inside a maintenance window.
    pub fn under_maintenance(&self) -> bool {
        self.announcer.suppressed_by() == Some(Suppression::Maintenance)
    }

    /// The health tracker.
    pub fn tracker(&self) -> &HealthTracker {
        &self.tracker
    }

    /// The announcer.
    pub fn announcer(&self) -> &Announcer {
        &self.announcer
    }
}

mod rfc3339_deque {
    use std::collections::VecDeque;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use time::OffsetDateTime;

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct At(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

    pub(super) fn serialize<S: Serializer>(
        v: &VecDeque<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|t| At(*t)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<VecDeque<OffsetDateTime>, D::Error> {
        Ok(Vec::<At>::deserialize(d)?
            .into_iter()
            .map(|a| a.0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2025-01-01 10:00 UTC);

    fn at(minutes: i64) -> OffsetDateTime {
        T0 + time::Duration::minutes(minutes)
    }

    fn run(m: &mut MonitorState, t: &Thresholds, seq: &str, start: i64) -> Vec<Transition> {
        run_with(m, t, seq, start, Context::new())
    }

    /// Feeds `seq` (`u` up, `d` degraded, anything else down) one minute apart from
    /// `start`, all under `ctx`.
    fn run_with(
        m: &mut MonitorState,
        t: &Thresholds,
        seq: &str,
        start: i64,
        ctx: Context,
    ) -> Vec<Transition> {
        seq.chars()
            .enumerate()
            .map(|(i, c)| {
                let o = match c {
                    'u' => Outcome::up(),
                    'd' => Outcome::degraded("slow"),
                    _ => Outcome::down("refused"),
                };
                m.observe(t, &o, ctx, at(start + i as i64))
            })
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Thresholds::default().validate(), Ok(()));
    }

    #[test]
    fn window_smaller_than_down_after_is_refused() {
        let t = Thresholds {
            down_after: 3,
            window: 2,
            ..Thresholds::default()
        };
        assert_eq!(t.validate().unwrap_err().field, "window");
    }

    #[test]
    fn zero_recover_after_is_refused() {
        let t = Thresholds {
            recover_after: 0,
            ..Thresholds::default()
        };
        assert_eq!(t.validate().unwrap_err().field, "recover_after");
    }

    #[test]
    fn thresholds_deserialise_with_defaults() {
        let t: Thresholds = serde_json::from_str(r#"{"down_after": 1, "window": 3}"#).unwrap();
        assert_eq!(t.down_after, 1);
        assert_eq!(t.recover_after, 2);
        assert!(serde_json::from_str::<Thresholds>(r#"{"nope": 1}"#).is_err());
    }

    #[test]
    fn first_success_announces_nothing() {
        let mut m = MonitorState::new();
        assert_eq!(
            run(&mut m, &Thresholds::default(), "u", 0),
            [Transition::None]
        );
        assert_eq!(m.condition(), Condition::Up);
    }

    #[test]
    fn one_failure_is_not_enough_by_default() {
        let mut m = MonitorState::new();
        let out = run(&mut m, &Thresholds::default(), "ux", 0);
        assert_eq!(out[1], Transition::None);
        assert_eq!(m.health(), Health::Up);
    }

    #[test]
    fn consecutive_failures_go_down_with_reason_and_start() {
        let mut m = MonitorState::new();
        let out = run(&mut m, &Thresholds::default(), "uxx", 0);
        assert_eq!(
            out[2],
            Transition::WentDown {
                from: Condition::Up,
                reason: Some("refused".into()),
                since: at(1),
            }
        );
        assert!(out[2].opens_incident());
    }

    #[test]
    fn failures_within_the_window_go_down() {
        let t = Thresholds {
            down_after: 3,
            degraded_after: 3,
            window: 5,
            ..Thresholds::default()
        };
        let mut m = MonitorState::new();
        let out = run(&mut m, &t, "uxuxux", 0);
        assert!(matches!(out[5], Transition::WentDown { .. }), "{out:?}");
        assert!(out[..5].iter().all(|t| *t == Transition::None));
    }

    #[test]
    fn recovery_needs_consecutive_successes_and_reports_outage() {
        let mut m = MonitorState::new();
        let out = run(&mut m, &Thresholds::default(), "uxxuxuu", 0);
        assert_eq!(out[3], Transition::None);
        assert_eq!(out[5], Transition::None);
        assert_eq!(
            out[6],
            Transition::Recovered {
                from: Condition::Down,
                outage: Duration::from_secs(5 * 60),
            }
        );
        assert!(out[6].resolves_incident());
    }

    #[test]
    fn degraded_is_a_state_of_its_own() {
        let mut m = MonitorState::new();
        let out = run(&mut m, &Thresholds::default(), "udd", 0);
        assert_eq!(
            out[2],
            Transition::Degraded {
                from: Condition::Up,
                reason: Some("slow".into()),
                since: at(1),
            }
        );
        assert_eq!(m.condition(), Condition::Degraded);
    }

    #[test]
    fn degraded_escalates_to_down_keeping_the_start() {
        let mut m = MonitorState::new();
        let out = run(&mut m, &Thresholds::default(), "uddxx", 0);
        assert!(!out[4].opens_incident());
        assert!(matches!(
            out[4],
            Transition::WentDown { from: Condition::Degraded, since, .. } if since == at(1)
        ));
    }

    #[test]
    fn down_improves_to_degraded_after_recover_after_results() {
        let mut m = MonitorState::new();
        let out = run(&mut m, &Thresholds::default(), "uxxdd", 0);
        assert!(matches!(
            out[4],
            Transition::Degraded {
                from: Condition::Down,
                ..
            }
        ));
    }

    #[test]
    fn pending_monitor_failing_goes_down_from_pending() {
        let mut m = MonitorState::new();
        let out = run(&mut m, &Thresholds::default(), "xx", 0);
        assert_eq!(out[0], Transition::None);
        assert_eq!(m.health(), Health::Down);
        assert!(matches!(
            out[1],
            Transition::WentDown {
                from: Condition::Pending,
                ..
            }
        ));
    }

    #[test]
    fn maintenance_suppresses_going_down_and_marks_the_monitor() {
        let t = Thresholds::default();
        let mut m = MonitorState::new();
        let ctx = Context::new().with_maintenance(true);
        let out = run_with(&mut m, &t, "uxx", 0, ctx);
        assert_eq!(
            out[2],
            Transition::Suppressed {
                would_be: Condition::Down,
                by: Suppression::Maintenance
            }
        );
        assert_eq!(m.health(), Health::Down);
        assert_eq!(m.condition(), Condition::Up);
        assert!(m.under_maintenance());
    }

    #[test]
    fn suppressed_change_is_reported_once() {
        let t = Thresholds::default();
        let mut m = MonitorState::new();
        let ctx = Context::new().with_maintenance(true);
        let out = run_with(&mut m, &t, "uxxx", 0, ctx);
        assert!(matches!(out[2], Transition::Suppressed { .. }));
        assert_eq!(out[3], Transition::None);
    }

    #[test]
    fn still_down_after_maintenance_is_announced() {
        let t = Thresholds::default();
        let mut m = MonitorState::new();
        let _ = run_with(&mut m, &t, "uxx", 0, Context::new().with_maintenance(true));
        let out = m.observe(&t, &Outcome::down("x"), Context::new(), at(3));
        assert!(matches!(out, Transition::WentDown { since, .. } if since == at(1)));
        assert!(!m.under_maintenance());
    }

    #[test]
    fn recovery_is_announced_even_during_maintenance() {
        let t = Thresholds::default();
        let mut m = MonitorState::new();
        let _ = run(&mut m, &t, "uxx", 0);
        let maint = Context::new().with_maintenance(true);
        let _ = m.observe(&t, &Outcome::up(), maint, at(3));
        let out = m.observe(&t, &Outcome::up(), maint, at(4));
        assert!(out.resolves_incident());
    }

    #[test]
    fn parent_down_records_child_failures_without_alerting() {
        let t = Thresholds::default();
        let mut m = MonitorState::new();
        let ctx = Context::new().with_parent_down(true);
        let out = run_with(&mut m, &t, "uxx", 0, ctx);
        assert_eq!(
            out[2],
            Transition::Suppressed {
                would_be: Condition::Down,
                by: Suppression::ParentDown
            }
        );
        assert_eq!(m.health(), Health::Down);
        assert!(!m.under_maintenance());
    }

    #[test]
    fn flapping_collapses_into_one_transition() {
        let t = Thresholds {
            down_after: 1,
            window: 1,
            recover_after: 1,
            flap_changes: 4,
            ..Thresholds::default()
        };
        let mut m = MonitorState::new();
        let out = run(&mut m, &t, "uxuxuxuxux", 0);
        let alerts: Vec<_> = out.iter().filter(|t| **t != Transition::None).collect();
        // down, recovered, down, then flapping; nothing after that.
        assert_eq!(alerts.len(), 4, "{alerts:?}");
        assert!(matches!(alerts[3], Transition::Flapping { changes: 4, .. }));
        assert_eq!(m.condition(), Condition::Flapping);
    }

    #[test]
    fn flapping_ends_once_changes_age_out() {
        let t = Thresholds {
            down_after: 1,
            window: 1,
            recover_after: 1,
            flap_changes: 4,
            flap_window: Duration::from_secs(600),
            ..Thresholds::default()
        };
        let mut m = MonitorState::new();
        let _ = run(&mut m, &t, "uxuxu", 0);
        assert_eq!(m.condition(), Condition::Flapping);
        let out = run(&mut m, &t, "u", 30);
        assert!(matches!(
            out[0],
            Transition::Recovered {
                from: Condition::Flapping,
                ..
            }
        ));
    }

    #[test]
    fn flapping_detection_can_be_turned_off() {
        let t = Thresholds {
            down_after: 1,
            window: 1,
            recover_after: 1,
            flap_changes: 0,
            ..Thresholds::default()
        };
        let mut m = MonitorState::new();
        let out = run(&mut m, &t, "uxuxuxuxux", 0);
        assert_eq!(out.iter().filter(|t| **t != Transition::None).count(), 9);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut m = MonitorState::new();
        let _ = run(&mut m, &Thresholds::default(), "uxxu", 0);
        let json = serde_json::to_string(&m).unwrap();
        let back: MonitorState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    fn verdict(healths: &[(&str, Health)], at: OffsetDateTime) -> QuorumVerdict {
        let votes: Vec<_> = healths
            .iter()
            .map(|(l, h)| crate::quorum::Vote::new(*l, *h, at).with_since(at))
            .collect();
        crate::quorum::decide(&crate::quorum::QuorumPolicy::default(), &votes, at)
    }

    #[test]
    fn a_quorum_verdict_opens_and_resolves_with_who_saw_what() {
        use Health::*;
        let t = Thresholds::default();
        let mut m = MonitorState::new();
        let ctx = Context::new();
        let up = verdict(&[("a", Up), ("b", Up), ("c", Up)], at(0));
        assert_eq!(m.observe_verdict(&t, &up, ctx, at(0)), Transition::None);
        let one = verdict(&[("a", Down), ("b", Up), ("c", Up)], at(1));
        assert_eq!(m.observe_verdict(&t, &one, ctx, at(1)), Transition::None);
        let two = verdict(&[("a", Down), ("b", Down), ("c", Up)], at(2));
        let out = m.observe_verdict(&t, &two, ctx, at(2));
        assert!(out.opens_incident(), "{out:?}");
        match out {
            Transition::WentDown { reason, since, .. } => {
                assert_eq!(
                    reason.as_deref(),
                    Some("down from a, b (2 of 3); up from c")
                );
                assert_eq!(since, at(2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.health(), Down);
        let back = verdict(&[("a", Up), ("b", Up), ("c", Up)], at(5));
        assert!(m.observe_verdict(&t, &back, ctx, at(5)).resolves_incident());
    }

    #[test]
    fn a_pending_verdict_announces_nothing_and_own_results_take_over_again() {
        use Health::*;
        let t = Thresholds::default();
        let mut m = MonitorState::new();
        let down = verdict(&[("a", Down)], at(0));
        assert!(
            m.observe_verdict(&t, &down, Context::new(), at(0))
                .opens_incident()
        );
        let none = verdict(&[], at(1));
        assert_eq!(
            m.observe_verdict(&t, &none, Context::new(), at(1)),
            Transition::None
        );
        assert_eq!(m.condition(), Condition::Down);
        assert_eq!(m.health(), Pending);
        let _ = m.observe(&t, &Outcome::up(), Context::new(), at(2));
        assert_eq!(m.health(), m.tracker().health());
    }

    #[test]
    fn state_without_a_verdict_reads_as_before() {
        let json = serde_json::to_string(&MonitorState::new()).unwrap();
        assert!(!json.contains("combined"), "{json}");
        let back: MonitorState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, MonitorState::new());
    }

    #[test]
    fn transition_serialises_with_a_type_tag() {
        let t = Transition::Recovered {
            from: Condition::Down,
            outage: Duration::from_secs(90),
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"type":"recovered","from":"down","outage":"1m 30s"}"#
        );
    }
}
