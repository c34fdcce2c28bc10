//! `tidings add URL`: finding the feed behind a URL. The URL itself when it is a feed; else the
//! feeds its page announces (`<link rel="alternate" type="application/rss+xml" href=...>`,
//! Atom and JSON Feed likewise), in the page's order; else the usual places (`/feed`,
//! `/rss.xml`, `/atom.xml`...) on the same site. The first candidate that parses as a feed wins.
//!
//! Fetches with the one client of `fetch` and parses with `parse`; writes nothing.

use std::sync::LazyLock;

use chrono::Utc;
use regex::Regex;
use url::Url;

use crate::fetch::{self, FetchError, FetchOutcome, Validators};
use crate::model::{FeedMeta, Item};
use crate::normalize::normalize;
use crate::parse::{ParseError, parse};

/// Where sites often keep their feed, tried when a page announces none.
pub const COMMON_PATHS: &[&str] = &[
    "/feed",
    "/feed/",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/feed.json",
    "/feeds/posts/default",
];

/// A feed found, with what it holds now.
#[derive(Debug)]
pub struct Discovered {
    /// The feed's URL, to put in `feeds.toml`.
    pub url: Url,
    pub meta: FeedMeta,
    /// Its items, newest first.
    pub items: Vec<Item>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot fetch {url}: {source}")]
    Fetch {
        url: String,
        #[source]
        source: FetchError,
    },
    #[error(
        "no feed found at {url}: it is not a feed ({reason}), its page links to no working feed, \
         and none of the usual paths ({tried}) has one"
    )]
    NotFound {
        url: String,
        reason: ParseError,
        tried: String,
    },
}

static LINK_TAG: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?is)<link\b[^>]*>").ok());
static ATTRIBUTE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z][a-z0-9_:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#).ok()
});

/// The feed URLs an HTML page announces with `<link rel="alternate">`, resolved against
/// `base`, in the page's order.
pub fn alternate_links(html: &str, base: &Url) -> Vec<Url> {
    let (Some(link_tag), Some(attribute)) = (LINK_TAG.as_ref(), ATTRIBUTE.as_ref()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for tag in link_tag.find_iter(html) {
        let mut rel = String::new();
        let mut kind = String::new();
        let mut href = None;
        for captures in attribute.captures_iter(tag.as_str()) {
            let name = captures.get(1).map_or("", |name| name.as_str());
            let value = captures
                .get(2)
                .or_else(|| captures.get(3))
                .or_else(|| captures.get(4))
                .map_or("", |value| value.as_str());
            let value = html_escape::decode_html_entities(value).trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "rel" => rel = value.to_ascii_lowercase(),
                "type" => kind = value.to_ascii_lowercase(),
                "href" => href = Some(value),
                _ => {}
            }
        }
        let is_alternate = rel.split_whitespace().any(|word| word == "alternate");
        let is_feed = [
            "application/rss+xml",
            "application/atom+xml",
            "application/feed+json",
            "application/json",
        ]
        .iter()
        .any(|feed_type| kind.split(';').next().map(str::trim) == Some(*feed_type));
        if let (true, true, Some(href)) = (is_alternate, is_feed, href)
            && let Ok(url) = base.join(&href)
            && matches!(url.scheme(), "http" | "https")
            && !found.contains(&url)
        {
            found.push(url);
        }
    }
    found
}

/// Fetches `url` and parses it as a feed.
async fn try_feed(
    client: &fetch::FeedClient,
    url: &Url,
    max_body: usize,
) -> Result<Result<Discovered, (ParseError, Vec<u8>, Url)>, FetchError> {
    let outcome = fetch::fetch(client, url, &Validators::default(), max_body, Utc::now()).await?;
    let FetchOutcome::Body(body) = outcome else {
        // No validators were sent, so a 304 cannot come; treat it as nothing found.
        return Ok(Err((ParseError::Empty, Vec::new(), url.clone())));
    };
    match parse(
        &body.body,
        body.content_type.as_deref(),
        body.final_url.as_str(),
    ) {
        Ok(parsed) => {
            let (meta, mut items) = normalize(&parsed, url);
            items.sort_by_key(|item| std::cmp::Reverse(item.published.or(item.updated)));
            Ok(Ok(Discovered {
                url: url.clone(),
                meta,
                items,
            }))
        }
        Err(error) => Ok(Err((error, body.body, body.final_url))),
    }
}

/// Finds the feed at `url`: the URL itself, the feeds its page announces, then the usual paths.
pub async fn discover(
    client: &fetch::FeedClient,
    url: &Url,
    max_body: usize,
) -> Result<Discovered, DiscoverError> {
    let (reason, page, final_url) = match try_feed(client, url, max_body).await {
        Ok(Ok(found)) => return Ok(found),
        Ok(Err(not_a_feed)) => not_a_feed,
        Err(source) => {
            return Err(DiscoverError::Fetch {
                url: url.to_string(),
                source,
            });
        }
    };
    let html = String::from_utf8_lossy(&page);
    let mut candidates = alternate_links(&html, &final_url);
    for path in COMMON_PATHS {
        if let Ok(candidate) = final_url.join(path)
            && !candidates.contains(&candidate)
        {
            candidates.push(candidate);
        }
    }
    for candidate in &candidates {
        if let Ok(Ok(found)) = try_feed(client, candidate, max_body).await {
            return Ok(found);
        }
    }
    Err(DiscoverError::NotFound {
        url: url.to_string(),
        reason,
        tried: COMMON_PATHS.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_links_are_found_resolved_and_ordered() {
        let base = Url::parse("https://news.example/section/page.html").unwrap();
        let html = r#"<html><head>
            <link rel="stylesheet" href="/style.css">
            <LINK REL="alternate" TYPE="application/atom+xml" title="Atom" HREF="../atom.xml">
            <link href='https://feeds.example/rss?a=1&amp;b=2' type='application/rss+xml; charset=utf-8' rel='alternate'>
            <link rel="alternate" type="text/html" hreflang="de" href="/de/">
            <link rel="alternate" type="application/feed+json" href="/feed.json"/>
            <link rel="alternate" type="application/atom+xml" href="../atom.xml">
            </head></html>"#;
        let links: Vec<String> = alternate_links(html, &base)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            links,
            [
                "https://news.example/atom.xml",
                "https://feeds.example/rss?a=1&b=2",
                "https://news.example/feed.json",
            ]
        );
    }
}
