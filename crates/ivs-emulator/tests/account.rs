//! What a real account adds, as the real `aws-sdk-ivs` client sees it: the rate quotas, IAM
//! denying calls while permissions propagate, reads lagging creates, and channels that keep a
//! configuration in use (with ListChannels to find them).

use aws_sdk_ivs::config::retry::RetryConfig;
use aws_sdk_ivs::error::ProvideErrorMetadata;
use aws_sdk_ivs::operation::create_recording_configuration::CreateRecordingConfigurationError;
use aws_sdk_ivs::operation::delete_recording_configuration::DeleteRecordingConfigurationError;
use aws_sdk_ivs::operation::get_recording_configuration::GetRecordingConfigurationError;
use aws_sdk_ivs::operation::list_channels::ListChannelsError;
use aws_sdk_ivs::types::{DestinationConfiguration, S3DestinationConfiguration};
use aws_sdk_ivs::Client;
use ivs_emulator::{sdk_config_for, EmulatorOptions, IvsEmulator, Operation, Quotas};
use std::collections::BTreeSet;
use std::time::Duration;

const UNKNOWN_ARN: &str = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/NoSuchConfig";

async fn start(options: EmulatorOptions) -> IvsEmulator {
    IvsEmulator::start(options)
        .await
        .expect("the emulator starts")
}

/// A client that reports the first answer as it is, so each throttle shows up.
fn client(emulator: &IvsEmulator) -> Client {
    let config =
        aws_sdk_ivs::config::Builder::from(&sdk_config_for(&emulator.endpoint_url(), "us-east-1"))
            .retry_config(RetryConfig::disabled())
            .build();
    Client::from_conf(config)
}

fn unlimited() -> EmulatorOptions {
    EmulatorOptions {
        quotas: None,
        ..EmulatorOptions::default()
    }
}

async fn create(client: &Client) -> String {
    let destination = DestinationConfiguration::builder()
        .s3(S3DestinationConfiguration::builder()
            .bucket_name("recordings")
            .build()
            .unwrap())
        .build();
    client
        .create_recording_configuration()
        .destination_configuration(destination)
        .send()
        .await
        .expect("create succeeds")
        .recording_configuration
        .expect("a configuration")
        .arn
}

/// Sends `n` GetRecordingConfiguration calls at once; the HTTP status of each answer.
async fn get_burst(client: &Client, arn: &str, n: usize) -> Vec<u16> {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let request = client.get_recording_configuration().arn(arn);
            tokio::spawn(request.send())
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(match call.await.unwrap() {
            Ok(_) => 200,
            Err(error) => error.raw_response().map_or(0, |r| r.status().as_u16()),
        });
    }
    statuses.sort_unstable();
    statuses
}

fn quota_of(operation: Operation) -> u32 {
    Quotas::ivs().per_second[&operation]
}

#[test]
fn the_default_options_carry_the_documented_ivs_quotas() {
    let quotas = EmulatorOptions::default().quotas.expect("quotas are on");
    assert_eq!(quotas, Quotas::ivs());
    let rates: Vec<(Operation, u32)> = quotas.per_second.into_iter().collect();
    assert_eq!(
        rates,
        [
            (Operation::CreateRecordingConfiguration, 3),
            (Operation::GetRecordingConfiguration, 3),
            (Operation::DeleteRecordingConfiguration, 3),
            (Operation::ListRecordingConfigurations, 3),
            (Operation::TagResource, 10),
            (Operation::UntagResource, 10),
            (Operation::ListTagsForResource, 10),
            (Operation::ListChannels, 5),
        ]
    );
}

#[tokio::test]
async fn a_burst_beyond_the_quota_is_throttled_exactly_as_ivs_throttles() {
    let emulator = start(EmulatorOptions::default()).await;
    let client = client(&emulator);
    let arn = create(&client).await;

    let burst = 12;
    let quota = quota_of(Operation::GetRecordingConfiguration) as usize;
    let statuses = get_burst(&client, &arn, burst).await;
    let mut expected = vec![200; quota];
    expected.extend(vec![429; burst - quota]);
    assert_eq!(statuses, expected);
    assert_eq!(emulator.throttled(), burst - quota);
    assert_eq!(emulator.count(Operation::GetRecordingConfiguration), burst);
    let logged = emulator
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(logged, burst - quota);

    // The bucket is still empty: one more shows the answer in full.
    let error = client
        .get_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap_err();
    let raw = error.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 429);
    assert_eq!(
        raw.headers().get("x-amzn-ErrorType"),
        Some("ThrottlingException")
    );
    let body: serde_json::Value = serde_json::from_slice(raw.body().bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "exceptionMessage": "Rate exceeded" })
    );
    // GetRecordingConfiguration's model lists no ThrottlingException, so the SDK knows it by
    // its code alone, which is also what its retry policy looks at.
    assert_eq!(error.code(), Some("ThrottlingException"));
}

#[tokio::test]
async fn the_bucket_refills_continuously_up_to_one_seconds_worth() {
    let emulator = start(EmulatorOptions::default()).await;
    let client = client(&emulator);
    let arn = create(&client).await;
    assert_eq!(get_burst(&client, &arn, 4).await, [200, 200, 200, 429]);

    // A third of a second brings back one token at 3 per second.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get_burst(&client, &arn, 2).await, [200, 429]);

    // A longer rest refills no more than the capacity.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get_burst(&client, &arn, 5).await, [200, 200, 200, 429, 429]);
    assert_eq!(emulator.throttled(), 4);
}

#[tokio::test]
async fn refilling_the_quotas_gives_back_one_seconds_worth_at_once() {
    let emulator = start(EmulatorOptions::default()).await;
    let client = client(&emulator);
    let arn = create(&client).await;
    assert_eq!(get_burst(&client, &arn, 4).await, [200, 200, 200, 429]);

    emulator.refill_quotas();
    assert_eq!(get_burst(&client, &arn, 5).await, [200, 200, 200, 429, 429]);
    emulator.refill_quotas();
    emulator.refill_quotas();
    assert_eq!(get_burst(&client, &arn, 4).await, [200, 200, 200, 429]);
    assert_eq!(emulator.throttled(), 4);
}

#[tokio::test]
async fn without_quotas_nothing_is_throttled() {
    let emulator = start(unlimited()).await;
    let client = client(&emulator);
    let arn = create(&client).await;
    assert_eq!(get_burst(&client, &arn, 20).await, [200; 20]);
    assert_eq!(emulator.throttled(), 0);
}

#[tokio::test]
async fn iam_denies_every_call_until_the_window_passes() {
    let window = Duration::from_millis(400);
    let emulator = start(EmulatorOptions {
        access_denied_for: window,
        ..unlimited()
    })
    .await;
    let client = client(&emulator);
    let started = tokio::time::Instant::now();

    let error = client
        .get_recording_configuration()
        .arn(UNKNOWN_ARN)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let GetRecordingConfigurationError::AccessDeniedException(denied) = &error else {
        panic!("expected AccessDeniedException, not {error:?}");
    };
    assert_eq!(
        denied.exception_message(),
        Some(
            format!(
                "User: arn:aws:sts::123456789012:assumed-role/ivs-emulator-caller/emulator-session \
                 is not authorized to perform: ivs:GetRecordingConfiguration on resource: \
                 {UNKNOWN_ARN} because no identity-based policy allows the \
                 ivs:GetRecordingConfiguration action"
            )
            .as_str()
        )
    );

    // IAM answers before the service validates: an invalid create is denied too.
    let error = client
        .create_recording_configuration()
        .destination_configuration(
            DestinationConfiguration::builder()
                .s3(S3DestinationConfiguration::builder()
                    .bucket_name("ab")
                    .build()
                    .unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let CreateRecordingConfigurationError::AccessDeniedException(denied) = &error else {
        panic!("expected AccessDeniedException, not {error:?}");
    };
    assert!(denied.exception_message().unwrap().contains(
        "ivs:CreateRecordingConfiguration on resource: \
         arn:aws:ivs:us-east-1:123456789012:recording-configuration/*"
    ));
    let error = client
        .list_channels()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let ListChannelsError::AccessDeniedException(denied) = &error else {
        panic!("expected AccessDeniedException, not {error:?}");
    };
    assert!(denied
        .exception_message()
        .unwrap()
        .contains("ivs:ListChannels on resource: *"));
    assert!(emulator.configurations().is_empty());
    assert!(emulator.requests().iter().all(|r| r.status == 403));

    tokio::time::sleep_until(started + window).await;
    create(&client).await;
    assert_eq!(emulator.configurations().len(), 1);
}

#[tokio::test]
async fn reads_do_not_see_a_new_configuration_until_the_lag_passes() {
    let lag = Duration::from_millis(500);
    let emulator = start(EmulatorOptions {
        read_lag: lag,
        ..unlimited()
    })
    .await;
    let client = client(&emulator);
    let arn = create(&client).await;
    // No earlier than the emulator's own instant of creation.
    let created = tokio::time::Instant::now();

    let get = client.get_recording_configuration().arn(&arn).send().await;
    assert_eq!(get.unwrap_err().code(), Some("ResourceNotFoundException"));
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await;
    assert_eq!(tags.unwrap_err().code(), Some("ResourceNotFoundException"));
    let tag = client
        .tag_resource()
        .resource_arn(&arn)
        .tags("k", "v")
        .send()
        .await;
    assert_eq!(tag.unwrap_err().code(), Some("ResourceNotFoundException"));
    let untag = client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("k")
        .send()
        .await;
    assert_eq!(untag.unwrap_err().code(), Some("ResourceNotFoundException"));
    let listed = client.list_recording_configurations().send().await.unwrap();
    assert!(listed.recording_configurations().is_empty());
    // The test's own view is not a read through the API, so it shows the configuration.
    assert_eq!(emulator.configurations()[0].arn, arn);

    // A delete is a write, and works at once.
    let short_lived = create(&client).await;
    client
        .delete_recording_configuration()
        .arn(&short_lived)
        .send()
        .await
        .expect("a delete does not lag");

    tokio::time::sleep_until(created + lag).await;
    client
        .get_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .expect("the read sees it now");
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags("k", "v")
        .send()
        .await
        .expect("tagging sees it now");
    let listed = client.list_recording_configurations().send().await.unwrap();
    let arns: Vec<&str> = listed
        .recording_configurations()
        .iter()
        .map(|c| c.arn())
        .collect();
    assert_eq!(arns, [arn.as_str()]);
}

/// Every channel ListChannels returns with `filter_by_recording_configuration_arn(arn)`,
/// following next tokens, with the size of each page.
async fn channels_using(client: &Client, arn: &str, page_size: i32) -> (Vec<String>, Vec<usize>) {
    let mut channels = Vec::new();
    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_channels()
            .filter_by_recording_configuration_arn(arn)
            .max_results(page_size)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages.push(page.channels().len());
        for channel in page.channels() {
            assert_eq!(channel.recording_configuration_arn(), Some(arn));
            channels.push(channel.arn().unwrap().to_owned());
        }
        token = page.next_token;
        if token.is_none() {
            return (channels, pages);
        }
    }
}

#[tokio::test]
async fn list_channels_filters_by_configuration_and_pages() {
    let emulator = start(unlimited()).await;
    let client = client(&emulator);
    let used = create(&client).await;
    let other = create(&client).await;
    let mut expected: Vec<String> = (0..3)
        .map(|i| emulator.add_channel(&format!("stage-{i}"), &used))
        .collect();
    expected.sort();
    let elsewhere = emulator.add_channel("backstage", &other);

    let (found, pages) = channels_using(&client, &used, 2).await;
    assert_eq!(found, expected);
    assert_eq!(pages, [2, 1]);
    let (found, _) = channels_using(&client, &other, 2).await;
    assert_eq!(found, [elsewhere.as_str()]);

    let by_name = client
        .list_channels()
        .filter_by_name("backstage")
        .send()
        .await
        .unwrap();
    let [channel] = by_name.channels() else {
        panic!("one channel expected: {by_name:?}");
    };
    assert_eq!(channel.arn(), Some(elsewhere.as_str()));
    assert_eq!(channel.name(), Some("backstage"));
    assert!(channel
        .arn()
        .unwrap()
        .starts_with("arn:aws:ivs:us-east-1:123456789012:channel/"));

    let all = client.list_channels().send().await.unwrap();
    let all: BTreeSet<&str> = all.channels().iter().filter_map(|c| c.arn()).collect();
    assert_eq!(all.len(), 4);
    assert!(all.contains(elsewhere.as_str()));
}

#[tokio::test]
async fn list_channels_refuses_two_filters_and_invalid_input() {
    let emulator = start(unlimited()).await;
    let client = client(&emulator);
    let arn = create(&client).await;
    emulator.add_channel("stage", &arn);

    // The model's documentation of ListChannels: two filters are a 409 ConflictException.
    let error = client
        .list_channels()
        .filter_by_name("stage")
        .filter_by_recording_configuration_arn(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(error, ListChannelsError::ConflictException(_)),
        "{error:?}"
    );
    let error = client
        .list_channels()
        .max_results(101)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let ListChannelsError::ValidationException(invalid) = &error else {
        panic!("expected ValidationException, not {error:?}");
    };
    assert!(invalid
        .exception_message()
        .unwrap()
        .contains("'maxResults' failed to satisfy constraint"));
    let statuses: Vec<u16> = emulator
        .requests()
        .iter()
        .filter(|r| r.operation == Some(Operation::ListChannels))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [409, 400]);
}

#[tokio::test]
async fn a_configuration_in_use_by_a_channel_cannot_be_deleted_until_it_is_released() {
    let emulator = start(unlimited()).await;
    let client = client(&emulator);
    let arn = create(&client).await;
    let channel = emulator.add_channel("stage", &arn);

    let error = client
        .delete_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(409));
    let DeleteRecordingConfigurationError::ConflictException(conflict) = error.into_service_error()
    else {
        panic!("expected ConflictException");
    };
    assert_eq!(
        conflict.exception_message(),
        Some(
            format!(
                "Unable to perform: ivs:DeleteRecordingConfiguration on resource: {arn}; \
                 resource is in use by a channel"
            )
            .as_str()
        )
    );
    assert_eq!(emulator.configurations().len(), 1);

    assert!(emulator.remove_channel(&channel));
    assert!(!emulator.remove_channel(&channel));
    client
        .delete_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .expect("a released configuration deletes");
    let deletes: Vec<u16> = emulator
        .requests()
        .iter()
        .filter(|r| r.operation == Some(Operation::DeleteRecordingConfiguration))
        .map(|r| r.status)
        .collect();
    assert_eq!(deletes, [409, 204]);
    assert!(emulator.configurations().is_empty());
}

#[tokio::test]
async fn the_emulator_listens_where_it_is_told() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = reserved.local_addr().unwrap();
    drop(reserved);
    let emulator = start(EmulatorOptions {
        listen: Some(address),
        ..unlimited()
    })
    .await;
    assert_eq!(emulator.local_addr(), address);
    assert_eq!(emulator.endpoint_url(), format!("http://{address}"));
    create(&client(&emulator)).await;
    assert_eq!(emulator.configurations().len(), 1);
}
