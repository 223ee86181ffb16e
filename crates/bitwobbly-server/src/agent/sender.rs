//! Moving results: from the checks to the disk buffer, and from the buffer to the server.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::buffer::Unnumbered;
use super::client::{CallError, Client};
use super::protocol::ResultBatch;
use super::{Shared, retry_delay};

/// The most results written to the buffer with one `fsync`.
const WRITE_BATCH: usize = 256;

/// Writes results to the buffer as they come (everything waiting goes in one append, one
/// `fsync`), waking the sender after each append. Ends when every sender of `rx` is gone,
/// so the results of the last checks are written at shutdown.
pub(crate) async fn write(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Unnumbered>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let n = batch.len();
        if let Err(e) = shared.with_buffer(move |b| b.append(batch)).await {
            tracing::error!(error = %e, lost = n, "cannot write results to the buffer; they are lost");
        }
        shared.buffered.notify_one();
    }
}

/// Sends the buffer to the server in `seq` order, at most `max_batch` results a request,
/// and deletes what the server acknowledges. Retries with backoff while the server is
/// unreachable or busy; a refusal stops the agent.
pub(crate) async fn send(
    shared: Arc<Shared>,
    client: Arc<Client>,
    agent_id: String,
    mut max_batch: usize,
) {
    let mut failures = 0u32;
    loop {
        if shared.stop.is_cancelled() {
            return;
        }
        let n = max_batch;
        let batch = match shared.with_buffer(move |b| b.peek(n)).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the result buffer; trying again");
                failures += 1;
                if !pause(&shared, retry_delay(failures)).await {
                    return;
                }
                continue;
            }
        };
        let (Some(first), Some(last)) = (batch.first().map(|r| r.seq), batch.last().map(|r| r.seq))
        else {
            tokio::select! {
                () = shared.stop.cancelled() => return,
                () = shared.buffered.notified() => continue,
            }
        };
        let count = batch.len();
        let request = ResultBatch {
            agent_id: agent_id.clone(),
            results: batch,
        };
        let wait = match client.results(&request).await {
            Ok(ack) => {
                if failures > 0 {
                    tracing::info!(after_failures = failures, "the server takes results again");
                }
                failures = 0;
                // The server has seen the whole batch: every result in it is stored,
                // a duplicate, or ignored. A watermark below the batch's end would make it
                // send the same batch forever.
                let upto = if ack.last_seq < last {
                    tracing::warn!(
                        server_last_seq = ack.last_seq,
                        batch_last_seq = last,
                        "the server acknowledged less than the batch; treating the batch as delivered"
                    );
                    last
                } else {
                    ack.last_seq
                };
                tracing::debug!(
                    first_seq = first,
                    last_seq = last,
                    accepted = ack.accepted,
                    duplicates = ack.duplicates,
                    ignored = ack.ignored,
                    "results delivered"
                );
                if ack.duplicates > 0 {
                    tracing::info!(
                        duplicates = ack.duplicates,
                        "the server already had some results (an answer was lost); they were stored once"
                    );
                }
                if let Err(e) = shared.with_buffer(move |b| b.ack(upto)).await {
                    tracing::error!(error = %e, "cannot delete delivered results from the buffer; they will be resent and dropped as duplicates");
                    failures += 1;
                    retry_delay(failures)
                } else {
                    continue;
                }
            }
            Err(CallError::TooLarge) if count > 1 => {
                max_batch = (count / 2).max(1);
                tracing::warn!(
                    max_batch,
                    "the server refused a batch as too large; sending smaller ones"
                );
                continue;
            }
            Err(CallError::TooLarge) => {
                tracing::error!(
                    seq = first,
                    "the server refuses a single result as too large; dropping it"
                );
                if let Err(e) = shared.with_buffer(move |b| b.ack(first)).await {
                    tracing::error!(error = %e, "cannot drop the result from the buffer");
                }
                continue;
            }
            Err(CallError::Fatal(e)) => {
                shared.fail(e);
                return;
            }
            Err(e) => {
                failures += 1;
                let wait = e.retry_after().unwrap_or_else(|| retry_delay(failures));
                if failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(
                        error = %e,
                        failures,
                        retry_in_ms = wait.as_millis() as u64,
                        "cannot deliver results; they stay in the buffer"
                    );
                }
                wait
            }
        };
        if !pause(&shared, wait).await {
            return;
        }
    }
}

/// Sleeps `wait`; false when the agent stops first.
async fn pause(shared: &Shared, wait: std::time::Duration) -> bool {
    tokio::select! {
        () = shared.stop.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}
