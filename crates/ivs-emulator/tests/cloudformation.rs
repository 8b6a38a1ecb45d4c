//! CloudFormation's DescribeStackResource on the emulator, as the real `aws-sdk-cloudformation`
//! client sees it: statuses a test sets, by stack ARN and by name, CloudFormation's errors for
//! what it does not know or refuses, and injected faults.

use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::operation::describe_stack_resource::{
    DescribeStackResourceError, DescribeStackResourceOutput,
};
use aws_sdk_cloudformation::types::ResourceStatus;
use aws_sdk_cloudformation::Client;
use ivs_emulator::{
    sdk_config_for, EmulatorOptions, Fault, FaultKind, IvsEmulator, Operation, Quotas,
    StackResource, StackResourceError,
};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/5b1f8e10-3f5a-11ef-9c2a-0a1b2c3d4e5f";
const CONFIGURATION: &str =
    "arn:aws:ivs:us-east-1:123456789012:recording-configuration/AbCd1234EfGh";

async fn start(options: EmulatorOptions) -> IvsEmulator {
    IvsEmulator::start(options)
        .await
        .expect("the emulator starts")
}

async fn emulator() -> IvsEmulator {
    start(EmulatorOptions::default()).await
}

fn client(emulator: &IvsEmulator) -> Client {
    Client::new(&sdk_config_for(
        &emulator.cloudformation_endpoint_url(),
        "us-east-1",
    ))
}

/// An emulator that knows the resource `Recording` of [`STACK_ID`], in CREATE_IN_PROGRESS, and
/// a client of it.
async fn declared() -> (IvsEmulator, Client) {
    let emulator = emulator().await;
    emulator
        .set_stack_resource(STACK_ID, "Recording", "CREATE_IN_PROGRESS")
        .unwrap();
    let client = client(&emulator);
    (emulator, client)
}

/// A client that reports the first answer as it is.
fn single_try_client(emulator: &IvsEmulator) -> Client {
    let shared = sdk_config_for(&emulator.cloudformation_endpoint_url(), "us-east-1");
    let config = aws_sdk_cloudformation::config::Builder::from(&shared)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

type Described = Result<DescribeStackResourceOutput, SdkError<DescribeStackResourceError>>;

async fn describe(client: &Client, stack_name: &str, logical_id: &str) -> Described {
    client
        .describe_stack_resource()
        .stack_name(stack_name)
        .logical_resource_id(logical_id)
        .send()
        .await
}

/// The error's code, message and HTTP status.
fn failure(described: Described) -> (String, String, u16) {
    let error = described.expect_err("an error answer");
    let status = error.raw_response().map_or(0, |r| r.status().as_u16());
    let code = error.code().unwrap_or_default().to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    (code, message, status)
}

/// POSTs `form` as the query protocol does, without the SDK; the status and the body.
async fn post_form(emulator: &IvsEmulator, form: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(emulator.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        emulator.local_addr(),
        form.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(form.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}

#[tokio::test]
async fn statuses_round_trip_by_stack_arn_and_by_name() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let before = SystemTime::now() - Duration::from_secs(1);
    emulator
        .set_stack_resource(STACK_ID, "Recording", "CREATE_IN_PROGRESS")
        .unwrap();

    let output = describe(&client, STACK_ID, "Recording").await.unwrap();
    let detail = output.stack_resource_detail().unwrap();
    assert_eq!(
        detail.resource_status(),
        Some(&ResourceStatus::CreateInProgress)
    );
    assert_eq!(detail.stack_name(), Some("demo"));
    assert_eq!(detail.stack_id(), Some(STACK_ID));
    assert_eq!(detail.logical_resource_id(), Some("Recording"));
    assert_eq!(detail.physical_resource_id(), None);
    assert_eq!(
        detail.resource_type(),
        Some("Custom::IvsRecordingConfiguration")
    );
    let updated = SystemTime::try_from(*detail.last_updated_timestamp().unwrap()).unwrap();
    assert!(
        updated >= before && updated <= SystemTime::now(),
        "{updated:?}"
    );

    let resource = StackResource {
        status: "UPDATE_IN_PROGRESS".to_owned(),
        physical_resource_id: Some(CONFIGURATION.to_owned()),
        resource_type: "Custom::IvsRecordingConfiguration".to_owned(),
    };
    emulator
        .put_stack_resource(STACK_ID, "Recording", resource.clone())
        .unwrap();
    emulator
        .set_stack_resource(STACK_ID, "Recording", "DELETE_COMPLETE")
        .unwrap();
    let output = describe(&client, "demo", "Recording").await.unwrap();
    let detail = output.stack_resource_detail().unwrap();
    assert_eq!(
        detail.resource_status(),
        Some(&ResourceStatus::DeleteComplete)
    );
    assert_eq!(detail.physical_resource_id(), Some(CONFIGURATION));
    assert_eq!(detail.stack_id(), Some(STACK_ID));
    assert_eq!(
        emulator.stack_resource(STACK_ID, "Recording"),
        Some(StackResource {
            status: "DELETE_COMPLETE".to_owned(),
            ..resource
        })
    );
}

#[tokio::test]
async fn an_unknown_stack_is_a_validation_error() {
    let emulator = emulator().await;
    let client = client(&emulator);
    assert_eq!(
        failure(describe(&client, STACK_ID, "Recording").await),
        (
            "ValidationError".to_owned(),
            format!("Stack with id {STACK_ID} does not exist"),
            400
        )
    );
    let (code, message, _) = failure(describe(&client, "demo", "Recording").await);
    assert_eq!(code, "ValidationError");
    assert_eq!(message, "Stack 'demo' does not exist");

    emulator
        .set_stack_resource(STACK_ID, "Recording", "CREATE_COMPLETE")
        .unwrap();
    assert!(emulator.remove_stack(STACK_ID));
    assert!(!emulator.remove_stack(STACK_ID));
    let (_, message, _) = failure(describe(&client, STACK_ID, "Recording").await);
    assert_eq!(message, format!("Stack with id {STACK_ID} does not exist"));
}

#[tokio::test]
async fn an_unknown_logical_id_is_a_validation_error_naming_the_stack() {
    let (emulator, client) = declared().await;
    assert_eq!(
        failure(describe(&client, STACK_ID, "Channel").await),
        (
            "ValidationError".to_owned(),
            format!("Resource Channel does not exist for stack {STACK_ID}"),
            400
        )
    );
    assert!(emulator.remove_stack_resource(STACK_ID, "Recording"));
    assert!(!emulator.remove_stack_resource(STACK_ID, "Recording"));
    let (_, message, _) = failure(describe(&client, "demo", "Recording").await);
    assert_eq!(message, "Resource Recording does not exist for stack demo");
    assert_eq!(emulator.stack_resource(STACK_ID, "Recording"), None);
}

#[tokio::test]
async fn requests_are_validated_against_the_model_as_cloudformation_words_it() {
    let emulator = emulator().await;
    let form = "Action=DescribeStackResource&Version=2010-05-15";
    let (status, body) = post_form(&emulator, &format!("{form}&StackName=demo")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<Type>Sender</Type><Code>ValidationError</Code>"),
        "{body}"
    );
    assert!(
        body.contains(
            "<Message>1 validation error detected: Value null at 'logicalResourceId' failed to \
             satisfy constraint: Member must not be null</Message>"
        ),
        "{body}"
    );
    let (status, body) = post_form(
        &emulator,
        &format!("{form}&StackName=my_stack&LogicalResourceId=R"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains(
            "Value 'my_stack' at 'stackName' failed to satisfy constraint: Member must satisfy \
             regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
        ),
        "{body}"
    );

    let recorded = emulator.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[1].operation,
        Some(Operation::DescribeStackResource)
    );
    assert_eq!(
        (recorded[1].method.as_str(), recorded[1].path.as_str()),
        ("POST", "/")
    );
    assert_eq!(recorded[1].body["StackName"], "my_stack");
    assert_eq!(recorded[1].status, 400);
    assert_eq!(emulator.count(Operation::DescribeStackResource), 2);
}

#[tokio::test]
async fn other_actions_and_versions_are_invalid_actions() {
    let emulator = emulator().await;
    for (form, message) in [
        (
            "Action=DescribeStackResource&Version=2010-05-16&StackName=demo&LogicalResourceId=R",
            "Could not find operation DescribeStackResource for version 2010-05-16",
        ),
        (
            "Action=DescribeStackResource&StackName=demo&LogicalResourceId=R",
            "Could not find operation DescribeStackResource for version NO_VERSION_SPECIFIED",
        ),
        (
            "Action=DescribeStacks&Version=2010-05-15",
            "Could not find operation DescribeStacks for version 2010-05-15",
        ),
        (
            "Action=ListChannels&Version=2010-05-15",
            "Could not find operation ListChannels for version 2010-05-15",
        ),
    ] {
        let (status, body) = post_form(&emulator, form).await;
        assert_eq!(status, 400, "{form}");
        assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
        assert!(body.contains(message), "{body}");
    }
    let (status, body) = post_form(&emulator, "Version=2010-05-15").await;
    assert_eq!(status, 400);
    assert!(body.contains("<Code>MissingAction</Code>"), "{body}");
    assert!(emulator.requests().iter().all(|r| r.operation.is_none()));
}

#[tokio::test]
async fn injected_access_denied_and_throttling_are_answered_as_cloudformation_does() {
    let (emulator, client) = declared().await;
    let denied = "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: \
                  cloudformation:DescribeStackResource";
    emulator.inject(Fault::once(
        Operation::DescribeStackResource,
        FaultKind::ServiceError {
            code: "AccessDenied".to_owned(),
            message: denied.to_owned(),
        },
    ));
    assert_eq!(
        failure(describe(&client, STACK_ID, "Recording").await),
        ("AccessDenied".to_owned(), denied.to_owned(), 403)
    );

    // Throttling is retried by the SDK's standard policy, three tries in all.
    emulator.inject(Fault::always(
        Operation::DescribeStackResource,
        FaultKind::ServiceError {
            code: "Throttling".to_owned(),
            message: "Rate exceeded".to_owned(),
        },
    ));
    assert_eq!(
        failure(describe(&client, STACK_ID, "Recording").await),
        ("Throttling".to_owned(), "Rate exceeded".to_owned(), 400)
    );
    assert_eq!(emulator.count(Operation::DescribeStackResource), 4);
    assert!(emulator
        .requests()
        .iter()
        .all(|r| r.operation == Some(Operation::DescribeStackResource)));
}

#[tokio::test]
async fn resets_hangs_and_cut_answers_reach_the_client() {
    let (emulator, _) = declared().await;
    let client = single_try_client(&emulator);
    let op = Operation::DescribeStackResource;
    emulator.inject(Fault::once(op, FaultKind::ConnectionReset));
    let reset = describe(&client, STACK_ID, "Recording").await.unwrap_err();
    assert!(matches!(reset, SdkError::DispatchFailure(_)), "{reset:?}");
    // The SDK's XML reader takes a document cut short as a success with nothing in it: a caller
    // must not read a status it did not get as CloudFormation's verdict.
    emulator.inject(Fault::once(op, FaultKind::MalformedBody));
    let cut = describe(&client, STACK_ID, "Recording").await.unwrap();
    let status = cut
        .stack_resource_detail()
        .and_then(|d| d.resource_status());
    let known = |s: &ResourceStatus| ResourceStatus::values().contains(&s.as_str());
    assert!(!status.is_some_and(known), "{status:?}");
    emulator.inject(Fault::once(op, FaultKind::HangForever));
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        describe(&client, STACK_ID, "Recording"),
    )
    .await;
    assert!(hung.is_err(), "the hanging request answered");
    emulator.inject(Fault::once(op, FaultKind::Hang(Duration::from_millis(200))));
    let started = std::time::Instant::now();
    assert!(describe(&client, STACK_ID, "Recording").await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(200));
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 200, 0, 200]);
}

#[tokio::test]
async fn iam_denies_it_in_the_propagation_window_and_no_quota_applies_by_default() {
    let emulator = start(EmulatorOptions {
        access_denied_for: Duration::from_secs(60),
        ..EmulatorOptions::default()
    })
    .await;
    let client = single_try_client(&emulator);
    let (code, message, status) = failure(describe(&client, "demo", "Recording").await);
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    assert_eq!(
        message,
        "User: arn:aws:sts::123456789012:assumed-role/ivs-emulator-caller/emulator-session is \
         not authorized to perform: cloudformation:DescribeStackResource on resource: \
         arn:aws:cloudformation:us-east-1:123456789012:stack/demo/* because no identity-based \
         policy allows the cloudformation:DescribeStackResource action"
    );
    let (_, message, _) = failure(describe(&client, STACK_ID, "Recording").await);
    assert!(
        message.contains(&format!("on resource: {STACK_ID} ")),
        "{message}"
    );

    let emulator = emulator_with_quota(None).await;
    let client = single_try_client(&emulator);
    for _ in 0..20 {
        assert!(describe(&client, STACK_ID, "Recording").await.is_ok());
    }
    assert_eq!(emulator.throttled(), 0);

    let emulator = emulator_with_quota(Some(1)).await;
    let client = single_try_client(&emulator);
    assert!(describe(&client, STACK_ID, "Recording").await.is_ok());
    assert_eq!(
        failure(describe(&client, STACK_ID, "Recording").await),
        ("Throttling".to_owned(), "Rate exceeded".to_owned(), 400)
    );
}

/// IVS's default quotas, plus `rate` DescribeStackResource calls a second if given.
async fn emulator_with_quota(rate: Option<u32>) -> IvsEmulator {
    let mut quotas = Quotas::ivs();
    assert!(!quotas
        .per_second
        .contains_key(&Operation::DescribeStackResource));
    quotas
        .per_second
        .extend(rate.map(|rate| (Operation::DescribeStackResource, rate)));
    let emulator = start(EmulatorOptions {
        quotas: Some(quotas),
        ..EmulatorOptions::default()
    })
    .await;
    emulator
        .set_stack_resource(STACK_ID, "Recording", "CREATE_IN_PROGRESS")
        .unwrap();
    emulator
}

#[tokio::test]
async fn only_model_statuses_and_stacks_of_the_account_and_region_can_be_set() {
    let emulator = emulator().await;
    let error = emulator
        .set_stack_resource(STACK_ID, "Recording", "CREATING")
        .unwrap_err();
    let StackResourceError::Status { allowed, .. } = &error else {
        panic!("expected a status error: {error:?}");
    };
    assert!(allowed.contains("UPDATE_ROLLBACK_COMPLETE"), "{allowed}");
    let elsewhere = STACK_ID.replace("us-east-1", "eu-west-1");
    assert!(matches!(
        emulator.set_stack_resource(&elsewhere, "Recording", "CREATE_IN_PROGRESS"),
        Err(StackResourceError::StackId { .. })
    ));
    assert!(matches!(
        emulator.set_stack_resource("demo", "Recording", "CREATE_IN_PROGRESS"),
        Err(StackResourceError::StackId { .. })
    ));
    let statuses: BTreeMap<&str, bool> = ["CREATE_FAILED", "UPDATE_FAILED", "ROLLBACK_COMPLETE"]
        .into_iter()
        .map(|status| {
            let set = emulator.set_stack_resource(STACK_ID, "Recording", status);
            (status, set.is_ok())
        })
        .collect();
    assert!(statuses.values().all(|ok| *ok), "{statuses:?}");
}
