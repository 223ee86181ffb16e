//! The two sqlx backends. Both compile the same operations (`ops/`), each with its own
//! `Db` type, dialect switch (`PG`) and embedded migrations.

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

use crate::types::Timestamp;

/// One claim on a work queue: who claims, at what time, until when, and how many rows at most.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease<'a> {
    /// The claiming node.
    pub(crate) node: &'a str,
    /// The claim time: rows due at or before it, with no live lease, are claimed.
    pub(crate) now: Timestamp,
    /// When the new leases expire.
    pub(crate) until: Timestamp,
    /// Rows to claim at most.
    pub(crate) limit: u32,
}

impl<'a> Lease<'a> {
    /// A claim by `node` at `now` for leases lasting `duration`.
    pub(crate) fn new(
        node: &'a str,
        now: Timestamp,
        duration: std::time::Duration,
        limit: u32,
    ) -> Self {
        Self {
            node,
            now,
            until: now.plus(duration),
            limit,
        }
    }
}
