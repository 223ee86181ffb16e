//! The whole error-tracking path in headless Chromium (SQLite): sign in, create a Python
//! project, copy its DSN from the page, send errors with the real Python `sentry-sdk` (the
//! script of bitwobbly-cli's SDK test, `crates/bitwobbly-cli/tests/sdk/python/sdk_app.py`),
//! wait for them to be processed, open the issue and find its stack trace with the in-app
//! frame highlighted. Screenshots go to `target/test-artifacts/dash_errors/`.

use std::path::PathBuf;
use std::process::Stdio;

use bitwobbly_test_support::browser::Browser;
use bitwobbly_test_support::db::Backend;
use serde_json::Value;

use crate::PW;
use crate::common::{DEADLINE, DashServer, eventually};

/// The Python SDK script of bitwobbly-cli's SDK test.
fn sdk_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bitwobbly-cli/tests/sdk/python/sdk_app.py")
}

/// Runs the script against `dsn`; its result line (the ids of what it sent).
async fn python_sdk(dsn: &str) -> Value {
    let child = tokio::process::Command::new("python3")
        .arg(sdk_script())
        .env("SENTRY_DSN", dsn)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (the Python sentry-sdk must be installed: see .ci/setup)");
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("the SDK script finishes")
        .expect("the SDK script's output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("a result line")
}

#[tokio::test]
async fn a_python_error_is_traced_in_the_browser() {
    let server = DashServer::start(Backend::Sqlite).await;
    server.user("owner@acme.test", PW, "acme").await;
    let b = Browser::start_in("dash_errors").await;
    b.resize(1280, 900).await;
    b.open(&server.url("/app/login?next=/app/w/acme/projects"))
        .await;
    b.fill("#email", "owner@acme.test").await;
    b.fill("#password", PW).await;
    b.click("button[type=submit]").await;
    b.wait_for("#name").await;
    b.screenshot("01-projects.png").await;

    // Create the project in the form.
    b.fill("#name", "Checkout").await;
    b.script("document.querySelector('#platform').value = 'python'; return null;")
        .await;
    b.click("form.stack button[type=submit]").await;
    b.wait_for("#dsn").await;
    // Copy the DSN as the page shows it (the copy button carries the same text).
    let dsn = b.text("#dsn").await;
    let copied = b
        .script("return document.querySelector('button[data-copy]').getAttribute('data-copy');")
        .await;
    assert_eq!(copied.as_str(), Some(dsn.as_str()));
    assert!(dsn.starts_with("http://") && dsn.contains('@'), "{dsn}");
    assert!(b.text("#sdk-python pre").await.contains(&dsn));
    b.screenshot("02-setup.png").await;

    // A real SDK sends errors (and transactions, sessions, check-ins) with it.
    let sent = python_sdk(&dsn).await;
    let event = sent["same_error"][0]
        .as_str()
        .expect("an event id")
        .to_owned();
    let issues = b
        .script("return location.pathname + '/issues';")
        .await
        .as_str()
        .expect("a path")
        .to_owned();
    // The worker processes it: the issue shows up in the list.
    eventually("the SDK's error to be listed", || async {
        b.open(&server.url(&issues)).await;
        let titles = b
            .script("return [...document.querySelectorAll('a.issue-title')].map(a => a.innerText);")
            .await;
        titles
            .as_array()?
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t.contains("boom for order")))
            .then_some(())
    })
    .await;
    b.screenshot("03-issues.png").await;
    b.script(
        "[...document.querySelectorAll('a.issue-title')].find(a => a.innerText.includes('boom for order')).click(); return null;",
    )
    .await;
    b.wait_for("li.frame.in-app").await;

    // The stack trace: the in-app frames are highlighted and open, the line that raised is
    // marked, library frames (if any) stay folded.
    let app_frames = b
        .script(
            "return [...document.querySelectorAll('li.frame.in-app')].map(li => \
               [li.querySelector('code.fn').innerText, li.querySelector('details').open, \
                getComputedStyle(li).borderLeftWidth]);",
        )
        .await;
    let frames = app_frames.as_array().expect("frames");
    let names: Vec<&str> = frames.iter().filter_map(|f| f[0].as_str()).collect();
    assert!(names.contains(&"validate_order"), "{names:?}");
    assert!(names.contains(&"handle_request"), "{names:?}");
    assert!(
        frames.iter().all(|f| f[1] == true),
        "in-app frames are open"
    );
    assert!(
        frames.iter().all(|f| f[2] == "4px"),
        "in-app frames are highlighted"
    );
    let current = b.text("li.frame.in-app .line.current").await;
    assert!(!current.trim().is_empty(), "the raising line is marked");
    assert!(b.text("h1.issue-title").await.contains("ValueError"));
    assert!(
        b.text(".issue-side").await.contains("sdk-py@1.0.0"),
        "the release tag"
    );
    b.screenshot("04-issue.png").await;

    // The event's own page has the same trace.
    let project_base = issues.trim_end_matches("/issues");
    b.open(&server.url(&format!("{project_base}/events/{event}")))
        .await;
    b.wait_for("li.frame.in-app").await;
    b.screenshot("05-event.png").await;

    // The other pages fill up from the same script's transactions, sessions and check-ins.
    eventually("the SDK's transaction", || async {
        b.open(&server.url(&format!("{project_base}/transactions")))
            .await;
        b.text("main").await.contains("py-checkout").then_some(())
    })
    .await;
    b.wait_for("figure.chart svg").await;
    b.screenshot("06-transactions.png").await;
    eventually("the SDK's sessions", || async {
        b.open(&server.url(&format!("{project_base}/releases")))
            .await;
        b.text("main").await.contains("sdk-py@1.0.0").then_some(())
    })
    .await;
    b.screenshot("07-releases.png").await;
    eventually("the SDK's check-ins", || async {
        b.open(&server.url(&format!("{project_base}/crons"))).await;
        b.text("main").await.contains("py-nightly").then_some(())
    })
    .await;
    b.open(&server.url(&format!("{project_base}/crons/py-nightly")))
        .await;
    b.wait_for("figure.chart svg").await;
    b.screenshot("08-cron.png").await;
    // Phone width: the trace stays readable (no sideways scroll of the page).
    b.resize(390, 844).await;
    b.open(&server.url(&format!("{project_base}/events/{event}")))
        .await;
    b.wait_for("li.frame.in-app").await;
    let overflow = b
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(overflow, true, "no horizontal scroll at phone width");
    b.screenshot("09-event-phone.png").await;
    b.quit().await;
    server.stop().await;
}
