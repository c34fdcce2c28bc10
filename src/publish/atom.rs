//! Atom 1.0 (RFC 4287) through atom_syndication: every string escaped by the writer, HTML
//! sanitized, forbidden characters removed.

use std::collections::BTreeMap;

use atom_syndication::extension::{Extension, ExtensionMap};
use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Source, Text,
};
use chrono::{DateTime, Utc};

use super::sanitize::{sanitize_html, strip_xml_forbidden};
use super::{
    Format, GENERATOR, GENERATOR_URI, OutputFeed, PublishError, TIDINGS_NAMESPACE, body_html,
};
use crate::model::OutputEntry;

fn fixed(time: DateTime<Utc>) -> FixedDateTime {
    time.fixed_offset()
}

pub(super) fn link(href: &str, rel: &str, mime_type: Option<&str>) -> Link {
    Link {
        href: strip_xml_forbidden(href),
        rel: rel.to_string(),
        mime_type: mime_type.map(str::to_string),
        ..Link::default()
    }
}

pub fn render(feed: &OutputFeed) -> Result<Vec<u8>, PublishError> {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("tidings".to_string(), TIDINGS_NAMESPACE.to_string());
    let document = Feed {
        title: Text::plain(strip_xml_forbidden(&feed.title)),
        id: format!("urn:tidings:feed:{}", feed.slug),
        updated: fixed(feed.updated()),
        links: feed_links(feed),
        generator: Some(Generator {
            value: GENERATOR.to_string(),
            uri: Some(GENERATOR_URI.to_string()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        entries: feed
            .entries
            .iter()
            .map(|entry| render_entry(entry, &feed.public_url))
            .collect(),
        namespaces,
        ..Feed::default()
    };
    let mut body = Vec::new();
    document
        .write_to(&mut body)
        .map_err(|error| PublishError::Atom(error.to_string()))?;
    Ok(body)
}

/// The feed-level links of one page in `format`: self, the site, RFC 5005 paging (`first`
/// on later pages, `next` while older entries remain) and the WebSub hub. RSS carries the
/// same links as `atom:link`.
pub(super) fn page_links(feed: &OutputFeed, format: Format) -> Vec<Link> {
    let media_type = format.media_type();
    let mut links = vec![link(&feed.self_url(format), "self", Some(media_type))];
    if feed.before.is_some() {
        links.push(link(&feed.first_url(format), "first", Some(media_type)));
    }
    if let Some(next) = feed.next_url(format) {
        links.push(link(&next, "next", Some(media_type)));
    }
    if let Some(hub) = &feed.hub {
        links.push(link(hub, "hub", None));
    }
    links
}

fn feed_links(feed: &OutputFeed) -> Vec<Link> {
    let mut links = page_links(feed, Format::Atom);
    links.insert(1, link(&feed.home_url(), "alternate", Some("text/html")));
    links
}

fn render_entry(entry: &OutputEntry, public_url: &str) -> Entry {
    let mut links = Vec::new();
    if let Some(href) = &entry.link {
        links.push(link(href, "alternate", None));
    }
    // The other sources of the same item or story, also listed in the content.
    for other in &entry.other_sources {
        if let Some(href) = &other.link {
            links.push(Link {
                title: Some(strip_xml_forbidden(&other.source_title)),
                ..link(href, "related", None)
            });
        }
    }
    let mut source_links = vec![link(&entry.source_url, "self", None)];
    if let Some(site) = &entry.source_link {
        source_links.push(link(site, "alternate", None));
    }
    // RFC 4287 §4.1.2: an entry without an alternate link must have content; the summary
    // (else the title) stands in for it then.
    // The content lists the other outlets of the item or story after the entry's own body.
    let (summary, content) = match (body_html(entry), &entry.link) {
        (Some(content), _) => (
            entry.summary.as_deref(),
            Some((sanitize_html(&content), "html")),
        ),
        (None, Some(_)) => (entry.summary.as_deref(), None),
        (None, None) => match &entry.summary {
            Some(summary) => (None, Some((sanitize_html(summary), "html"))),
            None => (None, Some((strip_xml_forbidden(&entry.title), "text"))),
        },
    };
    let mut extensions = ExtensionMap::default();
    if let Some(guid) = &entry.guid {
        // The source's own guid/id, so a downstream reader can deduplicate again.
        let element = Extension {
            name: "tidings:original-id".to_string(),
            value: Some(strip_xml_forbidden(guid)),
            ..Extension::default()
        };
        extensions
            .entry("tidings".to_string())
            .or_default()
            .insert("original-id".to_string(), vec![element]);
    }
    Entry {
        title: Text::plain(strip_xml_forbidden(&entry.title)),
        id: entry.entry_id.clone(),
        updated: fixed(entry.updated),
        published: entry.published.map(fixed),
        authors: entry
            .author
            .iter()
            .map(|name| Person {
                name: strip_xml_forbidden(name),
                ..Person::default()
            })
            .collect(),
        links,
        categories: entry
            .topics
            .iter()
            .map(|topic| Category {
                term: topic.clone(),
                scheme: Some(format!("{public_url}/feeds/")),
                label: None,
            })
            .collect(),
        summary: summary.map(|summary| Text::html(sanitize_html(summary))),
        content: content.map(|(value, content_type)| Content {
            value: Some(value),
            content_type: Some(content_type.to_string()),
            ..Content::default()
        }),
        source: Some(Source {
            title: Text::plain(strip_xml_forbidden(&entry.source_title)),
            id: strip_xml_forbidden(&entry.source_url),
            updated: fixed(entry.updated),
            links: source_links,
            ..Source::default()
        }),
        extensions,
        ..Entry::default()
    }
}
