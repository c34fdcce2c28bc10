//! Text folding shared by terms and item text, so that both sides of a match are compared in one
//! form: NFKC, full Unicode case folding (ß and ss, final ς and σ), accents dropped from Latin,
//! Greek and Cyrillic letters (and the stroke of `ł`, `ø`, `đ`, `ħ`, `ŧ`), invisible characters
//! (the Unicode default-ignorable ones: soft hyphen, zero-width and bidi marks, variation
//! selectors) removed, and every run of other characters (punctuation, dashes, apostrophes,
//! spaces of every width) turned into one space.
//!
//! Words are runs of Unicode letters, digits and marks (`char::is_alphanumeric` and the
//! general category M); a change between a script written without spaces (Han, Kana, Hangul,
//! Thai, Lao, Khmer, Myanmar) and any other script is a word boundary too. Apostrophes split
//! words, unlike in UAX #29, so that elided articles fall away: `l'Ukraine`, `dell'Ucraina`.
//!
//! Two paths give the same result. The general one (`fold_general`) runs the normalizer over
//! the text and folds what comes out, character by character: it is the definition. The fast
//! one (`fold_bytes`) folds ASCII sixteen bytes at a time (`Writer::ascii`) and every other
//! character from a table worked out once by the general path (per block of 256 code points,
//! on first use); a character whose folding depends on its neighbours (a combining mark, or
//! one NFKC may compose with the character before it) is not in the table, and the words
//! around such a character (the text split at ASCII spaces) are folded by the general path,
//! the rest of the text at once when such words are many (`fold_by_pieces`).
//!
//! Owns the folded form only; it knows nothing of topics or terms.

use std::sync::OnceLock;

use caseless::Caseless;
use unicode_normalization::char::{canonical_combining_class, is_combining_mark};

use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Folds `text` into lower-case words separated by single spaces. A change between CJK script
/// (Han, Kana, Hangul) and any other script also separates words, because CJK text is often
/// written with no space before a Latin word ("朝鲜DPRK").
pub fn fold(text: &str) -> String {
    let mut folded = Vec::with_capacity(text.len() + SLACK);
    fold_bytes(&mut folded, text, &mut ());
    into_string(folded)
}

/// Where terms may start in folded text, as folding finds them: the first byte of every word,
/// and every other character of a word in a script written without spaces (CJK), where a CJK
/// term may start too. `()` ignores them.
pub(crate) trait Starts {
    fn word(&mut self, at: usize);
    fn inside(&mut self, at: usize);
    /// Words at `at + offset(index)` for the index of every bit of `bits` (at most sixteen
    /// bits, in order): the starts of a run of ASCII at once.
    #[inline]
    fn words(&mut self, at: usize, mut bits: u32, offset: impl Fn(u32) -> usize) {
        while bits != 0 {
            self.word(at + offset(bits.trailing_zeros()));
            bits &= bits - 1;
        }
    }
    /// How many there are, and dropping those after the first `count`.
    fn count(&self) -> usize;
    fn truncate(&mut self, count: usize);
}

impl Starts for () {
    fn word(&mut self, _: usize) {}
    fn inside(&mut self, _: usize) {}
    fn count(&self) -> usize {
        0
    }
    fn truncate(&mut self, _: usize) {}
}

/// Starts as positions: `2 * at` for a word, `2 * at + 1` for a character inside a CJK word.
impl Starts for Vec<usize> {
    fn word(&mut self, at: usize) {
        self.push(2 * at);
    }
    fn inside(&mut self, at: usize) {
        self.push(2 * at + 1);
    }
    /// Written into room made once for all of them (a push each would check the room, and
    /// read the vector's length back from memory, for each).
    #[inline]
    fn words(&mut self, at: usize, mut bits: u32, offset: impl Fn(u32) -> usize) {
        let before = self.len();
        // A copy of a constant size (stores of whole registers), not a fill loop.
        self.extend_from_slice(&[0; 16]);
        let mut count = 0;
        if let Some(room) = self.get_mut(before..before + 16) {
            // Written through a slice of its own: the vector's length is not read back after
            // each store.
            while bits != 0 {
                if let Some(slot) = room.get_mut(count) {
                    *slot = 2 * (at + offset(bits.trailing_zeros()));
                }
                count += 1;
                bits &= bits - 1;
            }
        }
        Vec::truncate(self, before + count);
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn truncate(&mut self, count: usize) {
        Vec::truncate(self, count);
    }
}

/// Appends the folding of `text` (what `fold` returns) to `output`, so that several texts can
/// be folded into one buffer without a string of their own, and tells `starts` where terms may
/// start in it. Only whole characters are appended: `output` stays UTF-8 if it was.
///
/// Returns whether `text` was all ASCII, so that its folding is too (known without reading
/// it again; `false` says nothing: "café" folds to ASCII).
pub(crate) fn fold_bytes(output: &mut Vec<u8>, text: &str, starts: &mut impl Starts) -> bool {
    let start = output.len();
    let first_start = starts.count();
    match fold_fast(output, start, text, starts) {
        Ok(Fast::Ascii) => return true,
        Ok(Fast::Plain) => return false,
        Ok(Fast::Mixed) => unmix_from(output, start),
        Err(at) => {
            output.truncate(start);
            fold_by_pieces(output, start, text, at);
        }
    }
    // The fast path gave up (or changed letters' lengths): the starts are read off the text.
    starts.truncate(first_start);
    find_starts(output, start, starts);
    false
}

/// How the fast path folded a text it could fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    /// The text was all ASCII.
    Ascii,
    /// It was not, and no word mixes Latin and Cyrillic letters.
    Plain,
    /// Some word mixes them: the folding still needs `unmix_scripts`.
    Mixed,
}

/// Unmixes the look-alike letters of the words folded into `output` from `from` on.
fn unmix_from(output: &mut Vec<u8>, from: usize) {
    let unmixed = unmix_scripts(&String::from_utf8_lossy(
        output.get(from..).unwrap_or_default(),
    ));
    output.truncate(from);
    output.extend_from_slice(unmixed.as_bytes());
}

/// Folds a text that the fast path could not fold as a whole (the character at `failed`
/// needs the general path) in pieces split at ASCII spaces: only the words around such a
/// character take the general path, so one `½` or combining mark does not send a whole
/// article through the normalizer. The same result as the general path on the whole text: a
/// space is a character NFKC leaves alone and composes with nothing (so NFKC of the text is
/// that of its pieces, spaces between them), and it ends a word (so a piece's words, their
/// letters unmixed, and the marks after it fold the same on their own).
fn fold_by_pieces(output: &mut Vec<u8>, start: usize, text: &str, mut failed: usize) {
    let mut rest = text;
    let mut pieces = 0;
    loop {
        // The words before the one that failed, the fast way (they fold so on their own).
        let head_end = rest.get(..failed).and_then(|head| head.rfind(' '));
        let tail_start = rest
            .get(failed..)
            .and_then(|tail| tail.find(' '))
            .map(|offset| failed + offset);
        let head = head_end.and_then(|end| rest.get(..end)).unwrap_or_default();
        let middle = rest
            .get(head_end.map_or(0, |end| end + 1)..tail_start.unwrap_or(rest.len()))
            .unwrap_or_default();
        append_piece(output, start, head, |output, from| {
            match fold_fast(output, from, head, &mut ()) {
                Ok(Fast::Ascii | Fast::Plain) => {}
                Ok(Fast::Mixed) => unmix_from(output, from),
                Err(_) => {
                    output.truncate(from);
                    output.extend_from_slice(fold_general(head).as_bytes());
                }
            }
        });
        append_piece(output, start, middle, |output, _| {
            output.extend_from_slice(fold_general(middle).as_bytes());
        });
        let Some(next) = tail_start.and_then(|tail| rest.get(tail + 1..)) else {
            return;
        };
        rest = next;
        pieces += 1;
        if pieces == DENSE_PIECES {
            // Such characters all over the text (a script written with combining marks):
            // pieces would cost more than they save.
            append_piece(output, start, rest, |output, _| {
                output.extend_from_slice(fold_general(rest).as_bytes());
            });
            return;
        }
        // The rest, the fast way until the next character that needs the general path.
        let mut ended = Ok(Fast::Plain);
        append_piece(output, start, rest, |output, from| {
            ended = fold_fast(output, from, rest, &mut ());
            match ended {
                Ok(Fast::Ascii | Fast::Plain) => {}
                Ok(Fast::Mixed) => unmix_from(output, from),
                Err(_) => output.truncate(from),
            }
        });
        match ended {
            Ok(_) => return,
            Err(at) => failed = at,
        }
    }
}

/// After this many words that need the general path, `fold_by_pieces` folds the rest of the
/// text the general way at once.
const DENSE_PIECES: usize = 4;

/// Appends the folding of one piece of a text (`fold` appends it to the buffer, given where
/// it starts), after a space when words came before, the space taken back if it has none.
fn append_piece(
    output: &mut Vec<u8>,
    start: usize,
    piece: &str,
    fold: impl FnOnce(&mut Vec<u8>, usize),
) {
    if piece.is_empty() {
        return;
    }
    let before = output.len();
    if before > start {
        output.push(b' ');
    }
    let from = output.len();
    fold(output, from);
    if output.len() == from {
        output.truncate(before);
    }
}

/// Where terms may start in folded text from `from` on (what `fold_bytes` reports): after
/// every space and newline, and at every CJK character of a CJK word.
fn find_starts(folded: &[u8], from: usize, starts: &mut impl Starts) {
    let text = String::from_utf8_lossy(folded.get(from..).unwrap_or_default());
    let mut in_word = false;
    let mut in_cjk = false;
    for (at, character) in text.char_indices() {
        let at = from + at;
        if character == ' ' || character == '\n' {
            in_word = false;
            continue;
        }
        // Marks inside a CJK word are no place for a term to start (terms never start with
        // one).
        let cjk = !character.is_ascii() && is_cjk_class(character);
        if !in_word {
            starts.word(at);
            in_word = true;
            in_cjk = cjk;
        } else if in_cjk && cjk {
            starts.inside(at);
        }
    }
}

/// A buffer `fold_bytes` filled, as a string (without a copy). It is UTF-8, since only whole
/// characters go in; were it not, the bad bytes would become U+FFFD rather than panic.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// The definition of folding: NFKC first, then every character folded on its own.
fn fold_general(text: &str) -> String {
    if unicode_normalization::is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        fold_chars(text.chars(), text.len())
    } else {
        fold_chars(text.nfkc(), text.len())
    }
}

/// The fast path: appends the folding of `text` to `output` (whose folded text starts at
/// `start`, its end so far) and returns whether a word mixed Latin and Cyrillic letters (so
/// look-alikes must be unmixed); `Err` with where it is when a character needs the general
/// path.
///
/// One loop over the text: sixteen bytes at a time while they are ASCII (`Writer::ascii`), up
/// to the first other byte, which is folded from the table (`entry`). The output is written
/// in place, in room made once for the text (and grown only when table foldings are longer
/// than their characters), so a run of ASCII costs no set-up of its own however short it is:
/// French, German or Swedish text has an accented letter every few words.
///
/// Separators follow one rule whichever way they are read: the first separator after a word
/// is written as a space and any more are dropped, so after a separator the output ends with a
/// space (or nothing was written yet); a word that starts right after a word of another class
/// (Latin after CJK) writes its own space; a space left at the end is taken back.
fn fold_fast(
    output: &mut Vec<u8>,
    start: usize,
    text: &str,
    starts: &mut impl Starts,
) -> Result<Fast, usize> {
    let bytes = text.as_bytes();
    let written = output.len();
    output.resize(written + text.len() + SLACK, 0);
    let mut writer = Writer {
        output,
        written,
        starts,
        previous: CharClass::Separator,
        word_latin: false,
        word_cyrillic: false,
        mixed: false,
    };
    let mut at = 0;
    let mut all_ascii = true;
    while at < bytes.len() {
        if writer.written + SLACK > writer.output.len() {
            let more = writer.output.len() + bytes.len() + SLACK;
            writer.output.resize(more, 0);
        }
        // The next sixteen bytes (past the end: bytes that are not ASCII), as ASCII as far as
        // they go.
        let chunk: [u8; 16] = match bytes.get(at..at + 16) {
            Some(sixteen) => sixteen.try_into().unwrap_or([0x80; 16]),
            None => {
                let mut padded = [0x80; 16];
                for (slot, byte) in padded.iter_mut().zip(bytes.get(at..).unwrap_or_default()) {
                    *slot = *byte;
                }
                padded
            }
        };
        let sixteen = Sixteen::of(&chunk);
        let ascii = (sixteen.not_ascii | 1 << 16).trailing_zeros() as usize;
        if ascii > 0 {
            writer.ascii(&sixteen, ascii);
            at += ascii;
            if ascii == 16 || at >= bytes.len() {
                continue;
            }
        }
        // Characters that are not ASCII, from the table, one after another as long as they
        // come (Cyrillic, Greek or CJK text is nothing else).
        while let Some(&lead) = bytes.get(at) {
            if lead.is_ascii() {
                break;
            }
            all_ascii = false;
            if writer.written + SLACK > writer.output.len() {
                let more = writer.output.len() + bytes.len() + SLACK;
                writer.output.resize(more, 0);
            }
            let (code, length) = decode(bytes, at);
            if !writer.character(entry(code)) {
                writer.output.truncate(writer.written);
                return Err(at);
            }
            at += length;
        }
    }
    if writer.previous == CharClass::Separator && writer.written > start {
        // The space after the last word, which no word follows.
        writer.written -= 1;
    }
    let mixed = writer.mixed || (writer.word_latin && writer.word_cyrillic);
    let fast = match (all_ascii, mixed) {
        (true, _) => Fast::Ascii,
        (false, false) => Fast::Plain,
        (false, true) => Fast::Mixed,
    };
    let written = writer.written;
    output.truncate(written);
    Ok(fast)
}

/// Room kept free after the written output in `fold_fast`: more than one step writes (sixteen
/// ASCII bytes and a space, or a space and a table entry).
const SLACK: usize = 32;

/// What `fold_fast` writes to and keeps between characters.
struct Writer<'a, S> {
    /// Written up to `written`, room after it (at least `SLACK` bytes at each step).
    output: &'a mut Vec<u8>,
    written: usize,
    starts: &'a mut S,
    /// The class of the last character that was not a mark or invisible; `Separator` also at
    /// the start. Never `Mark`.
    previous: CharClass,
    /// Whether the current word has Latin letters and Cyrillic ones, and whether any word did.
    word_latin: bool,
    word_cyrillic: bool,
    mixed: bool,
}

impl<S: Starts> Writer<'_, S> {
    /// Folds one character that is not ASCII by its table entry; `false` when it needs the
    /// general path.
    #[inline]
    fn character(&mut self, entry: &Entry) -> bool {
        let class = match entry.kind {
            Kind::General => return false,
            Kind::Invisible => return true,
            Kind::Separator => {
                self.separator();
                return true;
            }
            Kind::Mark => {
                let keep = match self.previous {
                    CharClass::Cjk => true,
                    CharClass::Other => !entry.accent,
                    CharClass::Separator | CharClass::Mark => false,
                };
                if keep {
                    self.put(entry);
                }
                return true;
            }
            Kind::Cjk => CharClass::Cjk,
            Kind::Letter => CharClass::Other,
        };
        let folded = entry.folded();
        if self.previous != class {
            self.word_start();
            if class == CharClass::Cjk {
                // Every character but the first (a CJK entry may be several).
                for (offset, byte) in folded.iter().enumerate().skip(1) {
                    if !is_continuation(*byte) {
                        self.starts.inside(self.written + offset);
                    }
                }
            }
        } else if class == CharClass::Cjk {
            for (offset, byte) in folded.iter().enumerate() {
                if !is_continuation(*byte) {
                    self.starts.inside(self.written + offset);
                }
            }
        }
        self.put(entry);
        self.word_latin |= entry.latin;
        self.word_cyrillic |= entry.cyrillic;
        self.previous = class;
        true
    }

    /// Appends a table entry's folding (its whole array is copied; only its length counts).
    #[inline]
    fn put(&mut self, entry: &Entry) {
        if let Some(room) = self.output.get_mut(self.written..self.written + MAX_FOLDED) {
            room.copy_from_slice(&entry.folded);
        }
        self.written += usize::from(entry.length);
    }

    #[inline]
    fn space(&mut self) {
        if let Some(slot) = self.output.get_mut(self.written) {
            *slot = b' ';
        }
        self.written += 1;
    }

    /// A separator: the first after a word is written as a space.
    #[inline]
    fn separator(&mut self) {
        if self.previous != CharClass::Separator {
            self.space();
        }
        self.previous = CharClass::Separator;
    }

    /// A word of a table character starts at `written` (after a separator, or after a word of
    /// the other class).
    #[inline]
    fn word_start(&mut self) {
        if self.previous != CharClass::Separator {
            self.space();
        }
        self.starts.word(self.written);
        self.mixed |= self.word_latin && self.word_cyrillic;
        (self.word_latin, self.word_cyrillic) = (false, false);
    }

    /// Folds the first `valid` (1 to 16) bytes of `sixteen`, which are ASCII: letters and
    /// digits lower-cased, the first separator after a word a space, any more dropped.
    ///
    /// All at once, with no branch on the bytes: the folded bytes and which are letters or
    /// digits come from `Sixteen::of`, and which bytes stay (letters and digits, and a
    /// separator after one) and where words start are worked out on those bits. When all stay
    /// (most often), the sixteen bytes are written as they are; otherwise, from the first that
    /// does not, each is written where the next goes, and the place moves on only for those
    /// that stay.
    #[inline]
    fn ascii(&mut self, sixteen: &Sixteen, valid: usize) {
        if self.previous == CharClass::Cjk {
            // A CJK word ends here, with a separator or a Latin word: the same space.
            self.space();
            self.previous = CharClass::Separator;
        }
        let valid_bits = (1u32 << valid) - 1;
        let alphanumeric = sixteen.alphanumeric & valid_bits;
        let in_word = self.previous == CharClass::Other;
        // Whether the byte before each was a letter or digit.
        let after_word = (alphanumeric << 1) | u32::from(in_word);
        let keep = (alphanumeric | after_word) & valid_bits;
        let word_starts = alphanumeric & !after_word;
        let at = self.written;
        if let Some(room) = self.output.get_mut(at..at + 16) {
            room.copy_from_slice(&sixteen.folded);
        }
        if keep == valid_bits {
            self.starts.words(at, word_starts, |index| index as usize);
            self.written = at + valid;
        } else {
            // Some separator follows another and is dropped: the bytes after it move.
            self.starts.words(at, word_starts, |index| {
                let before = keep & ((1 << index) - 1);
                usize::from(BYTE_ONES[(before & 0xFF) as usize] + BYTE_ONES[(before >> 8) as usize])
            });
            // The bytes before the first dropped one are in place; each run of kept bytes
            // after a dropped one is moved by one copy of sixteen bytes (what follows the run
            // in the room is written over by the next run or left past `written`). Runs are
            // few: a dropped byte is a second separator (", " or ". ").
            let mut padded = [b' '; 32];
            if let Some(head) = padded.get_mut(..16) {
                head.copy_from_slice(&sixteen.folded);
            }
            let mut dropped = !keep & valid_bits;
            let mut written = at + dropped.trailing_zeros() as usize;
            while dropped != 0 {
                let run_start = dropped.trailing_zeros() as usize + 1;
                dropped &= dropped - 1;
                let run_end = (dropped | 1 << valid).trailing_zeros() as usize;
                if let (Some(room), Some(run)) = (
                    self.output.get_mut(written..written + 16),
                    padded.get(run_start..run_start + 16),
                ) {
                    room.copy_from_slice(run);
                }
                written += run_end - run_start;
            }
            self.written = written;
        }
        // Digits count as Latin here: that only sends a word of Cyrillic letters and ASCII
        // digits through `unmix_scripts`, which leaves a word with no Latin letter alone.
        let continued = in_word & (alphanumeric & 1 != 0);
        let started = word_starts != 0;
        self.word_latin |= continued;
        self.mixed |= started & self.word_latin & self.word_cyrillic;
        self.word_latin |= started;
        self.word_cyrillic &= !started;
        self.previous = if (alphanumeric >> (valid - 1)) & 1 != 0 {
            CharClass::Other
        } else {
            CharClass::Separator
        };
    }
}

/// How many bits of a byte are set, for each byte.
const BYTE_ONES: [u8; 256] = {
    let mut ones = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        ones[byte] = (byte as u32).count_ones() as u8;
        byte += 1;
    }
    ones
};

/// Sixteen bytes of text, classified at once: bit `i` of each mask is about byte `i`.
#[derive(Debug, PartialEq, Eq)]
struct Sixteen {
    /// Bytes that are not ASCII.
    not_ascii: u32,
    /// ASCII letters and digits.
    alphanumeric: u32,
    /// Each byte folded: a letter lower-cased, a digit as it is, anything else a space.
    folded: [u8; 16],
}

impl Sixteen {
    /// With SSE2 (always there on x86_64): compared as signed bytes, so that bytes that are
    /// not ASCII (negative) are never in a range; `| 0x20` lower-cases a letter and leaves a
    /// digit.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[inline]
    fn of(bytes: &[u8; 16]) -> Sixteen {
        use safe_arch::{
            bitand_m128i, bitandnot_m128i, bitor_m128i, cmp_gt_mask_i8_m128i, cmp_lt_mask_i8_m128i,
            load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i, store_unaligned_m128i,
        };
        let splat = |byte: u8| set_splat_i8_m128i(byte as i8);
        let within = |value, low: u8, high: u8| {
            bitand_m128i(
                cmp_gt_mask_i8_m128i(value, splat(low - 1)),
                cmp_lt_mask_i8_m128i(value, splat(high + 1)),
            )
        };
        let text = load_unaligned_m128i(bytes);
        let lower = bitor_m128i(text, splat(0x20));
        let alphanumeric = bitor_m128i(within(lower, b'a', b'z'), within(text, b'0', b'9'));
        let folded = bitor_m128i(
            bitand_m128i(alphanumeric, lower),
            bitandnot_m128i(alphanumeric, splat(b' ')),
        );
        let mut out = [0u8; 16];
        store_unaligned_m128i(&mut out, folded);
        Sixteen {
            not_ascii: (move_mask_i8_m128i(text) as u32) & 0xFFFF,
            alphanumeric: (move_mask_i8_m128i(alphanumeric) as u32) & 0xFFFF,
            folded: out,
        }
    }

    /// Elsewhere, byte by byte, by the same rule.
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    fn of(bytes: &[u8; 16]) -> Sixteen {
        Sixteen::of_bytes(bytes)
    }

    /// Byte by byte: what `of` does where there is no SSE2, and what it must give with it.
    #[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
    fn of_bytes(bytes: &[u8; 16]) -> Sixteen {
        let mut sixteen = Sixteen {
            not_ascii: 0,
            alphanumeric: 0,
            folded: [b' '; 16],
        };
        for (index, (&byte, folded)) in bytes.iter().zip(&mut sixteen.folded).enumerate() {
            sixteen.not_ascii |= u32::from(!byte.is_ascii()) << index;
            if byte.is_ascii_alphanumeric() {
                sixteen.alphanumeric |= 1 << index;
                *folded = byte.to_ascii_lowercase();
            }
        }
        sixteen
    }
}

/// A UTF-8 byte that continues a character.
fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// Folds NFKC characters, one at a time (the general path).
fn fold_chars(characters: impl Iterator<Item = char>, length: usize) -> String {
    let mut folded = String::with_capacity(length);
    let mut previous_class = CharClass::Separator;
    // Whether the current word has Latin letters and Cyrillic ones, and whether any word did.
    let (mut word_latin, mut word_cyrillic, mut mixed) = (false, false, false);
    for character in characters {
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

fn push_folded(folded: &mut String, character: char) {
    if folds_accents(character) {
        unicode_normalization::char::decompose_canonical(character, |part| {
            if !is_combining_mark(part) {
                push_lowercase(folded, without_stroke(part));
            }
        });
    } else {
        push_lowercase(folded, character);
    }
}

/// A Latin letter with a stroke through it, as its plain letter: Polish `ł` (Północna),
/// Danish and Norwegian `ø`, Croatian and Vietnamese `đ`, Maltese `ħ`, Sámi `ŧ`. Unicode
/// gives them no decomposition, so they would keep their stroke where every other accent
/// goes, and `polnocna` would not find "Północna"; search engines fold them the same way.
fn without_stroke(character: char) -> char {
    match character {
        'Ł' | 'ł' => 'l',
        'Ø' | 'ø' => 'o',
        'Đ' | 'đ' => 'd',
        'Ħ' | 'ħ' => 'h',
        'Ŧ' | 'ŧ' => 't',
        other => other,
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

/// What the fast path does with one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Its folding depends on its neighbours (a combining mark, a character that NFKC may
    /// compose with the one before it, or one that NFKC turns into letters and separators):
    /// the text goes through the general path.
    General,
    /// Dropped (soft hyphen, zero-width characters, the katakana name dot).
    Invisible,
    /// Between words.
    Separator,
    /// A spacing mark NFKC leaves alone (Devanagari and Thai vowel signs): kept with the
    /// letter before it.
    Mark,
    /// Letters of a script written without spaces (Han, Kana, Hangul...), kept as they are.
    Cjk,
    /// Letters and digits of other scripts, folded.
    Letter,
}

/// The most bytes one character folds to in the table (ß is `ss`, ﬃ is `ffi`, Ⅷ is `viii`,
/// ㍿ is `株式会社`); a longer folding takes the general path.
const MAX_FOLDED: usize = 12;

/// How one character folds, worked out once by the general path (`entry_of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    /// A Latin, Greek or Cyrillic combining accent (dropped after a letter).
    accent: bool,
    /// Whether the folded form has a Latin letter, and whether the character (after NFKC) is
    /// Cyrillic: what look-alike unmixing asks of a word.
    latin: bool,
    cyrillic: bool,
    length: u8,
    /// The folded form, UTF-8.
    folded: [u8; MAX_FOLDED],
}

impl Entry {
    const GENERAL: Entry = Entry {
        kind: Kind::General,
        accent: false,
        latin: false,
        cyrillic: false,
        length: 0,
        folded: [0; MAX_FOLDED],
    };

    fn folded(&self) -> &[u8] {
        &self.folded[..usize::from(self.length)]
    }
}

/// Code points per block of the table; a block is worked out when a character of it is
/// first folded.
const BLOCK: usize = 256;
const BLOCKS: usize = (char::MAX as usize + 1) / BLOCK;

/// The code point of the character that starts at `at` in `bytes` (not ASCII), and its
/// length. `bytes` are a `str`'s and `at` a character boundary, so the character is whole and
/// well-formed.
#[inline]
fn decode(bytes: &[u8], at: usize) -> (u32, usize) {
    let lead = u32::from(bytes.get(at).copied().unwrap_or_default());
    let next =
        |offset: usize| u32::from(bytes.get(at + offset).copied().unwrap_or_default() & 0x3F);
    if lead < 0xE0 {
        (((lead & 0x1F) << 6) | next(1), 2)
    } else if lead < 0xF0 {
        (((lead & 0x0F) << 12) | (next(1) << 6) | next(2), 3)
    } else {
        (
            ((lead & 0x07) << 18) | (next(1) << 12) | (next(2) << 6) | next(3),
            4,
        )
    }
}

/// The table entry of a code point.
fn entry(code: u32) -> &'static Entry {
    static TABLE: [OnceLock<Box<[Entry]>>; BLOCKS] = [const { OnceLock::new() }; BLOCKS];
    let code = code as usize;
    let Some(block) = TABLE.get(code / BLOCK) else {
        return &Entry::GENERAL;
    };
    let block = block.get_or_init(|| {
        (code / BLOCK * BLOCK..(code / BLOCK + 1) * BLOCK)
            .map(|code| {
                u32::try_from(code)
                    .ok()
                    .and_then(char::from_u32)
                    .map_or(Entry::GENERAL, entry_of)
            })
            .collect()
    });
    block.get(code % BLOCK).unwrap_or(&Entry::GENERAL)
}

/// Whether NFKC leaves the character's place in a text alone: no combining class (so it is
/// never reordered) and not one that may compose with the character before it (NFKC quick
/// check "maybe").
fn is_stable(character: char) -> bool {
    canonical_combining_class(character) == 0
        && unicode_normalization::is_nfkc_quick(std::iter::once(character)) != IsNormalized::Maybe
}

/// Works out how `character` folds, by the general path's rules. Only a stable character whose
/// NFKC form is stable characters of one kind gets a table entry: then NFKC of a text of such
/// characters is the NFKC forms of its characters one after another, and the general path
/// folds each the same way wherever it stands.
fn entry_of(character: char) -> Entry {
    if !is_stable(character) {
        return Entry::GENERAL;
    }
    let normalized: Vec<char> = std::iter::once(character).nfkc().collect();
    if !normalized.iter().copied().all(is_stable) {
        return Entry::GENERAL;
    }
    let mut entry = Entry {
        kind: Kind::Invisible,
        ..Entry::GENERAL
    };
    let mut folded = String::new();
    for part in normalized {
        let kind = if part.is_ascii() {
            if part.is_ascii_alphanumeric() {
                Kind::Letter
            } else {
                Kind::Separator
            }
        } else if is_invisible(part) || is_name_dot(part) {
            continue;
        } else {
            match CharClass::of(part) {
                CharClass::Separator => Kind::Separator,
                CharClass::Mark => Kind::Mark,
                CharClass::Cjk => Kind::Cjk,
                CharClass::Other => Kind::Letter,
            }
        };
        // One kind per character; two marks would each depend on what came before.
        if (entry.kind != Kind::Invisible && entry.kind != kind)
            || (kind == Kind::Mark && entry.kind == Kind::Mark)
        {
            return Entry::GENERAL;
        }
        entry.kind = kind;
        match kind {
            Kind::Separator | Kind::Invisible | Kind::General => {}
            Kind::Mark => {
                entry.accent = matches!(part as u32, 0x0300..=0x036F);
                folded.push(part);
            }
            Kind::Cjk => folded.push(part),
            Kind::Letter if part.is_ascii() => {
                folded.push(part.to_ascii_lowercase());
                entry.latin |= part.is_ascii_alphabetic();
            }
            Kind::Letter => {
                entry.cyrillic |= is_cyrillic(part);
                let before = folded.len();
                push_folded(&mut folded, part);
                if folded.len() == before {
                    return Entry::GENERAL;
                }
                entry.latin |= folded
                    .chars()
                    .next_back()
                    .is_some_and(|last| last.is_ascii_alphabetic());
            }
        }
    }
    let Some(slot) = entry.folded.get_mut(..folded.len()) else {
        return Entry::GENERAL;
    };
    slot.copy_from_slice(folded.as_bytes());
    entry.length = folded.len() as u8;
    entry
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Separator,
    Mark,
    Cjk,
    Other,
}

/// Han ideographs, Hangul syllables, and Kana letters other than the sound marks: classed at
/// once, without looking up the Unicode tables.
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

/// Whether `CharClass::of(character)` is `Cjk`, without the Unicode look-ups that `of` needs
/// for other scripts (Cyrillic, Greek: a word that mixes look-alike letters has its starts
/// read off the text character by character).
fn is_cjk_class(character: char) -> bool {
    is_plain_cjk(character)
        || (is_cjk(character) && !is_apostrophe_letter(character) && !is_combining_mark(character))
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
pub(crate) mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(fold(input), expected, "folding {input:?}");
    }

    /// Both paths on the same text.
    #[track_caller]
    fn same_as_general(text: &str) {
        assert_eq!(fold(text), fold_general(text), "folding {text:?}");
        // The starts the fast path reports are those read off the folded text, after text
        // already in the buffer.
        let mut folded = b"x\n".to_vec();
        let mut starts = Vec::new();
        fold_bytes(&mut folded, text, &mut starts);
        let mut expected = Vec::new();
        find_starts(&folded, 2, &mut expected);
        assert_eq!(starts, expected, "starts in {text:?}");
    }

    #[test]
    fn the_ascii_fast_path_folds_like_the_general_one() {
        for text in [
            "North Korea's  missile-test!",
            "  Kim Jong-Un ",
            "a",
            "",
            "--",
            "R2-D2 x9 2024",
        ] {
            same_as_general(text);
        }
        for byte in 0..0x80u8 {
            let character = char::from(byte);
            same_as_general(&format!("Ab{character}cD x{character} {character}"));
        }
    }

    #[test]
    fn ascii_runs_fold_alike_whatever_their_length_and_what_ends_them() {
        // ASCII is read eight bytes at a time up to the first other byte, then folded in one
        // pass: an upper-case letter, a digit, a separator or a run of them, and a non-ASCII
        // character (Cyrillic, CJK, an accent, an invisible one) at every position of runs
        // around those eight bytes, and at the start and end.
        for length in 0..20 {
            let base: String = "abcdefghijklmnopqrstuvwxyz".chars().take(length).collect();
            for at in 0..=length {
                for inserted in [
                    "X", "7", " ", "--", ". ", "ж", "Ж", "北", "é", "e\u{301}", "\u{ad}", "\u{a0}",
                ] {
                    let mut text = base.clone();
                    text.insert_str(at, inserted);
                    same_as_general(&text);
                    same_as_general(&format!("ж{text}"));
                    same_as_general(&format!("{text}ж"));
                    same_as_general(&format!(" {text} "));
                    same_as_general(&text.to_uppercase());
                }
            }
        }
    }

    #[test]
    fn the_cjk_class_is_known_without_the_unicode_tables() {
        for code in 0..=0x3FFFF {
            if let Some(character) = char::from_u32(code) {
                assert_eq!(
                    is_cjk_class(character),
                    CharClass::of(character) == CharClass::Cjk,
                    "U+{code:04X}"
                );
            }
        }
    }

    #[test]
    fn runs_of_separators_anywhere_in_sixteen_bytes_fold_alike() {
        // Sixteen bytes of letters and separators in many patterns (every separator after
        // the first of a run is dropped, and the bytes after it move), at every offset from
        // the start of a chunk, after a word or a separator, and before a non-ASCII letter.
        for pattern in (0u32..1 << 16)
            .step_by(37)
            .chain([0, 0x5555, 0xAAAA, 0xFFFF])
        {
            let text: String = (0..16)
                .map(|bit| match (pattern >> bit & 1, bit % 3) {
                    (1, _) => char::from(b'a' + bit as u8),
                    (_, 0) => '.',
                    (_, 1) => ' ',
                    _ => ',',
                })
                .collect();
            for prefix in ["", "x", ". ", "abcdefg", "abcdefghijklmno, "] {
                same_as_general(&format!("{prefix}{text}"));
                same_as_general(&format!("{prefix}{text}{text}ж"));
            }
        }
    }

    #[test]
    fn sixteen_bytes_are_classified_alike_with_and_without_simd() {
        // Every byte value at every place, among letters, digits, separators and bytes that
        // are not ASCII.
        let fillers = [
            *b"aZ09 .-_@[`{/:~\x7f",
            [
                0x80, 0xC3, 0xA9, b'A', b'z', b'0', b'9', b'`', b'{', b'@', b'[', b'/', b':', 0xFF,
                0x7F, b' ',
            ],
        ];
        for filler in fillers {
            for at in 0..16 {
                for byte in 0..=255u8 {
                    let mut bytes = [0u8; 16];
                    for (index, slot) in bytes.iter_mut().enumerate() {
                        *slot = filler[(index + at) % filler.len()];
                    }
                    bytes[at] = byte;
                    assert_eq!(Sixteen::of(&bytes), Sixteen::of_bytes(&bytes), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn folding_says_whether_the_text_was_ascii() {
        // What the matcher uses to skip regexes that need a character beyond ASCII without
        // reading the folded text again: exactly whether the text was ASCII.
        let mut texts: Vec<String> = [
            "",
            "Kim Jong Un",
            "  a, b. ",
            "café",
            "Жб b",
            "½ x",
            "북한은",
            "поcле",
        ]
        .iter()
        .map(|text| text.to_string())
        .collect();
        if let Some(lines) = shared_text_lines() {
            texts.extend(lines.into_iter().step_by(5));
        }
        let mut ascii = 0;
        for text in &texts {
            let mut folded = Vec::new();
            let said = fold_bytes(&mut folded, text, &mut Vec::new());
            assert_eq!(said, text.is_ascii(), "{text:?}");
            assert!(!said || folded.is_ascii(), "{text:?}");
            ascii += usize::from(said);
        }
        assert!(ascii > 0 && ascii < texts.len());
    }

    #[test]
    fn ascii_runs_report_where_their_words_start() {
        let mut folded = Vec::new();
        let mut starts = Vec::new();
        fold_bytes(&mut folded, "  Ab, cD-9 x ", &mut starts);
        assert_eq!(folded, b"ab cd 9 x");
        assert_eq!(starts, vec![0, 2 * 3, 2 * 6, 2 * 8]);
        // After text already there (a field before), and across a non-ASCII character.
        fold_bytes(&mut folded, "Жб b", &mut starts);
        assert_eq!(String::from_utf8(folded).unwrap(), "ab cd 9 xжб b");
        assert_eq!(starts, vec![0, 6, 12, 16, 2 * 9, 2 * 14]);
    }

    #[test]
    fn every_character_folds_like_the_general_path() {
        // Every character of the Basic Multilingual Plane and the common ones beyond it, alone,
        // twice, inside and between words of several scripts, and next to characters the table
        // folds to several characters or to marks: the fast path (with its table) gives what
        // NFKC and the general path give.
        let beyond = (0x1_0000..0x1_0100)
            .chain(0x1_D400..0x1_D800)
            .chain(0x1_F000..0x1_FB00)
            .chain(0x2_0000..0x2_0200)
            .chain(0x2_F800..0x2_FA20)
            .chain(0xE_0000..0xE_0200);
        for code in (0x80..0x1_0000).chain(beyond) {
            let Some(character) = char::from_u32(code) else {
                continue;
            };
            for text in [
                format!("{character}"),
                format!("ab{character}cd x{character}{character} {character}"),
                format!("Жa{character}б {character}ё"),
                format!("北{character}한{character}ｶ{character}\u{93e}"),
                format!("ﬁ{character}ß…{character}Ⅷ\u{200b}{character}"),
                // After characters NFKC composes with a following one.
                format!(
                    "e{character}\u{1100}{character}가{character}か{character}\u{b47}{character}"
                ),
            ] {
                same_as_general(&text);
            }
        }
    }

    #[test]
    fn texts_with_words_that_need_the_general_path_fold_alike_in_pieces() {
        // Words the table cannot fold (a combining mark, a fraction, a mark that composes,
        // one at the start of a piece) among words it can, as many as make the pieces give
        // way to the whole text, at the start, the end, together and apart, with runs of
        // spaces, mixed scripts and marks after a space.
        let general = [
            "e\u{301}te",
            "½",
            "и\u{306}",
            "\u{301}x",
            "ก\u{e48}",
            "ｶﾞ",
            "x\u{308}\u{323}",
        ];
        let plain = [
            "Kim",
            "Зелeнський",
            "北朝鮮",
            "  ",
            "ab-cd",
            "ёж",
            "",
            "l'Ukraine",
        ];
        for count in 0..12 {
            for offset in 0..3 {
                let mut words = Vec::new();
                for index in 0..count + 6 {
                    if index % 2 == offset % 2 || index >= count * 2 {
                        words.push(plain[(index + offset) % plain.len()]);
                    } else {
                        words.push(general[(index + offset) % general.len()]);
                    }
                }
                same_as_general(&words.join(" "));
                same_as_general(&words.concat());
                same_as_general(&format!(" {} ", words.join("  ")));
            }
        }
    }

    #[test]
    fn the_tricky_cases_fold_alike_on_both_paths() {
        for text in [
            "Ukrai\u{ad}ne",
            "Nord\u{200b}korea \u{200d}x\u{2060}y",
            "ＫＣＮＡ報道 Ｓｅｏｕｌ",
            "non\u{a0}breaking\u{202f}narrow",
            "Зелeнський Ukr\u{430}ine",
            "İstanbul ıi I\u{307}",
            "Straße STRASSE ẞ",
            "ΟΔΥΣΣΕΑΣ Οδυσσέας ς σ",
            "e\u{301}te\u{301} Pjo\u{308}ngjang",
            "ｳｸﾗｲﾅ ガ ｶﾞ",
            "キム・ジョンウン",
            "ก\u{e34}\u{e48}น",
        ] {
            same_as_general(text);
        }
    }

    /// `../shared` beside the repository (or `TIDINGS_SHARED_DIR`), as the integration tests
    /// find it; `None` when it is not there and not required.
    fn shared_dir() -> Option<std::path::PathBuf> {
        let base = std::env::var_os("TIDINGS_SHARED_DIR").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
            std::path::PathBuf::from,
        );
        if base.join("topics-dev.tsv").exists() {
            return Some(base);
        }
        assert!(
            !std::env::var("TIDINGS_REQUIRE_SHARED").is_ok_and(|value| value == "1"),
            "missing {}: TIDINGS_REQUIRE_SHARED=1 requires ../shared",
            base.display()
        );
        eprintln!("skipped: {} is not there", base.display());
        None
    }

    /// `topics-dev.tsv` and every file of the corpus, or `None` when `../shared` is not there
    /// and not required.
    pub(crate) fn shared_text_files() -> Option<Vec<std::path::PathBuf>> {
        let shared = shared_dir()?;
        let mut files = vec![shared.join("topics-dev.tsv")];
        let mut folders = vec![shared.join("corpus")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        Some(files)
    }

    /// Every line of `shared_text_files`, or `None` when `../shared` is not there and not
    /// required.
    pub(crate) fn shared_text_lines() -> Option<Vec<String>> {
        let mut lines = Vec::new();
        for file in shared_text_files()? {
            let bytes = std::fs::read(&file).unwrap();
            lines.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
        }
        Some(lines)
    }

    #[test]
    fn the_corpus_and_the_labelled_headlines_fold_alike_on_both_paths() {
        let Some(lines) = shared_text_lines() else {
            return;
        };
        for line in &lines {
            same_as_general(line);
        }
        assert!(lines.len() > 10_000, "only {} lines", lines.len());
    }

    #[test]
    fn lower_cases_and_separates_words() {
        check("North Korea's  missile—test!", "north korea s missile test");
        check("  Kim Jong-Un ", "kim jong un");
    }

    #[test]
    fn drops_accents_of_latin_and_cyrillic() {
        check("Pjöngjang", "pjongjang");
        check("Selenskyj Zełenski", "selenskyj zelenski");
        check("Київ", "киів");
    }

    #[test]
    fn letters_with_a_stroke_lose_it_like_an_accent() {
        // Unicode gives these no decomposition: without their own rule `polnocna` would not
        // find the Polish name of North Korea.
        check("Korea Północna", "korea polnocna");
        check("KOREI PÓŁNOCNEJ", "korei polnocnej");
        check("Øresund Đakovo Ħamrun Ŧ", "oresund dakovo hamrun t");
        same_as_general("Połtawa, Łódź i Mikołajów: Ølstykke.");
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
