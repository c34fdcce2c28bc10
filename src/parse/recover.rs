//! The second try at a document that is not well-formed XML: the mistakes that a lenient
//! reader (a browser, Python's feedparser) forgives are repaired, and feed-rs parses the
//! result.
//!
//! Each repair is one a publisher makes by accident and whose intent is plain:
//! - text before the root (whitespace or junk before `<?xml`, a PHP notice) is dropped;
//! - characters that XML 1.0 forbids (control characters, U+FFFE/U+FFFF) are dropped;
//! - HTML entities that XML does not declare (`&nbsp;`, `&eacute;`, ...) become character
//!   references, and a bare `&` becomes `&amp;` (CDATA sections and comments are left alone);
//! - `type="application/xhtml+xml"` on an Atom text construct is read as `type="xhtml"`;
//! - an `xml:base` that is no URI at all is removed (feed-rs refuses the whole document);
//! - a truncated document is cut after its last complete item or entry, and the elements
//!   still open there are closed.
//!
//! `repair` is only called after a strict parse failed, so a well-formed feed never pays for
//! it. `compat` runs before the strict parse, and rewrites the well-formed dialects feed-rs
//! does not read (Atom 0.3, RSS 0.90, `<rss>` roots it refuses) into the ones it does; it
//! costs a look at the root element.

/// Atom 0.3 and RSS 0.90 as Atom 1.0 and RSS 1.0, and an `<rss>` root feed-rs refuses as
/// `<rss version="2.0">` (see `fix_rss_root`); `None` when the document needs none of it.
pub fn compat(text: &str) -> Option<String> {
    let head = &text[..floor_char_boundary(text, 4096)];
    let root = find_root(head)?;
    let root_tag = &head[root..];
    if root_tag.starts_with("<rss") {
        return fix_rss_root(text);
    }
    if head.contains("http://my.netscape.com/rdf/simple/0.9/") {
        return Some(text.replacen(
            "http://my.netscape.com/rdf/simple/0.9/",
            "http://purl.org/rss/1.0/",
            1,
        ));
    }
    if head.contains("http://purl.org/atom/ns#") {
        return Some(atom03(text));
    }
    None
}

/// Atom 0.3 → Atom 1.0: the namespace, the renamed dates, and MIME types and `mode` on text
/// constructs (`type="text/html" mode="escaped"` is Atom 1.0's `type="html"`).
fn atom03(text: &str) -> String {
    let mut rewritten = text.replacen("http://purl.org/atom/ns#", "http://www.w3.org/2005/Atom", 1);
    for (old, new) in [
        ("<issued>", "<published>"),
        ("</issued>", "</published>"),
        ("<modified>", "<updated>"),
        ("</modified>", "</updated>"),
        (" type=\"text/html\"", " type=\"html\""),
        (" type=\"text/plain\"", " type=\"text\""),
        (" type=\"application/xhtml+xml\"", " type=\"xhtml\""),
        (" mode=\"escaped\"", ""),
        (" mode=\"xml\"", ""),
    ] {
        if rewritten.contains(old) {
            rewritten = rewritten.replace(old, new);
        }
    }
    rewritten
}

/// The repaired document, or `None` when there was nothing to repair.
pub fn repair(text: &str) -> Option<String> {
    let without_junk = skip_junk_before_root(text);
    // A tag cut off at the very end ("</rss") is dropped; close_truncated closes it properly.
    let without_junk = match (without_junk.rfind('<'), without_junk.rfind('>')) {
        (Some(open), Some(close)) if open > close => &without_junk[..open],
        _ => without_junk,
    };
    let mut repaired = String::with_capacity(without_junk.len() + 64);
    let mut rest = without_junk;
    // Walk the markup: CDATA sections and comments are copied as they are; text and tags get
    // their characters and entities repaired.
    loop {
        let next_special = [rest.find("<![CDATA["), rest.find("<!--")]
            .into_iter()
            .flatten()
            .min();
        let Some(start) = next_special else {
            repair_text(rest, &mut repaired);
            break;
        };
        repair_text(&rest[..start], &mut repaired);
        let (terminator, opener) = if rest[start..].starts_with("<![CDATA[") {
            ("]]>", 9)
        } else {
            ("-->", 4)
        };
        match rest[start + opener..].find(terminator) {
            Some(end) => {
                let stop = start + opener + end + terminator.len();
                push_valid_chars(&rest[start..stop], &mut repaired);
                rest = &rest[stop..];
            }
            None => {
                // An unterminated CDATA section or comment runs to the end: close it.
                push_valid_chars(&rest[start..], &mut repaired);
                repaired.push_str(terminator);
                break;
            }
        }
    }
    let repaired = drop_bad_xml_base(&repaired);
    let repaired = fix_rss_root(&repaired).unwrap_or(repaired);
    // feed-rs refuses a whole Atom document for a MIME type on a text construct.
    let repaired = if repaired.contains(" type=\"application/xhtml+xml\"") {
        repaired.replace(" type=\"application/xhtml+xml\"", " type=\"xhtml\"")
    } else {
        repaired
    };
    let closed = close_truncated(&repaired);
    let result = closed.unwrap_or(repaired);
    (result != text).then_some(result)
}

/// The document from its XML declaration or first element on.
fn skip_junk_before_root(text: &str) -> &str {
    let head = &text[..floor_char_boundary(text, 4096)];
    if let Some(declaration) = head.find("<?xml") {
        return &text[declaration..];
    }
    let first = ["<rss", "<feed", "<rdf:RDF", "<RDF", "<!DOCTYPE", "<!--"]
        .iter()
        .filter_map(|root| head.find(root))
        .min();
    first.map_or_else(|| text.trim_start(), |start| &text[start..])
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn is_xml_char(character: char) -> bool {
    matches!(character, '\t' | '\n' | '\r')
        || (character >= ' ' && !matches!(character, '\u{FFFE}' | '\u{FFFF}'))
}

fn push_valid_chars(text: &str, out: &mut String) {
    out.extend(text.chars().filter(|character| is_xml_char(*character)));
}

/// Copies text (tags included) with forbidden characters dropped and every `&` made valid.
fn repair_text(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        push_valid_chars(&rest[..amp], out);
        let after = &rest[amp + 1..];
        let reference_end = after
            .char_indices()
            .take(40)
            .find(|(_, character)| !(character.is_ascii_alphanumeric() || *character == '#'))
            .filter(|(_, character)| *character == ';')
            .map(|(index, _)| index);
        match reference_end.and_then(|end| fixed_reference(&after[..end])) {
            Some(replacement) => {
                out.push_str(&replacement);
                rest = &after[reference_end.unwrap_or(0) + 1..];
            }
            None => {
                out.push_str("&amp;");
                rest = after;
            }
        }
    }
    push_valid_chars(rest, out);
}

/// What to write for `&name;`: itself when XML knows it, a character reference for an HTML
/// entity, nothing usable (`None`) otherwise.
fn fixed_reference(name: &str) -> Option<String> {
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
        return Some(format!("&{name};"));
    }
    if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        }?;
        let character = char::from_u32(value)?;
        // A reference to a forbidden character (&#1; or a C1 control meant as windows-1252)
        // is dropped; the rest stand.
        return Some(if is_xml_char(character) {
            format!("&#{value};")
        } else {
            String::new()
        });
    }
    let reference = format!("&{name};");
    let decoded = html_escape::decode_html_entities(&reference);
    if decoded == reference {
        return None;
    }
    Some(
        decoded
            .chars()
            .map(|character| format!("&#{};", u32::from(character)))
            .collect(),
    )
}

/// Removes `xml:base="..."` attributes whose value is no URI reference at all (feed-rs stops
/// at them).
fn drop_bad_xml_base(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("xml:base=") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "xml:base=".len()..];
        let Some(quote) = after
            .chars()
            .next()
            .filter(|quote| matches!(quote, '"' | '\''))
        else {
            out.push_str("xml:base=");
            rest = after;
            continue;
        };
        let Some(close) = after[1..].find(quote) else {
            out.push_str("xml:base=");
            rest = after;
            continue;
        };
        let value = &after[1..1 + close];
        let usable = match url::Url::parse(value) {
            Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => true,
            Err(_) => false,
        };
        if usable {
            out.push_str(&rest[at..at + "xml:base=".len() + close + 2]);
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// An `<rss>` root that feed-rs does not take: a version other than 0.91, 0.92 and 2.0 (or
/// none), a default namespace (UserLand's, or an empty one) that hides every element, or no
/// `<channel>` at all. These RSS versions share the elements we read, so the root is rewritten
/// as `<rss version="2.0">`, and an empty channel is added when there is none.
fn fix_rss_root(text: &str) -> Option<String> {
    let start = find_root(text)?;
    let tag_end = start + text[start..].find('>')?;
    let tag = &text[start..tag_end];
    let name = tag[1..]
        .split(|character: char| character.is_whitespace() || character == '/')
        .next()?;
    if name != "rss" {
        return None;
    }
    let has_channel = text[tag_end..].contains("<channel");
    let fine_version = ["\"2.0\"", "\"0.91\"", "\"0.92\"", "'2.0'"]
        .iter()
        .any(|version| tag.contains(&format!("version={version}")));
    if fine_version && !tag.contains("xmlns=") && has_channel {
        return None;
    }
    // Keep the namespace declarations with a prefix; drop version and the default namespace.
    let mut kept = String::from("<rss version=\"2.0\"");
    let mut rest = &tag[4..];
    while let Some(equals) = rest.find('=') {
        let name = rest[..equals].trim();
        let after = rest[equals + 1..].trim_start();
        let Some(quote) = after
            .chars()
            .next()
            .filter(|quote| matches!(quote, '"' | '\''))
        else {
            break;
        };
        let Some(close) = after[1..].find(quote) else {
            break;
        };
        let value = &after[..close + 2];
        if name.starts_with("xmlns:") || (name.contains(':') && name != "xmlns") {
            kept.push(' ');
            kept.push_str(name);
            kept.push('=');
            kept.push_str(value);
        }
        rest = &after[close + 2..];
    }
    let self_closing = tag.ends_with('/');
    let mut fixed = String::with_capacity(text.len() + 64);
    fixed.push_str(&text[..start]);
    fixed.push_str(&kept);
    fixed.push('>');
    let body = &text[tag_end + 1..];
    if self_closing {
        fixed.push_str(if has_channel {
            ""
        } else {
            "<channel></channel>"
        });
        fixed.push_str("</rss>");
        fixed.push_str(body);
    } else if has_channel {
        fixed.push_str(body);
    } else {
        // Items straight under <rss>: the channel they belong in is put around them.
        fixed.push_str("<channel>");
        match body.rfind("</rss>") {
            Some(end) => {
                fixed.push_str(&body[..end]);
                fixed.push_str("</channel>");
                fixed.push_str(&body[end..]);
            }
            None => {
                fixed.push_str(body);
                fixed.push_str("</channel>");
            }
        }
    }
    Some(fixed)
}

/// Where the root element's start tag begins (after the declaration, comments, a DOCTYPE).
pub fn find_root(text: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        let open = at + text[at..].find('<')?;
        let after = &text[open..];
        if let Some(comment) = after.strip_prefix("<!--") {
            at = open + 4 + comment.find("-->")? + 3;
        } else if after.starts_with("<?") || after.starts_with("<!") {
            at = open + after.find('>')? + 1;
        } else {
            return Some(open);
        }
    }
}

/// A document whose root is never closed (a download cut short): cut after the last complete
/// `</item>` or `</entry>` (or the last complete tag, when there is none) and close what is
/// open there. `None` when the root is closed.
fn close_truncated(text: &str) -> Option<String> {
    let open_at_end = open_elements(text);
    if open_at_end.is_empty() {
        return None;
    }
    let cut = ["</item>", "</entry>"]
        .iter()
        .filter_map(|end_tag| text.rfind(end_tag).map(|at| at + end_tag.len()))
        .max()
        .or_else(|| text.rfind('>').map(|at| at + 1))?;
    let kept = &text[..cut];
    let mut closed = kept.to_string();
    for name in open_elements(kept).iter().rev() {
        closed.push_str("</");
        closed.push_str(name);
        closed.push('>');
    }
    Some(closed)
}

/// The names of the elements still open at the end of `text`, outermost first.
fn open_elements(text: &str) -> Vec<&str> {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let skip_to = |terminator: &str| after.find(terminator).map(|end| end + terminator.len());
        let consumed = if after.starts_with("![CDATA[") {
            skip_to("]]>")
        } else if after.starts_with("!--") {
            skip_to("-->")
        } else if after.starts_with('?') || after.starts_with('!') {
            skip_to(">")
        } else {
            let Some(close) = after.find('>') else {
                break;
            };
            let tag = &after[..close];
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim();
                if let Some(depth) = stack.iter().rposition(|open| *open == name) {
                    stack.truncate(depth);
                }
            } else if !tag.ends_with('/') {
                let name = tag
                    .split(|character: char| character.is_whitespace())
                    .next()
                    .unwrap_or_default();
                if !name.is_empty() {
                    stack.push(name);
                }
            }
            Some(close + 1)
        };
        let Some(consumed) = consumed else {
            break;
        };
        rest = &after[consumed..];
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(broken: &str, expected: &str) {
        assert_eq!(repair(broken).as_deref(), Some(expected));
    }

    #[test]
    fn html_entities_and_bare_ampersands() {
        check(
            "<t>Tom&nbsp;&amp; Jerry & co &eacute;t&eacute; &#8212; &copy2 &#1;</t>",
            "<t>Tom&#160;&amp; Jerry &amp; co &#233;t&#233; &#8212; &amp;copy2 </t>",
        );
        check(
            "<t><![CDATA[a & b &nbsp;]]> &bogus;</t>",
            "<t><![CDATA[a & b &nbsp;]]> &amp;bogus;</t>",
        );
    }

    #[test]
    fn junk_before_the_root_and_control_characters() {
        check(
            "\n\n  <?xml version=\"1.0\"?><feed/>",
            "<?xml version=\"1.0\"?><feed/>",
        );
        check(
            "Warning: x.php line 3\n<feed>a\u{1}b\u{b}</feed>",
            "<feed>ab</feed>",
        );
    }

    #[test]
    fn truncated_documents_keep_their_complete_items() {
        check(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>one</title></item><item><title>tw",
            "<rss version=\"2.0\"><channel><title>t</title><item><title>one</title></item></channel></rss>",
        );
        check(
            "<feed><entry><title>x</title></entry><entry><content><![CDATA[a <b",
            "<feed><entry><title>x</title></entry></feed>",
        );
    }

    #[test]
    fn bad_xml_base_is_dropped() {
        check(
            "<feed xml:base=\"http://a b:x/\"><entry xml:base=\"/ok/\"/></feed>",
            "<feed ><entry xml:base=\"/ok/\"/></feed>",
        );
    }

    #[test]
    fn rss_roots_feed_rs_does_not_take() {
        check(
            "<!-- c --><rss version=\"0.94\" xmlns:dc=\"x\"><channel><title>t</title></channel></rss>",
            "<!-- c --><rss version=\"2.0\" xmlns:dc=\"x\"><channel><title>t</title></channel></rss>",
        );
        check(
            "<rss xmlns=\"http://backend.userland.com/rss\"><channel/></rss>",
            "<rss version=\"2.0\"><channel/></rss>",
        );
        check(
            "<rss version=\"2.0\">\n</rss>",
            "<rss version=\"2.0\"><channel>\n</channel></rss>",
        );
    }

    #[test]
    fn a_sound_document_needs_no_repair() {
        assert_eq!(
            repair("<rss version=\"2.0\"><channel><title>a &amp; b</title></channel></rss>"),
            None
        );
    }
}
