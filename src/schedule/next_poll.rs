//! Pure: when to poll a feed next, given how the last poll went and the time now.
//!
//! The rule: after a success (new items or `304`), the feed's interval. After a failure, the
//! interval doubled for each failure in a row beyond the first, capped at `MAX_BACKOFF` (or the
//! interval, if that is longer), so a broken source is asked less and less often but never
//! forgotten. Reads no clock: `now` comes in.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest a failing feed waits between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

/// How the last poll went, as far as timing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    Success,
    /// `streak` failures in a row, this one included (1 for the first).
    Failure {
        streak: u32,
    },
}

/// Why the next poll is when it is; shown by `tidings status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextPollReason {
    Interval,
    Backoff { streak: u32 },
}

impl std::fmt::Display for NextPollReason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NextPollReason::Interval => formatter.write_str("interval"),
            NextPollReason::Backoff { streak } => {
                write!(formatter, "backoff after {streak} failures in a row")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextPoll {
    pub at: DateTime<Utc>,
    /// The same moment as a delay from `now`, for timers.
    pub delay: Duration,
    pub reason: NextPollReason,
}

pub fn next_poll(interval: Duration, outcome: PollOutcome, now: DateTime<Utc>) -> NextPoll {
    let (delay, reason) = match outcome {
        PollOutcome::Success => (interval, NextPollReason::Interval),
        PollOutcome::Failure { streak } => {
            let doublings = streak.saturating_sub(1).min(30);
            let cap = MAX_BACKOFF.max(interval);
            let delay = interval
                .checked_mul(1u32 << doublings)
                .map_or(cap, |delay| delay.min(cap));
            (delay, NextPollReason::Backoff { streak })
        }
    };
    let at = chrono::Duration::from_std(delay)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(now);
    NextPoll { at, delay, reason }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn delay(interval_seconds: u64, outcome: PollOutcome) -> u64 {
        let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
        let next = next_poll(Duration::from_secs(interval_seconds), outcome, now);
        assert_eq!((next.at - now).num_seconds() as u64, next.delay.as_secs());
        next.delay.as_secs()
    }

    #[test]
    fn success_waits_one_interval() {
        assert_eq!(delay(600, PollOutcome::Success), 600);
    }

    #[test]
    fn failures_double_and_cap() {
        let gaps: Vec<u64> = (1..=12)
            .map(|streak| delay(600, PollOutcome::Failure { streak }))
            .collect();
        assert_eq!(&gaps[..5], &[600, 1200, 2400, 4800, 9600]);
        assert!(gaps.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(*gaps.last().unwrap(), MAX_BACKOFF.as_secs());
        assert_eq!(
            delay(600, PollOutcome::Failure { streak: u32::MAX }),
            MAX_BACKOFF.as_secs()
        );
    }

    #[test]
    fn a_long_interval_is_never_shortened_by_backoff() {
        let two_days = 2 * 86_400;
        assert_eq!(
            delay(two_days, PollOutcome::Failure { streak: 5 }),
            two_days
        );
    }
}
