//! Running the binary and holding test servers.

use std::future::Future;
use std::io::Write as _;
use std::process::{Command, Stdio};

use tempfile::NamedTempFile;

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts stdout contains `needle`.
    #[track_caller]
    pub(crate) fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts stderr contains `needle`.
    #[track_caller]
    pub(crate) fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Stdout parsed as one JSON value.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `bitwobbly ARGS` with `envs` set, stdout and stderr piped, and neither
/// `RUST_LOG` nor `NO_COLOR` inherited.
pub(crate) fn bitwobbly_with_env(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_bitwobbly"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Runs `bitwobbly ARGS`.
pub(crate) fn bitwobbly(args: &[&str]) -> Run {
    bitwobbly_with_env(args, &[])
}

/// A Tokio runtime whose worker thread serves the test servers while the test
/// thread runs the binary.
pub(crate) struct Servers {
    rt: tokio::runtime::Runtime,
}

impl Servers {
    pub(crate) fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        Self { rt }
    }

    /// Starts something on the runtime (a server) and returns it.
    pub(crate) fn start<T>(&self, fut: impl Future<Output = T>) -> T {
        self.rt.block_on(fut)
    }
}

/// The shared test CA's certificate in a PEM file, for `--ca-file`.
pub(crate) fn ca_file() -> NamedTempFile {
    let mut f = NamedTempFile::new().expect("a temporary file");
    f.write_all(
        bitwobbly_test_support::pki::TestCa::shared()
            .pem()
            .as_bytes(),
    )
    .expect("write the CA");
    f
}

/// The path of a temporary file, as text.
pub(crate) fn path(f: &NamedTempFile) -> String {
    f.path().display().to_string()
}
