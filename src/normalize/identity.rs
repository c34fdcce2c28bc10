//! Item identity within one feed and the hashes that detect edits.
//!
//! The rule (PRODUCT.md): the guid/id the source gave; else the link as given; when that link
//! is shared by several entries of the document, the link plus the title; else a hash of the
//! normalized text. Nothing here depends on values invented at parse time, so a key is stable
//! across polls and restarts. The key keeps the link as given (stored keys stay valid); the
//! store also finds an item keyed by its link through the link's canonical form
//! (`links::canonical_link`), so a link whose tracking parameters change per poll is still
//! the same item.

use sha2::{Digest, Sha256};

use crate::model::ItemKey;

pub fn item_key(
    guid: Option<&str>,
    link: Option<&str>,
    shared_link: bool,
    title: &str,
    summary_text: &str,
    content_text: &str,
) -> ItemKey {
    match (guid, link) {
        (Some(guid), _) => ItemKey::Guid(guid.to_string()),
        (None, Some(link)) if shared_link => ItemKey::LinkAndTitle {
            link: link.to_string(),
            title: title.to_string(),
        },
        (None, Some(link)) => ItemKey::Link(link.to_string()),
        (None, None) => ItemKey::ContentHash(hash_hex(&[title, summary_text, content_text])),
    }
}

/// A hash of everything a subscriber sees of an item; when it changes, the item was edited.
pub fn content_hash(
    title: &str,
    link: Option<&str>,
    summary: Option<&str>,
    content: Option<&str>,
) -> String {
    hash_hex(&[
        title,
        link.unwrap_or(""),
        summary.unwrap_or(""),
        content.unwrap_or(""),
    ])
}

/// SHA-256 of the parts, each followed by a separator so that ("ab", "c") ≠ ("a", "bc"); hex.
pub fn hash_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}
