//! Bytes as the Lambda runtime would hand them over: JSON-parsed, then the whole path the handler
//! takes before it talks to IVS (request parsing, property validation, the lifecycle decision)
//! and the FAILED answer it would PUT, which must be valid JSON within CloudFormation's limit.

#![no_main]

use cfn_ivs_recording::actions::refusals;
use cfn_ivs_recording::answer::{self, Answer, MAX_BODY};
use cfn_ivs_recording::event::Request;
use cfn_ivs_recording::lifecycle::{self, Action};
use cfn_ivs_recording::properties;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // The runtime's parser, recursion limit included.
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The property parser on shapes the event parser would refuse, too.
    if let Some(props) = event.get("ResourceProperties") {
        check_property_result(properties::parse(props));
    }
    check_property_result(properties::parse(&event));

    let request = match Request::parse(event) {
        Ok(request) => request,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let physical_id = lifecycle::fallback_physical_id(&request);
    assert!(!physical_id.is_empty(), "empty fallback PhysicalResourceId");
    let failed = match lifecycle::decide(&request, None) {
        Action::Reject { error } => refusals::invalid_properties(physical_id.clone(), &error),
        other => Answer::failed(physical_id.clone(), format!("would act: {other:?}")),
    };
    let body = answer::body(&request.identity, &failed);
    assert!(body.len() <= MAX_BODY, "answer of {} bytes", body.len());
    let answer: Value = serde_json::from_slice(&body).expect("the answer is JSON");
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["StackId"].as_str(),
        Some(request.identity.stack_id.as_str())
    );
    assert_eq!(
        answer["RequestId"].as_str(),
        Some(request.identity.request_id.as_str())
    );
    assert_eq!(
        answer["LogicalResourceId"].as_str(),
        Some(request.identity.logical_resource_id.as_str())
    );
    assert_eq!(
        answer["PhysicalResourceId"].as_str(),
        Some(physical_id.as_str())
    );
    assert!(answer["Reason"].as_str().is_some_and(|r| !r.is_empty()));
});

fn check_property_result(result: Result<properties::RecordingSpec, properties::PropertyError>) {
    if let Err(error) = result {
        assert!(!error.to_string().is_empty());
    }
}
