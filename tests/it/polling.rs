//! Polite, robust polling, checked against local servers that count and time what they
//! receive: conditional GET, Retry-After, backoff, per-host limits, redirects, 410, body caps
//! and slow servers. Intervals are milliseconds; nothing sleeps long.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::support::{Fixture, FixtureServer, Workspace, rss, wait_for};

fn item(guid: &str, title: &str) -> String {
    format!("<guid>{guid}</guid><title>{title}</title><link>https://example.test/{guid}</link>")
}

/// A config of `feeds` (name, url), polled every `interval`, with `settings` added.
fn config(feeds: &[(impl AsRef<str>, String)], interval: &str, settings: &str) -> String {
    let mut text = format!(
        "[settings]\ninterval = \"{interval}\"\nmin_interval = \"100ms\"\ntimeout = \"5s\"\n{settings}\n"
    );
    for (name, url) in feeds {
        let name = name.as_ref();
        text.push_str(&format!("[[feeds]]\nurl = \"{url}\"\nname = \"{name}\"\n"));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_feed_costs_a_304_and_no_parse() {
    let server = FixtureServer::start().await;
    server.set("/etag.xml", Fixture::rss(rss("E", &[item("1", "one")])));
    let mut bare = Fixture::rss(rss("B", &[item("1", "one")]));
    bare.etag = false;
    server.set("/bare.xml", bare);
    let workspace = Workspace::new(&config(
        &[
            ("E", server.url("/etag.xml")),
            ("B", server.url("/bare.xml")),
        ],
        "1m",
        "",
    ));
    let first = workspace.poll().await;
    assert!(first.contains("E: 1 new"), "{first}");
    assert!(first.contains("B: 1 new"), "{first}");
    let second = workspace.poll().await;
    assert!(second.contains("E: not modified"), "{second}");
    assert!(second.contains("B: unchanged (same document)"), "{second}");
    assert_eq!(server.counts("/etag.xml"), (2, 1));
    assert_eq!(server.validators_seen("/etag.xml").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_name_tidings_and_accept_feeds_compressed() {
    let server = FixtureServer::start().await;
    server.set("/feed.xml", Fixture::rss(rss("F", &[item("1", "one")])));
    let workspace = Workspace::new(&config(&[("F", server.url("/feed.xml"))], "1m", ""));
    workspace.poll().await;
    let headers = server.last_headers("/feed.xml").unwrap();
    let user_agent = headers["user-agent"].to_str().unwrap();
    assert!(
        user_agent.starts_with(&format!("tidings/{}", env!("CARGO_PKG_VERSION")))
            && user_agent.contains(env!("CARGO_PKG_REPOSITORY")),
        "{user_agent}"
    );
    let accept = headers["accept"].to_str().unwrap();
    for media_type in [
        "application/atom+xml",
        "application/rss+xml",
        "application/feed+json",
    ] {
        assert!(accept.contains(media_type), "{accept}");
    }
    let encodings = headers["accept-encoding"].to_str().unwrap();
    for encoding in ["gzip", "br", "deflate"] {
        assert!(encodings.contains(encoding), "{encodings}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_holds_every_request_back() {
    let server = FixtureServer::start().await;
    server.set(
        "/busy.xml",
        Fixture::raw(503, "text/plain", "busy").with_header("retry-after", "120"),
    );
    let workspace = Workspace::new(&config(&[("Busy", server.url("/busy.xml"))], "200ms", ""));
    let before = chrono::Utc::now();
    let first = workspace.poll().await;
    assert!(
        first.contains("Busy: failed: fetch failed: HTTP 503"),
        "{first}"
    );
    // `poll` does not override the server's wish.
    let second = workspace.poll().await;
    assert!(
        second.contains("Busy: skipped: under the server's Retry-After"),
        "{second}"
    );
    assert_eq!(server.counts("/busy.xml").0, 1);
    let rows = workspace.status().await;
    let next_poll: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(rows[0]["next_poll"].clone()).unwrap();
    assert!(
        next_poll >= before + chrono::Duration::seconds(119),
        "{next_poll}"
    );
    assert_eq!(rows[0]["next_poll_reason"], "server's Retry-After");

    // The daemon, whose interval is 200 ms, does not ask again either.
    let daemon = workspace.start_daemon().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        server.counts("/busy.xml").0,
        1,
        "a request came before Retry-After ended"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_grows_is_capped_and_resets_on_success() {
    let server = FixtureServer::start().await;
    server.set("/flaky.xml", Fixture::raw(500, "text/plain", "down"));
    let workspace = Workspace::new(&config(
        &[("Flaky", server.url("/flaky.xml"))],
        "200ms",
        "max_interval = \"800ms\"",
    ));
    let daemon = workspace.start_daemon().await;
    let failing = wait_for(Duration::from_secs(20), || async {
        (server.request_times("/flaky.xml").len() >= 6).then_some(())
    })
    .await;
    assert!(
        failing.is_some(),
        "the failing feed was not retried; log:\n{}",
        daemon.log_text()
    );
    server.set(
        "/flaky.xml",
        Fixture::rss(rss("Flaky", &[item("1", "back")])),
    );
    let recovered_at = Instant::now();
    let recovered = wait_for(Duration::from_secs(20), || async {
        let times = server.request_times("/flaky.xml");
        (times.iter().filter(|time| **time > recovered_at).count() >= 3).then_some(times)
    })
    .await
    .expect("the feed was not polled after it recovered");
    assert_eq!(daemon.terminate().await.code(), Some(0));

    let gaps: Vec<u128> = recovered
        .windows(2)
        .map(|pair| pair[1].duration_since(pair[0]).as_millis())
        .collect();
    // Failures: about 200, 400, 800, then capped at 800 (+10 % jitter, + poll time).
    assert!(gaps[1] > gaps[0] * 3 / 2, "{gaps:?}");
    assert!(gaps[2] > gaps[1] * 3 / 2, "{gaps:?}");
    // Capped: without the cap these two gaps would be about 1,600 and 3,200 ms. One of them
    // may be stretched by a busy machine, so the cap shows in the shorter one, and neither
    // comes near the uncapped growth.
    let capped = &gaps[3..5];
    assert!(
        capped.iter().all(|gap| (700..2400).contains(gap)) && capped.iter().any(|gap| *gap < 1300),
        "not capped: {gaps:?}"
    );
    // After the first success the feed is back to its interval (200 ms, where backoff would
    // have kept it at 800 ms). The smallest of the last two gaps is taken, so one poll
    // delayed by a busy test machine does not decide.
    let after_success = gaps[gaps.len() - 2..].iter().min().unwrap();
    assert!(*after_success < 500, "no reset after success: {gaps:?}");
}

/// `count` feeds of one item each on `server`, answered after `delay`; their names and URLs.
fn feeds_on_one_host(
    server: &FixtureServer,
    count: usize,
    delay: Duration,
) -> Vec<(String, String)> {
    (0..count)
        .map(|index| {
            let path = format!("/one-host/{index}.xml");
            let mut fixture = Fixture::rss(rss("One host", &[item(&index.to_string(), "one")]));
            fixture.delay = delay;
            server.set(&path, fixture);
            (format!("Feed {index}"), server.url(&path))
        })
        .collect()
}

#[track_caller]
fn assert_at_most_two_connections(server: &FixtureServer) {
    let peak = server.peak_connections();
    assert!(
        (1..=2).contains(&peak),
        "peak connections to one host: {peak}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_never_sees_more_than_two_connections() {
    let server = FixtureServer::start().await;
    let feeds = feeds_on_one_host(&server, 20, Duration::from_millis(150));
    let workspace = Workspace::new(&config(&feeds, "1m", "concurrency = 16"));
    let output = workspace.poll().await;
    assert_eq!(output.matches(": 1 new").count(), 20, "{output}");
    assert_at_most_two_connections(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_fast_feeds_on_one_host_reuse_two_connections_and_never_open_a_third() {
    // 200 feeds with tiny bodies, all due at once: every response ends moments before the next
    // request to the host starts, which is where a request could race the previous
    // connection's way back to a pool and open a third connection beside it. The server
    // counts the TCP connections it has open, not the requests.
    const FEEDS: usize = 200;
    const ROUNDS: usize = 3;
    let server = FixtureServer::start().await;
    let feeds = feeds_on_one_host(&server, FEEDS, Duration::ZERO);
    let workspace = Workspace::new(&config(&feeds, "1m", "concurrency = 32"));
    for round in 1..=ROUNDS {
        let output = workspace.poll().await;
        let answered = output
            .lines()
            .filter(|line| line.contains(": 1 new,") || line.ends_with(": not modified"))
            .count();
        assert_eq!(answered, FEEDS, "round {round}: {output}");
        let peak = server.peak_connections();
        assert!(
            peak <= 2,
            "round {round}: the host saw {peak} connections open at once (bound 2)"
        );
    }
    let requests: usize = (0..FEEDS)
        .map(|index| server.counts(&format!("/one-host/{index}.xml")).0)
        .sum();
    assert_eq!(requests, FEEDS * ROUNDS);
    // Each `tidings poll` is a process of its own and opens its connections anew: two per
    // round when they are reused, up to one per request when they are not.
    let accepted = server.connections_accepted();
    assert!(
        (1..=2 * ROUNDS).contains(&accepted),
        "{accepted} connections for {requests} requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_301_moves_the_feed_after_three_polls_and_a_302_never_does() {
    let server = FixtureServer::start().await;
    server.set("/old.xml", Fixture::redirect(301, "/new.xml"));
    server.set("/new.xml", Fixture::rss(rss("New", &[item("1", "moved")])));
    server.set("/temp.xml", Fixture::redirect(302, "/target.xml"));
    server.set(
        "/target.xml",
        Fixture::rss(rss("Target", &[item("2", "temporary")])),
    );
    let workspace = Workspace::new(&config(
        &[
            ("Moved", server.url("/old.xml")),
            ("Temporary", server.url("/temp.xml")),
        ],
        "1m",
        "",
    ));
    for round in 1..=3 {
        let output = workspace.poll().await;
        assert!(!output.contains("failed"), "round {round}: {output}");
    }
    let rows = workspace.status().await;
    let moved = rows.iter().find(|row| row["name"] == "Moved").unwrap();
    assert_eq!(moved["moved_to"], server.url("/new.xml"));
    assert_eq!(
        moved["url"],
        server.url("/old.xml"),
        "the configured URL is kept"
    );
    let temporary = rows.iter().find(|row| row["name"] == "Temporary").unwrap();
    assert!(temporary["moved_to"].is_null(), "{temporary}");

    workspace.poll().await;
    assert_eq!(
        server.counts("/old.xml").0,
        3,
        "the moved feed still asks its old URL"
    );
    assert_eq!(server.counts("/new.xml").0, 4);
    assert_eq!(server.counts("/temp.xml").0, 4);

    let table = workspace.command(&["status"]).await;
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("moved permanently to") && table.contains("update its url in feeds.toml"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loops_and_long_chains_are_errors() {
    let server = FixtureServer::start().await;
    server.set("/a.xml", Fixture::redirect(301, "/b.xml"));
    server.set("/b.xml", Fixture::redirect(302, "/a.xml"));
    for hop in 1..=6 {
        server.set(
            &format!("/hop{hop}.xml"),
            Fixture::redirect(307, &format!("/hop{}.xml", hop + 1)),
        );
    }
    server.set("/hop7.xml", Fixture::rss(rss("End", &[item("1", "far")])));
    let workspace = Workspace::new(&config(
        &[
            ("Loop", server.url("/a.xml")),
            ("Chain", server.url("/hop1.xml")),
        ],
        "1m",
        "",
    ));
    let output = workspace.poll().await;
    assert!(
        output.contains("Loop: failed: fetch failed: redirect loop back to"),
        "{output}"
    );
    assert!(
        output.contains("Chain: failed: fetch failed: more than 5 redirects"),
        "{output}"
    );
    assert_eq!(server.counts("/hop7.xml").0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_stops_polling() {
    let server = FixtureServer::start().await;
    server.set("/gone.xml", Fixture::raw(410, "text/plain", "gone"));
    server.set(
        "/alive.xml",
        Fixture::rss(rss("Alive", &[item("1", "alive")])),
    );
    let workspace = Workspace::new(&config(
        &[
            ("Gone", server.url("/gone.xml")),
            ("Alive", server.url("/alive.xml")),
        ],
        "200ms",
        "",
    ));
    let first = workspace.poll().await;
    assert!(
        first.contains("Gone: gone (HTTP 410): no longer polled"),
        "{first}"
    );
    let second = workspace.poll().await;
    assert!(
        second.contains("Gone: skipped: gone (HTTP 410)"),
        "{second}"
    );
    let rows = workspace.status().await;
    let gone = rows.iter().find(|row| row["name"] == "Gone").unwrap();
    assert_eq!(gone["gone"], true);
    assert!(gone["next_poll"].is_null());

    let daemon = workspace.start_daemon().await;
    wait_for(Duration::from_secs(10), || async {
        (server.counts("/alive.xml").0 >= 5).then_some(())
    })
    .await
    .expect("the live feed was not polled");
    assert_eq!(
        server.counts("/gone.xml").0,
        1,
        "the gone feed was polled again"
    );
    assert!(daemon.log_text().contains("gone (HTTP 410): not polled"));
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn brotli(bytes: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let mut encoder = async_compression::tokio::write::BrotliEncoder::new(Vec::new());
    encoder.write_all(bytes).await.unwrap();
    encoder.shutdown().await.unwrap();
    encoder.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_brotli_and_deflate_bodies_are_decoded() {
    let server = FixtureServer::start().await;
    let mut feeds = Vec::new();
    for encoding in ["gzip", "br", "deflate"] {
        let document = rss(encoding, &[item(encoding, &format!("sent as {encoding}"))]);
        let body = match encoding {
            "gzip" => gzip(document.as_bytes()),
            "br" => brotli(document.as_bytes()).await,
            _ => deflate(document.as_bytes()),
        };
        assert_ne!(body, document.as_bytes());
        let path = format!("/{encoding}.xml");
        server.set(
            &path,
            Fixture::raw(200, "application/rss+xml", body)
                .with_header("content-encoding", encoding),
        );
        feeds.push((encoding, server.url(&path)));
    }
    let workspace = Workspace::new(&config(&feeds, "1m", ""));
    let output = workspace.poll().await;
    for encoding in ["gzip", "br", "deflate"] {
        assert!(output.contains(&format!("{encoding}: 1 new")), "{output}");
    }
}

/// The peak resident memory of a process, from /proc (Linux).
fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_gzip_bombs_are_cut_off() {
    let server = FixtureServer::start().await;
    // 3 MiB of plain text, and 64 MiB of zeros that gzip to about 64 KiB.
    server.set(
        "/big.xml",
        Fixture::raw(200, "application/rss+xml", vec![b' '; 3 << 20]),
    );
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    server.set(
        "/bomb.xml",
        Fixture::raw(200, "application/rss+xml", bomb).with_header("content-encoding", "gzip"),
    );
    server.set("/fine.xml", Fixture::rss(rss("Fine", &[item("1", "fine")])));
    let workspace = Workspace::new(&config(
        &[
            ("Big", server.url("/big.xml")),
            ("Bomb", server.url("/bomb.xml")),
            ("Fine", server.url("/fine.xml")),
        ],
        "1h",
        "max_body = \"2MiB\"",
    ));
    let daemon = workspace.start_daemon().await;
    let rows = wait_for(Duration::from_secs(30), || async {
        let rows = workspace.status().await;
        let failed = rows.iter().filter(|row| row["error_streak"] == 1).count();
        (failed == 2).then_some(rows)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the oversized feeds were not refused; log:\n{}",
            daemon.log_text()
        )
    });
    for name in ["Big", "Bomb"] {
        let row = rows.iter().find(|row| row["name"] == name).unwrap();
        assert_eq!(
            row["last_error"], "fetch failed: the body is larger than 2097152 bytes",
            "{name}"
        );
    }
    let peak = peak_memory_kib(daemon.child.id().unwrap()).unwrap();
    eprintln!("peak memory of the daemon: {peak} KiB");
    // Had the bomb been read whole, 64 MiB would sit in memory.
    assert!(
        peak < 48 * 1024,
        "peak memory {peak} KiB: the bomb was not cut off in time"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_trickles_is_abandoned_at_the_timeout() {
    let server = FixtureServer::start().await;
    let mut trickle = Fixture::rss(rss("Slow", &[item("1", "slow")]));
    trickle.trickle = true;
    server.set("/trickle.xml", trickle);
    let workspace = Workspace::new(
        &config(&[("Trickle", server.url("/trickle.xml"))], "1m", "")
            .replace("timeout = \"5s\"", "timeout = \"2s\""),
    );
    let started = Instant::now();
    let output = workspace.poll().await;
    let took = started.elapsed();
    assert!(
        output.contains("Trickle: failed: fetch failed: timed out"),
        "{output}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
}
