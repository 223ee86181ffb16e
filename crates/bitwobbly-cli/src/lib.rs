//! Command-line parsing and output for the `bitwobbly` binary.
//!
//! This crate holds process concerns only: clap types ([`Cli`]), turning flags into a
//! check spec ([`plan`]), and printing reports ([`output`], [`stats`]). The checks
//! themselves run in `bitwobbly-check`; nothing here is meant for library users.
//!
//! Exit status: 0 when the check is up (or degraded without `--fail-on-degraded`), 1 when
//! it is down or something failed at run time, 2 for usage errors (see [`Exit`]).

pub mod args;
pub mod check;
mod error;
mod escape;
mod migrate;
pub mod output;
pub mod plan;
pub mod stats;
pub mod target;
mod values;

use std::io::{self, Write};

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

/// Runs the command `cli` names, writing results to `out` and warnings to `err`.
///
/// # Errors
///
/// A [`UsageError`] for bad flags or values, or an I/O error writing the output.
pub async fn run(
    cli: &Cli,
    style: Style,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Check(args) => {
            let plan = plan::Plan::from_args(args)?;
            let checker = bitwobbly_check::Checker::new();
            Ok(check::run(&plan, &checker, style, out, err).await?)
        }
        Command::Migrate(args) => migrate::run(args, out).await,
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
