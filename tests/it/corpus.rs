//! Every document of `../shared/corpus` through the whole pure path and the store: parse,
//! normalize, match the shipped topics, store, read back, render Atom, and read the Atom back
//! with feed-rs. Nothing may panic, every rendered feed must parse, and a document is either
//! a feed with items or refused with a reason. (Per-file expectations, charsets and links are
//! the parsing issue's; this walk guards against crashes and invalid output.)

use std::path::Path;

use chrono::Utc;
use tidings::config;
use tidings::model::OutputEntry;
use tidings::normalize::normalize;
use tidings::parse::parse;
use tidings::publish::{OutputFeed, render_atom};
use tidings::store::{FetchState, FetchedItems, PollRecord, Store};
use tidings::topics::TopicSet;
use url::Url;

use crate::support::shared_file;

#[test]
fn every_corpus_document_is_stored_and_republished_as_valid_atom() {
    let Some(manifest) = shared_file("corpus/MANIFEST.tsv") else {
        return;
    };
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
    assert!(
        files.len() > 300,
        "the manifest lists {} files",
        files.len()
    );
    let (mut parsed, mut refused, mut items_total) = (0, 0, 0);
    let mut refused_by_category: std::collections::BTreeMap<String, usize> = Default::default();
    for (index, file) in files.iter().enumerate() {
        let body = std::fs::read(corpus.join(file)).unwrap();
        let feed_url = Url::parse(&format!("https://corpus.example/{file}")).unwrap();
        let document = match parse(&body, None, feed_url.as_str()) {
            Ok(document) => document,
            Err(error) => {
                // A refusal must say why.
                assert!(!error.to_string().is_empty(), "{file}");
                refused += 1;
                let category = file.split('/').next().unwrap_or_default().to_string();
                *refused_by_category.entry(category).or_default() += 1;
                continue;
            }
        };
        parsed += 1;
        let (meta, items) = normalize(&document, &feed_url);
        items_total += items.len();
        for item in &items {
            assert!(!item.title.is_empty(), "{file}: an item without a title");
        }
        let rows = store
            .sync_feeds(&[(feed_url.as_str(), Some(file.as_str()))])
            .unwrap();
        let matched = items
            .into_iter()
            .map(|item| {
                let matches = topics.match_text(&item.match_text);
                (item, Some(matches))
            })
            .collect();
        store
            .record_poll(&PollRecord {
                feed_id: rows[0].id,
                state: FetchState {
                    last_attempt: Some(Utc::now()),
                    ..FetchState::default()
                },
                fetched: Some(FetchedItems {
                    meta,
                    items: matched,
                }),
            })
            .unwrap_or_else(|error| panic!("{file} ({index}): {error}"));
        let entries: Vec<OutputEntry> = store.entries(None, 500).unwrap();
        check_render(file, entries);
    }
    eprintln!(
        "corpus: {parsed} documents parsed ({items_total} items), {refused} refused, of {}; \
         refused by folder: {refused_by_category:?}",
        files.len()
    );
    // FIXME(parsing issue): 101 of 403 are refused today (charsets feed-rs cannot guess,
    // malformed XML a lenient reader would recover, non-feed documents that are meant to be
    // refused). This floor only guards against regressions until per-file expectations land.
    assert!(
        parsed >= 302,
        "only {parsed} of {} parsed (302 before)",
        files.len()
    );
    for topic in ["north-korea", "ukraine"] {
        check_render(topic, store.entries(Some(topic), 500).unwrap());
    }
}

/// Renders entries as Atom and reads them back with feed-rs.
#[track_caller]
fn check_render(what: &str, entries: Vec<OutputEntry>) {
    let count = entries.len();
    let feed = OutputFeed::new("all", "All sources", "http://127.0.0.1:8080", entries);
    let rendered = render_atom(&feed).unwrap();
    let read = feed_rs::parser::parse(rendered.body.as_slice())
        .unwrap_or_else(|error| panic!("after {what}: the rendered feed does not parse: {error}"));
    assert_eq!(read.entries.len(), count, "after {what}");
}
