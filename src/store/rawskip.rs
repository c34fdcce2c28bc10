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

impl Store {
    /// The raw hashes of a feed's last document with what each item was read as.
    pub fn raw_items(&self, feed_id: FeedId) -> Result<HashMap<RawHash, RawItem>, StoreError> {
        let connection = self.reader()?;
        let mut statement = connection.prepare_cached(
            "SELECT hash, item_key, content_hash, link FROM raw_items WHERE feed_id = ?1",
        )?;
        let mut rows = statement.query([feed_id.0])?;
        let mut items = HashMap::new();
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            // A row of another length cannot come from this build; it is ignored.
            let Ok(hash) = RawHash::try_from(bytes.as_slice()) else {
                continue;
            };
            items.insert(
                hash,
                RawItem {
                    hash,
                    key: row.get(1)?,
                    content_hash: row.get(2)?,
                    link: row.get(3)?,
                },
            );
        }
        Ok(items)
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
