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
    let feed_id = store.feed_rows().unwrap()[0].id;
    let matched = items
        .iter()
        .map(|item| {
            let matches = vec![crate::model::TopicMatch {
                topic: crate::model::TopicSlug("ukraine".into()),
                terms: vec!["ukrain*".into()],
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
    assert_eq!(same.etag, first.etag);
    poll(&store, &[item(1), item(2), item(3)]);
    let newer = outputs
        .page("ukraine", Format::Atom, 50, None)
        .unwrap()
        .unwrap();
    assert_ne!(newer.etag, first.etag);
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
    let text = String::from_utf8(page.body.clone()).unwrap();
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
    assert_eq!(written, served.body);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(directory.path().join(PUBLIC_DIR))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
}
