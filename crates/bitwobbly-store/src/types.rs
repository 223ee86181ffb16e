//! Small value types shared by every table: timestamps, ids and the text enums stored as strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A point in time, stored as whole milliseconds since the Unix epoch (UTC).
///
/// The store never reads the clock: every method that needs "now" takes a `Timestamp`.
/// Convert from and to [`OffsetDateTime`] with `From`/[`Timestamp::to_datetime`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This timestamp plus a duration (saturating).
    pub fn plus(self, d: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// This timestamp minus a duration (saturating).
    pub fn minus(self, d: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// The start of the UTC hour containing this timestamp.
    pub fn floor_hour(self) -> Self {
        Self(self.0.div_euclid(HOUR_MS) * HOUR_MS)
    }

    /// The start of the UTC day containing this timestamp.
    pub fn floor_day(self) -> Self {
        Self(self.0.div_euclid(DAY_MS) * DAY_MS)
    }

    /// As an [`OffsetDateTime`] in UTC.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
        Self(i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX }))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// One hour in milliseconds.
pub(crate) const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds.
pub(crate) const DAY_MS: i64 = 86_400_000;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            sqlx::Type,
        )]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    )+};
}

id_type! {
    /// A workspace (tenant).
    WorkspaceId;
    /// A user account.
    UserId;
    /// A login session.
    SessionId;
    /// An API token.
    ApiTokenId;
    /// A monitor.
    MonitorId;
    /// One stored check result.
    ResultId;
    /// An incident.
    IncidentId;
    /// One update posted to an incident.
    IncidentUpdateId;
    /// A notification channel.
    ChannelId;
    /// A row of the notification outbox.
    OutboxId;
    /// A status page.
    StatusPageId;
    /// A group of components on a status page.
    ComponentGroupId;
    /// A component shown on a status page.
    ComponentId;
    /// A maintenance window.
    MaintenanceId;
    /// A subscriber of a status page.
    SubscriberId;
    /// An ingest project (Sentry-compatible).
    ProjectId;
    /// A DSN key of a project.
    DsnKeyId;
    /// A stored envelope manifest (one row of the processing queue).
    EnvelopeId;
    /// An error-tracking issue (a group of events).
    IssueId;
    /// A stored event.
    EventRowId;
    /// A stored performance transaction.
    TransactionId;
    /// A stored cron check-in.
    CheckInId;
    /// A stored attachment reference.
    AttachmentId;
    /// A location where checker agents run monitors.
    LocationId;
    /// An agent token.
    AgentTokenId;
}

/// Error returned when a stored text value is not one of the expected names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    /// Which enum was being parsed.
    pub kind: &'static str,
    /// The value found.
    pub value: String,
}

/// Stores a `text_enum!` type as its name (a text column) in the database `$db`.
macro_rules! text_enum_sqlx {
    ($name:ident, $db:ty) => {
        impl sqlx::Type<$db> for $name {
            fn type_info() -> <$db as sqlx::Database>::TypeInfo {
                <str as sqlx::Type<$db>>::type_info()
            }
            fn compatible(ty: &<$db as sqlx::Database>::TypeInfo) -> bool {
                <str as sqlx::Type<$db>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, $db> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <$db as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'_, $db>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, $db> for $name {
            fn decode(
                value: <$db as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<'r, $db>>::decode(value)?;
                Ok(s.parse()?)
            }
        }
    };
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $var:ident => $s:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $var,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$var,)+];

            /// The stable lowercase name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$var => $s,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok(Self::$var),)+
                    _ => Err(UnknownName { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }

        #[cfg(feature = "sqlite")]
        text_enum_sqlx!($name, sqlx::Sqlite);
        #[cfg(feature = "postgres")]
        text_enum_sqlx!($name, sqlx::Postgres);
    };
}

text_enum! {
    /// A member's role in a workspace, from most to least powerful.
    Role {
        /// Everything, including deleting the workspace and managing owners.
        Owner => "owner",
        /// Everything except managing owners.
        Admin => "admin",
        /// Create and edit monitors, incidents and pages.
        Member => "member",
        /// Read only.
        Viewer => "viewer",
    }
}

text_enum! {
    /// The outcome of one check, as stored.
    CheckStatus {
        /// Reachable and every assertion passed.
        Up => "up",
        /// Reachable, but a degrading assertion failed.
        Degraded => "degraded",
        /// Unreachable or a failing assertion failed.
        Down => "down",
    }
}

text_enum! {
    /// A monitor's current state as decided by the incident logic (kept by the store, decided in core).
    MonitorStatus {
        /// No result yet.
        Unknown => "unknown",
        /// Up.
        Up => "up",
        /// Degraded.
        Degraded => "degraded",
        /// Down.
        Down => "down",
        /// Paused by a user.
        Paused => "paused",
        /// Inside an active maintenance window.
        Maintenance => "maintenance",
    }
}

text_enum! {
    /// How a monitor is scheduled.
    ScheduleKind {
        /// Every fixed interval.
        Interval => "interval",
        /// By a cron expression.
        Cron => "cron",
    }
}

text_enum! {
    /// The life-cycle status of an incident (Statuspage vocabulary).
    IncidentStatus {
        /// Something is wrong; the cause is being looked for.
        Investigating => "investigating",
        /// The cause is known.
        Identified => "identified",
        /// A fix is in place and being watched.
        Monitoring => "monitoring",
        /// Over.
        Resolved => "resolved",
    }
}

text_enum! {
    /// Who opened an incident.
    IncidentKind {
        /// Opened by the monitor state machine.
        Automatic => "automatic",
        /// Opened by a person.
        Manual => "manual",
    }
}

text_enum! {
    /// How bad an incident is (Statuspage "impact").
    Impact {
        /// No visible impact.
        None => "none",
        /// Minor.
        Minor => "minor",
        /// Major.
        Major => "major",
        /// Critical.
        Critical => "critical",
    }
}

text_enum! {
    /// The kind of a notification channel.
    ChannelKind {
        /// Email to one or more addresses.
        Email => "email",
        /// An HTTP webhook.
        Webhook => "webhook",
        /// A Slack incoming webhook.
        Slack => "slack",
        /// A Discord webhook.
        Discord => "discord",
        /// A Microsoft Teams webhook.
        Teams => "teams",
        /// PagerDuty (Events API v2).
        PagerDuty => "pagerduty",
        /// An ntfy topic.
        Ntfy => "ntfy",
    }
}

text_enum! {
    /// Where a row of the notification outbox is in its life cycle.
    OutboxState {
        /// Waiting to be claimed (possibly after a retry).
        Pending => "pending",
        /// Delivered.
        Sent => "sent",
        /// Given up after the last attempt; an operator may replay it.
        Dead => "dead",
    }
}

text_enum! {
    /// The kind of a status-page subscriber.
    SubscriberKind {
        /// An email address.
        Email => "email",
        /// A webhook URL.
        Webhook => "webhook",
    }
}

text_enum! {
    /// Whether a DSN key accepts traffic.
    KeyStatus {
        /// Accepts events.
        Active => "active",
        /// Refuses events.
        Disabled => "disabled",
    }
}

text_enum! {
    /// Where an envelope is in the processing queue.
    EnvelopeState {
        /// Stored, waiting for a worker.
        Pending => "pending",
        /// Processed.
        Done => "done",
        /// Processing failed for good.
        Failed => "failed",
    }
}

text_enum! {
    /// The status of an error-tracking issue.
    IssueStatus {
        /// Open.
        Unresolved => "unresolved",
        /// Marked fixed; a new event makes it a regression.
        Resolved => "resolved",
        /// Muted.
        Ignored => "ignored",
    }
}

text_enum! {
    /// The status of a cron check-in (Sentry vocabulary).
    CheckInStatus {
        /// The job started.
        InProgress => "in_progress",
        /// The job finished successfully.
        Ok => "ok",
        /// The job failed.
        Error => "error",
        /// The job did not report in time.
        Missed => "missed",
        /// The job ran too long.
        Timeout => "timeout",
        /// A status Bit Wobbly does not judge (Relay maps unknown statuses, and a client-sent
        /// `missed`, to this).
        Unknown => "unknown",
    }
}

text_enum! {
    /// The status of a component on a status page.
    ComponentStatus {
        /// Working.
        Operational => "operational",
        /// Slow.
        DegradedPerformance => "degraded_performance",
        /// Partly down.
        PartialOutage => "partial_outage",
        /// Down.
        MajorOutage => "major_outage",
        /// In maintenance.
        UnderMaintenance => "under_maintenance",
    }
}

text_enum! {
    /// The colour scheme of a status page.
    PageTheme {
        /// Light colours.
        Light => "light",
        /// Dark colours.
        Dark => "dark",
        /// Follow the visitor's system setting (`prefers-color-scheme`).
        System => "system",
    }
}

impl ComponentStatus {
    /// How bad the status is, for picking the worst of several: operational 0,
    /// under_maintenance 1, degraded_performance 2, partial_outage 3, major_outage 4.
    pub fn severity(self) -> u8 {
        match self {
            Self::Operational => 0,
            Self::UnderMaintenance => 1,
            Self::DegradedPerformance => 2,
            Self::PartialOutage => 3,
            Self::MajorOutage => 4,
        }
    }

    /// The status an incident of this impact gives the components it affects when nobody
    /// says otherwise: none operational, minor degraded_performance, major and critical
    /// major_outage.
    pub fn for_impact(impact: Impact) -> Self {
        match impact {
            Impact::None => Self::Operational,
            Impact::Minor => Self::DegradedPerformance,
            Impact::Major | Impact::Critical => Self::MajorOutage,
        }
    }
}

impl TryFrom<bitwobbly_core::Status> for CheckStatus {
    type Error = UnknownName;
    fn try_from(s: bitwobbly_core::Status) -> Result<Self, Self::Error> {
        s.as_str().parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_round_trips_through_datetime() {
        let t = Timestamp::from_millis(1_700_000_123_456);
        assert_eq!(Timestamp::from(t.to_datetime()), t);
    }

    #[test]
    fn floors_hours_and_days_before_the_epoch() {
        assert_eq!(
            Timestamp::from_millis(-1).floor_hour().as_millis(),
            -HOUR_MS
        );
        assert_eq!(
            Timestamp::from_millis(DAY_MS + 5).floor_day().as_millis(),
            DAY_MS
        );
    }

    #[test]
    fn component_statuses_rank_and_follow_impact() {
        let worst = ComponentStatus::ALL
            .iter()
            .max_by_key(|s| s.severity())
            .copied();
        assert_eq!(worst, Some(ComponentStatus::MajorOutage));
        assert!(
            ComponentStatus::UnderMaintenance.severity()
                < ComponentStatus::DegradedPerformance.severity()
        );
        assert_eq!(
            ComponentStatus::for_impact(Impact::Minor),
            ComponentStatus::DegradedPerformance
        );
        assert_eq!(
            ComponentStatus::for_impact(Impact::Critical),
            ComponentStatus::MajorOutage
        );
        assert_eq!(
            ComponentStatus::for_impact(Impact::None),
            ComponentStatus::Operational
        );
    }

    #[test]
    fn text_enums_parse_their_own_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        assert!("boss".parse::<Role>().is_err());
        assert_eq!("system".parse::<PageTheme>().unwrap(), PageTheme::System);
        assert_eq!(
            CheckStatus::try_from(bitwobbly_core::Status::Degraded).unwrap(),
            CheckStatus::Degraded
        );
    }
}
