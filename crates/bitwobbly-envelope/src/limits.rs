//! Size and count limits per item type and per envelope, with Relay's defaults.

use crate::{Envelope, EnvelopeError, ItemType};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Size and count limits. `Limits::default()` has Relay's default values.
///
/// Unknown item types are not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Whole envelope after decompression. Default 200 MiB.
    pub max_envelope_size: usize,
    /// Each event, transaction, security, raw_security, replay_event, feedback or form_data
    /// item; at most one such item per envelope. Default 1 MiB.
    pub max_event_size: usize,
    /// Each attachment, unreal_report or user_report item. Default 200 MiB.
    pub max_attachment_size: usize,
    /// Sum of those per envelope. Default 200 MiB.
    pub max_attachments_size: usize,
    /// Attachments (and unreal reports) per envelope. Default 30.
    pub max_attachment_count: usize,
    /// `session` plus `sessions` items per envelope. Default 100.
    pub max_session_count: usize,
    /// Each session item and their sum. Default 10 MiB.
    pub max_sessions_size: usize,
    /// Each client_report item. Default 100 KiB.
    pub max_client_report_size: usize,
    /// client_report items per envelope. Default 100.
    pub max_client_report_count: usize,
    /// The check_in item (one per envelope). Default 100 KiB.
    pub max_check_in_size: usize,
    /// A profile or profile_chunk item (one of each per envelope). Default 50 MiB.
    pub max_profile_size: usize,
    /// A replay_recording or replay_video item (one of each per envelope). Default 10 MiB.
    pub max_replay_compressed_size: usize,
    /// A statsd or metric_buckets item (one of each per envelope). Default 1 MiB.
    pub max_statsd_size: usize,
    /// Average size of one log in a log container. Default 2 MiB.
    pub max_log_size: usize,
    /// Average size of one metric in a trace_metric container. Default 1 MiB.
    pub max_trace_metric_size: usize,
    /// Each standalone span. Default 10 MiB.
    pub max_span_size: usize,
    /// Standalone (non-container) spans per envelope. Default 25.
    pub max_standalone_span_count: usize,
    /// A log, span or trace_metric container. Default 12 MiB.
    pub max_container_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_envelope_size: 200 * MIB,
            max_event_size: MIB,
            max_attachment_size: 200 * MIB,
            max_attachments_size: 200 * MIB,
            max_attachment_count: 30,
            max_session_count: 100,
            max_sessions_size: 10 * MIB,
            max_client_report_size: 100 * KIB,
            max_client_report_count: 100,
            max_check_in_size: 100 * KIB,
            max_profile_size: 50 * MIB,
            max_replay_compressed_size: 10 * MIB,
            max_statsd_size: MIB,
            max_log_size: 2 * MIB,
            max_trace_metric_size: MIB,
            max_span_size: 10 * MIB,
            max_standalone_span_count: 25,
            max_container_size: 12 * MIB,
        }
    }
}

/// One counter: how many items of a kind were seen and their total size.
#[derive(Default)]
struct Tally {
    count: usize,
    size: usize,
}

impl Tally {
    fn add(&mut self, size: usize) {
        self.count += 1;
        self.size = self.size.saturating_add(size);
    }
}

impl Limits {
    /// Relay's defaults (same as `Limits::default()`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the wire size of a whole envelope (call before parsing).
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::EnvelopeTooLarge`] when `size` is over `max_envelope_size`.
    pub fn check_envelope_size(&self, size: usize) -> Result<(), EnvelopeError> {
        if size > self.max_envelope_size {
            return Err(EnvelopeError::EnvelopeTooLarge {
                size,
                limit: self.max_envelope_size,
            });
        }
        Ok(())
    }

    /// Checks every item against its size and count limits; stops at the first offender.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::ItemTooLarge`] or [`EnvelopeError::TooManyItems`] naming the item.
    pub fn check(&self, envelope: &Envelope) -> Result<(), EnvelopeError> {
        let mut event_class = Tally::default();
        let mut attachments = Tally::default();
        let mut sessions = Tally::default();
        let mut client_reports = Tally::default();
        let mut check_ins = Tally::default();
        let mut profiles = Tally::default();
        let mut profile_chunks = Tally::default();
        let mut recordings = Tally::default();
        let mut videos = Tally::default();
        let mut statsd = Tally::default();
        let mut buckets = Tally::default();
        let mut logs = Tally::default();
        let mut metrics = Tally::default();
        let mut span_containers = Tally::default();
        let mut spans = Tally::default();

        for (index, item) in envelope.items().iter().enumerate() {
            let size = item.payload().len();
            let too_large = |limit: usize, size: usize| EnvelopeError::ItemTooLarge {
                index,
                item_type: item.ty().as_str().to_owned(),
                size,
                limit,
            };
            let too_many = |kind: &'static str, limit: usize| EnvelopeError::TooManyItems {
                index,
                kind,
                limit,
            };
            // (tally, per-item limit, count limit, kind name, sum limit)
            let (tally, max_size, max_count, kind, max_sum): (
                &mut Tally,
                usize,
                usize,
                &'static str,
                Option<usize>,
            ) = match item.ty() {
                ItemType::Event
                | ItemType::Transaction
                | ItemType::Security
                | ItemType::RawSecurity
                | ItemType::ReplayEvent
                | ItemType::Feedback
                | ItemType::FormData => (&mut event_class, self.max_event_size, 1, "event", None),
                ItemType::Attachment | ItemType::UnrealReport => (
                    &mut attachments,
                    self.max_attachment_size,
                    self.max_attachment_count,
                    "attachment",
                    Some(self.max_attachments_size),
                ),
                ItemType::UserReport => {
                    if size > self.max_attachment_size {
                        return Err(too_large(self.max_attachment_size, size));
                    }
                    continue;
                }
                ItemType::Session | ItemType::Sessions => (
                    &mut sessions,
                    self.max_sessions_size,
                    self.max_session_count,
                    "session",
                    Some(self.max_sessions_size),
                ),
                ItemType::ClientReport => (
                    &mut client_reports,
                    self.max_client_report_size,
                    self.max_client_report_count,
                    "client_report",
                    None,
                ),
                ItemType::CheckIn => (&mut check_ins, self.max_check_in_size, 1, "check_in", None),
                ItemType::Profile => (&mut profiles, self.max_profile_size, 1, "profile", None),
                ItemType::ProfileChunk => (
                    &mut profile_chunks,
                    self.max_profile_size,
                    1,
                    "profile_chunk",
                    None,
                ),
                ItemType::ReplayRecording => (
                    &mut recordings,
                    self.max_replay_compressed_size,
                    1,
                    "replay_recording",
                    None,
                ),
                ItemType::ReplayVideo => (
                    &mut videos,
                    self.max_replay_compressed_size,
                    1,
                    "replay_video",
                    None,
                ),
                ItemType::Statsd => (&mut statsd, self.max_statsd_size, 1, "statsd", None),
                ItemType::MetricBuckets => (
                    &mut buckets,
                    self.max_statsd_size,
                    1,
                    "metric_buckets",
                    None,
                ),
                ItemType::Log => {
                    self.check_container(size, item.item_count(), self.max_log_size)
                        .map_err(|limit| too_large(limit, size))?;
                    (&mut logs, usize::MAX, 1, "log", None)
                }
                ItemType::TraceMetric => {
                    self.check_container(size, item.item_count(), self.max_trace_metric_size)
                        .map_err(|limit| too_large(limit, size))?;
                    (&mut metrics, usize::MAX, 1, "trace_metric", None)
                }
                ItemType::Span if item.item_count().is_some() => {
                    self.check_container(size, item.item_count(), self.max_span_size)
                        .map_err(|limit| too_large(limit, size))?;
                    (&mut span_containers, usize::MAX, 1, "span container", None)
                }
                ItemType::Span | ItemType::OtelSpan => (
                    &mut spans,
                    self.max_span_size,
                    self.max_standalone_span_count,
                    "span",
                    None,
                ),
                _ => continue,
            };
            if size > max_size {
                return Err(too_large(max_size, size));
            }
            tally.add(size);
            if tally.count > max_count {
                return Err(too_many(kind, max_count));
            }
            if let Some(max_sum) = max_sum
                && tally.size > max_sum
            {
                return Err(too_large(max_sum, tally.size));
            }
        }
        Ok(())
    }

    /// Checks a container's total size and its average size per entry; returns the limit
    /// that was crossed.
    fn check_container(
        &self,
        size: usize,
        item_count: Option<u32>,
        per_entry: usize,
    ) -> Result<(), usize> {
        if size > self.max_container_size {
            return Err(self.max_container_size);
        }
        let count = item_count.unwrap_or(1).max(1) as usize;
        if size / count > per_entry {
            return Err(per_entry);
        }
        Ok(())
    }
}
