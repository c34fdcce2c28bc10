//! Criterion benchmark: the whole ingest of a large batch through the crate's public API, as
//! `pipeline::poll_feed` does it after the download: parse, normalize, clamp dates, look up
//! what the store holds (`item_hashes`), match the shipped topics, and store with
//! `record_polls` in one group commit, into a SQLite file (WAL, synchronous=FULL) on disk.
//!
//! - `new items`: 100 feeds × 200 items = 20,000 items into an empty store;
//! - `known items`: the same documents again into a store that holds them all (the bytes are
//!   parsed again, as when a feed's build date changed; the store skips unchanged items by
//!   their content hash).
//!
//! `cargo bench --bench ingest`. Items per second = 20,000 / the time per iteration.

// A benchmark stops with a panic when its setup fails.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;

use chrono::Utc;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tidings::config;
use tidings::normalize::{clamp_dates, normalize};
use tidings::parse::parse;
use tidings::store::{FetchState, FetchedItems, PollRecord, Store};
use tidings::topics::TopicSet;
use url::Url;

const FEEDS: usize = 100;
const ITEMS: usize = 200;

const SUBJECTS: &[&str] = &[
    "North Korea fires ballistic missile into the sea",
    "Ukraine says drones hit a refinery overnight",
    "Central bank keeps interest rates on hold",
    "Storm cuts power to thousands on the coast",
    "Parliament passes the budget after a long debate",
    "Kyiv and Moscow trade prisoners of war",
    "Pyongyang tests a new cruise missile, Seoul says",
    "Local team wins the cup after extra time",
];

/// One realistic RSS document: 200 items with guid, link, date, a title and a paragraph.
fn document(feed: usize) -> String {
    let mut rss = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Outlet {feed}</title><link>https://outlet{feed}.example/</link>\
         <description>News from outlet {feed}</description>"
    );
    for item in 0..ITEMS {
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

fn fresh_store(directory: &Path, batch: &Batch) -> (Store, Vec<tidings::model::FeedId>) {
    let store = Store::open(directory).unwrap();
    let urls: Vec<(&str, Option<&str>)> = batch
        .documents
        .iter()
        .map(|(url, _)| (url.as_str(), None))
        .collect();
    let ids = store
        .sync_feeds(&urls)
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    (store, ids)
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
    group.bench_function("known items", |bencher| {
        bencher.iter(|| black_box(ingest(&store, &batch, &ids)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
