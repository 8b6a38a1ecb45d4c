//! Capped exponential backoff, shared by state polling, delete retries and the answer's PUT.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub first: Duration,
    pub max: Duration,
    /// Randomise each delay within its upper half so that retries from many functions spread.
    pub jitter: bool,
}

impl BackoffPolicy {
    pub fn start(&self) -> Backoff {
        Backoff {
            policy: *self,
            next: self.first,
            random: RandomState::new(),
            draws: 0,
        }
    }
}

/// The delays of one sequence of retries: `first`, then doubling up to `max`.
#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    next: Duration,
    random: RandomState,
    draws: u64,
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.policy.max);
        if self.policy.jitter {
            delay / 2 + delay.mul_f64(self.unit_random() / 2.0)
        } else {
            delay
        }
    }

    /// A number in [0, 1); std's randomly keyed hasher is random enough for spreading retries.
    fn unit_random(&mut self) -> f64 {
        self.draws += 1;
        let mut hasher = self.random.build_hasher();
        hasher.write_u64(self.draws);
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = BackoffPolicy {
            first: ms(50),
            max: ms(250),
            jitter: false,
        }
        .start();
        let delays: Vec<_> = (0..6).map(|_| b.next_delay()).collect();
        assert_eq!(
            delays,
            vec![ms(50), ms(100), ms(200), ms(250), ms(250), ms(250)]
        );
    }

    #[test]
    fn jitter_stays_within_the_upper_half_and_varies() {
        let mut b = BackoffPolicy {
            first: ms(1000),
            max: ms(1000),
            jitter: true,
        }
        .start();
        let delays: Vec<_> = (0..50).map(|_| b.next_delay()).collect();
        assert!(
            delays.iter().all(|d| *d >= ms(500) && *d < ms(1000)),
            "{delays:?}"
        );
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "jitter never varied: {delays:?}"
        );
    }
}
