//! The plain nouns every stage shares: feed and topic names, a normalized `Item`, its `ItemKey`.
//!
//! Owns data only. It does no I/O and depends on no other tidings module, so any stage may use
//! it without pulling in another stage.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The row id of a feed in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId(pub i64);

/// The hash of one item's raw bytes in its document, with what around it shapes how it is read
/// (`parse::prescan`): 128 bits of SHA-256. An item whose raw hash the feed's last document
/// had is not parsed again.
pub type RawHash = [u8; 16];

impl fmt::Display for FeedId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// A topic's URL slug: `[a-z0-9-]+`, never `all` (checked by `config`). Shared (`Arc<str>`):
/// every topic match of every item names its topic, and a clone copies no text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicSlug(pub std::sync::Arc<str>);

impl TopicSlug {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicSlug {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// How an item is known within its feed, in the order of preference of PRODUCT.md.
///
/// The key is stable across polls and restarts: it never depends on a value that feed-rs or we
/// invent at parse time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKey {
    /// The guid (RSS) or id (Atom, JSON Feed) that the source gave.
    Guid(String),
    /// The item's link as given, when it has no guid and the link is unique in the document.
    Link(String),
    /// The link plus the title, when several entries of one document share a link.
    LinkAndTitle { link: String, title: String },
    /// A hash of the normalized content, when there is neither guid nor link.
    ContentHash(String),
}

impl ItemKey {
    /// The key as one string, as the store keeps it. The prefix keeps the kinds apart, so a
    /// guid that happens to equal another item's link is still a different key.
    pub fn to_storage_string(&self) -> String {
        match self {
            // Joined rather than formatted: this runs a few times per item of every poll.
            ItemKey::Guid(guid) => ["guid:", guid].concat(),
            ItemKey::Link(link) => ["link:", link].concat(),
            ItemKey::LinkAndTitle { link, title } => ["link+title:", link, "\n", title].concat(),
            ItemKey::ContentHash(hash) => ["hash:", hash].concat(),
        }
    }
}

/// One item of a source, normalized: plain-text title, HTML kept for summary and content.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: ItemKey,
    /// The guid/id as the source gave it, republished so readers can deduplicate again.
    pub guid: Option<String>,
    pub link: Option<String>,
    /// Plain text: HTML stripped, entities decoded, whitespace folded.
    pub title: String,
    /// HTML as the source wrote it (sanitized when it is published).
    pub summary: Option<String>,
    /// HTML as the source wrote it (sanitized when it is published).
    pub content: Option<String>,
    pub author: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Title, summary and content as plain text, for topic matching.
    pub match_text: String,
    /// A hash of what a subscriber sees (title, link, summary, content); a change means the
    /// item was edited at its source and is updated in place.
    pub content_hash: String,
    /// The link in canonical form (`normalize::links`), to find the same article at another
    /// source; never shown. Filled (with `story`) only for items that are stored, by
    /// `normalize::add_comparison_keys`.
    pub link_key: Option<String>,
    /// What story grouping compares (`dedupe`); `None` when the item has too little text.
    pub story: Option<StorySketch>,
}

/// What story grouping keeps of an item: its folded story text and the LSH band hashes of
/// that text's MinHash signature (see `dedupe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorySketch {
    /// Folded words of title and lead, separated by single spaces.
    pub words: String,
    pub bands: Vec<i64>,
    /// The words prepared to compare, made with them off the store's writer thread.
    pub text: Arc<StoryText>,
}

/// A story text ready to compare (`dedupe` makes and compares it): the hashes of its
/// three-word shingles, then those of its numbers, each list sorted and distinct, in one
/// allocation (the store's writer remembers thousands of these).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoryText {
    pub(crate) hashes: Box<[u32]>,
    /// How many of `hashes` are shingles.
    pub(crate) shingles: u32,
}

/// The numbers of a story text, kept for every item of the store's band index (a few bytes
/// where the text takes hundreds): two texts whose numbers disagree are never one story
/// (`dedupe`), so a candidate can be ruled out without its text. Known when the text has at
/// most `StoryNumbers::KEPT` numbers; `count` above that means "not kept".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryNumbers {
    pub(crate) hashes: [u32; StoryNumbers::KEPT],
    pub(crate) count: u8,
}

impl StoryNumbers {
    /// How many numbers are kept.
    pub const KEPT: usize = 2;
    /// Numbers not known: rules nothing out.
    pub const UNKNOWN: StoryNumbers = StoryNumbers {
        hashes: [0; StoryNumbers::KEPT],
        count: u8::MAX,
    };
}

/// A feed-level view of what a poll found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedMeta {
    pub title: Option<String>,
    pub site_link: Option<String>,
}

/// One topic that an item matched, with the terms that made it match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMatch {
    pub topic: TopicSlug,
    /// The terms, as written in `feeds.toml`, that hit (`any` terms, then `all` terms).
    pub terms: MatchedTerms,
}

/// The terms of one match, as written in `feeds.toml`: positions in a list of names shared
/// with the compiled topic (its `any` terms, then its `all` terms). A match copies no text and
/// takes one reference to the list, and a few positions are held inline, so that a match
/// allocates nothing. It reads, compares and prints (`{:?}`: `["a", "b"]`) as the list of the
/// names it picks, in order.
#[derive(Clone)]
pub struct MatchedTerms {
    names: Arc<[Arc<str>]>,
    picked: TermPositions,
}

/// Positions in a list of term names, the first four inline.
pub type TermPositions = smallvec::SmallVec<[u32; 4]>;

impl MatchedTerms {
    /// The terms picked at `picked` (positions in `names`; a position past the end is left
    /// out).
    pub fn picked(names: Arc<[Arc<str>]>, mut picked: TermPositions) -> Self {
        if picked.iter().any(|&at| at as usize >= names.len()) {
            picked.retain(|at| (*at as usize) < names.len());
        }
        MatchedTerms { names, picked }
    }

    /// The terms, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.picked
            .iter()
            .map(|&at| self.names.get(at as usize).map_or("", |name| &**name))
    }

    pub fn len(&self) -> usize {
        self.picked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.picked.is_empty()
    }
}

impl<T: Into<Arc<str>>> FromIterator<T> for MatchedTerms {
    /// A list of its own, every name picked in order (a match read back from the store).
    fn from_iter<I: IntoIterator<Item = T>>(names: I) -> Self {
        let names: Arc<[Arc<str>]> = names.into_iter().map(Into::into).collect();
        let picked = (0..names.len() as u32).collect();
        MatchedTerms { names, picked }
    }
}

impl PartialEq for MatchedTerms {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for MatchedTerms {}

impl fmt::Debug for MatchedTerms {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}

/// A position in an output feed's newest-first order: the entries after it are older. It is
/// published as the `?before=` of a "next page" link, so it names a place in the order (the
/// sort time and the row that sorts there), never an offset that shifts as new items arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub sort_time: i64,
    pub row: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}_{}", self.sort_time, self.row)
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;

    fn from_str(text: &str) -> Result<Cursor, String> {
        let parsed = text.split_once('_').and_then(|(time, row)| {
            Some(Cursor {
                sort_time: time.parse().ok()?,
                row: row.parse().ok()?,
            })
        });
        parsed.ok_or_else(|| format!("\"{text}\" is not a page cursor of this feed"))
    }
}

/// An item as an output feed shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputEntry {
    /// Stable across restarts and re-renders: derived from the feed URL and item key when the
    /// item was first stored, and never changed.
    pub entry_id: String,
    pub guid: Option<String>,
    pub link: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: DateTime<Utc>,
    pub source_url: String,
    pub source_title: String,
    pub source_link: Option<String>,
    pub topics: Vec<String>,
    /// Where the entry stands in the newest-first order (for the next page's cursor).
    pub position: Cursor,
    /// The same item or story as carried by other sources, first seen first; shown in the
    /// entry so a subscriber sees one entry per story with every outlet's link.
    pub other_sources: Vec<OtherSource>,
}

/// Another source's copy of an entry's item or story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherSource {
    pub link: Option<String>,
    pub title: String,
    pub source_title: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_are_the_kind_then_the_key() {
        let guid = "tag:example.org,2026:1 ünïcode";
        let link = "https://example.org/a?b=c#d";
        let title = "Title: with\nnew line";
        let cases = [
            (ItemKey::Guid(guid.to_string()), format!("guid:{guid}")),
            (ItemKey::Link(link.to_string()), format!("link:{link}")),
            (
                ItemKey::LinkAndTitle {
                    link: link.to_string(),
                    title: title.to_string(),
                },
                format!("link+title:{link}\n{title}"),
            ),
            (
                ItemKey::ContentHash("0a1b".to_string()),
                "hash:0a1b".to_string(),
            ),
            (ItemKey::Guid(String::new()), "guid:".to_string()),
        ];
        for (key, expected) in cases {
            assert_eq!(key.to_storage_string(), expected, "{key:?}");
        }
    }

    #[test]
    fn matched_terms_read_compare_and_print_as_the_names_they_pick() {
        let names: Arc<[Arc<str>]> = ["ukrain*", "kyiv", "\"quoted\"", "київ"]
            .into_iter()
            .map(Arc::from)
            .collect();
        // Positions past the end are left out; more than fit inline still read in order.
        let picked = MatchedTerms::picked(
            names.clone(),
            TermPositions::from_slice(&[3, 0, 9, 2, 1, 0]),
        );
        assert_eq!(
            picked.iter().collect::<Vec<_>>(),
            ["київ", "ukrain*", "\"quoted\"", "kyiv", "ukrain*"]
        );
        assert_eq!(picked.len(), 5);
        // `{:?}` prints what a `Vec<Arc<str>>` of the same names printed (`tidings explain`).
        let as_vec: Vec<Arc<str>> = picked.iter().map(Arc::from).collect();
        assert_eq!(format!("{picked:?}"), format!("{as_vec:?}"));
        // Equal by the names, whatever list they come from; order and count matter.
        let own: MatchedTerms = ["київ", "ukrain*", "\"quoted\"", "kyiv", "ukrain*"]
            .into_iter()
            .collect();
        assert_eq!(picked, own);
        assert_ne!(
            MatchedTerms::picked(names.clone(), TermPositions::from_slice(&[0, 1])),
            MatchedTerms::picked(names.clone(), TermPositions::from_slice(&[1, 0]))
        );
        assert_ne!(
            MatchedTerms::picked(names.clone(), TermPositions::from_slice(&[0])),
            MatchedTerms::picked(names, TermPositions::from_slice(&[0, 0]))
        );
        let empty: MatchedTerms = std::iter::empty::<&str>().collect();
        assert!(empty.is_empty());
        assert_eq!(format!("{empty:?}"), "[]");
    }
}
