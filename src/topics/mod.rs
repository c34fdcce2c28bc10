//! Topics: every topic's terms compiled once into a `TopicSet`, and the item text matched
//! against it.
//!
//! Owns term folding, term matching and the any/all/none rule. It does no I/O and reads no
//! clock. Its entry points are `TopicSet::compile` and `TopicSet::match_text`; the engine behind
//! them can be replaced without touching the rest of the pipeline.

pub mod fold;
mod terms;

use sha2::{Digest, Sha256};

use crate::config::TopicConfig;
pub use crate::model::TopicMatch;
use crate::model::TopicSlug;

pub use fold::fold;

/// Bumped when the engine itself matches differently, so stored matches are redone.
const ENGINE_VERSION: u32 = 2;
use terms::{CompiledTerm, Hits, Literals, LiteralsBuilder};

/// All topics of a config, ready to match. Every literal term of every topic sits in one
/// automaton, so an item's text is folded once and scanned once.
#[derive(Debug, Clone)]
pub struct TopicSet {
    topics: Vec<CompiledTopic>,
    literals: Literals,
    /// Changes exactly when what the topics match changes (slugs and terms, not titles).
    fingerprint: String,
}

#[derive(Debug, Clone)]
struct CompiledTopic {
    slug: TopicSlug,
    title: String,
    any: Vec<CompiledTerm>,
    all: Vec<CompiledTerm>,
    none: Vec<CompiledTerm>,
}

impl TopicSet {
    /// Compiles the topics of a config. Term syntax was already checked by `config`, so this
    /// cannot fail.
    pub fn compile(topics: &[TopicConfig]) -> TopicSet {
        let mut literals = LiteralsBuilder::default();
        let mut compile_all = |terms: &[crate::config::TermConfig]| {
            terms
                .iter()
                .map(|term| CompiledTerm::compile(term, &mut literals))
                .collect::<Vec<_>>()
        };
        let mut hasher = Sha256::new();
        for topic in topics {
            hasher.update(format!("{}\0", topic.slug).as_bytes());
            for (list, terms) in [
                ("any", &topic.any),
                ("all", &topic.all),
                ("none", &topic.none),
            ] {
                for term in terms {
                    hasher.update(
                        format!("{list}\0{:?}\0{:?}\0", term.syntax, term.except).as_bytes(),
                    );
                }
            }
        }
        TopicSet {
            fingerprint: format!("{ENGINE_VERSION}:{}", hex::encode(hasher.finalize())),
            topics: topics
                .iter()
                .map(|topic| CompiledTopic {
                    slug: topic.slug.clone(),
                    title: topic.title.clone(),
                    any: compile_all(&topic.any),
                    all: compile_all(&topic.all),
                    none: compile_all(&topic.none),
                })
                .collect(),
            literals: literals.build(),
        }
    }

    /// Identifies the matching rules: equal fingerprints match every text the same way.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The topics in config order: slug and title.
    pub fn topics(&self) -> impl Iterator<Item = (&TopicSlug, &str)> {
        self.topics
            .iter()
            .map(|topic| (&topic.slug, topic.title.as_str()))
    }

    /// Matches plain text (HTML already stripped) against every topic.
    pub fn match_text(&self, text: &str) -> Vec<TopicMatch> {
        if self.topics.is_empty() {
            return Vec::new();
        }
        let folded = fold(text);
        let hits = self.literals.scan(&folded);
        self.topics
            .iter()
            .filter_map(|topic| topic.match_folded(&folded, &hits))
            .collect()
    }
}

impl CompiledTopic {
    fn match_folded(&self, folded: &str, hits: &Hits) -> Option<TopicMatch> {
        // Literal terms first: they cost nothing more after the scan. A regex runs only when
        // the literals leave the answer open.
        let literal_any: Vec<&CompiledTerm> = self
            .any
            .iter()
            .filter(|term| !term.is_regex() && term.hits(folded, hits))
            .collect();
        let mut terms: Vec<String> = if literal_any.is_empty() {
            self.any
                .iter()
                .filter(|term| term.is_regex() && term.hits(folded, hits))
                .map(|term| term.source.clone())
                .collect()
        } else {
            literal_any.iter().map(|term| term.source.clone()).collect()
        };
        if terms.is_empty() {
            return None;
        }
        for term in &self.all {
            if !term.hits(folded, hits) {
                return None;
            }
            terms.push(term.source.clone());
        }
        if self.none.iter().any(|term| term.hits(folded, hits)) {
            return None;
        }
        Some(TopicMatch {
            topic: self.slug.clone(),
            terms,
        })
    }
}

#[cfg(test)]
mod tests;
