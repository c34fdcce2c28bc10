//! Warnings about topics that cannot match anything, and terms or exceptions that can never
//! count: a term that folds to nothing, an exception that cancels all of its term or none of
//! it, an `all` term that a `none` term always vetoes, a topic scoped to no source, a term
//! written twice in one list (whose copies' exceptions do not add up). They are
//! not errors (the config still works), so `tidings check` and the daemon print them.

use std::fmt;

use super::CompiledTopic;
use super::terms::CompiledTerm;
use crate::config::Location;
use crate::model::TopicSlug;

/// Something in a topic that cannot work as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicWarning {
    pub topic: TopicSlug,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for TopicWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}: topic \"{}\": {}",
            self.location.line, self.location.column, self.topic, self.message
        )
    }
}

/// Whether `none_term` hits wherever `term` does (so `term` can never count).
fn always_vetoes(none_term: &CompiledTerm, term: &CompiledTerm) -> bool {
    if none_term.is_regex() || term.is_regex() {
        return none_term.source.trim() == term.source.trim()
            && none_term.except_sources.is_empty();
    }
    match (&none_term.folded, &term.folded) {
        (Some(veto), Some(literal)) => {
            none_term.except_sources.is_empty() && veto.covers_all_of(literal)
        }
        _ => false,
    }
}

/// Whether two terms of one list hit the same places: the same literal once folded (so
/// `Kyiv` and `kyiv`), or the same regex as written.
fn same_term(one: &CompiledTerm, other: &CompiledTerm) -> bool {
    match (&one.folded, &other.folded) {
        (Some(one), Some(other)) => one.text == other.text && one.prefix == other.prefix,
        (None, None) => {
            one.is_regex() && other.is_regex() && one.source.trim() == other.source.trim()
        }
        _ => false,
    }
}

pub(super) fn of_topic(topic: &CompiledTopic) -> Vec<TopicWarning> {
    let mut warnings = Vec::new();
    let mut warn = |location: Location, message: String| {
        warnings.push(TopicWarning {
            topic: topic.slug.clone(),
            location,
            message,
        });
    };
    if topic.sources.as_ref().is_some_and(Vec::is_empty) {
        warn(
            topic.location,
            "its `feeds`/`tags` select no configured feed, so it cannot match anything".to_string(),
        );
    }
    let mut dead_any = 0;
    for (list, terms) in [
        ("any", &topic.any),
        ("all", &topic.all),
        ("none", &topic.none),
    ] {
        for term in terms {
            let mut dead = false;
            if term.is_nothing() {
                warn(
                    term.location,
                    format!(
                        "{list} term {:?} folds to nothing (only invisible characters or punctuation), so it never hits",
                        term.source
                    ),
                );
                dead = true;
            }
            if let Some(literal) = &term.folded {
                for (exception, source) in term.folded_except.iter().zip(&term.except_sources) {
                    let Some(exception) = exception else {
                        continue;
                    };
                    if exception.text.is_empty() {
                        continue;
                    }
                    if exception.covers_all_of(literal) {
                        warn(
                            term.location,
                            format!(
                                "{list} term {:?}: the exception {source:?} covers every hit, so the term never counts",
                                term.source
                            ),
                        );
                        dead = true;
                    } else if !literal.can_sit_inside(exception) {
                        warn(
                            term.location,
                            format!(
                                "{list} term {:?}: the exception {source:?} does not contain the term, so it never cancels a hit",
                                term.source
                            ),
                        );
                    }
                }
            }
            if list != "none"
                && let Some(veto) = topic.none.iter().find(|veto| always_vetoes(veto, term))
            {
                warn(
                    term.location,
                    format!(
                        "{list} term {:?} is always vetoed by the `none` term {:?}",
                        term.source, veto.source
                    ),
                );
                dead = true;
            }
            if dead {
                match list {
                    "any" => dead_any += 1,
                    "all" => warn(
                        topic.location,
                        format!(
                            "the `all` term {:?} can never count, so the topic cannot match anything",
                            term.source
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }
    for (list, terms) in [
        ("any", &topic.any),
        ("all", &topic.all),
        ("none", &topic.none),
    ] {
        for (index, term) in terms.iter().enumerate() {
            if let Some(first) = terms
                .get(..index)
                .unwrap_or_default()
                .iter()
                .find(|earlier| same_term(earlier, term))
            {
                warn(
                    term.location,
                    format!(
                        "{list} term {:?} is the same term as {:?} at {}:{}; each copy keeps only its own exceptions, so a hit that one copy's exceptions cancel still counts through the other: write it once, with all its exceptions",
                        term.source, first.source, first.location.line, first.location.column
                    ),
                );
            }
        }
    }
    if !topic.any.is_empty() && dead_any == topic.any.len() {
        warn(
            topic.location,
            "none of its `any` terms can count, so the topic cannot match anything".to_string(),
        );
    }
    warnings
}
