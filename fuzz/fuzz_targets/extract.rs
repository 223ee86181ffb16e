//! Extracts event, check-in and session fields from arbitrary bytes, and groups events.
#![no_main]

use bitwobbly_envelope::{CheckIn, EventInfo, Session, SessionAggregates, group};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = EventInfo::from_json(data) {
        let grouping = group(&info);
        assert_eq!(grouping.hash.len(), 64);
    }
    let _ = CheckIn::from_json(data);
    let _ = Session::from_json(data);
    let _ = SessionAggregates::from_json(data);
});
