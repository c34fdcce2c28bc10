use chrono::{TimeZone, Utc};

use super::*;
use crate::model::Cursor;

fn entry(row: i64) -> OutputEntry {
    OutputEntry {
        entry_id: format!("urn:tidings:item:abc{row}"),
        guid: Some(format!("source-guid-{row}")),
        link: Some(format!("https://news.example/a?x={row}&y=2")),
        title: "Kyiv & <Odesa>\u{0}".into(),
        summary: Some("<p onclick=\"x()\">Hi<script>bad()</script></p>".into()),
        content: Some("<p>Full <a href=\"javascript:alert(1)\">text</a>\u{b}</p>".into()),
        author: Some("Reporter".into()),
        published: Some(Utc.timestamp_opt(1_700_000_000, 0).unwrap()),
        updated: Utc.timestamp_opt(1_700_000_100 + row, 0).unwrap(),
        source_url: "https://news.example/feed.xml".into(),
        source_title: "News & Views".into(),
        source_link: Some("https://news.example/".into()),
        topics: vec!["ukraine".into(), "europe".into()],
        position: Cursor {
            sort_time: 1_700_000_000,
            row,
        },
        other_sources: Vec::new(),
    }
}

fn feed() -> OutputFeed {
    let mut feed = OutputFeed::new(
        "ukraine",
        "Ukraine",
        "https://proxy.example/news",
        vec![entry(2), entry(1)],
    );
    feed.limit = 2;
    feed.next = Some(Cursor {
        sort_time: 1_700_000_000,
        row: 1,
    });
    feed.hub = Some("https://hub.example/".into());
    feed
}

fn text(format: Format) -> String {
    String::from_utf8(render(&feed(), format).unwrap().body).unwrap()
}

#[test]
fn every_format_reads_back_with_feed_rs_and_keeps_what_matters() {
    for format in Format::ALL {
        let body = render(&feed(), format).unwrap().body;
        let parsed = feed_rs::parser::parse(body.as_slice())
            .unwrap_or_else(|error| panic!("{format:?}: {error}"));
        assert_eq!(parsed.entries.len(), 2, "{format:?}");
        let read = &parsed.entries[0];
        assert_eq!(read.id, "urn:tidings:item:abc2", "{format:?}");
        assert_eq!(
            read.title.as_ref().unwrap().content,
            "Kyiv & <Odesa>",
            "{format:?}"
        );
        assert_eq!(
            read.links[0].href, "https://news.example/a?x=2&y=2",
            "{format:?}"
        );
        let terms: Vec<&str> = read.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(terms, ["ukraine", "europe"], "{format:?}");
        assert!(read.published.is_some(), "{format:?}");
        assert!(read.updated.is_some(), "{format:?}");
        assert_eq!(
            read.authors[0].name.as_deref(),
            Some("Reporter"),
            "{format:?}"
        );
    }
}

#[test]
fn xml_formats_are_well_formed_and_sanitized() {
    for format in [Format::Atom, Format::Rss] {
        let text = text(format);
        roxmltree::Document::parse(&text).unwrap_or_else(|error| panic!("{format:?}: {error}"));
        for bad in ["<script", "onclick", "javascript:", "\u{0}", "\u{b}"] {
            assert!(!text.contains(bad), "{format:?} contains {bad:?}: {text}");
        }
        assert!(text.contains("source-guid-2"), "{format:?}: {text}");
    }
    let json = text(Format::Json);
    for bad in ["<script", "onclick", "javascript:", "\\u0000", "\\u000b"] {
        assert!(!json.contains(bad), "JSON contains {bad:?}: {json}");
    }
}

#[test]
fn atom_names_the_source_and_links_self_next_and_hub_under_public_url() {
    let text = text(Format::Atom);
    let document = roxmltree::Document::parse(&text).unwrap();
    let root = document.root_element();
    let link = |rel: &str| {
        root.children()
            .find(|node| node.has_tag_name("link") && node.attribute("rel") == Some(rel))
            .and_then(|node| node.attribute("href"))
            .map(str::to_string)
    };
    assert_eq!(
        link("self").as_deref(),
        Some("https://proxy.example/news/feeds/ukraine.atom?limit=2")
    );
    assert_eq!(
        link("next").as_deref(),
        Some("https://proxy.example/news/feeds/ukraine.atom?before=1700000000_1&limit=2")
    );
    assert_eq!(link("hub").as_deref(), Some("https://hub.example/"));
    assert_eq!(link("first"), None, "the first page has no first link");
    let source = root
        .descendants()
        .find(|node| node.has_tag_name("source"))
        .unwrap();
    let source_id = source
        .children()
        .find(|node| node.has_tag_name("id"))
        .and_then(|node| node.text());
    assert_eq!(source_id, Some("https://news.example/feed.xml"));
    let generator = root
        .children()
        .find(|node| node.has_tag_name("generator"))
        .unwrap();
    assert_eq!(generator.text(), Some(GENERATOR));
}

#[test]
fn rss_has_source_url_guid_and_atom_links() {
    let text = text(Format::Rss);
    let document = roxmltree::Document::parse(&text).unwrap();
    let source = document
        .descendants()
        .find(|node| node.has_tag_name("source"))
        .unwrap();
    assert_eq!(
        source.attribute("url"),
        Some("https://news.example/feed.xml")
    );
    assert_eq!(source.text(), Some("News & Views"));
    let links: Vec<(String, String)> = document
        .descendants()
        .filter(|node| node.tag_name().namespace() == Some("http://www.w3.org/2005/Atom"))
        .filter(|node| node.tag_name().name() == "link")
        .map(|node| {
            (
                node.attribute("rel").unwrap().to_string(),
                node.attribute("href").unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        links.contains(&(
            "next".into(),
            "https://proxy.example/news/feeds/ukraine.rss?before=1700000000_1&limit=2".into()
        )),
        "{links:?}"
    );
    assert!(
        links.contains(&("hub".into(), "https://hub.example/".into())),
        "{links:?}"
    );
    let guid = document
        .descendants()
        .find(|node| node.has_tag_name("guid"))
        .unwrap();
    assert_eq!(guid.attribute("isPermaLink"), Some("false"));
    assert_eq!(guid.text(), Some("urn:tidings:item:abc2"));
}

#[test]
fn json_feed_is_version_1_1_with_source_extension_and_paging() {
    let value: serde_json::Value = serde_json::from_str(&text(Format::Json)).unwrap();
    assert_eq!(value["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(
        value["feed_url"],
        "https://proxy.example/news/feeds/ukraine.json?limit=2"
    );
    assert_eq!(
        value["next_url"],
        "https://proxy.example/news/feeds/ukraine.json?before=1700000000_1&limit=2"
    );
    assert_eq!(value["hubs"][0]["type"], "WebSub");
    let item = &value["items"][0];
    assert_eq!(item["id"], "urn:tidings:item:abc2");
    assert_eq!(
        item["_tidings"]["source"]["feed_url"],
        "https://news.example/feed.xml"
    );
    assert_eq!(item["_tidings"]["original_id"], "source-guid-2");
    assert_eq!(item["authors"][0]["name"], "Reporter");
    assert_eq!(item["summary"], "Hi");
    assert_eq!(value["_tidings"]["generator"], GENERATOR);
}

#[test]
fn a_later_page_links_to_the_first_and_the_same_entries_give_the_same_etag() {
    let mut later = feed();
    later.before = Some(Cursor {
        sort_time: 1_700_000_500,
        row: 9,
    });
    later.next = None;
    let text = String::from_utf8(render(&later, Format::Atom).unwrap().body).unwrap();
    assert!(
        text.contains(
            "href=\"https://proxy.example/news/feeds/ukraine.atom?limit=2\" rel=\"first\""
        ) || text.contains("rel=\"first\""),
        "{text}"
    );
    assert!(!text.contains("rel=\"next\""), "{text}");
    for format in Format::ALL {
        let first = render(&feed(), format).unwrap();
        let again = render(&feed(), format).unwrap();
        assert_eq!(first.etag, again.etag, "{format:?}");
        let mut changed = feed();
        changed.entries[0].title = "Another title".into();
        assert_ne!(
            render(&changed, format).unwrap().etag,
            first.etag,
            "{format:?}"
        );
    }
}

#[test]
fn the_default_first_page_has_a_plain_self_link() {
    let feed = OutputFeed::new("all", "All", "http://127.0.0.1:8080", vec![entry(1)]);
    assert_eq!(
        feed.self_url(Format::Rss),
        "http://127.0.0.1:8080/feeds/all.rss"
    );
    assert_eq!(feed.next_url(Format::Rss), None);
}

#[test]
fn cursors_round_trip_and_bad_ones_are_refused() {
    let cursor = Cursor {
        sort_time: -5,
        row: 42,
    };
    assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
    assert!("abc".parse::<Cursor>().is_err());
    assert!("1_".parse::<Cursor>().is_err());
}

#[test]
fn an_atom_entry_without_link_or_content_still_has_content() {
    let mut bare = entry(1);
    bare.link = None;
    bare.content = None;
    bare.summary = None;
    let feed = OutputFeed::new("all", "All", "http://127.0.0.1:8080", vec![bare]);
    let text = String::from_utf8(render(&feed, Format::Atom).unwrap().body).unwrap();
    let document = roxmltree::Document::parse(&text).unwrap();
    let content = document
        .descendants()
        .find(|node| node.has_tag_name("content"))
        .expect("RFC 4287 4.1.2: content when there is no alternate link");
    assert_eq!(content.attribute("type"), Some("text"));
    assert_eq!(content.text(), Some("Kyiv & <Odesa>"));
}

#[test]
fn other_sources_are_listed_in_every_format_and_as_related_links_in_atom() {
    let mut story = entry(1);
    story.content = None;
    story.other_sources = vec![crate::model::OtherSource {
        link: Some("https://other.example/story?id=1&x=2".into()),
        title: "Kyiv <edited>".into(),
        source_title: "Other & Co".into(),
    }];
    let mut feed = feed();
    feed.entries = vec![story];
    let atom = render(&feed, Format::Atom).unwrap().body;
    let parsed = feed_rs::parser::parse(atom.as_slice()).unwrap();
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
        content.contains("Other &amp; Co: <a href=\"https://other.example/story?id=1&amp;x=2\""),
        "{content}"
    );
    assert!(content.contains("Kyiv &lt;edited&gt;</a>"), "{content}");
    for format in [Format::Rss, Format::Json] {
        let body = String::from_utf8(render(&feed, format).unwrap().body).unwrap();
        assert!(body.contains("Also reported by:"), "{format:?}: {body}");
        assert!(
            body.contains("https://other.example/story?id=1"),
            "{format:?}: {body}"
        );
    }
}
