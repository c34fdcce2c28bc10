//! Group commit: polls finished at about the same time are written in one transaction, with
//! one sync to disk, by a writer thread that owns the queue. Each poll still succeeds or fails
//! alone (a savepoint each, see `Store::record_polls`).
//!
//! With 10,000 feeds a cold start finishes hundreds of polls a second; one transaction each
//! would spend most of its time syncing. Batching keeps `synchronous=FULL` affordable.

use tokio::sync::{mpsc, oneshot};

use super::{PollRecord, PollSummary, Store, StoreError};

/// The most polls written in one transaction.
const MAX_BATCH: usize = 256;
/// The most polls waiting to be written; past this, finished polls wait to hand theirs over,
/// so a slow disk slows polling down instead of filling the memory.
const MAX_QUEUED: usize = 2 * MAX_BATCH;

type Reply = oneshot::Sender<Result<PollSummary, StoreError>>;

/// A handle to the writer thread; clones share it. The thread ends when the last handle is
/// dropped, after writing what was queued.
#[derive(Clone, Debug)]
pub struct BatchWriter {
    sender: mpsc::Sender<(PollRecord, Reply)>,
}

impl BatchWriter {
    /// Starts the writer thread for `store`.
    pub fn start(store: Store) -> Result<BatchWriter, StoreError> {
        let (sender, mut receiver) = mpsc::channel::<(PollRecord, Reply)>(MAX_QUEUED);
        std::thread::Builder::new()
            .name("tidings-writer".to_string())
            .spawn(move || write_batches(&store, &mut receiver))
            .map_err(|error| {
                StoreError::Task(format!("cannot start the writer thread: {error}"))
            })?;
        Ok(BatchWriter { sender })
    }

    /// Queues a poll and waits until it is committed (or failed).
    pub async fn record(&self, record: PollRecord) -> Result<PollSummary, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((record, reply))
            .await
            .map_err(|_| StoreError::Task("the writer thread has stopped".to_string()))?;
        answer
            .await
            .map_err(|_| StoreError::Task("the writer thread dropped a poll".to_string()))?
    }
}

fn write_batches(store: &Store, receiver: &mut mpsc::Receiver<(PollRecord, Reply)>) {
    // Block for the first poll, then take whatever else is already waiting.
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (records, replies): (Vec<PollRecord>, Vec<Reply>) = batch.into_iter().unzip();
        // While more polls wait (asked as the batch commits), it may leave band rows for a
        // later one to write.
        match store.record_polls_before_more(&records, &|| !receiver.is_empty()) {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(_) if records.len() > 1 => {
                // Nothing of the batch was written (a full disk rolls it all back): write each
                // poll alone, so one that does not fit does not fail the others.
                for (record, reply) in records.iter().zip(replies) {
                    let _ = reply.send(write_alone(store, record));
                }
            }
            Err(error) => {
                // A batch of one: its poll gets the error itself.
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
}

fn write_alone(store: &Store, record: &PollRecord) -> Result<PollSummary, StoreError> {
    match store.record_polls(std::slice::from_ref(record)) {
        Ok(mut results) => results
            .pop()
            .unwrap_or_else(|| Err(StoreError::Task("no result for the poll".to_string()))),
        Err(error) => Err(StoreError::Task(format!(
            "the poll was not written: {error}"
        ))),
    }
}
