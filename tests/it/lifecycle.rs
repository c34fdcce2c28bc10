//! The daemon's life: SIGTERM lets an in-flight poll finish and exits 0, a second signal
//! exits at once without harm to the database, and kill -9 at random moments, over and over,
//! during polling and writing, loses nothing that was committed and stores nothing twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::{Fixture, FixtureServer, Workspace, rss, wait_for};

fn item(guid: &str, title: &str) -> String {
    format!("<guid>{guid}</guid><title>{title}</title><link>https://example.test/{guid}</link>")
}

fn one_feed(url: &str, interval: &str) -> String {
    format!(
        "[settings]\ninterval = \"{interval}\"\nmin_interval = \"100ms\"\ntimeout = \"60s\"\n\n\
         [[feeds]]\nurl = \"{url}\"\nname = \"Slow\"\n"
    )
}

fn integrity(workspace: &Workspace) -> String {
    let connection = rusqlite::Connection::open(workspace.data_path().join("tidings.db")).unwrap();
    connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_poll_in_flight_finish_and_exits_0() {
    let server = FixtureServer::start().await;
    let mut slow = Fixture::rss(rss("Slow", &[item("s-1", "Slow but sure")]));
    slow.delay = Duration::from_millis(1500);
    server.set("/slow.xml", slow);
    let workspace = Workspace::new(&one_feed(&server.url("/slow.xml"), "1h"));
    let mut daemon = workspace.start_daemon().await;
    let asked = wait_for(Duration::from_secs(20), || async {
        (!server.request_times("/slow.xml").is_empty()).then_some(())
    })
    .await;
    assert!(asked.is_some(), "log:\n{}", daemon.log_text());
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log_text());
    // Checkpointed at exit: the database file alone holds everything.
    let wal = workspace.data_path().join("tidings.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |metadata| metadata.len() == 0),
        "the WAL was left with data"
    );
    // The poll that was on the wire when the signal came was finished and committed.
    let rows = workspace.status().await;
    assert_eq!(rows[0]["items"], 1, "{rows:?}\nlog:\n{}", daemon.log_text());
    assert_eq!(integrity(&workspace), "ok");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_database_stays_sound() {
    let server = FixtureServer::start().await;
    server.set(
        "/fast.xml",
        Fixture::rss(rss("Fast", &[item("f-1", "Quick")])),
    );
    let mut slow = Fixture::rss(rss("Slow", &[item("s-1", "Very slow")]));
    // Longer than the shutdown grace: only the second signal can end the wait early.
    slow.delay = Duration::from_secs(60);
    server.set("/slow.xml", slow);
    let config = format!(
        "{}\n[[feeds]]\nurl = \"{}\"\nname = \"Fast\"\n",
        one_feed(&server.url("/slow.xml"), "1h"),
        server.url("/fast.xml")
    );
    let workspace = Workspace::new(&config);
    let mut daemon = workspace.start_daemon().await;
    let polled = wait_for(Duration::from_secs(20), || async {
        let fast = daemon.titles("/feeds/all.atom").await == ["Quick"];
        (fast && !server.request_times("/slow.xml").is_empty()).then_some(())
    })
    .await;
    assert!(polled.is_some(), "log:\n{}", daemon.log_text());
    daemon.signal("TERM");
    let waiting = wait_for(Duration::from_secs(20), || async {
        daemon
            .log_text()
            .contains("shutting down: no new polls")
            .then_some(())
    })
    .await;
    assert!(waiting.is_some(), "log:\n{}", daemon.log_text());
    daemon.signal("INT");
    let status = daemon.wait_exit(Duration::from_secs(8)).await;
    assert_eq!(status.code(), Some(130), "log:\n{}", daemon.log_text());
    assert!(daemon.log_text().contains("second signal"));
    assert_eq!(integrity(&workspace), "ok");
    // What was committed before is there.
    let rows = workspace.status().await;
    let fast = rows.iter().find(|row| row["name"] == "Fast").unwrap();
    assert_eq!(fast["items"], 1, "{rows:?}");
}

/// Feeds whose documents grow while the test runs: feed `k` at version `n` lists items
/// 1..=n. Every version's body hash is kept, so the test can tell from the `body_hash` the
/// store recorded which document its last committed poll of a feed saw.
struct GrowingFeeds {
    versions: Mutex<HashMap<String, (usize, usize)>>,
}

const CRASH_FEEDS: usize = 20;
const CRASH_MAX_ITEMS: usize = 300;

fn growing_document(feed: usize, count: usize) -> String {
    let items: Vec<String> = (1..=count)
        .map(|index| {
            item(
                &format!("f{feed}-{index}"),
                &format!("Feed {feed} item {index}"),
            )
        })
        .collect();
    rss(&format!("Growing {feed}"), &items)
}

impl GrowingFeeds {
    fn set(&self, server: &FixtureServer, feed: usize, count: usize) {
        let body = growing_document(feed, count);
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        self.versions.lock().unwrap().insert(hash, (feed, count));
        server.set(&format!("/grow/{feed}.xml"), Fixture::rss(body));
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing_committed() {
    let server = Arc::new(FixtureServer::start().await);
    let growing = Arc::new(GrowingFeeds {
        versions: Mutex::new(HashMap::new()),
    });
    let mut config = String::from(
        "[settings]\ninterval = \"200ms\"\nmin_interval = \"100ms\"\ntimeout = \"5s\"\nconcurrency = 8\nper_host = 8\n\n",
    );
    for feed in 0..CRASH_FEEDS {
        growing.set(&server, feed, 1);
        config.push_str(&format!(
            "[[feeds]]\nurl = \"{}\"\nname = \"Growing {feed}\"\n\n",
            server.url(&format!("/grow/{feed}.xml"))
        ));
    }
    // The documents grow while the daemon polls, is killed and comes back.
    let stop = tokio_util::sync::CancellationToken::new();
    let bumper = {
        let (server, growing, stop) = (Arc::clone(&server), Arc::clone(&growing), stop.clone());
        tokio::spawn(async move {
            let mut counts = [1usize; CRASH_FEEDS];
            while !stop.is_cancelled() {
                for (feed, count) in counts.iter_mut().enumerate() {
                    if *count < CRASH_MAX_ITEMS && fastrand::bool() {
                        *count += 1;
                        growing.set(&server, feed, *count);
                    }
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };
    let workspace = Workspace::new(&config);
    for _ in 0..30 {
        let mut daemon = workspace.start_daemon().await;
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..500))).await;
        daemon.child.start_kill().unwrap();
        daemon.wait_exit(Duration::from_secs(10)).await;
    }
    stop.cancel();
    bumper.await.unwrap();

    let connection = rusqlite::Connection::open(workspace.data_path().join("tidings.db")).unwrap();
    let check: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let versions = growing.versions.lock().unwrap().clone();
    let mut statement = connection
        .prepare("SELECT id, body_hash FROM feeds ORDER BY id")
        .unwrap();
    let feeds: Vec<(i64, Option<String>)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(feeds.len(), CRASH_FEEDS);
    let mut total = 0;
    for (feed_id, body_hash) in feeds {
        let mut items = connection
            .prepare("SELECT guid FROM items WHERE feed_id = ?1")
            .unwrap();
        let guids: Vec<String> = items
            .query_map([feed_id], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let unique: BTreeSet<&String> = guids.iter().collect();
        assert_eq!(unique.len(), guids.len(), "an item stored twice: {guids:?}");
        let Some(body_hash) = body_hash else {
            assert!(
                guids.is_empty(),
                "items without a committed poll: {guids:?}"
            );
            continue;
        };
        // The last committed poll saw version `count`: exactly its items are stored, no
        // fewer (nothing committed was lost) and no more (nothing half-written).
        let (feed, count) = versions[&body_hash];
        let expected: BTreeSet<String> = (1..=count)
            .map(|index| format!("f{feed}-{index}"))
            .collect();
        let stored: BTreeSet<String> = guids.into_iter().collect();
        assert_eq!(stored, expected, "feed {feed}");
        total += count;
    }
    assert!(
        total > CRASH_FEEDS * 3,
        "too few polls were committed between the kills to test anything ({total} items)"
    );

    eprintln!("items committed across the kills: {total}");
    // Back up once more: the outputs parse and list each item once.
    let daemon = workspace.start_daemon().await;
    let entries = daemon.entries("/feeds/all.atom?limit=500").await;
    let ids: BTreeSet<&String> = entries.iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids.len(), entries.len());
    assert!(!entries.is_empty());
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// A `Type=notify` unit's view: READY with a status once serving, watchdog pings at half of
/// `WATCHDOG_USEC`, STOPPING on SIGTERM, through a fake `NOTIFY_SOCKET`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_and_stopping() {
    let server = FixtureServer::start().await;
    server.set("/feed.xml", Fixture::rss(rss("Feed", &[item("1", "One")])));
    let workspace = Workspace::new(&one_feed(&server.url("/feed.xml"), "1h"));
    let socket_path = workspace.directory.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let daemon = workspace
        .start_daemon_with_env(&[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ])
        .await;
    let receive = |socket: &std::os::unix::net::UnixDatagram| {
        let mut buffer = [0u8; 1024];
        let read = socket.recv(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..read]).into_owned()
    };
    let ready = receive(&socket);
    assert!(ready.starts_with("READY=1\nSTATUS=serving on "), "{ready}");
    assert!(ready.contains("polling 1 feeds"), "{ready}");
    let mut watchdogs = 0;
    while watchdogs < 3 {
        if receive(&socket) == "WATCHDOG=1" {
            watchdogs += 1;
        }
    }
    daemon.signal("TERM");
    let stopping = loop {
        let message = receive(&socket);
        if message != "WATCHDOG=1" {
            break message;
        }
    };
    assert!(
        stopping.starts_with("STOPPING=1\nSTATUS=shutting down"),
        "{stopping}"
    );
    let mut daemon = daemon;
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(30)).await.code(),
        Some(0)
    );
}
