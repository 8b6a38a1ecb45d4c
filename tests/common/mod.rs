//! What the integration tests share: an emulated IVS, a capturing ResponseURL and the real
//! handler wired to both over HTTP, plus CloudFormation-shaped events.
#![allow(dead_code)] // each test binary uses its own part of this module

use cfn_ivs_recording::backoff::BackoffPolicy;
use cfn_ivs_recording::emulator::{
    self, EmulatorOptions, IvsEmulator, Stabilization, StoredConfiguration,
};
use cfn_ivs_recording::fakes::{RecordedPut, ResponseSink};
use cfn_ivs_recording::handler::{Delivered, Handler, HandlerConfig, HandlerError};
use cfn_ivs_recording::ivs;
use cfn_ivs_recording::responder::RetryPolicy;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/7d3e9a10-0000-11ef-9f0a-0a1b2c3d4e5f";
pub const SIGNATURE: &str = "X-Amz-Signature=SECRETSIGNATURE";

pub struct Harness {
    pub emulator: IvsEmulator,
    pub sink: ResponseSink,
    pub handler: Arc<Handler>,
}

/// Timings scaled down so that deadline paths run in about a second.
pub fn fast_config() -> HandlerConfig {
    HandlerConfig {
        safety_margin: Duration::from_millis(800),
        poll: BackoffPolicy {
            first: Duration::from_millis(20),
            max: Duration::from_millis(100),
            jitter: false,
        },
        conflict_retry: BackoffPolicy {
            first: Duration::from_millis(50),
            max: Duration::from_millis(200),
            jitter: true,
        },
        send: RetryPolicy {
            backoff: BackoffPolicy {
                first: Duration::from_millis(20),
                max: Duration::from_millis(100),
                jitter: true,
            },
            attempt_timeout: Duration::from_millis(300),
        },
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(Stabilization::Immediate, fast_config()).await
    }

    pub async fn with(stabilization: Stabilization, config: HandlerConfig) -> Harness {
        let emulator = IvsEmulator::start(EmulatorOptions {
            stabilization,
            ..EmulatorOptions::default()
        })
        .await
        .expect("emulator starts");
        let sink = ResponseSink::start().await.expect("sink starts");
        let sdk = emulator::sdk_config_for(&emulator.endpoint_url(), "us-east-1");
        let handler = Handler::new(ivs::client(&sdk), config);
        Harness {
            emulator,
            sink,
            handler,
        }
    }

    pub fn response_url(&self, request_id: &str) -> String {
        self.sink
            .url(&format!("/demo/Recording/{request_id}?{SIGNATURE}"))
    }

    /// Runs the handler with `left` before the Lambda deadline.
    pub async fn run(&self, event: Value, left: Duration) -> Result<Delivered, HandlerError> {
        self.handler.handle(event, SystemTime::now() + left).await
    }

    /// Runs the handler and returns the single answer CloudFormation received.
    pub async fn answer(&self, event: Value) -> Value {
        let before = self.sink.received().len();
        self.run(event, Duration::from_secs(10))
            .await
            .expect("answer delivered");
        let received = self.sink.received();
        assert_eq!(
            received.len(),
            before + 1,
            "exactly one answer per event: {received:?}"
        );
        received.last().unwrap().json()
    }

    pub fn last_put(&self) -> RecordedPut {
        self.sink.received().pop().expect("an answer was sent")
    }

    pub fn configurations(&self) -> Vec<StoredConfiguration> {
        self.emulator.configurations()
    }
}

pub fn properties() -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cfn-ivs-recording",
        "DestinationConfiguration": {"S3": {"BucketName": "demo-bucket"}},
        "Name": "demo",
        "RecordingReconnectWindowSeconds": "30",
        "ThumbnailConfiguration": {"RecordingMode": "INTERVAL", "TargetIntervalSeconds": "20", "Resolution": "HD", "Storage": ["SEQUENTIAL", "LATEST"]},
        "RenditionConfiguration": {"RenditionSelection": "CUSTOM", "Renditions": ["HD", "SD"]},
        "Tags": [{"Key": "team", "Value": "video"}]
    })
}

fn base(h: &Harness, request_type: &str, request_id: &str, props: Value) -> Value {
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cfn-ivs-recording",
        "ResponseURL": h.response_url(request_id),
        "StackId": STACK_ID,
        "RequestId": request_id,
        "ResourceType": "Custom::IvsRecordingConfiguration",
        "LogicalResourceId": "Recording",
        "ResourceProperties": props
    })
}

pub fn create(h: &Harness, request_id: &str, props: Value) -> Value {
    base(h, "Create", request_id, props)
}

pub fn update(h: &Harness, request_id: &str, physical_id: &str, old: Value, new: Value) -> Value {
    let mut e = base(h, "Update", request_id, new);
    e["PhysicalResourceId"] = json!(physical_id);
    e["OldResourceProperties"] = old;
    e
}

pub fn delete(h: &Harness, request_id: &str, physical_id: &str) -> Value {
    let mut e = base(h, "Delete", request_id, properties());
    e["PhysicalResourceId"] = json!(physical_id);
    e
}

/// Creates a configuration through the handler and returns its ARN.
pub async fn created_arn(h: &Harness, request_id: &str) -> String {
    let answer = h.answer(create(h, request_id, properties())).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    answer["PhysicalResourceId"].as_str().unwrap().to_string()
}
