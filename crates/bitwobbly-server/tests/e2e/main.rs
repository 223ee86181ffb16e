//! End-to-end tests of the assembled server, in process: the whole router with its layers
//! on a real listener (`Server::bind` on port 0), first-run set-up, operability endpoints,
//! and configuration as code (`apply`/`export`), each on SQLite and on PostgreSQL.
//!
//! Process-level tests (the real `bitwobbly` binary, signals, several nodes) are in
//! `crates/bitwobbly-cli/tests/serve`.

mod apply;
mod harness;
mod ops;
