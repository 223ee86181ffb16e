//! Item types and their rate-limit data categories.

use std::fmt;

macro_rules! item_types {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// The `type` of an envelope item.
        ///
        /// Names follow Relay's list. Any other name parses to [`ItemType::Unknown`], which keeps
        /// the name; items of unknown type are kept with their bytes, never refused.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ItemType {
            $(#[doc = $doc] $variant,)*
            /// A type this crate does not know, with its name as sent.
            Unknown(String),
        }

        impl ItemType {
            /// The wire name (`event`, `check_in`, ...; unknown types give their own name).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Unknown(name) => name,
                }
            }

            /// Parses a wire name; never fails (unknown names become [`ItemType::Unknown`]).
            ///
            /// `profile_chunk_ui`, sent by some Android SDK versions, is read as
            /// [`ItemType::ProfileChunk`].
            pub fn from_name(name: &str) -> Self {
                match name {
                    $($name => Self::$variant,)*
                    "profile_chunk_ui" => Self::ProfileChunk,
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }
    };
}

item_types! {
    Event => "event", "An error or message event (JSON).";
    Transaction => "transaction", "A performance transaction (JSON).";
    Security => "security", "A security report produced by an ingest server.";
    RawSecurity => "raw_security", "A raw browser security report.";
    Nel => "nel", "A network error logging report.";
    Attachment => "attachment", "An attachment: opaque bytes with a file name.";
    FormData => "form_data", "Multipart form fields (internal).";
    UnrealReport => "unreal_report", "An Unreal Engine crash report.";
    UserReport => "user_report", "Legacy user feedback tied to an event.";
    Feedback => "feedback", "User feedback (JSON event).";
    Session => "session", "One release-health session update.";
    Sessions => "sessions", "Aggregated sessions from server-mode SDKs.";
    ClientReport => "client_report", "Counts of data the client dropped.";
    CheckIn => "check_in", "A cron monitor check-in.";
    Profile => "profile", "A transaction profile (v1).";
    ProfileChunk => "profile_chunk", "A continuous profiling chunk (v2).";
    ReplayEvent => "replay_event", "Session replay metadata (JSON).";
    ReplayRecording => "replay_recording", "Session replay recording (binary).";
    ReplayVideo => "replay_video", "Session replay video segment (binary).";
    Span => "span", "A span, or a container of spans.";
    OtelSpan => "otel_span", "An OpenTelemetry span.";
    Log => "log", "A container of log records.";
    TraceMetric => "trace_metric", "A container of trace metrics.";
    Statsd => "statsd", "Deprecated statsd metrics (text).";
    MetricBuckets => "metric_buckets", "Deprecated metric buckets.";
    MetricMeta => "metric_meta", "Deprecated metric metadata.";
}

impl ItemType {
    /// True for the types that need an envelope `event_id`.
    pub fn requires_event(&self) -> bool {
        matches!(
            self,
            Self::Event
                | Self::Transaction
                | Self::Attachment
                | Self::UserReport
                | Self::Feedback
                | Self::ReplayEvent
                | Self::Profile
                | Self::Security
        )
    }

    /// True for types whose payload is JSON text.
    pub fn is_json(&self) -> bool {
        matches!(
            self,
            Self::Event
                | Self::Transaction
                | Self::Security
                | Self::RawSecurity
                | Self::Nel
                | Self::UserReport
                | Self::Feedback
                | Self::Session
                | Self::Sessions
                | Self::ClientReport
                | Self::CheckIn
                | Self::Profile
                | Self::ProfileChunk
                | Self::ReplayEvent
                | Self::Span
                | Self::OtelSpan
                | Self::Log
                | Self::TraceMetric
        )
    }

    /// The rate-limit categories an item of this type counts against (empty: never limited).
    pub fn data_categories(&self) -> &'static [crate::DataCategory] {
        use crate::DataCategory as C;
        match self {
            Self::Event => &[C::Error],
            Self::Transaction => &[C::Transaction],
            Self::Security | Self::RawSecurity | Self::Nel => &[C::Security],
            Self::Attachment | Self::UnrealReport => &[C::Attachment],
            Self::UserReport => &[C::Default],
            Self::Feedback => &[C::Feedback],
            Self::Session | Self::Sessions => &[C::Session],
            Self::CheckIn => &[C::Monitor],
            Self::Profile => &[C::Profile],
            Self::ProfileChunk => &[C::ProfileChunk],
            Self::ReplayEvent | Self::ReplayRecording | Self::ReplayVideo => &[C::Replay],
            Self::Span | Self::OtelSpan => &[C::Span],
            Self::Log => &[C::LogItem, C::LogByte],
            Self::TraceMetric => &[C::TraceMetric],
            Self::ClientReport
            | Self::FormData
            | Self::Statsd
            | Self::MetricBuckets
            | Self::MetricMeta
            | Self::Unknown(_) => &[],
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ItemType {
    fn from(name: &str) -> Self {
        Self::from_name(name)
    }
}
