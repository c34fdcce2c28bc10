//! The command line: clap types for `run`, `poll`, `add`, `check`, `status` and `explain`, where settings come
//! from (flag, then environment, then `feeds.toml`, then the default), and exit codes
//! (0 done, 1 bad config, 2 store or usage error).
//!
//! The only module besides `main` that uses `anyhow`; no other module uses this one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::config::{self, Config, DEFAULT_LISTEN};
use crate::daemon;
use crate::opml;
use crate::pipeline::PollReportOutcome;
use crate::store::{FeedRow, Store};
use crate::telemetry::LogFormat;
use crate::topics::{ItemText, TopicSet};

#[derive(Debug, Parser)]
#[command(
    name = "tidings",
    version,
    about = "A feed aggregator daemon: polls RSS, Atom and JSON Feed sources, keeps each item once, republishes one feed per topic"
)]
pub struct Arguments {
    /// Log format on stderr (levels come from RUST_LOG).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgument {
    /// The config file.
    #[arg(long, env = "TIDINGS_CONFIG", default_value = "feeds.toml")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DataArgument {
    /// The state directory (database, published files) [default: settings.data_dir, else ./data]
    #[arg(long, env = "TIDINGS_DATA")]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll, store, match, publish, serve.
    Run {
        #[command(flatten)]
        config: ConfigArgument,
        #[command(flatten)]
        data: DataArgument,
        /// The address to serve on [default: settings.listen, else 127.0.0.1:8080]
        #[arg(long, env = "TIDINGS_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Poll every feed (or the named ones) once, store, and exit.
    Poll {
        #[command(flatten)]
        config: ConfigArgument,
        #[command(flatten)]
        data: DataArgument,
        /// Poll only this feed (its name, title or URL); may be repeated.
        #[arg(long = "feed", value_name = "NAME")]
        feeds: Vec<String>,
    },
    /// Find the feed at URL (a feed, or a page that links to one), show it, and add it to
    /// feeds.toml.
    Add {
        /// A feed's URL, or a web page that announces its feed.
        url: String,
        #[command(flatten)]
        config: ConfigArgument,
    },
    /// Check feeds.toml and print a one-line summary.
    Check {
        #[command(flatten)]
        config: ConfigArgument,
    },
    /// Explain an item's topics: which matched and with which terms, and why not the others.
    Explain {
        #[command(flatten)]
        config: ConfigArgument,
        #[command(flatten)]
        data: DataArgument,
        /// The item: its link, its id in the output feeds (urn:tidings:item:...), or the
        /// guid/id its source gave it.
        item: String,
    },
    /// Show each feed's polling health.
    Status {
        #[command(flatten)]
        config: ConfigArgument,
        #[command(flatten)]
        data: DataArgument,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add the feeds of an OPML file to feeds.toml (keeping its comments), skipping those
    /// already there.
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArgument,
    },
    /// Print the sources of feeds.toml as OPML 2.0.
    ExportOpml {
        #[command(flatten)]
        config: ConfigArgument,
    },
}

/// Exit code for a config that is not valid.
const EXIT_CONFIG: u8 = 1;
/// Exit code for a store or usage error.
const EXIT_STORE: u8 = 2;

/// A failure with the exit code it should end the process with.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn config_failure(error: config::ConfigError) -> Failure {
    Failure {
        code: EXIT_CONFIG,
        error: error.into(),
    }
}

fn store_failure(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_STORE,
        error: error.into(),
    }
}

pub fn run(arguments: Arguments) -> ExitCode {
    let result = match arguments.command {
        Command::Check { config } => check(&config.config),
        Command::Run {
            config,
            data,
            listen,
        } => with_runtime(run_daemon(&config.config, data.data, listen)),
        Command::Poll {
            config,
            data,
            feeds,
        } => with_runtime_then_leave(poll(&config.config, data.data, &feeds)),
        Command::Status { config, data, json } => status(&config.config, data.data, json),
        Command::Explain { config, data, item } => explain(&config.config, data.data, &item),
        Command::Add { url, config } => with_runtime(add(&config.config, &url)),
        Command::ImportOpml { file, config } => import_opml(&file, &config.config),
        Command::ExportOpml { config } => export_opml(&config.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tidings: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

fn with_runtime(
    body: impl std::future::Future<Output = Result<(), Failure>>,
) -> Result<(), Failure> {
    runtime()?.block_on(body)
}

/// `with_runtime` for a command that awaits everything it starts (`tidings poll`: every poll
/// written, the files renamed into place, the store closed): the process ends without waking
/// and joining the pool's idle threads one by one first (about 10 ms of a warm poll).
fn with_runtime_then_leave(
    body: impl std::future::Future<Output = Result<(), Failure>>,
) -> Result<(), Failure> {
    let runtime = runtime()?;
    let result = runtime.block_on(body);
    runtime.shutdown_background();
    result
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(max_blocking_threads())
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(store_failure)
}

/// The threads of the runtime's blocking pool: two per core, at least four. Its work is
/// parsing (bounded to one document per core) and store calls, which queue for one of the two
/// SQLite connections anyway; tokio's default (512) let a cold `tidings poll` start about ten,
/// and glibc gives each thread that allocates its own arena of memory (about 5 MiB of the
/// peak of a cold poll of 1,000 feeds went to those).
fn max_blocking_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .saturating_mul(2)
        .max(4)
}

fn check(path: &Path) -> Result<(), Failure> {
    let config = config::load(path).map_err(config_failure)?;
    // Topics that cannot match are worth a word, but the config is still good.
    for warning in TopicSet::compile(&config.topics).warnings() {
        eprintln!(
            "{}:{}:{}: warning: topic \"{}\": {}",
            path.display(),
            warning.location.line,
            warning.location.column,
            warning.topic,
            warning.message
        );
    }
    println!(
        "{}: ok: {} feeds, {} topics",
        path.display(),
        config.feeds.len(),
        config.topics.len()
    );
    Ok(())
}

/// The data directory: flag or environment, else `settings.data_dir` (relative to the config
/// file), else `./data`.
fn data_dir(flag: Option<PathBuf>, config: Option<&Config>) -> PathBuf {
    if let Some(directory) = flag {
        return directory;
    }
    if let Some(config) = config
        && let Some(directory) = &config.settings.data_dir
    {
        if directory.is_absolute() {
            return directory.clone();
        }
        let base = config.path.parent().unwrap_or(Path::new("."));
        return base.join(directory);
    }
    PathBuf::from("data")
}

fn open_store(directory: &Path) -> Result<Store, Failure> {
    Store::open(directory)
        .with_context(|| format!("cannot open the store in {}", directory.display()))
        .map_err(store_failure)
}

async fn run_daemon(
    config_path: &Path,
    data_flag: Option<PathBuf>,
    listen_flag: Option<SocketAddr>,
) -> Result<(), Failure> {
    let config = config::load(config_path).map_err(config_failure)?;
    let directory = data_dir(data_flag, Some(&config));
    let store = open_store(&directory)?;
    let listen = listen_flag.or(config.settings.listen).unwrap_or_else(|| {
        DEFAULT_LISTEN
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)))
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
        .map_err(store_failure)?;
    let address = listener.local_addr().map_err(store_failure)?;
    let public_url = config
        .settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let (reload_sender, reloads) = tokio::sync::mpsc::channel(4);
    // A config that cannot be watched is no reason not to run: SIGHUP still reloads it.
    let _watcher = match config::watch::watch(&config.path, reload_sender.clone()) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            warn!(error = %error, "feeds.toml is not watched; reload it with SIGHUP");
            None
        }
    };
    tokio::spawn(reload_on_hangup(reload_sender));
    daemon::run(
        config, store, listener, public_url, &directory, shutdown, reloads,
    )
    .await
    .map_err(store_failure)
}

/// Cancels `shutdown` on SIGINT or SIGTERM. A second signal exits at once; the database
/// stays consistent because every write is one transaction.
async fn stop_on_signal(shutdown: CancellationToken) {
    wait_for_signal().await;
    info!("signal received: finishing what is in flight");
    shutdown.cancel();
    wait_for_signal().await;
    error!("second signal: exiting now");
    std::process::exit(130);
}

/// Asks for a reload of `feeds.toml` on each SIGHUP.
#[cfg(unix)]
async fn reload_on_hangup(reloads: tokio::sync::mpsc::Sender<config::watch::ReloadTrigger>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        warn!("cannot listen for SIGHUP; feeds.toml is still watched");
        return;
    };
    while hangup.recv().await.is_some() {
        info!("SIGHUP: reading feeds.toml again");
        if reloads
            .send(config::watch::ReloadTrigger::Signal)
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hangup(_reloads: tokio::sync::mpsc::Sender<config::watch::ReloadTrigger>) {}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// How many of a found feed's newest items `add` shows.
const ADD_SHOWS: usize = 5;

async fn add(config_path: &Path, address: &str) -> Result<(), Failure> {
    let config = config::load(config_path).map_err(config_failure)?;
    let url = url::Url::parse(address.trim())
        .or_else(|_| url::Url::parse(&format!("https://{}", address.trim())))
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
        .ok_or_else(|| {
            store_failure(anyhow::anyhow!("\"{address}\" is not an http or https URL"))
        })?;
    let client = crate::fetch::FeedClient::new(config.settings.per_host, config.settings.timeout)
        .map_err(store_failure)?;
    let found = crate::pipeline::discover::discover(&client, &url, config.settings.max_body)
        .await
        .map_err(store_failure)?;
    let title = found
        .meta
        .title
        .clone()
        .filter(|title| !title.trim().is_empty());
    println!(
        "Found {}: {}",
        found.url,
        title.as_deref().unwrap_or("(a feed without a title)")
    );
    if found.items.is_empty() {
        println!("  (no items yet)");
    }
    for item in found.items.iter().take(ADD_SHOWS) {
        let date = item
            .published
            .or(item.updated)
            .map_or("          ".to_string(), |date| {
                date.format("%Y-%m-%d").to_string()
            });
        println!("  {date}  {}", item.title);
    }
    let edited = match config::edit::append_feed(config_path, &found.url, title.as_deref()) {
        Ok(edited) => edited,
        Err(config::edit::EditError::Invalid(error)) => return Err(config_failure(error)),
        Err(error) => return Err(store_failure(error)),
    };
    let name = edited
        .feeds
        .last()
        .and_then(|feed| feed.name.clone())
        .unwrap_or_else(|| found.url.to_string());
    println!(
        "Added \"{name}\" to {}; a running tidings picks it up by itself.",
        config_path.display()
    );
    Ok(())
}

async fn poll(
    config_path: &Path,
    data_flag: Option<PathBuf>,
    only: &[String],
) -> Result<(), Failure> {
    let config = config::load(config_path).map_err(config_failure)?;
    let directory = data_dir(data_flag, Some(&config));
    let store = open_store(&directory)?;
    let started = std::time::Instant::now();
    let daemon::PolledOnce { reports, topics } = daemon::poll_once(&config, &store, only)
        .await
        .map_err(store_failure)?;
    debug!(feeds = reports.len(), elapsed = ?started.elapsed(), "polled");
    let publishing = std::time::Instant::now();
    // Without a daemon there is no bound address: self links use public_url, else the
    // address the daemon would serve on (settings.listen, else the default).
    let public_url = config.settings.public_url.clone().unwrap_or_else(|| {
        config.settings.listen.map_or_else(
            || format!("http://{DEFAULT_LISTEN}"),
            |listen| format!("http://{listen}"),
        )
    });
    // Closing the store copies the WAL back into the database file (and syncs both): most of
    // that is done here, on another thread, while the files are written.
    let copying = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.copy_wal_back())
    };
    match daemon::publish_after_poll(&config, &store, &topics, &public_url, &directory).await {
        Ok(changed) => info!(
            files = changed,
            elapsed = ?publishing.elapsed(),
            "public feed files written"
        ),
        // The poll itself is recorded; a file that could not be written is said, not fatal.
        Err(error) => error!(error = %error, "cannot write the public feed files"),
    }
    // Not fatal either: closing the store copies what is left.
    match copying.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => warn!(error = %error, "cannot copy the WAL back into the database"),
        Err(error) => warn!(error = %error, "the WAL copy stopped"),
    }
    // One line per feed, written in large blocks: 1,000 feeds made 1,000 `write` calls.
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (name, report) in &reports {
        let line = match report.as_ref().map(|report| &report.outcome) {
            Err(reason) => format!("skipped: {reason}"),
            Ok(PollReportOutcome::NotModified) => "not modified".to_string(),
            Ok(PollReportOutcome::Unchanged) => "unchanged (same document)".to_string(),
            Ok(PollReportOutcome::Fetched(summary)) => {
                let mut line = format!(
                    "{} new, {} updated, {} unchanged",
                    summary.new, summary.updated, summary.unchanged
                );
                // Known items of a changed document, recognised by their bytes.
                if let Ok(report) = report
                    && report.unparsed > 0
                {
                    line.push_str(&format!(" ({} not parsed again)", report.unparsed));
                }
                line
            }
            Ok(PollReportOutcome::Failed(error)) => format!("failed: {error}"),
            Ok(PollReportOutcome::Gone) => "gone (HTTP 410): no longer polled".to_string(),
            Ok(PollReportOutcome::StoreFailed(error)) => format!("not recorded: {error}"),
        };
        writeln!(out, "{name}: {line}").map_err(report_failure)?;
    }
    out.flush().map_err(report_failure)?;
    Ok(())
}

fn report_failure(error: std::io::Error) -> Failure {
    store_failure(anyhow::Error::from(error).context("cannot write the report"))
}

#[derive(Debug, Serialize)]
struct StatusRow {
    name: String,
    url: String,
    /// Where tidings fetches the feed now, when permanent redirects moved it.
    moved_to: Option<String>,
    active: bool,
    gone: bool,
    last_attempt: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    last_status: Option<u16>,
    last_error: Option<String>,
    items: u64,
    error_streak: u32,
    next_poll: Option<DateTime<Utc>>,
    next_poll_reason: Option<String>,
    /// The feed answers, but its newest item is far older than its usual gap.
    stale: bool,
    /// The feed's recent items match no topic, while its earlier ones did.
    not_matching: bool,
}

impl From<&FeedRow> for StatusRow {
    fn from(row: &FeedRow) -> StatusRow {
        let state = &row.state;
        StatusRow {
            name: row.display_name().to_string(),
            url: row.url.clone(),
            moved_to: state.fetch_url.clone(),
            active: row.active,
            gone: state.gone_since.is_some(),
            last_attempt: state.last_attempt,
            last_success: state.last_success,
            last_status: state.last_status,
            last_error: state.last_error.clone(),
            items: row.item_count.unwrap_or_default(),
            error_streak: state.error_streak,
            next_poll: state.next_poll,
            next_poll_reason: state.next_poll_reason.clone(),
            stale: false,
            not_matching: false,
        }
    }
}

fn status(config_path: &Path, data_flag: Option<PathBuf>, json: bool) -> Result<(), Failure> {
    // The config only tells where the data is; a broken or missing one is not an error here.
    let config = config::load(config_path).ok();
    let directory = data_dir(data_flag, config.as_ref());
    if !directory.join("tidings.db").exists() {
        return Err(store_failure(anyhow::anyhow!(
            "no database in {}; run `tidings poll` or `tidings run` first",
            directory.display()
        )));
    }
    let store = open_store(&directory)?;
    let has_topics = config
        .as_ref()
        .is_some_and(|config| !config.topics.is_empty());
    let health = store
        .feed_health(has_topics, Utc::now())
        .map_err(store_failure)?;
    let mut notes = Vec::new();
    let rows: Vec<StatusRow> = store
        .feed_rows()
        .map_err(store_failure)?
        .iter()
        .map(|feed| {
            let mut row = StatusRow::from(feed);
            if let Some(health) = health.get(&feed.id) {
                row.stale = health.is_stale();
                row.not_matching = health.not_matching;
                if let Some((newest, gap)) = health.stale_since {
                    notes.push(format!(
                        "  {} is stale: it answers, but its newest item is from {} and it \
                         usually has one every {}",
                        row.name,
                        newest.format("%Y-%m-%d %H:%M"),
                        crate::config::format_duration(std::time::Duration::from_secs(
                            gap.unsigned_abs()
                        ))
                    ));
                }
                if health.not_matching {
                    notes.push(format!(
                        "  {}: its newest items match no topic any more (its earlier ones did)",
                        row.name
                    ));
                }
            }
            row
        })
        .collect();
    if json {
        let text = serde_json::to_string_pretty(&rows).map_err(store_failure)?;
        println!("{text}");
        return Ok(());
    }
    let time = |value: Option<DateTime<Utc>>| {
        value.map_or("-".to_string(), |time| {
            time.format("%Y-%m-%d %H:%M:%S").to_string()
        })
    };
    let header = format!(
        "{:<28} {:<19} {:<19} {:<28} {:>6} {:>6}  {:<19} {:<24} URL",
        "FEED", "LAST ATTEMPT", "LAST SUCCESS", "RESULT", "ITEMS", "ERRORS", "NEXT POLL", "WHY"
    );
    println!("{header}");
    for row in &rows {
        let result = match (&row.last_error, row.last_status) {
            (Some(error), _) => error.clone(),
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "-".to_string(),
        };
        let (next, why) = if row.active {
            (
                time(row.next_poll),
                row.next_poll_reason.as_deref().unwrap_or("first poll"),
            )
        } else {
            ("-".to_string(), "not in feeds.toml")
        };
        if let Some(moved_to) = &row.moved_to {
            println!(
                "  {} moved permanently to {moved_to}: update its url in feeds.toml",
                row.name
            );
        }
        println!(
            "{:<28} {:<19} {:<19} {:<28} {:>6} {:>6}  {:<19} {:<24} {}",
            truncate(&row.name, 28),
            time(row.last_attempt),
            time(row.last_success),
            truncate(&result, 28),
            row.items,
            row.error_streak,
            next,
            truncate(why, 24),
            row.url
        );
    }
    for note in &notes {
        println!("{note}");
    }
    Ok(())
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut short: String = text.chars().take(width - 1).collect();
    short.push('…');
    short
}

/// `tidings explain ITEM`: for each stored item with that link or id, its topics as stored,
/// then every topic of the current config, matched or not and why.
fn explain(config_path: &Path, data_flag: Option<PathBuf>, key: &str) -> Result<(), Failure> {
    let config = config::load(config_path).map_err(config_failure)?;
    let directory = data_dir(data_flag, Some(&config));
    if !directory.join("tidings.db").exists() {
        return Err(store_failure(anyhow::anyhow!(
            "no database in {}; run `tidings poll` or `tidings run` first",
            directory.display()
        )));
    }
    let store = open_store(&directory)?;
    let found = store.find_items(key).map_err(store_failure)?;
    if found.is_empty() {
        return Err(store_failure(anyhow::anyhow!(
            "no stored item has the link or id \"{key}\""
        )));
    }
    let topics = TopicSet::compile(&config.topics);
    for (index, item) in found.iter().enumerate() {
        if index > 0 {
            println!();
        }
        println!("{}", item.title);
        if let Some(link) = &item.link {
            println!("  link:   {link}");
        }
        println!("  id:     {}", item.entry_id);
        if let Some(guid) = &item.guid {
            println!("  guid:   {guid}");
        }
        println!("  source: {} <{}>", item.feed_name, item.feed_url);
        let stored = if item.topics.is_empty() {
            "none".to_string()
        } else {
            item.topics
                .iter()
                .map(|found| format!("{} {:?}", found.topic, found.terms))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("  topics in the outputs: {stored}");
        let text = crate::normalize::match_text(
            &item.title,
            item.summary.as_deref(),
            item.content.as_deref(),
        );
        let explanations = topics.explain(
            &ItemText::from_match_text(&text),
            Some(item.feed_url.as_str()),
        );
        let mut now: Vec<&str> = explanations
            .iter()
            .filter(|explanation| explanation.matched())
            .map(|explanation| explanation.topic.as_str())
            .collect();
        let mut then: Vec<&str> = item
            .topics
            .iter()
            .map(|found| found.topic.as_str())
            .collect();
        now.sort_unstable();
        then.sort_unstable();
        if now != then {
            println!(
                "  (the outputs were matched with an earlier {}: they change when the daemon \
                 starts or reloads, or at the next `tidings poll`)",
                config_path.display()
            );
        }
        if explanations.is_empty() {
            println!("no topics in {}", config_path.display());
        }
        for explanation in &explanations {
            println!("{explanation}");
        }
    }
    Ok(())
}

fn export_opml(config_path: &Path) -> Result<(), Failure> {
    let config = config::load(config_path).map_err(config_failure)?;
    let sources: Vec<opml::Source> = config
        .feeds
        .iter()
        .map(|feed| opml::Source {
            title: feed.display_name(),
            xml_url: feed.url.to_string(),
            html_url: None,
            tags: feed.tags.clone(),
        })
        .collect();
    let text = opml::export("tidings sources", &sources).map_err(store_failure)?;
    print!("{text}");
    Ok(())
}

/// Adds the OPML file's feeds to `feeds.toml`. The new file is checked like any config before
/// it replaces the old one (atomically), so a failed import leaves the file untouched.
fn import_opml(file: &Path, config_path: &Path) -> Result<(), Failure> {
    let usage = |error: anyhow::Error| Failure {
        code: EXIT_STORE,
        error,
    };
    let opml_text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .map_err(usage)?;
    let sources = opml::sources(&opml_text)
        .with_context(|| format!("{}", file.display()))
        .map_err(usage)?;
    let config_text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))
        .map_err(usage)?;
    let report = opml::import(&config_text, sources)
        .with_context(|| format!("{}", config_path.display()))
        .map_err(usage)?;
    for (source, reason) in &report.refused {
        println!("refused: {} ({}): {reason}", source.title, source.xml_url);
    }
    for source in &report.skipped {
        println!("already there: {} ({})", source.title, source.xml_url);
    }
    if report.added.is_empty() {
        println!("{}: nothing to add", config_path.display());
        return Ok(());
    }
    config::parse(config_path, &report.config).map_err(config_failure)?;
    let temporary = config_path.with_extension("toml.import-tmp");
    std::fs::write(&temporary, &report.config)
        .and_then(|()| std::fs::rename(&temporary, config_path))
        .with_context(|| format!("cannot write {}", config_path.display()))
        .map_err(usage)?;
    for source in &report.added {
        println!("added: {} ({})", source.title, source.xml_url);
    }
    println!(
        "{}: {} added, {} already there, {} refused",
        config_path.display(),
        report.added.len(),
        report.skipped.len(),
        report.refused.len()
    );
    Ok(())
}
