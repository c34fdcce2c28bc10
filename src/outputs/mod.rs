//! The published outputs: rendered feed pages cached until the store changes (shared by
//! `serve` and the public files), `data/public/{topic}.{atom,rss,json}` replaced atomically
//! when a feed changes (`files.rs`), and WebSub hubs told about it (`websub.rs`).
//!
//! Owns when feeds are rendered and where they go. Reads the store, renders with `publish`;
//! never writes the store. Knows nothing of axum.

mod files;
mod page;
mod websub;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::ALL_TOPIC;
use crate::model::{Cursor, OutputEntry};
use crate::publish::{self, Format, OutputFeed, PublishError};
use crate::store::{Grouping, Store, StoreError};
use crate::topics::TopicSet;

pub use files::PUBLIC_DIR;
pub use page::{Encoding, Page};

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
    #[error("a publishing task did not finish: {0}")]
    Task(String),
}

/// Which page of a feed (the feed's slug is the outer key of the cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Variant {
    format: Format,
    limit: usize,
    before: Option<Cursor>,
}

struct Cached {
    /// The store's generation when the page was last checked against it; moved on in place
    /// when a re-render gives the same bytes.
    generation: AtomicU64,
    page: Arc<Page>,
}

/// The cached pages by feed slug, then page. Replaced whole (copy on write) when a page is
/// rendered, which happens once per change of the store; read without a lock.
type Pages = HashMap<String, HashMap<Variant, Arc<Cached>>>;

/// Renders feed pages, at most once per change of the store.
pub struct Outputs {
    store: Store,
    /// Replaced when a reload of `feeds.toml` changes the topics (`set_topics`).
    topics: RwLock<Arc<TopicSet>>,
    /// One entry per story (`settings.group_stories`), else one per item.
    grouping: Grouping,
    public_url: String,
    hub: Option<String>,
    cache: ArcSwap<Pages>,
    /// Held while the cache is replaced, so that two renders finishing together do not lose
    /// one another's page.
    cache_writer: Mutex<()>,
    /// The least `Last-Modified` a page without history may have: the time this process
    /// started, raised to the `Last-Modified` of every page dropped from the cache, so that a
    /// page rendered again never goes back behind what a client was already told.
    floor: RwLock<DateTime<Utc>>,
    /// How long a client may keep a copy without asking again.
    max_age: Duration,
    /// `Cache-Control` for the feeds, from `max_age`.
    cache_control: String,
    /// The entries of the last page read from the store: the other formats of the same page,
    /// rendered next (the public files, a reader asking for Atom then RSS), reuse them while
    /// the store has not changed, instead of running the same query again.
    last_entries: Mutex<Option<Arc<LastEntries>>>,
}

/// One page's entries as the store gave them, and what they were read for.
struct LastEntries {
    generation: u64,
    slug: String,
    limit: usize,
    before: Option<Cursor>,
    entries: Vec<OutputEntry>,
    next: Option<Cursor>,
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
            cache: ArcSwap::from_pointee(Pages::new()),
            cache_writer: Mutex::new(()),
            last_entries: Mutex::new(None),
            floor: RwLock::new(whole_seconds(Utc::now())),
            max_age,
            cache_control: format!("public, max-age={}", max_age.as_secs()),
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

    /// The `Cache-Control` value of a feed: public, with `max_age`.
    pub fn cache_control(&self) -> &str {
        &self.cache_control
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
    /// rendering, no lock and no allocation, so a caller on an async thread may ask this first
    /// and go to `page` (on the blocking pool) only when it answers `None`.
    pub fn fresh_page(
        &self,
        slug: &str,
        format: Format,
        limit: usize,
        before: Option<Cursor>,
    ) -> Option<Arc<Page>> {
        let generation = self.store.generation();
        let pages = self.cache.load();
        let cached = pages.get(slug)?.get(&Variant {
            format,
            limit,
            before,
        })?;
        (cached.generation.load(Ordering::Acquire) == generation).then(|| Arc::clone(&cached.page))
    }

    /// One page of a feed, from the cache while the store has not changed since it was
    /// rendered; `None` for an unknown feed. Blocking (it may query the store).
    ///
    /// A re-render that gives the same bytes keeps the very same page (and its validators).
    /// One that gives other bytes gets a `Last-Modified` later than the page it replaces:
    /// its newest entry's time when that is later, else now.
    /// A page's entries: those just read for another format of the same page when the store
    /// has not changed since (`generation`), else read from the store.
    fn entries(
        &self,
        generation: u64,
        slug: &str,
        limit: usize,
        before: Option<Cursor>,
    ) -> Result<(Vec<OutputEntry>, Option<Cursor>), OutputsError> {
        let last = self
            .last_entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(last) = last.filter(|last| {
            last.generation == generation
                && last.slug == slug
                && last.limit == limit
                && last.before == before
        }) {
            return Ok((last.entries.clone(), last.next));
        }
        let topic = (slug != ALL_TOPIC).then_some(slug);
        let (entries, next) = self
            .store
            .entries_page(topic, before, limit, self.grouping)?;
        *self
            .last_entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(LastEntries {
            generation,
            slug: slug.to_string(),
            limit,
            before,
            entries: entries.clone(),
            next,
        }));
        Ok((entries, next))
    }

    pub fn page(
        &self,
        slug: &str,
        format: Format,
        limit: usize,
        before: Option<Cursor>,
    ) -> Result<Option<Arc<Page>>, OutputsError> {
        Ok(self
            .pages(slug, &[format], limit, before)?
            .and_then(|pages| pages.into_iter().next()))
    }

    /// The same page of a feed in each of `formats` (as `page` gives them), its entries read
    /// from the store at most once for all of them. `None` for an unknown feed.
    pub fn pages(
        &self,
        slug: &str,
        formats: &[Format],
        limit: usize,
        before: Option<Cursor>,
    ) -> Result<Option<Vec<Arc<Page>>>, OutputsError> {
        let Some(title) = self.title(slug) else {
            return Ok(None);
        };
        // Read before the query: a write that lands during it makes the next request check
        // again, never the reverse.
        let generation = self.store.generation();
        // The formats sanitize the same bodies: each once.
        publish::sanitize::remembering(|| {
            self.render_pages(generation, slug, title, formats, limit, before)
        })
        .map(Some)
    }

    fn render_pages(
        &self,
        generation: u64,
        slug: &str,
        title: String,
        formats: &[Format],
        limit: usize,
        before: Option<Cursor>,
    ) -> Result<Vec<Arc<Page>>, OutputsError> {
        let mut feed: Option<OutputFeed> = None;
        let mut pages = Vec::with_capacity(formats.len());
        for &format in formats {
            if let Some(page) = self.fresh_page(slug, format, limit, before) {
                pages.push(page);
                continue;
            }
            if feed.is_none() {
                let (entries, next) = self.entries(generation, slug, limit, before)?;
                feed = Some(OutputFeed {
                    slug: slug.to_string(),
                    title: title.clone(),
                    public_url: self.public_url.clone(),
                    entries,
                    limit,
                    before,
                    next,
                    hub: self.hub.clone(),
                });
            }
            let Some(feed) = feed.as_ref() else {
                continue;
            };
            let rendered = publish::render(feed, format)?;
            let variant = Variant {
                format,
                limit,
                before,
            };
            pages.push(self.keep(slug, variant, generation, rendered));
        }
        Ok(pages)
    }

    /// The page to serve for `rendered`, just rendered from the store as of `generation`, and
    /// kept in the cache.
    fn keep(
        &self,
        slug: &str,
        variant: Variant,
        generation: u64,
        rendered: publish::Rendered,
    ) -> Arc<Page> {
        let _writer = self
            .cache_writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pages = self.cache.load_full();
        let previous = pages
            .get(slug)
            .and_then(|variants| variants.get(&variant))
            .cloned();
        let page = match &previous {
            // Rendered from a later state by another request meanwhile: that one stands.
            Some(cached) if cached.generation.load(Ordering::Acquire) > generation => {
                return Arc::clone(&cached.page);
            }
            // Nothing that a subscriber sees changed: keep the very same page.
            Some(cached) if cached.page.rendered.etag == rendered.etag => {
                cached.generation.store(generation, Ordering::Release);
                return Arc::clone(&cached.page);
            }
            Some(cached) => {
                let last_modified = later_than(rendered.last_modified, cached.page.last_modified);
                Arc::new(Page::new(rendered, last_modified))
            }
            None => {
                let floor = *self
                    .floor
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let last_modified = whole_seconds(rendered.last_modified).max(floor);
                Arc::new(Page::new(rendered, last_modified))
            }
        };
        let mut pages = Pages::clone(&pages);
        let count: usize = pages.values().map(HashMap::len).sum();
        if count >= CACHE_PAGES && previous.is_none() {
            let current = self.store.generation();
            let mut dropped = Vec::new();
            for variants in pages.values_mut() {
                variants.retain(|_, cached| {
                    let keep = cached.generation.load(Ordering::Acquire) == current;
                    if !keep {
                        dropped.push(cached.page.last_modified);
                    }
                    keep
                });
            }
            if pages.values().map(HashMap::len).sum::<usize>() >= CACHE_PAGES {
                dropped.extend(
                    pages
                        .values()
                        .flat_map(HashMap::values)
                        .map(|cached| cached.page.last_modified),
                );
                pages.clear();
            }
            pages.retain(|_, variants| !variants.is_empty());
            if let Some(latest) = dropped.into_iter().max() {
                let mut floor = self
                    .floor
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *floor = (*floor).max(latest);
            }
        }
        pages.entry(slug.to_string()).or_default().insert(
            variant,
            Arc::new(Cached {
                generation: AtomicU64::new(generation),
                page: Arc::clone(&page),
            }),
        );
        self.cache.store(Arc::new(pages));
        page
    }

    /// Writes every feed's first page in every format to `data_dir/public`, replacing only the
    /// files whose content changed, and tells the WebSub hub about the feeds that changed.
    /// Returns the addresses of the feeds that changed. Blocking (files and store).
    pub fn publish_files(&self, data_dir: &Path) -> Result<Vec<String>, OutputsError> {
        files::write_all(self, &data_dir.join(PUBLIC_DIR))
    }

    /// `publish_files` with the feeds written side by side on the blocking pool, one task per
    /// core taking the next feed: while one feed's entries are read (the store has one reader
    /// connection), another's are rendered, sanitized and synced to disk. The same files and
    /// the same addresses, in the same order.
    pub async fn publish_files_concurrently(
        self: &Arc<Self>,
        data_dir: &Path,
    ) -> Result<Vec<String>, OutputsError> {
        let directory = Arc::new(data_dir.join(PUBLIC_DIR));
        let feeds: Arc<Vec<String>> =
            Arc::new(self.feeds().into_iter().map(|(slug, _)| slug).collect());
        let workers = std::thread::available_parallelism()
            .map_or(2, usize::from)
            .min(feeds.len());
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let outputs = Arc::clone(self);
                let directory = Arc::clone(&directory);
                let feeds = Arc::clone(&feeds);
                let next = Arc::clone(&next);
                tokio::task::spawn_blocking(move || {
                    files::create_directory(&directory)?;
                    let mut changed = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slug) = feeds.get(index) else {
                            return Ok::<_, OutputsError>(changed);
                        };
                        changed.push((index, files::write_feed(&outputs, &directory, slug)?));
                    }
                })
            })
            .collect();
        let mut changed = Vec::new();
        for task in tasks {
            let written = task
                .await
                .map_err(|error| OutputsError::Task(error.to_string()))??;
            changed.extend(written);
        }
        changed.sort_by_key(|(index, _)| *index);
        Ok(changed.into_iter().flat_map(|(_, urls)| urls).collect())
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
        match outputs.publish_files_concurrently(&data_dir).await {
            Ok(changed) => {
                if !changed.is_empty() {
                    info!(feeds = changed.len(), "published feeds changed");
                    // A slow hub must not hold up the next files.
                    let outputs = Arc::clone(&outputs);
                    let client = client.clone();
                    tokio::spawn(async move { notify_hub(&outputs, &client, &changed).await });
                }
            }
            Err(error) => warn!(error = %error, "cannot write the public feed files"),
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

/// `Last-Modified` for new content replacing content last modified at `previous`: the new
/// content's own time when it is later, else now (whole seconds, as HTTP dates have them), and
/// in any case at least a second after `previous`, so that `If-Modified-Since: previous` sees
/// the change.
fn later_than(own: DateTime<Utc>, previous: DateTime<Utc>) -> DateTime<Utc> {
    let own = whole_seconds(own);
    if own > previous {
        return own;
    }
    whole_seconds(Utc::now()).max(previous + TimeDelta::seconds(1))
}

fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::seconds(1)).unwrap_or(time)
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
