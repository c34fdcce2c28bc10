//! The whole path: the real daemon polls a local server, stores, matches the shipped topics,
//! and serves feeds that a subscriber reads over HTTP.

use std::time::Duration;

use crate::support::{
    Fixture, FixtureServer, Workspace, config_with_shipped_topics, rss, shared_file, wait_for,
    xml_escape,
};

/// The seed article as an RSS item: first line the title, the rest the description.
fn seed_item(title: &str, body: &str) -> String {
    format!(
        "<guid isPermaLink=\"false\">seed-1</guid><title>{}</title>\
         <link>https://nyheter.example/ukraina/krigsfange</link>\
         <pubDate>Mon, 13 Jan 2025 08:00:00 +0000</pubDate><description>{}</description>",
        xml_escape(title),
        xml_escape(body)
    )
}

fn unrelated_atom() -> String {
    r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Local sport and weather</title><id>urn:test:unrelated</id>
  <updated>2025-01-13T09:00:00Z</updated>
  <entry><id>urn:test:sport-1</id><title>Home side wins the derby three goals to one</title>
    <link href="https://sport.example/derby"/><updated>2025-01-13T09:00:00Z</updated>
    <summary>The striker scored twice before half time.</summary></entry>
  <entry><id>urn:test:weather-1</id><title>Snow expected on the coast tonight</title>
    <link href="https://weather.example/snow"/><updated>2025-01-13T07:00:00Z</updated>
    <summary>Drivers are asked to take care on the bridges.</summary></entry>
</feed>
"#
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_article_reaches_both_topics_once_and_updates_in_place() {
    let Some(seed_path) = shared_file("fixtures/seed-article-sv.txt") else {
        return;
    };
    let seed = std::fs::read_to_string(seed_path).unwrap();
    let (title, body) = seed.split_once('\n').unwrap();
    let title = title.trim();

    let server = FixtureServer::start().await;
    server.set(
        "/sv.xml",
        Fixture::rss(rss("Nyheter", &[seed_item(title, body)])),
    );
    server.set("/other.atom", Fixture::atom(unrelated_atom()));
    let feeds = format!(
        "[[feeds]]\nurl = \"{}\"\nname = \"Svenska nyheter\"\n\n[[feeds]]\nurl = \"{}\"\n",
        server.url("/sv.xml"),
        server.url("/other.atom")
    );
    let workspace = Workspace::new(&config_with_shipped_topics(&feeds, "1s"));
    let daemon = workspace.start_daemon().await;

    let all = wait_for(Duration::from_secs(30), || async {
        let titles = daemon.titles("/feeds/all.atom").await;
        (titles.len() == 3).then_some(titles)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the first poll never showed up; log:\n{}",
            daemon.log_text()
        )
    });
    assert!(all.contains(&title.to_string()), "{all:?}");

    for topic in ["north-korea", "ukraine"] {
        let titles = daemon.titles(&format!("/feeds/{topic}.atom")).await;
        assert_eq!(titles, vec![title.to_string()], "/feeds/{topic}.atom");
    }
    let (status, _) = daemon.get("/feeds/nope.atom").await.unwrap();
    assert_eq!(status, 404);

    // Several more polls of unchanged feeds: still one copy of everything, and the polls were
    // conditional.
    let polled = wait_for(Duration::from_secs(30), || async {
        (server.counts("/sv.xml").0 >= 3 && server.counts("/other.atom").0 >= 3).then_some(())
    })
    .await;
    assert!(
        polled.is_some(),
        "the daemon stopped polling; log:\n{}",
        daemon.log_text()
    );
    assert!(
        server.counts("/sv.xml").1 >= 2,
        "no 304s: {:?}",
        server.counts("/sv.xml")
    );
    assert!(
        server
            .validators_seen("/sv.xml")
            .iter()
            .all(|etag| etag.starts_with('"')),
        "the repolls did not send the stored ETag"
    );
    let entries = daemon.entries("/feeds/all.atom").await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    let seed_entries: Vec<_> = entries
        .iter()
        .filter(|(_, entry_title, _)| entry_title == title)
        .collect();
    assert_eq!(seed_entries.len(), 1);
    let seed_id = seed_entries[0].0.clone();
    assert_eq!(
        seed_entries[0].2,
        "https://nyheter.example/ukraina/krigsfange"
    );

    // The source edits the title: one copy, with the new title and the same entry id.
    let new_title = format!("{title} (uppdaterad)");
    server.set(
        "/sv.xml",
        Fixture::rss(rss("Nyheter", &[seed_item(&new_title, body)])),
    );
    let updated = wait_for(Duration::from_secs(30), || async {
        let entries = daemon.entries("/feeds/north-korea.atom").await;
        entries
            .iter()
            .any(|(_, entry_title, _)| *entry_title == new_title)
            .then_some(entries)
    })
    .await
    .unwrap_or_else(|| panic!("the edit never showed up; log:\n{}", daemon.log_text()));
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0].0, seed_id, "the entry id changed with the title");
    let all = daemon.titles("/feeds/all.atom").await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        !all.contains(&title.to_string()),
        "the old title is still served: {all:?}"
    );
    assert_eq!(
        daemon.titles("/feeds/ukraine.atom").await,
        vec![new_title.clone()]
    );

    // ?limit caps the entries, newest first.
    let limited = daemon.entries("/feeds/all.atom?limit=1").await;
    assert_eq!(limited.len(), 1);

    let status = daemon.terminate().await;
    assert_eq!(status.code(), Some(0), "SIGTERM should exit 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_items_and_ids() {
    let server = FixtureServer::start().await;
    server.set(
        "/feed.xml",
        Fixture::rss(rss(
            "Kyiv Daily",
            &["<guid>k-1</guid><title>Kyiv metro reopens</title><link>https://kyiv.example/1</link>".to_string()],
        )),
    );
    let feeds = format!("[[feeds]]\nurl = \"{}\"\n", server.url("/feed.xml"));
    let workspace = Workspace::new(&config_with_shipped_topics(&feeds, "1h"));
    let daemon = workspace.start_daemon().await;
    let first = wait_for(Duration::from_secs(30), || async {
        let entries = daemon.entries("/feeds/ukraine.atom").await;
        (!entries.is_empty()).then_some(entries)
    })
    .await
    .expect("the first poll never showed up");
    assert_eq!(daemon.terminate().await.code(), Some(0));

    let daemon = workspace.start_daemon().await;
    // The feed is not due for an hour: the items come from the store, not a new poll.
    let again = daemon.entries("/feeds/ukraine.atom").await;
    assert_eq!(again, first);
    assert_eq!(
        server.counts("/feed.xml").0,
        1,
        "a restart must not re-poll a feed that is not due"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
