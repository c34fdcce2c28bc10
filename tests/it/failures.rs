//! Failures stay local: a source that refuses connections and one that returns garbage are
//! recorded on those feeds, and the other sources are still polled and served.

use std::time::Duration;

use crate::support::{Fixture, FixtureServer, Workspace, rss, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_sources_do_not_stop_the_others() {
    let server = FixtureServer::start().await;
    server.set(
        "/good.xml",
        Fixture::rss(rss(
            "Good",
            &["<guid>g-1</guid><title>A working source</title><link>https://good.example/1</link>".to_string()],
        )),
    );
    server.set(
        "/garbage",
        Fixture::raw(
            200,
            "text/html",
            "<html><body>Not a feed at all</body></html>",
        ),
    );
    server.set(
        "/binary",
        Fixture::raw(
            200,
            "application/octet-stream",
            vec![0u8, 159, 146, 150, 1, 2],
        ),
    );
    server.set("/error", Fixture::raw(500, "text/plain", "internal error"));
    // A port that refuses connections: bound, then closed.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config = format!(
        "[settings]\ninterval = \"1s\"\nmin_interval = \"100ms\"\ntimeout = \"5s\"\n\
         [[feeds]]\nurl = \"http://{refused}/feed\"\nname = \"Refused\"\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Garbage\"\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Binary\"\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Error\"\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Good\"\n",
        server.url("/garbage"),
        server.url("/binary"),
        server.url("/error"),
        server.url("/good.xml"),
    );
    let workspace = Workspace::new(&config);
    let daemon = workspace.start_daemon().await;
    let titles = wait_for(Duration::from_secs(30), || async {
        let titles = daemon.titles("/feeds/all.atom").await;
        (!titles.is_empty()).then_some(titles)
    })
    .await
    .unwrap_or_else(|| panic!("the good feed never showed up; log:\n{}", daemon.log_text()));
    assert_eq!(titles, vec!["A working source"]);

    // Each failure is recorded on its feed.
    let statuses = wait_for(Duration::from_secs(30), || async {
        let rows = workspace.status().await;
        let failing = rows
            .iter()
            .filter(|row| row["error_streak"].as_u64().unwrap_or(0) >= 1)
            .count();
        (failing == 4).then_some(rows)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the failures were not all recorded; log:\n{}",
            daemon.log_text()
        )
    });
    let error_of = |name: &str| {
        statuses
            .iter()
            .find(|row| row["name"] == name)
            .and_then(|row| row["last_error"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        error_of("Refused").contains("connect"),
        "{}",
        error_of("Refused")
    );
    assert!(
        error_of("Garbage").contains("not a feed"),
        "{}",
        error_of("Garbage")
    );
    assert!(
        error_of("Binary").contains("parse failed"),
        "{}",
        error_of("Binary")
    );
    assert!(
        error_of("Error").contains("HTTP 500"),
        "{}",
        error_of("Error")
    );
    assert_eq!(error_of("Good"), "");

    // The log names the feed and its URL.
    let log = daemon.log_text();
    assert!(
        log.contains("\"feed\":\"Garbage\"") && log.contains(&server.url("/garbage")),
        "{log}"
    );

    // The failing feeds are tried again later, with growing gaps (1 s, 2 s, ...).
    let retried = wait_for(Duration::from_secs(30), || async {
        (server.counts("/error").0 >= 2).then_some(())
    })
    .await;
    assert!(retried.is_some(), "a failing feed was never retried");
    let (status, body) = daemon.get("/healthz").await.unwrap();
    assert_eq!((status, body.trim()), (200, "ok"));
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
