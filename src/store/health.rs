//! Silent failures, read from what is stored: a feed that answers but has had no new item for
//! far longer than its usual gap (stale), and a feed whose recent items stopped matching any
//! topic while its earlier ones did (not matching). Neither shows as an error anywhere else.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Store, StoreError, from_unix};
use crate::model::FeedId;

/// A feed is stale when its newest item is older than this many of its usual gaps...
pub const STALE_GAPS: i64 = 5;
/// ...and older than this, so a busy feed's quiet night is not a failure.
pub const STALE_AT_LEAST_SECONDS: i64 = 86_400;
/// Items a feed needs before its usual gap means anything.
const MIN_ITEMS_FOR_GAP: usize = 5;
/// How many of the newest items must all miss every topic for a feed to be "not matching".
pub const RECENT_FOR_MATCHING: usize = 10;

/// What the store notices about a feed without any error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHealth {
    /// Set when the feed is stale: its newest item and its usual gap in seconds.
    pub stale_since: Option<(DateTime<Utc>, i64)>,
    /// The recent items match no topic, the earlier ones did.
    pub not_matching: bool,
}

impl FeedHealth {
    pub fn is_stale(&self) -> bool {
        self.stale_since.is_some()
    }
}

/// The median of the gaps between `times` (newest first).
fn usual_gap(times: &[i64]) -> Option<i64> {
    if times.len() < MIN_ITEMS_FOR_GAP {
        return None;
    }
    let mut gaps: Vec<i64> = times.windows(2).map(|pair| pair[0] - pair[1]).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied().filter(|gap| *gap > 0)
}

/// The health of one feed from its newest items (sort time, matched any topic), newest first.
pub fn judge(
    items: &[(i64, bool)],
    answers: bool,
    has_topics: bool,
    now: DateTime<Utc>,
) -> FeedHealth {
    let mut health = FeedHealth::default();
    let times: Vec<i64> = items.iter().map(|(time, _)| *time).collect();
    if answers
        && let (Some(newest), Some(gap)) = (times.first(), usual_gap(&times[..times.len().min(21)]))
    {
        let silent = now.timestamp() - newest;
        if silent > (gap * STALE_GAPS).max(STALE_AT_LEAST_SECONDS) {
            health.stale_since = Some((from_unix(*newest), gap));
        }
    }
    if has_topics && items.len() > RECENT_FOR_MATCHING {
        let (recent, earlier) = items.split_at(RECENT_FOR_MATCHING);
        health.not_matching = recent.iter().all(|(_, matched)| !matched)
            && earlier.iter().any(|(_, matched)| *matched);
    }
    health
}

impl Store {
    /// The health of every active feed. `has_topics`: whether any topic is configured.
    pub fn feed_health(
        &self,
        has_topics: bool,
        now: DateTime<Utc>,
    ) -> Result<HashMap<FeedId, FeedHealth>, StoreError> {
        let connection = self.reader()?;
        let mut feeds = connection.prepare(
            "SELECT id, last_status = 200 OR last_status = 304 FROM feeds WHERE active = 1",
        )?;
        let feeds: Vec<(i64, Option<bool>)> = feeds
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut items = connection.prepare_cached(
            "SELECT i.sort_time, EXISTS (SELECT 1 FROM item_topics t WHERE t.item_id = i.id)
             FROM items i WHERE i.feed_id = ?1 ORDER BY i.sort_time DESC, i.id DESC LIMIT 50",
        )?;
        let mut health = HashMap::with_capacity(feeds.len());
        for (id, answers) in feeds {
            let newest: Vec<(i64, bool)> = items
                .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?;
            health.insert(
                FeedId(id),
                judge(&newest, answers.unwrap_or(false), has_topics, now),
            );
        }
        Ok(health)
    }

    /// The size of the database in bytes (pages in use and free, without the WAL).
    pub fn database_bytes(&self) -> Result<u64, StoreError> {
        let connection = self.reader()?;
        let pages: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
        let size: i64 = connection.query_row("PRAGMA page_size", [], |row| row.get(0))?;
        Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn a_daily_feed_silent_for_a_week_is_stale_and_a_recent_one_is_not() {
        let now = Utc.timestamp_opt(100 * DAY, 0).unwrap();
        let daily_until = |last: i64| -> Vec<(i64, bool)> {
            (0..10).map(|index| ((last - index) * DAY, false)).collect()
        };
        let silent = judge(&daily_until(93), true, false, now);
        assert_eq!(silent.stale_since.map(|(_, gap)| gap), Some(DAY));
        assert!(!judge(&daily_until(99), true, false, now).is_stale());
        // A feed that does not answer is failing, not stale; a short history says nothing.
        assert!(!judge(&daily_until(93), false, false, now).is_stale());
        assert!(!judge(&daily_until(93)[..3], true, false, now).is_stale());
        // An hourly feed quiet for six hours is not stale yet (at least a day).
        let hourly: Vec<(i64, bool)> = (0..10)
            .map(|index| (100 * DAY - 6 * 3600 - index * 3600, false))
            .collect();
        assert!(!judge(&hourly, true, false, now).is_stale());
    }

    #[test]
    fn a_feed_whose_recent_items_stopped_matching_is_flagged() {
        let now = Utc.timestamp_opt(100 * DAY, 0).unwrap();
        let mut items: Vec<(i64, bool)> = (0..15)
            .map(|index| (99 * DAY - index * 60, index >= 10))
            .collect();
        assert!(judge(&items, true, true, now).not_matching);
        // Without topics, or with one recent match, or never having matched: not flagged.
        assert!(!judge(&items, true, false, now).not_matching);
        items[3].1 = true;
        assert!(!judge(&items, true, true, now).not_matching);
        let never: Vec<(i64, bool)> = (0..15)
            .map(|index| (99 * DAY - index * 60, false))
            .collect();
        assert!(!judge(&never, true, true, now).not_matching);
    }
}
