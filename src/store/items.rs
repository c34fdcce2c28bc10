//! Items and their topic matches: insert new ones, update edited ones in place, and read them
//! back newest first for the output feeds.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{Cursor, FeedId, Item, OutputEntry, TopicMatch};

/// What one poll did to the items of its feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollSummary {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// The published id of an item: a hash of where it came from and its key.
fn entry_id(feed_url: &str, item_key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(feed_url.as_bytes());
    hasher.update([0u8]);
    hasher.update(item_key.as_bytes());
    let digest = hex::encode(hasher.finalize());
    format!("urn:tidings:item:{}", &digest[..32])
}

/// The time an item sorts by: its own date, but never later than now (a date in the future is
/// a clock or time-zone error at the source, and would pin the item to the top).
fn sort_time(item: &Item, first_seen: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    item.published
        .or(item.updated)
        .unwrap_or(first_seen)
        .min(now)
}

fn terms_json(topic_match: &TopicMatch) -> String {
    serde_json::to_string(&topic_match.terms).unwrap_or_else(|_| "[]".to_string())
}

/// Inserts new items, updates edited ones, and brings topic matches up to date, inside the
/// caller's transaction.
pub(super) fn upsert_items_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    feed_url: &str,
    items: &[(Item, Option<Vec<TopicMatch>>)],
    now: DateTime<Utc>,
) -> Result<PollSummary, StoreError> {
    let mut summary = PollSummary::default();
    let mut find = transaction.prepare_cached(
        "SELECT id, content_hash, first_seen FROM items WHERE feed_id = ?1 AND item_key = ?2",
    )?;
    let mut insert = transaction.prepare_cached(
        "INSERT INTO items (feed_id, item_key, entry_id, guid, link, title, summary, content,
             author, published, updated, first_seen, changed_at, sort_time, content_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14)",
    )?;
    let mut update = transaction.prepare_cached(
        "UPDATE items SET guid = ?2, link = ?3, title = ?4, summary = ?5, content = ?6,
             author = ?7, published = ?8, updated = ?9, changed_at = ?10, sort_time = ?11,
             content_hash = ?12
         WHERE id = ?1",
    )?;
    for (item, matches) in items {
        let Some(matches) = matches else {
            summary.unchanged += 1;
            continue;
        };
        let key = item.key.to_storage_string();
        let existing: Option<(i64, String, i64)> = find
            .query_row(params![feed_id.0, key], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        let (item_id, is_new) = match existing {
            None => {
                insert.execute(params![
                    feed_id.0,
                    key,
                    entry_id(feed_url, &key),
                    item.guid,
                    item.link,
                    item.title,
                    item.summary,
                    item.content,
                    item.author,
                    item.published.map(to_unix),
                    item.updated.map(to_unix),
                    to_unix(now),
                    to_unix(sort_time(item, now, now)),
                    item.content_hash,
                ])?;
                summary.new += 1;
                (transaction.last_insert_rowid(), true)
            }
            Some((item_id, stored_hash, first_seen)) if stored_hash != item.content_hash => {
                update.execute(params![
                    item_id,
                    item.guid,
                    item.link,
                    item.title,
                    item.summary,
                    item.content,
                    item.author,
                    item.published.map(to_unix),
                    item.updated.map(to_unix),
                    to_unix(now),
                    to_unix(sort_time(item, from_unix(first_seen), now)),
                    item.content_hash,
                ])?;
                summary.updated += 1;
                (item_id, false)
            }
            Some((item_id, _, _)) => {
                summary.unchanged += 1;
                (item_id, false)
            }
        };
        if is_new {
            insert_matches_in(transaction, item_id, matches)?;
        } else {
            replace_matches_in(transaction, item_id, matches)?;
        }
    }
    Ok(summary)
}

/// Makes the stored matches of one item equal `matches`, writing only when they differ, so an
/// unchanged poll costs reads only.
fn replace_matches_in(
    transaction: &rusqlite::Connection,
    item_id: i64,
    matches: &[TopicMatch],
) -> Result<bool, StoreError> {
    let mut select =
        transaction.prepare_cached("SELECT topic, terms FROM item_topics WHERE item_id = ?1")?;
    let stored: BTreeMap<String, String> = select
        .query_map([item_id], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let wanted: BTreeMap<String, String> = matches
        .iter()
        .map(|topic_match| (topic_match.topic.0.clone(), terms_json(topic_match)))
        .collect();
    if stored == wanted {
        return Ok(false);
    }
    transaction
        .prepare_cached("DELETE FROM item_topics WHERE item_id = ?1")?
        .execute([item_id])?;
    insert_matches_in(transaction, item_id, matches)?;
    Ok(true)
}

/// Stores the matches of an item that has none yet.
fn insert_matches_in(
    transaction: &rusqlite::Connection,
    item_id: i64,
    matches: &[TopicMatch],
) -> Result<(), StoreError> {
    if matches.is_empty() {
        return Ok(());
    }
    let mut insert = transaction
        .prepare_cached("INSERT INTO item_topics (item_id, topic, terms) VALUES (?1, ?2, ?3)")?;
    for topic_match in matches {
        insert.execute(params![
            item_id,
            topic_match.topic.0,
            terms_json(topic_match)
        ])?;
    }
    Ok(())
}

impl Store {
    /// The key and content hash of every stored item of a feed, so a poll can tell which of
    /// its items are unchanged before it does any work on them.
    pub fn item_hashes(&self, feed_id: FeedId) -> Result<HashMap<String, String>, StoreError> {
        let connection = self.reader()?;
        let mut statement = connection
            .prepare_cached("SELECT item_key, content_hash FROM items WHERE feed_id = ?1")?;
        let hashes = statement
            .query_map([feed_id.0], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(hashes)
    }

    /// The newest `limit` entries of active feeds, of one topic or (`None`) of all.
    pub fn entries(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutputEntry>, StoreError> {
        Ok(self.entries_page(topic, None, limit)?.0)
    }

    /// One page of an output feed: the newest `limit` entries older than `before` (all when
    /// `None`), of one topic or (`None`) of all, and the cursor of the next page when there
    /// are older entries still.
    pub fn entries_page(
        &self,
        topic: Option<&str>,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<OutputEntry>, Option<Cursor>), StoreError> {
        let connection = self.reader()?;
        let topic_filter = if topic.is_some() {
            "AND i.id IN (SELECT item_id FROM item_topics WHERE topic = ?2)"
        } else {
            "AND ?2 IS NULL"
        };
        let sql = format!(
            "SELECT i.entry_id, i.guid, i.link, i.title, i.summary, i.content, i.author,
                    i.published, i.updated, i.first_seen, i.changed_at, i.sort_time,
                    f.url, COALESCE(f.name, f.title, f.url), f.site_link,
                    (SELECT group_concat(t.topic, ' ') FROM item_topics t WHERE t.item_id = i.id),
                    i.id
             FROM items i JOIN feeds f ON f.id = i.feed_id
             WHERE f.active = 1 {topic_filter}
               AND (?3 IS NULL OR i.sort_time < ?3 OR (i.sort_time = ?3 AND i.id < ?4))
             ORDER BY i.sort_time DESC, i.id DESC
             LIMIT ?1"
        );
        let mut statement = connection.prepare_cached(&sql)?;
        // One more than asked, to know whether there is a next page.
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = statement.query_map(
            params![
                fetch,
                topic,
                before.map(|cursor| cursor.sort_time),
                before.map_or(0, |cursor| cursor.row)
            ],
            |row| {
                let published: Option<i64> = row.get(7)?;
                let source_updated: Option<i64> = row.get(8)?;
                let first_seen: i64 = row.get(9)?;
                let changed_at: i64 = row.get(10)?;
                let sort_time: i64 = row.get(11)?;
                // An item edited at its source was updated when we saw the edit, unless the
                // source says a later time; otherwise its own date stands.
                let own = source_updated.unwrap_or(sort_time);
                let updated = if changed_at > first_seen {
                    own.max(changed_at)
                } else {
                    own
                };
                let topics: Option<String> = row.get(15)?;
                Ok(OutputEntry {
                    entry_id: row.get(0)?,
                    guid: row.get(1)?,
                    link: row.get(2)?,
                    title: row.get(3)?,
                    summary: row.get(4)?,
                    content: row.get(5)?,
                    author: row.get(6)?,
                    published: published.map(from_unix),
                    updated: from_unix(updated),
                    source_url: row.get(12)?,
                    source_title: row.get(13)?,
                    source_link: row.get(14)?,
                    topics: topics
                        .map(|topics| topics.split(' ').map(str::to_string).collect())
                        .unwrap_or_default(),
                    position: Cursor {
                        sort_time,
                        row: row.get(16)?,
                    },
                })
            },
        )?;
        let mut entries = rows.collect::<Result<Vec<_>, _>>()?;
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|entry| entry.position)
        } else {
            None
        };
        Ok((entries, next))
    }

    /// Re-matches every stored item with `match_item` (given its title, summary and content)
    /// when the stored matches were made with
    /// other topics than `fingerprint` says, and writes the matches that changed. So a new or
    /// edited topic has its history at once, a removed one is gone from the outputs, and a
    /// start with unchanged topics costs one read. Returns how many items changed, or `None`
    /// when the topics had not changed.
    pub fn rematch_if_changed(
        &self,
        fingerprint: &str,
        match_item: impl Fn(&str, Option<&str>, Option<&str>) -> Vec<TopicMatch>,
    ) -> Result<Option<usize>, StoreError> {
        let mut connection = self.writer()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<String> = transaction
            .query_row(
                "SELECT value FROM meta WHERE key = 'topics_fingerprint'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        if stored.as_deref() == Some(fingerprint) {
            return Ok(None);
        }
        let mut changed = 0;
        {
            let mut select =
                transaction.prepare("SELECT id, title, summary, content FROM items")?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let item_id: i64 = row.get(0)?;
                let title: String = row.get(1)?;
                let summary: Option<String> = row.get(2)?;
                let content: Option<String> = row.get(3)?;
                let matches = match_item(&title, summary.as_deref(), content.as_deref());
                if replace_matches_in(&transaction, item_id, &matches)? {
                    changed += 1;
                }
            }
        }
        transaction.execute(
            "INSERT INTO meta (key, value) VALUES ('topics_fingerprint', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [fingerprint],
        )?;
        transaction.commit()?;
        self.changed();
        Ok(Some(changed))
    }

    /// How many items of active feeds each topic holds.
    pub fn topic_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let connection = self.reader()?;
        let mut statement = connection.prepare_cached(
            "SELECT t.topic, count(*) FROM item_topics t
             JOIN items i ON i.id = t.item_id JOIN feeds f ON f.id = i.feed_id
             WHERE f.active = 1 GROUP BY t.topic",
        )?;
        let counts = statement
            .query_map([], |row| {
                let count: i64 = row.get(1)?;
                Ok((row.get(0)?, u64::try_from(count).unwrap_or(0)))
            })?
            .collect::<Result<_, _>>()?;
        Ok(counts)
    }
}
