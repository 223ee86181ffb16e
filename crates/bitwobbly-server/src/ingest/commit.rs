//! Group commit: requests hand their envelope to one committer task through a bounded queue
//! and wait for its answer; the committer writes everything that queued up while the previous
//! commit ran in one transaction. Durability then costs one commit per batch, not one per
//! request.
//!
//! On shutdown the committer keeps committing until every ingest request still in flight has
//! been answered, then commits what is left in the queue and stops.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::time::Instant;

use bitwobbly_store::api::IngestQueue;
use bitwobbly_store::model::DurableEnvelope;
use bitwobbly_store::types::EnvelopeId;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::state::AppState;

/// Why an envelope was not made durable.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CommitError {
    /// The committer is not running (not started yet, or stopped).
    #[error("the ingest committer is not running")]
    NotRunning,
    /// The database refused the write.
    #[error("storing the envelope failed: {0}")]
    Store(String),
}

struct Pending {
    envelope: DurableEnvelope,
    reply: oneshot::Sender<Result<EnvelopeId, CommitError>>,
}

/// The request side of the committer and its queue.
pub(crate) struct Committer {
    tx: mpsc::Sender<Pending>,
    rx: Mutex<Option<mpsc::Receiver<Pending>>>,
    running: AtomicBool,
    requests: TaskTracker,
    max_batch: usize,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("queued", &(self.tx.max_capacity() - self.tx.capacity()))
            .field("running", &self.running.load(Ordering::Relaxed))
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl Committer {
    pub(crate) fn new(queue: usize, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel(queue.max(1));
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
            running: AtomicBool::new(false),
            requests: TaskTracker::new(),
            max_batch: max_batch.max(1),
        }
    }

    /// Marks an ingest request in flight until the token drops (shutdown waits for it).
    pub(crate) fn request_token(&self) -> TaskTrackerToken {
        self.requests.token()
    }

    /// Queues `envelope` and waits until it is committed. Waits for room when the queue is
    /// full (back pressure on the clients).
    pub(crate) async fn commit(
        &self,
        envelope: DurableEnvelope,
    ) -> Result<EnvelopeId, CommitError> {
        if !self.running.load(Ordering::Acquire) {
            return Err(CommitError::NotRunning);
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { envelope, reply })
            .await
            .map_err(|_| CommitError::NotRunning)?;
        answer.await.unwrap_or(Err(CommitError::NotRunning))
    }

    /// Starts the committer task on `tasks` (once; later calls do nothing).
    pub(crate) fn start(&self, state: &AppState, tasks: &TaskTracker) {
        let Some(rx) = self
            .rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        else {
            return;
        };
        self.running.store(true, Ordering::Release);
        drop(crate::spawn(
            "ingest-committer",
            tasks.track_future(run(state.clone(), rx)),
        ));
    }
}

async fn run(state: AppState, mut rx: mpsc::Receiver<Pending>) {
    let committer = &state.ingest.committer;
    let max_batch = committer.max_batch;
    let requests = committer.requests.clone();
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, max_batch) => {
                if n == 0 {
                    break;
                }
                write(&state, &mut batch).await;
            }
            () = state.shutdown.cancelled(), if !stopping => {
                stopping = true;
                requests.close();
            }
            () = requests.wait(), if stopping => break,
        }
    }
    committer.running.store(false, Ordering::Release);
    rx.close();
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        write(&state, &mut batch).await;
    }
    tracing::info!("ingest committer flushed and stopped");
}

/// Commits `batch` (emptying it) and answers every request in it. When the batch as a whole
/// fails, each envelope is retried alone so that one bad row (say, of a project deleted
/// meanwhile) fails only its own request.
async fn write(state: &AppState, batch: &mut Vec<Pending>) {
    let started = Instant::now();
    let (envelopes, replies): (Vec<DurableEnvelope>, Vec<_>) =
        batch.drain(..).map(|p| (p.envelope, p.reply)).unzip();
    let result = state.store.global().record_envelopes(&envelopes).await;
    state
        .metrics
        .observe_ingest_commit(envelopes.len(), started.elapsed());
    match result {
        Ok(ids) => {
            for (reply, id) in replies.into_iter().zip(ids) {
                let _ = reply.send(Ok(id));
            }
        }
        Err(e) if envelopes.len() == 1 => {
            tracing::warn!(error = %crate::error::error_chain(&e), "storing an envelope failed");
            for reply in replies {
                let _ = reply.send(Err(CommitError::Store(e.to_string())));
            }
        }
        Err(e) => {
            tracing::warn!(
                error = %crate::error::error_chain(&e),
                batch = envelopes.len(),
                "a group commit failed; committing its envelopes one by one"
            );
            for (envelope, reply) in envelopes.into_iter().zip(replies) {
                let one = state
                    .store
                    .global()
                    .record_envelopes(std::slice::from_ref(&envelope))
                    .await;
                let answer = match one {
                    Ok(ids) => ids.first().copied().ok_or_else(|| {
                        CommitError::Store("the database returned no id".to_owned())
                    }),
                    Err(e) => Err(CommitError::Store(e.to_string())),
                };
                let _ = reply.send(answer);
            }
        }
    }
}
