//! Making text safe to republish: HTML through ammonia's allow-list (no script, no event
//! attributes, no `javascript:` URLs), and the characters XML 1.0 forbids removed from
//! everything, since one stray control character makes a whole feed unreadable.

/// Sanitizes an HTML fragment from a source.
pub fn sanitize_html(html: &str) -> String {
    strip_xml_forbidden(&ammonia::clean(html))
}

/// Removes characters that XML 1.0 does not allow anywhere: C0 controls other than tab, line
/// feed and carriage return, and U+FFFE/U+FFFF. (Rust strings hold no lone surrogates.)
pub fn strip_xml_forbidden(text: &str) -> String {
    text.chars()
        .filter(|character| is_xml_char(*character))
        .collect()
}

fn is_xml_char(character: char) -> bool {
    matches!(character, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_events_and_javascript_urls_go() {
        let clean = sanitize_html(
            r#"<p onclick="steal()">Hi<script>alert(1)</script> <a href="javascript:alert(2)">x</a></p>"#,
        );
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
        assert!(clean.contains("<p>Hi"), "{clean}");
    }

    #[test]
    fn forbidden_characters_go() {
        assert_eq!(strip_xml_forbidden("a\u{0}b\u{b}c\u{fffe}d\te"), "abcd\te");
    }
}
