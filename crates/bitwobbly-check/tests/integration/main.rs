//! Integration tests for the probes, against real servers on loopback.

mod dns;
mod http;
mod tcp;
mod tls;
