//! `feeds.toml` → a validated, typed `Config`, or a `ConfigError` naming `file:line:column`.
//!
//! Owns the meaning of every key of `feeds.toml`. It reads the file and nothing else: no network,
//! no database. Downstream code receives typed values (URLs, durations, term syntax) and never
//! re-checks strings. It never panics on bad input.

mod duration;
pub mod edit;
mod raw;
pub mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use toml::Spanned;
use url::Url;

pub use duration::{format_duration, parse_duration};

use crate::model::TopicSlug;
use raw::{RawConfig, RawFeed, RawTopic};

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default poll interval of a feed.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// How long items are kept, counted from when tidings first saw them.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);
/// How many feeds are fetched at once.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// The total time one fetch may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// No feed is polled more often than this, whatever its interval or hints say.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(60);
/// No feed waits longer than this between polls (backoff included), except under a server's
/// `Retry-After`.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Connections to one host at the same time.
pub const DEFAULT_PER_HOST: usize = 2;
/// The decompressed body of a feed is cut off past this size.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// The name reserved for the merged feed of every source.
pub const ALL_TOPIC: &str = "all";

/// A checked `feeds.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, for messages.
    pub path: PathBuf,
    pub settings: Settings,
    pub feeds: Vec<FeedConfig>,
    pub topics: Vec<TopicConfig>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    /// Base of the self links in output feeds, without a trailing slash; when absent the
    /// daemon uses `http://` + its listen address.
    pub public_url: Option<String>,
    pub interval: Duration,
    pub retention: Duration,
    pub concurrency: usize,
    pub timeout: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub per_host: usize,
    pub max_body: usize,
    /// Whether output feeds show one entry per story (near-duplicates from different outlets
    /// grouped); `false` shows every outlet's item, still once per canonical link.
    pub group_stories: bool,
    /// A WebSub hub that output feeds name (`rel="hub"`) and that is told when they change.
    pub websub_hub: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    pub url: Url,
    /// The name given in `feeds.toml`; when absent the feed's own title names it.
    pub name: Option<String>,
    /// This feed's interval, the default already applied.
    pub interval: Duration,
    pub tags: Vec<String>,
    /// Keep at most this many of the feed's items; the items its source still lists are kept
    /// in any case.
    pub max_items: Option<usize>,
}

impl FeedConfig {
    /// What to call the feed in messages before its own title is known.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.url.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub slug: TopicSlug,
    pub title: String,
    pub any: Vec<TermConfig>,
    pub all: Vec<TermConfig>,
    pub none: Vec<TermConfig>,
    /// `None` for a topic of every source; otherwise the URLs of the feeds it is scoped to
    /// (its `feeds`, plus every feed carrying one of its `tags`), possibly none.
    pub sources: Option<Vec<String>>,
    /// The parts of an item its terms look at (all three unless `fields` says otherwise).
    pub fields: Fields,
    /// Where the topic's `name` stands, for warnings about the whole topic.
    pub location: Location,
}

/// Which parts of an item a topic's terms look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fields {
    pub title: bool,
    pub summary: bool,
    pub content: bool,
}

impl Fields {
    pub const ALL: Fields = Fields {
        title: true,
        summary: true,
        content: true,
    };
}

/// One term of a topic, its syntax checked.
#[derive(Debug, Clone)]
pub struct TermConfig {
    /// The term as written, for explanations.
    pub source: String,
    pub syntax: TermSyntax,
    /// Longer terms that cancel a hit of this term where they cover it.
    pub except: Vec<TermSyntax>,
    /// The exceptions as written, for explanations and warnings.
    pub except_sources: Vec<String>,
    pub location: Location,
}

/// The syntax of a term, before `topics` folds and compiles it.
#[derive(Debug, Clone)]
pub enum TermSyntax {
    /// A word or a phrase; with `prefix`, its last word matches any word starting so (`word*`).
    Literal { text: String, prefix: bool },
    /// `/regex/`, run on the folded text.
    Regex(Regex),
}

/// A line and column, both counted from 1; columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    #[cfg(test)]
    fn of_offset(text: &str, offset: usize) -> Location {
        Lines::of(text).location(offset)
    }
}

/// Where each line of a text starts, so that the location of a byte offset is a binary
/// search and a count within one line, not a count from the top: a config with 10,000 feeds
/// and its topics' terms below them took a third of a second to locate every term.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn of(text: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        Lines { text, starts }
    }

    fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        // The last line starting at or before the offset.
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self
            .text
            .get(line_start..offset)
            .map_or(0, |rest| rest.chars().count())
            + 1;
        Location { line, column }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads and checks the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(path, &text)
}

/// Checks config text; `path` only names the file in messages.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let builder = Builder {
        path,
        text,
        lines: Lines::of(text),
    };
    builder.build()
}

struct Builder<'a> {
    path: &'a Path,
    text: &'a str,
    lines: Lines<'a>,
}

impl Builder<'_> {
    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        let location = span
            .map(|span| self.lines.location(span.start))
            .unwrap_or(Location { line: 1, column: 1 });
        ConfigError::Invalid {
            path: self.path.display().to_string(),
            line: location.line,
            column: location.column,
            message: message.into(),
        }
    }

    fn build(&self) -> Result<Config, ConfigError> {
        // An empty file is what an editor's half-written save looks like: refuse it.
        if self.text.trim().is_empty() {
            return Err(self.error(None, "the config is empty; it needs at least one [[feeds]]"));
        }
        let raw: RawConfig = toml::from_str(self.text).map_err(|error| {
            self.error(
                error.span(),
                error.message().trim_end_matches('\n').to_string(),
            )
        })?;
        let settings = self.settings(&raw)?;
        if raw.feeds.is_empty() {
            return Err(self.error(None, "no [[feeds]] in the config; add at least one source"));
        }
        let mut feeds = Vec::with_capacity(raw.feeds.len());
        let mut seen_urls: HashMap<String, usize> = HashMap::new();
        let mut seen_names: HashMap<String, usize> = HashMap::new();
        for raw_feed in &raw.feeds {
            let feed = self.feed(raw_feed, &settings)?;
            let url_key = duplicate_key(&feed.url);
            if let Some(first) = seen_urls.insert(url_key, raw_feed.url.span().start) {
                let first = self.lines.location(first);
                return Err(self.error(
                    Some(raw_feed.url.span()),
                    format!(
                        "duplicate feed url {} (first listed at line {})",
                        feed.url, first.line
                    ),
                ));
            }
            if let Some(name) = &raw_feed.name {
                let key = name.get_ref().trim().to_lowercase();
                if let Some(first) = seen_names.insert(key, name.span().start) {
                    let first = self.lines.location(first);
                    return Err(self.error(
                        Some(name.span()),
                        format!(
                            "duplicate feed name \"{}\" (first used at line {})",
                            name.get_ref(),
                            first.line
                        ),
                    ));
                }
            }
            feeds.push(feed);
        }
        let mut topics = Vec::with_capacity(raw.topics.len());
        let mut seen_topics: HashMap<String, usize> = HashMap::new();
        for raw_topic in &raw.topics {
            let topic = self.topic(raw_topic, &feeds)?;
            if let Some(first) =
                seen_topics.insert(topic.slug.0.to_string(), raw_topic.name.span().start)
            {
                let first = self.lines.location(first);
                return Err(self.error(
                    Some(raw_topic.name.span()),
                    format!(
                        "duplicate topic name \"{}\" (first used at line {})",
                        topic.slug, first.line
                    ),
                ));
            }
            topics.push(topic);
        }
        Ok(Config {
            path: self.path.to_path_buf(),
            settings,
            feeds,
            topics,
        })
    }

    fn duration(&self, value: &Spanned<String>) -> Result<Duration, ConfigError> {
        parse_duration(value.get_ref()).map_err(|message| self.error(Some(value.span()), message))
    }

    fn duration_or(
        &self,
        value: Option<&Spanned<String>>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        value.map_or(Ok(default), |value| self.duration(value))
    }

    /// An interval must lie within `[min_interval, max_interval]`.
    fn check_interval(
        &self,
        value: &Spanned<String>,
        interval: Duration,
        min_interval: Duration,
        max_interval: Duration,
    ) -> Result<(), ConfigError> {
        if (min_interval..=max_interval).contains(&interval) {
            return Ok(());
        }
        Err(self.error(
            Some(value.span()),
            format!(
                "interval {} is outside [min_interval, max_interval] = [{}, {}]",
                format_duration(interval),
                format_duration(min_interval),
                format_duration(max_interval)
            ),
        ))
    }

    fn settings(&self, raw: &RawConfig) -> Result<Settings, ConfigError> {
        let raw = &raw.settings;
        let listen = match &raw.listen {
            Some(listen) => Some(listen.get_ref().parse::<SocketAddr>().map_err(|_| {
                self.error(
                    Some(listen.span()),
                    format!(
                        "bad listen address \"{}\"; write it like \"127.0.0.1:8080\"",
                        listen.get_ref()
                    ),
                )
            })?),
            None => None,
        };
        let public_url = match &raw.public_url {
            Some(public_url) => {
                let url = Url::parse(public_url.get_ref()).map_err(|error| {
                    self.error(
                        Some(public_url.span()),
                        format!("bad public_url \"{}\": {error}", public_url.get_ref()),
                    )
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(self.error(
                        Some(public_url.span()),
                        "public_url must be an http or https URL",
                    ));
                }
                Some(url.as_str().trim_end_matches('/').to_string())
            }
            None => None,
        };
        let interval = self.duration_or(raw.interval.as_ref(), DEFAULT_INTERVAL)?;
        let retention = self.duration_or(raw.retention.as_ref(), DEFAULT_RETENTION)?;
        let timeout = self.duration_or(raw.timeout.as_ref(), DEFAULT_TIMEOUT)?;
        let concurrency =
            self.count(raw.concurrency.as_ref(), "concurrency", DEFAULT_CONCURRENCY)?;
        let per_host = self.count(raw.per_host.as_ref(), "per_host", DEFAULT_PER_HOST)?;
        let min_interval = self.duration_or(raw.min_interval.as_ref(), DEFAULT_MIN_INTERVAL)?;
        let max_interval = self.duration_or(raw.max_interval.as_ref(), DEFAULT_MAX_INTERVAL)?;
        if max_interval < min_interval {
            let span = raw
                .max_interval
                .as_ref()
                .or(raw.min_interval.as_ref())
                .map(Spanned::span);
            return Err(self.error(
                span,
                format!(
                    "max_interval ({}) is shorter than min_interval ({})",
                    format_duration(max_interval),
                    format_duration(min_interval)
                ),
            ));
        }
        if let Some(value) = &raw.interval {
            self.check_interval(value, interval, min_interval, max_interval)?;
        }
        let max_body = match &raw.max_body {
            Some(value) => parse_size(value.get_ref())
                .map_err(|message| self.error(Some(value.span()), message))?,
            None => DEFAULT_MAX_BODY,
        };
        let websub_hub = match &raw.websub_hub {
            Some(hub) => {
                let url = Url::parse(hub.get_ref())
                    .ok()
                    .filter(|url| matches!(url.scheme(), "http" | "https"));
                let Some(url) = url else {
                    return Err(self.error(
                        Some(hub.span()),
                        format!(
                            "websub_hub \"{}\" is not an http or https URL",
                            hub.get_ref()
                        ),
                    ));
                };
                Some(url.to_string())
            }
            None => None,
        };
        Ok(Settings {
            listen,
            data_dir: raw.data_dir.as_ref().map(PathBuf::from),
            public_url,
            interval,
            retention,
            concurrency,
            timeout,
            min_interval,
            max_interval,
            per_host,
            max_body,
            group_stories: raw.group_stories.unwrap_or(true),
            websub_hub,
        })
    }

    fn count(
        &self,
        value: Option<&Spanned<i64>>,
        key: &str,
        default: usize,
    ) -> Result<usize, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let count = *value.get_ref();
        if !(1..=1024).contains(&count) {
            return Err(self.error(
                Some(value.span()),
                format!("{key} must be between 1 and 1024, not {count}"),
            ));
        }
        Ok(usize::try_from(count).unwrap_or(default))
    }

    fn feed(&self, raw: &RawFeed, settings: &Settings) -> Result<FeedConfig, ConfigError> {
        let url = Url::parse(raw.url.get_ref().trim()).map_err(|error| {
            self.error(
                Some(raw.url.span()),
                format!("bad feed url \"{}\": {error}", raw.url.get_ref()),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.error(
                Some(raw.url.span()),
                format!(
                    "feed url \"{}\" must be an http or https URL with a host",
                    raw.url.get_ref()
                ),
            ));
        }
        let name = match &raw.name {
            Some(name) if name.get_ref().trim().is_empty() => {
                return Err(self.error(
                    Some(name.span()),
                    "feed name is empty; leave it out to use the feed's own title",
                ));
            }
            Some(name) => Some(name.get_ref().trim().to_string()),
            None => None,
        };
        let interval = match &raw.interval {
            Some(value) => {
                let interval = self.duration(value)?;
                self.check_interval(
                    value,
                    interval,
                    settings.min_interval,
                    settings.max_interval,
                )?;
                interval
            }
            None => settings.interval,
        };
        let max_items = match &raw.max_items {
            Some(value) => {
                let count = *value.get_ref();
                if count < 1 {
                    return Err(self.error(
                        Some(value.span()),
                        format!("max_items must be at least 1, not {count}"),
                    ));
                }
                Some(usize::try_from(count).unwrap_or(usize::MAX))
            }
            None => None,
        };
        Ok(FeedConfig {
            url,
            name,
            interval,
            tags: raw.tags.clone(),
            max_items,
        })
    }

    fn topic(&self, raw: &RawTopic, feeds: &[FeedConfig]) -> Result<TopicConfig, ConfigError> {
        let name = raw.name.get_ref();
        let valid_slug = !name.is_empty()
            && name
                .chars()
                .all(|character| matches!(character, 'a'..='z' | '0'..='9' | '-'));
        if !valid_slug {
            return Err(self.error(
                Some(raw.name.span()),
                format!(
                    "topic name \"{name}\" must be a URL slug: lower-case letters a-z, digits and '-'"
                ),
            ));
        }
        if name == ALL_TOPIC {
            return Err(self.error(
                Some(raw.name.span()),
                "topic name \"all\" is reserved for the feed of every source",
            ));
        }
        if raw.any.is_empty() {
            return Err(self.error(
                Some(raw.name.span()),
                format!("topic \"{name}\" has no `any` terms, so nothing could match it"),
            ));
        }
        let terms = |list: &[Spanned<toml::Value>]| -> Result<Vec<TermConfig>, ConfigError> {
            list.iter().map(|value| self.term(value)).collect()
        };
        Ok(TopicConfig {
            slug: TopicSlug(name.as_str().into()),
            title: raw.title.clone().unwrap_or_else(|| name.clone()),
            any: terms(&raw.any)?,
            all: terms(&raw.all)?,
            none: terms(&raw.none)?,
            sources: self.topic_sources(raw, feeds)?,
            fields: self.topic_fields(raw)?,
            location: self.lines.location(raw.name.span().start),
        })
    }

    /// The feeds a topic is scoped to: those its `feeds` names (by name or URL) and those
    /// carrying one of its `tags`. A name that is no configured feed is an error (a typo
    /// would otherwise scope the topic to nothing without a word).
    fn topic_sources(
        &self,
        raw: &RawTopic,
        feeds: &[FeedConfig],
    ) -> Result<Option<Vec<String>>, ConfigError> {
        if raw.feeds.is_none() && raw.tags.is_none() {
            return Ok(None);
        }
        let mut sources: Vec<String> = Vec::new();
        let mut add = |url: &Url| {
            let url = url.to_string();
            if !sources.contains(&url) {
                sources.push(url);
            }
        };
        for wanted in raw.feeds.iter().flatten() {
            let text = wanted.get_ref().trim();
            let by_url = Url::parse(text).ok();
            let found = feeds.iter().find(|feed| {
                feed.name
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase() == text.to_lowercase())
                    || by_url
                        .as_ref()
                        .is_some_and(|url| duplicate_key(url) == duplicate_key(&feed.url))
            });
            match found {
                Some(feed) => add(&feed.url),
                None => {
                    return Err(self.error(
                        Some(wanted.span()),
                        format!("topic feeds: no [[feeds]] has the name or url \"{text}\""),
                    ));
                }
            }
        }
        for tag in raw.tags.iter().flatten() {
            if tag.get_ref().trim().is_empty() {
                return Err(self.error(Some(tag.span()), "topic tags: a tag is empty"));
            }
            for feed in feeds {
                if feed.tags.iter().any(|own| own == tag.get_ref().trim()) {
                    add(&feed.url);
                }
            }
        }
        Ok(Some(sources))
    }

    /// `fields = ["title", "summary", "content"]`: at least one, each known.
    fn topic_fields(&self, raw: &RawTopic) -> Result<Fields, ConfigError> {
        let Some(list) = &raw.fields else {
            return Ok(Fields::ALL);
        };
        if list.get_ref().is_empty() {
            return Err(self.error(
                Some(list.span()),
                "`fields` is empty, so nothing could match; leave it out to look at title, summary and content",
            ));
        }
        let mut fields = Fields {
            title: false,
            summary: false,
            content: false,
        };
        for field in list.get_ref() {
            match field.get_ref().as_str() {
                "title" => fields.title = true,
                "summary" => fields.summary = true,
                "content" => fields.content = true,
                other => {
                    return Err(self.error(
                        Some(field.span()),
                        format!(
                            "unknown field \"{other}\"; expected \"title\", \"summary\" or \"content\""
                        ),
                    ));
                }
            }
        }
        Ok(fields)
    }

    fn term(&self, value: &Spanned<toml::Value>) -> Result<TermConfig, ConfigError> {
        let span = value.span();
        let location = self.lines.location(span.start);
        let (source, except) = match value.get_ref() {
            toml::Value::String(text) => (text.clone(), Vec::new()),
            toml::Value::Table(table) => {
                if let Some(key) = table.keys().find(|key| *key != "term" && *key != "except") {
                    return Err(self.error(
                        Some(span),
                        format!("unknown key `{key}` in a term; expected `term` and `except`"),
                    ));
                }
                let Some(toml::Value::String(term)) = table.get("term") else {
                    return Err(
                        self.error(Some(span), "a term table needs `term = \"...\"`, a string")
                    );
                };
                let except = match table.get("except") {
                    None => Vec::new(),
                    Some(toml::Value::Array(items)) => {
                        let mut except = Vec::with_capacity(items.len());
                        for item in items {
                            let toml::Value::String(text) = item else {
                                return Err(
                                    self.error(Some(span), "`except` must be a list of strings")
                                );
                            };
                            except.push(text.clone());
                        }
                        except
                    }
                    Some(_) => {
                        return Err(self.error(Some(span), "`except` must be a list of strings"));
                    }
                };
                (term.clone(), except)
            }
            other => {
                return Err(self.error(
                    Some(span),
                    format!(
                        "a term must be a string or a table {{ term = \"...\", except = [...] }}, not a {}",
                        other.type_str()
                    ),
                ));
            }
        };
        let syntax =
            term_syntax(&source).map_err(|message| self.error(Some(span.clone()), message))?;
        let except_syntax = except
            .iter()
            .map(|text| {
                term_syntax(text).map_err(|message| self.error(Some(span.clone()), message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TermConfig {
            source,
            syntax,
            except: except_syntax,
            except_sources: except,
            location,
        })
    }
}

/// Reads the syntax of one term: `/regex/`, `word*`, or a word or phrase (quotes optional).
fn term_syntax(source: &str) -> Result<TermSyntax, String> {
    let text = source.trim();
    if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
        let pattern = &text[1..text.len() - 1];
        if pattern.is_empty() {
            return Err("empty regex term \"//\"".to_string());
        }
        let regex = regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .unicode(true)
            .build()
            .map_err(|error| format!("bad regex term {text}: {error}"))?;
        if regex.is_match("") {
            return Err(format!(
                "regex term {text} matches the empty string, so it would match every item"
            ));
        }
        return Ok(TermSyntax::Regex(regex));
    }
    let unquoted = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    let (body, prefix) = match unquoted.strip_suffix('*') {
        Some(body) => (body.trim_end(), true),
        None => (unquoted, false),
    };
    if body.contains('*') {
        return Err(format!(
            "term \"{source}\": `*` may only end a term (word* matches words starting with word)"
        ));
    }
    if !body.chars().any(char::is_alphanumeric) {
        return Err(if prefix {
            format!("term \"{source}\": a `*` needs letters before it")
        } else {
            format!("term \"{source}\" has no letters or digits, so it cannot match anything")
        });
    }
    Ok(TermSyntax::Literal {
        text: body.to_string(),
        prefix,
    })
}

/// Parses a size: `16MiB`, `512KiB`, `1MB`, `1000000` (bytes).
fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("bad size \"{trimmed}\"; write it like \"16MiB\" or \"512KiB\""))?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit \"{other}\" in \"{trimmed}\"; use KiB, MiB or GiB"
            ));
        }
    };
    match number.checked_mul(factor) {
        Some(size) if size >= 1024 => Ok(size),
        _ => Err(format!("size \"{trimmed}\" must be at least 1KiB")),
    }
}

/// Two feed URLs that differ only in what `Url` already normalizes (case of scheme and host,
/// default port) or in a trailing slash are the same feed.
pub(crate) fn duplicate_key(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests;
