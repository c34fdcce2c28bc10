//! A quick look at a document's raw bytes before feed-rs builds it: where each item (RSS
//! `<item>`) or entry (Atom `<entry>`) element lies, and a digest of everything outside the
//! items that shapes how an item is read. The pipeline hashes each item's bytes with that
//! digest and parses only the items whose hash it has not seen (see `pipeline::rawskip`).
//!
//! The scan is quick-xml's namespace-aware reader (the version feed-rs reads with), so the
//! elements it calls items are exactly those feed-rs makes entries of: children of the first
//! `<channel>` of an `<rss>` root (RSS 0.9x/2.0), children of an `<rdf:RDF>` root (RSS 1.0),
//! children of a `<feed>` root (Atom), named `item`/`entry` in the RSS or Atom namespace, with
//! no prefix, or with a prefix that is undeclared (feed-rs reads those in the default
//! namespace of the format too). Markup inside an item (nested elements named `item`, CDATA
//! holding `</item>`, comments) belongs to that item.
//!
//! It answers `None` whenever it is not sure, and the caller then parses the whole document
//! as before: a document that is not well-formed (unclosed, text outside the root, several
//! roots, an invalid character reference), one with a DOCTYPE (it may declare entities), one
//! whose decoded text starts with whitespace, a legacy dialect that `recover::compat` rewrites
//! by searching the text (Atom 0.3, RSS 0.90), a syndication-module hint inside an item (read
//! from the first occurrence in the text), JSON Feed, or a document without items.
//!
//! What is outside the items and changes how feed-rs and `normalize` read an item goes into
//! `Prescan::context`: the document's URL (relative links of Atom entries resolve against it),
//! the root and channel start tags (namespace declarations, `xml:base`, the format and RSS
//! version), and every `link` element outside the items (an RSS item's relative link resolves
//! against the channel's link). Feed-level text that changes on every build (`lastBuildDate`,
//! `updated`) is left out, so a new build date does not make every item look new. The
//! charset is taken care of by hashing the decoded text (`charset::decode`, the same step
//! `parse` takes), so a document whose encoding changes has all new hashes.

use std::borrow::Cow;
use std::ops::Range;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use sha2::{Digest, Sha256};

use super::charset;
use crate::model::RawHash;

/// A document ready to be read in part.
#[derive(Debug)]
pub struct Prescan<'a> {
    /// The document as UTF-8, as `parse` hands it to feed-rs (charset rule applied, an XML
    /// declaration naming another encoding rewritten).
    pub text: Cow<'a, str>,
    /// Byte ranges in `text` of the elements feed-rs makes entries of, in document order.
    pub items: Vec<Range<usize>>,
    /// A digest of what outside the items shapes how an item is read (module docs).
    pub context: [u8; 32],
}

impl Prescan<'_> {
    /// The raw hash of every item, in order.
    pub fn item_hashes(&self) -> Vec<RawHash> {
        let keyed = Sha256::new_with_prefix(self.context);
        self.items
            .iter()
            .map(|range| {
                let digest = keyed
                    .clone()
                    .chain_update(&self.text.as_bytes()[range.clone()])
                    .finalize();
                let mut hash = [0u8; 16];
                hash.copy_from_slice(&digest[..16]);
                hash
            })
            .collect()
    }

    /// The document without the items whose flag in `drop` is set: everything before, between
    /// and after the items is kept byte for byte.
    pub fn without(&self, drop: &[bool]) -> Vec<u8> {
        let text = self.text.as_bytes();
        let mut reduced = Vec::with_capacity(text.len());
        let mut at = 0;
        for (range, dropped) in self.items.iter().zip(drop) {
            if *dropped {
                reduced.extend_from_slice(&text[at..range.start]);
                at = range.end;
            }
        }
        reduced.extend_from_slice(&text[at..]);
        reduced
    }
}

/// The kinds of root whose items are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `<rss>`: items are children of the first `<channel>`.
    Rss,
    /// `<rdf:RDF>` (RSS 1.0): items are children of the root.
    Rdf,
    /// `<feed>` (Atom): entries are children of the root.
    Atom,
}

/// The namespaces feed-rs tells apart here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespace {
    Rss,
    Atom,
    Other,
}

const RSS_NAMESPACE: &str = "http://purl.org/rss/1.0/";
const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";

/// Scans `body` (as fetched; `content_type` is the HTTP header) fetched from `document_url`.
/// `None` when the document has to be parsed whole (module docs).
pub fn prescan<'a>(
    body: &'a [u8],
    content_type: Option<&str>,
    document_url: &str,
) -> Option<Prescan<'a>> {
    // As `parse` does: leading whitespace goes, then the charset rule.
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace())?;
    let decoded = charset::decode(&body[start..], content_type);
    let text = decoded.text;
    if !text.starts_with('<') {
        // JSON Feed, or text that decoded to leading whitespace or junk.
        return None;
    }
    // `recover::compat` finds these anywhere in the head of the text.
    for dialect in [
        &b"http://my.netscape.com/rdf/simple/0.9/"[..],
        b"http://purl.org/atom/ns#",
    ] {
        if memchr::memmem::find(text.as_bytes(), dialect).is_some() {
            return None;
        }
    }
    let mut context = Sha256::new();
    context.update(b"tidings raw items 1\0");
    context.update(document_url.as_bytes());
    context.update([0u8]);
    let items = scan(text.as_bytes(), &mut context)?;
    // `parse` reads the syndication module's hint from its first occurrence in the text: it
    // must not lie in an item that may be left out.
    for hint in [&b":updatePeriod>"[..], b":updateFrequency>"] {
        if let Some(at) = memchr::memmem::find(text.as_bytes(), hint)
            && items.iter().any(|range| range.contains(&at))
        {
            return None;
        }
    }
    Some(Prescan {
        text,
        items,
        context: context.finalize().into(),
    })
}

/// The item ranges of a well-formed document, feeding the context into `context`.
fn scan(text: &[u8], context: &mut Sha256) -> Option<Vec<Range<usize>>> {
    let mut reader = quick_xml::NsReader::from_reader(text);
    // As feed-rs reads: `</item >` closes `<item>`.
    reader.config_mut().trim_markup_names_in_closing_tags = true;
    let mut items = Vec::new();
    let mut format = None;
    let mut roots = 0;
    let mut depth = 0usize;
    // The depth of the first `<channel>` of an RSS root while inside it (2), else 0.
    let mut channel_depth = 0usize;
    let mut channel_seen = false;
    // Where the item being read starts.
    let mut item_start: Option<usize> = None;
    // Where a `link` element outside the items starts, and its depth.
    let mut link_start: Option<(usize, usize)> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let (resolved, event) = reader.read_resolved_event().ok()?;
        // The element's namespace as feed-rs sees it: one it knows, another, or none (an
        // element without a prefix, or with an undeclared one, is in the format's own).
        let namespace = match resolved {
            ResolveResult::Bound(bound) => match bound.as_ref() {
                RSS_NAMESPACE => Some(Namespace::Rss),
                ATOM_NAMESPACE => Some(Namespace::Atom),
                _ => Some(Namespace::Other),
            },
            ResolveResult::Unbound | ResolveResult::Unknown(_) => None,
        };
        let after = usize::try_from(reader.buffer_position()).ok()?;
        let (start, empty) = match &event {
            Event::Start(start) => (Some(start), false),
            Event::Empty(start) => (Some(start), true),
            _ => (None, false),
        };
        if let Some(start) = start {
            depth += 1;
            // feed-rs names an element by what follows the last colon of its name.
            let name = start.name();
            let name: &str = name.as_ref();
            let local = name.rsplit(':').next().unwrap_or_default();
            if depth == 1 {
                roots += 1;
                if roots > 1 {
                    return None;
                }
                format = Some(match local {
                    "rss" => Format::Rss,
                    "RDF" => Format::Rdf,
                    "feed" => Format::Atom,
                    _ => return None,
                });
                context.update(&text[before..after]);
            } else if item_start.is_none() {
                let format = format?;
                let in_container = match format {
                    Format::Rss => channel_depth != 0 && depth == channel_depth + 1,
                    Format::Rdf | Format::Atom => depth == 2,
                };
                let (item_name, item_namespace) = match format {
                    Format::Rss | Format::Rdf => ("item", Namespace::Rss),
                    Format::Atom => ("entry", Namespace::Atom),
                };
                let in_namespace = namespace.is_none_or(|namespace| namespace == item_namespace);
                if format == Format::Rss && depth == 2 && local == "channel" && !channel_seen {
                    channel_seen = true;
                    context.update(&text[before..after]);
                    if !empty {
                        channel_depth = 2;
                    }
                } else if in_container && local == item_name && in_namespace {
                    if empty {
                        items.push(before..after);
                    } else {
                        item_start = Some(before);
                    }
                } else if local == "link" && link_start.is_none() {
                    if empty {
                        context.update(&text[before..after]);
                    } else {
                        link_start = Some((before, depth));
                    }
                }
            }
            if empty {
                depth -= 1;
            }
            continue;
        }
        match event {
            Event::End(_) => {
                if depth == 0 {
                    return None;
                }
                if let Some(from) = item_start {
                    let container_depth = match format {
                        Some(Format::Rss) => channel_depth + 1,
                        _ => 2,
                    };
                    if depth == container_depth {
                        items.push(from..after);
                        item_start = None;
                    }
                } else if let Some((from, link_depth)) = link_start
                    && link_depth == depth
                {
                    context.update(&text[from..after]);
                    link_start = None;
                }
                if channel_depth != 0 && depth == channel_depth {
                    channel_depth = 0;
                }
                depth -= 1;
            }
            Event::Text(text)
                if depth == 0 && !text.bytes().all(|byte| byte.is_ascii_whitespace()) =>
            {
                return None;
            }
            Event::CData(_) if depth == 0 => return None,
            Event::GeneralRef(reference) => {
                if depth == 0 {
                    return None;
                }
                // feed-rs fails the whole document on an invalid character reference.
                reference.resolve_char_ref().ok()?;
            }
            Event::DocType(_) => return None,
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 || item_start.is_some() || items.is_empty() {
        return None;
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://example.org/feed";

    /// The text of each item found.
    fn items(document: &str) -> Vec<String> {
        let scanned = prescan(document.as_bytes(), None, URL).unwrap();
        scanned
            .items
            .iter()
            .map(|range| scanned.text[range.clone()].to_string())
            .collect()
    }

    #[test]
    fn rss_items_are_found_with_whatever_they_hold() {
        let rss = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- a comment <item>not one</item> -->
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>
<link>https://example.org/</link><atom:link rel="self" href="https://example.org/feed"/>
<item><title>one</title><description><![CDATA[<p>holds </item> and <item>]]></description></item>
<item><title>two &amp; &#233; &nbsp;</title><!-- </item> --><ext:list xmlns:ext="urn:x"><item>inner</item></ext:list></item>
<item/>
</channel></rss>"#;
        let found = items(rss);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].starts_with("<item><title>one")
                && found[0].ends_with("]]></description></item>")
        );
        assert!(
            found[1].contains("<item>inner</item></ext:list></item>"),
            "{}",
            found[1]
        );
        assert_eq!(found[2], "<item/>");
    }

    #[test]
    fn atom_entries_with_or_without_a_prefix() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>
<entry><id>1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><entry>no</entry></div></content></entry>
<entry><id>2</id></entry></feed>"#;
        let found = items(atom);
        assert_eq!(found.len(), 2);
        assert!(found[0].ends_with("</div></content></entry>"));
        let prefixed = r#"<atom:feed xmlns:atom="http://www.w3.org/2005/Atom"><atom:title>t</atom:title>
<atom:entry><atom:id>1</atom:id></atom:entry><atom:entry><atom:id>2</atom:id></atom:entry>
<other:entry xmlns:other="urn:other">not an entry</other:entry></atom:feed>"#;
        assert_eq!(
            items(prefixed),
            [
                "<atom:entry><atom:id>1</atom:id></atom:entry>",
                "<atom:entry><atom:id>2</atom:id></atom:entry>"
            ]
        );
    }

    #[test]
    fn rss_1_items_are_children_of_the_root() {
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://e.org/"><title>t</title><link>https://e.org/</link>
<items><rdf:Seq><rdf:li resource="https://e.org/1"/></rdf:Seq></items></channel>
<item rdf:about="https://e.org/1"><title>one</title><link>https://e.org/1</link></item>
<item rdf:about="https://e.org/2"><title>two</title><link>https://e.org/2</link></item>
</rdf:RDF>"#;
        let found = items(rdf);
        assert_eq!(found.len(), 2);
        assert!(found[1].starts_with("<item rdf:about=\"https://e.org/2\">"));
    }

    #[test]
    fn items_outside_the_first_channel_are_not_items() {
        let rss = r#"<rss version="2.0"><channel><title>a</title><item><title>1</title></item></channel>
<channel><item><title>ignored by feed-rs</title></item></channel></rss>"#;
        assert_eq!(items(rss), ["<item><title>1</title></item>"]);
    }

    #[test]
    fn the_document_without_some_items_keeps_everything_else() {
        let rss = "<rss version=\"2.0\"><channel><title>t</title>\n<item>a</item>\n<item>b</item>\n<item>c</item>\n</channel></rss>";
        let scanned = prescan(rss.as_bytes(), None, URL).unwrap();
        let reduced = scanned.without(&[true, false, true]);
        assert_eq!(
            String::from_utf8(reduced).unwrap(),
            "<rss version=\"2.0\"><channel><title>t</title>\n\n<item>b</item>\n\n</channel></rss>"
        );
    }

    #[test]
    fn hashes_follow_the_bytes_and_the_context_but_not_the_build_date() {
        let document = |date: &str, link: &str, second: &str| {
            format!(
                "<rss version=\"2.0\"><channel><lastBuildDate>{date}</lastBuildDate><link>{link}</link>\
                 <item><title>one</title><link>a.html</link></item><item><title>{second}</title></item></channel></rss>"
            )
        };
        let hashes =
            |text: String, url: &str| prescan(text.as_bytes(), None, url).unwrap().item_hashes();
        let first = hashes(document("Mon", "https://e.org/", "two"), URL);
        assert_ne!(first[0], first[1]);
        // A new build date: the same hashes.
        assert_eq!(first, hashes(document("Tue", "https://e.org/", "two"), URL));
        // One item edited: only its hash changes.
        let edited = hashes(document("Tue", "https://e.org/", "2"), URL);
        assert_eq!(edited[0], first[0]);
        assert_ne!(edited[1], first[1]);
        // The channel's link (relative item links resolve against it) or the document's URL
        // changed: every hash changes.
        let moved = hashes(document("Mon", "https://e.org/news/", "two"), URL);
        assert!(moved.iter().all(|hash| !first.contains(hash)));
        let elsewhere = hashes(
            document("Mon", "https://e.org/", "two"),
            "https://e.org/other",
        );
        assert!(elsewhere.iter().all(|hash| !first.contains(hash)));
    }

    #[test]
    fn the_charset_is_applied_before_hashing() {
        // The same Cyrillic title in windows-1251 and in UTF-8 is the same item.
        let utf8 = "<rss version=\"2.0\"><channel><item><title>Киев</title></item></channel></rss>";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(utf8);
        let from_utf8 = prescan(utf8.as_bytes(), None, URL).unwrap().item_hashes();
        let from_1251 = prescan(&cp1251, Some("text/xml; charset=windows-1251"), URL)
            .unwrap()
            .item_hashes();
        assert_eq!(from_utf8, from_1251);
    }

    #[test]
    fn unsure_documents_are_left_to_the_whole_parse() {
        for (why, document) in [
            (
                "truncated",
                "<rss version=\"2.0\"><channel><item><title>a</title></item>",
            ),
            (
                "mismatched",
                "<rss version=\"2.0\"><channel><item><title>a</item></channel></rss>",
            ),
            (
                "doctype",
                "<!DOCTYPE rss [<!ENTITY x \"y\">]><rss version=\"2.0\"><channel><item>&x;</item></channel></rss>",
            ),
            (
                "junk before",
                "oops<rss version=\"2.0\"><channel><item>a</item></channel></rss>",
            ),
            (
                "junk after",
                "<rss version=\"2.0\"><channel><item>a</item></channel></rss>oops",
            ),
            (
                "two roots",
                "<rss version=\"2.0\"><channel><item>a</item></channel></rss><rss/>",
            ),
            (
                "bad reference",
                "<rss version=\"2.0\"><channel><item>&#0;</item></channel></rss>",
            ),
            (
                "no items",
                "<rss version=\"2.0\"><channel><title>t</title></channel></rss>",
            ),
            (
                "json",
                "{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": []}",
            ),
            (
                "atom 0.3",
                "<feed xmlns=\"http://purl.org/atom/ns#\"><entry><id>1</id></entry></feed>",
            ),
            ("not a feed", "<html><body><item>a</item></body></html>"),
            (
                "sy hint in an item",
                "<rss version=\"2.0\"><channel><item><sy:updatePeriod>daily</sy:updatePeriod></item></channel></rss>",
            ),
        ] {
            assert!(prescan(document.as_bytes(), None, URL).is_none(), "{why}");
        }
        // UTF-16: decoded first, then scanned like any other.
        let utf16: Vec<u8> = "\u{feff}<rss version=\"2.0\"><channel><item>a</item></channel></rss>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(prescan(&utf16, None, URL).unwrap().items.len(), 1);
    }
}
