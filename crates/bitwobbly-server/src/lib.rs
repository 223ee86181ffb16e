//! The Bit Wobbly server: the REST API, the scheduler and its checker pool, incidents, the
//! durable notifier and its channels, heartbeat pings, health and metrics.
//!
//! Everything here composes the library crates: checks run in `bitwobbly-check`, decisions
//! (thresholds, incidents, maintenance, schedules) are made by `bitwobbly-core`, and data lives
//! in `bitwobbly-store`. Handlers stay thin.
//!
//! Start a whole server with [`server::Server`]; embed parts of it through [`AppState`] and the
//! routers in [`api`], [`heartbeat`] and [`ops`].

pub mod agent;
pub mod api;
pub mod apply;
pub mod auth;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod heartbeat;
pub mod incident;
pub mod ingest;
pub mod metrics;
pub mod netguard;
pub mod notify;
pub mod ops;
pub mod pages;
pub mod scheduler;
pub mod server;
pub mod state;

pub use clock::Clock;
pub use config::Config;
pub use error::ApiError;
pub use state::AppState;

use tracing::Instrument;

/// Spawns background work on the current runtime inside a span named `task = name`, so its
/// logs say where they come from.
#[allow(clippy::disallowed_methods)]
pub fn spawn<F>(name: &'static str, fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.instrument(tracing::info_span!("task", name)))
}
