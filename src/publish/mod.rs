//! Rendering output feeds: an `OutputFeed` (entries already chosen by the caller) → bytes of
//! Atom 1.0, with the validators a server needs (`ETag`, `Last-Modified`).
//!
//! Owns the output formats and sanitizing. It does not query the store and reads no clock:
//! the same entries always render to the same bytes, so the `ETag` only changes when the
//! entries do.

mod atom;
pub mod sanitize;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::model::OutputEntry;

/// The namespace of tidings' own Atom extension elements.
pub const TIDINGS_NAMESPACE: &str = "https://github.com/tidings-rs/tidings/ns/1";

/// A feed ready to render.
#[derive(Debug, Clone)]
pub struct OutputFeed {
    /// `all` or a topic slug.
    pub slug: String,
    pub title: String,
    /// Base URL of the site, without a trailing slash (`settings.public_url`).
    pub public_url: String,
    /// Newest first.
    pub entries: Vec<OutputEntry>,
}

impl OutputFeed {
    pub fn self_url(&self, extension: &str) -> String {
        format!("{}/feeds/{}.{extension}", self.public_url, self.slug)
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
}

pub fn render_atom(feed: &OutputFeed) -> Result<Rendered, PublishError> {
    let body = atom::render(feed)?;
    Ok(Rendered {
        etag: etag_of(&body),
        body,
        content_type: "application/atom+xml; charset=utf-8",
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

fn etag_of(body: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!("\"{}\"", &digest[..32])
}
