//! Capped exponential backoff, and the one way the function waits: state polling, IVS call
//! retries, settling, delete retries and the answer's PUT all pause with
//! [`Backoff::pause_within`], which never sleeps past the time the caller has left.

use std::time::Duration;
use tracing::debug;

/// How a delay is randomised, so that retries from many functions at once spread out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// The delay as computed: for polling a single resource, where nobody competes.
    None,
    /// Anywhere in the delay's upper half: spreads retries but keeps a floor.
    Half,
    /// Anywhere from zero to the delay ("full jitter"): spreads clients that compete for one
    /// rate quota the most, and so wastes the fewest calls.
    Full,
}

/// A backoff schedule: `first`, then doubling up to `max`, each delay randomised by `jitter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The first delay.
    pub first: Duration,
    /// The cap on every delay.
    pub max: Duration,
    /// How each delay is randomised.
    pub jitter: Jitter,
}

impl BackoffPolicy {
    /// A fresh sequence of delays following this policy.
    pub fn start(&self) -> Backoff {
        Backoff {
            policy: *self,
            next: self.first,
        }
    }
}

/// The delays of one sequence of retries.
#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    next: Duration,
}

impl Backoff {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.policy.max);
        match self.policy.jitter {
            Jitter::None => delay,
            Jitter::Half => delay / 2 + delay.mul_f64(fastrand::f64() / 2.0),
            Jitter::Full => delay.mul_f64(fastrand::f64()),
        }
    }

    /// Sleeps the next delay if it fits in `room`, the time left for waiting and the attempt
    /// after it; false, at once, when it does not: time to give up.
    pub async fn pause_within(&mut self, room: Duration) -> bool {
        let delay = self.next_delay();
        if room <= delay {
            return false;
        }
        debug!(
            delay_ms = delay.as_millis() as u64,
            "pausing before the next attempt"
        );
        tokio::time::sleep(delay).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn delays(jitter: Jitter, n: usize) -> Vec<Duration> {
        let mut b = BackoffPolicy {
            first: ms(1000),
            max: ms(1000),
            jitter,
        }
        .start();
        (0..n).map(|_| b.next_delay()).collect()
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = BackoffPolicy {
            first: ms(50),
            max: ms(250),
            jitter: Jitter::None,
        }
        .start();
        let delays: Vec<_> = (0..6).map(|_| b.next_delay()).collect();
        assert_eq!(
            delays,
            vec![ms(50), ms(100), ms(200), ms(250), ms(250), ms(250)]
        );
    }

    #[test]
    fn half_jitter_stays_within_the_upper_half_and_varies() {
        let delays = delays(Jitter::Half, 50);
        assert!(
            delays.iter().all(|d| *d >= ms(500) && *d < ms(1000)),
            "{delays:?}"
        );
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "jitter never varied: {delays:?}"
        );
    }

    #[test]
    fn full_jitter_spreads_over_the_whole_delay() {
        let delays = delays(Jitter::Full, 200);
        assert!(delays.iter().all(|d| *d < ms(1000)), "{delays:?}");
        assert!(delays.iter().any(|d| *d < ms(250)), "{delays:?}");
        assert!(delays.iter().any(|d| *d > ms(750)), "{delays:?}");
    }

    #[tokio::test]
    async fn a_pause_happens_only_within_the_room_given() {
        let policy = BackoffPolicy {
            first: ms(30),
            max: ms(30),
            jitter: Jitter::None,
        };
        let started = std::time::Instant::now();
        assert!(!policy.start().pause_within(ms(30)).await);
        assert!(started.elapsed() < ms(30), "gave up without sleeping");
        assert!(policy.start().pause_within(ms(31)).await);
        assert!(started.elapsed() >= ms(30));
    }
}
