//! Raw payload storage addressed by key: envelopes, attachments.
//!
//! Keys are relative paths of `[A-Za-z0-9._-]` segments joined by `/` (no empty, `.` or `..`
//! segment). A key is meant to be written once; writing it again replaces the content
//! atomically. Retention deletes by key.
//!
//! [`FsBlobStore`] keeps blobs as files under a directory (written to a temporary file,
//! fsynced, then renamed into place, so a reader never sees half a blob and a returned `put`
//! survives power loss). `S3BlobStore` (feature `s3`) keeps them in an S3-compatible bucket.
//! [`open`] builds either from a [`BlobBackend`], which is how a server turns its
//! configuration into a store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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

    /// Checks that the store is usable (the directory can be created, the bucket answers
    /// and exists), for readiness probes. Writes nothing but a missing root directory.
    ///
    /// # Errors
    /// [`StoreError::Blob`] (operation `check`) with the cause.
    fn check(&self) -> BlobFuture<'_, ()>;
}

/// Which blob store to build, and where (see [`open`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BlobBackend {
    /// Files under this root directory ([`FsBlobStore`]).
    Fs(PathBuf),
    /// An S3-compatible bucket (`S3BlobStore`, feature `s3`).
    S3(S3Config),
}

/// Builds the blob store `backend` describes. No request is made yet; use
/// [`BlobStore::check`] to see whether it answers.
///
/// # Errors
/// [`StoreError::Invalid`] if the S3 configuration is refused, or if S3 is asked for in a
/// build without the `s3` feature.
pub fn open(backend: &BlobBackend) -> Result<Arc<dyn BlobStore>> {
    match backend {
        BlobBackend::Fs(root) => Ok(Arc::new(FsBlobStore::new(root.clone()))),
        #[cfg(feature = "s3")]
        BlobBackend::S3(config) => Ok(Arc::new(S3BlobStore::new(config)?)),
        #[cfg(not(feature = "s3"))]
        BlobBackend::S3(_) => Err(StoreError::invalid(
            "blob backend",
            "this build has no S3 support (build with the `s3` feature)",
        )),
    }
}

/// Where an S3-compatible bucket is and how to sign requests to it.
///
/// Its `Debug` output leaves the secret out.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The region. Default when empty: `us-east-1`.
    pub region: String,
    /// A custom endpoint (MinIO, moto, R2...); `None` for AWS.
    pub endpoint: Option<String>,
    /// Access key id. When it and the secret are both empty, credentials come from the
    /// standard `AWS_*` environment variables, a web identity token or the instance
    /// metadata service.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Allow plain `http://` endpoints. Default: `false`.
    pub allow_http: bool,
    /// A key prefix inside the bucket (e.g. `bitwobbly/prod`), so several installations can
    /// share one bucket. Empty: keys at the bucket's root.
    pub prefix: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish()
    }
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

    /// Sets the key prefix (leading and trailing `/` are ignored).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        prefix.trim_matches('/').clone_into(&mut self.prefix);
        self
    }
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

    fn check(&self) -> BlobFuture<'_, ()> {
        Box::pin(async move {
            let dir = self.root.join("blobs");
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| blob_err("check", &dir.display().to_string(), false, e))
        })
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
pub use s3::S3BlobStore;

#[cfg(feature = "s3")]
mod s3 {
    use bytes::Bytes;
    use object_store::aws::{AmazonS3, AmazonS3Builder};
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore as _, ObjectStoreExt as _, PutPayload};

    use super::{BlobFuture, BlobStore, S3Config, validate_key};
    use crate::error::{Result, StoreError};

    /// Blobs in an S3-compatible bucket, through `object_store`.
    #[derive(Debug)]
    pub struct S3BlobStore {
        inner: AmazonS3,
        bucket: String,
        prefix: String,
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
            if config.bucket.is_empty() {
                return Err(StoreError::invalid("s3 config", "the bucket is empty"));
            }
            let from_env = config.access_key_id.is_empty() && config.secret_access_key.is_empty();
            let mut b = if from_env {
                AmazonS3Builder::from_env()
            } else {
                AmazonS3Builder::new()
                    .with_access_key_id(&config.access_key_id)
                    .with_secret_access_key(&config.secret_access_key)
            }
            .with_bucket_name(&config.bucket)
            .with_region(region)
            .with_allow_http(config.allow_http);
            if let Some(endpoint) = &config.endpoint {
                b = b
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            let inner = b
                .build()
                .map_err(|e| StoreError::invalid("s3 config", e.to_string()))?;
            Ok(Self {
                inner,
                bucket: config.bucket.clone(),
                prefix: config.prefix.trim_matches('/').to_owned(),
            })
        }

        /// The object path of a (validated) key: under the prefix, if any.
        fn path(&self, key: &str) -> Result<ObjectPath> {
            validate_key(key)?;
            Ok(if self.prefix.is_empty() {
                ObjectPath::from(key)
            } else {
                ObjectPath::from(format!("{}/{key}", self.prefix))
            })
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

        fn check(&self) -> BlobFuture<'_, ()> {
            Box::pin(self.check_bucket())
        }
    }

    impl S3BlobStore {
        async fn put_object(&self, key: &str, bytes: Bytes) -> Result<()> {
            self.inner
                .put(&self.path(key)?, PutPayload::from(bytes))
                .await
                .map_err(|e| err("put", key, e))?;
            Ok(())
        }

        async fn get_object(&self, key: &str) -> Result<Bytes> {
            let got = self
                .inner
                .get(&self.path(key)?)
                .await
                .map_err(|e| err("get", key, e))?;
            got.bytes().await.map_err(|e| err("get", key, e))
        }

        async fn delete_object(&self, key: &str) -> Result<()> {
            match self.inner.delete(&self.path(key)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(err("delete", key, e)),
            }
        }

        /// Lists one level under the prefix: fails when the bucket is missing, the
        /// credentials are refused or the endpoint does not answer.
        async fn check_bucket(&self) -> Result<()> {
            let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
            self.inner
                .list_with_delimiter(prefix.as_ref())
                .await
                .map(drop)
                .map_err(|e| StoreError::Blob {
                    op: "check",
                    key: format!("s3://{}/{}", self.bucket, self.prefix),
                    source: Box::new(e),
                })
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
