//! What the ingest benchmarks (`ingest`, `cold_read`) share: the headlines their synthetic
//! feeds are made of (two topics the shipped `feeds.toml` matches, and news of other kinds),
//! and a store with their feeds configured.

use std::path::Path;

use tidings::model::FeedId;
use tidings::store::Store;
use url::Url;

pub const SUBJECTS: &[&str] = &[
    "North Korea fires ballistic missile into the sea",
    "Ukraine says drones hit a refinery overnight",
    "Central bank keeps interest rates on hold",
    "Storm cuts power to thousands on the coast",
    "Parliament passes the budget after a long debate",
    "Kyiv and Moscow trade prisoners of war",
    "Pyongyang tests a new cruise missile, Seoul says",
    "Local team wins the cup after extra time",
];

/// A new store in `directory` with the feeds of `documents` configured, and their ids in the
/// same order.
pub fn store_with_feeds(directory: &Path, documents: &[(Url, Vec<u8>)]) -> (Store, Vec<FeedId>) {
    let store = Store::open(directory).unwrap();
    let urls: Vec<(&str, Option<&str>)> = documents
        .iter()
        .map(|(url, _)| (url.as_str(), None))
        .collect();
    let ids = store
        .sync_feeds(&urls)
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    (store, ids)
}
