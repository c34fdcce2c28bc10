//! Item identity: an RSS item with neither guid nor link is stored once however often it is
//! polled (feed-rs would give it a new random id each time).

use crate::support::{Fixture, FixtureServer, Workspace, rss};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_without_guid_or_link_is_stored_once_across_polls() {
    let server = FixtureServer::start().await;
    let config = format!(
        "[[feeds]]\nurl = \"{}\"\nname = \"Bare\"\n",
        server.url("/bare.xml")
    );
    let workspace = Workspace::new(&config);
    let item =
        "<title>An item with no guid and no link</title><description>Only text.</description>";
    for poll in 1..=3 {
        // The document changes around the item on every poll (as a feed's build date does),
        // and sends no ETag, so each poll downloads and parses it again.
        let mut fixture = Fixture::rss(rss(&format!("Bare, edition {poll}"), &[item.to_string()]));
        fixture.etag = false;
        server.set("/bare.xml", fixture);
        let stdout = workspace.poll().await;
        let expected = if poll == 1 {
            "Bare: 1 new, 0 updated, 0 unchanged"
        } else {
            "Bare: 0 new, 0 updated, 1 unchanged"
        };
        assert!(stdout.contains(expected), "poll {poll}: {stdout}");
    }
    assert_eq!(server.counts("/bare.xml").0, 3);
    let rows = workspace.status().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["items"], 1);
    assert_eq!(rows[0]["last_status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_names_a_feed_and_refuses_unknown_ones() {
    let server = FixtureServer::start().await;
    server.set(
        "/a.xml",
        Fixture::rss(rss("A", &["<guid>a</guid><title>a</title>".to_string()])),
    );
    server.set(
        "/b.xml",
        Fixture::rss(rss("B", &["<guid>b</guid><title>b</title>".to_string()])),
    );
    let config = format!(
        "[[feeds]]\nurl = \"{}\"\nname = \"A\"\n[[feeds]]\nurl = \"{}\"\nname = \"B\"\n",
        server.url("/a.xml"),
        server.url("/b.xml")
    );
    let workspace = Workspace::new(&config);
    let output = workspace.command(&["poll", "--feed", "B"]).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(server.counts("/a.xml").0, 0);
    assert_eq!(server.counts("/b.xml").0, 1);
    let output = workspace.command(&["poll", "--feed", "C"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no feed named \"C\""));
    // An unknown name stops the run before anything is polled.
    let output = workspace
        .command(&["poll", "--feed", "A", "--feed", "C"])
        .await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(server.counts("/a.xml").0, 0);
}

/// See issue 4: an item known by its link alone is the same item when only a tracking
/// parameter of its link changes from poll to poll (some feeds stamp each fetch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_whose_link_changes_only_in_tracking_parameters_is_stored_once() {
    let server = FixtureServer::start().await;
    let config = format!(
        "[[feeds]]\nurl = \"{}\"\nname = \"Stamped\"\n",
        server.url("/stamped.xml")
    );
    let workspace = Workspace::new(&config);
    for poll in 1..=3 {
        let item = format!(
            "<title>An item known by its link</title>\
             <link>http{}://news.example/story?id=7&amp;utm_source=feed&amp;utm_content=poll{poll}</link>\
             <description>Same text.</description>",
            if poll == 2 { "s" } else { "" }
        );
        let mut fixture = Fixture::rss(rss(&format!("Stamped, edition {poll}"), &[item]));
        fixture.etag = false;
        server.set("/stamped.xml", fixture);
        let stdout = workspace.poll().await;
        if poll == 1 {
            assert!(stdout.contains("Stamped: 1 new"), "poll {poll}: {stdout}");
        } else {
            // Updated in place: the link it shows is the one the source gives now.
            assert!(
                stdout.contains("Stamped: 0 new, 1 updated"),
                "poll {poll}: {stdout}"
            );
        }
    }
    let rows = workspace.status().await;
    assert_eq!(rows[0]["items"], 1);
}
