//! Fills a data directory with N items for the serving benchmark (`benches/serve_load.py`):
//! `FEEDS` feeds under `http://127.0.0.1:9/feed-K.xml` (a port nothing listens on), items
//! spread over them, a third mentioning Kyiv so the shipped `ukraine` topic has a large share,
//! then the stored items matched with the shipped topics (which also records their
//! fingerprint, so the daemon does not re-match at start).
//!
//! Usage: fill_store DATA_DIR FEEDS_TOML ITEMS FEEDS

use std::path::Path;

use chrono::{TimeZone, Utc};
use tidings::config;
use tidings::model::{FeedMeta, Item, ItemKey};
use tidings::store::{FetchState, FetchedItems, PollRecord, Store};
use tidings::topics::TopicSet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    let [_, data, config_path, items, feeds] = arguments.as_slice() else {
        return Err("usage: fill_store DATA_DIR FEEDS_TOML ITEMS FEEDS".into());
    };
    let items: usize = items.parse()?;
    let feeds: usize = feeds.parse()?;
    let config = config::load(Path::new(config_path))?;
    let topics = TopicSet::compile(&config.topics);
    let store = Store::open(Path::new(data))?;
    let urls: Vec<String> = (0..feeds)
        .map(|feed| format!("http://127.0.0.1:9/feed-{feed}.xml"))
        .collect();
    let listed: Vec<(&str, Option<&str>)> = urls.iter().map(|url| (url.as_str(), None)).collect();
    let rows = store.sync_feeds(&listed)?;
    let per_feed = items.div_ceil(feeds);
    let start = Utc
        .timestamp_opt(1_700_000_000, 0)
        .single()
        .ok_or("bad time")?;
    for (index, row) in rows.iter().enumerate() {
        let batch: Vec<(Item, Option<Vec<_>>)> = (0..per_feed)
            .map(|number| {
                let serial = index * per_feed + number;
                let title = if serial.is_multiple_of(3) {
                    format!("Kyiv briefing {serial}: what happened overnight")
                } else {
                    format!("Market report {serial}: shares close mixed")
                };
                let summary = format!(
                    "<p>Story {serial} of the benchmark, with <a href=\"https://news.example/{serial}\">a link</a> and some text to make the entry a realistic size for a feed reader.</p>"
                );
                let mut item = Item {
                    key: ItemKey::Guid(format!("bench-{serial}")),
                    guid: Some(format!("bench-{serial}")),
                    link: Some(format!("https://news.example/{serial}")),
                    title: title.clone(),
                    summary: Some(summary.clone()),
                    content: None,
                    author: Some("Bench Reporter".into()),
                    published: Some(start + chrono::Duration::seconds(serial as i64 * 37)),
                    updated: None,
                    match_text: tidings::normalize::match_text(&title, Some(&summary), None),
                    content_hash: format!("h{serial}"),
                    link_key: None,
                    story: None,
                };
                tidings::normalize::add_comparison_keys(&mut item);
                let matches = topics.match_text(&item.match_text);
                (item, Some(matches))
            })
            .collect();
        store.record_poll(&PollRecord {
            feed_id: row.id,
            state: FetchState {
                last_attempt: Some(Utc::now()),
                last_success: Some(Utc::now()),
                ..FetchState::default()
            },
            fetched: Some(FetchedItems {
                meta: FeedMeta {
                    title: Some(format!("Bench feed {index}")),
                    site_link: None,
                },
                items: batch,
                raw: None,
            }),
        })?;
    }
    store.rematch_if_changed(topics.fingerprint(), |stored| {
        topics.match_text(&tidings::normalize::match_text(
            stored.title,
            stored.summary,
            stored.content,
        ))
    })?;
    let counts = store.topic_counts()?;
    println!(
        "{} items in {feeds} feeds; per topic: {counts:?}",
        per_feed * feeds
    );
    Ok(())
}
