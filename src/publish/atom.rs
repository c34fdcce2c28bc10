//! Atom 1.0 (RFC 4287) through atom_syndication: every string escaped by the writer, HTML
//! sanitized, forbidden characters removed.

use std::collections::BTreeMap;

use atom_syndication::extension::{Extension, ExtensionMap};
use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Source, Text,
};
use chrono::{DateTime, Utc};

use super::sanitize::{sanitize_html, strip_xml_forbidden};
use super::{OutputFeed, PublishError, TIDINGS_NAMESPACE, body_html};
use crate::model::OutputEntry;

fn fixed(time: DateTime<Utc>) -> FixedDateTime {
    time.fixed_offset()
}

fn link(href: &str, rel: &str, mime_type: Option<&str>) -> Link {
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
        links: vec![
            link(&feed.self_url("atom"), "self", Some("application/atom+xml")),
            link(
                &format!("{}/", feed.public_url),
                "alternate",
                Some("text/html"),
            ),
        ],
        generator: Some(Generator {
            value: "tidings".to_string(),
            uri: Some(env!("CARGO_PKG_REPOSITORY").to_string()),
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
        summary: entry
            .summary
            .as_deref()
            .map(|summary| Text::html(sanitize_html(summary))),
        content: body_html(entry).map(|content| Content {
            value: Some(sanitize_html(&content)),
            content_type: Some("html".to_string()),
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn entry() -> OutputEntry {
        OutputEntry {
            entry_id: "urn:tidings:item:abc".into(),
            guid: Some("source-guid-1".into()),
            link: Some("https://news.example/a?x=1&y=2".into()),
            title: "Kyiv & <Odesa>\u{0}".into(),
            summary: Some("<p onclick=\"x()\">Hi<script>bad()</script></p>".into()),
            content: None,
            author: Some("Reporter".into()),
            published: Some(Utc.timestamp_opt(1_700_000_000, 0).unwrap()),
            updated: Utc.timestamp_opt(1_700_000_100, 0).unwrap(),
            source_url: "https://news.example/feed.xml".into(),
            source_title: "News".into(),
            source_link: Some("https://news.example/".into()),
            topics: vec!["ukraine".into()],
            other_sources: Vec::new(),
        }
    }

    #[test]
    fn renders_valid_atom_that_feed_rs_reads_back() {
        let feed = OutputFeed {
            slug: "ukraine".into(),
            title: "Ukraine".into(),
            public_url: "http://127.0.0.1:8080".into(),
            entries: vec![entry()],
        };
        let body = render(&feed).unwrap();
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(!text.contains('\u{0}'));
        assert!(!text.contains("<script"), "{text}");
        assert!(text.contains("tidings:original-id"), "{text}");
        let parsed = feed_rs::parser::parse(body.as_slice()).unwrap();
        assert_eq!(parsed.entries.len(), 1);
        let read = &parsed.entries[0];
        assert_eq!(read.id, "urn:tidings:item:abc");
        assert_eq!(read.title.as_ref().unwrap().content, "Kyiv & <Odesa>");
        assert_eq!(read.links[0].href, "https://news.example/a?x=1&y=2");
        assert_eq!(read.categories[0].term, "ukraine");
        // The same entries render to the same bytes.
        assert_eq!(render(&feed).unwrap(), body);
    }

    #[test]
    fn other_sources_are_listed_in_the_content_and_as_related_links() {
        let mut story = entry();
        story.other_sources = vec![crate::model::OtherSource {
            link: Some("https://other.example/story?id=1&x=2".into()),
            title: "Kyiv <edited>".into(),
            source_title: "Other & Co".into(),
        }];
        let feed = OutputFeed {
            slug: "ukraine".into(),
            title: "Ukraine".into(),
            public_url: "http://127.0.0.1:8080".into(),
            entries: vec![story],
        };
        let body = render(&feed).unwrap();
        let parsed = feed_rs::parser::parse(body.as_slice()).unwrap();
        let read = &parsed.entries[0];
        let related: Vec<&str> = read
            .links
            .iter()
            .filter(|link| link.rel.as_deref() == Some("related"))
            .map(|link| link.href.as_str())
            .collect();
        assert_eq!(related, vec!["https://other.example/story?id=1&x=2"]);
        let content = read.content.as_ref().unwrap().body.as_deref().unwrap();
        // The summary stands as the body, followed by the list.
        assert!(content.starts_with("<p>Hi</p>"), "{content}");
        assert!(content.contains("Also reported by:"), "{content}");
        assert!(
            content
                .contains("Other &amp; Co: <a href=\"https://other.example/story?id=1&amp;x=2\""),
            "{content}"
        );
        assert!(content.contains("Kyiv &lt;edited&gt;</a>"), "{content}");
    }
}
