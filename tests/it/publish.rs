//! The output feeds as readers see them. `every_feed_of_the_corpus_is_valid_in_every_format`
//! ingests the whole `../shared/corpus` through the library (as `corpus.rs` does), renders
//! `all` and every shipped topic as Atom, RSS and JSON Feed, and reads each with a strict XML
//! parser (roxmltree), feed-rs and Python's feedparser (`bozo` must be 0).

use std::path::Path;
use std::time::Duration;

use tidings::config;
use tidings::normalize::normalize;
use tidings::parse::parse;
use tidings::publish::{Format, MAX_LIMIT, OutputFeed, render};
use tidings::store::{Grouping, Store};
use tidings::topics::TopicSet;
use url::Url;

use crate::support::{corpus_listing, feedparser, record_document, shipped_loaded};

/// Every corpus document that parses, stored as one feed each with the shipped topics.
fn ingest_corpus() -> Option<(Store, config::Config)> {
    let (manifest, files) = corpus_listing()?;
    let corpus = manifest.parent().unwrap().to_path_buf();
    let shipped = shipped_loaded();
    let topics = TopicSet::compile(&shipped.topics);
    let store = Store::open_in_memory().unwrap();
    let listed: Vec<(String, String)> = files
        .iter()
        .map(|file| (format!("https://corpus.example/{file}"), file.clone()))
        .collect();
    let borrowed: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|(url, name)| (url.as_str(), Some(name.as_str())))
        .collect();
    let rows = store.sync_feeds(&borrowed).unwrap();
    for (row, file) in rows.iter().zip(&files) {
        let body = std::fs::read(corpus.join(file)).unwrap();
        let feed_url = Url::parse(&row.url).unwrap();
        let Ok(document) = parse(&body, None, feed_url.as_str()) else {
            continue;
        };
        let (meta, items) = normalize(&document, &feed_url);
        record_document(&store, row.id, meta, items, &topics).unwrap();
    }
    Some((store, shipped))
}

#[test]
fn every_feed_of_the_corpus_is_valid_in_every_format() {
    let Some((store, shipped)) = ingest_corpus() else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let mut slugs = vec![("all".to_string(), "All sources".to_string())];
    slugs.extend(
        shipped
            .topics
            .iter()
            .map(|topic| (topic.slug.to_string(), topic.title.clone())),
    );
    let mut written = Vec::new();
    for (slug, title) in &slugs {
        let topic = (slug != "all").then_some(slug.as_str());
        let (entries, next) = store
            .entries_page(topic, None, MAX_LIMIT, Grouping::Stories)
            .unwrap();
        assert!(
            !entries.is_empty(),
            "{slug}: no entries from the whole corpus"
        );
        let expected: Vec<(String, String, Option<String>)> = entries
            .iter()
            .map(|entry| {
                (
                    entry.entry_id.clone(),
                    entry.title.clone(),
                    entry.link.clone(),
                )
            })
            .collect();
        let mut feed = OutputFeed::new(slug, title, "http://127.0.0.1:8080", entries);
        feed.limit = MAX_LIMIT;
        feed.next = next;
        feed.hub = Some("http://127.0.0.1:9/hub".into());
        for format in Format::ALL {
            let rendered = render(&feed, format).unwrap();
            let what = format!("{slug}.{}", format.extension());
            let text = String::from_utf8(rendered.body.clone())
                .unwrap_or_else(|error| panic!("{what}: not UTF-8: {error}"));
            match format {
                Format::Atom | Format::Rss => {
                    roxmltree::Document::parse(&text)
                        .unwrap_or_else(|error| panic!("{what}: not well-formed XML: {error}"));
                }
                Format::Json => {
                    let value = serde_json::from_str::<serde_json::Value>(&text)
                        .unwrap_or_else(|error| panic!("{what}: not JSON: {error}"));
                    check_json_feed(&what, &value);
                }
            }
            for bad in ["<script", "javascript:"] {
                assert!(!text.to_lowercase().contains(bad), "{what} contains {bad}");
            }
            let read = feed_rs::parser::parse(rendered.body.as_slice())
                .unwrap_or_else(|error| panic!("{what}: feed-rs cannot read it: {error}"));
            let read: Vec<(String, String, Option<String>)> = read
                .entries
                .iter()
                .map(|entry| {
                    (
                        entry.id.clone(),
                        entry
                            .title
                            .as_ref()
                            .map(|t| t.content.clone())
                            .unwrap_or_default(),
                        entry.links.first().map(|link| link.href.clone()),
                    )
                })
                .collect();
            assert_eq!(read.len(), expected.len(), "{what}");
            for (got, want) in read.iter().zip(&expected) {
                assert_eq!(got.0, want.0, "{what}: id");
                assert_eq!(got.1, want.1, "{what}: title of {}", want.0);
            }
            if format != Format::Json {
                // feedparser (6.0) reads Atom and RSS, not JSON Feed.
                let path = directory.path().join(&what);
                std::fs::write(&path, &rendered.body).unwrap();
                written.push((path, expected.clone()));
            }
        }
    }
    eprintln!(
        "rendered {} feeds in 3 formats from the corpus",
        slugs.len()
    );
    if !feedparser::available() {
        return;
    }
    let paths: Vec<&Path> = written.iter().map(|(path, _)| path.as_path()).collect();
    let seen = feedparser::check_files(&paths);
    for (path, expected) in &written {
        let what = path.display().to_string();
        let parsed = &seen[&what];
        assert!(
            !parsed.bozo,
            "{what}: feedparser says bozo: {:?}",
            parsed.bozo_exception
        );
        assert_eq!(parsed.entries.len(), expected.len(), "{what}");
        for (got, want) in parsed.entries.iter().zip(expected) {
            assert_eq!(got.id.as_deref(), Some(want.0.as_str()), "{what}");
        }
    }
}

/// The rules of JSON Feed 1.1 that a reader relies on: the version URL, a title, and items
/// each with a unique string id, `content_html` or `content_text`, and RFC 3339 dates.
#[track_caller]
fn check_json_feed(what: &str, value: &serde_json::Value) {
    assert_eq!(
        value["version"], "https://jsonfeed.org/version/1.1",
        "{what}"
    );
    assert!(value["title"].is_string(), "{what}: title");
    let items = value["items"].as_array().unwrap();
    let mut ids = std::collections::HashSet::new();
    for item in items {
        let id = item["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: an item without id"));
        assert!(ids.insert(id.to_string()), "{what}: id {id} twice");
        assert!(
            item["content_html"].is_string() || item["content_text"].is_string(),
            "{what}: {id} has no content"
        );
        for date in ["date_published", "date_modified"] {
            if let Some(text) = item[date].as_str() {
                chrono::DateTime::parse_from_rfc3339(text)
                    .unwrap_or_else(|error| panic!("{what}: {id} {date} {text}: {error}"));
            }
        }
        assert!(
            item["_tidings"]["source"]["feed_url"].is_string(),
            "{what}: {id} source"
        );
    }
}

/// An RSS item about Kyiv (so it lands in the shipped `ukraine` topic), numbered.
fn kyiv_item(number: u32) -> String {
    format!(
        "<guid>kyiv-{number}</guid><title>Kyiv report number {number}</title>\
         <link>https://news.example/kyiv/{number}</link>\
         <pubDate>Mon, 13 Jan 2025 {:02}:00:00 +0000</pubDate>\
         <description>Notes from Kyiv, part {number}.</description>",
        number % 24
    )
}

fn kyiv_feed(count: u32) -> String {
    crate::support::rss(
        "Kyiv notes",
        &(1..=count).map(kyiv_item).collect::<Vec<_>>(),
    )
}

/// A fake WebSub hub on 127.0.0.1 that records every form it is posted.
struct FakeHub {
    url: String,
    pings: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeHub {
    async fn start() -> FakeHub {
        let pings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = std::sync::Arc::clone(&pings);
        let app = axum::Router::new().route(
            "/hub",
            axum::routing::post(move |body: String| {
                let recorded = std::sync::Arc::clone(&recorded);
                async move {
                    recorded.lock().unwrap().push(body);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hub", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeHub { url, pings }
    }

    /// The `hub.url`s of the pings so far (each ping must be a WebSub publish).
    fn pinged(&self) -> Vec<String> {
        self.pings
            .lock()
            .unwrap()
            .iter()
            .map(|body| {
                let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                assert!(
                    pairs.contains(&("hub.mode".into(), "publish".into())),
                    "{body}"
                );
                pairs
                    .into_iter()
                    .find(|(key, _)| key == "hub.url")
                    .map(|(_, value)| value)
                    .unwrap_or_default()
            })
            .collect()
    }
}

fn link_href(body: &str, rel: &str) -> Option<String> {
    let document = roxmltree::Document::parse(body).unwrap();
    document
        .descendants()
        .find(|node| node.tag_name().name() == "link" && node.attribute("rel") == Some(rel))
        .and_then(|node| node.attribute("href"))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_feeds_page_cache_validate_write_files_and_ping_the_hub() {
    let server = crate::support::FixtureServer::start().await;
    server.set("/kyiv.xml", crate::support::Fixture::rss(kyiv_feed(7)));
    let hub = FakeHub::start().await;
    let feeds = format!("[[feeds]]\nurl = \"{}\"\n", server.url("/kyiv.xml"));
    let mut config = crate::support::config_with_shipped_topics(&feeds, "1s");
    // Behind a reverse proxy: self links must name the public address, not the listener.
    config = config.replacen(
        "[settings]\n",
        &format!(
            "[settings]\npublic_url = \"https://proxy.example/news/\"\nwebsub_hub = \"{}\"\n",
            hub.url
        ),
        1,
    );
    let workspace = crate::support::Workspace::new(&config);
    let daemon = workspace.start_daemon().await;
    let full = crate::support::wait_for(Duration::from_secs(30), || async {
        let entries = daemon.entries("/feeds/ukraine.atom").await;
        (entries.len() == 7).then_some(entries)
    })
    .await
    .unwrap_or_else(|| panic!("no entries; log:\n{}", daemon.log_text()));

    // Paging: follow rel="next" (public address swapped for the test's) until it ends.
    let mut paged = Vec::new();
    let mut path = "/feeds/ukraine.atom?limit=3".to_string();
    for _ in 0..5 {
        let (status, body) = daemon.get(&path).await.unwrap();
        assert_eq!(status, 200, "{path}");
        let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
        assert!(feed.entries.len() <= 3);
        paged.extend(feed.entries.into_iter().map(|entry| entry.id));
        let self_link = link_href(&body, "self").unwrap();
        assert!(
            self_link.starts_with("https://proxy.example/news/feeds/ukraine.atom"),
            "{self_link}"
        );
        match link_href(&body, "next") {
            Some(next) => {
                path = next
                    .strip_prefix("https://proxy.example/news")
                    .unwrap()
                    .to_string();
            }
            None => break,
        }
    }
    let ids: Vec<String> = full.iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(paged, ids, "pages must walk every entry once, newest first");

    // Validators, and a poll that brings nothing new keeps them.
    let client = tidings::fetch::build_client(Duration::from_secs(10)).unwrap();
    let url = format!("{}/feeds/ukraine.atom", daemon.base);
    let first = client.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(first.headers()["cache-control"], "public, max-age=60");
    let body = first.text().await.unwrap();
    assert_eq!(link_href(&body, "hub").as_deref(), Some(hub.url.as_str()));
    // A new document with the same items (a comment added): re-read and re-rendered, same ETag.
    server.set(
        "/kyiv.xml",
        crate::support::Fixture::rss(format!("{}<!-- rebuilt -->", kyiv_feed(7))),
    );
    let polls = server.counts("/kyiv.xml").0;
    crate::support::wait_for(Duration::from_secs(30), || async {
        (server.counts("/kyiv.xml").0 >= polls + 2).then_some(())
    })
    .await
    .unwrap();
    let again = client.get(&url).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    for (name, value) in [
        ("if-none-match", &etag),
        ("if-modified-since", &last_modified),
    ] {
        let response = client.get(&url).header(name, value).send().await.unwrap();
        assert_eq!(response.status(), 304, "{name}");
    }
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);

    // The public file is what is served.
    let public = workspace.data_path().join("public");
    let file = crate::support::wait_for(Duration::from_secs(10), || async {
        std::fs::read_to_string(public.join("ukraine.atom"))
            .ok()
            .filter(|text| *text == body)
    })
    .await;
    assert!(
        file.is_some(),
        "data/public/ukraine.atom is not the served feed"
    );
    for name in [
        "all.rss",
        "all.json",
        "ukraine.rss",
        "ukraine.json",
        "north-korea.atom",
    ] {
        assert!(public.join(name).exists(), "{name}");
    }
    let hub_url = "https://proxy.example/news/feeds/ukraine.atom".to_string();
    let pings = crate::support::wait_for(Duration::from_secs(10), || async {
        let pinged = hub.pinged();
        pinged.contains(&hub_url).then_some(pinged)
    })
    .await
    .unwrap_or_else(|| panic!("the hub was never told; log:\n{}", daemon.log_text()));
    let ukraine_pings = pings.iter().filter(|url| **url == hub_url).count();

    // Something new: a new ETag, a rewritten file and another ping.
    server.set("/kyiv.xml", crate::support::Fixture::rss(kyiv_feed(8)));
    let changed = crate::support::wait_for(Duration::from_secs(30), || async {
        let response = client
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
    assert!(changed.is_some(), "the new item never changed the ETag");
    let pinged_again = crate::support::wait_for(Duration::from_secs(10), || async {
        let count = hub.pinged().iter().filter(|url| **url == hub_url).count();
        (count > ukraine_pings).then_some(())
    })
    .await;
    assert!(pinged_again.is_some(), "no ping for the change");
    let text = std::fs::read_to_string(public.join("ukraine.rss")).unwrap();
    assert!(text.contains("Kyiv report number 8"), "{text}");
    // The index shows the newest headline, the count and a subscribe link per format.
    let (status, index) = daemon.get("/").await.unwrap();
    assert_eq!(status, 200);
    assert!(index.contains("Kyiv report number 8"), "{index}");
    assert!(index.contains("<td class=\"num\">8</td>"), "{index}");
    for format in ["atom", "rss", "json"] {
        let link = format!("href=\"https://proxy.example/news/feeds/ukraine.{format}\"");
        assert!(index.contains(&link), "{link}: {index}");
    }
    assert!(!index.contains("<script"), "{index}");
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_is_tidings_own_output_is_refused() {
    use tidings::publish::{Format, OutputFeed, render};
    let server = crate::support::FixtureServer::start().await;
    let mut feeds = String::new();
    for format in Format::ALL {
        let path = format!("/feeds/ukraine.{}", format.extension());
        let output = OutputFeed::new(
            "ukraine",
            "Ukraine",
            &format!("http://{}", server.address),
            Vec::new(),
        );
        let body = render(&output, format).unwrap().body;
        server.set(
            &path,
            crate::support::Fixture::raw(200, format.content_type(), body),
        );
        feeds.push_str(&format!("[[feeds]]\nurl = \"{}\"\n", server.url(&path)));
    }
    let workspace =
        crate::support::Workspace::new(&crate::support::config_with_shipped_topics(&feeds, "1m"));
    workspace.poll().await;
    let status = workspace.status().await;
    assert_eq!(status.len(), 3);
    for row in status {
        let error = row["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("tidings' own output"), "{row}");
        assert_eq!(row["items"], 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opml_imports_into_feeds_toml_keeping_comments_and_exports_back() {
    let config = "# my feeds\n[settings]\ninterval = \"15m\" # often enough\n\n\
                  [[feeds]]\nurl = \"https://a.example/feed\" # the first\n\n\
                  [[topics]]\nname = \"ukraine\"\nany = [\"kyiv\"]\n";
    let workspace = crate::support::Workspace::new(config);
    let opml = workspace.directory.path().join("subscriptions.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
        <outline text="News"><outline text="B" type="rss" xmlUrl="https://b.example/rss"/>
        <outline text="A again" type="rss" xmlUrl="https://a.example/feed"/></outline>
        </body></opml>"#,
    )
    .unwrap();
    let output = workspace
        .command(&["import-opml", opml.to_str().unwrap()])
        .await;
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("1 added, 1 already there"), "{printed}");
    let text = std::fs::read_to_string(workspace.config_path()).unwrap();
    for kept in ["# my feeds", "# often enough", "# the first"] {
        assert!(text.contains(kept), "{kept} lost:\n{text}");
    }
    assert!(
        text.find("https://b.example/rss").unwrap() < text.find("[[topics]]").unwrap(),
        "{text}"
    );
    assert_eq!(workspace.command(&["check"]).await.status.code(), Some(0));
    let again = workspace
        .command(&["import-opml", opml.to_str().unwrap()])
        .await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to add"));
    assert_eq!(
        std::fs::read_to_string(workspace.config_path()).unwrap(),
        text
    );

    let export = workspace.command(&["export-opml"]).await;
    assert_eq!(export.status.code(), Some(0));
    let exported = String::from_utf8(export.stdout).unwrap();
    let document = roxmltree::Document::parse(&exported).unwrap();
    assert_eq!(document.root_element().attribute("version"), Some("2.0"));
    let urls: Vec<&str> = document
        .descendants()
        .filter_map(|node| node.attribute("xmlUrl"))
        .collect();
    assert_eq!(urls, ["https://a.example/feed", "https://b.example/rss"]);
}
