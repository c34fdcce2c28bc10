//! Criterion benchmark: the parsing threads' whole part of a cold poll, as
//! `pipeline::process_document` does it for a feed whose store holds nothing yet: the
//! pre-scan, parse and normalize of the whole document, the stored content hashes looked up,
//! comparison keys (story sketch, canonical link) and topic matches. The documents are shaped
//! like those of `benches/poll_scale.py` (its feed server's RSS): 20 items, each with a few
//! paragraphs of HTML in `<description>` (CDATA or escaped) and the same again, with the
//! title, in `<content:encoded>`; 100 documents, 2,000 items, about 3 MB.
//!
//! `cargo bench --bench cold_read`. With `COLD_READ_PASSES=N` in the environment the binary
//! makes N passes without criterion and exits, for `valgrind --tool=callgrind` (instruction
//! counts that do not depend on the machine's load):
//!
//! ```sh
//! COLD_READ_PASSES=3 valgrind --tool=callgrind target/release/deps/cold_read-<hash>
//! ```

// A benchmark stops with a panic when its setup fails.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use criterion::{Criterion, Throughput};
use tidings::config;
use tidings::model::FeedId;
use tidings::pipeline::process_document;
use tidings::store::Store;
use tidings::topics::TopicSet;
use url::Url;

#[path = "support/synthetic.rs"]
mod synthetic;
use synthetic::SUBJECTS;

const FEEDS: usize = 100;
const ITEMS: usize = 20;

/// Sentences of the paragraphs, some with characters beyond ASCII.
const SENTENCES: &[&str] = &[
    "Officials said on Monday that the situation was being watched closely.",
    "More details would follow later in the day, a spokesperson added.",
    "Analysts &amp; diplomats in the region urged calm after the talks in Genève.",
    "The opposition criticised the decision sharply, calling it « une erreur ».",
    "Myndigheterna uppmanar allmänheten att följa utvecklingen i Göteborg.",
    "Власти призвали жителей Києва сохранять спокойствие.",
    "Read more in our background article on the subject.",
    "The announcement came during Tuesday's press conference — 71 minutes late.",
];

/// One document of `feed`: 20 items, newest first.
fn document(feed: usize) -> String {
    let mut rss = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel>\n\
         <title>Outlet {feed}</title>\n<link>https://outlet{feed}.example/</link>\n\
         <description>News from outlet {feed}</description>\n<ttl>15</ttl>\n"
    );
    for item in (0..ITEMS).rev() {
        let subject = SUBJECTS[(feed * 7 + item) % SUBJECTS.len()];
        let title = format!(
            "{subject}: {} minutes late ({feed}-{item})",
            2 + item * 13 % 400
        );
        let link = format!("https://outlet{feed}.example/news/{item}.html");
        let mut html = format!("<p><strong>{title}</strong>. ");
        for paragraph in 0..3 + item % 2 {
            if paragraph > 0 {
                html.push_str("<p>");
            }
            for sentence in 0..3 {
                html.push_str(
                    SENTENCES[(feed + item * 3 + paragraph * 5 + sentence) % SENTENCES.len()],
                );
                html.push(' ');
            }
            if paragraph == 1 {
                html.push_str(&format!("<a href=\"{link}#more\">&#8594;</a>"));
            }
            html.push_str("</p>");
        }
        let description = if feed.is_multiple_of(2) {
            format!("<![CDATA[{html}]]>")
        } else {
            html.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        rss.push_str(&format!(
            "<item>\n<title>{title}</title>\n<link>{link}</link>\n\
             <guid isPermaLink=\"false\">tag:outlet{feed}.example,2025:{item}</guid>\n\
             <pubDate>Mon, 13 Jan 2025 {:02}:{:02}:00 +0000</pubDate>\n\
             <dc:creator>Anna Lindqvist</dc:creator>\n<category>World</category>\n\
             <description>{description}</description>\n\
             <content:encoded><![CDATA[{html}<p>{title}</p>]]></content:encoded>\n</item>\n",
            item % 24,
            item % 60
        ));
    }
    rss.push_str("</channel>\n</rss>\n");
    rss
}

struct Setup {
    documents: Vec<(Url, Vec<u8>)>,
    topics: TopicSet,
    store: Store,
    ids: Vec<FeedId>,
    _directory: tempfile::TempDir,
}

fn setup() -> Setup {
    let shipped = config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/feeds.toml"
    )))
    .unwrap();
    let documents: Vec<(Url, Vec<u8>)> = (0..FEEDS)
        .map(|feed| {
            let url = Url::parse(&format!("https://outlet{feed}.example/rss.xml")).unwrap();
            (url, document(feed).into_bytes())
        })
        .collect();
    let directory = tempfile::tempdir().unwrap();
    let (store, ids) = synthetic::store_with_feeds(directory.path(), &documents);
    Setup {
        documents,
        topics: TopicSet::compile(&shipped.topics),
        store,
        ids,
        _directory: directory,
    }
}

/// One cold read of every document; the number of items read.
fn pass(setup: &Setup) -> usize {
    let now = Utc::now();
    let nothing_known = HashMap::new();
    setup
        .documents
        .iter()
        .zip(&setup.ids)
        .map(|((url, body), id)| {
            let read = process_document(
                &setup.store,
                &setup.topics,
                *id,
                body,
                Some("application/rss+xml"),
                url,
                &nothing_known,
                now,
            )
            .unwrap();
            read.items.len()
        })
        .sum()
}

fn main() {
    let setup = setup();
    if let Some(passes) = std::env::var_os("COLD_READ_PASSES") {
        let passes: usize = passes.to_str().unwrap().parse().unwrap();
        for _ in 0..passes {
            assert_eq!(pass(&setup), FEEDS * ITEMS);
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("cold_read");
    group.throughput(Throughput::Elements((FEEDS * ITEMS) as u64));
    group.sample_size(20);
    group.bench_function("process_document, rich documents", |bencher| {
        bencher.iter(|| assert_eq!(pass(&setup), FEEDS * ITEMS));
    });
    group.finish();
    criterion.final_summary();
}
