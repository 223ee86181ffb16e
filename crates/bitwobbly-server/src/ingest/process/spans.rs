//! Span v2 containers (`span` items with `content_type`
//! `application/vnd.sentry.items.span.v2+json`): SDKs that stream spans, such as
//! `@sentry/node` 11, send a transaction as its spans, the segment (root) span among them.
//! Each segment span becomes a transaction row through the same code as a `transaction`
//! item ([`fields::transaction_row`]): name, op (`sentry.op`), duration, status, release
//! (`sentry.release`), environment (`sentry.environment`) and trace id. Child spans are kept
//! only in the raw envelope, like the spans of a `transaction` item.

use bitwobbly_envelope::{SpanContainer, SpanV2};
use bitwobbly_store::model::NewTransaction;
use bitwobbly_store::types::{ProjectId, Timestamp};

use super::fields::{self, TransactionFields};

/// Segment spans read from one container at most (Relay accepts 1000 spans per container).
const MAX_SEGMENTS: usize = 1000;

/// The transactions of a span v2 container: one per segment span that has a name and
/// timestamps; none when the payload is not a container.
pub(super) fn transactions(
    payload: &[u8],
    project: ProjectId,
    received: Timestamp,
) -> Vec<NewTransaction> {
    let Ok(container) = SpanContainer::from_json(payload) else {
        return vec![];
    };
    container
        .spans
        .iter()
        .filter(|s| s.is_segment())
        .take(MAX_SEGMENTS)
        .filter_map(|s| transaction(s, project, received))
        .collect()
}

fn transaction(s: &SpanV2<'_>, project: ProjectId, received: Timestamp) -> Option<NewTransaction> {
    fields::transaction_row(
        TransactionFields {
            event_id: s.span_id.as_deref(),
            name: s.name.as_deref(),
            start: s.start_timestamp,
            end: s.end_timestamp,
            op: s.op.as_deref(),
            status: s.status.as_deref().map(status),
            release: s.release.as_deref(),
            environment: s.environment.as_deref(),
            trace_id: s.trace_id.as_deref(),
        },
        project,
        received,
    )
}

/// A span v2 status as a transaction status: `error` is Sentry's generic failure
/// `internal_error`; `ok` and any other (older, specific) status stay as sent.
fn status(s: &str) -> &str {
    if s.eq_ignore_ascii_case("error") {
        "internal_error"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_spans_become_transactions() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let t = transactions(
            br#"{"version":2,"items":[
              {"name":"child","span_id":"b","parent_span_id":"a","start_timestamp":1700000000,
               "end_timestamp":1700000000.1,"is_segment":false},
              {"name":" checkout ","span_id":"a","trace_id":"952efca354534e898036f3ae689bc5b4",
               "start_timestamp":1700000000.0,"end_timestamp":1700000000.08,"is_segment":true,
               "status":"error","attributes":{"sentry.op":{"type":"string","value":"task"},
               "sentry.release":{"type":"string","value":"app@1"},
               "sentry.environment":{"type":"string","value":"prod"}}},
              {"name":"backwards","span_id":"c","start_timestamp":5,"end_timestamp":1},
              {"name":"","span_id":"d","start_timestamp":1,"end_timestamp":2},
              {"name":"unfinished","span_id":"e","start_timestamp":1}
            ]}"#,
            ProjectId(1),
            now,
        );
        assert_eq!(t.len(), 1, "{t:?}");
        let t = &t[0];
        assert_eq!(
            (t.name.as_str(), t.event_id.as_str(), t.duration_us),
            ("checkout", "a", 80_000)
        );
        assert_eq!(
            (
                t.op.as_deref(),
                t.status.as_deref(),
                t.release.as_deref(),
                t.environment.as_deref(),
                t.trace_id.as_deref()
            ),
            (
                Some("task"),
                Some("internal_error"),
                Some("app@1"),
                Some("prod"),
                Some("952efca354534e898036f3ae689bc5b4")
            )
        );
        assert_eq!(t.timestamp.as_millis(), 1_700_000_000_080);
        for bad in [
            &b"not json"[..],
            b"[]",
            b"{\"items\":7}",
            b"{\"items\":[[],{}]}",
        ] {
            assert!(transactions(bad, ProjectId(1), now).is_empty());
        }
    }
}
