//! Domain types and pure logic for Bit Wobbly.
//!
//! `bitwobbly-core` holds what every other part of Bit Wobbly agrees on, with no I/O:
//! it never touches the network, the clock (functions take `now`) or a database.
//! Use it directly when you build check specs or read reports in your own program;
//! use `bitwobbly-check` to actually run a check.
//!
//! Main types:
//! - [`CheckSpec`] (HTTP, TCP, DNS, TLS) and [`CompiledCheck`], a validated spec;
//! - [`Assertion`] and their evaluation into [`AssertionResult`]s;
//! - [`CheckReport`], with the [`Timings`] breakdown and a [`Status`].
//!
//! # Example
//!
//! ```
//! use bitwobbly_core::{Assertion, AssertionKind, CheckSpec, HttpSpec, StatusMatch};
//!
//! let mut spec = HttpSpec::get("https://example.com/health");
//! spec.assertions.push(Assertion::fail(AssertionKind::StatusCode {
//!     expect: StatusMatch::Range(200, 299),
//! }));
//! let check = CheckSpec::Http(spec).compile()?;
//! assert_eq!(check.spec().kind(), "http");
//! # Ok::<(), bitwobbly_core::SpecError>(())
//! ```

pub mod assert;
mod error;
pub mod report;
pub mod spec;
mod validate;

pub use assert::{
    Assertion, AssertionKind, AssertionResult, CompiledAssertions, JsonOp, Observation, Severity,
    StatusMatch, verdict,
};
pub use error::SpecError;
pub use report::{
    CertFacts, CheckError, CheckReport, DnsFacts, DnsRecord, ErrorKind, Hop, HttpFacts, Phase,
    Status, TcpFacts, Timings,
};
pub use spec::{
    CheckSpec, CompiledCheck, DnsSpec, DnsTransport, HttpSpec, HttpVersionPref, IpPreference,
    RecordType, RedirectPolicy, ResolverSpec, TcpSpec, TlsOptions, TlsSpec,
};
