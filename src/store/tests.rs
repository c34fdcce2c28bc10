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
    let state = FetchState {
        last_attempt: Some(Utc.timestamp_opt(at, 0).unwrap()),
        last_success: Some(Utc.timestamp_opt(at, 0).unwrap()),
        last_status: Some(200),
        etag: Some("\"v1\"".into()),
        next_poll: Some(Utc.timestamp_opt(at + 60, 0).unwrap()),
        next_poll_reason: Some("interval".into()),
        ..FetchState::default()
    };
    store
        .record_poll(&PollRecord {
            feed_id: feed.id,
            state,
            fetched: Some(FetchedItems {
                meta,
                items: items
                    .iter()
                    .map(|(item, matches)| (item.clone(), Some(matches.clone())))
                    .collect(),
            }),
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
    let row = store.feed_rows().unwrap().remove(0);
    assert_eq!(row.item_count, 1);
    assert_eq!(row.state.etag.as_deref(), Some("\"v1\""));
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

    let rematch = |title: &str, _: Option<&str>, _: Option<&str>| {
        if title == "alpha" {
            matched("u")
        } else {
            vec![]
        }
    };
    assert_eq!(store.rematch_if_changed("v2", rematch).unwrap(), Some(2));
    // The same topics again: nothing to do.
    assert_eq!(
        store
            .rematch_if_changed("v2", |_, _, _| unreachable!())
            .unwrap(),
        None
    );
    assert!(store.entries(Some("t"), 50).unwrap().is_empty());
    assert_eq!(store.entries(Some("u"), 50).unwrap().len(), 1);
}

#[test]
fn fetch_state_round_trips() {
    let store = Store::open_in_memory().unwrap();
    let feeds = store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    let state = FetchState {
        last_attempt: Some(Utc.timestamp_opt(10, 0).unwrap()),
        last_success: None,
        last_status: Some(503),
        last_error: Some("HTTP 503".into()),
        error_streak: 3,
        etag: Some("\"e\"".into()),
        last_modified: Some("Thu, 26 Nov 2026 12:00:00 GMT".into()),
        body_hash: Some("abc".into()),
        fetch_url: Some("https://b.example/".into()),
        redirect_target: Some("https://c.example/".into()),
        redirect_streak: 2,
        gone_since: None,
        changed_streak: 0,
        unchanged_streak: 5,
        feed_hint: Some(3600),
        next_poll: Some(Utc.timestamp_opt(130, 0).unwrap()),
        next_poll_reason: Some("server's Retry-After".into()),
    };
    store
        .record_poll(&PollRecord {
            feed_id: feeds[0].id,
            state: state.clone(),
            fetched: None,
        })
        .unwrap();
    let row = store.feed_rows().unwrap().remove(0);
    assert_eq!(row.state, state);
    assert_eq!(row.fetch_url(), "https://b.example/");
}

#[test]
fn a_gone_feed_put_back_in_the_config_is_tried_again() {
    let store = Store::open_in_memory().unwrap();
    let feeds = store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    let gone = FetchState {
        gone_since: Some(Utc.timestamp_opt(10, 0).unwrap()),
        ..FetchState::default()
    };
    store
        .record_poll(&PollRecord {
            feed_id: feeds[0].id,
            state: gone,
            fetched: None,
        })
        .unwrap();
    // Still configured: still gone.
    let rows = store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    assert!(rows[0].state.gone_since.is_some());
    // Removed, then put back: tried again.
    store.sync_feeds(&[("https://b.example/", None)]).unwrap();
    let rows = store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    assert_eq!(rows[0].state.gone_since, None);
}

#[test]
fn a_version_1_database_is_migrated_with_its_data() {
    let directory = tempfile::tempdir().unwrap();
    {
        // A database as the first release wrote it: schema version 1 and one feed.
        let connection = rusqlite::Connection::open(directory.path().join("tidings.db")).unwrap();
        connection
            .execute_batch(super::migrations::MIGRATIONS[0])
            .unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute(
                "INSERT INTO feeds (url, name, etag, error_streak) VALUES ('https://a.example/', 'A', '\"x\"', 2)",
                [],
            )
            .unwrap();
    }
    let store = Store::open(directory.path()).unwrap();
    let rows = store.feed_rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name.as_deref(), Some("A"));
    assert_eq!(rows[0].state.etag.as_deref(), Some("\"x\""));
    assert_eq!(rows[0].state.error_streak, 2);
    assert_eq!(rows[0].state.fetch_url, None);
    assert_eq!(rows[0].state.redirect_streak, 0);
}

#[test]
fn items_known_unchanged_are_left_alone() {
    let store = Store::open_in_memory().unwrap();
    let feeds = store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    poll(
        &store,
        &feeds[0],
        &[(item("a", "alpha"), matched("t"))],
        1_000,
    );
    let hashes = store.item_hashes(feeds[0].id).unwrap();
    assert_eq!(
        hashes.get("guid:a").map(String::as_str),
        Some("hash of alpha")
    );
    let summary = store
        .record_poll(&PollRecord {
            feed_id: feeds[0].id,
            state: FetchState::default(),
            fetched: Some(FetchedItems {
                meta: FeedMeta::default(),
                items: vec![
                    (item("a", "alpha"), None),
                    (item("b", "beta"), Some(vec![])),
                ],
            }),
        })
        .unwrap();
    assert_eq!(
        summary,
        PollSummary {
            new: 1,
            updated: 0,
            unchanged: 1
        }
    );
    // The unchanged item kept its topic.
    assert_eq!(store.entries(Some("t"), 50).unwrap().len(), 1);
}

/// A full disk makes SQLite roll back the whole group-commit transaction; the writer then
/// writes each poll alone, so the poll that fits is kept and only the other one fails.
#[tokio::test]
async fn on_a_full_disk_a_batch_falls_back_to_one_poll_at_a_time() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feeds = store
        .sync_feeds(&[
            ("https://small.example/", None),
            ("https://big.example/", None),
        ])
        .unwrap();
    let record = |feed: &FeedRow, items: Vec<Item>| PollRecord {
        feed_id: feed.id,
        state: FetchState {
            last_attempt: Some(Utc::now()),
            last_status: Some(200),
            ..FetchState::default()
        },
        fetched: Some(FetchedItems {
            meta: FeedMeta::default(),
            items: items
                .into_iter()
                .map(|item| (item, Some(Vec::new())))
                .collect(),
        }),
    };
    let filler = "x".repeat(4000);
    let big: Vec<Item> = (0..100)
        .map(|index| Item {
            content: Some(filler.clone()),
            ..item(&format!("big-{index}"), "Big")
        })
        .collect();
    let records = vec![
        record(&feeds[0], vec![item("small-1", "Small")]),
        record(&feeds[1], big),
    ];
    store
        .set_max_pages(store.page_count().unwrap() + 4)
        .unwrap();
    // Both in one transaction: the big poll takes the whole batch down.
    assert!(store.record_polls(&records).is_err());
    assert_eq!(
        store
            .feed_rows()
            .unwrap()
            .iter()
            .map(|row| row.item_count)
            .sum::<u64>(),
        0
    );
    // Through the writer: the small poll is written, the big one fails alone.
    let writer = BatchWriter::start(store.clone()).unwrap();
    let mut records = records.into_iter();
    let (small, big) = (records.next().unwrap(), records.next().unwrap());
    let (small, big) = tokio::join!(writer.record(small), writer.record(big));
    assert_eq!(small.unwrap().new, 1);
    assert!(big.unwrap_err().to_string().contains("full"));
    let counts: Vec<u64> = store
        .feed_rows()
        .unwrap()
        .iter()
        .map(|row| row.item_count)
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}
