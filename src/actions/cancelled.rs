//! When CloudFormation stops waiting for this resource. If another resource of a stack being
//! created fails while this one's Create is still running, CloudFormation marks this one
//! CREATE_FAILED ("Resource creation cancelled"), ignores the answer that comes later, and sends
//! a Delete whose PhysicalResourceId it made up. Two checks leave nothing behind, whichever of
//! the two invocations gets there first:
//! - the Delete deletes the configurations its stack resource owns (found by the owner in the
//!   marker, see [`crate::ownership::Owner`]), sparing the one CloudFormation holds, if any;
//! - before answering SUCCESS, a Create (or a replacing Update) asks CloudFormation whether it
//!   still waits, and deletes what it made when not.
//!
//! Asking is bounded and fails open: when CloudFormation cannot be asked (no permission, a
//! hand-written event's stack that does not exist, no network), the function answers as if it
//! still waited, after one warning.

use crate::answer::Answer;
use crate::arn::is_recording_configuration_arn;
use crate::cloudformation::{CloudFormationApi, StackResource};
use crate::event::Identity;
use crate::ivs::Calls;
use crate::ivs::IvsApi;
use crate::ownership::Owner;
use crate::timing::deadline::Deadline;
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::{info, warn};

/// The request CloudFormation would be waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Awaited {
    /// A Create.
    Create,
    /// An Update, or the Update of a rollback.
    Update,
}

impl Awaited {
    /// The resource statuses CloudFormation shows while it waits for this request.
    fn waiting(self, status: &str) -> bool {
        match self {
            Awaited::Create => status == "CREATE_IN_PROGRESS",
            // A rollback's Update is awaited as well: answering it matters most.
            Awaited::Update => {
                matches!(status, "UPDATE_IN_PROGRESS" | "UPDATE_ROLLBACK_IN_PROGRESS")
            }
        }
    }
}

/// Whether an answer naming `arn` would come too late: CloudFormation neither waits for the
/// request nor already holds `arn` (as it does when an earlier delivery's answer arrived).
pub fn stopped_waiting(awaited: Awaited, resource: &StackResource, arn: &str) -> bool {
    !awaited.waiting(&resource.status) && resource.physical_id.as_deref() != Some(arn)
}

/// What CloudFormation shows of the request's resource, asked within `within` and the work
/// deadline; `None`, after one warning, when it cannot be asked.
pub async fn ask<C: CloudFormationApi>(
    cloudformation: &C,
    identity: &Identity,
    within: Duration,
    deadline: &Deadline,
) -> Option<StackResource> {
    let within = within.min(deadline.work_left());
    let asked = cloudformation.stack_resource(&identity.stack_id, &identity.logical_resource_id);
    match tokio::time::timeout(within, asked).await {
        Ok(Ok(resource)) => Some(resource),
        Ok(Err(e)) => {
            warn!(error = %e, "could not ask CloudFormation whether it still waits for this resource; answering as if it did");
            None
        }
        Err(_) => {
            warn!(
                waited_ms = within.as_millis() as u64,
                "CloudFormation did not say in time whether it still waits for this resource; answering as if it did"
            );
            None
        }
    }
}

/// A Delete whose PhysicalResourceId CloudFormation made up (`made_up_id`): deletes the
/// configurations the request's stack resource owns, except the one CloudFormation holds for
/// it, and answers.
pub async fn delete_cancelled<A: IvsApi, C: CloudFormationApi>(
    calls: &Calls<'_, A>,
    cloudformation: &C,
    identity: &Identity,
    made_up_id: &str,
    ask_within: Duration,
) -> Answer {
    let owner = Owner::of(identity);
    let held = ask(cloudformation, identity, ask_within, calls.deadline())
        .await
        .and_then(|resource| resource.physical_id)
        .filter(|id| id != made_up_id && is_recording_configuration_arn(id));
    let found = match calls.find_by_owner(&owner).await {
        Ok(found) => found,
        Err(e) => {
            return Answer::failed(
                made_up_id,
                format!("CloudFormation cancelled the create of {made_up_id}; whether it left a recording configuration could not be checked ({e}). Retry the delete, or look for configurations whose tag cfn-ivs-recording:request-id contains @{owner}"),
            )
        }
    };
    let mut deleted = Vec::new();
    let mut left = Vec::new();
    for made in found {
        let arn = made.configuration.arn;
        if Some(&arn) == held.as_ref() {
            info!(arn, "CloudFormation holds this configuration; keeping it");
            continue;
        }
        match calls.delete(&arn).await {
            Ok(()) => {
                info!(arn, "deleted a configuration of the cancelled create");
                deleted.push(arn);
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                warn!(arn, error = %e, "could not delete a configuration of the cancelled create");
                left.push(format!("{arn} ({e})"));
            }
        }
    }
    if !left.is_empty() {
        return Answer::failed(
            made_up_id,
            format!(
                "CloudFormation cancelled the create; deleting what it made failed: {}. Retry the delete, or delete them by hand",
                left.join("; ")
            ),
        );
    }
    let reason = if deleted.is_empty() {
        format!("CloudFormation cancelled the create; no recording configuration of {owner} was found, nothing to delete")
    } else {
        format!(
            "CloudFormation cancelled the create; deleted {}",
            deleted.join(", ")
        )
    };
    Answer::success(made_up_id, reason, BTreeMap::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::AnswerStatus;
    use crate::cloudformation::fake::FakeCloudFormation;
    use crate::config::fast::{deadline, fast_calls};
    use crate::ivs::fake::FakeIvs;
    use crate::ivs::{Operation, State};
    use crate::ownership::Marker;

    const ARN: &str = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/fake0001";

    fn resource(status: &str, physical_id: Option<&str>) -> StackResource {
        StackResource {
            status: status.into(),
            physical_id: physical_id.map(str::to_string),
        }
    }

    fn identity(logical: &str) -> Identity {
        Identity {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid-1".into(),
            request_id: "req-delete".into(),
            logical_resource_id: logical.into(),
        }
    }

    #[test]
    fn only_the_awaited_in_progress_status_or_our_own_arn_mean_still_waiting() {
        let create = Awaited::Create;
        assert!(!stopped_waiting(
            create,
            &resource("CREATE_IN_PROGRESS", None),
            ARN
        ));
        for status in [
            "CREATE_FAILED",
            "DELETE_IN_PROGRESS",
            "DELETE_COMPLETE",
            "UPDATE_IN_PROGRESS",
        ] {
            assert!(
                stopped_waiting(
                    create,
                    &resource(status, Some("demo-Recording-ABCDEFGHIJKL")),
                    ARN
                ),
                "{status}"
            );
        }
        // An earlier delivery's answer arrived: CloudFormation holds this very ARN.
        assert!(!stopped_waiting(
            create,
            &resource("CREATE_COMPLETE", Some(ARN)),
            ARN
        ));
        let update = Awaited::Update;
        for status in ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"] {
            assert!(
                !stopped_waiting(update, &resource(status, Some("old")), ARN),
                "{status}"
            );
        }
        for status in ["UPDATE_FAILED", "UPDATE_COMPLETE", "CREATE_IN_PROGRESS"] {
            assert!(
                stopped_waiting(update, &resource(status, Some("old")), ARN),
                "{status}"
            );
        }
    }

    async fn cancel(ivs: &FakeIvs, cloudformation: &FakeCloudFormation) -> Answer {
        let calls = Calls::new(ivs, fast_calls(), deadline(2_000));
        delete_cancelled(
            &calls,
            cloudformation,
            &identity("Recording"),
            "demo-Recording-ABCDEFGHIJKL",
            Duration::from_millis(200),
        )
        .await
    }

    fn owned(logical: &str) -> Marker {
        Marker::now("req-create").owned_by(Owner::of(&identity(logical)))
    }

    #[tokio::test]
    async fn a_made_up_delete_deletes_what_its_resource_owns_and_nothing_else() {
        let ivs = FakeIvs::new();
        let mine = ivs.insert(owned("Recording"), State::Creating);
        let sibling = ivs.insert(owned("OtherRecording"), State::Active);
        let older = ivs.insert(Marker::now("req-create"), State::Active);
        let answer = cancel(&ivs, &FakeCloudFormation::unknown_stack()).await;
        assert_eq!(answer.status, AnswerStatus::Success, "{answer:?}");
        assert_eq!(answer.physical_resource_id, "demo-Recording-ABCDEFGHIJKL");
        assert_eq!(
            answer.reason,
            format!("CloudFormation cancelled the create; deleted {mine}")
        );
        assert_eq!(ivs.arns(), vec![sibling, older]);
    }

    #[tokio::test]
    async fn the_configuration_cloudformation_holds_is_spared() {
        let ivs = FakeIvs::new();
        let held = ivs.insert(owned("Recording"), State::Active);
        let new = ivs.insert(owned("Recording"), State::Active);
        let cloudformation =
            FakeCloudFormation::answering(resource("UPDATE_ROLLBACK_IN_PROGRESS", Some(&held)));
        let answer = cancel(&ivs, &cloudformation).await;
        assert_eq!(answer.status, AnswerStatus::Success);
        assert!(
            answer.reason.ends_with(&format!("deleted {new}")),
            "{}",
            answer.reason
        );
        assert_eq!(ivs.arns(), vec![held]);
    }

    #[tokio::test]
    async fn nothing_owned_is_nothing_to_delete() {
        let ivs = FakeIvs::new();
        let answer = cancel(&ivs, &FakeCloudFormation::unknown_stack()).await;
        assert_eq!(answer.status, AnswerStatus::Success);
        assert!(
            answer
                .reason
                .contains("no recording configuration of guid-1/Recording was found"),
            "{}",
            answer.reason
        );
        assert_eq!(ivs.count(Operation::Delete), 0);
    }

    #[tokio::test]
    async fn cloudformation_that_never_answers_is_given_up_on_in_time() {
        let hanging = FakeCloudFormation::hanging();
        let recording = identity("Recording");
        for (within, deadline) in [
            (Duration::from_millis(50), deadline(60_000)),
            (Duration::from_secs(60), deadline(150)),
        ] {
            let answer = tokio::time::timeout(
                Duration::from_secs(1),
                ask(&hanging, &recording, within, &deadline),
            )
            .await
            .expect("ask outlived its bound or the deadline");
            assert_eq!(answer, None);
        }
    }
}
