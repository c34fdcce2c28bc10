//! Text folding shared by terms and item text, so that both sides of a match are compared in one
//! form: NFKC, full Unicode case folding (ß and ss, final ς and σ), accents dropped from Latin,
//! Greek and Cyrillic letters, invisible characters (the Unicode default-ignorable ones: soft
//! hyphen, zero-width and bidi marks, variation selectors) removed, and every run of other
//! characters (punctuation, dashes, apostrophes, spaces of every width) turned into one space.
//!
//! Words are runs of Unicode letters, digits and marks (`char::is_alphanumeric` and the
//! general category M); a change between a script written without spaces (Han, Kana, Hangul,
//! Thai, Lao, Khmer, Myanmar) and any other script is a word boundary too. Apostrophes split
//! words, unlike in UAX #29, so that elided articles fall away: `l'Ukraine`, `dell'Ucraina`.
//!
//! Owns the folded form only; it knows nothing of topics or terms.

use std::sync::OnceLock;

use caseless::Caseless;
use unicode_normalization::char::is_combining_mark;

use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Folds `text` into lower-case words separated by single spaces. A change between CJK script
/// (Han, Kana, Hangul) and any other script also separates words, because CJK text is often
/// written with no space before a Latin word ("朝鲜DPRK").
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return fold_ascii(text);
    }
    // Latin-1, Latin Extended and basic Cyrillic text folds through a table, without the
    // normalizer, unless it holds one of the few compatibility characters there (½, ª, ...).
    let table = fast_table();
    let table_only = text.chars().all(|character| {
        table
            .get((character as usize).wrapping_sub(0x80))
            .is_some_and(|entry| *entry != FastFold::NeedsNfkc)
            || character.is_ascii()
            || is_plain_cjk(character)
            || is_plain_separator(character)
    });
    if table_only || unicode_normalization::is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        fold_chars(text.chars(), text.len(), Some(table))
    } else {
        fold_chars(text.nfkc(), text.len(), Some(table))
    }
}

/// Folds NFKC characters; `table` is the fast path for the characters it covers (tests pass
/// `None` to check it against the general path).
fn fold_chars(
    characters: impl Iterator<Item = char>,
    length: usize,
    table: Option<&[FastFold]>,
) -> String {
    let mut folded = String::with_capacity(length);
    let mut previous_class = CharClass::Separator;
    // Whether the current word has Latin letters and Cyrillic ones, and whether any word did.
    let (mut word_latin, mut word_cyrillic, mut mixed) = (false, false, false);
    let table = table.unwrap_or(&[]);
    for character in characters {
        // The table's letters are pushed here directly: their class, their folded form.
        if let Some(FastFold::Letter {
            folded: letter,
            cyrillic,
        }) = table.get((character as usize).wrapping_sub(0x80))
        {
            if previous_class != CharClass::Other {
                if !folded.is_empty() {
                    folded.push(' ');
                }
                mixed |= word_latin && word_cyrillic;
                (word_latin, word_cyrillic) = (false, false);
            }
            folded.push(*letter);
            word_cyrillic |= *cyrillic;
            word_latin |= letter.is_ascii_alphabetic();
            previous_class = CharClass::Other;
            continue;
        }
        let class = if character.is_ascii() {
            if character.is_ascii_alphanumeric() {
                CharClass::Other
            } else {
                CharClass::Separator
            }
        } else if is_invisible(character) || is_name_dot(character) {
            // Soft hyphens and zero-width characters sit inside words ("Ukrai\u{ad}ne"):
            // dropping them keeps the word whole.
            continue;
        } else {
            CharClass::of(character)
        };
        match class {
            CharClass::Separator => {
                previous_class = CharClass::Separator;
                continue;
            }
            CharClass::Mark => {
                // A combining mark that NFKC left (one with no precomposed form) belongs to the
                // letter before it: a Latin, Greek or Cyrillic accent is dropped, other marks
                // are kept with their letter.
                let is_accent = matches!(character as u32, 0x0300..=0x036F);
                let keep = match previous_class {
                    CharClass::Cjk => true,
                    CharClass::Other => !is_accent,
                    CharClass::Separator | CharClass::Mark => false,
                };
                if keep {
                    folded.push(character);
                }
                continue;
            }
            CharClass::Cjk | CharClass::Other => {}
        }
        if previous_class != class {
            if !folded.is_empty() {
                folded.push(' ');
            }
            mixed |= word_latin && word_cyrillic;
            (word_latin, word_cyrillic) = (false, false);
        }
        if character.is_ascii() {
            folded.push(character.to_ascii_lowercase());
            word_latin |= character.is_ascii_alphabetic();
        } else if class == CharClass::Cjk {
            // These scripts have no case and keep their marks: nothing to fold.
            folded.push(character);
        } else {
            word_cyrillic |= is_cyrillic(character);
            push_folded(&mut folded, character);
            word_latin |= folded
                .chars()
                .next_back()
                .is_some_and(|last| last.is_ascii_alphabetic());
        }
        previous_class = class;
    }
    mixed |= word_latin && word_cyrillic;
    if mixed {
        unmix_scripts(&folded)
    } else {
        folded
    }
}

/// Latin and Cyrillic letters that look the same (lower case, as folded text is).
const LOOK_ALIKES: [(char, char); 9] = [
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('i', 'і'),
    ('k', 'к'),
    ('o', 'о'),
    ('p', 'р'),
    ('x', 'х'),
    ('y', 'у'),
];

fn is_cyrillic(character: char) -> bool {
    matches!(character as u32, 0x0400..=0x052F)
}

/// A word that mixes Latin and Cyrillic letters ("Зелeнський" with a Latin e, by typo or to
/// dodge filters) is written in the script most of its letters use: look-alike letters of the
/// other script are swapped for their twins.
fn unmix_scripts(folded: &str) -> String {
    let mut output = String::with_capacity(folded.len());
    for (index, word) in folded.split(' ').enumerate() {
        if index > 0 {
            output.push(' ');
        }
        let cyrillic = word
            .chars()
            .filter(|character| is_cyrillic(*character))
            .count();
        let latin = word.chars().filter(char::is_ascii_lowercase).count();
        if cyrillic == 0 || latin == 0 {
            output.push_str(word);
            continue;
        }
        let to_cyrillic = cyrillic >= latin;
        output.extend(word.chars().map(|character| {
            LOOK_ALIKES
                .iter()
                .find(|(latin, cyrillic)| {
                    if to_cyrillic {
                        *latin == character
                    } else {
                        *cyrillic == character
                    }
                })
                .map_or(
                    character,
                    |(latin, cyrillic)| {
                        if to_cyrillic { *cyrillic } else { *latin }
                    },
                )
        }));
    }
    output
}

/// The same folding for ASCII text, where NFKC, accents, CJK and look-alikes cannot occur:
/// most English feeds, and the common case worth a fast path.
fn fold_ascii(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut in_word = false;
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() {
            if !in_word && !folded.is_empty() {
                folded.push(' ');
            }
            folded.push(char::from(byte.to_ascii_lowercase()));
            in_word = true;
        } else {
            in_word = false;
        }
    }
    folded
}

fn push_folded(folded: &mut String, character: char) {
    if folds_accents(character) {
        unicode_normalization::char::decompose_canonical(character, |part| {
            if !is_combining_mark(part) {
                push_lowercase(folded, part);
            }
        });
    } else {
        push_lowercase(folded, character);
    }
}

/// Full case folding (Unicode `CaseFolding.txt`, statuses C and F): more than lower case, so
/// that `STRASSE`, `Straße` and `strasse` meet, and a word-final `ς` is a `σ`.
fn push_lowercase(folded: &mut String, character: char) {
    folded.extend(std::iter::once(character).default_case_fold());
}

/// Latin, Greek and Cyrillic letters lose their accents (Pjöngjang → pjongjang, Київ → киів);
/// other scripts keep their marks, because there they change the letter (ガ is not カ).
fn folds_accents(character: char) -> bool {
    matches!(character as u32, 0x00C0..=0x052F | 0x1E00..=0x1FFF)
}

/// Unicode's default-ignorable code points (DerivedCoreProperties.txt): characters with no
/// visible form that turn up inside words (soft hyphens, zero-width spaces and joiners, bidi
/// marks, variation selectors, Hangul fillers, tags). Dropping them keeps the word whole.
fn is_invisible(character: char) -> bool {
    matches!(character as u32,
        0x00AD
        | 0x034F
        | 0x061C
        | 0x115F..=0x1160
        | 0x17B4..=0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x206F
        | 0x3164
        | 0xFE00..=0xFE0F
        | 0xFEFF
        | 0xFFA0
        | 0xFFF0..=0xFFF8
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF
    )
}

/// The katakana middle dot between the parts of a foreign name (キム・ジョンウン) is often
/// left out (キムジョンウン): dropped, so both spellings meet.
fn is_name_dot(character: char) -> bool {
    matches!(character, '\u{30FB}' | '\u{FF65}')
}

/// Letters used as apostrophes (Ukrainian writes `Камʼянське` with U+02BC): separators, like
/// the apostrophe itself.
fn is_apostrophe_letter(character: char) -> bool {
    matches!(character, '\u{02B9}' | '\u{02BB}' | '\u{02BC}' | '\u{02BD}')
}

/// How a character from U+0080 to `FAST_END` folds, worked out once by the general path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastFold {
    /// A letter or digit that folds to exactly this one character.
    Letter { folded: char, cyrillic: bool },
    /// Anything else (separators, marks, invisible characters, letters that fold to several
    /// characters): the general path handles it.
    General,
    /// NFKC changes it (½, ª, ²...): text holding it goes through the normalizer.
    NeedsNfkc,
}

/// The end of the table: Latin-1, Latin Extended-A/B, IPA, Greek and basic Cyrillic.
const FAST_END: u32 = 0x0460;

fn fast_table() -> &'static [FastFold] {
    static TABLE: OnceLock<Vec<FastFold>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0x80..FAST_END)
            .map(|code| {
                let Some(character) = char::from_u32(code) else {
                    return FastFold::General;
                };
                if std::iter::once(character)
                    .nfkc()
                    .ne(std::iter::once(character))
                {
                    return FastFold::NeedsNfkc;
                }
                if is_invisible(character) || CharClass::of(character) != CharClass::Other {
                    return FastFold::General;
                }
                let mut folded = String::new();
                push_folded(&mut folded, character);
                let mut folded_characters = folded.chars();
                match (folded_characters.next(), folded_characters.next()) {
                    (Some(letter), None) => FastFold::Letter {
                        folded: letter,
                        cyrillic: is_cyrillic(character),
                    },
                    _ => FastFold::General,
                }
            })
            .collect()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Separator,
    Mark,
    Cjk,
    Other,
}

/// Spaces, dashes, quotes and CJK punctuation common in news text: separators before and after
/// NFKC (which turns some into ASCII ones, as `…` into `...`), so text holding them needs no
/// normalizer. (U+00A0 is in the table's range and marked for NFKC there.)
fn is_plain_separator(character: char) -> bool {
    matches!(character as u32,
        0x00A0 | 0x2000..=0x200A | 0x2010 | 0x2012..=0x2016 | 0x2018..=0x2027 | 0x202F | 0x205F | 0x3000..=0x3003
        | 0x3008..=0x3011)
}

/// Han ideographs, Hangul syllables, and Kana letters other than the sound marks: NFKC leaves
/// them alone and they are no combining marks, so text of them (with ASCII and the table's
/// letters) folds without the normalizer, and they are classed at once.
fn is_plain_cjk(character: char) -> bool {
    matches!(character as u32,
        0x4E00..=0x9FFF | 0xAC00..=0xD7A3 | 0x3041..=0x3096 | 0x30A1..=0x30FA | 0x30FC..=0x30FE)
}

impl CharClass {
    fn of(character: char) -> CharClass {
        if is_plain_cjk(character) {
            CharClass::Cjk
        } else if is_apostrophe_letter(character) {
            CharClass::Separator
        } else if is_combining_mark(character) {
            CharClass::Mark
        } else if is_cjk(character) {
            CharClass::Cjk
        } else if character.is_alphanumeric() {
            CharClass::Other
        } else {
            CharClass::Separator
        }
    }
}

/// Han, Hiragana, Katakana and Hangul (and Thai, Lao, Myanmar and Khmer): scripts written
/// without spaces between words, where a term matches inside a longer run of text.
pub fn is_cjk(character: char) -> bool {
    matches!(character as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        |
        0x1100..=0x11FF      // Hangul Jamo
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xA960..=0xA97F    // Hangul Jamo extended A
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xD7B0..=0xD7FF    // Hangul Jamo extended B
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // halfwidth Katakana
        | 0x20000..=0x3134F // CJK extensions B to G
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(fold(input), expected, "folding {input:?}");
    }

    #[test]
    fn the_ascii_fast_path_folds_like_the_general_one() {
        for text in [
            "North Korea's  missile—test!",
            "  Kim Jong-Un ",
            "a",
            "",
            "--",
            "R2-D2 x9",
        ] {
            let ascii = text.replace('—', "-");
            // Appending a non-ASCII separator forces the general path on the same text.
            assert_eq!(fold(&ascii), fold(&format!("{ascii}\u{a0}")), "{ascii:?}");
        }
    }

    #[test]
    fn the_table_folds_like_the_general_path() {
        // Every character of the table, alone and between words, folds as it would without
        // the table (the general path is forced by a character past the table's end).
        for code in 0x80..FAST_END {
            let Some(character) = char::from_u32(code) else {
                continue;
            };
            for text in [
                format!("ab{character}cd x{character} {character}"),
                format!("Жa{character}"),
                format!("Ж{character}"),
            ] {
                let general = fold_chars(text.nfkc(), text.len(), None);
                let general = if general.chars().any(is_cyrillic) {
                    unmix_scripts(&general)
                } else {
                    general
                };
                assert_eq!(fold(&text), general, "U+{code:04X} in {text:?}");
            }
        }
    }

    #[test]
    fn lower_cases_and_separates_words() {
        check("North Korea's  missile—test!", "north korea s missile test");
        check("  Kim Jong-Un ", "kim jong un");
    }

    #[test]
    fn drops_accents_of_latin_and_cyrillic() {
        check("Pjöngjang", "pjongjang");
        check("Selenskyj Zełenski", "selenskyj zełenski");
        check("Київ", "киів");
    }

    #[test]
    fn keeps_cjk_and_splits_it_from_latin() {
        check("北朝鮮のミサイル", "北朝鮮のミサイル");
        check("朝鲜DPRK发射", "朝鲜 dprk 发射");
        check("북한은 13일", "북한은 13 일");
    }

    #[test]
    fn removes_invisible_characters_inside_words() {
        check("Ukrai\u{ad}nekrieg", "ukrainekrieg");
        check("Nord\u{200b}korea", "nordkorea");
    }

    #[test]
    fn look_alike_letters_follow_the_word_s_script() {
        // A Latin "e" inside a Cyrillic word, and a Cyrillic "а" inside a Latin one.
        check("Зелeнський", "зеленськии");
        check("Ukr\u{430}ine", "ukraine");
        check("Kyiv Київ", "kyiv киів");
    }

    #[test]
    fn folds_fullwidth_and_compatibility_forms() {
        check("ＫＣＮＡ", "kcna");
        check("ＫＣＮＡ報道", "kcna 報道");
        check("ｳｸﾗｲﾅ", "ウクライナ");
        check("non\u{a0}breaking", "non breaking");
        check("Kyiv\u{202f}:\u{2009}news\u{3000}today", "kyiv news today");
    }

    #[test]
    fn full_case_folding_not_just_lower_case() {
        check("STRASSE Straße ẞ", "strasse strasse ss");
        // A word-final sigma folds like any other sigma.
        check("ΟΔΥΣΣΕΑΣ Οδυσσέας", "οδυσσεασ οδυσσεασ");
        check("İstanbul", "istanbul");
    }

    #[test]
    fn punctuation_dashes_and_apostrophes_separate_words() {
        check("l'Ukraine, dell’Ucraina", "l ukraine dell ucraina");
        check(
            "Pohjois‑Korea–Venäjä—sopimus",
            "pohjois korea venaja sopimus",
        );
        check("«Курск»/Kursk…", "курск kursk");
        check("Камʼянське", "кам янське");
    }

    #[test]
    fn default_ignorable_characters_vanish_inside_words() {
        check("Zelen\u{200e}sky", "zelensky");
        check("Kha\u{2063}rkiv", "kharkiv");
        check("Kyi\u{fe0f}v", "kyiv");
    }

    #[test]
    fn plain_separators_fold_like_the_normalizer_would() {
        for code in (0xA0..=0xA0).chain(0x2000..=0x2060).chain(0x3000..=0x3011) {
            let Some(character) = char::from_u32(code) else {
                continue;
            };
            if !is_plain_separator(character) {
                continue;
            }
            assert!(
                std::iter::once(character)
                    .nfkc()
                    .all(|part| !part.is_alphanumeric() && !is_combining_mark(part)),
                "U+{code:04X}"
            );
            let text = format!("Ab{character}cd Жa{character}б {character}");
            let general = fold_chars(text.nfkc(), text.len(), None);
            assert_eq!(fold(&text), general, "U+{code:04X}");
        }
    }

    #[test]
    fn plain_cjk_folds_like_the_normalizer_would() {
        // Every character of the fast CJK ranges is its own NFKC form.
        for code in (0x3041..=0x30FE)
            .chain(0x4E00..=0x9FFF)
            .chain(0xAC00..=0xD7A3)
        {
            let Some(character) = char::from_u32(code) else {
                continue;
            };
            if is_plain_cjk(character) {
                assert!(
                    std::iter::once(character)
                        .nfkc()
                        .eq(std::iter::once(character)),
                    "U+{code:04X}"
                );
                assert!(!is_combining_mark(character), "U+{code:04X}");
            }
        }
    }

    #[test]
    fn scripts_without_spaces_split_from_latin() {
        check("ยูเครนUkraine", "ยูเครน ukraine");
        check("Zelenskyゼレンスキー大統領", "zelensky ゼレンスキー大統領");
        check("キム・ジョンウン総書記", "キムジョンウン総書記");
    }
}
