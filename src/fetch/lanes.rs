//! The connections of feed polls: at most `per_host` open to one host at any instant, by
//! construction, and reused from one request to the next.
//!
//! Each host has `per_host` lanes. A lane holds at most one HTTP/1.1 connection (hyper's
//! connection API, over hyper-util's TCP connector and rustls) and serves one request at a
//! time; a request waits for a free lane of its host. A lane opens a new connection only once
//! its old one is known to be closed: the task that owned the socket has finished (and dropped
//! it). A connection goes back to its lane only when its response was read to the end, and
//! the next request on the lane first waits for `SendRequest::ready`, hyper's own signal that
//! the connection can carry another request. A request that is dropped halfway (an error, the
//! body cap, the total timeout) aborts its connection's task, and the lane's next user waits
//! for that task to end before it connects.
//!
//! reqwest cannot give this bound: its pool takes a finished connection back from another task
//! a few wake-ups after the response ends, and a request that starts before then opens a new
//! connection; its connector layers can neither see the destination nor outlive a connection
//! (docs/PERFORMANCE.md). reqwest stays the client of everything else (WebSub hubs, tests).
//!
//! `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` are read as curl reads them: a plain
//! HTTP request goes to the proxy with its whole URL, an HTTPS one through a `CONNECT` tunnel.
//! Happy Eyeballs (a second, parallel connection attempt to the other address family) is off,
//! since it can open two connections for one; HTTP/2 is not offered (a lane is one HTTP/1.1
//! connection, which is all a feed poll needs).

use std::collections::HashMap;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HOST, HeaderMap, HeaderValue, PROXY_AUTHORIZATION};
use hyper::{Request, Response, Uri};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tower_service::Service;
use url::Url;

use super::{FetchError, error_chain};

/// An idle connection is closed after this long; servers usually close theirs sooner.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A response body of a redirect or an error is read to its end, so its connection can serve
/// the next request, when it is no longer than this; a longer one closes the connection.
const DRAIN_LIMIT: usize = 64 * 1024;

/// How long a body nobody needs is waited for before its connection is closed instead.
const DRAIN_WAIT: Duration = Duration::from_millis(500);

/// The lanes of every host a poll has asked.
pub struct Lanes {
    connector: HttpsConnector<HttpConnector>,
    /// For tunnels through a proxy (`CONNECT`), which TLS then runs inside.
    tcp: HttpConnector,
    tls: Arc<rustls::ClientConfig>,
    /// `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`, as curl reads them.
    proxies: Matcher,
    connect_timeout: Duration,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

/// One host's lanes: `free` has a permit for each lane in `lanes`, so a request that holds a
/// permit always finds a lane there.
struct Host {
    free: Arc<Semaphore>,
    lanes: Mutex<Vec<Lane>>,
}

#[derive(Default)]
enum Lane {
    /// No connection.
    #[default]
    Empty,
    /// A connection at rest between two requests, or serving the request of the lane's
    /// holder.
    Open(Connection),
    /// A connection whose task was aborted and may still hold its socket.
    Closing(JoinHandle<()>),
}

struct Connection {
    sender: SendRequest<Empty<Bytes>>,
    /// Drives the connection and owns its socket: once it has ended, the socket is closed.
    task: JoinHandle<()>,
    /// Closes the connection when it has been idle for `IDLE_TIMEOUT`.
    reaper: Option<JoinHandle<()>>,
}

impl Lane {
    /// Waits until the lane holds no socket, or an open connection ready for a request;
    /// returns whether it holds one.
    async fn settle(&mut self) -> bool {
        if let Lane::Open(connection) = self {
            if let Some(reaper) = connection.reaper.take() {
                reaper.abort();
            }
            if connection.sender.ready().await.is_err() {
                self.close();
            }
        }
        if let Lane::Closing(task) = self {
            // An aborted or finished task: this returns at once or nearly so.
            let _ = task.await;
            *self = Lane::Empty;
        }
        matches!(self, Lane::Open(_))
    }

    async fn send(
        &mut self,
        request: Request<Empty<Bytes>>,
    ) -> Result<Response<Incoming>, FetchError> {
        let Lane::Open(connection) = self else {
            return Err(FetchError::Client("no connection to send on".into()));
        };
        connection
            .sender
            .send_request(request)
            .await
            .map_err(|error| FetchError::Http(error_chain(&error)))
    }

    /// Aborts the lane's connection; `settle` waits for its end.
    fn close(&mut self) {
        if let Lane::Open(connection) = std::mem::take(self) {
            connection.task.abort();
            if let Some(reaper) = connection.reaper {
                reaper.abort();
            }
            *self = Lane::Closing(connection.task);
        }
    }

    /// Puts a connection at rest: it is closed if nobody uses it for `IDLE_TIMEOUT`.
    fn rest(&mut self) {
        if let Lane::Open(connection) = self
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let task = connection.task.abort_handle();
            connection.reaper = Some(runtime.spawn(async move {
                tokio::time::sleep(IDLE_TIMEOUT).await;
                task.abort();
            }));
        }
    }
}

/// A lane taken by one request; it goes back to its host when dropped.
pub struct Held {
    host: Arc<Host>,
    lane: Lane,
    /// Whether the lane's connection sits between two messages (its last response was read to
    /// the end), so the next request may use it.
    at_rest: bool,
    /// Dropped after the lane is back.
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut lane = std::mem::take(&mut self.lane);
        if self.at_rest {
            lane.rest();
        } else {
            lane.close();
        }
        self.host
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(lane);
        // Only now may the next request take a lane of this host.
        drop(self.permit.take());
    }
}

/// A response whose body is still to be read, with the lane it came on.
pub struct Exchange {
    pub response: Response<Incoming>,
    held: Held,
}

impl Exchange {
    /// Reads what is left of the body, up to `DRAIN_LIMIT` bytes; when that reaches its end,
    /// the connection can serve the next request.
    pub async fn drain(&mut self) {
        if self.response.body().is_end_stream() {
            self.held.at_rest = true;
            return;
        }
        let mut read = 0usize;
        loop {
            match self.response.body_mut().frame().await {
                None => break,
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, Bytes::len);
                    if read > DRAIN_LIMIT {
                        return;
                    }
                }
                Some(Err(_)) => return,
            }
        }
        self.held.at_rest = true;
    }

    /// Forgets the response (a redirect, a 304, an error), keeping its connection when the
    /// rest of its body is short and comes at once; a slow one is not waited for.
    pub async fn discard(mut self) {
        let _ = tokio::time::timeout(DRAIN_WAIT, self.drain()).await;
    }
}

impl Lanes {
    /// Lanes for `per_host` connections to each host, HTTP and HTTPS (rustls, the Mozilla
    /// roots of webpki-roots).
    pub fn new(per_host: usize, connect_timeout: Duration) -> Result<Lanes, FetchError> {
        Lanes::with_proxies(per_host, connect_timeout, Matcher::from_env())
    }

    fn with_proxies(
        per_host: usize,
        connect_timeout: Duration,
        proxies: Matcher,
    ) -> Result<Lanes, FetchError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| FetchError::Client(error.to_string()))?
            .with_webpki_roots()
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_happy_eyeballs_timeout(None);
        let tls = Arc::new(tls);
        Ok(Lanes {
            connector: HttpsConnector::from((tcp.clone(), Arc::clone(&tls))),
            tcp,
            tls,
            proxies,
            connect_timeout,
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        })
    }

    fn host(&self, key: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(hosts.entry(key.to_string()).or_insert_with(|| {
            Arc::new(Host {
                free: Arc::new(Semaphore::new(self.per_host)),
                lanes: Mutex::new((0..self.per_host).map(|_| Lane::Empty).collect()),
            })
        }))
    }

    /// Sends a GET for `url` with `headers` on a lane of its host, and returns the response
    /// with its body unread.
    pub async fn get(&self, url: &Url, headers: &HeaderMap) -> Result<Exchange, FetchError> {
        let target = Target::of(url)?;
        let proxy = self.proxies.intercept(&target.origin);
        let host = self.host(&target.key);
        let permit = Arc::clone(&host.free)
            .acquire_owned()
            .await
            .map_err(|error| FetchError::Client(error.to_string()))?;
        let lane = host
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let mut held = Held {
            host,
            lane,
            at_rest: false,
            permit: Some(permit),
        };
        let reused = held.lane.settle().await;
        if !reused {
            held.lane = Lane::Open(self.connect(&target, proxy.as_ref()).await?);
        }
        let response = match held
            .lane
            .send(target.request(headers, proxy.as_ref())?)
            .await
        {
            Ok(response) => response,
            // A connection at rest may have been closed by the server just now: a GET is
            // safe to send again, on a new connection.
            Err(_) if reused => {
                held.lane.close();
                held.lane.settle().await;
                held.lane = Lane::Open(self.connect(&target, proxy.as_ref()).await?);
                held.lane
                    .send(target.request(headers, proxy.as_ref())?)
                    .await?
            }
            Err(error) => return Err(error),
        };
        Ok(Exchange { response, held })
    }

    /// Connects to `target`: directly, to its `proxy` (plain HTTP, whose requests then name
    /// their whole URL), or through a tunnel the proxy opens (HTTPS, TLS inside the tunnel).
    async fn connect(
        &self,
        target: &Target,
        proxy: Option<&Intercept>,
    ) -> Result<Connection, FetchError> {
        let connecting = async {
            match proxy {
                None => connect_with(self.connector.clone(), target.origin.clone()).await,
                Some(proxy) if target.origin.scheme_str() == Some("http") => {
                    connect_with(self.connector.clone(), proxy.uri().clone()).await
                }
                Some(proxy) => {
                    let mut tunnel = Tunnel::new(proxy.uri().clone(), self.tcp.clone());
                    if let Some(auth) = proxy.basic_auth() {
                        tunnel = tunnel.with_auth(auth.clone());
                    }
                    let connector = HttpsConnector::from((tunnel, Arc::clone(&self.tls)));
                    connect_with(connector, target.origin.clone()).await
                }
            }
        };
        let io = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|error| FetchError::Connect(error_chain(&*error)))?;
        let (sender, connection) = http1::handshake(io)
            .await
            .map_err(|error| FetchError::Connect(error_chain(&error)))?;
        let task = tokio::spawn(async move {
            // Its errors reach the request or the body that was being read.
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            task,
            reaper: None,
        })
    }
}

async fn connect_with<C>(mut connector: C, uri: Uri) -> Result<C::Response, BoxError>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
{
    poll_fn(|context| connector.poll_ready(context))
        .await
        .map_err(Into::into)?;
    connector.call(uri).await.map_err(Into::into)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a request goes: the lane key (host and port), the origin to connect to, and the
/// request line and `Host` header.
struct Target {
    key: String,
    origin: Uri,
    /// The whole URL without its fragment: the request target when a proxy is asked.
    absolute: String,
    path_and_query: String,
    host_header: HeaderValue,
}

impl Target {
    fn of(url: &Url) -> Result<Target, FetchError> {
        let bad = |reason: &str| FetchError::Http(format!("{url}: {reason}"));
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let origin = format!("{}://{host}:{port}/", url.scheme())
            .parse()
            .map_err(|_| bad("not a valid URI"))?;
        Ok(Target {
            key: format!("{host}:{port}"),
            origin,
            absolute: url[..url::Position::AfterQuery].to_string(),
            path_and_query: url[url::Position::BeforePath..url::Position::AfterQuery].to_string(),
            host_header: HeaderValue::from_str(&authority).map_err(|_| bad("bad host"))?,
        })
    }

    fn request(
        &self,
        headers: &HeaderMap,
        proxy: Option<&Intercept>,
    ) -> Result<Request<Empty<Bytes>>, FetchError> {
        // A plain HTTP proxy is sent the whole URL; a tunnel carries the usual request.
        let plain_proxy = proxy.filter(|_| self.origin.scheme_str() == Some("http"));
        let line = match plain_proxy {
            Some(_) => self.absolute.as_str(),
            None => self.path_and_query.as_str(),
        };
        let mut request = Request::get(line)
            .body(Empty::new())
            .map_err(|error| FetchError::Http(error.to_string()))?;
        *request.headers_mut() = headers.clone();
        request.headers_mut().insert(HOST, self.host_header.clone());
        if let Some(auth) = plain_proxy.and_then(Intercept::basic_auth) {
            request
                .headers_mut()
                .insert(PROXY_AUTHORIZATION, auth.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What a raw test server saw: connections accepted, open now, and the peak open.
    #[derive(Default)]
    struct Seen {
        accepted: AtomicUsize,
        open: AtomicUsize,
        peak: AtomicUsize,
    }

    /// A bare HTTP/1.1 server on 127.0.0.1 that answers every request with a two-byte body,
    /// keeping the connection open unless `close_after_each` (then it closes it without
    /// saying so, as a server whose keep-alive timer ran out does).
    async fn serve(close_after_each: bool) -> (Url, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/feed.xml",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let seen = Arc::new(Seen::default());
        let counting = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                counting.accepted.fetch_add(1, Ordering::SeqCst);
                let open = counting.open.fetch_add(1, Ordering::SeqCst) + 1;
                counting.peak.fetch_max(open, Ordering::SeqCst);
                let counting = Arc::clone(&counting);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while let Ok(read) = stream.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        request.extend_from_slice(&buffer[..read]);
                        if request.windows(4).any(|window| window == b"\r\n\r\n") {
                            request.clear();
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() || close_after_each {
                                break;
                            }
                        }
                    }
                    counting.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (url, seen)
    }

    async fn get_ok(lanes: &Lanes, url: &Url) {
        let mut exchange = lanes.get(url, &HeaderMap::new()).await.unwrap();
        assert_eq!(exchange.response.status(), 200);
        exchange.drain().await;
        assert!(exchange.held.at_rest);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_requests_at_once_share_per_host_connections() {
        let (url, seen) = serve(false).await;
        let lanes = Arc::new(Lanes::new(2, Duration::from_secs(5)).unwrap());
        for _ in 0..3 {
            let requests: Vec<_> = (0..100)
                .map(|_| {
                    let lanes = Arc::clone(&lanes);
                    let url = url.clone();
                    tokio::spawn(async move { get_ok(&lanes, &url).await })
                })
                .collect();
            for request in requests {
                request.await.unwrap();
            }
        }
        assert!(seen.peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2, "not reused");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_the_server_closed_is_replaced_not_added_to() {
        let (url, seen) = serve(true).await;
        let lanes = Lanes::new(1, Duration::from_secs(5)).unwrap();
        for _ in 0..20 {
            get_ok(&lanes, &url).await;
        }
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 20);
        assert_eq!(seen.peak.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_whose_response_was_left_unread_is_not_reused() {
        let (url, seen) = serve(false).await;
        let lanes = Lanes::new(1, Duration::from_secs(5)).unwrap();
        for _ in 0..10 {
            // Dropped with its body unread: the connection cannot be reused.
            drop(lanes.get(&url, &HeaderMap::new()).await.unwrap());
        }
        get_ok(&lanes, &url).await;
        get_ok(&lanes, &url).await;
        // (The server may count a closed connection a moment longer: its peak says nothing
        // here.)
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 11);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn https_speaks_tls_and_a_server_that_does_not_is_a_connect_error() {
        // A plain HTTP server that answers as soon as anything arrives.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let lanes = Lanes::new(1, Duration::from_secs(5)).unwrap();
        let url = Url::parse(&format!("https://{address}/feed.xml")).unwrap();
        match lanes.get(&url, &HeaderMap::new()).await {
            Err(FetchError::Connect(message)) => assert!(!message.is_empty()),
            Err(other) => panic!("not a connect error: {other}"),
            Ok(exchange) => panic!("HTTPS over plain HTTP: {}", exchange.response.status()),
        }
        // The failed connection left the one lane free.
        let url = Url::parse(&format!("http://{address}/feed.xml")).unwrap();
        let exchange = lanes.get(&url, &HeaderMap::new()).await.unwrap();
        assert_eq!(exchange.response.status(), 400);
    }

    /// A server that records the head of each request it gets, answers `answer`, and answers
    /// whatever comes next (a TLS hello, inside a tunnel) with bytes that are not TLS.
    async fn recording(answer: &'static [u8]) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    recorded
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let _ = stream.write_all(answer).await;
                    if matches!(stream.read(&mut buffer).await, Ok(read) if read > 0) {
                        let _ = stream.write_all(b"not TLS at all\r\n\r\n").await;
                    }
                });
            }
        });
        (address, heads)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_proxy_is_sent_the_whole_url_and_https_goes_through_a_tunnel() {
        let (proxy, heads) = recording(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        let proxies = Matcher::builder().http(proxy.clone()).build();
        let lanes = Lanes::with_proxies(2, Duration::from_secs(5), proxies).unwrap();
        let url = Url::parse("http://feeds.example.invalid/feed.xml?page=1#top").unwrap();
        get_ok(&lanes, &url).await;
        let head = heads.lock().unwrap()[0].to_ascii_lowercase();
        assert!(
            head.starts_with("get http://feeds.example.invalid/feed.xml?page=1 http/1.1\r\n")
                && head.contains("\r\nhost: feeds.example.invalid\r\n"),
            "{head}"
        );

        let (proxy, heads) = recording(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
        let proxies = Matcher::builder().https(proxy).build();
        let lanes = Lanes::with_proxies(2, Duration::from_secs(5), proxies).unwrap();
        let url = Url::parse("https://feeds.example.invalid/feed.xml").unwrap();
        // The tunnel opens; the TLS handshake inside it meets a server that is not one.
        let result = lanes.get(&url, &HeaderMap::new()).await;
        assert!(matches!(result, Err(FetchError::Connect(_))));
        let head = heads.lock().unwrap()[0].to_ascii_lowercase();
        assert!(
            head.starts_with("connect feeds.example.invalid:443 http/1.1\r\n"),
            "{head}"
        );
    }

    #[test]
    fn targets_keep_the_port_out_of_the_host_header_when_it_is_the_default() {
        let target = Target::of(&Url::parse("https://Example.org/feed?x=1#top").unwrap()).unwrap();
        assert_eq!(target.key, "example.org:443");
        assert_eq!(target.origin.to_string(), "https://example.org:443/");
        assert_eq!(target.path_and_query, "/feed?x=1");
        assert_eq!(target.host_header, "example.org");
        let target = Target::of(&Url::parse("http://127.0.0.1:8800/a.xml").unwrap()).unwrap();
        assert_eq!(target.key, "127.0.0.1:8800");
        assert_eq!(target.host_header, "127.0.0.1:8800");
        let target = Target::of(&Url::parse("http://[::1]:8080/").unwrap()).unwrap();
        assert_eq!(target.key, "[::1]:8080");
        assert_eq!(target.path_and_query, "/");
    }
}
