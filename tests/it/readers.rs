//! Interoperability with real feed readers: the daemon serves feeds, and Newsboat (`newsboat
//! -x reload` with its own config and cache in a temporary directory) and Python's feedparser
//! subscribe to them; both must see exactly the entries, titles and links the store holds.
//! feedfinder2 (a client that follows `<link rel="alternate">`) must find every feed from `/`.
//! `.ci/run` installs all three; elsewhere the test is skipped when one is missing.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use tidings::store::Store;

use crate::support::feedparser::{self, tool_available};
use crate::support::{Fixture, FixtureServer, Workspace, config_with_shipped_topics, wait_for};

/// Items with what trips readers up: markup and entities in titles, non-Latin scripts, a
/// script in the description, a link with a query string.
fn items() -> Vec<String> {
    let titles = [
        "Kyiv: talks &amp; \"ceasefire\" &lt;update&gt;",
        "Київ готується до зими",
        "키이우 시장 인터뷰",
        "Pyongyang test-fires a missile; Seoul on alert",
        "Kyiv metro reopens after 3 hours",
        "Odesa port: grain ships sail again",
    ];
    titles
        .iter()
        .enumerate()
        .map(|(index, title)| {
            format!(
                "<guid>reader-{index}</guid><title>{title}</title>\
                 <link>https://news.example/story?id={index}&amp;src=rss</link>\
                 <pubDate>Tue, 14 Jan 2025 {:02}:30:00 +0000</pubDate>\
                 <description>&lt;p onclick=\"x()\"&gt;Body {index}&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description>",
                index + 1
            )
        })
        .collect()
}

type Entry = (String, String, String);

/// What Newsboat stored for each feed URL: (guid, title, link). One Newsboat run per feed:
/// its cache keeps an item once by guid across all feeds, and the same entry is in several.
fn newsboat_reload_each(urls: &[String]) -> std::collections::HashMap<String, BTreeSet<Entry>> {
    let mut seen = std::collections::HashMap::new();
    for url in urls {
        seen.extend(newsboat_reload(std::slice::from_ref(url)));
    }
    seen
}

/// One `newsboat -x reload` of `urls` with a fresh config and cache.
fn newsboat_reload(urls: &[String]) -> std::collections::HashMap<String, BTreeSet<Entry>> {
    let home = tempfile::tempdir().unwrap();
    let urls_file = home.path().join("urls");
    std::fs::write(&urls_file, urls.join("\n") + "\n").unwrap();
    let config = home.path().join("config");
    std::fs::write(&config, "max-items 0\n").unwrap();
    let cache = home.path().join("cache.db");
    let output = Command::new("newsboat")
        .arg("-x")
        .arg("reload")
        .arg("-u")
        .arg(&urls_file)
        .arg("-c")
        .arg(&cache)
        .arg("-C")
        .arg(&config)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "newsboat failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let connection = rusqlite::Connection::open(&cache).unwrap();
    let mut statement = connection
        .prepare("SELECT feedurl, guid, title, url FROM rss_item")
        .unwrap();
    let mut seen: std::collections::HashMap<String, BTreeSet<Entry>> = Default::default();
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                (row.get(1)?, row.get(2)?, row.get(3)?),
            ))
        })
        .unwrap();
    for row in rows {
        let (feed, entry) = row.unwrap();
        seen.entry(feed).or_default().insert(entry);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newsboat_and_feedparser_see_what_the_store_holds_and_find_feeds_from_the_index() {
    let have_newsboat = tool_available(
        "Newsboat",
        "apt-get install newsboat",
        "newsboat",
        &["--version"],
    );
    let have_feedparser = feedparser::available();
    let have_finder = tool_available(
        "python3 with feedfinder2",
        "pip install feedfinder2",
        "python3",
        &["-c", "import feedfinder2"],
    );
    if !(have_newsboat && have_feedparser && have_finder) {
        return;
    }
    let server = FixtureServer::start().await;
    server.set(
        "/world.xml",
        Fixture::rss(crate::support::rss("World & <Wire>", &items())),
    );
    let feeds = format!("[[feeds]]\nurl = \"{}\"\n", server.url("/world.xml"));
    let workspace = Workspace::new(&config_with_shipped_topics(&feeds, "1h"));
    let daemon = workspace.start_daemon().await;
    let ready = wait_for(Duration::from_secs(30), || async {
        (daemon.entries("/feeds/all.atom").await.len() == 6).then_some(())
    })
    .await;
    assert!(ready.is_some(), "no entries; log:\n{}", daemon.log_text());

    let slugs = ["all", "ukraine", "north-korea"];
    let mut urls = Vec::new();
    for slug in slugs {
        for extension in ["atom", "rss"] {
            urls.push(format!("{}/feeds/{slug}.{extension}", daemon.base));
        }
    }
    let newsboat = tokio::task::spawn_blocking({
        let urls = urls.clone();
        move || newsboat_reload_each(&urls)
    })
    .await
    .unwrap();
    let parsed = tokio::task::spawn_blocking({
        let urls = urls.clone();
        move || feedparser::check(&urls)
    })
    .await
    .unwrap();
    let index = format!("{}/", daemon.base);
    let found = tokio::task::spawn_blocking(move || {
        let output = Command::new("python3")
            .args([
                "-c",
                "import sys, json, feedfinder2; print(json.dumps(feedfinder2.find_feeds(sys.argv[1])))",
            ])
            .arg(&index)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Vec<String>>(&output.stdout).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(daemon.terminate().await.code(), Some(0));

    // What the store holds, read after the daemon stopped.
    let store = Store::open(&workspace.data_path()).unwrap();
    for slug in slugs {
        let topic = (slug != "all").then_some(slug);
        let expected: BTreeSet<Entry> = store
            .entries(topic, 50)
            .unwrap()
            .into_iter()
            .map(|entry| (entry.entry_id, entry.title, entry.link.unwrap_or_default()))
            .collect();
        assert!(!expected.is_empty(), "{slug}: nothing stored");
        for extension in ["atom", "rss"] {
            let url = format!("{}/feeds/{slug}.{extension}", daemon_base(&urls));
            let seen = newsboat.get(&url).cloned().unwrap_or_default();
            assert_eq!(seen, expected, "Newsboat on {url}; it stored {newsboat:?}");
            let feedparser_seen = &parsed[&url];
            assert!(
                !feedparser_seen.bozo,
                "{url}: {:?}",
                feedparser_seen.bozo_exception
            );
            let feedparser_entries: BTreeSet<Entry> = feedparser_seen
                .entries
                .iter()
                .map(|entry| {
                    (
                        entry.id.clone().unwrap_or_default(),
                        entry.title.clone().unwrap_or_default(),
                        entry.link.clone().unwrap_or_default(),
                    )
                })
                .collect();
            assert_eq!(feedparser_entries, expected, "feedparser on {url}");
        }
    }
    let found: BTreeSet<String> = found.into_iter().collect();
    let wanted: BTreeSet<String> = urls.iter().cloned().collect();
    assert!(
        wanted.is_subset(&found),
        "autodiscovery from / found {found:?}, not every feed of {wanted:?}"
    );
}

/// The daemon's base address, taken from the feed URLs (the daemon is gone by then).
fn daemon_base(urls: &[String]) -> String {
    urls[0]
        .split("/feeds/")
        .next()
        .unwrap_or_default()
        .to_string()
}
