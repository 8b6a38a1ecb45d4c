//! Waiting for a new configuration to leave CREATING: GetRecordingConfiguration on a slow
//! schedule (IVS allows 3 Gets a second per account, shared by every resource being created),
//! never past the work deadline, and patient with reads that lag the create.

use crate::ivs::Calls;
use crate::ivs::{Configuration, IvsApi, IvsError, State};
use crate::timing::backoff::BackoffPolicy;
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{debug, warn};

/// How a new configuration is polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollPolicy {
    /// The delays between Gets: the first may come early; after the first second they average
    /// at most one a second.
    pub schedule: BackoffPolicy,
    /// How long after the create a 404 still means "not visible yet" rather than "gone".
    pub read_lag_grace: Duration,
}

/// Why a configuration did not become ACTIVE.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StabilizeError {
    /// IVS gave up on it.
    #[error("recording configuration {} went to CREATE_FAILED", .0.arn)]
    CreateFailed(Configuration),
    /// 404s outlasted the read-lag grace period.
    #[error("recording configuration {arn} disappeared while waiting for it to become ACTIVE: IVS answered ResourceNotFoundException for {waited:.1?} after it was created (deleted outside this stack?)")]
    Vanished {
        /// The configuration.
        arn: String,
        /// Since the create.
        waited: Duration,
    },
    /// The work deadline came first.
    #[error("timed out waiting for recording configuration {arn} to become ACTIVE: still {} after {waited:.1?}{}", .state.as_str(), last_error_text(.last_error))]
    TimedOut {
        /// The configuration.
        arn: String,
        /// Its last known state.
        state: State,
        /// Since polling started.
        waited: Duration,
        /// The last failed poll, if any.
        last_error: Option<IvsError>,
    },
    /// A poll failed for good.
    #[error(transparent)]
    Ivs(IvsError),
}

fn last_error_text(error: &Option<IvsError>) -> String {
    error
        .as_ref()
        .map(|e| format!(" (last poll: {e})"))
        .unwrap_or_default()
}

/// Returns the configuration once ACTIVE. `current` is what Create (or List) answered, so a
/// configuration that is ACTIVE at once costs no poll; `created` is when it was made (or first
/// seen), from which the read-lag grace runs.
pub async fn wait_until_active<A: IvsApi>(
    calls: &Calls<'_, A>,
    mut current: Configuration,
    created: Instant,
    policy: PollPolicy,
) -> Result<Configuration, StabilizeError> {
    let started = Instant::now();
    let mut schedule = policy.schedule.start();
    let mut last_error = None;
    loop {
        match current.state {
            State::Active => return Ok(current),
            State::CreateFailed => return Err(StabilizeError::CreateFailed(current)),
            _ => {}
        }
        let timed_out = |current: Configuration, last_error| StabilizeError::TimedOut {
            arn: current.arn,
            state: current.state,
            waited: started.elapsed(),
            last_error,
        };
        if !schedule.pause_within(calls.deadline().work_left()).await {
            return Err(timed_out(current, last_error));
        }
        match calls.get(&current.arn).await {
            Ok(found) => {
                debug!(arn = %found.arn, state = found.state.as_str(), "polled state");
                current = found;
            }
            // IVS's reads may not show a new configuration yet: only a 404 that outlasts the
            // grace period means it is gone.
            Err(e) if e.is_not_found() => {
                if created.elapsed() >= policy.read_lag_grace {
                    return Err(StabilizeError::Vanished {
                        arn: current.arn,
                        waited: created.elapsed(),
                    });
                }
                debug!(arn = %current.arn, "not visible yet, will poll again");
                last_error = Some(e);
            }
            Err(e @ (IvsError::Deadline { .. } | IvsError::Throttled { .. })) => {
                return Err(timed_out(current, Some(e)))
            }
            Err(e) if e.is_permanent() => return Err(StabilizeError::Ivs(e)),
            // The configuration exists; a passing failure to read it is no reason to fail
            // the stack while time remains.
            Err(e) => {
                warn!(arn = %current.arn, error = %e, "poll failed, will poll again");
                last_error = Some(e);
            }
        }
    }
}
