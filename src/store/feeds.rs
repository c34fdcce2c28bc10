//! Feeds and their fetch state: validators, last attempt and success, last status or error,
//! error streak, where the feed moved, whether it is gone, next poll and why then.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Row, TransactionBehavior, params};

use super::items::{self, PollSummary};
use super::rawskip::{self, RawItems};
use super::stories::Placing;
use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{FeedId, FeedMeta, Item, TopicMatch};

/// A feed as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    pub id: FeedId,
    /// The URL as written in `feeds.toml`; the feed's identity.
    pub url: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub active: bool,
    pub state: FetchState,
    /// How many items the store holds of the feed: counted by `Store::feed_rows`, not by
    /// `Store::sync_feeds` (`None`), whose rows only drive polling.
    pub item_count: Option<u64>,
}

impl FeedRow {
    /// The name people see: from `feeds.toml`, else the feed's own title, else its URL.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.title.as_deref())
            .unwrap_or(&self.url)
    }

    /// Where to fetch the feed: where permanent redirects moved it, else its configured URL.
    pub fn fetch_url(&self) -> &str {
        self.state.fetch_url.as_deref().unwrap_or(&self.url)
    }
}

/// Everything the store keeps about how polling a feed went. A poll reads the previous state
/// in a `FeedRow` and writes the next one whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchState {
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// HTTP status of the last response.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub error_streak: u32,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Hash of the last body, to skip parsing an unchanged one from a server without
    /// validators.
    pub body_hash: Option<String>,
    /// Where permanent redirects moved the feed.
    pub fetch_url: Option<String>,
    /// A permanent redirect target seen on the last polls, and on how many in a row.
    pub redirect_target: Option<String>,
    pub redirect_streak: u32,
    /// Set when the feed answered 410 Gone; it is not polled while set.
    pub gone_since: Option<DateTime<Utc>>,
    pub changed_streak: u32,
    pub unchanged_streak: u32,
    /// The feed's own update period in seconds (`<ttl>`, `sy:updatePeriod`).
    pub feed_hint: Option<u64>,
    pub next_poll: Option<DateTime<Utc>>,
    pub next_poll_reason: Option<String>,
}

/// What one poll of one feed came to, written atomically: all of it or none of it.
#[derive(Debug)]
pub struct PollRecord {
    pub feed_id: FeedId,
    pub state: FetchState,
    /// The parsed document, when there was a new one.
    pub fetched: Option<FetchedItems>,
}

#[derive(Debug)]
pub struct FetchedItems {
    pub meta: FeedMeta,
    /// Each item with its topic matches; `None` for an item the store already holds with the
    /// same content (see `Store::item_hashes`), which is left as it is.
    pub items: Vec<(Item, Option<Vec<TopicMatch>>)>,
    /// The document's raw item hashes and the items left out of its parse (`RawItems`);
    /// `None` leaves the stored raw hashes as they are.
    pub raw: Option<RawItems>,
}

/// The columns `feed_row` reads, with `$count` for the item count.
macro_rules! feed_columns {
    ($count:literal) => {
        concat!(
            "f.id, f.url, f.name, f.title, f.active, ",
            $count,
            ", f.last_attempt, f.last_success, f.last_status, f.last_error, f.error_streak, \
             f.etag, f.last_modified, f.body_hash, f.fetch_url, f.redirect_target, \
             f.redirect_streak, f.gone_since, f.changed_streak, f.unchanged_streak, \
             f.feed_hint, f.next_poll, f.next_poll_reason"
        )
    };
}

/// Every column of a feed, its items counted (`feed_rows`: status, the index page, metrics).
const FEED_COLUMNS: &str = feed_columns!("(SELECT count(*) FROM items i WHERE i.feed_id = f.id)");
/// Every column of a feed but the item count, which polling does not need: counting the items
/// of 10,000 feeds took 20 to 45 ms of every start of `tidings poll` (`sync_feeds`).
const FEED_COLUMNS_UNCOUNTED: &str = feed_columns!("NULL");

fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    Ok(row.get::<_, Option<i64>>(index)?.map(from_unix))
}

fn feed_row(row: &Row<'_>) -> rusqlite::Result<FeedRow> {
    Ok(FeedRow {
        id: FeedId(row.get(0)?),
        url: row.get(1)?,
        name: row.get(2)?,
        title: row.get(3)?,
        active: row.get(4)?,
        item_count: row
            .get::<_, Option<i64>>(5)?
            .map(|count| u64::try_from(count).unwrap_or(0)),
        state: FetchState {
            last_attempt: time(row, 6)?,
            last_success: time(row, 7)?,
            last_status: row.get(8)?,
            last_error: row.get(9)?,
            error_streak: row.get(10)?,
            etag: row.get(11)?,
            last_modified: row.get(12)?,
            body_hash: row.get(13)?,
            fetch_url: row.get(14)?,
            redirect_target: row.get(15)?,
            redirect_streak: row.get(16)?,
            gone_since: time(row, 17)?,
            changed_streak: row.get(18)?,
            unchanged_streak: row.get(19)?,
            feed_hint: row
                .get::<_, Option<i64>>(20)?
                .and_then(|seconds| u64::try_from(seconds).ok()),
            next_poll: time(row, 21)?,
            next_poll_reason: row.get(22)?,
        },
    })
}

impl Store {
    /// Makes the stored feeds match the config: adds new URLs, refreshes names, and marks
    /// feeds that left the config inactive (their items leave the outputs but stay stored, so
    /// putting a feed back loses nothing). A feed put back after it had gone (410) is tried
    /// again. Returns the active feeds in the order given, their items not counted.
    pub fn sync_feeds(&self, feeds: &[(&str, Option<&str>)]) -> Result<Vec<FeedRow>, StoreError> {
        let mut connection = self.writer()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Every stored feed, read in one pass. A start with 1,000 feeds configured as before
        // ran three statements per feed (a temporary table of the configured URLs, an upsert
        // that changed nothing, a lookup); now it writes nothing and reads each row once.
        let mut stored: HashMap<String, FeedRow> = transaction
            .prepare(&format!("SELECT {FEED_COLUMNS_UNCOUNTED} FROM feeds f"))?
            .query_map([], feed_row)?
            .map(|row| row.map(|row| (row.url.clone(), row)))
            .collect::<Result<_, _>>()?;
        let configured: HashSet<&str> = feeds.iter().map(|(url, _)| *url).collect();
        let mut written: HashSet<&str> = HashSet::new();
        {
            // A feed whose row would not change is not written: a start with 10,000 feeds
            // configured as before rewrote every row (and its listed keys) for nothing.
            let mut upsert = transaction.prepare(
                "INSERT INTO feeds (url, name, active) VALUES (?1, ?2, 1)
                 ON CONFLICT (url) DO UPDATE SET name = excluded.name, active = 1,
                     gone_since = CASE WHEN feeds.active = 0 THEN NULL ELSE feeds.gone_since END
                 WHERE feeds.active = 0 OR feeds.name IS NOT excluded.name",
            )?;
            for (url, name) in feeds {
                let unchanged = stored
                    .get(*url)
                    .is_some_and(|row| row.active && row.name.as_deref() == *name);
                if !unchanged {
                    upsert.execute(params![url, name])?;
                    written.insert(url);
                }
            }
            let mut deactivate =
                transaction.prepare("UPDATE feeds SET active = 0 WHERE url = ?1 AND active = 1")?;
            for (url, row) in &stored {
                if row.active && !configured.contains(url.as_str()) {
                    deactivate.execute([url])?;
                }
            }
        }
        let mut rows = Vec::with_capacity(feeds.len());
        {
            let mut statement = transaction.prepare(&format!(
                "SELECT {FEED_COLUMNS_UNCOUNTED} FROM feeds f WHERE f.url = ?1"
            ))?;
            for (url, _) in feeds {
                let row = match stored.remove(*url) {
                    Some(row) if !written.contains(url) => row,
                    // Just written (or listed twice): read as it is now.
                    _ => statement.query_row([url], feed_row)?,
                };
                rows.push(row);
            }
        }
        transaction.commit()?;
        self.changed();
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

    /// Writes one poll: fetch state, items and their topic matches, in one transaction, so a
    /// crash leaves either all of it or none of it.
    pub fn record_poll(&self, record: &PollRecord) -> Result<PollSummary, StoreError> {
        let mut results = self.record_polls(std::slice::from_ref(record))?;
        results.pop().unwrap_or(Ok(PollSummary::default()))
    }

    /// Writes several polls in one transaction (group commit): a poll that cannot be written
    /// is rolled back alone and gets its error (the batch is then written again with a
    /// savepoint for each poll), the others are committed together with one sync to disk.
    /// An error of the whole transaction (the commit itself failing, say on a full disk) is
    /// returned as such, and nothing is written.
    pub fn record_polls(
        &self,
        records: &[PollRecord],
    ) -> Result<Vec<Result<PollSummary, StoreError>>, StoreError> {
        self.record_polls_before_more(records, &|| false)
    }

    /// `record_polls` when `more_waiting` tells, as the batch is about to commit, whether
    /// other polls wait to be written: band rows may then be held for a later batch
    /// (`stories::Placing::finish`).
    pub(super) fn record_polls_before_more(
        &self,
        records: &[PollRecord],
        more_waiting: &dyn Fn() -> bool,
    ) -> Result<Vec<Result<PollSummary, StoreError>>, StoreError> {
        let mut connection = self.writer()?;
        let mut placing = self.placing()?;
        // First the whole batch without savepoints: a savepoint copies every page a poll
        // changes into its journal, and polls that cannot be written are rare. Only when one
        // fails is the batch rolled back and written again, each poll in its own savepoint.
        {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            placing.begin(&transaction)?;
            let mut summaries = Vec::with_capacity(records.len());
            for record in records {
                match write_poll_in(&transaction, record, &mut placing) {
                    Ok(summary) => summaries.push(Ok(summary)),
                    Err(_) => break,
                }
            }
            // The band rows held back are written last; if they cannot be, the batch is
            // written again below, poll by poll.
            if summaries.len() == records.len()
                && placing.finish(&transaction, more_waiting()).is_ok()
            {
                if let Err(error) = transaction.commit() {
                    placing.forget();
                    return Err(error.into());
                }
                if records.iter().any(|record| record.fetched.is_some()) {
                    self.changed();
                }
                return Ok(summaries);
            }
        }
        // The copy of the band index took in what was just rolled back; the band rows it held
        // for earlier batches are written again first.
        placing.forget();
        let mut transaction =
            connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        placing.repair(&transaction)?;
        let mut results = Vec::with_capacity(records.len());
        for record in records {
            let savepoint = transaction.savepoint()?;
            match write_poll_in(&savepoint, record, &mut placing) {
                Ok(summary) => {
                    savepoint.commit()?;
                    results.push(Ok(summary));
                }
                Err(error) => {
                    // Dropping the savepoint rolls this poll back; the others stand.
                    drop(savepoint);
                    placing.forget();
                    if transaction.is_autocommit() {
                        // SQLite rolled the whole transaction back itself (it does so on a
                        // full disk or an I/O error): nothing of the batch was written.
                        return Err(error);
                    }
                    results.push(Err(error));
                }
            }
        }
        transaction.set_drop_behavior(rusqlite::DropBehavior::Rollback);
        if let Err(error) = placing
            .finish(&transaction, false)
            .and_then(|()| Ok(transaction.commit()?))
        {
            placing.forget();
            return Err(error);
        }
        if records.iter().any(|record| record.fetched.is_some()) {
            self.changed();
        }
        Ok(results)
    }
}

fn write_poll_in(
    transaction: &rusqlite::Connection,
    record: &PollRecord,
    placing: &mut Placing,
) -> Result<PollSummary, StoreError> {
    let state = &record.state;
    let summary = match &record.fetched {
        Some(fetched) => {
            // Tests stand in for a bug met while writing one poll.
            #[cfg(test)]
            if fetched
                .items
                .iter()
                .any(|(item, _)| item.title == super::tests::PANIC_IN_THE_WRITER)
            {
                panic!("a test's poll met a bug of the writer");
            }
            let feed_url: String = transaction
                .prepare_cached("SELECT url FROM feeds WHERE id = ?1")?
                .query_row([record.feed_id.0], |row| row.get(0))?;
            let mut summary = items::upsert_items_in(
                transaction,
                record.feed_id,
                &feed_url,
                &fetched.items,
                state.last_attempt.unwrap_or_else(Utc::now),
                placing,
            )?;
            transaction
                .prepare_cached(
                    "UPDATE feeds SET title = COALESCE(?2, title), site_link = COALESCE(?3, site_link)
                     WHERE id = ?1",
                )?
                .execute(params![record.feed_id.0, fetched.meta.title, fetched.meta.site_link])?;
            // What the source lists now, read or left out of the parse as known; retention
            // leaves these items alone.
            let skipped = fetched.raw.iter().flat_map(|raw| &raw.skipped);
            let listed: Vec<String> = fetched
                .items
                .iter()
                .map(|(item, _)| item.key.to_storage_string())
                .chain(skipped.cloned())
                .map(|key| key.replace('\n', " "))
                .collect();
            if let Some(raw) = &fetched.raw {
                rawskip::write_raw_items_in(transaction, record.feed_id, raw)?;
                // Left out of the parse because known: unchanged.
                summary.unchanged += raw.skipped.len();
            }
            transaction
                // An unchanged listing is not written again: the value is large, and most
                // re-polls list the same items.
                .prepare_cached(
                    "INSERT INTO feed_listed_keys (feed_id, keys) VALUES (?1, ?2)
                     ON CONFLICT (feed_id) DO UPDATE SET keys = excluded.keys
                     WHERE keys IS NOT excluded.keys",
                )?
                .execute(params![record.feed_id.0, listed.join("\n")])?;
            summary
        }
        None => PollSummary::default(),
    };
    transaction
        .prepare_cached(
            "UPDATE feeds SET last_attempt = ?2, last_success = ?3, last_status = ?4,
                last_error = ?5, error_streak = ?6, etag = ?7, last_modified = ?8, body_hash = ?9,
                fetch_url = ?10, redirect_target = ?11, redirect_streak = ?12, gone_since = ?13,
                changed_streak = ?14, unchanged_streak = ?15, feed_hint = ?16, next_poll = ?17,
                next_poll_reason = ?18
             WHERE id = ?1",
        )?
        .execute(params![
            record.feed_id.0,
            state.last_attempt.map(to_unix),
            state.last_success.map(to_unix),
            state.last_status,
            state.last_error,
            state.error_streak,
            state.etag,
            state.last_modified,
            state.body_hash,
            state.fetch_url,
            state.redirect_target,
            state.redirect_streak,
            state.gone_since.map(to_unix),
            state.changed_streak,
            state.unchanged_streak,
            state
                .feed_hint
                .and_then(|seconds| i64::try_from(seconds).ok()),
            state.next_poll.map(to_unix),
            state.next_poll_reason,
        ])?;
    Ok(summary)
}
