//! The emulated CloudFormation's view of each event's resource: `<TYPE>_IN_PROGRESS` while the
//! handler works on the event, as CloudFormation shows a resource it is waiting for, then
//! `_COMPLETE` or `_FAILED` after the answer. A handler that asks CloudFormation whether it still
//! waits (DescribeStackResource) thus gets the answer a real stack would give.

use ivs_emulator::{IvsEmulator, StackResource};
use serde_json::Value;

/// An event's resource, marked in progress until [`Tracked::finish`].
pub(super) struct Tracked<'e> {
    emulator: &'e IvsEmulator,
    stack_id: String,
    logical_id: String,
    resource: StackResource,
    request_type: RequestType,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    fn parse(text: &str) -> Option<RequestType> {
        match text {
            "Create" => Some(RequestType::Create),
            "Update" => Some(RequestType::Update),
            "Delete" => Some(RequestType::Delete),
            _ => None,
        }
    }

    /// The status prefix CloudFormation shows while and after it handles this request type.
    fn action(self) -> &'static str {
        match self {
            RequestType::Create => "CREATE",
            RequestType::Update => "UPDATE",
            RequestType::Delete => "DELETE",
        }
    }
}

/// Marks the event's resource in progress. `None` for an event the handler will refuse anyway
/// (no request type, stack or logical id it knows), or one whose stack is not of the emulated
/// account and region: the emulated CloudFormation then answers that the stack does not exist,
/// as the real one would.
pub(super) fn begin<'e>(emulator: &'e IvsEmulator, event: &Value) -> Option<Tracked<'e>> {
    let request_type = RequestType::parse(event["RequestType"].as_str()?)?;
    let stack_id = event["StackId"].as_str()?.to_owned();
    let logical_id = event["LogicalResourceId"].as_str()?.to_owned();
    let previous = emulator.stack_resource(&stack_id, &logical_id);
    let resource = StackResource {
        status: format!("{}_IN_PROGRESS", request_type.action()),
        // CloudFormation knows no id before the Create's answer; later, the one it sends.
        physical_resource_id: match request_type {
            RequestType::Create => None,
            _ => event["PhysicalResourceId"].as_str().map(str::to_owned),
        },
        resource_type: event["ResourceType"]
            .as_str()
            .map(str::to_owned)
            .or(previous.map(|r| r.resource_type))
            .unwrap_or_else(|| "Custom::IvsRecordingConfiguration".to_owned()),
    };
    match emulator.put_stack_resource(&stack_id, &logical_id, resource.clone()) {
        Ok(()) => Some(Tracked {
            emulator,
            stack_id,
            logical_id,
            resource,
            request_type,
        }),
        Err(error) => {
            eprintln!(
                "cfn-ivs-local: the emulated CloudFormation does not track {logical_id}: {error}"
            );
            None
        }
    }
}

impl Tracked<'_> {
    /// Records the answer: `status` is SUCCESS or FAILED, `physical_id` the one answered.
    pub(super) fn finish(self, status: &str, physical_id: &str) {
        let resource = settled(self.request_type, self.resource, status, physical_id);
        // The stack was accepted by `begin`, so it still is.
        let _ = self
            .emulator
            .put_stack_resource(&self.stack_id, &self.logical_id, resource);
    }
}

/// The resource after the answer. CloudFormation takes the id of a Create's answer, failed or
/// not (the rollback Delete carries it), and of a successful Update (a new one is a
/// replacement); a failed Update and a Delete leave the resource's id as it was.
fn settled(
    request_type: RequestType,
    mut resource: StackResource,
    status: &str,
    physical_id: &str,
) -> StackResource {
    let succeeded = status == "SUCCESS";
    let outcome = if succeeded { "COMPLETE" } else { "FAILED" };
    resource.status = format!("{}_{outcome}", request_type.action());
    let takes_id = match request_type {
        RequestType::Create => true,
        RequestType::Update => succeeded,
        RequestType::Delete => false,
    };
    if takes_id {
        resource.physical_resource_id = Some(physical_id.to_owned());
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;
    use ivs_emulator::EmulatorOptions;
    use serde_json::json;

    const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/5b1f8e10";

    fn event(request_type: &str, physical_id: Option<&str>) -> Value {
        let mut event = json!({
            "RequestType": request_type,
            "StackId": STACK_ID,
            "LogicalResourceId": "Recording",
            "ResourceType": "Custom::IvsRecordingConfiguration",
        });
        if let Some(id) = physical_id {
            event["PhysicalResourceId"] = id.into();
        }
        event
    }

    fn state(emulator: &IvsEmulator) -> (String, Option<String>) {
        let resource = emulator.stack_resource(STACK_ID, "Recording").unwrap();
        (resource.status, resource.physical_resource_id)
    }

    fn expect(status: &str, id: Option<&str>) -> (String, Option<String>) {
        (status.to_owned(), id.map(str::to_owned))
    }

    #[tokio::test]
    async fn each_event_is_in_progress_while_handled_then_settled_by_its_answer() {
        let emulator = IvsEmulator::start(EmulatorOptions::default())
            .await
            .unwrap();
        // Request type and id, the answer's status and id; then the resource while handled and
        // after the answer.
        let steps = [
            (
                "Create",
                None,
                "SUCCESS",
                "arn:1",
                "CREATE_IN_PROGRESS",
                None,
            ),
            (
                "Create",
                None,
                "SUCCESS",
                "arn:1",
                "CREATE_COMPLETE",
                Some("arn:1"),
            ),
            (
                "Update",
                Some("arn:1"),
                "FAILED",
                "arn:2",
                "UPDATE_IN_PROGRESS",
                Some("arn:1"),
            ),
            (
                "Update",
                Some("arn:1"),
                "FAILED",
                "arn:2",
                "UPDATE_FAILED",
                Some("arn:1"),
            ),
            (
                "Update",
                Some("arn:1"),
                "SUCCESS",
                "arn:2",
                "UPDATE_IN_PROGRESS",
                Some("arn:1"),
            ),
            (
                "Update",
                Some("arn:1"),
                "SUCCESS",
                "arn:2",
                "UPDATE_COMPLETE",
                Some("arn:2"),
            ),
            (
                "Delete",
                Some("arn:2"),
                "SUCCESS",
                "arn:2",
                "DELETE_IN_PROGRESS",
                Some("arn:2"),
            ),
            (
                "Delete",
                Some("arn:2"),
                "SUCCESS",
                "arn:2",
                "DELETE_COMPLETE",
                Some("arn:2"),
            ),
            (
                "Create",
                None,
                "FAILED",
                "failed",
                "CREATE_IN_PROGRESS",
                None,
            ),
            (
                "Create",
                None,
                "FAILED",
                "failed",
                "CREATE_FAILED",
                Some("failed"),
            ),
        ];
        for pair in steps.chunks(2) {
            let (request_type, id, status, answered, handling, handling_id) = pair[0];
            let (_, _, _, _, settled, settled_id) = pair[1];
            let tracked = begin(&emulator, &event(request_type, id)).unwrap();
            assert_eq!(state(&emulator), expect(handling, handling_id));
            tracked.finish(status, answered);
            assert_eq!(state(&emulator), expect(settled, settled_id));
        }
    }

    #[tokio::test]
    async fn events_outside_the_emulated_account_or_malformed_are_not_tracked() {
        let emulator = IvsEmulator::start(EmulatorOptions::default())
            .await
            .unwrap();
        let mut elsewhere = event("Create", None);
        elsewhere["StackId"] = STACK_ID.replace("us-east-1", "eu-west-1").into();
        assert!(begin(&emulator, &elsewhere).is_none());
        assert!(begin(&emulator, &event("Replace", None)).is_none());
        assert!(begin(&emulator, &json!({ "RequestType": "Create" })).is_none());
        assert_eq!(emulator.stack_resource(STACK_ID, "Recording"), None);
    }
}
