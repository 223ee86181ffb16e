//! Running the real SDKs: the Python and Node scripts next to this file, their debug output
//! checked for transport errors, their JSON result parsed.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tokio::process::Command;

use crate::harness::DEADLINE;

/// One of the two SDKs the test drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sdk {
    /// `sentry-sdk` from PyPI, pinned in python/requirements.txt.
    Python,
    /// `@sentry/node` from npm, pinned in node/package-lock.json.
    Node,
}

/// What a script reported on stdout: the ids of what it sent.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) sdk: Sdk,
    pub(crate) out: Value,
}

impl Sent {
    /// A string field of the script's result.
    pub(crate) fn str(&self, key: &str) -> String {
        self.out[key]
            .as_str()
            .unwrap_or_else(|| panic!("{:?} reported no {key}: {}", self.sdk, self.out))
            .to_owned()
    }

    /// The event ids of the same error captured twice.
    pub(crate) fn same_error(&self) -> [String; 2] {
        let ids = self.out["same_error"].as_array().expect("same_error ids");
        [0, 1].map(|i| ids[i].as_str().expect("an event id").to_owned())
    }

    /// The attachment's bytes, as the script made them.
    pub(crate) fn attachment(&self) -> Vec<u8> {
        let hex = self.str("attachment_hex");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Fails the test, saying how to install them, unless both SDKs are installed.
pub(crate) async fn require_installed() {
    let python = Command::new("python3")
        .args(["-c", "import sentry_sdk; print(sentry_sdk.VERSION)"])
        .output()
        .await;
    let pinned = std::fs::read_to_string(dir().join("python/requirements.txt"))
        .expect("python/requirements.txt");
    match python {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            assert!(
                pinned.contains(&format!("sentry-sdk=={version}")),
                "python3 has sentry-sdk {version}, the test pins {pinned}: run `bash .ci/setup` \
                 (or `python3 -m pip install -r crates/bitwobbly-cli/tests/sdk/python/requirements.txt`)"
            );
        }
        _ => panic!(
            "the Python Sentry SDK is not installed: run `bash .ci/setup` (or \
             `python3 -m pip install -r crates/bitwobbly-cli/tests/sdk/python/requirements.txt`)"
        ),
    }
    let node = Command::new("node").arg("--version").output().await;
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is not installed: the sdk test needs Node.js 20.19 or newer and npm"
    );
    assert!(
        dir()
            .join("node/node_modules/@sentry/node/package.json")
            .exists(),
        "@sentry/node is not installed: run `bash .ci/setup` (or `npm ci` in \
         crates/bitwobbly-cli/tests/sdk/node)"
    );
}

/// Runs one SDK's script against `dsn` and returns what it sent. Fails the test if the
/// script fails, if the SDK could not flush everything, or if its debug output shows a
/// transport error (a non-2xx answer, a network error, a dropped or rate-limited envelope).
pub(crate) async fn run(sdk: Sdk, dsn: &str) -> Sent {
    let mut cmd = match sdk {
        Sdk::Python => {
            let mut c = Command::new("python3");
            c.arg(dir().join("python/sdk_app.py"))
                .env("PYTHONDONTWRITEBYTECODE", "1");
            c
        }
        Sdk::Node => {
            let mut c = Command::new("node");
            c.arg(dir().join("node/sdk-app.cjs"));
            c
        }
    };
    let child = cmd
        .env("SENTRY_DSN", dsn)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{sdk:?} script does not start: {e}"));
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{sdk:?} script did not finish in time"))
        .expect("wait for the script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let transport_errors = transport_errors(sdk, &stderr);
    assert!(
        transport_errors.is_empty(),
        "{sdk:?} SDK logged transport errors:\n{}\n--- stdout:\n{stdout}",
        transport_errors.join("\n")
    );
    assert!(
        out.status.success(),
        "{sdk:?} script failed ({}):\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
        out.status
    );
    let out: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{sdk:?} script printed no result:\n{stdout}\n{stderr}"));
    Sent { sdk, out }
}

/// The lines of an SDK's debug output that report a problem. Python logs every failed send
/// through `sentry_sdk.errors` at WARNING or ERROR (`Unexpected status code: 400`, `HTTP 413`,
/// `Rate-limited via 429`, `Internal error in sentry_sdk` with a network traceback); Node's
/// debug logger prints `Sentry Logger [warn]` / `[error]` (`Sentry responded with status code
/// 400 to sent event.`, `Encountered error running transport request`). The SDKs print nothing
/// at those levels on a clean run, so any such line is a failure.
fn transport_errors(sdk: Sdk, stderr: &str) -> Vec<String> {
    let markers: &[&str] = match sdk {
        Sdk::Python => &["[sentry] WARNING", "[sentry] ERROR", "[sentry] CRITICAL"],
        Sdk::Node => &["Sentry Logger [warn]", "Sentry Logger [error]"],
    };
    stderr
        .lines()
        .filter(|l| markers.iter().any(|m| l.contains(m)))
        .map(str::to_owned)
        .collect()
}

#[test]
fn transport_errors_are_recognised_in_both_sdks_output() {
    let python = " [sentry] DEBUG: Sending envelope\n [sentry] ERROR: Unexpected status code: 400 \
                  (body: b'{}')\n [sentry] WARNING: Rate-limited via 429\n";
    assert_eq!(transport_errors(Sdk::Python, python).len(), 2);
    let node = "Sentry Logger [log]: Flushing outcomes...\nSentry Logger [warn]: Sentry responded \
                with status code 400 to sent event.\nSentry Logger [error]: Encountered error \
                running transport request: Error: connect ECONNREFUSED\n";
    assert_eq!(transport_errors(Sdk::Node, node).len(), 2);
    assert!(transport_errors(Sdk::Node, "Sentry Logger [log]: ok\n").is_empty());
}
