//! Raw payload storage addressed by key: envelopes, attachments.
//!
//! Keys are relative paths of `[A-Za-z0-9._-]` segments joined by `/` (no empty, `.` or `..`
//! segment). A key is meant to be written once; writing it again replaces the content
//! atomically. Retention deletes by key.
//!
//! [`FsBlobStore`] keeps blobs as files under a directory (written to a temporary file,
//! fsynced, then renamed into place, so a reader never sees half a blob and a returned `put`
//! survives power loss). `S3BlobStore` (feature `s3`) keeps them in an S3-compatible bucket.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Result, StoreError};

/// A boxed, sendable future, so that [`BlobStore`] works as `dyn BlobStore`.
pub type BlobFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Where raw payloads live. Dyn-compatible: servers keep an `Arc<dyn BlobStore>`.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key`; when it returns, the blob is durable.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a bad key, [`StoreError::Blob`] for an I/O failure.
    fn put<'a>(&'a self, key: &'a str, bytes: Bytes) -> BlobFuture<'a, ()>;

    /// Reads the blob under `key`.
    ///
    /// # Errors
    /// [`StoreError::BlobNotFound`] if there is none.
    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Bytes>;

    /// Deletes the blob under `key`; deleting a missing blob succeeds.
    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()>;
}

/// Checks a blob key's shape.
///
/// # Errors
/// [`StoreError::Invalid`] naming what is wrong.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |why: &str| StoreError::invalid("blob key", why.to_owned());
    if key.is_empty() || key.len() > 1024 {
        return Err(bad("must be 1 to 1024 characters"));
    }
    for seg in key.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("empty, '.' or '..' segment"));
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad("only A-Z a-z 0-9 . _ - and / are allowed"));
        }
    }
    Ok(())
}

/// The error of blob operation `op` on `key`: [`StoreError::BlobNotFound`] when a `get`
/// found nothing (`missing`), else [`StoreError::Blob`] with its cause.
fn blob_err(
    op: &'static str,
    key: &str,
    missing: bool,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    if missing && op == "get" {
        return StoreError::BlobNotFound {
            key: key.to_owned(),
        };
    }
    StoreError::Blob {
        op,
        key: key.to_owned(),
        source: Box::new(source),
    }
}

fn io_err(op: &'static str, key: &str, e: std::io::Error) -> StoreError {
    blob_err(op, key, e.kind() == std::io::ErrorKind::NotFound, e)
}

/// Blobs as files under a root directory.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join("blobs").join(key))
    }
}

impl BlobStore for FsBlobStore {
    fn put<'a>(&'a self, key: &'a str, bytes: Bytes) -> BlobFuture<'a, ()> {
        Box::pin(self.put_file(key, bytes))
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Bytes> {
        Box::pin(self.get_file(key))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()> {
        Box::pin(self.delete_file(key))
    }
}

impl FsBlobStore {
    async fn put_file(&self, key: &str, bytes: Bytes) -> Result<()> {
        let path = self.path_of(key)?;
        let tmp_dir = self.root.join("tmp");
        let key_owned = key.to_owned();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            let parent = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent)?;
            std::fs::create_dir_all(&tmp_dir)?;
            let mut suffix = [0u8; 8];
            getrandom::fill(&mut suffix).map_err(std::io::Error::other)?;
            let tmp = tmp_dir.join(format!("{}.part", u64::from_le_bytes(suffix)));
            let result = (|| {
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                // Make the rename itself durable.
                std::fs::File::open(parent)?.sync_all()
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Blob {
            op: "put",
            key: key_owned.clone(),
            source: Box::new(e),
        })?
        .map_err(|e| io_err("put", &key_owned, e))
    }

    async fn get_file(&self, key: &str) -> Result<Bytes> {
        let path = self.path_of(key)?;
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| io_err("get", key, e))
    }

    async fn delete_file(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete", key, e)),
        }
    }
}

#[cfg(feature = "s3")]
pub use s3::{S3BlobStore, S3Config};

#[cfg(feature = "s3")]
mod s3 {
    use bytes::Bytes;
    use object_store::aws::{AmazonS3, AmazonS3Builder};
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStoreExt as _, PutPayload};

    use super::{BlobFuture, BlobStore, validate_key};
    use crate::error::{Result, StoreError};

    /// Where an S3-compatible bucket is and how to sign requests to it.
    #[derive(Debug, Clone, Default)]
    #[non_exhaustive]
    pub struct S3Config {
        /// The bucket.
        pub bucket: String,
        /// The region. Default when empty: `us-east-1`.
        pub region: String,
        /// A custom endpoint (MinIO, moto, R2...); `None` for AWS.
        pub endpoint: Option<String>,
        /// Access key id.
        pub access_key_id: String,
        /// Secret access key.
        pub secret_access_key: String,
        /// Allow plain `http://` endpoints. Default: `false`.
        pub allow_http: bool,
    }

    impl S3Config {
        /// A config for `bucket` with the given credentials; other fields default.
        pub fn new(bucket: &str, access_key_id: &str, secret_access_key: &str) -> Self {
            Self {
                bucket: bucket.to_owned(),
                access_key_id: access_key_id.to_owned(),
                secret_access_key: secret_access_key.to_owned(),
                ..Self::default()
            }
        }

        /// Sets a custom endpoint, path-style addressing, and whether plain HTTP is allowed.
        pub fn with_endpoint(mut self, endpoint: &str, allow_http: bool) -> Self {
            self.endpoint = Some(endpoint.to_owned());
            self.allow_http = allow_http;
            self
        }

        /// Sets the region.
        pub fn with_region(mut self, region: &str) -> Self {
            self.region = region.to_owned();
            self
        }
    }

    /// Blobs in an S3-compatible bucket, through `object_store`.
    #[derive(Debug)]
    pub struct S3BlobStore {
        inner: AmazonS3,
    }

    fn err(op: &'static str, key: &str, e: object_store::Error) -> StoreError {
        super::blob_err(
            op,
            key,
            matches!(e, object_store::Error::NotFound { .. }),
            e,
        )
    }

    impl S3BlobStore {
        /// Builds a client (no request is made until the first operation).
        ///
        /// # Errors
        /// [`StoreError::Invalid`] if the configuration is refused.
        pub fn new(config: &S3Config) -> Result<Self> {
            let region = if config.region.is_empty() {
                "us-east-1"
            } else {
                config.region.as_str()
            };
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(&config.bucket)
                .with_region(region)
                .with_access_key_id(&config.access_key_id)
                .with_secret_access_key(&config.secret_access_key)
                .with_allow_http(config.allow_http);
            if let Some(endpoint) = &config.endpoint {
                b = b
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            let inner = b
                .build()
                .map_err(|e| StoreError::invalid("s3 config", e.to_string()))?;
            Ok(Self { inner })
        }
    }

    impl BlobStore for S3BlobStore {
        fn put<'a>(&'a self, key: &'a str, bytes: Bytes) -> BlobFuture<'a, ()> {
            Box::pin(self.put_object(key, bytes))
        }

        fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Bytes> {
            Box::pin(self.get_object(key))
        }

        fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()> {
            Box::pin(self.delete_object(key))
        }
    }

    impl S3BlobStore {
        async fn put_object(&self, key: &str, bytes: Bytes) -> Result<()> {
            validate_key(key)?;
            self.inner
                .put(&ObjectPath::from(key), PutPayload::from(bytes))
                .await
                .map_err(|e| err("put", key, e))?;
            Ok(())
        }

        async fn get_object(&self, key: &str) -> Result<Bytes> {
            validate_key(key)?;
            let got = self
                .inner
                .get(&ObjectPath::from(key))
                .await
                .map_err(|e| err("get", key, e))?;
            got.bytes().await.map_err(|e| err("get", key, e))
        }

        async fn delete_object(&self, key: &str) -> Result<()> {
            validate_key(key)?;
            match self.inner.delete(&ObjectPath::from(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(err("delete", key, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(validate_key("envelopes/2024/abc-1.bin").is_ok());
        for bad in ["", "/abs", "a//b", "a/../b", "a/./b", "sp ace", "a\\b", "é"] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn fs_store_puts_gets_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path());
        store
            .put("a/b/c.bin", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(
            store.get("a/b/c.bin").await.unwrap(),
            Bytes::from_static(b"hello")
        );
        store
            .put("a/b/c.bin", Bytes::from_static(b"again"))
            .await
            .unwrap();
        assert_eq!(
            store.get("a/b/c.bin").await.unwrap(),
            Bytes::from_static(b"again")
        );
        store.delete("a/b/c.bin").await.unwrap();
        assert!(store.get("a/b/c.bin").await.unwrap_err().is_not_found());
        store.delete("a/b/c.bin").await.unwrap();
        assert!(store.put("../x", Bytes::new()).await.is_err());
    }
}
