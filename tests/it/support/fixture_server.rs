//! A local HTTP server on 127.0.0.1 that serves fixture documents, answers conditional GETs
//! with 304 when the client sends the current ETag, and counts the requests it receives.
//! Tests change what it serves while the daemon runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What one path answers.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Send an ETag and honour `If-None-Match`.
    pub etag: bool,
}

impl Fixture {
    pub fn rss(body: impl Into<String>) -> Fixture {
        Fixture {
            status: StatusCode::OK,
            content_type: "application/rss+xml; charset=utf-8".into(),
            body: body.into().into_bytes(),
            etag: true,
        }
    }

    pub fn atom(body: impl Into<String>) -> Fixture {
        Fixture {
            content_type: "application/atom+xml; charset=utf-8".into(),
            ..Fixture::rss(body)
        }
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Fixture {
        Fixture {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: content_type.into(),
            body: body.into(),
            etag: false,
        }
    }
}

#[derive(Default)]
struct Shared {
    fixtures: HashMap<String, Fixture>,
    /// path → (requests, of which answered 304)
    counts: HashMap<String, (usize, usize)>,
    /// `If-None-Match` values received, per path.
    validators_seen: HashMap<String, Vec<String>>,
}

pub struct FixtureServer {
    pub address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

impl FixtureServer {
    pub async fn start() -> FixtureServer {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FixtureServer {
            address,
            shared,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn set(&self, path: &str, fixture: Fixture) {
        self.shared
            .lock()
            .unwrap()
            .fixtures
            .insert(path.to_string(), fixture);
    }

    /// Requests received for `path` so far, and how many of them were answered 304.
    pub fn counts(&self, path: &str) -> (usize, usize) {
        self.shared
            .lock()
            .unwrap()
            .counts
            .get(path)
            .copied()
            .unwrap_or_default()
    }

    pub fn validators_seen(&self, path: &str) -> Vec<String> {
        self.shared
            .lock()
            .unwrap()
            .validators_seen
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(body))[..16])
}

async fn answer(State(shared): State<Arc<Mutex<Shared>>>, request: Request<Body>) -> Response {
    let path = request.uri().path().to_string();
    let headers: HeaderMap = request.headers().clone();
    let mut shared = shared.lock().unwrap();
    let Some(fixture) = shared.fixtures.get(&path).cloned() else {
        shared.counts.entry(path).or_default().0 += 1;
        return (StatusCode::NOT_FOUND, "no such fixture").into_response();
    };
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    if let Some(value) = &if_none_match {
        shared
            .validators_seen
            .entry(path.clone())
            .or_default()
            .push(value.clone());
    }
    let counts = shared.counts.entry(path).or_default();
    counts.0 += 1;
    if fixture.etag {
        let etag = etag_of(&fixture.body);
        if if_none_match.as_deref() == Some(etag.as_str()) {
            counts.1 += 1;
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        return (
            fixture.status,
            [
                (header::CONTENT_TYPE, fixture.content_type),
                (header::ETAG, etag),
            ],
            fixture.body,
        )
            .into_response();
    }
    (
        fixture.status,
        [(header::CONTENT_TYPE, fixture.content_type)],
        fixture.body,
    )
        .into_response()
}
