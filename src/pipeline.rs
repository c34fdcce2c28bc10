//! One feed, one pass: fetch → parse → normalize → match topics → store, and the next poll
//! time. Returns a `PollReport`; a broken feed never escapes as an error, it is recorded on
//! that feed and logged with the feed's name and URL.
//!
//! `tidings run` and `tidings poll` both call `poll_feed`, so they cannot drift apart. This
//! module spawns no long-lived tasks and knows nothing of HTTP serving.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::FeedConfig;
use crate::fetch::{self, FetchOutcome, Validators};
use crate::model::{FeedId, TopicMatch};
use crate::normalize::normalize;
use crate::parse::parse;
use crate::schedule::{NextPoll, PollOutcome, next_poll};
use crate::store::{
    FeedRow, FetchFailure, FetchSuccess, PollRecord, PollResult, PollSummary, Store, StoreError,
};
use crate::topics::TopicSet;

/// What a poll needs besides the feed: shared by every poll of a daemon or a `poll` run.
#[derive(Clone)]
pub struct PollContext {
    pub client: reqwest::Client,
    pub store: Store,
    pub topics: Arc<TopicSet>,
}

/// What one poll of one feed came to.
#[derive(Debug)]
pub struct PollReport {
    pub feed_id: FeedId,
    pub outcome: PollReportOutcome,
    pub next_poll: NextPoll,
}

#[derive(Debug)]
pub enum PollReportOutcome {
    NotModified,
    Fetched(PollSummary),
    /// The feed failed; the error is recorded on it.
    Failed(String),
    /// The store could not record the poll (disk full, database locked...). Nothing of this
    /// poll was written; the feed is tried again at its next poll.
    StoreFailed(String),
}

impl PollReport {
    /// Whether the poll changed what the outputs show.
    pub fn changed_items(&self) -> bool {
        matches!(&self.outcome, PollReportOutcome::Fetched(summary) if summary.new + summary.updated > 0)
    }
}

#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("fetch failed: {0}")]
    Fetch(#[from] fetch::FetchError),
    #[error("parse failed: {0}")]
    Parse(#[from] crate::parse::ParseError),
}

impl FeedError {
    fn status(&self) -> Option<u16> {
        match self {
            FeedError::Fetch(error) => error.status(),
            FeedError::Parse(_) => None,
        }
    }
}

/// Polls one feed once and records the result.
pub async fn poll_feed(context: &PollContext, feed: &FeedConfig, feed_id: FeedId) -> PollReport {
    let attempted_at = Utc::now();
    let state = match run_blocking(&context.store, move |store| store.feed_row(feed_id)).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            return store_failed(
                feed,
                feed_id,
                attempted_at,
                "the feed is not in the store".into(),
            );
        }
        Err(error) => return store_failed(feed, feed_id, attempted_at, error.to_string()),
    };
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let fetched = fetch::fetch(&context.client, &feed.url, &validators).await;
    let result = match fetched {
        Ok(FetchOutcome::NotModified { status }) => Ok(Fetched::NotModified { status }),
        Ok(FetchOutcome::Body(body)) => {
            let topics = Arc::clone(&context.topics);
            let url = feed.url.clone();
            // Parsing and matching are CPU work: keep them off the async threads.
            let processed = tokio::task::spawn_blocking(move || {
                let parsed = parse(
                    &body.body,
                    body.content_type.as_deref(),
                    body.final_url.as_str(),
                )?;
                let (meta, items) = normalize(&parsed, &url);
                let items: Vec<_> = items
                    .into_iter()
                    .map(|item| {
                        let matches: Vec<TopicMatch> = topics.match_text(&item.match_text);
                        (item, matches)
                    })
                    .collect();
                Ok::<_, FeedError>(Fetched::Body {
                    status: body.status,
                    validators: body.validators,
                    meta,
                    items,
                })
            })
            .await;
            match processed {
                Ok(result) => result,
                Err(join_error) => {
                    return store_failed(feed, feed_id, attempted_at, join_error.to_string());
                }
            }
        }
        Err(error) => Err(FeedError::from(error)),
    };
    record(context, feed, &state, attempted_at, result).await
}

enum Fetched {
    NotModified {
        status: u16,
    },
    Body {
        status: u16,
        validators: Validators,
        meta: crate::model::FeedMeta,
        items: Vec<(crate::model::Item, Vec<TopicMatch>)>,
    },
}

async fn record(
    context: &PollContext,
    feed: &FeedConfig,
    state: &FeedRow,
    attempted_at: DateTime<Utc>,
    result: Result<Fetched, FeedError>,
) -> PollReport {
    let outcome = match &result {
        Ok(_) => PollOutcome::Success,
        Err(_) => PollOutcome::Failure {
            streak: state.error_streak.saturating_add(1),
        },
    };
    let next = next_poll(feed.interval, outcome, attempted_at);
    let feed_id = state.id;
    let name = state.display_name().to_string();
    let written = run_blocking(&context.store, move |store| {
        let result_for_store = match &result {
            Ok(Fetched::NotModified { status }) => PollResult::NotModified { status: *status },
            Ok(Fetched::Body {
                status,
                validators,
                meta,
                items,
            }) => PollResult::Fetched(FetchSuccess {
                status: *status,
                etag: validators.etag.clone(),
                last_modified: validators.last_modified.clone(),
                meta,
                items,
            }),
            Err(error) => PollResult::Failed(FetchFailure {
                status: error.status(),
                error: error.to_string(),
            }),
        };
        let summary = store.record_poll(&PollRecord {
            feed_id,
            attempted_at,
            result: result_for_store,
            next_poll: next.at,
            next_poll_reason: next.reason.to_string(),
        })?;
        Ok((summary, result))
    })
    .await;
    let outcome = match written {
        Ok((_, Ok(Fetched::NotModified { .. }))) => {
            info!(feed = %name, url = %feed.url, "not modified");
            PollReportOutcome::NotModified
        }
        Ok((summary, Ok(Fetched::Body { items, .. }))) => {
            info!(
                feed = %name,
                url = %feed.url,
                items = items.len(),
                new = summary.new,
                updated = summary.updated,
                "polled"
            );
            PollReportOutcome::Fetched(summary)
        }
        Ok((_, Err(error))) => {
            warn!(
                feed = %name,
                url = %feed.url,
                error = %error,
                streak = outcome_streak(outcome),
                retry_in = %crate::config::format_duration(next.delay),
                "poll failed"
            );
            PollReportOutcome::Failed(error.to_string())
        }
        Err(error) => {
            return store_failed(feed, feed_id, attempted_at, error.to_string());
        }
    };
    PollReport {
        feed_id,
        outcome,
        next_poll: next,
    }
}

fn outcome_streak(outcome: PollOutcome) -> u32 {
    match outcome {
        PollOutcome::Success => 0,
        PollOutcome::Failure { streak } => streak,
    }
}

/// A poll whose result could not be written: logged, and retried after the usual backoff
/// for a first failure.
fn store_failed(
    feed: &FeedConfig,
    feed_id: FeedId,
    attempted_at: DateTime<Utc>,
    error: String,
) -> PollReport {
    warn!(feed = %feed.display_name(), url = %feed.url, error = %error, "cannot record the poll");
    PollReport {
        feed_id,
        outcome: PollReportOutcome::StoreFailed(error),
        next_poll: next_poll(
            feed.interval,
            PollOutcome::Failure { streak: 1 },
            attempted_at,
        ),
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
