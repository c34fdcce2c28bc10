//! Items and their topic matches: insert new ones, update edited ones in place, and read them
//! back newest first for the output feeds.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::stories::{self, Keys, Placement, Placing};
use super::{Store, StoreError, from_unix, to_unix};
use crate::model::{Cursor, FeedId, Item, ItemKey, OtherSource, OutputEntry, TopicMatch};

/// The most other sources listed under one entry.
const MAX_OTHER_SOURCES: usize = 50;

/// How output entries are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One entry per story: near-duplicates from different outlets are one entry
    /// (`settings.group_stories = true`, the default).
    Stories,
    /// One entry per item: only the same canonical link at several sources is one entry.
    Links,
}

impl Grouping {
    fn column(self) -> &'static str {
        match self {
            Grouping::Stories => "story",
            Grouping::Links => "link_group",
        }
    }
}

/// A stored item as topics see it when they are matched again: its feed (the URL as
/// configured), its plain-text title and its HTML summary and content.
#[derive(Debug, Clone, Copy)]
pub struct StoredText<'a> {
    pub feed_url: &'a str,
    pub title: &'a str,
    pub summary: Option<&'a str>,
    pub content: Option<&'a str>,
}

/// A stored item as `tidings explain` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundItem {
    pub entry_id: String,
    pub guid: Option<String>,
    pub link: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    /// The feed's URL as configured, and its name (or title, or URL).
    pub feed_url: String,
    pub feed_name: String,
    /// The topics stored for it, with the terms that matched.
    pub topics: Vec<TopicMatch>,
}

/// What one poll did to the items of its feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollSummary {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Of the new items: those another source already carried under the same canonical link
    /// (one item with one more source).
    pub duplicates: usize,
    /// Of the new items: those that joined another outlet's story.
    pub grouped: usize,
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
    let terms: Vec<&str> = topic_match.terms.iter().collect();
    serde_json::to_string(&terms).unwrap_or_else(|_| "[]".to_string())
}

/// Inserts new items, updates edited ones, and brings topic matches up to date, inside the
/// caller's transaction.
pub(super) fn upsert_items_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    feed_url: &str,
    items: &[(Item, Option<Vec<TopicMatch>>)],
    now: DateTime<Utc>,
    placing: &mut Placing,
) -> Result<PollSummary, StoreError> {
    let mut summary = PollSummary::default();
    let mut find = transaction.prepare_cached(
        "SELECT id, content_hash, first_seen, story_words FROM items
         WHERE feed_id = ?1 AND item_key = ?2",
    )?;
    let mut find_by_link = transaction.prepare_cached(
        "SELECT id, content_hash, first_seen, story_words FROM items
         WHERE feed_id = ?1 AND link_key = ?2 AND item_key LIKE 'link:%' ORDER BY id LIMIT 1",
    )?;
    // A new row's id is chosen here, as SQLite would (one past the largest), so the row is
    // written once with its link group and story, which are its own id when it is alone. It
    // is read when the poll's first new item is written and counted on from there: only this
    // transaction writes items.
    let mut next_id: Option<i64> = None;
    let mut insert = transaction.prepare_cached(
        "INSERT INTO items (id, feed_id, item_key, entry_id, guid, link, title, summary, content,
             author, published, updated, first_seen, changed_at, sort_time, content_hash,
             link_key, story_words, link_group, story)
         VALUES (?17, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15,
             ?16, ?18, ?19)",
    )?;
    let mut update = transaction.prepare_cached(
        "UPDATE items SET guid = ?2, link = ?3, title = ?4, summary = ?5, content = ?6,
             author = ?7, published = ?8, updated = ?9, changed_at = ?10, sort_time = ?11,
             content_hash = ?12, link_key = ?13, story_words = ?14
         WHERE id = ?1",
    )?;
    for (item, matches) in items {
        let Some(matches) = matches else {
            summary.unchanged += 1;
            continue;
        };
        let key = item.key.to_storage_string();
        let mut existing: Option<(i64, String, i64, Option<String>)> = find
            .query_row(params![feed_id.0, key], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?;
        if existing.is_none()
            && let (ItemKey::Link(_), Some(link_key)) = (&item.key, &item.link_key)
        {
            // An item known by its link alone is the same item when its link only changed
            // in what canonical links ignore (a campaign tag that differs per poll, the
            // scheme, `www.`): the feed's item found by canonical link is updated.
            existing = find_by_link
                .query_row(params![feed_id.0, link_key], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()?;
        }
        let (item_id, is_new) = match existing {
            None => {
                let time = to_unix(sort_time(item, now, now));
                let place =
                    stories::place_new_item(transaction, feed_id, Keys::of(item), time, placing)?;
                let item_id = match next_id {
                    Some(id) => id,
                    None => stories::newest_item(transaction)? + 1,
                };
                next_id = Some(item_id + 1);
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
                    time,
                    item.content_hash,
                    item.link_key,
                    item.story.as_ref().map(|story| &story.words),
                    item_id,
                    place.link_group.unwrap_or(item_id),
                    place.story.unwrap_or(item_id),
                ])?;
                placing.index_bands(transaction, item_id, item.story.as_ref(), time)?;
                placing.added(
                    item_id,
                    feed_id,
                    place.story.unwrap_or(item_id),
                    time,
                    item.story.as_ref(),
                );
                summary.new += 1;
                match place.placement {
                    Placement::Alone => {}
                    Placement::SameLink => summary.duplicates += 1,
                    Placement::Story => summary.grouped += 1,
                }
                (item_id, true)
            }
            Some((item_id, stored_hash, first_seen, stored_words))
                if stored_hash != item.content_hash =>
            {
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
                    item.link_key,
                    item.story.as_ref().map(|story| &story.words),
                ])?;
                // An edited item stays in its item and story (its entry id is fixed), but
                // later items are compared with what it says now.
                let time = to_unix(sort_time(item, from_unix(first_seen), now));
                placing.edited(
                    transaction,
                    item_id,
                    time,
                    stored_words.as_deref(),
                    item.story.as_ref(),
                )?;
                summary.updated += 1;
                (item_id, false)
            }
            Some((item_id, _, _, _)) => {
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
        .map(|topic_match| (topic_match.topic.0.to_string(), terms_json(topic_match)))
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

    /// The newest `limit` entries of active feeds, of one topic or (`None`) of all, one per
    /// story (`entries_grouped` with `Grouping::Stories`).
    pub fn entries(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutputEntry>, StoreError> {
        Ok(self.entries_page(topic, None, limit, Grouping::Stories)?.0)
    }

    /// The newest `limit` entries of active feeds, of one topic or (`None`) of all, grouped
    /// as `grouping` says (see `entries_page`).
    pub fn entries_grouped(
        &self,
        topic: Option<&str>,
        limit: usize,
        grouping: Grouping,
    ) -> Result<Vec<OutputEntry>, StoreError> {
        Ok(self.entries_page(topic, None, limit, grouping)?.0)
    }

    /// One page of an output feed: the newest `limit` entries older than `before` (all when
    /// `None`), of one topic or (`None`) of all, and the cursor of the next page when there
    /// are older entries still. One entry per story (or per item, with `Grouping::Links`): the
    /// earliest stored version of it that an active feed holds, listing the other sources'
    /// versions in `other_sources`.
    pub fn entries_page(
        &self,
        topic: Option<&str>,
        before: Option<Cursor>,
        limit: usize,
        grouping: Grouping,
    ) -> Result<(Vec<OutputEntry>, Option<Cursor>), StoreError> {
        let connection = self.reader()?;
        let walk_time = match topic {
            Some(topic) => topic_is_dense(&connection, topic)?,
            None => false,
        };
        let sql = page_sql(topic.is_some(), walk_time, grouping);
        let group = grouping.column();
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
                let entry = OutputEntry {
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
                    other_sources: Vec::new(),
                };
                Ok((entry, row.get::<_, i64>(16)?, row.get::<_, i64>(17)?))
            },
        )?;
        let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(entry, _, _)| entry.position)
        } else {
            None
        };
        let mut others = connection.prepare_cached(&format!(
            "SELECT i.link, i.title, COALESCE(f.name, f.title, f.url), i.first_seen
             FROM items i JOIN feeds f ON f.id = i.feed_id
             WHERE i.{group} = ?1 AND i.id != ?2 AND f.active = 1
             ORDER BY i.id LIMIT {MAX_OTHER_SOURCES}"
        ))?;
        let mut entries = Vec::with_capacity(rows.len());
        for (mut entry, item_id, group_id) in rows {
            let mut latest = None;
            let found = others.query_map(params![group_id, item_id], |row| {
                Ok((
                    OtherSource {
                        link: row.get(0)?,
                        title: row.get(1)?,
                        source_title: row.get(2)?,
                    },
                    row.get::<_, i64>(3)?,
                ))
            })?;
            for other in found {
                let (other, first_seen) = other?;
                latest = latest.max(Some(first_seen));
                entry.other_sources.push(other);
            }
            // A version from another outlet changes what the entry shows: it is an update.
            if let Some(latest) = latest.map(from_unix) {
                entry.updated = entry.updated.max(latest);
            }
            entries.push(entry);
        }
        Ok((entries, next))
    }

    /// Re-matches every stored item with `match_item` (given its feed's URL, title, summary
    /// and content) when the stored matches were made with other topics than `fingerprint`
    /// says, and writes the matches that changed. So a new or edited topic has its history at
    /// once, a removed one is gone from the outputs, and a start with unchanged topics costs
    /// one read. Returns how many items changed, or `None` when the topics had not changed.
    pub fn rematch_if_changed(
        &self,
        fingerprint: &str,
        match_item: impl Fn(&StoredText<'_>) -> Vec<TopicMatch>,
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
            let mut select = transaction.prepare(
                "SELECT i.id, f.url, i.title, i.summary, i.content
                 FROM items i JOIN feeds f ON f.id = i.feed_id",
            )?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let item_id: i64 = row.get(0)?;
                let feed_url: String = row.get(1)?;
                let title: String = row.get(2)?;
                let summary: Option<String> = row.get(3)?;
                let content: Option<String> = row.get(4)?;
                let matches = match_item(&StoredText {
                    feed_url: &feed_url,
                    title: &title,
                    summary: summary.as_deref(),
                    content: content.as_deref(),
                });
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

    /// The stored items whose published entry id, original guid/id or link is `key`, with
    /// their feed and stored topic matches (for `tidings explain`). Several when one link
    /// came from several feeds.
    pub fn find_items(&self, key: &str) -> Result<Vec<FoundItem>, StoreError> {
        let connection = self.reader()?;
        let mut statement = connection.prepare_cached(
            "SELECT i.id, i.entry_id, i.guid, i.link, i.title, i.summary, i.content,
                    f.url, COALESCE(f.name, f.title, f.url)
             FROM items i JOIN feeds f ON f.id = i.feed_id
             WHERE i.entry_id = ?1 OR i.guid = ?1 OR i.link = ?1
             ORDER BY i.id",
        )?;
        let mut found: Vec<(i64, FoundItem)> = statement
            .query_map([key.trim()], |row| {
                Ok((
                    row.get(0)?,
                    FoundItem {
                        entry_id: row.get(1)?,
                        guid: row.get(2)?,
                        link: row.get(3)?,
                        title: row.get(4)?,
                        summary: row.get(5)?,
                        content: row.get(6)?,
                        feed_url: row.get(7)?,
                        feed_name: row.get(8)?,
                        topics: Vec::new(),
                    },
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut topics = connection.prepare_cached(
            "SELECT topic, terms FROM item_topics WHERE item_id = ?1 ORDER BY topic",
        )?;
        for (item_id, item) in &mut found {
            item.topics = topics
                .query_map([*item_id], |row| {
                    let terms: String = row.get(1)?;
                    Ok(TopicMatch {
                        topic: crate::model::TopicSlug(row.get(0)?),
                        terms: serde_json::from_str::<Vec<String>>(&terms)
                            .unwrap_or_default()
                            .into_iter()
                            .collect(),
                    })
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok(found.into_iter().map(|(_, item)| item).collect())
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

/// The query of `entries_page`: `?1` the number of rows, `?2` the topic (`NULL` for all),
/// `?3` and `?4` the cursor (`NULL` for the first page). `walk_time` says the topic is dense
/// (`topic_is_dense`).
///
/// It walks the items newest first, tests each against the topic, then checks that the item
/// is the first of its group (`items_by_story`, `items_by_link_group`) that the output holds.
/// The order matters: the group check walks all the group's versions, and a story of
/// boilerplate text has hundreds. Inside the group check the topic test is an `EXISTS` (a
/// primary-key probe; an `IN (list)` there was built again for every outer row, and a page
/// of a store of 20,000 items took 10 s instead of 30 ms). On the walked item it is a scalar
/// subquery instead: SQLite turns an `EXISTS` there into a join placed after the group
/// check, which then ran for every item walked, in the topic or not (a `north-korea` page of
/// 10,000 feeds took 140 ms instead of 3 ms). A sparse topic is read from its list instead
/// of walking the time index.
pub(super) fn page_sql(topic_given: bool, walk_time: bool, grouping: Grouping) -> String {
    // The topic test of a version inside the group check.
    const IN_TOPIC_J: &str =
        "AND EXISTS (SELECT 1 FROM item_topics jt WHERE jt.item_id = j.id AND jt.topic = ?2)";
    let (outer, inner) = match (topic_given, walk_time) {
        (false, _) => ("AND ?2 IS NULL", "AND ?2 IS NULL"),
        (true, false) => (
            "AND i.id IN (SELECT item_id FROM item_topics WHERE topic = ?2)",
            IN_TOPIC_J,
        ),
        (true, true) => (
            "AND (SELECT 1 FROM item_topics it
                  WHERE it.item_id = i.id AND it.topic = ?2) IS NOT NULL",
            IN_TOPIC_J,
        ),
    };
    let group = grouping.column();
    // An entry is the first item of its group that this feed holds; the subquery walks the
    // group's index.
    format!(
        "SELECT i.entry_id, i.guid, i.link, i.title, i.summary, i.content, i.author,
                i.published, i.updated, i.first_seen, i.changed_at, i.sort_time,
                f.url, COALESCE(f.name, f.title, f.url), f.site_link,
                (SELECT group_concat(t.topic, ' ') FROM item_topics t WHERE t.item_id = i.id),
                i.id, i.{group}
         FROM items i JOIN feeds f ON f.id = i.feed_id
         WHERE f.active = 1 {outer}
           AND (?3 IS NULL OR i.sort_time < ?3 OR (i.sort_time = ?3 AND i.id < ?4))
           AND i.id = (SELECT min(j.id) FROM items j JOIN feeds g ON g.id = j.feed_id
                       WHERE j.{group} = i.{group} AND g.active = 1 {inner})
         ORDER BY i.sort_time DESC, i.id DESC
         LIMIT ?1"
    )
}

/// Whether a topic page should walk all items newest first, testing each for the topic, rather
/// than start from the topic's list of items. Walking finds a page of `limit` entries after
/// about `limit * items / topic_items` rows; the list costs every one of the topic's items,
/// each with a walk of its story (and a sort after). With 200,000 stored items and a topic
/// that matched 52,000 of them, the list took 0.9 s and the walk 7 ms; for a topic of a few
/// hundred items the list is the quick way. So the walk is taken when the topic holds more
/// than `sqrt(64 * items)` items (64 for a page of 50 and then some), counted only up to that
/// bound, so deciding costs a few thousand index steps at most. `max(id)` stands for the
/// number of items (an upper bound once items were pruned, which favours the list).
pub(super) fn topic_is_dense(
    connection: &rusqlite::Connection,
    topic: &str,
) -> Result<bool, StoreError> {
    let items: i64 = connection
        .prepare_cached("SELECT COALESCE(max(id), 0) FROM items")?
        .query_row([], |row| row.get(0))?;
    let bound = items.saturating_mul(64).max(0).isqrt() + 1;
    let listed: i64 = connection
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM item_topics WHERE topic = ?1 LIMIT ?2)",
        )?
        .query_row(params![topic, bound], |row| row.get(0))?;
    Ok(listed >= bound)
}
