//! Making a configuration: find what an earlier delivery of the same request made, or create
//! one; wait until it is ACTIVE; settle with concurrent deliveries on a single configuration;
//! check that CloudFormation still waits for the answer; and after a failure, delete what was
//! made so that nothing is left behind.

use super::Acted;
use crate::actions::cancelled::{self, Awaited};
use crate::actions::stabilize::{self, PollPolicy, StabilizeError};
use crate::answer::{data, Answer};
use crate::arn;
use crate::cloudformation::{CloudFormationApi, StackResource};
use crate::event::Identity;
use crate::ivs::Calls;
use crate::ivs::{Configuration, IvsApi, IvsError, Marked, State};
use crate::ownership::{Marker, Owner, MARKER_TAG};
use crate::properties::RecordingSpec;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// One create, and everything its steps share.
pub struct CreateFlow<'c, 'a, A, C> {
    /// The invocation's IVS calls.
    pub calls: &'c Calls<'a, A>,
    /// Asked whether CloudFormation still waits, before answering SUCCESS.
    pub cloudformation: &'c C,
    /// How long CloudFormation is given to say.
    pub ask_within: Duration,
    /// What to create.
    pub spec: &'c RecordingSpec,
    /// The request: its RequestId is the marker every delivery of it shares, its stack and
    /// logical id the owner the marker names.
    pub identity: &'c Identity,
    /// The request CloudFormation waits for.
    pub awaited: Awaited,
    /// The PhysicalResourceId of a FAILED answer.
    pub failure_id: String,
    /// CloudFormation already holds a resource under `failure_id` (an Update replacing one),
    /// so nothing new may be left behind for a rollback to find.
    pub replacing: bool,
    /// How the new configuration is polled.
    pub poll: PollPolicy,
}

/// Why the first step ended without a configuration to wait for.
enum FirstStep {
    /// IVS refused, or the check before creating failed: nothing was made.
    NothingMade(IvsError),
    /// The create call failed in a way that leaves open whether IVS made the configuration.
    Unknown(IvsError),
}

impl<A: IvsApi, C: CloudFormationApi> CreateFlow<'_, '_, A, C> {
    /// Creates (or adopts what this request already created) and answers.
    pub async fn run(self) -> Acted {
        let started = Instant::now();
        let (current, created_at) = match self.find_or_create().await {
            Ok(found) => found,
            Err(FirstStep::NothingMade(e)) => return self.failed(e.to_string()).into(),
            Err(FirstStep::Unknown(e)) => return self.sweep(e.to_string()).await.into(),
        };
        let arn = current.configuration.arn.clone();
        let marker = current.marker;
        let active = match stabilize::wait_until_active(
            self.calls,
            current.configuration,
            created_at,
            self.poll,
        )
        .await
        {
            Ok(active) => active,
            Err(e) => {
                let reason = match &e {
                    StabilizeError::CreateFailed(c) => create_failed_reason(c, self.spec),
                    other => other.to_string(),
                };
                return self.clean_up(&arn, reason).await.into();
            }
        };
        let time_to_active = started.elapsed();
        let mine = Marked {
            configuration: active,
            marker,
        };
        let mut kept = self.settle(mine, created_at).await;
        if kept.state != State::Active {
            // The older configuration of a concurrent delivery, still settling.
            let arn = kept.arn.clone();
            kept = match stabilize::wait_until_active(self.calls, kept, Instant::now(), self.poll)
                .await
            {
                Ok(active) => active,
                Err(e) => {
                    return self
                        .failed(format!(
                    "{e} (created by a concurrent delivery of this request; {arn} is left to it)"
                ))
                        .into()
                }
            };
        }
        info!(arn = %kept.arn, "active");
        if let Some(resource) = self.stopped_waiting(&kept.arn).await {
            return self.withdraw(&kept.arn, &resource).await.into();
        }
        Acted {
            answer: Answer::success(
                kept.arn.clone(),
                format!("Recording configuration {} is ACTIVE", kept.arn),
                data(&kept),
            ),
            time_to_active: Some(time_to_active),
        }
    }

    fn failed(&self, reason: String) -> Answer {
        Answer::failed(self.failure_id.clone(), reason)
    }

    /// What CloudFormation shows of the resource, if it no longer waits for an answer naming
    /// `arn`.
    async fn stopped_waiting(&self, arn: &str) -> Option<StackResource> {
        let deadline = self.calls.deadline();
        cancelled::ask(
            self.cloudformation,
            self.identity,
            self.ask_within,
            deadline,
        )
        .await
        .filter(|resource| cancelled::stopped_waiting(self.awaited, resource, arn))
    }

    /// CloudFormation gave up on the resource: an answer would be ignored and the configuration
    /// would belong to no stack, so delete it and say so.
    async fn withdraw(&self, arn: &str, resource: &StackResource) -> Answer {
        let shown = match &resource.physical_id {
            Some(id) => format!("{} with PhysicalResourceId {id}", resource.status),
            None => resource.status.clone(),
        };
        warn!(arn, status = %resource.status, "CloudFormation no longer waits for this resource; deleting its configuration");
        let reason = format!("CloudFormation stopped waiting for this resource (it shows {shown}: the stack cancelled the operation, e.g. because another resource failed), so no stack would own recording configuration {arn}");
        match self.delete_made(arn).await {
            Ok(gone) => self.failed(format!("{reason}. {gone}")),
            Err(e) => self.failed(format!(
                "{reason}. Deleting it failed ({e}): delete it by hand"
            )),
        }
    }

    /// The configuration this request created, creating it only if no earlier delivery of the
    /// same request did, with its marker and when it was created (or first seen).
    async fn find_or_create(&self) -> Result<(Marked, Instant), FirstStep> {
        let earlier = self
            .calls
            .find_by_request(&self.identity.request_id)
            .await
            .map_err(FirstStep::NothingMade)?;
        if let Some(earlier) = earlier.into_iter().next() {
            let c = &earlier.configuration;
            info!(arn = %c.arn, state = c.state.as_str(), "found the configuration an earlier delivery of this request created");
            return Ok((earlier, Instant::now()));
        }
        let marker = Marker::now(&self.identity.request_id).owned_by(Owner::of(self.identity));
        let created_at = Instant::now();
        let created = self.calls.create(self.spec, &marker).await.map_err(|e| {
            if e.is_refusal() {
                FirstStep::NothingMade(e)
            } else {
                FirstStep::Unknown(e)
            }
        })?;
        info!(arn = %created.arn, state = created.state.as_str(), "created");
        let mine = Marked {
            configuration: created,
            marker,
        };
        Ok((mine, created_at))
    }

    /// Deliveries of one request that raced each other settle on one configuration: the one a
    /// delivery already marked kept, or else the oldest (see [`Marker`]). Returns it, having
    /// deleted `mine` if it is not that one, or marked `mine` kept if it is.
    ///
    /// IVS's List may not show a new configuration at once. `mine` must be in it before the
    /// comparison means anything, so List is asked again (within the read-lag grace) until it
    /// is; by then any configuration created before it shows too.
    async fn settle(&self, mine: Marked, created_at: Instant) -> Configuration {
        let mut schedule = self.poll.schedule.start();
        let all = loop {
            let all = match self.calls.find_by_request(&self.identity.request_id).await {
                Ok(all) => all,
                Err(e) => {
                    warn!(error = %e, "could not check for a concurrent delivery; keeping ours");
                    return mine.configuration;
                }
            };
            if all
                .iter()
                .any(|m| m.configuration.arn == mine.configuration.arn)
            {
                break all;
            }
            let grace_left = self
                .poll
                .read_lag_grace
                .saturating_sub(created_at.elapsed());
            let room = grace_left.min(self.calls.deadline().work_left());
            if !schedule.pause_within(room).await {
                warn!(arn = %mine.configuration.arn, "List does not show our configuration yet; keeping ours");
                return mine.configuration;
            }
        };
        let winner = all
            .into_iter()
            .find(|m| m.configuration.state != State::CreateFailed);
        match winner {
            Some(winner) if winner.configuration.arn != mine.configuration.arn => {
                let (arn, kept) = (&mine.configuration.arn, &winner.configuration.arn);
                info!(
                    arn,
                    kept, "a concurrent delivery of this request settled first; deleting ours"
                );
                if let Err(e) = self.calls.delete(arn).await {
                    warn!(arn, error = %e, "could not delete the duplicate");
                }
                winner.configuration
            }
            _ => {
                if !mine.marker.kept {
                    let arn = &mine.configuration.arn;
                    let tag = BTreeMap::from([(
                        MARKER_TAG.to_string(),
                        mine.marker.kept().to_tag_value(),
                    )]);
                    if let Err(e) = self.calls.tag(arn, &tag).await {
                        warn!(arn, error = %e, "could not mark the configuration kept");
                    }
                }
                mine.configuration
            }
        }
    }

    /// After a create call whose outcome is unknown (a timeout, a server error): IVS may have
    /// made the configuration all the same, so look for it by the request marker and delete it.
    async fn sweep(&self, reason: String) -> Answer {
        let cleanup = self.calls.for_cleanup();
        match cleanup.find_by_request(&self.identity.request_id).await {
            Ok(found) => match found.first() {
                None => self.failed(format!("{reason}. No configuration was made")),
                Some(made) => self.clean_up(&made.configuration.arn, reason).await,
            },
            Err(e) => self.failed(format!(
                "{reason}. Whether IVS made the configuration anyway could not be checked ({e}): look for one tagged {MARKER_TAG}={}@…",
                self.identity.request_id
            )),
        }
    }

    /// After a create went wrong: delete what was made, then say what is left.
    async fn clean_up(&self, arn: &str, reason: String) -> Answer {
        match self.delete_made(arn).await {
            Ok(gone) => self.failed(format!("{reason}. {gone}")),
            Err(e) if self.replacing => self.failed(format!(
                "{reason}. Deleting it failed ({e}): delete recording configuration {arn} by hand"
            )),
            // CloudFormation's rollback sends Delete for this id, which deletes it then.
            Err(e) => Answer::failed(
                arn,
                format!("{reason}. Deleting it failed ({e}); the stack's rollback will delete it"),
            ),
        }
    }

    /// Deletes a configuration this request made, with the clean-up's own time; what a Reason
    /// says of it once gone.
    async fn delete_made(&self, arn: &str) -> Result<&'static str, IvsError> {
        match self.calls.for_cleanup().delete(arn).await {
            Ok(()) => {
                info!(arn, "deleted the configuration this request made");
                Ok("It was deleted; nothing is left behind")
            }
            Err(e) if e.is_not_found() => Ok("It no longer exists; nothing is left behind"),
            Err(e) => Err(e),
        }
    }
}

fn create_failed_reason(configuration: &Configuration, spec: &RecordingSpec) -> String {
    let region = arn::arn_region(&configuration.arn).unwrap_or("its region");
    format!(
        "Recording configuration {} went to CREATE_FAILED. The likely cause (a known IVS issue): S3 bucket {} is not in {region}, the configuration's region; use a bucket in {region}",
        configuration.arn, spec.bucket_name
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::AnswerStatus;
    use crate::cloudformation::fake::FakeCloudFormation;
    use crate::config::fast::{deadline, fast_calls, fast_poll};
    use crate::ivs::fake::{service_error, FakeIvs, Step};
    use crate::ivs::Operation;

    fn identity() -> Identity {
        Identity {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/stack/guid-1".into(),
            request_id: "req-1".into(),
            logical_resource_id: "Recording".into(),
        }
    }

    fn assert_succeeded(done: &Acted) {
        assert_eq!(
            done.answer.status,
            AnswerStatus::Success,
            "{:?}",
            done.answer
        );
    }

    async fn run(ivs: &FakeIvs, replacing: bool) -> Acted {
        run_asking(ivs, &FakeCloudFormation::unknown_stack(), replacing).await
    }

    async fn run_asking(
        ivs: &FakeIvs,
        cloudformation: &FakeCloudFormation,
        replacing: bool,
    ) -> Acted {
        let calls = Calls::new(ivs, fast_calls(), deadline(2_000));
        let spec = RecordingSpec {
            bucket_name: "demo-bucket".into(),
            ..Default::default()
        };
        CreateFlow {
            calls: &calls,
            cloudformation,
            ask_within: Duration::from_millis(200),
            spec: &spec,
            identity: &identity(),
            awaited: if replacing {
                Awaited::Update
            } else {
                Awaited::Create
            },
            failure_id: "stack-Recording-failed-create-req-1".into(),
            replacing,
            poll: fast_poll(),
        }
        .run()
        .await
    }

    fn resource(status: &str, physical_id: &str) -> StackResource {
        StackResource {
            status: status.into(),
            physical_id: Some(physical_id.into()),
        }
    }

    #[tokio::test]
    async fn a_create_cloudformation_gave_up_on_is_deleted_and_answered_failed() {
        let ivs = FakeIvs::new().stabilizing(1, State::Active);
        let cloudformation = FakeCloudFormation::answering(resource(
            "DELETE_COMPLETE",
            "stack-Recording-1A2B3C4D5E6F",
        ));
        let done = run_asking(&ivs, &cloudformation, false).await;
        assert_eq!(done.answer.status, AnswerStatus::Failed);
        assert!(
            done.answer.reason.starts_with("CloudFormation stopped waiting for this resource (it shows DELETE_COMPLETE with PhysicalResourceId stack-Recording-1A2B3C4D5E6F")
                && done.answer.reason.ends_with("It was deleted; nothing is left behind"),
            "{}",
            done.answer.reason
        );
        assert!(ivs.arns().is_empty());
        assert_eq!(cloudformation.calls(), 1);
    }

    #[tokio::test]
    async fn a_resource_still_awaited_or_already_holding_our_arn_keeps_its_configuration() {
        let ivs = FakeIvs::new().stabilizing(1, State::Active);
        let waiting = FakeCloudFormation::answering(StackResource {
            status: "CREATE_IN_PROGRESS".into(),
            physical_id: None,
        });
        let done = run_asking(&ivs, &waiting, false).await;
        assert_eq!(done.answer.status, AnswerStatus::Success);
        assert_eq!(ivs.arns().len(), 1);
        assert_eq!(waiting.calls(), 1);
        // A redelivery after CloudFormation got the first delivery's answer.
        let held = FakeCloudFormation::answering(resource("CREATE_COMPLETE", &ivs.arns()[0]));
        let again = run_asking(&ivs, &held, false).await;
        assert_eq!(again.answer.status, AnswerStatus::Success);
        assert_eq!(again.answer.physical_resource_id, ivs.arns()[0]);
    }

    #[tokio::test]
    async fn cloudformation_that_cannot_be_asked_changes_nothing() {
        for cloudformation in [
            FakeCloudFormation::unknown_stack(),
            FakeCloudFormation::hanging(),
        ] {
            let ivs = FakeIvs::new().stabilizing(1, State::Active);
            let done = run_asking(&ivs, &cloudformation, false).await;
            assert_succeeded(&done);
            assert_eq!(cloudformation.calls(), 1);
        }
    }

    #[tokio::test]
    async fn new_configurations_name_their_owner() {
        let ivs = FakeIvs::new().stabilizing(1, State::Active);
        let done = run(&ivs, false).await;
        let marker = ivs.marker(&done.answer.physical_resource_id).unwrap();
        assert_eq!(marker.owner, Some(Owner::of(&identity())));
    }

    #[tokio::test]
    async fn the_happy_path_lists_twice_creates_once_and_answers_the_arn() {
        let ivs = FakeIvs::new().stabilizing(2, State::Active);
        let done = run(&ivs, false).await;
        assert_succeeded(&done);
        assert_eq!(ivs.arns(), vec![done.answer.physical_resource_id.clone()]);
        assert_eq!(done.answer.data["State"], "ACTIVE");
        assert_eq!(ivs.count(Operation::List), 2);
        assert_eq!(ivs.count(Operation::Create), 1);
        assert_eq!(ivs.count(Operation::Tag), 1, "the one kept is marked so");
        assert_eq!(ivs.count(Operation::Get), 3);
        assert!(done.time_to_active.is_some());
    }

    #[tokio::test]
    async fn a_redelivery_adopts_what_the_first_delivery_made() {
        let ivs = FakeIvs::new();
        let earlier = ivs.insert(Marker::now("req-1"), State::Active);
        let done = run(&ivs, false).await;
        assert_eq!(done.answer.physical_resource_id, earlier);
        assert_eq!(ivs.count(Operation::Create), 0);
        assert_eq!(ivs.arns(), vec![earlier]);
    }

    #[tokio::test]
    async fn reads_that_lag_the_create_are_waited_for_and_nothing_is_deleted() {
        let ivs = FakeIvs::new().stabilizing(1, State::Active).lagging(4);
        let done = run(&ivs, false).await;
        assert_succeeded(&done);
        assert_eq!(ivs.arns().len(), 1);
        assert_eq!(ivs.count(Operation::Delete), 0);
    }

    #[tokio::test]
    async fn a_404_that_outlasts_the_grace_means_gone() {
        let ivs = FakeIvs::new().stabilizing(1, State::Active).lagging(10_000);
        let started = std::time::Instant::now();
        let done = run(&ivs, false).await;
        assert_eq!(done.answer.status, AnswerStatus::Failed);
        assert!(
            done.answer.reason.contains("disappeared"),
            "{}",
            done.answer.reason
        );
        assert!(started.elapsed() >= fast_poll().read_lag_grace);
    }

    fn flow<'c, 'a>(
        calls: &'c Calls<'a, FakeIvs>,
        spec: &'c RecordingSpec,
        identity: &'c Identity,
        cloudformation: &'c FakeCloudFormation,
    ) -> CreateFlow<'c, 'a, FakeIvs, FakeCloudFormation> {
        CreateFlow {
            calls,
            cloudformation,
            ask_within: Duration::from_millis(200),
            spec,
            identity,
            awaited: Awaited::Create,
            failure_id: "f".into(),
            replacing: false,
            poll: fast_poll(),
        }
    }

    /// Settles `mine`, created just now.
    async fn settle(
        calls: &Calls<'_, FakeIvs>,
        spec: &RecordingSpec,
        mine: Marked,
    ) -> Configuration {
        let identity = identity();
        let cloudformation = FakeCloudFormation::unknown_stack();
        flow(calls, spec, &identity, &cloudformation)
            .settle(mine, Instant::now())
            .await
    }

    fn marker(created_ms: u64, kept: bool) -> Marker {
        Marker {
            request_id: "req-1".into(),
            created_ms,
            owner: None,
            kept,
        }
    }

    /// Settles `mine` (created at `mine_ms`) among the configurations already there.
    async fn settle_among(ivs: &FakeIvs, mine_ms: u64, others: &[(u64, bool)]) -> (String, String) {
        let calls = Calls::new(ivs, fast_calls(), deadline(2_000));
        let spec = RecordingSpec::default();
        let mine = ivs.insert(marker(mine_ms, false), State::Active);
        let _: Vec<String> = others
            .iter()
            .map(|(ms, kept)| ivs.insert(marker(*ms, *kept), State::Active))
            .collect();
        let me = Marked {
            configuration: Configuration {
                arn: mine.clone(),
                name: String::new(),
                state: State::Active,
            },
            marker: marker(mine_ms, false),
        };
        let kept = settle(&calls, &spec, me).await;
        (mine, kept.arn)
    }

    #[tokio::test]
    async fn concurrent_deliveries_keep_the_oldest_and_mark_it_kept() {
        let ivs = FakeIvs::new();
        let (mine, kept) = settle_among(&ivs, 500, &[(1, false)]).await;
        assert_ne!(kept, mine);
        assert_eq!(ivs.arns(), vec![kept.clone()], "ours was not deleted");

        let ivs = FakeIvs::new();
        let (mine, kept) = settle_among(&ivs, 1, &[(500, false)]).await;
        assert_eq!(kept, mine);
        assert_eq!(
            ivs.arns().len(),
            2,
            "the younger one is its delivery's to delete"
        );
        assert_eq!(ivs.marker(&mine).unwrap(), marker(1, true));
        assert_eq!(ivs.count(Operation::Tag), 1);
    }

    #[tokio::test]
    async fn a_late_create_gives_way_to_the_configuration_already_kept() {
        // Our create call started first (its time is older) but landed after the other
        // delivery had settled on its own configuration and marked it kept.
        let ivs = FakeIvs::new();
        let (mine, kept) = settle_among(&ivs, 1, &[(500, true)]).await;
        assert_ne!(kept, mine);
        assert_eq!(ivs.arns(), vec![kept]);
        assert_eq!(ivs.count(Operation::Tag), 0);
    }

    #[tokio::test]
    async fn settling_waits_until_list_shows_our_own_configuration() {
        let ivs = FakeIvs::new().lagging(3);
        let calls = Calls::new(&ivs, fast_calls(), deadline(2_000));
        let spec = RecordingSpec::default();
        let marker = Marker::now("req-1");
        let created = ivs.create(&spec, &marker).await.unwrap();
        let mine = Marked {
            configuration: created.clone(),
            marker,
        };
        let kept = settle(&calls, &spec, mine).await;
        assert_eq!(kept.arn, created.arn);
        // Three Lists that did not show it yet, one that did.
        assert_eq!(ivs.count(Operation::List), 4);
    }

    #[tokio::test]
    async fn a_create_with_an_unknown_outcome_is_swept_by_its_marker() {
        let ivs = FakeIvs::new();
        ivs.script(
            Operation::Create,
            Step::SucceedThenFail(IvsError::Other {
                operation: Operation::Create,
                detail: "connection reset".into(),
                status: None,
            }),
        );
        let done = run(&ivs, false).await;
        assert_eq!(done.answer.status, AnswerStatus::Failed);
        assert!(
            done.answer
                .reason
                .ends_with("It was deleted; nothing is left behind"),
            "{}",
            done.answer.reason
        );
        assert!(ivs.arns().is_empty());
    }

    #[tokio::test]
    async fn a_refused_create_is_not_swept() {
        let ivs = FakeIvs::new();
        ivs.script(
            Operation::Create,
            Step::Fail(service_error(Operation::Create, "ValidationException")),
        );
        let done = run(&ivs, false).await;
        assert!(done.answer.reason.contains("ValidationException"));
        assert_eq!(ivs.count(Operation::List), 1);
        assert_eq!(
            done.answer.physical_resource_id,
            "stack-Recording-failed-create-req-1"
        );
    }

    #[tokio::test]
    async fn create_failed_is_deleted_and_the_reason_names_the_bucket() {
        let ivs = FakeIvs::new().stabilizing(1, State::CreateFailed);
        let done = run(&ivs, false).await;
        assert!(
            done.answer.reason.contains("CREATE_FAILED")
                && done.answer.reason.contains("demo-bucket")
                && done.answer.reason.contains("us-east-1"),
            "{}",
            done.answer.reason
        );
        assert!(ivs.arns().is_empty());
    }

    #[tokio::test]
    async fn a_failed_clean_up_answers_with_the_arn_unless_replacing() {
        for replacing in [false, true] {
            let ivs = FakeIvs::new().stabilizing(1, State::CreateFailed);
            ivs.script(
                Operation::Delete,
                Step::Fail(service_error(Operation::Delete, "ValidationException")),
            );
            let done = run(&ivs, replacing).await;
            let left = ivs.arns();
            assert_eq!(left.len(), 1);
            if replacing {
                assert!(
                    done.answer.reason.contains("by hand"),
                    "{}",
                    done.answer.reason
                );
                assert_eq!(
                    done.answer.physical_resource_id,
                    "stack-Recording-failed-create-req-1"
                );
            } else {
                assert!(done.answer.reason.contains("rollback will delete it"));
                assert_eq!(done.answer.physical_resource_id, left[0]);
            }
        }
    }
}
