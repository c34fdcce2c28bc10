//! `/opml`: the active sources as OPML 2.0, for a reader to subscribe to them directly.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::{AppState, ServeError, blocking};
use crate::opml::{Source, export};

pub async fn opml(State(state): State<AppState>) -> Result<Response, ServeError> {
    let store = state.store.clone();
    let rows = blocking(move || {
        store
            .feed_rows()
            .map_err(|error| ServeError::Internal(error.to_string()))
    })
    .await?;
    let sources: Vec<Source> = rows
        .iter()
        .filter(|row| row.active)
        .map(|row| Source {
            title: row.display_name().to_string(),
            xml_url: row.url.clone(),
            html_url: None,
            tags: Vec::new(),
        })
        .collect();
    let body = export("tidings sources", &sources)
        .map_err(|error| ServeError::Internal(error.to_string()))?;
    Ok((
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/x-opml; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}
