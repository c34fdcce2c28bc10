//! Bytes of a fetched document → `ParsedFeed` (RSS 0.9x/1.0/2.0, Atom, JSON Feed via feed-rs),
//! or a `ParseError` that says why the document is not a feed.
//!
//! Owns the call into feed-rs and how it is configured. It does no I/O and reads no clock.

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
    #[error("the document is empty")]
    Empty,
    #[error("not a feed: the server sent {content_type} that starts with {start:?}")]
    NotAFeed { content_type: String, start: String },
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
    // feed-rs would invent an id for an entry that has none (a hash of link and title, or a
    // random UUID when there is no link). Either would break item identity: a changed title
    // would look like a new item, and a UUID changes on every poll. An empty id tells
    // `normalize` that the source gave none, so it can choose the key itself.
    let feed_parser = parser::Builder::new()
        .base_uri(Some(base_url))
        .id_generator(|_links, _title, _uri| String::new())
        .build();
    // A parser bug must cost one feed, not the process: quick-xml (under feed-rs) panics on
    // some documents whose declared encoding changes mid-stream (see the corpus test), so the
    // call is fenced and a panic becomes an error on that feed.
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| feed_parser.parse(body)))
            .map_err(|panic| {
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown".to_string());
                ParseError::Invalid(format!("the XML parser crashed on this document: {reason}"))
            })?;
    match outcome {
        Ok(feed) => {
            let ttl = feed
                .ttl
                .filter(|minutes| *minutes > 0)
                .map(|minutes| Duration::from_secs(u64::from(minutes) * 60));
            let update_period = ttl.max(syndication_period(body));
            if let Some(error) = own_output(&feed, body, base_url) {
                return Err(error);
            }
            Ok(ParsedFeed {
                feed,
                update_period,
            })
        }
        Err(error) => {
            if looks_like_html(trimmed) {
                let start: String = String::from_utf8_lossy(&trimmed[..trimmed.len().min(40)])
                    .chars()
                    .filter(|character| !character.is_control())
                    .collect();
                return Err(ParseError::NotAFeed {
                    content_type: content_type.unwrap_or("a document").to_string(),
                    start,
                });
            }
            Err(ParseError::Invalid(error.to_string()))
        }
    }
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
