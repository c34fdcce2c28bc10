//! One term, compiled: where it hits in folded text, and which hits its exceptions cancel.
//!
//! Folded text is words separated by single spaces (see `fold`), so a word or phrase is found
//! by a substring search followed by a check that the hit starts and ends on word boundaries.
//! CJK terms skip the boundary check, because in those scripts a word runs on into its
//! particles (북한 in 북한은). Owns nothing but this.

use std::ops::Range;

use regex::Regex;

use super::fold::{fold, is_cjk};
use crate::config::{TermConfig, TermSyntax};

#[derive(Debug, Clone)]
pub struct CompiledTerm {
    /// The term as written in `feeds.toml`.
    pub source: String,
    pattern: Pattern,
    except: Vec<Pattern>,
}

#[derive(Debug, Clone)]
enum Pattern {
    /// Folded words; `prefix` lets the last word run on; `inside_words` drops the boundary
    /// checks (CJK).
    Literal {
        folded: String,
        prefix: bool,
        inside_words: bool,
    },
    Regex(Regex),
}

impl CompiledTerm {
    pub fn compile(term: &TermConfig) -> CompiledTerm {
        CompiledTerm {
            source: term.source.clone(),
            pattern: Pattern::compile(&term.syntax),
            except: term.except.iter().map(Pattern::compile).collect(),
        }
    }

    /// Whether the term hits anywhere in `folded` outside the cover of its exceptions.
    pub fn hits(&self, folded: &str) -> bool {
        let hits = self.pattern.hits(folded);
        if hits.is_empty() {
            return false;
        }
        if self.except.is_empty() {
            return true;
        }
        let covers: Vec<Range<usize>> = self
            .except
            .iter()
            .flat_map(|pattern| pattern.hits(folded))
            .collect();
        hits.iter().any(|hit| {
            !covers
                .iter()
                .any(|cover| cover.start <= hit.start && hit.end <= cover.end)
        })
    }
}

impl Pattern {
    fn compile(syntax: &TermSyntax) -> Pattern {
        match syntax {
            TermSyntax::Literal { text, prefix } => {
                let folded = fold(text);
                let inside_words = folded.chars().any(is_cjk);
                Pattern::Literal {
                    folded,
                    prefix: *prefix,
                    inside_words,
                }
            }
            TermSyntax::Regex(regex) => Pattern::Regex(regex.clone()),
        }
    }

    /// Byte ranges of every hit in `folded`.
    fn hits(&self, folded: &str) -> Vec<Range<usize>> {
        match self {
            Pattern::Literal {
                folded: needle,
                prefix,
                inside_words,
            } => {
                if needle.is_empty() {
                    return Vec::new();
                }
                let bytes = folded.as_bytes();
                folded
                    .match_indices(needle.as_str())
                    .map(|(start, found)| start..start + found.len())
                    .filter(|hit| {
                        if *inside_words {
                            return true;
                        }
                        let starts_word = hit.start == 0 || bytes[hit.start - 1] == b' ';
                        let ends_word = hit.end == bytes.len() || bytes[hit.end] == b' ';
                        starts_word && (*prefix || ends_word)
                    })
                    .collect()
            }
            Pattern::Regex(regex) => regex.find_iter(folded).map(|found| found.range()).collect(),
        }
    }
}
