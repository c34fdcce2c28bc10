//! Which character encoding a fetched document is in, and its text transcoded to UTF-8 with an
//! XML declaration that no longer names another encoding, before feed-rs sees it.
//!
//! feed-rs (through quick-xml) reads the encoding only from a byte order mark and the XML
//! declaration, and has no way to hear the HTTP `Content-Type` charset. So the decision is
//! made here, once, and feed-rs only ever gets UTF-8.
//!
//! # The rule, in order
//!
//! 1. **A byte order mark** (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE) wins. RFC 7303 §3 and the XML
//!    spec (appendix F) put it first, and no server adds one by accident.
//! 2. **The shape of `<?xml` in UTF-16 or UTF-32 without a BOM** (`3C 00 3F 00`, `00 00 00 3C`,
//!    ...). Such a body cannot be read in any ASCII-compatible encoding, whatever a label says.
//! 3. **Valid UTF-8 with at least one multi-byte sequence is UTF-8**, whatever the header or the
//!    declaration claims. This is where we leave RFC 7303's order (which puts the HTTP charset
//!    next) on purpose: real servers send `charset=ISO-8859-1` as a configured default for
//!    every text file, and CMSs copy an `encoding="windows-1252"` declaration onto bodies they
//!    write in UTF-8 (both are in the corpus). Text in a legacy encoding that happens to form
//!    valid multi-byte UTF-8 is vanishingly rare, so this evidence is stronger than any label.
//! 4. **The `charset` parameter of the HTTP `Content-Type`**, as RFC 7303 orders it: the
//!    server's word overrides the document's own declaration (a proxy or server may have
//!    transcoded the body without rewriting the declaration). It is used only when
//!    encoding_rs knows the label and the body decodes without an error in it.
//! 5. **The `encoding` of the XML declaration**, on the same conditions.
//! 6. **A guess** by chardetng from the bytes (UTF-8 excluded, since step 3 already ruled it
//!    out). This covers documents with no label, with an unknown label (`encoding="bogus"`),
//!    and with a label the bytes contradict (a declaration saying UTF-8 over windows-1251).
//!
//! A body that is only ASCII is read as UTF-8 (every ASCII-compatible label gives the same
//! text). Labels follow the WHATWG Encoding Standard through encoding_rs, as browsers do: so
//! `ISO-8859-1` and `US-ASCII` mean windows-1252, and `GB2312` means GBK, a superset. Bytes
//! that are invalid in the chosen encoding become U+FFFD rather than costing the document.
//! UTF-32, which the Encoding Standard leaves out, is decoded here.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// Where the encoding of a document was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ByteOrderMark,
    /// The layout of `<?xml` in UTF-16 or UTF-32 without a byte order mark.
    XmlShape,
    /// Valid UTF-8 with non-ASCII text (or plain ASCII).
    Utf8Bytes,
    HttpCharset,
    XmlDeclaration,
    Sniffed,
}

/// The document as UTF-8, ready for feed-rs. A `str`, so that what reads it next need not
/// validate it again.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// The encoding's name (`UTF-8`, `windows-1251`, `UTF-32LE`, ...).
    pub encoding: &'static str,
    pub source: Source,
}

/// Decodes `body` by the rule in the module docs. `content_type` is the HTTP header as sent.
pub fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Decoded<'a> {
    if let Some((encoding, bom_length)) = Encoding::for_bom(body) {
        let rest = &body[bom_length..];
        // UTF-32LE starts with FF FE 00 00, which for_bom reads as UTF-16LE.
        if encoding == UTF_16LE && rest.starts_with(&[0, 0]) {
            return utf32(&body[4..], false, Source::ByteOrderMark);
        }
        return with_encoding(rest, encoding, Source::ByteOrderMark);
    }
    if body.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return utf32(&body[4..], true, Source::ByteOrderMark);
    }
    match body.get(..4) {
        Some([0, 0, 0, b'<']) => return utf32(body, true, Source::XmlShape),
        Some([b'<', 0, 0, 0]) => return utf32(body, false, Source::XmlShape),
        Some([0, b'<', 0, b'?']) => return with_encoding(body, UTF_16BE, Source::XmlShape),
        Some([b'<', 0, b'?', 0]) => return with_encoding(body, UTF_16LE, Source::XmlShape),
        _ => {}
    }
    // encoding_rs validates UTF-8 with SIMD where the processor has it (several times
    // faster than `std::str::from_utf8` on long texts), and borrows the text when it is valid.
    if let Some(text) = UTF_8.decode_without_bom_handling_and_without_replacement(body) {
        // What `with_encoding(body, UTF_8, ..)` makes of valid UTF-8 (the same text,
        // borrowed), without validating it a second time.
        return finish(text, UTF_8.name(), Source::Utf8Bytes);
    }
    let declared = declared_encoding(body);
    let labelled = [
        (content_type.and_then(http_charset), Source::HttpCharset),
        (declared.as_deref(), Source::XmlDeclaration),
    ];
    for (label, source) in labelled {
        let Some(encoding) = label.and_then(|label| Encoding::for_label(label.as_bytes())) else {
            continue;
        };
        // A UTF-16 label on a body that starts in ASCII is a lie (the shape test above would
        // have caught real UTF-16); UTF-8 was ruled out by the bytes.
        if encoding == UTF_16LE || encoding == UTF_16BE || encoding == UTF_8 {
            continue;
        }
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(body) {
            return finish(text, encoding.name(), source);
        }
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    let guessed = detector.guess(None, false);
    with_encoding(body, guessed, Source::Sniffed)
}

fn with_encoding<'a>(body: &'a [u8], encoding: &'static Encoding, source: Source) -> Decoded<'a> {
    let (text, _had_errors) = encoding.decode_without_bom_handling(body);
    finish(text, encoding.name(), source)
}

fn finish<'a>(text: Cow<'a, str>, encoding: &'static str, source: Source) -> Decoded<'a> {
    let text = match text {
        Cow::Borrowed(text) => match without_foreign_declaration(text) {
            Some(rewritten) => Cow::Owned(rewritten),
            None => Cow::Borrowed(text),
        },
        Cow::Owned(text) => {
            Cow::Owned(without_foreign_declaration(&text).map_or(text, |rewritten| rewritten))
        }
    };
    Decoded {
        text,
        encoding,
        source,
    }
}

/// UTF-32 by hand (encoding_rs follows the Encoding Standard, which has none); a code unit
/// that is no character becomes U+FFFD.
fn utf32(body: &[u8], big_endian: bool, source: Source) -> Decoded<'static> {
    let text: String = body
        .chunks(4)
        .map(|unit| {
            let mut bytes = [0u8; 4];
            bytes[..unit.len()].copy_from_slice(unit);
            let value = if big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            };
            char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect();
    let encoding = if big_endian { "UTF-32BE" } else { "UTF-32LE" };
    finish(Cow::Owned(text), encoding, source)
}

/// The `charset` parameter of a `Content-Type` header, unquoted.
pub fn http_charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| {
                value
                    .trim()
                    .trim_matches(|quote| quote == '"' || quote == '\'')
            })
            .map(str::trim)
            .filter(|value| !value.is_empty())
    })
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of `body` (after
/// whitespace), read as ASCII.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace())?;
    let rest = body.get(start..)?;
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = memchr::memmem::find(&rest[..rest.len().min(512)], b"?>")?;
    let declaration = std::str::from_utf8(&rest[..end]).ok()?;
    encoding_value(declaration).map(|(value, _)| value.to_string())
}

/// The value of `encoding=` inside a declaration, and the byte range of the whole
/// `encoding="..."` pseudo-attribute.
fn encoding_value(declaration: &str) -> Option<(&str, std::ops::Range<usize>)> {
    let at = declaration.find("encoding")?;
    let after = &declaration[at + "encoding".len()..];
    let equals = after.find('=')?;
    if !after[..equals].trim().is_empty() {
        return None;
    }
    let value_part = &after[equals + 1..];
    let leading = value_part.len() - value_part.trim_start().len();
    let value_part = value_part.trim_start();
    let quote = value_part
        .chars()
        .next()
        .filter(|quote| matches!(quote, '"' | '\''))?;
    let close = value_part[1..].find(quote)?;
    let value = &value_part[1..1 + close];
    let end = at + "encoding".len() + equals + 1 + leading + close + 2;
    Some((value, at..end))
}

/// The text with its XML declaration's `encoding` removed when it names anything but UTF-8:
/// the text is UTF-8 now, and quick-xml would otherwise decode it a second time.
fn without_foreign_declaration(text: &str) -> Option<String> {
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    if !rest.starts_with("<?xml") {
        return None;
    }
    // Bytes, not a `str` slice: byte 512 may fall inside a character of the text after the
    // declaration. `?>` is ASCII, so where it is found is a character boundary.
    let end = memchr::memmem::find(&rest.as_bytes()[..rest.len().min(512)], b"?>")?;
    let (value, range) = encoding_value(&rest[..end])?;
    if value.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let mut rewritten = String::with_capacity(text.len());
    rewritten.push_str(&text[..start + range.start]);
    rewritten.push_str("encoding=\"UTF-8\"");
    rewritten.push_str(&text[start + range.end..]);
    Some(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_followed_by_multibyte_text_near_byte_512_does_not_panic() {
        // Byte 512 falls inside a two-byte Cyrillic letter (found by the Newsboat test).
        for padding in 0..2 {
            let text = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss>{}{}</rss>",
                " ".repeat(padding),
                "и".repeat(400)
            );
            assert_eq!(without_foreign_declaration(&text), None);
            let koi = format!(
                "<?xml version=\"1.0\" encoding=\"koi8-r\"?>{}{}",
                " ".repeat(padding),
                "и".repeat(400)
            );
            let rewritten = without_foreign_declaration(&koi).unwrap();
            assert!(rewritten.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        }
    }
    use encoding_rs::{EUC_KR, GB18030, ISO_8859_7, KOI8_R, SHIFT_JIS, WINDOWS_1251};

    fn document(title: &str, label: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"{label}\"?>\n<rss version=\"2.0\"><channel>\
             <title>{title}</title><item><title>{title}</title></item></channel></rss>"
        )
    }

    fn encoded(text: &str, encoding: &'static Encoding) -> Vec<u8> {
        let (bytes, _, had_errors) = encoding.encode(text);
        assert!(
            !had_errors,
            "{text} cannot be written in {}",
            encoding.name()
        );
        bytes.into_owned()
    }

    #[track_caller]
    fn check(body: &[u8], content_type: Option<&str>, expected_title: &str, encoding: &str) {
        let decoded = decode(body, content_type);
        assert_eq!(decoded.encoding, encoding, "{:?}", decoded.source);
        let text = &decoded.text;
        assert!(
            text.contains(&format!("<title>{expected_title}</title>")),
            "{text}"
        );
        assert!(
            !text.contains(&format!("encoding=\"{encoding}\"")) || encoding == "UTF-8",
            "the declaration still names {encoding}: {text}"
        );
    }

    const KOREAN: &str = "북한, 미사일 발사";
    const RUSSIAN: &str = "Украина и Северная Корея";
    const JAPANESE: &str = "北朝鮮がミサイルを発射";
    const CHINESE: &str = "朝鲜发射导弹";
    const GREEK: &str = "Ειδήσεις από την Ουκρανία";

    #[test]
    fn declared_legacy_encodings_become_utf8() {
        check(
            &encoded(&document(RUSSIAN, "windows-1251"), WINDOWS_1251),
            None,
            RUSSIAN,
            "windows-1251",
        );
        check(
            &encoded(&document(RUSSIAN, "KOI8-R"), KOI8_R),
            None,
            RUSSIAN,
            "KOI8-R",
        );
        check(
            &encoded(&document(KOREAN, "EUC-KR"), EUC_KR),
            None,
            KOREAN,
            "EUC-KR",
        );
        check(
            &encoded(&document(JAPANESE, "Shift_JIS"), SHIFT_JIS),
            None,
            JAPANESE,
            "Shift_JIS",
        );
        check(
            &encoded(&document(CHINESE, "GB2312"), GB18030),
            None,
            CHINESE,
            "GBK",
        );
        check(
            &encoded(&document(CHINESE, "GB18030"), GB18030),
            None,
            CHINESE,
            "gb18030",
        );
        check(
            &encoded(&document(GREEK, "ISO-8859-7"), ISO_8859_7),
            None,
            GREEK,
            "ISO-8859-7",
        );
        check(
            &encoded(
                &document("Café à Zürich", "ISO-8859-1"),
                encoding_rs::WINDOWS_1252,
            ),
            None,
            "Café à Zürich",
            "windows-1252",
        );
    }

    #[test]
    fn utf16_and_utf32_with_and_without_byte_order_mark() {
        let text = document(KOREAN, "UTF-16");
        let utf16le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        check(&utf16le, None, KOREAN, "UTF-16LE");
        check(&utf16be, None, KOREAN, "UTF-16BE");
        check(
            &[&[0xFF, 0xFE][..], &utf16le].concat(),
            None,
            KOREAN,
            "UTF-16LE",
        );
        check(
            &[&[0xFE, 0xFF][..], &utf16be].concat(),
            None,
            KOREAN,
            "UTF-16BE",
        );
        let text = document(JAPANESE, "UTF-32");
        let utf32le: Vec<u8> = text
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        let utf32be: Vec<u8> = text
            .chars()
            .flat_map(|c| u32::from(c).to_be_bytes())
            .collect();
        check(&utf32le, None, JAPANESE, "UTF-32LE");
        check(&utf32be, None, JAPANESE, "UTF-32BE");
        check(
            &[&[0xFF, 0xFE, 0, 0][..], &utf32le].concat(),
            None,
            JAPANESE,
            "UTF-32LE",
        );
        check(
            &[&[0, 0, 0xFE, 0xFF][..], &utf32be].concat(),
            None,
            JAPANESE,
            "UTF-32BE",
        );
        let bom_utf8 = [
            &[0xEF, 0xBB, 0xBF][..],
            document(RUSSIAN, "utf-8").as_bytes(),
        ]
        .concat();
        let decoded = decode(&bom_utf8, None);
        assert!(decoded.text.starts_with("<?xml"), "the BOM is dropped");
    }

    #[test]
    fn the_http_charset_overrides_the_declaration() {
        // The server transcoded to KOI8-R and left the declaration alone.
        let body = encoded(&document(RUSSIAN, "windows-1251"), KOI8_R);
        check(
            &body,
            Some("application/rss+xml; charset=\"koi8-r\""),
            RUSSIAN,
            "KOI8-R",
        );
        check(
            &body,
            Some("text/xml;charset = 'KOI8-R'"),
            RUSSIAN,
            "KOI8-R",
        );
    }

    /// Valid UTF-8 is taken as it is (borrowed, validated once): the same text as decoding
    /// it with encoding_rs's UTF-8 decoder, over every file of `../shared`.
    #[test]
    fn utf8_taken_as_it_is_equals_utf8_decoded() {
        let Some(files) = crate::topics::fold::tests::shared_text_files() else {
            return;
        };
        let mut checked = 0;
        for file in files {
            let body = std::fs::read(&file).unwrap();
            if std::str::from_utf8(&body).is_err() || Encoding::for_bom(&body).is_some() {
                continue;
            }
            let decoded = decode(&body, Some("text/xml; charset=ISO-8859-1"));
            let before = with_encoding(&body, UTF_8, Source::Utf8Bytes);
            if matches!(decoded.source, Source::Utf8Bytes) {
                assert_eq!(decoded.text, before.text, "{}", file.display());
                assert_eq!(decoded.encoding, before.encoding);
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked} files");
    }

    #[test]
    fn utf8_bytes_win_over_labels_that_lie() {
        // A server default of ISO-8859-1 on a UTF-8 body, and a declaration copied from a
        // template.
        let body = document(KOREAN, "windows-1252");
        check(
            body.as_bytes(),
            Some("text/xml; charset=ISO-8859-1"),
            KOREAN,
            "UTF-8",
        );
        let decoded = decode(body.as_bytes(), None);
        assert!(decoded.text.contains("encoding=\"UTF-8\""));
    }

    #[test]
    fn labels_the_bytes_contradict_or_nobody_knows_are_sniffed() {
        // A declaration saying UTF-8 over windows-1251 bytes.
        let long =
            format!("{RUSSIAN}. Москва заявила, что переговоры продолжатся на следующей неделе");
        let body = encoded(&document(&long, "utf-8"), WINDOWS_1251);
        check(&body, None, &long, "windows-1251");
        let body = encoded(&document(&long, "bogus"), WINDOWS_1251);
        check(&body, None, &long, "windows-1251");
        // No label at all: KOI8-R and EUC-KR and Shift_JIS are told apart by their bytes.
        let unlabelled = |title: &str| {
            format!("<rss version=\"2.0\"><channel><title>{title}</title></channel></rss>")
        };
        // KOI8-U is KOI8-R plus a few Ukrainian letters in place of box-drawing characters:
        // the same text here.
        check(&encoded(&unlabelled(&long), KOI8_R), None, &long, "KOI8-U");
        let korean = format!("{KOREAN} 이후 한반도 긴장이 다시 높아지고 있다고 정부가 밝혔다");
        check(
            &encoded(&unlabelled(&korean), EUC_KR),
            None,
            &korean,
            "EUC-KR",
        );
        let japanese = format!("{JAPANESE}。政府は日本海に落下したと発表しました");
        check(
            &encoded(&unlabelled(&japanese), SHIFT_JIS),
            None,
            &japanese,
            "Shift_JIS",
        );
    }

    #[test]
    fn reads_the_charset_parameter() {
        assert_eq!(http_charset("text/xml; charset=UTF-8"), Some("UTF-8"));
        assert_eq!(
            http_charset("text/xml;charset= \"us-ascii\""),
            Some("us-ascii")
        );
        assert_eq!(http_charset("text/xml; charset:iso-8859-1"), None);
        assert_eq!(http_charset("text/xml;;"), None);
        assert_eq!(http_charset("text/xml"), None);
    }
}
