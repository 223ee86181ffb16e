//! Criterion benchmarks for the check engine.
//!
//! Run with: `cargo bench -p bench-check --bench check`
//!
//! - `assertions`: evaluating a typical HTTP assertion set against a captured response;
//! - `full_check`: a whole HTTP and HTTPS check (fresh connection, full handshake) against
//!   an in-process test server on loopback. The server shares the process, so these
//!   numbers are for comparing versions of our code; `check-load` (nginx in its own
//!   process) gives the absolute rate and CPU per check.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use bitwobbly_check::Checker;
use bitwobbly_core::{
    Assertion, AssertionKind, CheckSpec, HttpSpec, JsonOp, Observation, Phase, StatusMatch,
};
use bitwobbly_test_support::http::TestServer;
use bitwobbly_test_support::pki::TestCa;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn typical_assertions() -> Vec<Assertion> {
    vec![
        Assertion::fail(AssertionKind::StatusCode {
            expect: StatusMatch::Range(200, 299),
        }),
        Assertion::fail(AssertionKind::Json {
            path: "$.status".to_owned(),
            op: JsonOp::Eq,
            value: Some(serde_json::json!("ok")),
        }),
        Assertion::fail(AssertionKind::BodyMatches {
            pattern: r#""status":\s*"ok""#.to_owned(),
        }),
        Assertion::degrade(AssertionKind::Time {
            phase: Some(Phase::Ttfb),
            below: Duration::from_millis(200),
        }),
    ]
}

fn assertions(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(async { TestServer::http().expect("server") });
    let mut spec = HttpSpec::get(server.url("/ok"));
    spec.assertions = typical_assertions();
    let check = CheckSpec::Http(spec).compile().expect("valid spec");
    let report = runtime.block_on(Checker::new().run(&check));
    let obs = Observation {
        timings: &report.timings,
        http: report.http.as_ref(),
        cert: None,
        dns: None,
        tcp: None,
        now: report.started_at,
    };
    let mut group = c.benchmark_group("assertions");
    group.throughput(Throughput::Elements(
        check.assertions().iter().count() as u64
    ));
    group.bench_function("evaluate_typical_http", |b| {
        b.iter(|| black_box(check.assertions().evaluate(black_box(&obs))));
    });
    group.finish();
}

fn full_check(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let (plain, tls) = runtime.block_on(async {
        (
            TestServer::http().expect("server"),
            TestServer::https(leaf.server_config()).expect("server"),
        )
    });
    let checker = Checker::new();
    let http = CheckSpec::Http(HttpSpec::get(plain.url("/")))
        .compile()
        .expect("valid spec");
    let mut https_spec = HttpSpec::get(tls.url("/"));
    https_spec.tls.ca_pem = Some(ca.pem().to_owned());
    let https = CheckSpec::Http(https_spec).compile().expect("valid spec");

    let mut group = c.benchmark_group("full_check");
    group.throughput(Throughput::Elements(1));
    group.bench_function("http_fresh_connection", |b| {
        b.iter(|| black_box(runtime.block_on(checker.run(&http))));
    });
    group.bench_function("https_full_handshake", |b| {
        b.iter(|| black_box(runtime.block_on(checker.run(&https))));
    });
    group.finish();
}

criterion_group!(benches, assertions, full_check);
criterion_main!(benches);
