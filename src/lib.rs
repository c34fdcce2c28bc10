//! tidings: a feed aggregator daemon.
//!
//! The stages, in the order data flows through them (ARCHITECTURE.md has the full map):
//!
//! - `config`: `feeds.toml` → a validated `Config`.
//! - `schedule`: which feed is due next, and when to poll it again.
//! - `fetch`: one polite HTTP GET of one feed.
//! - `parse`: bytes → a parsed feed (feed-rs).
//! - `normalize`: parsed entries → `Item`s with stable keys, clean text, resolved links.
//! - `dedupe`: whether two items of different outlets are one story.
//! - `store`: SQLite; feeds, items and topic matches.
//! - `topics`: which topics an item belongs to, and why.
//! - `pipeline`: one feed, one pass through the stages above.
//! - `publish`: entries → Atom, RSS and JSON Feed.
//! - `outputs`: rendered feeds cached until the store changes, public files, WebSub pings.
//! - `opml`: the sources as OPML, and OPML imported into `feeds.toml`.
//! - `serve`: the HTTP routes.
//! - `daemon`: wiring and task lifetimes for `run` and `poll`.
//! - `systemd`: the notify protocol of a `Type=notify` unit (ready, status, watchdog).
//! - `cli`: the command line.
//!
//! `model` holds the nouns they share; `telemetry` sets up logging; `metrics` counts for
//! `/metrics`.

pub mod model;

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dedupe;
pub mod fetch;
pub mod normalize;
pub mod opml;
pub mod outputs;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod schedule;
pub mod serve;
pub mod store;
pub mod systemd;
pub mod topics;

pub mod metrics;
pub mod telemetry;
