//! Terms, compiled: every literal (word, phrase, prefix, CJK) of every topic, exceptions
//! included, goes into one Aho-Corasick automaton, so an item's folded text is scanned once
//! whatever the number of topics and terms. Hits are then checked against word boundaries:
//! folded text is words separated by single spaces (see `fold`), and the fields of an item
//! (title, summary, content) separated by a newline, so a hit must start after a space or
//! newline or at the start, and (unless the term ends with `*`) end before one or at the end.
//! A phrase never spans two fields. CJK terms skip the check, because in those scripts a word
//! runs on into its particles (북한 in 북한은). `/regex/` terms are run on their own, and only
//! when asked.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;

use super::fold::{fold, is_cjk};
use crate::config::{Location, TermConfig, TermSyntax};

/// Index of a literal in the automaton.
pub type LiteralId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LiteralRule {
    prefix: bool,
    inside_words: bool,
}

/// Every literal of a topic set, and the automaton that finds them all in one pass.
#[derive(Debug, Clone)]
pub struct Literals {
    automaton: Option<AhoCorasick>,
    rules: Vec<LiteralRule>,
}

/// Collects literals while terms compile; `build` makes the automaton.
#[derive(Debug, Default)]
pub struct LiteralsBuilder {
    ids: HashMap<(String, LiteralRule), LiteralId>,
    patterns: Vec<String>,
    rules: Vec<LiteralRule>,
}

impl LiteralsBuilder {
    fn add(&mut self, folded: String, prefix: bool) -> LiteralId {
        let rule = LiteralRule {
            prefix,
            inside_words: folded.chars().any(is_cjk),
        };
        let next = self.patterns.len();
        *self.ids.entry((folded.clone(), rule)).or_insert_with(|| {
            self.patterns.push(folded);
            self.rules.push(rule);
            next
        })
    }

    pub fn build(self) -> Literals {
        let automaton = (!self.patterns.is_empty())
            .then(|| {
                // A full DFA: a few hundred terms make a small one, and every item's text is
                // scanned with it, so the faster search is worth its memory.
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&self.patterns)
                    .ok()
            })
            .flatten();
        Literals {
            automaton,
            rules: self.rules,
        }
    }
}

/// The hits of every literal in one folded text, found in one scan: sparse, because a text
/// hits few of thousands of literals. Sorted by literal, so one literal's hits are a slice.
#[derive(Debug, Default)]
pub struct Hits {
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

    pub fn scan(&self, folded: &str) -> Hits {
        let mut found_hits: Vec<(LiteralId, Range<usize>)> = Vec::new();
        if let Some(automaton) = &self.automaton {
            let bytes = folded.as_bytes();
            for found in automaton.find_overlapping_iter(folded) {
                let literal = found.pattern().as_usize();
                let Some(rule) = self.rules.get(literal) else {
                    continue;
                };
                let hit = found.range();
                if !rule.inside_words {
                    let starts_word = hit.start == 0 || is_boundary(bytes[hit.start - 1]);
                    let ends_word = hit.end == bytes.len() || is_boundary(bytes[hit.end]);
                    if !starts_word || !(rule.prefix || ends_word) {
                        continue;
                    }
                }
                found_hits.push((literal, hit));
            }
        }
        // Stable: a literal's hits stay in text order.
        found_hits.sort_by_key(|(literal, _)| *literal);
        let (literals, ranges) = found_hits.into_iter().unzip();
        Hits { literals, ranges }
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
