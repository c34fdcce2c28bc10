//! The band index in memory: the writer's copy of `story_bands`, with each stored item's feed,
//! story, time and story text's numbers, so that placing a new item (`stories`) reads no index
//! rows, only the story text of the few candidates it confirms (a candidate whose numbers
//! disagree is ruled out without it).
//!
//! The database stays the truth: every band row is still written, and a process that has no
//! copy places items from the database as before. The copy is loaded when loading has paid
//! off (ski rental: once the placements made from the database since the copy was last
//! dropped have cost about what loading costs, counted as `DISK_PLACEMENT_COST` stored items
//! per placement), so an empty database (a first poll) has it at once, a long-running daemon
//! gets it after a while, and a short `tidings poll` that brings a few new items to a large
//! database never pays for it. It is dropped, and the database used again until it pays off
//! again, when it may no longer equal the database:
//!
//! - another connection committed (`PRAGMA data_version` moved: another process wrote);
//! - a write of this process failed or was rolled back after the copy had taken it in;
//! - items were deleted (retention) or placed by the upgrade path;
//! - it holds more than `MAX_ITEMS` items when a batch begins (memory: about 250 bytes an
//!   item).
//!
//! Within its life the copy holds every stored item (so a story's versions are all in it, and
//! whether a story has a version from a feed is answered from it) and every band row. An
//! edited item's old band entries are unlinked, as its old rows are deleted.

use rusqlite::Connection;
use rustc_hash::{FxHashMap, FxHashSet};

use super::StoreError;
use crate::model::StoryNumbers;

/// The most items the copy holds; past this it is dropped and not loaded again while the
/// database holds this many.
pub(super) const MAX_ITEMS: usize = 400_000;
/// What placing one item from the database costs, in stored items loaded into the copy: a
/// placement reads up to ten band lists, a handful of candidate rows and their stories'
/// versions; loading reads one item row and its ten band rows.
pub(super) const DISK_PLACEMENT_COST: usize = 16;

const END: u32 = u32::MAX;

/// One stored item, as placing needs it.
#[derive(Debug, Clone, Copy)]
struct Indexed {
    id: i64,
    feed_id: i64,
    /// Its story (the story's first item's id), or 0 for an item not placed yet.
    story: i64,
    /// Its band time (`items.sort_time`).
    time: i64,
    /// Its story text's numbers, when this process wrote it (a loaded item's are not read).
    numbers: StoryNumbers,
}

/// An item's band time as a band's list carries it: seconds since 1970 in 32 bits (until
/// 2106). A time outside that range is kept as the nearest end, which only says "look at the
/// item": the exact time is then read from `StoryIndex::items`. Walking a band within a
/// window of time then reads only the band's list, not each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BandTime(u32);

impl BandTime {
    fn of(time: i64) -> BandTime {
        BandTime(u32::try_from(time.max(0)).unwrap_or(u32::MAX))
    }

    /// The exact time, when the link holds it.
    fn exact(self) -> Option<i64> {
        (self.0 != 0 && self.0 != u32::MAX).then_some(i64::from(self.0))
    }
}

/// One item of a band: its position in `StoryIndex::items` and its band time.
#[derive(Debug, Clone, Copy)]
struct BandEntry {
    position: u32,
    time: BandTime,
}

/// A band's items: most bands have one (kept in the map itself); a band with more keeps them
/// side by side in a `Vec` of its own, so walking it reads one or two cache lines instead of
/// a link per item. (The lists were links in one shared `Vec` before: each step of a walk
/// was a cache miss, and placing an item walks about a hundred of them in a feed full of
/// stock sentences.)
#[derive(Debug, Clone, Copy)]
enum BandSlot {
    One(BandEntry),
    /// An index into `BandLists::many`.
    Many(u32),
}

/// Band hash → the items that have it.
#[derive(Debug, Default)]
struct BandLists {
    heads: FxHashMap<i64, BandSlot>,
    many: Vec<Vec<BandEntry>>,
    /// Slots of `many` given back, to use again.
    free: Vec<u32>,
}

impl BandLists {
    fn push(&mut self, band: i64, entry: BandEntry) {
        match self.heads.get(&band).copied() {
            None => {
                self.heads.insert(band, BandSlot::One(entry));
            }
            Some(BandSlot::One(first)) => {
                let list = vec![first, entry];
                let slot = match self.free.pop() {
                    Some(slot) => {
                        if let Some(old) = self.many.get_mut(slot as usize) {
                            *old = list;
                        }
                        slot
                    }
                    None => {
                        self.many.push(list);
                        u32::try_from(self.many.len() - 1).unwrap_or(END)
                    }
                };
                self.heads.insert(band, BandSlot::Many(slot));
            }
            Some(BandSlot::Many(slot)) => {
                if let Some(list) = self.many.get_mut(slot as usize) {
                    list.push(entry);
                }
            }
        }
    }

    /// The band's items, newest first.
    fn iter(&self, band: i64) -> impl Iterator<Item = BandEntry> + '_ {
        let (one, many): (Option<BandEntry>, &[BandEntry]) = match self.heads.get(&band) {
            None => (None, &[]),
            Some(BandSlot::One(entry)) => (Some(*entry), &[]),
            Some(BandSlot::Many(slot)) => (
                None,
                self.many.get(*slot as usize).map_or(&[][..], Vec::as_slice),
            ),
        };
        one.into_iter().chain(many.iter().rev().copied())
    }

    /// Takes `position` out of the band's items.
    fn remove(&mut self, band: i64, position: u32) {
        match self.heads.get(&band).copied() {
            Some(BandSlot::One(entry)) if entry.position == position => {
                self.heads.remove(&band);
            }
            Some(BandSlot::Many(slot)) => {
                let Some(list) = self.many.get_mut(slot as usize) else {
                    return;
                };
                if let Some(at) = list.iter().position(|entry| entry.position == position) {
                    list.remove(at);
                }
                match list.as_slice() {
                    [] => {
                        self.heads.remove(&band);
                    }
                    [last] => {
                        self.heads.insert(band, BandSlot::One(*last));
                    }
                    _ => return,
                }
                *list = Vec::new();
                self.free.push(slot);
            }
            _ => {}
        }
    }
}

/// The copy (see the module docs).
#[derive(Debug)]
pub(super) struct StoryIndex {
    /// `PRAGMA data_version` of the writer connection when loaded: it moves when another
    /// connection commits.
    data_version: i64,
    items: Vec<Indexed>,
    /// Item id → position in `items`.
    positions: FxHashMap<i64, u32>,
    /// Band hash → items, with their band times.
    bands: BandLists,
    /// (story, feed) of every placed item: whether a story has a version from a feed is
    /// one lookup (a story of stock sentences has hundreds of versions to walk).
    story_feeds: FxHashSet<(i64, i64)>,
}

impl StoryIndex {
    fn empty(data_version: i64) -> StoryIndex {
        StoryIndex {
            data_version,
            items: Vec::new(),
            positions: FxHashMap::default(),
            bands: BandLists::default(),
            story_feeds: FxHashSet::default(),
        }
    }

    /// Reads every stored item and band row through the writer connection.
    pub(super) fn load(connection: &Connection) -> Result<StoryIndex, StoreError> {
        let mut index = StoryIndex::empty(data_version(connection)?);
        // In id order: positions then follow ids, which placing relies on (`band_positions`).
        let mut items =
            connection.prepare("SELECT id, feed_id, story, sort_time FROM items ORDER BY id")?;
        let mut rows = items.query([])?;
        while let Some(row) = rows.next()? {
            index.insert(Indexed {
                id: row.get(0)?,
                feed_id: row.get(1)?,
                story: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                time: row.get(3)?,
                numbers: StoryNumbers::UNKNOWN,
            });
        }
        let mut bands = connection.prepare("SELECT band, item_id FROM story_bands_all")?;
        let mut rows = bands.query([])?;
        while let Some(row) = rows.next()? {
            let (band, item_id): (i64, i64) = (row.get(0)?, row.get(1)?);
            if let Some(&position) = index.positions.get(&item_id)
                && let Some(item) = index.items.get(position as usize)
            {
                index.bands.push(
                    band,
                    BandEntry {
                        position,
                        time: BandTime::of(item.time),
                    },
                );
            }
        }
        Ok(index)
    }

    /// Takes in an item; its position.
    fn insert(&mut self, indexed: Indexed) -> u32 {
        let position = u32::try_from(self.items.len()).unwrap_or(END);
        if indexed.story != 0 {
            self.story_feeds.insert((indexed.story, indexed.feed_id));
        }
        self.positions.insert(indexed.id, position);
        self.items.push(indexed);
        position
    }

    /// Whether the copy may still be used: no other connection has committed since it was
    /// loaded.
    pub(super) fn is_current(&self, connection: &Connection) -> Result<bool, StoreError> {
        Ok(data_version(connection)? == self.data_version)
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Takes in a new item, written with its story and band rows, and its story text's
    /// numbers.
    pub(super) fn add(
        &mut self,
        id: i64,
        feed_id: i64,
        story: i64,
        time: i64,
        bands: &[i64],
        numbers: StoryNumbers,
    ) {
        let position = self.insert(Indexed {
            id,
            feed_id,
            story,
            time,
            numbers,
        });
        for &band in bands {
            self.bands.push(
                band,
                BandEntry {
                    position,
                    time: BandTime::of(time),
                },
            );
        }
    }

    /// Takes in an edited item: its band rows were replaced, its time may have moved and its
    /// story text changed.
    pub(super) fn edit(
        &mut self,
        id: i64,
        time: i64,
        old_bands: &[i64],
        bands: &[i64],
        numbers: StoryNumbers,
    ) {
        let Some(&position) = self.positions.get(&id) else {
            return;
        };
        for &band in old_bands {
            self.bands.remove(band, position);
        }
        for &band in bands {
            self.bands.push(
                band,
                BandEntry {
                    position,
                    time: BandTime::of(time),
                },
            );
        }
        if let Some(indexed) = self.items.get_mut(position as usize) {
            indexed.time = time;
            indexed.numbers = numbers;
        }
    }

    /// Appends to `found` the positions of the items that share `band` with a band time in
    /// `from..=to`, at most `limit` of them. A position stands for its item (`id_at`); the
    /// copy takes items in id order (loaded by id, new ones as they are written, which SQLite
    /// numbers upwards), so positions sort as the ids do.
    pub(super) fn band_positions(
        &self,
        band: i64,
        from: i64,
        to: i64,
        limit: usize,
        found: &mut Vec<i64>,
    ) {
        let within = |entry: &BandEntry| {
            let time = entry.time.exact().or_else(|| {
                self.items
                    .get(entry.position as usize)
                    .map(|item: &Indexed| item.time)
            });
            time.is_some_and(|time| (from..=to).contains(&time))
        };
        found.extend(
            self.bands
                .iter(band)
                .filter(within)
                .map(|entry| i64::from(entry.position))
                .take(limit),
        );
    }

    /// The id of the item at `position` (from `band_positions`).
    pub(super) fn id_at(&self, position: i64) -> Option<i64> {
        let position = usize::try_from(position).ok()?;
        self.items.get(position).map(|item| item.id)
    }

    fn get(&self, id: i64) -> Option<&Indexed> {
        let position = *self.positions.get(&id)?;
        self.items.get(position as usize)
    }

    /// An item's feed and story (`None` for an item not placed yet), or `None` when the copy
    /// does not hold it.
    pub(super) fn feed_and_story(&self, id: i64) -> Option<(i64, Option<i64>)> {
        self.get(id)
            .map(|item| (item.feed_id, (item.story != 0).then_some(item.story)))
    }

    /// The numbers of a stored item's story text (`StoryNumbers::UNKNOWN` when not known).
    pub(super) fn numbers_of(&self, id: i64) -> StoryNumbers {
        self.get(id)
            .map_or(StoryNumbers::UNKNOWN, |item| item.numbers)
    }

    /// The band time of a stored item.
    pub(super) fn time_of(&self, id: i64) -> Option<i64> {
        self.get(id).map(|item| item.time)
    }

    /// Whether `story` has a version from `feed_id`.
    pub(super) fn story_has_feed(&self, story: i64, feed_id: i64) -> bool {
        self.story_feeds.contains(&(story, feed_id))
    }
}

fn data_version(connection: &Connection) -> Result<i64, StoreError> {
    Ok(connection
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_story_has_a_feed_once_an_item_of_that_feed_is_placed_in_it() {
        let connection = Connection::open_in_memory().unwrap();
        let mut index = StoryIndex::empty(data_version(&connection).unwrap());
        let numbers = StoryNumbers {
            hashes: [3, 5],
            count: 2,
        };
        // Items 1 (feed 10) and 2 (feed 20) in story 1; item 3 (feed 10) alone.
        index.add(1, 10, 1, 100, &[7], numbers);
        index.add(2, 20, 1, 110, &[7], StoryNumbers::UNKNOWN);
        index.add(3, 10, 3, 120, &[8], StoryNumbers::UNKNOWN);
        assert!(index.story_has_feed(1, 10));
        assert!(index.story_has_feed(1, 20));
        assert!(!index.story_has_feed(1, 30));
        assert!(index.story_has_feed(3, 10));
        assert!(!index.story_has_feed(3, 20));
        assert_eq!(index.numbers_of(1), numbers);
        assert_eq!(index.numbers_of(2), StoryNumbers::UNKNOWN);
        assert_eq!(index.numbers_of(99), StoryNumbers::UNKNOWN);
        // An edit brings its text's numbers.
        index.edit(1, 130, &[7], &[9], StoryNumbers::UNKNOWN);
        assert_eq!(index.numbers_of(1), StoryNumbers::UNKNOWN);
        assert_eq!(index.time_of(1), Some(130));
    }

    #[test]
    fn band_lists_push_iterate_newest_first_and_remove_anywhere() {
        let mut lists = BandLists::default();
        let entry = |position| BandEntry {
            position,
            time: BandTime::of(1_000),
        };
        let positions = |lists: &BandLists, band| {
            lists
                .iter(band)
                .map(|entry| entry.position)
                .collect::<Vec<_>>()
        };
        for position in 1..=4 {
            lists.push(7, entry(position));
        }
        lists.push(8, entry(10));
        assert_eq!(positions(&lists, 7), [4, 3, 2, 1]);
        lists.remove(7, 3);
        assert_eq!(positions(&lists, 7), [4, 2, 1]);
        lists.remove(7, 4);
        assert_eq!(positions(&lists, 7), [2, 1]);
        lists.remove(7, 1);
        // Down to one item: back in the map, its list given back and used again.
        assert_eq!(positions(&lists, 7), [2]);
        assert!(matches!(lists.heads.get(&7), Some(BandSlot::One(_))));
        assert_eq!(lists.free.len(), 1);
        lists.push(9, entry(20));
        lists.push(9, entry(21));
        assert!(lists.free.is_empty());
        assert_eq!(lists.many.len(), 1);
        assert_eq!(positions(&lists, 9), [21, 20]);
        lists.remove(7, 2);
        assert_eq!(lists.iter(7).count(), 0);
        assert!(!lists.heads.contains_key(&7));
        lists.remove(9, 99);
        lists.remove(5, 1);
        assert_eq!(positions(&lists, 9), [21, 20]);
        assert_eq!(positions(&lists, 8), [10]);
        lists.remove(8, 10);
        assert!(!lists.heads.contains_key(&8));
    }

    #[test]
    fn band_positions_keep_to_the_time_range_and_the_limit() {
        let connection = Connection::open_in_memory().unwrap();
        let mut index = StoryIndex::empty(data_version(&connection).unwrap());
        for id in 1..=5 {
            index.add(id, id, id, id * 100, &[42, id], StoryNumbers::UNKNOWN);
        }
        let ids = |index: &StoryIndex, band, from, to, limit| {
            let mut found = Vec::new();
            index.band_positions(band, from, to, limit, &mut found);
            let mut ids: Vec<i64> = found.iter().filter_map(|&p| index.id_at(p)).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(ids(&index, 42, 200, 400, 10), [2, 3, 4]);
        assert_eq!(ids(&index, 42, 0, 1000, 2).len(), 2);
        index.edit(3, 300, &[42, 3], &[43], StoryNumbers::UNKNOWN);
        assert_eq!(ids(&index, 43, 0, 1000, 10), [3]);
        assert!(!ids(&index, 42, 0, 1000, 10).contains(&3));
        // An edit that moves the item's time moves it in or out of a window.
        index.edit(3, 900, &[43], &[43], StoryNumbers::UNKNOWN);
        assert!(ids(&index, 43, 0, 800, 10).is_empty());
        assert_eq!(ids(&index, 43, 850, 950, 10), [3]);
        assert!(index.story_has_feed(2, 2));
        assert!(!index.story_has_feed(2, 3));
        assert_eq!(index.feed_and_story(4), Some((4, Some(4))));
        assert!(index.is_current(&connection).unwrap());
    }

    #[test]
    fn times_a_band_link_cannot_hold_are_read_from_the_item() {
        let connection = Connection::open_in_memory().unwrap();
        let mut index = StoryIndex::empty(data_version(&connection).unwrap());
        // Before 1970, at 1970 itself, and past 2106.
        index.add(1, 1, 1, -86_400, &[7], StoryNumbers::UNKNOWN);
        index.add(2, 1, 2, 0, &[7], StoryNumbers::UNKNOWN);
        index.add(3, 1, 3, 5_000_000_000, &[7], StoryNumbers::UNKNOWN);
        index.add(4, 1, 4, 1_000, &[7], StoryNumbers::UNKNOWN);
        let ids = |from, to| {
            let mut found = Vec::new();
            index.band_positions(7, from, to, 10, &mut found);
            let mut ids: Vec<i64> = found.iter().filter_map(|&p| index.id_at(p)).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(ids(-100_000, -1), [1]);
        assert_eq!(ids(-1, 1), [2]);
        assert_eq!(ids(4_999_999_999, 5_000_000_001), [3]);
        assert_eq!(ids(i64::MIN, i64::MAX), [1, 2, 3, 4]);
        assert!(ids(5_000_000_001, i64::MAX).is_empty());
    }
}
