//! The topic engine's speed: compiling 2,000 terms over 50 topics, and matching a realistic
//! multilingual text mix (every item of `../shared/corpus`, plus the labelled headlines of
//! `../shared/topics-dev.tsv` and `tests/fixtures/topics-extra.tsv`) against them, beside a
//! naive baseline that lower-cases each item and runs `str::contains` once per term.
//!
//! The terms are words, word pairs, prefixes and CJK runs drawn from the same text (folded,
//! skipping the most frequent words), so they hit about as often as real topic terms do. A
//! prefix term is a word less its last two letters, at least five kept (`ukrai*`, as real
//! stems are); the first version of this benchmark cut every prefix to four letters (`stat*`,
//! `comp*`), which hit nearly every item, and is kept beside it for comparison.
//!
//! Those terms are adversarial rather than realistic: they are the 300th to 1,800th most
//! frequent words of the very text scanned, so nearly every word of it starts some literal.
//! Real topics name people, places and agencies. A second set, `2000 names`, is built that
//! way from the same text (see `name_terms`: words the text capitalises inside sentences,
//! their stems, two-name phrases and CJK runs), and both sets are measured.
//!
//! Matching is measured twice: in wall-clock time (criterion's default), and in the CPU time
//! of the benchmark's thread (`match-cpu`), which is the time on one core even when the
//! machine is shared and the thread waits for a core.
//! Run: `cargo bench --bench topics`; figures are in docs/PERFORMANCE.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
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

/// How many characters of a word a prefix term keeps: the word less its last two letters, at
/// least five (or the whole word when it is shorter).
fn stem(characters: usize) -> usize {
    characters.saturating_sub(2).max(5)
}

/// What the first version kept: four characters, whatever the word.
fn four_letters(_: usize) -> usize {
    4
}

/// 2,000 terms drawn from the text: words of middling frequency, some as `word*` (as long as
/// `prefix` says), some as two-word phrases, and two- or three-character CJK runs.
fn terms(texts: &[String], prefix: fn(usize) -> usize) -> Vec<String> {
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
                let keep = prefix(word.chars().count());
                format!(
                    "{}*",
                    &word[..word
                        .char_indices()
                        .nth(keep)
                        .map_or(word.len(), |(at, _)| at)]
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

/// 2,000 terms as real topics write them: names. A name is a word that the summaries and
/// contents write with a capital letter inside a sentence (not after `.`, `!`, `?`, `:` or at
/// the start of a field), and capitalised in at least four of five of their uses there
/// (titles are left out: many feeds write them in Title Case): people, places, agencies, parties, companies. The terms are
/// names of middling frequency (skipping the most frequent), in the shares of `terms`: 55 %
/// names, 20 % stems of longer names as `word*` (`ukrai*`), 15 % two names in a row
/// ("North Korea", "Jong Un"), 10 % CJK runs (where the text has no case, as above).
fn name_terms(texts: &[String]) -> Vec<String> {
    // Per folded word: uses, capitalised uses, capitalised uses inside a sentence.
    let mut counts: HashMap<String, (usize, usize, usize)> = HashMap::new();
    let mut pairs: HashMap<String, usize> = HashMap::new();
    let mut cjk: HashMap<String, usize> = HashMap::new();
    for text in texts {
        // Not the title: many English feeds write titles in Title Case.
        for line in text.lines().skip(1) {
            let mut sentence_start = true;
            let mut last_name: Option<String> = None;
            for raw in line.split_whitespace() {
                let word = raw.trim_matches(|character: char| !character.is_alphanumeric());
                let ends_sentence = raw.ends_with(['.', '!', '?', ':']);
                let characters: Vec<char> = word.chars().collect();
                if characters
                    .iter()
                    .any(|character| *character as u32 >= 0x3000)
                {
                    for part in fold(word).split(' ') {
                        let part: Vec<char> = part.chars().collect();
                        if part.iter().any(|character| (*character as u32) < 0x3000) {
                            continue;
                        }
                        for window in part.windows(3).chain(part.windows(2)) {
                            *cjk.entry(window.iter().collect()).or_default() += 1;
                        }
                    }
                    (sentence_start, last_name) = (ends_sentence, None);
                    continue;
                }
                let folded = fold(word);
                if characters.len() < 3
                    || folded.contains(' ')
                    || !characters.iter().all(|character| character.is_alphabetic())
                {
                    (sentence_start, last_name) = (ends_sentence, None);
                    continue;
                }
                let capital = characters[0].is_uppercase();
                let entry = counts.entry(folded.clone()).or_default();
                entry.0 += 1;
                if capital {
                    entry.1 += 1;
                    if !sentence_start {
                        entry.2 += 1;
                    }
                }
                if capital && !sentence_start {
                    if let Some(previous) = &last_name {
                        *pairs.entry(format!("{previous} {folded}")).or_default() += 1;
                    }
                    last_name = Some(folded);
                } else {
                    last_name = None;
                }
                sentence_start = ends_sentence;
                if ends_sentence || raw.ends_with(',') {
                    last_name = None;
                }
            }
        }
    }
    let is_name = |(uses, capitalised, inside): (usize, usize, usize)| {
        inside >= 2 && capitalised * 5 >= uses * 4
    };
    let names: HashMap<String, usize> = counts
        .iter()
        .filter(|(_, counts)| is_name(**counts))
        .map(|(word, counts)| (word.clone(), counts.0))
        .collect();
    let pairs: HashMap<String, usize> = pairs
        .into_iter()
        .filter(|(pair, uses)| {
            *uses >= 2
                && pair
                    .split(' ')
                    .all(|word| counts.get(word).copied().is_some_and(is_name))
        })
        .collect();
    let by_frequency = |map: &HashMap<String, usize>, skip: usize, take: usize| {
        let mut list: Vec<(&String, &usize)> = map.iter().collect();
        list.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        list.into_iter()
            .skip(skip)
            .take(take)
            .map(|(term, _)| term.clone())
            .collect::<Vec<_>>()
    };
    let total = TOPICS * TERMS_PER_TOPIC;
    let mut terms = Vec::with_capacity(total);
    terms.extend(by_frequency(&names, 20, total * 55 / 100));
    let long_names: HashMap<String, usize> = names
        .iter()
        .filter(|(name, _)| name.chars().count() >= 7 && !terms.contains(*name))
        .map(|(name, uses)| (name.clone(), *uses))
        .collect();
    terms.extend(
        by_frequency(&long_names, 0, total * 20 / 100)
            .into_iter()
            .map(|name| {
                let keep = stem(name.chars().count());
                format!(
                    "{}*",
                    &name[..name
                        .char_indices()
                        .nth(keep)
                        .map_or(name.len(), |(at, _)| at)]
                )
            }),
    );
    terms.extend(by_frequency(&pairs, 5, total * 15 / 100));
    terms.extend(by_frequency(&cjk, 50, total - terms.len()));
    terms.truncate(total);
    assert_eq!(
        terms.len(),
        total,
        "the text mix has too few names for {total} terms"
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

/// The CPU time of the calling thread: time on one core, whatever else the machine runs.
struct CpuTime;

fn thread_cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or_default(),
        u32::try_from(now.tv_nsec).unwrap_or_default(),
    )
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, first: &Duration, second: &Duration) -> Duration {
        *first + *second
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall-clock time.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

/// What every benchmark needs, built once.
struct Setup {
    texts: Vec<String>,
    bytes: usize,
    terms: Vec<String>,
    names: Vec<String>,
    config: config::Config,
    set: TopicSet,
    names_set: TopicSet,
    four_letter_set: TopicSet,
    shipped_set: TopicSet,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let texts = text_mix();
        let bytes: usize = texts.iter().map(String::len).sum();
        let non_ascii = texts.iter().filter(|text| !text.is_ascii()).count();
        let terms = terms(&texts, stem);
        let names = name_terms(&texts);
        eprintln!(
            "text mix: {} items, {bytes} bytes, {non_ascii} items with non-ASCII text; {} terms",
            texts.len(),
            terms.len()
        );
        eprintln!(
            "names: {} ... {}",
            names[..12].join(", "),
            names[names.len() - 8..].join(", ")
        );
        let names_config = config::parse(Path::new("bench.toml"), &config_text(&names))
            .unwrap_or_else(|error| panic!("{error}"));
        let config = config::parse(Path::new("bench.toml"), &config_text(&terms))
            .unwrap_or_else(|error| panic!("{error}"));
        let four_letter = config::parse(
            Path::new("bench.toml"),
            &config_text(&self::terms(&texts, four_letters)),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let shipped = config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml"))
            .unwrap_or_else(|error| panic!("{error}"));
        Setup {
            set: TopicSet::compile(&config.topics),
            names_set: TopicSet::compile(&names_config.topics),
            four_letter_set: TopicSet::compile(&four_letter.topics),
            shipped_set: TopicSet::compile(&shipped.topics),
            texts,
            bytes,
            terms,
            names,
            config,
        }
    })
}

fn compile(criterion: &mut Criterion) {
    let setup = setup();
    let mut compile = criterion.benchmark_group("compile");
    compile.bench_function("2000 terms, 50 topics", |bench| {
        bench.iter(|| TopicSet::compile(&setup.config.topics));
    });
    compile.finish();
}

/// Matching the text mix, measured by `M` (wall-clock or CPU time).
fn matching<M: Measurement>(criterion: &mut Criterion<M>, group: &str) {
    let setup = setup();
    let texts = &setup.texts;
    let lowered = |terms: &[String]| -> Vec<String> {
        terms
            .iter()
            .map(|term| term.trim_end_matches('*').to_lowercase())
            .collect()
    };
    let mut matching = criterion.benchmark_group(group);
    matching.throughput(Throughput::Bytes(setup.bytes as u64));
    matching.sample_size(20);
    for (name, set) in [
        ("2000 terms", &setup.set),
        ("2000 terms, 4-letter prefixes", &setup.four_letter_set),
        ("2000 names", &setup.names_set),
        ("shipped topics", &setup.shipped_set),
    ] {
        matching.bench_function(BenchmarkId::new("engine", name), |bench| {
            bench.iter(|| {
                texts
                    .iter()
                    .map(|text| set.match_item(&ItemText::from_match_text(text), None).len())
                    .sum::<usize>()
            });
        });
    }
    // Folding alone (what every set pays before its table is read), for where the time goes.
    matching.bench_function(BenchmarkId::new("fold only", "text mix"), |bench| {
        bench.iter(|| texts.iter().map(|text| fold(text).len()).sum::<usize>());
    });
    for (name, terms) in [("2000 terms", &setup.terms), ("2000 names", &setup.names)] {
        let lowered_terms = lowered(terms);
        matching.bench_function(BenchmarkId::new("naive contains", name), |bench| {
            bench.iter(|| {
                texts
                    .iter()
                    .map(|text| {
                        let lowered = text.to_lowercase();
                        lowered_terms
                            .chunks(TERMS_PER_TOPIC)
                            .filter(|topic| {
                                topic.iter().any(|term| lowered.contains(term.as_str()))
                            })
                            .count()
                    })
                    .sum::<usize>()
            });
        });
    }
    matching.finish();
}

fn wall_clock(criterion: &mut Criterion) {
    compile(criterion);
    matching(criterion, "match");
}

fn cpu_time(criterion: &mut Criterion<CpuTime>) {
    matching(criterion, "match-cpu");
}

criterion_group!(wall, wall_clock);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu_time
}
criterion_main!(wall, cpu);
