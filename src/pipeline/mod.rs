//! One feed, one pass: fetch → (skip if unchanged) parse → normalize → match topics → store,
//! and the feed's next fetch state (`state.rs`). Returns a `PollReport`; a broken feed never
//! escapes as an error, it is recorded on that feed and logged with the feed's name and URL.
//!
//! `tidings run` and `tidings poll` both call `poll_feed`, so they cannot drift apart. This
//! module spawns no long-lived tasks and knows nothing of HTTP serving.

pub mod discover;
pub mod parsers;
pub mod rawskip;
pub mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};
use url::Url;

use crate::config::{FeedConfig, Settings};
use crate::fetch::{self, FetchError, FetchOutcome, Validators};
use crate::metrics::METRICS;
use crate::model::{FeedId, FeedMeta, Item, TopicMatch};
use crate::normalize::{add_comparison_keys_and_match, clamp_dates};
use crate::parse::ParseError;
use crate::schedule::{HostOutcome, NextPoll, Timing};
use crate::store::{
    BatchWriter, FeedRow, FetchState, FetchedItems, KnownRaw, PollRecord, PollSummary, RawItems,
    Store, StoreError,
};
use crate::topics::TopicSet;
use parsers::{Parsers, ParsersError};
use state::{Observed, transition};

/// What a poll needs besides the feed: shared by every poll of a daemon or a `poll` run.
#[derive(Clone)]
pub struct PollContext {
    pub client: fetch::FeedClient,
    pub store: Store,
    /// Writes poll results, batching those that finish together.
    pub writer: BatchWriter,
    pub topics: Arc<TopicSet>,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub max_body: usize,
    /// Bounds the documents being parsed and matched at once (one per core).
    pub processing: Arc<Semaphore>,
    /// The threads that parse and match, below the writer's priority (`parsers`).
    pub parsers: Arc<Parsers>,
    /// Bounds the polls between their fetch and their write (`UNSTORED`): when the writer is
    /// the bottleneck, fetching waits instead of piling parsed documents up in memory.
    pub unstored: Arc<Semaphore>,
}

/// The most polls fetched but not yet written. A cold poll of 10,000 feeds, whose items the
/// writer stored slower than they were fetched and parsed, peaked at 765 MiB without a bound.
/// On 1,000 feeds, with the writer's band index in memory, 128 keeps the cold poll 5 to 7 MiB
/// under 256 for the same CPU time (4.63 s against 4.68 s, four runs each); when the writer
/// was slower, 128 cost 15 % more time than 256 (smaller group commits).
const UNSTORED: usize = 128;

/// Why a `PollContext` could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Parsers(#[from] ParsersError),
}

/// The fetch permits a poll holds while its request is on the wire.
#[derive(Debug, Default)]
pub struct FetchSlot {
    /// Held only to be dropped: dropping gives the permits back.
    _permits: Vec<OwnedSemaphorePermit>,
}

impl FetchSlot {
    pub fn new(permits: Vec<OwnedSemaphorePermit>) -> FetchSlot {
        FetchSlot { _permits: permits }
    }

    /// Gives the permits back. The connection the fetch used is already back in its lane
    /// (`fetch::FeedClient`), so the next request to the host can take it at once.
    fn release(self) {
        drop(self);
    }
}

impl PollContext {
    /// The timing rule's inputs for `feed`.
    fn timing(&self, feed: &FeedConfig) -> Timing {
        Timing {
            interval: feed.interval,
            min_interval: self.min_interval,
            max_interval: self.max_interval,
        }
    }

    pub fn new(
        client: fetch::FeedClient,
        store: Store,
        topics: Arc<TopicSet>,
        settings: &Settings,
    ) -> Result<PollContext, StartError> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(PollContext {
            client,
            writer: BatchWriter::start(store.clone())?,
            store,
            topics,
            min_interval: settings.min_interval,
            max_interval: settings.max_interval,
            max_body: settings.max_body,
            processing: Arc::new(Semaphore::new(cores)),
            parsers: Arc::new(Parsers::start(cores)?),
            unstored: Arc::new(Semaphore::new(UNSTORED)),
        })
    }
}

/// What one poll of one feed came to.
#[derive(Debug)]
pub struct PollReport {
    pub feed_id: FeedId,
    /// The feed's fetch state as recorded by this poll (`None` when nothing was recorded), so
    /// the caller can hand it to the next poll without reading it back.
    pub state: Option<FetchState>,
    pub outcome: PollReportOutcome,
    pub next_poll: NextPoll,
    /// How the poll went for the feed's host, for host-level backoff.
    pub host: HostOutcome,
    /// Items of a changed document left out of its parse because their bytes were known
    /// (`rawskip`); they are counted among the unchanged.
    pub unparsed: usize,
}

#[derive(Debug)]
pub enum PollReportOutcome {
    /// `304 Not Modified`.
    NotModified,
    /// The same body as last time: not parsed again.
    Unchanged,
    Fetched(PollSummary),
    /// The feed failed; the error is recorded on it.
    Failed(String),
    /// HTTP 410: the feed is not polled any more.
    Gone,
    /// The store could not record the poll (disk full, database locked...). None of its items
    /// were written; the failure is recorded on the feed when that fits, and the feed is
    /// tried again later.
    StoreFailed(String),
}

#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("fetch failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("parse failed: {0}")]
    Parse(#[from] ParseError),
}

/// The parsed, normalized and matched items of a new body.
pub struct NewItems {
    pub meta: FeedMeta,
    /// Each item read, with its topic matches when it is new or changed (`None`: the store
    /// holds it with the same content).
    pub items: Vec<(Item, Option<Vec<TopicMatch>>)>,
    pub update_period: Option<Duration>,
    /// The document's raw item hashes, and the keys of the items left out of the parse.
    pub raw: RawItems,
}

/// What `poll_feed` does with a new body, off the async threads: reads it (leaving out the
/// items whose bytes the feed's last document had, `known_raw`), clamps dates, looks up what
/// the store holds of the items read, and gives the new or changed ones their comparison keys
/// and topic matches. Public so the ingest benchmark measures this very code.
#[allow(clippy::too_many_arguments)]
pub fn process_document(
    store: &Store,
    topics: &TopicSet,
    feed_id: FeedId,
    document: &[u8],
    content_type: Option<&str>,
    feed_url: &Url,
    known_raw: &HashMap<[u8; 16], KnownRaw>,
    now: DateTime<Utc>,
) -> Result<NewItems, ParseError> {
    let read = rawskip::read(document, content_type, feed_url, known_raw)?;
    let mut items = read.items;
    clamp_dates(&mut items, now);
    // What the store holds of the items read: those seen before with the same content are
    // neither matched nor written again.
    let keys: Vec<String> = items
        .iter()
        .map(|item| item.key.to_storage_string())
        .collect();
    let known = store.content_hashes(feed_id, &keys).unwrap_or_default();
    let items = items
        .into_iter()
        .zip(&keys)
        .map(|(mut item, key)| {
            let unchanged = known.get(key) == Some(&item.content_hash);
            let matches = (!unchanged)
                .then(|| add_comparison_keys_and_match(&mut item, topics, Some(feed_url.as_str())));
            for topic_match in matches.iter().flatten() {
                METRICS.topic_match(topic_match.topic.as_str());
            }
            // Matching was its only use, and the store never reads it: a poll waiting for
            // the writer (up to `UNSTORED` of them) need not carry a third copy of its text.
            item.match_text = String::new();
            (item, matches)
        })
        .collect();
    Ok(NewItems {
        meta: read.meta,
        items,
        update_period: read.update_period,
        raw: read.raw,
    })
}

/// Polls one feed once and records the result.
///
/// `row` is the feed as the store last recorded it (the caller keeps it from the previous
/// report). `slot` holds the caller's fetch permits (global and per-host): they are let go as
/// soon as the document is in, so a slow parse or a wait for the disk never keeps a connection
/// slot from the next feed.
pub async fn poll_feed(
    context: &PollContext,
    feed: &FeedConfig,
    row: &FeedRow,
    slot: FetchSlot,
) -> PollReport {
    // The state of a running poll (fetch, parse, write) is several kB. Callers spawn a task per
    // due feed that waits for its permits before it calls this (`tidings poll` one per
    // configured feed), so that state is allocated only when the poll starts: 10,000 waiting
    // polls held 70 MB when it was part of every waiting task.
    Box::pin(run_poll(context, feed, row, slot)).await
}

async fn run_poll(
    context: &PollContext,
    feed: &FeedConfig,
    row: &FeedRow,
    slot: FetchSlot,
) -> PollReport {
    let feed_id = row.id;
    // Taken before the fetch and held until the poll is written, when it brought a document.
    // (The semaphore is never closed, so the permit is always granted.)
    let unstored = Arc::clone(&context.unstored).acquire_owned().await.ok();
    let attempted_at = Utc::now();
    let (observed, new_items, host) = observe(context, feed, row, attempted_at, slot).await;
    // A poll without a document (a 304, the same body, a failure) hands the writer a few
    // hundred bytes of fetch state: it gives its place back at once, so that while a batch of
    // new items is written the 304s of a warm poll do not fill the places meant for parsed
    // documents and stop the fetching. The writer's queue (`MAX_QUEUED`) still bounds them.
    let _unstored = new_items.is_some().then_some(unstored).flatten();
    let next = transition(
        &row.state,
        &row.url,
        context.timing(feed),
        &observed,
        attempted_at,
        fastrand::f64(),
    );
    let name = row.display_name().to_string();
    let unparsed = new_items
        .as_ref()
        .map_or(0, |new_items| new_items.raw.skipped.len());
    let item_count = new_items
        .as_ref()
        .map_or(0, |new_items| new_items.items.len())
        + unparsed;
    let written = context
        .writer
        .record(PollRecord {
            feed_id,
            state: next.state.clone(),
            fetched: new_items.map(|new_items| FetchedItems {
                meta: new_items.meta,
                items: new_items.items,
                raw: Some(new_items.raw),
            }),
        })
        .await;
    let summary = match written {
        Ok(summary) => summary,
        Err(error) => return store_failed(context, feed, row, error.to_string()).await,
    };
    if let Some(moved) = &next.moved {
        warn!(
            feed = %name,
            from = %moved.from,
            to = %moved.to,
            "the feed moved permanently; tidings now polls the new URL. Update feeds.toml to match"
        );
    }
    let retry_in = next
        .next_poll
        .delay
        // Whole seconds: the jitter's nanoseconds are noise in a log line.
        .map(|delay| crate::config::format_duration(Duration::from_secs(delay.as_secs())))
        .unwrap_or_default();
    let outcome = match observed {
        Observed::NotModified { .. } => {
            debug!(feed = %name, url = %row.fetch_url(), next_in = %retry_in, "not modified");
            PollReportOutcome::NotModified
        }
        Observed::SameBody { .. } => {
            debug!(feed = %name, url = %row.fetch_url(), next_in = %retry_in, "unchanged");
            PollReportOutcome::Unchanged
        }
        Observed::NewBody { .. } => {
            // Routine: at the default level (info) a healthy daemon stays quiet; `RUST_LOG=debug`
            // shows every poll.
            debug!(
                feed = %name,
                url = %row.fetch_url(),
                items = item_count,
                new = summary.new,
                updated = summary.updated,
                unparsed,
                next_in = %retry_in,
                "polled"
            );
            PollReportOutcome::Fetched(summary)
        }
        Observed::Failed { error, .. } => {
            warn!(
                feed = %name,
                url = %row.fetch_url(),
                error = %error,
                streak = next.state.error_streak,
                retry_in = %retry_in,
                reason = %next.next_poll.reason,
                "poll failed"
            );
            PollReportOutcome::Failed(error)
        }
        Observed::Gone => {
            warn!(
                feed = %name,
                url = %row.fetch_url(),
                "the feed answered 410 Gone: it will not be polled again; remove it from feeds.toml"
            );
            PollReportOutcome::Gone
        }
    };
    METRICS.poll(match &outcome {
        PollReportOutcome::NotModified => "not_modified",
        PollReportOutcome::Unchanged => "unchanged",
        PollReportOutcome::Fetched(summary) => {
            METRICS.items(summary);
            METRICS.unparsed(unparsed);
            "fetched"
        }
        PollReportOutcome::Failed(_) => "failed",
        PollReportOutcome::Gone => "gone",
        PollReportOutcome::StoreFailed(_) => "store_failed",
    });
    PollReport {
        feed_id,
        state: Some(next.state),
        outcome,
        next_poll: next.next_poll,
        host,
        unparsed,
    }
}

/// Fetches the feed and, for a new body, parses, normalizes and matches it.
async fn observe(
    context: &PollContext,
    feed: &FeedConfig,
    row: &FeedRow,
    now: DateTime<Utc>,
    slot: FetchSlot,
) -> (Observed, Option<NewItems>, HostOutcome) {
    let fetch_url = match Url::parse(row.fetch_url()) {
        Ok(url) => url,
        Err(_) => feed.url.clone(),
    };
    let validators = Validators {
        etag: row.state.etag.clone(),
        last_modified: row.state.last_modified.clone(),
    };
    let started = std::time::Instant::now();
    let fetched = fetch::fetch(
        &context.client,
        &fetch_url,
        &validators,
        context.max_body,
        now,
    )
    .await;
    let status = match &fetched {
        Ok(FetchOutcome::Body(body)) => Some(body.status),
        Ok(FetchOutcome::NotModified { status, .. }) => Some(*status),
        Err(error) => error.status(),
    };
    METRICS.fetched(status, started.elapsed());
    let body = match fetched {
        Ok(FetchOutcome::Body(body)) => body,
        Ok(FetchOutcome::NotModified {
            status,
            hints,
            redirects,
        }) => {
            slot.release();
            let observed = Observed::NotModified {
                status,
                hints,
                redirects,
            };
            return (observed, None, HostOutcome::Answered);
        }
        Err(error) => {
            slot.release();
            return observe_error(error);
        }
    };
    let body_hash = hex::encode(Sha256::digest(&body.body));
    if row.state.body_hash.as_deref() == Some(body_hash.as_str()) {
        // A server without validators sent the same bytes again: nothing to parse.
        let observed = Observed::SameBody {
            status: body.status,
            hints: body.hints,
            redirects: body.redirects,
            validators: body.validators,
        };
        return (observed, None, HostOutcome::Answered);
    }
    // Wait for a processing permit before giving up the fetch slot: when parsing is the
    // bottleneck, fetching waits for it instead of piling documents up in memory.
    // (The semaphore is never closed, so the permit is always granted.)
    let _processing = Arc::clone(&context.processing).acquire_owned().await.ok();
    slot.release();
    // The raw items of the feed's last document: those with the same bytes are not even
    // parsed again (`rawskip`).
    let feed_id = row.id;
    let known_raw = run_blocking(&context.store, move |store| store.raw_items(feed_id))
        .await
        .unwrap_or_default();
    let store = context.store.clone();
    let topics = Arc::clone(&context.topics);
    // Where the document was fetched from after redirects: relative links resolve there.
    let feed_url = body.final_url.clone();
    let document = body.body;
    let content_type = body.content_type;
    // Parsing and matching are CPU work: keep them off the async threads.
    let processed = context
        .parsers
        .run(move || {
            process_document(
                &store,
                &topics,
                feed_id,
                &document,
                content_type.as_deref(),
                &feed_url,
                &known_raw,
                now,
            )
        })
        .await;
    match processed {
        Ok(Ok(new_items)) => {
            let observed = Observed::NewBody {
                status: body.status,
                hints: body.hints,
                redirects: body.redirects,
                validators: body.validators,
                body_hash,
                update_period: new_items.update_period,
            };
            (observed, Some(new_items), HostOutcome::Answered)
        }
        Ok(Err(error)) => (failed(FeedError::Parse(error)), None, HostOutcome::Answered),
        Err(error) => (
            Observed::Failed {
                status: Some(body.status),
                error: format!("parse failed: {error}"),
                retry_after: None,
            },
            None,
            HostOutcome::Answered,
        ),
    }
}

/// What a poll saw when the fetch failed: a 410, or an error of the feed or its host.
fn observe_error(error: FetchError) -> (Observed, Option<NewItems>, HostOutcome) {
    if matches!(error, FetchError::Gone) {
        return (Observed::Gone, None, HostOutcome::Answered);
    }
    let host = if error.is_host_failure() {
        HostOutcome::Failed
    } else {
        HostOutcome::Answered
    };
    (failed(FeedError::Fetch(error)), None, host)
}

fn failed(error: FeedError) -> Observed {
    let (status, retry_after) = match &error {
        FeedError::Fetch(fetch_error) => (fetch_error.status(), fetch_error.retry_after()),
        FeedError::Parse(_) => (None, None),
    };
    Observed::Failed {
        status,
        error: error.to_string(),
        retry_after,
    }
}

/// A poll whose result could not be written (a full disk, say): nothing of it was written, as
/// each poll is one savepoint. Its failure is then recorded alone, without items and with the
/// feed's previous validators (so the next poll fetches the whole document again), which
/// still fits when the items did not: it updates one row in place. When even that fails, the
/// feed keeps its previous state. Either way it is timed like any other failure of the feed.
async fn store_failed(
    context: &PollContext,
    feed: &FeedConfig,
    row: &FeedRow,
    error: String,
) -> PollReport {
    warn!(feed = %row.display_name(), url = %feed.url, error = %error, "cannot record the poll");
    let observed = Observed::Failed {
        status: None,
        error: format!("cannot store the poll: {error}"),
        retry_after: None,
    };
    let next = transition(
        &row.state,
        &row.url,
        context.timing(feed),
        &observed,
        Utc::now(),
        fastrand::f64(),
    );
    let recorded = context
        .writer
        .record(PollRecord {
            feed_id: row.id,
            state: next.state.clone(),
            fetched: None,
        })
        .await;
    let state = match recorded {
        Ok(_) => Some(next.state),
        Err(record_error) => {
            warn!(
                feed = %row.display_name(),
                error = %record_error,
                "cannot record the failure either; the feed keeps its previous state"
            );
            None
        }
    };
    METRICS.poll("store_failed");
    PollReport {
        feed_id: row.id,
        state,
        outcome: PollReportOutcome::StoreFailed(error),
        next_poll: next.next_poll,
        host: HostOutcome::Answered,
        unparsed: 0,
    }
}

/// Runs a blocking store call on tokio's blocking pool.
pub async fn run_blocking<T, F>(store: &Store, call: F) -> Result<T, StoreError>
where
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
}

#[cfg(test)]
mod tests;
