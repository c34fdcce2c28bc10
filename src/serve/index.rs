//! `/`: a small HTML page, no JavaScript: every topic with its item count and subscribe link,
//! feed autodiscovery links in the head, and every source with its health.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Html;
use html_escape::{encode_double_quoted_attribute as attribute, encode_text as text};

use super::{AppState, ServeError, blocking};
use crate::config::ALL_TOPIC;

pub async fn index(State(state): State<AppState>) -> Result<Html<String>, ServeError> {
    let store = state.store.clone();
    let (counts, feeds) = blocking(move || {
        let counts = store
            .topic_counts()
            .map_err(|error| ServeError::Internal(error.to_string()))?;
        let feeds = store
            .feed_rows()
            .map_err(|error| ServeError::Internal(error.to_string()))?;
        Ok((counts, feeds))
    })
    .await?;
    let public_url = &state.public_url;
    let mut topics: Vec<(String, String, u64)> = vec![(
        ALL_TOPIC.to_string(),
        "All sources".to_string(),
        feeds
            .iter()
            .filter(|feed| feed.active)
            .map(|feed| feed.item_count)
            .sum(),
    )];
    for (slug, title) in state.live.topics().topics() {
        topics.push((
            slug.to_string(),
            title.to_string(),
            counts.get(slug.as_str()).copied().unwrap_or(0),
        ));
    }

    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>tidings</title>\n",
    );
    for (slug, title, _) in &topics {
        let _ = writeln!(
            page,
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{}\" href=\"{}\">",
            attribute(title),
            attribute(&format!("{public_url}/feeds/{slug}.atom"))
        );
    }
    page.push_str(
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;\
         padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;\
         padding:.2rem .5rem;border-bottom:1px solid #ddd}.bad{color:#a00}</style>\n\
         </head>\n<body>\n<h1>tidings</h1>\n",
    );
    if let Some(error) = state.live.config_error() {
        let _ = writeln!(
            page,
            "<p class=\"bad\" id=\"config-error\">feeds.toml was not loaded: {}. \
             tidings keeps running on the last good config.</p>",
            text(&error)
        );
    }
    page.push_str(
        "<h2>Topics</h2>\n<table>\n<tr><th>Topic</th><th>Items</th><th>Subscribe</th></tr>\n",
    );
    for (slug, title, count) in &topics {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{count}</td><td><a href=\"/feeds/{}.atom\">Atom</a></td></tr>",
            text(title),
            attribute(slug)
        );
    }
    page.push_str(
        "</table>\n<h2>Sources</h2>\n<table>\n\
         <tr><th>Source</th><th>Items</th><th>Health</th></tr>\n",
    );
    for feed in feeds.iter().filter(|feed| feed.active) {
        let health = match (&feed.state.last_error, feed.state.last_success) {
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
        let _ = writeln!(
            page,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{health}</td></tr>",
            attribute(&feed.url),
            text(feed.display_name()),
            feed.item_count
        );
    }
    page.push_str("</table>\n</body>\n</html>\n");
    Ok(Html(page))
}
