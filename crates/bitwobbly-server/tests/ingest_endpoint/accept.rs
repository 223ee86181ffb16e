//! What is accepted, from every place a key can come from, and stored byte for byte.

use base64::Engine as _;
use bitwobbly_envelope::{Envelope, ItemType};
use bytes::Bytes;

use crate::harness::{Backend, both};
use crate::setup::{EVENT_ID, Env, assert_accepted, assert_cors, error_envelope};

both!(
    every_key_source_is_accepted_and_stored_byte_for_byte,
    tunnel_envelopes_authenticate_with_their_dsn,
    store_endpoint_wraps_events_into_envelopes,
    framing_variants_and_unknown_items_are_kept,
    preflight_and_methods_carry_cors,
    concurrent_requests_are_all_committed,
    graceful_shutdown_commits_what_was_answered,
);

async fn every_key_source_is_accepted_and_stored_byte_for_byte(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let key = env.key.public_key.clone();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    let project = env.project.id.0;
    let mut sent = Vec::new();
    let variants: Vec<(String, Vec<(&str, String)>)> = vec![
        (env.url("envelope"), vec![("x-sentry-auth", env.auth())]),
        (
            env.server.url(&format!("/api/{project}/envelope")),
            vec![("x-sentry-auth", env.auth())],
        ),
        (
            format!(
                "{}?sentry_key={key}&sentry_version=7&sentry_client=sentry.javascript.browser%2F8.0.0",
                env.url("envelope")
            ),
            vec![],
        ),
        (
            env.url("envelope"),
            vec![("authorization", format!("Sentry sentry_key={key}"))],
        ),
        (
            env.url("envelope"),
            vec![("authorization", format!("DSN {}", env.dsn()))],
        ),
        (
            env.url("envelope"),
            vec![("authorization", format!("Basic {basic}"))],
        ),
        // Several sources naming the same key are fine.
        (
            format!("{}?sentry_key={key}", env.url("envelope")),
            vec![("x-sentry-auth", env.auth())],
        ),
    ];
    for (i, (url, headers)) in variants.into_iter().enumerate() {
        let id = format!("{:032x}", 0xabc0 + i);
        let body = error_envelope(&id);
        let mut req = env.http.post(&url).body(body.clone());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let res = req.send().await.expect("answered");
        assert_accepted(res, Some(&id)).await;
        sent.push((id, body));
    }
    let stored = env.stored().await;
    assert_eq!(stored.len(), sent.len());
    for ((manifest, raw), (id, body)) in stored.iter().zip(&sent) {
        assert_eq!(raw.as_ref(), body.as_slice(), "stored byte for byte");
        assert_eq!(manifest.manifest.event_id.as_deref(), Some(id.as_str()));
        assert_eq!(manifest.manifest.project_id, env.project.id);
        assert_eq!(manifest.manifest.item_types, ["event"]);
        assert_eq!(manifest.manifest.size, body.len() as i64);
        assert_eq!(manifest.workspace_id, env.ws);
        assert!(
            manifest.manifest.blob_key.is_empty(),
            "small envelopes are inline"
        );
    }
    // Large envelopes go to blob storage and read back the same.
    let big = vec![0xffu8; 200 * 1024];
    let mut body = format!(
        "{{\"event_id\":\"{EVENT_ID}\"}}\n{{\"type\":\"attachment\",\"length\":{},\"filename\":\"a.bin\"}}\n",
        big.len()
    )
    .into_bytes();
    body.extend_from_slice(&big);
    assert_accepted(env.post(body.clone()).await, Some(EVENT_ID)).await;
    let stored = env.stored().await;
    let (manifest, raw) = stored.last().unwrap();
    assert!(manifest.manifest.blob_key.starts_with("envelopes/"));
    assert_eq!(raw.as_ref(), body.as_slice());
    env.finish().await;
}

async fn tunnel_envelopes_authenticate_with_their_dsn(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let body = format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"dsn\":\"{}\",\"sdk\":{{\"name\":\"sentry.javascript.browser\"}}}}\n\
         {{\"type\":\"event\"}}\n{{\"message\":\"hi\"}}",
        env.dsn()
    );
    let res = env
        .http
        .post(env.url("envelope"))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_accepted(res, Some(EVENT_ID)).await;
    // The same DSN in the header next to matching auth is fine too.
    assert_accepted(env.post(body.clone()).await, Some(EVENT_ID)).await;
    let stored = env.stored().await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].1.as_ref(), body.as_bytes());
    env.finish().await;
}

async fn store_endpoint_wraps_events_into_envelopes(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let event =
        format!("{{\"event_id\":\"{EVENT_ID}\",\"message\":\"legacy\",\"extra\":{{\"a\":1}}}}");
    let res = env
        .http
        .post(env.url("store"))
        .header("x-sentry-auth", env.auth())
        .header("content-type", "application/json")
        .body(event.clone())
        .send()
        .await
        .unwrap();
    assert_accepted(res, Some(EVENT_ID)).await;
    // Without an event id one is made; a transaction becomes a transaction item; legacy
    // base64 bodies decode.
    let tx = "{\"type\":\"transaction\",\"transaction\":\"/home\"}";
    let res = env
        .http
        .post(env.server.url(&format!("/api/{}/store", env.project.id.0)))
        .header("x-sentry-auth", env.auth())
        .body(base64::engine::general_purpose::STANDARD.encode(tx))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_cors(&res);
    let body: serde_json::Value = res.json().await.unwrap();
    let made = body["id"].as_str().expect("an id").to_owned();
    assert_eq!(made.len(), 32);
    // An envelope posted to /store/ with the envelope content type.
    let res = env
        .http
        .post(env.url("store"))
        .header("x-sentry-auth", env.auth())
        .header("content-type", "application/x-sentry-envelope")
        .body(error_envelope("0123456789abcdef0123456789abcdef"))
        .send()
        .await
        .unwrap();
    assert_accepted(res, Some("0123456789abcdef0123456789abcdef")).await;

    let stored = env.stored().await;
    assert_eq!(stored.len(), 3);
    let first = Envelope::parse(stored[0].1.clone()).unwrap();
    assert_eq!(first.event_id().unwrap().to_string(), EVENT_ID);
    assert_eq!(first.items().len(), 1);
    assert_eq!(first.items()[0].ty(), &ItemType::Event);
    assert_eq!(first.items()[0].payload().as_ref(), event.as_bytes());
    let second = Envelope::parse(stored[1].1.clone()).unwrap();
    assert_eq!(second.event_id().unwrap().to_string(), made);
    assert_eq!(second.items()[0].ty(), &ItemType::Transaction);
    assert_eq!(second.items()[0].payload().as_ref(), tx.as_bytes());
    assert_eq!(stored[1].0.manifest.item_types, ["transaction"]);
    env.finish().await;
}

async fn framing_variants_and_unknown_items_are_kept(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let binary: &[u8] = b"\xef\xbb\xbfHello\r\n\x00\xff\xfe";
    let mut spec_example = format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"sent_at\":\"2025-01-01T00:00:00Z\",\"trace\":\"not an object\",\"future\":1}}\n\
         {{\"type\":\"attachment\",\"length\":{},\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}}\n",
        binary.len()
    )
    .into_bytes();
    spec_example.extend_from_slice(binary);
    spec_example.extend_from_slice(
        b"\n{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\"}\n\
          {\"message\":\"hello world\",\"level\":\"error\"}",
    );
    let cases: Vec<(Vec<u8>, Option<&str>, Vec<&str>)> = vec![
        // The spec's example: binary payload, final newline omitted.
        (spec_example, Some(EVENT_ID), vec!["attachment", "event"]),
        // JS style: no lengths, no final newline.
        (
            format!(
                "{{\"event_id\":\"{EVENT_ID}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"x\"}}\n\
                 {{\"type\":\"client_report\"}}\n{{\"discarded_events\":[]}}"
            )
            .into_bytes(),
            Some(EVENT_ID),
            vec!["event", "client_report"],
        ),
        // Empty items, unknown item types and invalid UTF-8 in payloads are kept.
        (
            b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"brand_new_thing\",\"x\":[1]}\n\xc3\x28\xff\n{\"type\":\"session\"}\n{\"sid\":\"\xff\xfe\"}\n\n"
                .to_vec(),
            Some("generated"),
            vec!["attachment", "brand_new_thing", "session"],
        ),
        // Sessions and check-ins need no event id: the answer is {}.
        (
            b"{\"sent_at\":null}\n{\"type\":\"check_in\"}\n{\"check_in_id\":\"83a7c03ed0a04e1b97e2e3b18d38f244\",\"monitor_slug\":\"job\",\"status\":\"ok\"}\n"
                .to_vec(),
            None,
            vec!["check_in"],
        ),
    ];
    let n = cases.len();
    for (body, id, _) in &cases {
        let res = env.post(body.clone()).await;
        match id {
            Some("generated") => {
                assert_eq!(res.status(), 200);
                let v: serde_json::Value = res.json().await.unwrap();
                assert_eq!(v["id"].as_str().unwrap().len(), 32, "{v}");
            }
            other => assert_accepted(res, *other).await,
        }
    }
    // A header-only envelope is a success with nothing to store.
    assert_accepted(
        env.post(format!("{{\"event_id\":\"{EVENT_ID}\"}}\n")).await,
        Some(EVENT_ID),
    )
    .await;
    assert_accepted(env.post("{}").await, None).await;

    let stored = env.stored().await;
    assert_eq!(stored.len(), n, "header-only envelopes are not stored");
    for ((manifest, raw), (body, _, types)) in stored.iter().zip(&cases) {
        assert_eq!(raw.as_ref(), body.as_slice());
        assert_eq!(&manifest.manifest.item_types, types);
    }
    assert_eq!(stored[3].0.manifest.event_id, None);
    assert_eq!(
        stored[2].0.manifest.event_id.as_ref().map(String::len),
        Some(32),
        "an envelope whose items need an event id gets one"
    );
    env.finish().await;
}

async fn preflight_and_methods_carry_cors(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    for endpoint in ["envelope", "store"] {
        let res = env
            .http
            .request(reqwest::Method::OPTIONS, env.url(endpoint))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-sentry-auth",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_cors(&res);
        let h = res.headers();
        assert!(
            h["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
        let allowed = h["access-control-allow-headers"].to_str().unwrap();
        for name in [
            "x-sentry-auth",
            "content-type",
            "content-encoding",
            "authorization",
        ] {
            assert!(allowed.contains(name), "{allowed}");
        }
        assert_eq!(h["access-control-max-age"], "3600");
        let res = env.http.get(env.url(endpoint)).send().await.unwrap();
        crate::setup::assert_refused(res, 405, "method_not_allowed").await;
    }
    env.finish().await;
}

async fn concurrent_requests_are_all_committed(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let mut tasks = tokio::task::JoinSet::new();
    let n = 300;
    for i in 0..n {
        let http = env.http.clone();
        let url = env.url("envelope");
        let auth = env.auth();
        tasks.spawn(async move {
            let id = format!("{:032x}", 0x1000 + i);
            let res = http
                .post(url)
                .header("x-sentry-auth", auth)
                .body(Bytes::from(crate::setup::error_envelope(&id)))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let v: serde_json::Value = res.json().await.unwrap();
            assert_eq!(v["id"], id.as_str());
            id
        });
    }
    let mut answered: Vec<String> = tasks.join_all().await;
    answered.sort();
    let mut stored: Vec<String> = env
        .stored()
        .await
        .into_iter()
        .filter_map(|(m, _)| m.manifest.event_id)
        .collect();
    stored.sort();
    assert_eq!(stored, answered);
    let metrics = env.server.state.metrics.render();
    let sum = metrics
        .lines()
        .find_map(|l| l.strip_prefix("bitwobbly_ingest_commit_batch_size_sum "))
        .expect("the batch size histogram");
    assert_eq!(sum.trim().parse::<f64>().unwrap(), n as f64, "{metrics}");
    assert!(
        metrics.contains("bitwobbly_ingest_envelopes_total{outcome=\"accepted\",reason=\"\"} 300"),
        "{metrics}"
    );
    env.finish().await;
}

async fn graceful_shutdown_commits_what_was_answered(backend: Backend) {
    let env = Env::start(backend, |_| {}).await;
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..16u32 {
        let http = env.http.clone();
        let url = env.url("envelope");
        let auth = env.auth();
        let answered = answered.clone();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for n in 0..10_000u32 {
                let id = format!("{c:016x}{n:016x}");
                let sent = http
                    .post(&url)
                    .header("x-sentry-auth", &auth)
                    .body(crate::setup::error_envelope(&id))
                    .send()
                    .await;
                match sent {
                    Ok(res) if res.status() == 200 => {
                        ids.push(id);
                        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    // Refused while stopping, or the connection closed: not answered 200.
                    _ => break,
                }
            }
            ids
        });
    }
    let deadline = tokio::time::Instant::now() + crate::harness::DEADLINE;
    while answered.load(std::sync::atomic::Ordering::Relaxed) < 100 {
        assert!(tokio::time::Instant::now() < deadline, "answers in time");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let Env { db, server, ws, .. } = env;
    server.stop().await;
    let mut answered: Vec<String> = tasks.join_all().await.into_iter().flatten().collect();
    answered.sort();
    let store = db.store().await;
    let blobs = bitwobbly_store::blob::FsBlobStore::new(bitwobbly_server::config::blob_dir(
        &db.config().data_dir,
    ));
    let mut stored: Vec<String> = crate::setup::stored_envelopes(&store, &blobs, ws)
        .await
        .into_iter()
        .filter_map(|(m, _)| m.manifest.event_id)
        .collect();
    stored.sort();
    let missing: Vec<&String> = answered
        .iter()
        .filter(|id| stored.binary_search(id).is_err())
        .collect();
    assert!(missing.is_empty(), "lost {missing:?}");
    store.close().await;
    db.finish().await;
}
