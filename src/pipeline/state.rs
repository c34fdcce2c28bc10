//! Pure: a feed's next `FetchState` from its previous one and what one poll observed. This is
//! where validators are kept or replaced, error and change streaks counted, a feed moved after
//! permanent redirects, and marked gone after a 410.
//!
//! Reads no clock and draws no random number: `now` and `jitter` come in.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::fetch::{Redirects, ServerHints, Validators};
use crate::schedule::{NextPoll, PollFacts, PollOutcome, Timing, next_poll};
use crate::store::FetchState;

/// Polls in a row that must see the same permanent redirect (301/308) before the feed's
/// stored URL moves. One bad deploy that 301s for a few minutes must not move a feed for good.
pub const MOVE_AFTER: u32 = 3;

/// What one poll saw.
#[derive(Debug, Clone)]
pub enum Observed {
    /// `304 Not Modified`.
    NotModified {
        status: u16,
        hints: ServerHints,
        redirects: Redirects,
    },
    /// A body with the same hash as the last one: nothing to parse.
    SameBody {
        status: u16,
        hints: ServerHints,
        redirects: Redirects,
        validators: Validators,
    },
    /// A new body, parsed.
    NewBody {
        status: u16,
        hints: ServerHints,
        redirects: Redirects,
        validators: Validators,
        body_hash: String,
        update_period: Option<Duration>,
    },
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    Gone,
}

/// A feed moved for good: where from, where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: String,
    pub to: String,
}

/// The result of a poll for the feed's state.
#[derive(Debug, Clone)]
pub struct Transition {
    pub state: FetchState,
    pub next_poll: NextPoll,
    /// Set on the poll that moved the feed's stored URL.
    pub moved: Option<Moved>,
}

pub fn transition(
    previous: &FetchState,
    configured_url: &str,
    timing: Timing,
    observed: &Observed,
    now: DateTime<Utc>,
    jitter: f64,
) -> Transition {
    let mut state = previous.clone();
    state.last_attempt = Some(now);
    let mut moved = None;
    let outcome = match observed {
        Observed::NotModified {
            status,
            hints,
            redirects,
        }
        | Observed::SameBody {
            status,
            hints,
            redirects,
            ..
        }
        | Observed::NewBody {
            status,
            hints,
            redirects,
            ..
        } => {
            state.last_success = Some(now);
            state.last_status = Some(*status);
            state.last_error = None;
            state.error_streak = 0;
            state.gone_since = None;
            match observed {
                Observed::SameBody { validators, .. } => set_validators(&mut state, validators),
                Observed::NewBody {
                    validators,
                    body_hash,
                    update_period,
                    ..
                } => {
                    set_validators(&mut state, validators);
                    state.body_hash = Some(body_hash.clone());
                    state.feed_hint = update_period.map(|period| period.as_secs());
                }
                _ => {}
            }
            moved = follow_redirects(&mut state, configured_url, redirects);
            let changed = matches!(observed, Observed::NewBody { .. });
            if changed {
                state.changed_streak = state.changed_streak.saturating_add(1);
                state.unchanged_streak = 0;
            } else {
                state.unchanged_streak = state.unchanged_streak.saturating_add(1);
                state.changed_streak = 0;
            }
            let server_hint = hints
                .fresh_for
                .max(state.feed_hint.map(Duration::from_secs));
            let facts = PollFacts {
                outcome: if changed {
                    PollOutcome::Changed
                } else {
                    PollOutcome::Unchanged
                },
                server_hint,
                changed_streak: state.changed_streak,
                unchanged_streak: state.unchanged_streak,
                jitter,
            };
            next_poll(timing, facts, now)
        }
        Observed::Failed {
            status,
            error,
            retry_after,
        } => {
            state.last_status = *status;
            state.last_error = Some(error.clone());
            state.error_streak = state.error_streak.saturating_add(1);
            let facts = PollFacts {
                outcome: PollOutcome::Failure {
                    streak: state.error_streak,
                    retry_after: *retry_after,
                },
                server_hint: None,
                changed_streak: state.changed_streak,
                unchanged_streak: state.unchanged_streak,
                jitter,
            };
            next_poll(timing, facts, now)
        }
        Observed::Gone => {
            state.last_status = Some(410);
            state.last_error = Some("HTTP 410 Gone: the feed was removed for good".to_string());
            state.error_streak = state.error_streak.saturating_add(1);
            state.gone_since = previous.gone_since.or(Some(now));
            let facts = PollFacts {
                outcome: PollOutcome::Gone,
                server_hint: None,
                changed_streak: 0,
                unchanged_streak: 0,
                jitter,
            };
            next_poll(timing, facts, now)
        }
    };
    state.next_poll = outcome.at;
    state.next_poll_reason = Some(outcome.reason.to_string());
    Transition {
        state,
        next_poll: outcome,
        moved,
    }
}

/// Keeps the validators the server sent; a server that stopped sending them gets none back.
fn set_validators(state: &mut FetchState, validators: &Validators) {
    state.etag = validators.etag.clone();
    state.last_modified = validators.last_modified.clone();
}

/// Counts polls that ended at the same permanent target, and moves the feed once the count
/// reaches `MOVE_AFTER`. Any poll without that redirect resets the count.
fn follow_redirects(
    state: &mut FetchState,
    configured_url: &str,
    redirects: &Redirects,
) -> Option<Moved> {
    let Some(target) = &redirects.permanent_target else {
        state.redirect_target = None;
        state.redirect_streak = 0;
        return None;
    };
    let target = target.to_string();
    if state.redirect_target.as_deref() == Some(target.as_str()) {
        state.redirect_streak = state.redirect_streak.saturating_add(1);
    } else {
        state.redirect_target = Some(target.clone());
        state.redirect_streak = 1;
    }
    if state.redirect_streak < MOVE_AFTER {
        return None;
    }
    let from = state
        .fetch_url
        .clone()
        .unwrap_or_else(|| configured_url.to_string());
    state.fetch_url = (target != configured_url).then(|| target.clone());
    state.redirect_target = None;
    state.redirect_streak = 0;
    Some(Moved { from, to: target })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use url::Url;

    use super::*;
    use crate::schedule::NextPollReason;

    const URL: &str = "https://old.example/feed";

    fn timing() -> Timing {
        Timing {
            interval: Duration::from_secs(600),
            min_interval: Duration::from_secs(60),
            max_interval: Duration::from_secs(86_400),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_000_000, 0).unwrap()
    }

    fn redirected(status_target: Option<&str>) -> Observed {
        Observed::NotModified {
            status: 304,
            hints: ServerHints::default(),
            redirects: Redirects {
                permanent_target: status_target.map(|target| Url::parse(target).unwrap()),
                hops: usize::from(status_target.is_some()),
            },
        }
    }

    fn step(state: &FetchState, observed: &Observed) -> Transition {
        transition(state, URL, timing(), observed, now(), 0.0)
    }

    #[test]
    fn a_feed_moves_after_consecutive_permanent_redirects_only() {
        let target = "https://new.example/feed";
        let mut state = FetchState::default();
        for _ in 1..MOVE_AFTER {
            let next = step(&state, &redirected(Some(target)));
            assert_eq!(next.moved, None);
            state = next.state;
        }
        // A poll without the redirect starts the count again.
        state = step(&state, &redirected(None)).state;
        assert_eq!(state.redirect_streak, 0);
        for poll in 1..=MOVE_AFTER {
            let next = step(&state, &redirected(Some(target)));
            state = next.state;
            if poll == MOVE_AFTER {
                assert_eq!(
                    next.moved,
                    Some(Moved {
                        from: URL.into(),
                        to: target.into()
                    })
                );
            }
        }
        assert_eq!(state.fetch_url.as_deref(), Some(target));
    }

    #[test]
    fn failures_count_and_success_resets() {
        let failed = Observed::Failed {
            status: Some(500),
            error: "HTTP 500".into(),
            retry_after: None,
        };
        let first = step(&FetchState::default(), &failed);
        let second = step(&first.state, &failed);
        assert_eq!(second.state.error_streak, 2);
        assert_eq!(second.next_poll.delay, Some(Duration::from_secs(1200)));
        let recovered = step(&second.state, &redirected(None));
        assert_eq!(recovered.state.error_streak, 0);
        assert_eq!(recovered.state.last_error, None);
        assert_eq!(recovered.next_poll.delay, Some(Duration::from_secs(600)));
    }

    #[test]
    fn gone_stops_polling() {
        let gone = step(&FetchState::default(), &Observed::Gone);
        assert_eq!(gone.state.gone_since, Some(now()));
        assert_eq!(gone.next_poll.reason, NextPollReason::Gone);
        assert_eq!(gone.state.next_poll, None);
    }

    #[test]
    fn new_bodies_keep_their_hash_and_hint() {
        let observed = Observed::NewBody {
            status: 200,
            hints: ServerHints::default(),
            redirects: Redirects::default(),
            validators: Validators {
                etag: Some("\"a\"".into()),
                last_modified: None,
            },
            body_hash: "h1".into(),
            update_period: Some(Duration::from_secs(3600)),
        };
        let next = step(&FetchState::default(), &observed);
        assert_eq!(next.state.body_hash.as_deref(), Some("h1"));
        assert_eq!(next.state.etag.as_deref(), Some("\"a\""));
        assert_eq!(next.next_poll.delay, Some(Duration::from_secs(3600)));
        assert_eq!(next.next_poll.reason, NextPollReason::ServerHint);
        // The feed's own hint still counts on a 304, which has no body to read it from.
        let after = step(&next.state, &redirected(None));
        assert_eq!(after.next_poll.delay, Some(Duration::from_secs(3600)));
    }
}
