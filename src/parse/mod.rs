//! Bytes of a fetched document → `ParsedFeed` (RSS 0.9x/1.0/2.0, Atom, JSON Feed via feed-rs),
//! or a `ParseError` that says why the document is not a feed.
//!
//! Owns the call into feed-rs and how it is configured. It does no I/O and reads no clock.

use feed_rs::parser;

/// A parsed document, as feed-rs models it. Entries that the source gave no id have an empty
/// `id` (see `parse`), never an invented one.
#[derive(Debug, Clone)]
pub struct ParsedFeed(pub feed_rs::model::Feed);

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the document is empty")]
    Empty,
    #[error("not a feed: the server sent {content_type} that starts with {start:?}")]
    NotAFeed { content_type: String, start: String },
    #[error("not a valid RSS, Atom or JSON feed: {0}")]
    Invalid(String),
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
    match feed_parser.parse(body) {
        Ok(feed) => Ok(ParsedFeed(feed)),
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
        let feed = parse(rss, None, "https://example.org/feed").unwrap().0;
        assert_eq!(feed.entries.len(), 2);
        assert!(feed.entries.iter().all(|entry| entry.id.is_empty()));
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
