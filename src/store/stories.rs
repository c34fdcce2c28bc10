//! Placing a new item: the same canonical link at another source makes it one more source of
//! that item (its `link_group`); else a near-duplicate from another outlet within the story
//! window makes it one more version of that story (its `story`); else it starts both.
//!
//! Candidates come from the `story_bands` index (LSH band hashes with the item's time) and are
//! confirmed by `dedupe::same_story`, so a poll reads a handful of rows per new item, never
//! every recent item. Items of one feed are never grouped with each other: a feed's own items
//! are distinct by its identity rule, and a story holds at most one item per feed.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError};
use crate::dedupe::{WINDOW_SECONDS, same_story};
use crate::model::{FeedId, Item, StorySketch};

/// A band hash shared by more items than this within the window is boilerplate, not a story.
const COMMON_BAND: usize = 64;
/// The most candidates of one new item checked by the exact measure.
const MAX_CANDIDATES: usize = 4;

/// An item offered by the band index, as read back to confirm it.
struct Candidate {
    feed_id: i64,
    story: Option<i64>,
    words: Option<String>,
    /// When its story's first item was published.
    story_time: Option<i64>,
}

/// Where a new item went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// Its own item and story.
    Alone,
    /// Another source's item with the same canonical link: one more source of it.
    SameLink,
    /// A near-duplicate of another outlet's item: one more version of that story.
    Story,
}

/// Gives the just-inserted item `item_id` its link group and story, and indexes its bands.
pub(super) fn place_new_item_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    item_id: i64,
    keys: Keys<'_>,
    time: i64,
) -> Result<Placement, StoreError> {
    let (link_group, story, placement) = match same_link_in(transaction, feed_id, keys.link_key)? {
        Some((link_group, story)) => (link_group, story, Placement::SameLink),
        None => match same_story_in(transaction, feed_id, keys.story, time)? {
            Some(story) => (item_id, story, Placement::Story),
            None => (item_id, item_id, Placement::Alone),
        },
    };
    transaction
        .prepare_cached("UPDATE items SET link_group = ?2, story = ?3 WHERE id = ?1")?
        .execute(params![item_id, link_group, story])?;
    index_bands_in(transaction, item_id, keys.story, time, false)?;
    Ok(placement)
}

/// What placing compares of an item.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys<'a> {
    pub link_key: Option<&'a str>,
    pub story: Option<&'a StorySketch>,
}

impl<'a> Keys<'a> {
    pub fn of(item: &'a Item) -> Keys<'a> {
        Keys {
            link_key: item.link_key.as_deref(),
            story: item.story.as_ref(),
        }
    }
}

impl Store {
    /// Items stored before story grouping existed (schema version 4) have neither canonical
    /// link nor sketch: gives them both with `describe(title, link, summary, content)` and
    /// places them as a poll would have, oldest first, in one transaction. Runs once after the
    /// upgrade (the migration records which items); returns how many it placed, or `None`
    /// when there was nothing to do.
    pub fn place_items_stored_before_stories(
        &self,
        describe: impl Fn(
            &str,
            Option<&str>,
            Option<&str>,
            Option<&str>,
        ) -> (Option<String>, Option<StorySketch>),
    ) -> Result<Option<usize>, StoreError> {
        let mut connection = self.writer()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let up_to: Option<String> = transaction
            .query_row(
                "SELECT value FROM meta WHERE key = 'unplaced_items_up_to'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let Some(up_to) = up_to.and_then(|value| value.parse::<i64>().ok()) else {
            return Ok(None);
        };
        let mut placed = 0;
        {
            let mut select = transaction.prepare(
                "SELECT id, feed_id, title, link, summary, content, sort_time FROM items
                 WHERE id <= ?1 ORDER BY id",
            )?;
            let mut rows = select.query([up_to])?;
            let mut describe_row = transaction
                .prepare("UPDATE items SET link_key = ?2, story_words = ?3 WHERE id = ?1")?;
            while let Some(row) = rows.next()? {
                let item_id: i64 = row.get(0)?;
                let feed_id = FeedId(row.get(1)?);
                let title: String = row.get(2)?;
                let link: Option<String> = row.get(3)?;
                let summary: Option<String> = row.get(4)?;
                let content: Option<String> = row.get(5)?;
                let time: i64 = row.get(6)?;
                let (link_key, story) = describe(
                    &title,
                    link.as_deref(),
                    summary.as_deref(),
                    content.as_deref(),
                );
                describe_row.execute(params![
                    item_id,
                    link_key,
                    story.as_ref().map(|story| &story.words)
                ])?;
                let keys = Keys {
                    link_key: link_key.as_deref(),
                    story: story.as_ref(),
                };
                place_new_item_in(&transaction, feed_id, item_id, keys, time)?;
                placed += 1;
            }
        }
        transaction.execute("DELETE FROM meta WHERE key = 'unplaced_items_up_to'", [])?;
        transaction.commit()?;
        Ok(Some(placed))
    }
}

/// Indexes the band hashes of an item's sketch; with `replace`, those indexed before go first
/// (an edited item).
pub(super) fn index_bands_in(
    transaction: &rusqlite::Connection,
    item_id: i64,
    story: Option<&StorySketch>,
    time: i64,
    replace: bool,
) -> Result<(), StoreError> {
    if replace {
        transaction
            .prepare_cached("DELETE FROM story_bands WHERE item_id = ?1")?
            .execute([item_id])?;
    }
    let Some(sketch) = story else {
        return Ok(());
    };
    // One single-row statement per band: a multi-row statement would open a statement
    // journal inside the poll's savepoint, and closing one costs more than the inserts.
    let mut insert = transaction.prepare_cached(
        "INSERT OR IGNORE INTO story_bands (band, item_id, time) VALUES (?1, ?2, ?3)",
    )?;
    for band in &sketch.bands {
        insert.execute(params![band, item_id, time])?;
    }
    Ok(())
}

/// The link group and story of the first item another feed holds with the same canonical link.
fn same_link_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    link_key: Option<&str>,
) -> Result<Option<(i64, i64)>, StoreError> {
    let Some(link_key) = link_key else {
        return Ok(None);
    };
    let found = transaction
        .prepare_cached(
            "SELECT link_group, story FROM items
             WHERE link_key = ?1 AND feed_id != ?2 AND link_group IS NOT NULL
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![link_key, feed_id.0], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(found)
}

/// The earliest story, begun within the window, that has a version from another feed (and
/// none from this one) which `dedupe::same_story` confirms.
fn same_story_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    story: Option<&StorySketch>,
    time: i64,
) -> Result<Option<i64>, StoreError> {
    let Some(sketch) = story else {
        return Ok(None);
    };
    // Each band's items within the window, a bounded read each: a band hash that more than
    // `COMMON_BAND` items share is boilerplate (a feed's stock sentences, a template), says
    // nothing about the story, and is skipped, so a poll of thousands of look-alike items
    // costs a bounded amount per item instead of a scan of everything similar.
    let mut by_band = transaction.prepare_cached(
        "SELECT item_id FROM story_bands
         WHERE band = ?1 AND time BETWEEN ?2 AND ?3 LIMIT ?4",
    )?;
    let mut shared_bands: HashMap<i64, usize> = HashMap::new();
    for band in &sketch.bands {
        let items = by_band
            .query_map(
                params![
                    band,
                    time - WINDOW_SECONDS,
                    time + WINDOW_SECONDS,
                    (COMMON_BAND + 1) as i64
                ],
                |row| row.get::<_, i64>(0),
            )?
            .collect::<Result<Vec<i64>, _>>()?;
        if items.len() > COMMON_BAND {
            continue;
        }
        for item in items {
            *shared_bands.entry(item).or_default() += 1;
        }
    }
    // The candidates that share the most bands are the likeliest; only the first
    // `MAX_CANDIDATES` are checked exactly.
    let mut ranked: Vec<(i64, usize)> = shared_bands.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(MAX_CANDIDATES);
    let candidates: BTreeSet<i64> = ranked.into_iter().map(|(item, _)| item).collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let mut read = transaction.prepare_cached(
        "SELECT i.feed_id, i.story, i.story_words,
                (SELECT s.sort_time FROM items s WHERE s.id = i.story)
         FROM items i WHERE i.id = ?1",
    )?;
    let mut has_feed =
        transaction.prepare_cached("SELECT 1 FROM items WHERE story = ?1 AND feed_id = ?2")?;
    let mut stories = BTreeSet::new();
    for candidate in candidates {
        let row = read
            .query_row([candidate], |row| {
                Ok(Candidate {
                    feed_id: row.get(0)?,
                    story: row.get(1)?,
                    words: row.get(2)?,
                    story_time: row.get(3)?,
                })
            })
            .optional()?;
        let Some(Candidate {
            feed_id: candidate_feed,
            story: Some(story),
            words: Some(words),
            story_time,
        }) = row
        else {
            continue;
        };
        if candidate_feed == feed_id.0 || stories.contains(&story) {
            continue;
        }
        // The story began within the window too, so a chain of versions cannot stretch a
        // story over weeks.
        if story_time.is_some_and(|story_time| (story_time - time).abs() > WINDOW_SECONDS) {
            continue;
        }
        if !same_story(&sketch.words, &words) {
            continue;
        }
        if has_feed.exists(params![story, feed_id.0])? {
            continue;
        }
        stories.insert(story);
    }
    Ok(stories.first().copied())
}
