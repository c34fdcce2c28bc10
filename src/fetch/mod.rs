//! One polite HTTP GET of one feed → `FetchOutcome`: conditional on the stored validators,
//! redirects followed here (so permanent ones can be told from temporary ones), what the server
//! says about when to come back read into `ServerHints`, the decompressed body capped, and every
//! failure turned into a `FetchError` that says what happened.
//!
//! Owns the wire: `lanes.rs` holds the connections of feed polls (at most `per_host` to one
//! host), `body.rs` decodes and caps a body. It does not parse feed formats and does not touch
//! the store.

mod body;
mod client;
mod hints;
mod lanes;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use hyper::StatusCode;
use hyper::header::{
    CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    LOCATION,
};
use url::Url;

pub use client::{FeedClient, MAX_REDIRECTS, USER_AGENT, build_client};
pub use hints::{MAX_RETRY_AFTER, ServerHints, parse_http_date, server_hints};

/// The decompressed body is cut off at this size by default: a feed is never this big, and a
/// gzip bomb must not fill the memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The validators from the last successful fetch, sent back to make the GET conditional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// How the request reached its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redirects {
    /// Set when the request was redirected and every hop was permanent (301/308): where the
    /// feed now lives.
    pub permanent_target: Option<Url>,
    /// How many hops were followed.
    pub hops: usize,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// `304 Not Modified`: the stored copy is current.
    NotModified {
        status: u16,
        hints: ServerHints,
        redirects: Redirects,
    },
    /// A `2xx` with its body.
    Body(FetchedBody),
}

#[derive(Debug)]
pub struct FetchedBody {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// Where the body came from after redirects.
    pub final_url: Url,
    pub hints: ServerHints,
    pub redirects: Redirects,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("timed out")]
    Timeout,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect loop back to {0}")]
    RedirectLoop(Url),
    #[error("redirect with a bad Location: {0}")]
    BadRedirect(String),
    #[error("HTTP {status}")]
    Status {
        status: u16,
        /// From `Retry-After`, on a 429 or 503.
        retry_after: Option<std::time::Duration>,
    },
    #[error("HTTP 410 Gone: the feed was removed for good")]
    Gone,
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("HTTP error: {0}")]
    Http(String),
}

impl FetchError {
    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            FetchError::Gone => Some(410),
            _ => None,
        }
    }

    /// How long the server asked us to wait before the next request, if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the error says the host as a whole is unwell (unreachable, timing out, or
    /// failing with 5xx), as opposed to one feed being broken.
    pub fn is_host_failure(&self) -> bool {
        match self {
            FetchError::Timeout | FetchError::Connect(_) => true,
            FetchError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A top-level message is often vague ("error sending request"); the causes say what
/// actually happened (connection refused, certificate expired...).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Fetches `url`, conditional on `validators`, reading no more than `max_body` bytes of
/// (decompressed) body, within the client's total timeout. `now` dates the server's hints.
pub async fn fetch(
    client: &FeedClient,
    url: &Url,
    validators: &Validators,
    max_body: usize,
    now: DateTime<Utc>,
) -> Result<FetchOutcome, FetchError> {
    tokio::time::timeout(
        client.timeout,
        fetch_hops(client, url, validators, max_body, now),
    )
    .await
    .map_err(|_| FetchError::Timeout)?
}

async fn fetch_hops(
    client: &FeedClient,
    url: &Url,
    validators: &Validators,
    max_body: usize,
    now: DateTime<Utc>,
) -> Result<FetchOutcome, FetchError> {
    let mut headers = HeaderMap::clone(&client.headers);
    let mut validator = |name, value: &Option<String>| {
        if let Some(value) = value
            .as_deref()
            .and_then(|value| HeaderValue::from_str(value).ok())
        {
            headers.insert(name, value);
        }
    };
    validator(IF_NONE_MATCH, &validators.etag);
    validator(IF_MODIFIED_SINCE, &validators.last_modified);
    let mut current = url.clone();
    let mut visited = HashSet::from([url.clone()]);
    let mut redirects = Redirects::default();
    let mut all_permanent = true;
    let exchange = loop {
        let exchange = client.lanes.get(&current, &headers).await?;
        let status = exchange.response.status();
        if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
            break exchange;
        }
        // No client follows redirects for us: here each hop is seen, so a chain of only
        // permanent redirects can move the feed, and anything else cannot.
        let location = header_text(exchange.response.headers(), LOCATION);
        exchange.discard().await;
        let location = location
            .ok_or_else(|| FetchError::BadRedirect(format!("HTTP {status} without Location")))?;
        let next = current
            .join(&location)
            .map_err(|error| FetchError::BadRedirect(format!("{location}: {error}")))?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(FetchError::BadRedirect(next.to_string()));
        }
        redirects.hops += 1;
        if redirects.hops > MAX_REDIRECTS {
            return Err(FetchError::TooManyRedirects);
        }
        if !visited.insert(next.clone()) {
            return Err(FetchError::RedirectLoop(next));
        }
        all_permanent &= matches!(
            status,
            StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
        );
        current = next;
    };
    if redirects.hops > 0 && all_permanent {
        redirects.permanent_target = Some(current.clone());
    }
    let status = exchange.response.status();
    let headers = exchange.response.headers().clone();
    let hints = server_hints(&headers, now);
    if status == StatusCode::NOT_MODIFIED {
        exchange.discard().await;
        return Ok(FetchOutcome::NotModified {
            status: status.as_u16(),
            hints,
            redirects,
        });
    }
    if !status.is_success() {
        exchange.discard().await;
        if status == StatusCode::GONE {
            return Err(FetchError::Gone);
        }
        return Err(FetchError::Status {
            status: status.as_u16(),
            retry_after: matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            )
            .then_some(hints.retry_after)
            .flatten(),
        });
    }
    let body = body::read(exchange, max_body).await?;
    Ok(FetchOutcome::Body(FetchedBody {
        status: status.as_u16(),
        body,
        content_type: header_text(&headers, CONTENT_TYPE),
        validators: Validators {
            etag: header_text(&headers, ETAG),
            last_modified: header_text(&headers, LAST_MODIFIED),
        },
        final_url: current,
        hints,
        redirects,
    }))
}

fn header_text(headers: &HeaderMap, name: hyper::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}
