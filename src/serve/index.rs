//! `/`: a small HTML page, no JavaScript: every topic with its item count, newest headline and
//! subscribe links for each format, feed autodiscovery links in the head, and every source
//! with its health. Every value is escaped with html-escape.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Html;
use html_escape::{encode_double_quoted_attribute as attribute, encode_text as text};

use super::{AppState, ServeError, blocking};
use crate::config::ALL_TOPIC;
use crate::model::FeedId;
use crate::publish::{Format, feed_url};
use crate::store::{FeedHealth, FeedRow};

/// One row of the topics table.
struct TopicRow {
    slug: String,
    title: String,
    count: u64,
    /// The newest entry's title and link.
    newest: Option<(String, Option<String>)>,
}

pub async fn index(State(state): State<AppState>) -> Result<Html<String>, ServeError> {
    let store = state.store.clone();
    let feeds_list = state.outputs.feeds();
    let has_topics = feeds_list.len() > 1;
    let (topics, sources, health) = blocking(move || {
        let internal = |error: crate::store::StoreError| ServeError::Internal(error.to_string());
        let counts = store.topic_counts().map_err(internal)?;
        let sources = store.feed_rows().map_err(internal)?;
        // Silent failures: stale feeds and feeds whose items stopped matching.
        let health = store
            .feed_health(has_topics, chrono::Utc::now())
            .map_err(internal)?;
        let mut topics = Vec::with_capacity(feeds_list.len());
        for (slug, title) in feeds_list {
            let topic = (slug != ALL_TOPIC).then_some(slug.as_str());
            let count = match topic {
                Some(topic) => counts.get(topic).copied().unwrap_or(0),
                None => sources
                    .iter()
                    .filter(|feed| feed.active)
                    .filter_map(|feed| feed.item_count)
                    .sum(),
            };
            let newest = store
                .entries(topic, 1)
                .map_err(internal)?
                .into_iter()
                .next()
                .map(|entry| (entry.title, entry.link));
            topics.push(TopicRow {
                slug,
                title,
                count,
                newest,
            });
        }
        Ok((topics, sources, health))
    })
    .await?;
    Ok(Html(page(
        &state.public_url,
        state.live.config_error().as_deref(),
        &topics,
        &sources,
        &health,
    )))
}

fn page(
    public_url: &str,
    config_error: Option<&str>,
    topics: &[TopicRow],
    sources: &[FeedRow],
    health: &HashMap<FeedId, FeedHealth>,
) -> String {
    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>tidings</title>\n",
    );
    for topic in topics {
        for format in Format::ALL {
            let _ = writeln!(
                page,
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
                format.media_type(),
                attribute(&topic.title),
                format.label(),
                attribute(&feed_url(public_url, &topic.slug, format))
            );
        }
    }
    let _ = writeln!(
        page,
        "<link rel=\"outline\" type=\"text/x-opml\" title=\"Sources (OPML)\" href=\"{}\">",
        attribute(&format!("{public_url}/opml"))
    );
    page.push_str(
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
         padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;\
         padding:.2rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
         .bad{color:#a00}.num{text-align:right}</style>\n\
         </head>\n<body>\n<h1>tidings</h1>\n",
    );
    if let Some(error) = config_error {
        let _ = writeln!(
            page,
            "<p class=\"bad\" id=\"config-error\">feeds.toml was not loaded: {}. \
             tidings keeps running on the last good config.</p>",
            text(error)
        );
    }
    page.push_str(
        "<h2>Topics</h2>\n<table>\n\
         <tr><th>Topic</th><th class=\"num\">Items</th><th>Newest</th><th>Subscribe</th></tr>\n",
    );
    for topic in topics {
        page.push_str(&topic_row(public_url, topic));
    }
    page.push_str(
        "</table>\n<h2>Sources</h2>\n<p><a href=\"/opml\">All sources as OPML</a></p>\n<table>\n\
         <tr><th>Source</th><th class=\"num\">Items</th><th>Health</th></tr>\n",
    );
    for feed in sources.iter().filter(|feed| feed.active) {
        page.push_str(&source_row(feed, health.get(&feed.id)));
    }
    page.push_str("</table>\n</body>\n</html>\n");
    page
}

fn topic_row(public_url: &str, topic: &TopicRow) -> String {
    let newest = match &topic.newest {
        Some((title, Some(link))) => {
            format!("<a href=\"{}\">{}</a>", attribute(link), text(title))
        }
        Some((title, None)) => text(title).into_owned(),
        None => "<em>nothing yet</em>".to_string(),
    };
    let links: Vec<String> = Format::ALL
        .into_iter()
        .map(|format| {
            format!(
                "<a href=\"{}\" type=\"{}\">{}</a>",
                attribute(&feed_url(public_url, &topic.slug, format)),
                format.media_type(),
                format.label()
            )
        })
        .collect();
    format!(
        "<tr><td>{}</td><td class=\"num\">{}</td><td>{newest}</td><td>{}</td></tr>\n",
        text(&topic.title),
        topic.count,
        links.join(" · ")
    )
}

fn source_row(feed: &FeedRow, flags: Option<&FeedHealth>) -> String {
    let mut health = match (&feed.state.last_error, feed.state.last_success) {
        (Some(error), _) => format!(
            "<span class=\"bad\">failing ({} in a row): {}</span>",
            feed.state.error_streak,
            text(error)
        ),
        (None, Some(success)) => {
            format!("ok, last success {}", success.format("%Y-%m-%d %H:%M UTC"))
        }
        (None, None) => "not polled yet".to_string(),
    };
    if let Some((newest, gap)) = flags.and_then(|flags| flags.stale_since) {
        let _ = write!(
            health,
            "<br><span class=\"bad\">stale: it answers, but its newest item is from {} and it \
             usually has one every {}</span>",
            newest.format("%Y-%m-%d %H:%M UTC"),
            crate::config::format_duration(std::time::Duration::from_secs(gap.unsigned_abs()))
        );
    }
    if flags.is_some_and(|flags| flags.not_matching) {
        health.push_str(
            "<br><span class=\"bad\">not matching: its newest items match no topic any more \
             (its earlier ones did)</span>",
        );
    }
    format!(
        "<tr><td><a href=\"{}\">{}</a></td><td class=\"num\">{}</td><td>{health}</td></tr>\n",
        attribute(&feed.url),
        text(feed.display_name()),
        feed.item_count.unwrap_or_default()
    )
}
