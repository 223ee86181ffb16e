//! Load benchmark for a fleet: 100,000 HTTP monitors at a 60 s interval on PostgreSQL,
//! shared by three separate `bitwobbly serve` processes, against a local HTTP server;
//! reports checks done against expected, lag p50/p99/max, CPU and peak memory per node, and
//! PostgreSQL's CPU.
//!
//! Run with:
//! `cargo build --release -p bitwobbly-cli -p bench-serve && target/release/fleet-load`
//!
//! Targets (issue 7): lag p99 under 1 s, each node under one core on average and under
//! 250 MB resident. The target server runs in a child process, so its CPU is not counted.
//! PostgreSQL is `postgres://postgres@127.0.0.1:5432/postgres` unless
//! `BITWOBBLY_TEST_PG_URL` names another admin URL; a fresh database is made and dropped.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use bench_serve::TARGET_ARG;
use bench_serve::fleet::{FleetConfig, run_fleet, sibling_binary};

fn main() -> anyhow::Result<()> {
    let mut config = FleetConfig::new(sibling_binary()?);
    let mut warmup = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            TARGET_ARG => return bench_serve::serve_target(),
            "--duration" => config.duration = humantime::parse_duration(&value("--duration")?)?,
            "--warmup" => warmup = Some(humantime::parse_duration(&value("--warmup")?)?),
            "--interval" => config.interval = humantime::parse_duration(&value("--interval")?)?,
            "--monitors" => config.monitors = value("--monitors")?.parse()?,
            "--nodes" => config.nodes = value("--nodes")?.parse()?,
            "--bitwobbly" => config.binary = value("--bitwobbly")?.into(),
            "--help" | "-h" => {
                println!(
                    "fleet-load [--monitors 100000] [--interval 60s] [--nodes 3] [--warmup <interval>] [--duration 180s] [--bitwobbly target/release/bitwobbly]"
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    config.warmup = warmup.unwrap_or(config.interval);
    if config.duration < Duration::from_secs(1) {
        anyhow::bail!("--duration must be at least 1s");
    }
    if config.nodes == 0 || config.monitors == 0 {
        anyhow::bail!("--nodes and --monitors must be at least 1");
    }
    let report = run_fleet(&config)?;
    print!("{report}");
    Ok(())
}
