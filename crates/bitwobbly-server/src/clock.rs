//! Wall-clock time for the server, as store [`Timestamp`]s.
//!
//! Core logic takes `now` as an argument; the server reads it here, in one place.

use bitwobbly_store::types::Timestamp;
use time::OffsetDateTime;

/// The wall clock. Cheap to copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

impl Clock {
    /// Now, in milliseconds since the Unix epoch.
    pub fn now(self) -> Timestamp {
        Timestamp::from_millis(
            (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        )
    }

    /// Now, as a date-time in UTC.
    pub fn now_utc(self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
