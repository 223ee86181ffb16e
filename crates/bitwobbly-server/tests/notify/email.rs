//! Email through a real SMTP server process (aiosmtpd).

use bitwobbly_server::notify::{self, AlertKind};
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::pki::TestCa;
use bitwobbly_test_support::smtp::unfold;
use serde_json::json;

use crate::harness::{
    Deliverer, Smtp, alert, both, channel, config, enqueue, state, wait_state, workspace,
};

fn settings(port: u16, tls: &str) -> serde_json::Value {
    json!({
        "to": ["ops@example.test", "Second <oncall@example.test>"],
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "tls": tls,
            "from": "Bit Wobbly <alerts@example.test>",
        },
    })
}

async fn email_reaches_a_real_smtp_server(store: Store) {
    let smtp = Smtp::start(&[]).await;
    let ws = workspace(&store).await;
    let ch = channel(
        &store,
        ws,
        "mail",
        ChannelKind::Email,
        settings(smtp.port, "none"),
    )
    .await;
    let n = enqueue(&store, &ch, &alert(AlertKind::Down)).await;
    let st = state(&store, config(), "node-a");
    let d = Deliverer::start(&st);
    wait_state(&store, ws, n.id, OutboxState::Sent).await;
    d.stop().await;

    let messages = smtp.wait_for(1).await;
    assert_eq!(messages.len(), 1);
    let m = unfold(&messages[0]);
    for needle in [
        "Subject: DOWN: API health (https://api.example.test/health)",
        "From: \"Bit Wobbly\" <alerts@example.test>",
        "ops@example.test",
        "Second <oncall@example.test>",
        &format!("Message-ID: <msg_{}@bitwobbly>", n.id.0),
        "Monitor: API health",
        "Target: https://api.example.test/health",
        "Reason: status 503 is not 2xx",
        "Started: 2025-01-01T10:00:00Z",
        "Duration: ongoing",
        "Link: http://bitwobbly.test/incidents/42",
    ] {
        assert!(m.contains(needle), "{needle} in\n{m}");
    }

    // Send test goes straight to the server too.
    notify::send_test(&st, ws, ch.id).await.unwrap();
    let messages = smtp.wait_for(2).await;
    assert!(
        messages
            .iter()
            .any(|m| unfold(m).contains("Subject: TEST: Bit Wobbly test"))
    );
    smtp.stop().await;
}

async fn tls_certificates_are_verified(store: Store) {
    // The servers offer TLS (STARTTLS, then implicit TLS) with a certificate from a CA the
    // client does not trust: the send must fail on the certificate rather than go out in the
    // clear.
    let leaf = TestCa::shared().leaf(&["127.0.0.1", "localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, leaf.chain_pem()).unwrap();
    std::fs::write(&key, leaf.key_pem()).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let ws = workspace(&store).await;
    let st = state(&store, config(), "node-a");
    for (mode, flags) in [
        ("starttls", ["--tlscert", cert, "--tlskey", key]),
        ("implicit", ["--smtpscert", cert, "--smtpskey", key]),
    ] {
        let smtp = Smtp::start(&flags).await;
        let ch = channel(
            &store,
            ws,
            mode,
            ChannelKind::Email,
            settings(smtp.port, mode),
        )
        .await;
        let e = notify::send_test(&st, ws, ch.id).await.unwrap_err();
        assert_eq!(e.code, "channel_failed");
        assert!(
            e.message.to_lowercase().contains("certificate"),
            "{mode}: {}",
            e.message
        );
        assert!(smtp.messages().is_empty());
        smtp.stop().await;
    }
}

both!(
    email_reaches_a_real_smtp_server,
    tls_certificates_are_verified
);
