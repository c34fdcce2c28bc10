//! Criterion benchmark: parse + normalize (item keys and content hashes included) of every
//! document of `../shared/corpus`, next to feed-rs alone on the same bytes (the baseline).
//!
//! `cargo bench --bench parse_corpus`. The corpus is found like the tests find it:
//! `TIDINGS_SHARED_DIR`, else `../shared` beside the repository.

// A benchmark stops with a panic when its setup fails.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tidings::normalize::normalize;
use tidings::parse::parse;
use url::Url;

fn corpus() -> Vec<(Url, Vec<u8>)> {
    let shared = std::env::var_os("TIDINGS_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    );
    let corpus = shared.join("corpus");
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv"))
        .unwrap_or_else(|error| panic!("{}: {error}", corpus.display()));
    manifest
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next())
        .map(|file| {
            let url = Url::parse(&format!("https://corpus.example/{file}")).unwrap();
            (url, std::fs::read(corpus.join(file)).unwrap())
        })
        .collect()
}

fn bench(criterion: &mut Criterion) {
    let documents = corpus();
    let bytes: usize = documents.iter().map(|(_, body)| body.len()).sum();
    let mut group = criterion.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    // quick-xml panics on a few documents of the corpus; feed-rs alone is fenced the way
    // tidings fences it, and the panic messages are silenced.
    std::panic::set_hook(Box::new(|_| {}));
    group.bench_function("feed-rs alone", |bencher| {
        bencher.iter(|| {
            let mut entries = 0;
            for (_, body) in &documents {
                let parsed = std::panic::catch_unwind(|| feed_rs::parser::parse(body.as_slice()));
                if let Ok(Ok(feed)) = parsed {
                    entries += feed.entries.len();
                }
            }
            black_box(entries)
        });
    });
    group.bench_function("tidings parse + normalize", |bencher| {
        bencher.iter(|| {
            let mut items = 0;
            for (url, body) in &documents {
                if let Ok(parsed) = parse(body, None, url.as_str()) {
                    items += normalize(&parsed, url).1.len();
                }
            }
            black_box(items)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
