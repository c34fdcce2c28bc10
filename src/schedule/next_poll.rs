//! Pure: when to poll a feed next, given how its last polls went and the time now.
//!
//! The rule, in order:
//! 1. `410 Gone`: never again (until the feed is removed from and put back in `feeds.toml`).
//! 2. A failure: the feed's interval doubled for each failure in a row beyond the first, capped
//!    at `max_interval` (or the interval, if that is longer). A `Retry-After` that asks for
//!    longer wins: no request before it ends.
//! 3. A success starts from the feed's interval, then:
//!    - a server hint (`Cache-Control: max-age`, `Expires`, RSS `<ttl>`, `sy:updatePeriod`)
//!      longer than the interval stretches it to the hint; a shorter hint never makes us poll
//!      more often than configured;
//!    - otherwise a feed whose document changed on each of the last `BUSY_AFTER` polls is
//!      polled at half its interval, and one unchanged for `QUIET_AFTER` polls in a row waits
//!      twice as long, four times after twice as many (never more);
//!    - the result is kept inside `[min_interval, max_interval]`.
//! 4. Jitter: up to `JITTER_FRACTION` more, so that feeds added together drift apart. Jitter only
//!    ever delays: a server's `Retry-After` or hint is never undercut.
//!
//! Reads no clock and draws no random number: `now` and `jitter` come in.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Polls in a row whose document changed before a feed counts as busy.
pub const BUSY_AFTER: u32 = 3;
/// Polls in a row with nothing new before a feed counts as quiet.
pub const QUIET_AFTER: u32 = 4;
/// The largest share of a delay added as jitter.
pub const JITTER_FRACTION: f64 = 0.1;

/// A feed's configured timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
}

/// How the last poll went, as far as timing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// A new document (not a 304, not the same bytes as last time).
    Changed,
    /// `304 Not Modified`, or the same bytes as last time.
    Unchanged,
    /// `streak` failures in a row, this one included (1 for the first).
    Failure {
        streak: u32,
        retry_after: Option<Duration>,
    },
    Gone,
}

/// What the timing rule needs to know about a poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollFacts {
    pub outcome: PollOutcome,
    /// The longest freshness the server or the feed itself announced.
    pub server_hint: Option<Duration>,
    /// `Changed` polls in a row, this one included.
    pub changed_streak: u32,
    /// `Unchanged` polls in a row, this one included.
    pub unchanged_streak: u32,
    /// A number drawn uniformly from [0, 1).
    pub jitter: f64,
}

/// Why the next poll is when it is; shown by `tidings status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextPollReason {
    Interval,
    ServerHint,
    Busy,
    Quiet,
    Backoff { streak: u32 },
    RetryAfter,
    Gone,
}

impl std::fmt::Display for NextPollReason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NextPollReason::Interval => formatter.write_str("interval"),
            NextPollReason::ServerHint => formatter.write_str("server hint"),
            NextPollReason::Busy => formatter.write_str("changes often"),
            NextPollReason::Quiet => formatter.write_str("unchanged lately"),
            NextPollReason::Backoff { streak: 1 } => formatter.write_str("backoff: 1 failure"),
            NextPollReason::Backoff { streak } => {
                write!(formatter, "backoff: {streak} failures in a row")
            }
            NextPollReason::RetryAfter => formatter.write_str("server's Retry-After"),
            NextPollReason::Gone => formatter.write_str("gone (HTTP 410): not polled"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextPoll {
    /// `None` when the feed is not to be polled again.
    pub at: Option<DateTime<Utc>>,
    /// The same moment as a delay from `now`, for timers.
    pub delay: Option<Duration>,
    pub reason: NextPollReason,
}

pub fn next_poll(timing: Timing, facts: PollFacts, now: DateTime<Utc>) -> NextPoll {
    let (delay, reason) = match facts.outcome {
        PollOutcome::Gone => {
            return NextPoll {
                at: None,
                delay: None,
                reason: NextPollReason::Gone,
            };
        }
        PollOutcome::Failure {
            streak,
            retry_after,
        } => {
            let doublings = streak.saturating_sub(1).min(30);
            let cap = timing.max_interval.max(timing.interval);
            let backoff = timing
                .interval
                .checked_mul(1u32 << doublings)
                .map_or(cap, |delay| delay.min(cap));
            let backoff = with_jitter(backoff, facts.jitter);
            match retry_after {
                Some(wait) if wait >= backoff => (wait, NextPollReason::RetryAfter),
                _ => (backoff, NextPollReason::Backoff { streak }),
            }
        }
        PollOutcome::Changed | PollOutcome::Unchanged => {
            let (base, reason) = match facts.server_hint {
                Some(hint) if hint > timing.interval => (hint, NextPollReason::ServerHint),
                _ if facts.outcome == PollOutcome::Changed
                    && facts.changed_streak >= BUSY_AFTER =>
                {
                    (timing.interval / 2, NextPollReason::Busy)
                }
                _ if facts.outcome == PollOutcome::Unchanged
                    && facts.unchanged_streak >= QUIET_AFTER =>
                {
                    let factor = if facts.unchanged_streak >= 2 * QUIET_AFTER {
                        4
                    } else {
                        2
                    };
                    (timing.interval * factor, NextPollReason::Quiet)
                }
                _ => (timing.interval, NextPollReason::Interval),
            };
            let bounded = base.clamp(timing.min_interval, timing.max_interval);
            (with_jitter(bounded, facts.jitter), reason)
        }
    };
    let at = chrono::Duration::from_std(delay)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(now);
    NextPoll {
        at: Some(at),
        delay: Some(delay),
        reason,
    }
}

fn with_jitter(delay: Duration, jitter: f64) -> Duration {
    delay + delay.mul_f64(jitter.clamp(0.0, 1.0) * JITTER_FRACTION)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const MINUTE: u64 = 60;

    fn timing(interval_minutes: u64) -> Timing {
        Timing {
            interval: Duration::from_secs(interval_minutes * MINUTE),
            min_interval: Duration::from_secs(MINUTE),
            max_interval: Duration::from_secs(24 * 60 * MINUTE),
        }
    }

    fn facts(outcome: PollOutcome) -> PollFacts {
        PollFacts {
            outcome,
            server_hint: None,
            changed_streak: 0,
            unchanged_streak: 0,
            jitter: 0.0,
        }
    }

    /// The delay in seconds, and that `at` agrees with it.
    fn delay(timing: Timing, facts: PollFacts) -> (u64, NextPollReason) {
        let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
        let next = next_poll(timing, facts, now);
        let delay = next.delay.unwrap();
        assert_eq!(
            (next.at.unwrap() - now).num_seconds() as u64,
            delay.as_secs()
        );
        (delay.as_secs(), next.reason)
    }

    #[test]
    fn success_waits_one_interval() {
        assert_eq!(
            delay(timing(15), facts(PollOutcome::Changed)),
            (900, NextPollReason::Interval)
        );
    }

    #[test]
    fn failures_double_cap_and_never_shorten_a_long_interval() {
        let gaps: Vec<u64> = (1..=14)
            .map(|streak| {
                let outcome = PollOutcome::Failure {
                    streak,
                    retry_after: None,
                };
                delay(timing(10), facts(outcome)).0
            })
            .collect();
        assert_eq!(&gaps[..5], &[600, 1200, 2400, 4800, 9600]);
        assert!(gaps.windows(2).all(|pair| pair[0] <= pair[1]), "{gaps:?}");
        assert_eq!(*gaps.last().unwrap(), 86_400);
        let huge = PollOutcome::Failure {
            streak: u32::MAX,
            retry_after: None,
        };
        assert_eq!(delay(timing(10), facts(huge)).0, 86_400);
        let two_days = PollOutcome::Failure {
            streak: 5,
            retry_after: None,
        };
        assert_eq!(delay(timing(2 * 24 * 60), facts(two_days)).0, 2 * 86_400);
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let outcome = PollOutcome::Failure {
            streak: 1,
            retry_after: Some(Duration::from_secs(7200)),
        };
        assert_eq!(
            delay(timing(15), facts(outcome)),
            (7200, NextPollReason::RetryAfter)
        );
        let short = PollOutcome::Failure {
            streak: 1,
            retry_after: Some(Duration::from_secs(5)),
        };
        assert_eq!(
            delay(timing(15), facts(short)),
            (900, NextPollReason::Backoff { streak: 1 })
        );
    }

    #[test]
    fn server_hints_only_ever_lengthen() {
        let mut long = facts(PollOutcome::Unchanged);
        long.server_hint = Some(Duration::from_secs(3600));
        assert_eq!(delay(timing(15), long), (3600, NextPollReason::ServerHint));
        let mut short = facts(PollOutcome::Unchanged);
        short.server_hint = Some(Duration::from_secs(60));
        assert_eq!(delay(timing(15), short), (900, NextPollReason::Interval));
        let mut huge = facts(PollOutcome::Unchanged);
        huge.server_hint = Some(Duration::from_secs(30 * 86_400));
        assert_eq!(
            delay(timing(15), huge).0,
            86_400,
            "kept inside max_interval"
        );
    }

    #[test]
    fn busy_feeds_come_sooner_and_quiet_ones_later() {
        let mut busy = facts(PollOutcome::Changed);
        busy.changed_streak = BUSY_AFTER;
        assert_eq!(delay(timing(20), busy), (600, NextPollReason::Busy));
        let mut quiet = facts(PollOutcome::Unchanged);
        quiet.unchanged_streak = QUIET_AFTER;
        assert_eq!(delay(timing(20), quiet), (2400, NextPollReason::Quiet));
        quiet.unchanged_streak = 2 * QUIET_AFTER + 50;
        assert_eq!(delay(timing(20), quiet), (4800, NextPollReason::Quiet));
        let mut fast = facts(PollOutcome::Changed);
        fast.changed_streak = 10;
        assert_eq!(delay(timing(1), fast).0, 60, "never below min_interval");
    }

    #[test]
    fn jitter_only_delays_and_is_bounded() {
        let mut jittered = facts(PollOutcome::Changed);
        jittered.jitter = 0.999;
        let (seconds, _) = delay(timing(10), jittered);
        assert!((600..=660).contains(&seconds), "{seconds}");
        let retry = PollOutcome::Failure {
            streak: 1,
            retry_after: Some(Duration::from_secs(120)),
        };
        let mut retry_facts = facts(retry);
        retry_facts.jitter = 0.999;
        assert!(delay(timing(1), retry_facts).0 >= 120);
    }

    #[test]
    fn gone_is_never_polled_again() {
        let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
        let next = next_poll(timing(15), facts(PollOutcome::Gone), now);
        assert_eq!((next.at, next.delay), (None, None));
        assert_eq!(next.reason, NextPollReason::Gone);
    }
}
