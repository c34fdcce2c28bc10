//! Rendering output feeds: an `OutputFeed` (one page of entries, chosen by the caller) → bytes
//! of Atom 1.0 (`atom.rs`), RSS 2.0 (`rss.rs`) or JSON Feed 1.1 (`json.rs`), with the
//! validators a server needs (`ETag`, `Last-Modified`).
//!
//! Owns the output formats and sanitizing. It does not query the store and reads no clock:
//! the same entries always render to the same bytes, so the `ETag` only changes when the
//! entries do.

mod atom;
mod json;
mod rss;
pub mod sanitize;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Cursor, OutputEntry};

/// The namespace of tidings' own extension elements (Atom and RSS).
pub const TIDINGS_NAMESPACE: &str = "https://github.com/tidings-rs/tidings/ns/1";
/// The generator name written into every output feed; `parse` refuses a source that says it,
/// so tidings never re-ingests its own output.
pub const GENERATOR: &str = "tidings";
/// The generator's URI, beside its name.
pub const GENERATOR_URI: &str = env!("CARGO_PKG_REPOSITORY");
/// Entries per page when the subscriber does not say (`?limit=`).
pub const DEFAULT_LIMIT: usize = 50;
/// The most entries one page may hold.
pub const MAX_LIMIT: usize = 500;

/// An output format and how it is named in URLs and `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Atom,
    Rss,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Rss => "rss",
            Format::Json => "json",
        }
    }

    pub fn from_extension(extension: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| format.extension() == extension)
    }

    /// The media type without parameters, as autodiscovery links name it.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml",
            Format::Rss => "application/rss+xml",
            Format::Json => "application/feed+json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The name people see on a subscribe link.
    pub fn label(self) -> &'static str {
        match self {
            Format::Atom => "Atom",
            Format::Rss => "RSS",
            Format::Json => "JSON Feed",
        }
    }
}

/// A feed page ready to render.
#[derive(Debug, Clone)]
pub struct OutputFeed {
    /// `all` or a topic slug.
    pub slug: String,
    pub title: String,
    /// Base URL of the site, without a trailing slash (`settings.public_url`).
    pub public_url: String,
    /// Newest first.
    pub entries: Vec<OutputEntry>,
    /// Entries per page, as asked (`?limit=`); links to other pages keep it.
    pub limit: usize,
    /// Where this page starts (`?before=`); `None` for the first page.
    pub before: Option<Cursor>,
    /// Where the next (older) page starts, when there is one.
    pub next: Option<Cursor>,
    /// A WebSub hub that subscribers may use (`settings.websub_hub`).
    pub hub: Option<String>,
}

impl OutputFeed {
    /// A first page with the default limit and nothing to page to, for tests and callers that
    /// render a fixed set of entries.
    pub fn new(slug: &str, title: &str, public_url: &str, entries: Vec<OutputEntry>) -> Self {
        OutputFeed {
            slug: slug.to_string(),
            title: title.to_string(),
            public_url: public_url.to_string(),
            entries,
            limit: DEFAULT_LIMIT,
            before: None,
            next: None,
            hub: None,
        }
    }

    /// The feed's address in `format`, without query: what WebSub and autodiscovery name.
    pub fn feed_url(&self, format: Format) -> String {
        feed_url(&self.public_url, &self.slug, format)
    }

    /// The address of this page in `format` (the self link).
    pub fn self_url(&self, format: Format) -> String {
        self.page_url(format, self.before)
    }

    /// The address of the next (older) page, when there is one.
    pub fn next_url(&self, format: Format) -> Option<String> {
        self.next.map(|next| self.page_url(format, Some(next)))
    }

    /// The address of the first page with this page's limit.
    pub fn first_url(&self, format: Format) -> String {
        self.page_url(format, None)
    }

    fn page_url(&self, format: Format, before: Option<Cursor>) -> String {
        let base = self.feed_url(format);
        let Ok(mut url) = Url::parse(&base) else {
            return base;
        };
        {
            let mut query = url.query_pairs_mut();
            if let Some(before) = before {
                query.append_pair("before", &before.to_string());
            }
            if self.limit != DEFAULT_LIMIT {
                query.append_pair("limit", &self.limit.to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url.to_string()
    }

    /// The page of the site that lists the feeds.
    pub fn home_url(&self) -> String {
        format!("{}/", self.public_url)
    }

    /// The feed's last change: its newest entry's `updated`, or the epoch for an empty feed,
    /// never "now", so that rendering twice gives the same bytes.
    pub fn updated(&self) -> DateTime<Utc> {
        self.entries
            .iter()
            .map(|entry| entry.updated)
            .max()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }
}

/// The address of a feed in `format` under `public_url`.
pub fn feed_url(public_url: &str, slug: &str, format: Format) -> String {
    format!("{public_url}/feeds/{slug}.{}", format.extension())
}

/// A rendered feed and its validators.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// A strong validator, quoted as HTTP wants it.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot write the Atom feed: {0}")]
    Atom(String),
    #[error("cannot write the RSS feed: {0}")]
    Rss(String),
    #[error("cannot write the JSON feed: {0}")]
    Json(String),
}

/// Renders `feed` in `format`.
pub fn render(feed: &OutputFeed, format: Format) -> Result<Rendered, PublishError> {
    let body = match format {
        Format::Atom => atom::render(feed)?,
        Format::Rss => rss::render(feed)?,
        Format::Json => json::render(feed)?,
    };
    Ok(Rendered {
        etag: etag_of(&body),
        body,
        content_type: format.content_type(),
        last_modified: feed.updated(),
    })
}

/// The body an entry is published with: its content (else its summary), followed, when other
/// sources carry the same item or story, by a list of their links, so a subscriber who sees
/// the story once can still read every outlet's version. Not yet sanitized.
pub fn body_html(entry: &OutputEntry) -> Option<String> {
    let own = entry.content.as_deref().or(entry.summary.as_deref());
    if entry.other_sources.is_empty() {
        return entry.content.clone();
    }
    let mut body = own.unwrap_or_default().to_string();
    body.push_str("\n<p>Also reported by:</p>\n<ul>\n");
    for other in &entry.other_sources {
        let source = html_escape::encode_text(&other.source_title);
        let title = html_escape::encode_text(&other.title);
        match &other.link {
            Some(link) => body.push_str(&format!(
                "<li>{source}: <a href=\"{}\">{title}</a></li>\n",
                html_escape::encode_double_quoted_attribute(link)
            )),
            None => body.push_str(&format!("<li>{source}: {title}</li>\n")),
        }
    }
    body.push_str("</ul>");
    Some(body)
}

pub fn render_atom(feed: &OutputFeed) -> Result<Rendered, PublishError> {
    render(feed, Format::Atom)
}

/// The body's hash: the body depends only on the entries and the feed's fixed settings (no
/// clock), so a rebuild with nothing new keeps its `ETag`.
fn etag_of(body: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!("\"{}\"", &digest[..32])
}

#[cfg(test)]
mod tests;
