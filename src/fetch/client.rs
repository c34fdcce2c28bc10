//! The clients: `FeedClient` for feed polls (lanes of at most `per_host` connections to one
//! host, the headers every poll sends, the total timeout), and the one place a
//! `reqwest::Client` is built for the rest (rustls, gzip/br/deflate, connect and total timeouts,
//! a `User-Agent` that names tidings, and no automatic redirects: `fetch` follows them, at most
//! `MAX_REDIRECTS`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, ACCEPT_ENCODING, HeaderMap, HeaderValue, USER_AGENT as UA};

use super::FetchError;
use super::lanes::Lanes;

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

/// The HTTP client of feed polls. Clones share the lanes, so the per-host bound holds across
/// every poll of a process.
#[derive(Clone)]
pub struct FeedClient {
    pub(super) lanes: Arc<Lanes>,
    /// Shared: every waiting poll holds a clone of the client.
    pub(super) headers: Arc<HeaderMap>,
    /// Bounds a whole fetch: every hop, and the body.
    pub(super) timeout: Duration,
}

impl FeedClient {
    /// A client that opens at most `per_host` connections to one host; `timeout` bounds a
    /// whole fetch.
    pub fn new(per_host: usize, timeout: Duration) -> Result<FeedClient, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(UA, HeaderValue::from_static(USER_AGENT));
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_FEEDS));
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br, deflate"),
        );
        Ok(FeedClient {
            lanes: Arc::new(Lanes::new(per_host, CONNECT_TIMEOUT)?),
            headers: Arc::new(headers),
            timeout,
        })
    }

    /// The same lanes (and connections) with another total timeout.
    pub fn with_timeout(&self, timeout: Duration) -> FeedClient {
        FeedClient {
            timeout,
            ..self.clone()
        }
    }
}

/// Builds the reqwest client of everything but feed polls (WebSub hubs). `timeout` bounds a whole request.
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
