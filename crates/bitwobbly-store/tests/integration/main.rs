//! The conformance suite: every test is written once against the store traits and runs on
//! SQLite and on PostgreSQL, each in its own freshly created database.
//!
//! PostgreSQL is reached at `BITWOBBLY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates and drops its own database.

mod harness;

mod accounts;
mod agents;
mod channels;
mod dashboard;
mod heartbeats;
mod incidents;
mod ingest;
mod leases;
mod migrations;
mod monitors;
mod outbox;
mod pages;
mod results;
mod rollups;
mod scoping;
mod security;

#[cfg(feature = "s3")]
mod s3;
