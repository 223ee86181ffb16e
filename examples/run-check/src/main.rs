//! Run a check from your own program with `bitwobbly-check`.
//!
//! Run with: `cargo run -p example-run-check -- https://example.com/`
//!
//! Builds an HTTP check with two assertions (a status range, and a time bound that only
//! degrades), runs it on a shared `Checker` and prints the timing breakdown and verdict.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use bitwobbly_check::Checker;
use bitwobbly_core::{Assertion, AssertionKind, CheckSpec, HttpSpec, Phase, StatusMatch};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "https://example.com/".to_owned());

    let mut spec = HttpSpec::get(url);
    spec.timeout = Duration::from_secs(5);
    spec.assertions = vec![
        Assertion::fail(AssertionKind::StatusCode {
            expect: StatusMatch::Range(200, 399),
        }),
        Assertion::degrade(AssertionKind::Time {
            phase: Some(Phase::Ttfb),
            below: Duration::from_millis(500),
        }),
    ];
    // Validates the spec once; a compiled check can run any number of times.
    let check = CheckSpec::Http(spec).compile()?;

    // One checker for the whole program: it holds TLS configs and resolvers.
    let checker = Checker::new();
    let report = checker.run(&check).await;

    for phase in Phase::ALL {
        println!("{:>9}: {:?}", phase, report.timings.phase(phase));
    }
    println!("{:>9}: {:?}", "total", report.timings.total);
    if let Some(http) = &report.http {
        println!("{} {} ({} bytes)", http.version, http.status, http.body_len);
    }
    for a in &report.assertions {
        let mark = if a.passed { "pass" } else { "FAIL" };
        println!(
            "{mark}: {} (expected {}, got {:?})",
            a.description, a.expected, a.actual
        );
    }
    println!(
        "status: {} {}",
        report.status,
        report.reason.unwrap_or_default()
    );
    Ok(())
}
