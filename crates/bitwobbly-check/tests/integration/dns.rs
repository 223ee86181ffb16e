//! dns probe tests, and name resolution through a chosen server, against the
//! authoritative test server on loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bitwobbly_check::{Checker, HickoryResolver, Resolve};
use bitwobbly_core::{
    Assertion, AssertionKind, CheckReport, CheckSpec, DnsFacts, DnsSpec, DnsTransport, ErrorKind,
    IpPreference, Phase, RecordType, ResolverSpec, Status, TcpSpec,
};
use bitwobbly_test_support::dns::{self, BlackHole, DnsServer};
use bitwobbly_test_support::tcp::BannerServer;

fn via(addr: SocketAddr, transport: DnsTransport) -> ResolverSpec {
    ResolverSpec::Server { addr, transport }
}

fn query(server: SocketAddr, name: &str, record_type: RecordType) -> DnsSpec {
    let mut spec = DnsSpec::query(name, record_type);
    spec.resolver = via(server, DnsTransport::Udp);
    spec.timeout = Duration::from_secs(5);
    spec
}

async fn run(spec: CheckSpec) -> CheckReport {
    let check = spec.compile().expect("valid spec");
    Checker::new().run(&check).await
}

async fn run_dns(spec: DnsSpec) -> (CheckReport, DnsFacts) {
    let report = run(CheckSpec::Dns(spec)).await;
    let facts = report.dns.clone().expect("the server answered");
    (report, facts)
}

fn data(facts: &DnsFacts) -> Vec<&str> {
    facts.answers.iter().map(|r| r.data.as_str()).collect()
}

#[tokio::test]
async fn every_record_type_is_answered_in_presentation_form() {
    let server = DnsServer::start().await.unwrap();
    let cases: [(&str, RecordType, &str, &[&str]); 10] = [
        (dns::WWW, RecordType::A, "www.example.test.", &["127.0.0.1"]),
        (dns::WWW, RecordType::Aaaa, "www.example.test.", &["::1"]),
        (
            dns::ALIAS,
            RecordType::Cname,
            "alias.example.test.",
            &["www.example.test."],
        ),
        (
            "example.test",
            RecordType::Mx,
            "example.test.",
            &["10 mail.example.test."],
        ),
        (
            "example.test",
            RecordType::Txt,
            "example.test.",
            &["\"v=spf1 -all\""],
        ),
        (
            "example.test",
            RecordType::Ns,
            "example.test.",
            &["ns1.example.test."],
        ),
        (
            "example.test",
            RecordType::Soa,
            "example.test.",
            &["ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"],
        ),
        (
            "example.test",
            RecordType::Caa,
            "example.test.",
            &["0 issue \"ca.example.net\""],
        ),
        (
            dns::SRV_NAME,
            RecordType::Srv,
            "_http._tcp.example.test.",
            &["10 5 8080 www.example.test."],
        ),
        (
            "127.0.0.1",
            RecordType::Ptr,
            "1.0.0.127.in-addr.arpa.",
            &["www.example.test."],
        ),
    ];
    for (name, record_type, owner, expected) in cases {
        let (report, facts) = run_dns(query(server.addr(), name, record_type)).await;
        assert_eq!(
            report.status,
            Status::Up,
            "{name} {record_type}: {report:?}"
        );
        assert_eq!(facts.rcode, "NOERROR", "{name} {record_type}");
        assert_eq!(data(&facts), expected, "{name} {record_type}");
        let first = &facts.answers[0];
        assert_eq!(first.name, owner, "{name} {record_type}");
        assert_eq!(first.record_type, record_type.as_str());
        let ttl = if record_type == RecordType::Ns || record_type == RecordType::Soa {
            3600
        } else {
            dns::TTL
        };
        assert_eq!(first.ttl, ttl, "{name} {record_type}");
        assert_eq!(facts.server, Some(server.addr()));
        assert_eq!(report.remote_addr, Some(server.addr()));
    }
}

#[tokio::test]
async fn the_whole_dns_check_is_phase_dns() {
    let server = DnsServer::start().await.unwrap();
    let (report, _) = run_dns(query(server.addr(), dns::WWW, RecordType::A)).await;
    let t = report.timings;
    assert!(t.dns > Duration::ZERO);
    assert_eq!(t.dns, t.total);
    assert_eq!(t.connect + t.tls + t.ttfb + t.transfer, Duration::ZERO);
}

#[tokio::test]
async fn a_cname_query_for_an_address_type_reports_the_chain() {
    let server = DnsServer::start().await.unwrap();
    let (report, facts) = run_dns(query(server.addr(), dns::ALIAS, RecordType::A)).await;
    assert_eq!(report.status, Status::Up);
    let types: Vec<&str> = facts
        .answers
        .iter()
        .map(|r| r.record_type.as_str())
        .collect();
    assert_eq!(types, ["CNAME", "A"]);
    assert_eq!(data(&facts), ["www.example.test.", "127.0.0.1"]);
}

#[tokio::test]
async fn nxdomain_without_an_rcode_assertion_is_down_with_the_rcode_reported() {
    let server = DnsServer::start().await.unwrap();
    let (report, facts) = run_dns(query(server.addr(), dns::MISSING, RecordType::A)).await;
    assert_eq!(facts.rcode, "NXDOMAIN");
    assert!(facts.answers.is_empty());
    assert_eq!(report.status, Status::Down);
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::DnsNoSuchName);
    assert_eq!(error.phase, Phase::Dns);
}

#[tokio::test]
async fn nxdomain_expected_by_an_rcode_assertion_is_up() {
    let server = DnsServer::start().await.unwrap();
    let mut spec = query(server.addr(), dns::MISSING, RecordType::A);
    spec.assertions = vec![Assertion::fail(AssertionKind::DnsRcode {
        rcode: "nxdomain".to_owned(),
    })];
    let (report, facts) = run_dns(spec).await;
    assert_eq!(facts.rcode, "NXDOMAIN");
    assert_eq!(report.error, None);
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert!(report.assertions[0].passed);
}

#[tokio::test]
async fn an_rcode_assertion_fails_when_the_name_exists() {
    let server = DnsServer::start().await.unwrap();
    let mut spec = query(server.addr(), dns::WWW, RecordType::A);
    spec.assertions = vec![Assertion::fail(AssertionKind::DnsRcode {
        rcode: "NXDOMAIN".to_owned(),
    })];
    let (report, _) = run_dns(spec).await;
    assert_eq!(report.error, None);
    assert_eq!(report.status, Status::Down);
    assert!(!report.assertions[0].passed);
    assert_eq!(report.assertions[0].actual.as_deref(), Some("NOERROR"));
}

#[tokio::test]
async fn refused_without_an_rcode_assertion_is_a_dns_failure() {
    let server = DnsServer::start().await.unwrap();
    let (report, facts) = run_dns(query(server.addr(), dns::OUTSIDE, RecordType::A)).await;
    assert_eq!(facts.rcode, "REFUSED");
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::DnsFailure);
    assert_eq!(error.phase, Phase::Dns);
}

#[tokio::test]
async fn no_data_is_noerror_with_no_answers() {
    let server = DnsServer::start().await.unwrap();
    let (report, facts) = run_dns(query(server.addr(), dns::V6_ONLY, RecordType::A)).await;
    assert_eq!(facts.rcode, "NOERROR");
    assert!(facts.answers.is_empty());
    assert_eq!(report.status, Status::Up);
}

#[tokio::test]
async fn answer_assertions_judge_the_answer_data() {
    let server = DnsServer::start().await.unwrap();
    let mut spec = query(server.addr(), "example.test", RecordType::Mx);
    spec.assertions = vec![
        Assertion::fail(AssertionKind::DnsAnswerContains {
            value: "mail.example.test".to_owned(),
        }),
        Assertion::degrade(AssertionKind::DnsAnswerContains {
            value: "backup.example.test".to_owned(),
        }),
    ];
    let (report, _) = run_dns(spec).await;
    assert!(report.assertions[0].passed);
    assert!(!report.assertions[1].passed);
    assert_eq!(report.status, Status::Degraded);
}

#[tokio::test]
async fn tcp_transport_gets_the_same_answer() {
    let server = DnsServer::start().await.unwrap();
    let mut spec = query(server.addr(), dns::WWW, RecordType::Aaaa);
    spec.resolver = via(server.addr(), DnsTransport::Tcp);
    let (report, facts) = run_dns(spec).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(data(&facts), ["::1"]);
}

#[tokio::test]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    let server = DnsServer::start().await.unwrap();
    let (report, facts) = run_dns(query(server.addr(), dns::BIG_TXT, RecordType::Txt)).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(facts.answers.len(), 1);
    let strings = facts.answers[0].data.matches("\" \"").count() + 1;
    assert_eq!(strings, dns::BIG_TXT_STRINGS);
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_dns_timeout() {
    let hole = BlackHole::start().await.unwrap();
    let mut spec = query(hole.addr(), dns::WWW, RecordType::A);
    spec.timeout = Duration::from_millis(300);
    let report = run(CheckSpec::Dns(spec)).await;
    assert_eq!(report.status, Status::Down);
    assert_eq!(report.dns, None);
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::DnsTimeout);
    assert_eq!(error.phase, Phase::Dns);
    assert!(report.timings.dns >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_closed_tcp_dns_port_is_a_dns_failure() {
    let closed = bitwobbly_test_support::tcp::closed_port().unwrap();
    let mut spec = query(closed, dns::WWW, RecordType::A);
    spec.resolver = via(closed, DnsTransport::Tcp);
    let report = run(CheckSpec::Dns(spec)).await;
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::DnsFailure);
    assert_eq!(error.phase, Phase::Dns);
}

// === Resolution for checks that connect ===

#[tokio::test]
async fn a_connect_through_the_local_server_spends_time_in_dns() {
    let server = DnsServer::start().await.unwrap();
    let target = BannerServer::start(&b""[..]).await.unwrap();
    let mut spec = TcpSpec::connect(dns::WWW, target.addr().port());
    spec.resolver = via(server.addr(), DnsTransport::Udp);
    spec.ip = IpPreference::V4;
    let report = run(CheckSpec::Tcp(spec)).await;
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert!(report.timings.dns > Duration::ZERO);
    assert!(report.timings.connect > Duration::ZERO);
    assert_eq!(
        report.timings.total,
        report.timings.dns + report.timings.connect
    );
    assert_eq!(report.remote_addr, Some(target.addr()));
}

#[tokio::test]
async fn resolution_keeps_to_the_address_family_asked_for() {
    let server = DnsServer::start().await.unwrap();
    let r = HickoryResolver::new();
    for transport in [DnsTransport::Udp, DnsTransport::Tcp] {
        let spec = via(server.addr(), transport);
        let v4 = r
            .lookup_ip(dns::WWW, &spec, IpPreference::V4)
            .await
            .unwrap();
        assert_eq!(v4, [IpAddr::from(Ipv4Addr::LOCALHOST)]);
        let v6 = r
            .lookup_ip(dns::WWW, &spec, IpPreference::V6)
            .await
            .unwrap();
        assert_eq!(v6, [IpAddr::from(Ipv6Addr::LOCALHOST)]);
        let any = r
            .lookup_ip(dns::WWW, &spec, IpPreference::Any)
            .await
            .unwrap();
        assert_eq!(
            any,
            [
                IpAddr::from(Ipv4Addr::LOCALHOST),
                Ipv6Addr::LOCALHOST.into()
            ]
        );
        let via_cname = r
            .lookup_ip(dns::ALIAS, &spec, IpPreference::V4)
            .await
            .unwrap();
        assert_eq!(via_cname, [IpAddr::from(Ipv4Addr::LOCALHOST)]);
    }
}

#[tokio::test]
async fn a_name_without_an_address_of_the_family_is_dns_no_address() {
    let server = DnsServer::start().await.unwrap();
    let mut spec = TcpSpec::connect(dns::V6_ONLY, 9);
    spec.resolver = via(server.addr(), DnsTransport::Udp);
    spec.ip = IpPreference::V4;
    let report = run(CheckSpec::Tcp(spec)).await;
    assert_eq!(report.status, Status::Down);
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::DnsNoAddress);
    assert_eq!(error.phase, Phase::Dns);
    assert_eq!(report.remote_addr, None);
}

#[tokio::test]
async fn resolving_a_missing_name_is_dns_no_such_name() {
    let server = DnsServer::start().await.unwrap();
    let r = HickoryResolver::new();
    for ip in [IpPreference::V4, IpPreference::Any] {
        let error = r
            .lookup_ip(dns::MISSING, &via(server.addr(), DnsTransport::Udp), ip)
            .await
            .expect_err("no such name");
        assert_eq!(error.kind, ErrorKind::DnsNoSuchName);
        assert_eq!(error.phase, Phase::Dns);
    }
}

#[tokio::test]
async fn resolving_through_a_silent_server_is_a_dns_timeout() {
    let hole = BlackHole::start().await.unwrap();
    let mut spec = TcpSpec::connect(dns::WWW, 9);
    spec.resolver = via(hole.addr(), DnsTransport::Udp);
    spec.timeout = Duration::from_millis(300);
    let report = run(CheckSpec::Tcp(spec)).await;
    let error = report.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::DnsTimeout);
    assert_eq!(error.phase, Phase::Dns);
    assert_eq!(report.timings.connect, Duration::ZERO);
}
