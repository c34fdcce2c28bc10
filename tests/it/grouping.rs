//! One story from several outlets, one article at several sources: `tidings poll` against
//! local feeds, then what a subscriber reads over HTTP from `tidings run`. Two outlets carry
//! the same wire story with lightly edited titles; a third carries another outlet's article
//! under the same link with tracking parameters. The output shows the story once, listing the
//! other outlet, and the article once, listing its second source; with
//! `settings.group_stories = false` the two versions of the story are separate entries.

use chrono::{DateTime, Utc};

use crate::support::{
    Fixture, FixtureServer, Workspace, config_with_shipped_topics, rss, xml_escape,
};

const WIRE_LEAD: &str = "North Korea fired a ballistic missile toward the East Sea on \
    Thursday morning, South Korea's Joint Chiefs of Staff said, in the latest of a string of \
    launches that have raised tensions on the peninsula. The missile flew about 600 \
    kilometres before landing outside Japan's exclusive economic zone.";

fn item(guid: &str, title: &str, link: &str, description: &str) -> String {
    format!(
        "<guid isPermaLink=\"false\">{guid}</guid><title>{}</title><link>{}</link>\
         <pubDate>Thu, 13 Nov 2025 08:00:00 +0000</pubDate><description>{}</description>",
        xml_escape(title),
        xml_escape(link),
        xml_escape(description)
    )
}

fn outlet_a(missile_title: &str) -> String {
    rss(
        "Outlet A",
        &[
            item(
                "a-1",
                missile_title,
                "https://a.example/world/nk-missile",
                WIRE_LEAD,
            ),
            item(
                "a-2",
                "Kim Jong Un inspects munitions factory",
                "https://a.example/world/kim-factory",
                "North Korean leader Kim Jong Un inspected a munitions factory and called for \
                 more artillery shells, state media said.",
            ),
        ],
    )
}

fn outlet_b() -> String {
    rss(
        "Outlet B",
        &[item(
            "b-1",
            "N. Korea launches ballistic missile into East Sea: JCS",
            "https://b.example/news/2025/11/13/missile",
            &format!(
                "SEOUL -- {}",
                WIRE_LEAD.replace("South Korea's Joint Chiefs", "the Joint Chiefs")
            ),
        )],
    )
}

fn outlet_c() -> String {
    rss(
        "Outlet C",
        &[item(
            "c-1",
            "North Korea: Kim visits arms plant",
            "http://www.a.example/world/kim-factory?utm_source=rss&utm_medium=feed&fbclid=x1#top",
            "Our partner Outlet A reports from Pyongyang.",
        )],
    )
}

fn config(server: &FixtureServer, group_stories: bool) -> String {
    let feeds = format!(
        "[[feeds]]\nurl = \"{}\"\nname = \"Outlet A\"\n\n[[feeds]]\nurl = \"{}\"\nname = \"Outlet B\"\n\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Outlet C\"\n",
        server.url("/a.xml"),
        server.url("/b.xml"),
        server.url("/c.xml"),
    );
    let config = config_with_shipped_topics(&feeds, "1h");
    if group_stories {
        config
    } else {
        config.replacen("[settings]", "[settings]\ngroup_stories = false", 1)
    }
}

/// An output entry as a subscriber's reader sees it.
#[derive(Debug)]
struct Entry {
    id: String,
    title: String,
    link: String,
    related: Vec<String>,
    content: String,
    updated: DateTime<Utc>,
}

async fn entries(daemon: &crate::support::tidings::Daemon, path: &str) -> Vec<Entry> {
    let (status, body) = daemon.get(path).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
    feed.entries
        .into_iter()
        .map(|entry| Entry {
            id: entry.id,
            title: entry.title.map(|title| title.content).unwrap_or_default(),
            link: entry
                .links
                .iter()
                .find(|link| link.rel.as_deref() == Some("alternate"))
                .map(|link| link.href.clone())
                .unwrap_or_default(),
            related: entry
                .links
                .iter()
                .filter(|link| link.rel.as_deref() == Some("related"))
                .map(|link| link.href.clone())
                .collect(),
            content: entry
                .content
                .and_then(|content| content.body)
                .unwrap_or_default(),
            updated: entry.updated.unwrap(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_story_from_two_outlets_and_one_link_from_two_sources_are_one_entry_each() {
    let server = FixtureServer::start().await;
    let missile_title = "North Korea fires ballistic missile toward East Sea, Seoul says";
    server.set("/a.xml", Fixture::rss(outlet_a(missile_title)));
    server.set("/b.xml", Fixture::rss(outlet_b()));
    server.set("/c.xml", Fixture::rss(outlet_c()));
    let workspace = Workspace::new(&config(&server, true));
    // Outlet A first, so that its versions are the first stored and head the entries.
    let output = workspace.command(&["poll", "--feed", "Outlet A"]).await;
    assert_eq!(output.status.code(), Some(0));
    let stdout = workspace.poll().await;
    assert!(stdout.contains("Outlet B: 1 new"), "{stdout}");
    assert!(stdout.contains("Outlet C: 1 new"), "{stdout}");
    // Every source keeps its own item.
    let items: Vec<u64> = workspace
        .status()
        .await
        .iter()
        .map(|row| row["items"].as_u64().unwrap())
        .collect();
    assert_eq!(items.iter().sum::<u64>(), 4, "{items:?}");

    let daemon = workspace.start_daemon().await;
    for path in ["/feeds/all.atom", "/feeds/north-korea.atom"] {
        let shown = entries(&daemon, path).await;
        let titles: Vec<&str> = shown.iter().map(|entry| entry.title.as_str()).collect();
        assert_eq!(shown.len(), 2, "{path}: {titles:?}");
        let story = shown
            .iter()
            .find(|entry| entry.title == missile_title)
            .unwrap();
        assert_eq!(story.link, "https://a.example/world/nk-missile");
        assert_eq!(
            story.related,
            vec!["https://b.example/news/2025/11/13/missile"]
        );
        assert!(
            story.content.contains("Also reported by:"),
            "{}",
            story.content
        );
        assert!(
            story
                .content
                .contains("https://b.example/news/2025/11/13/missile"),
            "{}",
            story.content
        );
        assert!(story.content.contains("Outlet B"), "{}", story.content);
        let article = shown
            .iter()
            .find(|entry| entry.title == "Kim Jong Un inspects munitions factory")
            .unwrap_or_else(|| panic!("{path}: {titles:?}"));
        assert_eq!(article.link, "https://a.example/world/kim-factory");
        assert_eq!(article.related.len(), 1, "{article:?}");
        assert!(article.related[0].contains("utm_source=rss"), "{article:?}");
        assert!(article.content.contains("Outlet C"), "{}", article.content);
    }
    let story_id = entries(&daemon, "/feeds/all.atom")
        .await
        .into_iter()
        .find(|entry| entry.title == missile_title)
        .unwrap()
        .id;
    assert_eq!(daemon.terminate().await.code(), Some(0));

    // Outlet A edits its headline: the story is still one entry, with the same id, the new
    // title, and an `updated` time of when the edit was seen.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before_edit = Utc::now().timestamp();
    let edited_title = "North Korea fires ballistic missile toward East Sea, Seoul says (updated)";
    server.set("/a.xml", Fixture::rss(outlet_a(edited_title)));
    let stdout = workspace.poll().await;
    assert!(stdout.contains("Outlet A: 0 new, 1 updated"), "{stdout}");
    let daemon = workspace.start_daemon().await;
    let shown = entries(&daemon, "/feeds/north-korea.atom").await;
    assert_eq!(shown.len(), 2, "{shown:#?}");
    let story = shown.iter().find(|entry| entry.id == story_id).unwrap();
    assert_eq!(story.title, edited_title);
    assert!(story.updated.timestamp() >= before_edit, "{story:?}");
    assert_eq!(story.related.len(), 1);
    assert_eq!(daemon.terminate().await.code(), Some(0));

    // With grouping off, each outlet's version of the story is its own entry; the article
    // at two sources is still one.
    std::fs::write(workspace.config_path(), config(&server, false)).unwrap();
    let daemon = workspace.start_daemon().await;
    let shown = entries(&daemon, "/feeds/all.atom").await;
    let titles: Vec<&str> = shown.iter().map(|entry| entry.title.as_str()).collect();
    assert_eq!(shown.len(), 3, "{titles:?}");
    assert!(titles.contains(&edited_title), "{titles:?}");
    assert!(
        titles.contains(&"N. Korea launches ballistic missile into East Sea: JCS"),
        "{titles:?}"
    );
    let story = shown.iter().find(|entry| entry.id == story_id).unwrap();
    assert!(story.related.is_empty(), "{story:?}");
    assert!(
        !story.content.contains("Also reported by:"),
        "{}",
        story.content
    );
    let article = shown
        .iter()
        .find(|entry| entry.title == "Kim Jong Un inspects munitions factory")
        .unwrap();
    assert_eq!(article.related.len(), 1, "{article:?}");
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
