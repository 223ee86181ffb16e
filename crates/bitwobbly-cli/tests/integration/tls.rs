//! `bitwobbly check tls://…`.

use bitwobbly_test_support::http::TestServer;
use bitwobbly_test_support::pki::{CA_NAME, TestCa};

use crate::support::{Servers, bitwobbly, ca_file, path};

#[test]
fn tls_with_ca_file_reports_the_certificate() {
    let servers = Servers::new();
    let leaf = TestCa::shared().leaf(&["127.0.0.1"]);
    let server = servers.start(async { TestServer::https(leaf.server_config()).expect("TLS") });
    let ca = ca_file();
    let target = format!("tls://{}", server.addr());
    bitwobbly(&[
        "check",
        &target,
        "--ca-file",
        &path(&ca),
        "--cert-min-days",
        "30",
    ])
    .assert_code(0)
    .stdout_has("TLS handshake")
    .stdout_has("Certificate:")
    .stdout_has(CA_NAME)
    .stdout_has("chain")
    .stdout_has("\nUP\n");
    bitwobbly(&[
        "check",
        &target,
        "--ca-file",
        &path(&ca),
        "--cert-min-days",
        "365",
    ])
    .assert_code(1)
    .stdout_has("✗ ");
}

#[test]
fn tls_check_accepts_an_expired_certificate_only_when_insecure() {
    let servers = Servers::new();
    let leaf = TestCa::shared().expired_leaf(&["127.0.0.1"]);
    let server = servers.start(async { TestServer::https(leaf.server_config()).expect("TLS") });
    let ca = ca_file();
    let target = format!("tls://{}", server.addr());
    bitwobbly(&["check", &target, "--ca-file", &path(&ca)])
        .assert_code(1)
        .stdout_has("tls_certificate_expired");
    bitwobbly(&["check", &target, "-k"])
        .assert_code(0)
        .stdout_has("expired");
}
