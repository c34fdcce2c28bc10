//! Per-host politeness: at most `per_host` fetches to one host at a time, and a host whose
//! every feed has failed since its last success backs off as a whole, so a dead server with a
//! hundred feeds is not asked a hundred times per round.
//!
//! Owns the host table. Time comes in as `Instant`s; nothing here fetches.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::model::FeedId;

/// The host key: a host and port, as a connection pool sees it.
pub fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// How a poll went for its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOutcome {
    /// The host answered (a feed's own errors, such as a parse error or a 404, count here:
    /// the host itself is fine).
    Answered,
    /// The host did not answer usefully: refused, timed out, or 5xx.
    Failed,
}

#[derive(Debug)]
struct HostState {
    permits: Arc<Semaphore>,
    feeds: HashSet<FeedId>,
    failed_since_success: HashSet<FeedId>,
    streak: u32,
    blocked_until: Option<Instant>,
}

#[derive(Debug)]
pub struct HostTable {
    per_host: usize,
    base_backoff: Duration,
    max_backoff: Duration,
    hosts: HashMap<String, HostState>,
}

impl HostTable {
    /// `base_backoff` is the first block of a failing host; each block after it is twice as
    /// long, up to `max_backoff`.
    pub fn new(per_host: usize, base_backoff: Duration, max_backoff: Duration) -> HostTable {
        HostTable {
            per_host,
            base_backoff,
            max_backoff,
            hosts: HashMap::new(),
        }
    }

    fn state(&mut self, host: &str) -> &mut HostState {
        let per_host = self.per_host;
        self.hosts
            .entry(host.to_string())
            .or_insert_with(|| HostState {
                permits: Arc::new(Semaphore::new(per_host)),
                feeds: HashSet::new(),
                failed_since_success: HashSet::new(),
                streak: 0,
                blocked_until: None,
            })
    }

    /// Registers `feed` as living on `host`.
    pub fn add_feed(&mut self, host: &str, feed: FeedId) {
        self.state(host).feeds.insert(feed);
    }

    /// Forgets `feed` (it left the config), so its host no longer waits for it before it can
    /// back off as a whole.
    pub fn remove_feed(&mut self, host: &str, feed: FeedId) {
        if let Some(state) = self.hosts.get_mut(host) {
            state.feeds.remove(&feed);
            state.failed_since_success.remove(&feed);
        }
    }

    /// Moves `feed` from host `from` to host `to` (a permanent redirect moved it), so the old
    /// host no longer waits for it before it can back off as a whole.
    pub fn move_feed(&mut self, feed: FeedId, from: &str, to: &str) {
        if let Some(state) = self.hosts.get_mut(from) {
            state.feeds.remove(&feed);
            state.failed_since_success.remove(&feed);
        }
        self.add_feed(to, feed);
    }

    /// The semaphore that bounds concurrent fetches to `host`.
    pub fn permits(&mut self, host: &str) -> Arc<Semaphore> {
        Arc::clone(&self.state(host).permits)
    }

    /// Until when `host` is blocked, if it is at `now`.
    pub fn blocked_until(&self, host: &str, now: Instant) -> Option<Instant> {
        self.hosts
            .get(host)
            .and_then(|state| state.blocked_until)
            .filter(|until| *until > now)
    }

    /// Records a poll of `feed` on `host`. Returns the end of a new host block when this
    /// failure made every feed of the host fail since its last success.
    pub fn record(
        &mut self,
        host: &str,
        feed: FeedId,
        outcome: HostOutcome,
        now: Instant,
    ) -> Option<Instant> {
        let base_backoff = self.base_backoff;
        let max_backoff = self.max_backoff;
        let state = self.state(host);
        match outcome {
            HostOutcome::Answered => {
                state.failed_since_success.clear();
                state.streak = 0;
                state.blocked_until = None;
                None
            }
            HostOutcome::Failed => {
                state.failed_since_success.insert(feed);
                let every_feed_failed = state
                    .feeds
                    .iter()
                    .all(|feed| state.failed_since_success.contains(feed));
                if !every_feed_failed {
                    return None;
                }
                state.streak = state.streak.saturating_add(1);
                let doublings = state.streak.saturating_sub(1).min(30);
                let block = base_backoff
                    .checked_mul(1u32 << doublings)
                    .map_or(max_backoff, |block| block.min(max_backoff));
                let until = now + block;
                state.blocked_until = Some(until);
                Some(until)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_include_the_default_port() {
        let url = Url::parse("https://Example.org/feed").unwrap();
        assert_eq!(host_key(&url), "example.org:443");
        let url = Url::parse("http://127.0.0.1:8800/feed/1.xml").unwrap();
        assert_eq!(host_key(&url), "127.0.0.1:8800");
    }

    #[test]
    fn a_host_backs_off_only_when_every_feed_failed() {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut table = HostTable::new(2, minute, 8 * minute);
        for feed in 1..=3 {
            table.add_feed("h:80", FeedId(feed));
        }
        assert_eq!(
            table.record("h:80", FeedId(1), HostOutcome::Failed, now),
            None
        );
        assert_eq!(
            table.record("h:80", FeedId(2), HostOutcome::Failed, now),
            None
        );
        assert_eq!(
            table.record("h:80", FeedId(3), HostOutcome::Failed, now),
            Some(now + minute)
        );
        assert_eq!(table.blocked_until("h:80", now), Some(now + minute));
        // Still failing after the block: twice as long, then capped.
        assert_eq!(
            table.record("h:80", FeedId(1), HostOutcome::Failed, now),
            Some(now + 2 * minute)
        );
        for _ in 0..10 {
            table.record("h:80", FeedId(2), HostOutcome::Failed, now);
        }
        assert_eq!(table.blocked_until("h:80", now), Some(now + 8 * minute));
        // One answer lifts it.
        table.record("h:80", FeedId(3), HostOutcome::Answered, now);
        assert_eq!(table.blocked_until("h:80", now), None);
        assert_eq!(
            table.record("h:80", FeedId(1), HostOutcome::Failed, now),
            None
        );
    }

    #[test]
    fn a_feed_that_moved_no_longer_counts_for_its_old_host() {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut table = HostTable::new(2, minute, minute);
        table.add_feed("old:80", FeedId(1));
        table.add_feed("old:80", FeedId(2));
        table.move_feed(FeedId(2), "old:80", "new:80");
        // The one feed left on the old host failing is every feed of that host.
        assert!(
            table
                .record("old:80", FeedId(1), HostOutcome::Failed, now)
                .is_some()
        );
        assert_eq!(table.blocked_until("new:80", now), None);
    }

    #[test]
    fn each_host_has_its_own_permits() {
        let mut table = HostTable::new(2, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(table.permits("a:80").available_permits(), 2);
        let permits = table.permits("a:80");
        let _held = permits.try_acquire().unwrap();
        assert_eq!(table.permits("a:80").available_permits(), 1);
        assert_eq!(table.permits("b:80").available_permits(), 2);
    }
}
