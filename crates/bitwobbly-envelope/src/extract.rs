//! Reading the few fields ingest needs from item payloads, without building whole documents.
//!
//! Each type borrows strings from the payload where it can (`Cow::Borrowed`) and skips every
//! other key without allocating for it.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::{EnvelopeError, EventId};

/// A string that may have been sent as a number or boolean (stringified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LenientStr<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LenientStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LenientStr(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LenientStr(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LenientStr(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(LenientStr(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(LenientStr(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

impl LenientStr<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Deserialises an optional string, borrowing it from the input when it has no escapes
/// (serde's own `Option<Cow<str>>` always copies).
pub(crate) fn opt_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct S;
    impl<'de> Visitor<'de> for S {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_str(self)
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
    }
    d.deserialize_option(S)
}

/// A timestamp sent as float seconds or as an RFC 3339 string, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("seconds since the epoch or an RFC 3339 timestamp")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                parse_rfc3339(v)
                    .map(Timestamp)
                    .ok_or_else(|| E::custom("invalid RFC 3339 timestamp"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` into seconds since the epoch (a missing zone
/// means UTC, as Sentry assumes).
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..digits.min(9)]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let tz = rest.get(1..)?;
            let (h, m) = tz.split_once(':').unwrap_or((tz.get(..2)?, tz.get(2..)?));
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    // Days from civil (proleptic Gregorian), after Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs as f64 + frac)
}

/// `exception` may be `{"values": [...]}` or a bare list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Values<T> {
    Wrapped {
        #[serde(default = "Vec::new")]
        values: Vec<T>,
    },
    Bare(Vec<T>),
}

impl<T> Values<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::Wrapped { values } | Self::Bare(values) => values,
        }
    }
}

/// One stack frame, reduced to what grouping uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Frame<'a> {
    /// Module or package path.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub module: Option<Cow<'a, str>>,
    /// File name or path.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub filename: Option<Cow<'a, str>>,
    /// Absolute path or URL.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub abs_path: Option<Cow<'a, str>>,
    /// Function name.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub function: Option<Cow<'a, str>>,
    /// Line number (not used for grouping).
    #[serde(default)]
    pub lineno: Option<u64>,
    /// Whether the frame is application code.
    #[serde(default)]
    pub in_app: Option<bool>,
}

#[derive(Deserialize)]
struct RawStacktrace<'a> {
    #[serde(default, borrow)]
    frames: Vec<Frame<'a>>,
}

#[derive(Deserialize)]
struct RawMechanism {
    #[serde(default)]
    synthetic: Option<bool>,
}

#[derive(Deserialize)]
struct RawException<'a> {
    #[serde(
        rename = "type",
        default,
        borrow,
        deserialize_with = "crate::extract::opt_str"
    )]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    value: Option<LenientStr<'a>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    module: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    stacktrace: Option<RawStacktrace<'a>>,
    #[serde(default)]
    mechanism: Option<RawMechanism>,
}

/// One exception of a chain (oldest first; the last one is the primary exception).
#[derive(Debug, Clone, PartialEq)]
pub struct Exception<'a> {
    /// The exception type (`ValueError`).
    pub ty: Option<Cow<'a, str>>,
    /// The message of the exception.
    pub value: Option<Cow<'a, str>>,
    /// The module that defines the type.
    pub module: Option<Cow<'a, str>>,
    /// True when the SDK made the type up (`mechanism.synthetic`).
    pub synthetic: bool,
    /// All frames, oldest first.
    pub frames: Vec<Frame<'a>>,
}

impl Exception<'_> {
    /// The frames marked `in_app: true`, oldest first.
    pub fn in_app_frames(&self) -> impl Iterator<Item = &Frame<'_>> {
        self.frames.iter().filter(|f| f.in_app == Some(true))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMessage<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Entry {
        #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
        message: Option<Cow<'a, str>>,
        #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
        formatted: Option<Cow<'a, str>>,
    },
}

impl<'a> RawMessage<'a> {
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Self::Text(t) => Some(t),
            Self::Entry { message, formatted } => message.or(formatted),
        }
    }
}

#[derive(Deserialize)]
struct RawUser<'a> {
    #[serde(default, borrow)]
    id: Option<LenientStr<'a>>,
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    event_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    level: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    platform: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<Timestamp>,
    #[serde(default, borrow)]
    release: Option<LenientStr<'a>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    environment: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    transaction: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    logger: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    exception: Option<Values<RawException<'a>>>,
    #[serde(default, borrow)]
    logentry: Option<RawMessage<'a>>,
    #[serde(default, borrow)]
    message: Option<RawMessage<'a>>,
    #[serde(default, borrow)]
    fingerprint: Option<Vec<LenientStr<'a>>>,
    #[serde(default, borrow)]
    user: Option<RawUser<'a>>,
}

/// What ingest needs from an `event` (or `transaction`) payload.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventInfo<'a> {
    /// `event_id`, when present and a valid UUID.
    pub event_id: Option<EventId>,
    /// `level` (`error`, `warning`, ...).
    pub level: Option<Cow<'a, str>>,
    /// `platform` (`python`, `javascript`, ...).
    pub platform: Option<Cow<'a, str>>,
    /// `timestamp` in seconds since the epoch.
    pub timestamp: Option<f64>,
    /// `release`.
    pub release: Option<Cow<'a, str>>,
    /// `environment`.
    pub environment: Option<Cow<'a, str>>,
    /// `transaction` name.
    pub transaction: Option<Cow<'a, str>>,
    /// `logger`.
    pub logger: Option<Cow<'a, str>>,
    /// The exception chain, oldest first.
    pub exceptions: Vec<Exception<'a>>,
    /// The message: `logentry.message`, else `logentry.formatted`, else `message`.
    pub message: Option<Cow<'a, str>>,
    /// An explicit `fingerprint`.
    pub fingerprint: Option<Vec<Cow<'a, str>>>,
    /// `user.id`.
    pub user_id: Option<Cow<'a, str>>,
}

impl<'a> EventInfo<'a> {
    /// Reads an event payload.
    ///
    /// A malformed `event_id` inside the payload is ignored (the envelope header's id wins
    /// anyway); every unknown key is skipped.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidPayload`] when the payload is not a JSON object or a known key
    /// has an unusable type.
    pub fn from_json(payload: &'a [u8]) -> Result<Self, EnvelopeError> {
        let raw: RawEvent<'a> =
            serde_json::from_slice(payload).map_err(|source| EnvelopeError::InvalidPayload {
                item_type: "event",
                source,
            })?;
        let exceptions = raw
            .exception
            .map(Values::into_vec)
            .unwrap_or_default()
            .into_iter()
            .map(|e| Exception {
                ty: e.ty,
                value: e.value.map(|v| v.0),
                module: e.module,
                synthetic: e.mechanism.and_then(|m| m.synthetic).unwrap_or(false),
                frames: e.stacktrace.map(|s| s.frames).unwrap_or_default(),
            })
            .collect();
        Ok(Self {
            event_id: raw.event_id.as_deref().and_then(EventId::parse),
            level: raw.level,
            platform: raw.platform,
            timestamp: raw.timestamp.map(|t| t.0),
            release: raw.release.map(|r| r.0),
            environment: raw.environment,
            transaction: raw.transaction,
            logger: raw.logger,
            exceptions,
            message: raw
                .logentry
                .and_then(RawMessage::text)
                .or_else(|| raw.message.and_then(RawMessage::text)),
            fingerprint: raw
                .fingerprint
                .map(|f| f.into_iter().map(|s| s.0).collect()),
            user_id: raw.user.and_then(|u| u.id).map(|id| id.0),
        })
    }

    /// The primary (last) exception, if any.
    pub fn primary_exception(&self) -> Option<&Exception<'a>> {
        self.exceptions.last()
    }
}

/// The status of a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckInStatus {
    /// The job started.
    InProgress,
    /// The job finished successfully.
    Ok,
    /// The job failed.
    Error,
    /// Anything else (a client-sent `missed` included: missed is decided by the server).
    Unknown,
}

impl<'de> Deserialize<'de> for CheckInStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = LenientStr::deserialize(d)?;
        Ok(match s.as_str() {
            "in_progress" => Self::InProgress,
            "ok" => Self::Ok,
            "error" => Self::Error,
            _ => Self::Unknown,
        })
    }
}

/// The unit of an interval schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum IntervalUnit {
    /// Years.
    Year,
    /// Months.
    Month,
    /// Weeks.
    Week,
    /// Days.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
}

/// When a monitored job is expected to run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Schedule {
    /// A crontab expression such as `0 * * * *`.
    Crontab {
        /// The expression.
        value: String,
    },
    /// Every `value` units.
    Interval {
        /// How many units.
        value: u64,
        /// The unit.
        unit: IntervalUnit,
    },
}

/// `monitor_config` of a check-in: creates or updates the monitor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MonitorConfig<'a> {
    /// The schedule.
    pub schedule: Schedule,
    /// Time zone of the schedule (tz database name); `None` means UTC.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub timezone: Option<Cow<'a, str>>,
    /// Minutes after the expected time before the check-in counts as missed.
    #[serde(default)]
    pub checkin_margin: Option<u64>,
    /// Minutes an `in_progress` check-in may last before it times out.
    #[serde(default)]
    pub max_runtime: Option<u64>,
    /// Consecutive failures before an incident opens.
    #[serde(default)]
    pub failure_issue_threshold: Option<u64>,
    /// Consecutive successes before it resolves.
    #[serde(default)]
    pub recovery_threshold: Option<u64>,
}

/// A `check_in` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CheckIn<'a> {
    /// Client-made id; the nil UUID means "the latest in-progress check-in".
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub check_in_id: Option<Cow<'a, str>>,
    /// The monitor's slug.
    #[serde(borrow)]
    pub monitor_slug: Cow<'a, str>,
    /// The status.
    pub status: CheckInStatus,
    /// Run time in seconds (for `ok` and `error`).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Environment.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub environment: Option<Cow<'a, str>>,
    /// Release.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub release: Option<Cow<'a, str>>,
    /// Monitor configuration to upsert.
    #[serde(default, borrow)]
    pub monitor_config: Option<MonitorConfig<'a>>,
}

impl<'a> CheckIn<'a> {
    /// Reads a `check_in` payload.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidPayload`] when required keys are missing or mistyped.
    pub fn from_json(payload: &'a [u8]) -> Result<Self, EnvelopeError> {
        serde_json::from_slice(payload).map_err(|source| EnvelopeError::InvalidPayload {
            item_type: "check_in",
            source,
        })
    }
}

/// The status of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SessionStatus {
    /// Running.
    Ok,
    /// Ended normally.
    Exited,
    /// Ended by a crash.
    Crashed,
    /// Ended abnormally (killed, hung).
    Abnormal,
}

/// Release and environment of sessions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct SessionAttributes<'a> {
    /// Release (required by Sentry).
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub release: Option<Cow<'a, str>>,
    /// Environment.
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    pub environment: Option<Cow<'a, str>>,
}

/// A `session` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Session<'a> {
    /// Session id.
    #[serde(borrow)]
    pub sid: Cow<'a, str>,
    /// Distinct (user or device) id.
    #[serde(default, borrow)]
    pub did: Option<LenientStr<'a>>,
    /// Status; `ok` when absent.
    #[serde(default = "default_session_status")]
    pub status: SessionStatus,
    /// Errors seen in the session.
    #[serde(default)]
    pub errors: u64,
    /// Start time, seconds since the epoch.
    #[serde(default)]
    pub started: Option<Timestamp>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    /// True on the first update of a session.
    #[serde(default)]
    pub init: bool,
    /// Release and environment.
    #[serde(default, borrow)]
    pub attrs: SessionAttributes<'a>,
}

fn default_session_status() -> SessionStatus {
    SessionStatus::Ok
}

impl<'a> Session<'a> {
    /// Reads a `session` payload.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidPayload`] when `sid` is missing or a key is mistyped.
    pub fn from_json(payload: &'a [u8]) -> Result<Self, EnvelopeError> {
        serde_json::from_slice(payload).map_err(|source| EnvelopeError::InvalidPayload {
            item_type: "session",
            source,
        })
    }
}

/// One bucket of a `sessions` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionAggregate<'a> {
    /// Bucket start.
    pub started: Timestamp,
    /// Distinct id, when buckets are per user.
    #[serde(default, borrow)]
    pub did: Option<LenientStr<'a>>,
    /// Sessions that ended normally.
    #[serde(default)]
    pub exited: u64,
    /// Sessions with errors.
    #[serde(default)]
    pub errored: u64,
    /// Sessions that ended abnormally.
    #[serde(default)]
    pub abnormal: u64,
    /// Sessions that crashed.
    #[serde(default)]
    pub crashed: u64,
}

/// A `sessions` payload: aggregated session counts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionAggregates<'a> {
    /// The buckets.
    #[serde(default, borrow)]
    pub aggregates: Vec<SessionAggregate<'a>>,
    /// Release and environment.
    #[serde(default, borrow)]
    pub attrs: SessionAttributes<'a>,
}

impl<'a> SessionAggregates<'a> {
    /// Reads a `sessions` payload.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidPayload`] when a key is mistyped.
    pub fn from_json(payload: &'a [u8]) -> Result<Self, EnvelopeError> {
        serde_json::from_slice(payload).map_err(|source| EnvelopeError::InvalidPayload {
            item_type: "sessions",
            source,
        })
    }
}

/// The `content_type` of a `span` item that is a span v2 container.
pub const SPAN_V2_CONTENT_TYPE: &str = "application/vnd.sentry.items.span.v2+json";

/// The value of a typed attribute (`{"type": "string", "value": ...}`) when it is a string,
/// number or boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawAttributeValue<'a> {
    Text(#[serde(borrow)] LenientStr<'a>),
    Other(de::IgnoredAny),
}

#[derive(Deserialize)]
struct RawAttribute<'a> {
    #[serde(default, borrow)]
    value: Option<RawAttributeValue<'a>>,
}

impl<'a> RawAttribute<'a> {
    fn text(self) -> Option<Cow<'a, str>> {
        match self.value? {
            RawAttributeValue::Text(t) => Some(t.0),
            RawAttributeValue::Other(_) => None,
        }
    }
}

/// The attributes of a span that ingest reads; every other one is skipped.
#[derive(Deserialize, Default)]
struct RawSpanAttributes<'a> {
    #[serde(default, borrow, rename = "sentry.op")]
    op: Option<RawAttribute<'a>>,
    #[serde(default, borrow, rename = "sentry.release")]
    release: Option<RawAttribute<'a>>,
    #[serde(default, borrow, rename = "sentry.environment")]
    environment: Option<RawAttribute<'a>>,
}

#[derive(Deserialize)]
struct RawSpanV2<'a> {
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    trace_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    span_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    parent_span_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    is_segment: Option<bool>,
    #[serde(default)]
    start_timestamp: Option<Timestamp>,
    #[serde(default)]
    end_timestamp: Option<Timestamp>,
    #[serde(default, borrow)]
    attributes: Option<RawSpanAttributes<'a>>,
}

/// A container entry: a span, or anything else (skipped).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSpanEntry<'a> {
    Span(#[serde(borrow)] Box<RawSpanV2<'a>>),
    Other(de::IgnoredAny),
}

#[derive(Deserialize)]
struct RawSpanContainer<'a> {
    #[serde(borrow)]
    items: Vec<RawSpanEntry<'a>>,
}

/// One span of a span v2 container (`docs:develop-docs/sdk/telemetry/spans/span-protocol.mdx`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanV2<'a> {
    /// `trace_id`.
    pub trace_id: Option<Cow<'a, str>>,
    /// `span_id`.
    pub span_id: Option<Cow<'a, str>>,
    /// `parent_span_id`; none for the root of a trace.
    pub parent_span_id: Option<Cow<'a, str>>,
    /// `name` (for a segment, the transaction name).
    pub name: Option<Cow<'a, str>>,
    /// `status`: `ok` or `error`.
    pub status: Option<Cow<'a, str>>,
    /// `is_segment`, when sent.
    pub is_segment: Option<bool>,
    /// `start_timestamp`, seconds since the epoch.
    pub start_timestamp: Option<f64>,
    /// `end_timestamp`, seconds since the epoch.
    pub end_timestamp: Option<f64>,
    /// Attribute `sentry.op`.
    pub op: Option<Cow<'a, str>>,
    /// Attribute `sentry.release`.
    pub release: Option<Cow<'a, str>>,
    /// Attribute `sentry.environment`.
    pub environment: Option<Cow<'a, str>>,
}

impl SpanV2<'_> {
    /// True for the span of a segment (what Sentry shows as a transaction): `is_segment`
    /// when the SDK says, else a span without a parent.
    pub fn is_segment(&self) -> bool {
        self.is_segment.unwrap_or(self.parent_span_id.is_none())
    }
}

/// A `span` item that is a span v2 container (`content_type` [`SPAN_V2_CONTENT_TYPE`]):
/// `{"items": [span, ...]}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanContainer<'a> {
    /// The spans that could be read, in order; entries that are not a span object or have a
    /// key of the wrong type are skipped.
    pub spans: Vec<SpanV2<'a>>,
}

impl<'a> SpanContainer<'a> {
    /// Reads a span v2 container payload.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidPayload`] when the payload is not an object with an `items`
    /// array.
    pub fn from_json(payload: &'a [u8]) -> Result<Self, EnvelopeError> {
        let raw: RawSpanContainer<'a> =
            serde_json::from_slice(payload).map_err(|source| EnvelopeError::InvalidPayload {
                item_type: "span",
                source,
            })?;
        let spans = raw
            .items
            .into_iter()
            .filter_map(|e| match e {
                RawSpanEntry::Span(s) => Some(*s),
                RawSpanEntry::Other(_) => None,
            })
            .map(|s| {
                let attrs = s.attributes.unwrap_or_default();
                SpanV2 {
                    trace_id: s.trace_id,
                    span_id: s.span_id,
                    parent_span_id: s.parent_span_id.filter(|p| !p.is_empty()),
                    name: s.name,
                    status: s.status,
                    is_segment: s.is_segment,
                    start_timestamp: s.start_timestamp.map(|t| t.0),
                    end_timestamp: s.end_timestamp.map(|t| t.0),
                    op: attrs.op.and_then(RawAttribute::text),
                    release: attrs.release.and_then(RawAttribute::text),
                    environment: attrs.environment.and_then(RawAttribute::text),
                }
            })
            .collect();
        Ok(Self { spans })
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn span_v2_containers_yield_their_spans_and_segments() {
        let c = SpanContainer::from_json(
            br#"{"version":2,"items":[
              {"name":"SELECT 1","span_id":"b","trace_id":"t","parent_span_id":"a",
               "start_timestamp":1.0,"end_timestamp":1.5,"is_segment":false,"status":"ok",
               "attributes":{"sentry.op":{"value":"db.query","type":"string"}}},
              {"name":"checkout","span_id":"a","trace_id":"t","start_timestamp":"2026-01-01T00:00:00Z",
               "end_timestamp":1767225600.25,"is_segment":true,"status":"error",
               "attributes":{"sentry.op":{"value":"task","type":"string"},
                 "sentry.release":{"value":"app@1","type":"string"},
                 "sentry.environment":{"value":"prod","type":"string"},
                 "sentry.sdk.integrations":{"value":["A","B"],"type":"array"}}},
              {"name":"remote child","span_id":"c","parent_span_id":"z","start_timestamp":1,"end_timestamp":2},
              {"name":"root without flag","span_id":"d","parent_span_id":"","start_timestamp":1,"end_timestamp":2},
              7, "x", {"name": 5}, {"name":"bad attr","attributes":{"sentry.op":{"value":[1]}}}
            ]}"#,
        )
        .unwrap();
        let names: Vec<_> = c.spans.iter().map(|s| s.name.as_deref()).collect();
        assert_eq!(
            names,
            [
                Some("SELECT 1"),
                Some("checkout"),
                Some("remote child"),
                Some("root without flag"),
                Some("bad attr")
            ]
        );
        let segments: Vec<_> = c
            .spans
            .iter()
            .filter(|s| s.is_segment())
            .map(|s| s.name.as_deref().unwrap())
            .collect();
        assert_eq!(segments, ["checkout", "root without flag", "bad attr"]);
        let s = &c.spans[1];
        assert_eq!(s.start_timestamp, Some(1_767_225_600.0));
        assert_eq!(s.end_timestamp, Some(1_767_225_600.25));
        assert_eq!(
            (
                s.op.as_deref(),
                s.release.as_deref(),
                s.environment.as_deref()
            ),
            (Some("task"), Some("app@1"), Some("prod"))
        );
        assert_eq!(c.spans[4].op, None);
    }

    #[test]
    fn malformed_span_containers_are_refused() {
        for bad in [
            &b"[]"[..],
            b"{}",
            b"{\"items\":{}}",
            b"\xff\xfe",
            b"{\"items\":[1,",
        ] {
            assert!(SpanContainer::from_json(bad).is_err(), "{bad:?}");
        }
        let deep = format!(
            "{{\"items\":[{}{}]}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(SpanContainer::from_json(deep.as_bytes()).is_err());
        let many = format!(
            "{{\"items\":[{}]}}",
            vec![r#"{"name":"s","start_timestamp":1,"end_timestamp":2}"#; 5000].join(",")
        );
        assert_eq!(
            SpanContainer::from_json(many.as_bytes())
                .unwrap()
                .spans
                .len(),
            5000
        );
    }
}
