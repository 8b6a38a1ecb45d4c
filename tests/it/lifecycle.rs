//! The handler's lifecycle against the emulated IVS over HTTP, with the real aws-sdk-ivs client:
//! every rule of Create, Update and Delete, and what reaches the ResponseURL.

use crate::util::*;
use cfn_ivs_recording::handler::HandlerError;
use cfn_ivs_recording::properties::REQUEST_MARKER_TAG;
use ivs_emulator::{Fault, FaultKind, Operation, Stabilization};
use serde_json::json;
use std::time::{Duration, Instant};

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
    assert_eq!(
        c.tags.get(REQUEST_MARKER_TAG).map(String::as_str),
        Some("req-create")
    );
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

#[tokio::test]
async fn create_polls_until_active() {
    let h = Harness::with(
        Stabilization::ActiveAfter(Duration::from_millis(400)),
        fast_config(),
    )
    .await;
    let started = Instant::now();
    let answer = h.answer(create(&h, "req-slow", properties())).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["State"], "ACTIVE");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "answered before ACTIVE: {took:?}"
    );
    assert!(
        took < Duration::from_millis(700),
        "polling lagged: {took:?}"
    );
    assert!(h.emulator.count(Operation::GetRecordingConfiguration) >= 2);
}

#[tokio::test]
async fn create_failed_is_deleted_and_the_reason_names_bucket_and_region() {
    let h = Harness::with(
        Stabilization::CreateFailedAfter(Duration::from_millis(100)),
        fast_config(),
    )
    .await;
    let answer = h.answer(create(&h, "req-cf", properties())).await;

    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.contains("CREATE_FAILED"), "{reason}");
    assert!(
        reason.contains("S3 bucket demo-bucket is not in us-east-1"),
        "{reason}"
    );
    assert!(reason.contains("nothing is left behind"), "{reason}");
    assert!(
        h.configurations().is_empty(),
        "the failed configuration must be deleted"
    );
    let id = answer["PhysicalResourceId"].as_str().unwrap();
    assert_eq!(id, "demo-Recording-failed-create-req-cf");

    // CloudFormation's rollback then deletes that id: SUCCESS, no IVS call.
    let calls = h.emulator.requests().len();
    let rollback = h.answer(delete(&h, "req-rollback", id)).await;
    assert_eq!(rollback["Status"], "SUCCESS");
    assert_eq!(rollback["PhysicalResourceId"], id);
    assert_eq!(h.emulator.requests().len(), calls);
}

#[tokio::test]
async fn ivs_errors_answer_failed_with_code_and_message() {
    for code in [
        "ValidationException",
        "AccessDeniedException",
        "PendingVerification",
        "ConflictException",
        "ServiceQuotaExceededException",
        "InternalServerException",
        "ResourceNotFoundException",
    ] {
        let h = Harness::start().await;
        // InternalServerException is retried by the SDK first: make it stick.
        h.emulator.inject(Fault::always(
            Operation::CreateRecordingConfiguration,
            FaultKind::ServiceError {
                code: code.into(),
                message: format!("the {code} text"),
            },
        ));
        let answer = h.answer(create(&h, "req-err", properties())).await;
        assert_eq!(answer["Status"], "FAILED", "{code}");
        let reason = answer["Reason"].as_str().unwrap();
        assert!(
            reason.contains(code) && reason.contains(&format!("the {code} text")),
            "{reason}"
        );
        assert!(reason.contains("CreateRecordingConfiguration"), "{reason}");
        assert!(h.configurations().is_empty());
        assert!(!answer["PhysicalResourceId"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_by_the_sdk() {
    let h = Harness::start().await;
    h.emulator.inject(Fault::once(
        Operation::CreateRecordingConfiguration,
        FaultKind::ServiceError {
            code: "ThrottlingException".into(),
            message: "slow down".into(),
        },
    ));
    h.emulator.inject(Fault::once(
        Operation::CreateRecordingConfiguration,
        FaultKind::Status {
            status: 503,
            body: "unavailable".into(),
        },
    ));
    let answer = h.answer(create(&h, "req-throttle", properties())).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(h.emulator.count(Operation::CreateRecordingConfiguration), 3);
    assert_eq!(h.configurations().len(), 1);
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
async fn the_same_create_delivered_twice_leaves_one_configuration_and_one_arn() {
    let h = Harness::start().await;
    let first = h.answer(create(&h, "req-dup", properties())).await;
    let second = h.answer(create(&h, "req-dup", properties())).await;
    assert_eq!(first["Status"], "SUCCESS");
    assert_eq!(second["Status"], "SUCCESS");
    assert_eq!(first["PhysicalResourceId"], second["PhysicalResourceId"]);
    assert_eq!(h.configurations().len(), 1);
    assert_eq!(h.emulator.count(Operation::CreateRecordingConfiguration), 1);
}

#[tokio::test]
async fn concurrent_deliveries_while_stabilizing_settle_on_one_configuration() {
    let h = Harness::with(
        Stabilization::ActiveAfter(Duration::from_millis(300)),
        fast_config(),
    )
    .await;
    let (a, b) = tokio::join!(
        h.run(
            create(&h, "req-race", properties()),
            Duration::from_secs(10)
        ),
        h.run(
            create(&h, "req-race", properties()),
            Duration::from_secs(10)
        ),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.status, "SUCCESS");
    assert_eq!(b.status, "SUCCESS");
    assert_eq!(a.physical_resource_id, b.physical_resource_id);
    let stored = h.configurations();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].arn, a.physical_resource_id);
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
    assert_eq!(
        tags.get(REQUEST_MARKER_TAG).map(String::as_str),
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
    assert_eq!(tags.keys().collect::<Vec<_>>(), vec![REQUEST_MARKER_TAG]);
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
async fn a_failed_replacement_keeps_the_old_id_and_leaves_nothing_new() {
    let h = Harness::start().await;
    let old_arn = created_arn(&h, "req-1").await;
    h.emulator
        .set_stabilization(Stabilization::CreateFailedAfter(Duration::from_millis(50)));
    let mut new = properties();
    new["Name"] = json!("renamed");
    let answer = h
        .answer(update(&h, "req-2", &old_arn, properties(), new))
        .await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["PhysicalResourceId"], old_arn.as_str());
    assert_eq!(
        h.configurations()
            .iter()
            .map(|c| c.arn.as_str())
            .collect::<Vec<_>>(),
        vec![old_arn.as_str()]
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
async fn delete_removes_the_configuration_and_a_second_delete_still_succeeds() {
    let h = Harness::start().await;
    let arn = created_arn(&h, "req-1").await;
    let answer = h.answer(delete(&h, "req-2", &arn)).await;
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], arn.as_str());
    assert!(h.configurations().is_empty());
    let again = h.answer(delete(&h, "req-3", &arn)).await;
    assert_eq!(
        again["Status"], "SUCCESS",
        "ResourceNotFound on Delete is success"
    );
}

#[tokio::test]
async fn delete_of_a_non_arn_succeeds_without_calling_ivs() {
    let h = Harness::start().await;
    let answer = h.answer(delete(&h, "req-1", "some-made-up-id")).await;
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], "some-made-up-id");
    assert!(h.emulator.requests().is_empty());
}

#[tokio::test]
async fn delete_retries_while_a_channel_still_uses_the_configuration() {
    let h = Harness::start().await;
    let arn = created_arn(&h, "req-1").await;
    h.emulator.inject(Fault::times(
        Operation::DeleteRecordingConfiguration,
        FaultKind::ServiceError {
            code: "ConflictException".into(),
            message: "in use by a channel".into(),
        },
        3,
    ));
    let answer = h.answer(delete(&h, "req-2", &arn)).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(h.configurations().is_empty());
    assert_eq!(h.emulator.count(Operation::DeleteRecordingConfiguration), 4);
}

#[tokio::test]
async fn delete_gives_up_on_a_lasting_conflict_before_the_deadline() {
    let h = Harness::start().await;
    let arn = created_arn(&h, "req-1").await;
    h.emulator.inject(Fault::always(
        Operation::DeleteRecordingConfiguration,
        FaultKind::ServiceError {
            code: "ConflictException".into(),
            message: "in use by a channel".into(),
        },
    ));
    let started = Instant::now();
    let delivered = h
        .run(delete(&h, "req-2", &arn), Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(delivered.status, "FAILED");
    assert!(
        delivered
            .reason
            .contains("A channel still references recording configuration"),
        "{}",
        delivered.reason
    );
    assert!(
        delivered.reason.contains("in use by a channel"),
        "{}",
        delivered.reason
    );
    assert_eq!(h.configurations().len(), 1, "nothing deleted");
    assert!(h.emulator.count(Operation::DeleteRecordingConfiguration) > 2);
}

#[tokio::test]
async fn a_create_that_never_becomes_active_times_out_before_the_deadline_and_cleans_up() {
    let h = Harness::with(Stabilization::CreatingForever, fast_config()).await;
    let started = Instant::now();
    let delivered = h
        .run(create(&h, "req-1", properties()), Duration::from_secs(2))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "answered after the deadline: {took:?}"
    );
    assert!(
        took >= Duration::from_millis(1100),
        "gave up too early: {took:?}"
    );
    assert_eq!(delivered.status, "FAILED");
    assert!(
        delivered
            .reason
            .starts_with("timed out waiting for recording configuration"),
        "{}",
        delivered.reason
    );
    assert!(h.configurations().is_empty(), "{:?}", h.configurations());
    assert_eq!(h.sink.received().len(), 1);
}

#[tokio::test]
async fn an_ivs_hang_ends_in_failed_before_the_deadline() {
    let h = Harness::start().await;
    h.emulator.inject(Fault::always(
        Operation::CreateRecordingConfiguration,
        FaultKind::HangForever,
    ));
    let started = Instant::now();
    let delivered = h
        .run(create(&h, "req-1", properties()), Duration::from_secs(2))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(delivered.status, "FAILED");
    assert!(
        delivered
            .reason
            .starts_with("timed out waiting for IVS CreateRecordingConfiguration"),
        "{}",
        delivered.reason
    );
}

#[tokio::test]
async fn too_little_time_left_answers_failed_at_once() {
    let h = Harness::start().await;
    let delivered = h
        .run(
            create(&h, "req-1", properties()),
            Duration::from_millis(500),
        )
        .await
        .unwrap();
    assert_eq!(delivered.status, "FAILED");
    assert!(
        delivered.reason.contains("less than the"),
        "{}",
        delivered.reason
    );
    assert!(h.emulator.requests().is_empty());
    assert_eq!(h.sink.received().len(), 1);
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
async fn server_errors_from_the_response_url_are_retried() {
    use lambda_fakes::SinkReply;
    let h = Harness::start().await;
    h.sink.script([
        SinkReply::Status(500),
        SinkReply::ConnectionReset,
        SinkReply::Status(503),
    ]);
    let delivered = h
        .run(create(&h, "req-1", properties()), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(delivered.status, "SUCCESS");
    let received = h.sink.received();
    assert_eq!(received.len(), 4);
    assert!(
        received.windows(2).all(|w| w[0].body == w[1].body),
        "the same answer every time"
    );
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
