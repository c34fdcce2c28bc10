//! HTTP: the routes of PRODUCT.md as an axum `Router`, and `serve` to run it until shutdown.
//!
//! Owns routing, conditional responses and compression. It reads the store and renders with
//! `publish`; it never fetches sources or writes items. Internal errors are logged here and
//! answered with a bare 500, never with their detail.

mod feeds;
mod index;
mod metrics;
mod opml;

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;
use tracing::error;

use crate::outputs::Outputs;
use crate::store::Store;

/// What every handler may read.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The config status, replaced when `feeds.toml` is reloaded.
    pub live: Live,
    /// Base of self links, without a trailing slash.
    pub public_url: String,
    /// Rendered feeds, cached until the store changes.
    pub outputs: Arc<Outputs>,
}

/// What a reload of `feeds.toml` changes under a running server besides the topics (which
/// `Outputs` holds): why the last edit was refused (shown on `/`). Clones share the value.
#[derive(Clone, Default)]
pub struct Live {
    config_error: Arc<RwLock<Option<String>>>,
}

impl Live {
    pub fn new() -> Live {
        Live::default()
    }

    /// Why the last edit of `feeds.toml` was refused, while the file stays broken.
    pub fn config_error(&self) -> Option<String> {
        match self.config_error.read() {
            Ok(error) => error.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_config_error(&self, error: Option<String>) {
        match self.config_error.write() {
            Ok(mut current) => *current = error,
            Err(poisoned) => *poisoned.into_inner() = error,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        match self {
            ServeError::NotFound => (StatusCode::NOT_FOUND, "not found\n").into_response(),
            ServeError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
            }
            ServeError::Internal(detail) => {
                error!(error = %detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    // The feeds carry their own compressed copies (made once per change, not per request):
    // only the other pages go through the compression layer.
    let pages = Router::new()
        .route("/", get(index::index))
        .route("/opml", get(opml::opml))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .layer(CompressionLayer::new());
    Router::new()
        .route("/feeds/{file}", get(feeds::feed))
        .merge(pages)
        .layer(axum::middleware::from_fn(metrics::count))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` is cancelled; requests in flight
/// are allowed to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(error)) => {
            error!(error = %error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
        Err(error) => ServeError::Internal(error.to_string()).into_response(),
    }
}

/// Runs blocking store and rendering work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ServeError> + Send + 'static,
) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ServeError::Internal(error.to_string()))?
}

#[cfg(test)]
mod tests;
