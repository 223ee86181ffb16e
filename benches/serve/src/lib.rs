//! Load benchmark for the scheduler, shared by the `serve-load` binary.
//!
//! It creates many HTTP monitors (10,000 at a 30 s interval by default) on SQLite in a
//! temporary directory, all checking a local HTTP server that runs in a child process (so
//! its CPU is not counted), runs the real scheduler (`bitwobbly_server::scheduler::run`)
//! for a warm-up and then a measured period, and reports the scheduling lag of every check
//! (start minus due time), the process's average CPU use and its peak resident memory.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::Thresholds;
use bitwobbly_core::{CheckSpec, HttpSpec};
use bitwobbly_server::config::Config;
use bitwobbly_server::{AppState, Clock};
use bitwobbly_store::prelude::*;

pub mod fleet;

/// Settings of a load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Monitors to create. Default 10,000.
    pub monitors: usize,
    /// Their interval. Default 30 s.
    pub interval: Duration,
    /// Time before measuring: the first runs of freshly created monitors all fall due at
    /// once, which is not the steady state. Default one interval.
    pub warmup: Duration,
    /// How long to measure. Default 120 s.
    pub duration: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            monitors: 10_000,
            interval: Duration::from_secs(30),
            warmup: Duration::from_secs(30),
            duration: Duration::from_secs(120),
        }
    }
}

/// Percentiles of a set of durations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spread {
    /// How many.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Spread {
    /// The percentiles of `samples` (sorted in place).
    pub fn of(samples: &mut [Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[i]
        };
        Self {
            count: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: samples[samples.len() - 1],
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The settings.
    pub config: LoadConfig,
    /// How long creating the monitors took.
    pub setup: Duration,
    /// Lag of the checks during the warm-up.
    pub warmup_lag: Spread,
    /// Lag of the checks during the measured period.
    pub lag: Spread,
    /// Checks the measured period should see: monitors × duration / interval.
    pub expected_checks: f64,
    /// Checks counted by outcome during the measured period: up, degraded, down, skipped.
    pub checks: [u64; 4],
    /// Result rows in the database at the end (all periods).
    pub results_written: u64,
    /// Process CPU time over the measured period.
    pub cpu: Duration,
    /// Wall time of the measured period.
    pub wall: Duration,
    /// Peak resident memory (VmHWM), bytes.
    pub peak_rss: Option<u64>,
    /// Resident memory at the end (VmRSS), bytes.
    pub rss: Option<u64>,
    /// Resident memory (VmRSS) after setup, after the warm-up and then every 10 s, bytes.
    pub rss_over_time: Vec<u64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mb = |b: Option<u64>| {
            b.map_or_else(|| "n/a".to_owned(), |b| format!("{:.1} MB", b as f64 / 1e6))
        };
        writeln!(
            f,
            "serve-load: {} monitors every {}, SQLite, one node; {} warm-up, {} measured",
            c.monitors,
            humantime::format_duration(c.interval),
            humantime::format_duration(c.warmup),
            humantime::format_duration(c.duration),
        )?;
        writeln!(
            f,
            "setup:        {:.1} s to create the monitors",
            self.setup.as_secs_f64()
        )?;
        let [up, degraded, down, skipped] = self.checks;
        writeln!(
            f,
            "checks:       {} (up {up}, degraded {degraded}, down {down}, skipped {skipped}); expected {:.0}",
            up + degraded + down + skipped,
            self.expected_checks
        )?;
        writeln!(
            f,
            "lag:          p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} checks)",
            ms(self.lag.p50),
            ms(self.lag.p99),
            ms(self.lag.max),
            self.lag.count
        )?;
        writeln!(
            f,
            "warm-up lag:  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} checks)",
            ms(self.warmup_lag.p50),
            ms(self.warmup_lag.p99),
            ms(self.warmup_lag.max),
            self.warmup_lag.count
        )?;
        writeln!(
            f,
            "cpu:          {:.3} cores on average ({:.1} s CPU over {:.1} s)",
            self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9),
            self.cpu.as_secs_f64(),
            self.wall.as_secs_f64()
        )?;
        writeln!(
            f,
            "memory:       peak RSS {}, RSS at end {}",
            mb(self.peak_rss),
            mb(self.rss)
        )?;
        let over: Vec<String> = self
            .rss_over_time
            .iter()
            .map(|b| format!("{:.0}", *b as f64 / 1e6))
            .collect();
        writeln!(
            f,
            "RSS (MB):     after setup, after warm-up, then every 10 s: {}",
            over.join(" ")
        )?;
        writeln!(f, "results rows: {}", self.results_written)
    }
}

/// A `kB` line of `/proc/self/status`, in bytes.
fn proc_status_kb(field: &str) -> Option<u64> {
    status_kb("self", field)
}

/// A `kB` line (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`, in bytes; `pid` may be `self`.
pub(crate) fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// The argument that makes the binary serve as the target instead.
pub const TARGET_ARG: &str = "--serve-target";

/// Serves the target (the test server's `/`, answering `200 ok`) on loopback, prints
/// `PORT <n>` and serves until stdin closes (the parent exits). It runs on every core, so
/// that it answers the thousands of checks a second of a fleet run without becoming what
/// is measured.
pub fn serve_target() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = bitwobbly_test_support::http::TestServer::http()?;
        let out = format!("PORT {}\n", server.port());
        std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
        std::io::Write::flush(&mut std::io::stdout())?;
        // Returns when the parent closes our stdin (or dies).
        let mut sink = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut sink).await?;
        drop(server);
        Ok(())
    })
}

/// The target server in a child process; killed on drop.
pub(crate) struct Target {
    pub(crate) child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Target {
    /// Starts this binary again with [`TARGET_ARG`] and reads the port it printed.
    pub(crate) fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding the benchmark binary")?;
        let mut child = Command::new(exe)
            .arg(TARGET_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the target server process")?;
        let stdout = child.stdout.take().context("target stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(port) = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            bail!("the target server said {line:?} instead of its port");
        };
        Ok(Self { child, port })
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates `count` HTTP monitors named `monitor <i>` checking `url` every `every`, in
/// transactions of 500 monitors, `parallel` transactions at a time; returns their ids in
/// creation order.
pub(crate) async fn create_monitors(
    store: &Store,
    ws: WorkspaceId,
    url: &str,
    count: usize,
    every: Duration,
    parallel: usize,
) -> anyhow::Result<Vec<MonitorId>> {
    const PER_TX: usize = 500;
    let parallel = parallel.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..parallel {
        let store = store.clone();
        let url = url.to_owned();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            let mut start = worker * PER_TX;
            while start < count {
                let end = (start + PER_TX).min(count);
                let mut tx = store.begin().await?;
                for i in start..end {
                    let m = tx
                        .workspace(ws)
                        .create_monitor(&monitor(i, &url, every)?, Clock.now())
                        .await?;
                    ids.push((i, m.id));
                }
                tx.commit().await?;
                start += parallel * PER_TX;
            }
            Ok::<_, anyhow::Error>(ids)
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    all.sort_unstable();
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

fn monitor(i: usize, url: &str, every: Duration) -> anyhow::Result<NewMonitor> {
    Ok(NewMonitor {
        key: None,
        name: format!("monitor {i}"),
        spec: CheckSpec::Http(HttpSpec::get(url)),
        schedule: Schedule::interval(every)?,
        thresholds: Thresholds::default(),
        parent_id: None,
        paused: false,
        locations: vec![],
        quorum: Default::default(),
    })
}

/// The `bitwobbly_checks_total` counters by outcome: up, degraded, down, skipped.
fn check_counts(state: &AppState) -> [u64; 4] {
    let text = state.metrics.render();
    ["up", "degraded", "down", "skipped"].map(|o| {
        let prefix = format!("bitwobbly_checks_total{{outcome=\"{o}\"}}");
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&prefix)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0) as u64
    })
}

/// Runs the benchmark (on a multi-threaded runtime, as `bitwobbly serve` does).
///
/// # Errors
///
/// If the database, the target server or the runtime cannot be set up.
pub fn run_load(config: &LoadConfig) -> anyhow::Result<Report> {
    let target = Target::start()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = Store::open(&url).await?;
        let setup_start = tokio::time::Instant::now();
        let ws = store
            .global()
            .create_workspace("bench", "Bench", Clock.now())
            .await?
            .id;
        let target_url = format!("http://127.0.0.1:{}/", target.port);
        create_monitors(&store, ws, &target_url, config.monitors, config.interval, 1).await?;
        let setup = setup_start.elapsed();
        let mut rss_over_time = Vec::new();
        rss_over_time.extend(proc_status_kb("VmRSS"));

        let state = AppState::new(store.clone(), Config::default(), "bench".to_owned());
        state.scheduler.keep_lag_samples();
        let handle =
            bitwobbly_server::spawn("scheduler", bitwobbly_server::scheduler::run(state.clone()));

        tokio::time::sleep(config.warmup).await;
        let mut warm = state.scheduler.take_lag_samples();
        rss_over_time.extend(proc_status_kb("VmRSS"));
        let before = check_counts(&state);
        let cpu_start = cpu_time::ProcessTime::now();
        let wall_start = tokio::time::Instant::now();
        let end = wall_start + config.duration;
        while tokio::time::Instant::now() + Duration::from_secs(10) <= end {
            tokio::time::sleep(Duration::from_secs(10)).await;
            rss_over_time.extend(proc_status_kb("VmRSS"));
        }
        tokio::time::sleep_until(end).await;
        let cpu = cpu_start.elapsed();
        let wall = wall_start.elapsed();
        let mut lags = state.scheduler.take_lag_samples();
        let after = check_counts(&state);
        let rss = proc_status_kb("VmRSS");
        let peak_rss = proc_status_kb("VmHWM");

        state.shutdown.cancel();
        handle.await?;
        let mut results_written = 0u64;
        for s in store.workspace(ws).monitor_states().await? {
            let page = store
                .workspace(ws)
                .results(&ResultQuery {
                    monitor_id: s.monitor_id,
                    from: Timestamp::EPOCH,
                    to: Timestamp::from_millis(i64::MAX),
                    order: Order::Ascending,
                    limit: 10_000,
                    after: None,
                })
                .await?;
            results_written += page.items.len() as u64;
        }
        store.close().await;
        Ok::<_, anyhow::Error>(Report {
            config: config.clone(),
            setup,
            warmup_lag: Spread::of(&mut warm),
            lag: Spread::of(&mut lags),
            expected_checks: config.monitors as f64 * config.duration.as_secs_f64()
                / config.interval.as_secs_f64(),
            checks: [0, 1, 2, 3].map(|i| after[i] - before[i]),
            results_written,
            cpu,
            wall,
            peak_rss,
            rss,
            rss_over_time,
        })
    })?;
    drop(target);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Spread::of(&mut v);
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(Spread::of(&mut []).count, 0);
    }
}
