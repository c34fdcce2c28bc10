//! `ParsedFeed` → `FeedMeta` + `Item`s: links resolved against the feed URL, text cleaned for
//! titles and matching, dates chosen, and each item given its `ItemKey`.
//!
//! Owns what an item *is* once it leaves the parser. It does no I/O and reads no clock.

mod identity;
pub mod links;
pub mod text;

use std::collections::HashMap;

use feed_rs::model::{Entry, Link, Text};
use url::Url;

use crate::model::{FeedMeta, Item, StorySketch, TopicMatch};
use crate::parse::ParsedFeed;
use crate::topics::TopicSet;

pub use identity::hash_hex;
use text::{fold_whitespace, html_to_text};

/// How long a title made up from an item's text may be, in characters.
const SYNTHETIC_TITLE_CHARS: usize = 100;

/// Normalizes a parsed feed fetched from `feed_url`.
pub fn normalize(parsed: &ParsedFeed, feed_url: &Url) -> (FeedMeta, Vec<Item>) {
    let feed = &parsed.feed;
    // Atom says whether a title is text or HTML; RSS and JSON Feed titles are plain text by
    // their specs, but publishers put entities and tags in them (often escaped twice), and
    // every reader shows them as HTML. So there a title is always read as HTML.
    let html_titles = feed.feed_type != feed_rs::model::FeedType::Atom;
    let meta = FeedMeta {
        title: feed
            .title
            .as_ref()
            .map(|title| text_of(title, html_titles))
            .filter(|title| !title.is_empty()),
        site_link: pick_link(&feed.links).and_then(|link| resolve(feed_url, &link.href)),
    };
    let links: Vec<Option<String>> = feed
        .entries
        .iter()
        .map(|entry| pick_link(&entry.links).and_then(|link| resolve(feed_url, &link.href)))
        .collect();
    // A link that several entries of one document share (a live blog, or links that differ
    // only by #fragment) cannot tell those entries apart on its own.
    let mut link_counts: HashMap<&str, usize> = HashMap::new();
    for link in links.iter().flatten() {
        *link_counts.entry(without_fragment(link)).or_default() += 1;
    }
    let items = feed
        .entries
        .iter()
        .zip(&links)
        .map(|(entry, link)| {
            let shared_link = link
                .as_deref()
                .is_some_and(|link| link_counts.get(without_fragment(link)).copied() > Some(1));
            normalize_entry(entry, link.clone(), shared_link, html_titles)
        })
        .collect();
    (meta, items)
}

fn normalize_entry(
    entry: &Entry,
    link: Option<String>,
    shared_link: bool,
    html_titles: bool,
) -> Item {
    let summary = entry
        .summary
        .as_ref()
        .map(html_of)
        .filter(|html| !html.is_empty());
    let content = entry
        .content
        .as_ref()
        .and_then(|content| content.body.as_deref())
        .map(str::trim)
        .filter(|body| !body.is_empty())
        .map(str::to_string);
    let summary_text = summary.as_deref().map(html_to_text).unwrap_or_default();
    let content_text = content.as_deref().map(html_to_text).unwrap_or_default();
    // Media RSS puts a video's or podcast's title in <media:title> and may give no other.
    let given_title = entry
        .title
        .as_ref()
        .or_else(|| entry.media.iter().find_map(|media| media.title.as_ref()))
        .map(|title| text_of(title, html_titles))
        .unwrap_or_default();
    let title = if given_title.is_empty() {
        synthetic_title(&summary_text, &content_text, link.as_deref())
    } else {
        given_title
    };
    let guid = Some(entry.id.trim().to_string()).filter(|id| !id.is_empty());
    let key = identity::item_key(
        guid.as_deref(),
        link.as_deref(),
        shared_link,
        &title,
        &summary_text,
        &content_text,
    );
    let content_hash = identity::content_hash(
        &title,
        link.as_deref(),
        summary.as_deref(),
        content.as_deref(),
    );
    let match_text = join_text(&title, &summary_text, &content_text);
    Item {
        key,
        guid,
        link,
        title,
        summary,
        content,
        author: entry
            .authors
            .first()
            .and_then(|person| person.name.as_deref().map(fold_whitespace))
            .filter(|name| !name.is_empty()),
        published: entry.published,
        updated: entry.updated,
        match_text,
        content_hash,
        // Filled by `add_comparison_keys` for the items that are stored: most items of a
        // re-polled feed are known and unchanged, and need neither.
        link_key: None,
        story: None,
    }
}

/// How far past `now` a source's date may lie before it is taken as a clock or time-zone error.
pub const FUTURE_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Clamps dates in the future (beyond `FUTURE_TOLERANCE`) to `now`, the time the items were
/// seen: a feed with a wrong clock or zone must not pin its items above everyone else's, nor
/// announce a publication that has not happened. A missing or unparseable date stays `None`;
/// the store then dates the item by when it was first seen. The caller passes `now`, so this
/// stays pure.
pub fn clamp_dates(items: &mut [Item], now: chrono::DateTime<chrono::Utc>) {
    let limit = now + FUTURE_TOLERANCE;
    for item in items {
        for date in [&mut item.published, &mut item.updated] {
            if date.is_some_and(|date| date > limit) {
                *date = Some(now);
            }
        }
    }
}

/// The text topics are matched against: title, summary and content as plain text, one per
/// line. Stored
/// items are matched again from their stored title and HTML, through the same function.
pub fn match_text(title: &str, summary: Option<&str>, content: Option<&str>) -> String {
    let summary_text = summary.map(html_to_text).unwrap_or_default();
    let content_text = content.map(html_to_text).unwrap_or_default();
    join_text(title, &summary_text, &content_text)
}

/// Gives an item what grouping compares of it (`comparison_keys`). The pipeline calls it for
/// the items it stores, new or changed; `normalize` leaves both empty, since re-polled items
/// are mostly known and unchanged, and a sketch costs more than the rest of normalizing.
pub fn add_comparison_keys(item: &mut Item) {
    // The match text holds the title, summary and content as plain text already (one per
    // line; `join_text`): the lead is taken from it rather than stripped of its HTML again.
    let text = crate::topics::ItemText::from_match_text(&item.match_text);
    let lead = if text.summary.is_empty() {
        text.content
    } else {
        text.summary
    };
    item.story = crate::dedupe::sketch(text.title, lead);
    item.link_key = item.link.as_deref().and_then(links::canonical_link);
}

/// `add_comparison_keys`, and the item's topic matches (`TopicSet::match_item` from
/// `source`), with the text folded once: the story sketch is made from the fields as matching
/// folds them (`dedupe::sketch_folded`), the same sketch `add_comparison_keys` makes. The
/// pipeline calls it for every new or changed item.
pub fn add_comparison_keys_and_match(
    item: &mut Item,
    topics: &TopicSet,
    source: Option<&str>,
) -> Vec<TopicMatch> {
    if topics.topics().next().is_none() {
        // Nothing to match: the sketch folds only the words it needs.
        add_comparison_keys(item);
        return Vec::new();
    }
    let text = crate::topics::ItemText::from_match_text(&item.match_text);
    let (matches, story) = topics.match_item_with_folded(&text, source, |folded| {
        let lead = if text.summary.is_empty() {
            folded.content()
        } else {
            folded.summary()
        };
        crate::dedupe::sketch_folded(folded.title(), lead)
    });
    item.story = story;
    item.link_key = item.link.as_deref().and_then(links::canonical_link);
    matches
}

/// What grouping compares of an item: its canonical link (`links::canonical_link`) and the
/// story sketch (`dedupe::sketch`) of its title and lead, the lead being the summary, else the
/// content, as plain text. Items stored before grouping existed get theirs from their stored
/// title, link and HTML through this same function.
pub fn comparison_keys(
    title: &str,
    link: Option<&str>,
    summary: Option<&str>,
    content: Option<&str>,
) -> (Option<String>, Option<StorySketch>) {
    let summary_text = summary.map(html_to_text).unwrap_or_default();
    let lead = if summary_text.is_empty() {
        content.map(html_to_text).unwrap_or_default()
    } else {
        summary_text
    };
    (
        link.and_then(links::canonical_link),
        crate::dedupe::sketch(title, &lead),
    )
}

/// Title, summary and content, one per line (an empty part leaves an empty line), so topics
/// can tell the fields apart (`topics::ItemText::from_match_text`). The parts are whitespace-
/// folded and hold no newline of their own.
fn join_text(title: &str, summary_text: &str, content_text: &str) -> String {
    let mut joined =
        String::with_capacity(title.len() + summary_text.len() + content_text.len() + 2);
    for (index, part) in [title, summary_text, content_text].into_iter().enumerate() {
        if index > 0 {
            joined.push('\n');
        }
        // Copied as it is unless it holds a newline (it seldom does: the parts are folded).
        if memchr::memchr(b'\n', part.as_bytes()).is_some() {
            joined.push_str(&part.replace('\n', " "));
        } else {
            joined.push_str(part);
        }
    }
    joined
}

/// Plain text of a feed-rs `Text`: HTML stripped when it is (or, with `as_html`, may be) HTML,
/// whitespace folded always.
fn text_of(text: &Text, as_html: bool) -> String {
    if as_html || is_html(text) {
        html_to_text(&text.content)
    } else {
        fold_whitespace(&text.content)
    }
}

/// HTML of a feed-rs `Text`: as given when it is HTML, escaped when it is plain text.
fn html_of(text: &Text) -> String {
    let content = text.content.trim();
    if is_html(text) {
        content.to_string()
    } else {
        html_escape::encode_text(content).into_owned()
    }
}

fn is_html(text: &Text) -> bool {
    let subtype = text.content_type.subty().as_str();
    subtype == "html" || subtype == "xhtml+xml" || subtype == "xhtml"
}

/// An item with no title still needs one in a feed reader: the start of its text, else its
/// link.
fn synthetic_title(summary_text: &str, content_text: &str, link: Option<&str>) -> String {
    let source = if summary_text.is_empty() {
        content_text
    } else {
        summary_text
    };
    if source.is_empty() {
        return link.unwrap_or("(untitled)").to_string();
    }
    let mut title: String = source.chars().take(SYNTHETIC_TITLE_CHARS).collect();
    if source.chars().count() > SYNTHETIC_TITLE_CHARS {
        title.push('…');
    }
    title
}

/// The entry's main link: the first `alternate` (or unlabelled) link, else the first link.
fn pick_link(links: &[Link]) -> Option<&Link> {
    links
        .iter()
        .find(|link| link.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| links.first())
        .filter(|link| !link.href.trim().is_empty())
}

/// Resolves a possibly relative link against the feed URL; only http(s) links are kept.
fn resolve(base: &Url, href: &str) -> Option<String> {
    let url = base.join(href.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// A link without its fragment: what `normalize` counts to find links that several entries of
/// a document share (`pipeline::rawskip` counts the same way across the items it left out).
pub fn without_fragment(link: &str) -> &str {
    link.split_once('#').map_or(link, |(before, _)| before)
}

#[cfg(test)]
mod tests;
