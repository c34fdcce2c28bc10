//! Topics: every topic's terms compiled once into a `TopicSet`, and the item text matched
//! against it.
//!
//! Owns term folding, term matching, the any/all/none rule, topic scopes (`feeds`/`tags`,
//! resolved by `config` to feed URLs) and `fields`, explanations and warnings about topics
//! that cannot match. It does no I/O and reads no clock. Its entry points are
//! `TopicSet::compile`, `TopicSet::match_item` (and `match_text`), `TopicSet::explain` and
//! `TopicSet::warnings`.

mod explain;
pub mod fold;
mod terms;
mod warnings;

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::{Fields, Location, TopicConfig};
pub use crate::model::TopicMatch;
use crate::model::{MatchedTerms, TermPositions, TopicSlug};

pub use explain::{Explanation, Field, TermReport, Verdict};
pub use fold::fold;
pub use warnings::TopicWarning;

/// Bumped when the engine itself matches differently, so stored matches are redone.
const ENGINE_VERSION: u32 = 5;
use terms::{Allowed, CompiledTerm, FoldedText, Hits, Literals, LiteralsBuilder};

/// All topics of a config, ready to match. Every literal term of every topic sits in one
/// automaton, so an item's text is folded once and scanned once.
#[derive(Debug, Clone)]
pub struct TopicSet {
    topics: Vec<CompiledTopic>,
    literals: Literals,
    /// For each literal, the terms whose own pattern it is: (topic, list, term), sorted.
    /// All of them in one list, literal after literal; a literal's are at its range in
    /// `use_ranges`.
    uses_of_literal: Vec<Use>,
    use_ranges: Vec<Range<u32>>,
    /// Topics with an `any` term that needs a regex: they may match with no literal hit.
    regex_topics: Vec<usize>,
    /// Changes exactly when what the topics match changes (slugs, terms, scopes, fields; not
    /// titles).
    fingerprint: String,
    warnings: Vec<TopicWarning>,
}

#[derive(Debug, Clone)]
struct CompiledTopic {
    slug: TopicSlug,
    title: String,
    any: Vec<CompiledTerm>,
    /// Whether some `any` term needs a regex (so the topic may match with no literal hit).
    any_needs_regex: bool,
    all: Vec<CompiledTerm>,
    none: Vec<CompiledTerm>,
    /// The `any` terms then the `all` terms as written (each `CompiledTerm::source`): a match
    /// names its terms by their positions here (`MatchedTerms`), sharing the list.
    term_names: Arc<[Arc<str>]>,
    /// The terms of `any`, `all` and `none` that need a regex (`CompiledTerm::needs_regex`),
    /// by index: a topic with a regex is a candidate for every item, and its list of hundreds
    /// of terms is not read again for each to find its few regexes.
    regex_terms: [Vec<usize>; 3],
    /// The feed URLs the topic is scoped to; `None` for every source.
    sources: Option<Vec<String>>,
    fields: Fields,
    location: Location,
}

/// The text of one item, field by field, as plain text (HTML already stripped).
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
}

impl<'a> ItemText<'a> {
    /// Splits an item's `match_text` (title, summary and content, one per line; see
    /// `normalize::match_text`). Missing lines are empty fields.
    pub fn from_match_text(text: &'a str) -> ItemText<'a> {
        // `memchr` rather than `str::splitn`: the content is most of the text, and is read
        // to its end for a newline that is not there.
        let split = |text: &'a str| match memchr::memchr(b'\n', text.as_bytes()) {
            Some(at) => (
                text.get(..at).unwrap_or_default(),
                text.get(at + 1..).unwrap_or_default(),
            ),
            None => (text, ""),
        };
        let (title, rest) = split(text);
        let (summary, content) = split(rest);
        ItemText {
            title,
            summary,
            content,
        }
    }
}

/// An item's fields as matching folds them: each is what `fold` returns for it. Matching
/// reads the folded bytes without checking them to be UTF-8 (folding writes whole
/// characters); a field is checked when it is asked for, so a caller pays only for the fields
/// it reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct FoldedFields<'a> {
    title: &'a [u8],
    summary: &'a [u8],
    content: &'a [u8],
}

impl<'a> FoldedFields<'a> {
    pub fn title(&self) -> &'a str {
        checked(self.title)
    }

    pub fn summary(&self) -> &'a str {
        checked(self.summary)
    }

    pub fn content(&self) -> &'a str {
        checked(self.content)
    }
}

/// Folded bytes as text; folding writes whole characters, so the empty text stands for what
/// cannot happen.
fn checked(folded: &[u8]) -> &str {
    std::str::from_utf8(folded).unwrap_or_default()
}

/// An item's text folded once: the three fields joined by newlines, and where each lies.
#[derive(Debug, Default)]
struct FoldedItem {
    /// UTF-8 (folding writes whole characters), checked only if a regex reads it (see
    /// `FoldedText`).
    text: Vec<u8>,
    /// Where terms may start in `text` (see `fold::Starts`).
    starts: Vec<usize>,
    /// Title, summary, content.
    fields: [Range<usize>; 3],
    /// Whether the three fields were all ASCII, as folding found (so `text` is too).
    ascii: bool,
}

impl FoldedItem {
    fn new(item: &ItemText<'_>) -> FoldedItem {
        let mut folded = FoldedItem::default();
        folded.fill(item);
        folded
    }

    /// Folds `item` into this buffer, replacing what was there.
    fn fill(&mut self, item: &ItemText<'_>) {
        let text = &mut self.text;
        text.clear();
        self.starts.clear();
        self.ascii = true;
        for (index, part) in [item.title, item.summary, item.content]
            .into_iter()
            .enumerate()
        {
            if index > 0 {
                text.push(b'\n');
            }
            let start = text.len();
            self.ascii &= fold::fold_bytes(text, part, &mut self.starts);
            self.fields[index] = start..text.len();
        }
    }

    /// The field a byte range of the folded text lies in.
    fn field_of(&self, range: &Range<usize>) -> Field {
        if range.start >= self.fields[2].start {
            Field::Content
        } else if range.start >= self.fields[1].start {
            Field::Summary
        } else {
            Field::Title
        }
    }
}

/// What matching one item needs besides the topic set, kept per thread between items.
#[derive(Debug, Default)]
struct Scratch {
    folded: FoldedItem,
    hits: Hits,
    uses: Vec<Use>,
    /// The topics that may match, in order, each with its range of `uses`.
    candidates: Vec<(usize, Range<usize>)>,
    ranges: Vec<Range<usize>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `run` with the buffers of the last item matched on this thread, reused: matching
/// allocates nothing but its answer. (A new set when they are in use, which only a `run` that
/// matched again from inside would cause.)
fn with_scratch<R>(run: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => run(&mut scratch),
        Err(_) => run(&mut Scratch::default()),
    })
}

/// Which list of a topic a term is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum List {
    Any,
    All,
    None,
}

/// A term (by topic, list and index) whose own literal is a given literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Use {
    // `u32`s: the uses of an item's hits are copied and sorted, and a smaller `Use` is
    // quicker to both.
    topic: u32,
    list: List,
    term: u32,
    /// Whether the term is plain (`CompiledTerm::is_plain`: a literal with no exceptions), so
    /// that its literal's hit is its own, known without reading the term.
    plain: bool,
}

/// What a topic looks at in one item: the scan's hits, and the ranges its `fields` allow.
struct Context<'a, 't> {
    folded: &'a FoldedText<'t>,
    hits: &'a Hits,
    allowed: Allowed<'a>,
}

impl TopicSet {
    /// Compiles the topics of a config. Term syntax was already checked by `config`, so this
    /// cannot fail; what would keep a topic from ever matching is in `warnings`.
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
            hasher.update(format!("scope\0{:?}\0{:?}\0", topic.sources, topic.fields).as_bytes());
        }
        let compiled: Vec<CompiledTopic> = topics
            .iter()
            .map(|topic| {
                let any = compile_all(&topic.any);
                let all = compile_all(&topic.all);
                let none = compile_all(&topic.none);
                let needing_regex = |terms: &[CompiledTerm]| -> Vec<usize> {
                    terms
                        .iter()
                        .enumerate()
                        .filter(|(_, term)| term.needs_regex())
                        .map(|(index, _)| index)
                        .collect()
                };
                CompiledTopic {
                    regex_terms: [
                        needing_regex(&any),
                        needing_regex(&all),
                        needing_regex(&none),
                    ],
                    slug: topic.slug.clone(),
                    title: topic.title.clone(),
                    any_needs_regex: any.iter().any(CompiledTerm::needs_regex),
                    term_names: any
                        .iter()
                        .chain(&all)
                        .map(|term| term.source.clone())
                        .collect(),
                    any,
                    all,
                    none,
                    sources: topic.sources.clone(),
                    fields: topic.fields,
                    location: topic.location,
                }
            })
            .collect();
        let literals = literals.build();
        let mut uses_of_literal: Vec<Vec<Use>> = vec![Vec::new(); literals.count()];
        for (topic_index, topic) in compiled.iter().enumerate() {
            for (list, terms) in [
                (List::Any, &topic.any),
                (List::All, &topic.all),
                (List::None, &topic.none),
            ] {
                for (term_index, term) in terms.iter().enumerate() {
                    if let Some(uses) = term
                        .own_literal()
                        .and_then(|literal| uses_of_literal.get_mut(literal))
                    {
                        uses.push(Use {
                            topic: u32::try_from(topic_index).unwrap_or(u32::MAX),
                            list,
                            term: u32::try_from(term_index).unwrap_or(u32::MAX),
                            plain: term.is_plain(),
                        });
                    }
                }
            }
        }
        let regex_topics = compiled
            .iter()
            .enumerate()
            .filter(|(_, topic)| topic.any_needs_regex)
            .map(|(index, _)| index)
            .collect();
        TopicSet {
            use_ranges: uses_of_literal
                .iter()
                .scan(0u32, |first, uses| {
                    let start = *first;
                    *first = first.saturating_add(u32::try_from(uses.len()).unwrap_or(u32::MAX));
                    Some(start..*first)
                })
                .collect(),
            uses_of_literal: uses_of_literal.concat(),
            regex_topics,
            literals,
            fingerprint: format!("{ENGINE_VERSION}:{}", hex::encode(hasher.finalize())),
            warnings: compiled.iter().flat_map(warnings::of_topic).collect(),
            topics: compiled,
        }
    }

    /// Identifies the matching rules: equal fingerprints match every text the same way.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Topics that can never match, or terms and exceptions that can never count, with where
    /// they are written.
    pub fn warnings(&self) -> &[TopicWarning] {
        &self.warnings
    }

    /// The topics in config order: slug and title.
    pub fn topics(&self) -> impl Iterator<Item = (&TopicSlug, &str)> {
        self.topics
            .iter()
            .map(|topic| (&topic.slug, topic.title.as_str()))
    }

    /// Matches an item from the feed at `source` (its URL as configured; `None` when unknown,
    /// which leaves out topics scoped to some feeds) against every topic. The text is folded
    /// once and scanned once for every literal of every topic.
    pub fn match_item(&self, item: &ItemText<'_>, source: Option<&str>) -> Vec<TopicMatch> {
        if self.topics.is_empty() {
            return Vec::new();
        }
        with_scratch(|scratch| self.match_with(scratch, item, source))
    }

    /// `match_item`, and `with_folded` called with the item's fields as matching folded them,
    /// so that a caller that needs them folded too (the story sketch: `dedupe::sketch_folded`)
    /// does not fold them again. With no topics the fields are folded for `with_folded` alone.
    pub fn match_item_with_folded<R>(
        &self,
        item: &ItemText<'_>,
        source: Option<&str>,
        with_folded: impl FnOnce(FoldedFields<'_>) -> R,
    ) -> (Vec<TopicMatch>, R) {
        with_scratch(|scratch| {
            let matches = if self.topics.is_empty() {
                scratch.folded.fill(item);
                Vec::new()
            } else {
                self.match_with(scratch, item, source)
            };
            let folded = &scratch.folded;
            let field = |index: usize| {
                folded
                    .fields
                    .get(index)
                    .and_then(|range| folded.text.get(range.clone()))
                    .unwrap_or_default()
            };
            let fields = FoldedFields {
                title: field(0),
                summary: field(1),
                content: field(2),
            };
            (matches, with_folded(fields))
        })
    }

    fn match_with(
        &self,
        scratch: &mut Scratch,
        item: &ItemText<'_>,
        source: Option<&str>,
    ) -> Vec<TopicMatch> {
        let Scratch {
            folded,
            hits,
            uses,
            candidates,
            ranges,
        } = scratch;
        folded.fill(item);
        self.literals.scan(&folded.text, &folded.starts, hits);
        // Only the terms whose literal hit are looked at, and only topics that such a term
        // belongs to (or whose `any` has a regex) can match.
        uses.clear();
        for literal in hits.literals() {
            if let Some(found) = self.use_ranges.get(literal).and_then(|range| {
                self.uses_of_literal
                    .get(range.start as usize..range.end as usize)
            }) {
                uses.extend_from_slice(found);
            }
        }
        uses.sort_unstable();
        uses.dedup();
        // The topics of the uses (sorted by topic) merged with the regex topics (sorted), with
        // no sort: each topic once, with the range of its uses.
        candidates.clear();
        let mut regex_topics = self.regex_topics.iter().copied().peekable();
        let mut at = 0;
        loop {
            let index = match (uses.get(at), regex_topics.peek()) {
                (Some(found), Some(&regex)) => (found.topic as usize).min(regex),
                (Some(found), None) => found.topic as usize,
                (None, Some(&regex)) => regex,
                (None, None) => break,
            };
            if regex_topics.peek() == Some(&index) {
                regex_topics.next();
            }
            let end = at
                + uses
                    .get(at..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|found| found.topic as usize == index)
                    .count();
            candidates.push((index, at..end));
            at = end;
        }
        let text = FoldedText::new(&folded.text, &folded.starts).known_ascii(folded.ascii);
        let mut matches = Vec::new();
        for (position, (index, topic_uses)) in candidates.iter().enumerate() {
            let Some(topic) = self.topics.get(*index) else {
                continue;
            };
            if !topic.in_scope(source) {
                continue;
            }
            let context = Context {
                folded: &text,
                hits,
                allowed: topic.allowed(folded, ranges),
            };
            let topic_uses = uses.get(topic_uses.clone()).unwrap_or_default();
            if let Some(terms) = topic.decide(&context, topic_uses) {
                if matches.capacity() == 0 {
                    // Room for every candidate left, at once (not grown match by match).
                    matches.reserve_exact(candidates.len() - position);
                }
                matches.push(TopicMatch {
                    topic: topic.slug.clone(),
                    terms,
                });
            }
        }
        matches
    }

    /// Matches plain text against the topics of every source: `text` is read as an item's
    /// `match_text` (title, summary, content on their own lines).
    pub fn match_text(&self, text: &str) -> Vec<TopicMatch> {
        self.match_item(&ItemText::from_match_text(text), None)
    }

    /// For every topic, whether the item matches and why: every term that hit and where,
    /// hits its exceptions cancelled, `all` terms missing, `none` terms that vetoed.
    pub fn explain(&self, item: &ItemText<'_>, source: Option<&str>) -> Vec<Explanation> {
        let folded = FoldedItem::new(item);
        let mut hits = Hits::default();
        self.literals.scan(&folded.text, &folded.starts, &mut hits);
        let text = FoldedText::new(&folded.text, &folded.starts).known_ascii(folded.ascii);
        let mut ranges = Vec::with_capacity(3);
        self.topics
            .iter()
            .map(|topic| {
                let context = Context {
                    folded: &text,
                    hits: &hits,
                    allowed: topic.allowed(&folded, &mut ranges),
                };
                explain::explain(topic, &context, &folded, topic.in_scope(source))
            })
            .collect()
    }
}

impl CompiledTopic {
    fn in_scope(&self, source: Option<&str>) -> bool {
        match (&self.sources, source) {
            (None, _) => true,
            (Some(sources), Some(source)) => sources.iter().any(|url| url == source),
            (Some(_), None) => false,
        }
    }

    /// The ranges of the folded item this topic's `fields` allow (`None`: all of it).
    fn allowed<'a>(&self, folded: &FoldedItem, ranges: &'a mut Vec<Range<usize>>) -> Allowed<'a> {
        if self.fields == Fields::ALL {
            return None;
        }
        ranges.clear();
        for (wanted, range) in [self.fields.title, self.fields.summary, self.fields.content]
            .into_iter()
            .zip(&folded.fields)
        {
            if wanted {
                ranges.push(range.clone());
            }
        }
        Some(ranges.as_slice())
    }

    /// The any/all/none rule, cheapest first: literal terms cost nothing more after the
    /// scan, so they decide first; a regex runs only when the literals leave a match
    /// possible. Returns the terms that made the match.
    ///
    /// `uses` are this topic's terms whose own literal hit, sorted by list and term; a literal
    /// term not among them cannot hit.
    fn decide(&self, context: &Context<'_, '_>, uses: &[Use]) -> Option<MatchedTerms> {
        let hit = |term: &CompiledTerm| term.hits(context.folded, context.hits, context.allowed);
        // A term among `uses` (of `list`) whose literal hit: with no exception and no `fields`,
        // it hit (known from the use, without reading the term).
        let used_hit = |list: &[CompiledTerm], found: &Use| {
            (found.plain && context.allowed.is_none())
                || list
                    .get(found.term as usize)
                    .is_some_and(|term| !term.needs_regex() && hit(term))
        };
        let used = |list: List| {
            uses.iter()
                .filter(move |found| found.list == list)
                .map(|found| found.term as usize)
        };
        // The terms are named only once the topic is known to match.
        let literal_any = || {
            uses.iter()
                .filter(|found| found.list == List::Any && used_hit(&self.any, found))
                .map(|found| found.term as usize)
        };
        let literal_hit = literal_any().next().is_some();
        if !literal_hit && !self.any_needs_regex {
            return None;
        }
        for (index, term) in self.all.iter().enumerate() {
            let literal_hit = used(List::All).any(|found| found == index) && hit(term);
            if !term.needs_regex() && !literal_hit {
                return None;
            }
        }
        if uses
            .iter()
            .any(|found| found.list == List::None && used_hit(&self.none, found))
        {
            return None;
        }
        // Only now do regexes run.
        // Pushed one by one: `extend` from a filtered iterator costs more than the few
        // positions are worth.
        let mut terms = TermPositions::new();
        if !literal_hit {
            let [any_regex, _, _] = &self.regex_terms;
            for &index in any_regex {
                if self.any.get(index).is_some_and(hit) {
                    terms.push(index as u32);
                }
            }
            if terms.is_empty() {
                return None;
            }
        }
        let [_, all_regex, none_regex] = &self.regex_terms;
        for term in all_regex.iter().filter_map(|index| self.all.get(*index)) {
            if !hit(term) {
                return None;
            }
        }
        if none_regex
            .iter()
            .filter_map(|index| self.none.get(*index))
            .any(hit)
        {
            return None;
        }
        if literal_hit {
            for index in literal_any() {
                terms.push(index as u32);
            }
        }
        let any = self.any.len() as u32;
        for index in 0..self.all.len() as u32 {
            terms.push(any + index);
        }
        Some(MatchedTerms::picked(self.term_names.clone(), terms))
    }
}

#[cfg(test)]
mod tests;
