//! `feeds.toml` exactly as written: serde structs that keep the byte span of every value that a
//! later check may need to point at.
//!
//! Owns the file's shape (key names, which keys are allowed). It does no validation beyond what
//! serde does; `config::build` turns these into a checked `Config`.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub settings: RawSettings,
    #[serde(default)]
    pub feeds: Vec<RawFeed>,
    #[serde(default)]
    pub topics: Vec<RawTopic>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub listen: Option<Spanned<String>>,
    pub data_dir: Option<String>,
    pub public_url: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub retention: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<String>>,
    pub min_interval: Option<Spanned<String>>,
    pub max_interval: Option<Spanned<String>>,
    pub per_host: Option<Spanned<i64>>,
    pub max_body: Option<Spanned<String>>,
    pub group_stories: Option<bool>,
    pub websub_hub: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub url: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Keep at most this many items of the feed (those it still lists excepted).
    pub max_items: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub name: Spanned<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub any: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    pub all: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    pub none: Vec<Spanned<toml::Value>>,
    /// Scope: only items of these feeds (by name or URL)...
    pub feeds: Option<Vec<Spanned<String>>>,
    /// ...or of feeds with one of these tags.
    pub tags: Option<Vec<Spanned<String>>>,
    /// Which parts of an item the terms look at: `title`, `summary`, `content`.
    pub fields: Option<Spanned<Vec<Spanned<String>>>>,
}
