//! Databases, `bitwobbly serve` processes, and the peers the server talks to.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, post};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How long a condition may take before the test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// The password every test user gets.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// The metrics bearer token in the test configuration.
pub(crate) const METRICS_TOKEN: &str = "metrics-secret";

/// Polls `cond` until it holds, failing the test after [`DEADLINE`].
pub(crate) async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// === databases ===

pub(crate) use bitwobbly_test_support::db::Backend;
use bitwobbly_test_support::db::TestDatabase;

/// A database for one test (SQLite in a temporary data directory, or a fresh PostgreSQL
/// database dropped afterwards) and the configuration file the nodes read.
pub(crate) struct Db {
    db: TestDatabase,
}

impl Db {
    pub(crate) async fn new(backend: Backend) -> Self {
        let db = Self {
            db: TestDatabase::create(backend, "serve").await,
        };
        std::fs::write(db.config_file(), TEST_CONFIG).expect("write the config file");
        db
    }

    /// The test's own directory (the data directory is `data/` inside it).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.db.dir()
    }

    /// The configuration file: fast polling and retries, a metrics token.
    pub(crate) fn config_file(&self) -> PathBuf {
        self.dir().join("bitwobbly.toml")
    }

    /// The flags that point a command at this database.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--config".to_owned(),
            self.config_file().display().to_string(),
            "--data-dir".to_owned(),
            self.dir().join("data").display().to_string(),
        ];
        if let Some(url) = self.db.postgres_url() {
            args.push("--database-url".to_owned());
            args.push(url.to_owned());
        }
        args
    }

    /// The store, opened as the server opens it.
    pub(crate) async fn store(&self) -> bitwobbly_store::Store {
        let url = self
            .db
            .postgres_url()
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rwc",
                    self.dir().join("data/bitwobbly.db").display()
                )
            });
        bitwobbly_store::Store::open(&url)
            .await
            .expect("open the store")
    }

    /// One integer read with `sql` over a connection of its own.
    #[allow(dead_code)] // used by the cluster tests, which share this harness
    pub(crate) async fn count(&self, sql: &str) -> i64 {
        self.db.scalar(sql).await
    }

    /// One text (or `NULL`) read with `sql` over a connection of its own.
    #[allow(dead_code)] // used by the cluster tests, which share this harness
    pub(crate) async fn text(&self, sql: &str) -> Option<String> {
        self.db.scalar(sql).await
    }

    pub(crate) async fn finish(self) {
        self.db.finish().await;
    }
}

const TEST_CONFIG: &str = r#"
shutdown_grace = "10s"

[scheduler]
poll_interval = "100ms"

[notifier]
poll_interval = "100ms"
initial_backoff = "500ms"
max_backoff = "2s"
send_timeout = "2s"

[metrics]
bearer_token = "metrics-secret"
"#;

// === the binary ===

/// What one run of a one-shot command did.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `bitwobbly ARGS` with `stdin` as standard input.
pub(crate) async fn bitwobbly(args: &[String], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bitwobbly"))
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("the command finishes in time")
        .expect("the command ran");
    Output {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Creates `email` (password [`PASSWORD`]) owning workspace `workspace`, and returns an
/// owner API token for it, both with the admin commands.
pub(crate) async fn admin_token(db: &Db, email: &str, workspace: &str) -> String {
    let mut args = strings(&["admin", "create-user", "--email", email, "--password-stdin"]);
    args.extend(strings(&["--workspace", workspace]));
    args.extend(db.args());
    let out = bitwobbly(&args, &format!("{PASSWORD}\n"), &[]).await;
    assert_eq!(out.code, 0, "create-user: {out:?}");
    let mut args = strings(&["admin", "create-token", "--email", email]);
    args.extend(db.args());
    let out = bitwobbly(&args, "", &[]).await;
    assert_eq!(out.code, 0, "create-token: {out:?}");
    let token = out.stdout.trim().to_owned();
    assert!(token.starts_with("bw_"), "{out:?}");
    token
}

/// A running `bitwobbly serve` process.
pub(crate) struct Node {
    child: Child,
    pub(crate) addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
    _readers: JoinSet<()>,
}

impl Node {
    /// Starts `bitwobbly serve` on port 0 with JSON logs and waits until it is ready.
    pub(crate) async fn start(db: &Db, env: &[(&str, &str)]) -> Self {
        let mut args = strings(&["serve", "--listen", "127.0.0.1:0", "--log-format", "json"]);
        args.extend(db.args());
        let mut child = Command::new(env!("CARGO_BIN_EXE_bitwobbly"))
            .args(&args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary runs");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let mut readers = JoinSet::new();
        let err = child.stderr.take().expect("stderr");
        let sink = logs.clone();
        readers.spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let out = child.stdout.take().expect("stdout");
        let sink = stdout.clone();
        readers.spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let mut addr = None;
        let start = Instant::now();
        while addr.is_none() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "serve exited at start ({status}):\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
            assert!(start.elapsed() < DEADLINE, "serve did not bind in time");
            addr = logs.lock().unwrap().iter().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == "bitwobbly server bound")
                    .then(|| v["fields"]["addr"].as_str()?.parse().ok())?
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let node = Self {
            child,
            addr: addr.expect("an address"),
            logs,
            stdout,
            _readers: readers,
        };
        let http = client();
        let url = node.url("/readyz");
        wait_until("the node to be ready", || {
            let http = http.clone();
            let url = url.clone();
            async move {
                http.get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::OK)
            }
        })
        .await;
        node
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything the node logged so far (JSON lines).
    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// What the node printed on standard output.
    pub(crate) fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM and waits for the exit.
    pub(crate) async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("the node exits in time")
            .expect("wait")
    }

    /// SIGKILL: no chance to clean up.
    pub(crate) async fn kill(&mut self) {
        self.child.start_kill().expect("kill");
        let _ = tokio::time::timeout(DEADLINE, self.child.wait()).await;
    }

    /// The node's metrics, scraped with the bearer token.
    pub(crate) async fn metrics(&self) -> String {
        let res = client()
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("scrape");
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.expect("metrics text")
    }
}

/// The sum of every sample of a metric family in Prometheus text.
pub(crate) fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An HTTP client (plain HTTP on loopback).
pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("a client")
}

/// The REST API of a node, as one workspace's token.
#[derive(Clone)]
pub(crate) struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub(crate) fn new(node: &Node, workspace: &str, token: &str) -> Self {
        Self {
            base: node.url(&format!("/api/v1/workspaces/{workspace}")),
            token: token.to_owned(),
            http: client(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("API request");
        let status = res.status();
        let text = res.text().await.expect("API body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let (status, body) = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub(crate) async fn post(&self, path: &str, json: Value) -> Value {
        let req = self.http.post(format!("{}{path}", self.base)).json(&json);
        let (status, body) = self.send(req).await;
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    pub(crate) async fn put(&self, path: &str, json: Value) -> Value {
        let req = self.http.put(format!("{}{path}", self.base)).json(&json);
        let (status, body) = self.send(req).await;
        assert!(status.is_success(), "PUT {path}: {status} {body}");
        body
    }

    /// Every outbox row of the workspace.
    pub(crate) async fn notifications(&self) -> Vec<Value> {
        self.get("/notifications?limit=1000")
            .await
            .as_array()
            .cloned()
            .expect("a list")
    }

    /// The workspace's incidents.
    pub(crate) async fn incidents(&self) -> Vec<Value> {
        let v = self.get("/incidents").await;
        v.as_array()
            .cloned()
            .or_else(|| v["items"].as_array().cloned())
            .unwrap_or_else(|| panic!("a list of incidents: {v}"))
    }

    /// A monitor's status.
    pub(crate) async fn status(&self, id: i64) -> String {
        self.get(&format!("/monitors/{id}")).await["status"]
            .as_str()
            .expect("a status")
            .to_owned()
    }
}

/// Thresholds that go down on the first failure and up on the first success.
pub(crate) fn eager() -> Value {
    serde_json::json!({"down_after": 1, "degraded_after": 1, "window": 1, "recover_after": 1})
}

/// The assertion every test HTTP monitor has: a 2xx status (a monitor without assertions
/// takes any answer as up).
pub(crate) fn ok() -> Value {
    serde_json::json!({"type": "status_code", "expect": "200-299"})
}

// === peers ===

/// Serves `router` on a loopback port until dropped.
struct Served {
    addr: SocketAddr,
    _task: JoinSet<()>,
}

async fn serve(router: Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let mut task = JoinSet::new();
    task.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Served { addr, _task: task }
}

/// A monitored service: `/t/{name}` answers 200 while healthy and 500 otherwise,
/// `/slow/{name}` answers after 3 s; every request is recorded with its arrival time.
pub(crate) struct Target {
    served: Served,
    state: Arc<TargetState>,
}

#[derive(Default)]
struct TargetState {
    failing: AtomicBool,
    hits: Mutex<Vec<(String, Instant)>>,
}

impl Target {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(TargetState::default());
        let router = Router::new()
            .route(
                "/t/{name}",
                any(
                    |State(s): State<Arc<TargetState>>, Path(name): Path<String>| async move {
                        s.hits.lock().unwrap().push((name, Instant::now()));
                        if s.failing.load(Ordering::SeqCst) {
                            (StatusCode::INTERNAL_SERVER_ERROR, "broken")
                        } else {
                            (StatusCode::OK, "ok")
                        }
                    },
                ),
            )
            .route(
                "/slow/{name}",
                any(
                    |State(s): State<Arc<TargetState>>, Path(name): Path<String>| async move {
                        s.hits
                            .lock()
                            .unwrap()
                            .push((format!("slow/{name}"), Instant::now()));
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        (StatusCode::OK, "slow but fine")
                    },
                ),
            )
            .with_state(state.clone());
        Self {
            served: serve(router).await,
            state,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.served.addr)
    }

    pub(crate) fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Arrival times of the requests for `name`.
    pub(crate) fn hits(&self, name: &str) -> Vec<Instant> {
        self.state
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, t)| *t)
            .collect()
    }

    /// Arrival times of every request, by name.
    pub(crate) fn all_hits(&self) -> HashMap<String, Vec<Instant>> {
        let mut out: HashMap<String, Vec<Instant>> = HashMap::new();
        for (n, t) in self.state.hits.lock().unwrap().iter() {
            out.entry(n.clone()).or_default().push(*t);
        }
        out
    }
}

/// The Standard Webhooks secret the tests give webhook channels.
pub(crate) const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request that reached the webhook receiver.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) id: String,
    pub(crate) body: Value,
    /// Whether `webhook-signature` verified against the secret.
    pub(crate) signed: bool,
    /// Whether the receiver accepted it (answered 200).
    pub(crate) accepted: bool,
}

/// A webhook receiver at `/hook` that verifies every signature independently. While
/// "down" it records the request, then holds it without answering (the sender times out).
pub(crate) struct Receiver {
    served: Served,
    state: Arc<ReceiverState>,
}

struct ReceiverState {
    down: AtomicBool,
    /// Milliseconds every accepted request waits before its answer.
    delay_ms: std::sync::atomic::AtomicU64,
    key: Vec<u8>,
    deliveries: Mutex<Vec<Delivery>>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let key = base64::engine::general_purpose::STANDARD
            .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
            .expect("secret");
        let state = Arc::new(ReceiverState {
            down: AtomicBool::new(false),
            delay_ms: std::sync::atomic::AtomicU64::new(0),
            key,
            deliveries: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(state.clone());
        Self {
            served: serve(router).await,
            state,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.served.addr)
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Makes every accepted request wait `delay` before its `200` (deliveries in flight).
    #[allow(dead_code)] // used by the cluster tests, which share this harness
    pub(crate) fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }
}

async fn receive(
    State(s): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, ts, sigs) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&s.key).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let signed = !ts.is_empty()
        && sigs
            .split(' ')
            .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()));
    let down = s.down.load(Ordering::SeqCst);
    s.deliveries.lock().unwrap().push(Delivery {
        id,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed,
        accepted: !down,
    });
    if down {
        tokio::time::sleep(Duration::from_secs(60)).await;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::OK
}

/// A real SMTP server: aiosmtpd writing every message to a maildir.
pub(crate) struct Smtp {
    pub(crate) port: u16,
    maildir: tempfile::TempDir,
    _child: Child,
}

impl Smtp {
    pub(crate) async fn start() -> Self {
        let maildir = tempfile::tempdir().expect("maildir");
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir(maildir.path().join(sub)).expect("maildir folders");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with aiosmtpd is needed (python3 -m pip install aiosmtpd)");
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited at start ({status}); is it installed?");
            }
            assert!(start.elapsed() < DEADLINE, "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            port,
            maildir,
            _child: child,
        }
    }

    /// Every message received so far, raw, header lines unfolded.
    pub(crate) fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.path().join("new")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .map(|m| {
                m.replace("\r\n", "\n")
                    .replace("\n ", " ")
                    .replace("\n\t", " ")
            })
            .collect()
    }
}

/// A monitored service seen differently from each location: `/located` answers 200, or 500
/// to a request whose `User-Agent` names a failing location (`(location NAME)`, as
/// `bitwobbly agent` sends it); requests are counted per location (`""` for none).
#[allow(dead_code)] // used by the agents tests (tests/agents)
pub(crate) struct LocatedTarget {
    served: Served,
    state: Arc<LocatedState>,
}

#[derive(Default)]
#[allow(dead_code)] // used by the agents tests (tests/agents)
struct LocatedState {
    failing: Mutex<std::collections::HashSet<String>>,
    hits: Mutex<HashMap<String, usize>>,
}

#[allow(dead_code)] // used by the agents tests (tests/agents)
impl LocatedTarget {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(LocatedState::default());
        let router = Router::new()
            .route(
                "/located",
                any(
                    |State(s): State<Arc<LocatedState>>, headers: HeaderMap| async move {
                        let location = headers
                            .get("user-agent")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|ua| ua.split("(location ").nth(1))
                            .and_then(|rest| rest.split(')').next())
                            .unwrap_or_default()
                            .to_owned();
                        *s.hits.lock().unwrap().entry(location.clone()).or_default() += 1;
                        if s.failing.lock().unwrap().contains(&location) {
                            (StatusCode::INTERNAL_SERVER_ERROR, "broken here")
                        } else {
                            (StatusCode::OK, "ok")
                        }
                    },
                ),
            )
            .with_state(state.clone());
        Self {
            served: serve(router).await,
            state,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/located", self.served.addr)
    }

    /// Makes the service fail (or work again) for requests from `location`.
    pub(crate) fn set_failing(&self, location: &str, failing: bool) {
        let mut set = self.state.failing.lock().unwrap();
        if failing {
            set.insert(location.to_owned());
        } else {
            set.remove(location);
        }
    }

    /// How many requests came from `location`.
    pub(crate) fn hits(&self, location: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(location)
            .copied()
            .unwrap_or(0)
    }
}

/// A long-running `bitwobbly` process other than `serve` (an agent), its stderr kept.
#[allow(dead_code)] // used by the agents tests (tests/agents)
pub(crate) struct Process {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    _readers: JoinSet<()>,
}

#[allow(dead_code)] // used by the agents tests (tests/agents)
impl Process {
    /// Starts `bitwobbly ARGS` with `env`, collecting its stderr lines.
    pub(crate) fn spawn(args: &[String], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bitwobbly"))
            .args(args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary runs");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut readers = JoinSet::new();
        let err = child.stderr.take().expect("stderr");
        let sink = logs.clone();
        readers.spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            logs,
            _readers: readers,
        }
    }

    /// Everything it logged so far.
    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Its exit status, if it has exited.
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait")
    }

    /// Waits for the exit (failing the test after [`DEADLINE`]).
    pub(crate) async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("the process exits in time")
            .expect("wait")
    }

    /// Sends SIGTERM and waits for the exit.
    pub(crate) async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.wait().await
    }

    /// SIGKILL: no chance to clean up.
    pub(crate) async fn kill(&mut self) {
        self.child.start_kill().expect("kill");
        let _ = tokio::time::timeout(DEADLINE, self.child.wait()).await;
    }
}
