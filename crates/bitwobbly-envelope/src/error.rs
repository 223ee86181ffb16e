//! The one error type of this crate.

use crate::decompress::ContentEncoding;

/// Everything that can go wrong while reading, checking or authenticating an envelope.
///
/// Context lives in fields (item index, header, limit), never only in the message. Use the
/// question methods ([`is_framing`](Self::is_framing), [`is_too_large`](Self::is_too_large),
/// [`is_auth`](Self::is_auth), [`item_index`](Self::item_index)) rather than matching on
/// variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The input held no bytes at all (not even an envelope header).
    #[error("envelope is empty")]
    Empty,
    /// The envelope header line is not a JSON object or a known key has the wrong type.
    #[error("invalid envelope header")]
    InvalidEnvelopeHeader {
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// The `event_id` of the envelope header is not a UUID.
    #[error("invalid event_id in envelope header")]
    InvalidEventId,
    /// An item header line is not a JSON object, lacks `type`, or has a badly typed key.
    #[error("invalid header of item {index}")]
    InvalidItemHeader {
        /// Zero-based index of the item.
        index: usize,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A header line ends in `\r\n`; only `\n` separates lines in an envelope.
    #[error(
        "carriage return before newline after header of item {index:?} (None = envelope header)"
    )]
    CarriageReturn {
        /// Item index, or `None` for the envelope header.
        index: Option<usize>,
    },
    /// An item declares a `length` running past the end of the input.
    #[error("item {index} declares length {declared} but only {available} bytes remain")]
    UnexpectedEof {
        /// Zero-based index of the item.
        index: usize,
        /// The `length` the item header declared.
        declared: u64,
        /// Bytes that were left after the item header.
        available: usize,
    },
    /// The byte after a length-framed payload is neither `\n` nor the end of the input.
    #[error("payload of item {index} is not followed by a newline")]
    MissingNewline {
        /// Zero-based index of the item.
        index: usize,
    },
    /// A DSN could not be parsed.
    #[error("invalid dsn: {problem}")]
    InvalidDsn {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An `X-Sentry-Auth`, `Authorization` or query value could not be parsed.
    #[error("invalid {source_name} authentication: {problem}")]
    InvalidAuth {
        /// Where the value came from (`x-sentry-auth`, `authorization`, `query`, `dsn`).
        source_name: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The client speaks a newer protocol than this crate understands.
    #[error("unsupported sentry_version {version}")]
    UnsupportedVersion {
        /// The declared version.
        version: u32,
    },
    /// No source carried a key.
    #[error("missing authorization information")]
    MissingKey,
    /// Two sources carried different keys.
    #[error("conflicting keys in {first} and {second}")]
    ConflictingKeys {
        /// The first source.
        first: &'static str,
        /// The source that disagreed with it.
        second: &'static str,
    },
    /// The `Content-Encoding` is not one this crate decodes.
    #[error("unsupported content encoding {encoding:?}")]
    UnsupportedEncoding {
        /// The header value as sent.
        encoding: String,
    },
    /// The compressed stream is corrupt.
    #[error("corrupt {encoding} body")]
    CorruptBody {
        /// The encoding being decoded.
        encoding: ContentEncoding,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// Decompressing produced more than the cap; decoding stopped there.
    #[error("{encoding} body decompresses to more than {limit} bytes")]
    DecompressedTooLarge {
        /// The encoding being decoded.
        encoding: ContentEncoding,
        /// The cap in bytes.
        limit: usize,
    },
    /// The whole envelope is larger than allowed.
    #[error("envelope is {size} bytes, over the limit of {limit}")]
    EnvelopeTooLarge {
        /// Size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// One item, or the sum of a kind of items, is larger than allowed.
    #[error("item {index} of type {item_type} is {size} bytes, over the limit of {limit}")]
    ItemTooLarge {
        /// Zero-based index of the item that crossed the limit.
        index: usize,
        /// The item's type name.
        item_type: String,
        /// Size in bytes (of the item, or the running total for sum limits).
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// An envelope has more items of one kind than allowed.
    #[error("too many {kind} items: item {index} exceeds the limit of {limit}")]
    TooManyItems {
        /// Zero-based index of the first item over the limit.
        index: usize,
        /// The kind of item counted (for example `event` or `attachment`).
        kind: &'static str,
        /// The allowed count.
        limit: usize,
    },
    /// An item payload is not the JSON its type requires.
    #[error("invalid {item_type} payload")]
    InvalidPayload {
        /// The type of payload that was being read.
        item_type: &'static str,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
}

impl EnvelopeError {
    /// True when the bytes do not form a valid envelope (a client error, HTTP 400).
    pub fn is_framing(&self) -> bool {
        matches!(
            self,
            Self::Empty
                | Self::InvalidEnvelopeHeader { .. }
                | Self::InvalidEventId
                | Self::InvalidItemHeader { .. }
                | Self::CarriageReturn { .. }
                | Self::UnexpectedEof { .. }
                | Self::MissingNewline { .. }
        )
    }

    /// True when a size or count limit was exceeded (HTTP 413), a decompression bomb included.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Self::DecompressedTooLarge { .. }
                | Self::EnvelopeTooLarge { .. }
                | Self::ItemTooLarge { .. }
                | Self::TooManyItems { .. }
        )
    }

    /// True when decompression stopped at the cap (a likely decompression bomb).
    pub fn is_decompression_bomb(&self) -> bool {
        matches!(self, Self::DecompressedTooLarge { .. })
    }

    /// True for problems with the body encoding (unsupported or corrupt).
    pub fn is_encoding(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedEncoding { .. } | Self::CorruptBody { .. }
        )
    }

    /// True for missing, malformed or conflicting authentication.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::InvalidDsn { .. }
                | Self::InvalidAuth { .. }
                | Self::UnsupportedVersion { .. }
                | Self::MissingKey
                | Self::ConflictingKeys { .. }
        )
    }

    /// The zero-based index of the item the error is about, if it is about one item.
    pub fn item_index(&self) -> Option<usize> {
        match self {
            Self::InvalidItemHeader { index, .. }
            | Self::UnexpectedEof { index, .. }
            | Self::MissingNewline { index }
            | Self::ItemTooLarge { index, .. }
            | Self::TooManyItems { index, .. } => Some(*index),
            Self::CarriageReturn { index } => *index,
            _ => None,
        }
    }

    /// True when the error is about the envelope header line.
    pub fn is_envelope_header(&self) -> bool {
        matches!(
            self,
            Self::InvalidEnvelopeHeader { .. }
                | Self::InvalidEventId
                | Self::CarriageReturn { index: None }
        )
    }
}
