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
    to_hex(&hasher.finalize())
}

/// Lowercase hex of `bytes`, as `hex::encode` writes it, straight into one `String`.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_what_the_hex_crate_writes() {
        let mut bytes: Vec<u8> = (0..=255).collect();
        bytes.extend(Sha256::digest(b"tidings"));
        assert_eq!(to_hex(&bytes), hex::encode(&bytes));
        assert_eq!(to_hex(&[]), "");
        assert_eq!(
            hash_hex(&["a", "b"]),
            hex::encode(Sha256::digest(b"a\0b\0"))
        );
    }
}
