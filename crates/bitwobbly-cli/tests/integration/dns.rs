//! `bitwobbly check dns://…`, and `--resolver` for other checks.

use bitwobbly_test_support::dns::{DnsServer, MISSING, WWW, ZONE};
use bitwobbly_test_support::http::TestServer;

use crate::support::{Servers, bitwobbly};

fn dns_server(servers: &Servers) -> DnsServer {
    servers.start(async { DnsServer::start().await.expect("a DNS server") })
}

#[test]
fn mx_query_against_the_local_server() {
    let servers = Servers::new();
    let dns = dns_server(&servers);
    let resolver = dns.addr().to_string();
    let zone = ZONE.trim_end_matches('.');
    let target = format!("dns://{zone}?type=MX");
    bitwobbly(&[
        "check",
        &target,
        "--resolver",
        &resolver,
        "--expect-answer",
        "mail.example.test",
    ])
    .assert_code(0)
    .stdout_has("NOERROR")
    .stdout_has("MX")
    .stdout_has("mail.example.test")
    .stdout_has("\nUP\n");
    bitwobbly(&["check", &target, "--resolver", &resolver, "--dns-tcp"]).assert_code(0);
    bitwobbly(&[
        "check",
        &target,
        "--resolver",
        &resolver,
        "--expect-answer",
        "nowhere.example",
    ])
    .assert_code(1);
}

#[test]
fn nxdomain_can_be_expected() {
    let servers = Servers::new();
    let dns = dns_server(&servers);
    let resolver = dns.addr().to_string();
    let target = format!("dns://{MISSING}");
    bitwobbly(&[
        "check",
        &target,
        "--resolver",
        &resolver,
        "--expect-rcode",
        "nxdomain",
    ])
    .assert_code(0)
    .stdout_has("NXDOMAIN");
}

#[test]
fn json_dns_report() {
    let servers = Servers::new();
    let dns = dns_server(&servers);
    let run = bitwobbly(&[
        "check",
        &format!("dns://{WWW}"),
        "--resolver",
        &dns.addr().to_string(),
        "--json",
    ]);
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["kind"], "dns");
    assert_eq!(v["dns"]["rcode"], "NOERROR");
    assert!(
        v["dns"]["answers"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["data"] == "127.0.0.1")),
        "{v}"
    );
}

#[test]
fn resolver_also_resolves_http_hosts() {
    let servers = Servers::new();
    let dns = dns_server(&servers);
    let web = servers.start(async { TestServer::http().expect("an HTTP server") });
    let url = format!("http://{WWW}:{}/ok", web.port());
    bitwobbly(&["check", &url, "--resolver", &dns.addr().to_string(), "-4"])
        .assert_code(0)
        .stdout_has("HTTP/1.1 200 OK");
}
