//! Canonical links: the form in which two links to the same article compare equal, whatever
//! campaign tags, fragment, scheme or `www.` each source put on it.
//!
//! The canonical form is for comparison only; an item keeps and republishes its link as the
//! source gave it. The rules, in order:
//!
//! 1. The link is parsed with the `url` crate (WHATWG URL), which already lower-cases the
//!    scheme and host, drops the scheme's default port (`:80`, `:443`), removes `.` and `..`
//!    path segments and percent-encodes what must be. Only `http` and `https` links have a
//!    canonical form.
//! 2. The fragment (`#...`) is dropped: it points inside the page, not to another page.
//! 3. Tracking parameters are dropped from the query: every `utm_*`, and the click and mail
//!    identifiers in `TRACKING_PARAMETERS` (Google, Microsoft, Facebook, Yandex, TikTok,
//!    Twitter/X, LinkedIn, Instagram, Mailchimp, HubSpot, Marketo, Omeda, Vero). These only
//!    tell the publisher where a reader came from; the page is the same without them. Names
//!    compare case-insensitively. Other parameters are kept, in the order given (`?id=42` may
//!    well be the article). A query left empty is dropped with its `?`.
//! 4. `http` and `https` are one: the scheme is left out of the canonical form.
//! 5. A leading `www.` on the host is dropped: `www.example.org` and `example.org` serve the
//!    same site in practice. Other subdomains (`m.`, `amp.`) are kept, since they are not
//!    always the same pages.
//!
//! The path is kept as it is, trailing slash and case included: servers differ on both.

use url::Url;

/// Query parameters that only track a click or a mailing, dropped besides every `utm_*`.
///
/// `gclid`, `dclid`, `gbraid`, `wbraid`: Google Ads and DoubleClick; `msclkid`: Microsoft
/// Ads; `fbclid`: Facebook; `yclid`: Yandex; `ttclid`: TikTok; `twclid`, `ref_src`,
/// `ref_url`: Twitter/X; `li_fat_id`: LinkedIn; `igshid`, `igsh`: Instagram shares;
/// `mc_cid`, `mc_eid`: Mailchimp; `_hsenc`, `_hsmi`, `__hstc`, `__hssc`, `__hsfp`: HubSpot;
/// `mkt_tok`: Marketo; `oly_anon_id`, `oly_enc_id`: Omeda; `vero_id`, `vero_conv`: Vero;
/// `_ga`, `_gl`: Google Analytics cross-domain linking.
pub const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "ttclid",
    "twclid",
    "ref_src",
    "ref_url",
    "li_fat_id",
    "igshid",
    "igsh",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "__hstc",
    "__hssc",
    "__hsfp",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "vero_conv",
    "_ga",
    "_gl",
];

/// Whether a query parameter only tracks where the reader came from.
pub fn is_tracking_parameter(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMETERS.contains(&lower.as_str())
}

/// The canonical form of `link` for comparison (see the module docs), or `None` when it is not
/// an absolute http(s) URL. It has no scheme: `example.org/path?query`.
pub fn canonical_link(link: &str) -> Option<String> {
    let url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    let mut canonical = String::with_capacity(link.len());
    canonical.push_str(host);
    if let Some(port) = url.port() {
        // `url` already dropped the scheme's default port. With http and https treated as
        // one, the other scheme's default port is a default as well.
        if port != 80 && port != 443 {
            canonical.push(':');
            canonical.push_str(&port.to_string());
        }
    }
    canonical.push_str(url.path());
    if let Some(query) = url.query() {
        // Parameters are filtered as written, not decoded and re-encoded, so what is kept
        // compares exactly as the source spelt it.
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
                !is_tracking_parameter(name)
            })
            .collect();
        if !kept.is_empty() {
            canonical.push('?');
            canonical.push_str(&kept.join("&"));
        }
    }
    Some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(link: &str, expected: Option<&str>) {
        assert_eq!(canonical_link(link).as_deref(), expected, "{link}");
    }

    #[test]
    fn scheme_host_port_and_fragment() {
        check(
            "HTTPS://News.Example.ORG:443/World/Story-1#comments",
            Some("news.example.org/World/Story-1"),
        );
        check("http://news.example.org:80/a", Some("news.example.org/a"));
        check("https://news.example.org:80/a", Some("news.example.org/a"));
        check(
            "http://news.example.org:8080/a",
            Some("news.example.org:8080/a"),
        );
        check("http://news.example.org", Some("news.example.org/"));
        check(
            "https://news.example.org/a/./b/../c",
            Some("news.example.org/a/c"),
        );
    }

    #[test]
    fn http_https_and_www_are_one() {
        let forms = [
            "http://www.example.org/story",
            "https://www.example.org/story",
            "https://example.org/story",
            "https://WWW.Example.org/story#top",
        ];
        for form in forms {
            check(form, Some("example.org/story"));
        }
        // Other subdomains stay apart.
        check("https://m.example.org/story", Some("m.example.org/story"));
    }

    #[test]
    fn tracking_parameters_are_dropped_and_others_kept_in_order() {
        check(
            "https://example.org/a?utm_source=rss&id=42&UTM_Medium=feed&fbclid=x&page=2",
            Some("example.org/a?id=42&page=2"),
        );
        check(
            "https://example.org/a?gclid=1&mc_cid=2&mc_eid=3&ref_src=twsrc&yclid=4&igshid=5\
             &_hsenc=6&__hstc=7&msclkid=8&mkt_tok=9",
            Some("example.org/a"),
        );
        check("https://example.org/a?", Some("example.org/a"));
        check(
            "https://example.org/a?b=2&a=1",
            Some("example.org/a?b=2&a=1"),
        );
        // A parameter that only starts like one is kept.
        check(
            "https://example.org/a?utmost=1",
            Some("example.org/a?utmost=1"),
        );
        check(
            "https://example.org/a?ref=home",
            Some("example.org/a?ref=home"),
        );
    }

    #[test]
    fn only_absolute_web_links_have_a_canonical_form() {
        check("mailto:desk@example.org", None);
        check("/relative/path", None);
        check("not a link", None);
        check("ftp://example.org/file", None);
    }
}
