//! The S3 blob store against a real S3-compatible server: moto's server, started here on a
//! free loopback port (`bitwobbly-test-support`, feature `moto`).

use bitwobbly_store::StoreError;
use bitwobbly_store::blob::{self, BlobBackend, BlobStore, S3BlobStore, S3Config};
use bitwobbly_test_support::moto::Moto;
use bytes::Bytes;

fn config(moto: &Moto, bucket: &str) -> S3Config {
    S3Config::new(bucket, Moto::ACCESS_KEY_ID, Moto::SECRET_ACCESS_KEY)
        .with_endpoint(&moto.endpoint(), true)
}

#[tokio::test]
async fn s3_blob_store_against_moto() {
    let moto = Moto::start().await;
    moto.create_bucket("bw-blobs").await;
    let store = S3BlobStore::new(&config(&moto, "bw-blobs")).unwrap();
    store.check().await.unwrap();
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
}

#[tokio::test]
async fn a_prefix_keeps_installations_apart_in_one_bucket() {
    let moto = Moto::start().await;
    moto.create_bucket("shared").await;
    let prod = blob::open(&BlobBackend::S3(
        config(&moto, "shared").with_prefix("/bw/prod/"),
    ))
    .unwrap();
    let test = blob::open(&BlobBackend::S3(
        config(&moto, "shared").with_prefix("bw/test"),
    ))
    .unwrap();
    let root = blob::open(&BlobBackend::S3(config(&moto, "shared"))).unwrap();
    prod.check().await.unwrap();
    prod.put("a/1.bin", Bytes::from_static(b"prod"))
        .await
        .unwrap();
    test.put("a/1.bin", Bytes::from_static(b"test"))
        .await
        .unwrap();
    assert_eq!(
        prod.get("a/1.bin").await.unwrap(),
        Bytes::from_static(b"prod")
    );
    assert_eq!(
        test.get("a/1.bin").await.unwrap(),
        Bytes::from_static(b"test")
    );
    // The prefix is part of the object's name in the bucket.
    assert_eq!(
        root.get("bw/prod/a/1.bin").await.unwrap(),
        Bytes::from_static(b"prod")
    );
    assert!(root.get("a/1.bin").await.unwrap_err().is_not_found());
    test.delete("a/1.bin").await.unwrap();
    assert_eq!(
        prod.get("a/1.bin").await.unwrap(),
        Bytes::from_static(b"prod")
    );
}

#[tokio::test]
async fn check_fails_for_a_missing_bucket() {
    let moto = Moto::start().await;
    let missing = S3BlobStore::new(&config(&moto, "no-such-bucket")).unwrap();
    let e = missing.check().await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Blob { op: "check", key, .. } if key.contains("no-such-bucket")),
        "{e:?}"
    );
    moto.create_bucket("there").await;
    let there = S3BlobStore::new(&config(&moto, "there")).unwrap();
    there.check().await.unwrap();
}

#[test]
fn bad_configurations_are_refused_and_the_secret_is_not_printed() {
    let e = S3BlobStore::new(&S3Config::new("", "id", "secret")).unwrap_err();
    assert!(e.to_string().contains("s3 config"), "{e}");
    let printed = format!("{:?}", S3Config::new("b", "id", "very-secret-value"));
    assert!(!printed.contains("very-secret-value"), "{printed}");
    assert!(printed.contains("<redacted>"), "{printed}");
}

#[tokio::test]
async fn the_filesystem_backend_checks_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let fs = blob::open(&BlobBackend::Fs(dir.path().join("blobs"))).unwrap();
    fs.check().await.unwrap();
    fs.put("k/1", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(fs.get("k/1").await.unwrap(), Bytes::from_static(b"x"));
    // A file where the directory should be: not usable.
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a directory").unwrap();
    let broken = blob::open(&BlobBackend::Fs(file)).unwrap();
    let e = broken.check().await.unwrap_err();
    assert!(matches!(e, StoreError::Blob { op: "check", .. }), "{e:?}");
}
