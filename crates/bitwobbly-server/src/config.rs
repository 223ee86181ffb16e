//! The server's configuration.
//!
//! Values come from a TOML file, then `BITWOBBLY_*` environment variables, then command-line
//! flags; later sources win (see [`Config::load`]). Every field has a default, so an empty
//! configuration is a working single-node server on embedded SQLite.
//!
//! Environment variables name a key by its path in upper case, sections joined with `__`:
//! `BITWOBBLY_LISTEN`, `BITWOBBLY_DATA_DIR`, `BITWOBBLY_DATABASE_URL`,
//! `BITWOBBLY_SCHEDULER__MAX_CONCURRENT_CHECKS`, `BITWOBBLY_METRICS__BEARER_TOKEN`, ...
//! `BITWOBBLY_CONFIG` names the configuration file (like `--config`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
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
    /// Most pooled database connections on this node. Default 10 on PostgreSQL, 4 on SQLite.
    pub database_max_connections: Option<u32>,
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
    /// Sentry-compatible ingest and its processing.
    pub ingest: crate::ingest::IngestConfig,
    /// Public status pages.
    pub pages: crate::pages::PagesConfig,
    /// Raw payload storage: the filesystem or an S3-compatible bucket.
    pub blobs: crate::blobs::BlobsConfig,
    /// Checker agents (`[agents]`).
    pub agents: AgentsConfig,
    /// Account mail from the dashboard (`[mail]`): verification, password reset, invitations.
    pub mail: crate::dashboard::mail::MailConfig,
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
            database_max_connections: None,
            public_url: None,
            node_name: None,
            log_format: LogFormat::Text,
            http: HttpConfig::default(),
            scheduler: SchedulerConfig::default(),
            notifier: NotifierConfig::default(),
            auth: AuthConfig::default(),
            metrics: MetricsConfig::default(),
            targets: TargetConfig::default(),
            ingest: crate::ingest::IngestConfig::default(),
            pages: crate::pages::PagesConfig::default(),
            blobs: crate::blobs::BlobsConfig::default(),
            agents: AgentsConfig::default(),
            mail: crate::dashboard::mail::MailConfig::default(),
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

/// The prefix of every environment variable the configuration reads.
pub const ENV_PREFIX: &str = "BITWOBBLY_";
/// The environment variable naming the configuration file (like `--config`).
pub const ENV_CONFIG: &str = "BITWOBBLY_CONFIG";
/// Separates the sections of a key in an environment variable's name
/// (`BITWOBBLY_SCHEDULER__LEASE` is `scheduler.lease`).
pub const ENV_SEPARATOR: &str = "__";

/// Values given as command-line flags. Each one that is set wins over the file and the
/// environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--config FILE`: the TOML file to read (else `BITWOBBLY_CONFIG`, else none).
    pub config: Option<PathBuf>,
    /// `--listen ADDR`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url URL`.
    pub database_url: Option<String>,
    /// `--log-format text|json`.
    pub log_format: Option<LogFormat>,
}

/// Why a configuration could not be loaded. Every variant names the key (or file) and
/// where the bad value came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file named by `--config` or `BITWOBBLY_CONFIG` does not exist.
    #[error("configuration file {} (from {origin}) does not exist", path.display())]
    FileNotFound {
        /// The path.
        path: PathBuf,
        /// `--config` or `BITWOBBLY_CONFIG`.
        origin: &'static str,
    },
    /// A value could not be read or has the wrong type, or a key is unknown. The message
    /// names the key and its source (file, environment variable or flag).
    #[error("{0}")]
    Parse(Box<figment::Error>),
    /// A value was read but is not acceptable.
    #[error("invalid {key} {value} (from {origin}): {problem}")]
    Invalid {
        /// The key, e.g. `scheduler.lease`.
        key: &'static str,
        /// The value as given.
        value: String,
        /// Where it came from, e.g. `environment variable BITWOBBLY_SCHEDULER__LEASE`.
        origin: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        Self::Parse(Box::new(e))
    }
}

impl Config {
    /// Loads the configuration: defaults, then the TOML file (`flags.config`, else the
    /// `BITWOBBLY_CONFIG` variable, else none), then the `BITWOBBLY_*` variables of `env`,
    /// then `flags`; later sources win. The result is validated.
    ///
    /// `env` is the process environment (`std::env::vars()`); variables whose first
    /// section is not a configuration key are ignored (see [`Config::unknown_env_vars`]).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key and where the value came from.
    pub fn load<I, K, V>(flags: &Overrides, env: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env: BTreeMap<String, String> =
            env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        let file = match (&flags.config, env.get(ENV_CONFIG)) {
            (Some(path), _) => Some((path.clone(), "--config")),
            (None, Some(path)) if !path.is_empty() => Some((PathBuf::from(path), ENV_CONFIG)),
            _ => None,
        };
        if let Some((path, origin)) = file {
            if !path.is_file() {
                return Err(ConfigError::FileNotFound { path, origin });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let figment = figment
            .merge(EnvVars::new(&env))
            .merge(Flags(flags.clone()));
        let config: Self = figment.extract_lossy()?;
        config.validate(&figment)?;
        Ok(config)
    }

    /// The `BITWOBBLY_*` variables in `env` that [`Config::load`] ignores because their
    /// first section names no configuration key (e.g. a typo in `BITWOBBLY_LISTN`).
    pub fn unknown_env_vars<I, K, V>(env: I) -> Vec<String>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let known = top_level_keys();
        env.into_iter()
            .map(|(k, _)| k.into())
            .filter(|k| {
                k.starts_with(ENV_PREFIX)
                    && k != ENV_CONFIG
                    && env_key(k).is_some_and(|path| !known.contains(&path[0]))
            })
            .collect()
    }

    fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, value: String, problem: &'static str| {
            let origin = figment
                .find_metadata(key)
                .map_or_else(|| "the defaults".to_owned(), |md| describe(md, key));
            ConfigError::Invalid {
                key,
                value,
                origin,
                problem,
            }
        };
        let positive = [
            ("http.request_timeout", self.http.request_timeout),
            ("scheduler.lease", self.scheduler.lease),
            ("scheduler.poll_interval", self.scheduler.poll_interval),
            (
                "scheduler.result_flush_interval",
                self.scheduler.result_flush_interval,
            ),
            (
                "scheduler.connectivity_interval",
                self.scheduler.connectivity_interval,
            ),
            ("notifier.send_timeout", self.notifier.send_timeout),
            ("notifier.poll_interval", self.notifier.poll_interval),
            ("notifier.initial_backoff", self.notifier.initial_backoff),
            ("notifier.max_backoff", self.notifier.max_backoff),
            ("auth.session_ttl", self.auth.session_ttl),
            ("agents.stale_after", self.agents.stale_after),
            ("agents.poll_interval", self.agents.poll_interval),
        ];
        for (key, d) in positive {
            if d.is_zero() {
                return Err(invalid(key, "0s".into(), "must be more than 0s"));
            }
        }
        let counts = [
            ("http.max_body_bytes", self.http.max_body_bytes),
            (
                "scheduler.max_concurrent_checks",
                self.scheduler.max_concurrent_checks,
            ),
            ("scheduler.claim_batch", self.scheduler.claim_batch as usize),
            ("scheduler.result_batch", self.scheduler.result_batch),
            ("notifier.max_attempts", self.notifier.max_attempts as usize),
            ("notifier.concurrency", self.notifier.concurrency),
            (
                "auth.login_attempts_per_minute",
                self.auth.login_attempts_per_minute as usize,
            ),
            (
                "auth.token_requests_per_minute",
                self.auth.token_requests_per_minute as usize,
            ),
        ];
        for (key, n) in counts {
            if n == 0 {
                return Err(invalid(key, "0".into(), "must be at least 1"));
            }
        }
        if self.notifier.max_backoff < self.notifier.initial_backoff {
            return Err(invalid(
                "notifier.max_backoff",
                humantime::format_duration(self.notifier.max_backoff).to_string(),
                "must be at least notifier.initial_backoff",
            ));
        }
        if let Some(url) = &self.database_url {
            let scheme = url.split(':').next().unwrap_or_default();
            if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
                return Err(invalid(
                    "database_url",
                    url.clone(),
                    "must start with sqlite: or postgres://",
                ));
            }
        }
        if let Some(public) = &self.public_url {
            match url::Url::parse(public) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(invalid(
                        "public_url",
                        public.clone(),
                        "must be an absolute http:// or https:// URL",
                    ));
                }
            }
        }
        if let Some(name) = &self.node_name
            && (name.trim().is_empty() || name.len() > 200)
        {
            return Err(invalid(
                "node_name",
                name.clone(),
                "must be 1 to 200 characters",
            ));
        }
        if let Err(e) = self.pages.subscribers.validate() {
            return Err(invalid(
                "pages.subscribers.smtp",
                format!("{}: {}", e.field.unwrap_or_default(), e.message),
                "must be an SMTP server: host, port, tls (starttls, implicit, none), \
                 username with password, from",
            ));
        }
        if self.database_max_connections == Some(0) {
            return Err(invalid(
                "database_max_connections",
                "0".into(),
                "must be at least 1",
            ));
        }
        if let Err(p) = self.blobs.validate() {
            return Err(invalid(p.key, p.value, p.problem));
        }
        if self.metrics.bearer_token.as_deref() == Some("") {
            return Err(invalid(
                "metrics.bearer_token",
                String::new(),
                "must not be empty (leave it out to serve /metrics openly)",
            ));
        }
        Ok(())
    }
}

/// "`<source name>` `<interpolated key>`", e.g. `environment variable BITWOBBLY_LISTEN`.
fn describe(md: &Metadata, key: &str) -> String {
    let keys: Vec<&str> = key.split('.').collect();
    let name = md.interpolate(&Profile::Default, &keys);
    match &md.source {
        Some(source) => format!("{} {source} ({name})", md.name),
        None => format!("{} {name}", md.name),
    }
}

/// The top-level keys of [`Config`].
fn top_level_keys() -> Vec<String> {
    match Serialized::defaults(Config::default()).data() {
        Ok(map) => map
            .get(&Profile::Default)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The key path of a `BITWOBBLY_*` variable (`BITWOBBLY_SCHEDULER__LEASE` ->
/// `["scheduler", "lease"]`), or `None` when it names none.
fn env_key(var: &str) -> Option<Vec<String>> {
    let rest = var.strip_prefix(ENV_PREFIX)?;
    let path: Vec<String> = rest
        .split(ENV_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect();
    (!path.iter().any(String::is_empty)).then_some(path)
}

/// The `BITWOBBLY_*` variables as a figment provider.
///
/// Values stay text (the configuration is extracted leniently, so `"512"` reads as a number
/// and `"true"` as a boolean where one is expected); values in `[...]` are read as arrays.
struct EnvVars {
    dict: Dict,
}

impl EnvVars {
    fn new(env: &BTreeMap<String, String>) -> Self {
        let known = top_level_keys();
        let mut dict = Dict::new();
        for (var, raw) in env {
            if var == ENV_CONFIG {
                continue;
            }
            let Some(path) = env_key(var) else { continue };
            if !known.contains(&path[0]) {
                continue;
            }
            let trimmed = raw.trim();
            let value = if trimmed.starts_with('[') {
                trimmed
                    .parse::<Value>()
                    .unwrap_or_else(|_| Value::from(raw.clone()))
            } else {
                Value::from(raw.clone())
            };
            let nested = figment::util::nest(&path.join("."), value);
            if let Some(d) = nested.into_dict() {
                dict = merge_dicts(dict, d);
            }
        }
        Self { dict }
    }
}

fn merge_dicts(mut a: Dict, b: Dict) -> Dict {
    for (k, v) in b {
        match (a.remove(&k), v) {
            (Some(Value::Dict(_, old)), Value::Dict(tag, new)) => {
                a.insert(k, Value::Dict(tag, merge_dicts(old, new)));
            }
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
    a
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").interpolater(|_: &Profile, keys: &[&str]| {
            let upper: Vec<String> = keys.iter().map(|k| k.to_ascii_uppercase()).collect();
            format!("{ENV_PREFIX}{}", upper.join(ENV_SEPARATOR))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The command-line flags as a figment provider.
struct Flags(Overrides);

impl Provider for Flags {
    fn metadata(&self) -> Metadata {
        Metadata::named("command-line flag").interpolater(|_: &Profile, keys: &[&str]| {
            format!("--{}", keys.join("-").replace('_', "-"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let f = &self.0;
        let mut dict = Dict::new();
        if let Some(listen) = f.listen {
            dict.insert("listen".into(), Value::from(listen.to_string()));
        }
        if let Some(dir) = &f.data_dir {
            dict.insert(
                "data_dir".into(),
                Value::from(dir.to_string_lossy().into_owned()),
            );
        }
        if let Some(url) = &f.database_url {
            dict.insert("database_url".into(), Value::from(url.clone()));
        }
        if let Some(format) = f.log_format {
            let name = match format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            };
            dict.insert("log_format".into(), Value::from(name));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// The data directory's blob directory.
pub fn blob_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("blobs")
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

/// Checker agents (`bitwobbly agent`) and the locations they run monitors from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AgentsConfig {
    /// A location with no contact from its agents for this long is shown as stale. Default
    /// 90 s. (Monitors leave a location out of their quorum after their own `stale_after`.)
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// How often agents poll for their assignments. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// The most results an agent sends in one batch (at most 1000; each batch must also fit
    /// in `http.max_body_bytes`). Default 200.
    pub max_batch: usize,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(90),
            poll_interval: Duration::from_secs(30),
            max_batch: 200,
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    fn toml_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".toml")
            .tempfile()
            .expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    fn flags_with_file(f: &tempfile::NamedTempFile) -> Overrides {
        Overrides {
            config: Some(f.path().to_owned()),
            ..Overrides::default()
        }
    }

    #[test]
    fn nothing_given_is_the_defaults() {
        let c = Config::load(&Overrides::default(), no_env()).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(
            c.database_url()
                .starts_with("sqlite://bitwobbly-data/bitwobbly.db")
        );
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn file_then_env_then_flags() {
        let f = toml_file(
            r#"
            listen = "127.0.0.1:7001"
            data_dir = "/from/file"
            public_url = "https://status.example.com/"
            [scheduler]
            lease = "20s"
            max_concurrent_checks = 7
            "#,
        );
        let env = [
            ("BITWOBBLY_LISTEN", "127.0.0.1:7002"),
            ("BITWOBBLY_SCHEDULER__MAX_CONCURRENT_CHECKS", "9"),
            ("BITWOBBLY_METRICS__BEARER_TOKEN", "12345"),
        ];
        let mut flags = flags_with_file(&f);
        let c = Config::load(&flags, env).unwrap();
        // The file beats the defaults ...
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.scheduler.lease, Duration::from_secs(20));
        assert_eq!(c.public_url(), "https://status.example.com");
        // ... the environment beats the file ...
        assert_eq!(c.listen.to_string(), "127.0.0.1:7002");
        assert_eq!(c.scheduler.max_concurrent_checks, 9);
        // ... a numeric-looking text stays text where text is expected ...
        assert_eq!(c.metrics.bearer_token.as_deref(), Some("12345"));
        // ... and flags beat the environment.
        flags.listen = Some("127.0.0.1:7003".parse().unwrap());
        flags.data_dir = Some(PathBuf::from("/from/flag"));
        flags.log_format = Some(LogFormat::Json);
        let c = Config::load(&flags, env).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7003");
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.scheduler.max_concurrent_checks, 9);
    }

    #[test]
    fn the_config_file_can_come_from_the_environment() {
        let f = toml_file("node_name = \"node-a\"\n");
        let path = f.path().display().to_string();
        let c = Config::load(&Overrides::default(), [(ENV_CONFIG, path.as_str())]).unwrap();
        assert_eq!(c.node_name.as_deref(), Some("node-a"));
        // --config wins over BITWOBBLY_CONFIG.
        let g = toml_file("node_name = \"node-b\"\n");
        let c = Config::load(&flags_with_file(&g), [(ENV_CONFIG, path.as_str())]).unwrap();
        assert_eq!(c.node_name.as_deref(), Some("node-b"));
    }

    #[test]
    fn the_three_flat_variables_and_nested_ones() {
        let env = [
            ("BITWOBBLY_DATA_DIR", "/var/lib/bw"),
            ("BITWOBBLY_DATABASE_URL", "postgres://postgres@127.0.0.1/bw"),
            ("BITWOBBLY_SCHEDULER__ENABLED", "false"),
            ("BITWOBBLY_NOTIFIER__INITIAL_BACKOFF", "250ms"),
            (
                "BITWOBBLY_SCHEDULER__CONNECTIVITY_PROBES",
                "[https://1.1.1.1/, https://9.9.9.9/]",
            ),
            ("BITWOBBLY_TARGETS__DENY_PRIVATE", "true"),
        ];
        let c = Config::load(&Overrides::default(), env).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/bw"));
        assert_eq!(c.database_url(), "postgres://postgres@127.0.0.1/bw");
        assert!(!c.scheduler.enabled);
        assert_eq!(c.notifier.initial_backoff, Duration::from_millis(250));
        assert_eq!(
            c.scheduler.connectivity_probes,
            ["https://1.1.1.1/", "https://9.9.9.9/"]
        );
        assert!(c.targets.deny_private);
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let e = Config::load(
            &Overrides::default(),
            [("BITWOBBLY_SCHEDULER__MAX_CONCURRENT_CHECKS", "lots")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("BITWOBBLY_SCHEDULER__MAX_CONCURRENT_CHECKS"),
            "{e}"
        );
        assert!(e.contains("environment variable"), "{e}");
        let e = Config::load(&Overrides::default(), [("BITWOBBLY_LISTEN", "port 80")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("BITWOBBLY_LISTEN"), "{e}");
    }

    #[test]
    fn a_bad_file_value_names_the_key_and_the_file() {
        let f = toml_file("[scheduler]\nlease = \"a while\"\n");
        let e = Config::load(&flags_with_file(&f), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheduler.lease"), "{e}");
        assert!(e.contains(&f.path().display().to_string()), "{e}");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused() {
        let f = toml_file("[scheduler]\nmax_concurent_checks = 3\n");
        let e = Config::load(&flags_with_file(&f), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_concurent_checks"), "{e}");
        assert!(e.contains(&f.path().display().to_string()), "{e}");
    }

    #[test]
    fn an_unknown_nested_variable_is_refused_and_an_unknown_section_ignored() {
        let e = Config::load(&Overrides::default(), [("BITWOBBLY_SCHEDULER__TYPO", "1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("typo"), "{e}");
        let env = [
            ("BITWOBBLY_LISTN", "x"),
            ("BITWOBBLY_LISTEN", "127.0.0.1:1"),
        ];
        assert!(Config::load(&Overrides::default(), env).is_ok());
        assert_eq!(Config::unknown_env_vars(env), ["BITWOBBLY_LISTN"]);
        assert!(Config::unknown_env_vars([(ENV_CONFIG, "x"), ("HOME", "/")]).is_empty());
    }

    #[test]
    fn a_missing_file_names_where_it_was_asked_for() {
        let flags = Overrides {
            config: Some(PathBuf::from("/nonexistent/bitwobbly.toml")),
            ..Overrides::default()
        };
        let e = Config::load(&flags, no_env()).unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/bitwobbly.toml") && e.contains("--config"),
            "{e}"
        );
        let e = Config::load(&Overrides::default(), [(ENV_CONFIG, "/nonexistent/x.toml")])
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_CONFIG), "{e}");
    }

    #[test]
    fn values_that_parse_but_make_no_sense_name_key_and_source() {
        let e = Config::load(
            &Overrides::default(),
            [("BITWOBBLY_SCHEDULER__LEASE", "0s")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scheduler.lease") && e.contains("BITWOBBLY_SCHEDULER__LEASE"),
            "{e}"
        );
        let f = toml_file("public_url = \"status.example.com\"\n");
        let e = Config::load(&flags_with_file(&f), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("public_url") && e.contains("TOML file"), "{e}");
        let flags = Overrides {
            database_url: Some("mysql://x".into()),
            ..Overrides::default()
        };
        let e = Config::load(&flags, no_env()).unwrap_err().to_string();
        assert!(e.contains("--database-url"), "{e}");
    }

    #[test]
    fn the_example_config_parses() {
        let flags = Overrides {
            config: Some(PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/bitwobbly.example.toml"
            ))),
            ..Overrides::default()
        };
        let c = Config::load(&flags, no_env()).unwrap();
        assert_ne!(c, Config::default());
    }
}
