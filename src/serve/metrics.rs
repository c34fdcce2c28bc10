//! `/metrics`: the process's counters (`crate::metrics`) and what the store says now (its
//! size, items, failing, stale and no-longer-matching feeds, items per topic), in
//! Prometheus' text format; and the layer that counts every request by route and status.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppState, ServeError, blocking};
use crate::metrics::{METRICS, StoreGauges, render};

pub async fn metrics(State(state): State<AppState>) -> Result<Response, ServeError> {
    let store = state.store.clone();
    let has_topics = state.outputs.topics().topics().next().is_some();
    let gauges = blocking(move || {
        let internal = |error: crate::store::StoreError| ServeError::Internal(error.to_string());
        let feeds = store.feed_rows().map_err(internal)?;
        let health = store
            .feed_health(has_topics, chrono::Utc::now())
            .map_err(internal)?;
        let active: Vec<_> = feeds.iter().filter(|feed| feed.active).collect();
        Ok(StoreGauges {
            database_bytes: store.database_bytes().map_err(internal)?,
            feeds_active: active.len() as u64,
            feeds_failing: active
                .iter()
                .filter(|feed| feed.state.error_streak > 0)
                .count() as u64,
            feeds_stale: health.values().filter(|health| health.is_stale()).count() as u64,
            feeds_not_matching: health.values().filter(|health| health.not_matching).count() as u64,
            items_stored: feeds.iter().filter_map(|feed| feed.item_count).sum(),
            topic_items: store.topic_counts().map_err(internal)?,
        })
    })
    .await?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(&METRICS, &gauges),
    )
        .into_response())
}

/// The route a path belongs to, as a label with few values.
fn route(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        "/opml" => "/opml",
        _ if path.starts_with("/feeds/") => "/feeds",
        _ => "other",
    }
}

/// Counts each request by route and status.
pub async fn count(request: Request, next: Next) -> Response {
    let route = route(request.uri().path());
    let response = next.run(request).await;
    METRICS.request(route, response.status().as_u16());
    response
}
