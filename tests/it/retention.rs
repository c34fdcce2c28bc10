//! Retention on a running daemon: an item older than `settings.retention` that its source no
//! longer lists leaves the store and the outputs; one still listed stays, however old.

use std::time::Duration;

use crate::support::{Fixture, FixtureServer, Workspace, rss, wait_for};

fn item(guid: &str, title: &str) -> String {
    format!("<guid>{guid}</guid><title>{title}</title><link>https://example.test/{guid}</link>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_past_retention_leave_unless_still_listed() {
    let server = FixtureServer::start().await;
    server.set(
        "/news.xml",
        Fixture::rss(rss(
            "News",
            &[
                item("old", "Yesterday's news"),
                item("kept", "Still on the front page"),
            ],
        )),
    );
    let config = format!(
        "[settings]\ninterval = \"200ms\"\nmin_interval = \"100ms\"\nretention = \"2s\"\n\n\
         [[feeds]]\nurl = \"{}\"\nname = \"News\"\n",
        server.url("/news.xml")
    );
    let workspace = Workspace::new(&config);
    let daemon = workspace.start_daemon().await;
    let both = wait_for(Duration::from_secs(20), || async {
        (daemon.titles("/feeds/all.atom").await.len() == 2).then_some(())
    })
    .await;
    assert!(both.is_some(), "log:\n{}", daemon.log_text());
    // The source drops the old item; the other stays listed.
    server.set(
        "/news.xml",
        Fixture::rss(rss("News", &[item("kept", "Still on the front page")])),
    );
    let pruned = wait_for(Duration::from_secs(30), || async {
        (daemon.titles("/feeds/all.atom").await == ["Still on the front page"]).then_some(())
    })
    .await;
    assert!(pruned.is_some(), "log:\n{}", daemon.log_text());
    assert!(daemon.log_text().contains("retention: old items pruned"));
    let rows = workspace.status().await;
    assert_eq!(rows[0]["items"], 1, "{rows:?}");
    // Long past its retention, the listed item is still there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        daemon.titles("/feeds/all.atom").await,
        ["Still on the front page"]
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
