//! Domain types and pure logic for Bit Wobbly.
//!
//! `bitwobbly-core` holds what every other part of Bit Wobbly agrees on, with no I/O:
//! it never touches the network, the clock (functions take `now`) or a database, and it
//! depends on no async runtime. Use it directly when you build check specs, judge results
//! or read reports in your own program; use `bitwobbly-check` to actually run a check.
//!
//! Main types:
//! - [`CheckSpec`] (HTTP, TCP, DNS, TLS), plain serialisable data, and [`CompiledCheck`],
//!   a spec validated by [`CheckSpec::compile`] (every problem is a [`SpecError`] naming
//!   the field, e.g. `assertions[2].pattern`);
//! - [`Assertion`]s (status code, time per phase, body text, regular expressions, JSONPath,
//!   headers, certificate lifetime, DNS answers, TCP banners), prepared once into
//!   [`CompiledAssertions`] and judged against an [`Observation`] into
//!   [`AssertionResult`]s with the expected and the actual value;
//! - [`verdict`], which turns an error and the results into a [`Status`] and a reason;
//! - [`CheckReport`], with the [`Timings`] breakdown and the facts a probe learned
//!   ([`HttpFacts`], [`CertFacts`], [`DnsFacts`], [`TcpFacts`]);
//! - [`Schedule`] (interval or cron in a time zone) with a per-monitor spread and a
//!   catch-up rule after downtime;
//! - [`MonitorState`], the incident state machine: [`Thresholds`] turn [`Outcome`]s into
//!   [`Health`], and announced [`Transition`]s (went down, degraded, recovered with the
//!   outage, flapping) honour [`MaintenanceWindow`]s and parent monitors being down;
//! - [`quorum::decide`], combining several locations' [`Vote`]s under a [`QuorumPolicy`];
//! - [`HeartbeatState`] deadlines for push monitors, and [`Tally`] for uptime percentages.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use bitwobbly_core::{
//!     Assertion, AssertionKind, CheckSpec, HttpSpec, Observation, Phase, Status, StatusMatch,
//!     Timings, verdict,
//! };
//!
//! let mut spec = HttpSpec::get("https://example.com/health");
//! spec.assertions.push(Assertion::fail(AssertionKind::StatusCode {
//!     expect: StatusMatch::Range(200, 299),
//! }));
//! spec.assertions.push(Assertion::degrade(AssertionKind::Time {
//!     phase: Some(Phase::Ttfb),
//!     below: Duration::from_millis(200),
//! }));
//! let check = CheckSpec::Http(spec).compile()?;
//! assert_eq!(check.spec().kind(), "http");
//!
//! // A probe fills in what it saw; here the check got no response at all.
//! let timings = Timings { ttfb: Duration::from_millis(350), ..Timings::default() };
//! let now = time::OffsetDateTime::UNIX_EPOCH;
//! let results = check.assertions().evaluate(&Observation::new(&timings, now));
//! assert!(results.iter().all(|r| !r.passed));
//! assert_eq!(results[1].actual.as_deref(), Some("350ms"));
//!
//! let (status, reason) = verdict(None, &results);
//! assert_eq!(status, Status::Down);
//! assert_eq!(
//!     reason.as_deref(),
//!     Some("assertion failed: status code in 200-299 (expected 200-299, got nothing)"),
//! );
//! # Ok::<(), bitwobbly_core::SpecError>(())
//! ```

// The README's example is compiled and run as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

pub mod alert;
pub mod assert;
mod error;
pub mod heartbeat;
pub mod latency;
pub mod maintenance;
pub mod monitor;
pub mod page;
pub mod quorum;
pub mod report;
pub mod schedule;
pub mod spec;
pub mod state;
pub mod totp;
pub mod uptime;
mod validate;

pub use assert::{
    Assertion, AssertionKind, AssertionResult, CompiledAssertions, JsonOp, Observation, Severity,
    StatusMatch, verdict,
};
pub use error::SpecError;
pub use heartbeat::{Expect, HeartbeatPolicy, HeartbeatState, HeartbeatStatus, Ping};
pub use maintenance::MaintenanceWindow;
pub use quorum::{QuorumPolicy, QuorumVerdict, Share, Vote};
pub use report::{
    CertFacts, CheckError, CheckReport, DnsFacts, DnsRecord, ErrorKind, Hop, HttpFacts, Phase,
    Status, TcpFacts, Timings,
};
pub use schedule::{CatchUp, CronSchedule, Schedule};
pub use spec::{
    CheckSpec, CompiledCheck, DnsSpec, DnsTransport, HttpSpec, HttpVersionPref, IpPreference,
    RecordType, RedirectPolicy, ResolverSpec, TcpSpec, TlsOptions, TlsSpec,
};
pub use state::{
    Announcer, Condition, Health, HealthTracker, MonitorState, Outcome, Suppression, Thresholds,
    Transition,
};
pub use uptime::Tally;
