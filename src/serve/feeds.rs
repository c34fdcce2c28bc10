//! `/feeds/{all|topic}.{atom,rss,json}`: `?limit` and `?before`, pages from the `outputs`
//! cache, `ETag` and `Last-Modified`, `304` for a matching `If-None-Match` or
//! `If-Modified-Since`, `Cache-Control`, 404 for an unknown topic or format. `HEAD` is answered
//! by axum from the same handler, without the body.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AppState, ServeError, blocking};
use crate::model::Cursor;
use crate::publish::{DEFAULT_LIMIT, Format, MAX_LIMIT, Rendered};

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    limit: Option<String>,
    before: Option<String>,
}

pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<FeedQuery>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let Some((slug, extension)) = file.rsplit_once('.') else {
        return Err(ServeError::NotFound);
    };
    let format = Format::from_extension(extension).ok_or(ServeError::NotFound)?;
    let limit = parse_limit(query.limit.as_deref())?;
    let before = query
        .before
        .as_deref()
        .map(str::parse::<Cursor>)
        .transpose()
        .map_err(ServeError::BadRequest)?;
    let rendered = match state.outputs.fresh_page(slug, format, limit, before) {
        Some(rendered) => rendered,
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
    Ok(respond(
        rendered,
        &headers,
        state.outputs.max_age().as_secs(),
    ))
}

/// A cached page's body, shared with the cache instead of copied for each response.
struct SharedBody(Arc<Rendered>);

impl AsRef<[u8]> for SharedBody {
    fn as_ref(&self) -> &[u8] {
        &self.0.body
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

fn http_date(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A `304` when the client's copy is current (RFC 9110 §13.2.2: `If-None-Match` wins over
/// `If-Modified-Since`), else the feed.
fn respond(rendered: Arc<Rendered>, request: &HeaderMap, max_age: u64) -> Response {
    let not_modified = match request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
    {
        Some(tags) => tags.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == rendered.etag
        }),
        None => request
            .get(IF_MODIFIED_SINCE)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| DateTime::parse_from_rfc2822(text).ok())
            .is_some_and(|since| rendered.last_modified.timestamp() <= since.timestamp()),
    };
    let mut headers = HeaderMap::new();
    if let Ok(etag) = HeaderValue::from_str(&rendered.etag) {
        headers.insert(ETAG, etag);
    }
    if let Ok(last_modified) = HeaderValue::from_str(&http_date(rendered.last_modified)) {
        headers.insert(LAST_MODIFIED, last_modified);
    }
    if let Ok(cache_control) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(CACHE_CONTROL, cache_control);
    }
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    let body = Body::from(Bytes::from_owner(SharedBody(rendered)));
    (StatusCode::OK, headers, body).into_response()
}
