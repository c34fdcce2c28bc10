//! A local HTTP server on 127.0.0.1 that serves fixture documents, answers conditional GETs
//! with 304 when the client sends the current ETag, and measures what it receives: requests
//! per path with their times and headers, and the peak of connections open at once. Fixtures
//! can add headers (redirects, Retry-After), answer slowly, or trickle their body. Tests change
//! what it serves while the daemon runs.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What one path answers.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Send an ETag and honour `If-None-Match`.
    pub etag: bool,
    /// Extra response headers (`Location`, `Retry-After`, `Content-Encoding`...).
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Send the body one byte per second.
    pub trickle: bool,
}

impl Fixture {
    pub fn rss(body: impl Into<String>) -> Fixture {
        Fixture {
            status: StatusCode::OK,
            content_type: "application/rss+xml; charset=utf-8".into(),
            body: body.into().into_bytes(),
            etag: true,
            headers: Vec::new(),
            delay: Duration::ZERO,
            trickle: false,
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
            headers: Vec::new(),
            delay: Duration::ZERO,
            trickle: false,
        }
    }

    /// A redirect to `location` with the given status (301, 302, 307, 308...).
    pub fn redirect(status: u16, location: &str) -> Fixture {
        Fixture::raw(status, "text/plain", "moved").with_header("location", location)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Fixture {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

#[derive(Default)]
struct Shared {
    fixtures: HashMap<String, Fixture>,
    /// path → (requests, of which answered 304)
    counts: HashMap<String, (usize, usize)>,
    /// `If-None-Match` values received, per path.
    validators_seen: HashMap<String, Vec<String>>,
    /// When each request arrived, per path.
    times: HashMap<String, Vec<Instant>>,
    /// The headers of the last request, per path.
    last_headers: HashMap<String, HeaderMap>,
}

/// Counts the connections open at once, their peak, and every connection accepted.
#[derive(Default)]
struct Connections {
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicUsize,
}

struct CountingListener {
    inner: TcpListener,
    connections: Arc<Connections>,
}

/// A connection that counts itself open until it is dropped.
struct CountedStream {
    stream: TcpStream,
    connections: Arc<Connections>,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.connections.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl axum::serve::Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((stream, address)) = self.inner.accept().await {
                self.connections.accepted.fetch_add(1, Ordering::SeqCst);
                let open = self.connections.open.fetch_add(1, Ordering::SeqCst) + 1;
                self.connections.peak.fetch_max(open, Ordering::SeqCst);
                let connections = Arc::clone(&self.connections);
                return (
                    CountedStream {
                        stream,
                        connections,
                    },
                    address,
                );
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(context, buffer)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(context, buffer)
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(context)
    }
}

pub struct FixtureServer {
    pub address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    connections: Arc<Connections>,
    task: JoinHandle<()>,
}

impl FixtureServer {
    pub async fn start() -> FixtureServer {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = inner.local_addr().unwrap();
        let connections = Arc::new(Connections::default());
        let listener = CountingListener {
            inner,
            connections: Arc::clone(&connections),
        };
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FixtureServer {
            address,
            shared,
            connections,
            task,
        }
    }

    /// The most connections that were open at the same time.
    pub fn peak_connections(&self) -> usize {
        self.connections.peak.load(Ordering::SeqCst)
    }

    /// How many connections were accepted in all.
    pub fn connections_accepted(&self) -> usize {
        self.connections.accepted.load(Ordering::SeqCst)
    }

    /// When each request for `path` arrived.
    pub fn request_times(&self, path: &str) -> Vec<Instant> {
        self.shared
            .lock()
            .unwrap()
            .times
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// The headers of the last request for `path`.
    pub fn last_headers(&self, path: &str) -> Option<HeaderMap> {
        self.shared.lock().unwrap().last_headers.get(path).cloned()
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
    let fixture = {
        let mut shared = shared.lock().unwrap();
        shared
            .times
            .entry(path.clone())
            .or_default()
            .push(Instant::now());
        shared.last_headers.insert(path.clone(), headers.clone());
        shared.counts.entry(path.clone()).or_default().0 += 1;
        let fixture = shared.fixtures.get(&path).cloned();
        if let Some(value) = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
        {
            shared
                .validators_seen
                .entry(path.clone())
                .or_default()
                .push(value.to_string());
        }
        fixture
    };
    let Some(fixture) = fixture else {
        return (StatusCode::NOT_FOUND, "no such fixture").into_response();
    };
    if !fixture.delay.is_zero() {
        tokio::time::sleep(fixture.delay).await;
    }
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, fixture.content_type.parse().unwrap());
    for (name, value) in &fixture.headers {
        response_headers.insert(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    if fixture.etag {
        let etag = etag_of(&fixture.body);
        let matches = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            == Some(etag.as_str());
        response_headers.insert(header::ETAG, etag.parse().unwrap());
        if matches {
            shared.lock().unwrap().counts.entry(path).or_default().1 += 1;
            response_headers.remove(header::CONTENT_TYPE);
            return (StatusCode::NOT_MODIFIED, response_headers).into_response();
        }
    }
    if fixture.trickle {
        let bytes = fixture.body.clone();
        let stream = futures_util::stream::unfold(0usize, move |index| {
            let bytes = bytes.clone();
            async move {
                if index >= bytes.len() {
                    return None;
                }
                if index > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let chunk = axum::body::Bytes::copy_from_slice(&bytes[index..=index]);
                Some((Ok::<_, std::convert::Infallible>(chunk), index + 1))
            }
        });
        return (fixture.status, response_headers, Body::from_stream(stream)).into_response();
    }
    (fixture.status, response_headers, fixture.body).into_response()
}
