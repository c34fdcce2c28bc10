//! Counters for `/metrics`: what the daemon did since it started, in Prometheus' text format
//! (version 0.0.4). Every name starts with `tidings_`.
//!
//! One process-wide set (`METRICS`), so that the stage that sees an event counts it without
//! the counters being threaded through every call. Plain atomics and short-held mutexes; no
//! I/O. Gauges that describe the store (its size, items per topic, flagged feeds) are read at
//! scrape time by `serve` and passed to `render`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds of the fetch latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; LATENCY_BUCKETS.len()],
    total: AtomicU64,
    /// The sum, in microseconds.
    sum_micros: AtomicU64,
}

/// Counters keyed by one label value.
#[derive(Debug, Default)]
struct Family(Mutex<BTreeMap<String, u64>>);

impl Family {
    fn add(&self, label: &str, value: u64) {
        let mut counts = match self.0.lock() {
            Ok(counts) => counts,
            Err(poisoned) => poisoned.into_inner(),
        };
        match counts.get_mut(label) {
            Some(count) => *count += value,
            None => {
                counts.insert(label.to_string(), value);
            }
        }
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        match self.0.lock() {
            Ok(counts) => counts.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The routes `serve` counts requests under, and the statuses counted without a lock.
const ROUTES: [&str; 6] = ["/", "/feeds", "/healthz", "/metrics", "/opml", "other"];
const STATUSES: std::ops::Range<u16> = 100..600;

/// Requests by route and status: a counter per known route and status (no lock, no
/// allocation, as every request counts), and a `Family` for anything else.
#[derive(Debug)]
struct Requests {
    table: Box<[AtomicU64]>,
    other: Family,
}

impl Default for Requests {
    fn default() -> Requests {
        let slots = ROUTES.len() * STATUSES.len();
        Requests {
            table: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            other: Family::default(),
        }
    }
}

impl Requests {
    fn add(&self, route: &str, status: u16) {
        let slot = ROUTES
            .iter()
            .position(|known| *known == route)
            .filter(|_| STATUSES.contains(&status))
            .map(|index| index * STATUSES.len() + usize::from(status - STATUSES.start));
        match slot.and_then(|slot| self.table.get(slot)) {
            Some(counter) => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            None => self.other.add(&format!("{route}\u{0}{status}"), 1),
        }
    }

    /// Counts keyed by route, a NUL, and the status.
    fn snapshot(&self) -> BTreeMap<String, u64> {
        let mut counts = self.other.snapshot();
        for (slot, counter) in self.table.iter().enumerate() {
            let count = counter.load(Ordering::Relaxed);
            if count > 0 {
                let route = ROUTES[slot / STATUSES.len()];
                let status = STATUSES.start as usize + slot % STATUSES.len();
                *counts.entry(format!("{route}\u{0}{status}")).or_insert(0) += count;
            }
        }
        counts
    }
}

/// Everything counted since the process started.
#[derive(Debug, Default)]
pub struct Metrics {
    polls: Family,
    http_statuses: Family,
    fetch_latency: Histogram,
    items: Family,
    items_unparsed: AtomicU64,
    stories_grouped: AtomicU64,
    topic_matches: Family,
    requests: Requests,
    not_modified: AtomicU64,
    reloads: Family,
    pruned: AtomicU64,
}

/// The process's counters.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

impl Metrics {
    /// A finished poll: `outcome` is one of not_modified, unchanged, fetched, failed, gone,
    /// store_failed.
    pub fn poll(&self, outcome: &str) {
        self.polls.add(outcome, 1);
    }

    /// An HTTP response from a source, and how long the fetch took.
    pub fn fetched(&self, status: Option<u16>, took: Duration) {
        let label = status.map_or_else(|| "none".to_string(), |status| status.to_string());
        self.http_statuses.add(&label, 1);
        let seconds = took.as_secs_f64();
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.fetch_latency.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.fetch_latency.total.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.fetch_latency
            .sum_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// Items of a poll: new, updated, unchanged (already stored the same), and of the new
    /// ones, duplicates (another source's item under the same canonical link) and those
    /// grouped into another outlet's story.
    pub fn items(&self, summary: &crate::store::PollSummary) {
        for (kind, count) in [
            ("new", summary.new),
            ("updated", summary.updated),
            ("unchanged", summary.unchanged),
            ("duplicate", summary.duplicates),
        ] {
            self.items.add(kind, count as u64);
        }
        self.stories_grouped
            .fetch_add(summary.grouped as u64, Ordering::Relaxed);
    }

    /// Known items of changed documents left out of the parse, their bytes being known
    /// (`pipeline::rawskip`); they are counted among the unchanged too.
    pub fn unparsed(&self, count: usize) {
        self.items_unparsed
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    /// An item newly matched to `topic`.
    pub fn topic_match(&self, topic: &str) {
        self.topic_matches.add(topic, 1);
    }

    /// A request to the HTTP server: its route (`/`, `feed`, `/metrics`...) and status.
    pub fn request(&self, route: &str, status: u16) {
        self.requests.add(route, status);
        if status == 304 {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A reload of `feeds.toml`: applied, unchanged or refused.
    pub fn reload(&self, outcome: &str) {
        self.reloads.add(outcome, 1);
    }

    /// Items deleted by retention.
    pub fn pruned(&self, count: usize) {
        self.pruned.fetch_add(count as u64, Ordering::Relaxed);
    }
}

/// What the store says at scrape time.
#[derive(Debug, Default, Clone)]
pub struct StoreGauges {
    pub database_bytes: u64,
    pub feeds_active: u64,
    pub feeds_failing: u64,
    pub feeds_stale: u64,
    pub feeds_not_matching: u64,
    pub items_stored: u64,
    /// Items per topic.
    pub topic_items: BTreeMap<String, u64>,
}

/// Escapes a label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn family(out: &mut String, name: &str, key: &str, help: &str, values: &BTreeMap<String, u64>) {
    header(out, name, "counter", help);
    for (value, count) in values {
        let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {count}", label(value));
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// An unlabelled counter.
fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
}

/// The Prometheus text of `metrics` and `store`.
pub fn render(metrics: &Metrics, store: &StoreGauges) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "tidings_polls_total",
        "outcome",
        "Polls by outcome.",
        &metrics.polls.snapshot(),
    );
    family(
        &mut out,
        "tidings_http_responses_total",
        "status",
        "Responses from sources by HTTP status (none: no response).",
        &metrics.http_statuses.snapshot(),
    );
    header(
        &mut out,
        "tidings_fetch_duration_seconds",
        "histogram",
        "How long fetching a source took.",
    );
    for (bound, count) in LATENCY_BUCKETS.iter().zip(&metrics.fetch_latency.counts) {
        let _ = writeln!(
            out,
            "tidings_fetch_duration_seconds_bucket{{le=\"{bound}\"}} {}",
            count.load(Ordering::Relaxed)
        );
    }
    let total = metrics.fetch_latency.total.load(Ordering::Relaxed);
    let sum = metrics.fetch_latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(
        out,
        "tidings_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {total}"
    );
    let _ = writeln!(out, "tidings_fetch_duration_seconds_sum {sum}");
    let _ = writeln!(out, "tidings_fetch_duration_seconds_count {total}");
    family(
        &mut out,
        "tidings_items_total",
        "kind",
        "Items seen in polled documents: new, updated in place, unchanged; duplicate counts the \
         new ones another source already carried under the same canonical link.",
        &metrics.items.snapshot(),
    );
    counter(
        &mut out,
        "tidings_items_unparsed_total",
        "Unchanged items of changed documents recognised by their raw bytes and not parsed \
         again (also counted as unchanged in tidings_items_total).",
        &metrics.items_unparsed,
    );
    counter(
        &mut out,
        "tidings_stories_grouped_total",
        "New items grouped into another outlet's story.",
        &metrics.stories_grouped,
    );
    family(
        &mut out,
        "tidings_topic_matches_total",
        "topic",
        "New items matched to a topic.",
        &metrics.topic_matches.snapshot(),
    );
    header(
        &mut out,
        "tidings_http_requests_total",
        "counter",
        "Requests served, by route and status.",
    );
    for (key, count) in metrics.requests.snapshot() {
        let (route, status) = key.split_once('\u{0}').unwrap_or((key.as_str(), ""));
        let _ = writeln!(
            out,
            "tidings_http_requests_total{{route=\"{}\",status=\"{}\"}} {count}",
            label(route),
            label(status)
        );
    }
    counter(
        &mut out,
        "tidings_http_not_modified_total",
        "Requests answered 304 Not Modified.",
        &metrics.not_modified,
    );
    family(
        &mut out,
        "tidings_config_reloads_total",
        "outcome",
        "Reloads of feeds.toml: applied, unchanged, refused.",
        &metrics.reloads.snapshot(),
    );
    counter(
        &mut out,
        "tidings_items_pruned_total",
        "Items deleted by retention.",
        &metrics.pruned,
    );
    gauge(
        &mut out,
        "tidings_database_bytes",
        "Size of the database file.",
        store.database_bytes,
    );
    gauge(
        &mut out,
        "tidings_items_stored",
        "Items in the store.",
        store.items_stored,
    );
    gauge(
        &mut out,
        "tidings_feeds_active",
        "Feeds in feeds.toml.",
        store.feeds_active,
    );
    gauge(
        &mut out,
        "tidings_feeds_failing",
        "Active feeds whose last poll failed.",
        store.feeds_failing,
    );
    gauge(
        &mut out,
        "tidings_feeds_stale",
        "Active feeds that answer but have had no new item for far longer than usual.",
        store.feeds_stale,
    );
    gauge(
        &mut out,
        "tidings_feeds_not_matching",
        "Active feeds whose recent items stopped matching any topic.",
        store.feeds_not_matching,
    );
    header(
        &mut out,
        "tidings_topic_items",
        "gauge",
        "Items of active feeds per topic.",
    );
    for (topic, count) in &store.topic_items {
        let _ = writeln!(
            out,
            "tidings_topic_items{{topic=\"{}\"}} {count}",
            label(topic)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_counts_and_escapes() {
        let metrics = Metrics::default();
        metrics.poll("fetched");
        metrics.poll("fetched");
        metrics.poll("failed");
        metrics.fetched(Some(200), Duration::from_millis(30));
        metrics.fetched(None, Duration::from_secs(40));
        metrics.request("feed", 304);
        metrics.request("/feeds", 304);
        metrics.request("/feeds", 304);
        metrics.request("/", 200);
        metrics.request("other", 999);
        metrics.topic_match("a\"b");
        metrics.items(&crate::store::PollSummary {
            new: 5,
            updated: 1,
            unchanged: 7,
            duplicates: 2,
            grouped: 1,
        });
        metrics.unparsed(6);
        let text = render(
            &metrics,
            &StoreGauges {
                database_bytes: 4096,
                ..StoreGauges::default()
            },
        );
        assert!(
            text.contains("tidings_polls_total{outcome=\"fetched\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("tidings_polls_total{outcome=\"failed\"} 1\n"));
        assert!(
            text.contains("tidings_items_total{kind=\"new\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("tidings_items_total{kind=\"duplicate\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("tidings_stories_grouped_total 1\n"), "{text}");
        assert!(text.contains("tidings_items_unparsed_total 6\n"), "{text}");
        assert!(text.contains("tidings_http_responses_total{status=\"none\"} 1\n"));
        assert!(text.contains("tidings_fetch_duration_seconds_bucket{le=\"0.025\"} 0\n"));
        assert!(text.contains("tidings_fetch_duration_seconds_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("tidings_fetch_duration_seconds_bucket{le=\"30\"} 1\n"));
        assert!(text.contains("tidings_fetch_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("tidings_http_requests_total{route=\"feed\",status=\"304\"} 1\n"));
        assert!(text.contains("tidings_http_requests_total{route=\"/feeds\",status=\"304\"} 2\n"));
        assert!(text.contains("tidings_http_requests_total{route=\"/\",status=\"200\"} 1\n"));
        assert!(text.contains("tidings_http_requests_total{route=\"other\",status=\"999\"} 1\n"));
        assert!(text.contains("tidings_http_not_modified_total 3\n"));
        assert!(text.contains("tidings_topic_matches_total{topic=\"a\\\"b\"} 1\n"));
        assert!(text.contains("tidings_database_bytes 4096\n"));
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            assert!(line.starts_with("tidings_"), "{line}");
        }
    }
}
