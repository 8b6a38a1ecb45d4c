//! CloudFormation's side: the stacks and resources a test declares, and DescribeStackResource's
//! semantics on them — lookups by stack ARN or by name, and the errors CloudFormation gives for a
//! stack or resource it does not know. Inputs arrive already validated against the model.

use super::store::ApiError;
use super::{EmulatorOptions, StackResource};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a test gets for a resource the emulator has no type for: the resource this project's
/// function backs.
pub(super) const DEFAULT_RESOURCE_TYPE: &str = "Custom::IvsRecordingConfiguration";

/// Why a stack resource cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackResourceError {
    /// The stack id is not the ARN of a stack in the emulated account and region, so
    /// CloudFormation there would not know it.
    #[error("{stack_id:?} is not a stack ARN of this account and region ({expected}NAME/ID)")]
    StackId {
        /// The id given.
        stack_id: String,
        /// How the emulator's stack ARNs start.
        expected: String,
    },
    /// The status is not one of the model's `ResourceStatus` values.
    #[error("{status:?} is not a CloudFormation resource status (one of {allowed})")]
    Status {
        /// The status given.
        status: String,
        /// The model's values, comma-separated.
        allowed: String,
    },
}

pub(super) struct Stacks {
    /// `arn:aws:cloudformation:REGION:ACCOUNT:stack/`.
    arn_prefix: String,
    /// Keyed by stack ARN.
    stacks: BTreeMap<String, Stack>,
    /// Orders stacks by when they were first declared, for lookups by name.
    declared: u64,
}

struct Stack {
    name: String,
    declared: u64,
    resources: BTreeMap<String, Resource>,
}

struct Resource {
    state: StackResource,
    updated: SystemTime,
}

impl Stacks {
    pub(super) fn new(options: &EmulatorOptions) -> Self {
        Stacks {
            arn_prefix: format!(
                "arn:aws:cloudformation:{}:{}:stack/",
                options.region, options.account_id
            ),
            stacks: BTreeMap::new(),
            declared: 0,
        }
    }

    /// The stack's name if `stack_id` is a stack ARN of this account and region.
    pub(super) fn name_in(&self, stack_id: &str) -> Result<String, StackResourceError> {
        let invalid = || StackResourceError::StackId {
            stack_id: stack_id.to_owned(),
            expected: self.arn_prefix.clone(),
        };
        let (name, id) = stack_id
            .strip_prefix(&self.arn_prefix)
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(invalid)?;
        let named = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !named || id.is_empty() || id.contains('/') {
            return Err(invalid());
        }
        Ok(name.to_owned())
    }

    /// Creates the stack and the resource as needed; `state` replaces the resource's.
    pub(super) fn set(&mut self, stack_id: &str, logical_id: &str, state: StackResource) {
        let Ok(name) = self.name_in(stack_id) else {
            return;
        };
        let declared = &mut self.declared;
        let stack = self.stacks.entry(stack_id.to_owned()).or_insert_with(|| {
            *declared += 1;
            Stack {
                name,
                declared: *declared,
                resources: BTreeMap::new(),
            }
        });
        let resource = Resource {
            state,
            updated: SystemTime::now(),
        };
        stack.resources.insert(logical_id.to_owned(), resource);
    }

    pub(super) fn get(&self, stack_id: &str, logical_id: &str) -> Option<StackResource> {
        let resource = self.stacks.get(stack_id)?.resources.get(logical_id)?;
        Some(resource.state.clone())
    }

    pub(super) fn remove(&mut self, stack_id: &str, logical_id: &str) -> bool {
        self.stacks
            .get_mut(stack_id)
            .is_some_and(|stack| stack.resources.remove(logical_id).is_some())
    }

    pub(super) fn remove_stack(&mut self, stack_id: &str) -> bool {
        self.stacks.remove(stack_id).is_some()
    }

    /// DescribeStackResource on a validated input: the `DescribeStackResourceOutput` document.
    pub(super) fn describe(&self, input: &Value) -> Result<Value, ApiError> {
        let stack_name = input["StackName"].as_str().unwrap_or_default();
        let logical_id = input["LogicalResourceId"].as_str().unwrap_or_default();
        let (arn, stack) = self
            .find(stack_name)
            .ok_or_else(|| stack_not_found(stack_name))?;
        let resource = stack.resources.get(logical_id).ok_or_else(|| {
            validation(format!(
                "Resource {logical_id} does not exist for stack {stack_name}"
            ))
        })?;
        let mut detail = json!({
            "StackName": stack.name,
            "StackId": arn,
            "LogicalResourceId": logical_id,
            "ResourceType": resource.state.resource_type,
            "LastUpdatedTimestamp": iso8601(resource.updated),
            "ResourceStatus": resource.state.status,
            "Metadata": "{}",
            "DriftInformation": { "StackResourceDriftStatus": "NOT_CHECKED" },
        });
        if let Some(physical_id) = &resource.state.physical_resource_id {
            detail["PhysicalResourceId"] = physical_id.as_str().into();
        }
        Ok(json!({ "StackResourceDetail": detail }))
    }

    /// By ARN, exactly; by name, the stack declared last under that name, as a stack created
    /// again under a name replaces the one before it.
    fn find(&self, stack_name: &str) -> Option<(&String, &Stack)> {
        if stack_name.starts_with("arn:") {
            return self.stacks.get_key_value(stack_name);
        }
        self.stacks
            .iter()
            .filter(|(_, stack)| stack.name == stack_name)
            .max_by_key(|(_, stack)| stack.declared)
    }
}

/// CloudFormation words this differently for a name and for an id: "Stack 'NAME' does not exist"
/// is DescribeStackResource's answer for an unknown name as recorded against AWS (LocalStack's
/// AWS-validated snapshot, July 2025); "Stack with id ID does not exist" is CloudFormation's
/// answer for stack ids, as DescribeStacks and ListStackResources give it.
fn stack_not_found(stack_name: &str) -> ApiError {
    if stack_name.starts_with("arn:") {
        validation(format!("Stack with id {stack_name} does not exist"))
    } else {
        validation(format!("Stack '{stack_name}' does not exist"))
    }
}

fn validation(message: String) -> ApiError {
    ApiError {
        code: "ValidationError",
        message,
    }
}

/// `2024-07-01T12:34:56.789Z`, as the query protocol writes timestamps.
pub(super) fn iso8601(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm), to spare
/// a date crate for one timestamp.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;
    use std::time::Duration;

    const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/5b1f8e10-3f5a-11ef-9c2a-0a1b2c3d4e5f";

    fn stacks() -> Stacks {
        Stacks::new(&EmulatorOptions::default())
    }

    fn resource(status: &str) -> StackResource {
        StackResource {
            status: status.to_owned(),
            physical_resource_id: Some(
                "arn:aws:ivs:us-east-1:123456789012:recording-configuration/AbCd1234EfGh"
                    .to_owned(),
            ),
            resource_type: DEFAULT_RESOURCE_TYPE.to_owned(),
        }
    }

    fn describe(stacks: &Stacks, stack_name: &str, logical_id: &str) -> Result<Value, ApiError> {
        stacks.describe(&json!({ "StackName": stack_name, "LogicalResourceId": logical_id }))
    }

    #[test]
    fn answers_conform_to_the_model_for_every_status() {
        let model = Model::cloudformation().unwrap();
        let statuses = model.enum_values("ResourceStatus");
        assert!(statuses.len() > 20, "{statuses:?}");
        let mut stacks = stacks();
        for status in statuses {
            stacks.set(STACK, "Recording", resource(status));
            let answer = describe(&stacks, "demo", "Recording").unwrap();
            if let Err(e) = model.validate_named("DescribeStackResourceOutput", &answer) {
                panic!("the answer does not conform to the model: {e}\n{answer:#}");
            }
            assert_eq!(answer["StackResourceDetail"]["ResourceStatus"], *status);
        }
        let mut bare = resource("CREATE_IN_PROGRESS");
        bare.physical_resource_id = None;
        stacks.set(STACK, "Recording", bare);
        let answer = describe(&stacks, STACK, "Recording").unwrap();
        assert!(model
            .validate_named("DescribeStackResourceOutput", &answer)
            .is_ok());
        assert!(answer["StackResourceDetail"]
            .get("PhysicalResourceId")
            .is_none());
    }

    #[test]
    fn unknown_stacks_and_resources_are_validation_errors() {
        let mut stacks = stacks();
        stacks.set(STACK, "Recording", resource("CREATE_COMPLETE"));
        let other = STACK.replace("/demo/", "/other/");
        let error = describe(&stacks, &other, "Recording").unwrap_err();
        assert_eq!(error.code, "ValidationError");
        assert_eq!(
            error.message,
            format!("Stack with id {other} does not exist")
        );
        let error = describe(&stacks, "other", "Recording").unwrap_err();
        assert_eq!(error.message, "Stack 'other' does not exist");
        let error = describe(&stacks, "demo", "Nothing").unwrap_err();
        assert_eq!(
            error.message,
            "Resource Nothing does not exist for stack demo"
        );
        let error = describe(&stacks, STACK, "Nothing").unwrap_err();
        assert_eq!(
            error.message,
            format!("Resource Nothing does not exist for stack {STACK}")
        );
        assert!(stacks.remove(STACK, "Recording"));
        assert!(!stacks.remove(STACK, "Recording"));
        assert!(describe(&stacks, STACK, "Recording")
            .unwrap_err()
            .message
            .starts_with("Resource Recording does not exist"));
        assert!(stacks.remove_stack(STACK));
        assert!(describe(&stacks, STACK, "Recording")
            .unwrap_err()
            .message
            .starts_with("Stack with id"));
    }

    #[test]
    fn a_name_finds_the_stack_declared_last_under_it() {
        let mut stacks = stacks();
        let again = STACK.replace("5b1f8e10", "00000000");
        stacks.set(STACK, "Recording", resource("DELETE_COMPLETE"));
        stacks.set(&again, "Recording", resource("CREATE_IN_PROGRESS"));
        stacks.set(STACK, "Recording", resource("DELETE_COMPLETE"));
        let answer = describe(&stacks, "demo", "Recording").unwrap();
        assert_eq!(answer["StackResourceDetail"]["StackId"], again.as_str());
        let answer = describe(&stacks, STACK, "Recording").unwrap();
        assert_eq!(
            answer["StackResourceDetail"]["ResourceStatus"],
            "DELETE_COMPLETE"
        );
    }

    #[test]
    fn only_stack_arns_of_the_account_and_region_are_stacks() {
        let stacks = stacks();
        assert_eq!(stacks.name_in(STACK).unwrap(), "demo");
        for foreign in [
            STACK.replace("us-east-1", "eu-west-1"),
            STACK.replace("123456789012", "210987654321"),
            "demo".to_owned(),
            "arn:aws:cloudformation:us-east-1:123456789012:stack/demo".to_owned(),
            "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/".to_owned(),
            "arn:aws:cloudformation:us-east-1:123456789012:stack/9demo/x".to_owned(),
            "arn:aws:cloudformation:us-east-1:123456789012:stack/de_mo/x".to_owned(),
        ] {
            assert!(
                matches!(
                    stacks.name_in(&foreign),
                    Err(StackResourceError::StackId { .. })
                ),
                "{foreign}"
            );
        }
    }

    #[test]
    fn timestamps_are_iso_8601_in_utc() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap_day = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(iso8601(leap_day), "2024-02-29T12:34:56.789Z");
        let end_of_century = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(iso8601(end_of_century), "2099-12-31T23:59:59.000Z");
    }
}
