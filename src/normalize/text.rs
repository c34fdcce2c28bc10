//! HTML fragments → plain text for titles and matching: tags removed (with the text of
//! `script` and `style`), block boundaries kept as spaces, entities decoded, whitespace folded.
//!
//! A tag stripper rather than a full HTML parser: the output is only ever compared or shown as
//! plain text, never re-parsed as HTML, so a malformed tag can only cost a few characters of
//! text, never safety. Published HTML goes through ammonia in `publish` instead.

/// Converts an HTML fragment to plain text.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // A '<' that does not start a tag ("a < b") is text.
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|next| next.is_ascii_alphabetic() || matches!(next, '/' | '!' | '?'));
        if !starts_tag {
            text.push('<');
            rest = after;
            continue;
        }
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some(close) = after.find('>') else {
            // An unterminated tag at the end: drop it.
            rest = "";
            break;
        };
        let tag = &after[..close];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|character| character.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &after[close + 1..];
        if (name == "script" || name == "style") && !tag.starts_with('/') {
            let end_tag = format!("</{name}");
            rest = find_ascii_case_insensitive(rest, &end_tag)
                .and_then(|end| rest[end..].find('>').map(|gt| &rest[end + gt + 1..]))
                .unwrap_or("");
            text.push(' ');
            continue;
        }
        if !is_inline(&name) {
            text.push(' ');
        }
    }
    text.push_str(rest);
    fold_whitespace(&html_escape::decode_html_entities(&text))
}

/// Collapses every run of whitespace (including non-breaking spaces) into one space and trims.
/// C1 control characters (U+0080–U+009F), which feeds produce by writing windows-1252 bytes as
/// character references (`&#146;` for ’), become the windows-1252 characters they meant, as
/// browsers read them.
pub fn fold_whitespace(text: &str) -> String {
    if text
        .chars()
        .any(|character| ('\u{80}'..='\u{9F}').contains(&character))
    {
        let meant: String = text.chars().map(windows_1252_meaning).collect();
        return fold_whitespace_only(&meant);
    }
    fold_whitespace_only(text)
}

fn windows_1252_meaning(character: char) -> char {
    let Ok(byte) = u8::try_from(u32::from(character)) else {
        return character;
    };
    if !(0x80..=0x9F).contains(&byte) {
        return character;
    }
    let bytes = [byte];
    let (decoded, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
    decoded.chars().next().unwrap_or(character)
}

fn fold_whitespace_only(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for word in text.split(|character: char| character.is_whitespace()) {
        if word.is_empty() {
            continue;
        }
        if !folded.is_empty() {
            folded.push(' ');
        }
        folded.push_str(word);
    }
    folded
}

fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "a" | "abbr"
            | "b"
            | "bdi"
            | "bdo"
            | "cite"
            | "code"
            | "data"
            | "dfn"
            | "em"
            | "font"
            | "i"
            | "kbd"
            | "mark"
            | "q"
            | "s"
            | "samp"
            | "small"
            | "span"
            | "strong"
            | "sub"
            | "sup"
            | "time"
            | "u"
            | "var"
            | "wbr"
    )
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let haystack_bytes = haystack.as_bytes();
    let needle_bytes = needle.as_bytes();
    if needle_bytes.is_empty() || haystack_bytes.len() < needle_bytes.len() {
        return None;
    }
    (0..=haystack_bytes.len() - needle_bytes.len()).find(|&start| {
        haystack_bytes[start..start + needle_bytes.len()].eq_ignore_ascii_case(needle_bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(html: &str, expected: &str) {
        assert_eq!(html_to_text(html), expected, "text of {html:?}");
    }

    #[test]
    fn strips_tags_and_keeps_block_boundaries() {
        check("<p>Kyiv</p><p>Odesa</p>", "Kyiv Odesa");
        check("<b>Nord</b>korea", "Nordkorea");
        check("a<br/>b", "a b");
    }

    #[test]
    fn drops_scripts_styles_and_comments() {
        check("x<script>alert('y')</script>z", "x z");
        check("x<STYLE>p{}</style >z", "x z");
        check("x<!-- hidden -->y", "xy");
    }

    #[test]
    fn decodes_entities_and_folds_whitespace() {
        check(
            "Tom &amp; Jerry&nbsp;&#8212; &quot;hi&quot;\n\t ok",
            "Tom & Jerry — \"hi\" ok",
        );
    }

    #[test]
    fn windows_1252_code_points_become_the_characters_they_meant() {
        check("don&#146;t \u{93}quoted\u{94}", "don’t “quoted”");
        assert_eq!(fold_whitespace("a\u{85}b"), "a…b");
    }

    #[test]
    fn keeps_lone_angle_brackets_as_text() {
        check("a < b and c > d", "a < b and c > d");
        check("unterminated <b", "unterminated");
    }
}
