//! Sentry envelope parsing and writing for Bit Wobbly.
//!
//! This crate is reserved for the Sentry-compatible ingest work and has no public API yet:
//! nothing here parses envelopes today.
