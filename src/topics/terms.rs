//! Terms, compiled: every literal (word, phrase, prefix, CJK) of every topic, exceptions
//! included, goes into one Aho-Corasick automaton, so an item's folded text is scanned once
//! whatever the number of topics and terms. Hits are then checked against word boundaries:
//! folded text is words separated by single spaces (see `fold`), so a hit must start after a
//! space or at the start, and (unless the term ends with `*`) end before a space or at the
//! end. CJK terms skip the check, because in those scripts a word runs on into its particles
//! (북한 in 북한은). `/regex/` terms are run on their own, and only when asked.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;

use super::fold::{fold, is_cjk};
use crate::config::{TermConfig, TermSyntax};

/// Index of a literal in the automaton.
type LiteralId = usize;

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

/// The hits of every literal in one folded text, found in one scan.
#[derive(Debug)]
pub struct Hits {
    by_literal: Vec<Vec<Range<usize>>>,
}

impl Literals {
    pub fn scan(&self, folded: &str) -> Hits {
        let mut by_literal = vec![Vec::new(); self.rules.len()];
        if let Some(automaton) = &self.automaton {
            let bytes = folded.as_bytes();
            for found in automaton.find_overlapping_iter(folded) {
                let literal = found.pattern().as_usize();
                let Some(rule) = self.rules.get(literal) else {
                    continue;
                };
                let hit = found.range();
                if !rule.inside_words {
                    let starts_word = hit.start == 0 || bytes[hit.start - 1] == b' ';
                    let ends_word = hit.end == bytes.len() || bytes[hit.end] == b' ';
                    if !starts_word || !(rule.prefix || ends_word) {
                        continue;
                    }
                }
                by_literal[literal].push(hit);
            }
        }
        Hits { by_literal }
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
    pattern: Pattern,
    except: Vec<Pattern>,
}

impl CompiledTerm {
    pub fn compile(term: &TermConfig, literals: &mut LiteralsBuilder) -> CompiledTerm {
        CompiledTerm {
            source: term.source.clone(),
            pattern: Pattern::compile(&term.syntax, literals),
            except: term
                .except
                .iter()
                .map(|syntax| Pattern::compile(syntax, literals))
                .collect(),
        }
    }

    /// Whether the term hits anywhere in `folded` outside the cover of its exceptions.
    pub fn hits(&self, folded: &str, hits: &Hits) -> bool {
        let own = self.pattern.hits(folded, hits);
        if own.is_empty() || self.except.is_empty() {
            return !own.is_empty();
        }
        let covers: Vec<Range<usize>> = self
            .except
            .iter()
            .flat_map(|pattern| pattern.hits(folded, hits).into_owned())
            .collect();
        own.iter().any(|hit| {
            !covers
                .iter()
                .any(|cover| cover.start <= hit.start && hit.end <= cover.end)
        })
    }

    /// Whether the term is a regex (run only when the cheaper terms leave the answer open).
    pub fn is_regex(&self) -> bool {
        matches!(self.pattern, Pattern::Regex(_))
    }
}

impl Pattern {
    fn compile(syntax: &TermSyntax, literals: &mut LiteralsBuilder) -> Pattern {
        match syntax {
            TermSyntax::Literal { text, prefix } => {
                let folded = fold(text);
                if folded.is_empty() {
                    Pattern::Nothing
                } else {
                    Pattern::Literal(literals.add(folded, *prefix))
                }
            }
            TermSyntax::Regex(regex) => Pattern::Regex(regex.clone()),
        }
    }

    fn hits<'a>(&self, folded: &str, hits: &'a Hits) -> Cow<'a, [Range<usize>]> {
        match self {
            Pattern::Literal(literal) => hits
                .by_literal
                .get(*literal)
                .map_or(Cow::Borrowed(&[][..]), |found| {
                    Cow::Borrowed(found.as_slice())
                }),
            Pattern::Regex(regex) => {
                Cow::Owned(regex.find_iter(folded).map(|found| found.range()).collect())
            }
            Pattern::Nothing => Cow::Borrowed(&[]),
        }
    }
}
