//! Integration tests: the real `bitwobbly` binary against test servers on loopback.
//!
//! Each test starts its servers on a Tokio runtime it holds (the servers run on the
//! runtime's worker thread) and runs the binary with `std::process::Command`.

mod dns;
mod http;
mod migrate;
mod support;
mod tcp;
mod tls;
mod usage;
