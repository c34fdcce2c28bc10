//! `tidings run` and `tidings poll`: wiring. Opens nothing itself: it takes a `Config`, a
//! `Store`, a listener and a shutdown token, starts the scheduler, the poll workers and the
//! server, and stops them in order.
//!
//! Owns task lifetimes and shutdown. It contains no stage logic: polling is
//! `pipeline::poll_feed`, timing is `schedule`, HTTP is `serve`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, debug, info, warn};

use crate::config::watch::ReloadTrigger;
use crate::config::{self, Config, FeedConfig, Settings};
use crate::fetch::{FeedClient, FetchError, build_client};
use crate::metrics::METRICS;
use crate::model::FeedId;
use crate::outputs::{Outputs, notify_hub, run_publisher};
use crate::pipeline::{
    FetchSlot, PollContext, PollReport, PollReportOutcome, poll_feed, run_blocking,
};
use crate::schedule::{DueQueue, HostTable, host_key};
use crate::serve::{self, AppState, Live};
use crate::store::{FeedRow, Grouping, Store, StoreError};
use crate::systemd::Notifier;
use crate::topics::{ItemText, TopicSet};

/// How long in-flight polls may run on after a shutdown signal before they are abandoned.
/// Their database writes are atomic, so an abandoned poll leaves nothing half-written.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Start(#[from] crate::pipeline::StartError),
    #[error("the HTTP server failed: {0}")]
    Serve(#[from] std::io::Error),
    #[error("cannot publish the feeds: {0}")]
    Publish(String),
    #[error("no feed named \"{name}\" in {config}")]
    UnknownFeed { name: String, config: String },
    #[error("a start-up task did not finish: {0}")]
    Task(String),
}

/// Everything `poll` and `run` share: the feeds as stored, the topics, the HTTP client.
struct Prepared {
    context: PollContext,
    feeds: HashMap<FeedId, FeedConfig>,
    rows: Vec<FeedRow>,
}

/// Brings the store in line with the config (feeds added or removed, topics re-matched) and
/// builds the poll context.
async fn prepare(config: &Config, store: &Store) -> Result<Prepared, DaemonError> {
    // The topics are compiled on another thread while the store takes the feeds in: two
    // independent steps of every start (each several milliseconds with 1,000 feeds).
    let topic_configs = config.topics.clone();
    let compiling =
        tokio::task::spawn_blocking(move || Arc::new(TopicSet::compile(&topic_configs)));
    let rows = sync_configured(store, config).await;
    let topics = compiling
        .await
        .map_err(|error| DaemonError::Task(error.to_string()))?;
    let rows = rows?;
    for warning in topics.warnings() {
        warn!(
            config = %config.path.display(),
            line = warning.location.line,
            column = warning.location.column,
            topic = %warning.topic,
            "{}",
            warning.message
        );
    }
    let rematched = rematch_stored(store, &topics).await?;
    if let Some(changed) = rematched.filter(|changed| *changed > 0) {
        info!(
            items_changed = changed,
            "the topics changed: stored items were matched again"
        );
    }
    let placed = run_blocking(store, |store| {
        store.place_items_stored_before_stories(crate::normalize::comparison_keys)
    })
    .await?;
    if let Some(placed) = placed.filter(|placed| *placed > 0) {
        info!(
            items = placed,
            "items stored before story grouping were given their canonical links and stories"
        );
    }
    let feeds = rows
        .iter()
        .zip(&config.feeds)
        .map(|(row, feed)| (row.id, feed.clone()))
        .collect();
    Ok(Prepared {
        context: PollContext::new(
            FeedClient::new(config.settings.per_host, config.settings.timeout)?,
            store.clone(),
            topics,
            &config.settings,
        )?,
        feeds,
        rows,
    })
}

/// How long a subscriber may keep a feed without asking again: half the shortest poll interval
/// of any source (a feed cannot change faster than its sources are polled), at least a
/// minute, at most an hour.
pub fn feed_max_age(config: &Config) -> Duration {
    let shortest = config
        .feeds
        .iter()
        .map(|feed| feed.interval)
        .min()
        .unwrap_or(config.settings.interval);
    (shortest / 2).clamp(Duration::from_secs(60), Duration::from_secs(3600))
}

fn outputs_for(
    config: &Config,
    store: &Store,
    topics: Arc<TopicSet>,
    public_url: &str,
) -> Arc<Outputs> {
    Arc::new(Outputs::new(
        store.clone(),
        topics,
        if config.settings.group_stories {
            Grouping::Stories
        } else {
            Grouping::Links
        },
        public_url.to_string(),
        config.settings.websub_hub.clone(),
        feed_max_age(config),
    ))
}

/// After `tidings poll`: writes the public files of the feeds that changed and tells the
/// WebSub hub about them. Returns how many feed files changed.
pub async fn publish_after_poll(
    config: &Config,
    store: &Store,
    topics: &Arc<TopicSet>,
    public_url: &str,
    data_dir: &Path,
) -> Result<usize, DaemonError> {
    let outputs = outputs_for(config, store, Arc::clone(topics), public_url);
    let changed = outputs
        .publish_files_concurrently(data_dir)
        .await
        .map_err(|error| DaemonError::Publish(error.to_string()))?;
    notify_hub(&outputs, &build_client(config.settings.timeout)?, &changed).await;
    Ok(changed.len())
}

/// The host table for the feeds of a run: per-host permits, and host backoff that starts at
/// `min_interval` and is capped at `max_interval`.
fn host_table(config: &Config, rows: &[FeedRow]) -> HostTable {
    let mut hosts = HostTable::new(
        config.settings.per_host,
        config.settings.min_interval,
        config.settings.max_interval,
    );
    for row in rows {
        if let Ok(url) = url::Url::parse(row.fetch_url()) {
            hosts.add_feed(&host_key(&url), row.id);
        }
    }
    hosts
}

/// The host a feed is fetched from.
fn feed_host(row: &FeedRow) -> String {
    url::Url::parse(row.fetch_url())
        .map(|url| host_key(&url))
        .unwrap_or_default()
}

/// The daemon: polls every feed at its interval and serves the outputs on `listener` until
/// `shutdown` is cancelled, then lets in-flight polls finish (within `SHUTDOWN_GRACE`). Each
/// message on `reloads` reads `feeds.toml` again and applies the difference; a config that does
/// not check is refused, and the daemon keeps the last good one.
pub async fn run(
    config: Config,
    store: Store,
    listener: TcpListener,
    public_url: String,
    data_dir: &Path,
    shutdown: CancellationToken,
    reloads: mpsc::Receiver<ReloadTrigger>,
) -> Result<(), DaemonError> {
    let prepared = prepare(&config, &store).await?;
    let address = listener.local_addr()?;
    let live = Live::new();
    let outputs = outputs_for(
        &config,
        &store,
        Arc::clone(&prepared.context.topics),
        &public_url,
    );
    let publisher = tokio::spawn(run_publisher(
        Arc::clone(&outputs),
        data_dir.to_path_buf(),
        build_client(config.settings.timeout)?,
        shutdown.clone(),
    ));
    let server = tokio::spawn(serve::serve(
        listener,
        AppState {
            store: store.clone(),
            live: live.clone(),
            public_url,
            outputs: Arc::clone(&outputs),
        },
        shutdown.clone(),
    ));
    info!(
        address = %address,
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        "tidings is running"
    );
    let notifier = Notifier::from_env();
    notifier.ready(&format!(
        "serving on {address}; polling {} feeds, {} topics",
        config.feeds.len(),
        config.topics.len()
    ));
    let scheduler = Scheduler::new(config, prepared, store.clone(), live, outputs, notifier);
    schedule_loop(scheduler, reloads, &shutdown).await;
    match server.await {
        Ok(result) => result?,
        Err(error) => warn!(error = %error, "the HTTP server task ended abnormally"),
    }
    if let Err(error) = publisher.await {
        warn!(error = %error, "the publishing task ended abnormally");
    }
    if let Err(error) = run_blocking(&store, Store::checkpoint).await {
        warn!(error = %error, "cannot checkpoint the database at shutdown; the next start will");
    }
    info!("stopped");
    Ok(())
}

/// The daemon's view of its feeds: what to poll, when, from which host, with which state.
struct Scheduler {
    config: Config,
    store: Store,
    live: Live,
    /// The rendered output feeds, told of new topics on reload.
    outputs: Arc<Outputs>,
    context: PollContext,
    feeds: HashMap<FeedId, FeedConfig>,
    /// Each feed's latest recorded state, handed to its next poll.
    feed_rows: HashMap<FeedId, FeedRow>,
    feed_hosts: HashMap<FeedId, String>,
    hosts: HostTable,
    queue: DueQueue,
    /// The text of the config last applied by a reload, to skip a reload that changes nothing.
    last_text: Option<String>,
    /// When retention next prunes the store.
    prune_at: Instant,
    /// systemd's notify socket, when there is one.
    notifier: Notifier,
    /// When to ping systemd's watchdog next.
    watchdog_at: Instant,
}

impl Scheduler {
    fn new(
        config: Config,
        prepared: Prepared,
        store: Store,
        live: Live,
        outputs: Arc<Outputs>,
        notifier: Notifier,
    ) -> Scheduler {
        let Prepared {
            context,
            feeds,
            rows,
        } = prepared;
        let hosts = host_table(&config, &rows);
        let mut scheduler = Scheduler {
            config,
            store,
            live,
            outputs,
            context,
            feeds,
            feed_rows: HashMap::new(),
            feed_hosts: HashMap::new(),
            hosts,
            queue: DueQueue::default(),
            last_text: None,
            prune_at: Instant::now(),
            watchdog_at: Instant::now(),
            notifier,
        };
        scheduler.prune_at = Instant::now() + prune_every(scheduler.config.settings.retention);
        let now_wall = chrono::Utc::now();
        let now = Instant::now();
        for row in rows {
            scheduler.feed_hosts.insert(row.id, feed_host(&row));
            if row.state.gone_since.is_some() {
                info!(feed = %row.display_name(), url = %row.url, "gone (HTTP 410): not polled");
            } else {
                let delay = startup_delay(&row, scheduler.feeds.get(&row.id), now_wall);
                scheduler.queue.push(row.id, now + delay);
            }
            scheduler.feed_rows.insert(row.id, row);
        }
        scheduler
    }

    /// Records a finished poll: the feed's new state, its host's health, its next poll.
    fn finished(&mut self, mut report: PollReport) {
        let now = Instant::now();
        if let Some(state) = report.state.take()
            && let Some(row) = self.feed_rows.get_mut(&report.feed_id)
        {
            let moved = row.state.fetch_url != state.fetch_url;
            row.state = state;
            if moved {
                // A feed that moved may live on another host now.
                let host = feed_host(row);
                if let Some(old_host) = self.feed_hosts.insert(row.id, host.clone()) {
                    self.hosts.move_feed(row.id, &old_host, &host);
                }
            }
        }
        if let Some(host) = self.feed_hosts.get(&report.feed_id)
            && let Some(until) = self.hosts.record(host, report.feed_id, report.host, now)
        {
            warn!(
                host = %host,
                until = ?until.duration_since(now),
                "every feed of this host failed: the host backs off"
            );
        }
        if !self.feeds.contains_key(&report.feed_id) {
            // The feed left feeds.toml while it was being polled.
            return;
        }
        match (&report.outcome, report.next_poll.delay) {
            (PollReportOutcome::Gone, _) | (_, None) => {}
            (_, Some(delay)) => self.queue.push(report.feed_id, now + delay),
        }
    }

    /// Applies retention: items first seen longer ago than `settings.retention`, and items past
    /// a feed's `max_items`, leave the store unless their source still lists them.
    async fn prune(&mut self) {
        let retention = self.config.settings.retention;
        self.prune_at = Instant::now() + prune_every(retention);
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let limits: Vec<(FeedId, usize)> = self
            .feeds
            .iter()
            .filter_map(|(id, feed)| feed.max_items.map(|max| (*id, max)))
            .collect();
        match run_blocking(&self.store, move |store| store.prune(cutoff, &limits)).await {
            Ok(pruned) if pruned.expired + pruned.over_limit > 0 => {
                METRICS.pruned(pruned.expired + pruned.over_limit);
                info!(
                    expired = pruned.expired,
                    over_max_items = pruned.over_limit,
                    pages_freed = pruned.pages_freed,
                    "retention: old items pruned"
                );
            }
            Ok(_) => debug!("retention: nothing to prune"),
            Err(error) => warn!(error = %error, "retention: pruning failed; trying again later"),
        }
    }

    /// Logs why a new `feeds.toml` was refused and shows it on `/`.
    fn refuse(&self, message: &str) {
        warn!(
            error = %message,
            "feeds.toml refused: tidings keeps running on the last good config"
        );
        self.notifier.status(&format!(
            "feeds.toml refused, running on the last good config: {message}"
        ));
        self.live.set_config_error(Some(message.to_string()));
        METRICS.reload("refused");
    }

    /// Pings systemd's watchdog from the schedule loop itself, so a loop that hangs stops the
    /// pings.
    fn watchdog(&mut self) {
        if let Some(every) = self.notifier.watchdog_every() {
            self.notifier.watchdog();
            self.watchdog_at = Instant::now() + every;
        }
    }

    /// Reads `feeds.toml` again and applies the difference: new feeds are polled at once,
    /// removed ones stop being polled (their items leave the outputs), a changed interval moves
    /// the next poll, changed topics re-match the stored items. A config that does not check
    /// changes nothing.
    async fn reload(&mut self, trigger: ReloadTrigger) {
        let path = self.config.path.clone();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                self.refuse(&format!(
                    "{}: cannot read the config: {error}",
                    path.display()
                ));
                return;
            }
        };
        let new = match config::parse(&path, &text) {
            Ok(new) => new,
            Err(error) => {
                self.refuse(&error.to_string());
                return;
            }
        };
        self.live.set_config_error(None);
        if self.last_text.as_deref() == Some(text.as_str()) {
            debug!(trigger = ?trigger, "feeds.toml unchanged");
            METRICS.reload("unchanged");
            return;
        }
        match self.apply(new).await {
            Ok(()) => {
                METRICS.reload("applied");
                self.last_text = Some(text);
            }
            Err(error) => self.refuse(&format!(
                "{}: checked, but the store could not apply it: {error}",
                path.display()
            )),
        }
    }

    async fn apply(&mut self, new: Config) -> Result<(), DaemonError> {
        warn_restart_needed(&self.config.settings, &new.settings);
        let rows = sync_configured(&self.store, &new).await?;
        let topics = Arc::new(TopicSet::compile(&new.topics));
        if topics.fingerprint() != self.context.topics.fingerprint() {
            let rematched = rematch_stored(&self.store, &topics).await?;
            info!(
                topics = new.topics.len(),
                items_changed = rematched.unwrap_or(0),
                "the topics changed: stored items were matched again"
            );
            self.context.topics = Arc::clone(&topics);
            self.outputs.set_topics(topics);
        }
        if new.settings.timeout != self.config.settings.timeout {
            // The same lanes: connections to a host stay within the bound across a reload.
            self.context.client = self.context.client.with_timeout(new.settings.timeout);
        }
        self.context.min_interval = new.settings.min_interval;
        self.context.max_interval = new.settings.max_interval;
        self.context.max_body = new.settings.max_body;

        let new_feeds: HashMap<FeedId, FeedConfig> = rows
            .iter()
            .zip(&new.feeds)
            .map(|(row, feed)| (row.id, feed.clone()))
            .collect();
        let now = Instant::now();
        let now_wall = chrono::Utc::now();
        let (mut added, mut changed) = (0usize, 0usize);
        for row in rows {
            let Some(feed) = new_feeds.get(&row.id) else {
                continue;
            };
            let Some(old) = self.feeds.get(&row.id) else {
                added += 1;
                info!(feed = %row.display_name(), url = %row.url, "feed added to feeds.toml");
                let host = feed_host(&row);
                self.hosts.add_feed(&host, row.id);
                self.feed_hosts.insert(row.id, host);
                if row.state.gone_since.is_none() {
                    let delay = startup_delay(&row, Some(feed), now_wall);
                    self.queue.push(row.id, now + delay);
                }
                self.feed_rows.insert(row.id, row);
                continue;
            };
            if old == feed {
                continue;
            }
            changed += 1;
            let Some(known) = self.feed_rows.get_mut(&row.id) else {
                continue;
            };
            known.name.clone_from(&row.name);
            if old.interval != feed.interval {
                info!(
                    feed = %known.display_name(),
                    interval = %config::format_duration(feed.interval),
                    "the feed's interval changed"
                );
                // The next poll moves to the last attempt plus the new interval (at once when
                // that has passed), unless backoff or a Retry-After holds the feed.
                if known.state.error_streak == 0
                    && self.queue.due_at(row.id).is_some()
                    && let Some(last) = known.state.last_attempt
                {
                    let next = last
                        + chrono::Duration::from_std(feed.interval)
                            .unwrap_or(chrono::Duration::zero());
                    let delay = (next - now_wall).to_std().unwrap_or(Duration::ZERO);
                    self.queue.reschedule(row.id, now + delay);
                }
            }
        }
        let removed: Vec<FeedId> = self
            .feeds
            .keys()
            .filter(|id| !new_feeds.contains_key(id))
            .copied()
            .collect();
        for id in &removed {
            self.queue.remove(*id);
            if let Some(host) = self.feed_hosts.remove(id) {
                self.hosts.remove_feed(&host, *id);
            }
            if let Some(row) = self.feed_rows.remove(id) {
                info!(
                    feed = %row.display_name(),
                    url = %row.url,
                    "feed removed from feeds.toml: no longer polled, its items left the outputs"
                );
            }
        }
        info!(
            feeds = new.feeds.len(),
            topics = new.topics.len(),
            added,
            removed = removed.len(),
            changed,
            "feeds.toml reloaded"
        );
        self.notifier.status(&format!(
            "feeds.toml reloaded; polling {} feeds, {} topics",
            new.feeds.len(),
            new.topics.len()
        ));
        self.feeds = new_feeds;
        self.config = new;
        Ok(())
    }
}

/// How often retention runs: a quarter of the retention, between a second and an hour.
fn prune_every(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// Settings that a running daemon cannot change: logged, to take effect at the next start.
fn warn_restart_needed(old: &Settings, new: &Settings) {
    let mut pending = Vec::new();
    if old.listen != new.listen {
        pending.push("listen");
    }
    if old.data_dir != new.data_dir {
        pending.push("data_dir");
    }
    if old.public_url != new.public_url {
        pending.push("public_url");
    }
    if old.concurrency != new.concurrency {
        pending.push("concurrency");
    }
    if old.per_host != new.per_host {
        pending.push("per_host");
    }
    if !pending.is_empty() {
        warn!(
            settings = %pending.join(", "),
            "these settings changed in feeds.toml and take effect only after a restart"
        );
    }
}

async fn schedule_loop(
    mut scheduler: Scheduler,
    mut reloads: mpsc::Receiver<ReloadTrigger>,
    shutdown: &CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(scheduler.config.settings.concurrency));
    let tracker = TaskTracker::new();
    let (done_sender, mut done_receiver) = mpsc::unbounded_channel::<PollReport>();
    loop {
        let now = Instant::now();
        for feed_id in scheduler.queue.pop_due(now) {
            let (Some(feed), Some(row)) = (
                scheduler.feeds.get(&feed_id).cloned(),
                scheduler.feed_rows.get(&feed_id).cloned(),
            ) else {
                continue;
            };
            let host = scheduler
                .feed_hosts
                .get(&feed_id)
                .cloned()
                .unwrap_or_default();
            if let Some(until) = scheduler.hosts.blocked_until(&host, now) {
                // The whole host is backing off: try again when its block ends, spread a
                // little so its feeds do not return all at once.
                let spread_limit = (feed.interval / 10).min(Duration::from_secs(1));
                let spread = spread_limit.mul_f64(fastrand::f64());
                scheduler.queue.push(feed_id, until + spread);
                continue;
            }
            let host_permits = scheduler.hosts.permits(&host);
            let context = scheduler.context.clone();
            let permits = Arc::clone(&permits);
            let done = done_sender.clone();
            let cancelled = shutdown.clone();
            tracker.spawn(async move {
                // The host's permit first: waiting for a busy host must not hold one of the
                // global permits that other hosts could use.
                let Ok(host_permit) = host_permits.acquire_owned().await else {
                    return;
                };
                let Ok(permit) = permits.acquire_owned().await else {
                    return;
                };
                if cancelled.is_cancelled() {
                    return;
                }
                let slot = FetchSlot::new(vec![host_permit, permit]);
                let span =
                    tracing::info_span!("poll", feed = %row.display_name(), url = %row.fetch_url());
                let report = poll_feed(&context, &feed, &row, slot)
                    .instrument(span)
                    .await;
                let _ = done.send(report);
            });
        }
        let wake = scheduler
            .queue
            .next_due()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep_until(wake) => {}
            Some(report) = done_receiver.recv() => scheduler.finished(report),
            Some(trigger) = reloads.recv() => scheduler.reload(trigger).await,
            () = tokio::time::sleep_until(scheduler.prune_at) => scheduler.prune().await,
            () = tokio::time::sleep_until(scheduler.watchdog_at),
                if scheduler.notifier.watchdog_every().is_some() => scheduler.watchdog(),
        }
    }
    info!(in_flight = tracker.len(), "shutting down: no new polls");
    scheduler.notifier.stopping(&format!(
        "shutting down: {} polls in flight get up to {} s",
        tracker.len(),
        SHUTDOWN_GRACE.as_secs()
    ));
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            grace = ?SHUTDOWN_GRACE,
            "polls still running after the grace period were abandoned; their writes are atomic"
        );
    }
    write_held_band_rows(&scheduler.context.store).await;
}

/// Writes the story band rows the writer holds back, once no poll is left to write: a
/// failure is logged, and the next start writes them from the stored story texts.
async fn write_held_band_rows(store: &Store) {
    if let Err(error) =
        crate::pipeline::run_blocking(store, |store| store.write_held_band_rows()).await
    {
        warn!(error = %error, "cannot write the held story band rows; the next start writes them");
    }
}

/// When a feed is first polled after start-up. A feed never fetched is due at once. A known
/// feed keeps its stored time when that is still ahead; one that is overdue (the daemon was
/// down) is placed at a random point of its interval, so 10,000 overdue feeds do not all fire
/// at once.
fn startup_delay(
    row: &FeedRow,
    feed: Option<&FeedConfig>,
    now: chrono::DateTime<chrono::Utc>,
) -> Duration {
    if row.state.last_attempt.is_none() {
        return Duration::ZERO;
    }
    match row.state.next_poll.and_then(|at| (at - now).to_std().ok()) {
        Some(ahead) if !ahead.is_zero() => ahead,
        _ => {
            let interval = feed.map_or(Duration::from_secs(60), |feed| feed.interval);
            interval.mul_f64(fastrand::f64())
        }
    }
}

/// `tidings poll`: polls the selected feeds once (all when `only` is empty), concurrently
/// within the configured bound, and returns their reports. A feed in error backoff is
/// skipped: politeness wins over the command.
pub async fn poll_once(
    config: &Config,
    store: &Store,
    only: &[String],
) -> Result<PolledOnce, DaemonError> {
    let prepared = prepare(config, store).await?;
    let permits = Arc::new(Semaphore::new(config.settings.concurrency));
    let mut hosts = host_table(config, &prepared.rows);
    let now = chrono::Utc::now();
    // A feed is named by its name, its own title or its URL.
    let names = |row: &FeedRow, name: &str| {
        name == row.display_name() || Some(name) == row.title.as_deref() || name == row.url
    };
    // Every name must be known before anything is polled.
    if let Some(unknown) = only
        .iter()
        .find(|name| !prepared.rows.iter().any(|row| names(row, name)))
    {
        return Err(DaemonError::UnknownFeed {
            name: unknown.clone(),
            config: config.path.display().to_string(),
        });
    }
    let mut tasks = Vec::new();
    for row in &prepared.rows {
        let Some(feed) = prepared.feeds.get(&row.id).cloned() else {
            continue;
        };
        if !only.is_empty() && !only.iter().any(|name| names(row, name)) {
            continue;
        }
        let name = row.display_name().to_string();
        if let Some(reason) = poll_once_skip(row, now) {
            info!(feed = %name, url = %row.url, next_poll = ?row.state.next_poll, "skipped: {reason}");
            tasks.push((name, Err(reason)));
            continue;
        }
        let context = prepared.context.clone();
        let permits = Arc::clone(&permits);
        let host_permits = hosts.permits(&feed_host(row));
        let row = row.clone();
        let task = tokio::spawn(async move {
            let host_permit = host_permits.acquire_owned().await.ok()?;
            let permit = permits.acquire_owned().await.ok()?;
            let slot = FetchSlot::new(vec![host_permit, permit]);
            Some(poll_feed(&context, &feed, &row, slot).await)
        });
        tasks.push((name, Ok(task)));
    }
    let mut reports = Vec::with_capacity(tasks.len());
    for (name, task) in tasks {
        let report = match task {
            Ok(task) => task
                .await
                .ok()
                .flatten()
                .ok_or("the poll task ended abnormally"),
            Err(reason) => Err(reason),
        };
        reports.push((name, report));
    }
    // Every poll is written; the band rows held back go to the database before it ends.
    write_held_band_rows(store).await;
    Ok(PolledOnce {
        reports,
        topics: Arc::clone(&prepared.context.topics),
    })
}

/// What `poll_once` did: each selected feed's report (or why it was skipped), by name, and
/// the topics it matched with, for the public files written after it.
pub struct PolledOnce {
    pub reports: Vec<(String, Result<PollReport, &'static str>)>,
    pub topics: Arc<TopicSet>,
}

/// Why `tidings poll` leaves a feed alone: politeness wins over the command.
fn poll_once_skip(row: &FeedRow, now: chrono::DateTime<chrono::Utc>) -> Option<&'static str> {
    if row.state.gone_since.is_some() {
        return Some("gone (HTTP 410)");
    }
    let waiting =
        row.state.error_streak > 0 && row.state.next_poll.is_some_and(|next_poll| next_poll > now);
    waiting.then_some(
        if row.state.last_status == Some(429) || row.state.last_status == Some(503) {
            "under the server's Retry-After or in error backoff"
        } else {
            "in error backoff"
        },
    )
}

/// Makes the store's feeds those of `config` (new ones added, removed ones inactive) and
/// returns their rows, at start-up and on reload.
async fn sync_configured(store: &Store, config: &Config) -> Result<Vec<FeedRow>, StoreError> {
    let feed_list: Vec<(String, Option<String>)> = config
        .feeds
        .iter()
        .map(|feed| (feed.url.to_string(), feed.name.clone()))
        .collect();
    run_blocking(store, move |store| {
        let borrowed: Vec<(&str, Option<&str>)> = feed_list
            .iter()
            .map(|(url, name)| (url.as_str(), name.as_deref()))
            .collect();
        store.sync_feeds(&borrowed)
    })
    .await
}

/// Matches the stored items against `topics` again when the topics' fingerprint differs from
/// the one the store last matched with (at start-up and on reload); `None` when unchanged.
async fn rematch_stored(
    store: &Store,
    topics: &Arc<TopicSet>,
) -> Result<Option<usize>, StoreError> {
    let matcher = Arc::clone(topics);
    run_blocking(store, move |store| {
        store.rematch_if_changed(matcher.fingerprint(), |stored| {
            let text = crate::normalize::match_text(stored.title, stored.summary, stored.content);
            matcher.match_item(&ItemText::from_match_text(&text), Some(stored.feed_url))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::FetchState;

    fn row(state: FetchState) -> FeedRow {
        FeedRow {
            id: FeedId(1),
            url: "https://a.example/feed".into(),
            name: None,
            title: None,
            active: true,
            state,
            item_count: None,
        }
    }

    fn feed(interval: Duration) -> FeedConfig {
        FeedConfig {
            url: url::Url::parse("https://a.example/feed").unwrap(),
            name: None,
            interval,
            tags: Vec::new(),
            max_items: None,
        }
    }

    #[test]
    fn a_feed_never_fetched_is_due_at_once() {
        let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
        let delay = startup_delay(
            &row(FetchState::default()),
            Some(&feed(Duration::from_secs(900))),
            now,
        );
        assert_eq!(delay, Duration::ZERO);
    }

    #[test]
    fn a_known_feed_keeps_its_time_and_overdue_ones_spread_over_the_interval() {
        let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
        let ahead = FetchState {
            last_attempt: Some(now - chrono::Duration::seconds(60)),
            next_poll: Some(now + chrono::Duration::seconds(300)),
            ..FetchState::default()
        };
        let interval = Duration::from_secs(900);
        assert_eq!(
            startup_delay(&row(ahead), Some(&feed(interval)), now),
            Duration::from_secs(300)
        );
        let overdue = FetchState {
            last_attempt: Some(now - chrono::Duration::seconds(7200)),
            next_poll: Some(now - chrono::Duration::seconds(3600)),
            ..FetchState::default()
        };
        let delays: Vec<Duration> = (0..200)
            .map(|_| startup_delay(&row(overdue.clone()), Some(&feed(interval)), now))
            .collect();
        assert!(delays.iter().all(|delay| *delay < interval));
        // Spread, not bunched: both halves of the interval are used.
        assert!(delays.iter().any(|delay| *delay < interval / 2));
        assert!(delays.iter().any(|delay| *delay >= interval / 2));
    }
}
