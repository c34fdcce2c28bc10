//! The topic engine's speed: compiling 2,000 terms over 50 topics, and matching a realistic
//! multilingual text mix (every item of `../shared/corpus`, plus the labelled headlines of
//! `../shared/topics-dev.tsv` and `tests/fixtures/topics-extra.tsv`) against them, beside a
//! naive baseline that lower-cases each item and runs `str::contains` once per term.
//!
//! The terms are words, word pairs, prefixes and CJK runs drawn from the same text (folded,
//! skipping the most frequent words), so they hit about as often as real topic terms do.
//! Run: `cargo bench --bench topics`; figures are in docs/PERFORMANCE.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tidings::config;
use tidings::normalize::normalize;
use tidings::parse::parse;
use tidings::topics::{ItemText, TopicSet, fold};

const TOPICS: usize = 50;
const TERMS_PER_TOPIC: usize = 40;

fn shared_dir() -> PathBuf {
    std::env::var_os("TIDINGS_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    )
}

/// Every item of the corpus as `match_text`, then the labelled headlines.
fn text_mix() -> Vec<String> {
    let shared = shared_dir();
    let manifest = std::fs::read_to_string(shared.join("corpus/MANIFEST.tsv"))
        .unwrap_or_else(|error| panic!("{}: {error}", shared.display()));
    let mut texts = Vec::new();
    for file in manifest
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next())
    {
        let Ok(body) = std::fs::read(shared.join("corpus").join(file)) else {
            continue;
        };
        let Ok(feed_url) = url::Url::parse(&format!("https://corpus.example/{file}")) else {
            continue;
        };
        let Ok(parsed) = parse(&body, None, feed_url.as_str()) else {
            continue;
        };
        let (_, items) = normalize(&parsed, &feed_url);
        texts.extend(items.into_iter().map(|item| item.match_text));
    }
    let extra = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/topics-extra.tsv");
    for table in [shared.join("topics-dev.tsv"), extra] {
        let Ok(table) = std::fs::read_to_string(&table) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let columns: Vec<&str> = line.split('\t').collect();
            if let [_, _, title, summary, ..] = columns[..] {
                texts.push(format!("{title}\n{summary}\n"));
            }
        }
    }
    texts
}

/// 2,000 terms drawn from the text: words of middling frequency, some as `word*`, some as
/// two-word phrases, and two- or three-character CJK runs.
fn terms(texts: &[String]) -> Vec<String> {
    let mut words: HashMap<String, usize> = HashMap::new();
    let mut pairs: HashMap<String, usize> = HashMap::new();
    let mut cjk: HashMap<String, usize> = HashMap::new();
    for text in texts {
        let folded = fold(text);
        let list: Vec<&str> = folded.split(' ').collect();
        for (index, word) in list.iter().enumerate() {
            let characters: Vec<char> = word.chars().collect();
            if characters
                .iter()
                .any(|character| *character as u32 >= 0x3000)
            {
                for window in characters.windows(3).chain(characters.windows(2)) {
                    *cjk.entry(window.iter().collect()).or_default() += 1;
                }
                continue;
            }
            if characters.len() < 4 || characters.iter().all(char::is_ascii_digit) {
                continue;
            }
            *words.entry((*word).to_string()).or_default() += 1;
            if let Some(next) = list.get(index + 1).filter(|next| next.len() > 3) {
                *pairs.entry(format!("{word} {next}")).or_default() += 1;
            }
        }
    }
    let by_frequency = |map: HashMap<String, usize>, skip: usize, take: usize| {
        let mut list: Vec<(String, usize)> = map.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.into_iter()
            .skip(skip)
            .take(take)
            .map(|(term, _)| term)
            .collect::<Vec<_>>()
    };
    let total = TOPICS * TERMS_PER_TOPIC;
    let mut terms = Vec::with_capacity(total);
    terms.extend(by_frequency(words.clone(), 300, total * 55 / 100));
    terms.extend(
        by_frequency(words, 300 + total * 55 / 100, total * 20 / 100)
            .into_iter()
            .map(|word| {
                format!(
                    "{}*",
                    &word[..word.char_indices().nth(4).map_or(word.len(), |(at, _)| at)]
                )
            }),
    );
    terms.extend(by_frequency(pairs, 100, total * 15 / 100));
    terms.extend(by_frequency(cjk, 50, total - terms.len()));
    terms.truncate(total);
    assert_eq!(
        terms.len(),
        total,
        "the text mix is too small for {total} terms"
    );
    terms
}

/// A config with the terms spread over the topics (each also gets a `none` term).
fn config_text(terms: &[String]) -> String {
    let mut text = String::from("[[feeds]]\nurl = \"https://bench.example/\"\n");
    for (topic, chunk) in terms.chunks(TERMS_PER_TOPIC).enumerate() {
        let quoted: Vec<String> = chunk.iter().map(|term| format!("{term:?}")).collect();
        let (any, none) = quoted.split_at(quoted.len() - 1);
        text.push_str(&format!(
            "[[topics]]\nname = \"t{topic}\"\nany = [{}]\nnone = [{}]\n",
            any.join(", "),
            none.join(", ")
        ));
    }
    text
}

fn benchmarks(criterion: &mut Criterion) {
    let texts = text_mix();
    let bytes: usize = texts.iter().map(String::len).sum();
    let non_ascii = texts.iter().filter(|text| !text.is_ascii()).count();
    let terms = terms(&texts);
    eprintln!(
        "text mix: {} items, {bytes} bytes, {non_ascii} items with non-ASCII text; {} terms",
        texts.len(),
        terms.len()
    );
    let config = config::parse(Path::new("bench.toml"), &config_text(&terms))
        .unwrap_or_else(|error| panic!("{error}"));
    let shipped = config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml"))
        .unwrap_or_else(|error| panic!("{error}"));

    let mut compile = criterion.benchmark_group("compile");
    compile.bench_function("2000 terms, 50 topics", |bench| {
        bench.iter(|| TopicSet::compile(&config.topics));
    });
    compile.finish();

    let set = TopicSet::compile(&config.topics);
    let shipped_set = TopicSet::compile(&shipped.topics);
    let lowered_terms: Vec<String> = terms
        .iter()
        .map(|term| term.trim_end_matches('*').to_lowercase())
        .collect();
    let mut matching = criterion.benchmark_group("match");
    matching.throughput(Throughput::Bytes(bytes as u64));
    matching.sample_size(20);
    matching.bench_function(BenchmarkId::new("engine", "2000 terms"), |bench| {
        bench.iter(|| {
            texts
                .iter()
                .map(|text| set.match_item(&ItemText::from_match_text(text), None).len())
                .sum::<usize>()
        });
    });
    matching.bench_function(BenchmarkId::new("engine", "shipped topics"), |bench| {
        bench.iter(|| {
            texts
                .iter()
                .map(|text| shipped_set.match_text(text).len())
                .sum::<usize>()
        });
    });
    matching.bench_function(BenchmarkId::new("naive contains", "2000 terms"), |bench| {
        bench.iter(|| {
            texts
                .iter()
                .map(|text| {
                    let lowered = text.to_lowercase();
                    lowered_terms
                        .chunks(TERMS_PER_TOPIC)
                        .filter(|topic| topic.iter().any(|term| lowered.contains(term.as_str())))
                        .count()
                })
                .sum::<usize>()
        });
    });
    matching.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
