//! Sentry envelopes for Bit Wobbly, usable on their own.
//!
//! This crate turns the bytes an unmodified Sentry SDK sends into a typed [`Envelope`] and
//! back. Use it if you handle Sentry traffic yourself (a proxy, a tunnel, a test double, an
//! ingest server); it knows nothing about HTTP, storage or Bit Wobbly's other crates.
//!
//! - [`Envelope::parse`] / [`Envelope::write_to`]: binary-safe framing. Payloads are
//!   [`bytes::Bytes`] slices of the input, never copies.
//! - [`Dsn`], [`AuthSources`]: the DSN and every place a client key can arrive
//!   (`X-Sentry-Auth`, `Authorization`, the `sentry_key` query parameter, the envelope `dsn`).
//! - [`decompress()`]: gzip, deflate, br and zstd with a hard cap on the output.
//! - [`Limits`]: per item type and per envelope limits, with Relay's defaults.
//! - [`EventInfo`], [`CheckIn`], [`Session`], [`SessionAggregates`]: the few fields ingest
//!   needs, read with borrowed strings and everything else skipped.
//! - [`group()`]: a stable grouping fingerprint.
//! - [`format_rate_limits`], [`format_retry_after`]: response headers for rate limiting.
//!
//! All errors are one [`EnvelopeError`]; nothing panics on hostile input.
//!
//! # Wire format
//!
//! An envelope is a JSON header line, then items; each item is a JSON header line and a
//! payload. Lines end in `\n` only. An item header with `length` is followed by exactly that
//! many bytes (any bytes: binary, NUL, `\r\n`); without `length`, the payload runs to the next
//! `\n`. The newline after the last payload is optional.
//!
//! ```text
//! {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2025-01-01T00:00:00Z"}
//! {"type":"attachment","length":10,"content_type":"text/plain","filename":"hello.txt"}
//! \xef\xbb\xbfHello\r\n
//! {"type":"event","length":41,"content_type":"application/json"}
//! {"message":"hello world","level":"error"}
//! ```
//!
//! # Example
//!
//! ```
//! use bitwobbly_envelope::{Envelope, EventInfo, ItemType, Limits, group};
//!
//! let body = bytes::Bytes::from_static(
//!     b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
//!       {\"type\":\"event\"}\n\
//!       {\"message\":\"user 42 not found\",\"level\":\"error\"}\n",
//! );
//! let envelope = Envelope::parse(body)?;
//! Limits::default().check(&envelope)?;
//! let event = envelope.item_of(&ItemType::Event).expect("has an event");
//! let info = EventInfo::from_json(event.payload())?;
//! assert_eq!(info.level.as_deref(), Some("error"));
//! let grouping = group(&info);
//! assert_eq!(grouping.components, ["message:user <int> not found"]);
//! # Ok::<(), bitwobbly_envelope::EnvelopeError>(())
//! ```
//!
//! # Grouping algorithm (version `bitwobbly-1`)
//!
//! [`group`] builds a list of text components, then hashes them with SHA-256: the version
//! string, then for each component its byte length (8 bytes, little endian) and its bytes.
//! Length prefixes keep `["ab","c"]` and `["a","bc"]` apart. The first rule that yields
//! components wins:
//!
//! 1. **Fingerprint.** If the event has a non-empty `fingerprint`, each entry is used as is,
//!    except variables written `{{ name }}` (spaces optional): `{{ default }}` expands to the
//!    components of rules 2 to 5, and `transaction`, `type`/`error.type`, `level`, `logger`,
//!    `message`, `function`/`stack.function` and `module`/`stack.module` (of the crash frame)
//!    resolve to the event's values, or `<no-name>` when missing. A fingerprint of exactly
//!    `["{{ default }}"]` is the default grouping.
//! 2. **Stack trace.** For each exception of the chain (oldest first) that has frames: its
//!    type (unless `mechanism.synthetic`), then its in-app frames, or all frames when none is
//!    marked in-app. A frame contributes `module` (numbers and hex runs replaced) or else the
//!    lowercased base name of `filename` (skipped for URLs, `<anonymous>` and
//!    `[native code]`), plus the normalised function name (generated suffixes such as lambda
//!    ids, closure counters and Rust symbol hashes removed). Line and column numbers never
//!    count, and consecutive identical frames (recursion) count once.
//! 3. **Exception.** If no exception has frames: each exception's type and its normalised
//!    value.
//! 4. **Message.** Else the normalised `logentry.message`, `logentry.formatted` or `message`.
//! 5. **Fallback.** Else one constant component.
//!
//! Normalisation ([`normalize_message`]) keeps the first two non-empty lines and replaces, in
//! order, emails, URLs, UUIDs, dates and times, IPv4 and IPv6 addresses, SHA-1 and MD5
//! digests, `0x` and other hex ids, durations, floats and integers with placeholders such as
//! `<int>`, so `user 42 not found` and `user 7 not found` group together.

mod decompress;
mod dsn;
mod envelope;
mod error;
mod extract;
mod grouping;
mod item_type;
mod limits;
mod ratelimit;

pub use decompress::{ContentEncoding, decompress};
pub use dsn::{
    Auth, AuthSources, Dsn, KeySource, PROTOCOL_VERSION, PublicKey, parse_authorization,
    parse_envelope_dsn, parse_query, parse_x_sentry_auth,
};
pub use envelope::{Envelope, EnvelopeHeaders, EventId, Item};
pub use error::EnvelopeError;
pub use extract::{
    CheckIn, CheckInStatus, EventInfo, Exception, Frame, IntervalUnit, LenientStr, MonitorConfig,
    SPAN_V2_CONTENT_TYPE, Schedule, Session, SessionAggregate, SessionAggregates,
    SessionAttributes, SessionStatus, SpanContainer, SpanV2, Timestamp, parse_rfc3339,
};
pub use grouping::{
    GROUPING_VERSION, Grouping, GroupingBasis, group, normalize_function, normalize_message,
};
pub use item_type::ItemType;
pub use limits::Limits;
pub use ratelimit::{
    DataCategory, RateLimit, RateLimitScope, format_rate_limits, format_retry_after,
};
