//! Stories: telling when two items from different outlets are the same story (one wire report,
//! lightly edited title and lead), cheaply enough to run on every poll.
//!
//! Owns the similarity measure and its thresholds. Pure: values in, values out; the store
//! keeps the index (`story_bands`) and asks `same_story` to confirm a candidate.
//!
//! # The measure
//!
//! An item's *story text* is its title and lead (the summary, else the content), folded as
//! topics fold text (`topics::fold`: NFKC, lower case, accents dropped, punctuation to
//! spaces), cut to its first `LEAD_WORDS` words. Han, Kana and Hangul runs, written without
//! spaces, count each character as a word. The text becomes a set of word 3-shingles (each run
//! of three consecutive words).
//!
//! Two items are one story when their shingle sets overlap enough, measured exactly:
//! Jaccard similarity `|A∩B| / |A∪B|` at least `MIN_JACCARD`, or containment
//! `|A∩B| / min(|A|,|B|)` at least `MIN_CONTAINMENT` (an outlet that runs only the lead of a
//! longer wire copy). Two guards put precision first:
//!
//! - too little text decides nothing: an item with fewer than `MIN_SHINGLES` shingles (a bare
//!   headline) is never grouped, since "North Korea fires ballistic missile" on Monday and on
//!   Wednesday are two stories that a title alone cannot tell apart;
//! - numbers must agree: when both texts hold numbers (dates, counts, casualties) and neither
//!   set of numbers contains the other, they are different reports, as two daily tallies of
//!   drones shot down are, however alike their wording.
//!
//! Shingles of three words rather than single words: routine reports and same-topic stories
//! share most of their vocabulary ("missile", "launched", "Japan's coast guard said") but few
//! three-word runs, while a light edit (a word changed, a clause added) breaks only the
//! three shingles around it.
//!
//! # Finding candidates: MinHash with LSH banding
//!
//! Comparing a new item with every item of the last 72 hours would cost a read per item.
//! Instead each item gets a MinHash signature of `BANDS × ROWS` values (the minimum of a
//! seeded hash over its shingles, one seed per value: two sets agree on a value with
//! probability equal to their Jaccard similarity), cut into `BANDS` bands of `ROWS` values;
//! each band is hashed to one number. The store indexes these band hashes with the item's
//! time; a new item's candidates are the items within the window that share at least one band
//! hash, and only those are confirmed with the exact measure above. With 10 bands of 2 rows a
//! pair of Jaccard 0.5 shares a band with probability 1 − (1 − 0.5²)¹⁰ ≈ 0.94, one of Jaccard
//! 0.3 with ≈ 0.61, and one of 0.1 with ≈ 0.1; most pairs of items share no shingle at all
//! and are never offered (on the corpus, 123 of 743,564 pairs share a band). Ten bands keep
//! the index at ten rows per item: each is a random-page B-tree insert, the main cost of
//! grouping at ingest. Three rows per band (20 bands) offered fewer false candidates but
//! missed more light edits and cost twice the index rows.
//!
//! SimHash was the alternative: one 64-bit fingerprint and a Hamming distance. It weighs the
//! shared vocabulary of same-topic stories too much and has no exact check behind it; MinHash
//! estimates the very Jaccard similarity that is then confirmed exactly.
//!
//! The hashes are written out here rather than taken from `std` or a crate, because the band
//! hashes are stored: they must not change with a Rust or crate release. A word is hashed
//! once (a multiply-rotate over eight bytes at a time), a shingle mixes its three words'
//! hashes with splitmix64, the MinHash values come from a multiply-add family (one
//! multiplication per shingle and value), and a band's values are hashed with FNV-1a.

use std::sync::Arc;

use crate::model::{StoryNumbers, StorySketch, StoryText};
use crate::topics::fold::{fold, is_cjk};

/// Items further apart than this in time are never one story.
pub const WINDOW_SECONDS: i64 = 72 * 3600;
/// How many words of title and lead make the story text.
pub const LEAD_WORDS: usize = 80;
/// Fewer shingles than this (about a dozen words) is too little text to decide on.
pub const MIN_SHINGLES: usize = 12;
/// Jaccard similarity of the shingle sets above which two items are one story.
pub const MIN_JACCARD: f64 = 0.45;
/// Containment of the smaller shingle set in the larger above which two items are one story.
pub const MIN_CONTAINMENT: f64 = 0.7;
/// LSH bands, and MinHash values per band.
pub const BANDS: usize = 10;
pub const ROWS: usize = 2;

/// The sketch of an item for story grouping, or `None` when it has too little text.
pub fn sketch(title: &str, lead: &str) -> Option<StorySketch> {
    let (words, hashes) = story_words(title, lead);
    sketch_of(words, hashes)
}

/// `sketch` of a title and lead that are folded already (`topics::fold`, as topic matching
/// folds an item's fields: `TopicSet::match_item_with_folded`): the same sketch, without
/// folding them again. Folding never joins what a space separates, so the folded words of
/// `title lead` are those of the title, then those of the lead.
pub fn sketch_folded(title: &str, lead: &str) -> Option<StorySketch> {
    let mut words = collect_words(
        title
            .split_ascii_whitespace()
            .chain(lead.split_ascii_whitespace()),
        title.len() + 1 + lead.len(),
    );
    // The story text keeps its room (the writer holds many): no more than its words need,
    // rather than the whole lead's (a shrink in place, no copy).
    words.text.shrink_to_fit();
    sketch_of(words.text, words.hashes)
}

fn sketch_of(words: String, hashes: WordHashes) -> Option<StorySketch> {
    let (shingles, text) = hashes.finish();
    if shingles.len() < MIN_SHINGLES {
        return None;
    }
    let bands = band_hashes(&shingles);
    Some(StorySketch {
        words,
        bands,
        text: Arc::new(text),
    })
}

/// The band hashes of a story text (`StorySketch::words`): the same as its sketch's, so the
/// store can find the index rows of an item from its stored text.
pub fn bands_of_words(words: &str) -> Vec<i64> {
    band_hashes(&WordHashes::of(words).finish().0)
}

/// Whether two sketches' story texts (`StorySketch::words`) are one story by the exact measure.
pub fn same_story(words_a: &str, words_b: &str) -> bool {
    StoryText::new(words_a).same_story(&StoryText::new(words_b))
}

/// The Jaccard similarity and containment of two story texts' shingle sets, or `None` when
/// the guards (too little text, numbers that disagree) rule them apart whatever the overlap.
pub fn similarity(words_a: &str, words_b: &str) -> Option<(f64, f64)> {
    StoryText::new(words_a).similarity(&StoryText::new(words_b))
}

/// A story text ready to compare: its shingles, sorted and distinct, and its numbers, sorted
/// and distinct, as hashes. Placing a new item compares it with a few candidates: it is
/// prepared once (by `sketch`, on the thread that read the item), and each comparison is a
/// merge of sorted lists.
///
/// Each word is hashed once (`word_hash`, eight bytes a step) and a shingle's 64-bit hash
/// mixes the hashes of its three words, about a third of the work of hashing every shingle's
/// bytes; the MinHash signature samples these (`band_hashes`). The text to compare keeps
/// their high 32 bits, half the memory for the writer's remembered texts: two different
/// shingles share them with a chance of one in 2³², so about one comparison in 700,000 of
/// two 80-word texts counts one shared shingle too many, which moves its Jaccard similarity
/// by about 1/150. The measure is exact in practice.
impl StoryText {
    /// Prepares a story text (`StorySketch::words`: folded words separated by spaces).
    pub fn new(words: &str) -> StoryText {
        WordHashes::of(words).finish().1
    }

    fn shingles(&self) -> &[u32] {
        let count = (self.shingles as usize).min(self.hashes.len());
        &self.hashes[..count]
    }

    fn numbers(&self) -> &[u32] {
        let count = (self.shingles as usize).min(self.hashes.len());
        &self.hashes[count..]
    }

    /// Its numbers, as the store's band index keeps them.
    pub fn kept_numbers(&self) -> StoryNumbers {
        let numbers = self.numbers();
        let mut hashes = [0; StoryNumbers::KEPT];
        match (hashes.get_mut(..numbers.len()), u8::try_from(numbers.len())) {
            (Some(room), Ok(count)) => {
                room.copy_from_slice(numbers);
                StoryNumbers { hashes, count }
            }
            _ => StoryNumbers::UNKNOWN,
        }
    }

    /// Whether this text's numbers and `other`'s (`kept_numbers` of another text) disagree:
    /// then the two are not one story (`similarity` tests the same). `false` when `other`'s
    /// are not known.
    pub fn numbers_rule_out(&self, other: StoryNumbers) -> bool {
        match other.hashes.get(..usize::from(other.count)) {
            Some(numbers) => !numbers_agree(self.numbers(), numbers),
            None => false,
        }
    }

    /// Whether this text and `other` are one story by the exact measure.
    pub fn same_story(&self, other: &StoryText) -> bool {
        self.similarity(other)
            .is_some_and(|(jaccard, containment)| {
                jaccard >= MIN_JACCARD || containment >= MIN_CONTAINMENT
            })
    }

    /// Jaccard similarity and containment with `other`, or `None` when the guards rule the
    /// two apart.
    pub fn similarity(&self, other: &StoryText) -> Option<(f64, f64)> {
        let (a, b) = (self.shingles(), other.shingles());
        if a.len() < MIN_SHINGLES || b.len() < MIN_SHINGLES {
            return None;
        }
        if !numbers_agree(self.numbers(), other.numbers()) {
            return None;
        }
        let shared = sorted_overlap(a, b) as f64;
        let union = (a.len() + b.len()) as f64 - shared;
        let smaller = a.len().min(b.len()) as f64;
        Some((shared / union, shared / smaller))
    }
}

/// How many values two sorted, distinct lists share.
fn sorted_overlap<T: Ord>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// Whether two sketches share a band (the index would offer one as the other's candidate) and
/// the exact measure confirms them: the whole grouping decision, short of time and source.
pub fn grouped(a: &StorySketch, b: &StorySketch) -> bool {
    a.bands.iter().any(|band| b.bands.contains(band)) && same_story(&a.words, &b.words)
}

/// The folded words of title and lead, at most `LEAD_WORDS` of them, separated by single
/// spaces, and the story text they make.
fn story_words(title: &str, lead: &str) -> (String, WordHashes) {
    // Folding never joins what white space separates, and it folds a text cut after a run of
    // non-white-space characters into the beginning of what it folds the whole text into. So
    // a long lead is folded only as far as its first words need: the first `LEAD_WORDS` runs,
    // more when some of those fold to nothing (punctuation alone).
    let mut runs = LEAD_WORDS;
    loop {
        let (part, whole) = first_runs(lead, runs);
        let words = folded_words(title, part);
        if words.count >= LEAD_WORDS || whole {
            return (words.text, words.hashes);
        }
        runs *= 2;
    }
}

/// The first `LEAD_WORDS` folded words of title and lead.
fn folded_words(title: &str, lead: &str) -> Words {
    let folded = fold(&format!("{title} {lead}"));
    collect_words(folded.split_ascii_whitespace(), folded.len())
}

/// The first `LEAD_WORDS` story words of folded words (`length`: about how many bytes they
/// hold).
fn collect_words<'a>(folded: impl Iterator<Item = &'a str>, length: usize) -> Words {
    let mut words = Words {
        text: String::with_capacity(length.min(LEAD_WORDS * 12)),
        count: 0,
        hashes: WordHashes::default(),
    };
    for word in folded {
        // CJK characters (from U+0E00 on) take three or four bytes, led by 0xE0 or more.
        if word.bytes().any(|byte| byte >= 0xE0) && word.chars().any(is_cjk) {
            // A CJK run counts each character as a word.
            for (at, character) in word.char_indices() {
                if !words.push(&word[at..at + character.len_utf8()]) {
                    return words;
                }
            }
        } else if !words.push(word) {
            return words;
        }
    }
    words
}

/// Story words being collected, with their hashes.
struct Words {
    text: String,
    count: usize,
    hashes: WordHashes,
}

impl Words {
    /// Adds a word; `false` when there are `LEAD_WORDS` already.
    fn push(&mut self, word: &str) -> bool {
        if self.count == LEAD_WORDS {
            return false;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(word);
        self.count += 1;
        self.hashes.push(word);
        true
    }
}

/// The word hashes of a story text being read, and those of its numbers.
#[derive(Default)]
struct WordHashes {
    words: Vec<u64>,
    numbers: Vec<u64>,
}

impl WordHashes {
    /// The hashes of a story text's words (`StorySketch::words`).
    fn of(words: &str) -> WordHashes {
        let mut hashes = WordHashes::default();
        for word in words.split_ascii_whitespace() {
            hashes.push(word);
        }
        hashes
    }

    fn push(&mut self, word: &str) {
        let hash = word_hash(word.as_bytes());
        if word.bytes().any(|byte| byte.is_ascii_digit()) {
            self.numbers.push(hash);
        }
        self.words.push(hash);
    }

    /// The 64-bit shingle hashes, sorted and distinct, and the text to compare.
    fn finish(self) -> (Vec<u64>, StoryText) {
        let WordHashes { words, numbers } = self;
        let mut shingles: Vec<u64> = words
            .windows(3)
            .map(|run| splitmix64(run[0] ^ splitmix64(run[1] ^ splitmix64(run[2]))))
            .collect();
        shingles.sort_unstable();
        shingles.dedup();
        // Sorted by their whole value, so by their high halves too.
        let mut short: Vec<u32> = shingles.iter().map(|&hash| high_half(hash)).collect();
        short.dedup();
        let mut numbers: Vec<u32> = numbers
            .into_iter()
            .map(|hash| high_half(splitmix64(hash)))
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        let count = u32::try_from(short.len()).unwrap_or(u32::MAX);
        short.extend(numbers);
        (
            shingles,
            StoryText {
                hashes: short.into_boxed_slice(),
                shingles: count,
            },
        )
    }
}

fn high_half(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// `text` up to the end of its `runs`-th run of non-white-space characters, and whether that
/// is all of it.
fn first_runs(text: &str, runs: usize) -> (&str, bool) {
    let bytes = text.as_bytes();
    let mut seen = 0;
    let mut in_run = false;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        // ASCII bytes decide by themselves (`char::is_whitespace` of an ASCII character);
        // others are decoded.
        let (white, width) = if byte.is_ascii() {
            (
                matches!(byte, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '),
                1,
            )
        } else {
            match text.get(at..).and_then(|rest| rest.chars().next()) {
                Some(character) => (character.is_whitespace(), character.len_utf8()),
                None => break,
            }
        };
        if white {
            if in_run {
                seen += 1;
                if seen == runs {
                    return (&text[..at], false);
                }
            }
            in_run = false;
        } else {
            in_run = true;
        }
        at += width;
    }
    (text, true)
}

/// Numbers agree when either text has none, or one text's numbers are all in the other's
/// (both lists sorted and distinct).
fn numbers_agree(a: &[u32], b: &[u32]) -> bool {
    let shared = sorted_overlap(a, b);
    a.is_empty() || b.is_empty() || shared == a.len() || shared == b.len()
}

fn band_hashes(shingles: &[u64]) -> Vec<i64> {
    // One multiply-add per shingle and value, on 32 bits (eight at a time in a vector
    // register): `a·x + b` with an odd `a` permutes the 32-bit values, and its high bits,
    // which decide the minimum, depend on every bit of `x`. The low half of a shingle's hash
    // is used here (the text to compare keeps the high half); both are mixed by `splitmix64`.
    let values: Vec<u32> = shingles.iter().map(|&hash| hash as u32).collect();
    let mut signature = [u32::MAX; BANDS * ROWS];
    for (index, value) in signature.iter_mut().enumerate() {
        let multiplier = (splitmix64(2 * index as u64 + 1) as u32) | 1;
        let addend = splitmix64(2 * index as u64 + 2) as u32;
        *value = values
            .iter()
            .map(|value| value.wrapping_mul(multiplier).wrapping_add(addend))
            .fold(u32::MAX, u32::min);
    }
    signature
        .chunks(ROWS)
        .enumerate()
        .map(|(band, rows)| {
            let mut hash = fnv1a(FNV_OFFSET, &(band as u64).to_le_bytes());
            for row in rows {
                hash = fnv1a(hash, &row.to_le_bytes());
            }
            // SQLite integers are signed; the bits are what matter.
            hash as i64
        })
        .collect()
}

/// A word's hash: a multiply-rotate over eight bytes at a time, seeded with the length. Written
/// out here because the band hashes built on it are stored.
fn word_hash(word: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |hash: u64, bytes: [u8; 8]| {
        (hash.rotate_left(5) ^ u64::from_le_bytes(bytes)).wrapping_mul(K)
    };
    let mut hash = word.len() as u64;
    let mut chunks = word.chunks_exact(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        hash = step(hash, bytes);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..rest.len()].copy_from_slice(rest);
        hash = step(hash, bytes);
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
