//! Placing a new item: the same canonical link at another source makes it one more source of
//! that item (its `link_group`); else a near-duplicate from another outlet within the story
//! window makes it one more version of that story (its `story`); else it starts both.
//!
//! Candidates come from the band index (LSH band hashes with the item's time: `story_bands`,
//! and `story_bands_recent` for rows not merged into it yet, read together as
//! `story_bands_all`) and are
//! confirmed by `dedupe::StoryText::same_story`, so a poll reads a handful of rows per new
//! item, never every recent item. Where an item goes is decided before it is inserted, so its
//! row is written once with its link group and story. Items of one feed are never grouped with each other: a feed's own items
//! are distinct by its identity rule, and a story holds at most one item per feed.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::story_index::{self, StoryIndex};
use super::{Store, StoreError};
use crate::dedupe::{WINDOW_SECONDS, bands_of_words};
use crate::model::{FeedId, Item, StoryNumbers, StorySketch, StoryText};

/// A band hash shared by more items than this within the window is boilerplate, not a story.
const COMMON_BAND: usize = 64;
/// The most candidates of one new item checked by the exact measure.
const MAX_CANDIDATES: usize = 4;

/// The first item of another feed with the same canonical link: its link group and story.
const SAME_LINK: &str = "SELECT link_group, story FROM items
    WHERE link_key = ?1 AND feed_id != ?2 AND link_group IS NOT NULL ORDER BY id LIMIT 1";
/// The items within a time range that share a band, at most `COMMON_BAND + 1` of them (the
/// limit is written out: as a bound parameter it would make SQLite plan the statement again
/// at every use).
const BY_BAND: &str = "SELECT item_id FROM story_bands_all
    WHERE band = ?1 AND time BETWEEN ?2 AND ?3 LIMIT 65";
/// A candidate's feed, story, story text and the time its story began.
const CANDIDATE: &str = "SELECT i.feed_id, i.story, i.story_words,
        (SELECT s.sort_time FROM items s WHERE s.id = i.story)
    FROM items i WHERE i.id = ?1";
/// A candidate's story text, when its feed and story come from the writer's copy.
const CANDIDATE_WORDS: &str = "SELECT story_words FROM items WHERE id = ?1";
/// The newest item's id (0 when there is none).
pub(super) const NEWEST_ITEM: &str = "SELECT coalesce(max(id), 0) FROM items";
/// The newest item whose band rows are all written.
pub(super) const BANDS_UP_TO: &str =
    "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'bands_up_to'";
/// Whether a story already has a version from a feed.
/// The story's first item by its id, the others through `items_by_story_feed`, which holds
/// only items that are not their story's first.
pub(super) const STORY_HAS_FEED: &str =
    "SELECT 1 FROM items WHERE id = ?1 AND story = ?1 AND feed_id = ?2
     UNION ALL
     SELECT 1 FROM items WHERE story = ?1 AND feed_id = ?2 AND story <> id";
/// The statements that place a new item, for the test that none is planned more than once.
#[cfg(test)]
pub(super) const PLACEMENT_STATEMENTS: [&str; 5] = [
    SAME_LINK,
    BY_BAND,
    CANDIDATE,
    CANDIDATE_WORDS,
    STORY_HAS_FEED,
];

/// An item offered by the band index, as read back to confirm it.
struct Candidate {
    feed_id: i64,
    story: Option<i64>,
    /// Its story text, when read with the rest.
    words: Option<String>,
    /// When its story's first item was published.
    story_time: Option<i64>,
    /// Its story text's numbers, when the writer's copy knows them.
    numbers: StoryNumbers,
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

/// Where a new item goes, decided before it is inserted: the link group and story it joins,
/// or `None` for its own (the item's id).
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    pub link_group: Option<i64>,
    pub story: Option<i64>,
    pub placement: Placement,
}

/// Decides where a new item of `feed_id`, published (or first seen) at `time`, goes.
pub(super) fn place_new_item(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    keys: Keys<'_>,
    time: i64,
    placing: &mut Placing,
) -> Result<Place, StoreError> {
    if let Some((link_group, story)) = same_link_in(transaction, feed_id, keys.link_key)? {
        return Ok(Place {
            link_group: Some(link_group),
            story: Some(story),
            placement: Placement::SameLink,
        });
    }
    Ok(
        match same_story_in(transaction, feed_id, keys.story, time, placing)? {
            Some(story) => Place {
                link_group: None,
                story: Some(story),
                placement: Placement::Story,
            },
            None => Place {
                link_group: None,
                story: None,
                placement: Placement::Alone,
            },
        },
    )
}

/// Gives the already stored item `item_id` its link group and story, and indexes its bands:
/// for items stored before story grouping existed.
fn place_stored_item_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    item_id: i64,
    keys: Keys<'_>,
    time: i64,
    placing: &mut Placing,
) -> Result<Placement, StoreError> {
    let place = place_new_item(transaction, feed_id, keys, time, placing)?;
    transaction
        .prepare_cached("UPDATE items SET link_group = ?2, story = ?3 WHERE id = ?1")?
        .execute(params![
            item_id,
            place.link_group.unwrap_or(item_id),
            place.story.unwrap_or(item_id)
        ])?;
    index_bands_in(transaction, item_id, keys.story, time)?;
    Ok(place.placement)
}

/// Band hashes found shared by more than `COMMON_BAND` items, by the hour of item time in
/// which they were found so: such a band is boilerplate (a feed's stock sentence, a template)
/// and is not read again for items of that hour. Without it, every item of a feed full of
/// stock sentences reads `COMMON_BAND` index rows for each such band only to skip it. (It
/// remembered one time per band before, which items arriving in no time order, as a poll's
/// twenty items spread over ten hours do, kept overwriting.) Held by the writer for the life
/// of the process; a memo, never stored.
#[derive(Debug, Default)]
pub(super) struct CommonBands {
    found: FxHashSet<(i64, i64)>,
}

/// The span of item time over which a band found common is taken as common.
const COMMON_SPAN: i64 = 3600;
/// The most (band, hour) pairs remembered; past this the memo starts over.
const COMMON_MEMO: usize = 100_000;

impl CommonBands {
    fn is_common(&self, band: i64, time: i64) -> bool {
        self.found.contains(&(band, time.div_euclid(COMMON_SPAN)))
    }

    fn found_common(&mut self, band: i64, time: i64) {
        if self.found.len() >= COMMON_MEMO {
            self.found.clear();
        }
        self.found.insert((band, time.div_euclid(COMMON_SPAN)));
    }
}

/// The lists one placement builds, kept so that placing an item allocates nothing for them.
#[derive(Debug, Default)]
struct Scratch {
    /// Every item offered by a band, once per band it shares.
    offered: Vec<i64>,
    /// The offered items with how many bands offered each.
    ranked: Vec<(i64, usize)>,
}

/// What the writer keeps between placements, for the life of the process: the boilerplate
/// memo, and the band index in memory once loading it has paid off (`story_index`).
#[derive(Debug, Default)]
pub(super) struct Placing {
    common: CommonBands,
    memory: Option<StoryIndex>,
    /// Items placed from the database since the copy was last dropped (or never loaded).
    placed_from_disk: usize,
    /// Band rows of new items not written yet: while the copy answers for the band index,
    /// they are written in key order at the end of a batch, or, while more polls wait for the
    /// writer, of a later batch (`finish`). A commit then dirties the band table's pages once
    /// for many batches: every batch of a cold poll of 10,000 feeds touched nearly every page
    /// of it (2.3 million page writes in all). The `meta` row `bands_up_to` is the newest item
    /// whose band rows are all written; rows held when the process ended are written again
    /// from the items' story texts (`repair`).
    pending_bands: Vec<(i64, i64, i64)>,
    /// Without the copy, the rows held, by band (item, time), for placing to read with the
    /// database's. A warm poll of 10,000 feeds wrote its 500 new items' band rows batch by
    /// batch, each to random pages of a 46 MB table: 213 MB of WAL for 57 commits.
    pending_by_band: FxHashMap<i64, Vec<(i64, i64)>>,
    /// Whether band rows are held without the copy: in a batch written whole (`begin`), not
    /// in one written poll by poll after a failure, whose rolled-back polls must not leave
    /// rows behind (`forget`).
    hold_on_disk: bool,
    /// Candidates' story texts, while the copy answers.
    texts: StoryTexts,
    /// Room reused by every placement.
    scratch: Scratch,
    /// Tests compare placing with and without the copy.
    #[cfg(test)]
    pub disk_only: bool,
}

impl Placing {
    /// Before a batch of writes: drops a copy that another connection has made stale, and
    /// loads one when the placements made without it have cost about what loading costs.
    pub(super) fn begin(&mut self, connection: &rusqlite::Connection) -> Result<(), StoreError> {
        if let Some(memory) = &self.memory
            && (memory.len() >= story_index::MAX_ITEMS || !memory.is_current(connection)?)
        {
            self.forget();
        }
        self.repair(connection)?;
        self.hold_on_disk = true;
        #[cfg(test)]
        if self.disk_only {
            return Ok(());
        }
        if self.memory.is_some() {
            return Ok(());
        }
        // Ids are one past the largest, so the largest id bounds how many items loading reads.
        let stored = newest_item(connection)?;
        let stored = usize::try_from(stored).unwrap_or(usize::MAX);
        if stored < story_index::MAX_ITEMS
            && self
                .placed_from_disk
                .saturating_mul(story_index::DISK_PLACEMENT_COST)
                >= stored
        {
            // The copy is loaded from the database: the rows held go there first.
            self.write_held(connection)?;
            self.memory = Some(StoryIndex::load(connection)?);
        }
        Ok(())
    }

    /// Whether placing reads the copy of the band index.
    #[cfg(test)]
    pub fn in_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// Drops the copy of the band index: after a rolled-back write it may have taken in, or
    /// writes that did not go through it (deletes, the upgrade path). Band rows held for
    /// items already committed are written again by the next `repair`.
    pub(super) fn forget(&mut self) {
        self.memory = None;
        self.placed_from_disk = 0;
        self.pending_bands.clear();
        self.pending_by_band.clear();
        self.hold_on_disk = false;
        self.texts.clear();
    }

    /// When no band rows are held: writes the band rows of the items newer than `bands_up_to`
    /// from their stored story texts (rows that were held when the process ended, or when a
    /// write failed), and moves the marker to the newest item. A database that has no marker
    /// yet was written without holding rows: it is complete.
    pub(super) fn repair(&mut self, connection: &rusqlite::Connection) -> Result<(), StoreError> {
        if !self.pending_bands.is_empty() {
            return Ok(());
        }
        let newest = newest_item(connection)?;
        // Cached, as every statement of a batch: compiling one costs about 50 µs against this
        // schema, and a warm poll of 10,000 feeds writes about a thousand batches.
        let up_to: Option<i64> = connection
            .prepare_cached(BANDS_UP_TO)?
            .query_row([], |row| row.get(0))
            .optional()?;
        if let Some(up_to) = up_to {
            if up_to >= newest {
                return Ok(());
            }
            let mut select = connection.prepare(
                "SELECT id, story_words, sort_time FROM items
                 WHERE id > ?1 AND story_words IS NOT NULL",
            )?;
            let mut rows = select.query([up_to])?;
            // Written in key order, `HOLD_BANDS` rows at a time, as `flush` writes: after an
            // upgrade that remade every band hash, this is the whole table.
            let mut pending = Vec::new();
            let write = |pending: &mut Vec<(i64, i64, i64)>| -> Result<(), StoreError> {
                pending.sort_unstable();
                insert_band_rows(connection, pending, BandTable::Large)?;
                pending.clear();
                Ok(())
            };
            while let Some(row) = rows.next()? {
                let (item_id, words, time): (i64, String, i64) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                pending.extend(
                    bands_of_words(&words)
                        .into_iter()
                        .map(|band| (band, item_id, time)),
                );
                if pending.len() >= HOLD_BANDS {
                    write(&mut pending)?;
                }
            }
            write(&mut pending)?;
        }
        mark_bands_up_to(connection, newest)
    }

    /// Indexes the bands of an item's sketch: held for `flush` (with the copy, or in a batch
    /// written whole), else at once.
    pub(super) fn index_bands(
        &mut self,
        transaction: &rusqlite::Connection,
        item_id: i64,
        story: Option<&StorySketch>,
        time: i64,
    ) -> Result<(), StoreError> {
        match (&self.memory, story) {
            (Some(_), Some(sketch)) => {
                self.pending_bands
                    .extend(sketch.bands.iter().map(|&band| (band, item_id, time)));
                Ok(())
            }
            (None, Some(sketch)) if self.hold_on_disk => {
                self.pending_bands
                    .extend(sketch.bands.iter().map(|&band| (band, item_id, time)));
                for &band in &sketch.bands {
                    self.pending_by_band
                        .entry(band)
                        .or_default()
                        .push((item_id, time));
                }
                Ok(())
            }
            _ => index_bands_in(transaction, item_id, story, time),
        }
    }

    /// Before a batch commits: writes the band rows held back, unless holding them on pays
    /// (`more_waiting`: other polls wait for the writer, and fewer rows are held than
    /// `hold_limit` allows), and then marks every stored item's rows written.
    pub(super) fn finish(
        &mut self,
        transaction: &rusqlite::Connection,
        more_waiting: bool,
    ) -> Result<(), StoreError> {
        let hold = match &self.memory {
            Some(memory) => more_waiting && self.pending_bands.len() < hold_limit(memory.len()),
            // Without the copy the writer is rarely the bottleneck (few new items, many
            // unchanged feeds), so the rows are held whether polls wait or not, up to a
            // bound, and written when the poll is over (`write_held`).
            None => self.hold_on_disk && self.pending_bands.len() < HOLD_BANDS_ON_DISK,
        };
        if hold {
            return Ok(());
        }
        self.write_held(transaction)
    }

    /// Whether band rows are held back, not written yet.
    pub(super) fn holds_band_rows(&self) -> bool {
        !self.pending_bands.is_empty()
    }

    /// Writes the band rows held back and marks every stored item's rows written: when a
    /// batch does not hold them on, and when a poll of many feeds is over
    /// (`Store::write_held_band_rows`).
    pub(super) fn write_held(
        &mut self,
        transaction: &rusqlite::Connection,
    ) -> Result<(), StoreError> {
        self.flush(transaction)?;
        mark_bands_up_to(transaction, newest_item(transaction)?)
    }

    /// Writes the band rows held back by `index_bands`, in key order: by `finish`, and before
    /// band rows are deleted.
    pub(super) fn flush(&mut self, transaction: &rusqlite::Connection) -> Result<(), StoreError> {
        if self.pending_bands.is_empty() {
            return Ok(());
        }
        self.pending_bands.sort_unstable();
        // Held with the copy: many, in key order, into the large table. Held without it
        // (a short poll placing from the database): into the small one.
        let table = match self.memory {
            Some(_) => BandTable::Large,
            None => BandTable::Recent,
        };
        insert_band_rows(transaction, &self.pending_bands, table)?;
        self.pending_bands.clear();
        self.pending_by_band.clear();
        Ok(())
    }

    /// Takes in a new item written with its story (its own id when alone) and band rows.
    pub(super) fn added(
        &mut self,
        item_id: i64,
        feed_id: FeedId,
        story: i64,
        time: i64,
        sketch: Option<&StorySketch>,
    ) {
        let Some(memory) = &mut self.memory else {
            return;
        };
        let bands = sketch.map_or(&[][..], |sketch| &sketch.bands);
        memory.add(item_id, feed_id.0, story, time, bands, numbers_of(sketch));
        if let Some(sketch) = sketch {
            self.texts.insert(item_id, Arc::clone(&sketch.text));
        }
    }

    /// Replaces the band rows of an edited item whose story text was `old_words`, in the
    /// database and in the copy.
    pub(super) fn edited(
        &mut self,
        transaction: &rusqlite::Connection,
        item_id: i64,
        time: i64,
        old_words: Option<&str>,
        sketch: Option<&StorySketch>,
    ) -> Result<(), StoreError> {
        // Its rows may be among those held back, if it came earlier in this batch.
        self.flush(transaction)?;
        let old_bands = old_words.map(bands_of_words).unwrap_or_default();
        unindex_bands_in(transaction, item_id, &old_bands)?;
        self.index_bands(transaction, item_id, sketch, time)?;
        self.texts.remove(item_id);
        if let Some(memory) = &mut self.memory {
            let bands = sketch.map_or(&[][..], |sketch| &sketch.bands);
            memory.edit(item_id, time, &old_bands, bands, numbers_of(sketch));
            if let Some(sketch) = sketch {
                self.texts.insert(item_id, Arc::clone(&sketch.text));
            }
        }
        Ok(())
    }
}

/// Story texts prepared to compare, by item id: those of the items the writer stored (their
/// sketches bring them) and of the candidates it read, since a story's versions are offered
/// again and again while it runs. Kept beside the copy of the band index, and dropped with
/// it; an edited item's entry is replaced when the copy takes the edit in.
///
/// Two generations of at most `STORY_TEXTS` each: when the newer is full it becomes the older
/// and the one before is dropped, and a text found in the older moves to the newer. So the
/// texts of recent items and of the candidates still offered stay.
#[derive(Debug, Default)]
pub(super) struct StoryTexts {
    newer: FxHashMap<i64, Arc<StoryText>>,
    older: FxHashMap<i64, Arc<StoryText>>,
}

impl StoryTexts {
    fn get(&mut self, item: i64) -> Option<Arc<StoryText>> {
        if let Some(text) = self.newer.get(&item) {
            return Some(Arc::clone(text));
        }
        let text = self.older.remove(&item)?;
        self.insert(item, Arc::clone(&text));
        Some(text)
    }

    fn insert(&mut self, item: i64, text: Arc<StoryText>) {
        if self.newer.len() >= STORY_TEXTS {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(item, text);
    }

    fn remove(&mut self, item: i64) {
        self.newer.remove(&item);
        self.older.remove(&item);
    }

    fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
    }
}

/// The most story texts in one generation of `StoryTexts` (about 350 bytes each, so at most
/// about 6 MB in the two).
const STORY_TEXTS: usize = 8_192;

/// The most band rows held back across batches (24 bytes each in memory).
const HOLD_BANDS: usize = 262_144;
/// The fewest band rows held back before they are written, while more polls wait.
const HOLD_BANDS_AT_LEAST: usize = 16_384;
/// The most band rows held back without the copy (a warm poll of 10,000 feeds brings about
/// 5,000).
const HOLD_BANDS_ON_DISK: usize = 16_384;

/// How many band rows may be held back when the copy holds `items` items: a quarter of the
/// rows stored, between `HOLD_BANDS_AT_LEAST` and `HOLD_BANDS`. Holding pays against a large
/// table, whose pages a commit would rewrite nearly all; against a small one it only moves
/// the writing to the end of a burst of polls, where the writer works alone (a cold poll of
/// 1,000 feeds held all of its 200,000 rows, and wrote them after the last poll came in).
fn hold_limit(items: usize) -> usize {
    (items.saturating_mul(crate::dedupe::BANDS) / 4).clamp(HOLD_BANDS_AT_LEAST, HOLD_BANDS)
}

/// Band rows in one statement: `BAND_ROWS_AT_ONCE` of them (about 40 % less time per row than
/// one statement each, measured on 200,000 sorted rows).
const BAND_ROWS_AT_ONCE: usize = 64;

/// The most band rows the small table (`story_bands_recent`) holds before they are merged
/// into `story_bands`. About 1.6 MB: its pages stay few, and a merge writes each page of the
/// large table about once for many polls' rows, where writing each poll's rows there touched
/// a page per row.
const MERGE_BANDS_AT: usize = 65_536;

/// Where band rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BandTable {
    /// The small table, merged into the large one when full: the rows of polls placed from
    /// the database (a few thousand a run, at random places of the large table).
    Recent,
    /// The large table: the rows held back while the writer's copy answers, written in key
    /// order many at once (a quarter of the rows stored), and those made again by `repair`.
    Large,
}

impl BandTable {
    const BOTH: [BandTable; 2] = [BandTable::Large, BandTable::Recent];

    /// Writes one row.
    fn insert_one(self) -> &'static str {
        match self {
            BandTable::Recent => {
                "INSERT OR IGNORE INTO story_bands_recent (band, item_id, time) VALUES (?1, ?2, ?3)"
            }
            BandTable::Large => {
                "INSERT OR IGNORE INTO story_bands (band, item_id, time) VALUES (?1, ?2, ?3)"
            }
        }
    }

    /// Writes `BAND_ROWS_AT_ONCE` rows.
    fn insert_many(self) -> &'static str {
        static RECENT: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| insert_many_into("story_bands_recent"));
        static LARGE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| insert_many_into("story_bands"));
        match self {
            BandTable::Recent => &RECENT,
            BandTable::Large => &LARGE,
        }
    }

    /// Deletes one row.
    fn delete_one(self) -> &'static str {
        match self {
            BandTable::Recent => "DELETE FROM story_bands_recent WHERE band = ?1 AND item_id = ?2",
            BandTable::Large => "DELETE FROM story_bands WHERE band = ?1 AND item_id = ?2",
        }
    }
}

fn insert_many_into(table: &str) -> String {
    let rows = vec!["(?, ?, ?)"; BAND_ROWS_AT_ONCE].join(", ");
    format!("INSERT OR IGNORE INTO {table} (band, item_id, time) VALUES {rows}")
}

/// Writes band rows (band, item, time), `BAND_ROWS_AT_ONCE` per statement, into `table`; the
/// small table is merged into the large one when full.
fn insert_band_rows(
    connection: &rusqlite::Connection,
    rows: &[(i64, i64, i64)],
    table: BandTable,
) -> Result<(), StoreError> {
    let mut chunks = rows.chunks_exact(BAND_ROWS_AT_ONCE);
    if chunks.len() > 0 {
        let mut insert = connection.prepare_cached(table.insert_many())?;
        let mut values: Vec<i64> = Vec::with_capacity(3 * BAND_ROWS_AT_ONCE);
        for chunk in &mut chunks {
            values.clear();
            values.extend(
                chunk
                    .iter()
                    .flat_map(|&(band, item_id, time)| [band, item_id, time]),
            );
            insert.execute(rusqlite::params_from_iter(&values))?;
        }
    }
    let mut insert = connection.prepare_cached(table.insert_one())?;
    for (band, item_id, time) in chunks.remainder() {
        insert.execute(params![band, item_id, time])?;
    }
    if table == BandTable::Recent {
        merge_recent_bands_if_full(connection)?;
    }
    Ok(())
}

/// Moves the small table's band rows into `story_bands`, in key order, once it holds
/// `MERGE_BANDS_AT` of them.
fn merge_recent_bands_if_full(connection: &rusqlite::Connection) -> Result<(), StoreError> {
    let held: i64 = connection
        .prepare_cached("SELECT count(*) FROM story_bands_recent")?
        .query_row([], |row| row.get(0))?;
    if usize::try_from(held).unwrap_or(usize::MAX) < MERGE_BANDS_AT {
        return Ok(());
    }
    connection
        .prepare_cached(
            "INSERT OR IGNORE INTO story_bands (band, item_id, time)
             SELECT band, item_id, time FROM story_bands_recent ORDER BY band, item_id",
        )?
        .execute([])?;
    connection
        .prepare_cached("DELETE FROM story_bands_recent")?
        .execute([])?;
    Ok(())
}

/// The largest item id (0 when there is none).
pub(super) fn newest_item(connection: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(connection
        .prepare_cached(NEWEST_ITEM)?
        .query_row([], |row| row.get(0))?)
}

/// Records that every item up to `item_id` has its band rows written.
fn mark_bands_up_to(connection: &rusqlite::Connection, item_id: i64) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('bands_up_to', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value
             WHERE value IS NOT excluded.value",
        )?
        .execute([item_id.to_string()])?;
    Ok(())
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
        // Placed from the database: the writer's copy of the band index (if any) is dropped
        // below, as these items change stories it may hold.
        let mut placing = Placing::default();
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
                place_stored_item_in(&transaction, feed_id, item_id, keys, time, &mut placing)?;
                placed += 1;
            }
        }
        transaction.execute("DELETE FROM meta WHERE key = 'unplaced_items_up_to'", [])?;
        transaction.commit()?;
        self.placing()?.forget();
        Ok(Some(placed))
    }
}

/// Indexes the band hashes of an item's sketch.
pub(super) fn index_bands_in(
    transaction: &rusqlite::Connection,
    item_id: i64,
    story: Option<&StorySketch>,
    time: i64,
) -> Result<(), StoreError> {
    let Some(sketch) = story else {
        return Ok(());
    };
    // One single-row statement per band: a multi-row statement would open a statement
    // journal inside the poll's savepoint, and closing one costs more than the inserts.
    // Into the small table; merged with the next rows written many at once.
    let mut insert = transaction.prepare_cached(BandTable::Recent.insert_one())?;
    for band in &sketch.bands {
        insert.execute(params![band, item_id, time])?;
    }
    Ok(())
}

/// Removes an item's band rows, `bands` (those of its stored story text,
/// `dedupe::bands_of_words`): before the item is deleted, or indexed again with new text.
pub(super) fn unindex_bands_in(
    transaction: &rusqlite::Connection,
    item_id: i64,
    bands: &[i64],
) -> Result<(), StoreError> {
    // In whichever of the two tables they are.
    for table in BandTable::BOTH {
        let mut delete = transaction.prepare_cached(table.delete_one())?;
        for &band in bands {
            delete.execute(params![band, item_id])?;
        }
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
        .prepare_cached(SAME_LINK)?
        .query_row(params![link_key, feed_id.0], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(found)
}

/// The earliest story, begun within the window, that has a version from another feed (and
/// none from this one) which `dedupe::same_story` confirms. Read from the writer's copy of
/// the band index when it has one, else from the database: the answer is the same.
fn same_story_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    story: Option<&StorySketch>,
    time: i64,
    placing: &mut Placing,
) -> Result<Option<i64>, StoreError> {
    let Some(sketch) = story else {
        return Ok(None);
    };
    let (from, to) = (time - WINDOW_SECONDS, time + WINDOW_SECONDS);
    // Each band's items within the window, a bounded read each: a band hash that more than
    // `COMMON_BAND` items share is boilerplate (a feed's stock sentences, a template), says
    // nothing about the story, and is skipped, so a poll of thousands of look-alike items
    // costs a bounded amount per item instead of a scan of everything similar.
    let Placing {
        common,
        memory,
        placed_from_disk,
        pending_by_band,
        texts,
        scratch: Scratch { offered, ranked },
        ..
    } = placing;
    let mut by_band = match memory {
        Some(_) => None,
        None => {
            *placed_from_disk += 1;
            Some(transaction.prepare_cached(BY_BAND)?)
        }
    };
    // Every item offered, once per band it shares.
    offered.clear();
    for &band in &sketch.bands {
        if common.is_common(band, time) {
            continue;
        }
        let before = offered.len();
        if let Some(memory) = &memory {
            // Positions, which sort as the ids do; the few candidates kept are turned into
            // ids below.
            memory.band_positions(band, from, to, COMMON_BAND + 1, offered);
        } else if let Some(by_band) = &mut by_band {
            let mut rows = by_band.query(params![band, from, to])?;
            while let Some(row) = rows.next()? {
                offered.push(row.get::<_, i64>(0)?);
            }
            // And those held back, not written yet.
            if let Some(held) = pending_by_band.get(&band) {
                offered.extend(
                    held.iter()
                        .filter(|(_, time)| (from..=to).contains(time))
                        .map(|&(item, _)| item),
                );
            }
        }
        if offered.len() - before > COMMON_BAND {
            common.found_common(band, time);
            offered.truncate(before);
        }
    }
    // The candidates that share the most bands are the likeliest; only the first
    // `MAX_CANDIDATES` are checked exactly.
    most_shared(offered, ranked, MAX_CANDIDATES);
    let candidates: BTreeSet<i64> = ranked
        .iter()
        .filter_map(|&(offered, _)| match memory {
            Some(memory) => memory.id_at(offered),
            None => Some(offered),
        })
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let mut source = match memory {
        Some(memory) => CandidateSource::Memory {
            memory,
            words: transaction.prepare_cached(CANDIDATE_WORDS)?,
            texts,
        },
        None => CandidateSource::Disk {
            read: transaction.prepare_cached(CANDIDATE)?,
            has_feed: transaction.prepare_cached(STORY_HAS_FEED)?,
        },
    };
    let mut stories = BTreeSet::new();
    let text = &sketch.text;
    for candidate in candidates {
        let Some(Candidate {
            feed_id: candidate_feed,
            story: Some(story),
            words,
            story_time,
            numbers,
        }) = source.candidate(candidate)?
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
        // Numbers that disagree rule it out before its text is read (the writer's copy keeps
        // them): at 10,000 feeds most candidates' texts are not among those remembered.
        if text.numbers_rule_out(numbers) {
            continue;
        }
        let same = match words {
            Some(words) => text.same_story(&StoryText::new(&words)),
            None => match source.text(candidate)? {
                Some(other) => text.same_story(&other),
                None => continue,
            },
        };
        if !same {
            continue;
        }
        if source.story_has_feed(story, feed_id.0)? {
            continue;
        }
        stories.insert(story);
    }
    Ok(stories.first().copied())
}

/// The numbers of a sketch's story text as the copy keeps them (none known without one).
fn numbers_of(sketch: Option<&StorySketch>) -> StoryNumbers {
    sketch.map_or(StoryNumbers::UNKNOWN, |sketch| sketch.text.kept_numbers())
}

/// Leaves in `ranked` the `count` items offered most often (each with how often), most
/// first, the older (smaller) first among equals. Each band's items come newest first, so
/// `offered` is a few sorted runs, which the stable sort merges (the unstable one sorts them
/// from scratch); of the counted items only the first few are put in order.
fn most_shared(offered: &mut [i64], ranked: &mut Vec<(i64, usize)>, count: usize) {
    offered.sort();
    ranked.clear();
    for &item in offered.iter() {
        match ranked.last_mut() {
            Some((last, shared)) if *last == item => *shared += 1,
            _ => ranked.push((item, 1)),
        }
    }
    let most_shared_first = |a: &(i64, usize), b: &(i64, usize)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
    if ranked.len() > count {
        ranked.select_nth_unstable_by(count, most_shared_first);
        ranked.truncate(count);
    }
    ranked.sort_unstable_by(most_shared_first);
}

/// Where a candidate's feed, story, story text and story versions are read from.
enum CandidateSource<'a> {
    /// The writer's copy of the index; only story texts are read from the database.
    Memory {
        memory: &'a StoryIndex,
        words: rusqlite::CachedStatement<'a>,
        texts: &'a mut StoryTexts,
    },
    Disk {
        read: rusqlite::CachedStatement<'a>,
        has_feed: rusqlite::CachedStatement<'a>,
    },
}

impl CandidateSource<'_> {
    /// A placed candidate's feed, story and its story's start time (when its first item is
    /// still stored), with its story text when it was read with them; `None` when it is gone.
    fn candidate(&mut self, item: i64) -> Result<Option<Candidate>, StoreError> {
        Ok(match self {
            CandidateSource::Memory { memory, .. } => {
                memory
                    .feed_and_story(item)
                    .map(|(feed_id, story)| Candidate {
                        feed_id,
                        story,
                        words: None,
                        story_time: story.and_then(|story| memory.time_of(story)),
                        numbers: memory.numbers_of(item),
                    })
            }
            CandidateSource::Disk { read, .. } => read
                .query_row([item], |row| {
                    Ok(Candidate {
                        feed_id: row.get(0)?,
                        story: row.get(1)?,
                        words: row.get(2)?,
                        story_time: row.get(3)?,
                        numbers: StoryNumbers::UNKNOWN,
                    })
                })
                .optional()?
                // Without a story text it cannot be confirmed.
                .filter(|candidate| candidate.words.is_some()),
        })
    }

    /// A candidate's story text, prepared to compare: remembered, or read from the database.
    fn text(&mut self, item: i64) -> Result<Option<Arc<StoryText>>, StoreError> {
        let CandidateSource::Memory { words, texts, .. } = self else {
            // Read with the candidate.
            return Ok(None);
        };
        if let Some(text) = texts.get(item) {
            return Ok(Some(text));
        }
        let found: Option<Option<String>> = words.query_row([item], |row| row.get(0)).optional()?;
        let Some(words) = found.flatten() else {
            return Ok(None);
        };
        let text = Arc::new(StoryText::new(&words));
        texts.insert(item, Arc::clone(&text));
        Ok(Some(text))
    }

    /// Whether `story` already has a version from `feed_id`.
    fn story_has_feed(&mut self, story: i64, feed_id: i64) -> Result<bool, StoreError> {
        Ok(match self {
            CandidateSource::Memory { memory, .. } => memory.story_has_feed(story, feed_id),
            CandidateSource::Disk { has_feed, .. } => has_feed.exists(params![story, feed_id])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_shared_candidates_are_those_a_full_sort_puts_first() {
        // Runs of descending positions, as bands give them, with repeats across runs.
        let mut seed = 7_u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            seed >> 33
        };
        let mut ranked = Vec::new();
        for round in 0..200 {
            let mut offered = Vec::new();
            for _ in 0..(round % 11) {
                let mut run: Vec<i64> = (0..next() % 70).map(|_| (next() % 90) as i64).collect();
                run.sort_unstable_by(|a, b| b.cmp(a));
                run.dedup();
                offered.extend(run);
            }
            let mut expected: Vec<(i64, usize)> = Vec::new();
            let mut sorted = offered.clone();
            sorted.sort_unstable();
            for item in sorted {
                match expected.last_mut() {
                    Some((last, shared)) if *last == item => *shared += 1,
                    _ => expected.push((item, 1)),
                }
            }
            expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            expected.truncate(MAX_CANDIDATES);
            most_shared(&mut offered, &mut ranked, MAX_CANDIDATES);
            assert_eq!(ranked, expected, "round {round}");
        }
    }

    #[test]
    fn a_band_found_common_is_skipped_for_the_rest_of_that_hour_of_item_time() {
        let mut common = CommonBands::default();
        let hour = 1_700_002_800; // a whole hour
        common.found_common(7, hour + 1_000);
        assert!(common.is_common(7, hour));
        assert!(common.is_common(7, hour + 3_599));
        assert!(!common.is_common(7, hour - 1));
        assert!(!common.is_common(7, hour + 3_600));
        assert!(!common.is_common(8, hour + 1_000));
        // Found again in a later hour, it stays common in the first one too.
        common.found_common(7, hour + 7_300);
        assert!(common.is_common(7, hour + 10));
        assert!(common.is_common(7, hour + 7_200));
    }

    #[test]
    fn the_band_query_reads_one_row_past_the_common_bound() {
        assert!(BY_BAND.ends_with(&format!("LIMIT {}", COMMON_BAND + 1)));
    }

    #[test]
    fn band_rows_are_held_up_to_a_quarter_of_those_stored_within_bounds() {
        assert_eq!(hold_limit(0), HOLD_BANDS_AT_LEAST);
        assert_eq!(hold_limit(20_000), 20_000 * crate::dedupe::BANDS / 4);
        assert_eq!(hold_limit(10_000_000), HOLD_BANDS);
    }

    /// A database in memory with the whole schema.
    fn migrated() -> rusqlite::Connection {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        for migration in crate::store::migrations::MIGRATIONS {
            connection.execute_batch(migration).unwrap();
        }
        connection
    }

    /// Every band row stored, in either table, in key order.
    fn stored_bands(connection: &rusqlite::Connection) -> Vec<(i64, i64, i64)> {
        connection
            .prepare("SELECT band, item_id, time FROM story_bands_all ORDER BY band, item_id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn band_rows_wait_in_the_small_table_and_are_merged_once_it_is_full() {
        let connection = migrated();
        let count = |table: &str| -> usize {
            connection
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                    row.get::<_, i64>(0)
                })
                .unwrap() as usize
        };
        // Band hashes in no order, as real ones are.
        let rows = |from: usize, count: usize| -> Vec<(i64, i64, i64)> {
            (from..from + count)
                .map(|n| (((n * 7919) % 100_003) as i64 - 50_000, n as i64, n as i64))
                .collect()
        };
        let recent = BandTable::Recent;
        insert_band_rows(&connection, &rows(0, 1_000), recent).unwrap();
        assert_eq!(
            (count("story_bands_recent"), count("story_bands")),
            (1_000, 0)
        );
        // One row short of full: still waiting.
        insert_band_rows(&connection, &rows(1_000, MERGE_BANDS_AT - 1_001), recent).unwrap();
        assert_eq!(count("story_bands_recent"), MERGE_BANDS_AT - 1);
        // Full: every row moves to the large table.
        insert_band_rows(&connection, &rows(MERGE_BANDS_AT - 1, 1), recent).unwrap();
        assert_eq!(
            (count("story_bands_recent"), count("story_bands")),
            (0, MERGE_BANDS_AT)
        );
        // Rows written to the large table go there.
        let large = BandTable::Large;
        insert_band_rows(&connection, &rows(MERGE_BANDS_AT, MERGE_BANDS_AT), large).unwrap();
        assert_eq!(
            (count("story_bands_recent"), count("story_bands")),
            (0, 2 * MERGE_BANDS_AT)
        );
        // Nothing lost, nothing twice, and the band query reads both tables.
        insert_band_rows(&connection, &rows(2 * MERGE_BANDS_AT, 10), recent).unwrap();
        let mut all = rows(0, 2 * MERGE_BANDS_AT + 10);
        all.sort_unstable();
        assert_eq!(stored_bands(&connection), all);
        for &(band, item, time) in [all[0], all[all.len() - 1]]
            .iter()
            .chain(&rows(2 * MERGE_BANDS_AT, 1))
        {
            let found: Vec<i64> = connection
                .prepare(BY_BAND)
                .unwrap()
                .query_map(params![band, time, time], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(found.contains(&item), "{band} {item}");
        }
    }

    #[test]
    fn band_rows_written_many_at_once_are_all_written_once() {
        for table in BandTable::BOTH {
            let connection = migrated();
            // Two full statements, a remainder, and rows written twice.
            let rows: Vec<(i64, i64, i64)> = (0..2 * BAND_ROWS_AT_ONCE as i64 + 5)
                .map(|n| (n * 7 - 100, n / 10, n))
                .collect();
            insert_band_rows(&connection, &rows, table).unwrap();
            insert_band_rows(&connection, &rows[..BAND_ROWS_AT_ONCE + 1], table).unwrap();
            assert_eq!(stored_bands(&connection), rows, "{table:?}");
        }
    }
}
