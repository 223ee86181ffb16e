//! End-to-end tests of the real `bitwobbly` binary: `serve` processes on SQLite and on
//! PostgreSQL with the admin commands, a monitored test server, a webhook receiver that
//! verifies Standard Webhooks signatures and a real SMTP server (aiosmtpd); signals
//! (SIGTERM, SIGKILL); two nodes sharing one database; and the admin, apply and export
//! commands.
//!
//! Everything listens on loopback. Conditions are polled with generous deadlines, never
//! timed.

mod alerting;
mod cli;
mod cluster;
mod durability;
mod harness;
mod projects;
mod shutdown;
