//! The due queue: which feed is due next. The daemon pops due feeds, polls them, and pushes
//! each back with the time `next_poll` chose.
//!
//! Owns timing and per-host limits (`hosts`): it never fetches, parses or writes. A feed is in the queue at most once,
//! and not at all while it is being polled, so one feed is never polled twice at once.

mod hosts;
mod next_poll;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use tokio::time::Instant;

pub use hosts::{HostOutcome, HostTable, host_key};
pub use next_poll::{
    BUSY_AFTER, JITTER_FRACTION, NextPoll, NextPollReason, PollFacts, PollOutcome, QUIET_AFTER,
    Timing, next_poll,
};

use crate::model::FeedId;

#[derive(Debug, Default)]
pub struct DueQueue {
    heap: BinaryHeap<Reverse<(Instant, FeedId)>>,
    /// When each queued feed is due. A heap entry whose time differs is stale (the feed was
    /// rescheduled or removed) and is dropped when it comes up.
    queued: HashMap<FeedId, Instant>,
}

impl DueQueue {
    /// Queues `feed` for `at`. A feed already queued keeps its earlier time.
    pub fn push(&mut self, feed: FeedId, at: Instant) {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.queued.entry(feed) {
            entry.insert(at);
            self.heap.push(Reverse((at, feed)));
        }
    }

    /// Queues `feed` for `at`, replacing the time it had (a changed interval).
    pub fn reschedule(&mut self, feed: FeedId, at: Instant) {
        if self.queued.insert(feed, at) != Some(at) {
            self.heap.push(Reverse((at, feed)));
        }
    }

    /// Takes `feed` out of the queue (it left the config).
    pub fn remove(&mut self, feed: FeedId) {
        self.queued.remove(&feed);
    }

    /// Whether `feed` is waiting in the queue, and until when.
    pub fn due_at(&self, feed: FeedId) -> Option<Instant> {
        self.queued.get(&feed).copied()
    }

    /// When the earliest queued feed is due. It may be the time of a feed rescheduled since;
    /// waking then only finds nothing to do.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the feeds that are due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Vec<FeedId> {
        let mut due = Vec::new();
        while let Some(Reverse((at, feed))) = self.heap.peek().copied() {
            if self.queued.get(&feed) != Some(&at) {
                // Stale: rescheduled or removed since it was pushed.
                self.heap.pop();
                continue;
            }
            if at > now {
                break;
            }
            self.heap.pop();
            self.queued.remove(&feed);
            due.push(feed);
        }
        due
    }

    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn pops_due_feeds_in_order_and_once() {
        let start = Instant::now();
        let mut queue = DueQueue::default();
        queue.push(FeedId(2), start + Duration::from_secs(20));
        queue.push(FeedId(1), start + Duration::from_secs(10));
        queue.push(FeedId(1), start + Duration::from_secs(5));
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.next_due(), Some(start + Duration::from_secs(10)));
        assert!(queue.pop_due(start).is_empty());
        assert_eq!(
            queue.pop_due(start + Duration::from_secs(30)),
            vec![FeedId(1), FeedId(2)]
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn a_rescheduled_or_removed_feed_keeps_only_its_new_time() {
        let start = Instant::now();
        let mut queue = DueQueue::default();
        queue.push(FeedId(1), start + Duration::from_secs(100));
        queue.push(FeedId(2), start + Duration::from_secs(50));
        queue.push(FeedId(3), start + Duration::from_secs(60));
        // A shorter interval brings feed 1 forward; a longer one pushes feed 2 back.
        queue.reschedule(FeedId(1), start + Duration::from_secs(10));
        queue.reschedule(FeedId(2), start + Duration::from_secs(200));
        queue.remove(FeedId(3));
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.due_at(FeedId(3)), None);
        assert_eq!(
            queue.pop_due(start + Duration::from_secs(10)),
            vec![FeedId(1)]
        );
        assert!(queue.pop_due(start + Duration::from_secs(199)).is_empty());
        assert_eq!(
            queue.pop_due(start + Duration::from_secs(200)),
            vec![FeedId(2)]
        );
        assert!(queue.is_empty());
        // A removed feed can be queued again.
        queue.push(FeedId(3), start);
        assert_eq!(queue.pop_due(start), vec![FeedId(3)]);
    }

    /// A 503 with `Retry-After: 120`: on tokio's paused clock, the feed is not due a moment
    /// before 120 s have passed, and is due right then (jitter only ever adds).
    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_a_feed_for_its_whole_wait() {
        let timing = Timing {
            interval: Duration::from_millis(200),
            min_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(3600),
        };
        let facts = PollFacts {
            outcome: PollOutcome::Failure {
                streak: 1,
                retry_after: Some(Duration::from_secs(120)),
            },
            server_hint: None,
            changed_streak: 0,
            unchanged_streak: 0,
            jitter: 0.0,
        };
        let next = next_poll(timing, facts, chrono::Utc::now());
        assert_eq!(next.reason, NextPollReason::RetryAfter);
        let mut queue = DueQueue::default();
        queue.push(FeedId(7), Instant::now() + next.delay.unwrap());
        tokio::time::advance(Duration::from_secs(119)).await;
        assert!(queue.pop_due(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(queue.pop_due(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(queue.pop_due(Instant::now()), vec![FeedId(7)]);
    }
}
