//! Lenient date parsing for feed timestamps, handed to feed-rs as its timestamp parser.
//!
//! Feeds write RFC 822/2822 (RSS), RFC 3339 (Atom, JSON Feed) and many things in between:
//! long month and day names, a missing weekday or a wrong one, time-zone abbreviations RFC 2822
//! does not know (`CEST`, `MSK`, `KST`), a space instead of the `T`, no seconds, no zone, a
//! bare date, `-0000`, `+01`, a two-digit year. This parser tries the standard forms first and
//! then a rewritten form of the text. A date with no zone is taken as UTC. A text that is no
//! date at all gives `None`, and `normalize`/`store` fall back to the time the item was first
//! seen. Results are always UTC.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses a feed timestamp, or `None`.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    if let Ok(date) = DateTime::parse_from_rfc2822(text) {
        return Some(date.with_timezone(&Utc));
    }
    if let Some(date) = iso_like(text) {
        return Some(date);
    }
    let cleaned = clean(text);
    if let Ok(date) = DateTime::parse_from_rfc2822(&cleaned) {
        return Some(date.with_timezone(&Utc));
    }
    iso_like(&cleaned).or_else(|| with_formats(&cleaned))
}

/// Names of zones RFC 2822 does not know, as offsets.
const ZONES: &[(&str, &str)] = &[
    ("UTC", "+0000"),
    ("GMT", "+0000"),
    ("UT", "+0000"),
    ("Z", "+0000"),
    ("WET", "+0000"),
    ("BST", "+0100"),
    ("CET", "+0100"),
    ("MET", "+0100"),
    ("CEST", "+0200"),
    ("MEST", "+0200"),
    ("EET", "+0200"),
    ("EEST", "+0300"),
    ("MSK", "+0300"),
    ("IST", "+0530"),
    ("PKT", "+0500"),
    ("ICT", "+0700"),
    ("WIB", "+0700"),
    ("HKT", "+0800"),
    ("SGT", "+0800"),
    ("AWST", "+0800"),
    ("JST", "+0900"),
    ("KST", "+0900"),
    ("AEST", "+1000"),
    ("AEDT", "+1100"),
    ("NZST", "+1200"),
    ("NZDT", "+1300"),
    ("AST", "-0400"),
    ("ADT", "-0300"),
    ("EST", "-0500"),
    ("EDT", "-0400"),
    ("CST", "-0600"),
    ("CDT", "-0500"),
    ("MST", "-0700"),
    ("MDT", "-0600"),
    ("PST", "-0800"),
    ("PDT", "-0700"),
    ("AKST", "-0900"),
    ("AKDT", "-0800"),
    ("HST", "-1000"),
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The text rewritten towards RFC 2822: no weekday, short English month names, numeric zones,
/// `+01` as `+0100`, single spaces.
fn clean(text: &str) -> String {
    // A weekday before a comma, in any language ("Seg,", "mer,", "Thurs,"), is dropped.
    let text = match text.split_once(',') {
        Some((first, rest)) if first.trim().chars().all(char::is_alphabetic) => rest,
        _ => text,
    };
    let mut words: Vec<String> = Vec::new();
    let mut afternoon = None;
    for raw in text.split(|character: char| character.is_whitespace() || character == ',') {
        if raw.is_empty() {
            continue;
        }
        let lower = raw.to_lowercase();
        if lower == "am" || lower == "pm" {
            afternoon = Some(lower == "pm");
            continue;
        }
        let trimmed = lower.trim_end_matches('.');
        // Weekdays, in any length ("Thurs", "Tuesday"), are dropped.
        if ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .any(|day| trimmed.starts_with(day))
            && trimmed
                .chars()
                .all(|character| character.is_ascii_alphabetic())
            && !MONTHS.iter().any(|month| trimmed.starts_with(month))
        {
            continue;
        }
        if let Some(index) = month_index(trimmed) {
            let name = MONTHS[index];
            let mut capitalized = name[..1].to_ascii_uppercase();
            capitalized.push_str(&name[1..]);
            words.push(capitalized);
            continue;
        }
        if let Some((_, offset)) = ZONES
            .iter()
            .find(|(zone, _)| raw.eq_ignore_ascii_case(zone))
        {
            words.push((*offset).to_string());
            continue;
        }
        words.push(short_offset(raw).unwrap_or_else(|| raw.to_string()));
    }
    // "Jun 5 2024" (month first) → "5 Jun 2024".
    if words.len() >= 3
        && MONTHS
            .iter()
            .any(|month| words[0].eq_ignore_ascii_case(month))
        && words[1].chars().all(|character| character.is_ascii_digit())
    {
        words.swap(0, 1);
    }
    // A time with one-digit hours, without seconds, without a colon ("1500" after the
    // year), or with AM/PM.
    let mut year_seen = false;
    for word in &mut words {
        if year_seen && word.len() == 4 && word.chars().all(|c| c.is_ascii_digit()) {
            *word = format!("{}:{}", &word[..2], &word[2..]);
        }
        year_seen = words_is_year(word);
        let parts: Vec<&str> = word.split(':').collect();
        if parts.len() >= 2
            && parts
                .iter()
                .all(|part| part.chars().all(|c| c.is_ascii_digit()))
        {
            let mut hour: u32 = parts[0].parse().unwrap_or(0);
            match afternoon {
                Some(true) if hour < 12 => hour += 12,
                Some(false) if hour == 12 => hour = 0,
                _ => {}
            }
            let seconds = parts.get(2).copied().unwrap_or("00");
            *word = format!("{hour:02}:{}:{seconds}", parts[1]);
        }
    }
    // No zone at all: UTC.
    if words
        .last()
        .is_some_and(|last| last.contains(':') && !last.starts_with(['+', '-']))
    {
        words.push("+0000".to_string());
    }
    words.join(" ")
}

/// Whether a word of a date is its year (two or four digits after the month).
fn words_is_year(word: &str) -> bool {
    (word.len() == 4 || word.len() == 2) && word.chars().all(|c| c.is_ascii_digit())
}

/// Month names and abbreviations in English, German, French, Spanish, Italian and
/// Portuguese, as their first letters (longest first where two share a start).
const LOCAL_MONTHS: &[(&str, usize)] = &[
    ("juin", 5),
    ("juil", 6),
    ("ene", 0),
    ("gen", 0),
    ("fév", 1),
    ("fev", 1),
    ("mär", 2),
    ("mrz", 2),
    ("abr", 3),
    ("avr", 3),
    ("mai", 4),
    ("mag", 4),
    ("giu", 5),
    ("lug", 6),
    ("ago", 7),
    ("aoû", 7),
    ("set", 8),
    ("out", 9),
    ("ott", 9),
    ("okt", 9),
    ("dez", 11),
    ("dic", 11),
    ("déc", 11),
];

fn month_index(word: &str) -> Option<usize> {
    if word.chars().count() < 3 || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    MONTHS
        .iter()
        .position(|month| word.starts_with(month))
        .or_else(|| {
            LOCAL_MONTHS
                .iter()
                .find(|(prefix, _)| word.starts_with(prefix))
                .map(|(_, index)| *index)
        })
}

/// `+01`, `+1`, `+01:00` → `+0100`.
fn short_offset(word: &str) -> Option<String> {
    let sign = word
        .chars()
        .next()
        .filter(|sign| matches!(sign, '+' | '-'))?;
    let digits: String = word[1..]
        .chars()
        .filter(|character| *character != ':')
        .collect();
    if digits.is_empty() || !digits.chars().all(|character| character.is_ascii_digit()) {
        return None;
    }
    let padded = match digits.len() {
        1 => format!("0{digits}00"),
        2 => format!("{digits}00"),
        3 => format!("0{digits}"),
        4 => digits,
        _ => return None,
    };
    Some(format!("{sign}{padded}"))
}

/// ISO 8601 variants RFC 3339 refuses: a space for `T`, no seconds, no zone, a zone without
/// colon, fractions, a bare date.
fn iso_like(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let (date_part, time_part) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let date = NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(date_part, "%Y/%m/%d"))
        .or_else(|_| NaiveDate::parse_from_str(date_part, "%Y%m%d"))
        .ok()?;
    let Some(time_part) = time_part.filter(|time| !time.is_empty()) else {
        return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
    };
    let time_part = time_part.replace(' ', "");
    let zone_at = time_part
        .char_indices()
        .skip(1)
        .find(|(_, character)| matches!(character, '+' | '-' | 'Z' | 'z'))
        .map(|(index, _)| index);
    let (clock, zone) = match zone_at {
        Some(index) => time_part.split_at(index),
        None => (time_part.as_str(), ""),
    };
    let clock = clock.split('.').next().unwrap_or(clock);
    let mut pieces = clock.split(':').map(|piece| piece.parse::<u32>().ok());
    let hour = pieces.next()??;
    let minute = pieces.next().flatten().unwrap_or(0);
    let second = pieces.next().flatten().unwrap_or(0);
    let naive = NaiveDateTime::new(date, chrono::NaiveTime::from_hms_opt(hour, minute, second)?);
    let offset_seconds = match zone {
        "" | "Z" | "z" => 0,
        zone => {
            let normalized = short_offset(zone)?;
            let sign = if normalized.starts_with('-') { -1 } else { 1 };
            let hours: i32 = normalized[1..3].parse().ok()?;
            let minutes: i32 = normalized[3..5].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let offset = FixedOffset::east_opt(offset_seconds)?;
    Some(
        offset
            .from_local_datetime(&naive)
            .single()?
            .with_timezone(&Utc),
    )
}

/// Day-month-year forms that are neither RFC 2822 nor ISO.
fn with_formats(text: &str) -> Option<DateTime<Utc>> {
    const WITH_ZONE: &[&str] = &[
        "%d %b %Y %H:%M:%S %z",
        "%d %b %y %H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S %z",
    ];
    for format in WITH_ZONE {
        if let Ok(date) = DateTime::parse_from_str(text, format) {
            return Some(date.with_timezone(&Utc));
        }
    }
    const DATE_ONLY: &[&str] = &["%d %b %Y", "%d %b %y", "%d.%m.%Y", "%m/%d/%Y"];
    for format in DATE_ONLY {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: &str) {
        let parsed = parse_date(text).unwrap_or_else(|| panic!("{text:?} did not parse"));
        assert_eq!(parsed.to_rfc3339(), expected, "{text:?}");
    }

    #[test]
    fn standard_forms() {
        check("Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00+00:00");
        check("2003-12-13T18:30:02Z", "2003-12-13T18:30:02+00:00");
        check(
            "2003-12-13T18:30:02.25+01:00",
            "2003-12-13T17:30:02.250+00:00",
        );
        check("Tue, 10 Jun 2003 04:00:00 EST", "2003-06-10T09:00:00+00:00");
    }

    #[test]
    fn forms_seen_in_real_feeds() {
        check(
            "Thurs, 13 Jul 2011 07:38:00 GMT",
            "2011-07-13T07:38:00+00:00",
        );
        check(
            "Wednesday, 25 August 2012 10:00:00 +0200",
            "2012-08-25T08:00:00+00:00",
        );
        check(
            "Sat, 25 Aug 2012 10:00:00 CEST",
            "2012-08-25T08:00:00+00:00",
        );
        check("Mon, 1 Jan 2024 9:05 MSK", "2024-01-01T06:05:00+00:00");
        check("Fri, 07 Jun 2024 12:00:00 KST", "2024-06-07T03:00:00+00:00");
        check("Fri, 07 Jun 2024 12:00:00 UTC", "2024-06-07T12:00:00+00:00");
        check(
            "Fri, 07 Jun 2024 12:00:00 -0000",
            "2024-06-07T12:00:00+00:00",
        );
        check("Fri, 07 Jun 2024 12:00:00 +01", "2024-06-07T11:00:00+00:00");
        check("Fri, 07 Jun 2024 12:00:00", "2024-06-07T12:00:00+00:00");
        check("Jun 7 2024 12:00:00 GMT", "2024-06-07T12:00:00+00:00");
        check("7 Jun 24 12:00:00 +0000", "2024-06-07T12:00:00+00:00");
        check("2024-06-07 12:00:00", "2024-06-07T12:00:00+00:00");
        check("2024-06-07T12:00+0200", "2024-06-07T10:00:00+00:00");
        check("2024-06-07T12:00:00", "2024-06-07T12:00:00+00:00");
        check("2024-06-07", "2024-06-07T00:00:00+00:00");
        check("20240607", "2024-06-07T00:00:00+00:00");
        check("07 June 2024", "2024-06-07T00:00:00+00:00");
        check("03 Apr 02 1500 GMT", "2002-04-03T15:00:00+00:00");
        check("Sat, Dec 16 2023 02:02:33 PM", "2023-12-16T14:02:33+00:00");
        check(
            "Seg, 24 Set 2018 19:18:49 -0300",
            "2018-09-24T22:18:49+00:00",
        );
        check(
            "mer, 16 nov 2022 00:38:15 +0100",
            "2022-11-15T23:38:15+00:00",
        );
        check("Di, 5 Mär 2024 08:00:00 +0100", "2024-03-05T07:00:00+00:00");
        check("12 juillet 2023 10:00 CEST", "2023-07-12T08:00:00+00:00");
    }

    #[test]
    fn no_date_is_none() {
        for text in [
            "",
            "  ",
            "yesterday",
            "n/a",
            "2024-13-45",
            "Mon, 99 Foo 2024",
        ] {
            assert_eq!(parse_date(text), None, "{text:?}");
        }
    }
}
