//! Content-Encoding: every supported encoding, empty and `UTF-8` values, unsupported and corrupt
//! bodies, decompression bombs, streamed (chunked) bodies and the body caps.

use std::io::Write as _;

use crate::harness::{Backend, both};
use crate::setup::{EVENT_ID, Env, assert_accepted, assert_refused, error_envelope, raw_http};

both!(
    every_encoding_decodes,
    bad_encodings_and_bombs_are_refused,
    chunked_bodies_and_body_caps,
);

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
    w.write_all(data).unwrap();
    drop(w);
    out
}

/// The limits the tests run with: 64 KiB on the wire, 256 KiB decompressed.
fn small_caps(c: &mut bitwobbly_server::Config) {
    c.ingest.max_body_bytes = 64 * 1024;
    c.ingest.limits.max_envelope_size = 256 * 1024;
}

async fn every_encoding_decodes(backend: Backend) {
    let env = Env::start(backend, small_caps).await;
    let body = error_envelope(EVENT_ID);
    let encoded: Vec<(&str, Vec<u8>)> = vec![
        ("gzip", gzip(&body)),
        ("x-gzip", gzip(&body)),
        ("GZIP", gzip(&body)),
        ("deflate", zlib(&body)),
        ("deflate", raw_deflate(&body)),
        ("br", brotli(&body)),
        ("zstd", zstd::encode_all(body.as_slice(), 3).unwrap()),
        ("", body.clone()),
        ("UTF-8", body.clone()),
        ("identity", body.clone()),
    ];
    let n = encoded.len();
    for (encoding, data) in encoded {
        let res = env
            .http
            .post(env.url("envelope"))
            .header("x-sentry-auth", env.auth())
            .header("content-encoding", encoding)
            .body(data)
            .send()
            .await
            .unwrap();
        assert_accepted(res, Some(EVENT_ID)).await;
    }
    let stored = env.stored().await;
    assert_eq!(stored.len(), n);
    assert!(
        stored
            .iter()
            .all(|(_, raw)| raw.as_ref() == body.as_slice()),
        "stored decoded"
    );
    env.finish().await;
}

async fn bad_encodings_and_bombs_are_refused(backend: Backend) {
    let env = Env::start(backend, small_caps).await;
    let body = error_envelope(EVENT_ID);
    let mut truncated = gzip(&body);
    truncated.truncate(truncated.len() / 2);
    let mut garbled = gzip(&body);
    garbled[0] = b'x';
    // 50 MiB of zeros: about 50 KiB of gzip, far past the 256 KiB decompressed cap.
    let bomb = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..50 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    };
    assert!(bomb.len() < 64 * 1024, "the bomb fits under the wire cap");
    let zstd_bomb = zstd::encode_all(vec![b'a'; 8 * 1024 * 1024].as_slice(), 19).unwrap();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("compress", body.clone(), 415, "unsupported_encoding"),
        ("gzip, br", gzip(&body), 415, "unsupported_encoding"),
        ("gzip", truncated, 400, "corrupt_body"),
        ("gzip", garbled, 400, "corrupt_body"),
        (
            "br",
            b"\xff\xff\xff\xffnot brotli".to_vec(),
            400,
            "corrupt_body",
        ),
        ("zstd", b"not zstd at all".to_vec(), 400, "corrupt_body"),
        // gzip-compressed body sent as identity: not an envelope.
        ("", gzip(&body), 400, "invalid_envelope"),
        ("gzip", bomb, 413, "payload_too_large"),
        ("zstd", zstd_bomb, 413, "payload_too_large"),
    ];
    for (encoding, data, status, code) in cases {
        let res = env
            .http
            .post(env.url("envelope"))
            .header("x-sentry-auth", env.auth())
            .header("content-encoding", encoding)
            .body(data)
            .send()
            .await
            .unwrap();
        assert_refused(res, status, code).await;
    }
    // A /store/ body is capped at the event size once decoded.
    let big_event = format!("{{\"message\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let res = env
        .http
        .post(env.url("store"))
        .header("x-sentry-auth", env.auth())
        .header("content-encoding", "gzip")
        .body(gzip(big_event.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_refused(res, 413, "payload_too_large").await;
    assert!(env.stored().await.is_empty());
    crate::setup::assert_healthy(&env).await;
    env.finish().await;
}

async fn chunked_bodies_and_body_caps(backend: Backend) {
    let env = Env::start(backend, small_caps).await;
    let path = format!("/api/{}/envelope/", env.project.id.0);
    let auth = env.auth();
    // Node pipes gzip bodies chunked, without Content-Length or Content-Type.
    let body = gzip(&error_envelope(EVENT_ID));
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {auth}\r\nContent-Encoding: gzip\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(7) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw_http(&env.server.base, &req, false).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(EVENT_ID), "{text}");

    // A declared length over the wire cap is refused before the body is read.
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {auth}\r\nContent-Length: 999999999\r\n\
         Connection: close\r\n\r\n{{}}"
    );
    let (status, text) = raw_http(&env.server.base, req.as_bytes(), false).await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{text}"
    );

    // A streamed body is cut off as soon as it passes the cap.
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {auth}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b'a'; 16 * 1024];
    for _ in 0..8 {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(&chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw_http(&env.server.base, &req, false).await;
    assert_eq!(status, 413, "{text}");

    // A body shorter than its Content-Length (the client gave up) is not accepted.
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {auth}\r\nContent-Length: 5000\r\n\
         Connection: close\r\n\r\n{{\"event_id\":\"{EVENT_ID}\"}}\n{{\"type\":\"event\"}}\n"
    );
    let (status, text) = raw_http(&env.server.base, req.as_bytes(), true).await;
    assert!(status == 400 || status == 0, "{text}");

    let stored = env.stored().await;
    assert_eq!(stored.len(), 1, "only the chunked envelope was stored");
    crate::setup::assert_healthy(&env).await;
    env.finish().await;
}
