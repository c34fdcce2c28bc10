//! Pure: what a server says about when to come back, read from its response headers:
//! `Cache-Control: max-age`, `Expires` (against the server's own `Date`), and `Retry-After`
//! (seconds or an HTTP date).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CACHE_CONTROL, DATE, EXPIRES, HeaderMap, RETRY_AFTER};

/// The longest a `Retry-After` is honoured. A server asking for more is most likely wrong, and
/// a week is long enough to be polite without forgetting the feed.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerHints {
    /// How long the response stays fresh (`max-age`, else `Expires` − `Date`).
    pub fresh_for: Option<Duration>,
    /// No request before this much time has passed.
    pub retry_after: Option<Duration>,
}

/// Reads the hints of a response received at `now`.
pub fn server_hints(headers: &HeaderMap, now: DateTime<Utc>) -> ServerHints {
    ServerHints {
        fresh_for: max_age(headers).or_else(|| expires(headers, now)),
        retry_after: retry_after(headers, now),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &reqwest::header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = header(headers, &CACHE_CONTROL)?;
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        // `no-cache`/`no-store` say nothing about how often a feed changes, so they are not
        // a reason to poll more often than configured; they just give no hint.
        if directive == "no-cache" || directive == "no-store" {
            return None;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            max_age = seconds.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age.map(Duration::from_secs)
}

/// `Expires` counts from the server's clock, so it is compared with its `Date` when it sent
/// one (a server whose clock is off by an hour still means "fresh for ten minutes").
fn expires(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let expires = parse_http_date(header(headers, &EXPIRES)?)?;
    let date = header(headers, &DATE)
        .and_then(parse_http_date)
        .unwrap_or(now);
    (expires - date).to_std().ok()
}

fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = header(headers, &RETRY_AFTER)?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => (parse_http_date(value)? - now).to_std().ok()?,
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses an HTTP date (RFC 9110 IMF-fixdate; RFC 850 and asctime forms are obsolete and
/// rare enough that a hint in them is simply ignored).
pub fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    use super::*;

    fn hints(pairs: &[(&'static str, &'static str)]) -> ServerHints {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        server_hints(&headers, now)
    }

    #[test]
    fn max_age_wins_over_expires() {
        let got = hints(&[
            ("cache-control", "public, max-age=1800"),
            ("expires", "Thu, 26 Nov 2026 13:00:00 GMT"),
        ]);
        assert_eq!(got.fresh_for, Some(Duration::from_secs(1800)));
    }

    #[test]
    fn expires_counts_from_the_servers_date() {
        let got = hints(&[
            ("date", "Thu, 26 Nov 2026 10:00:00 GMT"),
            ("expires", "Thu, 26 Nov 2026 10:10:00 GMT"),
        ]);
        assert_eq!(got.fresh_for, Some(Duration::from_secs(600)));
        let past = hints(&[("expires", "Thu, 01 Jan 2026 00:00:00 GMT")]);
        assert_eq!(past.fresh_for, None);
    }

    #[test]
    fn no_cache_gives_no_hint() {
        assert_eq!(
            hints(&[("cache-control", "no-cache, max-age=60")]).fresh_for,
            None
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(
            hints(&[("retry-after", "120")]).retry_after,
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            hints(&[("retry-after", "Thu, 26 Nov 2026 12:30:00 GMT")]).retry_after,
            Some(Duration::from_secs(1800))
        );
        assert_eq!(
            hints(&[("retry-after", "99999999")]).retry_after,
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(hints(&[("retry-after", "soon")]).retry_after, None);
    }
}
