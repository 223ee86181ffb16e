//! `bitwobbly check tcp://…`.

use bitwobbly_test_support::tcp::{BannerServer, SilentServer, closed_port};

use crate::support::{Servers, bitwobbly};

#[test]
fn banner_is_shown_escaped_and_asserted() {
    let servers = Servers::new();
    let server = servers.start(async {
        BannerServer::start(&b"SSH-2.0-BitWobblyTest\r\n"[..])
            .await
            .expect("a banner server")
    });
    let target = format!("tcp://{}", server.addr());
    bitwobbly(&["check", &target, "--expect-banner", "SSH-2.0"])
        .assert_code(0)
        .stdout_has(r#"Banner:       "SSH-2.0-BitWobblyTest\r\n""#)
        .stdout_has("\nUP\n");
    bitwobbly(&["check", &target, "--expect-banner-regex", "^SSH-1"])
        .assert_code(1)
        .stdout_has("✗ ");
}

#[test]
fn send_decodes_escapes() {
    let servers = Servers::new();
    let server = servers.start(async {
        BannerServer::start(&b"220 ready\r\n"[..])
            .await
            .expect("a banner server")
    });
    let target = format!("tcp://{}", server.addr());
    bitwobbly(&[
        "check",
        &target,
        "--send",
        r"QUIT\r\n",
        "--expect-banner",
        r"220 ready\r\n",
    ])
    .assert_code(0);
}

#[test]
fn plain_connect_is_up() {
    let servers = Servers::new();
    let server = servers.start(async { SilentServer::start().await.expect("a server") });
    bitwobbly(&["check", &format!("tcp://{}", server.addr())])
        .assert_code(0)
        .stdout_has("TCP connect")
        .stdout_has("\nUP\n");
}

#[test]
fn refused_connect_is_down() {
    let addr = closed_port().expect("a closed port");
    bitwobbly(&["check", &format!("tcp://{addr}")])
        .assert_code(1)
        .stdout_has("DOWN: connection_refused during connect");
}

#[test]
fn broken_pipe_on_stdout_counts_as_success() {
    // A down check exits 1, unless nobody reads its output any more.
    let addr = closed_port().expect("a closed port");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bitwobbly"))
        .args(["check", &format!("tcp://{addr}"), "--count", "3"])
        .args(["--interval", "50ms"])
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("the binary ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
