//! `bitwobbly check http(s)://…`.

use bitwobbly_test_support::http::TestServer;
use bitwobbly_test_support::pki::{CA_NAME, TestCa};
use bitwobbly_test_support::tcp::closed_port;

use crate::support::{Servers, bitwobbly, bitwobbly_with_env, ca_file, path};

fn http_server(servers: &Servers) -> TestServer {
    servers.start(async { TestServer::http().expect("an HTTP server") })
}

#[test]
fn up_exits_zero_with_the_breakdown() {
    let servers = Servers::new();
    let server = http_server(&servers);
    bitwobbly(&["check", &server.url("/ok")])
        .assert_code(0)
        .stdout_has("HTTP/1.1 200 OK")
        .stdout_has("namelookup:")
        .stdout_has("connect:")
        .stdout_has("ttfb:")
        .stdout_has("total:")
        .stdout_has("✓ ")
        .stdout_has("\nUP\n");
}

#[test]
fn default_status_expectation_fails_on_404_and_can_be_replaced() {
    let servers = Servers::new();
    let server = http_server(&servers);
    let url = server.url("/status/404");
    bitwobbly(&["check", &url])
        .assert_code(1)
        .stdout_has("✗ ")
        .stdout_has("DOWN: ");
    bitwobbly(&["check", &url, "--expect-status", "4xx"]).assert_code(0);
}

#[test]
fn failed_assertion_exits_one() {
    let servers = Servers::new();
    let server = http_server(&servers);
    bitwobbly(&["check", &server.url("/ok"), "--expect-body", "no such text"])
        .assert_code(1)
        .stdout_has("✗ ")
        .stdout_has("DOWN: ");
}

#[test]
fn refused_port_exits_one_naming_kind_and_phase() {
    let addr = closed_port().expect("a closed port");
    bitwobbly(&["check", &format!("http://{addr}/")])
        .assert_code(1)
        .stdout_has("DOWN: connection_refused during connect");
}

#[test]
fn request_flags_reach_the_server() {
    let servers = Servers::new();
    let server = http_server(&servers);
    bitwobbly(&[
        "check",
        &server.url("/echo"),
        "-H",
        "X-Test: yes",
        "-d",
        "hello",
        "--expect-json",
        r#"$.headers["x-test"] == "yes""#,
        "--expect-json",
        "$.method == POST",
        "--expect-json",
        r#"$.body == "hello""#,
        "--expect-header",
        "Content-Type: application/json",
    ])
    .assert_code(0);
    bitwobbly(&["check", &server.url("/ok"), "--expect-json", "$.checks > 5"]).assert_code(1);
}

#[test]
fn json_output_has_the_documented_fields() {
    let servers = Servers::new();
    let server = http_server(&servers);
    let run = bitwobbly(&["check", &server.url("/ok"), "--json"]);
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["kind"], "http");
    assert_eq!(v["target"], server.url("/ok"));
    assert_eq!(v["status"], "up");
    for field in [
        "dns_us",
        "connect_us",
        "tls_us",
        "ttfb_us",
        "transfer_us",
        "total_us",
    ] {
        assert!(v["timings"][field].is_u64(), "timings.{field} in {v}");
    }
    assert_eq!(v["http"]["status"], 200);
    let assertions = v["assertions"].as_array().expect("assertions array");
    assert_eq!(assertions.len(), 1, "the default status assertion: {v}");
    assert_eq!(assertions[0]["passed"], true);
}

#[test]
fn redirects_are_followed_and_listed() {
    let servers = Servers::new();
    let server = http_server(&servers);
    let url = server.url("/redirect/2");
    bitwobbly(&["check", &url])
        .assert_code(0)
        .stdout_has("Redirects:")
        .stdout_has("302")
        .stdout_has(&server.url("/ok"));
    bitwobbly(&["check", &url, "--no-follow", "--expect-status", "302"]).assert_code(0);
    bitwobbly(&["check", &url, "--max-redirects", "1"])
        .assert_code(1)
        .stdout_has("too_many_redirects");
}

#[test]
fn degraded_exits_zero_with_a_warning_unless_asked() {
    let servers = Servers::new();
    let server = http_server(&servers);
    let url = server.url("/ok");
    bitwobbly(&["check", &url, "--degraded-time", "1ns"])
        .assert_code(0)
        .stdout_has("DEGRADED: ")
        .stderr_has("warning:");
    bitwobbly(&[
        "check",
        &url,
        "--degraded-time",
        "1ns",
        "--fail-on-degraded",
    ])
    .assert_code(1);
}

#[test]
fn count_prints_one_line_per_run_and_a_summary() {
    let servers = Servers::new();
    let server = http_server(&servers);
    let run = bitwobbly(&[
        "check",
        &server.url("/ok"),
        "--count",
        "3",
        "--interval",
        "10ms",
    ]);
    run.assert_code(0)
        .stdout_has("[1/3] UP")
        .stdout_has("[3/3] UP")
        .stdout_has("3 runs, 3 up, 0 degraded, 0 down")
        .stdout_has("median")
        .stdout_has("p95");
    let total_row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("total "))
        .expect("a total row");
    assert_eq!(total_row.split_whitespace().count(), 5, "{total_row}");
}

#[test]
fn count_with_json_prints_json_lines_and_a_summary() {
    let servers = Servers::new();
    let server = http_server(&servers);
    let run = bitwobbly(&[
        "check",
        &server.url("/ok"),
        "--count",
        "2",
        "--interval",
        "10ms",
        "--json",
    ]);
    run.assert_code(0);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert_eq!(lines[0]["status"], "up");
    let summary = &lines[2]["summary"];
    assert_eq!(summary["runs"], 2);
    assert_eq!(summary["up"], 2);
    assert!(summary["timings"]["total_us"]["p95"].is_u64(), "{summary}");
}

#[test]
fn any_down_run_fails_a_count() {
    let addr = closed_port().expect("a closed port");
    bitwobbly(&[
        "check",
        &format!("tcp://{addr}"),
        "--count",
        "2",
        "--interval",
        "1ms",
    ])
    .assert_code(1)
    .stdout_has("2 runs, 0 up, 0 degraded, 2 down")
    .stdout_has("no run completed");
}

#[test]
fn no_escape_codes_without_a_terminal_or_with_no_color() {
    let servers = Servers::new();
    let server = http_server(&servers);
    let url = server.url("/ok");
    for envs in [&[][..], &[("NO_COLOR", "1")][..]] {
        let run = bitwobbly_with_env(&["check", &url, "-v"], envs);
        run.assert_code(0);
        assert!(!run.stdout.contains('\x1b'), "{envs:?}: {:?}", run.stdout);
        assert!(!run.stderr.contains('\x1b'), "{envs:?}: {:?}", run.stderr);
    }
}

#[test]
fn https_with_ca_file_shows_http2_and_the_certificate() {
    let servers = Servers::new();
    let leaf = TestCa::shared().leaf(&["127.0.0.1"]);
    let server = servers.start(async { TestServer::https(leaf.server_config()).expect("HTTPS") });
    let ca = ca_file();
    bitwobbly(&["check", &server.url("/ok"), "--ca-file", &path(&ca)])
        .assert_code(0)
        .stdout_has("HTTP/2 200 OK")
        .stdout_has("TLS handshake")
        .stdout_has("Certificate:")
        .stdout_has(CA_NAME)
        .stdout_has("127.0.0.1")
        .stdout_has("days left")
        .stdout_has("ALPN h2");
    bitwobbly(&[
        "check",
        &server.url("/ok"),
        "--ca-file",
        &path(&ca),
        "--http1",
    ])
    .assert_code(0)
    .stdout_has("HTTP/1.1 200 OK");
}

#[test]
fn https_without_the_ca_is_down_unless_insecure() {
    let servers = Servers::new();
    let leaf = TestCa::shared().leaf(&["127.0.0.1"]);
    let server = servers.start(async { TestServer::https(leaf.server_config()).expect("HTTPS") });
    bitwobbly(&["check", &server.url("/ok")])
        .assert_code(1)
        .stdout_has("DOWN: tls_unknown_issuer during tls");
    bitwobbly(&["check", &server.url("/ok"), "-k"]).assert_code(0);
}
