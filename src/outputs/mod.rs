//! The published outputs: rendered feed pages cached until the store changes (shared by
//! `serve` and the public files), `data/public/{topic}.{atom,rss,json}` replaced atomically
//! when a feed changes (`files.rs`), and WebSub hubs told about it (`websub.rs`).
//!
//! Owns when feeds are rendered and where they go. Reads the store, renders with `publish`;
//! never writes the store. Knows nothing of axum.

mod files;
mod websub;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::ALL_TOPIC;
use crate::model::Cursor;
use crate::publish::{self, Format, OutputFeed, PublishError, Rendered};
use crate::store::{Grouping, Store, StoreError};
use crate::topics::TopicSet;

pub use files::PUBLIC_DIR;

/// Pages kept rendered at most; past this the oldest-generation pages are dropped.
const CACHE_PAGES: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum OutputsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Which page of which feed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PageKey {
    slug: String,
    format: Format,
    limit: usize,
    before: Option<Cursor>,
}

struct Cached {
    /// The store's generation when the page was last checked against it.
    generation: u64,
    rendered: Arc<Rendered>,
}

/// Renders feed pages, at most once per change of the store.
pub struct Outputs {
    store: Store,
    /// Replaced when a reload of `feeds.toml` changes the topics (`set_topics`).
    topics: RwLock<Arc<TopicSet>>,
    /// One entry per story (`settings.group_stories`), else one per item.
    grouping: Grouping,
    public_url: String,
    hub: Option<String>,
    cache: Mutex<HashMap<PageKey, Cached>>,
    /// How long a client may keep a copy without asking again.
    max_age: Duration,
}

impl Outputs {
    /// `max_age` is how long a client may keep a copy without asking again.
    pub fn new(
        store: Store,
        topics: Arc<TopicSet>,
        grouping: Grouping,
        public_url: String,
        hub: Option<String>,
        max_age: Duration,
    ) -> Outputs {
        Outputs {
            store,
            topics: RwLock::new(topics),
            grouping,
            public_url,
            hub,
            cache: Mutex::new(HashMap::new()),
            max_age,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The topics in force now.
    pub fn topics(&self) -> Arc<TopicSet> {
        match self.topics.read() {
            Ok(topics) => Arc::clone(&topics),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps the topics after a reload; the store's re-matching changes its generation, which
    /// retires the cached pages.
    pub fn set_topics(&self, topics: Arc<TopicSet>) {
        match self.topics.write() {
            Ok(mut current) => *current = topics,
            Err(poisoned) => *poisoned.into_inner() = topics,
        }
    }

    /// `all` and every topic, with their titles, in the config's order.
    pub fn feeds(&self) -> Vec<(String, String)> {
        let mut feeds = vec![(ALL_TOPIC.to_string(), "All sources".to_string())];
        feeds.extend(
            self.topics()
                .topics()
                .map(|(slug, title)| (slug.to_string(), title.to_string())),
        );
        feeds
    }

    /// The title of `slug`, or `None` when no such feed exists.
    pub fn title(&self, slug: &str) -> Option<String> {
        if slug == ALL_TOPIC {
            return Some("All sources".to_string());
        }
        self.topics()
            .topics()
            .find(|(known, _)| known.as_str() == slug)
            .map(|(_, title)| title.to_string())
    }

    /// The page when it is cached and the store has not changed since: no database, no
    /// rendering, so a caller on an async thread may ask this first and go to `page` (on the
    /// blocking pool) only when it answers `None`.
    pub fn fresh_page(
        &self,
        slug: &str,
        format: Format,
        limit: usize,
        before: Option<Cursor>,
    ) -> Option<Arc<Rendered>> {
        let key = PageKey {
            slug: slug.to_string(),
            format,
            limit,
            before,
        };
        let generation = self.store.generation();
        self.lock_cache()
            .get(&key)
            .filter(|cached| cached.generation == generation)
            .map(|cached| Arc::clone(&cached.rendered))
    }

    /// One page of a feed, from the cache while the store has not changed since it was
    /// rendered; `None` for an unknown feed. Blocking (it may query the store).
    pub fn page(
        &self,
        slug: &str,
        format: Format,
        limit: usize,
        before: Option<Cursor>,
    ) -> Result<Option<Arc<Rendered>>, OutputsError> {
        let Some(title) = self.title(slug) else {
            return Ok(None);
        };
        // Read before the query: a write that lands during it makes the next request check
        // again, never the reverse.
        let generation = self.store.generation();
        if let Some(page) = self.fresh_page(slug, format, limit, before) {
            return Ok(Some(page));
        }
        let key = PageKey {
            slug: slug.to_string(),
            format,
            limit,
            before,
        };
        let topic = (slug != ALL_TOPIC).then_some(slug);
        let (entries, next) = self
            .store
            .entries_page(topic, before, limit, self.grouping)?;
        let feed = OutputFeed {
            slug: slug.to_string(),
            title,
            public_url: self.public_url.clone(),
            entries,
            limit,
            before,
            next,
            hub: self.hub.clone(),
        };
        let rendered = publish::render(&feed, format)?;
        let mut cache = self.lock_cache();
        let rendered = match cache.get(&key) {
            // Nothing that a subscriber sees changed: keep the very same page.
            Some(cached) if cached.rendered.etag == rendered.etag => Arc::clone(&cached.rendered),
            _ => Arc::new(rendered),
        };
        if cache.len() >= CACHE_PAGES && !cache.contains_key(&key) {
            cache.retain(|_, cached| cached.generation == generation);
            if cache.len() >= CACHE_PAGES {
                cache.clear();
            }
        }
        cache.insert(
            key,
            Cached {
                generation,
                rendered: Arc::clone(&rendered),
            },
        );
        Ok(Some(rendered))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<PageKey, Cached>> {
        // A panic while holding the lock leaves at worst a stale cache entry, which the
        // generation check replaces; the cache is never a reason to fail a request.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes every feed's first page in every format to `data_dir/public`, replacing only the
    /// files whose content changed, and tells the WebSub hub about the feeds that changed.
    /// Returns the addresses of the feeds that changed. Blocking (files and store).
    pub fn publish_files(&self, data_dir: &Path) -> Result<Vec<String>, OutputsError> {
        files::write_all(self, &data_dir.join(PUBLIC_DIR))
    }

    /// The hub to tell about changes, if any.
    pub fn hub(&self) -> Option<&str> {
        self.hub.as_deref()
    }
}

/// Writes the public files now and then every time the store changes, until `shutdown`; pings
/// the WebSub hub for every feed whose content changed.
pub async fn run_publisher(
    outputs: Arc<Outputs>,
    data_dir: PathBuf,
    client: reqwest::Client,
    shutdown: CancellationToken,
) {
    let mut changes = outputs.store().subscribe();
    loop {
        let pass_outputs = Arc::clone(&outputs);
        let directory = data_dir.clone();
        let changed =
            tokio::task::spawn_blocking(move || pass_outputs.publish_files(&directory)).await;
        match changed {
            Ok(Ok(changed)) => {
                if !changed.is_empty() {
                    info!(feeds = changed.len(), "published feeds changed");
                    // A slow hub must not hold up the next files.
                    let outputs = Arc::clone(&outputs);
                    let client = client.clone();
                    tokio::spawn(async move { notify_hub(&outputs, &client, &changed).await });
                }
            }
            Ok(Err(error)) => warn!(error = %error, "cannot write the public feed files"),
            Err(error) => warn!(error = %error, "the publishing task ended abnormally"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        // Polls that finish together are written together: let a burst settle first.
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        changes.mark_unchanged();
    }
}

/// Tells the hub (when there is one) that `feeds` changed; failures are logged, never fatal.
pub async fn notify_hub(outputs: &Outputs, client: &reqwest::Client, feeds: &[String]) {
    let Some(hub) = outputs.hub() else {
        return;
    };
    for feed in feeds {
        match websub::publish(client, hub, feed).await {
            Ok(()) => info!(hub, feed = %feed, "WebSub hub notified"),
            Err(error) => warn!(hub, feed = %feed, error = %error, "cannot notify the WebSub hub"),
        }
    }
}

#[cfg(test)]
mod tests;
