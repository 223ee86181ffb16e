//! Command-line parsing and output for the `bitwobbly` binary.
//!
//! This crate holds process concerns only: clap types ([`Cli`]), turning flags into a
//! check spec ([`plan`]), printing reports ([`output`], [`stats`]), and loading the server
//! configuration for `serve`, `admin`, `apply` and `export`. The checks run in
//! `bitwobbly-check` and the server in `bitwobbly-server`; nothing here is meant for library
//! users.
//!
//! Exit status: 0 when the check is up (or degraded without `--fail-on-degraded`) or the
//! command succeeded, 1 when a check is down or something failed at run time, 2 for usage
//! errors, bad configuration included (see [`Exit`]).

mod admin;
mod agent;
mod apply;
pub mod args;
pub mod check;
mod error;
mod escape;
mod migrate;
pub mod output;
pub mod plan;
mod serve;
pub mod stats;
pub mod target;
mod values;

use std::io::{self, Write};

use bitwobbly_server::Config;
use bitwobbly_server::config::{LogFormat, Overrides};

pub use args::{CheckArgs, Cli, Command, MigrateArgs};
pub use error::UsageError;
pub use output::Style;

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: up, degraded without `--fail-on-degraded`, or output closed early (broken pipe).
    Success,
    /// 1: down, degraded with `--fail-on-degraded`, or a runtime failure.
    Failure,
    /// 2: a bad flag or value.
    Usage,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Usage => 2,
        }
    }

    /// The exit for an error returned by [`run`]: [`Exit::Usage`] for a [`UsageError`],
    /// [`Exit::Success`] for a broken pipe on the output (the reader has seen enough),
    /// else [`Exit::Failure`].
    pub fn for_error(e: &anyhow::Error) -> Self {
        if e.downcast_ref::<UsageError>().is_some() {
            Self::Usage
        } else if e
            .chain()
            .filter_map(|c| c.downcast_ref::<io::Error>())
            .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
        {
            Self::Success
        } else {
            Self::Failure
        }
    }
}

/// The server configuration for the commands that use one (`serve`, `admin`, `apply`,
/// `export`): defaults, the TOML file, the `BITWOBBLY_*` variables of `env`, then the flags.
/// `None` for the other commands.
///
/// # Errors
///
/// A [`UsageError`] naming the key and where its value came from.
pub fn load_config<K, V>(cli: &Cli, env: &[(K, V)]) -> anyhow::Result<Option<Config>>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let (store, listen, log_format) = match &cli.command {
        Command::Serve(a) => (&a.store, a.listen, a.log_format),
        Command::Admin(a) => match &a.command {
            args::AdminCommand::CreateUser(a) => (&a.store, None, None),
            args::AdminCommand::CreateToken(a) => (&a.store, None, None),
            args::AdminCommand::CreateAgentToken(a) => (&a.store, None, None),
            args::AdminCommand::CreateProject(a) => (&a.store, None, None),
        },
        Command::Apply(a) => (&a.store, None, None),
        Command::Export(a) => (&a.store, None, None),
        Command::Check(_) | Command::Migrate(_) | Command::Agent(_) => return Ok(None),
    };
    let flags = Overrides {
        config: store.config.clone(),
        listen,
        data_dir: store.data_dir.clone(),
        database_url: store.database_url.clone(),
        log_format: log_format.map(|f| match f {
            args::LogFormatArg::Text => LogFormat::Text,
            args::LogFormatArg::Json => LogFormat::Json,
        }),
    };
    let env = env
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()));
    match Config::load(&flags, env) {
        Ok(config) => Ok(Some(config)),
        Err(e) => Err(UsageError::flag("configuration:", e.to_string()).into()),
    }
}

/// The log format asked for by flags of commands that read no server configuration
/// (`bitwobbly agent --log-format`).
pub fn log_format_flag(cli: &Cli) -> Option<LogFormat> {
    match &cli.command {
        Command::Agent(a) => agent::log_format(a),
        _ => None,
    }
}

/// Runs the command `cli` names, writing results to `out` and warnings to `err`. `config`
/// is what [`load_config`] returned.
///
/// # Errors
///
/// A [`UsageError`] for bad flags or values, or an I/O error writing the output.
pub async fn run(
    cli: &Cli,
    config: Option<Config>,
    style: Style,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    let config = || config.clone().unwrap_or_default();
    match &cli.command {
        Command::Check(args) => {
            let plan = plan::Plan::from_args(args)?;
            let checker = bitwobbly_check::Checker::new();
            Ok(check::run(&plan, &checker, style, out, err).await?)
        }
        Command::Migrate(args) => migrate::run(args, out).await,
        Command::Serve(_) => serve::run(config(), out).await,
        Command::Admin(args) => admin::run(args, &config(), out, err).await,
        Command::Apply(args) => apply::apply(args, &config(), out, err).await,
        Command::Export(args) => apply::export(args, &config(), out).await,
        Command::Agent(args) => agent::run(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
    }

    #[test]
    fn errors_map_to_exits() {
        let usage = anyhow::Error::from(UsageError::flag("--send", "no"));
        assert_eq!(Exit::for_error(&usage), Exit::Usage);
        let pipe = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(Exit::for_error(&pipe), Exit::Success);
        let other = anyhow::Error::from(io::Error::other("disk on fire"));
        assert_eq!(Exit::for_error(&other), Exit::Failure);
    }
}
