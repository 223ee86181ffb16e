//! Deciding a monitor's health from several locations.
//!
//! Each location keeps its own [`HealthTracker`](crate::state::HealthTracker) for the
//! monitor; [`decide`] combines their latest [`Vote`]s. Locations that have not reported
//! within the staleness bound are left out, and the monitor is down when at least the
//! configured share of the remaining (live) locations are down, degraded when that share is
//! degraded or down. The [`QuorumVerdict`] lists which locations saw what, for the incident.
//! Feed its health to an [`Announcer`](crate::state::Announcer) to get transitions.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::SpecError;
use crate::schedule::time_dur;
use crate::state::Health;

/// How many live locations must agree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Share {
    /// More than half of the live locations (the default).
    #[default]
    Majority,
    /// At least this percentage (1 to 100) of the live locations, rounded up.
    Percent(u8),
}

impl Share {
    /// How many of `live` locations are needed (at least 1 when `live > 0`).
    pub fn required(self, live: usize) -> usize {
        if live == 0 {
            return 0;
        }
        match self {
            Self::Majority => live / 2 + 1,
            Self::Percent(p) => (live * usize::from(p.clamp(1, 100))).div_ceil(100).max(1),
        }
    }
}

/// Quorum settings. `Default` gives a majority and a 5-minute staleness bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct QuorumPolicy {
    /// The share of live locations that must agree. Default [`Share::Majority`].
    pub share: Share,
    /// A location whose latest result is older than this is stale and left out.
    /// Default 5 minutes; pick about three check intervals.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for QuorumPolicy {
    fn default() -> Self {
        Self {
            share: Share::Majority,
            stale_after: Duration::from_secs(300),
        }
    }
}

impl QuorumPolicy {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] for `share` (a percentage of 0 or over 100) or `stale_after` (zero).
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Share::Percent(p) = self.share
            && !(1..=100).contains(&p)
        {
            return Err(SpecError::new("share", "percent must be 1 to 100"));
        }
        if self.stale_after.is_zero() {
            return Err(SpecError::new("stale_after", "must be more than 0s"));
        }
        Ok(())
    }
}

/// One location's latest view of a monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vote {
    /// The location's name.
    pub location: String,
    /// Its tracked health for the monitor.
    pub health: Health,
    /// When its latest result was made.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Its latest reason, when not up.
    pub reason: Option<String>,
    /// When its current trouble began (its first bad result), if it sees trouble.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
}

impl Vote {
    /// A vote from `location` with `health` as of `at`.
    pub fn new(location: impl Into<String>, health: Health, at: OffsetDateTime) -> Self {
        Self {
            location: location.into(),
            health,
            at,
            reason: None,
            since: None,
        }
    }

    /// Adds a reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds when the location's trouble began.
    #[must_use]
    pub fn with_since(mut self, since: OffsetDateTime) -> Self {
        self.since = Some(since);
        self
    }
}

/// The combined view, with who saw what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuorumVerdict {
    /// The monitor's health; [`Health::Pending`] when no live location has a verdict.
    pub health: Health,
    /// How many live locations had to agree.
    pub required: usize,
    /// Live locations that saw it up.
    pub up: Vec<String>,
    /// Live locations that saw it degraded.
    pub degraded: Vec<String>,
    /// Live locations that saw it down, with their reasons.
    pub down: Vec<(String, Option<String>)>,
    /// Live locations without a verdict yet.
    pub pending: Vec<String>,
    /// Locations left out because their latest result is too old.
    pub stale: Vec<String>,
    /// When the trouble began: the earliest start among the live locations that make the
    /// verdict bad (down ones for down; down and degraded ones for degraded). `None` when up.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
}

impl QuorumVerdict {
    /// How many live locations had a verdict (up, degraded or down).
    pub fn decided(&self) -> usize {
        self.up.len() + self.degraded.len() + self.down.len()
    }

    /// Who saw what, for people, e.g.
    /// `down from eu-1 (timeout), us-1 (2 of 3); up from local; stale: ap-1`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.down.is_empty() {
            let names: Vec<String> = self
                .down
                .iter()
                .map(|(l, r)| match r {
                    Some(r) => format!("{l} ({r})"),
                    None => l.clone(),
                })
                .collect();
            parts.push(format!(
                "down from {} ({} of {})",
                names.join(", "),
                self.down.len(),
                self.decided()
            ));
        }
        if !self.degraded.is_empty() {
            parts.push(format!(
                "degraded from {} ({} of {})",
                self.degraded.join(", "),
                self.degraded.len(),
                self.decided()
            ));
        }
        if !self.up.is_empty() {
            parts.push(format!("up from {}", self.up.join(", ")));
        }
        if !self.pending.is_empty() {
            parts.push(format!("no verdict yet from {}", self.pending.join(", ")));
        }
        if !self.stale.is_empty() {
            parts.push(format!("stale: {}", self.stale.join(", ")));
        }
        if parts.is_empty() {
            "no location has reported".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// Combines the locations' votes as of `now`.
pub fn decide(policy: &QuorumPolicy, votes: &[Vote], now: OffsetDateTime) -> QuorumVerdict {
    let horizon = now - time_dur(policy.stale_after);
    let mut v = QuorumVerdict {
        health: Health::Pending,
        required: 0,
        up: Vec::new(),
        degraded: Vec::new(),
        down: Vec::new(),
        pending: Vec::new(),
        stale: Vec::new(),
        since: None,
    };
    let mut down_since: Option<OffsetDateTime> = None;
    let mut bad_since: Option<OffsetDateTime> = None;
    for vote in votes {
        let name = vote.location.clone();
        if vote.at < horizon {
            v.stale.push(name);
            continue;
        }
        let since = vote.since.unwrap_or(vote.at);
        if vote.health == Health::Down {
            down_since = Some(down_since.map_or(since, |s| s.min(since)));
        }
        if matches!(vote.health, Health::Down | Health::Degraded) {
            bad_since = Some(bad_since.map_or(since, |s| s.min(since)));
        }
        match vote.health {
            Health::Up => v.up.push(name),
            Health::Degraded => v.degraded.push(name),
            Health::Down => v.down.push((name, vote.reason.clone())),
            Health::Pending => v.pending.push(name),
        }
    }
    let decided = v.up.len() + v.degraded.len() + v.down.len();
    v.required = policy.share.required(decided);
    v.health = if decided == 0 {
        Health::Pending
    } else if v.down.len() >= v.required {
        Health::Down
    } else if v.down.len() + v.degraded.len() >= v.required {
        Health::Degraded
    } else {
        Health::Up
    };
    v.since = match v.health {
        Health::Down => down_since,
        Health::Degraded => bad_since,
        Health::Up | Health::Pending => None,
    };
    v
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2025-01-01 10:00 UTC);

    fn votes(healths: &[Health]) -> Vec<Vote> {
        healths
            .iter()
            .enumerate()
            .map(|(i, h)| Vote::new(format!("loc{i}"), *h, NOW))
            .collect()
    }

    #[test]
    fn majority_of_three_is_two() {
        assert_eq!(Share::Majority.required(3), 2);
        assert_eq!(Share::Majority.required(4), 3);
    }

    #[test]
    fn percent_rounds_up() {
        assert_eq!(Share::Percent(50).required(3), 2);
        assert_eq!(Share::Percent(1).required(3), 1);
        assert_eq!(Share::Percent(100).required(3), 3);
    }

    #[test]
    fn one_location_down_of_three_is_up() {
        use Health::*;
        let v = decide(&QuorumPolicy::default(), &votes(&[Down, Up, Up]), NOW);
        assert_eq!(v.health, Up);
        assert_eq!(v.down, [("loc0".to_owned(), None)]);
    }

    #[test]
    fn two_locations_down_of_three_is_down() {
        use Health::*;
        let v = decide(&QuorumPolicy::default(), &votes(&[Down, Down, Up]), NOW);
        assert_eq!(v.health, Down);
        assert_eq!(v.required, 2);
        assert_eq!(v.up, ["loc2"]);
    }

    #[test]
    fn down_and_degraded_together_make_degraded() {
        use Health::*;
        let v = decide(&QuorumPolicy::default(), &votes(&[Down, Degraded, Up]), NOW);
        assert_eq!(v.health, Degraded);
    }

    #[test]
    fn stale_locations_are_left_out() {
        use Health::*;
        let mut vs = votes(&[Down, Up, Up]);
        vs[1].at = NOW - time::Duration::hours(1);
        vs[2].at = NOW - time::Duration::hours(1);
        let v = decide(&QuorumPolicy::default(), &vs, NOW);
        assert_eq!(v.health, Down);
        assert_eq!(v.stale, ["loc1", "loc2"]);
    }

    #[test]
    fn no_live_location_is_pending() {
        let mut vs = votes(&[Health::Down]);
        vs[0].at = NOW - time::Duration::hours(1);
        assert_eq!(
            decide(&QuorumPolicy::default(), &vs, NOW).health,
            Health::Pending
        );
    }

    #[test]
    fn pending_locations_do_not_count() {
        use Health::*;
        let v = decide(
            &QuorumPolicy::default(),
            &votes(&[Down, Pending, Pending]),
            NOW,
        );
        assert_eq!(v.health, Down);
        assert_eq!(v.pending.len(), 2);
    }

    #[test]
    fn down_reasons_are_kept() {
        let vs = [Vote::new("eu", Health::Down, NOW).with_reason("timeout")];
        let v = decide(&QuorumPolicy::default(), &vs, NOW);
        assert_eq!(v.down, [("eu".to_owned(), Some("timeout".to_owned()))]);
    }

    #[test]
    fn summary_names_who_saw_what() {
        use Health::*;
        let mut vs = votes(&[Down, Down, Up, Up]);
        vs[0] = vs[0].clone().with_reason("timeout");
        vs[3].at = NOW - time::Duration::hours(1);
        let v = decide(&QuorumPolicy::default(), &vs, NOW);
        assert_eq!(
            v.summary(),
            "down from loc0 (timeout), loc1 (2 of 3); up from loc2; stale: loc3"
        );
        assert_eq!(
            decide(&QuorumPolicy::default(), &[], NOW).summary(),
            "no location has reported"
        );
    }

    #[test]
    fn since_is_the_earliest_trouble_among_the_deciding_locations() {
        use Health::*;
        let early = NOW - time::Duration::minutes(10);
        let later = NOW - time::Duration::minutes(3);
        let vs = [
            Vote::new("a", Down, NOW).with_since(later),
            Vote::new("b", Down, NOW).with_since(early),
            Vote::new("c", Degraded, NOW).with_since(NOW - time::Duration::hours(2)),
        ];
        let v = decide(&QuorumPolicy::default(), &vs, NOW);
        assert_eq!(v.health, Down);
        assert_eq!(v.since, Some(early));
        let up = decide(&QuorumPolicy::default(), &votes(&[Up, Down, Up]), NOW);
        assert_eq!(up.since, None);
    }

    #[test]
    fn zero_percent_is_refused() {
        let p = QuorumPolicy {
            share: Share::Percent(0),
            ..QuorumPolicy::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "share");
    }

    #[test]
    fn policy_deserialises_percent() {
        let p: QuorumPolicy =
            serde_json::from_str(r#"{"share": {"percent": 34}, "stale_after": "3m"}"#).unwrap();
        assert_eq!(p.share, Share::Percent(34));
        assert_eq!(p.stale_after, Duration::from_secs(180));
    }

    fn rank(h: Health) -> u8 {
        match h {
            Health::Pending | Health::Up => 0,
            Health::Degraded => 1,
            Health::Down => 2,
        }
    }

    fn health() -> impl Strategy<Value = Health> {
        prop_oneof![Just(Health::Up), Just(Health::Degraded), Just(Health::Down)]
    }

    proptest! {
        #[test]
        fn worsening_one_location_never_improves_the_verdict(
            hs in proptest::collection::vec(health(), 1..9),
            i in 0usize..9,
            pct in 1u8..=100,
        ) {
            let i = i % hs.len();
            for share in [Share::Majority, Share::Percent(pct)] {
                let policy = QuorumPolicy { share, ..QuorumPolicy::default() };
                let before = decide(&policy, &votes(&hs), NOW).health;
                let mut worse = hs.clone();
                worse[i] = Health::Down;
                let after = decide(&policy, &votes(&worse), NOW).health;
                prop_assert!(rank(after) >= rank(before));
            }
        }

        #[test]
        fn all_down_is_always_down(n in 1usize..9, pct in 1u8..=100) {
            let hs = vec![Health::Down; n];
            let policy = QuorumPolicy { share: Share::Percent(pct), ..QuorumPolicy::default() };
            prop_assert_eq!(decide(&policy, &votes(&hs), NOW).health, Health::Down);
        }
    }
}
