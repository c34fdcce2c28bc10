//! Bytes of a fetched document → `ParsedFeed` (RSS 0.9x/1.0/2.0, Atom, JSON Feed via feed-rs),
//! or a `ParseError` that says why the document is not a feed.
//!
//! Owns the call into feed-rs and how it is configured. It does no I/O and reads no clock.
//!
//! The steps: the bytes are decoded to UTF-8 by the charset rule of `charset` (BOM, XML shape,
//! UTF-8 evidence, HTTP charset, XML declaration, a guess), then feed-rs parses them strictly,
//! with our lenient date parser (`dates`). When the strict parse fails, `recover` repairs what a
//! lenient reader forgives (HTML entities, bare `&`, junk before the root, control characters,
//! a truncated end) and feed-rs tries once more. A document that is no feed (an HTML page,
//! an XML document of another kind) is refused with a reason.

pub mod charset;
pub mod dates;
pub mod prescan;
mod recover;

use std::time::Duration;

use feed_rs::parser;

use crate::publish::{GENERATOR, GENERATOR_URI};

/// A parsed document, as feed-rs models it. Entries that the source gave no id have an empty
/// `id` (see `parse`), never an invented one.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    pub feed: feed_rs::model::Feed,
    /// How often the feed says it changes: RSS `<ttl>`, or the syndication module's
    /// `sy:updatePeriod` / `sy:updateFrequency`, whichever is longer.
    pub update_period: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the document is empty (no element in it)")]
    Empty,
    #[error("not a feed: the server sent {content_type} that starts with {start:?}")]
    NotAFeed { content_type: String, start: String },
    #[error("not a feed: an XML document whose root element is <{root}>")]
    OtherXml { root: String },
    #[error("not a valid RSS, Atom or JSON feed: {0}")]
    Invalid(String),
    #[error(
        "this is tidings' own output (generator {generator}, self link {self_link}); refused, \
         as re-ingesting it would loop: remove this source from feeds.toml"
    )]
    OwnOutput {
        generator: String,
        self_link: String,
    },
}

/// Parses `body`. `content_type` is the HTTP header as sent (used in messages);
/// `base_url` resolves relative links in the document.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    base_url: &str,
) -> Result<ParsedFeed, ParseError> {
    let trimmed = body
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .map_or(&body[..0], |start| &body[start..]);
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    let decoded = charset::decode(trimmed, content_type);
    parse_decoded(&decoded.text, content_type, base_url)
}

/// Parses a document whose charset is decoded already: `decoded` is what `charset::decode`
/// made of the body without its leading whitespace (not empty), as `parse` makes it.
/// `parse::prescan` decodes the body for its scan, and the pipeline hands that text on here,
/// so a document is decoded once; being a `str`, it is not validated again either.
pub fn parse_decoded(
    decoded: &str,
    content_type: Option<&str>,
    base_url: &str,
) -> Result<ParsedFeed, ParseError> {
    let compatible = recover::compat(decoded);
    let text = compatible
        .as_ref()
        .map_or(decoded.as_bytes(), |compatible| compatible.as_bytes());
    let strict = parse_with_feed_rs(text);
    let outcome = match strict {
        Ok(feed) => Ok(feed),
        Err(strict_error) => {
            // Repairs start from the decoded document (compat's rewrite included in them).
            let repaired = recover::repair(decoded)
                .map(|repaired| recover::compat(&repaired).unwrap_or(repaired));
            match repaired {
                Some(repaired) => parse_with_feed_rs(repaired.as_bytes()).map_err(|_| strict_error),
                None => Err(strict_error),
            }
        }
    };
    match outcome {
        Ok(mut feed) => {
            resolve_links(&mut feed, base_url);
            let ttl = feed
                .ttl
                .filter(|minutes| *minutes > 0)
                .map(|minutes| Duration::from_secs(u64::from(minutes) * 60));
            let update_period = ttl.max(syndication_period(text));
            if let Some(error) = own_output(&feed, text, base_url) {
                return Err(error);
            }
            Ok(ParsedFeed {
                feed,
                update_period,
            })
        }
        Err(error) => {
            let start: String = String::from_utf8_lossy(&text[..floor_boundary(text, 40)])
                .chars()
                .filter(|character| !character.is_control())
                .collect();
            if looks_like_html(text) {
                return Err(ParseError::NotAFeed {
                    content_type: content_type.unwrap_or("a document").to_string(),
                    start,
                });
            }
            if text.first() == Some(&b'<')
                && std::str::from_utf8(text)
                    .ok()
                    .is_some_and(|text| recover::find_root(text).is_none())
            {
                return Err(ParseError::Empty);
            }
            if let Some(root) = other_xml_root(text) {
                return Err(ParseError::OtherXml { root });
            }
            Err(ParseError::Invalid(error))
        }
    }
}

/// The base feed-rs resolves against in place of the document's URL, so that a link that was
/// relative (with no absolute `xml:base` above it) can be told apart afterwards and resolved
/// by `resolve_links`.
/// Its path tells a relative-path reference (`a/b.html`, under the path) from an
/// absolute-path one (`/a/b.html`).
const RELATIVE_MARK: &str = "http://relative.tidings.invalid/base/";
const MARK_ORIGIN: &str = "http://relative.tidings.invalid";

/// Resolves the links that the document left relative. Links under an absolute `xml:base` were
/// resolved by feed-rs (xml:base is inherited and relative xml:base values are resolved
/// against their parents'). What is left is resolved:
/// - the feed's own links against the document URL (`base_url`, where it was fetched from
///   after redirects);
/// - an entry's links in RSS and JSON Feed against the feed's (resolved) site link, else the
///   document URL: RSS has no base of its own, and publishers who write relative item links
///   mean their site, which is not always where the feed lives (`/feeds/rss.php`);
/// - an entry's links in Atom against the document URL, as RFC 4287 (through xml:base and
///   RFC 3986) says.
fn resolve_links(feed: &mut feed_rs::model::Feed, base_url: &str) {
    let Ok(document) = url::Url::parse(base_url) else {
        return;
    };
    for link in &mut feed.links {
        link.href = resolve_marked(&link.href, &document);
    }
    let site = feed
        .links
        .iter()
        .find(|link| link.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .and_then(|link| url::Url::parse(&link.href).ok())
        .filter(|site| matches!(site.scheme(), "http" | "https"));
    let entry_base = match (&feed.feed_type, site) {
        (feed_rs::model::FeedType::Atom, _) | (_, None) => document,
        (_, Some(site)) => site,
    };
    for entry in &mut feed.entries {
        for link in &mut entry.links {
            link.href = resolve_marked(&link.href, &entry_base);
        }
        if let Some(source) = entry
            .content
            .as_mut()
            .and_then(|content| content.src.as_mut())
        {
            source.href = resolve_marked(&source.href, &entry_base);
        }
    }
}

/// `href` again when it is absolute; else the reference it was, against `base`.
fn resolve_marked(href: &str, base: &url::Url) -> String {
    let reference = match href.strip_prefix(RELATIVE_MARK) {
        Some(relative_path) => relative_path,
        None => match href.strip_prefix(MARK_ORIGIN) {
            Some(absolute_path) => absolute_path,
            None => return href.to_string(),
        },
    };
    base.join(reference)
        .map_or_else(|_| href.to_string(), |url| url.to_string())
}

/// Why feed-rs refused a document, in words.
fn parse_with_feed_rs(text: &[u8]) -> Result<feed_rs::model::Feed, String> {
    // feed-rs would invent an id for an entry that has none (a hash of link and title, or a
    // random UUID when there is no link). Either would break item identity: a changed title
    // would look like a new item, and a UUID changes on every poll. An empty id tells
    // `normalize` that the source gave none, so it can choose the key itself.
    let feed_parser = parser::Builder::new()
        .base_uri(Some(RELATIVE_MARK))
        .id_generator(|_links, _title, _uri| String::new())
        .timestamp_parser(dates::parse_date)
        .build();
    // A parser bug must cost one feed, not the process: quick-xml (under feed-rs) has panicked
    // on documents of the corpus, so the call is fenced and a panic becomes an error on that
    // feed.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| feed_parser.parse(text)))
        .map_err(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".to_string());
            format!("the XML parser crashed on this document: {reason}")
        })?
        .map_err(|error| error.to_string())
}

/// The index at or below `index` that does not split a UTF-8 sequence.
fn floor_boundary(text: &[u8], index: usize) -> usize {
    let mut index = index.min(text.len());
    while index > 0 && index < text.len() && (text[index] & 0xC0) == 0x80 {
        index -= 1;
    }
    index
}

/// The root element's name of an XML document that is well-formed enough to have one but is
/// no feed (`<note>`, `<html>` in XHTML, `<opml>`).
fn other_xml_root(text: &[u8]) -> Option<String> {
    if text.first() != Some(&b'<') {
        return None;
    }
    let text = std::str::from_utf8(text).ok()?;
    let start = recover::find_root(text)?;
    let name: String = text[start + 1..]
        .chars()
        .take_while(|character| {
            character.is_alphanumeric() || matches!(character, ':' | '_' | '-' | '.')
        })
        .collect();
    let local = name
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    (!name.is_empty() && !matches!(local.as_str(), "rss" | "feed" | "RDF" | "entry"))
        .then_some(name)
}

/// tidings' own output feeds say so in their generator (Atom and RSS `generator`, JSON
/// Feed `_tidings.generator`) and have a self link (else are fetched from a URL) of the shape
/// `/feeds/{topic}.{atom,rss,json}`. Both must hold, so a feed that only mentions tidings
/// somewhere is still read.
fn own_output(feed: &feed_rs::model::Feed, body: &[u8], base_url: &str) -> Option<ParseError> {
    let (generator, json_self) = match &feed.generator {
        Some(generator) => {
            let named = generator.content.trim() == GENERATOR
                || generator
                    .content
                    .trim()
                    .starts_with(&format!("{GENERATOR} "));
            let ours = generator.uri.as_deref() == Some(GENERATOR_URI)
                || generator.content.contains(GENERATOR_URI);
            (named && ours).then(|| (generator.content.trim().to_string(), None))
        }
        None => json_generator(body),
    }?;
    let self_link = json_self.as_deref().unwrap_or_else(|| {
        feed.links
            .iter()
            .find(|link| link.rel.as_deref() == Some("self"))
            .map_or(base_url, |link| link.href.as_str())
    });
    let path = url::Url::parse(self_link)
        .map(|url| url.path().to_string())
        .unwrap_or_default();
    let file = path.rsplit_once("/feeds/").map(|(_, file)| file)?;
    let (slug, extension) = file.rsplit_once('.')?;
    let output_shaped = !slug.is_empty()
        && slug
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && matches!(extension, "atom" | "rss" | "json");
    output_shaped.then(|| ParseError::OwnOutput {
        generator,
        self_link: self_link.to_string(),
    })
}

/// The `_tidings.generator` of a JSON Feed when it names tidings, and the feed's `feed_url`
/// (feed-rs reads neither extension keys nor which link is the feed's own).
fn json_generator(body: &[u8]) -> Option<(String, Option<String>)> {
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace())?;
    if body.get(start) != Some(&b'{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let extension = value.get("_tidings")?;
    let generator = extension.get("generator")?.as_str()?;
    let feed_url = value
        .get("feed_url")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    (generator == GENERATOR && extension.get("about")?.as_str()? == GENERATOR_URI)
        .then(|| (generator.to_string(), feed_url))
}

/// The RSS 1.0 syndication module: `sy:updatePeriod` (hourly, daily, weekly, monthly,
/// yearly) divided by `sy:updateFrequency` (default 1). feed-rs does not read it, and the
/// elements are simple enough to find in the raw document.
fn syndication_period(body: &[u8]) -> Option<Duration> {
    let period = element_text(body, b":updatePeriod>")?;
    let seconds: u64 = match period.trim().to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    let frequency = element_text(body, b":updateFrequency>")
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|frequency| *frequency > 0)
        .unwrap_or(1);
    Some(Duration::from_secs(seconds / frequency))
}

/// The text after the first `tag` (an element name with its closing `>`) up to the next `<`.
fn element_text(body: &[u8], tag: &[u8]) -> Option<String> {
    let start = memchr::memmem::find(body, tag)? + tag.len();
    let rest = body.get(start..)?;
    let end = memchr::memchr(b'<', rest)?;
    Some(String::from_utf8_lossy(&rest[..end.min(32)]).into_owned())
}

fn looks_like_html(start: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&start[..start.len().min(256)]).to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<body")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_without_id_get_an_empty_id() {
        let rss = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>no id, no link</title><description>d</description></item>
            <item><title>link only</title><link>https://example.org/a</link></item>
            </channel></rss>"#;
        let feed = parse(rss, None, "https://example.org/feed").unwrap().feed;
        assert_eq!(feed.entries.len(), 2);
        assert!(feed.entries.iter().all(|entry| entry.id.is_empty()));
    }

    #[test]
    fn update_hints_come_from_ttl_and_the_syndication_module() {
        let ttl = br#"<rss version="2.0"><channel><title>t</title><ttl>60</ttl></channel></rss>"#;
        assert_eq!(
            parse(ttl, None, "https://e.org/").unwrap().update_period,
            Some(Duration::from_secs(3600))
        );
        let sy = br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns="http://purl.org/rss/1.0/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
            <channel rdf:about="https://e.org/"><title>t</title><link>https://e.org/</link>
            <description>d</description><sy:updatePeriod>daily</sy:updatePeriod>
            <sy:updateFrequency>4</sy:updateFrequency></channel></rdf:RDF>"#;
        assert_eq!(
            parse(sy, None, "https://e.org/").unwrap().update_period,
            Some(Duration::from_secs(6 * 3600))
        );
        let none = br#"<rss version="2.0"><channel><title>t</title></channel></rss>"#;
        assert_eq!(
            parse(none, None, "https://e.org/").unwrap().update_period,
            None
        );
    }

    #[test]
    fn relative_links_resolve_against_xml_base_the_site_link_and_the_document() {
        let rss =
            br#"<rss version="2.0"><channel><title>t</title><link>https://site.example/news/</link>
            <item><title>a</title><link>2024/a.html</link></item>
            <item><title>b</title><link>/b.html?x=1#top</link></item>
            <item><title>c</title><link>https://other.example/c</link></item>
            </channel></rss>"#;
        let feed = parse(rss, None, "https://feeds.example/rss.php")
            .unwrap()
            .feed;
        let links: Vec<&str> = feed
            .entries
            .iter()
            .map(|e| e.links[0].href.as_str())
            .collect();
        assert_eq!(
            links,
            [
                "https://site.example/news/2024/a.html",
                "https://site.example/b.html?x=1#top",
                "https://other.example/c"
            ]
        );
        // A relative site link is itself relative to the document.
        let rss = br#"<rss version="2.0"><channel><title>t</title><link>/home/</link>
            <item><title>a</title><link>a.html</link></item></channel></rss>"#;
        let feed = parse(rss, None, "https://feeds.example/x/rss")
            .unwrap()
            .feed;
        assert_eq!(feed.links[0].href, "https://feeds.example/home/");
        assert_eq!(
            feed.entries[0].links[0].href,
            "https://feeds.example/home/a.html"
        );
        // Atom: xml:base (inherited, and relative ones resolved against their parent), else
        // the document URL.
        let atom =
            br#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/root/">
            <title>t</title><link href="https://site.example/"/>
            <entry xml:base="sub/"><title>a</title><id>1</id><link href="a.html"/></entry>
            <entry><title>b</title><id>2</id><link href="../b.html"/></entry>
            </feed>"#;
        let feed = parse(atom, None, "https://feeds.example/atom.xml")
            .unwrap()
            .feed;
        assert_eq!(
            feed.entries[0].links[0].href,
            "https://base.example/root/sub/a.html"
        );
        assert_eq!(feed.entries[1].links[0].href, "https://base.example/b.html");
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
            <link href="https://site.example/"/>
            <entry><title>a</title><id>1</id><link href="/a.html"/></entry></feed>"#;
        let feed = parse(atom, None, "https://feeds.example/x/atom.xml")
            .unwrap()
            .feed;
        assert_eq!(
            feed.entries[0].links[0].href,
            "https://feeds.example/a.html"
        );
    }

    #[test]
    fn lenient_dates_and_recovered_documents() {
        let rss = b"<rss version=\"2.0\"><channel><title>t &nbsp;&copy; & co</title>
            <item><title>a</title><pubDate>Thurs, 13 Jul 2011 07:38 CEST</pubDate></item>
            <item><title>b</title><pubDate>whenever</pubDate></item><item><title>c</ti";
        let feed = parse(rss, None, "https://e.org/").unwrap().feed;
        assert_eq!(feed.title.unwrap().content, "t \u{a0}\u{a9} & co");
        assert_eq!(feed.entries.len(), 2, "the truncated item is dropped");
        assert_eq!(feed.entries[1].published, None);
        assert_eq!(
            feed.entries[0].published.unwrap().to_rfc3339(),
            "2011-07-13T05:38:00+00:00"
        );
    }

    #[test]
    fn other_xml_is_refused_by_its_root() {
        let note = parse(
            b"<?xml version=\"1.0\"?><!-- <rss> --><note><to>x</to></note>",
            None,
            "https://e.org/",
        );
        assert!(
            matches!(&note, Err(ParseError::OtherXml { root }) if root == "note"),
            "{note:?}"
        );
    }

    #[test]
    fn tidings_own_output_is_refused_in_every_format() {
        use crate::publish::{Format, OutputFeed, render};
        let feed = OutputFeed::new("ukraine", "Ukraine", "https://news.example", Vec::new());
        for format in Format::ALL {
            let body = render(&feed, format).unwrap().body;
            let error = parse(&body, None, "https://elsewhere.example/x").unwrap_err();
            assert!(
                matches!(error, ParseError::OwnOutput { .. }),
                "{format:?}: {error:?}"
            );
            assert!(error.to_string().contains("own output"), "{error}");
        }
        // A feed merely generated by something called tidings, without an output self link,
        // is read as usual.
        let other = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>
            <updated>2024-01-01T00:00:00Z</updated>
            <generator uri="https://github.com/tidings-rs/tidings">tidings</generator>
            <link rel="self" href="https://e.org/blog/atom.xml"/></feed>"#;
        assert!(parse(other, None, "https://e.org/blog/atom.xml").is_ok());
    }

    #[test]
    fn html_and_garbage_are_refused_with_a_reason() {
        let html = parse(
            b"<!DOCTYPE html><html><body>hi</body></html>",
            Some("text/html"),
            "https://e.org/",
        );
        assert!(matches!(html, Err(ParseError::NotAFeed { .. })), "{html:?}");
        let garbage = parse(b"\x00\x01 this is not xml", None, "https://e.org/");
        assert!(
            matches!(garbage, Err(ParseError::Invalid(_))),
            "{garbage:?}"
        );
        assert!(matches!(
            parse(b"  \n", None, "https://e.org/"),
            Err(ParseError::Empty)
        ));
    }
}
