//! Formatting of `X-Sentry-Rate-Limits` and `Retry-After`.

use std::fmt::{self, Write as _};

/// A rate-limit data category, as SDKs know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataCategory {
    /// Events without a more specific category.
    Default,
    /// Error events.
    Error,
    /// Transactions.
    Transaction,
    /// Cron check-ins.
    Monitor,
    /// Spans.
    Span,
    /// Log records (count).
    LogItem,
    /// Log records (bytes).
    LogByte,
    /// Security reports.
    Security,
    /// Attachments (bytes).
    Attachment,
    /// Sessions.
    Session,
    /// Profiles.
    Profile,
    /// Continuous profiling chunks.
    ProfileChunk,
    /// Session replays.
    Replay,
    /// User feedback.
    Feedback,
    /// Trace metrics.
    TraceMetric,
    /// Trace metrics (bytes).
    TraceMetricByte,
    /// Internal data such as client reports.
    Internal,
}

impl DataCategory {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Error => "error",
            Self::Transaction => "transaction",
            Self::Monitor => "monitor",
            Self::Span => "span",
            Self::LogItem => "log_item",
            Self::LogByte => "log_byte",
            Self::Security => "security",
            Self::Attachment => "attachment",
            Self::Session => "session",
            Self::Profile => "profile",
            Self::ProfileChunk => "profile_chunk",
            Self::Replay => "replay",
            Self::Feedback => "feedback",
            Self::TraceMetric => "trace_metric",
            Self::TraceMetricByte => "trace_metric_byte",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for DataCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimitScope {
    /// The whole organisation (workspace).
    Organization,
    /// One project.
    Project,
    /// One client key.
    Key,
}

impl RateLimitScope {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Project => "project",
            Self::Key => "key",
        }
    }
}

/// One active limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Seconds until the limit lifts; written as an integer, at least 1.
    pub retry_after_secs: u64,
    /// Limited categories; empty means all of them.
    pub categories: Vec<DataCategory>,
    /// Who is limited.
    pub scope: RateLimitScope,
    /// A reason code such as `org_quota` (a token: letters, digits, `_`, `-`), or `None`.
    pub reason_code: Option<String>,
}

/// Formats an `X-Sentry-Rate-Limits` value: `<secs>:<cat;cat>:<scope>[:<reason>]` joined with
/// `", "`. Seconds are integers (at least 1) and the scope is always written, because some
/// SDK parsers skip a limit without one. Characters of a reason code outside
/// `[A-Za-z0-9_-]` are dropped so that the header stays well formed.
///
/// Returns `None` for an empty list: never send the header without an active limit.
pub fn format_rate_limits(limits: &[RateLimit]) -> Option<String> {
    if limits.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, limit) in limits.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}:", limit.retry_after_secs.max(1));
        for (j, cat) in limit.categories.iter().enumerate() {
            if j > 0 {
                out.push(';');
            }
            out.push_str(cat.as_str());
        }
        let _ = write!(out, ":{}", limit.scope.as_str());
        if let Some(reason) = &limit.reason_code {
            let clean: String = reason
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
                .collect();
            if !clean.is_empty() {
                let _ = write!(out, ":{clean}");
            }
        }
    }
    Some(out)
}

/// Formats `Retry-After` for a set of limits: the longest delay in integer seconds (at least
/// 1). Returns `None` for an empty list.
pub fn format_retry_after(limits: &[RateLimit]) -> Option<String> {
    limits
        .iter()
        .map(|l| l.retry_after_secs.max(1))
        .max()
        .map(|secs| secs.to_string())
}
