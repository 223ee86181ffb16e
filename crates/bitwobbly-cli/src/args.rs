//! Command-line arguments (clap types).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// Exit status documentation shown at the end of `--help`.
const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success; for check: up (or degraded, unless --fail-on-degraded)
  1  check: down (with --count: any run was down); other commands: a runtime failure
     (database unreachable, invalid apply file, ...)
  2  usage error (bad flag, bad value, bad configuration, unknown target scheme)";

/// Bit Wobbly: watch websites and services.
#[derive(Debug, Parser)]
#[command(
    name = "bitwobbly",
    version,
    about = "Bit Wobbly: check websites and services with a full timing breakdown, and run the monitoring server.",
    after_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Only log errors (to stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log more (to stderr): -v for debug, -vv for trace. `RUST_LOG` overrides both.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Never colour the output. Setting `NO_COLOR` to any non-empty value does the same;
    /// colour is only used when standard output is a terminal.
    #[arg(long, global = true)]
    pub no_color: bool,
}

impl Cli {
    /// The tracing filter used when `RUST_LOG` is not set: `bitwobbly=info`, adjusted by
    /// `--quiet` (errors only) and `--verbose` (debug, then trace).
    pub fn default_log_filter(&self) -> &'static str {
        if self.quiet {
            return "bitwobbly=error";
        }
        match self.verbose {
            0 => "bitwobbly=info",
            1 => "bitwobbly=debug",
            _ => "bitwobbly=trace",
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a website or service once (or --count times) and show the timing breakdown.
    #[command(
        after_help = CHECK_AFTER_HELP,
        after_long_help = CHECK_AFTER_HELP,
    )]
    Check(Box<CheckArgs>),
    /// Apply the database migrations (also done when the server starts) and exit.
    Migrate(MigrateArgs),
    /// Run the monitoring server: REST API, scheduler, notifications, health and metrics.
    #[command(after_help = SERVE_AFTER_HELP, after_long_help = SERVE_AFTER_HELP)]
    Serve(ServeArgs),
    /// Administration against the server's database (works while `serve` runs).
    Admin(AdminArgs),
    /// Make a workspace's monitors, channels and status-page components match a TOML file.
    #[command(after_help = APPLY_AFTER_HELP, after_long_help = APPLY_AFTER_HELP)]
    Apply(ApplyArgs),
    /// Write a workspace's keyed monitors, channels and status-page components as TOML.
    Export(ExportArgs),
    /// Run a checker agent: run the monitors assigned to a location and push the results.
    #[command(after_help = AGENT_AFTER_HELP, after_long_help = AGENT_AFTER_HELP)]
    Agent(AgentArgs),
}

/// Extra help for `bitwobbly serve`.
const SERVE_AFTER_HELP: &str = "\
Configuration comes from defaults, then the TOML file (--config or BITWOBBLY_CONFIG), then
BITWOBBLY_* environment variables (sections joined by __, e.g.
BITWOBBLY_SCHEDULER__MAX_CONCURRENT_CHECKS=64), then these flags; later ones win.

With no configuration: SQLite and blobs under ./bitwobbly-data, listening on 127.0.0.1:8080.
On a fresh database a one-time set-up link for the first admin is printed.

Stops gracefully on SIGINT or SIGTERM (in-flight requests and checks finish, leases are
given back, within shutdown_grace).";

/// Extra help for `bitwobbly apply`.
const APPLY_AFTER_HELP: &str = "\
Objects are matched by their stable `key`; objects without a key are never touched. Every
problem in the file is reported (file, section, key, field) before anything is written, and
the changes commit in one transaction. `bitwobbly export` writes the same format.

Exit status: 0 applied (or nothing to do), 1 invalid file or failed write (nothing
changed), 2 usage error.";

/// Where the server's database is: the same flags as `bitwobbly serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// TOML configuration file (default: $BITWOBBLY_CONFIG, else none).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the SQLite database and blobs (default ./bitwobbly-data;
    /// also BITWOBBLY_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://FILE` or `postgres://user@host/db` instead of SQLite in the data directory
    /// (also BITWOBBLY_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `bitwobbly serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on (default 127.0.0.1:8080; also BITWOBBLY_LISTEN).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Log format (default text; also BITWOBBLY_LOG_FORMAT).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
}

/// Arguments of `bitwobbly admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The `bitwobbly admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user and a workspace they own; the password is read from standard input.
    CreateUser(CreateUserArgs),
    /// Create an API token for a user and print it (once) on standard output.
    CreateToken(CreateTokenArgs),
    /// Create an agent token for a location (made if missing) and print it (once) on
    /// standard output.
    CreateAgentToken(CreateAgentTokenArgs),
    /// Create an error-tracking project with a DSN key and print its DSN on standard output.
    CreateProject(CreateProjectArgs),
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Everything, including deleting the workspace.
    Owner,
    /// Everything but managing owners.
    Admin,
    /// Create and edit monitors, channels, incidents.
    Member,
    /// Read only.
    Viewer,
}

/// Arguments of `bitwobbly admin create-user`.
#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// The database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The user's email address (their login).
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Read the password from standard input (the first line; at least 8 characters).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Display name (default: the part of the email before @).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Slug of the workspace to create (default: from the email).
    #[arg(long, value_name = "SLUG")]
    pub workspace: Option<String>,
}

/// Arguments of `bitwobbly admin create-token`.
#[derive(Debug, Args)]
pub struct CreateTokenArgs {
    /// The database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The user the token acts for.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// The workspace (default: the user's only workspace).
    #[arg(long, value_name = "SLUG")]
    pub workspace: Option<String>,
    /// The token's role (default: the user's role; never more).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<RoleArg>,
    /// A label for the token (default "cli").
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Lifetime, e.g. 30d or 12h (default: until revoked).
    #[arg(long, value_name = "DUR", value_parser = parse_lifetime)]
    pub expires_in: Option<Duration>,
}

/// Arguments of `bitwobbly admin create-agent-token`.
#[derive(Debug, Args)]
pub struct CreateAgentTokenArgs {
    /// The database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// A user who is admin or owner of the workspace.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// The workspace (default: the user's only workspace).
    #[arg(long, value_name = "SLUG")]
    pub workspace: Option<String>,
    /// The location the agent runs for (created if missing), e.g. eu-west.
    #[arg(long, value_name = "NAME")]
    pub location: String,
    /// A label for the token (default "cli").
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// Arguments of `bitwobbly admin create-project`.
#[derive(Debug, Args)]
pub struct CreateProjectArgs {
    /// The database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// A user who is admin or owner of the workspace.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// The project's name (its slug is made from it).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The workspace (default: the user's only workspace).
    #[arg(long, value_name = "SLUG")]
    pub workspace: Option<String>,
    /// The SDK platform, e.g. python or node.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
}

/// Arguments of `bitwobbly apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The TOML file (monitors, channels, status-page components).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The workspace to change.
    #[arg(long, value_name = "SLUG")]
    pub workspace: String,
    /// Also delete keyed objects the file does not mention.
    #[arg(long)]
    pub prune: bool,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The database.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Extra help for `bitwobbly agent`.
const AGENT_AFTER_HELP: &str = "\
The agent only connects out: it says hello to the server, polls the monitors assigned to
its location, runs them on their schedules, and sends the results in batches. Results
made while the server is unreachable wait in a buffer on disk (--buffer-max; the oldest
are dropped, and counted in the logs, when it is full) and are sent, once each, when the
server is back. Give each agent its own --state-dir.

Create a location's token in the dashboard, with the API, or with
`bitwobbly admin create-agent-token`. Pass it in BITWOBBLY_AGENT_TOKEN rather than
--token: flags show in process listings.

Stops gracefully on SIGINT or SIGTERM. Exit status: 0 stopped by a signal, 1 refused
by the server (revoked token, wrong location) or another runtime failure, 2 usage
error.";

/// Arguments of `bitwobbly agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The server's base URL, e.g. `https://status.example.com` (`http://` is for loopback
    /// and trusted networks).
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The location's agent token (also BITWOBBLY_AGENT_TOKEN).
    #[arg(
        long,
        env = "BITWOBBLY_AGENT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: String,
    /// The location this agent runs for (the token's location).
    #[arg(long, value_name = "NAME")]
    pub location: String,
    /// Where the result buffer, the agent's id and its last assignments are kept.
    #[arg(long, value_name = "DIR", default_value = "bitwobbly-agent")]
    pub state_dir: PathBuf,
    /// Most disk space for results waiting for the server, at least 64KiB
    /// (default 64MiB); accepts k/KiB/M/MiB/G/GiB.
    #[arg(long, value_name = "BYTES")]
    pub buffer_max: Option<String>,
    /// Also trust the CA certificates in this PEM file for the server's certificate.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Most checks running at once (default 64).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: Option<u32>,
    /// Log format (default text).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
}

/// Arguments of `bitwobbly export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The workspace to export.
    #[arg(long, value_name = "SLUG")]
    pub workspace: String,
    /// The database.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A token lifetime: a humantime duration of at least one minute.
fn parse_lifetime(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(60) {
        return Err("must be at least 1m".into());
    }
    if d > Duration::from_secs(100 * 365 * 86_400) {
        return Err("must be at most 100 years".into());
    }
    Ok(d)
}

/// Arguments of `bitwobbly migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database: `sqlite://path/to/file.db` (created if missing) or
    /// `postgres://user@host/db`.
    #[arg(long, env = "BITWOBBLY_DATABASE_URL", value_name = "URL")]
    pub database_url: String,
}

/// Extra help for `bitwobbly check`.
const CHECK_AFTER_HELP: &str = "\
Targets:
  https://host[:port]/path     HTTP(S) request (http:// too)
  tcp://host:port              TCP connect; --send and --expect-banner read a banner
  dns://name[?type=MX]         DNS query (type defaults to A)
  tls://host[:port]            TLS handshake and certificate (port defaults to 443)
  IPv6 literals go in brackets: tcp://[::1]:22

HTTP checks with no --expect-status expect 200-399 after redirects.

Examples:
  bitwobbly check https://example.com/health --expect-json '$.status == \"ok\"'
  bitwobbly check https://example.com --count 5 --interval 2s
  bitwobbly check tcp://mail.example.com:25 --expect-banner '220 '
  bitwobbly check 'dns://example.com?type=MX' --resolver 1.1.1.1
  bitwobbly check tls://example.com --cert-min-days 14

JSON output (--json): one CheckReport object. With --count, one report per line
(JSON Lines), then a final line {\"summary\": {\"target\", \"runs\", \"up\",
\"degraded\", \"down\", \"timings\": {\"dns_us\": {\"min\", \"median\", \"p95\",
\"max\"}, ..., \"total_us\": {...}}}}; timings summarise the runs that completed
without an error and are null when none did.

Exit status:
  0  up (or degraded, unless --fail-on-degraded)
  1  down (with --count: any run down)
  2  usage error";

/// Arguments of `bitwobbly check`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // each bool is a plain on/off flag
pub struct CheckArgs {
    /// What to check: an `http(s)://`, `tcp://`, `dns://` or `tls://` target.
    #[arg(
        value_name = "TARGET",
        help = "What to check: https://…, http://…, tcp://host:port, dns://name?type=MX, tls://host[:port]"
    )]
    pub target: String,

    // === Request ===
    /// HTTP method (default GET, or POST when --data is given).
    #[arg(short = 'X', long, value_name = "METHOD", help_heading = "Request")]
    pub method: Option<String>,

    /// Request header `Name: value` (repeatable).
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        help_heading = "Request"
    )]
    pub headers: Vec<String>,

    /// Request body; `@FILE` reads it from a file.
    #[arg(short = 'd', long, value_name = "BODY", help_heading = "Request")]
    pub data: Option<String>,

    /// Limit for the whole check, e.g. 500ms or 10s (default 10s, at most 5m).
    #[arg(long, value_name = "DUR", help_heading = "Request")]
    pub timeout: Option<String>,

    /// Redirects followed before failing (default 10).
    #[arg(
        long,
        value_name = "N",
        help_heading = "Request",
        conflicts_with = "no_follow"
    )]
    pub max_redirects: Option<u8>,

    /// Do not follow redirects: the first answer is the result.
    #[arg(long, help_heading = "Request")]
    pub no_follow: bool,

    /// Response body bytes kept for assertions and the report (default 1MiB); accepts
    /// k/KiB/M/MiB suffixes.
    #[arg(long, value_name = "BYTES", help_heading = "Request")]
    pub body_cap: Option<String>,

    /// Fail with body_too_large when the body is longer than this; accepts suffixes.
    #[arg(long, value_name = "BYTES", help_heading = "Request")]
    pub max_body: Option<String>,

    /// Only HTTP/1.1.
    #[arg(long, help_heading = "Request", conflicts_with = "http2")]
    pub http1: bool,

    /// Only HTTP/2 (prior knowledge on http://, ALPN h2 on https://).
    #[arg(long, help_heading = "Request")]
    pub http2: bool,

    /// Text sent after a TCP connect; escapes \r \n \t \\ \xNN are decoded. Implies reading
    /// a banner.
    #[arg(long, value_name = "TEXT", help_heading = "Request")]
    pub send: Option<String>,

    // === Connection ===
    /// Accept any certificate (expired, self-signed, wrong name); still report it.
    #[arg(short = 'k', long, help_heading = "Connection")]
    pub insecure: bool,

    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM", help_heading = "Connection")]
    pub ca_file: Option<String>,

    /// Server name sent in SNI and verified, when it differs from the target host.
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub sni: Option<String>,

    /// Only connect over IPv4.
    #[arg(
        short = '4',
        long,
        help_heading = "Connection",
        conflicts_with = "ipv6"
    )]
    pub ipv4: bool,

    /// Only connect over IPv6.
    #[arg(short = '6', long, help_heading = "Connection")]
    pub ipv6: bool,

    /// DNS server for `dns://` queries and for resolving http, tcp and tls hosts.
    #[arg(
        long,
        value_name = "ADDR[:PORT]",
        help_heading = "Connection",
        help = "DNS server ADDR[:PORT] (port 53 by default) used for dns:// queries and for \
                resolving http, tcp and tls hosts. Default: the system resolver"
    )]
    pub resolver: Option<String>,

    /// Talk to the --resolver over TCP instead of UDP.
    #[arg(long, help_heading = "Connection")]
    pub dns_tcp: bool,

    // === Assertions ===
    /// Expected status: 200, 200,204, 200-299 or 2xx. Default for HTTP: 200-399 after
    /// redirects; giving this replaces the default.
    #[arg(long, value_name = "CODES", help_heading = "Assertions")]
    pub expect_status: Option<String>,

    /// The body contains TEXT (repeatable).
    #[arg(long, value_name = "TEXT", help_heading = "Assertions")]
    pub expect_body: Vec<String>,

    /// The body does not contain TEXT (repeatable).
    #[arg(long, value_name = "TEXT", help_heading = "Assertions")]
    pub expect_no_body: Vec<String>,

    /// The body matches a regular expression (repeatable).
    #[arg(long, value_name = "RE", help_heading = "Assertions")]
    pub expect_body_regex: Vec<String>,

    /// A JSONPath query on the body compared with a value.
    #[arg(
        long,
        value_name = "PATH OP VALUE",
        help_heading = "Assertions",
        help = "A JSONPath query on the body compared with a value, e.g. '$.status == \"ok\"', \
                '$.items[0].n > 3', '$.errors !exists'. OP is one of == != < <= > >= contains \
                exists !exists; VALUE is JSON, and a bare word is taken as a string (repeatable)"
    )]
    pub expect_json: Vec<String>,

    /// A response header has exactly this value (repeatable).
    #[arg(long, value_name = "NAME: VALUE", help_heading = "Assertions")]
    pub expect_header: Vec<String>,

    /// A response header matches a regular expression (repeatable).
    #[arg(long, value_name = "NAME: RE", help_heading = "Assertions")]
    pub expect_header_regex: Vec<String>,

    /// The whole check takes less than DUR, else it is down.
    #[arg(long, value_name = "DUR", help_heading = "Assertions")]
    pub max_time: Option<String>,

    /// A phase (dns, connect, tls, ttfb, transfer) takes less than DUR, else the check is
    /// down (repeatable).
    #[arg(long, value_name = "PHASE=DUR", help_heading = "Assertions")]
    pub max_phase: Vec<String>,

    /// The whole check taking DUR or more makes it degraded (not down).
    #[arg(long, value_name = "DUR", help_heading = "Assertions")]
    pub degraded_time: Option<String>,

    /// The certificate stays valid for more than N days.
    #[arg(long, value_name = "N", help_heading = "Assertions")]
    pub cert_min_days: Option<i64>,

    /// A DNS answer contains TEXT, e.g. an address (repeatable).
    #[arg(long, value_name = "TEXT", help_heading = "Assertions")]
    pub expect_answer: Vec<String>,

    /// The DNS response code, e.g. NOERROR or NXDOMAIN.
    #[arg(long, value_name = "RCODE", help_heading = "Assertions")]
    pub expect_rcode: Option<String>,

    /// The TCP banner contains TEXT; escapes as for --send (repeatable).
    #[arg(long, value_name = "TEXT", help_heading = "Assertions")]
    pub expect_banner: Vec<String>,

    /// The TCP banner matches a regular expression (repeatable).
    #[arg(long, value_name = "RE", help_heading = "Assertions")]
    pub expect_banner_regex: Vec<String>,

    // === Output ===
    /// Print the full report as JSON (see below for the shape with --count).
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Run the check N times, then summarise the timings.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Output")]
    pub count: u32,

    /// Time between the starts of runs with --count (default 1s).
    #[arg(long, value_name = "DUR", help_heading = "Output")]
    pub interval: Option<String>,

    /// Exit 1 when the check is degraded (by default degraded exits 0 with a warning).
    #[arg(long, help_heading = "Output")]
    pub fail_on_degraded: bool,
}

/// Parses `bitwobbly check ARGS...` into its arguments, for tests.
///
/// # Panics
///
/// If clap refuses the arguments.
#[cfg(test)]
pub(crate) fn parse_check(args: &[&str]) -> CheckArgs {
    let cli = Cli::try_parse_from(["bitwobbly", "check"].iter().chain(args))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    match cli.command {
        Command::Check(a) => *a,
        other => panic!("parsed as {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn check(args: &[&str]) -> CheckArgs {
        parse_check(args)
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn repeatable_and_short_flags() {
        let a = check(&[
            "https://x/",
            "-H",
            "A: 1",
            "-H",
            "B: 2",
            "-X",
            "PUT",
            "-k",
            "-4",
            "--count",
            "3",
        ]);
        assert_eq!(a.headers, ["A: 1", "B: 2"]);
        assert_eq!(a.method.as_deref(), Some("PUT"));
        assert!(a.insecure && a.ipv4 && !a.ipv6);
        assert_eq!(a.count, 3);
    }

    #[test]
    fn conflicting_flags_are_usage_errors() {
        for args in [
            &["x", "-4", "-6"][..],
            &["x", "--http1", "--http2"],
            &["x", "--no-follow", "--max-redirects", "3"],
            &["x", "--count", "0"],
        ] {
            let err = Cli::try_parse_from(["bitwobbly", "check"].iter().chain(args)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn global_flags_after_subcommand() {
        let cli = Cli::try_parse_from(["bitwobbly", "check", "x", "-vv", "--no-color"]).unwrap();
        assert_eq!(cli.verbose, 2);
        assert!(cli.no_color);
        assert_eq!(cli.default_log_filter(), "bitwobbly=trace");
    }

    #[test]
    fn log_filter_defaults_and_quiet() {
        let cli = Cli::try_parse_from(["bitwobbly", "check", "x"]).unwrap();
        assert_eq!(cli.default_log_filter(), "bitwobbly=info");
        let cli = Cli::try_parse_from(["bitwobbly", "-q", "check", "x"]).unwrap();
        assert_eq!(cli.default_log_filter(), "bitwobbly=error");
    }

    #[test]
    fn help_documents_default_status() {
        let help = Cli::command()
            .find_subcommand_mut("check")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("200-399"), "{help}");
        assert!(help.contains("summary"), "{help}");
    }
}
