//! Criterion benchmark: the whole ingest of a large batch through the crate's public API, as
//! `pipeline::poll_feed` does it after the download: parse, normalize, clamp dates, look up
//! what the store holds (`item_hashes`), match the shipped topics, and store with
//! `record_polls` in one group commit, into a SQLite file (WAL, synchronous=FULL) on disk.
//!
//! - `new items`: 100 feeds × 200 items = 20,000 items into an empty store;
//! - `known items, whole parse`: the same documents again into a store that holds them all,
//!   every byte parsed again and unchanged items skipped by their content hash (the path
//!   before `pipeline::rawskip`);
//! - `known items, same items`: a re-poll as `pipeline::poll_feed` does it, of documents whose
//!   build date changed but not their items: the body hash, `rawskip::read` (pre-scan, raw
//!   hashes, a parse of the header alone), and the poll with its raw hashes recorded;
//! - `known items, one new per document`: the same, of documents that gained one item at the
//!   top and lost their oldest (100 new items parsed, matched and stored, 19,900 left out), each
//!   iteration from a copy of the same store;
//! - `rawskip read alone, same items`: the parsing side of `known items, same items`, without
//!   the store.
//!
//! `cargo bench --bench ingest`. Items per second = 20,000 / the time per iteration.

// A benchmark stops with a panic when its setup fails.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use chrono::Utc;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use tidings::config;
use tidings::normalize::{clamp_dates, normalize};
use tidings::parse::parse;
use tidings::pipeline::{process_document, rawskip};
use tidings::store::{FetchState, FetchedItems, PollRecord, Store};
use tidings::topics::TopicSet;
use url::Url;

#[path = "support/synthetic.rs"]
mod synthetic;
use synthetic::SUBJECTS;

const FEEDS: usize = 100;
const ITEMS: usize = 200;

/// One realistic RSS document: 200 items with guid, link, date, a title and a paragraph.
fn document(feed: usize) -> String {
    document_of(feed, 0, "Mon, 13 Jan 2025 08:00:00 +0000")
}

/// The document of `feed` built at `build` with items `first..first + 200`, newest first.
fn document_of(feed: usize, first: usize, build: &str) -> String {
    let mut rss = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Outlet {feed}</title><link>https://outlet{feed}.example/</link>\
         <description>News from outlet {feed}</description><lastBuildDate>{build}</lastBuildDate>"
    );
    for item in (first..first + ITEMS).rev() {
        let subject = SUBJECTS[(feed * 7 + item) % SUBJECTS.len()];
        rss.push_str(&format!(
            "<item><guid isPermaLink=\"false\">outlet{feed}-{item}</guid>\
             <title>{subject} ({feed}-{item})</title>\
             <link>https://outlet{feed}.example/news/{item}.html</link>\
             <pubDate>Mon, 13 Jan 2025 {:02}:{:02}:00 +0000</pubDate>\
             <description>&lt;p&gt;{subject}. Officials said on Monday that the situation \
             was being watched closely, and that more details would follow later in the day. \
             Analysts &amp;amp; diplomats in the region urged calm.&lt;/p&gt;</description>\
             </item>",
            item % 24,
            item % 60
        ));
    }
    rss.push_str("</channel></rss>");
    rss
}

struct Batch {
    documents: Vec<(Url, Vec<u8>)>,
    topics: TopicSet,
}

fn ingest(store: &Store, batch: &Batch, feed_ids: &[tidings::model::FeedId]) -> usize {
    let now = Utc::now();
    let mut records = Vec::with_capacity(batch.documents.len());
    for ((url, body), feed_id) in batch.documents.iter().zip(feed_ids) {
        let parsed = parse(body, Some("application/rss+xml"), url.as_str()).unwrap();
        let (meta, mut items) = normalize(&parsed, url);
        clamp_dates(&mut items, now);
        let known = store.item_hashes(*feed_id).unwrap();
        let items = items
            .into_iter()
            .map(|item| {
                let unchanged =
                    known.get(&item.key.to_storage_string()) == Some(&item.content_hash);
                let matches = (!unchanged).then(|| batch.topics.match_text(&item.match_text));
                (item, matches)
            })
            .collect();
        records.push(PollRecord {
            feed_id: *feed_id,
            state: FetchState {
                last_attempt: Some(now),
                ..FetchState::default()
            },
            fetched: Some(FetchedItems {
                meta,
                items,
                raw: None,
            }),
        });
    }
    let results = store.record_polls(&records).unwrap();
    results
        .into_iter()
        .map(|summary| {
            let summary = summary.unwrap();
            summary.new + summary.unchanged
        })
        .sum()
}

/// A re-poll as `pipeline::poll_feed` does it after the download: the body hash, then the
/// pipeline's own `process_document` (`rawskip::read` against the feed's raw hashes, the stored
/// content hashes of the items read, matching and comparison keys for those that are new or
/// changed), and the poll recorded with its raw hashes. Returns the items accounted for (new +
/// unchanged, those left out included).
fn repoll(
    store: &Store,
    documents: &[(Url, Vec<u8>)],
    topics: &TopicSet,
    feed_ids: &[tidings::model::FeedId],
) -> usize {
    let now = Utc::now();
    let mut records = Vec::with_capacity(documents.len());
    for ((url, body), feed_id) in documents.iter().zip(feed_ids) {
        black_box(Sha256::digest(body));
        let known_raw = store.raw_items(*feed_id).unwrap();
        let read = process_document(
            store,
            topics,
            *feed_id,
            body,
            Some("application/rss+xml"),
            url,
            &known_raw,
            now,
        )
        .unwrap();
        records.push(PollRecord {
            feed_id: *feed_id,
            state: FetchState {
                last_attempt: Some(now),
                ..FetchState::default()
            },
            fetched: Some(FetchedItems {
                meta: read.meta,
                items: read.items,
                raw: Some(read.raw),
            }),
        });
    }
    let results = store.record_polls(&records).unwrap();
    results
        .into_iter()
        .map(|summary| {
            let summary = summary.unwrap();
            summary.new + summary.unchanged
        })
        .sum()
}

fn fresh_store(directory: &Path, batch: &Batch) -> (Store, Vec<tidings::model::FeedId>) {
    synthetic::store_with_feeds(directory, &batch.documents)
}

fn bench(criterion: &mut Criterion) {
    let shipped = config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/feeds.toml"
    )))
    .unwrap();
    let batch = Batch {
        documents: (0..FEEDS)
            .map(|feed| {
                let url = Url::parse(&format!("https://outlet{feed}.example/rss.xml")).unwrap();
                (url, document(feed).into_bytes())
            })
            .collect(),
        topics: TopicSet::compile(&shipped.topics),
    };
    let mut group = criterion.benchmark_group("ingest");
    group.throughput(Throughput::Elements((FEEDS * ITEMS) as u64));
    group.sample_size(10);
    // The stages alone on the same bytes, to see where the time goes.
    group.bench_function("feed-rs alone", |bencher| {
        bencher.iter(|| {
            let entries: usize = batch
                .documents
                .iter()
                .map(|(_, body)| {
                    feed_rs::parser::parse(body.as_slice())
                        .unwrap()
                        .entries
                        .len()
                })
                .sum();
            black_box(entries)
        });
    });
    group.bench_function("parse", |bencher| {
        bencher.iter(|| {
            let entries: usize = batch
                .documents
                .iter()
                .map(|(url, body)| parse(body, None, url.as_str()).unwrap().feed.entries.len())
                .sum();
            black_box(entries)
        });
    });
    group.bench_function("parse + normalize", |bencher| {
        bencher.iter(|| {
            let items: usize = batch
                .documents
                .iter()
                .map(|(url, body)| {
                    let parsed = parse(body, None, url.as_str()).unwrap();
                    normalize(&parsed, url).1.len()
                })
                .sum();
            black_box(items)
        });
    });
    // The parsing side of a cold poll as the pipeline runs it (`process_document`): the
    // pre-scan, then parse and normalize of the whole document, nothing known yet.
    let nothing_known = HashMap::new();
    group.bench_function("rawskip read alone, new items", |bencher| {
        bencher.iter(|| {
            let read: usize = batch
                .documents
                .iter()
                .map(|(url, body)| {
                    let read =
                        rawskip::read(body, Some("application/rss+xml"), url, &nothing_known)
                            .unwrap();
                    read.items.len()
                })
                .sum();
            assert_eq!(read, FEEDS * ITEMS);
        });
    });
    group.bench_function("new items", |bencher| {
        bencher.iter_batched(
            || {
                let directory = tempfile::tempdir().unwrap();
                let (store, ids) = fresh_store(directory.path(), &batch);
                (directory, store, ids)
            },
            |(directory, store, ids)| {
                let stored = ingest(&store, &batch, &ids);
                assert_eq!(stored, FEEDS * ITEMS);
                (directory, store)
            },
            BatchSize::PerIteration,
        );
    });
    let directory = tempfile::tempdir().unwrap();
    let (store, ids) = fresh_store(directory.path(), &batch);
    ingest(&store, &batch, &ids);
    group.bench_function("known items, whole parse", |bencher| {
        bencher.iter(|| black_box(ingest(&store, &batch, &ids)));
    });
    drop(store);

    // The raw-skipping re-polls start from a store that read the first documents through
    // `repoll` (so it holds their raw hashes).
    let template = tempfile::tempdir().unwrap();
    let (store, ids) = fresh_store(template.path(), &batch);
    assert_eq!(
        repoll(&store, &batch.documents, &batch.topics, &ids),
        FEEDS * ITEMS
    );
    let rebuilt = |first: usize| -> Vec<(Url, Vec<u8>)> {
        batch
            .documents
            .iter()
            .enumerate()
            .map(|(feed, (url, _))| {
                let body = document_of(feed, first, "Mon, 13 Jan 2025 09:00:00 +0000");
                (url.clone(), body.into_bytes())
            })
            .collect()
    };
    let one_new = rebuilt(1);
    store.checkpoint().unwrap();
    drop(store);
    group.bench_function("known items, one new per document", |bencher| {
        bencher.iter_batched(
            || {
                let directory = tempfile::tempdir().unwrap();
                std::fs::copy(
                    template.path().join("tidings.db"),
                    directory.path().join("tidings.db"),
                )
                .unwrap();
                let store = Store::open(directory.path()).unwrap();
                (directory, store)
            },
            |(directory, store)| {
                let accounted = repoll(&store, &one_new, &batch.topics, &ids);
                assert_eq!(accounted, FEEDS * ITEMS);
                (directory, store)
            },
            BatchSize::PerIteration,
        );
    });
    let same_items = rebuilt(0);
    let store = Store::open(template.path()).unwrap();
    group.bench_function("known items, same items", |bencher| {
        bencher.iter(|| {
            let accounted = repoll(&store, &same_items, &batch.topics, &ids);
            assert_eq!(accounted, FEEDS * ITEMS);
        });
    });
    // Without the store: the body hash and `rawskip::read` alone, with each feed's raw hashes
    // already in memory (what the parsing side costs; the rest of a re-poll is SQLite).
    let known: Vec<_> = ids.iter().map(|id| store.raw_items(*id).unwrap()).collect();
    group.bench_function("rawskip read alone, same items", |bencher| {
        bencher.iter(|| {
            let left_out: usize = same_items
                .iter()
                .zip(&known)
                .map(|((url, body), known)| {
                    black_box(Sha256::digest(body));
                    let read =
                        rawskip::read(body, Some("application/rss+xml"), url, known).unwrap();
                    read.raw.skipped.len()
                })
                .sum();
            assert_eq!(left_out, FEEDS * ITEMS);
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
