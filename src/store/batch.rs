//! Group commit: polls finished at about the same time are written in one transaction, with
//! one sync to disk, by a writer thread that owns the queue. Each poll still succeeds or fails
//! alone (a savepoint each, see `Store::record_polls`).
//!
//! With 10,000 feeds a cold start finishes hundreds of polls a second; one transaction each
//! would spend most of its time syncing. Batching keeps `synchronous=FULL` affordable.
//!
//! A batch takes what is waiting when the writer is free. When polls come in faster than
//! commits are worth making, but each one finds the writer free (the 304s of a warm poll:
//! thousands a second, each a few hundred bytes of fetch state), that alone would commit every
//! few polls, and the syncs would be most of the writer's work: a warm poll of 10,000 feeds
//! called `fsync` 1,522 to 1,854 times (1.1 to 1.2 s; `strace`), and calls it 81 times now.
//! So a batch begun less than `COMMIT_GAP` after the one before waits, until that gap has
//! passed or the batch is full, for more polls to come in (looking at the queue every few
//! milliseconds, not woken by each poll). A poll that finds the writer idle
//! since longer (a daemon's polls, spread over the interval) is written at once; a writer
//! busier than that (a cold poll, whose batches take longer than the gap to write) never
//! waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{PollRecord, PollSummary, Store, StoreError};

/// The most polls written in one transaction.
const MAX_BATCH: usize = 256;
/// The most polls waiting to be written; past this, finished polls wait to hand theirs over,
/// so a slow disk slows polling down instead of filling the memory.
const MAX_QUEUED: usize = 2 * MAX_BATCH;
/// The least time between the starts of two batches while polls keep coming in (see the
/// module docs): at most fifty commits a second, each poll held back at most this long.
const COMMIT_GAP: Duration = Duration::from_millis(20);

/// How often a lingering writer looks for more polls (`linger`).
const LINGER_STEP: Duration = Duration::from_millis(4);

type Reply = oneshot::Sender<Result<PollSummary, StoreError>>;

/// A handle to the writer thread; clones share it. The thread ends when the last handle is
/// dropped, after writing what was queued.
#[derive(Clone, Debug)]
pub struct BatchWriter {
    sender: mpsc::Sender<(PollRecord, Reply)>,
    /// Batches written (each one transaction), for tests and benchmarks.
    batches: Arc<AtomicU64>,
}

impl BatchWriter {
    /// Starts the writer thread for `store`.
    pub fn start(store: Store) -> Result<BatchWriter, StoreError> {
        let (sender, mut receiver) = mpsc::channel::<(PollRecord, Reply)>(MAX_QUEUED);
        let batches = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&batches);
        std::thread::Builder::new()
            .name("tidings-writer".to_string())
            .spawn(move || write_batches(&store, &mut receiver, &counted))
            .map_err(|error| {
                StoreError::Task(format!("cannot start the writer thread: {error}"))
            })?;
        Ok(BatchWriter { sender, batches })
    }

    /// How many batches (transactions) the writer has written so far.
    pub fn batches_written(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
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

type Queue = mpsc::Receiver<(PollRecord, Reply)>;

fn write_batches(store: &Store, receiver: &mut Queue, batches: &AtomicU64) {
    let mut last_begun: Option<Instant> = None;
    // Block for the first poll, then take whatever else is already waiting, and more while
    // the gap since the last batch began is not over.
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        take_waiting(receiver, &mut batch);
        if let Some(last_begun) = last_begun {
            linger(receiver, &mut batch, last_begun + COMMIT_GAP);
        }
        last_begun = Some(Instant::now());
        batches.fetch_add(1, Ordering::Relaxed);
        let (records, replies): (Vec<PollRecord>, Vec<Reply>) = batch.into_iter().unzip();
        // While more polls wait (asked as the batch commits), it may leave band rows for a
        // later one to write.
        // A panic (a bug of ours) fails the batch as an error would, not the writer thread:
        // its polls are then written one by one, so only the poll that meets the bug fails.
        match guarded(|| store.record_polls_before_more(&records, &|| !receiver.is_empty())) {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(_) if records.len() > 1 => {
                // Nothing of the batch was written (a full disk rolls it all back): write each
                // poll alone, so one that does not fit (or meets a bug) does not fail the others.
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

/// Waits until `until` for more polls to join `batch`, or until enough wait to fill it. It
/// looks at the queue every `LINGER_STEP` rather than wake for each poll that comes in: a
/// warm poll's 304s arrive thousands a second, and waking the writer thread for each (a
/// futex call on both sides) cost more than writing them.
#[expect(
    clippy::disallowed_methods,
    reason = "the writer is a thread of its own, outside every runtime: no paused clock reaches it"
)]
fn linger(receiver: &mut Queue, batch: &mut Vec<(PollRecord, Reply)>, until: Instant) {
    // What was waiting is in `batch` already (`take_waiting`).
    loop {
        let now = Instant::now();
        // Full, or the gap is over (or every sender is gone, and nothing more will come).
        if batch.len() >= MAX_BATCH || now >= until || receiver.is_closed() {
            return;
        }
        std::thread::sleep((until - now).min(LINGER_STEP));
        take_waiting(receiver, batch);
    }
}

/// Moves the polls already waiting into `batch`, up to `MAX_BATCH`.
fn take_waiting(receiver: &mut Queue, batch: &mut Vec<(PollRecord, Reply)>) {
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

/// Runs a write, turning a panic inside it into an error of that write. The locks it held are
/// mended on their next use (`Store::writer`, `Store::placing`).
fn guarded<T>(write: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(write)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|message| message.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Err(StoreError::Panicked(message))
    })
}

fn write_alone(store: &Store, record: &PollRecord) -> Result<PollSummary, StoreError> {
    match guarded(|| store.record_polls(std::slice::from_ref(record))) {
        Ok(mut results) => results
            .pop()
            .unwrap_or_else(|| Err(StoreError::Task("no result for the poll".to_string()))),
        Err(error) => Err(StoreError::Task(format!(
            "the poll was not written: {error}"
        ))),
    }
}
