//! `[blobs]`: where raw payloads (envelopes, attachments) are kept.
//!
//! One node keeps them on its filesystem (the default, under `data_dir`); several nodes share
//! an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph...):
//!
//! ```toml
//! [blobs]
//! backend = "s3"
//! [blobs.s3]
//! bucket = "bitwobbly-blobs"
//! region = "eu-west-1"
//! # endpoint = "https://minio.internal:9000"   # not for AWS itself
//! # prefix = "prod"                            # share a bucket between installations
//! ```
//!
//! The keys come from `blobs.s3.access_key_id` and `blobs.s3.secret_access_key` (or the
//! variables `BITWOBBLY_BLOBS__S3__ACCESS_KEY_ID` and `BITWOBBLY_BLOBS__S3__SECRET_ACCESS_KEY`);
//! when both are left out, the standard `AWS_*` variables, a web identity token or the
//! instance metadata service provide them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bitwobbly_store::StoreError;
use bitwobbly_store::blob::{self, BlobBackend, BlobStore, S3Config};
use serde::{Deserialize, Serialize};

/// How long a readiness probe waits for the blob store before calling it unreachable.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// `[blobs]`: which blob store the server uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BlobsConfig {
    /// `fs` (the default) or `s3`.
    pub backend: BlobsBackend,
    /// With `fs`: the directory. Default `<data_dir>/blobs`.
    pub path: Option<PathBuf>,
    /// With `s3`: the bucket.
    pub s3: S3Section,
}

/// The kinds of blob store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobsBackend {
    /// Files under `blobs.path`: one node, or nodes sharing one directory.
    #[default]
    Fs,
    /// An S3-compatible bucket (`blobs.s3`): what several nodes share.
    S3,
}

/// `[blobs.s3]`. The secret is left out of `Debug` output.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Section {
    /// The bucket (required with `backend = "s3"`).
    pub bucket: String,
    /// A custom endpoint (MinIO, R2, Ceph...); leave out for AWS.
    pub endpoint: Option<String>,
    /// The region. Default `us-east-1`.
    pub region: String,
    /// The access key id; with the secret, or neither (see the module docs).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// Allow a plain `http://` endpoint. Default false.
    pub allow_http: bool,
    /// A key prefix inside the bucket (e.g. `prod`).
    pub prefix: String,
}

impl std::fmt::Debug for S3Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Section")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A `[blobs]` value that is not acceptable: the key, the value as shown in errors (never the
/// secret), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobsProblem {
    /// The key, e.g. `blobs.s3.bucket`.
    pub key: &'static str,
    /// The value (the secret is shown as `<redacted>`).
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl BlobsConfig {
    /// The filesystem directory: `path`, else `<data_dir>/blobs`.
    pub fn fs_root(&self, data_dir: &Path) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| crate::config::blob_dir(data_dir))
    }

    /// What the store crate builds (see [`bitwobbly_store::blob::open`]).
    pub fn backend(&self, data_dir: &Path) -> BlobBackend {
        match self.backend {
            BlobsBackend::Fs => BlobBackend::Fs(self.fs_root(data_dir)),
            BlobsBackend::S3 => {
                let s = &self.s3;
                let mut c = S3Config::new(&s.bucket, &s.access_key_id, &s.secret_access_key)
                    .with_region(&s.region)
                    .with_prefix(&s.prefix);
                c.allow_http = s.allow_http;
                if let Some(endpoint) = &s.endpoint {
                    c = c.with_endpoint(endpoint, s.allow_http);
                }
                BlobBackend::S3(c)
            }
        }
    }

    /// Builds the configured blob store (no request is made yet).
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] when the S3 client refuses the configuration.
    pub fn open(&self, data_dir: &Path) -> Result<Arc<dyn BlobStore>, StoreError> {
        blob::open(&self.backend(data_dir))
    }

    /// Checks the values (called by [`crate::Config::load`]).
    ///
    /// # Errors
    ///
    /// The first [`BlobsProblem`] found.
    pub fn validate(&self) -> Result<(), BlobsProblem> {
        let bad = |key, value: &str, problem| {
            Err(BlobsProblem {
                key,
                value: value.to_owned(),
                problem,
            })
        };
        if let Some(path) = &self.path
            && path.as_os_str().is_empty()
        {
            return bad(
                "blobs.path",
                "",
                "must not be empty (leave it out for <data_dir>/blobs)",
            );
        }
        if self.backend == BlobsBackend::Fs {
            return Ok(());
        }
        if !cfg!(feature = "s3") {
            return bad(
                "blobs.backend",
                "s3",
                "this build has no S3 support (build bitwobbly-server with the `s3` feature)",
            );
        }
        let s = &self.s3;
        if !valid_bucket(&s.bucket) {
            return bad(
                "blobs.s3.bucket",
                &s.bucket,
                "must be an S3 bucket name: 3 to 63 lower-case letters, digits, '.' and '-', \
                 starting and ending with a letter or digit",
            );
        }
        if !s.region.is_empty()
            && (s.region.len() > 64
                || !s
                    .region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return bad(
                "blobs.s3.region",
                &s.region,
                "must be a region name such as eu-west-1 (lower-case letters, digits and '-')",
            );
        }
        if let Some(endpoint) = &s.endpoint {
            match url::Url::parse(endpoint) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.host().is_some()
                        && u.query().is_none()
                        && u.fragment().is_none() =>
                {
                    if u.scheme() == "http" && !s.allow_http {
                        return bad(
                            "blobs.s3.endpoint",
                            endpoint,
                            "is plain http: set blobs.s3.allow_http = true to allow it",
                        );
                    }
                }
                _ => {
                    return bad(
                        "blobs.s3.endpoint",
                        endpoint,
                        "must be an absolute http:// or https:// URL without query",
                    );
                }
            }
        }
        if s.access_key_id.is_empty() != s.secret_access_key.is_empty() {
            let (key, value) = if s.access_key_id.is_empty() {
                ("blobs.s3.access_key_id", "")
            } else {
                ("blobs.s3.secret_access_key", "")
            };
            return bad(
                key,
                value,
                "access_key_id and secret_access_key go together: set both, or neither to use \
                 the AWS_* variables, a web identity or the instance's role",
            );
        }
        let prefix = s.prefix.trim_matches('/');
        if !prefix.is_empty() && blob::validate_key(prefix).is_err() {
            return bad(
                "blobs.s3.prefix",
                &s.prefix,
                "must be '/'-separated segments of A-Z a-z 0-9 . _ - (no empty, '.' or '..')",
            );
        }
        Ok(())
    }
}

/// S3's bucket naming rules (the subset every S3-compatible store accepts).
fn valid_bucket(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// Checks that `blobs` answers within [`CHECK_TIMEOUT`] (for `/readyz` and start-up).
///
/// # Errors
///
/// A message for the log, with the cause.
pub async fn check(blobs: &dyn BlobStore) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, blobs.check()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(crate::error::error_chain(&e)),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(CHECK_TIMEOUT)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str) -> BlobsConfig {
        BlobsConfig {
            backend: BlobsBackend::S3,
            path: None,
            s3: S3Section {
                bucket: bucket.to_owned(),
                ..S3Section::default()
            },
        }
    }

    #[test]
    fn the_default_is_the_data_directory() {
        let c = BlobsConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.fs_root(Path::new("/d")), PathBuf::from("/d/blobs"));
        let c = BlobsConfig {
            path: Some(PathBuf::from("/elsewhere")),
            ..BlobsConfig::default()
        };
        assert_eq!(c.fs_root(Path::new("/d")), PathBuf::from("/elsewhere"));
    }

    #[test]
    fn bucket_names_are_checked() {
        for good in ["abc", "bitwobbly-blobs", "a.b.c", &"a".repeat(63)] {
            assert!(valid_bucket(good), "{good}");
        }
        for bad in [
            "",
            "ab",
            &"a".repeat(64),
            "Upper",
            "-start",
            "end-",
            "a..b",
            "sp ace",
            "a/b",
            "ünï",
        ] {
            assert!(!valid_bucket(bad), "{bad}");
        }
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_problems_name_the_key() {
        let key = |c: &BlobsConfig| c.validate().unwrap_err().key;
        assert_eq!(key(&s3("")), "blobs.s3.bucket");
        assert_eq!(key(&s3("Bad_Bucket")), "blobs.s3.bucket");
        let mut c = s3("good-bucket");
        assert_eq!(c.validate(), Ok(()));
        c.s3.endpoint = Some("http://127.0.0.1:9000".into());
        assert_eq!(key(&c), "blobs.s3.endpoint");
        c.s3.allow_http = true;
        assert_eq!(c.validate(), Ok(()));
        for bad in ["127.0.0.1:9000", "ftp://x", "http://x/?a=b", "http://"] {
            c.s3.endpoint = Some(bad.into());
            assert_eq!(key(&c), "blobs.s3.endpoint", "{bad}");
        }
        c.s3.endpoint = None;
        c.s3.region = "EU West".into();
        assert_eq!(key(&c), "blobs.s3.region");
        c.s3.region = "eu-west-1".into();
        c.s3.access_key_id = "AKIA".into();
        assert_eq!(key(&c), "blobs.s3.secret_access_key");
        c.s3.access_key_id.clear();
        c.s3.secret_access_key = "very-secret".into();
        let p = c.validate().unwrap_err();
        assert_eq!(p.key, "blobs.s3.access_key_id");
        assert!(!p.value.contains("very-secret"));
        assert!(!format!("{c:?}").contains("very-secret"));
        c.s3.access_key_id = "AKIA".into();
        assert_eq!(c.validate(), Ok(()));
        for bad in ["a/../b", "a//b", "sp ace"] {
            c.s3.prefix = bad.into();
            assert_eq!(key(&c), "blobs.s3.prefix", "{bad}");
        }
        c.s3.prefix = "/bw/prod/".into();
        assert_eq!(c.validate(), Ok(()));
    }

    #[cfg(feature = "s3")]
    #[test]
    fn the_section_loads_from_the_environment_and_problems_name_the_variable() {
        use crate::config::{Config, Overrides};
        let env = [
            ("BITWOBBLY_BLOBS__BACKEND", "s3"),
            ("BITWOBBLY_BLOBS__S3__BUCKET", "bw-blobs"),
            (
                "BITWOBBLY_BLOBS__S3__ENDPOINT",
                "https://minio.internal:9000",
            ),
            ("BITWOBBLY_BLOBS__S3__ACCESS_KEY_ID", "id"),
            ("BITWOBBLY_BLOBS__S3__SECRET_ACCESS_KEY", "s3cr3t-value"),
            ("BITWOBBLY_BLOBS__S3__PREFIX", "prod"),
            ("BITWOBBLY_DATABASE_MAX_CONNECTIONS", "25"),
        ];
        let c = Config::load(&Overrides::default(), env).unwrap();
        assert_eq!(c.blobs.backend, BlobsBackend::S3);
        assert_eq!(c.blobs.s3.bucket, "bw-blobs");
        assert_eq!(c.blobs.s3.secret_access_key, "s3cr3t-value");
        assert_eq!(c.database_max_connections, Some(25));
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
        let e = Config::load(
            &Overrides::default(),
            [
                ("BITWOBBLY_BLOBS__BACKEND", "s3"),
                ("BITWOBBLY_BLOBS__S3__BUCKET", "No_Such"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("blobs.s3.bucket") && e.contains("BITWOBBLY_BLOBS__S3__BUCKET"),
            "{e}"
        );
        let e = Config::load(
            &Overrides::default(),
            [("BITWOBBLY_DATABASE_MAX_CONNECTIONS", "0")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("database_max_connections"), "{e}");
        let e = Config::load(
            &Overrides::default(),
            [("BITWOBBLY_BLOBS__BACKEND", "tape")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("BITWOBBLY_BLOBS__BACKEND"), "{e}");
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn s3_without_the_feature_is_refused() {
        assert_eq!(
            s3("good-bucket").validate().unwrap_err().key,
            "blobs.backend"
        );
    }

    #[tokio::test]
    async fn the_filesystem_store_checks_and_works() {
        let dir = tempfile::tempdir().unwrap();
        let c = BlobsConfig::default();
        let blobs = c.open(dir.path()).unwrap();
        check(blobs.as_ref()).await.unwrap();
        assert!(dir.path().join("blobs").is_dir());
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        let c = BlobsConfig {
            path: Some(dir.path().join("file")),
            ..BlobsConfig::default()
        };
        let e = check(c.open(dir.path()).unwrap().as_ref())
            .await
            .unwrap_err();
        assert!(e.contains("check"), "{e}");
    }
}
