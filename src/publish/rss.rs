//! RSS 2.0 through the `rss` crate: every string escaped by the writer, HTML sanitized,
//! forbidden characters removed. Paging, self and hub links as `atom:link`; the source in
//! `<source url>`; the author as `dc:creator` (RSS's own `<author>` wants an e-mail address).

use std::collections::BTreeMap;

use rss::extension::atom::AtomExtension;
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Guid, Item, Source};

use super::atom::page_links;
use super::sanitize::{sanitize_html, strip_xml_forbidden};
use super::{Format, GENERATOR, GENERATOR_URI, OutputFeed, PublishError, TIDINGS_NAMESPACE};
use crate::model::OutputEntry;

const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";

pub fn render(feed: &OutputFeed) -> Result<Vec<u8>, PublishError> {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("tidings".to_string(), TIDINGS_NAMESPACE.to_string());
    namespaces.insert("atom".to_string(), ATOM_NAMESPACE.to_string());
    let channel = Channel {
        title: strip_xml_forbidden(&feed.title),
        link: strip_xml_forbidden(&feed.home_url()),
        description: strip_xml_forbidden(&format!(
            "{}: merged by {GENERATOR} from its sources",
            feed.title
        )),
        last_build_date: Some(feed.updated().to_rfc2822()),
        generator: Some(format!(
            "{GENERATOR} {} ({GENERATOR_URI})",
            env!("CARGO_PKG_VERSION")
        )),
        atom_ext: Some(AtomExtension {
            links: page_links(feed, Format::Rss),
        }),
        items: feed
            .entries
            .iter()
            .map(|entry| render_item(entry, &feed.public_url))
            .collect(),
        namespaces,
        ..Channel::default()
    };
    let mut body = Vec::new();
    channel
        .write_to(&mut body)
        .map_err(|error| PublishError::Rss(error.to_string()))?;
    Ok(body)
}

fn element(name: &str, value: &str) -> Extension {
    Extension {
        name: name.to_string(),
        value: Some(strip_xml_forbidden(value)),
        ..Extension::default()
    }
}

fn render_item(entry: &OutputEntry, public_url: &str) -> Item {
    let mut extensions = ExtensionMap::default();
    let mut add = |prefix: &str, name: &str, value: &str| {
        extensions.entry(prefix.to_string()).or_default().insert(
            name.to_string(),
            vec![element(&format!("{prefix}:{name}"), value)],
        );
    };
    // RSS has one date; the time of the last edit goes beside it as Atom's `updated`.
    add("atom", "updated", &entry.updated.to_rfc3339());
    if let Some(guid) = &entry.guid {
        // The source's own guid/id, so a downstream reader can deduplicate again.
        add("tidings", "original-id", guid);
    }
    let summary = entry.summary.as_deref().map(sanitize_html);
    // The content lists the other outlets of the item or story after the entry's own body.
    let content = super::body_html(entry).as_deref().map(sanitize_html);
    Item {
        title: Some(strip_xml_forbidden(&entry.title)),
        link: entry.link.as_deref().map(strip_xml_forbidden),
        description: summary.or_else(|| content.clone()),
        content,
        guid: Some(Guid {
            value: strip_xml_forbidden(&entry.entry_id),
            permalink: false,
        }),
        pub_date: Some(entry.published.unwrap_or(entry.updated).to_rfc2822()),
        categories: entry
            .topics
            .iter()
            .map(|topic| Category {
                name: topic.clone(),
                domain: Some(format!("{public_url}/feeds/")),
            })
            .collect(),
        source: Some(Source {
            url: strip_xml_forbidden(&entry.source_url),
            title: Some(strip_xml_forbidden(&entry.source_title)),
        }),
        dublin_core_ext: entry.author.as_deref().map(|author| DublinCoreExtension {
            creators: vec![strip_xml_forbidden(author)],
            ..DublinCoreExtension::default()
        }),
        extensions,
        ..Item::default()
    }
}
