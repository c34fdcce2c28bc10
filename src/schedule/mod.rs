//! The due queue: which feed is due next. The daemon pops due feeds, polls them, and pushes
//! each back with the time `next_poll` chose.
//!
//! Owns timing only: it never fetches, parses or writes. A feed is in the queue at most once,
//! and not at all while it is being polled, so one feed is never polled twice at once.

mod next_poll;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use tokio::time::Instant;

pub use next_poll::{MAX_BACKOFF, NextPoll, NextPollReason, PollOutcome, next_poll};

use crate::model::FeedId;

#[derive(Debug, Default)]
pub struct DueQueue {
    heap: BinaryHeap<Reverse<(Instant, FeedId)>>,
    queued: HashSet<FeedId>,
}

impl DueQueue {
    /// Queues `feed` for `at`. A feed already queued keeps its earlier time.
    pub fn push(&mut self, feed: FeedId, at: Instant) {
        if self.queued.insert(feed) {
            self.heap.push(Reverse((at, feed)));
        }
    }

    /// When the earliest queued feed is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the feeds that are due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Vec<FeedId> {
        let mut due = Vec::new();
        while let Some(Reverse((at, feed))) = self.heap.peek().copied() {
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
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
