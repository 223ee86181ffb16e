//! Compatibility with the real Sentry SDKs: the Python `sentry-sdk` and `@sentry/node`, at the
//! versions pinned in python/requirements.txt and node/package-lock.json (installed by
//! `.ci/setup`), pointed at a real `bitwobbly serve` through a DSN printed by
//! `bitwobbly admin create-project`. Each SDK sends errors with stack traces, messages, a
//! chained exception, a transaction with spans, sessions, an attachment with non-UTF-8 bytes,
//! cron check-ins (one of them then missed), feedback and logs; everything is asserted through
//! the query API, and the SDKs' debug output must show no transport error.
//!
//! Everything listens on loopback. Conditions are polled with generous deadlines, never timed.

#[path = "../serve/harness.rs"]
#[allow(dead_code)]
mod harness;

mod compat;
mod sdks;
