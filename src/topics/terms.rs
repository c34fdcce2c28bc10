//! Terms, compiled: every literal (word, phrase, prefix, CJK) of every topic, exceptions
//! included, goes into one Aho-Corasick automaton (a compact, contiguous NFA), so an item's
//! folded text is read once whatever the number of topics and terms. Folded text is words
//! separated by single spaces (see `fold`), and the fields of an item (title, summary,
//! content) separated by a newline. A literal is looked for where words start: the automaton
//! is walked from each word's first byte until no literal can go on, so a hit always starts at
//! a word start, and (unless the term ends with `*`) must end before a space or newline or at
//! the end. A phrase never spans two fields. In CJK words (Han, Kana, Hangul, Thai...) a
//! literal that starts with such a character may also start at any character, and one that
//! ends with one needs no boundary after it, because in those scripts a word runs on into its
//! particles (북한 in 북한은). `/regex/` terms are run on their own, and only when asked.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};
use regex::Regex;

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
    /// Its length in bytes.
    length: usize,
}

impl LiteralRule {
    fn of(folded: &str, prefix: bool) -> LiteralRule {
        LiteralRule {
            prefix,
            starts_inside: folded.chars().next().is_some_and(is_cjk),
            ends_inside: folded.chars().next_back().is_some_and(is_cjk),
            length: folded.len(),
        }
    }
}

/// Every literal of a topic set, and the automaton that finds them all in one pass.
#[derive(Debug, Clone)]
pub struct Literals {
    automaton: Option<NFA>,
    rules: Vec<LiteralRule>,
    pairs: Pairs,
}

/// The first two bytes of every literal (any second byte for a literal of one byte), as a set
/// of 65,536 bits: a word whose first two bytes are not in it starts no literal.
#[derive(Debug, Clone)]
struct Pairs(Vec<u64>);

impl Pairs {
    fn of(patterns: &[String]) -> Pairs {
        let mut pairs = Pairs(vec![0; 65_536 / 64]);
        for pattern in patterns {
            match *pattern.as_bytes() {
                [first] => (0..=255).for_each(|second| pairs.insert(first, second)),
                [first, second, ..] => pairs.insert(first, second),
                [] => {}
            }
        }
        pairs
    }

    fn insert(&mut self, first: u8, second: u8) {
        let bit = usize::from(first) << 8 | usize::from(second);
        if let Some(word) = self.0.get_mut(bit / 64) {
            *word |= 1 << (bit % 64);
        }
    }

    fn contains(&self, first: u8, second: u8) -> bool {
        let bit = usize::from(first) << 8 | usize::from(second);
        self.0
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }
}

/// Collects literals while terms compile; `build` makes the automaton.
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
        // A contiguous NFA rather than a full DFA: walks are short (most die within a few
        // bytes of a word start) and never follow failure transitions, so what counts is that
        // the automaton stays in the cache. A DFA for 2,000 terms is megabytes (states times
        // byte classes) and every step was a cache miss.
        let automaton = (!self.patterns.is_empty())
            .then(|| {
                NFA::builder()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&self.patterns)
                    .ok()
            })
            .flatten();
        Literals {
            automaton,
            pairs: Pairs::of(&self.patterns),
            rules: self.rules,
        }
    }
}

/// The hits of every literal in one folded text, found in one scan: sparse, because a text
/// hits few of thousands of literals. Sorted by literal, so one literal's hits are a slice.
/// Kept between items (see `TopicSet::match_item`), so its buffers are reused.
#[derive(Debug, Default)]
pub struct Hits {
    found: Vec<(LiteralId, usize, usize)>,
    literals: Vec<LiteralId>,
    ranges: Vec<Range<usize>>,
}

impl Hits {
    fn of(&self, literal: LiteralId) -> &[Range<usize>] {
        let start = self.literals.partition_point(|id| *id < literal);
        let end = start + self.literals[start..].partition_point(|id| *id == literal);
        &self.ranges[start..end]
    }

    /// The literals that hit, each once, in order.
    pub fn literals(&self) -> impl Iterator<Item = LiteralId> + '_ {
        let mut last = None;
        self.literals.iter().copied().filter(move |literal| {
            let new = last != Some(*literal);
            last = Some(*literal);
            new
        })
    }
}

impl Literals {
    /// How many distinct literals there are.
    pub fn count(&self) -> usize {
        self.rules.len()
    }

    /// Finds every literal in `folded`, into `hits` (whose earlier hits are dropped), walking
    /// from the `starts` folding reported.
    pub fn scan(&self, folded: &str, starts: &[usize], hits: &mut Hits) {
        hits.found.clear();
        hits.literals.clear();
        hits.ranges.clear();
        let Some(automaton) = &self.automaton else {
            return;
        };
        let Ok(start_state) = automaton.start_state(Anchored::Yes) else {
            return;
        };
        let bytes = folded.as_bytes();
        for &start in starts {
            let (at, inside) = (start / 2, start % 2 == 1);
            // Most words start no literal: two bytes tell, without the automaton.
            let Some(&first) = bytes.get(at) else {
                continue;
            };
            let second = bytes.get(at + 1).copied().unwrap_or_default();
            if !self.pairs.contains(first, second) {
                continue;
            }
            self.walk(automaton, start_state, bytes, at, inside, &mut hits.found);
        }
        // By literal, then in text order.
        hits.found.sort_unstable();
        for (literal, start, end) in &hits.found {
            hits.literals.push(*literal);
            hits.ranges.push(*start..*end);
        }
    }

    /// Follows the automaton from `start` (a word start, or a character inside a CJK word
    /// when `inside`) for as long as some literal can go on, and keeps the literals that end on
    /// the way and fit the word boundaries.
    #[inline]
    fn walk(
        &self,
        automaton: &NFA,
        start_state: StateID,
        bytes: &[u8],
        start: usize,
        inside: bool,
        found: &mut Vec<(LiteralId, usize, usize)>,
    ) {
        let mut state = start_state;
        for (offset, &byte) in bytes.get(start..).unwrap_or_default().iter().enumerate() {
            state = automaton.next_state(Anchored::Yes, state, byte);
            if !automaton.is_special(state) {
                continue;
            }
            if automaton.is_dead(state) {
                return;
            }
            if !automaton.is_match(state) {
                continue;
            }
            let end = start + offset + 1;
            for index in 0..automaton.match_len(state) {
                let literal = automaton.match_pattern(state, index).as_usize();
                let Some(rule) = self.rules.get(literal) else {
                    continue;
                };
                // The automaton also reports literals that end here but start later (the
                // suffixes of what was walked): only those starting here count.
                if rule.length != end - start || (inside && !rule.starts_inside) {
                    continue;
                }
                let ends_word = bytes.get(end).is_none_or(|byte| is_boundary(*byte));
                if ends_word || rule.prefix || rule.ends_inside {
                    found.push((literal, start, end));
                }
            }
        }
    }
}

/// A word boundary in folded text: the space between words, the newline between fields.
fn is_boundary(byte: u8) -> bool {
    byte == b' ' || byte == b'\n'
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
    Regex(Regex),
    /// A literal that folds to nothing (only punctuation): it can never match.
    Nothing,
}

#[derive(Debug, Clone)]
pub struct CompiledTerm {
    /// The term as written in `feeds.toml`.
    pub source: String,
    /// Where it is written.
    pub location: Location,
    pattern: Pattern,
    except: Vec<Pattern>,
    /// The term and its exceptions as folded literals (`None` for a regex), for warnings.
    pub folded: Option<FoldedLiteral>,
    pub folded_except: Vec<Option<FoldedLiteral>>,
    /// The exceptions as written, for warnings.
    pub except_sources: Vec<String>,
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
        let (except, folded_except) = term
            .except
            .iter()
            .map(|syntax| Pattern::compile(syntax, literals))
            .unzip();
        CompiledTerm {
            source: term.source.clone(),
            location: term.location,
            pattern,
            except,
            folded,
            folded_except,
            except_sources: term.except_sources.clone(),
        }
    }

    /// Whether the term hits anywhere in `folded` (within `allowed`) outside the cover of its
    /// exceptions.
    pub fn hits(&self, folded: &str, hits: &Hits, allowed: Allowed<'_>) -> bool {
        if let (Pattern::Literal(literal), true, None) =
            (&self.pattern, self.except.is_empty(), allowed)
        {
            // The common case: no exceptions, every field. No ranges to compare.
            return !hits.of(*literal).is_empty();
        }
        !self.hit_ranges(folded, hits, allowed).kept.is_empty()
    }

    /// Every hit of the term, split into those that count and those an exception covers.
    pub fn hit_ranges(&self, folded: &str, hits: &Hits, allowed: Allowed<'_>) -> TermHits {
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
        let covers: Vec<Range<usize>> = self
            .except
            .iter()
            .flat_map(|pattern| pattern.hits(folded, hits).into_owned())
            .collect();
        let (cancelled, kept) = own.into_iter().partition(|hit| {
            covers
                .iter()
                .any(|cover| cover.start <= hit.start && hit.end <= cover.end)
        });
        TermHits { kept, cancelled }
    }

    /// Whether the term is a literal with no exceptions: it hits wherever its literal does.
    pub fn is_plain(&self) -> bool {
        matches!(self.pattern, Pattern::Literal(_)) && self.except.is_empty()
    }

    /// Whether the term needs a regex run (its own pattern or an exception is a regex): such
    /// terms are looked at only when the cheaper ones leave the answer open.
    pub fn needs_regex(&self) -> bool {
        matches!(self.pattern, Pattern::Regex(_))
            || self
                .except
                .iter()
                .any(|pattern| matches!(pattern, Pattern::Regex(_)))
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
        matches!(self.pattern, Pattern::Regex(_))
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
    fn compile(
        syntax: &TermSyntax,
        literals: &mut LiteralsBuilder,
    ) -> (Pattern, Option<FoldedLiteral>) {
        match syntax {
            TermSyntax::Literal { text, prefix } => {
                let folded = fold(text);
                let literal = FoldedLiteral {
                    inside_words: folded.chars().any(is_cjk),
                    text: folded.clone(),
                    prefix: *prefix,
                };
                if folded.is_empty() {
                    (Pattern::Nothing, Some(literal))
                } else {
                    (
                        Pattern::Literal(literals.add(folded, *prefix)),
                        Some(literal),
                    )
                }
            }
            TermSyntax::Regex(regex) => (Pattern::Regex(regex.clone()), None),
        }
    }

    fn hits<'a>(&self, folded: &str, hits: &'a Hits) -> Cow<'a, [Range<usize>]> {
        match self {
            Pattern::Literal(literal) => Cow::Borrowed(hits.of(*literal)),
            Pattern::Regex(regex) => {
                #[cfg(test)]
                REGEX_RUNS.with(|runs| runs.set(runs.get() + 1));
                Cow::Owned(regex.find_iter(folded).map(|found| found.range()).collect())
            }
            Pattern::Nothing => Cow::Borrowed(&[]),
        }
    }
}

#[cfg(test)]
thread_local! {
    /// How many times a regex ran on this thread, so tests can see that regexes run only when
    /// the literals leave a match possible.
    pub static REGEX_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}
