//! Benchmarks for `bitwobbly-envelope`; see `benches/envelope.rs`.
//!
//! Run with: `cargo bench -p bench-envelope`.

use bytes::Bytes;

/// A small error envelope as a JavaScript SDK sends it (no lengths, no final newline).
pub fn small_envelope() -> Bytes {
    Bytes::from_static(
        b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2025-01-01T00:00:00Z\",\"sdk\":{\"name\":\"sentry.javascript.node\",\"version\":\"8.0.0\"}}\n{\"type\":\"event\"}\n{\"message\":\"hello world\",\"level\":\"error\",\"platform\":\"node\"}",
    )
}

/// An envelope holding one attachment of `size` bytes of binary data.
pub fn attachment_envelope(size: usize) -> Bytes {
    let mut out = Vec::with_capacity(size + 256);
    out.extend_from_slice(b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n");
    out.extend_from_slice(
        format!("{{\"type\":\"attachment\",\"length\":{size},\"filename\":\"core.bin\"}}\n")
            .as_bytes(),
    );
    out.extend((0..size).map(|i| (i * 31 % 251) as u8));
    out.push(b'\n');
    Bytes::from(out)
}
