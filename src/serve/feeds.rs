//! `/feeds/{topic}.atom`: `?limit`, `ETag` and `Last-Modified`, `304` for a matching
//! `If-None-Match` or `If-Modified-Since`, 404 for an unknown topic or format.

use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AppState, ServeError, blocking};
use crate::config::ALL_TOPIC;
use crate::publish::{OutputFeed, Rendered, render_atom};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    limit: Option<String>,
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
    if extension != "atom" {
        return Err(ServeError::NotFound);
    }
    let title = if slug == ALL_TOPIC {
        "All sources".to_string()
    } else {
        state
            .live
            .topics()
            .topics()
            .find(|(topic, _)| topic.as_str() == slug)
            .map(|(_, title)| title.to_string())
            .ok_or(ServeError::NotFound)?
    };
    let limit = parse_limit(query.limit.as_deref())?;
    let slug = slug.to_string();
    let store = state.store.clone();
    let public_url = state.public_url.clone();
    let grouping = state.grouping;
    let rendered = blocking(move || {
        let topic = (slug != ALL_TOPIC).then_some(slug.as_str());
        let entries = store
            .entries_grouped(topic, limit, grouping)
            .map_err(|error| ServeError::Internal(error.to_string()))?;
        let feed = OutputFeed {
            slug: slug.clone(),
            title,
            public_url,
            entries,
        };
        render_atom(&feed).map_err(|error| ServeError::Internal(error.to_string()))
    })
    .await?;
    Ok(respond(&rendered, &headers))
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
fn respond(rendered: &Rendered, request: &HeaderMap) -> Response {
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
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    (StatusCode::OK, headers, rendered.body.clone()).into_response()
}
