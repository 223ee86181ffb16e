//! Checker agents: `bitwobbly agent` runs monitors assigned to its location in another network
//! or region and pushes the results to the server ([`protocol`]).
//!
//! An agent only makes outbound connections, so it works behind a firewall:
//!
//! 1. It says hello ([`protocol::Hello`]) and learns the batch size, the poll interval and
//!    the highest result the server already stored for it.
//! 2. It polls its assignments with `If-None-Match`; monitors added, changed or removed take
//!    effect at once. The last assignments are kept in the state directory, so an agent
//!    restarted while the server is unreachable goes on checking.
//! 3. It runs each monitor on its own schedule (the server's per-monitor spread, core
//!    [`next_run`]) with the server's check engine, at most `concurrency` at a time, and
//!    writes every result to an on-disk buffer (bounded; the oldest are dropped, counted and
//!    logged, when full).
//! 4. It sends the buffer in `seq` order in batches and deletes what the server
//!    acknowledges; while the server is unreachable or answers 5xx or 429 it retries with
//!    exponential backoff and jitter. An unknown or revoked token (401) or a token of another
//!    location (403) stops it with an error saying so.
//!
//! Results are numbered per installation, and the server drops any `seq` it already stored,
//! so a result is stored exactly once even when an answer is lost or the agent is killed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bitwobbly_server::agent::AgentError> {
//! use bitwobbly_server::agent::{Agent, AgentConfig};
//!
//! let server = "https://status.example.com".parse().expect("a URL");
//! let config = AgentConfig::new(server, "bwa_...", "eu-west");
//! Agent::run(config, bitwobbly_server::server::shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`next_run`]: bitwobbly_core::monitor::next_run

mod buffer;
mod client;
pub mod protocol;
mod runner;
mod sender;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use url::Url;

use self::buffer::Buffer;
use self::client::{CallError, Client};
use self::protocol::{Hello, PROTOCOL_VERSION, Welcome};

/// The default cap of the on-disk result buffer: 64 MiB.
pub const DEFAULT_BUFFER_MAX: u64 = 64 * 1024 * 1024;

/// The smallest buffer cap accepted: 64 KiB.
pub const MIN_BUFFER_MAX: u64 = 64 * 1024;

/// The default number of checks an agent runs at once.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// How an agent runs.
#[derive(Clone)]
#[non_exhaustive]
pub struct AgentConfig {
    /// The server's base URL (`https://...`; `http://` is allowed, with a warning unless the
    /// host is loopback).
    pub server: Url,
    /// The agent token (scoped to a workspace and a location).
    pub token: String,
    /// The location this agent runs for (the token's location).
    pub location: String,
    /// Where the buffer, the agent's id and its last assignments live. Default
    /// `./bitwobbly-agent`.
    pub state_dir: PathBuf,
    /// The most bytes the result buffer may take. Default [`DEFAULT_BUFFER_MAX`].
    pub buffer_max: u64,
    /// The most checks running at once. Default [`DEFAULT_CONCURRENCY`].
    pub concurrency: usize,
    /// A PEM file of CA certificates to trust for the server, besides the public roots (for a
    /// server with a private certificate).
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server", &self.server.as_str())
            .field("token", &"<redacted>")
            .field("location", &self.location)
            .field("state_dir", &self.state_dir)
            .field("buffer_max", &self.buffer_max)
            .field("concurrency", &self.concurrency)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl AgentConfig {
    /// A configuration with every default for `server`, `token` and `location`.
    pub fn new(server: Url, token: impl Into<String>, location: impl Into<String>) -> Self {
        Self {
            server,
            token: token.into(),
            location: location.into(),
            state_dir: PathBuf::from("bitwobbly-agent"),
            buffer_max: DEFAULT_BUFFER_MAX,
            concurrency: DEFAULT_CONCURRENCY,
            ca_file: None,
        }
    }

    /// Checks the settings that can be checked without the network.
    ///
    /// # Errors
    ///
    /// [`AgentError::Config`] naming the setting: a server URL that is not `http(s)://` or
    /// carries a query, credentials or fragment; an empty or malformed token or location; a
    /// buffer under [`MIN_BUFFER_MAX`]; a concurrency of 0.
    pub fn validate(&self) -> Result<(), AgentError> {
        let bad = |field: &'static str, problem: &str| {
            Err(AgentError::Config {
                field,
                problem: problem.to_owned(),
            })
        };
        let url = &self.server;
        if !matches!(url.scheme(), "http" | "https") {
            return bad("server", "must be an http:// or https:// URL");
        }
        if url.host().is_none() {
            return bad("server", "must name a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return bad(
                "server",
                "must not carry credentials (the token goes in --token)",
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return bad("server", "must not have a query or fragment");
        }
        let token = self.token.trim();
        if token.is_empty() {
            return bad("token", "is empty");
        }
        if token.len() > 512 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return bad(
                "token",
                "must be printable ASCII without spaces, at most 512 characters",
            );
        }
        if self.location.is_empty() || self.location.len() > 64 {
            return bad("location", "must be 1 to 64 characters");
        }
        if !self
            .location
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return bad(
                "location",
                "may only hold letters, digits, '-', '_' and '.'",
            );
        }
        if self.buffer_max < MIN_BUFFER_MAX {
            return bad("buffer_max", "must be at least 64KiB");
        }
        if self.concurrency == 0 {
            return bad("concurrency", "must be at least 1");
        }
        Ok(())
    }

    /// Whether the server URL is plain `http://` to a host that is not loopback (the token
    /// and results would cross a network unencrypted).
    pub fn insecure_transport(&self) -> bool {
        if self.server.scheme() != "http" {
            return false;
        }
        match self.server.host() {
            Some(url::Host::Ipv4(ip)) => !IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => !IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(d)) => !d.eq_ignore_ascii_case("localhost"),
            None => true,
        }
    }
}

/// Why an agent stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// A setting is wrong.
    #[error("{field} {problem}")]
    Config {
        /// The setting (`server`, `token`, `location`, `buffer_max`, `concurrency`,
        /// `ca_file`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The state directory cannot be used.
    #[error("state directory: {}: {problem}", path.display())]
    State {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The server refused the token (401: unknown or revoked) or the location (403).
    #[error("the server refused this agent ({status} {code}): {message}; {hint}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The API error code.
        code: String,
        /// The server's message.
        message: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The server answered something this agent cannot work with (another protocol version,
    /// a URL that is not a Bit Wobbly server).
    #[error("{endpoint}: {problem}")]
    Protocol {
        /// The request that failed.
        endpoint: &'static str,
        /// What the server answered.
        problem: String,
    },
}

impl AgentError {
    /// Whether the server refused the agent's credentials (401 or 403).
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }
}

/// The user agent of the agent's requests to the server and of its HTTP checks (which name
/// the location, so a target's logs tell where a check came from).
fn check_user_agent(location: &str) -> String {
    format!(
        "bitwobbly-agent/{} (location {location})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Exponential backoff between retries: 500 ms doubling to 15 s, with equal jitter.
pub(crate) fn retry_delay(attempts: u32) -> Duration {
    crate::notify::backoff::delay(
        attempts,
        Duration::from_millis(500),
        Duration::from_secs(15),
        rand::random(),
    )
}

/// What the agent's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The result buffer (file I/O: use it from blocking tasks).
    buffer: Arc<Mutex<Buffer>>,
    /// Wakes the sender when results were buffered.
    buffered: Notify,
    /// Cancelled to stop every task.
    stop: CancellationToken,
    /// The first fatal error a task met.
    fatal: Mutex<Option<AgentError>>,
}

impl Shared {
    /// Stops the agent with `e` (the first error wins).
    fn fail(&self, e: AgentError) {
        let mut fatal = self.fatal.lock().unwrap_or_else(PoisonError::into_inner);
        if fatal.is_none() {
            tracing::error!(error = %e, "the agent stops");
            *fatal = Some(e);
        }
        self.stop.cancel();
    }

    /// Runs `f` on the buffer in a blocking task.
    async fn with_buffer<T, F>(&self, f: F) -> T
    where
        F: FnOnce(&mut Buffer) -> T + Send + 'static,
        T: Send + 'static,
    {
        let buffer = self.buffer.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut b = buffer.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut b)
        });
        match task.await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// A checker agent.
#[derive(Debug)]
pub struct Agent;

impl Agent {
    /// Runs an agent until `shutdown` completes (SIGINT/SIGTERM in the CLI) or the server
    /// refuses it. Results not yet sent stay in the state directory for the next start.
    ///
    /// # Errors
    ///
    /// [`AgentError::Config`] or [`AgentError::State`] before anything runs;
    /// [`AgentError::Refused`] when the server refuses the token or location, and
    /// [`AgentError::Protocol`] when it answers something this agent cannot use.
    pub async fn run(
        config: AgentConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        config.validate()?;
        if config.insecure_transport() {
            tracing::warn!(
                server = %config.server,
                "the server URL is plain http:// to a host that is not loopback: the token and results cross the network unencrypted; use https://"
            );
        }
        let client = Client::new(&config)?;
        let dir = config.state_dir.clone();
        let max = config.buffer_max;
        let buffer = tokio::task::spawn_blocking(move || Buffer::open(&dir, max))
            .await
            .map_err(|e| AgentError::State {
                path: config.state_dir.clone(),
                problem: e.to_string(),
            })??;
        tracing::info!(
            agent_id = buffer.agent_id(),
            location = %config.location,
            pending = buffer.pending(),
            stored_seq = buffer.stored_seq(),
            next_seq = buffer.next_seq(),
            "agent starting"
        );
        let agent_id = buffer.agent_id().to_owned();
        let shared = Arc::new(Shared {
            buffer: Arc::new(Mutex::new(buffer)),
            buffered: Notify::new(),
            stop: CancellationToken::new(),
            fatal: Mutex::new(None),
        });
        let stop = shared.stop.clone();
        let on_signal = crate::spawn("agent-signal", async move {
            tokio::select! {
                () = shutdown => tracing::info!("shutting down: signal received"),
                () = stop.cancelled() => {}
            }
            stop.cancel();
        });

        let (tx, rx) = mpsc::unbounded_channel();
        let checker = bitwobbly_check::Checker::builder()
            .user_agent(check_user_agent(&config.location))
            .build();
        let mut runner = runner::Runner::new(
            checker,
            config.concurrency,
            tx,
            shared.stop.clone(),
            config.state_dir.clone(),
        );
        runner.load_cached().await;
        let writer = crate::spawn("agent-writer", sender::write(shared.clone(), rx));

        let hello = Hello {
            location: config.location.clone(),
            agent_id: agent_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: PROTOCOL_VERSION,
        };
        if let Some(welcome) = say_hello(&shared, &client, &hello).await {
            let client = Arc::new(client);
            let send = crate::spawn(
                "agent-sender",
                sender::send(
                    shared.clone(),
                    client.clone(),
                    agent_id,
                    welcome.max_batch.clamp(1, protocol::MAX_BATCH),
                ),
            );
            let poll = Duration::from_secs(welcome.poll_interval_secs.clamp(1, 3600));
            runner.poll(&shared, &client, poll).await;
            let _ = send.await;
        }
        runner.shutdown().await;
        let _ = writer.await;
        let _ = on_signal.await;
        let (pending, dropped, next_seq) = shared
            .with_buffer(|b| (b.pending(), b.dropped(), b.next_seq()))
            .await;
        tracing::info!(pending, dropped, next_seq, "agent stopped");
        let fatal = shared
            .fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        fatal.map_or(Ok(()), Err)
    }
}

/// Says hello until the server answers (retrying with backoff while it is unreachable),
/// then drops the results it already stored. `None` when stopped first.
async fn say_hello(shared: &Shared, client: &Client, hello: &Hello) -> Option<Welcome> {
    let mut attempts = 0;
    loop {
        let wait = match client.hello(hello).await {
            Ok(welcome) => {
                let skew_ms = welcome.server_time_ms - crate::Clock.now().as_millis();
                tracing::info!(
                    workspace = %welcome.workspace,
                    location = %welcome.location,
                    stored_seq = welcome.last_seq,
                    poll_interval_secs = welcome.poll_interval_secs,
                    max_batch = welcome.max_batch,
                    clock_skew_ms = skew_ms,
                    "connected to the server"
                );
                if skew_ms.abs() > 30_000 {
                    tracing::warn!(
                        clock_skew_ms = skew_ms,
                        "this machine's clock differs from the server's by more than 30s; result times will be off"
                    );
                }
                let last = welcome.last_seq;
                if let Err(e) = shared.with_buffer(move |b| b.ack(last)).await {
                    tracing::error!(error = %e, "cannot record the server's stored seq in the state directory");
                }
                return Some(welcome);
            }
            Err(CallError::Fatal(e)) => {
                shared.fail(e);
                return None;
            }
            Err(e) => {
                attempts += 1;
                let wait = e.retry_after().unwrap_or_else(|| retry_delay(attempts));
                tracing::warn!(error = %e, attempts, retry_in_ms = wait.as_millis() as u64, "cannot reach the server; checks go on and results are buffered");
                wait
            }
        };
        tokio::select! {
            () = shared.stop.cancelled() => return None,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
