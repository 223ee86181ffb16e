//! tcp probe tests, against the TCP test servers on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use bitwobbly_check::Checker;
use bitwobbly_core::{
    Assertion, AssertionKind, CheckReport, CheckSpec, ErrorKind, Phase, Status, TcpSpec,
};
use bitwobbly_test_support::tcp::{
    BannerServer, FullBacklog, ResetServer, SilentServer, closed_port,
};

fn spec_for(addr: SocketAddr) -> TcpSpec {
    let mut spec = TcpSpec::connect(addr.ip().to_string(), addr.port());
    spec.timeout = Duration::from_secs(5);
    spec
}

async fn run(spec: TcpSpec) -> CheckReport {
    let check = CheckSpec::Tcp(spec).compile().expect("valid spec");
    Checker::new().run(&check).await
}

fn banner(report: &CheckReport) -> &[u8] {
    &report.tcp.as_ref().expect("a banner was read").banner
}

#[tokio::test]
async fn a_plain_connect_is_up_with_phases_adding_up() {
    let server = BannerServer::start(&b"220 ready\r\n"[..]).await.unwrap();
    let report = run(spec_for(server.addr())).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(report.error, None);
    assert_eq!(report.remote_addr, Some(server.addr()));
    // No banner was asked for, so none was read.
    assert_eq!(report.tcp, None);
    let t = report.timings;
    assert_eq!(t.dns, Duration::ZERO, "an IP literal needs no resolution");
    assert!(t.connect > Duration::ZERO);
    assert_eq!(t.ttfb + t.transfer, Duration::ZERO);
    assert_eq!(t.total, t.sum_of_phases());
}

#[tokio::test]
async fn a_refused_connection_is_connection_refused() {
    let report = run(spec_for(closed_port().unwrap())).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::ConnectionRefused);
    assert_eq!(error.phase, Phase::Connect);
}

#[tokio::test]
async fn a_banner_is_read_and_matched() {
    let server = BannerServer::start(&b"220 mail.example.test ESMTP\r\n"[..])
        .await
        .unwrap();
    let mut spec = spec_for(server.addr());
    spec.assertions = vec![
        Assertion::fail(AssertionKind::BannerContains {
            text: "ESMTP".to_owned(),
        }),
        Assertion::fail(AssertionKind::BannerMatches {
            pattern: r"^220 \S+ ESMTP\r\n$".to_owned(),
        }),
    ];
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(banner(&report), b"220 mail.example.test ESMTP\r\n");
    assert!(report.assertions.iter().all(|a| a.passed));
    let t = report.timings;
    assert!(t.ttfb > Duration::ZERO);
    // After the first bytes the probe waits for a quiet gap before it stops.
    assert!(t.transfer >= Duration::from_millis(100));
    assert_eq!(t.total, t.sum_of_phases());
}

#[tokio::test]
async fn a_banner_that_does_not_match_is_down_without_an_error() {
    let server = BannerServer::start(&b"SSH-2.0-OpenSSH_9.6\r\n"[..])
        .await
        .unwrap();
    let mut spec = spec_for(server.addr());
    spec.assertions = vec![Assertion::fail(AssertionKind::BannerContains {
        text: "ESMTP".to_owned(),
    })];
    let report = run(spec).await;
    assert_eq!(report.error, None);
    assert_eq!(report.status, Status::Down);
    assert_eq!(banner(&report), b"SSH-2.0-OpenSSH_9.6\r\n");
}

#[tokio::test]
async fn read_banner_without_assertions_reports_the_banner() {
    let server = BannerServer::start(&b"+OK ready\r\n"[..]).await.unwrap();
    let mut spec = spec_for(server.addr());
    spec.read_banner = true;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up);
    assert_eq!(banner(&report), b"+OK ready\r\n");
}

#[tokio::test]
async fn the_payload_is_sent_before_the_banner_is_read() {
    // This server says nothing until it gets a line, then echoes it.
    let server = BannerServer::with_echo(&b""[..], true).await.unwrap();
    let mut spec = spec_for(server.addr());
    spec.send = Some("PING\r\n".to_owned());
    spec.assertions = vec![Assertion::fail(AssertionKind::BannerContains {
        text: "PING".to_owned(),
    })];
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(banner(&report), b"PING\r\n");
}

#[tokio::test]
async fn a_banner_and_an_echo_are_read_together() {
    let server = BannerServer::with_echo(&b"hello\n"[..], true)
        .await
        .unwrap();
    let mut spec = spec_for(server.addr());
    spec.send = Some("ping\n".to_owned());
    spec.read_banner = true;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up);
    assert_eq!(banner(&report), b"hello\nping\n");
}

#[tokio::test]
async fn the_banner_stops_at_the_cap() {
    let server = BannerServer::start(vec![b'x'; 10_000]).await.unwrap();
    let mut spec = spec_for(server.addr());
    spec.read_banner = true;
    spec.banner_cap = 16;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up);
    assert_eq!(banner(&report), &[b'x'; 16][..]);
}

#[tokio::test]
async fn a_silent_server_times_out_in_ttfb() {
    let server = SilentServer::start().await.unwrap();
    let mut spec = spec_for(server.addr());
    spec.timeout = Duration::from_millis(200);
    spec.assertions = vec![Assertion::fail(AssertionKind::BannerContains {
        text: "220".to_owned(),
    })];
    let report = run(spec).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(error.phase, Phase::Ttfb);
    assert!(report.timings.total >= Duration::from_millis(200));
    assert_eq!(report.tcp, None, "no bytes arrived");
}

#[tokio::test]
async fn a_reset_connection_is_connection_reset() {
    let server = ResetServer::start().await.unwrap();
    let mut spec = spec_for(server.addr());
    spec.read_banner = true;
    let report = run(spec).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::ConnectionReset, "{error}");
    assert_eq!(error.phase, Phase::Ttfb);
}

#[tokio::test]
async fn an_address_of_the_wrong_family_is_an_invalid_target() {
    let server = BannerServer::start(&b""[..]).await.unwrap();
    let mut spec = spec_for(server.addr());
    spec.ip = bitwobbly_core::IpPreference::V6;
    let report = run(spec).await;
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::InvalidTarget);
}

#[tokio::test]
async fn a_connect_that_gets_no_answer_is_connect_timeout() {
    let stalled = FullBacklog::start().expect("a listener with a full queue");
    let mut spec = spec_for(stalled.addr());
    spec.timeout = Duration::from_millis(300);
    let report = run(spec).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.expect("the connect timed out");
    assert_eq!(error.kind, ErrorKind::ConnectTimeout, "{error}");
    assert_eq!(error.phase, Phase::Connect);
    assert!(report.timings.connect >= Duration::from_millis(300));
    assert_eq!(report.timings.total, report.timings.sum_of_phases());
}
