//! Terms, compiled: every literal (word, phrase, prefix, CJK) of every topic's terms goes into one
//! table (`StartTable`), so an item's folded text is read once whatever the number of topics and
//! terms. A phrase that begins with a short word is keyed by a later one (`keyed_word`). Exceptions
//! stay out of it: each is compared only at the few word starts from where it could cover a hit of
//! its term (`Pattern::Local`). Folded text is words separated by single spaces (see `fold`), and
//! the fields of an item (title, summary, content) separated by a newline. A literal is looked for
//! only where a literal may start, which folding reports: at each word start, the word's first four
//! bytes (fewer when the word is shorter) are one look-up in the table, which gives the few
//! literals that begin so, and each is compared there. A hit always starts at a word start, and
//! (unless the term ends with `*`) must end before a space or newline or at the end. A phrase never
//! spans two fields. In CJK words (Han, Kana, Hangul, Thai...) a literal that starts with such a
//! character may also start at any character, and one that ends with one needs no boundary after
//! it, because in those scripts a word runs on into its particles (북한 in 북한은). `/regex/` terms are
//! run on their own, and only when asked.
//!
//! Why a table and not an automaton (this was an Aho-Corasick NFA, walked from each word start):
//! terms start at word starts, so nothing is gained by an automaton's unanchored search, and
//! walking one from every word start cost a chain of dependent state look-ups through memory per
//! word. The table costs one hashed look-up per word, in a bit filter that stays in the cache, and
//! a comparison of eight bytes at once per literal found.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};

use super::fold::{fold, is_cjk};
use crate::config::{Location, TermConfig, TermSyntax};

/// Index of a literal in the automaton.
pub type LiteralId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LiteralRule {
    prefix: bool,
    /// The literal starts with a CJK character: it may start inside a CJK word.
    starts_inside: bool,
    /// The literal ends with a CJK character: it may end inside a word.
    ends_inside: bool,
    /// Its length in bytes (`u32`: with the literal's id, a candidate fits one cache line).
    length: u32,
}

impl LiteralRule {
    fn of(folded: &str, prefix: bool) -> LiteralRule {
        LiteralRule {
            prefix,
            starts_inside: folded.chars().next().is_some_and(is_cjk),
            ends_inside: folded.chars().next_back().is_some_and(is_cjk),
            length: u32::try_from(folded.len()).unwrap_or(u32::MAX),
        }
    }
}

/// Every literal of a topic set, in one table keyed by how a literal begins: an item's text is
/// read once, and at each place a literal may start (a word start, or a character inside a CJK
/// word) one look-up finds the few literals that begin with the same bytes there.
#[derive(Debug, Clone)]
pub struct Literals {
    rules: Vec<LiteralRule>,
    table: StartTable,
}

/// The key of a place in folded text: its first four bytes, cut at the end of the word (a
/// space, a newline or the end of the text) and padded with zero bytes. A literal's key is
/// that of its own first bytes, so a literal can start only where the key is its own, except
/// one of fewer than four bytes that may run on into a longer word (a short `word*`, or a
/// short CJK literal): those are looked for apart (`StartTable::short`).
fn key_at(bytes: &[u8], at: usize) -> u32 {
    let word = match bytes.get(at..at + 4) {
        Some(four) => u32::from_le_bytes(four.try_into().unwrap_or_default()),
        None => {
            let mut head = [0u8; 4];
            for (slot, byte) in head.iter_mut().zip(bytes.get(at..).unwrap_or_default()) {
                *slot = *byte;
            }
            u32::from_le_bytes(head)
        }
    };
    // The first space or newline, found in all four bytes at once: a byte equal to it is a
    // zero byte after the XOR, and the lowest such byte is found exactly.
    const ONES: u32 = 0x0101_0101;
    let zero = |value: u32| value.wrapping_sub(ONES) & !value & (0x80 * ONES);
    let boundaries = zero(word ^ (u32::from(b' ') * ONES)) | zero(word ^ (u32::from(b'\n') * ONES));
    // Keep the bytes before it, with no branch (words shorter than four bytes are common, and
    // a branch on them is mispredicted): the lowest flag, at bit 7 of its byte, shifted down
    // to bit 0 of it, less one, is the mask of the bytes below; with no flag, all of them.
    let lowest = boundaries & boundaries.wrapping_neg();
    word & (lowest >> 7).wrapping_sub(1)
}

/// The first eight bytes at `at` (zero bytes past the end) as a number, to compare with a
/// candidate's own first eight at once.
fn head_at(bytes: &[u8], at: usize) -> u64 {
    if let Some(eight) = bytes.get(at..at + 8) {
        return u64::from_le_bytes(eight.try_into().unwrap_or_default());
    }
    let mut head = [0u8; 8];
    for (slot, byte) in head.iter_mut().zip(bytes.get(at..).unwrap_or_default()) {
        *slot = *byte;
    }
    u64::from_le_bytes(head)
}

/// One literal as the scan compares it.
#[derive(Debug, Clone)]
struct Candidate {
    literal: u32,
    /// Its first eight bytes (zero bytes after a shorter one), and which of them count.
    head: u64,
    mask: u64,
    /// Its next eight bytes, and which of them count (none for a literal of eight bytes or
    /// fewer): most literals are compared in two numbers, with no call to compare slices.
    second: u64,
    second_mask: u64,
    /// The bytes after the first sixteen.
    tail: Box<[u8]>,
    rule: LiteralRule,
    /// Where in the literal the word it is keyed by starts (see `keyed_word`): 0 for most;
    /// for a phrase keyed by a later word, the scan finds that word and compares the phrase
    /// from so many bytes before it.
    offset: u32,
}

impl Candidate {
    fn new(literal: LiteralId, pattern: &[u8], rule: LiteralRule) -> Candidate {
        let length = pattern.len().min(8);
        let second_length = pattern.len().saturating_sub(8).min(8);
        Candidate {
            literal: u32::try_from(literal).unwrap_or(u32::MAX),
            head: head_at(pattern, 0) & mask_of(length),
            mask: mask_of(length),
            second: head_at(pattern, 8) & mask_of(second_length),
            second_mask: mask_of(second_length),
            tail: pattern.get(16..).unwrap_or_default().into(),
            rule,
            offset: 0,
        }
    }

    /// Whether the literal, keyed by a later word (`offset`), hits with that word at `at`: it
    /// starts at a word start `offset` bytes before (where it starts, then), and hits there.
    #[cold]
    fn hits_before(&self, bytes: &[u8], at: usize, inside: bool) -> Option<usize> {
        // A later word of a phrase starts after a space, never inside a CJK word.
        let start = at.checked_sub(self.offset as usize).filter(|_| !inside)?;
        let word_start = start == 0 || bytes.get(start - 1).is_some_and(|byte| is_boundary(*byte));
        if !word_start {
            return None;
        }
        self.hits(bytes, start, false, head_at(bytes, start))?;
        Some(start)
    }

    /// Whether the literal hits at `at` (whose first eight bytes are `head`): its bytes are
    /// there, it may start there, and it ends where it may; where it ends, if so.
    #[inline]
    fn hits(&self, bytes: &[u8], at: usize, inside: bool, head: u64) -> Option<usize> {
        self.hits_at(bytes, at, inside, head, head_at(bytes, at + 8))
            .then_some(at + self.rule.length as usize)
    }

    /// Whether the literal hits at `at`, given the text's first eight bytes there (`head`) and
    /// the eight after them (`second`; past the text's end `head_at` reads zero bytes, which no
    /// literal has), with no branch on the bytes compared but for the bytes after sixteen,
    /// compared only when the rest hit. A hit ends the literal's length after `at`.
    #[inline]
    fn hits_at(&self, bytes: &[u8], at: usize, inside: bool, head: u64, second: u64) -> bool {
        let end = at + self.rule.length as usize;
        // A literal of eight bytes or fewer has no second part (its mask and bytes are 0).
        let same = (head & self.mask == self.head) & (second & self.second_mask == self.second);
        let may_start = !inside | self.rule.starts_inside;
        let ends_word = bytes.get(end).is_none_or(|byte| is_boundary(*byte));
        let may_end = ends_word | self.rule.prefix | self.rule.ends_inside;
        let hit = same & may_start & may_end;
        if !self.tail.is_empty() && hit {
            return bytes.get(at + 16..end) == Some(&self.tail[..]);
        }
        hit
    }
}

/// Where the word a literal is keyed by starts in it. A phrase is found by looking its key
/// word up at every place that word's first bytes are, so a phrase that begins with a short
/// word (`in sumy`, `по киевски`, `kim and putin`: the commonest words of a language are
/// short) would be looked up, and compared, at every such word of the text. Such a phrase is
/// keyed by its longest later word of at least four characters instead (`sumy`, `киевски`,
/// `putin`), and compared from its start when that word is found. Phrases that begin with a
/// CJK character (which may start inside a word) keep their first word.
fn keyed_word(pattern: &str, rule: &LiteralRule) -> usize {
    const SHORT: usize = 3;
    let mut words = pattern
        .split(' ')
        .scan(0, |offset, word| {
            let at = *offset;
            *offset += word.len() + 1;
            Some((at, word))
        })
        .filter(|(_, word)| !word.is_empty());
    let Some((_, first)) = words.next() else {
        return 0;
    };
    if rule.starts_inside || first.chars().count() > SHORT {
        return 0;
    }
    words
        .filter(|(_, word)| word.chars().count() > SHORT && !word.starts_with(is_cjk))
        // The longest; of equals, the first.
        .fold(None, |best: Option<(usize, usize)>, (at, word)| {
            let length = word.chars().count();
            match best {
                Some((_, longest)) if longest >= length => best,
                _ => Some((at, length)),
            }
        })
        .map_or(0, |(at, _)| at)
}

/// The low `bytes` bytes of a number set.
fn mask_of(bytes: usize) -> u64 {
    if bytes >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * bytes)) - 1
    }
}

/// The literals by key (see `key_at`): an open-addressing hash table of keys, each with the
/// literals that share it, and a bit per hashed key in front of it, small enough to stay in
/// the cache, since most places start no literal.
#[derive(Debug, Clone)]
struct StartTable {
    /// A bit for each key's hash (`FILTER_BITS` of them).
    filter: Vec<u64>,
    /// Slots of keys (0: empty; no key is 0, since no word starts with a boundary), a power
    /// of two of them, each with the range of `candidates` under it (in one slot, so that a
    /// look-up reads one place).
    slots: Vec<Slot>,
    candidates: Vec<Candidate>,
    /// Literals of fewer than four bytes that may run on into a longer word, and a bit per
    /// first byte they start with.
    short: Vec<Candidate>,
    short_first: [u64; 4],
}

/// A key of `StartTable` and where its candidates are.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u32,
    first: u32,
    end: u32,
}

const FILTER_BITS: u32 = 16;

fn filter_bit(key: u32) -> usize {
    (key.wrapping_mul(0x85EB_CA6B) >> (32 - FILTER_BITS)) as usize
}

impl StartTable {
    fn new(patterns: &[String], rules: &[LiteralRule]) -> StartTable {
        let mut by_key: Vec<(u32, Candidate)> = Vec::new();
        let mut short = Vec::new();
        let mut short_first = [0u64; 4];
        for (literal, (pattern, rule)) in patterns.iter().zip(rules).enumerate() {
            let bytes = pattern.as_bytes();
            let Some(&first) = bytes.first() else {
                continue;
            };
            let mut candidate = Candidate::new(literal, bytes, *rule);
            let one_word = !bytes.iter().copied().any(is_boundary);
            if bytes.len() < 4 && one_word && (rule.prefix || rule.ends_inside) {
                short_first[usize::from(first / 64)] |= 1 << (first % 64);
                short.push(candidate);
            } else {
                let offset = keyed_word(pattern, rule);
                candidate.offset = u32::try_from(offset).unwrap_or(0);
                by_key.push((key_at(bytes, offset), candidate));
            }
        }
        by_key.sort_by_key(|(key, candidate)| (*key, candidate.literal));
        let mut distinct: Vec<u32> = by_key.iter().map(|(key, _)| *key).collect();
        distinct.dedup();
        let slots = (distinct.len() * 2).next_power_of_two().max(16);
        let mut table = StartTable {
            filter: vec![0; (1 << FILTER_BITS) / 64],
            slots: vec![Slot::default(); slots],
            candidates: Vec::with_capacity(by_key.len()),
            short,
            short_first,
        };
        let mut index = 0;
        while let Some(&(key, _)) = by_key.get(index) {
            let first = table.candidates.len();
            while let Some((_, candidate)) = by_key.get(index).filter(|(next, _)| *next == key) {
                table.candidates.push(candidate.clone());
                index += 1;
            }
            let bit = filter_bit(key);
            if let Some(word) = table.filter.get_mut(bit / 64) {
                *word |= 1 << (bit % 64);
            }
            let mut slot = table.slot_of(key);
            while table.slots.get(slot).is_some_and(|taken| taken.key != 0) {
                slot = (slot + 1) & (slots - 1);
            }
            if let Some(free) = table.slots.get_mut(slot) {
                *free = Slot {
                    key,
                    first: u32::try_from(first).unwrap_or(u32::MAX),
                    end: u32::try_from(table.candidates.len()).unwrap_or(u32::MAX),
                };
            }
        }
        table
    }

    fn slot_of(&self, key: u32) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
    }

    /// The literals whose key is `key` (one that passed `may_start`: the filter is not asked
    /// again).
    #[inline]
    fn under(&self, key: u32) -> &[Candidate] {
        let mask = self.slots.len() - 1;
        let mut slot = self.slot_of(key);
        loop {
            match self.slots.get(slot) {
                Some(found) if found.key == key => {
                    return self
                        .candidates
                        .get(found.first as usize..found.end as usize)
                        .unwrap_or_default();
                }
                Some(Slot { key: 0, .. }) | None => return &[],
                Some(_) => slot = (slot + 1) & mask,
            }
        }
    }

    /// Whether some literal may start at a place whose key is `key` and whose first byte is
    /// `first`: the bit filter, and the first bytes of the short literals. No branch, so that
    /// a run over every word start costs no mispredicted jump for the many that start nothing.
    #[inline]
    fn may_start(&self, key: u32, first: u8) -> bool {
        let bit = filter_bit(key);
        let keyed = self
            .filter
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0);
        let short = self.short_first[usize::from(first / 64)] & (1 << (first % 64)) != 0;
        keyed | short
    }

    /// The short literals that may start with `first`.
    fn short_starting(&self, first: u8) -> &[Candidate] {
        if self.short_first[usize::from(first / 64)] & (1 << (first % 64)) == 0 {
            &[]
        } else {
            &self.short
        }
    }
}

/// Collects literals while terms compile; `build` makes the table.
#[derive(Debug, Default)]
pub struct LiteralsBuilder {
    ids: HashMap<(String, bool), LiteralId>,
    patterns: Vec<String>,
    rules: Vec<LiteralRule>,
}

impl LiteralsBuilder {
    fn add(&mut self, folded: String, prefix: bool) -> LiteralId {
        let next = self.patterns.len();
        let rule = LiteralRule::of(&folded, prefix);
        *self.ids.entry((folded.clone(), prefix)).or_insert_with(|| {
            self.patterns.push(folded);
            self.rules.push(rule);
            next
        })
    }

    pub fn build(self) -> Literals {
        Literals {
            table: StartTable::new(&self.patterns, &self.rules),
            rules: self.rules,
        }
    }
}

/// The hits of every literal in one folded text, found in one scan: sparse, because a text
/// hits few of thousands of literals. Grouped by literal, so one literal's hits are a slice
/// (in text order), found with no search. Kept between items (see `TopicSet::match_item`), so
/// its buffers are reused.
///
/// The scan finds hits in text order, the literals mixed. Rather than sort them (a sort of
/// the hits was a tenth of the time of matching 2,000 terms), they are counted per literal
/// into a table with a slot per literal of the set; the literals that hit (far fewer than the
/// hits) are sorted, each is given its place after those before it, and the hits are placed.
/// A slot belongs to the current text only when its stamp is the current one, so nothing is
/// cleared between texts.
#[derive(Debug, Default)]
pub struct Hits {
    /// The starts that passed `StartTable::may_start`, first of all, with their keys (the
    /// first so many of it: see `Literals::scan`).
    passed: Vec<(usize, u32)>,
    /// The hits in the order the scan found them: literal and start (the first `count` of
    /// it: see `Literals::scan`). A hit ends where its literal's length says.
    found: Vec<(u32, usize)>,
    count: usize,
    /// The literals that hit, each once, in order.
    literals: Vec<LiteralId>,
    /// Every hit, grouped by literal (see `slots`).
    ranges: Vec<Range<usize>>,
    /// Per literal of the set: the scan it was last written in, and where its hits are in
    /// `ranges`.
    slots: Vec<HitSlot>,
    /// The current scan's stamp (0 is no scan's).
    stamp: u32,
}

/// Where one literal's hits are in `Hits::ranges`, if `stamp` is the current scan's.
#[derive(Debug, Default, Clone, Copy)]
struct HitSlot {
    stamp: u32,
    first: u32,
    end: u32,
}

impl Hits {
    /// Where `literal` hit, in text order.
    fn of(&self, literal: LiteralId) -> &[Range<usize>] {
        match self.slots.get(literal) {
            Some(slot) if slot.stamp == self.stamp && self.stamp != 0 => self
                .ranges
                .get(slot.first as usize..slot.end as usize)
                .unwrap_or_default(),
            _ => &[],
        }
    }

    /// The literals that hit, each once, in order.
    pub fn literals(&self) -> impl Iterator<Item = LiteralId> + '_ {
        self.literals.iter().copied()
    }

    /// Starts a scan of a set of `literals` literals: a new stamp, and a slot for each.
    fn begin(&mut self, literals: usize) {
        self.count = 0;
        self.literals.clear();
        self.ranges.clear();
        if self.slots.len() < literals {
            self.slots.resize(literals, HitSlot::default());
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // After four billion scans: the old stamps could come back, so they go.
            self.slots.fill(HitSlot::default());
            self.stamp = 1;
        }
    }

    /// Groups the hits the scan found by literal (each literal's in the order found).
    fn group(&mut self, rules: &[LiteralRule]) {
        let stamp = self.stamp;
        // Count each literal's hits (in `end`), noting each literal once.
        let found = self.found.get(..self.count).unwrap_or_default();
        for &(literal, _) in found {
            let Some(slot) = self.slots.get_mut(literal as usize) else {
                continue;
            };
            if slot.stamp == stamp {
                slot.end += 1;
            } else {
                *slot = HitSlot {
                    stamp,
                    first: 0,
                    end: 1,
                };
                self.literals.push(literal as usize);
            }
        }
        // In order (what the uses of the literals are sorted by next: they come nearly
        // sorted), each literal given its place: `first` where its hits go, `end` where the
        // next is written while they are placed (its end once they are).
        self.literals.sort_unstable();
        let mut next = 0;
        for &literal in &self.literals {
            if let Some(slot) = self.slots.get_mut(literal) {
                let count = slot.end;
                (slot.first, slot.end) = (next, next);
                next += count;
            }
        }
        self.ranges.resize(next as usize, 0..0);
        for &(literal, start) in found {
            let length = rules
                .get(literal as usize)
                .map_or(0, |rule| rule.length as usize);
            if let Some(slot) = self.slots.get_mut(literal as usize) {
                if let Some(range) = self.ranges.get_mut(slot.end as usize) {
                    *range = start..start + length;
                }
                slot.end += 1;
            }
        }
    }

    /// Every hit as (literal, start, end), sorted: what the slow way lists.
    #[cfg(test)]
    fn all(&self) -> Vec<(LiteralId, usize, usize)> {
        self.literals()
            .flat_map(|literal| {
                self.of(literal)
                    .iter()
                    .map(move |range| (literal, range.start, range.end))
            })
            .collect()
    }
}

impl Literals {
    /// How many distinct literals there are.
    pub fn count(&self) -> usize {
        self.rules.len()
    }

    /// Finds every literal in `folded`, into `hits` (whose earlier hits are dropped), looking
    /// at the `starts` folding reported.
    pub fn scan(&self, folded: &[u8], starts: &[usize], hits: &mut Hits) {
        hits.begin(self.count());
        let bytes = folded;
        let table = &self.table;
        // First the starts where some literal may start, picked out with no branch on the
        // answer (each is written, and kept by counting it); most places start nothing.
        // Room for every start; never shrunk, so that it is not filled again for every item.
        let passed = &mut hits.passed;
        if passed.len() < starts.len() {
            passed.resize(starts.len(), (0, 0));
        }
        let mut kept = 0;
        for &start in starts {
            let key = key_at(bytes, start / 2);
            if let Some(slot) = passed.get_mut(kept) {
                *slot = (start, key);
            }
            // A key's first byte is the place's own (no word starts with a boundary).
            kept += usize::from(table.may_start(key, key as u8));
        }
        let (found, mut count) = (&mut hits.found, 0);
        for &(start, key) in passed.get(..kept).unwrap_or_default() {
            let (at, inside) = (start / 2, start % 2 == 1);
            // A key's first byte is the place's own.
            let first = key as u8;
            let under_key = table.under(key);
            let short = table.short_starting(first);
            if under_key.is_empty() && short.is_empty() {
                continue;
            }
            let head = head_at(bytes, at);
            let second = head_at(bytes, at + 8);
            // Room for every candidate's hit: each is written, and kept by counting it, with
            // no branch on whether it hit (that is a coin toss, place after place).
            let room = count + under_key.len() + short.len();
            if found.len() < room {
                found.resize(room.next_power_of_two(), (0, 0));
            }
            for candidate in under_key.iter().chain(short) {
                let (start, hit) = if candidate.offset != 0 {
                    match candidate.hits_before(bytes, at, inside) {
                        Some(start) => (start, true),
                        None => (at, false),
                    }
                } else {
                    (at, candidate.hits_at(bytes, at, inside, head, second))
                };
                if let Some(slot) = found.get_mut(count) {
                    *slot = (candidate.literal, start);
                }
                count += usize::from(hit);
            }
        }
        hits.count = count;
        // By literal, each literal's in text order (the order found).
        hits.group(&self.rules);
    }
}

/// A word boundary in folded text: the space between words, the newline between fields.
fn is_boundary(byte: u8) -> bool {
    byte == b' ' || byte == b'\n'
}

/// Folded text, as the scan reads it (bytes) and as a regex reads it (a string, checked to be
/// UTF-8 only when a regex first asks: most items are decided by their literals alone).
/// Folding writes whole characters, so it always is; were it not, the bad bytes would read as
/// U+FFFD rather than panic.
#[derive(Debug)]
pub struct FoldedText<'a> {
    bytes: &'a [u8],
    /// Where terms may start in it, as folding reported them (`fold::Starts`), in order.
    starts: &'a [usize],
    text: OnceCell<Cow<'a, str>>,
    ascii: OnceCell<bool>,
}

impl<'a> FoldedText<'a> {
    pub fn new(bytes: &'a [u8], starts: &'a [usize]) -> FoldedText<'a> {
        FoldedText {
            bytes,
            starts,
            text: OnceCell::new(),
            ascii: OnceCell::new(),
        }
    }

    /// The same text, known to be all ASCII when `ascii` (as folding found it; `false` leaves
    /// it to be worked out when first asked).
    pub fn known_ascii(self, ascii: bool) -> FoldedText<'a> {
        if ascii {
            let _ = self.ascii.set(true);
        }
        self
    }

    /// Whether the text is all ASCII (worked out when first asked).
    pub fn is_ascii(&self) -> bool {
        *self.ascii.get_or_init(|| self.bytes.is_ascii())
    }

    /// The text as a string.
    pub fn text(&self) -> &str {
        // `from_utf8` first: it checks faster than the lossy reading, which is only the
        // fallback for what cannot happen.
        self.text
            .get_or_init(|| match std::str::from_utf8(self.bytes) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(self.bytes),
            })
    }
}

/// Which byte ranges of the folded text a topic may look at (its `fields`); `None` for all.
pub type Allowed<'a> = Option<&'a [Range<usize>]>;

fn allowed(hit: &Range<usize>, allowed: Allowed<'_>) -> bool {
    allowed.is_none_or(|ranges| {
        ranges
            .iter()
            .any(|range| range.start <= hit.start && hit.end <= range.end)
    })
}

/// A literal after folding, as compiled: what `warnings` reasons about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedLiteral {
    pub text: String,
    pub prefix: bool,
    pub inside_words: bool,
}

impl FoldedLiteral {
    /// Whether every hit of `other` lies inside a hit of `self` (so `self` as an exception
    /// cancels all of `other`, or `self` in `none` vetoes wherever `other` hits).
    pub fn covers_all_of(&self, other: &FoldedLiteral) -> bool {
        if self.inside_words {
            // Inside words, a `*` changes nothing: containment is all.
            return other.text.contains(&self.text);
        }
        if self.text == other.text {
            return self.prefix || !other.prefix;
        }
        // `self` as whole words inside `other`'s words (not at its open end, when `other`
        // is a prefix and `self` is not).
        let padded = format!(" {} ", other.text);
        if self.prefix {
            padded.contains(&format!(" {}", self.text))
                && !(other.prefix && padded.ends_with(&format!(" {} ", self.text)))
        } else {
            let whole = format!(" {} ", self.text);
            padded.contains(&whole) && !(other.prefix && padded.ends_with(&whole))
        }
    }

    /// Whether a hit of `self` can lie inside a hit of `longer` (an exception that cannot is
    /// never used).
    pub fn can_sit_inside(&self, longer: &FoldedLiteral) -> bool {
        if self.inside_words {
            return longer.text.contains(&self.text);
        }
        let padded = format!(" {}", longer.text);
        padded.contains(&format!(" {}", self.text))
    }
}

#[derive(Debug, Clone)]
enum Pattern {
    Literal(LiteralId),
    /// An exception's literal. It is not in the scan's table: it matters only where it covers
    /// a hit of its term, so it is looked for there alone, at the few places where it could
    /// start and still cover the hit (see `CompiledTerm::covered_locally`). An exception thus costs nothing
    /// in an item its term does not hit, however common its first word (`frango a kiev` is
    /// not looked up at every French `france`).
    Local(Box<Candidate>),
    /// A regex, and whether every match of it has a character that is not ASCII (so it is
    /// not run on text that is all ASCII, where it cannot match).
    Regex(RegexRun, bool),
    /// A literal that folds to nothing (only punctuation): it can never match.
    Nothing,
}

#[derive(Debug, Clone)]
pub struct CompiledTerm {
    /// The term as written in `feeds.toml` (shared with the matches that name it).
    pub source: Arc<str>,
    /// Where it is written.
    pub location: Location,
    pattern: Pattern,
    except: Vec<Pattern>,
    /// The term and its exceptions as folded literals (`None` for a regex), for warnings.
    pub folded: Option<FoldedLiteral>,
    pub folded_except: Vec<Option<FoldedLiteral>>,
    /// The exceptions as written, for warnings.
    pub except_sources: Vec<String>,
    /// The length in bytes of the longest exception looked for locally (0: none is).
    longest_local: usize,
    /// The first eight bytes of each exception looked for locally and which of them count,
    /// with the index of its pattern in `except`: most places are ruled out by these alone,
    /// read from one array rather than from each exception's own allocation.
    local_heads: Vec<(u64, u64, usize)>,
}

/// The hits of one term in one text: those that count, and those its exceptions cancelled.
#[derive(Debug, Default)]
pub struct TermHits {
    pub kept: Vec<Range<usize>>,
    pub cancelled: Vec<Range<usize>>,
}

impl CompiledTerm {
    pub fn compile(term: &TermConfig, literals: &mut LiteralsBuilder) -> CompiledTerm {
        let (pattern, folded) = Pattern::compile(&term.syntax, literals);
        let (except, folded_except): (Vec<Pattern>, _) =
            term.except.iter().map(Pattern::compile_exception).unzip();
        let longest_local = except
            .iter()
            .filter_map(|pattern| match pattern {
                Pattern::Local(candidate) => Some(candidate.rule.length as usize),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let local_heads = except
            .iter()
            .enumerate()
            .filter_map(|(index, pattern)| match pattern {
                Pattern::Local(candidate) => Some((candidate.head, candidate.mask, index)),
                _ => None,
            })
            .collect();
        CompiledTerm {
            source: term.source.as_str().into(),
            location: term.location,
            pattern,
            except,
            folded,
            folded_except,
            except_sources: term.except_sources.clone(),
            longest_local,
            local_heads,
        }
    }

    /// Whether the term hits anywhere in `folded` (within `allowed`) outside the cover of its
    /// exceptions.
    pub fn hits(&self, folded: &FoldedText<'_>, hits: &Hits, allowed: Allowed<'_>) -> bool {
        if let (Pattern::Literal(literal), true, None) =
            (&self.pattern, self.except.is_empty(), allowed)
        {
            // The common case: no exceptions, every field. No ranges to compare.
            return !hits.of(*literal).is_empty();
        }
        !self.hit_ranges(folded, hits, allowed).kept.is_empty()
    }

    /// Every hit of the term, split into those that count and those an exception covers.
    pub fn hit_ranges(
        &self,
        folded: &FoldedText<'_>,
        hits: &Hits,
        allowed: Allowed<'_>,
    ) -> TermHits {
        let own: Vec<Range<usize>> = self
            .pattern
            .hits(folded, hits)
            .iter()
            .filter(|hit| self::allowed(hit, allowed))
            .cloned()
            .collect();
        if own.is_empty() || self.except.is_empty() {
            return TermHits {
                kept: own,
                cancelled: Vec::new(),
            };
        }
        // Exceptions that are literals are looked for around each hit; the others (regexes)
        // where they hit.
        let covers: Vec<Range<usize>> = self
            .except
            .iter()
            .filter(|pattern| !matches!(pattern, Pattern::Local(_)))
            .flat_map(|pattern| pattern.hits(folded, hits).into_owned())
            .collect();
        let (cancelled, kept) = own.into_iter().partition(|hit| {
            covers
                .iter()
                .any(|cover| cover.start <= hit.start && hit.end <= cover.end)
                || self.covered_locally(folded, hit)
        });
        TermHits { kept, cancelled }
    }

    /// Whether an exception looked for locally (`Pattern::Local`) covers `hit`: whether one
    /// hits at a place where terms may start, from where its end reaches the hit's end, up to
    /// the hit's start. The same places and the same comparison as the scan, so it finds what
    /// the scan would have found there. The places are walked back from the hit's own, since
    /// an exception most often starts there or a word or two before.
    fn covered_locally(&self, folded: &FoldedText<'_>, hit: &Range<usize>) -> bool {
        if self.longest_local == 0 {
            return false;
        }
        let from = hit.end.saturating_sub(self.longest_local);
        let bytes = folded.bytes;
        let up_to = folded
            .starts
            .partition_point(|start| start / 2 <= hit.start);
        folded
            .starts
            .get(..up_to)
            .unwrap_or_default()
            .iter()
            .rev()
            .take_while(|start| *start / 2 >= from)
            .any(|start| {
                let (at, inside) = (start / 2, start % 2 == 1);
                let head = head_at(bytes, at);
                self.local_heads.iter().any(|&(first, mask, index)| {
                    head & mask == first
                        && matches!(self.except.get(index), Some(Pattern::Local(candidate))
                            if candidate.hits(bytes, at, inside, head).is_some_and(|end| end >= hit.end))
                })
            })
    }

    /// Whether the term is a literal with no exceptions: it hits wherever its literal does.
    pub fn is_plain(&self) -> bool {
        matches!(self.pattern, Pattern::Literal(_)) && self.except.is_empty()
    }

    /// Whether the term needs a regex run (its own pattern or an exception is a regex): such
    /// terms are looked at only when the cheaper ones leave the answer open.
    pub fn needs_regex(&self) -> bool {
        matches!(self.pattern, Pattern::Regex(..))
            || self
                .except
                .iter()
                .any(|pattern| matches!(pattern, Pattern::Regex(..)))
    }

    /// The literal of the term itself (`None` for a regex or a term that folds to nothing).
    pub fn own_literal(&self) -> Option<LiteralId> {
        match self.pattern {
            Pattern::Literal(literal) => Some(literal),
            _ => None,
        }
    }

    /// Whether the term is a regex (not a literal).
    pub fn is_regex(&self) -> bool {
        matches!(self.pattern, Pattern::Regex(..))
    }

    /// Whether the term is a literal that folds to nothing, so it can never hit.
    pub fn is_nothing(&self) -> bool {
        matches!(self.pattern, Pattern::Nothing)
    }

    /// Whether the literal ends with `*`, so a hit runs on to the end of its word.
    pub fn is_prefix(&self) -> bool {
        self.folded.as_ref().is_some_and(|literal| literal.prefix)
    }
}

impl Pattern {
    /// A term's own pattern: a literal goes into the scan's table.
    fn compile(
        syntax: &TermSyntax,
        literals: &mut LiteralsBuilder,
    ) -> (Pattern, Option<FoldedLiteral>) {
        Pattern::compile_with(syntax, |folded, prefix| {
            Pattern::Literal(literals.add(folded.to_string(), prefix))
        })
    }

    /// An exception: a literal stays out of the scan's table (`Pattern::Local`).
    fn compile_exception(syntax: &TermSyntax) -> (Pattern, Option<FoldedLiteral>) {
        Pattern::compile_with(syntax, |folded, prefix| {
            let rule = LiteralRule::of(folded, prefix);
            Pattern::Local(Box::new(Candidate::new(
                LiteralId::MAX,
                folded.as_bytes(),
                rule,
            )))
        })
    }

    /// A pattern and its folded literal, a literal that folds to something made by `literal`.
    fn compile_with(
        syntax: &TermSyntax,
        literal: impl FnOnce(&str, bool) -> Pattern,
    ) -> (Pattern, Option<FoldedLiteral>) {
        match syntax {
            TermSyntax::Literal { text, prefix } => {
                let folded = fold(text);
                let pattern = if folded.is_empty() {
                    Pattern::Nothing
                } else {
                    literal(&folded, *prefix)
                };
                let folded = FoldedLiteral {
                    inside_words: folded.chars().any(is_cjk),
                    text: folded,
                    prefix: *prefix,
                };
                (pattern, Some(folded))
            }
            TermSyntax::Regex(regex) => (
                Pattern::Regex(RegexRun::of(regex), needs_non_ascii_of(regex.as_str())),
                None,
            ),
        }
    }

    fn hits<'a>(&self, folded: &FoldedText<'_>, hits: &'a Hits) -> Cow<'a, [Range<usize>]> {
        match self {
            Pattern::Literal(literal) => Cow::Borrowed(hits.of(*literal)),
            // Looked for around hits only (`CompiledTerm::covered_locally`).
            Pattern::Local(_) => Cow::Borrowed(&[]),
            Pattern::Regex(_, true) if folded.is_ascii() => Cow::Borrowed(&[]),
            Pattern::Regex(regex, _) => {
                #[cfg(test)]
                REGEX_RUNS.with(|runs| runs.set(runs.get() + 1));
                Cow::Owned(regex.find_ranges(folded))
            }
            Pattern::Nothing => Cow::Borrowed(&[]),
        }
    }
}

/// A regex term as it runs: over the folded bytes, with no check that they are UTF-8 first
/// (folding writes whole characters, so they always are; checking cost about 3 % of matching
/// the shipped topics, whose Korean regexes run on most items in other scripts). Built from
/// the pattern `config` checked, with the same flags (`config::term_syntax`); a bytes regex in
/// Unicode mode matches valid UTF-8 exactly as the string regex does. Should it ever fail to
/// build, the checked string regex runs on the text instead.
#[derive(Debug, Clone)]
enum RegexRun {
    Bytes(regex::bytes::Regex),
    Text(Regex),
}

impl RegexRun {
    fn of(regex: &Regex) -> RegexRun {
        match regex::bytes::RegexBuilder::new(regex.as_str())
            .case_insensitive(true)
            .unicode(true)
            .build()
        {
            Ok(bytes) => RegexRun::Bytes(bytes),
            Err(_) => RegexRun::Text(regex.clone()),
        }
    }

    fn find_ranges(&self, folded: &FoldedText<'_>) -> Vec<Range<usize>> {
        match self {
            RegexRun::Bytes(regex) => regex
                .find_iter(folded.bytes)
                .map(|found| found.range())
                .collect(),
            RegexRun::Text(regex) => regex
                .find_iter(folded.text())
                .map(|found| found.range())
                .collect(),
        }
    }
}

/// Whether every match of the regex `pattern` (as `config` compiles it: case-insensitive,
/// Unicode) has a character that is not ASCII; `false` when unsure.
fn needs_non_ascii_of(pattern: &str) -> bool {
    regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .unicode(true)
        .build()
        .parse(pattern)
        .is_ok_and(|hir| needs_non_ascii(&hir))
}

/// Whether every match of `hir` has a character that is not ASCII: a literal or a class of
/// such characters, in a part that every match goes through.
fn needs_non_ascii(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(literal) => !literal.0.is_ascii(),
        HirKind::Class(Class::Unicode(class)) => {
            class.ranges().iter().all(|range| !range.start().is_ascii())
        }
        HirKind::Class(Class::Bytes(class)) => {
            class.ranges().iter().all(|range| !range.start().is_ascii())
        }
        HirKind::Repetition(repetition) => repetition.min > 0 && needs_non_ascii(&repetition.sub),
        HirKind::Capture(capture) => needs_non_ascii(&capture.sub),
        HirKind::Concat(parts) => parts.iter().any(needs_non_ascii),
        HirKind::Alternation(parts) => parts.iter().all(needs_non_ascii),
    }
}

#[cfg(test)]
thread_local! {
    /// How many times a regex ran on this thread, so tests can see that regexes run only when
    /// the literals leave a match possible.
    pub static REGEX_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Location, TermConfig, TermSyntax};
    use crate::topics::fold;

    /// What the scan must find, the slow way: every literal at every place a literal may
    /// start, compared byte by byte, with the boundary rules of the module's documentation.
    fn every_hit(
        patterns: &[(String, bool)],
        folded: &str,
        starts: &[usize],
    ) -> Vec<(LiteralId, usize, usize)> {
        let bytes = folded.as_bytes();
        let mut found = Vec::new();
        for &start in starts {
            let (at, inside) = (start / 2, start % 2 == 1);
            for (literal, (pattern, prefix)) in patterns.iter().enumerate() {
                let rule = LiteralRule::of(pattern, *prefix);
                let end = at + pattern.len();
                if !bytes[at..].starts_with(pattern.as_bytes()) || (inside && !rule.starts_inside) {
                    continue;
                }
                if rule.prefix || rule.ends_inside || bytes.get(end).is_none_or(|b| is_boundary(*b))
                {
                    found.push((literal, at, end));
                }
            }
        }
        found.sort_unstable();
        found
    }

    fn literal_term(text: &str, except: &[&str]) -> TermConfig {
        let syntax = |text: &str| TermSyntax::Literal {
            text: text.trim_end_matches('*').to_string(),
            prefix: text.ends_with('*'),
        };
        TermConfig {
            source: text.to_string(),
            syntax: syntax(text),
            except: except.iter().map(|text| syntax(text)).collect(),
            except_sources: except.iter().map(|text| text.to_string()).collect(),
            location: Location::default(),
        }
    }

    /// A term's hits split by its exceptions the slow way: every literal at every start (see
    /// `every_hit`), a hit cancelled where some exception's hit covers it.
    fn split_the_slow_way(
        term: &TermConfig,
        folded: &str,
        starts: &[usize],
    ) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
        let literal = |syntax: &TermSyntax| match syntax {
            TermSyntax::Literal { text, prefix } => (fold(text), *prefix),
            TermSyntax::Regex(_) => unreachable!("literals only"),
        };
        let own = every_hit(&[literal(&term.syntax)], folded, starts);
        let exceptions: Vec<(String, bool)> = term.except.iter().map(literal).collect();
        let covers = every_hit(&exceptions, folded, starts);
        own.into_iter()
            .map(|(_, start, end)| start..end)
            .partition(|hit| {
                !covers
                    .iter()
                    .any(|(_, start, end)| *start <= hit.start && hit.end <= *end)
            })
    }

    fn compiled_alone(term: &TermConfig) -> (CompiledTerm, Literals) {
        let mut builder = LiteralsBuilder::default();
        let compiled = CompiledTerm::compile(term, &mut builder);
        (compiled, builder.build())
    }

    fn split_by_the_engine(
        (compiled, literals): &(CompiledTerm, Literals),
        folded: &str,
        starts: &[usize],
    ) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
        let mut hits = Hits::default();
        literals.scan(folded.as_bytes(), starts, &mut hits);
        let text = FoldedText::new(folded.as_bytes(), starts);
        let found = compiled.hit_ranges(&text, &hits, None);
        (found.kept, found.cancelled)
    }

    fn folded_with_starts(text: &str) -> (String, Vec<usize>) {
        let mut folded = Vec::new();
        let mut starts = Vec::new();
        fold::fold_bytes(&mut folded, text, &mut starts);
        (String::from_utf8(folded).unwrap(), starts)
    }

    #[test]
    fn a_phrase_that_begins_with_a_short_word_is_keyed_by_a_longer_later_one() {
        let offset =
            |pattern: &str, prefix: bool| keyed_word(pattern, &LiteralRule::of(pattern, prefix));
        assert_eq!(offset("in sumy", false), 3);
        assert_eq!(offset("по киевски", false), "по ".len());
        assert_eq!(offset("kim and putin", false), "kim and ".len());
        assert_eq!(offset("u boot kursk", false), "u boot ".len());
        assert_eq!(offset("kim jong un", true), "kim ".len());
        // A first word of four characters or more, one word, only short words, CJK: as is.
        assert_eq!(offset("north korea", false), 0);
        assert_eq!(offset("ukrain", true), 0);
        assert_eq!(offset("in the", false), 0);
        assert_eq!(offset("北 朝鮮", false), 0);
        assert_eq!(offset("ли 朝鮮中央", false), 0);

        // The scan finds them where comparing every literal at every start does: at the
        // text's start, after a space, not after a longer word, not across fields.
        let patterns: Vec<(String, bool)> = [
            ("in sumy", false),
            ("по киевски", false),
            ("kim and putin", false),
            ("u boot kursk", true),
            ("kim jong un", true),
            ("sumy", false),
        ]
        .iter()
        .map(|(pattern, prefix)| (pattern.to_string(), *prefix))
        .collect();
        let mut builder = LiteralsBuilder::default();
        for (pattern, prefix) in &patterns {
            builder.add(pattern.clone(), *prefix);
        }
        let literals = builder.build();
        let under_sumy = literals.table.under(key_at(b"sumy", 0));
        assert_eq!(under_sumy.len(), 2, "in sumy and sumy share a key");
        assert!(literals.table.under(key_at(b"in", 0)).is_empty());
        let mut hits = Hits::default();
        for text in [
            "In Sumy, and in sumy again; within sumy; in\nsumy; in  Sumy",
            "Kim and Putin. Kim Jong Un, kim jong unis; xkim and putin; kim and putins",
            "По-киевски и по киевски; до киевски",
            "U-Boot Kursk; U-Boot Kurskaja; du boot kursk; sumy in sumy",
            "in sumy",
        ] {
            let (folded, starts) = folded_with_starts(text);
            literals.scan(folded.as_bytes(), &starts, &mut hits);
            assert_eq!(
                hits.all(),
                every_hit(&patterns, &folded, &starts),
                "in {folded:?}"
            );
            assert!(hits.count > 0);
        }
    }

    #[test]
    fn hits_of_an_earlier_text_are_not_read_as_this_ones() {
        // The hits are grouped by literal in slots kept between texts: a slot written for
        // one text must read as empty for the next, also when the stamps wrap around.
        let mut builder = LiteralsBuilder::default();
        let kiev = builder.add("kiev".to_string(), false);
        let sumy = builder.add("sumy".to_string(), false);
        let literals = builder.build();
        let spans = |ranges: &[Range<usize>]| -> Vec<(usize, usize)> {
            ranges
                .iter()
                .map(|range| (range.start, range.end))
                .collect()
        };
        let mut hits = Hits::default();
        for stamp in [0, u32::MAX - 1, u32::MAX] {
            hits.stamp = stamp;
            let (folded, starts) = folded_with_starts("Kiev, Sumy and Kiev again");
            literals.scan(folded.as_bytes(), &starts, &mut hits);
            assert_eq!(spans(hits.of(kiev)), [(0, 4), (14, 18)]);
            assert_eq!(spans(hits.of(sumy)), [(5, 9)]);
            assert_eq!(hits.literals().collect::<Vec<_>>(), [kiev, sumy]);
            let (folded, starts) = folded_with_starts("Sumy");
            literals.scan(folded.as_bytes(), &starts, &mut hits);
            assert!(hits.of(kiev).is_empty(), "after stamp {stamp}");
            assert_eq!(spans(hits.of(sumy)), [(0, 4)]);
            assert_eq!(hits.literals().collect::<Vec<_>>(), [sumy]);
        }
    }

    #[test]
    fn exceptions_stay_out_of_the_scan_table() {
        // A term with three exceptions is one literal to scan for: the exceptions are looked
        // for only around the term's hits, so `frango a kiev` costs nothing at each `france`.
        let mut builder = LiteralsBuilder::default();
        let term = literal_term("kiev*", &["frango a kiev", "chicken kiev", "kiev born"]);
        let compiled = CompiledTerm::compile(&term, &mut builder);
        let literals = builder.build();
        assert_eq!(literals.count(), 1);
        let (folded, starts) = folded_with_starts("France: frango à Kiev, a Kiev classic");
        let mut hits = Hits::default();
        literals.scan(folded.as_bytes(), &starts, &mut hits);
        assert_eq!(hits.all().len(), 2, "{:?}", hits.all());
        let text = FoldedText::new(folded.as_bytes(), &starts);
        let found = compiled.hit_ranges(&text, &hits, None);
        assert_eq!(found.cancelled.len(), 1);
        assert_eq!(&folded[found.kept[0].clone()], "kiev");
        assert!(found.kept[0].start > found.cancelled[0].start);
    }

    #[test]
    fn exceptions_cancel_what_they_would_cancel_had_the_scan_found_them() {
        let cases: &[(&str, &[&str], &str)] = &[
            // Before, at and around the hit; prefixes on both sides.
            (
                "kiev*",
                &["chicken kiev", "kiev born", "the kiev ballet"],
                "Chicken Kiev, Kiev-born, kievan; the Kiev ballet in Kiev",
            ),
            (
                "kiev*",
                &["chicken kiev*"],
                "chicken kiev and chicken kievs, but not chickenkiev",
            ),
            (
                "kursk*",
                &["battle of kursk", "kursk submarine"],
                "the battle of Kursk; Kursk region; the Kursk submarine sank",
            ),
            // An exception shorter than the hit, or one that only overlaps it, never cancels.
            (
                "north korea*",
                &["north", "korean bbq", "north korean bbq"],
                "North Korean BBQ and North Korea",
            ),
            // Inside CJK words: the exception may start before the term, inside a word.
            (
                "북한",
                &["북한산", "북한강"],
                "북한산 국립공원, 북한강 자전거길, 북한은 미사일을",
            ),
            (
                "朝鲜",
                &["朝鲜族", "中国朝鲜"],
                "中国朝鲜族歌舞团; 朝鲜试射导弹; 在中国朝鲜",
            ),
            // Across fields: a phrase never spans the newline.
            ("kiev", &["chicken kiev"], "chicken\nkiev"),
            (
                "odesa*",
                &["odesa texas"],
                "Odesa Texas; Odesa, Texas; Odesa",
            ),
        ];
        for (term, except, text) in cases {
            let term = literal_term(term, except);
            let (folded, starts) = folded_with_starts(&text.replace("\\n", "\n"));
            let engine = split_by_the_engine(&compiled_alone(&term), &folded, &starts);
            let slow = split_the_slow_way(&term, &folded, &starts);
            assert_eq!(engine, slow, "{term:?} in {folded:?}");
            assert!(!engine.1.is_empty(), "nothing cancelled in {folded:?}");
        }
    }

    #[test]
    fn exceptions_drawn_from_the_corpus_cancel_as_the_scan_would() {
        // Terms and exceptions from the corpus's own words (each word with the word before
        // it, after it, or both, as exceptions; or a prefix of it), over every line: the
        // exceptions looked for around hits cancel exactly what scanning for them would.
        let Some(lines) = fold::tests::shared_text_lines() else {
            return;
        };
        let mut terms = Vec::new();
        for line in lines.iter().step_by(211).take(40) {
            let folded = fold::fold(line);
            let words: Vec<&str> = folded
                .split([' ', '\n'])
                .filter(|w| !w.is_empty())
                .collect();
            for index in (1..words.len().saturating_sub(1)).step_by(7) {
                let (before, word, after) = (words[index - 1], words[index], words[index + 1]);
                let cut: String = word.chars().take(3).collect();
                terms.push(literal_term(
                    word,
                    &[&format!("{before} {word}"), &format!("{word} {after}*")],
                ));
                terms.push(literal_term(
                    &format!("{cut}*"),
                    &[&format!("{before} {word} {after}"), word],
                ));
            }
        }
        assert!(terms.len() > 50, "{}", terms.len());
        let compiled: Vec<_> = terms.iter().map(compiled_alone).collect();
        let (mut kept, mut cancelled) = (0, 0);
        for line in lines.iter().step_by(31) {
            let (folded, starts) = folded_with_starts(line);
            for (term, compiled) in terms.iter().zip(&compiled) {
                let engine = split_by_the_engine(compiled, &folded, &starts);
                let slow = split_the_slow_way(term, &folded, &starts);
                assert_eq!(engine, slow, "{term:?} in {folded:?}");
                kept += engine.0.len();
                cancelled += engine.1.len();
            }
        }
        assert!(
            kept > 1_000 && cancelled > 1_000,
            "{kept} kept, {cancelled} cancelled"
        );
    }

    /// A regex term's pattern as `config` builds it (case-insensitive, Unicode).
    fn term_regex(pattern: &str) -> Regex {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .unicode(true)
            .build()
            .unwrap()
    }

    #[test]
    fn regexes_run_on_the_bytes_find_what_they_find_in_the_text() {
        // Over every line of the corpus and the labelled headlines, folded: the bytes regex
        // a term runs finds the same ranges as the checked string regex `config` built.
        let Some(lines) = fold::tests::shared_text_lines() else {
            return;
        };
        let regexes: Vec<Regex> = [
            "北[美中日韓]? ?[가-힣]",
            "\\b북\\b",
            "\\bkim\\b.{0,20}\\bjong",
            "[а-яё]+ов\\b",
            "\\w+ (?:korea|кореи)",
            "é|ü",
            ".",
        ]
        .iter()
        .map(|pattern| term_regex(pattern))
        .collect();
        let runs: Vec<RegexRun> = regexes.iter().map(RegexRun::of).collect();
        assert!(runs.iter().all(|run| matches!(run, RegexRun::Bytes(_))));
        let mut found = 0;
        for line in lines.iter().step_by(3) {
            let (folded, starts) = folded_with_starts(line);
            let text = FoldedText::new(folded.as_bytes(), &starts);
            for (regex, run) in regexes.iter().zip(&runs) {
                let expected: Vec<Range<usize>> = regex
                    .find_iter(&folded)
                    .map(|found| found.range())
                    .collect();
                assert_eq!(run.find_ranges(&text), expected, "{regex} in {folded:?}");
                found += expected.len();
            }
        }
        assert!(found > 10_000, "{found}");
    }

    #[test]
    fn regexes_that_need_a_character_beyond_ascii_are_known() {
        for pattern in [
            "北[美中日韓]? ?[가-힣]",
            "[가-힣]+",
            "é",
            "x?ж",
            "(kim )?북한",
            "(?:北|南)朝鮮",
            "[а-я]{2,}",
        ] {
            assert!(needs_non_ascii_of(pattern), "{pattern}");
        }
        // Case-insensitive, as terms are: ſ and the Kelvin sign match `s` and `k`.
        for pattern in [
            "kim", "ſ", "\u{212A}", "é|e", "é?", "[a-é]", "北|kim", "(?:北)*", "\\w+", "^$",
        ] {
            assert!(!needs_non_ascii_of(pattern), "{pattern}");
        }
    }

    #[test]
    fn a_regex_skipped_on_ascii_text_would_not_have_matched_there() {
        // Over every line of the corpus and the labelled headlines, folded: where a regex the
        // engine skips on all-ASCII text meets such a line, running it finds nothing.
        let Some(lines) = fold::tests::shared_text_lines() else {
            return;
        };
        let regexes: Vec<Regex> = [
            "北[美中日韓]? ?[가-힣]",
            "(?:kim )?(?:북한|朝鲜)",
            "[а-яё]+",
            "é",
            "[^\\x00-\\x7F]",
        ]
        .iter()
        .map(|pattern| {
            assert!(needs_non_ascii_of(pattern), "{pattern}");
            term_regex(pattern)
        })
        .collect();
        let (mut ascii_lines, mut other_hits) = (0, 0);
        for line in &lines {
            let folded = fold::fold(line);
            for regex in &regexes {
                if folded.is_ascii() {
                    assert!(!regex.is_match(&folded), "{regex} in {folded:?}");
                } else {
                    other_hits += usize::from(regex.is_match(&folded));
                }
            }
            ascii_lines += usize::from(folded.is_ascii());
        }
        assert!(
            ascii_lines > 10_000 && other_hits > 100,
            "{ascii_lines} {other_hits}"
        );
    }

    #[test]
    fn the_table_finds_what_comparing_every_literal_everywhere_finds() {
        // Literals of every shape: one byte, shorter than a key, exactly a key, longer than
        // eight bytes, phrases whose first word is short, prefixes of every length, CJK of one
        // character (which runs on inside words) and more, sharing keys and first bytes.
        let written = [
            "a",
            "a*",
            "k",
            "ki*",
            "kim",
            "kim*",
            "kim jong",
            "kim jong*",
            "kims",
            "kimchi",
            "un",
            "un*",
            "un sec",
            "ukrai*",
            "ukraine",
            "ukrainekrieg",
            "ukraine war",
            "ukraine war*",
            "nordkorea*",
            "nordkoreanska",
            "north korea",
            "north korean*",
            "1234",
            "12*",
            "北",
            "北*",
            "북한",
            "북한*",
            "북한산",
            "朝鲜",
            "朝鲜族",
            "鲜",
            "dprk 朝鲜",
            "朝鲜 dprk",
            "ж",
            "жб*",
            "жбв",
            "ß",
            "strasse",
            "x y z",
            "y",
            // Longer than eight bytes and than sixteen (compared in two numbers, then the rest).
            "ukrainekriegs*",
            "ukrainekriegsend",
            "ukrainekriegsende",
            "ukrainekriegsenden*",
            "nordkoreanska krigsfangen",
            "зеленский",
            "зеленск*",
        ];
        let mut builder = LiteralsBuilder::default();
        let mut patterns = Vec::new();
        for term in written {
            let prefix = term.ends_with('*');
            let folded = fold(term.trim_end_matches('*'));
            assert_eq!(
                builder.add(folded.clone(), prefix),
                patterns.len(),
                "{term}"
            );
            patterns.push((folded, prefix));
        }
        let literals = builder.build();
        let texts = [
            "Kim Jong Un, Kim Jong-un's kimchi; kims KIM un sec, unsecured UN",
            "Ukraine war: Ukrainekrieg, ukraine warfare, Ukrainian, UKRAINE",
            "Nordkoreanska nordkoreanskt North Korea North Koreans north\nkorea",
            "北朝鲜族 朝鲜DPRK 북한은 북한산에 북한 鲜 a k ki kit 1234 12345 123",
            "ж жб жбв жбвг Straße x y z x y zz y",
            "a",
            "ukrai",
            "Ukrainekriegsende ukrainekriegsend, Ukrainekriegsenden ukrainekriegsendes ukrainekriegs",
            "Nordkoreanska krigsfången; nordkoreanska krigsfångar, Зеленский Зеленского зеленскии",
            "ukrainekriegsen",
            "ukrainekriegsende",
            "nordkoreanska krigsfang",
            "",
        ];
        let mut total = 0;
        for text in texts {
            for text in [text.to_string(), format!("{text}\n{text}\nx {text}")] {
                let mut folded = Vec::new();
                let mut starts = Vec::new();
                fold::fold_bytes(&mut folded, &text, &mut starts);
                let folded = String::from_utf8(folded).unwrap();
                let mut hits = Hits::default();
                literals.scan(folded.as_bytes(), &starts, &mut hits);
                let expected = every_hit(&patterns, &folded, &starts);
                assert_eq!(hits.all(), expected, "in {folded:?}");
                total += expected.len();
            }
        }
        assert!(total > 150, "only {total} hits");
    }

    #[test]
    fn the_table_finds_what_comparing_every_literal_finds_in_the_corpus() {
        // Literals drawn from the corpus itself (so the bit filter and the short literals'
        // first bytes let many places through, and turn many away): words, prefixes of
        // every length, two-word phrases and CJK runs, then every line scanned both ways.
        let Some(lines) = fold::tests::shared_text_lines() else {
            return;
        };
        let lines: Vec<String> = lines.iter().map(|line| fold::fold(line)).collect();
        let mut patterns: Vec<(String, bool)> = Vec::new();
        for line in lines.iter().step_by(97) {
            let words: Vec<&str> = line.split(' ').filter(|word| !word.is_empty()).collect();
            for (index, word) in words.iter().enumerate().step_by(5) {
                let characters: Vec<char> = word.chars().collect();
                let cut = |keep: usize| characters.iter().take(keep).collect::<String>();
                let pattern = match index % 4 {
                    0 => ((*word).to_string(), false),
                    1 => (cut(1 + index % 6), true),
                    2 => match words.get(index + 1) {
                        Some(next) => (format!("{word} {next}"), index % 3 == 0),
                        None => ((*word).to_string(), true),
                    },
                    _ => (cut(2 + index % 3), index % 2 == 0),
                };
                if !patterns.contains(&pattern) {
                    patterns.push(pattern);
                }
            }
        }
        patterns.truncate(150);
        let mut builder = LiteralsBuilder::default();
        for (pattern, prefix) in &patterns {
            builder.add(pattern.clone(), *prefix);
        }
        let literals = builder.build();
        assert!(
            !literals.table.short.is_empty() && literals.table.candidates.len() > 100,
            "{patterns:?}"
        );
        let (mut total, mut starts_seen) = (0, 0);
        let mut hits = Hits::default();
        for line in lines.iter().step_by(3) {
            let mut folded = Vec::new();
            let mut starts = Vec::new();
            fold::fold_bytes(&mut folded, line, &mut starts);
            let folded = String::from_utf8(folded).unwrap();
            literals.scan(folded.as_bytes(), &starts, &mut hits);
            let expected = every_hit(&patterns, &folded, &starts);
            assert_eq!(hits.all(), expected, "in {folded:?}");
            total += expected.len();
            starts_seen += starts.len();
        }
        assert!(
            total > 2_000 && total < starts_seen,
            "{total} hits of {starts_seen} starts"
        );
    }
}
