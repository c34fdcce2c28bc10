//! Feeds and their fetch state: validators, last attempt and success, last status or error,
//! error streak, next poll and why then.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::items::{self, PollSummary};
use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{FeedId, FeedMeta, Item, TopicMatch};

/// A feed as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    pub id: FeedId,
    pub url: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub active: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub error_streak: u32,
    pub next_poll: Option<DateTime<Utc>>,
    pub next_poll_reason: Option<String>,
    pub item_count: u64,
}

impl FeedRow {
    /// The name people see: from `feeds.toml`, else the feed's own title, else its URL.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.title.as_deref())
            .unwrap_or(&self.url)
    }
}

/// What one poll of one feed came to, written in one transaction.
#[derive(Debug)]
pub struct PollRecord<'a> {
    pub feed_id: FeedId,
    pub attempted_at: DateTime<Utc>,
    pub result: PollResult<'a>,
    pub next_poll: DateTime<Utc>,
    pub next_poll_reason: String,
}

#[derive(Debug)]
pub enum PollResult<'a> {
    /// `304 Not Modified`: only the fetch state changes.
    NotModified {
        status: u16,
    },
    Fetched(FetchSuccess<'a>),
    Failed(FetchFailure),
}

#[derive(Debug)]
pub struct FetchSuccess<'a> {
    pub status: u16,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub meta: &'a FeedMeta,
    pub items: &'a [(Item, Vec<TopicMatch>)],
}

#[derive(Debug, Clone)]
pub struct FetchFailure {
    pub status: Option<u16>,
    pub error: String,
}

const FEED_COLUMNS: &str = "f.id, f.url, f.name, f.title, f.active, f.etag, f.last_modified, \
     f.last_attempt, f.last_success, f.last_status, f.last_error, f.error_streak, f.next_poll, \
     f.next_poll_reason, (SELECT count(*) FROM items i WHERE i.feed_id = f.id)";

fn feed_row(row: &Row<'_>) -> rusqlite::Result<FeedRow> {
    Ok(FeedRow {
        id: FeedId(row.get(0)?),
        url: row.get(1)?,
        name: row.get(2)?,
        title: row.get(3)?,
        active: row.get(4)?,
        etag: row.get(5)?,
        last_modified: row.get(6)?,
        last_attempt: row.get::<_, Option<i64>>(7)?.map(from_unix),
        last_success: row.get::<_, Option<i64>>(8)?.map(from_unix),
        last_status: row.get(9)?,
        last_error: row.get(10)?,
        error_streak: row.get(11)?,
        next_poll: row.get::<_, Option<i64>>(12)?.map(from_unix),
        next_poll_reason: row.get(13)?,
        item_count: u64::try_from(row.get::<_, i64>(14)?).unwrap_or(0),
    })
}

impl Store {
    /// Makes the stored feeds match the config: adds new URLs, refreshes names, and marks
    /// feeds that left the config inactive (their items leave the outputs but stay stored, so
    /// putting a feed back loses nothing). Returns the active feeds in the order given.
    pub fn sync_feeds(&self, feeds: &[(&str, Option<&str>)]) -> Result<Vec<FeedRow>, StoreError> {
        let mut connection = self.writer()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute("UPDATE feeds SET active = 0", [])?;
        for (url, name) in feeds {
            transaction.execute(
                "INSERT INTO feeds (url, name, active) VALUES (?1, ?2, 1)
                 ON CONFLICT (url) DO UPDATE SET name = excluded.name, active = 1",
                params![url, name],
            )?;
        }
        let mut rows = Vec::with_capacity(feeds.len());
        {
            let mut statement = transaction.prepare(&format!(
                "SELECT {FEED_COLUMNS} FROM feeds f WHERE f.url = ?1"
            ))?;
            for (url, _) in feeds {
                rows.push(statement.query_row([url], feed_row)?);
            }
        }
        transaction.commit()?;
        Ok(rows)
    }

    /// Every feed, active first, by name.
    pub fn feed_rows(&self) -> Result<Vec<FeedRow>, StoreError> {
        let connection = self.reader()?;
        let mut statement = connection.prepare(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds f ORDER BY f.active DESC, \
             lower(COALESCE(f.name, f.title, f.url))"
        ))?;
        let rows = statement
            .query_map([], feed_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn feed_row(&self, id: FeedId) -> Result<Option<FeedRow>, StoreError> {
        let connection = self.reader()?;
        Ok(connection
            .query_row(
                &format!("SELECT {FEED_COLUMNS} FROM feeds f WHERE f.id = ?1"),
                [id.0],
                feed_row,
            )
            .optional()?)
    }

    /// Writes one poll: fetch state, items and their topic matches, in one transaction, so a
    /// crash leaves either all of it or none of it.
    pub fn record_poll(&self, record: &PollRecord<'_>) -> Result<PollSummary, StoreError> {
        let mut connection = self.writer()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let attempted = to_unix(record.attempted_at);
        let next_poll = to_unix(record.next_poll);
        let summary = match &record.result {
            PollResult::NotModified { status } => {
                transaction.execute(
                    "UPDATE feeds SET last_attempt = ?2, last_success = ?2, last_status = ?3,
                        last_error = NULL, error_streak = 0, next_poll = ?4, next_poll_reason = ?5
                     WHERE id = ?1",
                    params![
                        record.feed_id.0,
                        attempted,
                        status,
                        next_poll,
                        record.next_poll_reason
                    ],
                )?;
                PollSummary::default()
            }
            PollResult::Fetched(success) => {
                let feed_url: String = transaction.query_row(
                    "SELECT url FROM feeds WHERE id = ?1",
                    [record.feed_id.0],
                    |row| row.get(0),
                )?;
                let summary = items::upsert_items_in(
                    &transaction,
                    record.feed_id,
                    &feed_url,
                    success.items,
                    record.attempted_at,
                )?;
                transaction.execute(
                    "UPDATE feeds SET last_attempt = ?2, last_success = ?2, last_status = ?3,
                        last_error = NULL, error_streak = 0, next_poll = ?4, next_poll_reason = ?5,
                        etag = ?6, last_modified = ?7,
                        title = COALESCE(?8, title), site_link = COALESCE(?9, site_link)
                     WHERE id = ?1",
                    params![
                        record.feed_id.0,
                        attempted,
                        success.status,
                        next_poll,
                        record.next_poll_reason,
                        success.etag,
                        success.last_modified,
                        success.meta.title,
                        success.meta.site_link,
                    ],
                )?;
                summary
            }
            PollResult::Failed(failure) => {
                transaction.execute(
                    "UPDATE feeds SET last_attempt = ?2, last_status = ?3, last_error = ?4,
                        error_streak = error_streak + 1, next_poll = ?5, next_poll_reason = ?6
                     WHERE id = ?1",
                    params![
                        record.feed_id.0,
                        attempted,
                        failure.status,
                        failure.error,
                        next_poll,
                        record.next_poll_reason
                    ],
                )?;
                PollSummary::default()
            }
        };
        transaction.commit()?;
        Ok(summary)
    }
}
