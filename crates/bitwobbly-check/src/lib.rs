//! Probes for Bit Wobbly: HTTP(S), TCP, DNS and TLS checks with a per-phase timing
//! breakdown measured on a monotonic clock.
//!
//! Use this crate to run checks from your own program. It knows nothing about storage
//! or scheduling; specs and reports are the plain types of `bitwobbly-core`.
//!
//! Each HTTP check sets up its own connection so that every phase is timed: DNS
//! resolution (zero for IP literals), TCP connect, TLS handshake, the wait from writing
//! the request to the response head (time to first byte), and the body transfer. The
//! phases add up to the total.
//!
//! # Example
//!
//! ```no_run
//! use bitwobbly_check::Checker;
//! use bitwobbly_core::{CheckSpec, HttpSpec};
//!
//! # async fn demo() -> Result<(), bitwobbly_core::SpecError> {
//! let checker = Checker::new(); // share this one: it holds TLS configs and resolvers
//! let check = CheckSpec::Http(HttpSpec::get("https://example.com/")).compile()?;
//! let report = checker.run(&check).await;
//! println!("{} in {:?}", report.status, report.timings.total);
//! # Ok(())
//! # }
//! ```

mod checker;
mod clock;
mod connect;
mod dns;
mod h1;
mod http;
pub mod resolve;
mod tcp;
mod tls;
mod tlscheck;

pub use checker::{Checker, CheckerBuilder, DEFAULT_USER_AGENT};
pub use resolve::{HickoryResolver, Resolve};
