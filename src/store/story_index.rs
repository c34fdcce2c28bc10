//! The band index in memory: the writer's copy of `story_bands`, with each stored item's feed,
//! story and time, so that placing a new item (`stories`) reads no index rows, only the story
//! text of the few candidates it confirms.
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
use rustc_hash::FxHashMap;

use super::StoreError;

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
}

/// A link of a singly linked list kept in a `Vec`: the lists of all bands (or stories) share
/// one allocation, which costs far less than a `Vec` per band when most bands have one item.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// A position in `StoryIndex::items`.
    item: u32,
    next: u32,
}

/// Lists of item positions under `i64` keys, newest first.
#[derive(Debug, Default)]
struct Lists {
    heads: FxHashMap<i64, u32>,
    nodes: Vec<Node>,
}

impl Lists {
    fn push(&mut self, key: i64, item: u32) {
        let index = u32::try_from(self.nodes.len()).unwrap_or(END);
        let head = self.heads.entry(key).or_insert(END);
        self.nodes.push(Node { item, next: *head });
        *head = index;
    }

    fn iter(&self, key: i64) -> ListIter<'_> {
        ListIter {
            nodes: &self.nodes,
            at: self.heads.get(&key).copied().unwrap_or(END),
        }
    }

    /// Unlinks one node holding `item` from `key`'s list (its slot stays, unused).
    fn remove(&mut self, key: i64, item: u32) {
        let Some(&head) = self.heads.get(&key) else {
            return;
        };
        let mut previous: Option<usize> = None;
        let mut at = head;
        while let Some(node) = self.nodes.get(at as usize).copied() {
            if node.item == item {
                match previous {
                    None if node.next == END => {
                        self.heads.remove(&key);
                    }
                    None => {
                        self.heads.insert(key, node.next);
                    }
                    Some(previous) => self.nodes[previous].next = node.next,
                }
                return;
            }
            previous = Some(at as usize);
            at = node.next;
        }
    }
}

struct ListIter<'a> {
    nodes: &'a [Node],
    at: u32,
}

impl Iterator for ListIter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let node = self.nodes.get(self.at as usize)?;
        self.at = node.next;
        Some(node.item)
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
    /// Band hash → items.
    bands: Lists,
    /// Story → its versions.
    stories: Lists,
}

impl StoryIndex {
    fn empty(data_version: i64) -> StoryIndex {
        StoryIndex {
            data_version,
            items: Vec::new(),
            positions: FxHashMap::default(),
            bands: Lists::default(),
            stories: Lists::default(),
        }
    }

    /// Reads every stored item and band row through the writer connection.
    pub(super) fn load(connection: &Connection) -> Result<StoryIndex, StoreError> {
        let mut index = StoryIndex::empty(data_version(connection)?);
        let mut items = connection.prepare("SELECT id, feed_id, story, sort_time FROM items")?;
        let mut rows = items.query([])?;
        while let Some(row) = rows.next()? {
            index.insert(Indexed {
                id: row.get(0)?,
                feed_id: row.get(1)?,
                story: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                time: row.get(3)?,
            });
        }
        let mut bands = connection.prepare("SELECT band, item_id FROM story_bands")?;
        let mut rows = bands.query([])?;
        while let Some(row) = rows.next()? {
            let (band, item_id): (i64, i64) = (row.get(0)?, row.get(1)?);
            if let Some(&position) = index.positions.get(&item_id) {
                index.bands.push(band, position);
            }
        }
        Ok(index)
    }

    /// Takes in an item; its position.
    fn insert(&mut self, indexed: Indexed) -> u32 {
        let position = u32::try_from(self.items.len()).unwrap_or(END);
        if indexed.story != 0 {
            self.stories.push(indexed.story, position);
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

    /// Takes in a new item, written with its story and band rows.
    pub(super) fn add(&mut self, id: i64, feed_id: i64, story: i64, time: i64, bands: &[i64]) {
        let position = self.insert(Indexed {
            id,
            feed_id,
            story,
            time,
        });
        for &band in bands {
            self.bands.push(band, position);
        }
    }

    /// Takes in an edited item: its band rows were replaced and its time may have moved.
    pub(super) fn edit(&mut self, id: i64, time: i64, old_bands: &[i64], bands: &[i64]) {
        let Some(&position) = self.positions.get(&id) else {
            return;
        };
        for &band in old_bands {
            self.bands.remove(band, position);
        }
        for &band in bands {
            self.bands.push(band, position);
        }
        if let Some(indexed) = self.items.get_mut(position as usize) {
            indexed.time = time;
        }
    }

    /// The items that share `band` with a band time in `from..=to`, at most `limit` of them.
    pub(super) fn band_items(&self, band: i64, from: i64, to: i64, limit: usize) -> Vec<i64> {
        self.bands
            .iter(band)
            .filter_map(|position| self.items.get(position as usize))
            .filter(|item| (from..=to).contains(&item.time))
            .map(|item| item.id)
            .take(limit)
            .collect()
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

    /// The band time of a stored item.
    pub(super) fn time_of(&self, id: i64) -> Option<i64> {
        self.get(id).map(|item| item.time)
    }

    /// Whether `story` has a version from `feed_id`.
    pub(super) fn story_has_feed(&self, story: i64, feed_id: i64) -> bool {
        self.stories
            .iter(story)
            .filter_map(|position| self.items.get(position as usize))
            .any(|item| item.feed_id == feed_id)
    }
}

fn data_version(connection: &Connection) -> Result<i64, StoreError> {
    Ok(connection.query_row("PRAGMA data_version", [], |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_push_iterate_newest_first_and_unlink_anywhere() {
        let mut lists = Lists::default();
        for item in 1..=4 {
            lists.push(7, item);
        }
        lists.push(8, 10);
        assert_eq!(lists.iter(7).collect::<Vec<_>>(), [4, 3, 2, 1]);
        lists.remove(7, 3);
        assert_eq!(lists.iter(7).collect::<Vec<_>>(), [4, 2, 1]);
        lists.remove(7, 4);
        assert_eq!(lists.iter(7).collect::<Vec<_>>(), [2, 1]);
        lists.remove(7, 1);
        assert_eq!(lists.iter(7).collect::<Vec<_>>(), [2]);
        lists.remove(7, 2);
        assert_eq!(lists.iter(7).count(), 0);
        assert!(!lists.heads.contains_key(&7));
        lists.remove(9, 1);
        assert_eq!(lists.iter(8).collect::<Vec<_>>(), [10]);
    }

    #[test]
    fn band_items_keep_to_the_time_range_and_the_limit() {
        let connection = Connection::open_in_memory().unwrap();
        let mut index = StoryIndex::empty(data_version(&connection).unwrap());
        for id in 1..=5 {
            index.add(id, id, id, id * 100, &[42, id]);
        }
        let mut found = index.band_items(42, 200, 400, 10);
        found.sort_unstable();
        assert_eq!(found, [2, 3, 4]);
        assert_eq!(index.band_items(42, 0, 1000, 2).len(), 2);
        index.edit(3, 300, &[42, 3], &[43]);
        assert_eq!(index.band_items(43, 0, 1000, 10), [3]);
        assert!(!index.band_items(42, 0, 1000, 10).contains(&3));
        assert!(index.story_has_feed(2, 2));
        assert!(!index.story_has_feed(2, 3));
        assert_eq!(index.feed_and_story(4), Some((4, Some(4))));
        assert!(index.is_current(&connection).unwrap());
    }
}
