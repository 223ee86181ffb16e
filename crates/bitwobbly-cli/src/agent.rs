//! `bitwobbly agent`: run a checker agent until SIGINT or SIGTERM.

use bitwobbly_server::agent::{Agent, AgentConfig, AgentError, MIN_BUFFER_MAX};
use bitwobbly_server::config::LogFormat;
use bitwobbly_server::server::shutdown_signal;

use crate::args::{AgentArgs, LogFormatArg};
use crate::{Exit, UsageError};

/// The log format `bitwobbly agent --log-format` asks for.
pub(crate) fn log_format(args: &AgentArgs) -> Option<LogFormat> {
    args.log_format.map(|f| match f {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    })
}

/// The flag that sets an [`AgentConfig`] field.
fn flag(field: &str) -> &'static str {
    match field {
        "server" => "--server",
        "token" => "--token",
        "location" => "--location",
        "buffer_max" => "--buffer-max",
        "concurrency" => "--concurrency",
        "ca_file" => "--ca-file",
        _ => "--state-dir",
    }
}

/// The agent's configuration from its flags.
///
/// # Errors
///
/// A [`UsageError`] naming the flag.
pub(crate) fn config(args: &AgentArgs) -> Result<AgentConfig, UsageError> {
    let server = args
        .server
        .parse()
        .map_err(|e| UsageError::invalid("--server", &args.server, format!("{e}")))?;
    let mut config = AgentConfig::new(server, args.token.clone(), args.location.clone());
    config.state_dir = args.state_dir.clone();
    if let Some(v) = &args.buffer_max {
        let n = crate::values::bytes(v).map_err(|e| UsageError::invalid("--buffer-max", v, e))?;
        if n < MIN_BUFFER_MAX {
            return Err(UsageError::invalid(
                "--buffer-max",
                v,
                "must be at least 64KiB",
            ));
        }
        config.buffer_max = n;
    }
    if let Some(n) = args.concurrency {
        config.concurrency = n as usize;
    }
    config.ca_file = args.ca_file.clone();
    config
        .validate()
        .map_err(|e| usage(&e).unwrap_or_else(|| UsageError::flag("agent", e.to_string())))?;
    Ok(config)
}

/// A configuration error as a usage error naming its flag.
fn usage(e: &AgentError) -> Option<UsageError> {
    match e {
        AgentError::Config { field, problem } => {
            Some(UsageError::flag(flag(field), problem.clone()))
        }
        _ => None,
    }
}

/// Runs the agent until a signal (exit 0) or a refusal by the server (exit 1).
///
/// # Errors
///
/// A [`UsageError`] for bad flags (the CA file included); the agent's error otherwise.
pub(crate) async fn run(args: &AgentArgs) -> anyhow::Result<Exit> {
    let config = config(args)?;
    match Agent::run(config, shutdown_signal()).await {
        Ok(()) => Ok(Exit::Success),
        Err(e) => Err(match usage(&e) {
            Some(u) => u.into(),
            None => anyhow::Error::from(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(extra: &[&str]) -> Result<AgentArgs, clap::Error> {
        let mut argv = vec![
            "bitwobbly",
            "agent",
            "--server",
            "https://status.example.com",
            "--token",
            "bwa_secret",
            "--location",
            "eu-1",
        ];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Agent(a) => a,
            other => panic!("parsed as {other:?}"),
        })
    }

    #[test]
    fn defaults() {
        let c = config(&parse(&[]).unwrap()).unwrap();
        assert_eq!(c.server.as_str(), "https://status.example.com/");
        assert_eq!(c.location, "eu-1");
        assert_eq!(c.state_dir, std::path::PathBuf::from("bitwobbly-agent"));
        assert_eq!(c.buffer_max, 64 * 1024 * 1024);
        assert_eq!(c.concurrency, 64);
        assert!(c.ca_file.is_none());
        assert!(
            !format!("{c:?}").contains("bwa_secret"),
            "the token is not in Debug"
        );
    }

    #[test]
    fn every_flag() {
        let a = parse(&[
            "--state-dir",
            "/var/lib/agent",
            "--buffer-max",
            "8MiB",
            "--concurrency",
            "5",
            "--ca-file",
            "/etc/ca.pem",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(log_format(&a), Some(LogFormat::Json));
        let c = config(&a).unwrap();
        assert_eq!(c.buffer_max, 8 * 1024 * 1024);
        assert_eq!(c.concurrency, 5);
        assert_eq!(c.ca_file.unwrap(), std::path::PathBuf::from("/etc/ca.pem"));
    }

    #[test]
    fn bad_values_name_their_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--buffer-max", "lots"], "--buffer-max"),
            (&["--buffer-max", "1k"], "--buffer-max"),
            (&["--buffer-max", "99999999999G"], "--buffer-max"),
        ];
        for (extra, flag) in cases {
            let e = config(&parse(extra).unwrap()).unwrap_err();
            assert_eq!(e.flag, *flag, "{extra:?}: {e}");
        }
        for (server, why) in [
            ("not a url", "relative URL"),
            ("ftp://example.com", "http"),
            ("https://user:pw@example.com", "credentials"),
            ("https://example.com/?x=1", "query"),
        ] {
            let mut a = parse(&[]).unwrap();
            a.server = server.to_owned();
            let e = config(&a).unwrap_err();
            assert_eq!(e.flag, "--server", "{server}");
            assert!(e.to_string().contains(why), "{server}: {e}");
        }
        for (location, flag) in [
            ("", "--location"),
            ("eu 1", "--location"),
            ("ü", "--location"),
        ] {
            let mut a = parse(&[]).unwrap();
            a.location = location.to_owned();
            assert_eq!(config(&a).unwrap_err().flag, flag, "{location:?}");
        }
        for token in ["", "  ", "has space", "tab\there"] {
            let mut a = parse(&[]).unwrap();
            a.token = token.to_owned();
            assert_eq!(config(&a).unwrap_err().flag, "--token", "{token:?}");
        }
    }

    #[test]
    fn clap_refuses_missing_and_malformed_flags() {
        for argv in [
            &[
                "bitwobbly",
                "agent",
                "--server",
                "https://x",
                "--location",
                "a",
            ][..],
            &["bitwobbly", "agent", "--token", "t", "--location", "a"],
            &[
                "bitwobbly",
                "agent",
                "--server",
                "https://x",
                "--token",
                "t",
            ],
        ] {
            // The token may come from the environment; the test runs without it.
            if std::env::var_os("BITWOBBLY_AGENT_TOKEN").is_some() {
                return;
            }
            let e = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{argv:?}");
        }
        for extra in [
            &["--concurrency", "0"][..],
            &["--concurrency", "-3"],
            &["--concurrency", "many"],
            &["--log-format", "xml"],
        ] {
            let e = parse(extra).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{extra:?}");
        }
    }
}
