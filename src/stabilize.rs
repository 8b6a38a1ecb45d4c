//! Waiting for a new configuration to leave CREATING: GetRecordingConfiguration with a short
//! first delay and a capped exponential backoff, never past the work deadline.

use crate::backoff::BackoffPolicy;
use crate::deadline::Deadline;
use crate::ivs::{Configuration, Ivs, IvsError, STATE_ACTIVE, STATE_CREATE_FAILED};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{debug, warn};

/// Polls start fast because IVS usually settles within a second or two, and stay frequent
/// (at most a quarter second apart) so the answer follows the state change closely.
pub const DEFAULT_POLL: BackoffPolicy = BackoffPolicy {
    first: Duration::from_millis(50),
    max: Duration::from_millis(250),
    jitter: false,
};

/// Consecutive "not found" answers after which a configuration counts as gone.
const VANISHED_AFTER: u32 = 3;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StabilizeError {
    #[error("recording configuration {} went to CREATE_FAILED", .0.arn)]
    CreateFailed(Configuration),
    #[error("recording configuration {arn} disappeared while waiting for it to become ACTIVE")]
    Vanished { arn: String },
    #[error("timed out waiting for recording configuration {arn} to become ACTIVE: still {state} after {waited:.1?}{}", last_error_text(.last_error))]
    TimedOut {
        arn: String,
        state: String,
        waited: Duration,
        last_error: Option<IvsError>,
    },
    #[error(transparent)]
    Ivs(IvsError),
}

fn last_error_text(error: &Option<IvsError>) -> String {
    error
        .as_ref()
        .map(|e| format!(" (last poll: {e})"))
        .unwrap_or_default()
}

/// Returns the configuration once ACTIVE. `created` is what Create answered, so a configuration
/// that is ACTIVE at once costs no poll.
pub async fn wait_until_active(
    ivs: &Ivs,
    created: Configuration,
    policy: BackoffPolicy,
    deadline: &Deadline,
) -> Result<Configuration, StabilizeError> {
    let started = Instant::now();
    let mut backoff = policy.start();
    let mut current = created;
    let mut last_error = None;
    let mut not_found = 0;
    loop {
        match current.state.as_str() {
            STATE_ACTIVE => return Ok(current),
            STATE_CREATE_FAILED => return Err(StabilizeError::CreateFailed(current)),
            _ => {}
        }
        let delay = backoff.next_delay();
        if deadline.work_left() <= delay {
            return Err(StabilizeError::TimedOut {
                arn: current.arn,
                state: current.state,
                waited: started.elapsed(),
                last_error,
            });
        }
        tokio::time::sleep(delay).await;
        match ivs.get(&current.arn, deadline).await {
            Ok(found) => {
                debug!(arn = %found.arn, state = %found.state, "polled state");
                not_found = 0;
                current = found;
            }
            // Right after a create, IVS's reads may not see the new configuration yet: only a
            // 404 that persists means it is gone.
            Err(e) if e.is_not_found() => {
                not_found += 1;
                if not_found >= VANISHED_AFTER {
                    return Err(StabilizeError::Vanished { arn: current.arn });
                }
                debug!(arn = %current.arn, not_found, "not found yet, will poll again");
                last_error = Some(e);
            }
            Err(e) if e.is_permanent() => return Err(StabilizeError::Ivs(e)),
            Err(IvsError::Deadline { .. }) => {
                return Err(StabilizeError::TimedOut {
                    arn: current.arn,
                    state: current.state,
                    waited: started.elapsed(),
                    last_error,
                })
            }
            // The configuration exists; a passing failure to read it is no reason to fail
            // the stack while time remains.
            Err(e) => {
                warn!(arn = %current.arn, error = %e, "poll failed, will poll again");
                last_error = Some(e);
            }
        }
    }
}
