//! Status pages' feeds (Atom, RSS), badges (SVG, shields.io) and subscriptions (email
//! through a real SMTP server, webhooks), against a real server on SQLite and PostgreSQL.
//!
//! PostgreSQL is reached at `BITWOBBLY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); email tests need aiosmtpd
//! (`python3 -m pip install aiosmtpd`).

mod harness;

mod feeds;
mod subscribe;
