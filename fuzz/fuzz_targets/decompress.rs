//! Decodes arbitrary bytes with every encoding under a small cap.
#![no_main]

use bitwobbly_envelope::{ContentEncoding, decompress};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for encoding in [ContentEncoding::Gzip, ContentEncoding::Deflate, ContentEncoding::Brotli, ContentEncoding::Zstd] {
        if let Ok(out) = decompress(encoding, bytes::Bytes::copy_from_slice(data), 1 << 20) {
            assert!(out.len() <= 1 << 20);
        }
    }
});
