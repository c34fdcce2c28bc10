//! Reading a changed document without parsing the items it had before: the raw bytes are
//! pre-scanned (`parse::prescan`), each item's raw hash is compared with those of the feed's
//! last document (`Store::raw_items`), and only a smaller document goes through the normal
//! `parse` and `normalize`: the original bytes without the known items (the header, the items
//! that are new or changed, the tail). Charset handling, recovery and every rule of parsing and
//! normalizing stay where they are, and the items that are read come out exactly as a parse of
//! the whole document makes them. A feed that changes one item among two hundred costs the
//! parse of one item and of its header.
//!
//! An item is left out only when its bytes, in the same context, were in the last document,
//! and the item stored under the key it was read as still has the content hash it was read
//! with. The whole document is parsed as before whenever that could make a difference:
//! - the pre-scan is unsure (see `parse::prescan`);
//! - the smaller document does not parse;
//! - an item read now has the key of an item left out, or a key is listed twice (the order of
//!   the versions decides what is stored);
//! - a link shared across an item read now and one left out, where either has no guid (its key
//!   depends on whether its link is shared in the document, `normalize::identity`), or an item
//!   left out whose key was made with its link alone (or with link and title) and whose link is
//!   now shared (or no longer shared).
//!
//! The keys of the items left out are handed to the store with the poll (`RawItems::skipped`):
//! they stay listed (retention spares what the source still lists) and count as unchanged.
//! Pure: the caller reads the known hashes and stored content hashes and writes the result.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use url::Url;

use crate::model::{FeedMeta, Item, RawHash};
use crate::normalize::{normalize, without_fragment};
use crate::parse::prescan::{Prescan, prescan};
use crate::parse::{ParseError, parse, parse_decoded};
use crate::store::{KnownRaw, RawItem, RawItems};

/// A document read, in part or whole.
#[derive(Debug)]
pub struct Read {
    pub meta: FeedMeta,
    /// The items that were parsed and normalized (dates not clamped yet).
    pub items: Vec<Item>,
    pub update_period: Option<Duration>,
    /// The raw hashes to store with the poll, and the keys of the items left out.
    pub raw: RawItems,
}

/// Reads `body`, fetched from `feed_url` with `content_type`. `known` is what
/// `Store::raw_items` holds for the feed. Fails only as `parse` fails on the whole document.
pub fn read(
    body: &[u8],
    content_type: Option<&str>,
    feed_url: &Url,
    known: &HashMap<RawHash, KnownRaw>,
) -> Result<Read, ParseError> {
    let Some(scan) = prescan(body, content_type, feed_url.as_str()) else {
        return whole(body, content_type, feed_url, None);
    };
    let hashes = scan.item_hashes();
    let mut skip: Vec<bool> = hashes
        .iter()
        .map(|hash| known.get(hash).is_some_and(|row| row.current))
        .collect();
    // A key listed twice is read every time: which version is stored depends on the order.
    let mut key_counts: HashMap<&str, usize> = HashMap::new();
    for hash in &hashes {
        if let Some(row) = known.get(hash) {
            *key_counts.entry(row.key.as_str()).or_default() += 1;
        }
    }
    for (hash, skip) in hashes.iter().zip(skip.iter_mut()) {
        if *skip
            && known
                .get(hash)
                .is_some_and(|row| key_counts[row.key.as_str()] > 1)
        {
            *skip = false;
        }
    }
    if !skip.contains(&true) {
        return whole(body, content_type, feed_url, Some((&scan, &hashes)));
    }
    let reduced = scan.without(&skip);
    let Ok(parsed) = parse(&reduced, content_type, feed_url.as_str()) else {
        return whole(body, content_type, feed_url, Some((&scan, &hashes)));
    };
    let (meta, items) = normalize(&parsed, feed_url);
    let left_out: Vec<&KnownRaw> = hashes
        .iter()
        .zip(&skip)
        .filter(|(_, skip)| **skip)
        .filter_map(|(hash, _)| known.get(hash))
        .collect();
    if !same_keys_as_whole(&items, &left_out) {
        return whole(body, content_type, feed_url, Some((&scan, &hashes)));
    }
    let read_hashes: Vec<RawHash> = hashes
        .iter()
        .zip(&skip)
        .filter(|(_, skip)| !**skip)
        .map(|(hash, _)| *hash)
        .collect();
    let current: HashSet<&RawHash> = hashes.iter().collect();
    let raw = RawItems {
        replace_all: false,
        gone: known
            .keys()
            .filter(|hash| !current.contains(hash))
            .copied()
            .collect(),
        read: raw_items(&read_hashes, &items),
        skipped: left_out.iter().map(|row| row.key.clone()).collect(),
    };
    Ok(Read {
        meta,
        items,
        update_period: parsed.update_period,
        raw,
    })
}

/// The whole document parsed as before; its raw hashes replace the feed's when it was scanned
/// (and dropped when it could not be).
fn whole(
    body: &[u8],
    content_type: Option<&str>,
    feed_url: &Url,
    scanned: Option<(&Prescan<'_>, &[RawHash])>,
) -> Result<Read, ParseError> {
    // The scan decoded the document's charset already (as `parse` would): its text is parsed.
    let parsed = match scanned {
        Some((scan, _)) => parse_decoded(&scan.text, content_type, feed_url.as_str())?,
        None => parse(body, content_type, feed_url.as_str())?,
    };
    let (meta, items) = normalize(&parsed, feed_url);
    let read = scanned.map_or_else(Vec::new, |(_, hashes)| raw_items(hashes, &items));
    Ok(Read {
        meta,
        items,
        update_period: parsed.update_period,
        raw: RawItems {
            replace_all: true,
            read,
            ..RawItems::default()
        },
    })
}

/// The raw items of the items read, paired in document order; none when feed-rs made another
/// number of entries than there were item elements (then which is which is not known, and
/// they are read again next time).
fn raw_items(hashes: &[RawHash], items: &[Item]) -> Vec<RawItem> {
    if hashes.len() != items.len() {
        return Vec::new();
    }
    hashes
        .iter()
        .zip(items)
        .map(|(hash, item)| RawItem {
            hash: *hash,
            key: item.key.to_storage_string(),
            content_hash: item.content_hash.clone(),
            link: item
                .link
                .as_deref()
                .map(|link| without_fragment(link).to_string()),
        })
        .collect()
}

/// Whether the items read from the smaller document have the keys a parse of the whole would
/// give them, and the items left out still have theirs (module docs).
fn same_keys_as_whole(items: &[Item], left_out: &[&KnownRaw]) -> bool {
    // Storage keys start with their kind (`ItemKey::to_storage_string`).
    let has_guid = |key: &str| key.starts_with("guid:");
    let left_out_keys: HashSet<&str> = left_out.iter().map(|row| row.key.as_str()).collect();
    // Per link of the items left out: how many, and whether one of them has no guid.
    let mut left_out_links: HashMap<&str, (usize, bool)> = HashMap::new();
    for row in left_out {
        if let Some(link) = &row.link {
            let entry = left_out_links.entry(link.as_str()).or_default();
            entry.0 += 1;
            entry.1 |= !has_guid(&row.key);
        }
    }
    for item in items {
        if left_out_keys.contains(item.key.to_storage_string().as_str()) {
            return false;
        }
        let shared_with_left_out = item
            .link
            .as_deref()
            .and_then(|link| left_out_links.get(without_fragment(link)));
        if let Some((_, any_without_guid)) = shared_with_left_out
            && (item.guid.is_none() || *any_without_guid)
        {
            return false;
        }
    }
    // An item left out that was keyed by its link (alone, or with its title because the link
    // was shared) keeps its key only while its link is as shared as it was. No item read
    // shares it (checked above), so the items left out are all that count.
    left_out.iter().all(|row| {
        let was_shared = if row.key.starts_with("link+title:") {
            true
        } else if row.key.starts_with("link:") {
            false
        } else {
            return true;
        };
        let shared = row
            .link
            .as_deref()
            .and_then(|link| left_out_links.get(link))
            .is_some_and(|(count, _)| *count > 1);
        shared == was_shared
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://news.example/feed.xml";

    /// The store as far as raw hashes and content hashes go, poll after poll.
    #[derive(Default)]
    struct Simulated {
        raw: HashMap<RawHash, RawItem>,
        stored: HashMap<String, String>,
    }

    /// What `Store::raw_items` answers for these rows and stored content hashes.
    fn known(
        rows: &HashMap<RawHash, RawItem>,
        stored: &HashMap<String, String>,
    ) -> HashMap<RawHash, KnownRaw> {
        rows.iter()
            .map(|(hash, row)| {
                let known = KnownRaw {
                    key: row.key.clone(),
                    link: row.link.clone(),
                    current: stored.get(&row.key) == Some(&row.content_hash),
                };
                (*hash, known)
            })
            .collect()
    }

    impl Simulated {
        fn poll(&mut self, document: &str) -> Read {
            let url = Url::parse(URL).unwrap();
            let known = known(&self.raw, &self.stored);
            let read = read(document.as_bytes(), None, &url, &known).unwrap();
            if read.raw.replace_all {
                self.raw.clear();
            }
            for hash in &read.raw.gone {
                self.raw.remove(hash);
            }
            for row in &read.raw.read {
                self.raw.insert(row.hash, row.clone());
            }
            for item in &read.items {
                self.stored
                    .insert(item.key.to_storage_string(), item.content_hash.clone());
            }
            read
        }
    }

    fn rss(build: &str, items: &[String]) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>News</title>\
             <link>https://news.example/</link><lastBuildDate>{build}</lastBuildDate>\n{}\n</channel></rss>",
            items.join("\n")
        )
    }

    fn item(guid: &str, title: &str) -> String {
        format!("<item><guid>{guid}</guid><title>{title}</title><link>/{guid}.html</link></item>")
    }

    /// What a parse of the whole document gives.
    fn whole_items(document: &str) -> Vec<Item> {
        let url = Url::parse(URL).unwrap();
        normalize(&parse(document.as_bytes(), None, URL).unwrap(), &url).1
    }

    fn keys(read: &Read) -> Vec<String> {
        read.items
            .iter()
            .map(|item| item.key.to_storage_string())
            .collect()
    }

    #[test]
    fn only_new_and_changed_items_are_parsed_and_they_come_out_as_a_whole_parse() {
        let mut store = Simulated::default();
        let items: Vec<String> = (0..5).map(|n| item(&n.to_string(), "title")).collect();
        let first = store.poll(&rss("Mon", &items));
        assert_eq!(first.items.len(), 5);
        assert!(first.raw.replace_all && first.raw.skipped.is_empty());
        assert_eq!(first.raw.read.len(), 5);

        // A new build date, item 2 edited, item 5 new, item 0 dropped.
        let mut next: Vec<String> = items[1..].to_vec();
        next[1] = item("2", "edited title");
        next.push(item("5", "new"));
        let document = rss("Tue", &next);
        let second = store.poll(&document);
        let whole = whole_items(&document);
        assert_eq!(second.items, vec![whole[1].clone(), whole[4].clone()]);
        assert_eq!(
            second.items[0].link.as_deref(),
            Some("https://news.example/2.html")
        );
        assert_eq!(second.raw.skipped, ["guid:1", "guid:3", "guid:4"]);
        assert!(!second.raw.replace_all);
        assert_eq!(second.raw.gone.len(), 2, "item 0 and item 2's old bytes");
        assert_eq!(second.meta.title.as_deref(), Some("News"));

        // The same items again under another build date: nothing but the header is parsed.
        let third = store.poll(&rss("Wed", &next));
        assert!(third.items.is_empty());
        assert_eq!(third.raw.skipped.len(), 5);
        assert!(third.raw.gone.is_empty() && third.raw.read.is_empty());
    }

    #[test]
    fn an_item_whose_stored_version_changed_since_is_read_again() {
        let mut store = Simulated::default();
        let items = vec![item("a", "one"), item("b", "two")];
        store.poll(&rss("Mon", &items));
        store.stored.insert("guid:a".into(), "another hash".into());
        let again = store.poll(&rss("Tue", &items));
        assert_eq!(keys(&again), ["guid:a"]);
        assert_eq!(again.raw.skipped, ["guid:b"]);
    }

    #[test]
    fn a_key_listed_twice_is_always_read() {
        let mut store = Simulated::default();
        let items = vec![item("a", "one"), item("a", "one, again"), item("b", "two")];
        store.poll(&rss("Mon", &items));
        let again = store.poll(&rss("Tue", &items));
        assert_eq!(keys(&again), ["guid:a", "guid:a"]);
        assert_eq!(again.raw.skipped, ["guid:b"]);
    }

    #[test]
    fn a_link_newly_shared_with_an_item_left_out_makes_a_whole_parse() {
        let plain = |title: &str, link: &str| {
            format!("<item><title>{title}</title><link>https://news.example/{link}</link></item>")
        };
        let mut store = Simulated::default();
        let items = vec![plain("live", "live#1"), plain("other", "other")];
        store.poll(&rss("Mon", &items));
        // A second entry of the live blog shares its link: in the whole document both are
        // keyed by link and title, so the first one's key changes and it must be read.
        let mut next = items;
        next.push(plain("live, later", "live#2"));
        let document = rss("Tue", &next);
        let read = store.poll(&document);
        assert!(read.raw.replace_all);
        assert_eq!(read.items, whole_items(&document));
        assert!(keys(&read)[0].starts_with("link+title:"));
        // Once every key is as the whole document makes it, the known items are left out.
        next.push(plain("more", "more"));
        let document = rss("Wed", &next);
        let read = store.poll(&document);
        assert_eq!(read.raw.skipped.len(), 3);
        assert_eq!(read.items, vec![whole_items(&document)[3].clone()]);
        // The shared link left with one of its items: the other one's key changes back.
        let document = rss("Thu", &[next[0].clone(), next[1].clone(), next[3].clone()]);
        let read = store.poll(&document);
        assert!(read.raw.replace_all);
        assert_eq!(read.items, whole_items(&document));
        assert!(keys(&read)[0].starts_with("link:"));
    }

    #[test]
    fn items_with_guids_may_share_links_with_items_left_out() {
        let shared = |guid: &str| {
            format!(
                "<item><guid>{guid}</guid><title>{guid}</title><link>https://news.example/live</link></item>"
            )
        };
        let mut store = Simulated::default();
        store.poll(&rss("Mon", &[shared("1"), shared("2")]));
        let read = store.poll(&rss("Tue", &[shared("1"), shared("2"), shared("3")]));
        assert_eq!(keys(&read), ["guid:3"]);
        assert_eq!(read.raw.skipped.len(), 2);
    }

    #[test]
    fn a_document_the_prescan_cannot_read_is_parsed_whole_and_its_hashes_dropped() {
        let mut store = Simulated::default();
        store.poll(&rss("Mon", &[item("a", "one")]));
        assert_eq!(store.raw.len(), 1);
        // Junk after the root: the pre-scan gives up, the parse recovers.
        let document = format!("{}<!-- trailing --> junk", rss("Tue", &[item("a", "one")]));
        let read = store.poll(&document);
        assert_eq!(keys(&read), ["guid:a"]);
        assert!(read.raw.replace_all && read.raw.read.is_empty());
        assert!(store.raw.is_empty());
    }
}
