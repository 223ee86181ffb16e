//! http probe tests, against the HTTP(S) test servers on loopback.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use bitwobbly_check::{Checker, DEFAULT_USER_AGENT};
use bitwobbly_core::{
    Assertion, AssertionKind, CheckReport, CheckSpec, ErrorKind, HttpFacts, HttpSpec,
    HttpVersionPref, JsonOp, Phase, Status, StatusMatch,
};
use bitwobbly_test_support::http::{
    BIG_LEN, OK_JSON, RawServer, STALL_BODY_LEN, STALL_BODY_PREFIX, TestServer,
    ipv6_loopback_available, pattern,
};
use bitwobbly_test_support::pki::{CA_NAME, TestCa, WRONG_NAME};
use serde_json::Value;

fn spec(url: String) -> HttpSpec {
    let mut spec = HttpSpec::get(url);
    spec.timeout = Duration::from_secs(5);
    spec
}

/// A spec for `url` on a server with a certificate from the test CA, trusting it.
fn trusting(url: String) -> HttpSpec {
    let mut spec = spec(url);
    spec.tls.ca_pem = Some(TestCa::shared().pem().to_owned());
    spec
}

async fn run(spec: HttpSpec) -> CheckReport {
    let check = CheckSpec::Http(spec).compile().expect("valid spec");
    Checker::new().run(&check).await
}

fn http(report: &CheckReport) -> &HttpFacts {
    report.http.as_ref().expect("a response was recorded")
}

fn body_json(report: &CheckReport) -> Value {
    serde_json::from_slice(&http(report).body).expect("a JSON body")
}

fn https_server(names: &[&str]) -> TestServer {
    TestServer::https(TestCa::shared().leaf(names).server_config()).unwrap()
}

/// A loopback port nobody listens on: bound, then released.
fn refused_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

fn assert_phases_add_up(report: &CheckReport) {
    let t = report.timings;
    assert_eq!(t.sum_of_phases(), t.total, "{t:?}");
}

#[tokio::test]
async fn plain_http1_is_up_with_every_phase_timed() {
    let server = TestServer::http().unwrap();
    let report = run(spec(server.url("/ok"))).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(report.error, None);
    assert_eq!(report.remote_addr, Some(server.addr()));
    let h = http(&report);
    assert_eq!(h.status, 200);
    assert_eq!(h.version, "HTTP/1.1");
    assert_eq!(h.header("Content-Type"), Some("application/json"));
    assert!(h.headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    assert_eq!(&h.body[..], OK_JSON.as_bytes());
    assert_eq!(h.body_len, OK_JSON.len() as u64);
    assert!(!h.body_truncated);
    assert_eq!(h.hops.len(), 1);
    assert_eq!(h.hops[0].status, Some(200));
    assert_eq!(h.hops[0].url, server.url("/ok"));
    assert_eq!(h.hops[0].remote_addr, Some(server.addr()));
    assert_eq!(report.tls, None);

    let t = report.timings;
    assert_eq!(t.dns, Duration::ZERO, "an IP literal needs no resolution");
    assert!(t.connect > Duration::ZERO, "{t:?}");
    assert_eq!(t.tls, Duration::ZERO, "{t:?}");
    assert!(t.ttfb > Duration::ZERO, "{t:?}");
    assert!(t.transfer > Duration::ZERO, "{t:?}");
    assert_phases_add_up(&report);
    assert!(h.hops[0].timings.total <= t.total);
}

#[tokio::test]
async fn https_negotiates_http2_and_reports_the_certificate() {
    let server = https_server(&["localhost", "127.0.0.1"]);
    let report = run(trusting(server.url("/ok"))).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    let h = http(&report);
    assert_eq!(h.version, "HTTP/2");
    assert_eq!(&h.body[..], OK_JSON.as_bytes());

    let cert = report.tls.as_ref().expect("certificate facts");
    assert_eq!(cert.names, ["localhost", "127.0.0.1"]);
    assert!(cert.subject.contains("localhost"), "{}", cert.subject);
    assert!(cert.issuer.contains(CA_NAME), "{}", cert.issuer);
    assert!((88..=90).contains(&cert.days_left), "{}", cert.days_left);
    assert!(cert.not_before < cert.not_after);
    assert_eq!(cert.chain_len, 2, "leaf and CA");
    assert_eq!(cert.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(cert.alpn.as_deref(), Some("h2"));

    let t = report.timings;
    assert!(t.tls > Duration::ZERO, "{t:?}");
    assert!(
        t.connect > Duration::ZERO && t.ttfb > Duration::ZERO,
        "{t:?}"
    );
    assert_phases_add_up(&report);
}

#[tokio::test]
async fn http1_preference_gets_http1_over_tls() {
    let server = https_server(&["127.0.0.1"]);
    let mut spec = trusting(server.url("/ok"));
    spec.http_version = HttpVersionPref::Http1;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(http(&report).version, "HTTP/1.1");
    let cert = report.tls.as_ref().unwrap();
    assert_eq!(cert.alpn.as_deref(), Some("http/1.1"));
}

#[tokio::test]
async fn http2_preference_uses_prior_knowledge_on_plain_http() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/ok"));
    spec.http_version = HttpVersionPref::Http2;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(http(&report).version, "HTTP/2");
}

#[tokio::test]
async fn the_server_name_override_is_sent_and_verified() {
    let server = https_server(&["localhost"]);
    let mut spec = trusting(server.url("/ok"));
    spec.tls.server_name = Some("localhost".to_owned());
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(report.tls.as_ref().unwrap().names, ["localhost"]);
}

#[tokio::test]
async fn insecure_accepts_an_expired_certificate_and_still_reports_it() {
    let leaf = TestCa::shared().expired_leaf(&["127.0.0.1"]);
    let server = TestServer::https(leaf.server_config()).unwrap();
    let mut spec = spec(server.url("/ok"));
    spec.tls.insecure = true;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(http(&report).status, 200);
    let cert = report
        .tls
        .as_ref()
        .expect("facts of the accepted certificate");
    assert!(cert.days_left < 0, "{}", cert.days_left);
    assert!(cert.issuer.contains(CA_NAME));
}

#[tokio::test]
async fn an_expired_certificate_is_reported_with_its_facts() {
    let leaf = TestCa::shared().expired_leaf(&["127.0.0.1"]);
    let server = TestServer::https(leaf.server_config()).unwrap();
    let report = run(trusting(server.url("/ok"))).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::TlsCertificateExpired, "{error}");
    assert_eq!(error.phase, Phase::Tls);
    let cert = report
        .tls
        .as_ref()
        .expect("facts of the rejected certificate");
    assert!(cert.days_left < 0);
    assert_eq!(cert.tls_version, None);
    assert_eq!(report.http, None);
    assert_phases_add_up(&report);
}

#[tokio::test]
async fn an_untrusted_issuer_is_unknown_issuer() {
    let server = https_server(&["127.0.0.1"]);
    let report = run(spec(server.url("/ok"))).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::TlsUnknownIssuer, "{error}");
    assert_eq!(error.phase, Phase::Tls);
    assert!(report.tls.as_ref().unwrap().issuer.contains(CA_NAME));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_name_mismatch() {
    let server = TestServer::https(TestCa::shared().wrong_name_leaf().server_config()).unwrap();
    let report = run(trusting(server.url("/ok"))).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::TlsNameMismatch, "{error}");
    assert_eq!(error.phase, Phase::Tls);
    assert_eq!(report.tls.as_ref().unwrap().names, [WRONG_NAME]);
}

#[tokio::test]
async fn a_server_that_does_not_speak_http_is_a_protocol_error() {
    let server = RawServer::garbage().unwrap();
    let report = run(spec(server.url("/"))).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::HttpProtocolError, "{error}");
    assert_eq!(error.phase, Phase::Ttfb);
    assert_eq!(report.http, None);
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let addr = refused_port();
    let report = run(spec(format!("http://{addr}/"))).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::ConnectionRefused, "{error}");
    assert_eq!(error.phase, Phase::Connect);
    assert_phases_add_up(&report);
}

#[tokio::test]
async fn a_body_past_the_capture_limit_is_truncated_but_counted() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/big"));
    spec.body_capture = 1000;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    let h = http(&report);
    assert_eq!(&h.body[..], &pattern(1000)[..]);
    assert_eq!(h.body_len, BIG_LEN as u64);
    assert!(h.body_truncated);
}

#[tokio::test]
async fn a_declared_length_over_max_body_fails_before_reading() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/big/5000"));
    spec.max_body = Some(1000);
    let report = run(spec).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::BodyTooLarge, "{error}");
    assert_eq!(error.phase, Phase::Transfer);
    let h = http(&report);
    assert_eq!(h.status, 200, "the head is still reported");
    assert_eq!(h.body_len, 0);
}

#[tokio::test]
async fn a_streamed_body_over_max_body_fails_while_reading() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/chunked/200000"));
    spec.max_body = Some(20_000);
    let report = run(spec).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::BodyTooLarge, "{error}");
    assert_eq!(error.phase, Phase::Transfer);
    let h = http(&report);
    assert!(
        h.body_len > 20_000 && h.body_len < 200_000,
        "{}",
        h.body_len
    );
    assert_eq!(&h.body[..], &pattern(h.body.len())[..]);
}

#[tokio::test]
async fn redirects_are_followed_hop_by_hop() {
    let server = TestServer::http().unwrap();
    let report = run(spec(server.url("/redirect/3"))).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    let h = http(&report);
    assert_eq!(h.status, 200);
    assert_eq!(&h.body[..], OK_JSON.as_bytes());
    let urls: Vec<_> = h.hops.iter().map(|hop| hop.url.clone()).collect();
    assert_eq!(
        urls,
        [
            server.url("/redirect/3"),
            server.url("/redirect/2"),
            server.url("/redirect/1"),
            server.url("/ok"),
        ]
    );
    let statuses: Vec<_> = h.hops.iter().map(|hop| hop.status).collect();
    assert_eq!(statuses, [Some(302), Some(302), Some(302), Some(200)]);
    for hop in &h.hops {
        assert_eq!(hop.remote_addr, Some(server.addr()));
        assert!(hop.timings.connect > Duration::ZERO, "{hop:?}");
        assert!(hop.timings.ttfb > Duration::ZERO, "{hop:?}");
        assert_eq!(hop.timings.total, hop.timings.sum_of_phases());
    }
    let hop_sum: Duration = h.hops.iter().map(|hop| hop.timings.total).sum();
    assert!(hop_sum <= report.timings.total);
    let connects: Duration = h.hops.iter().map(|hop| hop.timings.connect).sum();
    assert_eq!(connects, report.timings.connect, "phases sum over hops");
    assert_phases_add_up(&report);
}

#[tokio::test]
async fn redirects_are_not_followed_when_disabled() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/redirect/2"));
    spec.redirects.follow = false;
    let report = run(spec).await;
    assert_eq!(report.error, None);
    let h = http(&report);
    assert_eq!(h.status, 302);
    assert_eq!(h.header("location"), Some("/redirect/1"));
    assert_eq!(h.hops.len(), 1);
}

#[tokio::test]
async fn too_many_redirects_fail() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/redirect-loop"));
    spec.redirects.max = 3;
    let report = run(spec).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::TooManyRedirects, "{error}");
    let h = http(&report);
    assert_eq!(h.status, 302);
    assert_eq!(h.hops.len(), 4, "three followed, the fourth refused");
}

#[tokio::test]
async fn post_sends_its_body_and_headers() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/headers?x=1"));
    spec.method = "POST".to_owned();
    spec.headers = vec![
        ("X-Check".to_owned(), "yes".to_owned()),
        ("Content-Type".to_owned(), "text/plain".to_owned()),
    ];
    spec.body = Some("hello wobbly".to_owned());
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    let echo = body_json(&report);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/headers?x=1");
    assert_eq!(echo["body"], "hello wobbly");
    assert_eq!(echo["headers"]["x-check"], "yes");
    assert_eq!(echo["headers"]["content-type"], "text/plain");
    assert_eq!(echo["headers"]["content-length"], "12");
    assert_eq!(echo["headers"]["user-agent"], DEFAULT_USER_AGENT);
    assert_eq!(echo["headers"]["accept"], "*/*");
    assert_eq!(echo["headers"]["host"], server.addr().to_string());
    assert!(
        echo["headers"].get("accept-encoding").is_none(),
        "no compression asked for"
    );
}

#[tokio::test]
async fn given_headers_replace_the_defaults() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/headers"));
    spec.headers = vec![
        ("User-Agent".to_owned(), "probe/1".to_owned()),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    let report = run(spec).await;
    let echo = body_json(&report);
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["headers"]["user-agent"], "probe/1");
    assert_eq!(echo["headers"]["accept"], "application/json");
}

#[tokio::test]
async fn a_307_keeps_the_method_and_body_and_a_303_switches_to_get() {
    let server = TestServer::builder()
        .route("/temporary", 307, &[("location", "/headers")], "")
        .route("/see-other", 303, &[("location", "/headers")], "")
        .start()
        .unwrap();
    let post = |path: &str| {
        let mut spec = spec(server.url(path));
        spec.method = "POST".to_owned();
        spec.headers = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
        spec.body = Some("payload".to_owned());
        spec
    };
    let kept = run(post("/temporary")).await;
    let echo = body_json(&kept);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "payload");
    assert_eq!(http(&kept).hops[0].status, Some(307));

    let switched = run(post("/see-other")).await;
    let echo = body_json(&switched);
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["body"], "");
    assert!(echo["headers"].get("content-type").is_none());
}

#[tokio::test]
async fn a_slow_head_is_time_to_first_byte_and_nothing_else() {
    let server = TestServer::http().unwrap();
    let report = run(spec(server.url("/sleep-head/300"))).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    let t = report.timings;
    assert!(t.ttfb >= Duration::from_millis(300), "{t:?}");
    assert!(t.connect < Duration::from_millis(100), "{t:?}");
    assert!(t.transfer < Duration::from_millis(100), "{t:?}");
    assert_phases_add_up(&report);
}

#[tokio::test]
async fn a_head_that_never_comes_times_out_in_ttfb() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/stall-head"));
    spec.timeout = Duration::from_millis(500);
    let report = run(spec).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
    assert_eq!(error.phase, Phase::Ttfb);
    assert!(report.timings.total >= Duration::from_millis(500));
    assert!(report.timings.total < Duration::from_secs(2));
    assert_phases_add_up(&report);
}

#[tokio::test]
async fn a_body_that_stalls_times_out_in_transfer_with_the_head_reported() {
    let server = TestServer::http().unwrap();
    let mut spec = spec(server.url("/stall-body"));
    spec.timeout = Duration::from_millis(500);
    let report = run(spec).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
    assert_eq!(error.phase, Phase::Transfer);
    let h = http(&report);
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("content-length"),
        Some(STALL_BODY_LEN.to_string().as_str())
    );
    assert_eq!(&h.body[..], STALL_BODY_PREFIX);
    assert_eq!(h.body_len, STALL_BODY_PREFIX.len() as u64);
    assert!(
        h.hops[0].timings.transfer > Duration::ZERO,
        "{:?}",
        h.hops[0]
    );
    assert_phases_add_up(&report);
}

#[tokio::test]
async fn a_server_closing_mid_body_is_a_connection_reset() {
    let server = TestServer::http().unwrap();
    let check = CheckSpec::Http(spec(server.url("/stall-body")))
        .compile()
        .unwrap();
    let checker = Checker::new();
    let (report, ()) = tokio::join!(checker.run(&check), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(server);
    });
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::ConnectionReset, "{error}");
    assert_eq!(error.phase, Phase::Transfer);
    assert_eq!(&http(&report).body[..], STALL_BODY_PREFIX);
}

#[tokio::test]
async fn assertions_see_the_response() {
    let server = TestServer::http().unwrap();
    let mut ok = spec(server.url("/ok"));
    ok.assertions = vec![
        Assertion::fail(AssertionKind::StatusCode {
            expect: StatusMatch::Range(200, 299),
        }),
        Assertion::fail(AssertionKind::Json {
            path: "$.status".to_owned(),
            op: JsonOp::Eq,
            value: Some(Value::from("ok")),
        }),
    ];
    let report = run(ok).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert!(report.assertions.iter().all(|a| a.passed));

    let mut failing = spec(server.url("/status/503"));
    failing.assertions = vec![Assertion::fail(AssertionKind::StatusCode {
        expect: StatusMatch::Range(200, 299),
    })];
    let report = run(failing).await;
    assert_eq!(report.status, Status::Down);
    assert_eq!(report.error, None);
    assert_eq!(http(&report).status, 503);
}

#[tokio::test]
#[allow(clippy::print_stderr)] // the note says why the test did not run
async fn ipv6_loopback_works_when_available() {
    if !ipv6_loopback_available() {
        eprintln!("note: skipping ipv6_loopback_works_when_available: [::1] cannot be bound here");
        return;
    }
    let server = TestServer::builder().ipv6().start().unwrap();
    let url = server.url("/ok");
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let report = run(spec(url)).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(report.remote_addr, Some(server.addr()));
    assert!(report.remote_addr.unwrap().is_ipv6());
    assert_eq!(report.timings.dns, Duration::ZERO);
}
