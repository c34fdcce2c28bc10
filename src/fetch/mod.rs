//! One polite HTTP GET of one feed → `FetchOutcome`: conditional on the stored validators,
//! the decompressed body capped, every failure turned into a `FetchError` that says what
//! happened.
//!
//! Owns the wire. It does not parse feed formats and does not touch the store.

mod client;

use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use url::Url;

pub use client::{USER_AGENT, build_client};

/// The decompressed body is cut off at this size: a feed is never this big, and a gzip bomb
/// must not fill the memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The validators from the last successful fetch, sent back to make the GET conditional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// `304 Not Modified`: the stored copy is current.
    NotModified { status: u16 },
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
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("timed out")]
    Timeout,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("too many redirects or a redirect loop")]
    Redirects,
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("HTTP error: {0}")]
    Http(String),
}

impl FetchError {
    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } => Some(*status),
            _ => None,
        }
    }

    fn from_reqwest(error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            FetchError::Timeout
        } else if error.is_redirect() {
            FetchError::Redirects
        } else if error.is_connect() {
            FetchError::Connect(error_chain(&error))
        } else {
            FetchError::Http(error_chain(&error))
        }
    }
}

/// reqwest's top-level message is vague ("error sending request"); the causes say what
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

/// Fetches `url`, conditional on `validators`.
pub async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    validators: &Validators,
) -> Result<FetchOutcome, FetchError> {
    let mut request = client.get(url.clone());
    if let Some(etag) = &validators.etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    if let Some(last_modified) = &validators.last_modified {
        request = request.header(IF_MODIFIED_SINCE, last_modified);
    }
    let mut response = request.send().await.map_err(FetchError::from_reqwest)?;
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(FetchOutcome::NotModified {
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            status: status.as_u16(),
        });
    }
    let headers = response.headers().clone();
    let final_url = response.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(FetchError::from_reqwest)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(FetchError::TooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchOutcome::Body(FetchedBody {
        status: status.as_u16(),
        body,
        content_type: header_text(&headers, CONTENT_TYPE),
        validators: Validators {
            etag: header_text(&headers, ETAG),
            last_modified: header_text(&headers, LAST_MODIFIED),
        },
        final_url,
    }))
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}
