//! The ingest endpoint's writes: envelope manifests made durable in group commits, and the
//! stored form of an envelope's raw bytes (inline or in blob storage).

use sqlx::Row as _;

use super::{Db, DbConn, begin_write};
use crate::error::{Result, StoreError};
use crate::model::DurableEnvelope;
use crate::types::*;

/// Rows per multi-row `INSERT` (10 parameters each, well under SQLite's parameter limit).
const ENVELOPE_ROWS_PER_STATEMENT: usize = 500;

/// Inserts a batch of manifests (with their inline bodies) in one transaction and returns
/// their ids in batch order.
///
/// The caller (the ingest key cache) has already tied each row's workspace to its project, so
/// rows go in with multi-row `INSERT`s rather than one statement each. Within one statement
/// rows are inserted in `VALUES` order and ids grow, so sorting the returned ids gives them in
/// batch order whatever order `RETURNING` emits them in.
pub(crate) async fn record_envelopes(
    c: &mut DbConn,
    batch: &[DurableEnvelope],
) -> Result<Vec<EnvelopeId>> {
    if let Some(bad) = batch
        .iter()
        .find(|e| e.manifest.item_types.iter().any(|t| t.contains(',')))
    {
        return Err(StoreError::invalid(
            "item_types",
            format!(
                "an item type of the envelope for project {} contains a comma",
                bad.manifest.project_id.0
            ),
        ));
    }
    let mut tx = begin_write(c).await?;
    let mut ids = Vec::with_capacity(batch.len());
    for chunk in batch.chunks(ENVELOPE_ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO envelopes (workspace_id, project_id, event_id, received_at, size, \
             blob_key, item_types, state, attempts, body) ",
        );
        q.push_values(chunk, |mut b, e| {
            let m = &e.manifest;
            b.push_bind(e.workspace_id)
                .push_bind(m.project_id)
                .push_bind(m.event_id.as_deref())
                .push_bind(m.received_at)
                .push_bind(m.size)
                .push_bind(m.blob_key.as_str())
                .push_bind(m.item_types.join(","))
                .push_bind(EnvelopeState::Pending)
                .push_bind(0_i64)
                .push_bind(e.inline_body.as_deref());
        });
        q.push(" RETURNING id");
        let mut got: Vec<EnvelopeId> = q
            .build_query_scalar::<EnvelopeId>()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
        if got.len() != chunk.len() {
            return Err(StoreError::invalid(
                "envelopes",
                format!("inserted {} rows for {} envelopes", got.len(), chunk.len()),
            ));
        }
        got.sort_unstable();
        ids.extend(got);
    }
    tx.commit().await?;
    Ok(ids)
}

/// How an envelope's raw bytes are stored: its blob key (empty when inline), its raw size and
/// its inline zstd frame, if any.
pub(crate) async fn stored_body(
    c: &mut DbConn,
    id: EnvelopeId,
) -> Result<Option<(String, i64, Option<Vec<u8>>)>> {
    let row = sqlx::query::<Db>("SELECT blob_key, size, body FROM envelopes WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    row.map(|r| {
        Ok((
            r.try_get("blob_key")?,
            r.try_get("size")?,
            r.try_get("body")?,
        ))
    })
    .transpose()
}
