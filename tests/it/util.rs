//! What the integration tests share: an emulated IVS, a capturing ResponseURL and the real
//! handler wired to both over HTTP, plus CloudFormation-shaped events.

use cfn_ivs_recording::actions::stabilize::PollPolicy;
use cfn_ivs_recording::answer::send::SendPolicy;
use cfn_ivs_recording::cloudformation::SdkCloudFormation;
use cfn_ivs_recording::handler::{Delivered, Handler, HandlerConfig, HandlerError};
use cfn_ivs_recording::ivs::CallPolicy;
use cfn_ivs_recording::ivs::SdkIvs;
use cfn_ivs_recording::timing::backoff::{BackoffPolicy, Jitter};
use ivs_emulator::{
    self as emulator, EmulatorOptions, IvsEmulator, Stabilization, StoredConfiguration,
};
use lambda_fakes::{RecordedPut, ResponseSink};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
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
        poll: PollPolicy {
            schedule: BackoffPolicy {
                first: Duration::from_millis(100),
                max: Duration::from_millis(300),
                jitter: Jitter::None,
            },
            read_lag_grace: Duration::from_secs(3),
        },
        calls: CallPolicy {
            throttled: BackoffPolicy {
                first: Duration::from_millis(100),
                max: Duration::from_secs(1),
                jitter: Jitter::Full,
            },
            access_denied_grace: Duration::from_millis(600),
            denied: BackoffPolicy {
                first: Duration::from_millis(100),
                max: Duration::from_millis(300),
                jitter: Jitter::Half,
            },
        },
        conflict_retry: BackoffPolicy {
            first: Duration::from_millis(50),
            max: Duration::from_millis(200),
            jitter: Jitter::Half,
        },
        send: SendPolicy {
            backoff: BackoffPolicy {
                first: Duration::from_millis(20),
                max: Duration::from_millis(100),
                jitter: Jitter::Half,
            },
            attempt_timeout: Duration::from_millis(300),
        },
        metrics_namespace: None,
        allow_plain_http: false,
        ask_cloudformation_within: Duration::from_secs(1),
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(Stabilization::Immediate, fast_config()).await
    }

    pub async fn with(stabilization: Stabilization, config: HandlerConfig) -> Harness {
        let options = EmulatorOptions {
            stabilization,
            ..EmulatorOptions::default()
        };
        Self::with_options(options, config).await
    }

    /// An emulator started with `options` (its quotas, IAM window, read lag).
    pub async fn with_options(options: EmulatorOptions, config: HandlerConfig) -> Harness {
        let emulator = IvsEmulator::start(options).await.expect("emulator starts");
        let sink = ResponseSink::start().await.expect("sink starts");
        let handler = handler_for(&emulator, config);
        Harness {
            emulator,
            sink,
            handler,
        }
    }

    pub fn response_url(&self, request_id: &str) -> String {
        response_url(&self.sink, request_id)
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

/// A handler with its own clients, as a Lambda instance has (see `own_region`), asking the
/// emulator for both IVS and CloudFormation.
pub fn handler_for(emulator: &IvsEmulator, config: HandlerConfig) -> Arc<Handler> {
    let sdk = emulator::sdk_config_for(&emulator.endpoint_url(), &own_region());
    Handler::new(SdkIvs::new(&sdk), SdkCloudFormation::new(&sdk), config)
}

/// A signing region for one harness's client. The SDK keeps its adaptive rate limiter and its
/// retry quota per service and region for the whole process, so harnesses sharing a region
/// would slow each other down once one of them is throttled (in Lambda, a process has a single
/// client). The emulator writes us-east-1 into ARNs whatever the client signs for.
pub fn own_region() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("us-east-1-{}", NEXT.fetch_add(1, Ordering::Relaxed))
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

/// Where an event's answer goes: a harness's sink, or a sink beside the function process.
pub trait AnsweredAt {
    fn sink(&self) -> &ResponseSink;
}

impl AnsweredAt for Harness {
    fn sink(&self) -> &ResponseSink {
        &self.sink
    }
}

impl AnsweredAt for ResponseSink {
    fn sink(&self) -> &ResponseSink {
        self
    }
}

/// The ResponseURL CloudFormation would give request `request_id`, presigned as S3's are.
fn response_url(sink: &ResponseSink, request_id: &str) -> String {
    sink.url(&format!("/demo/Recording/{request_id}?{SIGNATURE}"))
}

/// A CloudFormation request for the resource `Recording` of the stack [`STACK_ID`].
fn event(at: &impl AnsweredAt, request_type: &str, request_id: &str, props: Value) -> Value {
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cfn-ivs-recording",
        "ResponseURL": response_url(at.sink(), request_id),
        "StackId": STACK_ID,
        "RequestId": request_id,
        "ResourceType": "Custom::IvsRecordingConfiguration",
        "LogicalResourceId": "Recording",
        "ResourceProperties": props,
    })
}

pub fn create(at: &impl AnsweredAt, request_id: &str, props: Value) -> Value {
    event(at, "Create", request_id, props)
}

pub fn update(
    at: &impl AnsweredAt,
    request_id: &str,
    physical_id: &str,
    old: Value,
    new: Value,
) -> Value {
    let mut e = event(at, "Update", request_id, new);
    e["PhysicalResourceId"] = json!(physical_id);
    e["OldResourceProperties"] = old;
    e
}

pub fn delete(at: &impl AnsweredAt, request_id: &str, physical_id: &str) -> Value {
    let mut e = event(at, "Delete", request_id, properties());
    e["PhysicalResourceId"] = json!(physical_id);
    e
}

/// Creates a configuration through the handler and returns its ARN.
pub async fn created_arn(h: &Harness, request_id: &str) -> String {
    let answer = h.answer(create(h, request_id, properties())).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    answer["PhysicalResourceId"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// The Lambda binary as a process, and memory use.
// ---------------------------------------------------------------------------------------------

/// Fake credentials the function process gets from its environment; none may ever be logged.
pub const PROCESS_ACCESS_KEY_ID: &str = "AKIDPROCESSTEST";
pub const PROCESS_SECRET_ACCESS_KEY: &str = "process-test-secret";
pub const PROCESS_SESSION_TOKEN: &str = "process-test-session-token";

/// The built Lambda binary as a process, as Lambda runs it: a fake Runtime API hands it
/// events and the emulated IVS answers its SDK calls. Its stdout and stderr are drained as it
/// runs (DEBUG logs overflow a pipe's buffer and would block the process). Killed when dropped.
pub struct FunctionProcess {
    child: std::process::Child,
    readers: Vec<std::thread::JoinHandle<Vec<u8>>>,
}

impl FunctionProcess {
    pub fn start(
        api: &lambda_fakes::RuntimeApi,
        ivs: &IvsEmulator,
        extra_env: &[(&str, &str)],
    ) -> FunctionProcess {
        Self::start_at(api, &ivs.endpoint_url(), extra_env)
    }

    /// The same, with IVS at `ivs_endpoint` (another process's emulator).
    pub fn start_at(
        api: &lambda_fakes::RuntimeApi,
        ivs_endpoint: &str,
        extra_env: &[(&str, &str)],
    ) -> FunctionProcess {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let mut command = Command::new(env!("CARGO_BIN_EXE_cfn-ivs-recording"));
        command
            .env_clear()
            .envs(api.lambda_env())
            .env("AWS_ENDPOINT_URL_IVS", ivs_endpoint)
            .env("AWS_ENDPOINT_URL_CLOUDFORMATION", ivs_endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", PROCESS_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", PROCESS_SECRET_ACCESS_KEY)
            .env("AWS_SESSION_TOKEN", PROCESS_SESSION_TOKEN)
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the function binary starts");
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = pipe.read_to_end(&mut out);
                out
            })
        };
        let readers = vec![
            drain(Box::new(child.stdout.take().unwrap())),
            drain(Box::new(child.stderr.take().unwrap())),
        ];
        FunctionProcess { child, readers }
    }

    /// Stops the process and returns everything it wrote to stdout, then stderr.
    pub fn logs(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::take(&mut self.readers)
            .into_iter()
            .map(|reader| String::from_utf8_lossy(&reader.join().unwrap()).into_owned())
            .collect()
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every non-empty line of a process's output in Lambda's JSON log format, parsed; a line that
/// is not JSON fails the test.
pub fn json_log_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect()
}

/// Peak memory of this process, in KiB, since the last [`reset_peak_memory`].
pub fn peak_memory_kib() -> u64 {
    proc_status_kib("VmHWM")
}

/// Resets the peak to the current resident size and returns that size, in KiB.
pub fn reset_peak_memory() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5")
        .expect("resetting VmHWM via /proc/self/clear_refs");
    proc_status_kib("VmHWM")
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// An invocation of the function process, with Lambda's usual 30 s left.
pub fn invocation(id: &str, event: Value) -> lambda_fakes::Invocation {
    lambda_fakes::Invocation {
        request_id: id.into(),
        event,
        deadline: std::time::Duration::from_secs(30),
    }
}
