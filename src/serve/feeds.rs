//! `/feeds/{all|topic}.{atom,rss,json}`: `?limit` and `?before`, pages from the `outputs`
//! cache, `ETag` and `Last-Modified`, `304` for a matching `If-None-Match` or
//! `If-Modified-Since`, `Cache-Control`, gzip or brotli from the page's own compressed copies,
//! 404 for an unknown topic or format. `HEAD` is answered by axum from the same handler,
//! without the body.
//!
//! This is the path subscribers load, so it is kept cheap: the request is read in place (no
//! extractor copies its headers), a cached page is found without a lock or the database, and
//! a `304` is answered before anything else is done.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, LAST_MODIFIED, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::DateTime;
use serde::Deserialize;

use super::{AppState, ServeError, blocking};
use crate::model::Cursor;
use crate::outputs::{Encoding, Page};
use crate::publish::{DEFAULT_LIMIT, Format, MAX_LIMIT};

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    limit: Option<String>,
    before: Option<String>,
}

pub async fn feed(State(state): State<AppState>, request: Request) -> Result<Response, ServeError> {
    // The body of a GET is not read; the parts can be held across the awaits below.
    let (request, _) = request.into_parts();
    let uri = &request.uri;
    let file = uri
        .path()
        .strip_prefix("/feeds/")
        .ok_or(ServeError::NotFound)?;
    let file: Cow<'_, str> = percent_encoding::percent_decode_str(file)
        .decode_utf8()
        .map_err(|_| ServeError::NotFound)?;
    let Some((slug, extension)) = file.rsplit_once('.') else {
        return Err(ServeError::NotFound);
    };
    let format = Format::from_extension(extension).ok_or(ServeError::NotFound)?;
    let (limit, before) = match uri.query() {
        None => (DEFAULT_LIMIT, None),
        Some(_) => {
            let Query(query) = Query::<FeedQuery>::try_from_uri(uri)
                .map_err(|rejection| ServeError::BadRequest(rejection.body_text()))?;
            let limit = parse_limit(query.limit.as_deref())?;
            let before = query
                .before
                .as_deref()
                .map(str::parse::<Cursor>)
                .transpose()
                .map_err(ServeError::BadRequest)?;
            (limit, before)
        }
    };
    let page = match state.outputs.fresh_page(slug, format, limit, before) {
        Some(page) => page,
        None => {
            let slug = slug.to_string();
            let outputs = Arc::clone(&state.outputs);
            blocking(move || {
                outputs
                    .page(&slug, format, limit, before)
                    .map_err(|error| ServeError::Internal(error.to_string()))
            })
            .await?
            .ok_or(ServeError::NotFound)?
        }
    };
    let cache_control = state.outputs.cache_control();
    let request = &request.headers;
    if not_modified(&page, request) {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        validators(response.headers_mut(), &page, cache_control);
        return Ok(response);
    }
    let wanted = Encoding::negotiate(
        request
            .get(ACCEPT_ENCODING)
            .and_then(|value| value.to_str().ok()),
    );
    let encoding = match page.ready(wanted) {
        Some(Some(_)) => wanted,
        Some(None) => Encoding::Identity,
        // The first client to ask for this coding since the page was rendered: compress it
        // once, off the async threads.
        None => {
            let compressing = Arc::clone(&page);
            let made = blocking(move || Ok(compressing.body(wanted).is_some())).await?;
            if made { wanted } else { Encoding::Identity }
        }
    };
    let content_type = HeaderValue::from_static(page.rendered.content_type);
    let mut response = Response::new(Body::from(Bytes::from_owner(SharedBody {
        page: Arc::clone(&page),
        encoding,
    })));
    let headers = response.headers_mut();
    validators(headers, &page, cache_control);
    headers.insert(CONTENT_TYPE, content_type);
    if let Some(token) = encoding.token() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(token));
    }
    Ok(response)
}

/// The headers a `200` and a `304` share (RFC 9110 §15.4.5): the validators, `Cache-Control`,
/// and `Vary`, since the body depends on `Accept-Encoding`.
fn validators(headers: &mut HeaderMap, page: &Page, cache_control: &str) {
    if let Ok(etag) = HeaderValue::from_str(page.etag()) {
        headers.insert(ETAG, etag);
    }
    if let Ok(last_modified) = HeaderValue::from_str(page.last_modified_http()) {
        headers.insert(LAST_MODIFIED, last_modified);
    }
    if let Ok(cache_control) = HeaderValue::from_str(cache_control) {
        headers.insert(CACHE_CONTROL, cache_control);
    }
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
}

/// A cached page's body in one coding, shared with the cache instead of copied for each
/// response.
struct SharedBody {
    page: Arc<Page>,
    encoding: Encoding,
}

impl AsRef<[u8]> for SharedBody {
    fn as_ref(&self) -> &[u8] {
        match self.page.ready(self.encoding) {
            Some(Some(body)) => body,
            _ => &self.page.rendered.body,
        }
    }
}

fn parse_limit(limit: Option<&str>) -> Result<usize, ServeError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(0) | Err(_) => Err(ServeError::BadRequest(format!(
                "limit must be a number from 1 to {MAX_LIMIT}, not \"{text}\""
            ))),
            Ok(limit) => Ok(limit.min(MAX_LIMIT)),
        },
    }
}

/// Whether the client's copy is current (RFC 9110 §13.2.2: `If-None-Match`, over every line
/// of it, wins over `If-Modified-Since`).
fn not_modified(page: &Page, request: &HeaderMap) -> bool {
    let mut tags = request.get_all(IF_NONE_MATCH).iter().peekable();
    if tags.peek().is_some() {
        return tags
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/") == page.etag()
            });
    }
    let Some(since) = request
        .get(IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    // Clients send back the date they were given: compare the text before parsing it.
    since == page.last_modified_http()
        || DateTime::parse_from_rfc2822(since)
            .is_ok_and(|since| page.last_modified.timestamp() <= since.timestamp())
}
