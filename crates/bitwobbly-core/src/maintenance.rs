//! Maintenance windows: times when a monitor's alerts are held back.
//!
//! A window is one-off (a start and an end) or recurring (a cron expression in a time zone
//! for the starts, and a duration). Use [`any_active`] to fill
//! [`Context::maintenance`](crate::state::Context) before updating a monitor's state.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::SpecError;
use crate::schedule::{CronSchedule, time_dur};

/// A period during which alerts are suppressed and the monitor shows as under maintenance.
///
/// Serialised as `{"type": "once", "start": "...", "end": "..."}` (RFC 3339) or
/// `{"type": "recurring", "cron": {"expr": "0 2 * * 0", "tz": "Europe/Paris"},
/// "duration": "2h"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MaintenanceWindow {
    /// From `start` (inclusive) to `end` (exclusive).
    Once {
        /// Start.
        #[serde(with = "time::serde::rfc3339")]
        start: OffsetDateTime,
        /// End.
        #[serde(with = "time::serde::rfc3339")]
        end: OffsetDateTime,
    },
    /// Starting at each time `cron` names and lasting `duration`.
    Recurring {
        /// When each window starts.
        cron: CronSchedule,
        /// How long each lasts.
        #[serde(with = "humantime_serde")]
        duration: Duration,
    },
}

impl MaintenanceWindow {
    /// Checks the window.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] for `end` (not after `start`) or `duration` (zero).
    pub fn validate(&self) -> Result<(), SpecError> {
        match self {
            Self::Once { start, end } if end <= start => {
                Err(SpecError::new("end", "must be after start"))
            }
            Self::Recurring { duration, .. } if duration.is_zero() => {
                Err(SpecError::new("duration", "must be more than 0s"))
            }
            _ => Ok(()),
        }
    }

    /// The window covering `now`, as `(start, end)`, if there is one.
    pub fn active_at(&self, now: OffsetDateTime) -> Option<(OffsetDateTime, OffsetDateTime)> {
        match self {
            Self::Once { start, end } => (*start <= now && now < *end).then_some((*start, *end)),
            Self::Recurring { cron, duration } => {
                let span = time_dur(*duration);
                // A window that started before an earlier occurrence may still be open if
                // windows overlap; walking back a few starts covers long durations.
                let mut at = now;
                for _ in 0..8 {
                    let start = cron.last_at_or_before(at)?;
                    if now < start + span {
                        return Some((start, start + span));
                    }
                    if start + span <= now - span {
                        return None;
                    }
                    at = start - time::Duration::SECOND;
                }
                None
            }
        }
    }

    /// The start of the next window strictly after `now`, if there is one.
    pub fn next_start_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Once { start, .. } => (*start > now).then_some(*start),
            Self::Recurring { cron, .. } => cron.next_after(now),
        }
    }
}

/// Whether any of `windows` covers `now`.
pub fn any_active(windows: &[MaintenanceWindow], now: OffsetDateTime) -> bool {
    windows.iter().any(|w| w.active_at(now).is_some())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn weekly() -> MaintenanceWindow {
        MaintenanceWindow::Recurring {
            cron: CronSchedule::new("0 2 * * 0", "Europe/Paris").unwrap(),
            duration: Duration::from_secs(2 * 3600),
        }
    }

    #[test]
    fn one_off_covers_start_but_not_end() {
        let w = MaintenanceWindow::Once {
            start: datetime!(2025-01-01 10:00 UTC),
            end: datetime!(2025-01-01 11:00 UTC),
        };
        assert!(w.active_at(datetime!(2025-01-01 10:00 UTC)).is_some());
        assert!(w.active_at(datetime!(2025-01-01 11:00 UTC)).is_none());
        assert!(w.active_at(datetime!(2025-01-01 09:59 UTC)).is_none());
    }

    #[test]
    fn one_off_ending_before_it_starts_is_refused() {
        let w = MaintenanceWindow::Once {
            start: datetime!(2025-01-01 10:00 UTC),
            end: datetime!(2025-01-01 10:00 UTC),
        };
        assert_eq!(w.validate().unwrap_err().field, "end");
    }

    #[test]
    fn recurring_is_active_in_its_time_zone() {
        // Sunday 5 January 2025, 02:00-04:00 in Paris is 01:00-03:00 UTC.
        let w = weekly();
        assert_eq!(
            w.active_at(datetime!(2025-01-05 02:30 UTC)),
            Some((
                datetime!(2025-01-05 01:00 UTC),
                datetime!(2025-01-05 03:00 UTC)
            ))
        );
        assert!(w.active_at(datetime!(2025-01-05 03:00 UTC)).is_none());
        assert!(w.active_at(datetime!(2025-01-06 02:30 UTC)).is_none());
    }

    #[test]
    fn recurring_windows_longer_than_their_spacing_stay_active() {
        let w = MaintenanceWindow::Recurring {
            cron: CronSchedule::new("0 * * * *", "UTC").unwrap(),
            duration: Duration::from_secs(90 * 60),
        };
        assert!(w.active_at(datetime!(2025-01-05 02:45 UTC)).is_some());
    }

    #[test]
    fn next_start_of_recurring_window() {
        assert_eq!(
            weekly().next_start_after(datetime!(2025-01-05 02:30 UTC)),
            Some(datetime!(2025-01-12 01:00 UTC))
        );
    }

    #[test]
    fn any_active_checks_every_window() {
        let once = MaintenanceWindow::Once {
            start: datetime!(2025-01-01 10:00 UTC),
            end: datetime!(2025-01-01 11:00 UTC),
        };
        let ws = [weekly(), once];
        assert!(any_active(&ws, datetime!(2025-01-01 10:30 UTC)));
        assert!(!any_active(&ws, datetime!(2025-01-01 12:00 UTC)));
    }

    #[test]
    fn recurring_window_round_trips_through_json() {
        let json = r#"{"type":"recurring","cron":{"expr":"0 2 * * 0","tz":"Europe/Paris"},"duration":"2h"}"#;
        let w: MaintenanceWindow = serde_json::from_str(json).unwrap();
        assert_eq!(w, weekly());
        assert_eq!(serde_json::to_string(&w).unwrap(), json);
    }
}
