//! Load benchmark for the scheduler: 10,000 monitors at a 30 s interval on one node with
//! SQLite, against a local HTTP server; reports scheduling lag p50/p99/max, average CPU
//! and peak resident memory.
//!
//! Run with: `cargo run --release -p bench-serve --bin serve-load -- --duration 120s`
//!
//! Targets (issue 4): lag p99 under 250 ms, under one core on average, under 150 MB
//! resident. The target server runs in a child process, so its CPU is not counted.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use bench_serve::{LoadConfig, TARGET_ARG, run_load, serve_target};

fn main() -> anyhow::Result<()> {
    let mut config = LoadConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            TARGET_ARG => return serve_target(),
            "--duration" => config.duration = humantime::parse_duration(&value("--duration")?)?,
            "--warmup" => config.warmup = humantime::parse_duration(&value("--warmup")?)?,
            "--interval" => config.interval = humantime::parse_duration(&value("--interval")?)?,
            "--monitors" => config.monitors = value("--monitors")?.parse()?,
            "--help" | "-h" => {
                println!(
                    "serve-load [--monitors 10000] [--interval 30s] [--warmup 30s] [--duration 120s]"
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    if config.duration < Duration::from_secs(1) {
        anyhow::bail!("--duration must be at least 1s");
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let report = run_load(&config)?;
    print!("{report}");
    Ok(())
}
