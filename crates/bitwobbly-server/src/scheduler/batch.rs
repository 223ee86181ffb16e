//! Check results written in batches: many checks share one insert.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;

use bitwobbly_store::api::ResultStore;
use bitwobbly_store::model::NewCheckResult;
use bitwobbly_store::types::WorkspaceId;
use bitwobbly_store::{Store, StoreError};
use tokio::sync::Notify;

/// Rows kept while the database refuses them; past this the oldest are dropped (and logged).
const MAX_BACKLOG: usize = 200_000;

/// Results waiting to be written.
#[derive(Debug)]
pub(crate) struct ResultBatch {
    rows: Mutex<Vec<(WorkspaceId, NewCheckResult)>>,
    size: usize,
    full: Notify,
}

impl ResultBatch {
    /// A batch flushed when it holds `size` rows (or on the caller's timer).
    pub(crate) fn new(size: usize) -> Self {
        Self {
            rows: Mutex::new(Vec::new()),
            size: size.max(1),
            full: Notify::new(),
        }
    }

    /// Adds a row; wakes the writer when the batch is full.
    pub(crate) fn push(&self, ws: WorkspaceId, row: NewCheckResult) {
        let len = {
            let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
            rows.push((ws, row));
            rows.len()
        };
        if len >= self.size {
            self.full.notify_one();
        }
    }

    /// Resolves when the batch filled up (since the last call).
    pub(crate) async fn filled(&self) {
        self.full.notified().await;
    }

    /// Rows waiting.
    pub(crate) fn len(&self) -> usize {
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Writes every waiting row, one insert per workspace. Rows the database refused for a
    /// reason of its own are kept for the next flush; rows of monitors deleted meanwhile are
    /// dropped. Returns how many rows were written.
    pub(crate) async fn flush(&self, store: &Store) -> u64 {
        let taken = std::mem::take(&mut *self.rows.lock().unwrap_or_else(PoisonError::into_inner));
        if taken.is_empty() {
            return 0;
        }
        let mut by_ws: BTreeMap<WorkspaceId, Vec<NewCheckResult>> = BTreeMap::new();
        for (ws, row) in taken {
            by_ws.entry(ws).or_default().push(row);
        }
        let mut written = 0;
        let mut keep = Vec::new();
        for (ws, rows) in by_ws {
            match store.workspace(ws).insert_results(&rows).await {
                Ok(n) => written += n,
                Err(StoreError::NotFound { .. }) => {
                    // A monitor was deleted after its check: write the others one by one.
                    for row in rows {
                        match store
                            .workspace(ws)
                            .insert_results(std::slice::from_ref(&row))
                            .await
                        {
                            Ok(n) => written += n,
                            Err(StoreError::NotFound { .. }) => {}
                            Err(e) => {
                                tracing::warn!(error = %crate::error::error_chain(&e), "writing a check result failed; kept for the next flush");
                                keep.push((ws, row));
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        error = %crate::error::error_chain(&e),
                        rows = rows.len(),
                        "writing check results failed; kept for the next flush"
                    );
                    keep.extend(rows.into_iter().map(|r| (ws, r)));
                }
            }
        }
        if !keep.is_empty() {
            let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
            keep.append(&mut rows);
            if keep.len() > MAX_BACKLOG {
                let dropped = keep.len() - MAX_BACKLOG;
                tracing::error!(
                    dropped,
                    "the database refused check results for too long; dropping the oldest"
                );
                keep.drain(..dropped);
            }
            *rows = keep;
        }
        written
    }
}
