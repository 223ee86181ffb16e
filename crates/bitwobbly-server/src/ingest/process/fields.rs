//! The few fields processing reads beyond `bitwobbly_envelope`'s extraction: title, culprit,
//! tags and user of an event, transaction timings, client reports and feedback. Every reader
//! is lenient (a wrong type skips the field, never the item) and bounded (strings clipped,
//! at most [`MAX_TAGS`] tags).

use std::borrow::Cow;
use std::collections::BTreeMap;

use bitwobbly_envelope::{EventInfo, ItemType, LenientStr, Timestamp as SentryTime};
use bitwobbly_store::model::{ClientReportCount, NewFeedback, NewTransaction};
use bitwobbly_store::types::{ProjectId, Timestamp};
use serde::Deserialize;

/// Most tags kept per event.
pub(crate) const MAX_TAGS: usize = 100;
/// Longest tag key and value kept (Sentry's limits).
const TAG_KEY_MAX: usize = 200;
const TAG_VALUE_MAX: usize = 200;
/// Longest title and culprit kept.
const TITLE_MAX: usize = 200;
/// Longest feedback message kept (Relay's limit).
const MESSAGE_MAX: usize = 4096;

/// `s` cut to `max` characters (with an ellipsis when cut).
pub(crate) fn clip(s: &str, max: usize) -> String {
    bitwobbly_core::monitor::truncate_chars(s, max)
}

/// A known level, or `error`.
pub(crate) fn level(level: Option<&str>) -> String {
    match level.map(str::to_ascii_lowercase).as_deref() {
        Some(l @ ("fatal" | "error" | "warning" | "info" | "debug")) => l.to_owned(),
        Some("warn") => "warning".to_owned(),
        Some("critical") => "fatal".to_owned(),
        Some("log") => "info".to_owned(),
        _ => "error".to_owned(),
    }
}

/// A client time (seconds) as a stored time: never after `received`, and `received` when
/// missing or not a usable number.
pub(crate) fn timestamp(seconds: Option<f64>, received: Timestamp) -> Timestamp {
    match seconds {
        Some(s) if s.is_finite() && s > 0.0 && s < 1e11 => {
            Timestamp::from_millis(((s * 1000.0) as i64).min(received.as_millis()))
        }
        _ => received,
    }
}

/// The first non-empty line of `s`.
fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// An issue title: `Type: first line of value` of the primary exception, else the first line
/// of the message, else `<unlabeled event>`; at most 200 characters.
pub fn title(info: &EventInfo<'_>) -> String {
    let t = if let Some(e) = info.primary_exception() {
        let ty = e.ty.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let value = e.value.as_deref().map(first_line).filter(|v| !v.is_empty());
        match (ty, value) {
            (Some(t), Some(v)) => format!("{t}: {v}"),
            (Some(t), None) => t.to_owned(),
            (None, Some(v)) => v.to_owned(),
            (None, None) => String::new(),
        }
    } else {
        String::new()
    };
    let t = if t.is_empty() {
        info.message
            .as_deref()
            .map(first_line)
            .unwrap_or("")
            .to_owned()
    } else {
        t
    };
    if t.is_empty() {
        return "<unlabeled event>".to_owned();
    }
    clip(&t, TITLE_MAX)
}

/// Where it happened: the event's own `culprit`, else its `transaction`, else the crash frame
/// of the primary exception (`module in function`, the file name when there is no module).
pub fn culprit(info: &EventInfo<'_>, explicit: Option<&str>) -> Option<String> {
    if let Some(c) = explicit.map(str::trim).filter(|c| !c.is_empty()) {
        return Some(clip(c, TITLE_MAX));
    }
    if let Some(t) = info
        .transaction
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Some(clip(t, TITLE_MAX));
    }
    let e = info.primary_exception()?;
    let frame = e
        .frames
        .iter()
        .rev()
        .find(|f| f.in_app == Some(true))
        .or_else(|| e.frames.last())?;
    let place = frame
        .module
        .as_deref()
        .or(frame.filename.as_deref())
        .or(frame.abs_path.as_deref());
    let s = match (place, frame.function.as_deref()) {
        (Some(p), Some(f)) => format!("{p} in {f}"),
        (Some(p), None) => p.to_owned(),
        (None, Some(f)) => f.to_owned(),
        (None, None) => return None,
    };
    Some(clip(&s, TITLE_MAX))
}

/// A JSON value kept only when it has the expected type.
#[derive(Debug)]
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Self(T::deserialize(v).ok()))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTags {
    Map(BTreeMap<String, Lenient<LenientOwned>>),
    Pairs(Vec<Lenient<(LenientOwned, LenientOwned)>>),
}

/// A string, number or bool as a string.
#[derive(Debug)]
struct LenientOwned(String);

impl<'de> Deserialize<'de> for LenientOwned {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = LenientStr::deserialize(d)?;
        Ok(Self(s.as_str().to_owned()))
    }
}

#[derive(Deserialize, Default)]
struct RawUser {
    #[serde(default)]
    id: Lenient<LenientOwned>,
    #[serde(default)]
    email: Lenient<String>,
    #[serde(default)]
    username: Lenient<String>,
    #[serde(default)]
    ip_address: Lenient<String>,
}

#[derive(Deserialize, Default)]
struct RawExtra {
    #[serde(default)]
    tags: Lenient<RawTags>,
    #[serde(default)]
    culprit: Lenient<String>,
    /// Only an object (serde would also read a struct from an array).
    #[serde(default)]
    user: Lenient<serde_json::Map<String, serde_json::Value>>,
}

/// An event's tags, explicit culprit and user identity.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EventExtra {
    /// Tags, keys trimmed and spaces replaced by `-`, sorted by key, at most [`MAX_TAGS`].
    pub(crate) tags: Vec<(String, String)>,
    /// The event's own `culprit`.
    pub(crate) culprit: Option<String>,
    /// `user.id`, else email, username or IP address, prefixed by which it is.
    pub(crate) user: Option<String>,
}

impl EventExtra {
    /// Reads the fields; anything unusable is left out.
    pub(crate) fn from_json(payload: &[u8]) -> Self {
        let raw: RawExtra = serde_json::from_slice(payload).unwrap_or_default();
        let mut tags: Vec<(String, String)> = match raw.tags.0 {
            Some(RawTags::Map(m)) => m
                .into_iter()
                .filter_map(|(k, v)| v.0.map(|v| (k, v.0)))
                .collect(),
            Some(RawTags::Pairs(p)) => p
                .into_iter()
                .filter_map(|kv| kv.0.map(|(k, v)| (k.0, v.0)))
                .collect(),
            None => vec![],
        };
        tags = tags
            .into_iter()
            .map(|(k, v)| {
                (
                    clip(&k.trim().replace(' ', "-"), TAG_KEY_MAX),
                    clip(&v, TAG_VALUE_MAX),
                )
            })
            .filter(|(k, _)| !k.is_empty())
            .collect();
        tags.sort();
        tags.dedup_by(|a, b| a.0 == b.0);
        tags.truncate(MAX_TAGS);
        let user = raw.user.0.and_then(|u| {
            let u = RawUser::deserialize(serde_json::Value::Object(u)).ok()?;
            let pick = |prefix: &str, v: Option<String>| {
                v.filter(|s| !s.is_empty() && s != "{{auto}}")
                    .map(|s| format!("{prefix}:{s}"))
            };
            pick("id", u.id.0.map(|v| v.0))
                .or_else(|| pick("email", u.email.0))
                .or_else(|| pick("username", u.username.0))
                .or_else(|| pick("ip", u.ip_address.0))
        });
        Self {
            tags,
            culprit: raw.culprit.0,
            user,
        }
    }
}

#[derive(Deserialize, Default)]
struct RawTrace {
    #[serde(default)]
    op: Lenient<String>,
    #[serde(default)]
    status: Lenient<String>,
    #[serde(default)]
    trace_id: Lenient<String>,
}

#[derive(Deserialize, Default)]
struct RawContexts {
    #[serde(default)]
    trace: Lenient<RawTrace>,
}

#[derive(Deserialize)]
struct RawTransaction<'a> {
    #[serde(default)]
    event_id: Lenient<String>,
    #[serde(default, borrow)]
    transaction: Option<Cow<'a, str>>,
    #[serde(default)]
    start_timestamp: Lenient<SentryTime>,
    #[serde(default)]
    timestamp: Lenient<SentryTime>,
    #[serde(default)]
    contexts: Lenient<RawContexts>,
    #[serde(default)]
    release: Lenient<LenientOwned>,
    #[serde(default)]
    environment: Lenient<String>,
}

/// A transaction item as a row; `None` without a name or timestamps.
pub(crate) fn transaction(
    payload: &[u8],
    project: ProjectId,
    envelope_event_id: Option<&str>,
    received: Timestamp,
) -> Option<NewTransaction> {
    let raw: RawTransaction<'_> = serde_json::from_slice(payload).ok()?;
    let trace = raw.contexts.0.and_then(|c| c.trace.0).unwrap_or_default();
    let event_id = envelope_event_id.map(str::to_owned).or(raw.event_id.0);
    transaction_row(
        TransactionFields {
            event_id: event_id.as_deref(),
            name: raw.transaction.as_deref(),
            start: raw.start_timestamp.0.map(|t| t.0),
            end: raw.timestamp.0.map(|t| t.0),
            op: trace.op.0.as_deref(),
            status: trace.status.0.as_deref(),
            release: raw.release.0.as_ref().map(|r| r.0.as_str()),
            environment: raw.environment.0.as_deref(),
            trace_id: trace.trace_id.0.as_deref(),
        },
        project,
        received,
    )
}

/// What a transaction row is made of, read from a `transaction` item or from the segment
/// span of a span v2 container (see `spans`).
#[derive(Debug, Default)]
pub(crate) struct TransactionFields<'a> {
    /// The event id (or, for a span, the span id).
    pub(crate) event_id: Option<&'a str>,
    /// The transaction name.
    pub(crate) name: Option<&'a str>,
    /// Start, seconds since the epoch.
    pub(crate) start: Option<f64>,
    /// End, seconds since the epoch.
    pub(crate) end: Option<f64>,
    /// Operation (`http.server`, ...).
    pub(crate) op: Option<&'a str>,
    /// Status (`ok`, `internal_error`, ...).
    pub(crate) status: Option<&'a str>,
    /// Release.
    pub(crate) release: Option<&'a str>,
    /// Environment.
    pub(crate) environment: Option<&'a str>,
    /// Trace id.
    pub(crate) trace_id: Option<&'a str>,
}

/// A transaction row; `None` without a name, without timestamps, or ending before it starts.
pub(crate) fn transaction_row(
    f: TransactionFields<'_>,
    project: ProjectId,
    received: Timestamp,
) -> Option<NewTransaction> {
    let name = f.name.map(str::trim).filter(|n| !n.is_empty())?;
    let (start, end) = (f.start?, f.end?);
    if !(start.is_finite() && end.is_finite()) || end < start {
        return None;
    }
    let duration_us = ((end - start) * 1e6).round().min(1e15) as i64;
    Some(NewTransaction {
        project_id: project,
        event_id: f.event_id.map(|id| clip(id, 64)).unwrap_or_default(),
        name: clip(name, TITLE_MAX),
        op: f.op.map(|o| clip(o, 64)),
        duration_us,
        status: f.status.map(|s| clip(s, 64)),
        timestamp: timestamp(Some(end), received),
        release: f.release.map(|r| clip(r, 200)),
        environment: f.environment.map(|e| clip(e, 64)),
        trace_id: f.trace_id.map(|t| clip(t, 32)),
    })
}

#[derive(Deserialize)]
struct RawDiscard {
    #[serde(default)]
    reason: Lenient<String>,
    #[serde(default)]
    category: Lenient<String>,
    #[serde(default)]
    quantity: Lenient<u64>,
}

#[derive(Deserialize)]
struct RawClientReport {
    #[serde(default)]
    timestamp: Lenient<SentryTime>,
    #[serde(default)]
    discarded_events: Lenient<Vec<Lenient<RawDiscard>>>,
}

/// The counts of a client report (discarded events per category and reason).
pub(crate) fn client_report(
    payload: &[u8],
    project: ProjectId,
    received: Timestamp,
) -> Vec<ClientReportCount> {
    let Ok(raw) = serde_json::from_slice::<RawClientReport>(payload) else {
        return vec![];
    };
    let at = timestamp(raw.timestamp.0.map(|t| t.0), received).floor_hour();
    raw.discarded_events
        .0
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.0)
        .take(100)
        .filter_map(|d| {
            Some(ClientReportCount {
                project_id: project,
                bucket_start: at,
                category: clip(&d.category.0?, 64),
                reason: clip(&d.reason.0?, 64),
                quantity: i64::try_from(d.quantity.0.unwrap_or(0).min(1 << 40)).ok()?,
            })
        })
        .filter(|c| c.quantity > 0)
        .collect()
}

#[derive(Deserialize, Default)]
struct RawFeedbackContext {
    #[serde(default)]
    message: Lenient<String>,
    #[serde(default)]
    contact_email: Lenient<String>,
    #[serde(default)]
    name: Lenient<String>,
    #[serde(default)]
    url: Lenient<String>,
    #[serde(default)]
    associated_event_id: Lenient<String>,
}

#[derive(Deserialize, Default)]
struct RawFeedbackContexts {
    #[serde(default)]
    feedback: Lenient<RawFeedbackContext>,
}

#[derive(Deserialize)]
struct RawFeedback {
    #[serde(default)]
    event_id: Lenient<String>,
    #[serde(default)]
    contexts: Lenient<RawFeedbackContexts>,
    // user_report fields
    #[serde(default)]
    email: Lenient<String>,
    #[serde(default)]
    name: Lenient<String>,
    #[serde(default)]
    comments: Lenient<String>,
}

/// A `feedback` or `user_report` item as a row; `None` without a message.
pub(crate) fn feedback(
    ty: &ItemType,
    payload: &[u8],
    project: ProjectId,
    envelope_event_id: Option<&str>,
    received: Timestamp,
) -> Option<NewFeedback> {
    let raw: RawFeedback = serde_json::from_slice(payload).ok()?;
    let id = |s: String| clip(&s.replace('-', "").to_ascii_lowercase(), 64);
    let (kind, event_id, associated, name, email, message, url) = if *ty == ItemType::UserReport {
        (
            "user_report",
            None,
            raw.event_id.0.or(envelope_event_id.map(str::to_owned)),
            raw.name.0,
            raw.email.0,
            raw.comments.0?,
            None,
        )
    } else {
        let f = raw
            .contexts
            .0
            .and_then(|c| c.feedback.0)
            .unwrap_or_default();
        (
            "feedback",
            raw.event_id.0.or(envelope_event_id.map(str::to_owned)),
            f.associated_event_id.0,
            f.name.0,
            f.contact_email.0,
            f.message.0?,
            f.url.0,
        )
    };
    if message.trim().is_empty() {
        return None;
    }
    Some(NewFeedback {
        project_id: project,
        kind: kind.to_owned(),
        event_id: event_id.map(id),
        associated_event_id: associated.map(id),
        name: name.map(|n| clip(&n, 128)),
        email: email.map(|e| clip(&e, 128)),
        message: clip(&message, MESSAGE_MAX),
        url: url.map(|u| clip(&u, 2048)),
        received_at: received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(json: &str) -> EventInfo<'_> {
        EventInfo::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn titles_and_culprits() {
        let e = info(
            r#"{"exception":{"values":[{"type":"KeyError","value":"'a'\nmore","stacktrace":{"frames":[
                {"module":"lib","function":"inner","in_app":false},
                {"module":"app.views","function":"index","in_app":true},
                {"module":"lib2","function":"deep","in_app":false}]}}]}}"#,
        );
        assert_eq!(title(&e), "KeyError: 'a'");
        assert_eq!(culprit(&e, None).as_deref(), Some("app.views in index"));
        assert_eq!(culprit(&e, Some("given")).as_deref(), Some("given"));
        let m = info(r#"{"message":"\n  disk full on /dev/sda1\nsecond","transaction":"/api"}"#);
        assert_eq!(title(&m), "disk full on /dev/sda1");
        assert_eq!(culprit(&m, None).as_deref(), Some("/api"));
        assert_eq!(title(&info("{}")), "<unlabeled event>");
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(10_000));
        assert_eq!(title(&info(&long)).chars().count(), 200);
    }

    #[test]
    fn tags_in_both_shapes_with_wrong_types_skipped() {
        let e = EventExtra::from_json(br#"{"tags":{"b":"2","a b":1,"c":true,"d":{"x":1}}}"#);
        assert_eq!(
            e.tags,
            vec![
                ("a-b".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "true".into())
            ]
        );
        let e = EventExtra::from_json(br#"{"tags":[["k","v"],["bad"],7],"user":{"id":42}}"#);
        assert_eq!(e.tags, vec![("k".into(), "v".into())]);
        assert_eq!(e.user.as_deref(), Some("id:42"));
        let e = EventExtra::from_json(br#"{"tags":"nope","user":[1],"culprit":3}"#);
        assert_eq!(e, EventExtra::default());
        let many: String = (0..1000)
            .map(|i| format!(r#""k{i}":"v""#))
            .collect::<Vec<_>>()
            .join(",");
        let e = EventExtra::from_json(format!("{{\"tags\":{{{many}}}}}").as_bytes());
        assert_eq!(e.tags.len(), MAX_TAGS);
    }

    #[test]
    fn levels_and_timestamps_are_normalised() {
        assert_eq!(level(Some("WARN")), "warning");
        assert_eq!(level(Some("nonsense")), "error");
        assert_eq!(level(None), "error");
        let now = Timestamp::from_millis(1_700_000_000_000);
        assert_eq!(
            timestamp(Some(1_600_000_000.5), now).as_millis(),
            1_600_000_000_500
        );
        assert_eq!(timestamp(Some(2e9), now), now);
        assert_eq!(timestamp(Some(f64::NAN), now), now);
        assert_eq!(timestamp(Some(-5.0), now), now);
    }

    #[test]
    fn transactions_client_reports_and_feedback() {
        let p = ProjectId(1);
        let now = Timestamp::from_millis(1_700_000_000_000);
        let t = transaction(
            br#"{"transaction":"/users","start_timestamp":1600000000.0,"timestamp":1600000000.25,
                "contexts":{"trace":{"op":"http.server","status":"internal_error","trace_id":"ab"}}}"#,
            p,
            Some("e1"),
            now,
        )
        .unwrap();
        assert_eq!(
            (t.duration_us, t.op.as_deref(), t.status.as_deref()),
            (250_000, Some("http.server"), Some("internal_error"))
        );
        assert!(
            transaction(
                br#"{"transaction":"x","start_timestamp":5,"timestamp":1}"#,
                p,
                None,
                now
            )
            .is_none()
        );
        let r = client_report(
            br#"{"timestamp":1600000000,"discarded_events":[{"reason":"queue_overflow","category":"error","quantity":3},{"reason":1},"x"]}"#,
            p,
            now,
        );
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].reason.as_str(), r[0].quantity), ("queue_overflow", 3));
        let f = feedback(
            &ItemType::Feedback,
            br#"{"event_id":"AB-CD","contexts":{"feedback":{"message":"broken","contact_email":"a@b","associated_event_id":"EF"}}}"#,
            p,
            None,
            now,
        )
        .unwrap();
        assert_eq!(
            (
                f.kind.as_str(),
                f.associated_event_id.as_deref(),
                f.event_id.as_deref()
            ),
            ("feedback", Some("ef"), Some("abcd"))
        );
        let u = feedback(
            &ItemType::UserReport,
            br#"{"event_id":"12","comments":"hi","name":"N"}"#,
            p,
            None,
            now,
        )
        .unwrap();
        assert_eq!(
            (u.kind.as_str(), u.associated_event_id.as_deref()),
            ("user_report", Some("12"))
        );
        assert!(feedback(&ItemType::UserReport, br#"{"comments":5}"#, p, None, now).is_none());
    }
}
