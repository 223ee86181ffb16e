//! The server's configuration.
//!
//! Values come from a TOML file, then `BITWOBBLY_*` environment variables, then command-line
//! flags; later sources win (see [`Config::load`]). Every field has a default, so an empty
//! configuration is a working single-node server on embedded SQLite.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything `bitwobbly serve` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and blobs. Default `./bitwobbly-data`.
    pub data_dir: PathBuf,
    /// `sqlite:...` or `postgres://...`; default SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// The address people reach this server at, for links in alerts and the set-up link.
    /// Default `http://<listen>`.
    pub public_url: Option<String>,
    /// This node's name in leases and logs. Default: host name plus a random suffix.
    pub node_name: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// HTTP serving limits.
    pub http: HttpConfig,
    /// The scheduler and checker pool.
    pub scheduler: SchedulerConfig,
    /// The notification deliverer.
    pub notifier: NotifierConfig,
    /// Authentication and rate limits.
    pub auth: AuthConfig,
    /// `/metrics`.
    pub metrics: MetricsConfig,
    /// Which check and webhook targets are allowed.
    pub targets: TargetConfig,
    /// Graceful shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("bitwobbly-data"),
            database_url: None,
            public_url: None,
            node_name: None,
            log_format: LogFormat::Text,
            http: HttpConfig::default(),
            scheduler: SchedulerConfig::default(),
            notifier: NotifierConfig::default(),
            auth: AuthConfig::default(),
            metrics: MetricsConfig::default(),
            targets: TargetConfig::default(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("bitwobbly.db").display()
            ),
        }
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// HTTP serving limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Largest request body the API accepts. Default 1 MiB.
    pub max_body_bytes: usize,
    /// A request taking longer is answered 408. Default 30 s (check-now waits for the check).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The scheduler and checker pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// Whether this node runs checks at all. Default true.
    pub enabled: bool,
    /// Most checks running at once on this node. Default 512.
    pub max_concurrent_checks: usize,
    /// How long a claimed monitor's lease lasts (renewed while its check runs). Default 60 s.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How often the store is asked for due monitors when idle. Default 250 ms.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Most monitors claimed per poll. Default 500.
    pub claim_batch: u32,
    /// Results are written in batches of at most this many rows. Default 500.
    pub result_batch: usize,
    /// ... or at least this often. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub result_flush_interval: Duration,
    /// Targets this node checks to make sure its own network works (e.g.
    /// `https://1.1.1.1/`); when every one fails, the node records no target as down.
    /// Empty (the default) turns the guard off.
    pub connectivity_probes: Vec<String>,
    /// How often the connectivity probes run. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub connectivity_interval: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_concurrent_checks: 512,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(250),
            claim_batch: 500,
            result_batch: 500,
            result_flush_interval: Duration::from_secs(1),
            connectivity_probes: Vec::new(),
            connectivity_interval: Duration::from_secs(30),
        }
    }
}

/// The notification deliverer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct NotifierConfig {
    /// Whether this node delivers notifications. Default true.
    pub enabled: bool,
    /// Attempts before a notification is marked dead. Default 8.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time, with jitter. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest delay between attempts. Default 1 h.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Timeout of one delivery attempt. Default 15 s.
    #[serde(with = "humantime_serde")]
    pub send_timeout: Duration,
    /// How often the outbox is polled when idle. Default 500 ms.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Most deliveries in flight on this node. Default 32.
    pub concurrency: usize,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts: 8,
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(3600),
            send_timeout: Duration::from_secs(15),
            poll_interval: Duration::from_millis(500),
            concurrency: 32,
        }
    }
}

/// Authentication and rate limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthConfig {
    /// How long a dashboard session lasts. Default 14 days.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Whether session cookies are marked `Secure`. Default: true when `public_url` is https.
    pub secure_cookies: Option<bool>,
    /// Login attempts allowed per email and per client address per minute. Default 10.
    pub login_attempts_per_minute: u32,
    /// API requests allowed per token per minute. Default 600.
    pub token_requests_per_minute: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            secure_cookies: None,
            login_attempts_per_minute: 10,
            token_requests_per_minute: 600,
        }
    }
}

/// `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
}

/// Which check and webhook targets are allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TargetConfig {
    /// Refuse targets in private, loopback, link-local and other non-public ranges (for
    /// hosted, multi-tenant use). Off by default: self-hosted monitors often watch private
    /// services.
    pub deny_private: bool,
}
