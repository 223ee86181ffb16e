//! The Bit Wobbly server: HTTP API, ingest, scheduler, notifier and status pages.
//!
//! This crate is reserved for `bitwobbly serve` and has no public API yet.
