//! Load benchmark for the check engine, shared by the `check-load` binary.
//!
//! It starts nginx on loopback (one worker, HTTP and HTTPS with session resumption
//! disabled), measures the ceiling with `wrk -H 'Connection: close'`, then runs full
//! checks from a one-thread runtime for the same time and reports checks per second,
//! CPU time per check and memory held per in-flight check.
//!
//! nginx offers TLS 1.2 and 1.3: before 1.23.4 it leaves 1.3 off unless told, and most
//! servers a monitor checks speak it.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bitwobbly_check::Checker;
use bitwobbly_core::{CheckSpec, CompiledCheck, HttpSpec, Status};
use bitwobbly_test_support::pki::TestCa;

/// Which protocol a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP/1.1, a fresh TCP connection each check.
    Http,
    /// HTTPS, a fresh TCP connection and a full TLS handshake each check.
    Https,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Http => "http",
            Self::Https => "https",
        })
    }
}

/// Settings of a load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// How long each measurement lasts. Default 10 s.
    pub duration: Duration,
    /// Checks (and wrk connections) in flight at once. Default 64.
    pub concurrency: usize,
    /// Protocols to measure. Default both.
    pub schemes: Vec<Scheme>,
    /// Bytes currently held by the process's allocator, if it is instrumented.
    pub held_bytes: Option<fn() -> i64>,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            concurrency: 64,
            schemes: vec![Scheme::Http, Scheme::Https],
            held_bytes: None,
        }
    }
}

/// What one protocol's run measured.
#[derive(Debug, Clone)]
pub struct SchemeResult {
    /// The protocol.
    pub scheme: Scheme,
    /// Requests per second `wrk -H 'Connection: close'` reached.
    pub wrk_rps: f64,
    /// Checks per second the checker completed.
    pub checks_per_sec: f64,
    /// Checks that were not up (should be zero).
    pub failed: u64,
    /// Process CPU time per check, in milliseconds.
    pub cpu_ms_per_check: f64,
    /// Mean bytes held per in-flight check, when the allocator is instrumented.
    pub bytes_per_inflight: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The settings used.
    pub concurrency: usize,
    /// Seconds per measurement.
    pub duration: Duration,
    /// One result per protocol.
    pub results: Vec<SchemeResult>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "check-load: {} in flight, {:?} per measurement, checker on 1 thread, nginx 1 worker",
            self.concurrency, self.duration
        )?;
        writeln!(
            f,
            "{:<6} {:>12} {:>12} {:>8} {:>12} {:>14} {:>7}",
            "scheme", "wrk req/s", "checks/s", "of wrk", "CPU ms/check", "KiB/in-flight", "failed"
        )?;
        for r in &self.results {
            writeln!(
                f,
                "{:<6} {:>12.0} {:>12.0} {:>7.0}% {:>12.3} {:>14} {:>7}",
                r.scheme.to_string(),
                r.wrk_rps,
                r.checks_per_sec,
                100.0 * r.checks_per_sec / r.wrk_rps.max(1.0),
                r.cpu_ms_per_check,
                r.bytes_per_inflight
                    .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1}", b / 1024.0)),
                r.failed
            )?;
        }
        Ok(())
    }
}

/// Runs the whole benchmark.
///
/// # Errors
///
/// When nginx or wrk cannot be started, or their output cannot be read.
pub fn run_load(config: &LoadConfig) -> anyhow::Result<LoadReport> {
    let dir = tempfile::tempdir()?;
    let ca = TestCa::new();
    let nginx = Nginx::start(dir.path(), &ca)?;
    let mut results = Vec::new();
    for scheme in &config.schemes {
        let addr = match scheme {
            Scheme::Http => nginx.http,
            Scheme::Https => nginx.https,
        };
        let url = format!("{scheme}://{addr}/");
        let wrk_rps = wrk(&url, config)?;
        let mut spec = HttpSpec::get(url);
        if *scheme == Scheme::Https {
            spec.tls.ca_pem = Some(ca.pem().to_owned());
        }
        let check = CheckSpec::Http(spec).compile()?;
        results.push(check_load(*scheme, wrk_rps, &check, config)?);
    }
    Ok(LoadReport {
        concurrency: config.concurrency,
        duration: config.duration,
        results,
    })
}

/// Runs checks of `check` from `concurrency` tasks on a one-thread runtime.
fn check_load(
    scheme: Scheme,
    wrk_rps: f64,
    check: &CompiledCheck,
    config: &LoadConfig,
) -> anyhow::Result<SchemeResult> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let checker = Checker::new();
        // Warm up: TLS configs, roots and the allocator's pools.
        let warm = checker.run(check).await;
        if warm.status != Status::Up {
            bail!("warm-up check was {}: {:?}", warm.status, warm.reason);
        }
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let baseline = config.held_bytes.map(|f| f());
        let cpu_start = cpu_time::ProcessTime::now();
        let start = tokio::time::Instant::now();
        let deadline = start + config.duration;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..config.concurrency {
            let (checker, check) = (checker.clone(), check.clone());
            let (done, failed) = (done.clone(), failed.clone());
            tasks.spawn(async move {
                while tokio::time::Instant::now() < deadline {
                    let report = checker.run(&check).await;
                    if report.status != Status::Up {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let mut held = Vec::new();
        if let Some(sample) = config.held_bytes {
            while tokio::time::Instant::now() + Duration::from_millis(100) < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                held.push(sample());
            }
        }
        while tasks.join_next().await.is_some() {}
        let elapsed = start.elapsed();
        let cpu = cpu_start.elapsed();
        let n = done.load(Ordering::Relaxed);
        let bytes_per_inflight = baseline.filter(|_| !held.is_empty()).map(|base| {
            let mean = held.iter().sum::<i64>() as f64 / held.len() as f64;
            (mean - base as f64) / config.concurrency as f64
        });
        Ok(SchemeResult {
            scheme,
            wrk_rps,
            checks_per_sec: n as f64 / elapsed.as_secs_f64(),
            failed: failed.load(Ordering::Relaxed),
            cpu_ms_per_check: cpu.as_secs_f64() * 1000.0 / n.max(1) as f64,
            bytes_per_inflight,
        })
    })
}

/// Runs wrk with one thread and `Connection: close` and returns requests per second.
fn wrk(url: &str, config: &LoadConfig) -> anyhow::Result<f64> {
    let out = Command::new("wrk")
        .args(["-t1", "-H", "Connection: close"])
        .arg(format!("-c{}", config.concurrency))
        .arg(format!("-d{}s", config.duration.as_secs()))
        .arg(url)
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    Ok(rps)
}

/// nginx on two loopback ports, stopped on drop.
struct Nginx {
    child: Child,
    conf: PathBuf,
    prefix: PathBuf,
    http: SocketAddr,
    https: SocketAddr,
}

impl Nginx {
    fn start(dir: &Path, ca: &TestCa) -> anyhow::Result<Self> {
        let (http, https) = (free_port()?, free_port()?);
        let leaf = ca.leaf(&["127.0.0.1", "localhost"]);
        std::fs::write(dir.join("cert.pem"), leaf.chain_pem())?;
        std::fs::write(dir.join("key.pem"), leaf.key_pem())?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;
error_log {d}/error.log error;
pid {d}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    server {{
        listen {http} reuseport;
        listen {https} ssl reuseport;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {{ return 200 \"ok\\n\"; }}
    }}
}}
"
        );
        let conf_path: PathBuf = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx (apt-get install nginx-light)")?;
        let nginx = Self {
            child,
            conf: conf_path,
            prefix: dir.to_owned(),
            http,
            https,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(https).is_ok()
                && std::net::TcpStream::connect(http).is_ok()
            {
                return Ok(nginx);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("nginx did not start listening; see {d}/error.log")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `-s stop` lets the master take its workers down; killing the master alone
        // would leave the workers running.
        let stopped = Command::new("nginx")
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "stop"])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}
