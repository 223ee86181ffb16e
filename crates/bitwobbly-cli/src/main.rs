//! The `bitwobbly` binary: parses arguments, loads configuration, installs logging, and runs
//! the command.
//!
//! Exit status: 0 success (for `check`: up, or degraded without `--fail-on-degraded`),
//! 1 down or runtime failure, 2 usage error (bad flag, value or configuration).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use bitwobbly_cli::{Cli, Command, Exit, Style, UsageError};
use bitwobbly_server::Config;
use bitwobbly_server::config::LogFormat;
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2.
    let cli = Cli::parse();

    // The server's configuration (file, BITWOBBLY_* variables, flags) for the commands
    // that use one; it also says how to log.
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let config = match bitwobbly_cli::load_config(&cli, &env) {
        Ok(config) => config,
        Err(e) => return finish(Err(e)),
    };

    // Logs go to stderr; `RUST_LOG` overrides the default filter and -q / -v.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli.default_log_filter()));
    let no_color_env = std::env::var_os("NO_COLOR");
    let log_style = Style::detect(
        cli.no_color,
        no_color_env.as_deref(),
        std::io::stderr().is_terminal(),
    );
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config
        .as_ref()
        .map(|c| c.log_format)
        .or_else(|| bitwobbly_cli::log_format_flag(&cli))
    {
        Some(LogFormat::Json) => logs.json().init(),
        _ => logs.with_ansi(log_style.color).init(),
    }
    if config.is_some() {
        for var in Config::unknown_env_vars(env) {
            tracing::warn!(%var, "ignoring an environment variable that names no setting");
        }
    }

    let style = Style::detect(
        cli.no_color,
        no_color_env.as_deref(),
        std::io::stdout().is_terminal(),
    );
    // The server and the agent use every core; one-shot commands need one thread.
    let runtime = if matches!(cli.command, Command::Serve(_) | Command::Agent(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            let e = anyhow::Error::from(e).context("cannot start the async runtime");
            return finish(Err(e));
        }
    };

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr();
    let result = runtime.block_on(bitwobbly_cli::run(&cli, config, style, &mut out, &mut err));
    finish(result)
}

/// Reports an error (unless it is a broken pipe) and turns the result into an exit code.
fn finish(result: anyhow::Result<Exit>) -> ExitCode {
    let exit = match result {
        Ok(exit) => exit,
        Err(e) => {
            let exit = Exit::for_error(&e);
            if exit != Exit::Success {
                let mut stderr = std::io::stderr().lock();
                // Nothing more can be done if stderr is gone too.
                let _ = writeln!(stderr, "error: {e:#}");
                if e.downcast_ref::<UsageError>().is_some() {
                    let _ = writeln!(stderr, "\nFor more information, try '--help'.");
                }
            }
            exit
        }
    };
    ExitCode::from(exit.code())
}
