//! Load benchmark for durable ingest, shared by the `ingest-load` binary and the kill test.
//!
//! The server is the real one (`bitwobbly_server::server::Server`, as `bitwobbly serve` runs
//! it) in a child process started as `ingest-load serve ...`, so that its CPU time can be read
//! from `/proc/<pid>/stat` apart from the load generator's. The load generator speaks plain
//! HTTP/1.1 over keep-alive connections with pre-built requests (a realistic 2 KB Python error
//! envelope whose event id changes per request), so that its own cost stays small.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bitwobbly_server::Config;
use bitwobbly_server::server::Server;
use bitwobbly_store::prelude::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The first argument that makes `ingest-load` run the server instead of the load.
pub const SERVE_ARG: &str = "serve";

/// The slug of the workspace the server sets up.
pub const WORKSPACE: &str = "bench";

/// Where the server keeps its data and which database it uses.
#[derive(Debug, Clone)]
pub struct ServeArgs {
    /// The data directory (SQLite file and blobs).
    pub data_dir: PathBuf,
    /// A PostgreSQL URL, or `None` for SQLite in the data directory.
    pub database_url: Option<String>,
}

impl ServeArgs {
    /// Reads `--data-dir DIR [--database-url URL]`.
    ///
    /// # Errors
    /// On an unknown or incomplete argument.
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let mut data_dir = None;
        let mut database_url = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let value = args
                .next()
                .with_context(|| format!("{arg} needs a value"))?;
            match arg.as_str() {
                "--data-dir" => data_dir = Some(PathBuf::from(value)),
                "--database-url" => database_url = Some(value),
                other => bail!("unknown serve argument {other:?}"),
            }
        }
        Ok(Self {
            data_dir: data_dir.context("--data-dir is required")?,
            database_url,
        })
    }

    fn to_args(&self) -> Vec<String> {
        let mut out = vec![
            SERVE_ARG.to_owned(),
            "--data-dir".to_owned(),
            self.data_dir.display().to_string(),
        ];
        if let Some(url) = &self.database_url {
            out.extend(["--database-url".to_owned(), url.clone()]);
        }
        out
    }
}

/// Runs the real server with ingest on (and processing, the scheduler and the notifier off,
/// so that only the endpoint's work is measured), sets up a project with a key, prints
/// `READY <addr> <project id> <public key>` and serves until SIGTERM or SIGINT.
///
/// # Errors
/// When the server cannot start or the project cannot be made.
pub fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut config = Config::default();
        config.listen = "127.0.0.1:0".parse()?;
        config.data_dir.clone_from(&args.data_dir);
        config.database_url.clone_from(&args.database_url);
        config.scheduler.enabled = false;
        config.notifier.enabled = false;
        config.ingest.processing.enabled = false;
        let server = Server::bind(config).await?;
        let (project, key) = setup(&server.state().store).await?;
        // Listen for SIGTERM before saying READY, so that a stop right away is graceful.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            writeln!(out, "READY {} {} {}", server.local_addr(), project.0, key)?;
            out.flush()?;
        }
        server
            .run_until(async move {
                term.recv().await;
            })
            .await?;
        Ok(())
    })
}

/// The bench workspace's project and its key (made on first start).
async fn setup(store: &Store) -> anyhow::Result<(ProjectId, String)> {
    let now = bitwobbly_server::Clock.now();
    let ws = match store.global().workspace_by_slug(WORKSPACE).await? {
        Some(ws) => ws.id,
        None => {
            store
                .global()
                .create_workspace(WORKSPACE, "Bench", now)
                .await?
                .id
        }
    };
    let mut scope = store.workspace(ws);
    let project = match scope.projects().await?.into_iter().next() {
        Some(p) => p,
        None => {
            scope
                .create_project("bench", "Bench", Some("python"), now)
                .await?
        }
    };
    let key = match scope.dsn_keys(project.id).await?.into_iter().next() {
        Some(k) => k,
        None => scope.create_dsn_key(project.id, "bench", None, now).await?,
    };
    Ok((project.id, key.public_key))
}

/// A server child process (`ingest-load serve`).
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Its address.
    pub addr: String,
    /// The project to post to.
    pub project: i64,
    /// The project's public key.
    pub key: String,
}

impl ServerProcess {
    /// Starts `exe serve ...` and waits for its `READY` line.
    ///
    /// # Errors
    /// When it cannot start or exits before it is ready.
    pub fn spawn(exe: &Path, args: &ServeArgs) -> anyhow::Result<Self> {
        let mut child = Command::new(exe)
            .args(args.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("start {}", exe.display()))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        if parts.next() != Some("READY") {
            let _ = child.kill();
            bail!("the server did not start: {line:?}");
        }
        let addr = parts.next().context("address")?.to_owned();
        let project = parts.next().context("project")?.parse()?;
        let key = parts.next().context("key")?.to_owned();
        Ok(Self {
            child,
            addr,
            project,
            key,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User plus system CPU time the server has used so far.
    ///
    /// # Errors
    /// When `/proc/<pid>/stat` cannot be read.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        let after_comm = stat.rsplit_once(')').context("stat format")?.1;
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        // Fields 14 and 15 of stat(5) (utime, stime) are the 12th and 13th after the name.
        let ticks: u64 = fields.get(11).context("utime")?.parse::<u64>()?
            + fields.get(12).context("stime")?.parse::<u64>()?;
        Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
    }

    /// Kills the server with SIGKILL and reaps it.
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Stops the server with SIGTERM (graceful shutdown) and waits for it.
    ///
    /// # Errors
    /// When the signal cannot be sent or the server fails.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the server exited with {status}");
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The bytes of every file under `dir` (0 when it does not exist).
///
/// # Errors
/// An I/O error other than a missing directory.
pub fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut total = 0;
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// A realistic error envelope from the Python SDK, about 2 KB, and where its event id is (in
/// the envelope header and in the event), to change per request.
pub fn error_envelope() -> (Vec<u8>, Vec<usize>) {
    const ID: &str = "00000000000000000000000000000000";
    let event = format!(
        concat!(
            r#"{{"event_id":"{id}","timestamp":"2025-01-01T12:00:00.123456Z","platform":"python","#,
            r#""level":"error","logger":"app.views","server_name":"web-3","release":"shop@2.14.1","#,
            r#""environment":"production","transaction":"/api/orders/{{order_id}}","#,
            r#""exception":{{"values":[{{"type":"KeyError","value":"'customer_id'","#,
            r#""module":null,"mechanism":{{"type":"django","handled":false}},"#,
            r#""stacktrace":{{"frames":["#,
            r#"{{"filename":"django/core/handlers/exception.py","abs_path":"/usr/lib/python3.12/site-packages/django/core/handlers/exception.py","function":"inner","module":"django.core.handlers.exception","lineno":55,"in_app":false}},"#,
            r#"{{"filename":"django/core/handlers/base.py","abs_path":"/usr/lib/python3.12/site-packages/django/core/handlers/base.py","function":"_get_response","module":"django.core.handlers.base","lineno":197,"in_app":false}},"#,
            r#"{{"filename":"app/views.py","abs_path":"/srv/app/views.py","function":"order_detail","module":"app.views","lineno":88,"in_app":true,"context_line":"    customer = data['customer_id']","pre_context":["def order_detail(request, order_id):","    data = load(order_id)"],"post_context":["    return render(request, customer)"]}},"#,
            r#"{{"filename":"app/orders.py","abs_path":"/srv/app/orders.py","function":"load","module":"app.orders","lineno":31,"in_app":true,"context_line":"    return cache[order_id]"}}"#,
            r#"]}}}}]}},"#,
            r#""breadcrumbs":{{"values":[{{"timestamp":1735732799.1,"category":"query","message":"SELECT * FROM orders WHERE id = %s","level":"info"}},"#,
            r#"{{"timestamp":1735732799.2,"category":"http","data":{{"url":"https://payments.internal/v1/status","method":"GET","status_code":200}},"level":"info"}}]}},"#,
            r#""request":{{"url":"https://shop.example.com/api/orders/8812","method":"GET","headers":{{"User-Agent":"Mozilla/5.0 (X11; Linux x86_64)","Accept":"application/json"}}}},"#,
            r#""user":{{"id":"4711","ip_address":"203.0.113.9"}},"#,
            r#""tags":{{"region":"eu-west-1","feature":"checkout-v2"}},"#,
            r#""contexts":{{"runtime":{{"name":"CPython","version":"3.12.3"}},"os":{{"name":"Linux","version":"6.8.0"}},"trace":{{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2","span_id":"fa90fdead5f74052","op":"http.server"}}}},"#,
            r#""sdk":{{"name":"sentry.python.django","version":"2.19.0","packages":[{{"name":"pypi:sentry-sdk","version":"2.19.0"}}]}},"#,
            r#""modules":{{"django":"5.1.4","psycopg":"3.2.3","redis":"5.2.1"}}}}"#
        ),
        id = ID
    );
    let header = format!(
        r#"{{"event_id":"{ID}","sent_at":"2025-01-01T12:00:00.200000Z","sdk":{{"name":"sentry.python.django","version":"2.19.0"}},"trace":{{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2","environment":"production","release":"shop@2.14.1","public_key":"k","sample_rate":"1.0"}}}}"#
    );
    let body = format!(
        "{header}\n{{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":{}}}\n{event}\n",
        event.len()
    )
    .into_bytes();
    let offsets = body
        .windows(ID.len())
        .enumerate()
        .filter(|(_, w)| *w == ID.as_bytes())
        .map(|(i, _)| i)
        .collect();
    (body, offsets)
}

/// A pre-built keep-alive `POST` of an envelope to a server, with slots for the event id.
#[derive(Debug, Clone)]
pub struct Request {
    bytes: Vec<u8>,
    id_offsets: Vec<usize>,
}

impl Request {
    /// The request for `body` (with event id slots at `offsets`) to the project's envelope
    /// endpoint, authenticated like the Python SDK does it.
    pub fn new(server: &ServerProcess, body: &[u8], offsets: &[usize]) -> Self {
        let head = format!(
            "POST /api/{}/envelope/ HTTP/1.1\r\nHost: {}\r\nUser-Agent: sentry.python/2.19.0\r\n\
             Content-Type: application/x-sentry-envelope\r\n\
             X-Sentry-Auth: Sentry sentry_key={}, sentry_version=7, sentry_client=sentry.python/2.19.0\r\n\
             Content-Length: {}\r\n\r\n",
            server.project,
            server.addr,
            server.key,
            body.len()
        );
        let mut bytes = head.into_bytes();
        let base = bytes.len();
        bytes.extend_from_slice(body);
        Self {
            bytes,
            id_offsets: offsets.iter().map(|o| o + base).collect(),
        }
    }

    /// Writes `id` (32 lowercase hex digits) into every event id slot.
    pub fn set_event_id(&mut self, id: u128) {
        let hex = format!("{id:032x}");
        for &o in &self.id_offsets {
            self.bytes[o..o + 32].copy_from_slice(hex.as_bytes());
        }
    }

    /// The raw request.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One keep-alive HTTP/1.1 connection that sends requests and reads their answers.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects.
    ///
    /// # Errors
    /// When the connection fails.
    pub async fn connect(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends `request` and returns the answer's status and body.
    ///
    /// # Errors
    /// On I/O errors or a malformed answer.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        self.stream.write_all(request).await?;
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let head_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("head"))?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| bad("content-length"))?;
        while self.buf.len() < head_end + length {
            self.fill().await?;
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Ok((status, body))
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every event id stored in the bench workspace of the database at `url`.
///
/// # Errors
/// When the store cannot be opened or read.
pub async fn stored_event_ids(url: &str, data_dir: &Path) -> anyhow::Result<Vec<String>> {
    let store = Store::open(url).await?;
    let ws = store
        .global()
        .workspace_by_slug(WORKSPACE)
        .await?
        .context("the bench workspace")?
        .id;
    let blobs =
        bitwobbly_store::blob::FsBlobStore::new(bitwobbly_server::config::blob_dir(data_dir));
    let mut ids = Vec::new();
    let mut missing = 0;
    let mut id = 1;
    while missing < 256 {
        match store.workspace(ws).envelope(EnvelopeId(id)).await? {
            Some(env) => {
                missing = 0;
                // The raw bytes must be readable too, not only the manifest.
                store
                    .global()
                    .envelope_body(env.id, &blobs)
                    .await?
                    .context("an envelope without its body")?;
                ids.extend(env.manifest.event_id);
            }
            None => missing += 1,
        }
        id += 1;
    }
    store.close().await;
    Ok(ids)
}
