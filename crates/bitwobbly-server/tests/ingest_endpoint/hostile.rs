//! Malformed, truncated, oversized and hostile envelopes: each gets its status and the server
//! stays healthy.

use crate::harness::{Backend, both};
use crate::setup::{EVENT_ID, Env, assert_accepted, assert_healthy, assert_refused, raw_http};

both!(
    malformed_envelopes_get_400,
    limits_give_413_naming_the_item,
    hostile_requests_leave_the_server_healthy,
);

async fn malformed_envelopes_get_400(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", Vec::new()),
        ("header not JSON", b"not json\n{\"type\":\"event\"}\n{}".to_vec()),
        ("header is an array", b"[1,2]\n".to_vec()),
        ("header with CRLF", b"{}\r\n{\"type\":\"event\"}\n{}".to_vec()),
        ("bad event id", b"{\"event_id\":\"nope\"}\n{\"type\":\"event\"}\n{}".to_vec()),
        ("item header not JSON", b"{}\n{type: event}\n{}".to_vec()),
        ("item header without type", b"{}\n{\"length\":2}\n{}".to_vec()),
        ("length is a string", b"{}\n{\"type\":\"event\",\"length\":\"2\"}\n{}".to_vec()),
        (
            "truncated payload",
            b"{}\n{\"type\":\"attachment\",\"length\":100}\nshort".to_vec(),
        ),
        (
            "payload longer than its length",
            b"{}\n{\"type\":\"attachment\",\"length\":2}\nabcdef\n".to_vec(),
        ),
        ("NUL in a header", b"{}\n{\"type\":\"ev\0ent\"}\n{}".to_vec()),
        ("UTF-8 BOM before the header", b"\xef\xbb\xbf{}\n{\"type\":\"event\"}\n{}".to_vec()),
        (
            "duplicated sent_at",
            b"{\"sent_at\":\"2025-01-01T00:00:00Z\",\"sent_at\":\"2025-01-01T00:00:01Z\"}\n{\"type\":\"event\"}\n{}"
                .to_vec(),
        ),
    ];
    for (what, body) in cases {
        let res = env.post(body).await;
        assert_eq!(res.status(), 400, "{what}");
        assert_refused(res, 400, "invalid_envelope").await;
    }
    assert!(env.stored().await.is_empty());
    assert_healthy(&env).await;
    env.finish().await;
}

async fn limits_give_413_naming_the_item(backend: Backend) {
    let env = Env::start(backend, |c| {
        c.ingest.limits.max_attachment_count = 3;
        c.ingest.limits.max_event_size = 4096;
    })
    .await;
    let event = |size: usize| {
        format!(
            "{{\"type\":\"event\",\"length\":{size}}}\n{{\"message\":\"{}\"}}\n",
            "x".repeat(size - 14)
        )
    };
    let too_big = format!("{{\"event_id\":\"{EVENT_ID}\"}}\n{}", event(5000));
    let res = env.post(too_big).await;
    assert_eq!(res.status(), 413);
    let text = res.text().await.unwrap();
    assert!(text.contains("'event'"), "{text}");
    let two_events = format!(
        "{{\"event_id\":\"{EVENT_ID}\"}}\n{}{}",
        event(100),
        event(100)
    );
    assert_refused(env.post(two_events).await, 413, "payload_too_large").await;
    let mut attachments = format!("{{\"event_id\":\"{EVENT_ID}\"}}\n");
    for _ in 0..4 {
        attachments.push_str("{\"type\":\"attachment\",\"length\":1}\nx\n");
    }
    assert_refused(env.post(attachments).await, 413, "payload_too_large").await;
    // Exactly at the limits is fine.
    let at_limit = format!(
        "{{\"event_id\":\"{EVENT_ID}\"}}\n{}{}",
        event(4096),
        "{\"type\":\"attachment\",\"length\":1}\nx\n".repeat(3)
    );
    assert_accepted(env.post(at_limit).await, Some(EVENT_ID)).await;
    // Thousands of items of unknown types are not limited.
    let mut many = format!("{{\"event_id\":\"{EVENT_ID}\"}}\n");
    for i in 0..5000 {
        many.push_str(&format!("{{\"type\":\"custom_{}\"}}\n{i}\n", i % 7));
    }
    assert_accepted(env.post(many.clone()).await, Some(EVENT_ID)).await;
    let stored = env.stored().await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].1.as_ref(), many.as_bytes());
    assert_eq!(stored[1].0.manifest.item_types.len(), 5000);
    assert_healthy(&env).await;
    env.finish().await;
}

async fn hostile_requests_leave_the_server_healthy(backend: Backend) {
    let env = Env::start(backend, |c| c.ingest.max_body_bytes = 1024 * 1024).await;
    let path = format!("/api/{}/envelope/", env.project.id.0);
    // A huge header: hyper refuses it (431) or drops the connection; nothing else breaks.
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {}\r\nX-Junk: {}\r\nContent-Length: 2\r\n\
         Connection: close\r\n\r\n{{}}",
        env.auth(),
        "a".repeat(512 * 1024)
    );
    let (status, _) = raw_http(&env.server.base, req.as_bytes(), false).await;
    assert!(status == 431 || status == 0 || status == 400, "{status}");
    // A header value that is not ASCII.
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: Sentry sentry_key=")
        .into_bytes();
    req.extend_from_slice(b"\xff\xfe\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    let (status, text) = raw_http(&env.server.base, &req, false).await;
    assert_eq!(status, 401, "{text}");
    // A giant envelope header line (valid JSON) is just stored; binary junk is refused.
    let giant = format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"junk\":\"{}\"}}\n{{\"type\":\"event\"}}\n{{}}",
        "y".repeat(600 * 1024)
    );
    assert_accepted(env.post(giant).await, Some(EVENT_ID)).await;
    let junk: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_refused(env.post(junk).await, 400, "invalid_envelope").await;
    // Deeply nested JSON in a header does not overflow the stack.
    let nested = format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert_refused(env.post(nested).await, 400, "invalid_envelope").await;
    // Many requests with random keys: refused, and the server stays fine.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u32 {
        let http = env.http.clone();
        let url = env.url("envelope");
        tasks.spawn(async move {
            http.post(url)
                .header(
                    "x-sentry-auth",
                    crate::setup::x_sentry_auth(&format!("{i:032x}")),
                )
                .body("{}\n{\"type\":\"event\"}\n{}")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    assert!(tasks.join_all().await.into_iter().all(|s| s == 403));
    assert_eq!(env.stored().await.len(), 1);
    assert_healthy(&env).await;
    env.finish().await;
}
