use chrono::{Duration as TimeDelta, TimeZone};

use super::*;
use crate::model::{FeedMeta, Item, ItemKey, OtherSource, OutputEntry, TopicMatch, TopicSlug};

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
        link_key: None,
        story: None,
    }
}

/// An item known by its guid `key`, titled `Item {key}`, with no text beyond its title.
pub(super) fn keyed_item(key: &str) -> Item {
    Item {
        key: ItemKey::Guid(key.to_string()),
        guid: Some(key.to_string()),
        link: Some(format!("https://example.org/{key}")),
        title: format!("Item {key}"),
        summary: None,
        content: None,
        author: None,
        published: None,
        updated: None,
        match_text: key.to_string(),
        content_hash: format!("hash {key}"),
        link_key: None,
        story: None,
    }
}

/// Writes a poll of `feed_id` at `at` (unix seconds) that brought `items` (read with `raw`).
pub(super) fn record_items_at(
    store: &Store,
    feed_id: crate::model::FeedId,
    items: Vec<(Item, Option<Vec<TopicMatch>>)>,
    raw: Option<RawItems>,
    at: i64,
) -> PollSummary {
    store
        .record_poll(&PollRecord {
            feed_id,
            state: FetchState {
                last_attempt: Some(Utc.timestamp_opt(at, 0).unwrap()),
                ..FetchState::default()
            },
            fetched: Some(FetchedItems {
                meta: FeedMeta::default(),
                items,
                raw,
            }),
        })
        .unwrap()
}

/// A successful poll of `feed_id` now that brought `items`, none of them matching a topic.
fn poll_now(feed_id: crate::model::FeedId, items: Vec<Item>) -> PollRecord {
    PollRecord {
        feed_id,
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
            raw: None,
        }),
    }
}

fn matched(topic: &str) -> Vec<TopicMatch> {
    vec![TopicMatch {
        topic: TopicSlug(topic.into()),
        terms: ["term"].into_iter().collect(),
    }]
}

/// Each feed's stored item count, in feed order.
pub(super) fn item_counts(store: &Store) -> Vec<u64> {
    store
        .feed_rows()
        .unwrap()
        .iter()
        .map(|row| row.item_count.unwrap())
        .collect()
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
                raw: None,
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
            unchanged: 0,
            ..PollSummary::default()
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
            unchanged: 1,
            ..PollSummary::default()
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
            unchanged: 0,
            ..PollSummary::default()
        }
    );

    let entries = store.entries(None, 50).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].title, "Edited title");
    assert_eq!(entries[0].updated, Utc.timestamp_opt(3_000, 0).unwrap());
    let row = store.feed_rows().unwrap().remove(0);
    assert_eq!(row.item_count, Some(1));
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

    let rematch = |stored: &StoredText<'_>| {
        assert!(
            stored.feed_url.ends_with(".example/"),
            "{}",
            stored.feed_url
        );
        if stored.title == "alpha" {
            matched("u")
        } else {
            vec![]
        }
    };
    assert_eq!(store.rematch_if_changed("v2", rematch).unwrap(), Some(2));
    // The same topics again: nothing to do.
    assert_eq!(
        store.rematch_if_changed("v2", |_| unreachable!()).unwrap(),
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
fn only_the_writer_plans_without_peeking_at_bound_values() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let qpsg = rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG;
    assert!(store.writer().unwrap().db_config(qpsg).unwrap());
    // The reader's page query needs to see its LIMIT to walk the time index and stop early.
    assert!(!store.reader().unwrap().db_config(qpsg).unwrap());
}

#[test]
fn the_wal_is_checkpointed_at_4000_pages_not_sqlites_1000() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let pages: i64 = store
        .writer()
        .unwrap()
        .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
        .unwrap();
    assert_eq!(pages, WAL_CHECKPOINT_PAGES);
    assert_eq!(WAL_CHECKPOINT_PAGES, 4_000);
}

/// How many items the database file holds on its own, without its WAL: a copy of the file
/// alone, opened elsewhere.
fn items_in_the_file_alone(directory: &std::path::Path) -> i64 {
    let alone = tempfile::tempdir().unwrap();
    let copy = alone.path().join("copy.db");
    std::fs::copy(directory.join("tidings.db"), &copy).unwrap();
    one_number(&copy, "SELECT count(*) FROM items")
}

/// The one number `sql` answers, read from the database file at `path`.
fn one_number(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

#[test]
fn copying_the_wal_back_leaves_nothing_for_closing_to_copy_while_a_reader_is_open() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feed = store
        .sync_feeds(&[("https://a.example/", None)])
        .unwrap()
        .remove(0);
    // The schema and the feed into the file, so that the poll below is all the WAL holds.
    store.copy_wal_back().unwrap();
    let items = (0..50)
        .map(|n| (keyed_item(&format!("item-{n}")), Some(Vec::new())))
        .collect();
    record_items_at(&store, feed.id, items, None, 1_000);
    // A reader in the middle of a read, as the public files' writing is.
    let reader = store.reader().unwrap();
    let mut rows = reader.prepare("SELECT id FROM items").unwrap();
    let mut reading = rows.query([]).unwrap();
    assert!(reading.next().unwrap().is_some());
    assert_eq!(
        items_in_the_file_alone(directory.path()),
        0,
        "still in the WAL"
    );
    store.copy_wal_back().unwrap();
    assert_eq!(items_in_the_file_alone(directory.path()), 50);
}

#[test]
fn the_readers_page_cache_is_smaller_than_the_writers() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let cache = |connection: &rusqlite::Connection| -> i64 {
        connection
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .unwrap()
    };
    assert_eq!(cache(&store.writer().unwrap()), -WRITER_CACHE_KIB);
    assert_eq!(cache(&store.reader().unwrap()), -READER_CACHE_KIB);
}

#[test]
fn syncing_feeds_adds_renames_and_retires_them_and_answers_in_the_order_given() {
    let store = Store::open_in_memory().unwrap();
    let first = store
        .sync_feeds(&[
            ("https://a.example/", Some("A")),
            ("https://b.example/", None),
        ])
        .unwrap();
    store
        .record_poll(&PollRecord {
            feed_id: first[1].id,
            state: FetchState {
                etag: Some("\"b1\"".to_string()),
                ..FetchState::default()
            },
            fetched: Some(FetchedItems {
                meta: FeedMeta::default(),
                items: vec![(keyed_item("b1"), Some(Vec::new()))],
                raw: None,
            }),
        })
        .unwrap();
    // Another order, a new feed, a renamed one, one left out.
    let rows = store
        .sync_feeds(&[
            ("https://c.example/", None),
            ("https://b.example/", Some("B")),
        ])
        .unwrap();
    let urls: Vec<&str> = rows.iter().map(|row| row.url.as_str()).collect();
    assert_eq!(urls, ["https://c.example/", "https://b.example/"]);
    assert!(rows.iter().all(|row| row.active));
    assert_eq!(rows[1].id, first[1].id);
    assert_eq!(rows[1].name.as_deref(), Some("B"));
    assert_eq!(rows[1].state.etag.as_deref(), Some("\"b1\""));
    // Polling needs no item counts: the rows of a sync leave them out, those of `feed_rows`
    // have them.
    assert_eq!((rows[0].item_count, rows[1].item_count), (None, None));
    let listed = store.feed_rows().unwrap();
    let listed_count = |url: &str| {
        listed
            .iter()
            .find(|row| row.url == url)
            .and_then(|row| row.item_count)
    };
    assert_eq!(
        (
            listed_count("https://c.example/"),
            listed_count("https://b.example/")
        ),
        (Some(0), Some(1))
    );
    let retired = listed
        .into_iter()
        .find(|row| row.url == "https://a.example/")
        .unwrap();
    assert!(!retired.active);
    // The same config again changes nothing; the retired feed comes back under its old id.
    assert_eq!(
        store
            .sync_feeds(&[
                ("https://c.example/", None),
                ("https://b.example/", Some("B")),
            ])
            .unwrap(),
        rows
    );
    let back = store
        .sync_feeds(&[("https://a.example/", Some("A again"))])
        .unwrap();
    assert_eq!(back[0].id, first[0].id);
    assert!(back[0].active);
    assert_eq!(back[0].name.as_deref(), Some("A again"));
}

/// Brings a database opened by `connection` to schema version `version` as the releases of
/// that time wrote it: the first `version` migrations, then `user_version`.
/// A database in `directory` (as `Store::open` names it) at schema `version`, as a release of
/// that version left it.
fn database_at_version(directory: &std::path::Path, version: usize) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(directory.join("tidings.db")).unwrap();
    migrate_to(&connection, version);
    connection
}

fn migrate_to(connection: &rusqlite::Connection, version: usize) {
    for migration in &super::migrations::MIGRATIONS[..version] {
        connection.execute_batch(migration).unwrap();
    }
    connection
        .pragma_update(None, "user_version", version as i64)
        .unwrap();
}

#[test]
fn a_version_1_database_is_migrated_with_its_data() {
    let directory = tempfile::tempdir().unwrap();
    {
        // A database as the first release wrote it: schema version 1 and one feed.
        let connection = database_at_version(directory.path(), 1);
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

/// The names and definitions of the indexes of table `items`, sorted.
fn item_indexes(connection: &rusqlite::Connection) -> Vec<(String, Option<String>)> {
    let mut statement = connection
        .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'items' ORDER BY name")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn story_texts_lose_the_stroke_of_their_letters_and_their_band_rows_are_written_again() {
    let directory = tempfile::tempdir().unwrap();
    let polish = "korea połnocna wystrzeliła rakiete nad morzem japonskim";
    let plain = "kim jong un visits a factory";
    {
        // Schema version 11: an item whose story text was folded with the stroke kept, one
        // without, and their band rows as the writer made them.
        let connection = database_at_version(directory.path(), 11);
        connection
            .execute_batch(
                "INSERT INTO feeds (id, url, name) VALUES (1, 'https://a.example/', 'A');",
            )
            .unwrap();
        for (id, words) in [(1, polish), (2, plain)] {
            connection
                .execute(
                    "INSERT INTO items (id, feed_id, item_key, entry_id, title, first_seen,
                         changed_at, sort_time, content_hash, link_group, story, story_words)
                     VALUES (?1, 1, ?1, ?1, 'T', 10, 10, 10, 'h', ?1, ?1, ?2)",
                    rusqlite::params![id, words],
                )
                .unwrap();
            for band in crate::dedupe::bands_of_words(words) {
                connection
                    .execute(
                        "INSERT INTO story_bands (band, item_id, time) VALUES (?1, ?2, 10)",
                        rusqlite::params![band, id],
                    )
                    .unwrap();
            }
        }
        connection
            .execute_batch(
                "INSERT INTO meta (key, value) VALUES ('bands_up_to', '2')
                     ON CONFLICT (key) DO UPDATE SET value = '2'",
            )
            .unwrap();
    }
    let store = Store::open(directory.path()).unwrap();
    let connection = store.writer().unwrap();
    // Band rows are written again (from the marker on) before the writer places anything.
    store.placing().unwrap().repair(&connection).unwrap();
    let words: Vec<String> = connection
        .prepare("SELECT story_words FROM items ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        words,
        [
            "korea polnocna wystrzelila rakiete nad morzem japonskim",
            plain
        ]
    );
    let bands = |id: i64| -> Vec<i64> {
        connection
            .prepare("SELECT band FROM story_bands_all WHERE item_id = ?1 ORDER BY band")
            .unwrap()
            .query_map([id], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let sorted = |mut bands: Vec<i64>| {
        bands.sort_unstable();
        bands.dedup();
        bands
    };
    assert_eq!(bands(1), sorted(crate::dedupe::bands_of_words(&words[0])));
    assert_ne!(bands(1), sorted(crate::dedupe::bands_of_words(polish)));
    assert_eq!(bands(2), sorted(crate::dedupe::bands_of_words(plain)));
}

#[test]
fn the_entry_id_index_is_dropped_and_the_items_and_their_matches_stay() {
    let directory = tempfile::tempdir().unwrap();
    {
        // A database of schema version 10 with a feed, three items and two topic matches.
        let connection = database_at_version(directory.path(), 10);
        connection
            .execute_batch(
                "INSERT INTO feeds (id, url, name) VALUES (1, 'https://a.example/', 'A');
                 INSERT INTO items (id, feed_id, item_key, entry_id, title, first_seen,
                         changed_at, sort_time, content_hash, link_group, story)
                     VALUES (1, 1, 'guid:1', 'urn:tidings:item:1', 'One', 10, 10, 10, 'h1', 1, 1),
                            (2, 1, 'guid:2', 'urn:tidings:item:2', 'Two', 20, 20, 20, 'h2', 2, 2),
                            (3, 1, 'guid:3', 'urn:tidings:item:3', 'Three', 30, 30, 30, 'h3', 3, 3);
                 INSERT INTO item_topics (item_id, topic, terms)
                     VALUES (1, 't', '[\"one\"]'), (3, 't', '[\"three\"]');",
            )
            .unwrap();
        let indexes = item_indexes(&connection);
        assert!(
            indexes
                .iter()
                .any(|(name, _)| name == "sqlite_autoindex_items_2")
        );
    }
    let store = Store::open(directory.path()).unwrap();
    let titles = |topic| -> Vec<String> {
        store
            .entries_grouped(topic, 10, Grouping::Stories)
            .unwrap()
            .into_iter()
            .map(|entry| entry.title)
            .collect()
    };
    assert_eq!(titles(None), ["Three", "Two", "One"]);
    assert_eq!(titles(Some("t")), ["Three", "One"]);
    let fresh = tempfile::tempdir().unwrap();
    let fresh = Store::open(fresh.path()).unwrap();
    {
        let migrated = store.writer().unwrap();
        // The same indexes as a new database: (feed_id, item_key) is still unique, entry_id
        // has none.
        assert_eq!(
            item_indexes(&migrated),
            item_indexes(&fresh.writer().unwrap())
        );
        let unique: Vec<String> = migrated
            .prepare("SELECT name FROM pragma_index_list('items') WHERE \"unique\" = 1")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(unique, ["sqlite_autoindex_items_1"]);
        let columns: Vec<String> = migrated
            .prepare("SELECT name FROM pragma_index_info('sqlite_autoindex_items_1')")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(columns, ["feed_id", "item_key"]);
        // Foreign keys are enforced again: a feed's items and their matches go with it.
        let enforced: bool = migrated
            .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
            .unwrap();
        assert!(enforced);
        migrated
            .execute("DELETE FROM feeds WHERE id = 1", [])
            .unwrap();
        let left: i64 = migrated
            .query_row(
                "SELECT (SELECT count(*) FROM items) + (SELECT count(*) FROM item_topics)",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }
}

/// A migration that leaves a row referring to nothing is rolled back, with an error that says
/// so.
#[test]
fn an_upgrade_that_breaks_a_reference_is_rolled_back() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("tidings.db");
    {
        let connection = database_at_version(directory.path(), 10);
        // A topic match of an item that does not exist, as foreign keys left off would allow.
        connection
            .execute_batch(
                "PRAGMA foreign_keys = OFF;
                 INSERT INTO item_topics (item_id, topic, terms) VALUES (7, 't', '[]');",
            )
            .unwrap();
    }
    let error = Store::open(directory.path()).err().unwrap();
    assert!(
        matches!(error, StoreError::BrokenReference(ref table) if table == "item_topics"),
        "{error}"
    );
    let connection = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 10);
}

fn page_size_of(path: &std::path::Path) -> i64 {
    one_number(path, "PRAGMA page_size")
}

#[test]
fn a_new_database_has_8_kib_pages_and_an_older_one_keeps_its_own() {
    let new = tempfile::tempdir().unwrap();
    let store = Store::open(new.path()).unwrap();
    store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    drop(store);
    assert_eq!(page_size_of(&new.path().join("tidings.db")), 8_192);

    // A file made by an earlier version, at SQLite's default page size, in WAL mode.
    let old = tempfile::tempdir().unwrap();
    let path = old.path().join("tidings.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.pragma_update(None, "page_size", 4_096).unwrap();
        connection.pragma_update(None, "auto_vacuum", 2).unwrap();
        let _: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .unwrap();
        migrate_to(&connection, 1);
        connection
            .execute("INSERT INTO feeds (url) VALUES ('https://a.example/')", [])
            .unwrap();
    }
    let store = Store::open(old.path()).unwrap();
    let rows = store.feed_rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    drop(store);
    assert_eq!(page_size_of(&path), 4_096);
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
                raw: None,
            }),
        })
        .unwrap();
    assert_eq!(
        summary,
        PollSummary {
            new: 1,
            updated: 0,
            unchanged: 1,
            ..PollSummary::default()
        }
    );
    // The unchanged item kept its topic.
    assert_eq!(store.entries(Some("t"), 50).unwrap().len(), 1);
}

/// An item of `feed` with a link and a story text, as normalize would make it.
fn story_item(key: &str, link: &str, title: &str, lead: &str) -> Item {
    Item {
        link: Some(link.to_string()),
        summary: Some(lead.to_string()),
        link_key: crate::normalize::links::canonical_link(link),
        story: crate::dedupe::sketch(title, lead),
        content_hash: format!("hash of {title} {lead}"),
        ..item(key, title)
    }
}

const WIRE: &str = "North Korea fired a ballistic missile toward the East Sea on Thursday \
    morning, South Korea's Joint Chiefs of Staff said, in the latest of a string of launches \
    that have raised tensions on the peninsula.";

fn three_feeds(store: &Store) -> Vec<FeedRow> {
    store
        .sync_feeds(&[
            ("https://a.example/feed", Some("A")),
            ("https://b.example/feed", Some("B")),
            ("https://c.example/feed", Some("C")),
        ])
        .unwrap()
}

#[test]
fn one_canonical_link_at_two_sources_is_one_item_with_two_sources() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    let first = story_item("a1", "https://www.news.example/story#top", "Story", "");
    let second = story_item(
        "b1",
        "http://news.example/story?utm_source=rss&fbclid=1",
        "Story (syndicated)",
        "",
    );
    poll(&store, &feeds[0], &[(first, matched("t"))], 1_000);
    let joined = poll(&store, &feeds[1], &[(second, matched("t"))], 2_000);
    assert_eq!((joined.new, joined.duplicates, joined.grouped), (1, 1, 0));
    for grouping in [Grouping::Stories, Grouping::Links] {
        let entries = store.entries_grouped(Some("t"), 50, grouping).unwrap();
        assert_eq!(entries.len(), 1, "{grouping:?}");
        assert_eq!(entries[0].title, "Story");
        assert_eq!(
            entries[0].link.as_deref(),
            Some("https://www.news.example/story#top")
        );
        assert_eq!(
            entries[0].other_sources,
            vec![OtherSource {
                link: Some("http://news.example/story?utm_source=rss&fbclid=1".into()),
                title: "Story (syndicated)".into(),
                source_title: "B".into(),
            }]
        );
        // The other source joining is an update of the entry.
        assert_eq!(entries[0].updated, Utc.timestamp_opt(2_000, 0).unwrap());
    }
    // Each feed still holds its own item.
    let counts = item_counts(&store);
    assert_eq!(counts, vec![1, 1, 0]);
}

#[test]
fn near_duplicates_of_other_feeds_are_one_story_unless_grouping_is_off() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    let a = story_item(
        "a1",
        "https://a.example/1",
        "North Korea fires missile",
        WIRE,
    );
    let b = story_item(
        "b1",
        "https://b.example/2",
        "N. Korea launches ballistic missile: JCS",
        &format!("SEOUL -- {WIRE}"),
    );
    let unrelated = story_item(
        "c1",
        "https://c.example/3",
        "Kim inspects factory",
        "North Korean leader Kim Jong Un inspected a munitions factory producing artillery \
         shells and called for a sharp increase in output, state media said on Saturday.",
    );
    poll(&store, &feeds[0], &[(a, matched("t"))], 1_000);
    let joined = poll(&store, &feeds[1], &[(b, matched("t"))], 2_000);
    assert_eq!((joined.new, joined.duplicates, joined.grouped), (1, 0, 1));
    let alone = poll(&store, &feeds[2], &[(unrelated, matched("t"))], 3_000);
    assert_eq!((alone.new, alone.duplicates, alone.grouped), (1, 0, 0));
    let grouped = store
        .entries_grouped(Some("t"), 50, Grouping::Stories)
        .unwrap();
    let titles: Vec<&str> = grouped.iter().map(|entry| entry.title.as_str()).collect();
    assert_eq!(
        titles,
        vec!["Kim inspects factory", "North Korea fires missile"]
    );
    assert_eq!(grouped[1].other_sources.len(), 1);
    assert_eq!(grouped[1].other_sources[0].source_title, "B");
    assert!(grouped[0].other_sources.is_empty());
    let separate = store
        .entries_grouped(Some("t"), 50, Grouping::Links)
        .unwrap();
    assert_eq!(separate.len(), 3);
    assert!(separate.iter().all(|entry| entry.other_sources.is_empty()));
}

#[test]
fn items_of_one_feed_and_items_days_apart_are_never_one_story() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    let a = story_item(
        "a1",
        "https://a.example/1",
        "North Korea fires missile",
        WIRE,
    );
    // The same feed runs the copy twice under two guids: both stay.
    let again = story_item(
        "a2",
        "https://a.example/2",
        "North Korea fires missile",
        WIRE,
    );
    let mut late = story_item(
        "b1",
        "https://b.example/1",
        "North Korea fires missile",
        WIRE,
    );
    late.published = Some(Utc.timestamp_opt(1_000 + 4 * 86_400, 0).unwrap());
    let mut early = story_item(
        "a0",
        "https://a.example/0",
        "North Korea fires missile",
        WIRE,
    );
    early.published = Some(Utc.timestamp_opt(1_000, 0).unwrap());
    poll(
        &store,
        &feeds[0],
        &[
            (early, matched("t")),
            (a, matched("t")),
            (again, matched("t")),
        ],
        1_000,
    );
    poll(
        &store,
        &feeds[1],
        &[(late, matched("t"))],
        1_000 + 4 * 86_400,
    );
    let entries = store
        .entries_grouped(Some("t"), 50, Grouping::Stories)
        .unwrap();
    assert_eq!(entries.len(), 4, "{entries:#?}");
}

#[test]
fn a_version_3_database_keeps_its_items_and_groups_them_once() {
    let directory = tempfile::tempdir().unwrap();
    {
        let connection = database_at_version(directory.path(), 3);
        let mut insert = connection
            .prepare(
                "INSERT INTO items (feed_id, item_key, entry_id, link, title, summary, first_seen,
                     changed_at, sort_time, content_hash)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?6, ?6, 'h')",
            )
            .unwrap();
        connection
            .execute_batch(
                "INSERT INTO feeds (id, url, name) VALUES (1, 'https://a.example/', 'A'),
                     (2, 'https://b.example/', 'B');",
            )
            .unwrap();
        let rows = [
            (1, "guid:1", "https://news.example/x", "Old one", None, 10),
            (
                2,
                "guid:2",
                "https://www.news.example/x?utm_source=a",
                "Old one again",
                None,
                20,
            ),
            (
                1,
                "guid:3",
                "https://a.example/m",
                "Missile",
                Some(WIRE.to_string()),
                30,
            ),
            (
                2,
                "guid:4",
                "https://b.example/m",
                "Missile (B)",
                Some(format!("SEOUL -- {WIRE}")),
                40,
            ),
        ];
        for (feed, key, link, title, summary, time) in rows {
            insert
                .execute(rusqlite::params![feed, key, link, title, summary, time])
                .unwrap();
        }
    }
    let store = Store::open(directory.path()).unwrap();
    let titles = |entries: Vec<OutputEntry>| -> Vec<String> {
        entries.into_iter().map(|entry| entry.title).collect()
    };
    // Migrated, every old item is its own entry until it is placed.
    assert_eq!(
        titles(store.entries(None, 50).unwrap()),
        vec!["Missile (B)", "Missile", "Old one again", "Old one"]
    );
    let placed = store
        .place_items_stored_before_stories(crate::normalize::comparison_keys)
        .unwrap();
    assert_eq!(placed, Some(4));
    let entries = store.entries(None, 50).unwrap();
    assert_eq!(titles(entries.clone()), vec!["Missile", "Old one"]);
    assert_eq!(entries[0].other_sources[0].title, "Missile (B)");
    // Once only.
    assert_eq!(
        store
            .place_items_stored_before_stories(crate::normalize::comparison_keys)
            .unwrap(),
        None
    );
    // New items are placed as usual beside the old ones.
    let feeds = store
        .sync_feeds(&[
            ("https://a.example/", Some("A")),
            ("https://b.example/", Some("B")),
        ])
        .unwrap();
    let new = story_item("b9", "https://news.example/z", "New", "");
    poll(&store, &feeds[1], &[(new, Vec::new())], 50);
    assert_eq!(
        titles(store.entries(None, 50).unwrap()),
        vec!["New", "Missile", "Old one"]
    );
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_new_store_has_nothing_to_place() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(
        store
            .place_items_stored_before_stories(crate::normalize::comparison_keys)
            .unwrap(),
        None
    );
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
    let record = |feed: &FeedRow, items: Vec<Item>| poll_now(feed.id, items);
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
    assert_eq!(item_counts(&store).iter().sum::<u64>(), 0);
    // Through the writer: the small poll is written, the big one fails alone.
    let writer = BatchWriter::start(store.clone()).unwrap();
    let mut records = records.into_iter();
    let (small, big) = (records.next().unwrap(), records.next().unwrap());
    let (small, big) = tokio::join!(writer.record(small), writer.record(big));
    assert_eq!(small.unwrap().new, 1);
    assert!(big.unwrap_err().to_string().contains("full"));
    let counts = item_counts(&store);
    assert_eq!(counts.iter().sum::<u64>(), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

/// Polls that come in one by one, each finding the writer free, are still written a few
/// dozen at a time: a batch begun within `COMMIT_GAP` of the one before waits for more. (Each
/// was a transaction, and a sync, of its own: the 304s of a warm poll of 10,000 feeds made
/// over 1,500 calls to `fsync`.) A poll that comes after a quiet spell is written without waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_that_trickle_in_are_written_in_few_batches() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feeds = three_feeds(&store);
    let writer = BatchWriter::start(store.clone()).unwrap();
    const POLLS: usize = 60;
    let started = std::time::Instant::now();
    let mut written = Vec::new();
    for index in 0..POLLS {
        let writer = writer.clone();
        let record = poll_now(feeds[index % feeds.len()].id, vec![]);
        written.push(tokio::spawn(async move { writer.record(record).await }));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for poll in written {
        poll.await.unwrap().unwrap();
    }
    let elapsed = started.elapsed();
    let batches = writer.batches_written();
    // At most one batch per gap begun, and the first (however slow the machine, as the gaps
    // are counted in the time the polls took); a write of one poll takes far less than the
    // 2 ms between polls, so without the wait each would be a batch of its own.
    let gaps = u64::try_from(elapsed.as_millis() / 20).unwrap();
    assert!(
        batches <= gaps + 2,
        "{batches} batches for {POLLS} polls in {elapsed:?}"
    );
    // After a quiet spell, one poll is one batch.
    tokio::time::sleep(Duration::from_millis(50)).await;
    writer.record(poll_now(feeds[0].id, vec![])).await.unwrap();
    assert_eq!(writer.batches_written(), batches + 1);
}

/// The title that makes writing a poll panic (`write_poll_in`, in tests only).
pub(super) const PANIC_IN_THE_WRITER: &str = "panic in the writer";

/// A bug met while writing one poll (a panic) fails that poll alone: the writer thread goes on,
/// the polls batched with it are written, the locks it held are mended, the database stays
/// sound. (Before, the panic ended the writer thread and poisoned its lock, and every later
/// poll of the daemon failed until a restart.)
#[tokio::test]
async fn a_panic_while_writing_fails_that_poll_alone_and_the_writer_goes_on() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feeds = three_feeds(&store);
    let writer = BatchWriter::start(store.clone()).unwrap();
    let (first, bad, third) = tokio::join!(
        writer.record(poll_now(feeds[0].id, vec![item("a", "Alpha")])),
        writer.record(poll_now(feeds[1].id, vec![item("b", PANIC_IN_THE_WRITER)])),
        writer.record(poll_now(feeds[2].id, vec![item("c", "Gamma")])),
    );
    assert_eq!(first.unwrap().new, 1);
    assert_eq!(third.unwrap().new, 1);
    let error = bad.unwrap_err().to_string();
    assert!(error.contains("bug in tidings"), "{error}");
    assert!(error.contains("met a bug of the writer"), "{error}");
    // Later polls are written, through the writer and directly.
    let later = writer
        .record(poll_now(feeds[1].id, vec![item("d", "Delta")]))
        .await
        .unwrap();
    assert_eq!(later.new, 1);
    assert_eq!(item_counts(&store), vec![1, 1, 1]);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn story_placement_statements_are_planned_once() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    for round in 0..3 {
        for (index, feed) in feeds.iter().enumerate() {
            let items: Vec<(Item, Vec<TopicMatch>)> = (0..10)
                .map(|n| {
                    let key = format!("{index}-{round}-{n}");
                    let lead = format!("{WIRE} Report number {n} of round {round}.");
                    let link = format!("https://news.example/{round}/{n}?utm_source={index}");
                    (
                        story_item(&key, &link, &format!("Title {n}"), &lead),
                        vec![],
                    )
                })
                .collect();
            poll(&store, feed, &items, 1_700_000_000 + round * 60);
        }
    }
    // The statements placing a new item, as the store's cache holds them: none was compiled
    // again because a parameter changed (SQLite does that for values it peeked at when
    // planning, unless the query planner stability guarantee is on).
    let connection = store.writer().unwrap();
    let mut placed = 0;
    for sql in super::stories::PLACEMENT_STATEMENTS {
        let statement = connection.prepare_cached(sql).unwrap();
        placed += statement.get_status(rusqlite::StatementStatus::Run);
        assert_eq!(
            statement.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "{sql}"
        );
    }
    assert!(placed > 0, "the placement statements ran");
}

#[test]
fn reader_lookups_of_a_poll_are_planned_once() {
    // The reader plans with the bound values (`plan_without_peeking` is the writer's alone),
    // so SQLite compiles a statement again whenever a value it peeked at changes: the raw
    // hashes' lookup, a join then, was compiled again for every feed (a tenth of a second
    // of a cold poll of 1,000 feeds).
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feeds = three_feeds(&store);
    for round in 0..3 {
        for feed in &feeds {
            store.raw_items(feed.id).unwrap();
            // The writer's commit between two lookups, as during a poll.
            poll(&store, feed, &[], 1_700_000_000 + round * 60);
        }
    }
    let connection = store.reader().unwrap();
    let statement = connection
        .prepare_cached(super::rawskip::RAW_ITEMS)
        .unwrap();
    assert_eq!(statement.get_status(rusqlite::StatementStatus::Run), 9);
    assert_eq!(
        statement.get_status(rusqlite::StatementStatus::RePrepare),
        0
    );
}

#[test]
fn whether_a_story_has_a_version_from_a_feed_is_one_index_probe() {
    let store = Store::open_in_memory().unwrap();
    let connection = store.writer().unwrap();
    let plan: Vec<String> = connection
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            super::stories::STORY_HAS_FEED
        ))
        .unwrap()
        .query_map([1, 1], |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter()
            .any(|step| step.contains("COVERING INDEX items_by_story_feed")),
        "{plan:?}"
    );
}

#[test]
fn the_statements_every_batch_runs_are_compiled_once() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    for round in 0..4 {
        for feed in &feeds {
            poll(&store, feed, &[], 1_700_000_000 + round * 60);
        }
    }
    // Twelve batches: a statement compiled for each would be a fresh one in the cache, never
    // run.
    let connection = store.writer().unwrap();
    for sql in [super::stories::NEWEST_ITEM, super::stories::BANDS_UP_TO] {
        let statement = connection.prepare_cached(sql).unwrap();
        assert!(
            statement.get_status(rusqlite::StatementStatus::Run) >= 12,
            "{sql}"
        );
    }
}

/// The band rows stored for an item.
fn band_rows(store: &Store, item_id: i64) -> Vec<i64> {
    let connection = store.writer().unwrap();
    let mut statement = connection
        .prepare("SELECT band FROM story_bands_all WHERE item_id = ?1 ORDER BY band")
        .unwrap();
    statement
        .query_map([item_id], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn an_items_band_rows_follow_its_edits_and_go_with_it() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    let first = story_item("a1", "https://a.example/1", "Missile launch", WIRE);
    poll(&store, &feeds[0], &[(first.clone(), vec![])], 1_700_000_000);
    let item_id: i64 = store
        .writer()
        .unwrap()
        .query_row("SELECT id FROM items", [], |row| row.get(0))
        .unwrap();
    let mut bands = first.story.as_ref().unwrap().bands.clone();
    bands.sort_unstable();
    assert_eq!(band_rows(&store, item_id), bands);

    let edited_lead = "Japan's coast guard said on Friday that an object launched from the \
        peninsula had fallen outside its exclusive economic zone, and that no damage to ships \
        or aircraft had been reported so far in the area.";
    let edited = story_item("a1", "https://a.example/1", "Missile launch", edited_lead);
    poll(
        &store,
        &feeds[0],
        &[(edited.clone(), vec![])],
        1_700_000_060,
    );
    let mut new_bands = edited.story.as_ref().unwrap().bands.clone();
    new_bands.sort_unstable();
    assert_ne!(new_bands, bands);
    assert_eq!(
        band_rows(&store, item_id),
        new_bands,
        "the old text's bands are gone"
    );

    let pruned = store
        .prune(Utc.timestamp_opt(1_800_000_000, 0).unwrap(), &[])
        .unwrap();
    assert_eq!(pruned.expired, 0, "the item is still listed by its feed");
    poll(&store, &feeds[0], &[], 1_700_000_120);
    let pruned = store
        .prune(Utc.timestamp_opt(1_800_000_000, 0).unwrap(), &[])
        .unwrap();
    assert_eq!(pruned.expired, 1);
    assert_eq!(band_rows(&store, item_id), Vec::<i64>::new());
}

#[test]
fn a_poll_that_cannot_be_written_fails_alone_in_its_batch() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    let record = |feed_id: crate::model::FeedId, key: &str| poll_now(feed_id, vec![item(key, key)]);
    // The middle poll names a feed the store does not have: it cannot be written.
    let records = vec![
        record(feeds[0].id, "first"),
        record(crate::model::FeedId(9_999), "lost"),
        record(feeds[2].id, "third"),
    ];
    let results = store.record_polls(&records).unwrap();
    assert_eq!(results[0].as_ref().unwrap().new, 1);
    assert!(results[1].is_err());
    assert_eq!(results[2].as_ref().unwrap().new, 1);
    assert_eq!(item_counts(&store), vec![1, 0, 1]);
}

/// Items of six feeds whose texts are drawn from a few stock sentences, so that many are
/// near-duplicates of items of other feeds (and of their own feed), the way
/// template-generated and wire-copy feeds are; some are edited on a later poll.
fn look_alike_polls() -> Vec<(usize, Vec<Item>, i64)> {
    const TITLES: [&str; 4] = [
        "Missile launch reported off the east coast",
        "Talks on grain exports resume in the capital",
        "Storm closes ports along the southern shore",
        "Parliament passes the budget after a long night",
    ];
    const SENTENCES: [&str; 6] = [
        "Officials said the situation was being watched closely by the defence ministry.",
        "The announcement came after a week of meetings between both delegations abroad.",
        "Local residents were told to stay indoors until the warning was lifted tonight.",
        "Analysts expect the decision to weigh on markets for the rest of the month.",
        "A spokesperson declined to comment further on the report when reached by phone.",
        "Several ministers travelled to the region on Tuesday to meet local leaders there.",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    let mut polls = Vec::new();
    for round in 0..8_i64 {
        for feed in 0..6 {
            let mut items = Vec::new();
            for index in 0..6 {
                let title = TITLES[rng.usize(..TITLES.len())];
                let mut lead = String::new();
                for _ in 0..3 {
                    lead.push_str(SENTENCES[rng.usize(..SENTENCES.len())]);
                    lead.push(' ');
                }
                // Now and then an earlier item comes back edited.
                let key = if round > 0 && rng.u8(..10) == 0 {
                    format!("f{feed}-r{}-{index}", round - 1)
                } else {
                    format!("f{feed}-r{round}-{index}")
                };
                let link = format!("https://feed{feed}.example/{key}");
                items.push(story_item(&key, &link, title, &lead));
            }
            polls.push((feed, items, 1_700_000_000 + round * 1_800));
        }
    }
    polls
}

/// Where each stored item went: (id, feed, story, link group).
fn placements(store: &Store) -> Vec<(i64, i64, i64, i64)> {
    let writer = store.writer().unwrap();
    let mut select = writer
        .prepare("SELECT id, feed_id, story, link_group FROM items ORDER BY id")
        .unwrap();
    select
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn six_feeds(store: &Store) -> Vec<FeedRow> {
    let urls: Vec<String> = (0..6)
        .map(|feed| format!("https://feed{feed}.example/feed"))
        .collect();
    let feeds: Vec<(&str, Option<&str>)> = urls.iter().map(|url| (url.as_str(), None)).collect();
    store.sync_feeds(&feeds).unwrap()
}

#[test]
fn the_band_index_in_memory_places_items_as_the_database_does() {
    let in_memory = Store::open_in_memory().unwrap();
    let from_disk = Store::open_in_memory().unwrap();
    from_disk.placing().unwrap().disk_only = true;
    let (feeds, feeds_on_disk) = (six_feeds(&in_memory), six_feeds(&from_disk));
    let mut grouped = 0;
    for (feed, items, at) in look_alike_polls() {
        let items: Vec<(Item, Vec<TopicMatch>)> =
            items.into_iter().map(|item| (item, vec![])).collect();
        let summary = poll(&in_memory, &feeds[feed], &items, at);
        assert_eq!(summary, poll(&from_disk, &feeds_on_disk[feed], &items, at));
        grouped += summary.grouped;
        assert!(in_memory.placing().unwrap().in_memory());
        assert!(!from_disk.placing().unwrap().in_memory());
    }
    assert!(grouped > 20, "only {grouped} items were grouped");
    assert_eq!(placements(&in_memory), placements(&from_disk));
}

/// Feed `feed`'s copy of the wire story, as item `key`.
fn version(key: &str, feed: &str) -> Item {
    story_item(
        key,
        &format!("https://{feed}.example/{key}"),
        "Missile launch",
        WIRE,
    )
}

/// A poll of `feed` that brings its copy of the wire story, as item `key`.
fn poll_version(store: &Store, feed: &FeedRow, key: &str, at: i64) -> PollSummary {
    let host = feed
        .url
        .trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap_or("x");
    poll(store, feed, &[(version(key, host), vec![])], at)
}

#[test]
fn a_write_by_another_connection_sends_placing_back_to_the_database() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feeds = three_feeds(&store);
    poll_version(&store, &feeds[0], "a1", 1_700_000_000);
    assert!(store.placing().unwrap().in_memory());
    // Another process joins feed B to the story.
    let other = Store::open(directory.path()).unwrap();
    let joined = poll_version(&other, &feeds[1], "b1", 1_700_000_060);
    assert_eq!(joined.grouped, 1);
    // A second version from feed B may not join the story that has one from B already.
    let again = poll_version(&store, &feeds[1], "b2", 1_700_000_120);
    assert_eq!((again.new, again.grouped), (1, 0));
    let stories: Vec<i64> = placements(&store).iter().map(|placed| placed.2).collect();
    assert_eq!(stories, [1, 1, 3]);
}

#[test]
fn pruning_a_version_lets_its_feed_join_the_story_again() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    poll_version(&store, &feeds[0], "a1", 1_700_000_000);
    poll_version(&store, &feeds[1], "b1", 1_700_000_060);
    // Feed B moves on to another item; its old version goes past `max_items`.
    let other = story_item(
        "b2",
        "https://b.example/b2",
        "Budget passed",
        "Parliament passed \
        the budget for next year after a debate that lasted through the night, with the \
        opposition voting against most of its chapters and several amendments.",
    );
    poll(&store, &feeds[1], &[(other, vec![])], 1_700_000_120);
    assert!(store.placing().unwrap().in_memory());
    let pruned = store
        .prune(Utc.timestamp_opt(0, 0).unwrap(), &[(feeds[1].id, 1)])
        .unwrap();
    assert_eq!(pruned.over_limit, 1);
    let back = poll_version(&store, &feeds[1], "b3", 1_700_000_180);
    assert_eq!(
        back.grouped, 1,
        "feed B has no version in the story any more"
    );
}

#[test]
fn an_item_added_and_edited_in_one_batch_keeps_only_its_new_band_rows() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    let first = story_item("a1", "https://a.example/1", "Missile launch", WIRE);
    let edited_lead = "Japan's coast guard said on Friday that an object launched from the \
        peninsula had fallen outside its exclusive economic zone, and that no damage to ships \
        or aircraft had been reported so far in the area.";
    let edited = story_item("a1", "https://a.example/1", "Missile launch", edited_lead);
    let results = store
        .record_polls(&[
            poll_now(feeds[0].id, vec![first]),
            poll_now(feeds[0].id, vec![edited.clone()]),
        ])
        .unwrap();
    assert_eq!(results[1].as_ref().unwrap().updated, 1);
    assert!(store.placing().unwrap().in_memory());
    let mut bands = edited.story.as_ref().unwrap().bands.clone();
    bands.sort_unstable();
    assert_eq!(band_rows(&store, 1), bands);
}

fn band_row_count(store: &Store) -> i64 {
    store
        .writer()
        .unwrap()
        .query_row("SELECT count(*) FROM story_bands_all", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn band_rows_held_while_polls_wait_are_written_when_none_wait() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    let record = |feed: usize, key: &str, title: &str| {
        let link = format!("https://{feed}.example/{key}");
        poll_now(feeds[feed].id, vec![story_item(key, &link, title, WIRE)])
    };
    store
        .record_polls_before_more(&[record(0, "a1", "Missile launch")], &|| true)
        .unwrap();
    assert!(store.placing().unwrap().in_memory());
    assert_eq!(band_row_count(&store), 0, "held while more polls wait");
    // The held rows still count for placing: feed B's copy joins feed A's story.
    let joined = store
        .record_polls_before_more(&[record(1, "b1", "Missile launch seen")], &|| true)
        .unwrap();
    assert_eq!(joined[0].as_ref().unwrap().grouped, 1);
    store
        .record_polls_before_more(&[record(2, "c1", "Missile launch again")], &|| false)
        .unwrap();
    assert_eq!(band_row_count(&store), 3 * dedupe_bands());
}

fn dedupe_bands() -> i64 {
    crate::dedupe::BANDS as i64
}

/// A poll of feed `feed` of `feeds` that brings one version of the wire story, keyed `key`.
fn wire_version(feeds: &[FeedRow], feed: usize, key: &str) -> PollRecord {
    let link = format!("https://{feed}.example/{key}");
    poll_now(
        feeds[feed].id,
        vec![story_item(key, &link, "Missile launch", WIRE)],
    )
}

#[test]
fn band_rows_held_when_the_process_ended_are_written_by_the_next_one() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feeds = three_feeds(&store);
    let record = |feed: usize, key: &str| wire_version(&feeds, feed, key);
    store
        .record_polls_before_more(&[record(0, "a1")], &|| false)
        .unwrap();
    store
        .record_polls_before_more(&[record(1, "b1")], &|| true)
        .unwrap();
    assert_eq!(band_row_count(&store), dedupe_bands(), "feed B's rows held");
    // The process ends with rows held (a crash, say).
    drop(store);
    let store = Store::open(directory.path()).unwrap();
    store.placing().unwrap().disk_only = true;
    let again = store
        .record_polls_before_more(&[record(1, "b2")], &|| false)
        .unwrap();
    // Feed B's first rows are written again; the new version's are held until the poll is
    // over.
    assert_eq!(band_row_count(&store), 2 * dedupe_bands());
    store.write_held_band_rows().unwrap();
    assert_eq!(band_row_count(&store), 3 * dedupe_bands());
    // Placed from the database, which now has feed B's first version: not a second one.
    assert_eq!(again[0].as_ref().unwrap().grouped, 0);
}

/// Without the copy of the band index, a batch written whole holds its band rows too (a warm
/// poll's new items would each rewrite random pages of the band table, commit after commit):
/// later batches find them, and they are written when the poll is over.
#[test]
fn band_rows_held_without_the_copy_are_found_by_later_polls_and_written_at_the_end() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    store.placing().unwrap().disk_only = true;
    let feeds = three_feeds(&store);
    let record = |feed: usize, key: &str| wire_version(&feeds, feed, key);
    let first = store
        .record_polls_before_more(&[record(0, "a1")], &|| false)
        .unwrap();
    assert_eq!(first[0].as_ref().unwrap().grouped, 0);
    assert_eq!(band_row_count(&store), 0, "held");
    // Feed B's version, in a later batch, finds feed A's through the held rows.
    let second = store
        .record_polls_before_more(&[record(1, "b1")], &|| false)
        .unwrap();
    assert_eq!(second[0].as_ref().unwrap().grouped, 1);
    assert!(!store.placing().unwrap().in_memory());
    store.write_held_band_rows().unwrap();
    assert_eq!(band_row_count(&store), 2 * dedupe_bands());
    // Written once: a second call adds nothing.
    store.write_held_band_rows().unwrap();
    assert_eq!(band_row_count(&store), 2 * dedupe_bands());
    // And a process that starts now places from what is written.
    drop(store);
    let store = Store::open(directory.path()).unwrap();
    store.placing().unwrap().disk_only = true;
    let third = store
        .record_polls_before_more(&[record(2, "c1")], &|| false)
        .unwrap();
    assert_eq!(third[0].as_ref().unwrap().grouped, 1);
}

/// A topic page holds the same entries whichever way the query finds them: from the topic's
/// list of items (a sparse topic) or by walking all items newest first (a dense one).
#[test]
fn topic_pages_are_the_same_whether_the_topic_is_dense_or_sparse() {
    let store = Store::open_in_memory().unwrap();
    let feeds = three_feeds(&store);
    // Every item of A is in "dense", every 20th in "sparse" too; B carries later copies of
    // every 10th item of A under the same canonical link, which are grouped with A's.
    let topics = |index: usize| {
        let mut matches = matched("dense");
        if index.is_multiple_of(20) {
            matches.extend(matched("sparse"));
        }
        matches
    };
    for index in 0..200 {
        let link = format!("https://news.example/{index}");
        let item = story_item(&format!("a{index}"), &link, &format!("Story {index}"), "");
        poll(
            &store,
            &feeds[0],
            &[(item, topics(index))],
            1_000 + index as i64,
        );
    }
    for index in (0..200).step_by(10) {
        let link = format!("https://news.example/{index}?utm_source=b");
        let copy = story_item(&format!("b{index}"), &link, &format!("Copy {index}"), "");
        poll(
            &store,
            &feeds[1],
            &[(copy, topics(index))],
            5_000 + index as i64,
        );
    }
    {
        let reader = store.reader().unwrap();
        assert!(super::items::topic_is_dense(&reader, "dense").unwrap());
        assert!(!super::items::topic_is_dense(&reader, "sparse").unwrap());
    }
    for grouping in [Grouping::Stories, Grouping::Links] {
        for (topic, step) in [("dense", 1), ("sparse", 20)] {
            // Page by page, 7 at a time, to the end.
            let mut seen = Vec::new();
            let mut before = None;
            loop {
                let (entries, next) = store
                    .entries_page(Some(topic), before, 7, grouping)
                    .unwrap();
                for entry in entries {
                    let index: usize = entry.title["Story ".len()..].parse().unwrap();
                    let copies = usize::from(index.is_multiple_of(10));
                    assert_eq!(entry.other_sources.len(), copies, "{topic} {grouping:?}");
                    seen.push(index);
                }
                match next {
                    Some(cursor) => before = Some(cursor),
                    None => break,
                }
            }
            let expected: Vec<usize> = (0..200).rev().filter(|index| index % step == 0).collect();
            assert_eq!(seen, expected, "{topic} {grouping:?}");
        }
    }
}

/// A database of schema version 8 has band rows made from another hash of the shingles: the
/// upgrade drops them and the writer makes them again from the stored story texts, so a new
/// version of a stored story still finds it.
#[test]
fn band_rows_of_a_version_8_database_are_made_again_from_the_story_texts() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let feeds = three_feeds(&store);
    let record = |feed: usize, key: &str| wire_version(&feeds, feed, key);
    store
        .record_polls_before_more(&[record(0, "a1")], &|| false)
        .unwrap();
    // Rows as version 8 made them: other band hashes of the same text.
    store
        .writer()
        .unwrap()
        .execute_batch(
            "INSERT INTO story_bands SELECT band, item_id, time FROM story_bands_recent;
             DROP VIEW story_bands_all;
             DROP TABLE story_bands_recent;
             UPDATE story_bands SET band = band + 1;
             PRAGMA user_version = 8;",
        )
        .unwrap();
    drop(store);
    let store = Store::open(directory.path()).unwrap();
    let placed = store
        .record_polls_before_more(&[record(1, "b1")], &|| false)
        .unwrap();
    assert_eq!(placed[0].as_ref().unwrap().grouped, 1);
    store.write_held_band_rows().unwrap();
    let writer = store.writer().unwrap();
    let rows: std::collections::BTreeSet<(i64, i64)> = writer
        .prepare("SELECT band, item_id FROM story_bands_all")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: std::collections::BTreeSet<(i64, i64)> = writer
        .prepare("SELECT id, story_words FROM items")
        .unwrap()
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .flat_map(|(id, words)| {
            crate::dedupe::bands_of_words(&words)
                .into_iter()
                .map(move |band| (band, id))
        })
        .collect();
    assert_eq!(rows, expected);
}

/// A topic page reads the group of an item only when the item is in the topic: a story of
/// 60 versions outside the topic, newer than the topic's items, costs the walk 60 probes,
/// not 60 walks of its 60 versions. Counted in SQLite's virtual machine steps.
#[test]
fn a_dense_topic_page_checks_the_topic_before_the_group() {
    let store = Store::open_in_memory().unwrap();
    let urls: Vec<String> = (0..61)
        .map(|index| format!("https://feed{index}.example/feed"))
        .collect();
    let feeds = store
        .sync_feeds(
            &urls
                .iter()
                .map(|url| (url.as_str(), None))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    // 150 items of the topic in feed 0, then one story of 60 versions (the same canonical
    // link at 60 feeds) outside it.
    for index in 0..150 {
        let link = format!("https://news.example/t{index}");
        let item = story_item(&format!("t{index}"), &link, &format!("Topic {index}"), "");
        poll(&store, &feeds[0], &[(item, matched("t"))], 1_000 + index);
    }
    for (index, feed) in feeds[1..].iter().enumerate() {
        let link = format!("https://news.example/big?utm_source={index}");
        let item = story_item(&format!("b{index}"), &link, "Big", "");
        poll(&store, feed, &[(item, Vec::new())], 5_000 + index as i64);
    }
    let reader = store.reader().unwrap();
    assert!(super::items::topic_is_dense(&reader, "t").unwrap());
    let sql = super::items::page_sql(true, true, Grouping::Stories);
    let mut statement = reader.prepare(&sql).unwrap();
    let titles: Vec<String> = statement
        .query_map(rusqlite::params![10, "t", None::<i64>, 0], |row| row.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<String> = (140..150)
        .rev()
        .map(|index| format!("Topic {index}"))
        .collect();
    assert_eq!(titles, expected);
    let steps = statement.get_status(rusqlite::StatementStatus::VmStep);
    assert!(steps < 5_000, "{steps} steps");
}
