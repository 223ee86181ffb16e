//! Run with `cargo run --release -p bench-pages -- [--duration 10s] [--connections 64]`.
//!
//! Starts `bitwobbly serve`'s server in this process on a temporary SQLite database with one
//! status page of 30 components (each backed by an HTTP monitor of a local target), warms the
//! page's cache, then loads `/s/bench` with `wrk` over keep-alive connections on loopback and
//! reports requests per second, the p99 latency and the server's CPU time per request. Then
//! it serves the very same bytes as a static file from nginx (one worker, a configuration
//! generated in a temporary directory) under the same load and reports nginx's CPU per
//! request. Needs `apt-get install wrk nginx-light`.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::{CheckSpec, HttpSpec};
use bitwobbly_server::server::Server;
use bitwobbly_server::{Clock, Config};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::http::TestServer;

/// Components on the page.
const COMPONENTS: usize = 30;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Load {
    rps: f64,
    p99_ms: f64,
    requests: f64,
}

fn main() -> anyhow::Result<()> {
    let mut duration = Duration::from_secs(10);
    let mut connections = 64u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--duration" => {
                duration =
                    humantime::parse_duration(&args.next().context("--duration needs a value")?)?;
            }
            "--connections" => {
                connections = args
                    .next()
                    .context("--connections needs a value")?
                    .parse()?
            }
            other => bail!("unknown argument {other}; expected --duration or --connections"),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let (url, body, server_cpu, load) = rt.block_on(async {
        let target = TestServer::http()?;
        let mut config = Config::default();
        config.listen = "127.0.0.1:0".parse()?;
        config.data_dir = dir.path().join("data");
        config.pages.requests_per_minute = 0;
        let server = Server::bind(config).await?;
        let base = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        seed(&state.store, &target.url("/ok")).await?;
        let running =
            bitwobbly_server::spawn("server", server.run_until(std::future::pending::<()>()));
        let url = format!("{base}/s/bench");
        let body = warm(&base, &url).await?;
        let cpu_before = cpu_time::ProcessTime::now();
        let url2 = url.clone();
        let load = tokio::task::spawn_blocking(move || wrk(&url2, connections, duration)).await??;
        let server_cpu = cpu_before.elapsed();
        running.abort();
        anyhow::Ok((url, body, server_cpu, load))
    })?;
    let nginx = Nginx::start(&dir.path().join("nginx"), &body)?;
    let nginx_url = format!("http://{}/index.html", nginx.addr);
    let nginx_before = nginx.cpu()?;
    let nginx_load = wrk(&nginx_url, connections, duration)?;
    let nginx_cpu = nginx.cpu()? - nginx_before;
    drop(nginx);

    let ours_us = server_cpu.as_secs_f64() * 1e6 / load.requests.max(1.0);
    let nginx_us = nginx_cpu * 1e6 / nginx_load.requests.max(1.0);
    let report = format!(
        "page-load: {COMPONENTS} components, {} bytes gzip, wrk -t1 -c{connections} -d{}s (keep-alive)\n\
         {:<8} {:>10} {:>9} {:>14}\n\
         {:<8} {:>10.0} {:>9.2} {:>14.1}\n\
         {:<8} {:>10.0} {:>9.2} {:>14.1}\n\
         CPU per request: {:.2}x nginx's\n\
         url: {url}\n",
        body.len(),
        duration.as_secs(),
        "server",
        "req/s",
        "p99 ms",
        "CPU µs/req",
        "bitwobbly",
        load.rps,
        load.p99_ms,
        ours_us,
        "nginx",
        nginx_load.rps,
        nginx_load.p99_ms,
        nginx_us,
        ours_us / nginx_us.max(1e-9),
    );
    std::io::Write::write_all(&mut std::io::stdout(), report.as_bytes())?;
    Ok(())
}

/// The page with [`COMPONENTS`] components, each with a monitor of `target`.
async fn seed(store: &Store, target: &str) -> anyhow::Result<()> {
    let now = Clock.now();
    let ws = store
        .global()
        .create_workspace("bench", "bench", now)
        .await?
        .id;
    let mut scope = store.workspace(ws);
    let mut page = NewStatusPage::new("bench", "Bench status");
    page.description = Some("Thirty components, all monitored".to_owned());
    let page = scope.create_status_page(&page, now).await?;
    for i in 0..COMPONENTS {
        let m = scope
            .create_monitor(
                &NewMonitor {
                    key: None,
                    name: format!("Service {i}"),
                    spec: CheckSpec::Http(HttpSpec::get(target)),
                    schedule: Schedule::interval(Duration::from_secs(60))?,
                    thresholds: Default::default(),
                    parent_id: None,
                    paused: false,
                    locations: vec![],
                    quorum: Default::default(),
                },
                now,
            )
            .await?;
        scope
            .create_component(
                &NewComponent {
                    key: None,
                    page_id: page.id,
                    group_id: None,
                    monitor_id: Some(m.id),
                    name: format!("Service {i}"),
                    description: Some(format!("The service number {i}")),
                    position: i as i64,
                    show_uptime: true,
                    show_response_times: true,
                },
                now,
            )
            .await?;
    }
    Ok(())
}

/// Waits until every monitor has been checked once, then returns the cached page's gzip
/// bytes (what browsers get).
async fn warm(base: &str, url: &str) -> anyhow::Result<Vec<u8>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let components = format!("{base}/s/bench/api/v2/components.json");
    let start = tokio::time::Instant::now();
    loop {
        let text = http.get(&components).send().await?.text().await?;
        if text.matches("\"operational\"").count() >= COMPONENTS {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("the monitors were not all checked within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the page's snapshot be rebuilt after the last result, then keep its bytes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let res = http
        .get(url)
        .header("accept-encoding", "gzip")
        .send()
        .await?;
    if res
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        != Some("gzip")
    {
        bail!("the page was not served gzip-compressed");
    }
    let body = res.bytes().await?;
    Ok(body.to_vec())
}

/// Runs wrk (one thread, keep-alive) with latency statistics.
fn wrk(url: &str, connections: u32, duration: Duration) -> anyhow::Result<Load> {
    let out = Command::new("wrk")
        .args(["-t1", "--latency", "-H", "Accept-Encoding: gzip"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg(url)
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| parse_latency(v.trim()))
        .with_context(|| format!("no 99% latency in wrk's output:\n{text}"))?;
    let requests = text
        .lines()
        .find_map(|l| {
            l.split_once(" requests in ")
                .map(|(n, _)| n.trim().to_owned())
        })
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no request count in wrk's output:\n{text}"))?;
    if text.contains("Non-2xx") {
        bail!("wrk saw errors:\n{text}");
    }
    Ok(Load {
        rps,
        p99_ms,
        requests,
    })
}

/// `1.23ms`, `850.00us`, `1.02s` in milliseconds.
fn parse_latency(v: &str) -> Option<f64> {
    if let Some(us) = v.strip_suffix("us") {
        us.parse::<f64>().ok().map(|x| x / 1000.0)
    } else if let Some(ms) = v.strip_suffix("ms") {
        ms.parse().ok()
    } else if let Some(s) = v.strip_suffix('s') {
        s.parse::<f64>().ok().map(|x| x * 1000.0)
    } else {
        None
    }
}

/// nginx with one worker serving `index.html` from a temporary root, stopped on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
}

impl Nginx {
    fn start(dir: &Path, body: &[u8]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("root"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        // The page's gzip bytes, served as they are to clients that accept gzip.
        std::fs::write(dir.join("root/index.html.gz"), body)?;
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;
error_log {d}/error.log error;
pid {d}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=16;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    server {{
        listen {addr};
        root {d}/root;
        location / {{ default_type text/html; gzip_static always; }}
    }}
}}
"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off; master_process on;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx (apt-get install nginx-light)")?;
        let nginx = Self { child, addr };
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Ok(nginx);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("nginx did not start listening; see {d}/error.log")
    }

    /// CPU seconds used so far by the master and its workers (from `/proc`).
    fn cpu(&self) -> anyhow::Result<f64> {
        let master = self.child.id();
        let mut ticks = proc_ticks(master)?;
        for entry in std::fs::read_dir("/proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(vec![], |(_, r)| r.split_whitespace().collect());
            if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(master) {
                ticks += proc_ticks(pid)?;
            }
        }
        // Linux reports in USER_HZ, 100 per second.
        Ok(ticks as f64 / 100.0)
    }
}

/// utime + stime of a process, in clock ticks.
fn proc_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ppid(1) ... utime(11) stime(12).
    let utime: u64 = f.get(11).context("utime")?.parse()?;
    let stime: u64 = f.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-QUIT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
