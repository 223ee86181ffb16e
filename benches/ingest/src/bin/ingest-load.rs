//! Load benchmark for durable ingest: the real server on SQLite (temporary directory) in a
//! child process, concurrent keep-alive clients posting a realistic 2 KB Python error
//! envelope. Reports the maximum throughput, latency percentiles at half that rate, the
//! server's CPU time per envelope (from `/proc/<pid>/stat`, so the clients' CPU is not
//! counted) and the disk bytes per stored envelope.
//!
//! Run with: `cargo run --release -p bench-ingest --bin ingest-load -- --duration 10s`
//!
//! Targets (issue 6): at least 10,000 envelopes/s, p99 under 25 ms at half that rate, at most
//! 0.15 ms of server CPU per envelope, and (with processing) at most 3 KB on disk per event.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use bench_ingest::{
    Conn, Request, SERVE_ARG, ServeArgs, ServerProcess, dir_size, error_envelope, serve,
};
use tokio::time::Instant;

#[derive(Debug, Clone)]
struct Settings {
    duration: Duration,
    connections: usize,
    client_threads: usize,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some(SERVE_ARG) {
        args.next();
        return serve(&ServeArgs::parse(args)?);
    }
    let mut settings = Settings {
        duration: Duration::from_secs(10),
        connections: 64,
        client_threads: 1,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--duration" => settings.duration = humantime::parse_duration(&value("--duration")?)?,
            "--connections" => settings.connections = value("--connections")?.parse()?,
            "--client-threads" => settings.client_threads = value("--client-threads")?.parse()?,
            "--help" | "-h" => {
                println!("ingest-load [--duration 10s] [--connections 64] [--client-threads 1]");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    anyhow::ensure!(settings.connections > 0, "--connections must be positive");
    run(&settings)
}

fn run(settings: &Settings) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let dir = tempfile::tempdir()?;
    let args = ServeArgs {
        data_dir: dir.path().join("data"),
        database_url: None,
    };
    // An empty database with the bench project, measured after a clean stop.
    ServerProcess::spawn(&exe, &args)?.terminate()?;
    let empty = dir_size(&args.data_dir)?;

    let server = ServerProcess::spawn(&exe, &args)?;
    let (body, offsets) = error_envelope();
    println!(
        "envelope: {} bytes (event payload about 2 KB), {} connections, {} client thread(s), {} per phase",
        body.len(),
        settings.connections,
        settings.client_threads,
        humantime::format_duration(settings.duration)
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.client_threads.max(1))
        .enable_all()
        .build()?;
    let request = Request::new(&server, &body, &offsets);
    let ids = Arc::new(AtomicU64::new(1));
    let mut accepted = 0u64;

    // Warm-up, then the maximum rate.
    let warm = runtime.block_on(load(
        &server,
        &request,
        &ids,
        settings.connections,
        Duration::from_secs(2),
        None,
    ))?;
    accepted += warm.ok;
    let cpu_before = server.cpu_time()?;
    let max = runtime.block_on(load(
        &server,
        &request,
        &ids,
        settings.connections,
        settings.duration,
        None,
    ))?;
    let cpu = server.cpu_time()? - cpu_before;
    accepted += max.ok;
    let rate = max.ok as f64 / max.wall.as_secs_f64();
    let cpu_per = cpu.as_secs_f64() * 1e3 / max.ok.max(1) as f64;
    println!(
        "max throughput: {:.0} envelopes/s ({} in {:.1} s, {} errors); server CPU {:.3} ms/envelope ({:.2} cores)",
        rate,
        max.ok,
        max.wall.as_secs_f64(),
        max.errors,
        cpu_per,
        cpu.as_secs_f64() / max.wall.as_secs_f64()
    );

    // Latency at half the maximum rate, open loop (measured from the scheduled send time).
    let half = rate / 2.0;
    let cpu_before = server.cpu_time()?;
    let paced = runtime.block_on(load(
        &server,
        &request,
        &ids,
        settings.connections,
        settings.duration,
        Some(half),
    ))?;
    let cpu = server.cpu_time()? - cpu_before;
    accepted += paced.ok;
    let mut lat = paced.latencies;
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "at {:.0}/s: {:.0} envelopes/s achieved, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} errors); server CPU {:.3} ms/envelope",
        half,
        paced.ok as f64 / paced.wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        paced.errors,
        cpu.as_secs_f64() * 1e3 / paced.ok.max(1) as f64
    );

    server.terminate().context("stop the server")?;
    let full = dir_size(&args.data_dir)?;
    println!(
        "disk: {} envelopes stored, {:.0} bytes per envelope (data directory after a clean stop, minus the empty database)",
        accepted,
        (full.saturating_sub(empty)) as f64 / accepted.max(1) as f64
    );
    Ok(())
}

#[derive(Debug, Default)]
struct Outcome {
    ok: u64,
    errors: u64,
    wall: Duration,
    latencies: Vec<Duration>,
}

/// Runs `connections` clients for `duration`, as fast as they can (`rate = None`) or paced to
/// `rate` envelopes/s in total.
async fn load(
    server: &ServerProcess,
    request: &Request,
    ids: &Arc<AtomicU64>,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let until = started + duration;
    let salt: u128 = rand::random::<u64>().into();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let mut request = request.clone();
        let ids = ids.clone();
        let addr = server.addr.clone();
        let period = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
        tasks.spawn(async move {
            let mut out = Outcome::default();
            let mut conn = Conn::connect(&addr).await?;
            let mut next = started
                + period.map_or(Duration::ZERO, |p| p.mul_f64(c as f64 / connections as f64));
            loop {
                let sent_at = match period {
                    Some(p) => {
                        let at = next;
                        next += p;
                        if at >= until {
                            break;
                        }
                        tokio::time::sleep_until(at).await;
                        at
                    }
                    None => Instant::now(),
                };
                if sent_at >= until {
                    break;
                }
                let id = (salt << 64) | u128::from(ids.fetch_add(1, Ordering::Relaxed));
                request.set_event_id(id);
                let (status, _) = conn.send(request.bytes()).await?;
                if status == 200 {
                    out.ok += 1;
                    if period.is_some() {
                        out.latencies.push(sent_at.elapsed());
                    }
                } else {
                    out.errors += 1;
                }
            }
            anyhow::Ok(out)
        });
    }
    let mut total = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        let o = done??;
        total.ok += o.ok;
        total.errors += o.errors;
        total.latencies.extend(o.latencies);
    }
    total.wall = started.elapsed();
    Ok(total)
}
