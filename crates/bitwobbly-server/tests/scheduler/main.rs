//! The scheduler, incidents and heartbeat pings against real databases (SQLite and
//! PostgreSQL) and real targets on loopback.
//!
//! PostgreSQL is reached at `BITWOBBLY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates and drops its own
//! database.
//!
//! Intervals cannot go below core's 10 s minimum, so tests make a monitor due at once by
//! writing its `next_run_at` (as a user's "resume" would) instead of waiting for its slot.

mod harness;

mod heartbeat;
mod incidents;
mod nodes;
mod runs;
