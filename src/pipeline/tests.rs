//! A full disk, simulated with SQLite's `max_page_count`: the poll fails whole, its failure is
//! recorded on the feed, and polling recovers once there is room again.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::config;
use crate::fetch::FeedClient;

/// Serves `body` as RSS to every request on 127.0.0.1, one response per connection.
async fn serve_forever(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/feed.xml")
}

fn big_feed(items: usize) -> String {
    let filler = "All work and no play makes a dull feed. ".repeat(50);
    let entries: String = (0..items)
        .map(|index| {
            format!(
                "<item><guid>item-{index}</guid><title>Item {index}</title>\
                 <link>https://example.test/{index}</link>\
                 <description>{index} {filler}</description></item>\n"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>\
         <link>https://example.test/</link><description>d</description>\n{entries}</channel></rss>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_poll_whole_and_polling_recovers() {
    let url = serve_forever(big_feed(200)).await;
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let text = format!(
        "[settings]\nmin_interval = \"1s\"\n[[feeds]]\nurl = \"{url}\"\n\
         [[topics]]\nname = \"work\"\nany = [\"work\"]\n"
    );
    let config = config::parse(Path::new("feeds.toml"), &text).unwrap();
    let rows = store.sync_feeds(&[(url.as_str(), None)]).unwrap();
    let context = PollContext::new(
        FeedClient::new(2, Duration::from_secs(10)).unwrap(),
        store.clone(),
        Arc::new(TopicSet::compile(&config.topics)),
        &config.settings,
    )
    .unwrap();
    // Room for a few more pages, far fewer than 200 items of 2 kB need.
    let pages = store.page_count().unwrap();
    store.set_max_pages(pages + 3).unwrap();

    let report = poll_feed(&context, &config.feeds[0], &rows[0], FetchSlot::default()).await;
    let PollReportOutcome::StoreFailed(error) = &report.outcome else {
        panic!("the poll was not refused: {:?}", report.outcome);
    };
    assert!(error.contains("full"), "{error}");
    let row = store.feed_rows().unwrap().remove(0);
    // Nothing half-written: no item, no item's match, and no validator that would make the
    // next poll skip the document whose items are missing.
    assert_eq!(row.item_count, Some(0));
    assert_eq!(store.topic_counts().unwrap().len(), 0);
    assert_eq!(row.state.body_hash, None);
    assert_eq!(row.state.error_streak, 1);
    assert!(
        row.state
            .last_error
            .as_deref()
            .is_some_and(|last| last.contains("cannot store the poll")),
        "{:?}",
        row.state.last_error
    );
    assert_eq!(report.state.map(|state| state.error_streak), Some(1));
    assert_eq!(store.integrity_check().unwrap(), "ok");

    // Space returns: the next poll stores everything.
    store.set_max_pages(1 << 30).unwrap();
    let report = poll_feed(&context, &config.feeds[0], &row, FetchSlot::default()).await;
    let PollReportOutcome::Fetched(summary) = report.outcome else {
        panic!("polling did not recover: {:?}", report.outcome);
    };
    assert_eq!(summary.new, 200);
    let row = store.feed_rows().unwrap().remove(0);
    assert_eq!(row.item_count, Some(200));
    assert_eq!(row.state.error_streak, 0);
    assert_eq!(store.topic_counts().unwrap().get("work"), Some(&200));
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

/// `tidings poll` (and a daemon's first start) spawns a task per feed before any of them gets
/// its fetch permits, so the future of a poll that has not started yet must be small: the
/// fetch, parse and write state is allocated only once the poll runs. At 7 kB a future, the
/// 10,000 waiting polls of a warm poll held 70 MB.
#[tokio::test]
async fn a_poll_that_has_not_started_is_a_small_future() {
    let store = Store::open_in_memory().unwrap();
    let text = "[[feeds]]\nurl = \"http://127.0.0.1:9/feed.xml\"\n";
    let config = config::parse(Path::new("feeds.toml"), text).unwrap();
    let rows = store
        .sync_feeds(&[("http://127.0.0.1:9/feed.xml", None)])
        .unwrap();
    let context = PollContext::new(
        FeedClient::new(2, Duration::from_secs(10)).unwrap(),
        store,
        Arc::new(TopicSet::compile(&config.topics)),
        &config.settings,
    )
    .unwrap();
    let waiting = poll_feed(&context, &config.feeds[0], &rows[0], FetchSlot::default());
    let size = std::mem::size_of_val(&waiting);
    assert!(size <= 512, "a poll not yet started takes {size} bytes");
}

/// A poll that brought no document (here a server error) gives its place among the polls
/// waiting for the writer (`UNSTORED`) back as soon as its fetch is over: otherwise the 304s
/// of a warm poll fill those places while a batch of new items is written, and fetching stops
/// until it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_without_a_document_waits_for_the_writer_without_holding_a_place() {
    // Answers every request with a 500, and says when one came.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/feed.xml", listener.local_addr().unwrap());
    let asked = Arc::new(tokio::sync::Notify::new());
    tokio::spawn({
        let asked = Arc::clone(&asked);
        async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                asked.notify_one();
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            }
        }
    });
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let config = config::parse(
        Path::new("feeds.toml"),
        &format!("[[feeds]]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let rows = store.sync_feeds(&[(url.as_str(), None)]).unwrap();
    let context = Arc::new(
        PollContext::new(
            FeedClient::new(2, Duration::from_secs(10)).unwrap(),
            store.clone(),
            Arc::new(TopicSet::compile(&config.topics)),
            &config.settings,
        )
        .unwrap(),
    );
    // Another connection holds the write lock: the poll's write waits for it.
    let blocker = rusqlite::Connection::open(directory.path().join("tidings.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let poll = tokio::spawn({
        let context = Arc::clone(&context);
        let feed = config.feeds[0].clone();
        let row = rows[0].clone();
        async move { poll_feed(&context, &feed, &row, FetchSlot::default()).await }
    });
    // The place is taken before the request goes out.
    asked.notified().await;
    let mut gave_back_while_waiting = false;
    for _ in 0..500 {
        if poll.is_finished() {
            break;
        }
        if context.unstored.available_permits() == UNSTORED {
            gave_back_while_waiting = !poll.is_finished();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    blocker.execute_batch("COMMIT").unwrap();
    let report = poll.await.unwrap();
    assert!(
        gave_back_while_waiting,
        "the poll held its place until it was written"
    );
    assert!(
        matches!(report.outcome, PollReportOutcome::Failed(_)),
        "{:?}",
        report.outcome
    );
    assert_eq!(context.unstored.available_permits(), UNSTORED);
}
