//! The IVS emulator as the real `aws-sdk-ivs` client sees it: round trips, the defaults IVS fills
//! in, model validation, stabilization over time, and every kind of injected fault.

use aws_sdk_ivs::config::retry::RetryConfig;
use aws_sdk_ivs::config::timeout::TimeoutConfig;
use aws_sdk_ivs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ivs::operation::create_recording_configuration::CreateRecordingConfigurationError;
use aws_sdk_ivs::operation::delete_recording_configuration::DeleteRecordingConfigurationError;
use aws_sdk_ivs::operation::get_recording_configuration::GetRecordingConfigurationError;
use aws_sdk_ivs::operation::list_recording_configurations::ListRecordingConfigurationsError;
use aws_sdk_ivs::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_sdk_ivs::operation::tag_resource::TagResourceError;
use aws_sdk_ivs::operation::untag_resource::UntagResourceError;
use aws_sdk_ivs::types::{
    DestinationConfiguration, RecordingConfiguration, RecordingConfigurationState, RecordingMode,
    RenditionConfiguration, RenditionConfigurationRendition,
    RenditionConfigurationRenditionSelection, S3DestinationConfiguration, ThumbnailConfiguration,
    ThumbnailConfigurationResolution, ThumbnailConfigurationStorage,
};
use aws_sdk_ivs::Client;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use ivs_emulator::{
    sdk_config_for, EmulatorOptions, Fault, FaultKind, IvsEmulator, Operation, Stabilization,
};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const UNKNOWN_ARN: &str = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/NoSuchConfig";

async fn emulator() -> IvsEmulator {
    emulator_with(Stabilization::Immediate).await
}

/// Without the rate quotas, which tests/account.rs covers: these tests make bursts of calls that
/// are about other behaviour.
async fn emulator_with(stabilization: Stabilization) -> IvsEmulator {
    IvsEmulator::start(EmulatorOptions {
        stabilization,
        quotas: None,
        ..EmulatorOptions::default()
    })
    .await
    .expect("the emulator starts")
}

fn client(emulator: &IvsEmulator) -> Client {
    Client::new(&sdk_config_for(&emulator.endpoint_url(), "us-east-1"))
}

fn destination(bucket: &str) -> DestinationConfiguration {
    DestinationConfiguration::builder()
        .s3(S3DestinationConfiguration::builder()
            .bucket_name(bucket)
            .build()
            .unwrap())
        .build()
}

async fn create(client: &Client) -> RecordingConfiguration {
    client
        .create_recording_configuration()
        .destination_configuration(destination("recordings"))
        .send()
        .await
        .expect("create succeeds")
        .recording_configuration
        .expect("a configuration")
}

async fn state_of(client: &Client, arn: &str) -> Option<RecordingConfigurationState> {
    match client.get_recording_configuration().arn(arn).send().await {
        Ok(output) => output.recording_configuration.map(|c| c.state),
        Err(error) => match error.into_service_error() {
            GetRecordingConfigurationError::ResourceNotFoundException(_) => None,
            other => panic!("unexpected error: {other:?}"),
        },
    }
}

fn statuses(emulator: &IvsEmulator, operation: Operation) -> Vec<u16> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.operation == Some(operation))
        .map(|r| r.status)
        .collect()
}

/// A plain HTTP request, for what the SDK will not send.
async fn raw_request(
    emulator: &IvsEmulator,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, HashMap<String, String>, String) {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", emulator.endpoint_url()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = client.request(request).await.expect("a response");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn create_fills_in_the_service_defaults() {
    let emulator = emulator().await;
    let created = create(&client(&emulator)).await;

    let arn_shape = regex::Regex::new(
        "^arn:aws:ivs:us-east-1:123456789012:recording-configuration/[A-Za-z0-9]{12}$",
    )
    .unwrap();
    assert!(arn_shape.is_match(created.arn()), "{}", created.arn());
    assert_eq!(created.name(), Some(""));
    assert_eq!(created.state(), &RecordingConfigurationState::Active);
    assert_eq!(created.recording_reconnect_window_seconds(), 0);
    assert_eq!(created.tags().map(HashMap::len), Some(0));
    let thumbnails = created.thumbnail_configuration().unwrap();
    assert_eq!(thumbnails.recording_mode(), Some(&RecordingMode::Interval));
    assert_eq!(thumbnails.target_interval_seconds(), Some(60));
    assert_eq!(
        thumbnails.storage(),
        [ThumbnailConfigurationStorage::Sequential]
    );
    assert_eq!(thumbnails.resolution(), None);
    let renditions = created.rendition_configuration().unwrap();
    assert_eq!(
        renditions.rendition_selection(),
        Some(&RenditionConfigurationRenditionSelection::All)
    );

    let stored = emulator.configurations();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].arn, created.arn());
    assert_eq!(stored[0].bucket_name, "recordings");
    assert_eq!(stored[0].state, "ACTIVE");
    assert_eq!(
        stored[0].body["thumbnailConfiguration"]["storage"],
        serde_json::json!(["SEQUENTIAL"])
    );
}

#[tokio::test]
async fn create_get_and_delete_round_trip() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let created = client
        .create_recording_configuration()
        .name("main-stage")
        .destination_configuration(destination("stage-recordings"))
        .recording_reconnect_window_seconds(30)
        .thumbnail_configuration(
            ThumbnailConfiguration::builder()
                .recording_mode(RecordingMode::Interval)
                .target_interval_seconds(10)
                .resolution(ThumbnailConfigurationResolution::Hd)
                .storage(ThumbnailConfigurationStorage::Latest)
                .build(),
        )
        .rendition_configuration(
            RenditionConfiguration::builder()
                .rendition_selection(RenditionConfigurationRenditionSelection::Custom)
                .renditions(RenditionConfigurationRendition::FullHd)
                .build(),
        )
        .tags("team", "video")
        .send()
        .await
        .unwrap()
        .recording_configuration
        .unwrap();

    let fetched = client
        .get_recording_configuration()
        .arn(created.arn())
        .send()
        .await
        .unwrap()
        .recording_configuration
        .unwrap();
    assert_eq!(fetched, created);
    assert_eq!(fetched.name(), Some("main-stage"));
    assert_eq!(fetched.recording_reconnect_window_seconds(), 30);
    let thumbnails = fetched.thumbnail_configuration().unwrap();
    assert_eq!(thumbnails.target_interval_seconds(), Some(10));
    assert_eq!(
        thumbnails.resolution(),
        Some(&ThumbnailConfigurationResolution::Hd)
    );
    assert_eq!(
        thumbnails.storage(),
        [ThumbnailConfigurationStorage::Latest]
    );
    let renditions = fetched.rendition_configuration().unwrap();
    assert_eq!(
        renditions.renditions(),
        [RenditionConfigurationRendition::FullHd]
    );
    assert_eq!(fetched.tags().unwrap()["team"], "video");

    client
        .delete_recording_configuration()
        .arn(created.arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        statuses(&emulator, Operation::DeleteRecordingConfiguration),
        [204]
    );
    assert!(emulator.configurations().is_empty());
    assert_eq!(state_of(&client, created.arn()).await, None);
}

#[tokio::test]
async fn list_includes_tags_and_follows_next_tokens() {
    let emulator = emulator().await;
    let client = client(&emulator);
    for i in 0..5 {
        client
            .create_recording_configuration()
            .name(format!("config-{i}"))
            .destination_configuration(destination("recordings"))
            .tags("index", i.to_string())
            .send()
            .await
            .unwrap();
    }

    let mut page_sizes = Vec::new();
    let mut listed = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_recording_configurations()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        page_sizes.push(page.recording_configurations().len());
        for summary in page.recording_configurations() {
            assert_eq!(summary.state(), &RecordingConfigurationState::Active);
            assert_eq!(
                summary
                    .destination_configuration()
                    .unwrap()
                    .s3()
                    .unwrap()
                    .bucket_name(),
                "recordings"
            );
            let index = &summary.tags().unwrap()["index"];
            assert_eq!(summary.name(), Some(format!("config-{index}").as_str()));
            listed.push(summary.arn().to_owned());
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(page_sizes, [2, 2, 1]);
    let stored: Vec<String> = emulator
        .configurations()
        .into_iter()
        .map(|c| c.arn)
        .collect();
    assert_eq!(listed, stored);
}

#[tokio::test]
async fn list_pages_hold_fifty_configurations_by_default() {
    let emulator = emulator().await;
    let client = client(&emulator);
    for _ in 0..51 {
        create(&client).await;
    }
    let first = client.list_recording_configurations().send().await.unwrap();
    assert_eq!(first.recording_configurations().len(), 50);
    let second = client
        .list_recording_configurations()
        .set_next_token(first.next_token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.recording_configurations().len(), 1);
    assert_eq!(second.next_token, None);
}

#[tokio::test]
async fn tags_round_trip_through_tag_untag_and_list_tags() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let arn = client
        .create_recording_configuration()
        .destination_configuration(destination("recordings"))
        .tags("team", "video")
        .send()
        .await
        .unwrap()
        .recording_configuration
        .unwrap()
        .arn;

    client
        .tag_resource()
        .resource_arn(&arn)
        .tags("team", "live")
        .tags("cost centre", "42")
        .send()
        .await
        .unwrap();
    let tags = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let listed = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.tags,
        tags(&[("team", "live"), ("cost centre", "42")])
    );

    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .tag_keys("never-set")
        .send()
        .await
        .unwrap();
    let listed = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.tags, tags(&[("cost centre", "42")]));
    assert_eq!(
        emulator.configurations()[0].tags,
        BTreeMap::from([("cost centre".to_owned(), "42".to_owned())])
    );

    // The SDK percent-encodes the ARN into a single path segment.
    let untag = emulator
        .requests()
        .into_iter()
        .find(|r| r.operation == Some(Operation::UntagResource))
        .unwrap();
    assert_eq!(untag.method, "DELETE");
    assert_eq!(
        untag.path,
        format!("/tags/{}", arn.replace(':', "%3A").replace('/', "%2F"))
    );
    assert_eq!(
        untag.query.as_deref(),
        Some("tagKeys=team&tagKeys=never-set")
    );
    assert_eq!(untag.body, serde_json::Value::Null);
    assert_eq!(untag.status, 200);
}

#[tokio::test]
async fn unknown_arns_are_resource_not_found_everywhere() {
    let emulator = emulator().await;
    let client = client(&emulator);

    let error = client
        .get_recording_configuration()
        .arn(UNKNOWN_ARN)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let GetRecordingConfigurationError::ResourceNotFoundException(not_found) = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert!(not_found.exception_message().unwrap().contains(UNKNOWN_ARN));
    assert_eq!(error.code(), Some("ResourceNotFoundException"));

    let error = client
        .delete_recording_configuration()
        .arn(UNKNOWN_ARN)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        DeleteRecordingConfigurationError::ResourceNotFoundException(_)
    ));
    let error = client
        .tag_resource()
        .resource_arn(UNKNOWN_ARN)
        .tags("k", "v")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        TagResourceError::ResourceNotFoundException(_)
    ));
    let error = client
        .untag_resource()
        .resource_arn(UNKNOWN_ARN)
        .tag_keys("k")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        UntagResourceError::ResourceNotFoundException(_)
    ));
    let error = client
        .list_tags_for_resource()
        .resource_arn(UNKNOWN_ARN)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        ListTagsForResourceError::ResourceNotFoundException(_)
    ));
    assert!(emulator.requests().iter().all(|r| r.status == 404));
}

#[tokio::test]
async fn a_missing_destination_is_a_validation_exception() {
    let emulator = emulator().await;
    let (status, headers, body) = raw_request(
        &emulator,
        "POST",
        "/CreateRecordingConfiguration",
        r#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(headers["x-amzn-errortype"], "ValidationException");
    assert_eq!(headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "exceptionMessage": "1 validation error detected: Value null at \
            'destinationConfiguration' failed to satisfy constraint: Member must not be null" })
    );
    assert!(emulator.configurations().is_empty());
}

#[tokio::test]
async fn model_constraints_are_validation_exceptions_naming_member_and_constraint() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let base = || {
        client
            .create_recording_configuration()
            .destination_configuration(destination("recordings"))
    };
    let interval = |seconds| {
        ThumbnailConfiguration::builder()
            .target_interval_seconds(seconds)
            .build()
    };
    let too_many_tags: HashMap<String, String> =
        (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let cases = [
        (
            client.create_recording_configuration().destination_configuration(destination("ab")),
            "'destinationConfiguration.s3.bucketName' failed to satisfy constraint: Member must have length greater than or equal to 3",
        ),
        (
            base().name("n".repeat(129)),
            "'name' failed to satisfy constraint: Member must have length less than or equal to 128",
        ),
        (
            base().thumbnail_configuration(interval(0)),
            "'thumbnailConfiguration.targetIntervalSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
        (
            base().thumbnail_configuration(interval(61)),
            "'thumbnailConfiguration.targetIntervalSeconds' failed to satisfy constraint: Member must have value less than or equal to 60",
        ),
        (
            base().recording_reconnect_window_seconds(301),
            "'recordingReconnectWindowSeconds' failed to satisfy constraint: Member must have value less than or equal to 300",
        ),
        (
            base().set_tags(Some(too_many_tags.clone())),
            "'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
        ),
    ];
    for (request, expected) in cases {
        let error = request.send().await.unwrap_err().into_service_error();
        let CreateRecordingConfigurationError::ValidationException(invalid) = error else {
            panic!("expected a ValidationException for {expected}, got {error:?}");
        };
        let message = invalid.exception_message().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    assert!(emulator.configurations().is_empty());
    assert_eq!(
        statuses(&emulator, Operation::CreateRecordingConfiguration),
        [400; 6]
    );

    let arn = create(&client).await.arn;
    let error = client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(too_many_tags))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        TagResourceError::ValidationException(_)
    ));
}

/// Creates a configuration under `stabilization` and returns its state on creation, right after,
/// and after 300 ms (`None` once it is gone).
async fn states_over_time(
    stabilization: Stabilization,
) -> [Option<RecordingConfigurationState>; 3] {
    let emulator = emulator_with(stabilization).await;
    let client = client(&emulator);
    let created = create(&client).await;
    let soon = state_of(&client, created.arn()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = state_of(&client, created.arn()).await;
    assert_eq!(
        emulator.configurations().first().map(|c| c.state.clone()),
        later.as_ref().map(|s| s.as_str().to_owned())
    );
    [Some(created.state), soon, later]
}

#[tokio::test]
async fn immediate_configurations_are_active_from_the_start() {
    use RecordingConfigurationState::Active;
    assert_eq!(
        states_over_time(Stabilization::Immediate).await,
        [Some(Active), Some(Active), Some(Active)]
    );
}

#[tokio::test]
async fn active_after_goes_from_creating_to_active() {
    use RecordingConfigurationState::{Active, Creating};
    let stabilization = Stabilization::ActiveAfter(Duration::from_millis(150));
    assert_eq!(
        states_over_time(stabilization).await,
        [Some(Creating), Some(Creating), Some(Active)]
    );
}

#[tokio::test]
async fn create_failed_after_goes_from_creating_to_create_failed() {
    use RecordingConfigurationState::{CreateFailed, Creating};
    let stabilization = Stabilization::CreateFailedAfter(Duration::from_millis(150));
    assert_eq!(
        states_over_time(stabilization).await,
        [Some(Creating), Some(Creating), Some(CreateFailed)]
    );
}

#[tokio::test]
async fn creating_forever_stays_creating() {
    use RecordingConfigurationState::Creating;
    assert_eq!(
        states_over_time(Stabilization::CreatingForever).await,
        [Some(Creating), Some(Creating), Some(Creating)]
    );
}

#[tokio::test]
async fn vanish_after_makes_the_configuration_disappear() {
    use RecordingConfigurationState::Creating;
    let stabilization = Stabilization::VanishAfter(Duration::from_millis(150));
    assert_eq!(
        states_over_time(stabilization).await,
        [Some(Creating), Some(Creating), None]
    );
}

#[tokio::test]
async fn set_stabilization_applies_to_later_creates_only() {
    let emulator = emulator_with(Stabilization::CreatingForever).await;
    let client = client(&emulator);
    let stuck = create(&client).await;
    emulator.set_stabilization(Stabilization::Immediate);
    let ready = create(&client).await;
    assert_eq!(ready.state, RecordingConfigurationState::Active);
    assert_eq!(
        state_of(&client, stuck.arn()).await,
        Some(RecordingConfigurationState::Creating)
    );
}

#[tokio::test]
async fn service_error_faults_surface_their_code_status_and_message() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let arn = create(&client).await.arn;
    emulator.inject(Fault::once(
        Operation::DeleteRecordingConfiguration,
        FaultKind::ServiceError {
            code: "ConflictException".to_owned(),
            message: "in use by a channel".to_owned(),
        },
    ));

    let error = client
        .delete_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap_err();
    let DeleteRecordingConfigurationError::ConflictException(conflict) = error.into_service_error()
    else {
        panic!("expected a ConflictException");
    };
    assert_eq!(conflict.exception_message(), Some("in use by a channel"));
    assert_eq!(
        emulator.configurations().len(),
        1,
        "a fault replaces the operation"
    );

    client
        .delete_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        statuses(&emulator, Operation::DeleteRecordingConfiguration),
        [409, 204]
    );
}

#[tokio::test]
async fn service_errors_the_model_does_not_know_are_400() {
    let emulator = emulator().await;
    emulator.inject(Fault::once(
        Operation::ListRecordingConfigurations,
        FaultKind::ServiceError {
            code: "SomethingOdd".to_owned(),
            message: "odd".to_owned(),
        },
    ));
    let error = client(&emulator)
        .list_recording_configurations()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("SomethingOdd"));
    assert_eq!(
        statuses(&emulator, Operation::ListRecordingConfigurations),
        [400]
    );
}

#[tokio::test]
async fn throttling_is_retried_by_the_standard_policy() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let arn = create(&client).await.arn;
    emulator.inject(Fault::once(
        Operation::GetRecordingConfiguration,
        FaultKind::ServiceError {
            code: "ThrottlingException".to_owned(),
            message: "slow down".to_owned(),
        },
    ));
    assert!(state_of(&client, &arn).await.is_some());
    assert_eq!(
        statuses(&emulator, Operation::GetRecordingConfiguration),
        [429, 200]
    );
}

#[tokio::test]
async fn raw_500_and_503_statuses_are_retried() {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.inject(Fault::once(
        Operation::CreateRecordingConfiguration,
        FaultKind::Status {
            status: 500,
            body: "<html><body>Internal Server Error</body></html>".to_owned(),
        },
    ));
    emulator.inject(Fault::once(
        Operation::ListRecordingConfigurations,
        FaultKind::Status {
            status: 503,
            body: String::new(),
        },
    ));
    create(&client).await;
    let listed = client.list_recording_configurations().send().await.unwrap();
    assert_eq!(listed.recording_configurations().len(), 1);
    assert_eq!(
        statuses(&emulator, Operation::CreateRecordingConfiguration),
        [500, 200]
    );
    assert_eq!(
        statuses(&emulator, Operation::ListRecordingConfigurations),
        [503, 200]
    );
}

#[tokio::test]
async fn raw_statuses_carry_no_error_type() {
    let emulator = emulator().await;
    emulator.inject(Fault::once(
        Operation::ListRecordingConfigurations,
        FaultKind::Status {
            status: 429,
            body: "Too Many Requests".to_owned(),
        },
    ));
    let error = client(&emulator)
        .list_recording_configurations()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(429));
    assert_eq!(error.code(), None);
    // Without an error code the standard policy only retries 500, 502, 503 and 504.
    assert_eq!(emulator.count(Operation::ListRecordingConfigurations), 1);
}

#[tokio::test]
async fn a_malformed_body_is_an_error() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let arn = create(&client).await.arn;
    emulator.inject(Fault::once(
        Operation::GetRecordingConfiguration,
        FaultKind::MalformedBody,
    ));
    let error = client
        .get_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap_err();
    // The SDK reports the undecodable 200 as an unhandled service error carrying no code.
    let SdkError::ServiceError(context) = &error else {
        panic!("expected an unhandled service error, got {error:?}");
    };
    assert_eq!(context.raw().status().as_u16(), 200);
    assert_eq!(error.code(), None);
    assert_eq!(
        statuses(&emulator, Operation::GetRecordingConfiguration),
        [200]
    );
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.inject(Fault::once(
        Operation::CreateRecordingConfiguration,
        FaultKind::ConnectionReset,
    ));
    create(&client).await;
    assert_eq!(
        statuses(&emulator, Operation::CreateRecordingConfiguration),
        [0, 200]
    );
    assert_eq!(emulator.configurations().len(), 1);
}

#[tokio::test]
async fn connections_reset_every_time_are_a_dispatch_failure() {
    let emulator = emulator().await;
    emulator.inject(Fault::always(
        Operation::ListTagsForResource,
        FaultKind::ConnectionReset,
    ));
    let error = client(&emulator)
        .list_tags_for_resource()
        .resource_arn(UNKNOWN_ARN)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");
    assert_eq!(
        statuses(&emulator, Operation::ListTagsForResource),
        [0, 0, 0]
    );
}

#[tokio::test]
async fn a_hang_delays_the_answer() {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.inject(Fault::once(
        Operation::ListRecordingConfigurations,
        FaultKind::Hang(Duration::from_millis(300)),
    ));
    let started = Instant::now();
    client.list_recording_configurations().send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        statuses(&emulator, Operation::ListRecordingConfigurations),
        [200]
    );
}

#[tokio::test]
async fn a_request_hanging_forever_blocks_only_itself() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let arn = create(&client).await.arn;
    emulator.inject(Fault::always(
        Operation::GetRecordingConfiguration,
        FaultKind::HangForever,
    ));

    let hanging = tokio::spawn({
        let client = client.clone();
        let arn = arn.clone();
        async move { client.get_recording_configuration().arn(arn).send().await }
    });
    while emulator.count(Operation::GetRecordingConfiguration) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!hanging.is_finished());
    hanging.abort();

    let impatient =
        aws_sdk_ivs::config::Builder::from(&sdk_config_for(&emulator.endpoint_url(), "us-east-1"))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(200))
                    .build(),
            )
            .retry_config(RetryConfig::disabled())
            .build();
    let error = Client::from_conf(impatient)
        .get_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, SdkError::TimeoutError(_)), "{error:?}");
    assert_eq!(
        statuses(&emulator, Operation::GetRecordingConfiguration),
        [0, 0]
    );
}

#[tokio::test]
async fn faults_without_an_operation_apply_to_all_in_injection_order() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let denied = |message: &str| FaultKind::ServiceError {
        code: "AccessDeniedException".to_owned(),
        message: message.to_owned(),
    };
    emulator.inject(Fault {
        operation: None,
        kind: denied("first"),
        times: Some(2),
    });
    emulator.inject(Fault::once(
        Operation::ListRecordingConfigurations,
        denied("second"),
    ));

    let error = client
        .list_recording_configurations()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AccessDeniedException"));
    let error = client
        .create_recording_configuration()
        .destination_configuration(destination("recordings"))
        .send()
        .await
        .unwrap_err();
    let CreateRecordingConfigurationError::AccessDeniedException(denied) =
        error.into_service_error()
    else {
        panic!("expected AccessDeniedException");
    };
    assert_eq!(denied.exception_message(), Some("first"));
    let error = client
        .list_recording_configurations()
        .send()
        .await
        .unwrap_err();
    let ListRecordingConfigurationsError::AccessDeniedException(denied) =
        error.into_service_error()
    else {
        panic!("expected AccessDeniedException");
    };
    assert_eq!(denied.exception_message(), Some("second"));
    assert!(client.list_recording_configurations().send().await.is_ok());
    assert_eq!(
        statuses(&emulator, Operation::ListRecordingConfigurations),
        [403, 403, 200]
    );
}

#[tokio::test]
async fn requests_are_recorded_as_received() {
    let emulator = emulator().await;
    let client = client(&emulator);
    create(&client).await;
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    let create = &requests[0];
    assert_eq!(
        create.operation,
        Some(Operation::CreateRecordingConfiguration)
    );
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/CreateRecordingConfiguration");
    assert_eq!(create.query, None);
    assert_eq!(
        create.body,
        serde_json::json!({ "destinationConfiguration": { "s3": { "bucketName": "recordings" } } })
    );
    assert_eq!(create.status, 200);
    assert_eq!(emulator.count(Operation::CreateRecordingConfiguration), 1);
    assert_eq!(emulator.count(Operation::GetRecordingConfiguration), 0);
}

#[tokio::test]
async fn unknown_paths_are_404_with_an_error_body() {
    let emulator = emulator().await;
    let (status, headers, body) = raw_request(&emulator, "GET", "/channels", "").await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-amzn-errortype"], "UnknownOperationException");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["exceptionMessage"],
        "No IVS operation matches GET /channels"
    );
    let recorded = &emulator.requests()[0];
    assert_eq!((recorded.operation, recorded.status), (None, 404));
}

async fn refuses_connections(endpoint_url: &str) -> bool {
    let address = endpoint_url.trim_start_matches("http://");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(address).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let emulator = emulator().await;
    create(&client(&emulator)).await;
    emulator.shutdown();
    assert!(refuses_connections(&emulator.endpoint_url()).await);
}

#[tokio::test]
async fn dropping_the_last_clone_stops_serving() {
    let emulator = emulator().await;
    let clone = emulator.clone();
    let url = emulator.endpoint_url();
    drop(emulator);
    create(&client(&clone)).await;
    drop(clone);
    assert!(refuses_connections(&url).await);
}
