//! IVS calls as one invocation makes them: each bounded by the work deadline, throttling waited
//! out with exponential backoff and full jitter until that deadline, and AccessDenied retried
//! for a grace period while a new role's permissions propagate.
//!
//! The SDK already retries each call a few times, quickly; what it cannot know is how long this
//! invocation may wait, so the long waits are here.

use crate::ivs::{Channel, Configuration, IvsApi, IvsError, Marked, Operation};
use crate::ownership::{Marker, Owner};
use crate::properties::RecordingSpec;
use crate::timing::backoff::BackoffPolicy;
use crate::timing::deadline::Deadline;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::warn;

/// How long the calls of one invocation wait for IVS's quotas and for IAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallPolicy {
    /// Between throttled calls.
    pub throttled: BackoffPolicy,
    /// How long AccessDenied may last, counted from the invocation's first one.
    pub access_denied_grace: Duration,
    /// Between denied calls.
    pub denied: BackoffPolicy,
}

/// The IVS calls of one invocation.
#[derive(Debug)]
pub struct Calls<'a, A> {
    api: &'a A,
    policy: CallPolicy,
    deadline: Deadline,
    /// When the first AccessDenied of this invocation came: the grace runs from there.
    first_denied: Mutex<Option<Instant>>,
}

impl<'a, A: IvsApi> Calls<'a, A> {
    /// Calls through `api`, within `deadline`'s work time.
    pub fn new(api: &'a A, policy: CallPolicy, deadline: Deadline) -> Self {
        Calls {
            api,
            policy,
            deadline,
            first_denied: Mutex::new(None),
        }
    }

    /// The same calls for cleaning up after a failure, within [`Deadline::for_cleanup`].
    pub fn for_cleanup(&self) -> Calls<'a, A> {
        Calls {
            api: self.api,
            policy: self.policy,
            deadline: self.deadline.for_cleanup(),
            first_denied: Mutex::new(*self.first_denied.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }

    /// The deadline the calls keep to.
    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    /// CreateRecordingConfiguration.
    pub async fn create(
        &self,
        spec: &RecordingSpec,
        marker: &Marker,
    ) -> Result<Configuration, IvsError> {
        self.call(Operation::Create, || self.api.create(spec, marker))
            .await
    }

    /// GetRecordingConfiguration.
    pub async fn get(&self, arn: &str) -> Result<Configuration, IvsError> {
        self.call(Operation::Get, || self.api.get(arn)).await
    }

    /// DeleteRecordingConfiguration.
    pub async fn delete(&self, arn: &str) -> Result<(), IvsError> {
        self.call(Operation::Delete, || self.api.delete(arn)).await
    }

    /// The configurations that carry `request_id`'s marker, the one every delivery of the
    /// request keeps first: those marked kept before the others, then the oldest by the
    /// marker's time, then by ARN.
    pub async fn find_by_request(&self, request_id: &str) -> Result<Vec<Marked>, IvsError> {
        let mut found: Vec<Marked> = self
            .call(Operation::List, || self.api.list_marked())
            .await?
            .into_iter()
            .filter(|m| m.marker.request_id == request_id)
            .collect();
        found.sort_by(|a, b| {
            (!a.marker.kept, a.marker.created_ms, &a.configuration.arn).cmp(&(
                !b.marker.kept,
                b.marker.created_ms,
                &b.configuration.arn,
            ))
        });
        Ok(found)
    }

    /// The configurations whose marker names `owner`, in List's order.
    pub async fn find_by_owner(&self, owner: &Owner) -> Result<Vec<Marked>, IvsError> {
        Ok(self
            .call(Operation::List, || self.api.list_marked())
            .await?
            .into_iter()
            .filter(|m| m.marker.owner.as_ref() == Some(owner))
            .collect())
    }

    /// ListTagsForResource.
    pub async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, IvsError> {
        self.call(Operation::ListTags, || self.api.tags(arn)).await
    }

    /// TagResource.
    pub async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), IvsError> {
        self.call(Operation::Tag, || self.api.tag(arn, tags)).await
    }

    /// UntagResource.
    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), IvsError> {
        self.call(Operation::Untag, || self.api.untag(arn, keys))
            .await
    }

    /// ListChannels filtered by the configuration.
    pub async fn channels_using(&self, arn: &str, max: i32) -> Result<Vec<Channel>, IvsError> {
        self.call(Operation::ListChannels, || {
            self.api.channels_using(arn, max)
        })
        .await
    }

    async fn call<T, F, Fut>(&self, operation: Operation, call: F) -> Result<T, IvsError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, IvsError>>,
    {
        let mut throttled = self.policy.throttled.start();
        let mut denied = self.policy.denied.start();
        let mut attempts = 0;
        let mut last_throttle: Option<IvsError> = None;
        loop {
            attempts += 1;
            let throttled_before = self.api.call_count().throttled;
            let error = match tokio::time::timeout(self.deadline.work_left(), call()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => e,
                Err(_) => {
                    // Cut off while throttled, by IVS's answers to this loop or to the SDK's
                    // own retries within the last call.
                    let throttled_meanwhile = self.api.call_count().throttled > throttled_before;
                    return Err(match last_throttle {
                        Some(e) => throttled_until_deadline(operation, attempts, &e),
                        None if throttled_meanwhile => IvsError::Throttled {
                            operation,
                            attempts,
                            message: "Rate exceeded".to_string(),
                        },
                        None => IvsError::Deadline { operation },
                    });
                }
            };
            if error.is_throttle() {
                warn!(%operation, attempts, "throttled by IVS");
                if !throttled.pause_within(self.deadline.work_left()).await {
                    return Err(throttled_until_deadline(operation, attempts, &error));
                }
                last_throttle = Some(error);
            } else if error.is_access_denied() {
                let first = *self
                    .first_denied
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(Instant::now);
                warn!(%operation, attempts, "access denied; IAM may still be propagating");
                let grace_left = self
                    .policy
                    .access_denied_grace
                    .saturating_sub(first.elapsed());
                let room = grace_left.min(self.deadline.work_left());
                if !denied.pause_within(room).await {
                    return Err(IvsError::AccessDenied {
                        operation,
                        message: ivs_message(&error),
                        waited: first.elapsed(),
                    });
                }
            } else {
                return Err(error);
            }
        }
    }
}

fn throttled_until_deadline(operation: Operation, attempts: u32, last: &IvsError) -> IvsError {
    IvsError::Throttled {
        operation,
        attempts,
        message: ivs_message(last),
    }
}

/// IVS's own message when it gave one, else the whole error.
fn ivs_message(error: &IvsError) -> String {
    match error {
        IvsError::Service { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fast::{deadline, fast_calls};
    use crate::ivs::fake::{service_error, FakeIvs, Step};
    use crate::ivs::State;

    fn throttle() -> Step {
        Step::Fail(service_error(Operation::Create, "ThrottlingException"))
    }

    #[tokio::test]
    async fn throttling_is_waited_out_while_time_remains() {
        let ivs = FakeIvs::new();
        for _ in 0..4 {
            ivs.script(Operation::Create, throttle());
        }
        let calls = Calls::new(&ivs, fast_calls(), deadline(2_000));
        let made = calls
            .create(&RecordingSpec::default(), &Marker::now("r"))
            .await
            .unwrap();
        assert_eq!(made.state, State::Active);
        assert_eq!(ivs.count(Operation::Create), 5);
    }

    #[tokio::test]
    async fn throttling_past_the_deadline_names_the_operation_and_the_quota() {
        let ivs = FakeIvs::new();
        for _ in 0..10_000 {
            ivs.script(Operation::Create, throttle());
        }
        let d = deadline(300);
        let calls = Calls::new(&ivs, fast_calls(), d);
        let e = calls
            .create(&RecordingSpec::default(), &Marker::now("r"))
            .await
            .unwrap_err();
        assert!(matches!(e, IvsError::Throttled { .. }), "{e}");
        let reason = e.to_string();
        assert!(
            reason.contains("CreateRecordingConfiguration was throttled")
                && reason.contains("allows 3 CreateRecordingConfiguration calls a second"),
            "{reason}"
        );
        assert!(d.work_left().is_zero() || d.work_left() < Duration::from_millis(25));
        assert!(ivs.arns().is_empty());
    }

    #[tokio::test]
    async fn access_denied_is_retried_for_the_grace_period_only() {
        let denied = || Step::Fail(service_error(Operation::Get, "AccessDeniedException"));
        let ivs = FakeIvs::new();
        let arn = ivs.insert(Marker::now("r"), State::Active);
        for _ in 0..3 {
            ivs.script(Operation::Get, denied());
        }
        let calls = Calls::new(&ivs, fast_calls(), deadline(2_000));
        assert_eq!(calls.get(&arn).await.unwrap().arn, arn);

        for _ in 0..10_000 {
            ivs.script(Operation::Get, denied());
        }
        let started = Instant::now();
        let calls = Calls::new(&ivs, fast_calls(), deadline(2_000));
        let e = calls.get(&arn).await.unwrap_err();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(100) && waited < Duration::from_millis(500),
            "{waited:?}"
        );
        let reason = e.to_string();
        assert!(
            reason.contains("ivs:GetRecordingConfiguration") && reason.contains("propagating"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let ivs = FakeIvs::new();
        ivs.script(
            Operation::Delete,
            Step::Fail(service_error(Operation::Delete, "ConflictException")),
        );
        let calls = Calls::new(&ivs, fast_calls(), deadline(2_000));
        assert!(calls.delete("arn").await.unwrap_err().is_conflict());
        assert_eq!(ivs.count(Operation::Delete), 1);
    }
}
