//! The raw hashes of each feed's last document (`raw_items`): which item bytes the feed sent
//! before, and what they were read as (key, content hash, link without fragment). The pipeline
//! reads them before a parse and leaves out the items it has seen (`pipeline::rawskip`); they
//! are written by `write_poll_in` in the poll's own savepoint, after the items, so they never
//! run ahead of what is stored.

use std::collections::HashMap;

use rusqlite::params;

use super::{Store, StoreError};
use crate::model::{FeedId, RawHash};

/// One item of a document as it was read: its raw hash and what it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawItem {
    pub hash: RawHash,
    /// `ItemKey::to_storage_string` of the item.
    pub key: String,
    /// The item's content hash when it was read; it is left out of a later parse only while
    /// the stored item still has this one.
    pub content_hash: String,
    /// The item's link without its fragment (the link `normalize` counts to tell items that
    /// share a link apart).
    pub link: Option<String>,
}

/// An item of the feed's last document as the store knows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRaw {
    /// The key it was read as.
    pub key: String,
    /// Its link without fragment.
    pub link: Option<String>,
    /// Whether the feed's item under that key is still the version read then (same content
    /// hash): only then may it be left out of a parse.
    pub current: bool,
}

/// How a poll changes a feed's raw hashes, written with its items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawItems {
    /// Drop every stored raw hash of the feed first (the document could not be pre-scanned,
    /// or was read whole).
    pub replace_all: bool,
    /// Raw hashes the feed's new document no longer has.
    pub gone: Vec<RawHash>,
    /// Items read from this document, stored or replaced.
    pub read: Vec<RawItem>,
    /// The keys of the items this document still lists but that were left out of the parse,
    /// their raw bytes being known: they count as listed (retention spares them) and as
    /// unchanged.
    pub skipped: Vec<String>,
}

/// The raw hashes of a feed's last document, with whether each stored item is still the
/// version read then. The item is looked up by a subquery: written as a join, SQLite compiled
/// the statement again for every feed id bound (the reader plans with bound values).
pub(super) const RAW_ITEMS: &str = "SELECT r.hash, r.item_key, r.link,
            (SELECT i.content_hash FROM items i
             WHERE i.feed_id = r.feed_id AND i.item_key = r.item_key) IS r.content_hash
     FROM raw_items r
     WHERE r.feed_id = ?1";

impl Store {
    /// The raw hashes of a feed's last document, with what each item was read as and whether
    /// the stored item is still that version. One indexed probe of `items` per row, so a feed
    /// with a long history costs no more than one with a short one.
    pub fn raw_items(&self, feed_id: FeedId) -> Result<HashMap<RawHash, KnownRaw>, StoreError> {
        let connection = self.reader()?;
        let mut statement = connection.prepare_cached(RAW_ITEMS)?;
        let mut rows = statement.query([feed_id.0])?;
        let mut items = HashMap::new();
        while let Some(row) = rows.next()? {
            // A row of another length cannot come from this build; it is ignored.
            let Ok(hash) = RawHash::try_from(row.get_ref(0)?.as_blob().unwrap_or_default()) else {
                continue;
            };
            items.insert(
                hash,
                KnownRaw {
                    key: row.get(1)?,
                    link: row.get(2)?,
                    current: row.get(3)?,
                },
            );
        }
        Ok(items)
    }

    /// The stored content hash of each of `keys` that the feed holds (key → hash), for the
    /// items a poll read: the rest were left out of the parse, so the poll need not read the
    /// hashes of the feed's whole history (`item_hashes`). A feed that holds no item yet (the
    /// first poll of every feed of a cold start) costs one probe instead of one per key.
    pub fn content_hashes(
        &self,
        feed_id: FeedId,
        keys: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let connection = self.reader()?;
        if keys.len() > 1 {
            let holds_items: bool = connection
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM items WHERE feed_id = ?1)")?
                .query_row([feed_id.0], |row| row.get(0))?;
            if !holds_items {
                return Ok(HashMap::new());
            }
        }
        let mut statement = connection.prepare_cached(
            "SELECT content_hash FROM items WHERE feed_id = ?1 AND item_key = ?2",
        )?;
        let mut hashes = HashMap::with_capacity(keys.len());
        for key in keys {
            let mut rows = statement.query(params![feed_id.0, key])?;
            if let Some(row) = rows.next()? {
                hashes.insert(key.clone(), row.get(0)?);
            }
        }
        Ok(hashes)
    }
}

/// Applies `raw` to the feed's stored raw hashes, inside the caller's transaction.
pub(super) fn write_raw_items_in(
    transaction: &rusqlite::Connection,
    feed_id: FeedId,
    raw: &RawItems,
) -> Result<(), StoreError> {
    if raw.replace_all {
        transaction
            .prepare_cached("DELETE FROM raw_items WHERE feed_id = ?1")?
            .execute([feed_id.0])?;
    } else {
        let mut delete =
            transaction.prepare_cached("DELETE FROM raw_items WHERE feed_id = ?1 AND hash = ?2")?;
        for hash in &raw.gone {
            delete.execute(params![feed_id.0, &hash[..]])?;
        }
    }
    let mut insert = transaction.prepare_cached(
        "INSERT OR REPLACE INTO raw_items (feed_id, hash, item_key, content_hash, link)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for item in &raw.read {
        insert.execute(params![
            feed_id.0,
            &item.hash[..],
            item.key,
            item.content_hash,
            item.link
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::PollSummary;
    use crate::store::tests::{keyed_item, record_items_at};

    fn raw_item(byte: u8, key: &str) -> RawItem {
        RawItem {
            hash: [byte; 16],
            key: format!("guid:{key}"),
            content_hash: format!("hash {key}"),
            link: Some(format!("https://example.org/{key}")),
        }
    }

    fn poll(store: &Store, feed: FeedId, keys: &[&str], raw: RawItems, at: i64) -> PollSummary {
        let items = keys
            .iter()
            .map(|key| (keyed_item(key), Some(Vec::new())))
            .collect();
        record_items_at(store, feed, items, Some(raw), at)
    }

    /// The probe that spares a feed without items its per-key look-ups answers as they would.
    #[test]
    fn content_hashes_are_those_of_the_feed_asked_about_and_none_before_its_first_items() {
        let store = Store::open_in_memory().unwrap();
        let feeds = store
            .sync_feeds(&[("https://a.example/", None), ("https://b.example/", None)])
            .unwrap();
        let (a, b) = (feeds[0].id, feeds[1].id);
        let keys = |names: &[&str]| -> Vec<String> {
            names.iter().map(|name| format!("guid:{name}")).collect()
        };
        assert!(
            store
                .content_hashes(a, &keys(&["x", "y"]))
                .unwrap()
                .is_empty()
        );
        poll(&store, b, &["x", "y"], RawItems::default(), 1000);
        // Feed b's items are no answer for feed a, with one key or several.
        assert!(
            store
                .content_hashes(a, &keys(&["x", "y"]))
                .unwrap()
                .is_empty()
        );
        assert!(store.content_hashes(a, &keys(&["x"])).unwrap().is_empty());
        poll(&store, a, &["y"], RawItems::default(), 1000);
        let found = store.content_hashes(a, &keys(&["x", "y", "z"])).unwrap();
        assert_eq!(
            found,
            HashMap::from([("guid:y".to_string(), "hash y".to_string())])
        );
        let found = store.content_hashes(b, &keys(&["x", "y"])).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found["guid:x"], "hash x");
    }

    #[test]
    fn raw_hashes_are_replaced_or_updated_with_the_poll_and_go_with_the_feed() {
        let store = Store::open_in_memory().unwrap();
        let feeds = store
            .sync_feeds(&[("https://a.example/", None), ("https://b.example/", None)])
            .unwrap();
        let (a, b) = (feeds[0].id, feeds[1].id);
        let first = RawItems {
            replace_all: true,
            read: vec![raw_item(1, "x"), raw_item(2, "y"), raw_item(3, "z")],
            ..RawItems::default()
        };
        poll(&store, a, &["x", "y", "z"], first.clone(), 1000);
        poll(&store, b, &["x"], first, 1000);
        let stored = store.raw_items(a).unwrap();
        assert_eq!(stored.len(), 3);
        assert_eq!(
            stored[&[2; 16]],
            KnownRaw {
                key: "guid:y".into(),
                link: Some("https://example.org/y".into()),
                current: true
            }
        );
        assert_eq!(
            store
                .content_hashes(a, &["guid:x".into(), "guid:nothing".into()])
                .unwrap(),
            HashMap::from([("guid:x".to_string(), "hash x".to_string())])
        );
        // Read as another version than the one stored: not current.
        let mut stale = raw_item(9, "x");
        stale.content_hash = "an older version".into();
        poll(
            &store,
            b,
            &[],
            RawItems {
                read: vec![stale],
                ..RawItems::default()
            },
            1500,
        );
        assert!(!store.raw_items(b).unwrap()[&[9; 16]].current);
        assert!(store.raw_items(b).unwrap()[&[1; 16]].current);
        // y edited (new bytes), z gone, x left out of the parse.
        let summary = poll(
            &store,
            a,
            &["y"],
            RawItems {
                replace_all: false,
                gone: vec![[2; 16], [3; 16]],
                read: vec![raw_item(4, "y")],
                skipped: vec!["guid:x".into()],
            },
            2000,
        );
        // y has the same content hash here (unchanged), and x was left out (unchanged too).
        assert_eq!(summary.unchanged, 2);
        let mut hashes: Vec<RawHash> = store.raw_items(a).unwrap().into_keys().collect();
        hashes.sort_unstable();
        assert_eq!(hashes, [[1; 16], [4; 16]]);
        // A document read whole replaces them all.
        poll(
            &store,
            a,
            &["x"],
            RawItems {
                replace_all: true,
                ..RawItems::default()
            },
            3000,
        );
        assert!(store.raw_items(a).unwrap().is_empty());
        assert_eq!(store.raw_items(b).unwrap().len(), 4);
        // A deleted feed takes its raw hashes along.
        store
            .writer()
            .unwrap()
            .execute("DELETE FROM feeds WHERE id = ?1", [b.0])
            .unwrap();
        assert!(store.raw_items(b).unwrap().is_empty());
    }

    #[test]
    fn items_left_out_of_the_parse_stay_listed_and_retention_spares_them() {
        let store = Store::open_in_memory().unwrap();
        let feed = store.sync_feeds(&[("https://a.example/", None)]).unwrap()[0].id;
        let read_all = RawItems {
            replace_all: true,
            read: vec![raw_item(1, "old1"), raw_item(2, "old2")],
            ..RawItems::default()
        };
        poll(&store, feed, &["old1", "old2"], read_all, 1000);
        // The next document still lists both (left out of the parse) and brings one new item.
        let next = RawItems {
            read: vec![raw_item(3, "new")],
            skipped: vec!["guid:old1".into(), "guid:old2".into()],
            ..RawItems::default()
        };
        poll(&store, feed, &["new"], next, 2000);
        let pruned = store
            .prune(Utc.timestamp_opt(2500, 0).unwrap(), &[])
            .unwrap();
        assert_eq!(pruned.expired, 0, "still listed by the source: kept");
        // Without them listed, the old ones would go.
        poll(&store, feed, &["new"], RawItems::default(), 3000);
        let pruned = store
            .prune(Utc.timestamp_opt(2500, 0).unwrap(), &[])
            .unwrap();
        assert_eq!(pruned.expired, 2);
    }
}
