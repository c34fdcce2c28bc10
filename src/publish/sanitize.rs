//! Making text safe to republish: HTML through ammonia's allow-list (no script, no event
//! attributes, no `javascript:` URLs), and the characters XML 1.0 forbids removed from
//! everything, since one stray control character makes a whole feed unreadable.

use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// While `remembering` runs on this thread: what each fragment sanitized to.
    static REMEMBERED: RefCell<Option<HashMap<String, String>>> = const { RefCell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// How many fragments went through ammonia on this thread.
    static CLEANED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Sanitizes an HTML fragment from a source.
pub fn sanitize_html(html: &str) -> String {
    if let Some(clean) = REMEMBERED.with(|memo| memo.borrow().as_ref()?.get(html).cloned()) {
        return clean;
    }
    #[cfg(test)]
    CLEANED.with(|cleaned| cleaned.set(cleaned.get() + 1));
    let clean = strip_xml_forbidden(&ammonia::clean(html));
    REMEMBERED.with(|memo| {
        if let Some(memo) = memo.borrow_mut().as_mut() {
            memo.insert(html.to_string(), clean.clone());
        }
    });
    clean
}

/// Runs `render` with every fragment it sanitizes remembered, then forgets them: the formats
/// of one page sanitize the same bodies, and ammonia was a third of the CPU time of writing a
/// page in three formats.
pub fn remembering<T>(render: impl FnOnce() -> T) -> T {
    /// Puts back what was remembered before, also when `render` panics.
    struct Restore(Option<HashMap<String, String>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            REMEMBERED.with(|memo| *memo.borrow_mut() = outer);
        }
    }
    let _restore = Restore(REMEMBERED.with(|memo| memo.borrow_mut().replace(HashMap::new())));
    render()
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
    fn a_fragment_is_cleaned_once_while_remembered_and_the_same() {
        let fragment = r#"<p onclick="x()">Hi <b>there</b></p>"#;
        let alone = sanitize_html(fragment);
        let before = CLEANED.with(std::cell::Cell::get);
        let remembered = remembering(|| {
            [
                sanitize_html(fragment),
                sanitize_html(fragment),
                sanitize_html("<i>other</i>"),
                sanitize_html(fragment),
            ]
        });
        assert_eq!(CLEANED.with(std::cell::Cell::get) - before, 2);
        assert_eq!(remembered[0], alone);
        assert_eq!(remembered[1], alone);
        assert_eq!(remembered[3], alone);
        // Forgotten afterwards.
        sanitize_html(fragment);
        assert_eq!(CLEANED.with(std::cell::Cell::get) - before, 3);
    }

    #[test]
    fn forbidden_characters_go() {
        assert_eq!(strip_xml_forbidden("a\u{0}b\u{b}c\u{fffe}d\te"), "abcd\te");
    }
}
