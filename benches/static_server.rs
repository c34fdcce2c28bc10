//! The baseline of the serving benchmark (`benches/serve_load.py`): a minimal static file
//! server, as nginx would be used in front of `data/public/`. Each request reads the file from
//! disk (the page cache serves it) and answers with an ETag from its length and mtime and a
//! 304 to a matching `If-None-Match`; no rendering, no database.
//!
//! Usage: static_server DIRECTORY ADDRESS

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

async fn file(
    State(directory): State<PathBuf>,
    Path(name): Path<String>,
    request: HeaderMap,
) -> Response {
    if name.contains('/') || name.starts_with('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = directory.join(&name);
    let Ok(metadata) = tokio::fs::metadata(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |time| time.as_nanos());
    let etag = format!("\"{:x}-{modified:x}\"", metadata.len());
    if request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    match tokio::fs::read(&path).await {
        Ok(body) => (
            [
                (header::ETAG, etag),
                (header::CONTENT_TYPE, "application/atom+xml".to_string()),
            ],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    let [_, directory, address] = arguments.as_slice() else {
        return Err("usage: static_server DIRECTORY ADDRESS".into());
    };
    let app = Router::new()
        .route("/{name}", axum::routing::get(file))
        .with_state(PathBuf::from(directory));
    let listener = tokio::net::TcpListener::bind(address.as_str()).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
