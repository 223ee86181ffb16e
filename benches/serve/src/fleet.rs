//! Load benchmark for a fleet of nodes: many HTTP monitors (100,000 at a 60 s interval by
//! default) on a fresh PostgreSQL database, checked by several separate `bitwobbly serve`
//! processes (three by default) sharing the work through scheduling leases, all against one
//! local HTTP server in a child process (its CPU is not counted).
//!
//! What it reports, for the measured period after a warm-up:
//!
//! - **Checks** done, per node (from each node's `bitwobbly_checks_total`) and in total
//!   (result rows whose start falls in the period), against the expected
//!   monitors × duration / interval.
//! - **Lag** (start minus due time), two ways. Per node, from the node's
//!   `bitwobbly_scheduler_lag_seconds` histogram (scraped at the start and the end of the
//!   period; percentiles interpolated within buckets as Prometheus' `histogram_quantile`
//!   does, the maximum as the bucket it fell in). In total, exactly, from the result rows:
//!   a scheduled run's due time is the monitor's next slot after its previous run (core
//!   `next_run`, as the scheduler computes it), so each row's lag is its start minus the
//!   slot following the previous row's start.
//! - **CPU** per node (`/proc/<pid>/stat`, user + system, over the period, in cores) and
//!   **memory** (peak `VmHWM` over the node's life, and `VmRSS` at the end).
//! - **PostgreSQL's CPU**: its backends serving the benchmark's database (found by their
//!   process titles), and separately the server's shared background processes (WAL writer,
//!   checkpointer, ...), which other users of the server also drive.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use bitwobbly_core::monitor::next_run;
use bitwobbly_core::schedule::Schedule;
use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::{Backend, TestDatabase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::{Spread, Target, create_monitors, status_kb};

/// Settings of a fleet run.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Monitors to create. Default 100,000.
    pub monitors: usize,
    /// Their interval. Default 60 s.
    pub interval: Duration,
    /// `bitwobbly serve` processes. Default 3.
    pub nodes: usize,
    /// Time before measuring, from when every node is ready. Default one interval.
    pub warmup: Duration,
    /// How long to measure. Default 180 s.
    pub duration: Duration,
    /// The `bitwobbly` binary the nodes run.
    pub binary: PathBuf,
}

impl FleetConfig {
    /// The defaults, with nodes running `binary`.
    pub fn new(binary: PathBuf) -> Self {
        Self {
            monitors: 100_000,
            interval: Duration::from_secs(60),
            nodes: 3,
            warmup: Duration::from_secs(60),
            duration: Duration::from_secs(180),
            binary,
        }
    }
}

/// The `bitwobbly` binary next to this benchmark's own (`target/release/bitwobbly` when
/// the benchmark runs from `target/release/`).
///
/// # Errors
///
/// If this binary's path is unknown.
pub fn sibling_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the benchmark binary")?;
    let dir = exe.parent().context("the benchmark binary's directory")?;
    Ok(dir.join("bitwobbly"))
}

/// A histogram's cumulative bucket counts by upper bound (the last one `+Inf`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `(le, cumulative count)`, ascending.
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    /// The histogram `name` in Prometheus text (`<name>_bucket{le="..."} <count>` lines).
    pub fn parse(text: &str, name: &str) -> Self {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut buckets: Vec<(f64, u64)> = text
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(&prefix)?;
                let (le, rest) = rest.split_once("\"}")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                let count = rest.trim().parse::<f64>().ok()?;
                Some((le, count as u64))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self { buckets }
    }

    /// What was observed between `earlier` and `self` (same buckets).
    pub fn since(&self, earlier: &Self) -> Self {
        let buckets = self
            .buckets
            .iter()
            .map(|&(le, n)| {
                let before = earlier
                    .buckets
                    .iter()
                    .find(|(l, _)| *l == le)
                    .map_or(0, |(_, c)| *c);
                (le, n.saturating_sub(before))
            })
            .collect();
        Self { buckets }
    }

    /// Observations in total.
    pub fn count(&self) -> u64 {
        self.buckets.last().map_or(0, |(_, c)| *c)
    }

    /// The `q` quantile, interpolated linearly within its bucket (from the previous bucket's
    /// bound, or 0), as Prometheus' `histogram_quantile`; `None` without observations. A
    /// quantile in the `+Inf` bucket is that bucket's lower bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut lower = (0.0, 0u64);
        for &(le, c) in &self.buckets {
            if c as f64 >= rank {
                if le.is_infinite() {
                    return Some(lower.0);
                }
                let in_bucket = (c - lower.1) as f64;
                let frac = if in_bucket > 0.0 {
                    (rank - lower.1 as f64) / in_bucket
                } else {
                    1.0
                };
                return Some(lower.0 + (le - lower.0) * frac);
            }
            lower = (le, c);
        }
        Some(lower.0)
    }

    /// The upper bound of the highest bucket with an observation: the largest observation
    /// is at most this.
    pub fn max_bound(&self) -> Option<f64> {
        let mut prev = 0;
        let mut bound = None;
        for &(le, c) in &self.buckets {
            if c > prev {
                bound = Some(le);
            }
            prev = c;
        }
        bound
    }
}

/// The sum of a counter family's samples in Prometheus text (`<name>` or `<name>{...}`).
pub fn counter_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            if !rest.starts_with(['{', ' ']) {
                return None;
            }
            rest.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

/// What one node did over the measured period.
#[derive(Debug, Clone)]
pub struct NodeReport {
    /// Its node name.
    pub name: String,
    /// Checks it counted (`bitwobbly_checks_total`, all outcomes).
    pub checks: u64,
    /// Its lag histogram over the period.
    pub lag: Histogram,
    /// CPU time (user + system).
    pub cpu: Duration,
    /// Peak resident memory over its life (`VmHWM`), bytes.
    pub peak_rss: Option<u64>,
    /// Resident memory at the end (`VmRSS`), bytes.
    pub rss: Option<u64>,
    /// Size of its `/metrics` answer at the end, bytes.
    pub metrics_bytes: usize,
    /// Warnings and errors it logged over its life, most frequent message first.
    pub warnings: Vec<(String, u64)>,
}

/// What a fleet run measured.
#[derive(Debug, Clone)]
pub struct FleetReport {
    /// The settings.
    pub config: FleetConfig,
    /// How long creating the monitors took.
    pub setup: Duration,
    /// Wall time of the measured period.
    pub wall: Duration,
    /// Per node.
    pub nodes: Vec<NodeReport>,
    /// Checks the period should see: monitors × duration / interval.
    pub expected_checks: f64,
    /// Result rows that started in the period, by status: up, degraded, down.
    pub rows: [u64; 3],
    /// Exact lag of the rows in the period that follow an earlier run of their monitor
    /// (the others are first runs).
    pub lag: Spread,
    /// Rows in the period with lag over one interval (a missed slot).
    pub missed_slots: u64,
    /// How long the checks of the period took (the target's answer time as the checker saw
    /// it).
    pub check_duration: Spread,
    /// CPU of PostgreSQL backends serving the benchmark's database.
    pub pg_cpu: Duration,
    /// CPU of PostgreSQL's shared background processes.
    pub pg_shared_cpu: Duration,
    /// `/proc/loadavg`'s 1-minute load at the start and at the end of the period.
    pub load: (f64, f64),
    /// CPU of the target server over the period (not counted anywhere else).
    pub target_cpu: Duration,
    /// Where the nodes' logs were kept.
    pub logs: PathBuf,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn cores(cpu: Duration, wall: Duration) -> f64 {
    cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}

fn mb(b: Option<u64>) -> String {
    b.map_or_else(|| "n/a".to_owned(), |b| format!("{:.0} MB", b as f64 / 1e6))
}

fn secs_ms(s: Option<f64>) -> String {
    s.map_or_else(|| "n/a".to_owned(), |s| format!("{:.0}", s * 1000.0))
}

impl fmt::Display for FleetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "fleet-load: {} monitors every {}, PostgreSQL, {} nodes; {} warm-up, {} measured",
            c.monitors,
            humantime::format_duration(c.interval),
            c.nodes,
            humantime::format_duration(c.warmup),
            humantime::format_duration(c.duration),
        )?;
        writeln!(
            f,
            "setup:   {:.1} s to create the monitors; load average {:.2} at the start, {:.2} at the end",
            self.setup.as_secs_f64(),
            self.load.0,
            self.load.1
        )?;
        let [up, degraded, down] = self.rows;
        writeln!(
            f,
            "checks:  {} result rows (up {up}, degraded {degraded}, down {down}); expected {:.0}; {} first runs",
            up + degraded + down,
            self.expected_checks,
            (up + degraded + down).saturating_sub(self.lag.count as u64)
        )?;
        writeln!(
            f,
            "lag:     p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} rows (exact, from result rows); {} missed slots",
            ms(self.lag.p50),
            ms(self.lag.p99),
            ms(self.lag.max),
            self.lag.count,
            self.missed_slots
        )?;
        writeln!(
            f,
            "checks took p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(self.check_duration.p50),
            ms(self.check_duration.p99),
            ms(self.check_duration.max),
        )?;
        writeln!(
            f,
            "| node | checks | lag p50 / p99 / max (ms, histogram) | CPU (cores) | peak RSS | RSS at end | /metrics |"
        )?;
        writeln!(f, "| --- | --- | --- | --- | --- | --- | --- |")?;
        for n in &self.nodes {
            writeln!(
                f,
                "| {} | {} | {} / {} / ≤ {} | {:.2} | {} | {} | {:.1} MB |",
                n.name,
                n.checks,
                secs_ms(n.lag.quantile(0.5)),
                secs_ms(n.lag.quantile(0.99)),
                secs_ms(n.lag.max_bound()),
                cores(n.cpu, self.wall),
                mb(n.peak_rss),
                mb(n.rss),
                n.metrics_bytes as f64 / 1e6
            )?;
        }
        writeln!(
            f,
            "postgres: {:.2} cores for the benchmark's database, {:.2} cores in shared background processes",
            cores(self.pg_cpu, self.wall),
            cores(self.pg_shared_cpu, self.wall)
        )?;
        writeln!(
            f,
            "target:   {:.2} cores (a child process; not counted above)",
            cores(self.target_cpu, self.wall)
        )?;
        for n in &self.nodes {
            let total: u64 = n.warnings.iter().map(|(_, c)| c).sum();
            if total > 0 {
                writeln!(f, "{}: {total} warnings or errors logged:", n.name)?;
                for (message, count) in n.warnings.iter().take(5) {
                    writeln!(f, "  {count} × {message}")?;
                }
            }
        }
        writeln!(f, "logs:     {}", self.logs.display())
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// User + system CPU ticks of a process.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses; utime and stime
    // are fields 14 and 15, i.e. the 12th and 13th after the state.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Whose work a PostgreSQL process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PgClass {
    /// A backend (or autovacuum worker) on the benchmark's database.
    Ours,
    /// A background process of the whole server.
    Shared,
}

/// PostgreSQL processes by class, from their process titles (`postgres: <user> <db> ...`,
/// `postgres: walwriter`).
fn pg_processes(db: &str) -> Vec<(u32, PgClass)> {
    const SHARED: [&str; 7] = [
        "checkpointer",
        "background writer",
        "walwriter",
        "autovacuum launcher",
        "logical replication launcher",
        "io worker",
        "wal summarizer",
    ];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(title) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let title = String::from_utf8_lossy(&title);
        let Some(what) = title.strip_prefix("postgres: ") else {
            continue;
        };
        if what.split_whitespace().any(|w| w == db) {
            out.push((pid, PgClass::Ours));
        } else if SHARED.iter().any(|s| what.starts_with(s)) {
            out.push((pid, PgClass::Shared));
        }
    }
    out
}

/// CPU ticks of PostgreSQL processes seen during the period: what each had at the start
/// (0 for one that started later) and at its last sample.
#[derive(Debug, Default)]
struct PgCpu {
    seen: HashMap<u32, (PgClass, u64, u64)>,
}

impl PgCpu {
    fn sample(&mut self, db: &str, first: bool) {
        for (pid, class) in pg_processes(db) {
            let Some(t) = cpu_ticks(pid) else { continue };
            let start = if first { t } else { 0 };
            self.seen.entry(pid).or_insert((class, start, t)).2 = t;
        }
    }

    fn ticks(&self, class: PgClass) -> u64 {
        self.seen
            .values()
            .filter(|(c, ..)| *c == class)
            .map(|(_, a, b)| b.saturating_sub(*a))
            .sum()
    }
}

/// The warnings and errors in a JSON log (one object a line, `level` and
/// `fields.message`), counted by message, most frequent first.
fn warnings(log: &str) -> Vec<(String, u64)> {
    let mut by_message: HashMap<String, u64> = HashMap::new();
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if matches!(v["level"].as_str(), Some("WARN" | "ERROR")) {
            let message = v["fields"]["message"].as_str().unwrap_or("?").to_owned();
            *by_message.entry(message).or_default() += 1;
        }
    }
    let mut out: Vec<(String, u64)> = by_message.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// A `bitwobbly serve` process; killed on drop.
struct Node {
    name: String,
    port: u16,
    child: Child,
    log: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Node {
    fn start(config: &FleetConfig, i: usize, url: &str, dir: &Path) -> anyhow::Result<Self> {
        let name = format!("fleet-{}", i + 1);
        let port = free_port()?;
        let data = dir.join(&name);
        std::fs::create_dir_all(&data)?;
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&config.binary)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--log-format", "json", "--database-url", url, "--data-dir"])
            .arg(&data)
            .env("BITWOBBLY_NODE_NAME", &name)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", config.binary.display()))?;
        Ok(Self {
            name,
            port,
            child,
            log,
        })
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// A plain HTTP/1.0 GET on the node; the status and the body.
    async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        let text = String::from_utf8(raw)?;
        let (head, body) = text.split_once("\r\n\r\n").context("an HTTP answer")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("an HTTP status")?;
        Ok((status, body.to_owned()))
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited at start ({status}); see {}",
                    self.name,
                    self.log.display()
                );
            }
            if matches!(self.get("/readyz").await, Ok((200, _))) {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!(
                    "{} was not ready within 2 minutes; see {}",
                    self.name,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn metrics(&self) -> anyhow::Result<String> {
        match self.get("/metrics").await? {
            (200, body) => Ok(body),
            (status, body) => bail!("{} /metrics answered {status}: {body}", self.name),
        }
    }

    /// SIGTERM (a graceful stop: results flushed, leases released), then waits.
    async fn terminate(&mut self) -> anyhow::Result<()> {
        let pid = self.pid();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let start = Instant::now();
        while self.child.try_wait()?.is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                bail!("{} did not stop within a minute of SIGTERM", self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the result rows of the measured period say.
#[derive(Debug, Default)]
struct Tally {
    /// Exact lags of the rows that follow an earlier run of their monitor.
    lags: Vec<Duration>,
    /// How long each row's check took.
    durations: Vec<Duration>,
    /// Rows by status: up, degraded, down.
    rows: [u64; 3],
}

impl Tally {
    /// Adds the rows of `results` (one monitor's, ascending) that started in `[from, to)`:
    /// counted by status, their durations kept, and the lag of each that follows an
    /// earlier row: start minus the due time the previous run left ([`due_after`]).
    fn add(
        &mut self,
        schedule: &Schedule,
        id: MonitorId,
        results: &[CheckResult],
        (from, to): (Timestamp, Timestamp),
    ) {
        let mut prev: Option<&CheckResult> = None;
        for r in results {
            let at = r.result.started_at;
            if at >= from && at < to {
                self.rows[match r.result.status {
                    CheckStatus::Up => 0,
                    CheckStatus::Degraded => 1,
                    _ => 2,
                }] += 1;
                self.durations.push(Duration::from_micros(
                    u64::try_from(r.result.timings.total_us).unwrap_or(0),
                ));
                if let Some(due) = prev.and_then(|p| due_after(schedule, id, p)) {
                    let lag = at.as_millis() - due.as_millis();
                    self.lags
                        .push(Duration::from_millis(u64::try_from(lag).unwrap_or(0)));
                }
            }
            prev = Some(r);
        }
    }

    fn merge(&mut self, other: Self) {
        self.lags.extend(other.lags);
        self.durations.extend(other.durations);
        for (a, b) in self.rows.iter_mut().zip(other.rows) {
            *a += b;
        }
    }
}

/// When the scheduler made a monitor due after the run `prev`: its first slot after the
/// moment the run was recorded. That moment is not stored; it is the run's start plus its
/// duration plus the recording, taken here as up to one second. Only a run that started
/// within that second before a slot (a catch-up run after a restart) can be ambiguous:
/// the slot it straddles is not a due time.
fn due_after(schedule: &Schedule, id: MonitorId, prev: &CheckResult) -> Option<Timestamp> {
    let start = prev.result.started_at;
    let took = Duration::from_micros(u64::try_from(prev.result.timings.total_us).unwrap_or(0));
    let recorded = start.plus(took + Duration::from_secs(1));
    let slot = next_run(
        schedule,
        id.0,
        start.plus(Duration::from_millis(1)).to_datetime(),
    )?;
    let slot = Timestamp::from(slot);
    if slot < recorded {
        next_run(schedule, id.0, recorded.to_datetime()).map(Timestamp::from)
    } else {
        Some(slot)
    }
}

/// Reads every monitor's result rows (`parallel` monitors at a time) and computes the
/// period's exact lags and row counts.
async fn lags_from_rows(
    store: &Store,
    ws: WorkspaceId,
    ids: &[MonitorId],
    schedule: &Schedule,
    period: (Timestamp, Timestamp),
) -> anyhow::Result<Tally> {
    const PARALLEL: usize = 8;
    let mut tasks = tokio::task::JoinSet::new();
    for part in ids.chunks(ids.len().div_ceil(PARALLEL).max(1)) {
        let store = store.clone();
        let part = part.to_vec();
        let schedule = schedule.clone();
        tasks.spawn(async move {
            let mut tally = Tally::default();
            for id in part {
                let page = store
                    .workspace(ws)
                    .results(&ResultQuery {
                        monitor_id: id,
                        from: Timestamp::EPOCH,
                        to: Timestamp::from_millis(i64::MAX),
                        order: Order::Ascending,
                        limit: 10_000,
                        after: None,
                    })
                    .await?;
                tally.add(&schedule, id, &page.items, period);
            }
            Ok::<_, anyhow::Error>(tally)
        });
    }
    let mut tally = Tally::default();
    while let Some(done) = tasks.join_next().await {
        tally.merge(done??);
    }
    Ok(tally)
}

/// Runs the fleet benchmark: a fresh PostgreSQL database (dropped at the end), the
/// monitors, the target, the nodes, the warm-up, the measured period, and the reading of
/// the results once the nodes have stopped.
///
/// # Errors
///
/// If PostgreSQL, the target, a node or the runtime cannot be set up, or a node fails.
pub fn run_fleet(config: &FleetConfig) -> anyhow::Result<FleetReport> {
    if !config.binary.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release -p bitwobbly-cli) or pass --bitwobbly PATH",
            config.binary.display()
        );
    }
    let target = Target::start()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        let db = TestDatabase::create(Backend::Postgres, "fleet").await;
        let db_name = db.pg_name().context("a PostgreSQL database")?.to_owned();
        let report = measure(config, &db, &db_name, &target).await;
        db.finish().await;
        report
    })?;
    drop(target);
    Ok(report)
}

async fn measure(
    config: &FleetConfig,
    db: &TestDatabase,
    db_name: &str,
    target: &Target,
) -> anyhow::Result<FleetReport> {
    let store = Store::open(db.url()).await?;
    let setup_start = Instant::now();
    let ws = store
        .global()
        .create_workspace("fleet", "Fleet", Clock.now())
        .await?
        .id;
    let url = format!("http://127.0.0.1:{}/", target.port);
    let ids = create_monitors(&store, ws, &url, config.monitors, config.interval, 4).await?;
    let setup = setup_start.elapsed();

    let mut nodes = (0..config.nodes)
        .map(|i| Node::start(config, i, db.url(), db.dir()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for n in &mut nodes {
        n.wait_ready().await?;
    }
    // The warm-up: one interval, and then until every monitor has run once. At the start
    // every monitor is overdue, and catch-up spreads their first runs over the minute after
    // each is claimed; a first run inside the measured period would be one more than its
    // slots.
    tokio::time::sleep(config.warmup).await;
    let give_up = Instant::now() + 2 * config.interval.max(Duration::from_secs(30));
    loop {
        let never_ran = store
            .workspace(ws)
            .monitor_states()
            .await?
            .iter()
            .filter(|s| s.last_result_at.is_none())
            .count();
        if never_ran == 0 || Instant::now() > give_up {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }

    let ticks = clock_ticks();
    let mut pg = PgCpu::default();
    pg.sample(db_name, true);
    let load_start = load_average();
    let mut before = Vec::new();
    for n in &nodes {
        let text = n.metrics().await?;
        let cpu = cpu_ticks(n.child.id()).context("a node's CPU time")?;
        before.push((text, cpu));
    }
    let target_cpu0 = cpu_ticks(target.child.id()).context("the target's CPU time")?;
    let from = Clock.now();
    let wall_start = Instant::now();
    let end = wall_start + config.duration;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1).min(end - Instant::now())).await;
        pg.sample(db_name, false);
        for n in &mut nodes {
            if let Some(status) = n.child.try_wait()? {
                bail!(
                    "{} exited during the run ({status}); see {}",
                    n.name,
                    n.log.display()
                );
            }
        }
    }
    let to = Clock.now();
    let wall = wall_start.elapsed();
    let target_cpu1 = cpu_ticks(target.child.id()).context("the target's CPU time")?;
    let mut reports = Vec::new();
    for (n, (text0, cpu0)) in nodes.iter().zip(&before) {
        let cpu1 = cpu_ticks(n.child.id()).context("a node's CPU time")?;
        let peak_rss = status_kb(&n.pid(), "VmHWM");
        let rss = status_kb(&n.pid(), "VmRSS");
        let text1 = n.metrics().await?;
        let name = "bitwobbly_scheduler_lag_seconds";
        let lag = Histogram::parse(&text1, name).since(&Histogram::parse(text0, name));
        let checks = counter_sum(&text1, "bitwobbly_checks_total")
            - counter_sum(text0, "bitwobbly_checks_total");
        reports.push(NodeReport {
            name: n.name.clone(),
            checks: checks as u64,
            lag,
            cpu: Duration::from_secs_f64(cpu1.saturating_sub(*cpu0) as f64 / ticks as f64),
            peak_rss,
            rss,
            metrics_bytes: text1.len(),
            warnings: Vec::new(),
        });
    }
    let pg_cpu = Duration::from_secs_f64(pg.ticks(PgClass::Ours) as f64 / ticks as f64);
    let pg_shared_cpu = Duration::from_secs_f64(pg.ticks(PgClass::Shared) as f64 / ticks as f64);
    let load_end = load_average();
    let logs = std::env::temp_dir().join(format!("fleet-load-{}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    for (n, r) in nodes.iter_mut().zip(&mut reports) {
        n.terminate().await?;
        let text = std::fs::read_to_string(&n.log).unwrap_or_default();
        r.warnings = warnings(&text);
        std::fs::copy(&n.log, logs.join(format!("{}.log", n.name)))?;
    }
    drop(nodes);

    let schedule = Schedule::interval(config.interval)?;
    let mut tally = lags_from_rows(&store, ws, &ids, &schedule, (from, to)).await?;
    store.close().await;
    let missed_slots = tally.lags.iter().filter(|l| **l >= config.interval).count() as u64;
    Ok(FleetReport {
        config: config.clone(),
        setup,
        wall,
        nodes: reports,
        expected_checks: config.monitors as f64 * config.duration.as_secs_f64()
            / config.interval.as_secs_f64(),
        rows: tally.rows,
        lag: Spread::of(&mut tally.lags),
        missed_slots,
        check_duration: Spread::of(&mut tally.durations),
        pg_cpu,
        pg_shared_cpu,
        load: (load_start, load_end),
        target_cpu: Duration::from_secs_f64(
            target_cpu1.saturating_sub(target_cpu0) as f64 / ticks as f64,
        ),
        logs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP x\n\
        lag_bucket{le=\"0.1\"} 50\n\
        lag_bucket{le=\"0.5\"} 98\n\
        lag_bucket{le=\"1.0\"} 100\n\
        lag_bucket{le=\"+Inf\"} 100\n\
        lag_sum 12.5\n\
        lag_count 100\n\
        checks_total{outcome=\"up\"} 7\n\
        checks_total{outcome=\"down\"} 3\n\
        checks_totally 100\n";

    #[test]
    fn histogram_quantiles_interpolate_within_buckets() {
        let h = Histogram::parse(TEXT, "lag");
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(0.1));
        // The 99th of 100 lies half way through the (0.5, 1.0] bucket's 2 observations.
        assert!((h.quantile(0.99).unwrap() - 0.75).abs() < 1e-9);
        assert_eq!(h.max_bound(), Some(1.0));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn histogram_deltas_subtract_the_earlier_scrape() {
        let before = Histogram::parse(
            "lag_bucket{le=\"0.1\"} 40\nlag_bucket{le=\"0.5\"} 40\nlag_bucket{le=\"1.0\"} 40\nlag_bucket{le=\"+Inf\"} 40\n",
            "lag",
        );
        let d = Histogram::parse(TEXT, "lag").since(&before);
        assert_eq!(d.count(), 60);
        assert_eq!(d.buckets[0], (0.1, 10));
        assert_eq!(d.max_bound(), Some(1.0));
    }

    #[test]
    fn a_quantile_past_the_last_bound_is_that_bound() {
        let h = Histogram::parse(
            "lag_bucket{le=\"1.0\"} 1\nlag_bucket{le=\"+Inf\"} 10\n",
            "lag",
        );
        assert_eq!(h.quantile(0.99), Some(1.0));
        assert_eq!(h.max_bound(), Some(f64::INFINITY));
    }

    #[test]
    fn warnings_are_counted_by_message() {
        let log = r#"{"level":"INFO","fields":{"message":"bound"}}
{"level":"WARN","fields":{"message":"a"}}
not json
{"level":"ERROR","fields":{"message":"b"}}
{"level":"WARN","fields":{"message":"b"}}"#;
        assert_eq!(
            warnings(log),
            vec![("b".to_owned(), 2), ("a".to_owned(), 1)]
        );
    }

    #[test]
    fn counters_sum_over_labels_and_not_over_longer_names() {
        assert_eq!(counter_sum(TEXT, "checks_total"), 10.0);
    }

    #[test]
    fn row_lag_is_start_minus_the_slot_after_the_previous_run() {
        let schedule = Schedule::interval(Duration::from_secs(60)).unwrap();
        let id = MonitorId(42);
        let first = Timestamp::from_millis(1_700_000_000_000);
        let due = Timestamp::from(
            next_run(
                &schedule,
                id.0,
                first.plus(Duration::from_millis(1)).to_datetime(),
            )
            .unwrap(),
        );
        let row = |at: Timestamp| CheckResult {
            id: ResultId(0),
            workspace_id: WorkspaceId(1),
            result: NewCheckResult {
                monitor_id: id,
                location: "local".to_owned(),
                started_at: at,
                status: CheckStatus::Up,
                timings: PhaseTimes::default(),
                http_status: Some(200),
                error_kind: None,
                message: None,
            },
        };
        let rows = [row(first), row(due.plus(Duration::from_millis(7)))];
        let mut tally = Tally::default();
        // Only the second row is in the period; the first gives it its due time.
        tally.add(
            &schedule,
            id,
            &rows,
            (
                first.plus(Duration::from_millis(1)),
                due.plus(Duration::from_secs(1)),
            ),
        );
        assert_eq!(tally.lags, vec![Duration::from_millis(7)]);
        assert_eq!(tally.durations.len(), 1);
        assert_eq!(tally.rows, [1, 0, 0]);
    }

    #[test]
    fn a_run_straddling_a_slot_leaves_the_next_slot_due() {
        let schedule = Schedule::interval(Duration::from_secs(60)).unwrap();
        let id = MonitorId(7);
        let base = Timestamp::from_millis(1_700_000_000_000);
        let slot = Timestamp::from(next_run(&schedule, id.0, base.to_datetime()).unwrap());
        let prev = CheckResult {
            id: ResultId(0),
            workspace_id: WorkspaceId(1),
            result: NewCheckResult {
                monitor_id: id,
                location: "local".to_owned(),
                started_at: Timestamp::from_millis(slot.as_millis() - 5),
                status: CheckStatus::Up,
                timings: PhaseTimes::default(),
                http_status: Some(200),
                error_kind: None,
                message: None,
            },
        };
        // Started 5 ms before a slot: recorded after it, so the next slot is the due time.
        assert_eq!(
            due_after(&schedule, id, &prev),
            Some(slot.plus(Duration::from_secs(60)))
        );
        let mut early = prev;
        early.result.started_at = slot.minus(Duration::from_secs(30));
        assert_eq!(due_after(&schedule, id, &early), Some(slot));
    }
}
