//! Retention: items older than `settings.retention` (counted from when tidings first saw them)
//! and items past a feed's `max_items` are deleted with their topic matches, except those the
//! source still lists in its last document (they would only come back as new). Freed pages go
//! back to the file system (`auto_vacuum = INCREMENTAL`), so the file stops growing once
//! retention has caught up.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, to_unix};
use crate::model::FeedId;

/// What one pruning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Items deleted because they were older than the retention.
    pub expired: usize,
    /// Items deleted because their feed held more than its `max_items`.
    pub over_limit: usize,
    /// Pages handed back to the file system.
    pub pages_freed: u64,
}

/// Makes the database give freed pages back on `PRAGMA incremental_vacuum`. A new file gets
/// the mode before its first table; an older file without it is rewritten once (`VACUUM`).
pub(super) fn enable_incremental_vacuum(connection: &Connection) -> Result<(), StoreError> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = connection.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    connection.pragma_update(None, "auto_vacuum", INCREMENTAL)?;
    let pages: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    if pages > 0 {
        // The mode of a file that has tables changes only with a rewrite.
        connection.execute_batch("VACUUM")?;
    }
    Ok(())
}

/// The keys a feed listed in its last document.
fn listed(keys: Option<String>) -> HashSet<String> {
    keys.map(|keys| keys.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

impl Store {
    /// Deletes items first seen before `cutoff`, and the oldest items of each feed in
    /// `limits` past its maximum, sparing the items each feed still lists; their matches go
    /// with them. Then hands the freed pages back to the file system.
    pub fn prune(
        &self,
        cutoff: DateTime<Utc>,
        limits: &[(FeedId, usize)],
    ) -> Result<Pruned, StoreError> {
        let mut connection = self.writer()?;
        let mut pruned = Pruned::default();
        {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut listed_by_feed: HashMap<i64, HashSet<String>> = HashMap::new();
            {
                let mut feeds =
                    transaction.prepare("SELECT feed_id, keys FROM feed_listed_keys")?;
                let mut rows = feeds.query([])?;
                while let Some(row) = rows.next()? {
                    listed_by_feed.insert(row.get(0)?, listed(row.get(1)?));
                }
            }
            let mut doomed: Vec<i64> = Vec::new();
            {
                let mut old = transaction
                    .prepare("SELECT id, feed_id, item_key FROM items WHERE first_seen < ?1")?;
                let mut rows = old.query([to_unix(cutoff)])?;
                while let Some(row) = rows.next()? {
                    let (id, feed_id, key): (i64, i64, String) =
                        (row.get(0)?, row.get(1)?, row.get(2)?);
                    let still_listed = listed_by_feed
                        .get(&feed_id)
                        .is_some_and(|keys| keys.contains(&key));
                    if !still_listed {
                        doomed.push(id);
                    }
                }
            }
            pruned.expired = doomed.len();
            let expired: HashSet<i64> = doomed.iter().copied().collect();
            {
                let mut over = transaction.prepare(
                    "SELECT id, item_key FROM items WHERE feed_id = ?1
                     ORDER BY sort_time DESC, id DESC LIMIT -1 OFFSET ?2",
                )?;
                for (feed_id, max_items) in limits {
                    let keys = listed_by_feed.get(&feed_id.0);
                    let offset = i64::try_from(*max_items).unwrap_or(i64::MAX);
                    let mut rows = over.query(params![feed_id.0, offset])?;
                    while let Some(row) = rows.next()? {
                        let (id, key): (i64, String) = (row.get(0)?, row.get(1)?);
                        let still_listed = keys.is_some_and(|keys| keys.contains(&key));
                        if !still_listed && !expired.contains(&id) {
                            doomed.push(id);
                            pruned.over_limit += 1;
                        }
                    }
                }
            }
            {
                let mut words =
                    transaction.prepare("SELECT story_words FROM items WHERE id = ?1")?;
                let mut delete = transaction.prepare("DELETE FROM items WHERE id = ?1")?;
                for id in &doomed {
                    // The band index has no foreign key: an item's bands go with it here.
                    let story_words: Option<Option<String>> =
                        words.query_row([id], |row| row.get(0)).optional()?;
                    let bands = story_words
                        .flatten()
                        .map(|words| crate::dedupe::bands_of_words(&words))
                        .unwrap_or_default();
                    super::stories::unindex_bands_in(&transaction, *id, &bands)?;
                    delete.execute([id])?;
                }
            }
            transaction.commit()?;
            // Pruned items leave the output feeds: their cached pages are stale now, and the
            // writer's copy of the band index still holds them.
            if !doomed.is_empty() {
                self.placing()?.forget();
                self.changed();
            }
        }
        let free_before: i64 =
            connection.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
        {
            // The pragma frees one page per step: step it to the end.
            let mut vacuum = connection.prepare("PRAGMA incremental_vacuum")?;
            let mut steps = vacuum.query([])?;
            while steps.next()?.is_some() {}
        }
        let free_after: i64 =
            connection.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
        pruned.pages_freed = u64::try_from(free_before - free_after).unwrap_or(0);
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{Item, TopicMatch, TopicSlug};
    use crate::store::tests::{keyed_item, record_items_at};

    fn item(key: &str) -> Item {
        Item {
            content: Some("words ".repeat(500)),
            ..keyed_item(key)
        }
    }

    fn poll(store: &Store, feed: FeedId, keys: &[String], at: i64) {
        let matches = vec![TopicMatch {
            topic: TopicSlug("t".into()),
            terms: ["x"].into_iter().collect(),
        }];
        let items = keys
            .iter()
            .map(|key| (item(key), Some(matches.clone())))
            .collect();
        record_items_at(store, feed, items, None, at);
    }

    fn keys(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|index| format!("k{index}")).collect()
    }

    #[test]
    fn old_items_go_unless_still_listed_and_max_items_keeps_the_newest() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path()).unwrap();
        let feeds = store
            .sync_feeds(&[("https://a.example/", None), ("https://b.example/", None)])
            .unwrap();
        let (a, b) = (feeds[0].id, feeds[1].id);
        // Feed a listed k0..k10 at t=1000, then k5..k15 at t=2000: k0..k5 are no longer listed.
        poll(&store, a, &keys(0..10), 1000);
        poll(&store, a, &keys(5..15), 2000);
        // Feed b: 20 items seen at t=3000, all still listed.
        poll(&store, b, &keys(100..120), 3000);
        let cutoff = Utc.timestamp_opt(2500, 0).unwrap();
        let pruned = store.prune(cutoff, &[]).unwrap();
        // Only the five old items a no longer lists go.
        assert_eq!(pruned.expired, 5);
        let counts = crate::store::tests::item_counts(&store);
        assert_eq!(counts.iter().sum::<u64>(), 10 + 20);
        // Their matches went with them.
        assert_eq!(store.topic_counts().unwrap().get("t"), Some(&30));

        // b now lists only 5 items and may keep 8: the 12 oldest unlisted beyond 8 go.
        poll(&store, b, &keys(115..120), 3100);
        let pruned = store.prune(cutoff, &[(b, 8)]).unwrap();
        assert_eq!(pruned.over_limit, 12);
        let b_row = store
            .feed_rows()
            .unwrap()
            .into_iter()
            .find(|row| row.id == b)
            .unwrap();
        assert_eq!(b_row.item_count, Some(8));
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    /// Schema version 8 moved the listed keys out of `feeds` (warm branch): a store written
    /// before keeps sparing what its feeds list.
    #[test]
    fn listed_keys_kept_in_the_feeds_row_survive_the_move_to_their_own_table() {
        let directory = tempfile::tempdir().unwrap();
        {
            let store = Store::open(directory.path()).unwrap();
            let feed = store.sync_feeds(&[("https://a.example/", None)]).unwrap()[0].id;
            poll(&store, feed, &keys(0..10), 1000);
            poll(&store, feed, &keys(5..15), 2000);
        }
        {
            // Back to the shape of version 7: the keys in a column of `feeds`.
            let connection = Connection::open(directory.path().join("tidings.db")).unwrap();
            connection
                .execute_batch(
                    "ALTER TABLE feeds ADD COLUMN listed_keys TEXT;
                     UPDATE feeds SET listed_keys =
                         (SELECT keys FROM feed_listed_keys WHERE feed_id = feeds.id);
                     DROP TABLE feed_listed_keys;
                     PRAGMA user_version = 7;",
                )
                .unwrap();
        }
        let store = Store::open(directory.path()).unwrap();
        let pruned = store
            .prune(Utc.timestamp_opt(2500, 0).unwrap(), &[])
            .unwrap();
        // k0..k5 are no longer listed; k5..k15 are, though seen before the cutoff too.
        assert_eq!(pruned.expired, 5);
        assert_eq!(crate::store::tests::item_counts(&store), vec![10]);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn freed_pages_go_back_to_the_file_system() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path()).unwrap();
        let feed = store.sync_feeds(&[("https://a.example/", None)]).unwrap()[0].id;
        poll(&store, feed, &keys(0..400), 1000);
        poll(&store, feed, &keys(400..401), 2000);
        let before = store.page_count().unwrap();
        let pruned = store
            .prune(Utc.timestamp_opt(1500, 0).unwrap(), &[])
            .unwrap();
        assert_eq!(pruned.expired, 400);
        assert!(pruned.pages_freed > 0);
        let after = store.page_count().unwrap();
        assert!(after < before / 2, "{before} pages before, {after} after");
    }

    #[test]
    fn an_old_database_is_switched_to_incremental_vacuum() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tidings.db");
        {
            let connection = Connection::open(&path).unwrap();
            connection
                .execute_batch("CREATE TABLE old (x); INSERT INTO old VALUES (1);")
                .unwrap();
        }
        let store = Store::open(directory.path()).unwrap();
        drop(store);
        let connection = Connection::open(&path).unwrap();
        let mode: i64 = connection
            .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, 2);
        let kept: i64 = connection
            .query_row("SELECT x FROM old", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 1);
    }
}
