//! Test support: a fixture HTTP server, the real binary in a temporary workspace, and the
//! way to `../shared`.

pub mod feedparser;
pub mod fixture_server;
pub mod shared;
pub mod tidings;

pub use fixture_server::{Fixture, FixtureServer};
pub use shared::shared_file;
pub use tidings::{Workspace, wait_for};

/// The corpus of `../shared`: its manifest's path and the files it lists, in order; `None`
/// (the test skips, or fails under `TIDINGS_REQUIRE_SHARED`) when it is missing.
pub fn corpus_listing() -> Option<(std::path::PathBuf, Vec<String>)> {
    let manifest = shared_file("corpus/MANIFEST.tsv")?;
    let files = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next().map(str::to_string))
        .filter(|file| !file.is_empty())
        .collect();
    Some((manifest, files))
}

/// Records one poll of `feed_id` that brought `items` (matched against `topics`), the way the
/// pipeline would after a download.
pub fn record_document(
    store: &::tidings::store::Store,
    feed_id: ::tidings::model::FeedId,
    meta: ::tidings::model::FeedMeta,
    items: Vec<::tidings::model::Item>,
    topics: &::tidings::topics::TopicSet,
) -> Result<::tidings::store::PollSummary, ::tidings::store::StoreError> {
    let matched = items
        .into_iter()
        .map(|item| {
            let matches = topics.match_text(&item.match_text);
            (item, Some(matches))
        })
        .collect();
    store.record_poll(&::tidings::store::PollRecord {
        feed_id,
        state: ::tidings::store::FetchState {
            last_attempt: Some(chrono::Utc::now()),
            ..::tidings::store::FetchState::default()
        },
        fetched: Some(::tidings::store::FetchedItems {
            meta,
            items: matched,
            raw: None,
        }),
    })
}

/// The repository's shipped `feeds.toml`, loaded.
pub fn shipped_loaded() -> ::tidings::config::Config {
    ::tidings::config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/feeds.toml"
    )))
    .unwrap()
}

/// The repository's shipped `feeds.toml`.
pub fn shipped_config() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/feeds.toml")).unwrap()
}

/// A config with the shipped topics and settings, but with `feeds` (TOML `[[feeds]]` blocks)
/// instead of the shipped sources, polled every `interval`.
pub fn config_with_shipped_topics(feeds: &str, interval: &str) -> String {
    let mut shipped: toml::Table = toml::from_str(&shipped_config()).unwrap();
    shipped.remove("feeds");
    let settings = shipped
        .get_mut("settings")
        .and_then(|settings| settings.as_table_mut())
        .unwrap();
    settings.insert("interval".into(), toml::Value::String(interval.into()));
    settings.insert("min_interval".into(), toml::Value::String("100ms".into()));
    settings.insert("timeout".into(), toml::Value::String("5s".into()));
    format!("{feeds}\n{}", toml::to_string(&shipped).unwrap())
}

/// Escapes text for an XML fixture.
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An RSS 2.0 document with the given `<item>` bodies.
pub fn rss(title: &str, items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{}</title><link>https://example.test/</link><description>test</description>\n{}\n\
         </channel></rss>\n",
        xml_escape(title),
        items
            .iter()
            .map(|item| format!("<item>{item}</item>"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}
