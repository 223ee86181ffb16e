//! What every handler and background task shares.

use std::ops::Deref;
use std::sync::Arc;

use bitwobbly_check::Checker;
use bitwobbly_store::Store;
use bitwobbly_store::blob::{BlobStore, FsBlobStore};
use tokio_util::sync::CancellationToken;

use crate::auth::Limits;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::scheduler::Shared as SchedulerShared;

/// The server's shared state. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// The parts of [`AppState`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Inner {
    /// The database.
    pub store: Store,
    /// The configuration the server started with.
    pub config: Config,
    /// Runs checks (shared TLS configurations and resolvers).
    pub checker: Checker,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// This node's name, used as the lease owner.
    pub node: String,
    /// The wall clock.
    pub clock: Clock,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Login and per-token rate limits.
    pub limits: Limits,
    /// The scheduler's shared parts (checker pool, result batches).
    pub scheduler: SchedulerShared,
    /// Raw payload storage (envelopes, attachments).
    pub blobs: Arc<dyn BlobStore>,
    /// Ingest's shared parts (key cache, quotas, group commit).
    pub ingest: crate::ingest::Ingest,
    /// Status pages' shared parts (snapshot cache, per-address limits).
    pub pages: crate::pages::Pages,
}

impl AppState {
    /// Shared state over an opened (and migrated) store, with blobs on the filesystem
    /// (`blobs.path`, else under `data_dir`) whatever `blobs.backend` says; the server builds
    /// the configured blob store and uses [`AppState::with_blobs`].
    pub fn new(store: Store, config: Config, node: String) -> Self {
        let blobs = Arc::new(FsBlobStore::new(config.blobs.fs_root(&config.data_dir)));
        Self::with_blobs(store, config, node, blobs)
    }

    /// Shared state over an opened (and migrated) store and a blob store.
    pub fn with_blobs(
        store: Store,
        config: Config,
        node: String,
        blobs: Arc<dyn BlobStore>,
    ) -> Self {
        let checker = crate::scheduler::build_checker(&config);
        let limits = Limits::new(&config.auth);
        let scheduler = SchedulerShared::new(&config.scheduler);
        let ingest = crate::ingest::Ingest::new(&config.ingest);
        let pages = crate::pages::Pages::new(&config.pages);
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                checker,
                metrics: Metrics::new(),
                node,
                clock: Clock,
                shutdown: CancellationToken::new(),
                limits,
                scheduler,
                blobs,
                ingest,
                pages,
            }),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}
