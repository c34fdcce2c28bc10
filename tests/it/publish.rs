//! The output feeds as readers see them. `every_feed_of_the_corpus_is_valid_in_every_format`
//! ingests the whole `../shared/corpus` through the library (as `corpus.rs` does), renders
//! `all` and every shipped topic as Atom, RSS and JSON Feed, and reads each with a strict XML
//! parser (roxmltree), feed-rs and Python's feedparser (`bozo` must be 0).

use std::path::Path;

use chrono::Utc;
use tidings::config;
use tidings::normalize::normalize;
use tidings::parse::parse;
use tidings::publish::{Format, MAX_LIMIT, OutputFeed, render};
use tidings::store::{FetchState, FetchedItems, PollRecord, Store};
use tidings::topics::TopicSet;
use url::Url;

use crate::support::{feedparser, shared_file};

/// Every corpus document that parses, stored as one feed each with the shipped topics.
fn ingest_corpus() -> Option<(Store, config::Config)> {
    let manifest = shared_file("corpus/MANIFEST.tsv")?;
    let corpus = manifest.parent().unwrap().to_path_buf();
    let shipped = config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/feeds.toml"
    )))
    .unwrap();
    let topics = TopicSet::compile(&shipped.topics);
    let store = Store::open_in_memory().unwrap();
    let files: Vec<String> = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next().map(str::to_string))
        .filter(|file| !file.is_empty())
        .collect();
    let listed: Vec<(String, String)> = files
        .iter()
        .map(|file| (format!("https://corpus.example/{file}"), file.clone()))
        .collect();
    let borrowed: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|(url, name)| (url.as_str(), Some(name.as_str())))
        .collect();
    let rows = store.sync_feeds(&borrowed).unwrap();
    for (row, file) in rows.iter().zip(&files) {
        let body = std::fs::read(corpus.join(file)).unwrap();
        let feed_url = Url::parse(&row.url).unwrap();
        let Ok(document) = parse(&body, None, feed_url.as_str()) else {
            continue;
        };
        let (meta, items) = normalize(&document, &feed_url);
        let matched = items
            .into_iter()
            .map(|item| {
                let matches = topics.match_text(&item.match_text);
                (item, Some(matches))
            })
            .collect();
        store
            .record_poll(&PollRecord {
                feed_id: row.id,
                state: FetchState {
                    last_attempt: Some(Utc::now()),
                    ..FetchState::default()
                },
                fetched: Some(FetchedItems {
                    meta,
                    items: matched,
                }),
            })
            .unwrap();
    }
    Some((store, shipped))
}

#[test]
fn every_feed_of_the_corpus_is_valid_in_every_format() {
    let Some((store, shipped)) = ingest_corpus() else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let mut slugs = vec![("all".to_string(), "All sources".to_string())];
    slugs.extend(
        shipped
            .topics
            .iter()
            .map(|topic| (topic.slug.to_string(), topic.title.clone())),
    );
    let mut written = Vec::new();
    for (slug, title) in &slugs {
        let topic = (slug != "all").then_some(slug.as_str());
        let (entries, next) = store.entries_page(topic, None, MAX_LIMIT).unwrap();
        assert!(!entries.is_empty(), "{slug}: no entries from the whole corpus");
        let expected: Vec<(String, String, Option<String>)> = entries
            .iter()
            .map(|entry| (entry.entry_id.clone(), entry.title.clone(), entry.link.clone()))
            .collect();
        let mut feed = OutputFeed::new(slug, title, "http://127.0.0.1:8080", entries);
        feed.limit = MAX_LIMIT;
        feed.next = next;
        feed.hub = Some("http://127.0.0.1:9/hub".into());
        for format in Format::ALL {
            let rendered = render(&feed, format).unwrap();
            let what = format!("{slug}.{}", format.extension());
            let text = String::from_utf8(rendered.body.clone())
                .unwrap_or_else(|error| panic!("{what}: not UTF-8: {error}"));
            match format {
                Format::Atom | Format::Rss => {
                    roxmltree::Document::parse(&text)
                        .unwrap_or_else(|error| panic!("{what}: not well-formed XML: {error}"));
                }
                Format::Json => {
                    let value = serde_json::from_str::<serde_json::Value>(&text)
                        .unwrap_or_else(|error| panic!("{what}: not JSON: {error}"));
                    check_json_feed(&what, &value);
                }
            }
            for bad in ["<script", "javascript:"] {
                assert!(!text.to_lowercase().contains(bad), "{what} contains {bad}");
            }
            let read = feed_rs::parser::parse(rendered.body.as_slice())
                .unwrap_or_else(|error| panic!("{what}: feed-rs cannot read it: {error}"));
            let read: Vec<(String, String, Option<String>)> = read
                .entries
                .iter()
                .map(|entry| {
                    (
                        entry.id.clone(),
                        entry.title.as_ref().map(|t| t.content.clone()).unwrap_or_default(),
                        entry.links.first().map(|link| link.href.clone()),
                    )
                })
                .collect();
            assert_eq!(read.len(), expected.len(), "{what}");
            for (got, want) in read.iter().zip(&expected) {
                assert_eq!(got.0, want.0, "{what}: id");
                assert_eq!(got.1, want.1, "{what}: title of {}", want.0);
            }
            if format != Format::Json {
                // feedparser (6.0) reads Atom and RSS, not JSON Feed.
                let path = directory.path().join(&what);
                std::fs::write(&path, &rendered.body).unwrap();
                written.push((path, expected.clone()));
            }
        }
    }
    eprintln!(
        "rendered {} feeds in 3 formats from the corpus",
        slugs.len()
    );
    if !feedparser::available() {
        return;
    }
    let paths: Vec<&Path> = written.iter().map(|(path, _)| path.as_path()).collect();
    let seen = feedparser::check_files(&paths);
    for (path, expected) in &written {
        let what = path.display().to_string();
        let parsed = &seen[&what];
        assert!(
            !parsed.bozo,
            "{what}: feedparser says bozo: {:?}",
            parsed.bozo_exception
        );
        assert_eq!(parsed.entries.len(), expected.len(), "{what}");
        for (got, want) in parsed.entries.iter().zip(expected) {
            assert_eq!(got.id.as_deref(), Some(want.0.as_str()), "{what}");
        }
    }
}

/// The rules of JSON Feed 1.1 that a reader relies on: the version URL, a title, and items
/// each with a unique string id, `content_html` or `content_text`, and RFC 3339 dates.
#[track_caller]
fn check_json_feed(what: &str, value: &serde_json::Value) {
    assert_eq!(value["version"], "https://jsonfeed.org/version/1.1", "{what}");
    assert!(value["title"].is_string(), "{what}: title");
    let items = value["items"].as_array().unwrap();
    let mut ids = std::collections::HashSet::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_else(|| panic!("{what}: an item without id"));
        assert!(ids.insert(id.to_string()), "{what}: id {id} twice");
        assert!(
            item["content_html"].is_string() || item["content_text"].is_string(),
            "{what}: {id} has no content"
        );
        for date in ["date_published", "date_modified"] {
            if let Some(text) = item[date].as_str() {
                chrono::DateTime::parse_from_rfc3339(text)
                    .unwrap_or_else(|error| panic!("{what}: {id} {date} {text}: {error}"));
            }
        }
        assert!(item["_tidings"]["source"]["feed_url"].is_string(), "{what}: {id} source");
    }
}
