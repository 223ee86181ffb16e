//! The S3 blob store against a real S3-compatible server: moto's server, started here on a
//! free loopback port. Skipped, saying so, when `moto_server` is not installed
//! (`pip install 'moto[server]'`).

use std::process::Stdio;
use std::time::Duration;

use bitwobbly_store::blob::{BlobStore, S3BlobStore, S3Config};
use bytes::Bytes;

struct Moto {
    child: tokio::process::Child,
    endpoint: String,
}

async fn start_moto() -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = tokio::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(Moto { child, endpoint });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Creates a bucket with a plain path-style PUT (moto accepts unsigned requests).
async fn create_bucket(endpoint: &str, bucket: &str) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = endpoint.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "create bucket: {resp}");
}

#[tokio::test]
#[allow(clippy::print_stderr)] // tell the person running the tests why this one did nothing
async fn s3_blob_store_against_moto() {
    let Some(mut moto) = start_moto().await else {
        eprintln!(
            "SKIPPED s3_blob_store_against_moto: moto_server not installed (pip install 'moto[server]')"
        );
        return;
    };
    create_bucket(&moto.endpoint, "bw-blobs").await;
    let store = S3BlobStore::new(
        &S3Config::new("bw-blobs", "test", "test").with_endpoint(&moto.endpoint, true),
    )
    .unwrap();
    let payload = Bytes::from((0..=255u8).cycle().take(300_000).collect::<Vec<_>>());
    store
        .put("envelopes/1/abc.bin", payload.clone())
        .await
        .unwrap();
    assert_eq!(store.get("envelopes/1/abc.bin").await.unwrap(), payload);
    assert!(
        store
            .get("envelopes/1/missing")
            .await
            .unwrap_err()
            .is_not_found()
    );
    store.delete("envelopes/1/abc.bin").await.unwrap();
    assert!(
        store
            .get("envelopes/1/abc.bin")
            .await
            .unwrap_err()
            .is_not_found()
    );
    store.delete("envelopes/1/abc.bin").await.unwrap();
    assert!(store.put("../escape", Bytes::new()).await.is_err());
    moto.child.kill().await.ok();
}
