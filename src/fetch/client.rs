//! The one place a `reqwest::Client` is built: rustls, gzip/br/deflate, connect and total
//! timeouts, a `User-Agent` that names tidings, and no automatic redirects (`fetch` follows
//! them, at most `MAX_REDIRECTS`).

use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};

use super::FetchError;

/// Sent with every request, so site operators can see who polls them and where to complain.
pub const USER_AGENT: &str = concat!(
    "tidings/",
    env!("CARGO_PKG_VERSION"),
    " (feed aggregator; +",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// The feed media types, most specific first, then anything XML, then anything at all (many
/// servers label feeds `text/html` or `application/octet-stream`).
const ACCEPT_FEEDS: &str = "application/atom+xml, application/rss+xml, application/feed+json, \
     application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, \
     application/json;q=0.7, */*;q=0.5";

/// Connecting must not take long: a host that does not answer SYN in this time is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// More hops than this is a redirect loop or a misconfigured site.
pub const MAX_REDIRECTS: usize = 5;

/// Builds the HTTP client shared by every fetch. `timeout` bounds a whole request.
#[allow(clippy::disallowed_methods)] // this is the one place allowed to build a client
pub fn build_client(timeout: Duration) -> Result<reqwest::Client, FetchError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_FEEDS));
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .default_headers(headers)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        // `fetch` follows redirects itself, to tell permanent ones from temporary ones.
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(2)
        .build()
        .map_err(|error| FetchError::Client(error.to_string()))
}
