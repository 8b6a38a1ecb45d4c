//! The time an invocation has: Lambda's deadline, less a safety margin kept for answering
//! CloudFormation, so that slow IVS calls end in a FAILED answer rather than in silence.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// 2001-09-09: no Lambda deadline is older, and no sensible timeout is longer.
const NOT_A_WALL_CLOCK_TIME: Duration = Duration::from_secs(1_000_000_000);

/// The time budget of one invocation, split into IVS work time and a margin kept for answering.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    /// Lambda stops the function here.
    hard: Instant,
    /// IVS work must stop here; the rest belongs to the answer.
    work: Instant,
}

impl Deadline {
    /// `lambda_deadline` is the deadline the runtime gives with each event: a wall-clock time
    /// from Lambda, or, from a local Runtime API that sends a timeout instead (cargo lambda
    /// watch sends 600000), a time in 1970 that [`Deadline::is_relative`] recognises and that is
    /// read as that much time from now.
    pub fn from_lambda(lambda_deadline: SystemTime, safety_margin: Duration) -> Self {
        let left = if Self::is_relative(lambda_deadline) {
            lambda_deadline
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
        } else {
            lambda_deadline
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        };
        Self::after(left, safety_margin)
    }

    /// Whether a runtime's deadline is no wall-clock time (before 2001) but a timeout.
    pub fn is_relative(lambda_deadline: SystemTime) -> bool {
        lambda_deadline
            .duration_since(UNIX_EPOCH)
            .is_ok_and(|since| since < NOT_A_WALL_CLOCK_TIME)
    }

    /// A deadline `left` from now, of which the last `safety_margin` is kept for the answer.
    pub fn after(left: Duration, safety_margin: Duration) -> Self {
        let now = Instant::now();
        let hard = now + left;
        let work = now + left.saturating_sub(safety_margin);
        Deadline { hard, work }
    }

    /// Time left for IVS work.
    pub fn work_left(&self) -> Duration {
        self.work.saturating_duration_since(Instant::now())
    }

    /// True once IVS work must stop so that the answer can still be sent in time.
    pub fn work_expired(&self) -> bool {
        self.work_left().is_zero()
    }

    /// Time left before Lambda stops the function.
    pub fn hard_left(&self) -> Duration {
        self.hard.saturating_duration_since(Instant::now())
    }

    /// The instant Lambda stops the function, to measure other instants against.
    pub fn hard_instant(&self) -> Instant {
        self.hard
    }

    /// When delivering the answer must stop: a quarter of the margin before Lambda's deadline,
    /// so that an undeliverable answer still reaches the runtime as an error for Lambda to retry.
    pub fn send_by(&self) -> Instant {
        self.hard - (self.hard - self.work) / 4
    }

    /// Time for cleaning up after a failure: what is left of the work time, or when that is
    /// spent (a timeout), a slice of the margin that leaves the rest for the answer.
    pub fn for_cleanup(&self) -> Deadline {
        let slice = (self.hard_left() / 3).min(Duration::from_secs(2));
        Deadline::after(self.work_left().max(slice), Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_taken_from_the_work_time() {
        let d = Deadline::after(Duration::from_secs(10), Duration::from_secs(3));
        assert!(d.work_left() <= Duration::from_secs(7));
        assert!(d.work_left() > Duration::from_millis(6_900));
        assert!(d.hard_left() > Duration::from_millis(9_900));
        assert!(!d.work_expired());
    }

    #[test]
    fn less_time_than_the_margin_leaves_no_work_time() {
        let d = Deadline::after(Duration::from_secs(2), Duration::from_secs(3));
        assert!(d.work_expired());
        assert!(d.hard_left() > Duration::from_millis(1_900));
    }

    #[test]
    fn the_answer_stops_a_quarter_margin_before_the_deadline() {
        let d = Deadline::after(Duration::from_secs(10), Duration::from_secs(4));
        let before_hard = d.hard_instant() - d.send_by();
        assert_eq!(before_hard, Duration::from_secs(1));
    }

    #[test]
    fn cleanup_gets_a_slice_of_the_margin_once_work_time_is_spent() {
        let spent = Deadline::after(Duration::from_millis(900), Duration::from_secs(1));
        let cleanup = spent.for_cleanup().work_left();
        assert!(
            cleanup > Duration::from_millis(250) && cleanup <= Duration::from_millis(300),
            "{cleanup:?}"
        );
        let fresh = Deadline::after(Duration::from_secs(60), Duration::from_secs(5));
        assert!(fresh.for_cleanup().work_left() > Duration::from_secs(54));
    }

    #[test]
    fn a_timeout_sent_as_the_deadline_counts_from_now() {
        // What cargo lambda watch sends: 600000 "milliseconds since the epoch".
        let cargo_lambda = UNIX_EPOCH + Duration::from_millis(600_000);
        assert!(Deadline::is_relative(cargo_lambda));
        let d = Deadline::from_lambda(cargo_lambda, Duration::from_secs(5));
        assert!(d.hard_left() > Duration::from_secs(599));
        assert!(d.work_left() <= Duration::from_secs(595));
        assert!(!Deadline::is_relative(SystemTime::now()));
    }

    #[test]
    fn a_deadline_in_the_past_is_expired() {
        let d = Deadline::from_lambda(SystemTime::now() - Duration::from_secs(1), Duration::ZERO);
        assert!(d.work_expired());
        assert_eq!(d.hard_left(), Duration::ZERO);
    }
}
