use std::path::Path;

use chrono::{TimeZone, Utc};

use super::*;
use crate::config;
use crate::model::{FeedMeta, Item, ItemKey};
use crate::store::{FetchState, FetchedItems, PollRecord};

fn outputs() -> (Outputs, Store) {
    let text = "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"ukraine\"\nany = [\"ukrain*\"]\n";
    let config = config::parse(Path::new("feeds.toml"), text).unwrap();
    let store = Store::open_in_memory().unwrap();
    store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    let topics = Arc::new(TopicSet::compile(&config.topics));
    let outputs = Outputs::new(
        store.clone(),
        topics,
        Grouping::Stories,
        "http://tidings.example".into(),
        Some("http://hub.example/".into()),
        Duration::from_secs(60),
    );
    (outputs, store)
}

fn item(number: i64) -> Item {
    Item {
        key: ItemKey::Guid(format!("g{number}")),
        guid: Some(format!("g{number}")),
        link: Some(format!("https://a.example/{number}")),
        title: format!("Ukraine news {number}"),
        summary: None,
        content: None,
        author: None,
        published: Some(Utc.timestamp_opt(1_700_000_000 + number, 0).unwrap()),
        updated: None,
        match_text: format!("ukraine news {number}"),
        content_hash: format!("h{number}"),
        link_key: None,
        story: None,
    }
}

fn poll(store: &Store, items: &[Item]) {
    poll_feed(store, "https://a.example/", items);
}

fn poll_feed(store: &Store, url: &str, items: &[Item]) {
    let feed_id = store
        .feed_rows()
        .unwrap()
        .into_iter()
        .find(|feed| feed.url == url)
        .unwrap()
        .id;
    let matched = items
        .iter()
        .map(|item| {
            let matches = vec![crate::model::TopicMatch {
                topic: crate::model::TopicSlug("ukraine".into()),
                terms: ["ukrain*"].into_iter().collect(),
            }];
            (item.clone(), Some(matches))
        })
        .collect();
    store
        .record_poll(&PollRecord {
            feed_id,
            state: FetchState {
                last_attempt: Some(Utc.timestamp_opt(1_800_000_000, 0).unwrap()),
                ..FetchState::default()
            },
            fetched: Some(FetchedItems {
                meta: FeedMeta::default(),
                items: matched,
                raw: None,
            }),
        })
        .unwrap();
}

#[test]
fn pages_are_cached_until_the_store_changes_and_keep_their_etag_when_nothing_new() {
    let (outputs, store) = outputs();
    poll(&store, &[item(1), item(2)]);
    let first = outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap();
    let again = outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap();
    assert!(Arc::ptr_eq(&first, &again), "not cached");
    // A poll that brings nothing new: the page is checked again but keeps its ETag.
    poll(&store, &[item(1), item(2)]);
    let same = outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap();
    assert_eq!(same.etag(), first.etag());
    poll(&store, &[item(1), item(2), item(3)]);
    let newer = outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap();
    assert_ne!(newer.etag(), first.etag());
    assert!(
        outputs
            .page("nope", Format::Atom, 50, None)
            .unwrap()
            .is_none()
    );
}

#[test]
fn paging_walks_every_entry_once_newest_first() {
    let (outputs, store) = outputs();
    let items: Vec<Item> = (1..=7).map(item).collect();
    poll(&store, &items);
    let mut seen = Vec::new();
    let mut before = None;
    for _ in 0..10 {
        let (entries, next) = store
            .entries_page(Some("ukraine"), before, 3, Grouping::Stories)
            .unwrap();
        seen.extend(entries.into_iter().map(|entry| entry.title));
        match next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=7).rev().map(|n| format!("Ukraine news {n}")).collect();
    assert_eq!(seen, expected);
    // A new item does not move the cursor of an older page.
    let (_, next) = store
        .entries_page(Some("ukraine"), None, 3, Grouping::Stories)
        .unwrap();
    let before_new = store
        .entries_page(Some("ukraine"), next, 3, Grouping::Stories)
        .unwrap();
    poll(&store, &[item(8)]);
    let after_new = store
        .entries_page(Some("ukraine"), next, 3, Grouping::Stories)
        .unwrap();
    assert_eq!(before_new, after_new);
    let page = outputs
        .page("ukraine", Format::Rss, 3, None)
        .unwrap()
        .unwrap();
    let text = String::from_utf8(page.rendered.body.clone()).unwrap();
    assert!(text.contains("rel=\"next\""), "{text}");
    assert!(text.contains("rel=\"hub\""), "{text}");
}

#[test]
fn public_files_are_written_when_they_change_and_only_then() {
    let (outputs, store) = outputs();
    let directory = tempfile::tempdir().unwrap();
    let changed = outputs.publish_files(directory.path()).unwrap();
    assert_eq!(changed.len(), 6, "{changed:?}");
    for name in [
        "all.atom",
        "all.rss",
        "all.json",
        "ukraine.atom",
        "ukraine.rss",
        "ukraine.json",
    ] {
        assert!(
            directory.path().join(PUBLIC_DIR).join(name).exists(),
            "{name}"
        );
    }
    assert!(outputs.publish_files(directory.path()).unwrap().is_empty());
    poll(&store, &[item(1)]);
    let changed = outputs.publish_files(directory.path()).unwrap();
    assert_eq!(changed.len(), 6, "{changed:?}");
    assert!(changed.contains(&"http://tidings.example/feeds/ukraine.json".to_string()));
    let written = std::fs::read(directory.path().join(PUBLIC_DIR).join("ukraine.atom")).unwrap();
    let served = outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap();
    assert_eq!(written, served.rendered.body);
    // The file's time is the page's Last-Modified, so a static server says the same.
    let modified = std::fs::metadata(directory.path().join(PUBLIC_DIR).join("ukraine.atom"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        chrono::DateTime::<Utc>::from(modified),
        served.last_modified
    );
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(directory.path().join(PUBLIC_DIR))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
}

fn ukraine_atom(outputs: &Outputs) -> Arc<Page> {
    outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap()
}

#[test]
fn last_modified_moves_on_when_the_content_changes_without_a_newer_entry() {
    let (outputs, store) = outputs();
    let both = [("https://a.example/", None), ("https://b.example/", None)];
    store.sync_feeds(&both).unwrap();
    poll_feed(&store, "https://a.example/", &[item(9)]);
    poll_feed(&store, "https://b.example/", &[item(1)]);
    let first = ukraine_atom(&outputs);
    assert_eq!(first.last_modified.timestamp_subsec_nanos(), 0);
    // b leaves the config: its older item leaves the feed, the newest entry stays.
    store.sync_feeds(&both[..1]).unwrap();
    let second = ukraine_atom(&outputs);
    assert_ne!(second.etag(), first.etag());
    assert!(
        second.last_modified > first.last_modified,
        "{} then {}",
        first.last_modified,
        second.last_modified
    );
    // a leaves and b is back: the newest entry is older than before.
    store.sync_feeds(&both[1..]).unwrap();
    let third = ukraine_atom(&outputs);
    assert!(third.last_modified > second.last_modified);
    assert_eq!(third.last_modified.timestamp_subsec_nanos(), 0);
    // The same feeds again: nothing a subscriber sees changed, so the very same page.
    store.sync_feeds(&both[1..]).unwrap();
    assert!(Arc::ptr_eq(&ukraine_atom(&outputs), &third));
    // A newer entry than the last change: its own time, when that is later.
    let mut future = item(10);
    future.published = Some(third.last_modified + chrono::TimeDelta::days(1));
    poll_feed(&store, "https://b.example/", &[item(1), future]);
    let fourth = ukraine_atom(&outputs);
    assert_eq!(
        fourth.last_modified,
        third.last_modified + chrono::TimeDelta::days(1)
    );
}

#[test]
fn a_page_dropped_from_the_cache_never_comes_back_with_an_older_last_modified() {
    let (outputs, store) = outputs();
    let both = [("https://a.example/", None), ("https://b.example/", None)];
    store.sync_feeds(&both).unwrap();
    poll_feed(&store, "https://a.example/", &[item(9)]);
    poll_feed(&store, "https://b.example/", &[item(1)]);
    let first = ukraine_atom(&outputs);
    store.sync_feeds(&both[..1]).unwrap();
    let changed = ukraine_atom(&outputs);
    assert!(changed.last_modified > first.last_modified);
    // Enough other pages to fill the cache: every page is dropped, this one with them.
    for limit in 100..100 + CACHE_PAGES {
        outputs
            .page("all", Format::Rss, limit, None)
            .unwrap()
            .unwrap();
    }
    let again = ukraine_atom(&outputs);
    assert!(!Arc::ptr_eq(&again, &changed), "the page was not dropped");
    assert_eq!(again.etag(), changed.etag());
    assert!(again.last_modified >= changed.last_modified);
}

#[test]
fn the_other_formats_of_a_page_never_reuse_entries_the_store_has_moved_past() {
    let (outputs, store) = outputs();
    poll(&store, &[item(1), item(2)]);
    let atom = outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap();
    let body = |page: &Page| String::from_utf8_lossy(&page.rendered.body).into_owned();
    assert!(body(&atom).contains("Ukraine news 2"));
    // The same page in another format, nothing written since: the same entries.
    let rss = outputs
        .page("ukraine", Format::Rss, 50, None)
        .unwrap()
        .unwrap();
    assert!(body(&rss).contains("Ukraine news 2"));
    assert!(!body(&rss).contains("Ukraine news 3"));
    // A write in between: the next format reads the store again.
    poll(&store, &[item(1), item(2), item(3)]);
    let json = outputs
        .page("ukraine", Format::Json, 50, None)
        .unwrap()
        .unwrap();
    assert!(body(&json).contains("Ukraine news 3"));
    // Another page (a smaller limit) is not served the entries of the last one.
    let short = outputs
        .page("ukraine", Format::Json, 1, None)
        .unwrap()
        .unwrap();
    assert!(body(&short).contains("Ukraine news 3"));
    assert!(!body(&short).contains("Ukraine news 2"));
}
