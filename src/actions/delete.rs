//! Delete: DeleteRecordingConfiguration, retried while a channel still records with the
//! configuration; when that outlasts the deadline, the Reason names the channels.

use crate::answer::Answer;
use crate::ivs::Calls;
use crate::ivs::{IvsApi, IvsError};
use crate::timing::backoff::BackoffPolicy;
use std::collections::BTreeMap;
use std::time::Instant;
use tracing::{info, warn};

/// How many channels a Reason names at most; the answer has 4 KB for everything.
pub const CHANNELS_NAMED: usize = 5;

/// Deletes `arn` and answers.
pub async fn delete<A: IvsApi>(
    calls: &Calls<'_, A>,
    arn: &str,
    conflict_retry: BackoffPolicy,
) -> Answer {
    let mut backoff = conflict_retry.start();
    let mut attempts = 0;
    let mut conflict: Option<IvsError> = None;
    loop {
        attempts += 1;
        let started = Instant::now();
        let error = match calls.delete(arn).await {
            Ok(()) => {
                info!(arn, "deleted");
                return Answer::success(
                    arn,
                    format!("Deleted recording configuration {arn}"),
                    BTreeMap::new(),
                );
            }
            Err(e) if e.is_not_found() => {
                info!(arn, "already gone");
                return Answer::success(
                    arn,
                    format!("Recording configuration {arn} was already gone"),
                    BTreeMap::new(),
                );
            }
            Err(e) if e.is_conflict() => e,
            // A retry cut short by the deadline still failed for the conflict before it.
            Err(IvsError::Deadline { .. } | IvsError::Throttled { .. }) if conflict.is_some() => {
                break
            }
            Err(e) => return Answer::failed(arn, e.to_string()),
        };
        conflict = Some(error);
        warn!(arn, attempts, "a channel still uses the configuration");
        // Room for the wait and one more call as long as the last one took.
        let room = calls
            .deadline()
            .work_left()
            .saturating_sub(started.elapsed());
        if !backoff.pause_within(room).await {
            break;
        }
    }
    let conflict = conflict.map(|e| e.to_string()).unwrap_or_default();
    let cleanup = calls.for_cleanup();
    let channels = match cleanup.channels_using(arn, CHANNELS_NAMED as i32 + 1).await {
        Ok(channels) if !channels.is_empty() => {
            let named: Vec<String> = channels
                .iter()
                .take(CHANNELS_NAMED)
                .map(|c| {
                    format!(
                        "{} ({})",
                        if c.name.is_empty() {
                            "(no name)"
                        } else {
                            &c.name
                        },
                        c.arn
                    )
                })
                .collect();
            let more = if channels.len() > CHANNELS_NAMED {
                " and more"
            } else {
                ""
            };
            format!(
                "Channels still recording with it: {}{more}. ",
                named.join(", ")
            )
        }
        Ok(_) => String::new(),
        Err(e) => {
            warn!(arn, error = %e, "could not list the channels that use the configuration");
            String::new()
        }
    };
    Answer::failed(arn, format!(
        "A channel still references recording configuration {arn}: {conflict}. Gave up after {attempts} attempts before the function's deadline. {channels}Remove it from the channel (recordingConfigurationArn) or delete the channel, then retry"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::AnswerStatus;
    use crate::config::fast::{deadline, fast_calls};
    use crate::ivs::fake::{service_error, FakeIvs, Step};
    use crate::ivs::{Operation, State};
    use crate::ownership::Marker;
    use crate::timing::backoff::Jitter;
    use std::time::Duration;

    const RETRY: BackoffPolicy = BackoffPolicy {
        first: Duration::from_millis(10),
        max: Duration::from_millis(20),
        jitter: Jitter::None,
    };

    fn blocked(channels: usize) -> (FakeIvs, String) {
        let ivs = FakeIvs::new();
        let arn = ivs.insert(Marker::now("r"), State::Active);
        for _ in 0..10_000 {
            ivs.script(
                Operation::Delete,
                Step::Fail(service_error(Operation::Delete, "ConflictException")),
            );
        }
        for i in 0..channels {
            ivs.add_channel(&format!("live-{i}"));
        }
        (ivs, arn)
    }

    async fn delete_of(ivs: &FakeIvs, arn: &str) -> Answer {
        let calls = Calls::new(ivs, fast_calls(), deadline(300));
        delete(&calls, arn, RETRY).await
    }

    #[tokio::test]
    async fn a_blocked_delete_names_the_channels() {
        let (ivs, arn) = blocked(2);
        let answer = delete_of(&ivs, &arn).await;
        assert_eq!(answer.status, AnswerStatus::Failed);
        assert!(
            answer.reason.contains("Channels still recording with it: live-0 (arn:aws:ivs:us-east-1:123456789012:channel/live-0), live-1 (")
                && !answer.reason.contains("and more"),
            "{}",
            answer.reason
        );
        assert!(ivs.count(Operation::Delete) > 2);
    }

    #[tokio::test]
    async fn more_channels_than_the_bound_are_cut_with_and_more() {
        let (ivs, arn) = blocked(CHANNELS_NAMED + 3);
        let answer = delete_of(&ivs, &arn).await;
        assert!(answer
            .reason
            .contains(&format!("live-{}", CHANNELS_NAMED - 1)));
        assert!(!answer.reason.contains(&format!("live-{}", CHANNELS_NAMED)));
        assert!(answer.reason.contains(" and more."), "{}", answer.reason);
    }

    #[tokio::test]
    async fn a_failed_channel_listing_keeps_the_plain_reason() {
        let (ivs, arn) = blocked(1);
        ivs.script(
            Operation::ListChannels,
            Step::Fail(service_error(
                Operation::ListChannels,
                "ValidationException",
            )),
        );
        let answer = delete_of(&ivs, &arn).await;
        assert!(answer.reason.starts_with("A channel still references"));
        assert!(!answer.reason.contains("Channels still recording"));
        assert!(answer.reason.ends_with("then retry"));
    }

    #[tokio::test]
    async fn a_delete_of_something_gone_succeeds() {
        let ivs = FakeIvs::new();
        let answer = delete_of(
            &ivs,
            "arn:aws:ivs:us-east-1:123456789012:recording-configuration/gone",
        )
        .await;
        assert_eq!(answer.status, AnswerStatus::Success);
        assert!(answer.reason.ends_with("was already gone"));
    }
}
