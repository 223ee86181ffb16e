//! tls probe tests: handshakes with the test CA's certificates on loopback.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use bitwobbly_check::Checker;
use bitwobbly_core::{
    Assertion, AssertionKind, CheckReport, CheckSpec, ErrorKind, Phase, Status, TlsSpec,
};
use bitwobbly_test_support::http::TestServer;
use bitwobbly_test_support::pki::{CA_NAME, LEAF_VALID_DAYS, TestCa, TestCert, WRONG_NAME};

fn spec_for(addr: SocketAddr) -> TlsSpec {
    let mut spec = TlsSpec::handshake(addr.ip().to_string(), addr.port());
    spec.timeout = Duration::from_secs(5);
    spec
}

fn trusting(addr: SocketAddr) -> TlsSpec {
    let mut spec = spec_for(addr);
    spec.tls.ca_pem = Some(TestCa::shared().pem().to_owned());
    spec
}

fn serve(cert: &TestCert) -> TestServer {
    TestServer::https(cert.server_config()).unwrap()
}

async fn run(spec: TlsSpec) -> CheckReport {
    let check = CheckSpec::Tls(spec).compile().expect("valid spec");
    Checker::new().run(&check).await
}

fn error_kind(report: &CheckReport) -> ErrorKind {
    let error = report.error.as_ref().expect("an error");
    assert_eq!(error.phase, Phase::Tls, "{error}");
    error.kind
}

#[tokio::test]
async fn a_trusted_certificate_is_up_with_its_facts() {
    let server = serve(&TestCa::shared().leaf(&["127.0.0.1", "localhost"]));
    let report = run(trusting(server.addr())).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(report.kind, "tls");
    assert_eq!(report.remote_addr, Some(server.addr()));
    assert_eq!(report.http, None);
    let cert = report.tls.as_ref().expect("certificate facts");
    assert_eq!(cert.names, ["127.0.0.1", "localhost"]);
    assert!(cert.subject.contains("127.0.0.1"), "{}", cert.subject);
    assert!(cert.issuer.contains(CA_NAME), "{}", cert.issuer);
    assert!((LEAF_VALID_DAYS - 2..=LEAF_VALID_DAYS).contains(&cert.days_left));
    assert_eq!(cert.chain_len, 2);
    assert_eq!(cert.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(cert.alpn, None, "a TLS check offers no ALPN");

    let t = report.timings;
    assert_eq!(t.dns, Duration::ZERO);
    assert!(
        t.connect > Duration::ZERO && t.tls > Duration::ZERO,
        "{t:?}"
    );
    assert_eq!(t.ttfb + t.transfer, Duration::ZERO, "{t:?}");
    assert_eq!(t.sum_of_phases(), t.total);
}

#[tokio::test]
async fn cert_min_days_passes_and_fails_on_days_left() {
    let server = serve(&TestCa::shared().leaf(&["127.0.0.1"]));
    let mut enough = trusting(server.addr());
    enough.assertions = vec![Assertion::fail(AssertionKind::CertMinDays { days: 30 })];
    let report = run(enough).await;
    assert_eq!(report.status, Status::Up, "{report:?}");

    let mut too_few = trusting(server.addr());
    too_few.assertions = vec![Assertion::degrade(AssertionKind::CertMinDays {
        days: LEAF_VALID_DAYS + 10,
    })];
    let report = run(too_few).await;
    assert_eq!(report.status, Status::Degraded, "{report:?}");
    assert_eq!(report.error, None);
}

#[tokio::test]
async fn an_expired_certificate_is_expired_and_still_described() {
    let server = serve(&TestCa::shared().expired_leaf(&["127.0.0.1"]));
    let report = run(trusting(server.addr())).await;
    assert_eq!(report.status, Status::Down);
    assert_eq!(error_kind(&report), ErrorKind::TlsCertificateExpired);
    let cert = report
        .tls
        .as_ref()
        .expect("facts of the rejected certificate");
    assert!(cert.days_left < 0, "{}", cert.days_left);
    assert_eq!(cert.names, ["127.0.0.1"]);
    assert_eq!(cert.tls_version, None);
}

#[tokio::test]
async fn an_unknown_issuer_is_reported_as_such() {
    let server = serve(&TestCa::shared().leaf(&["127.0.0.1"]));
    let report = run(spec_for(server.addr())).await;
    assert_eq!(error_kind(&report), ErrorKind::TlsUnknownIssuer);
    assert!(report.tls.as_ref().unwrap().issuer.contains(CA_NAME));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_an_unknown_issuer() {
    let other = TestCa::with_name("Some Other Test CA");
    let server = serve(&other.leaf(&["127.0.0.1"]));
    let report = run(trusting(server.addr())).await;
    assert_eq!(
        error_kind(&report),
        ErrorKind::TlsUnknownIssuer,
        "{:?}",
        report.error
    );
}

#[tokio::test]
async fn a_wrong_name_is_a_name_mismatch() {
    let server = serve(&TestCa::shared().wrong_name_leaf());
    let report = run(trusting(server.addr())).await;
    assert_eq!(error_kind(&report), ErrorKind::TlsNameMismatch);
    assert_eq!(report.tls.as_ref().unwrap().names, [WRONG_NAME]);
}

#[tokio::test]
async fn a_server_name_override_is_what_is_verified() {
    let server = serve(&TestCa::shared().wrong_name_leaf());
    let mut spec = trusting(server.addr());
    spec.tls.server_name = Some(WRONG_NAME.to_owned());
    let report = run(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
}

#[tokio::test]
async fn insecure_accepts_any_certificate_and_reports_it() {
    for cert in [
        TestCa::shared().expired_leaf(&["127.0.0.1"]),
        TestCa::shared().wrong_name_leaf(),
        TestCa::with_name("Untrusted Test CA").leaf(&["127.0.0.1"]),
    ] {
        let server = serve(&cert);
        let mut spec = spec_for(server.addr());
        spec.tls.insecure = true;
        let report = run(spec).await;
        assert_eq!(report.status, Status::Up, "{cert:?}: {report:?}");
        let facts = report.tls.as_ref().expect("facts");
        assert_eq!(facts.names, cert.names());
        assert_eq!(facts.tls_version.as_deref(), Some("TLSv1.3"));
    }
}

#[tokio::test]
async fn an_undecodable_ca_bundle_is_a_tls_error() {
    let server = serve(&TestCa::shared().leaf(&["127.0.0.1"]));
    let mut spec = spec_for(server.addr());
    spec.tls.ca_pem =
        Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned());
    let report = run(spec).await;
    assert_eq!(error_kind(&report), ErrorKind::TlsHandshakeFailure);
}

#[tokio::test]
async fn a_peer_that_does_not_speak_tls_is_a_handshake_failure() {
    let server = TestServer::http().unwrap();
    let report = run(trusting(server.addr())).await;
    assert_eq!(error_kind(&report), ErrorKind::TlsHandshakeFailure);
    assert_eq!(report.tls, None);
}

#[tokio::test]
async fn a_closed_port_is_refused_before_tls() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let report = run(spec_for(addr)).await;
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::ConnectionRefused);
    assert_eq!(error.phase, Phase::Connect);
}
