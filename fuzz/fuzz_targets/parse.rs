//! Parses arbitrary bytes; anything that parses must write and parse back to itself.
#![no_main]

use bitwobbly_envelope::{Envelope, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse_slice(data) {
        let _ = Limits::default().check(&envelope);
        let written = envelope.to_bytes();
        let back = Envelope::parse(written).expect("written envelope parses");
        assert_eq!(back, envelope);
    }
});
