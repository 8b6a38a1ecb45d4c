//! The handler's lifecycle against the emulated IVS over HTTP, with the real aws-sdk-ivs client:
//! what the fault matrix (`fault_matrix.rs`) does not show. The answer's Data and the PUT's
//! bytes, what reaches IVS (properties, tags, the marker), Update's rules (tags in place, a
//! replacement, an Update after a failed Create), the rollback of a failed Create, and Lambda's
//! retry after a refused answer.

use crate::util::*;
use cfn_ivs_recording::handler::HandlerError;
use cfn_ivs_recording::ownership::{Marker, MARKER_TAG};
use ivs_emulator::{Operation, Stabilization, StoredConfiguration};
use serde_json::json;
use std::time::Duration;

/// The RequestId in `c`'s marker tag (`<RequestId>@<unix ms>`).
fn marker_request_id(c: &StoredConfiguration) -> Option<String> {
    let marker = Marker::parse(c.tags.get(MARKER_TAG)?)?;
    assert!(
        marker.created_ms > 0,
        "a marker without its time: {marker:?}"
    );
    Some(marker.request_id)
}

#[tokio::test]
async fn create_answers_success_with_the_arn_and_data() {
    let h = Harness::start().await;
    let answer = h.answer(create(&h, "req-create", properties())).await;

    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let arn = answer["PhysicalResourceId"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:ivs:us-east-1:123456789012:recording-configuration/"),
        "{arn}"
    );
    assert_eq!(answer["Data"]["Arn"], arn);
    assert_eq!(answer["Data"]["State"], "ACTIVE");
    assert_eq!(answer["Data"]["Name"], "demo");
    assert_eq!(answer["StackId"], STACK_ID);
    assert_eq!(answer["RequestId"], "req-create");
    assert_eq!(answer["LogicalResourceId"], "Recording");

    let stored = h.configurations();
    assert_eq!(stored.len(), 1);
    let c = &stored[0];
    assert_eq!(c.arn, arn);
    assert_eq!(c.bucket_name, "demo-bucket");
    assert_eq!(c.tags.get("team").map(String::as_str), Some("video"));
    assert_eq!(marker_request_id(c).as_deref(), Some("req-create"));
    assert_eq!(c.body["recordingReconnectWindowSeconds"], 30);
    assert_eq!(
        c.body["thumbnailConfiguration"]["targetIntervalSeconds"],
        20
    );
    assert_eq!(c.body["thumbnailConfiguration"]["resolution"], "HD");
    assert_eq!(
        c.body["thumbnailConfiguration"]["storage"],
        json!(["SEQUENTIAL", "LATEST"])
    );
    assert_eq!(
        c.body["renditionConfiguration"]["renditions"],
        json!(["HD", "SD"])
    );
}

#[tokio::test]
async fn the_put_has_no_content_type_and_an_exact_byte_length() {
    let h = Harness::start().await;
    let mut props = properties();
    props["Name"] = json!("naïve-name"); // refused: non-ASCII, so the Reason carries non-ASCII text
    h.answer(create(&h, "req-bytes", props)).await;

    let put = h.last_put();
    assert_eq!(put.method, "PUT");
    assert_eq!(put.header("content-type"), None, "{:?}", put.headers);
    let length: usize = put.header("content-length").unwrap().parse().unwrap();
    assert_eq!(length, put.body.len());
    assert!(
        put.body.len() > put.body.chars().count(),
        "the body should hold multi-byte text"
    );
    assert_eq!(put.query.as_deref(), Some(SIGNATURE));
}

/// A Create that failed answers an id naming no configuration (the matrix checks which); the
/// rollback's Delete of that id then succeeds without calling IVS.
#[tokio::test]
async fn the_rollback_delete_of_a_failed_create_calls_no_ivs() {
    let h = Harness::with(
        Stabilization::CreateFailedAfter(Duration::from_millis(100)),
        fast_config(),
    )
    .await;
    let answer = h.answer(create(&h, "req-cf", properties())).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let id = answer["PhysicalResourceId"].as_str().unwrap();
    assert_eq!(id, "demo-Recording-failed-create-req-cf");
    assert!(h.configurations().is_empty());

    let calls = h.emulator.requests().len();
    let rollback = h.answer(delete(&h, "req-rollback", id)).await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(rollback["PhysicalResourceId"], id);
    assert_eq!(h.emulator.requests().len(), calls);
}

#[tokio::test]
async fn invalid_properties_fail_before_any_ivs_call() {
    let h = Harness::start().await;
    let mut props = properties();
    props
        .as_object_mut()
        .unwrap()
        .remove("RecordingReconnectWindowSeconds");
    props["RecordingReconectWindowSeconds"] = json!("30");
    let answer = h.answer(create(&h, "req-typo", props)).await;
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.contains("did you mean RecordingReconnectWindowSeconds?"),
        "{reason}"
    );
    assert!(h.emulator.requests().is_empty());
}

#[tokio::test]
async fn a_tags_only_update_changes_tags_in_place() {
    let h = Harness::start().await;
    let arn = created_arn(&h, "req-1").await;
    let mut new = properties();
    new["Tags"] = json!([{"Key": "team", "Value": "live"}, {"Key": "env", "Value": "prod"}]);
    let answer = h.answer(update(&h, "req-2", &arn, properties(), new)).await;

    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["PhysicalResourceId"], arn.as_str());
    assert_eq!(answer["Data"]["State"], "ACTIVE");
    let stored = h.configurations();
    assert_eq!(stored.len(), 1);
    let tags = &stored[0].tags;
    assert_eq!(tags.get("team").map(String::as_str), Some("live"));
    assert_eq!(tags.get("env").map(String::as_str), Some("prod"));
    let marker = tags.get(MARKER_TAG).cloned();
    assert_eq!(
        marker_request_id(&stored[0]).as_deref(),
        Some("req-1"),
        "marker kept"
    );

    let mut fewer = properties();
    fewer["Tags"] = json!([]);
    let answer = h
        .answer(update(&h, "req-3", &arn, properties(), fewer))
        .await;
    assert_eq!(answer["Status"], "SUCCESS");
    let tags = &h.configurations()[0].tags;
    assert_eq!(tags.keys().collect::<Vec<_>>(), vec![MARKER_TAG]);
    assert_eq!(tags.get(MARKER_TAG), marker.as_ref(), "marker unchanged");
    assert!(h.emulator.count(Operation::UntagResource) >= 1);
    assert_eq!(h.emulator.count(Operation::CreateRecordingConfiguration), 1);
}

#[tokio::test]
async fn any_other_change_replaces_and_keeps_the_old_configuration() {
    let h = Harness::start().await;
    let old_arn = created_arn(&h, "req-1").await;
    let mut new = properties();
    new["RecordingReconnectWindowSeconds"] = json!("60");
    let answer = h
        .answer(update(&h, "req-2", &old_arn, properties(), new))
        .await;

    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let new_arn = answer["PhysicalResourceId"].as_str().unwrap();
    assert_ne!(new_arn, old_arn);
    let stored = h.configurations();
    assert_eq!(
        stored.len(),
        2,
        "the old one waits for CloudFormation's cleanup Delete"
    );
    let new_one = stored.iter().find(|c| c.arn == new_arn).unwrap();
    assert_eq!(new_one.body["recordingReconnectWindowSeconds"], 60);

    let cleanup = h.answer(delete(&h, "req-3", &old_arn)).await;
    assert_eq!(cleanup["Status"], "SUCCESS");
    assert_eq!(
        h.configurations()
            .iter()
            .map(|c| c.arn.as_str())
            .collect::<Vec<_>>(),
        vec![new_arn]
    );
}

#[tokio::test]
async fn an_update_after_a_failed_create_is_a_create() {
    let h = Harness::start().await;
    let answer = h
        .answer(update(
            &h,
            "req-2",
            "demo-Recording-failed-create-req-1",
            properties(),
            properties(),
        ))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(answer["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:ivs:"));
    assert_eq!(h.configurations().len(), 1);
}

#[tokio::test]
async fn delete_of_a_failed_create_succeeds_without_calling_ivs() {
    let h = Harness::start().await;
    let failed_create = "demo-Recording-failed-create-req-0";
    let answer = h.answer(delete(&h, "req-1", failed_create)).await;
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], failed_create);
    assert!(h.emulator.requests().is_empty());
}

#[tokio::test]
async fn a_refused_answer_is_an_error_for_lambda_to_retry_and_is_not_repeated() {
    use lambda_fakes::SinkReply;
    let h = Harness::start().await;
    h.sink.script([SinkReply::Status(403)]);
    let result = h
        .run(create(&h, "req-1", properties()), Duration::from_secs(5))
        .await;
    match result {
        Err(HandlerError::Send { status, source }) => {
            assert_eq!(status, "SUCCESS");
            assert!(source.to_string().contains("HTTP 403"), "{source}");
            assert!(!source.to_string().contains("SECRETSIGNATURE"), "{source}");
        }
        other => panic!("expected a send error, got {other:?}"),
    }
    assert_eq!(h.sink.received().len(), 1, "a 403 is not retried");
    // Lambda's retry delivers the same event again: same configuration, answer delivered.
    let answer = h.answer(create(&h, "req-1", properties())).await;
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(h.configurations().len(), 1);
}

#[tokio::test]
async fn a_response_url_that_is_not_https_gets_nothing_and_nothing_is_done() {
    let h = Harness::start().await;
    let mut event = create(&h, "req-1", properties());
    event["ResponseURL"] = json!("http://example.com/answer?sig=1");
    let result = h.run(event, Duration::from_secs(5)).await;
    let Err(HandlerError::ResponseUrl(error)) = result else {
        panic!("expected a ResponseURL error, got {result:?}")
    };
    assert!(error.to_string().contains("must be https"), "{error}");
    assert!(h.sink.received().is_empty());
    assert!(
        h.emulator.requests().is_empty(),
        "nothing is done that cannot be reported"
    );
}

#[tokio::test]
async fn a_malformed_event_is_an_error_for_the_runtime() {
    let h = Harness::start().await;
    let result = h
        .run(
            json!({"RequestType": "Create", "hello": "world"}),
            Duration::from_secs(5),
        )
        .await;
    assert!(matches!(result, Err(HandlerError::Event(_))), "{result:?}");
    assert!(h.emulator.requests().is_empty());
    assert!(h.sink.received().is_empty());
}

#[tokio::test]
async fn reordered_storage_and_renditions_keep_the_configuration() {
    let h = Harness::start().await;
    let arn = created_arn(&h, "req-1").await;
    let mut reordered = properties();
    reordered["ThumbnailConfiguration"]["Storage"] = json!(["LATEST", "SEQUENTIAL"]);
    reordered["RenditionConfiguration"]["Renditions"] = json!(["SD", "HD"]);
    let answer = h
        .answer(update(&h, "req-2", &arn, properties(), reordered))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["PhysicalResourceId"], arn.as_str());
    assert_eq!(h.emulator.count(Operation::CreateRecordingConfiguration), 1);
}

#[tokio::test]
async fn duplicate_renditions_are_refused_before_any_ivs_call() {
    let h = Harness::start().await;
    let mut props = properties();
    props["RenditionConfiguration"]["Renditions"] = json!(["HD", "SD", "HD"]);
    let answer = h.answer(create(&h, "req-1", props)).await;
    assert_eq!(answer["Status"], "FAILED");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap()
            .contains("RenditionConfiguration.Renditions lists HD more than once"),
        "{answer}"
    );
    assert!(h.emulator.requests().is_empty());
}
