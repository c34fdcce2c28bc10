//! JSON Feed 1.1 through serde: the document is a typed struct serialized by serde_json, so
//! every string is escaped by the writer. The source and the original id go in the item's
//! `_tidings` extension (JSON Feed's rule for custom keys), the author in `authors`, the
//! matched topics in `tags`.

use serde::Serialize;

use super::sanitize::{sanitize_html, strip_xml_forbidden};
use super::{Format, GENERATOR, GENERATOR_URI, OutputFeed, PublishError};
use crate::model::OutputEntry;

const VERSION: &str = "https://jsonfeed.org/version/1.1";

#[derive(Serialize)]
struct Document<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: String,
    feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    #[serde(rename = "_tidings")]
    tidings: FeedExtension,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

/// Says who wrote the document, as Atom's and RSS's `generator` do, so tidings can tell its
/// own output from a source.
#[derive(Serialize)]
struct FeedExtension {
    about: &'static str,
    generator: &'static str,
    generator_version: &'static str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<String>,
    /// JSON Feed wants `content_html` or `content_text`; the title stands in when the
    /// source gave neither summary nor content.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_published: Option<String>,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(rename = "_tidings")]
    tidings: ItemExtension<'a>,
}

#[derive(Serialize)]
struct Author {
    name: String,
}

#[derive(Serialize)]
struct ItemExtension<'a> {
    about: &'static str,
    source: SourceInfo<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_id: Option<&'a str>,
}

#[derive(Serialize)]
struct SourceInfo<'a> {
    title: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<&'a str>,
}

pub fn render(feed: &OutputFeed) -> Result<Vec<u8>, PublishError> {
    let document = Document {
        version: VERSION,
        title: &feed.title,
        home_page_url: feed.home_url(),
        feed_url: feed.self_url(Format::Json),
        next_url: feed.next_url(Format::Json),
        hubs: feed
            .hub
            .iter()
            .map(|url| Hub {
                kind: "WebSub",
                url,
            })
            .collect(),
        tidings: FeedExtension {
            about: GENERATOR_URI,
            generator: GENERATOR,
            generator_version: env!("CARGO_PKG_VERSION"),
        },
        items: feed.entries.iter().map(render_item).collect(),
    };
    serde_json::to_vec_pretty(&document).map_err(|error| PublishError::Json(error.to_string()))
}

fn render_item(entry: &OutputEntry) -> JsonItem<'_> {
    // The content lists the other outlets of the item or story after the entry's own body.
    let content_html = super::body_html(entry)
        .or_else(|| entry.summary.clone())
        .as_deref()
        .map(sanitize_html);
    // `summary` is plain text in JSON Feed; it is given when the content is something else.
    let summary = entry
        .content
        .as_ref()
        .and(entry.summary.as_deref())
        .map(|summary| strip_xml_forbidden(&crate::normalize::text::html_to_text(summary)))
        .filter(|summary| !summary.is_empty());
    JsonItem {
        id: &entry.entry_id,
        url: entry.link.as_deref(),
        title: strip_xml_forbidden(&entry.title),
        content_text: content_html
            .is_none()
            .then(|| strip_xml_forbidden(&entry.title)),
        content_html,
        summary,
        date_published: entry.published.map(|time| time.to_rfc3339()),
        date_modified: entry.updated.to_rfc3339(),
        authors: entry
            .author
            .iter()
            .map(|name| Author {
                name: strip_xml_forbidden(name),
            })
            .collect(),
        tags: entry.topics.iter().map(String::as_str).collect(),
        tidings: ItemExtension {
            about: GENERATOR_URI,
            source: SourceInfo {
                title: &entry.source_title,
                feed_url: &entry.source_url,
                home_page_url: entry.source_link.as_deref(),
            },
            original_id: entry.guid.as_deref(),
        },
    }
}
