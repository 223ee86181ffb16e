//! Servers on loopback for Bit Wobbly's tests: HTTP/1.1, HTTPS with HTTP/2 and a test CA,
//! servers that stall, redirect chains, TCP banner servers and an authoritative DNS server;
//! with the `db` feature, a fresh SQLite or PostgreSQL database per test (module `db`); with
//! the `moto` feature, an S3-compatible server (module `moto`).
//!
//! Not published; used as a dev-dependency and by benchmarks.

#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "db")]
pub mod db;
pub mod dns;
pub mod http;
#[cfg(feature = "moto")]
pub mod moto;
pub mod pki;
#[cfg(feature = "smtp")]
pub mod smtp;
pub mod tcp;
