//! Storage for Bit Wobbly: traits with SQLite and PostgreSQL backends, blob storage, rollups
//! and retention.
//!
//! Use this crate when you need what the Bit Wobbly server persists — workspaces and users,
//! monitors and scheduling leases, check results and their rollups, incidents, the notification
//! outbox — from your own program. It holds no business rules: the state machine, schedules and
//! uptime maths live in `bitwobbly-core`; this crate stores what core decides.
//!
//! Main types:
//! - [`Store`]: a pool on SQLite (`sqlite://file.db`) or PostgreSQL (`postgres://...`),
//!   opened by URL, migrations embedded and applied on open;
//! - [`Scoped`] (from [`Store::workspace`]) and [`Global`] (from [`Store::global`]), on which
//!   the traits in [`api`] are implemented: every tenant-owned operation is scoped to one
//!   workspace by construction;
//! - [`Tx`]: several operations in one transaction (an incident change and its outbox row);
//! - [`LatencySketch`]: the mergeable latency histogram inside each rollup.
//!
//! # Features
//!
//! | feature    | default | what it adds |
//! |------------|---------|--------------|
//! | `sqlite`   | yes     | the SQLite backend (bundled libsqlite3) |
//! | `postgres` | yes     | the PostgreSQL backend |
//! | `s3`       | no      | the S3-compatible blob store (`blob::S3BlobStore`, via `object_store`) |
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use bitwobbly_store::prelude::*;
//!
//! let store = Store::open("sqlite::memory:").await?;
//! let now = Timestamp::from_millis(1_700_000_000_000);
//! let ws = store.global().create_workspace("acme", "Acme", now).await?;
//!
//! let mut tx = store.begin().await?;
//! let channel = tx
//!     .workspace(ws.id)
//!     .create_channel(
//!         &NewChannel {
//!             key: None,
//!             name: "ops".into(),
//!             kind: ChannelKind::Webhook,
//!             config: serde_json::json!({ "url": "http://127.0.0.1:9/hook" }),
//!             enabled: true,
//!         },
//!         now,
//!     )
//!     .await?;
//! tx.workspace(ws.id)
//!     .enqueue_notification(
//!         &NewNotification {
//!             channel_id: channel.id,
//!             event: "incident.opened".into(),
//!             payload: serde_json::json!({ "title": "API down" }),
//!             not_before: now,
//!         },
//!         now,
//!     )
//!     .await?;
//! tx.commit().await?;
//!
//! let due = store
//!     .global()
//!     .claim_notifications("node-1", now, std::time::Duration::from_secs(30), 10)
//!     .await?;
//! assert_eq!(due.len(), 1);
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```

pub mod api;
mod backend;
pub mod blob;
pub mod dash;
mod error;
pub mod model;
pub mod query;
mod secret;
pub mod security;
pub mod signal;
pub mod sketch;
mod store;
pub mod types;

pub use error::{Result, StoreError};
pub use sketch::LatencySketch;
pub use store::{
    __private, BackendKind, Global, Scoped, Source, SqliteDurability, Store, StoreOptions, Tx,
};

/// Everything needed to use the store: the handle, the traits, the records and the ids.
pub mod prelude {
    pub use crate::api::*;
    pub use crate::dash::*;
    pub use crate::model::*;
    pub use crate::query::*;
    pub use crate::security::*;
    pub use crate::types::*;
    pub use crate::{LatencySketch, Result, Store, StoreError, StoreOptions, Tx};
}
