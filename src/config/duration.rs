//! Durations as people write them in `feeds.toml`: `"90s"`, `"15m"`, `"2h"`, `"90d"`,
//! `"1h 30m"`.
//!
//! Owns the text ↔ `Duration` conversion, nothing else.

use std::time::Duration;

/// Parses a duration written with units. A bare number is refused because its unit would be a
/// guess, and zero is refused because no interval or retention can sensibly be zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration; write it like \"15m\", \"2h\" or \"90d\"".to_string());
    }
    if trimmed.chars().all(|character| character.is_ascii_digit()) {
        return Err(format!(
            "duration \"{trimmed}\" has no unit; write it like \"{trimmed}m\" or \"{trimmed}s\""
        ));
    }
    let duration = humantime::parse_duration(trimmed)
        .map_err(|error| format!("bad duration \"{trimmed}\": {error}"))?;
    if duration.is_zero() {
        return Err(format!("duration \"{trimmed}\" must be more than zero"));
    }
    Ok(duration)
}

/// Writes a duration back in the short form people use (`15m`, `2h`, `90d`).
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn refuses_bare_numbers_zero_and_garbage() {
        assert!(parse_duration("15").unwrap_err().contains("no unit"));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(parse_duration("soon").unwrap_err().contains("bad duration"));
        assert!(parse_duration("").unwrap_err().contains("empty"));
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
    }
}
