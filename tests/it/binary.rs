//! The built Lambda binary as a process, as Lambda runs it: a fake Runtime API hands it events,
//! the emulated IVS answers its SDK calls, and the fake ResponseURL records what CloudFormation
//! would receive. Also checks what the process logs.

use crate::util::{
    create, delete, invocation, json_log_lines, properties, update, FunctionProcess,
};
use ivs_emulator::{EmulatorOptions, Fault, FaultKind, IvsEmulator, Operation, Stabilization};
use lambda_fakes::{InvocationResult, ResponseSink, RuntimeApi};
use serde_json::{json, Value};
use std::time::Duration;

/// What a function process runs against: a Lambda Runtime API, an emulated IVS (and
/// CloudFormation), and a ResponseURL.
struct Fakes {
    api: RuntimeApi,
    ivs: IvsEmulator,
    sink: ResponseSink,
}

impl Fakes {
    async fn start(options: EmulatorOptions) -> Fakes {
        Fakes {
            api: RuntimeApi::start().await.unwrap(),
            ivs: IvsEmulator::start(options).await.unwrap(),
            sink: ResponseSink::start().await.unwrap(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_a_lifecycle_and_survives_a_malformed_event() {
    let Fakes { api, ivs, sink } = Fakes::start(EmulatorOptions {
        stabilization: Stabilization::ActiveAfter(Duration::from_millis(300)),
        ..EmulatorOptions::default()
    })
    .await;
    let function = FunctionProcess::start(&api, &ivs, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);

    api.enqueue(invocation("inv-1", create(&sink, "req-1", properties())));
    let puts = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(puts.len(), 1, "no answer reached the ResponseURL");
    let create = puts[0].json();
    assert_eq!(puts[0].method, "PUT");
    assert_eq!(puts[0].header("content-type"), None);
    assert_eq!(create["Status"], "SUCCESS", "{create}");
    let arn = create["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!(ivs.configurations().len(), 1);

    api.enqueue(invocation(
        "inv-2",
        json!({"not": "a custom resource request"}),
    ));
    api.enqueue(invocation("inv-3", delete(&sink, "req-3", &arn)));
    let puts = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[1].json()["Status"], "SUCCESS");
    assert!(ivs.configurations().is_empty());

    let results = api.wait_for_results(3, Duration::from_secs(10)).await;
    let by_id = |id: &str| {
        results.iter().map(|(r, _)| r).find(|r| match r {
            InvocationResult::Response { request_id, .. }
            | InvocationResult::Error { request_id, .. } => request_id == id,
            InvocationResult::InitError { .. } => false,
        })
    };
    assert!(
        matches!(by_id("inv-1"), Some(InvocationResult::Response { .. })),
        "{results:?}"
    );
    match by_id("inv-2") {
        Some(InvocationResult::Error { body, .. }) => {
            assert_eq!(
                serde_json::from_str::<Value>(body).unwrap()["errorType"],
                "InvalidEvent",
                "{body}"
            );
            assert!(
                body.contains("not a CloudFormation custom-resource request"),
                "{body}"
            );
        }
        other => panic!("expected an error for the malformed event, got {other:?}"),
    }
    assert!(
        matches!(by_id("inv-3"), Some(InvocationResult::Response { .. })),
        "{results:?}"
    );

    let logs = function.logs();
    let lines = json_log_lines(&logs);
    let created = lines
        .iter()
        .find(|l| l["fields"]["message"] == "created")
        .unwrap_or_else(|| panic!("no 'created' line in {logs}"));
    assert_eq!(created["fields"]["arn"], arn.as_str());
    assert_eq!(created["span"]["request_id"], "req-1");
    assert_eq!(created["span"]["logical_id"], "Recording");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "answer delivered"),
        "{logs}"
    );
    assert!(
        !logs.contains("SECRETSIGNATURE"),
        "the ResponseURL's signature was logged:\n{logs}"
    );
    assert!(
        !logs.contains(crate::util::PROCESS_SECRET_ACCESS_KEY)
            && !logs.contains(crate::util::PROCESS_SESSION_TOKEN),
        "{logs}"
    );
    assert!(
        !logs.contains("\"ResourceProperties\""),
        "the event was logged whole:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeliverable_answer_is_reported_to_the_runtime_for_a_retry() {
    use lambda_fakes::SinkReply;
    let Fakes { api, ivs, sink } = Fakes::start(EmulatorOptions::default()).await;
    sink.script([SinkReply::Status(403)]);
    let _function = FunctionProcess::start(&api, &ivs, &[]);

    api.enqueue(invocation("inv-1", create(&sink, "req-1", properties())));
    let results = api.wait_for_results(1, Duration::from_secs(20)).await;
    match &results[..] {
        [(InvocationResult::Error { body, .. }, _)] => {
            assert_eq!(
                serde_json::from_str::<Value>(body).unwrap()["errorType"],
                "AnswerNotDelivered",
                "{body}"
            );
            assert!(body.contains("HTTP 403"), "{body}");
        }
        other => panic!("expected one error result, got {other:?}"),
    }
    // Lambda's retry of the same event: the configuration is found, not made twice.
    api.enqueue(invocation(
        "inv-1-retry",
        create(&sink, "req-1", properties()),
    ));
    let puts = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[1].json()["Status"], "SUCCESS");
    assert_eq!(ivs.configurations().len(), 1);
}

/// One CloudWatch EMF record per invocation on stdout, in Lambda's JSON and text log formats:
/// the `_aws` directive, a value for every declared metric, only the two bounded dimensions,
/// and the outcome of each answer; a foreign ARN never reaches IVS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invocation_writes_one_emf_record_in_both_log_formats() {
    for format in ["JSON", "Text"] {
        let Fakes { api, ivs, sink } = Fakes::start(EmulatorOptions::default()).await;
        let function = FunctionProcess::start(
            &api,
            &ivs,
            &[
                ("AWS_LAMBDA_LOG_FORMAT", format),
                ("CFN_IVS_METRICS_NAMESPACE", "Test/Emf"),
            ],
        );
        api.enqueue(invocation("inv-1", create(&sink, "req-1", properties())));
        let foreign = "arn:aws:ivs:us-east-1:999999999999:recording-configuration/AbCd";
        let update = update(&sink, "req-2", foreign, properties(), properties());
        api.enqueue(invocation("inv-2", update));
        let puts = sink.wait_for(2, Duration::from_secs(20)).await;
        assert_eq!(puts.len(), 2);
        let update = puts[1].json();
        assert_eq!(update["Status"], "FAILED");
        assert!(
            update["Reason"]
                .as_str()
                .unwrap()
                .contains("its account is 999999999999"),
            "{update}"
        );
        api.wait_for_results(2, Duration::from_secs(5)).await;
        let logs = function.logs();
        let records: Vec<Value> = logs
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect();
        assert_eq!(records.len(), 2, "{format}: {logs}");
        for record in &records {
            let directive = &record["_aws"]["CloudWatchMetrics"][0];
            assert!(record["_aws"]["Timestamp"].is_u64(), "{record}");
            assert_eq!(directive["Namespace"], "Test/Emf");
            assert_eq!(
                directive["Dimensions"],
                json!([["RequestType", "Outcome"], ["Outcome"]])
            );
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(record[name].is_number(), "{name}: {record}");
            }
            let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
            assert!(
                !record.to_string().contains("arn:aws:ivs"),
                "no ARN in a metrics record: {record}"
            );
            assert!(keys.len() <= 9, "{keys:?}");
        }
        assert_eq!(records[0]["RequestType"], "Create");
        assert_eq!(records[0]["Outcome"], "SUCCESS");
        assert!(records[0]["TimeToActive"].is_number(), "{}", records[0]);
        assert!(records[0]["IvsCalls"].as_u64().unwrap() >= 3);
        assert_eq!(records[0]["DeliveryAttempts"], 1);
        assert_eq!(records[1]["RequestType"], "Update");
        assert_eq!(records[1]["Outcome"], "FAILED");
        assert_eq!(records[1]["IvsCalls"], 0, "a foreign ARN reached IVS");
    }
}

/// `sam local invoke` as far as it runs without Docker: `cfn-ivs-local serve` as the README
/// starts it for SAM (naming the host `host.docker.internal`), and the built binary with the
/// environment SAM would give it (`AWS_SAM_LOCAL=true` and `events/sam-local-env.json`, with
/// the host mapped to this machine) on `events/local/sam-create.json`. Its ResponseURL is plain
/// http to a host the function does not take for loopback, as `host.docker.internal` is inside
/// SAM's container: here `[::ffff:127.0.0.1]`, which still leads only to this machine. Without
/// `AWS_SAM_LOCAL` the same event is refused before any IVS call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_sam_local_the_binary_answers_the_serve_capture_through_another_host() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(path)).unwrap()).unwrap()
    };
    let env_file = read("events/sam-local-env.json");
    let sam_event = read("events/local/sam-create.json");
    let mut serve = Serve::start(&[
        "--listen",
        "127.0.0.1:0",
        "--host-address",
        "host.docker.internal",
    ]);
    let ivs_endpoint = serve.var("AWS_ENDPOINT_URL_IVS");
    let capture = serve.var("RESPONSE_URL_BASE");
    assert!(
        ivs_endpoint.starts_with("http://host.docker.internal:"),
        "{ivs_endpoint}"
    );
    let on_this_machine = |url: &str, host: &str| url.replacen("host.docker.internal", host, 1);
    for sam_local in [true, false] {
        let api = RuntimeApi::start().await.unwrap();
        let mut env: Vec<(String, String)> = env_file["Function"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().unwrap();
                let v = v.replace("http://host.docker.internal:9100", &ivs_endpoint);
                (k.clone(), on_this_machine(&v, "127.0.0.1"))
            })
            .collect();
        if sam_local {
            env.push(("AWS_SAM_LOCAL".into(), "true".into()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let function =
            FunctionProcess::start_at(&api, &on_this_machine(&ivs_endpoint, "127.0.0.1"), &env);
        let mut event = sam_event.clone();
        let url = event["ResponseURL"].as_str().unwrap().to_string();
        let path = url
            .strip_prefix("http://host.docker.internal:9101/")
            .expect("the event answers to the serve capture through Docker's host name");
        event["ResponseURL"] = json!(format!(
            "{}{path}",
            on_this_machine(&capture, "[::ffff:127.0.0.1]")
        ));
        api.enqueue(invocation("inv-sam", event));
        let results = api.wait_for_results(1, Duration::from_secs(20)).await;
        let logs = function.logs();
        if sam_local {
            let answer = serve.next_answer(Duration::from_secs(10));
            assert_eq!(answer["Status"], "SUCCESS", "{answer}\n{results:?}\n{logs}");
            assert!(answer["PhysicalResourceId"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:ivs:us-east-1:123456789012:recording-configuration/"));
            assert!(logs.contains("plain http"), "{logs}");
        } else {
            match &results[0].0 {
                InvocationResult::Error { body, .. } => assert_eq!(
                    serde_json::from_str::<Value>(body).unwrap()["errorType"],
                    "InvalidResponseURL"
                ),
                other => panic!("expected the runtime error, got {other:?}"),
            }
            assert!(!logs.contains("CreateRecordingConfiguration"), "{logs}");
        }
    }
    assert_eq!(serve.answers_so_far(), 1, "the refused event was answered");
}

/// `cfn-ivs-local serve` as a process: the environment it prints and the answers it captures.
struct Serve {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    vars: Vec<(String, String)>,
    answers: usize,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(serve_binary())
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cfn-ivs-local serve starts");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut serve = Serve {
            child,
            lines,
            vars: Vec::new(),
            answers: 0,
        };
        while !serve.vars.iter().any(|(k, _)| k == "RESPONSE_URL_BASE") {
            let line = serve
                .lines
                .recv_timeout(Duration::from_secs(20))
                .expect("serve prints its environment");
            let (k, v) = line.split_once('=').expect("NAME=value");
            serve.vars.push((k.to_string(), v.to_string()));
        }
        serve
    }

    fn var(&self, name: &str) -> String {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("serve printed no {name}"))
    }

    /// The next answer serve printed, as pretty JSON over several lines.
    fn next_answer(&mut self, timeout: Duration) -> Value {
        let mut text = String::new();
        loop {
            let line = self
                .lines
                .recv_timeout(timeout)
                .unwrap_or_else(|_| panic!("serve printed no whole answer: {text}"));
            text.push_str(&line);
            text.push('\n');
            if let Ok(answer) = serde_json::from_str::<Value>(&text) {
                self.answers += 1;
                return answer;
            }
        }
    }

    /// Answers printed so far, waiting briefly for any still coming.
    fn answers_so_far(&mut self) -> usize {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            if line == "}" {
                self.answers += 1;
            }
        }
        self.answers
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `cfn-ivs-local` binary beside the function's: `cargo test` at the workspace's root
/// builds it for its own tests; a test run of this package alone builds it here.
fn serve_binary() -> std::path::PathBuf {
    let function = std::path::Path::new(env!("CARGO_BIN_EXE_cfn-ivs-recording"));
    let serve = function.with_file_name("cfn-ivs-local");
    if !serve.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--bin", "cfn-ivs-local"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --bin cfn-ivs-local failed");
    }
    serve
}

/// CloudFormation that cannot be asked whether it still waits (unreachable, denied, a
/// hand-written event's stack it does not know): the Create answers as before, in time, and the
/// function warns once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudformation_that_cannot_be_asked_is_warned_about_once_and_the_create_succeeds() {
    let unreachable = "http://127.0.0.1:9";
    for case in ["unreachable", "AccessDenied", "unknown stack"] {
        let Fakes { api, ivs, sink } = Fakes::start(EmulatorOptions::default()).await;
        let mut env = vec![("AWS_LAMBDA_LOG_FORMAT", "JSON")];
        match case {
            "unreachable" => env.push(("AWS_ENDPOINT_URL_CLOUDFORMATION", unreachable)),
            "AccessDenied" => ivs.inject(Fault::always(
                Operation::DescribeStackResource,
                FaultKind::ServiceError {
                    code: "AccessDenied".into(),
                    message:
                        "User is not authorized to perform: cloudformation:DescribeStackResource"
                            .into(),
                },
            )),
            _ => {}
        }
        let function = FunctionProcess::start(&api, &ivs, &env);
        let started = std::time::Instant::now();
        api.enqueue(invocation("inv-1", create(&sink, "req-1", properties())));
        let puts = sink.wait_for(1, Duration::from_secs(20)).await;
        assert_eq!(puts.len(), 1, "{case}: no answer");
        assert_eq!(
            puts[0].json()["Status"],
            "SUCCESS",
            "{case}: {}",
            puts[0].body
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{case}");
        api.wait_for_results(1, Duration::from_secs(5)).await;
        let logs = function.logs();
        let warnings: Vec<Value> = json_log_lines(&logs)
            .into_iter()
            .filter(|l| l["level"] == "WARN" && l.to_string().contains("CloudFormation"))
            .collect();
        assert_eq!(warnings.len(), 1, "{case}: {logs}");
        if case != "unknown stack" {
            assert_eq!(ivs.configurations().len(), 1, "{case}");
        }
    }
}

/// Values from the event are anybody's: in Lambda's text log format a line break in one must
/// not start a forged log line or a forged EMF record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_values_cannot_forge_log_lines_or_metrics_in_the_text_format() {
    let Fakes { api, ivs, sink } = Fakes::start(EmulatorOptions::default()).await;
    let function = FunctionProcess::start(
        &api,
        &ivs,
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "Text"),
            ("CFN_IVS_METRICS_NAMESPACE", "Test/Forgery"),
        ],
    );
    let forged_record = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Test/Forgery","Dimensions":[["Outcome"]],"Metrics":[{"Name":"Forged"}]}]},"Outcome":"SUCCESS","Forged":1}"#;
    let mut create = create(&sink, "req-1", properties());
    create["RequestId"] = json!(format!("req-1\n{forged_record}\nERROR forged line"));
    create["LogicalResourceId"] = json!(format!("Recording\r\n{forged_record}"));
    let mut delete = delete(&sink, "req-2", &format!("made-up\n{forged_record}"));
    delete["LogicalResourceId"] = json!("Recording\u{2028}ERROR forged line");
    api.enqueue(invocation("inv-1", create));
    api.enqueue(invocation("inv-2", delete));
    let puts = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(puts.len(), 2);
    api.wait_for_results(2, Duration::from_secs(5)).await;
    let logs = function.logs();
    assert!(
        logs.contains("req-1\\n{"),
        "the value is logged, escaped: {logs}"
    );
    for line in logs.lines() {
        assert!(
            !line.starts_with("{\"_aws\":{\"Timestamp\":1,"),
            "forged record: {line}"
        );
        assert!(!line.starts_with("ERROR forged"), "forged line: {line}");
        assert!(!line.contains('\u{2028}'), "{line}");
    }
    let records: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(records.len(), 2, "{logs}");
    assert!(
        records.iter().all(|r| r.get("Forged").is_none()),
        "{records:?}"
    );
}

/// The template declares the endpoint variables empty: empty means unset, so the SDK takes the
/// next source of its chain (here `AWS_ENDPOINT_URL`; deployed, its own endpoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_endpoint_variables_are_passed_over() {
    let Fakes { api, ivs, sink } = Fakes::start(EmulatorOptions::default()).await;
    let endpoint = ivs.endpoint_url();
    let _function = FunctionProcess::start(
        &api,
        &ivs,
        &[
            ("AWS_ENDPOINT_URL_IVS", ""),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", ""),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    );
    api.enqueue(invocation("inv-1", create(&sink, "req-1", properties())));
    let puts = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].json()["Status"], "SUCCESS", "{}", puts[0].body);
    assert_eq!(ivs.configurations().len(), 1);
    assert_eq!(ivs.count(Operation::DescribeStackResource), 1);
}

/// Under `sam local invoke`, a ResponseURL whose host does not resolve in the container (as
/// `host.docker.internal` under Docker Engine on Linux) ends the invocation within seconds,
/// with the hint, instead of retrying until the deadline. The host here is refused by the
/// resolver itself (a label over 63 characters), so no lookup leaves this machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_sam_local_an_unresolvable_response_url_host_fails_fast_with_the_hint() {
    let Fakes { api, ivs, sink } = Fakes::start(EmulatorOptions::default()).await;
    let function = FunctionProcess::start(
        &api,
        &ivs,
        &[("AWS_SAM_LOCAL", "true"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    );
    let mut delete = delete(&sink, "req-1", "demo-Recording-failed-create-req-0");
    let unresolvable = format!("{}.docker.internal", "a".repeat(64));
    delete["ResponseURL"] = json!(format!("http://{unresolvable}:9101/demo/req-1?sig=1"));
    let enqueued = std::time::Instant::now();
    api.enqueue(invocation("inv-1", delete));
    let results = api.wait_for_results(1, Duration::from_secs(20)).await;
    let took = enqueued.elapsed();
    let logs = function.logs();
    match &results[0].0 {
        InvocationResult::Error { body, .. } => {
            let error: Value = serde_json::from_str(body).unwrap();
            assert_eq!(error["errorType"], "AnswerNotDelivered", "{body}");
            assert!(
                error["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("does not resolve"),
                "{body}"
            );
        }
        other => panic!("expected the runtime error, got {other:?}"),
    }
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} of a 30 s deadline"
    );
    assert!(
        logs.contains("--add-host host.docker.internal:host-gateway"),
        "{logs}"
    );
    assert!(sink.received().is_empty());
}
