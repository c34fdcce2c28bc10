//! Explanations: for one item and one topic, whether it matches and why, term by term. Runs
//! every term (regexes included), unlike matching, which stops as soon as the answer is known;
//! it is for people asking `tidings explain`, not for the poll path.

use std::fmt;
use std::ops::Range;

use super::terms::CompiledTerm;
use super::{CompiledTopic, Context, FoldedItem};
use crate::config::Location;
use crate::model::TopicSlug;

/// A part of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Summary,
    Content,
}

impl fmt::Display for Field {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
        })
    }
}

/// Why a topic did or did not take an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Matched,
    /// The item's feed is not among the topic's `feeds`/`tags`.
    OutOfScope,
    /// No `any` term hit.
    NoAnyTerm,
    /// These `all` terms did not hit.
    MissingAll(Vec<String>),
    /// These `none` terms hit.
    Vetoed(Vec<String>),
}

/// One term of a topic and what it found in the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermReport {
    /// The term as written.
    pub term: String,
    pub location: Location,
    /// The hits that count: the folded words hit, and the field each is in.
    pub hits: Vec<(String, Field)>,
    /// Hits that an exception of the term covered.
    pub cancelled: Vec<(String, Field)>,
}

/// The answer for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub topic: TopicSlug,
    pub title: String,
    pub verdict: Verdict,
    /// `any` terms with hits (or cancelled hits).
    pub any: Vec<TermReport>,
    /// Every `all` term, hit or not.
    pub all: Vec<TermReport>,
    /// `none` terms with hits (or cancelled hits).
    pub none: Vec<TermReport>,
}

impl Explanation {
    pub fn matched(&self) -> bool {
        self.verdict == Verdict::Matched
    }
}

pub(super) fn explain(
    topic: &CompiledTopic,
    context: &Context<'_, '_>,
    folded: &FoldedItem,
    in_scope: bool,
) -> Explanation {
    let report = |term: &CompiledTerm| {
        let found = term.hit_ranges(context.folded, context.hits, context.allowed);
        let words = |ranges: Vec<Range<usize>>| {
            ranges
                .into_iter()
                .map(|range| {
                    let field = folded.field_of(&range);
                    (
                        hit_text(context.folded.text(), range, term.is_prefix()),
                        field,
                    )
                })
                .collect::<Vec<_>>()
        };
        TermReport {
            term: term.source.to_string(),
            location: term.location,
            hits: words(found.kept),
            cancelled: words(found.cancelled),
        }
    };
    let found = |report: &TermReport| !report.hits.is_empty() || !report.cancelled.is_empty();
    let any: Vec<TermReport> = topic.any.iter().map(report).filter(found).collect();
    let all: Vec<TermReport> = topic.all.iter().map(report).collect();
    let none: Vec<TermReport> = topic.none.iter().map(report).filter(found).collect();
    let missing: Vec<String> = all
        .iter()
        .filter(|report| report.hits.is_empty())
        .map(|report| report.term.clone())
        .collect();
    let vetoes: Vec<String> = none
        .iter()
        .filter(|report| !report.hits.is_empty())
        .map(|report| report.term.clone())
        .collect();
    let verdict = if !in_scope {
        Verdict::OutOfScope
    } else if !any.iter().any(|report| !report.hits.is_empty()) {
        Verdict::NoAnyTerm
    } else if !missing.is_empty() {
        Verdict::MissingAll(missing)
    } else if !vetoes.is_empty() {
        Verdict::Vetoed(vetoes)
    } else {
        Verdict::Matched
    };
    Explanation {
        topic: topic.slug.clone(),
        title: topic.title.clone(),
        verdict,
        any,
        all,
        none,
    }
}

/// The folded text of a hit; a `word*` hit runs on to the end of its word.
fn hit_text(folded: &str, range: Range<usize>, prefix: bool) -> String {
    let end = if prefix {
        folded[range.end..]
            .find([' ', '\n'])
            .map_or(folded.len(), |offset| range.end + offset)
    } else {
        range.end
    };
    folded.get(range.start..end).unwrap_or_default().to_string()
}

fn quoted_list(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("{term:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Explanation {
    /// Several lines: the verdict, then each term that hit (or was cancelled, or is missing).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match &self.verdict {
            Verdict::Matched => "matched".to_string(),
            Verdict::OutOfScope => {
                "not matched: the item's feed is outside the topic's feeds/tags".to_string()
            }
            Verdict::NoAnyTerm => "not matched: no `any` term hit".to_string(),
            Verdict::MissingAll(terms) => {
                format!("not matched: `all` term missing: {}", quoted_list(terms))
            }
            Verdict::Vetoed(terms) => {
                format!("not matched: vetoed by `none` term {}", quoted_list(terms))
            }
        };
        write!(formatter, "{} ({}): {verdict}", self.topic, self.title)?;
        for (list, reports) in [("any", &self.any), ("all", &self.all), ("none", &self.none)] {
            for report in reports {
                write!(
                    formatter,
                    "\n  {list:<4} {:?} (line {})",
                    report.term, report.location.line
                )?;
                if report.hits.is_empty() && report.cancelled.is_empty() {
                    write!(formatter, ": no hit")?;
                }
                for (text, field) in &report.hits {
                    write!(formatter, "\n         hit {text:?} in the {field}")?;
                }
                for (text, field) in &report.cancelled {
                    write!(
                        formatter,
                        "\n         {text:?} in the {field} does not count: an exception covers it"
                    )?;
                }
            }
        }
        Ok(())
    }
}
