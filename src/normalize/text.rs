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
        let mut lowercase = [0u8; NAME_BUFFER];
        let name = tag_name(tag, &mut lowercase);
        rest = &after[close + 1..];
        if (name == "script" || name == "style") && !tag.starts_with('/') {
            let end_tag = format!("</{name}");
            rest = find_ascii_case_insensitive(rest, &end_tag)
                .and_then(|end| rest[end..].find('>').map(|gt| &rest[end + gt + 1..]))
                .unwrap_or("");
            text.push(' ');
            continue;
        }
        if !is_inline(name) {
            text.push(' ');
        }
    }
    text.push_str(rest);
    fold_whitespace(&html_escape::decode_html_entities(&text))
}

/// Longer than every tag name `html_to_text` treats apart (`script`, `strong`, ...).
const NAME_BUFFER: usize = 8;

/// The name of `tag` (what follows `<` up to `>`): its leading ASCII letters and digits after
/// any `/`, lowercased into `buffer`. A name too long for the buffer comes out empty: no name
/// that long is inline, a script or a style, which is all that is asked of it.
fn tag_name<'a>(tag: &str, buffer: &'a mut [u8; NAME_BUFFER]) -> &'a str {
    let name = tag.trim_start_matches('/').as_bytes();
    let length = name
        .iter()
        .take_while(|byte| byte.is_ascii_alphanumeric())
        .count();
    let Some(lowercase) = buffer.get_mut(..length) else {
        return "";
    };
    lowercase.copy_from_slice(&name[..length]);
    lowercase.make_ascii_lowercase();
    // ASCII letters and digits only.
    std::str::from_utf8(lowercase).unwrap_or_default()
}

/// Collapses every run of whitespace (including non-breaking spaces) into one space and trims.
/// C1 control characters (U+0080–U+009F), which feeds produce by writing windows-1252 bytes as
/// character references (`&#146;` for ’), become the windows-1252 characters they meant, as
/// browsers read them.
pub fn fold_whitespace(text: &str) -> String {
    if has_c1_control(text) {
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

/// Whether `text` holds a character U+0080–U+009F. In UTF-8 those are `C2 80`–`C2 9F`, and
/// `C2` is never a continuation byte, so the bytes are searched.
fn has_c1_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(0xC2, bytes).any(|at| {
        bytes
            .get(at + 1)
            .is_some_and(|next| (0x80..=0x9F).contains(next))
    })
}

/// The words of `text` (split at every `char::is_whitespace`), one space between them.
///
/// Read byte by byte: the ASCII whitespace of `char::is_whitespace` is tab to carriage return
/// and space; every other whitespace character starts with a byte `C2`, `E1`, `E2` or `E3`
/// (U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), which
/// never continues a character, so only those are decoded. A single space between two words
/// stays in the run that is copied whole.
///
/// Eight bytes at a time where they can be: printable ASCII with no two spaces side by side
/// (most of a Latin-script text) holds nothing to drop, but for a space in its first byte at
/// the start of a run (`plain_ascii`); its last byte is read on its own, as it may be a space
/// followed by more whitespace.
fn fold_whitespace_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let is_ascii_space = |byte: u8| matches!(byte, b'\t'..=b'\r' | b' ');
    let may_start_space = |byte: u8| is_ascii_space(byte) || matches!(byte, 0xC2 | 0xE1..=0xE3);
    let mut folded = String::with_capacity(text.len());
    // Where the text not copied yet starts (after the last whitespace dropped).
    let mut run = 0;
    let mut at = 0;
    // Eight bytes that are not plain are read one by one before the next eight are tried.
    let mut bytewise_until = 0;
    while at < bytes.len() {
        if at >= bytewise_until
            && let Some(chunk) = bytes.get(at..at + 8)
        {
            if plain_ascii(chunk) && (at > run || chunk[0] != b' ') {
                at += 7;
            } else {
                bytewise_until = at + 8;
            }
        }
        let byte = bytes[at];
        let width = if is_ascii_space(byte) {
            if byte == b' '
                && at > run
                && bytes
                    .get(at + 1)
                    .is_some_and(|next| !may_start_space(*next))
            {
                at += 1;
                continue;
            }
            1
        } else if matches!(byte, 0xC2 | 0xE1..=0xE3) {
            let character = text[at..].chars().next().unwrap_or_default();
            if !character.is_whitespace() {
                at += character.len_utf8();
                continue;
            }
            character.len_utf8()
        } else {
            at += 1;
            continue;
        };
        if at > run {
            if !folded.is_empty() {
                folded.push(' ');
            }
            folded.push_str(&text[run..at]);
        }
        at += width;
        run = at;
    }
    if run < bytes.len() {
        if !folded.is_empty() {
            folded.push(' ');
        }
        folded.push_str(&text[run..]);
    }
    folded
}

/// Whether eight bytes are printable ASCII (space to `~`, and DEL) without two spaces side by
/// side: then every space among them is a single one between two other characters.
fn plain_ascii(chunk: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut eight = [0u8; 8];
    eight.copy_from_slice(chunk);
    let word = u64::from_le_bytes(eight);
    // A byte below 0x20 (a control character, tab to carriage return among them) or from
    // 0x80 on (not ASCII): `word - 0x20…` borrows, or the high bit is set.
    if (word.wrapping_sub(ONES * 0x20) | word) & HIGH != 0 {
        return false;
    }
    // Exactly the bytes that are spaces, by their high bit (no borrow crosses a byte: the
    // bytes are below 0x80 here).
    let spaced = word ^ (ONES * b' ' as u64);
    let spaces = !((spaced & !HIGH).wrapping_add(!HIGH & (ONES * 0x7F)) | spaced) & HIGH;
    spaces & (spaces >> 8) == 0
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

    /// `fold_whitespace` as it was before its byte-wise reading: the reference.
    fn fold_whitespace_before(text: &str) -> String {
        let text: String = if text
            .chars()
            .any(|character| ('\u{80}'..='\u{9F}').contains(&character))
        {
            text.chars().map(windows_1252_meaning).collect()
        } else {
            text.to_string()
        };
        let words: Vec<&str> = text
            .split(|character: char| character.is_whitespace())
            .filter(|word| !word.is_empty())
            .collect();
        words.join(" ")
    }

    /// The tag name as `html_to_text` read it before `tag_name`: the reference.
    fn tag_name_before(tag: &str) -> String {
        tag.trim_start_matches('/')
            .chars()
            .take_while(|character| character.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase()
    }

    /// Whether `html_to_text` treats two names alike (inline or not, script/style or not).
    fn same_treatment(new: &str, old: &str) {
        assert_eq!(is_inline(new), is_inline(old), "{old:?}");
        for special in ["script", "style"] {
            assert_eq!(new == special, old == special, "{old:?}");
        }
        if new != old {
            assert!(
                new.is_empty() && old.len() > NAME_BUFFER,
                "{old:?} read as {new:?}"
            );
        }
    }

    fn check_alike(text: &str) {
        assert_eq!(
            fold_whitespace(text),
            fold_whitespace_before(text),
            "{text:?}"
        );
    }

    #[test]
    fn folding_byte_wise_equals_folding_by_characters_on_every_short_mix() {
        // Every whitespace character (and neighbours that share its first byte), C1
        // controls, other multi-byte text and ASCII, in every combination up to four.
        let mut alphabet: Vec<char> = (0..0x80u8).map(char::from).collect();
        alphabet.extend([
            '\u{80}', '\u{85}', '\u{92}', '\u{9F}', '\u{A0}', '\u{A1}', '\u{BF}', 'é', '\u{1680}',
            '\u{1681}', '\u{2000}', '\u{2007}', '\u{200A}', '\u{200B}', '\u{2014}', '\u{2028}',
            '\u{2029}', '\u{202F}', '\u{205F}', '\u{3000}', '\u{3001}', '中', '😀',
        ]);
        for character in &alphabet {
            check_alike(&character.to_string());
        }
        let short: Vec<char> = [' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r', 'a', '.', '<']
            .into_iter()
            .chain(
                alphabet
                    .iter()
                    .copied()
                    .filter(|character| !character.is_ascii()),
            )
            .collect();
        let mut text = String::new();
        for a in &short {
            for b in &short {
                for c in &short {
                    for d in &short {
                        text.clear();
                        text.extend([*a, *b, *c, *d]);
                        check_alike(&text);
                    }
                }
            }
        }
    }

    #[test]
    fn tag_names_are_read_as_before() {
        for tag in [
            "p",
            "/P",
            "STRONG",
            "strong class=x",
            "scRipt",
            "/style ",
            "br/",
            "h1",
            "a1b2c3d4",
            "a1b2c3d4e",
            "abbreviations",
            "",
            "/",
            "//em",
            "é",
            "b\u{e9}",
            "!DOCTYPE html",
            "?xml",
            "wbr",
            "span\tid",
        ] {
            let mut buffer = [0u8; NAME_BUFFER];
            same_treatment(tag_name(tag, &mut buffer), &tag_name_before(tag));
        }
    }

    /// Over every file of `../shared` (corpus documents, the labelled headlines): the whole
    /// text and each line, folded and stripped of tags, as before.
    /// Longer mixes than the short ones, so that the eight-byte steps meet every kind of
    /// byte at every place of a step: mostly letters and single spaces, with double spaces,
    /// leading and trailing ones, tabs, newlines, controls and whitespace beyond ASCII.
    #[test]
    fn folding_eight_bytes_at_a_time_equals_folding_by_characters() {
        let alphabet = [
            "a",
            "b",
            "é",
            "~",
            "\u{7F}",
            " ",
            " ",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\u{0B}",
            "\u{1F}",
            "\u{A0}",
            "\u{85}",
            "\u{2003}",
            "\u{3000}",
            "\u{2014}",
            "中",
            "word",
            "longerword",
            "x y z",
        ];
        let mut random = fastrand::Rng::with_seed(7);
        let mut text = String::new();
        for _ in 0..100_000 {
            text.clear();
            for _ in 0..random.usize(0..24) {
                text.push_str(alphabet[random.usize(0..alphabet.len())]);
            }
            check_alike(&text);
        }
    }

    #[test]
    fn plain_ascii_is_printable_ascii_without_two_spaces_side_by_side() {
        let plain = |chunk: &[u8]| {
            chunk.iter().all(|byte| (0x20..0x80).contains(byte))
                && !chunk.windows(2).any(|pair| pair == b"  ")
        };
        let mut random = fastrand::Rng::with_seed(11);
        let interesting = [
            0x00, 0x09, 0x0A, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, 0x80, 0xC2, 0xFF,
        ];
        for _ in 0..200_000 {
            let mut chunk = [0u8; 8];
            for byte in &mut chunk {
                *byte = if random.bool() {
                    interesting[random.usize(0..interesting.len())]
                } else {
                    random.u8(..)
                };
            }
            assert_eq!(plain_ascii(&chunk), plain(&chunk), "{chunk:?}");
        }
        assert!(plain_ascii(b"a b c d "));
        assert!(!plain_ascii(b"a b  c d"));
        assert!(!plain_ascii(b"a\tb c de"[..8].as_ref()));
    }

    #[test]
    fn the_shared_texts_fold_and_strip_as_before() {
        let Some(files) = crate::topics::fold::tests::shared_text_files() else {
            return;
        };
        let mut tags = 0;
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            check_alike(&text);
            check_alike(&html_escape::decode_html_entities(&text));
            for line in text.lines() {
                check_alike(line);
            }
            for tag in text.split('<').skip(1) {
                let tag = tag.split('>').next().unwrap_or_default();
                let mut buffer = [0u8; NAME_BUFFER];
                same_treatment(tag_name(tag, &mut buffer), &tag_name_before(tag));
                tags += 1;
            }
        }
        assert!(tags > 10_000, "{tags} tags");
    }

    #[test]
    fn keeps_lone_angle_brackets_as_text() {
        check("a < b and c > d", "a < b and c > d");
        check("unterminated <b", "unterminated");
    }
}
