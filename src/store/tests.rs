use chrono::{Duration as TimeDelta, TimeZone};

use super::*;
use crate::model::{FeedMeta, Item, ItemKey, OutputEntry, TopicMatch, TopicSlug};

fn item(key: &str, title: &str) -> Item {
    Item {
        key: ItemKey::Guid(key.to_string()),
        guid: Some(key.to_string()),
        link: Some(format!("https://example.org/{key}")),
        title: title.to_string(),
        summary: None,
        content: None,
        author: None,
        published: None,
        updated: None,
        match_text: title.to_string(),
        content_hash: format!("hash of {title}"),
    }
}

fn matched(topic: &str) -> Vec<TopicMatch> {
    vec![TopicMatch {
        topic: TopicSlug(topic.to_string()),
        terms: vec!["term".to_string()],
    }]
}

fn poll(store: &Store, feed: &FeedRow, items: &[(Item, Vec<TopicMatch>)], at: i64) -> PollSummary {
    let meta = FeedMeta::default();
    store
        .record_poll(&PollRecord {
            feed_id: feed.id,
            attempted_at: Utc.timestamp_opt(at, 0).unwrap(),
            result: PollResult::Fetched(FetchSuccess {
                status: 200,
                etag: Some("\"v1\"".into()),
                last_modified: None,
                meta: &meta,
                items,
            }),
            next_poll: Utc.timestamp_opt(at + 60, 0).unwrap(),
            next_poll_reason: "interval".into(),
        })
        .unwrap()
}

#[test]
fn migrations_set_the_schema_version() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    drop(store);
    // Opening again applies nothing and keeps the data.
    let store = Store::open(directory.path()).unwrap();
    let version: i64 = store
        .reader()
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn repolled_items_are_stored_once_and_updated_in_place() {
    let store = Store::open_in_memory().unwrap();
    let feeds = store
        .sync_feeds(&[("https://example.org/feed", None)])
        .unwrap();
    let feed = &feeds[0];
    let first = poll(
        &store,
        feed,
        &[(item("a", "First title"), matched("t"))],
        1_000,
    );
    assert_eq!(
        first,
        PollSummary {
            new: 1,
            updated: 0,
            unchanged: 0
        }
    );
    let again = poll(
        &store,
        feed,
        &[(item("a", "First title"), matched("t"))],
        2_000,
    );
    assert_eq!(
        again,
        PollSummary {
            new: 0,
            updated: 0,
            unchanged: 1
        }
    );
    let edited = poll(
        &store,
        feed,
        &[(item("a", "Edited title"), matched("t"))],
        3_000,
    );
    assert_eq!(
        edited,
        PollSummary {
            new: 0,
            updated: 1,
            unchanged: 0
        }
    );

    let entries = store.entries(None, 50).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].title, "Edited title");
    assert_eq!(entries[0].updated, Utc.timestamp_opt(3_000, 0).unwrap());
    let row = store.feed_row(feed.id).unwrap().unwrap();
    assert_eq!(row.item_count, 1);
    assert_eq!(row.etag.as_deref(), Some("\"v1\""));
}

#[test]
fn entries_filter_by_topic_and_sort_newest_first() {
    let store = Store::open_in_memory().unwrap();
    let feeds = store
        .sync_feeds(&[("https://example.org/feed", None)])
        .unwrap();
    let mut old = item("old", "Old");
    old.published = Some(Utc.timestamp_opt(100, 0).unwrap());
    let mut new = item("new", "New");
    new.published = Some(Utc.timestamp_opt(200, 0).unwrap());
    let mut future = item("future", "From the future");
    future.published = Some(Utc.timestamp_opt(1_000, 0).unwrap() + TimeDelta::days(400));
    poll(
        &store,
        &feeds[0],
        &[(old, matched("t")), (new, vec![]), (future, vec![])],
        1_000,
    );
    let titles = |entries: Vec<OutputEntry>| {
        entries
            .into_iter()
            .map(|entry| entry.title)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        titles(store.entries(None, 50).unwrap()),
        vec!["From the future", "New", "Old"]
    );
    assert_eq!(titles(store.entries(Some("t"), 50).unwrap()), vec!["Old"]);
    assert_eq!(
        titles(store.entries(None, 1).unwrap()),
        vec!["From the future"]
    );
}

#[test]
fn removed_feeds_leave_the_outputs_and_rematch_follows_topics() {
    let store = Store::open_in_memory().unwrap();
    let feeds = store
        .sync_feeds(&[("https://a.example/", None), ("https://b.example/", None)])
        .unwrap();
    poll(
        &store,
        &feeds[0],
        &[(item("a", "alpha"), matched("t"))],
        1_000,
    );
    poll(
        &store,
        &feeds[1],
        &[(item("b", "beta"), matched("t"))],
        1_000,
    );
    assert_eq!(store.entries(Some("t"), 50).unwrap().len(), 2);
    store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    assert_eq!(store.entries(Some("t"), 50).unwrap().len(), 1);

    let changed = store
        .rematch(|text| {
            if text == "alpha" {
                matched("u")
            } else {
                vec![]
            }
        })
        .unwrap();
    assert_eq!(changed, 2);
    assert!(store.entries(Some("t"), 50).unwrap().is_empty());
    assert_eq!(store.entries(Some("u"), 50).unwrap().len(), 1);
}

#[test]
fn failures_count_a_streak_and_success_resets_it() {
    let store = Store::open_in_memory().unwrap();
    let feeds = store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    for attempt in 0..3 {
        store
            .record_poll(&PollRecord {
                feed_id: feeds[0].id,
                attempted_at: Utc.timestamp_opt(attempt, 0).unwrap(),
                result: PollResult::Failed(FetchFailure {
                    status: Some(500),
                    error: "server error".into(),
                }),
                next_poll: Utc.timestamp_opt(attempt + 10, 0).unwrap(),
                next_poll_reason: "backoff".into(),
            })
            .unwrap();
    }
    let row = store.feed_row(feeds[0].id).unwrap().unwrap();
    assert_eq!(row.error_streak, 3);
    assert_eq!(row.last_error.as_deref(), Some("server error"));
    poll(&store, &feeds[0], &[], 100);
    let row = store.feed_row(feeds[0].id).unwrap().unwrap();
    assert_eq!(row.error_streak, 0);
    assert_eq!(row.last_error, None);
}
