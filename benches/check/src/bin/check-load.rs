//! Load benchmark for the check engine: full checks per second, CPU per check and memory
//! per in-flight check, against a local nginx, next to the ceiling `wrk` reaches.
//!
//! Run with: `cargo run --release -p bench-check --bin check-load -- --duration 10s`
//! (needs `nginx` and `wrk`: `apt-get install nginx-light wrk`).
//!
//! Every check opens a fresh TCP connection (and, for HTTPS, does a full handshake:
//! the server disables session resumption), just as a monitor's check does. The target
//! is an IP literal, so no DNS lookup is made. The checker runs on one thread and nginx
//! with one worker, so each side has one of the machine's cores; `wrk` gets the same.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use std::alloc::System;

use bench_check::{LoadConfig, Scheme, run_load};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed.
///
/// `stats_alloc` already adds a `realloc`'s growth to `bytes_allocated` (and its
/// shrinking to `bytes_deallocated`); `bytes_reallocated` is the same change counted
/// again, so adding it would count every grown buffer twice and make the held bytes
/// creep up for as long as the run lasts.
fn held_bytes() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

fn main() -> anyhow::Result<()> {
    let mut config = LoadConfig {
        held_bytes: Some(held_bytes),
        ..LoadConfig::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--duration" => config.duration = humantime::parse_duration(&value("--duration")?)?,
            "--concurrency" => config.concurrency = value("--concurrency")?.parse()?,
            "--scheme" => {
                config.schemes = match value("--scheme")?.as_str() {
                    "http" => vec![Scheme::Http],
                    "https" => vec![Scheme::Https],
                    "both" => vec![Scheme::Http, Scheme::Https],
                    other => anyhow::bail!("--scheme must be http, https or both, not {other:?}"),
                }
            }
            "--help" | "-h" => {
                println!(
                    "check-load [--duration 10s] [--concurrency 64] [--scheme http|https|both]"
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    if config.duration < Duration::from_secs(1) {
        anyhow::bail!("--duration must be at least 1s");
    }
    let report = run_load(&config)?;
    print!("{report}");
    Ok(())
}
