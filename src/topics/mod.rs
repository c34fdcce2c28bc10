//! Topics: every topic's terms compiled once into a `TopicSet`, and the item text matched
//! against it.
//!
//! Owns term folding, term matching and the any/all/none rule. It does no I/O and reads no
//! clock. Its entry points are `TopicSet::compile` and `TopicSet::match_text`; the engine behind
//! them can be replaced without touching the rest of the pipeline.

pub mod fold;
mod terms;

use crate::config::TopicConfig;
pub use crate::model::TopicMatch;
use crate::model::TopicSlug;

pub use fold::fold;
use terms::CompiledTerm;

/// All topics of a config, ready to match.
#[derive(Debug, Clone, Default)]
pub struct TopicSet {
    topics: Vec<CompiledTopic>,
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
        let compile_all = |terms: &[crate::config::TermConfig]| {
            terms.iter().map(CompiledTerm::compile).collect::<Vec<_>>()
        };
        TopicSet {
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
        }
    }

    /// The topics in config order: slug and title.
    pub fn topics(&self) -> impl Iterator<Item = (&TopicSlug, &str)> {
        self.topics
            .iter()
            .map(|topic| (&topic.slug, topic.title.as_str()))
    }

    pub fn contains(&self, slug: &str) -> bool {
        self.topics.iter().any(|topic| topic.slug.as_str() == slug)
    }

    /// Matches plain text (HTML already stripped) against every topic.
    pub fn match_text(&self, text: &str) -> Vec<TopicMatch> {
        if self.topics.is_empty() {
            return Vec::new();
        }
        let folded = fold(text);
        self.topics
            .iter()
            .filter_map(|topic| topic.match_folded(&folded))
            .collect()
    }
}

impl CompiledTopic {
    fn match_folded(&self, folded: &str) -> Option<TopicMatch> {
        let mut terms: Vec<String> = self
            .any
            .iter()
            .filter(|term| term.hits(folded))
            .map(|term| term.source.clone())
            .collect();
        if terms.is_empty() {
            return None;
        }
        for term in &self.all {
            if !term.hits(folded) {
                return None;
            }
            terms.push(term.source.clone());
        }
        if self.none.iter().any(|term| term.hits(folded)) {
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
