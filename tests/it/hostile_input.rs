//! Hostile and broken events through the real handler (emulated IVS, capturing ResponseURL):
//! huge values, huge tag lists, deep nesting, ResponseURLs that must not be used, identity fields
//! at their limits. Each must get a clear answer (or, when the answer cannot be sent, an error
//! with nothing sent anywhere), nothing may reach IVS, and memory must stay bounded. Also what
//! the function process logs, in text and JSON, at INFO and DEBUG (TRACE is compiled out).

use crate::util::*;
use cfn_ivs_recording::answer::send::SendError;
use cfn_ivs_recording::answer::MAX_BODY;
use cfn_ivs_recording::event::{MAX_LOGICAL_ID, MAX_REQUEST_ID, MAX_STACK_ID};
use cfn_ivs_recording::handler::HandlerError;
use ivs_emulator::{EmulatorOptions, IvsEmulator};
use lambda_fakes::{InvocationResult, ResponseSink, RuntimeApi};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The memory checks read this process's peak resident size, so the tests of this file run one
/// at a time (the ones that start processes too: measurements taken while another test spawned
/// a process came out tens of MiB higher).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Growth of peak memory a single hostile event may cause.
const MEMORY_BUDGET_KIB: u64 = 64 * 1024;

const MB: usize = 1024 * 1024;

/// Parses event text as the Lambda runtime does (`serde_json`, recursion limit included).
fn as_runtime_parses(event: &Value) -> Value {
    let text = serde_json::to_string(event).unwrap();
    serde_json::from_str(&text).expect("the runtime parses the event")
}

/// Runs a hostile Create whose properties must be refused; checks the answer, that IVS saw
/// nothing and that memory stayed within budget. Returns the answer's Reason and how long the
/// handler took.
async fn refused_in(h: &Harness, request_id: &str, props: Value) -> (String, Duration) {
    let event = as_runtime_parses(&create(h, request_id, props));
    let base = reset_peak_memory();
    let started = Instant::now();
    let answer = h.answer(event).await;
    let took = started.elapsed();
    let growth = peak_memory_kib().saturating_sub(base);

    let put = h.last_put();
    assert!(
        put.body.len() <= MAX_BODY,
        "answer of {} bytes",
        put.body.len()
    );
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert_eq!(answer["RequestId"], request_id);
    assert!(
        answer["PhysicalResourceId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{answer}"
    );
    let reason = answer["Reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("Invalid properties: "), "{reason}");
    assert!(
        h.emulator.requests().is_empty(),
        "IVS was called for invalid properties: {:?}",
        h.emulator
            .requests()
            .iter()
            .map(|r| r.operation)
            .collect::<Vec<_>>()
    );
    assert!(
        growth < MEMORY_BUDGET_KIB,
        "peak memory grew by {growth} KiB handling {request_id}"
    );
    eprintln!("{request_id}: answered in {took:?}, peak memory grew by {growth} KiB");
    (reason, took)
}

/// [`refused_in`], answered within seconds.
async fn refused(h: &Harness, request_id: &str, props: Value) -> String {
    let (reason, took) = refused_in(h, request_id, props).await;
    assert!(took < Duration::from_secs(5), "{request_id} took {took:?}");
    reason
}

#[tokio::test]
async fn a_one_megabyte_name_is_refused_naming_it() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    let mut props = properties();
    props["Name"] = json!("n".repeat(MB));
    let reason = refused(&h, "req-big-name", props).await;
    assert_eq!(
        reason,
        format!("Invalid properties: Name must be 0 to 128 characters long, got {MB}")
    );
}

#[tokio::test]
async fn one_megabyte_values_elsewhere_are_refused_naming_the_field() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;

    let mut props = properties();
    props["DestinationConfiguration"]["S3"]["BucketName"] = json!("b".repeat(MB));
    let reason = refused(&h, "req-big-bucket", props).await;
    assert!(
        reason.starts_with("Invalid properties: DestinationConfiguration.S3.BucketName must be 3 to 63 characters long"),
        "{reason}"
    );

    let mut props = properties();
    props["RecordingReconnectWindowSeconds"] = json!("9".repeat(MB));
    let reason = refused(&h, "req-big-number", props).await;
    assert!(
        reason.starts_with(
            "Invalid properties: RecordingReconnectWindowSeconds must be a whole number"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("got \"9999") && reason.contains('…') && reason.len() < 300,
        "the value is quoted by its start only: {} bytes",
        reason.len()
    );

    // A 1 MB tag key, in the map form of Tags.
    let mut props = properties();
    props["Tags"] = json!({"k".repeat(MB): "v"});
    let reason = refused(&h, "req-big-tag", props).await;
    assert_eq!(
        reason,
        format!("Invalid properties: Tags key must be 1 to 128 characters long, got {MB}")
    );
}

/// The refusal of an unknown name suggests the nearest known one, comparing the name with each
/// of them: that must cost time in proportion to the name's length, not its square. (It costs
/// about 8 µs per byte in a debug build, 6 to 9 s for a 1 MB name; 256 KB keeps this test short.)
#[tokio::test]
async fn a_long_unknown_property_name_is_refused_in_linear_time() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    let mut took = Vec::new();
    for (request_id, bytes) in [("req-key-32k", MB / 32), ("req-key-256k", MB / 4)] {
        let mut props = properties();
        let key = "Recording".repeat(bytes / "Recording".len());
        props[key.as_str()] = json!("x");
        let (reason, time) = refused_in(&h, request_id, props).await;
        assert!(
            reason.starts_with("Invalid properties: RecordingRecording"),
            "{}",
            &reason[..80]
        );
        assert!(
            reason.contains("…") && reason.len() < 300,
            "the name is quoted by its start only: {} bytes",
            reason.len()
        );
        took.push(time);
    }
    let ratio = took[1].as_secs_f64() / took[0].as_secs_f64().max(1e-3);
    assert!(
        ratio < 24.0,
        "8 times the name, {ratio:.1} times the time: {took:?}"
    );
    assert!(took[1] < Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn ten_thousand_tags_are_refused_as_too_many() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    let list: Vec<Value> = (0..10_000)
        .map(|i| json!({"Key": format!("key-{i}"), "Value": format!("value-{i}")}))
        .collect();
    let map: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (format!("key-{i}"), json!(format!("value-{i}"))))
        .collect();
    for (request_id, tags) in [
        ("req-tag-list", json!(list)),
        ("req-tag-map", Value::Object(map)),
    ] {
        let mut props = properties();
        props["Tags"] = tags;
        let reason = refused(&h, request_id, props).await;
        assert!(
            reason.starts_with("Invalid properties: Tags may hold at most 49 tags")
                && reason.ends_with("got 10000"),
            "{reason}"
        );
    }
}

/// `depth` arrays nested in one another around a string.
fn nested_arrays(depth: usize) -> Value {
    let mut value = json!("innermost");
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

#[tokio::test]
async fn event_text_nested_deeper_than_the_runtime_parses_is_refused_by_the_parser() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    let event = create(&h, "req-deep-text", json!({"Name": "PLACEHOLDER"}));
    let text = serde_json::to_string(&event).unwrap();
    let deep = format!("{}\"x\"{}", "[".repeat(10_000), "]".repeat(10_000));
    let text = text.replace("\"PLACEHOLDER\"", &deep);

    // What the Lambda runtime does with the invocation's body: no Value, so no handler call.
    let error = serde_json::from_str::<Value>(&text).unwrap_err();
    assert!(
        error.to_string().starts_with("recursion limit exceeded"),
        "{error}"
    );

    // The deepest Name the runtime still lets through is answered like any other wrong type.
    let mut depth = 0;
    let mut deepest = None;
    for d in (100..=130).rev() {
        let text = serde_json::to_string(&event).unwrap().replace(
            "\"PLACEHOLDER\"",
            &format!("{}\"x\"{}", "[".repeat(d), "]".repeat(d)),
        );
        if let Ok(parsed) = serde_json::from_str::<Value>(&text) {
            (depth, deepest) = (d, Some(parsed));
            break;
        }
    }
    assert!(depth >= 120, "only {depth} levels parse");
    let mut props = deepest.unwrap()["ResourceProperties"].take();
    props["DestinationConfiguration"] = json!({"S3": {"BucketName": "demo-bucket"}});
    let reason = refused(&h, "req-deep-parsed", props).await;
    assert_eq!(reason, "Invalid properties: Name must be a string");
    assert_eq!(
        h.sink.received().len(),
        1,
        "only the parsed event was answered"
    );
}

/// Set in the child process that [`a_value_nested_ten_thousand_levels_deep_gets_a_failed_answer`]
/// runs the handler in: a stack overflow aborts the whole process, which must not take this
/// file's other tests with it.
const DEEP_CHILD: &str = "CFN_IVS_HOSTILE_DEEP_CHILD";
const DEEP_TEST: &str =
    "hostile_input::a_value_nested_ten_thousand_levels_deep_gets_a_failed_answer";

/// A `Value` built in memory (no parser's recursion limit applies) with a property 10,000 levels
/// deep, handed to the handler as Lambda would run it: on an 8 MiB main-thread stack, on a
/// current-thread runtime. It must answer FAILED naming the property, not crash.
#[test]
fn a_value_nested_ten_thousand_levels_deep_gets_a_failed_answer() {
    if std::env::var_os(DEEP_CHILD).is_some() {
        return deep_value_child();
    }
    let _serial = SERIAL.blocking_lock();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", DEEP_TEST, "--nocapture", "--test-threads=1"])
        .env(DEEP_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the process handling the event died ({}):\n{stderr}",
        output.status
    );
    let results: Vec<Value> = stdout
        .lines()
        .filter_map(|l| l.split_once("RESULT ").map(|(_, result)| result))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "{stdout}\n{stderr}");
    for result in results {
        let field = result["field"].as_str().unwrap();
        let answer = &result["answer"];
        assert_eq!(answer["Status"], "FAILED", "{answer}");
        let reason = answer["Reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!("Invalid properties: {field} must be")),
            "{reason}"
        );
        assert!(
            result["bytes"].as_u64().unwrap() <= MAX_BODY as u64,
            "{result}"
        );
        assert!(
            result["growth_kib"].as_u64().unwrap() < MEMORY_BUDGET_KIB,
            "{result}"
        );
        assert_eq!(result["ivs_requests"], 0, "{result}");
    }
}

fn deep_value_child() {
    let lambda_main_thread = std::thread::Builder::new().stack_size(8 * MB);
    let child = lambda_main_thread.spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let h = Harness::start().await;
            for (request_id, field) in [
                ("req-deep-name", "Name"),
                ("req-deep-window", "RecordingReconnectWindowSeconds"),
            ] {
                eprintln!("handling {request_id}: {field} nested 10,000 levels deep");
                let mut props = properties();
                props[field] = nested_arrays(10_000);
                // Moved in, not through `json!`: serializing a value recurses as deep as it is.
                let mut event = create(&h, request_id, json!({}));
                event["ResourceProperties"] = props;
                let base = reset_peak_memory();
                let answer = h.answer(event).await;
                let result = json!({
                    "field": field,
                    "answer": answer,
                    "bytes": h.last_put().body.len(),
                    "growth_kib": peak_memory_kib().saturating_sub(base),
                    "ivs_requests": h.emulator.requests().len(),
                });
                println!("RESULT {result}");
            }
        });
    });
    child.unwrap().join().unwrap();
}

/// ResponseURLs the function must not send to: plain http to a host that is not loopback (two
/// of them do reach this machine's sink, so a broken check would show as a received PUT), not
/// https at all, or not a URL.
fn forbidden_urls(h: &Harness) -> Vec<String> {
    let sink = h.response_url("req-url");
    let port = sink
        .split(':')
        .nth(2)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let path = format!("/demo/Recording/req-url?{SIGNATURE}");
    vec![
        format!("http://0.0.0.0:{port}{path}"),
        format!("http://127.1:{port}{path}"),
        format!("http://cfn-responses.example.com{path}"),
        format!("ftp://127.0.0.1:{port}{path}"),
        format!("127.0.0.1:{port}{path}"),
        format!("not a url {path}"),
    ]
}

#[tokio::test]
async fn a_forbidden_response_url_is_an_error_and_nothing_is_sent() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    for url in forbidden_urls(&h) {
        let mut event = create(&h, "req-url", properties());
        event["ResponseURL"] = json!(url);
        match h.run(event, Duration::from_secs(10)).await {
            Err(HandlerError::ResponseUrl(source)) => {
                assert!(
                    matches!(
                        source,
                        SendError::NotHttps { .. } | SendError::InvalidUrl(_)
                    ),
                    "{url}: {source}"
                );
                let message = HandlerError::ResponseUrl(source).to_string();
                assert!(message.contains("ResponseURL"), "{message}");
                assert!(!message.contains("SECRETSIGNATURE"), "{message}");
            }
            other => panic!("{url}: expected a refusal of the ResponseURL, got {other:?}"),
        }
    }
    assert!(h.sink.received().is_empty(), "{:?}", h.sink.received());
}

#[tokio::test]
async fn a_forbidden_response_url_is_refused_before_ivs_is_called() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    for url in forbidden_urls(&h) {
        let mut event = create(&h, "req-url", properties());
        event["ResponseURL"] = json!(url);
        let result = h.run(event, Duration::from_secs(10)).await;
        assert!(result.is_err(), "{url}");
    }
    // The answer can never be delivered, so whatever is created is never reported to
    // CloudFormation and never deleted by it.
    let operations: Vec<_> = h.emulator.requests().iter().map(|r| r.operation).collect();
    assert!(
        operations.is_empty() && h.configurations().is_empty(),
        "IVS was called although no answer could be sent: {operations:?}; left behind: {:?}",
        h.configurations()
            .iter()
            .map(|c| &c.arn)
            .collect::<Vec<_>>()
    );
}

/// The fields an answer echoes are limited by their length in JSON, where a control character
/// takes six bytes and a quote two: at those limits the answer fits, past them the event cannot
/// be answered within CloudFormation's 4096 bytes and is refused as malformed, before any work.
#[tokio::test]
async fn echoed_fields_are_limited_by_their_length_in_json() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    let mut event = create(&h, "req-1", json!({"Colour": "red"}));
    event["StackId"] = json!("\"".repeat(MAX_STACK_ID / 2));
    event["RequestId"] = json!("\u{1}".repeat(MAX_REQUEST_ID / 6));
    event["LogicalResourceId"] = json!("\\".repeat(MAX_LOGICAL_ID / 2));
    h.run(event, Duration::from_secs(10))
        .await
        .expect("answer delivered");
    let put = h.last_put();
    let answer = put.json();
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["StackId"], "\"".repeat(MAX_STACK_ID / 2));
    assert!(
        put.body.len() <= MAX_BODY,
        "the answer is {} bytes, more than CloudFormation's {MAX_BODY}",
        put.body.len()
    );

    let mut event = create(&h, "req-2", properties());
    event["StackId"] = json!("\"".repeat(MAX_STACK_ID));
    let result = h.run(event, Duration::from_secs(10)).await;
    assert!(matches!(result, Err(HandlerError::Event(_))), "{result:?}");
    assert!(h.emulator.requests().is_empty());
    assert_eq!(
        h.sink.received().len(),
        1,
        "only the first event was answered"
    );
}

// ---------------------------------------------------------------------------------------------
// The function process: an event nested too deeply for the runtime, and what it logs
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_refuses_an_event_nested_too_deeply_and_serves_the_next() {
    let _serial = SERIAL.lock().await;
    let api = RuntimeApi::start().await.unwrap();
    let ivs = IvsEmulator::start(EmulatorOptions::default())
        .await
        .unwrap();
    let sink = ResponseSink::start().await.unwrap();
    let _function = FunctionProcess::start(&api, &ivs, &[]);

    let mut deep = create(&sink, "req-deep", properties());
    deep["ResourceProperties"]["Name"] = nested_arrays(200);
    api.enqueue(invocation("inv-deep", deep));
    api.enqueue(invocation("inv-ok", create(&sink, "req-ok", properties())));

    let results = api.wait_for_results(2, Duration::from_secs(20)).await;
    match results.iter().map(|(r, _)| r).find(
        |r| matches!(r, InvocationResult::Error { request_id, .. } if request_id == "inv-deep"),
    ) {
        Some(InvocationResult::Error { body, .. }) => {
            assert!(body.contains("recursion limit exceeded"), "{body}");
        }
        other => {
            panic!("expected an invocation error for the deep event, got {other:?} in {results:?}")
        }
    }
    let puts = sink.wait_for(1, Duration::from_secs(10)).await;
    // CloudFormation hears nothing about the deep event (the runtime never called the
    // handler); the next event is served as usual.
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].json()["RequestId"], "req-ok");
    assert_eq!(puts[0].json()["Status"], "SUCCESS");
    assert_eq!(ivs.configurations().len(), 1);
}

/// Runs a Create, a refused Create and a Delete through the function process with the given log
/// settings and returns what it logged.
async fn logs_of_a_lifecycle(env: &[(&str, &str)]) -> String {
    let api = RuntimeApi::start().await.unwrap();
    let ivs = IvsEmulator::start(EmulatorOptions::default())
        .await
        .unwrap();
    let sink = ResponseSink::start().await.unwrap();
    let function = FunctionProcess::start(&api, &ivs, env);

    api.enqueue(invocation("inv-1", create(&sink, "req-1", properties())));
    let puts = sink.wait_for(1, Duration::from_secs(20)).await;
    let arn = puts
        .first()
        .and_then(|put| {
            put.json()["PhysicalResourceId"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_default();
    let mut invalid = properties();
    invalid["RecordingReconectWindowSeconds"] = invalid["RecordingReconnectWindowSeconds"].take();
    api.enqueue(invocation("inv-2", create(&sink, "req-2", invalid)));
    api.enqueue(invocation("inv-3", delete(&sink, "req-3", &arn)));
    let puts = sink.wait_for(3, Duration::from_secs(30)).await;
    let results = api.wait_for_results(3, Duration::from_secs(10)).await;
    let logs = function.logs();
    let tail: Vec<&str> = logs.lines().rev().take(30).collect();
    let statuses: Vec<Value> = puts.iter().map(|p| p.json()["Status"].clone()).collect();
    assert_eq!(
        statuses,
        [json!("SUCCESS"), json!("FAILED"), json!("SUCCESS")],
        "results: {results:?}\nlast log lines (newest first):\n{}",
        tail.join("\n")
    );
    logs
}

/// What no log line may hold, at INFO or DEBUG, in text or JSON.
fn assert_no_secrets(logs: &str) {
    assert_no_aws_secret(logs);
    for (what, needle) in [
        ("the ResponseURL's signature", "SECRETSIGNATURE"),
        ("the ResponseURL's query string", "X-Amz-Signature"),
        // The event as a whole: its own field names appear only if it is dumped.
        ("the event", "ResourceProperties"),
        ("the event", "ServiceToken"),
        // A property value: the event's content is not logged piecemeal either.
        ("the bucket name", "demo-bucket"),
    ] {
        let lines = lines_with(logs, needle);
        assert!(lines.is_empty(), "{what} was logged:\n{}", lines.join("\n"));
    }
}

/// The function's AWS credentials: the secret key and the session token never appear; the
/// access key id (not a secret) only where the SDK prints the credentials with the secret
/// redacted.
fn assert_no_aws_secret(logs: &str) {
    for (what, needle) in [
        ("the secret access key", PROCESS_SECRET_ACCESS_KEY),
        ("the session token", PROCESS_SESSION_TOKEN),
    ] {
        let lines = lines_with(logs, needle);
        assert!(lines.is_empty(), "{what} was logged:\n{}", lines.join("\n"));
    }
    for line in lines_with(logs, PROCESS_ACCESS_KEY_ID) {
        assert!(
            line.contains("secret_access_key: \"** redacted **\"")
                || line.contains(r#"secret_access_key: \"** redacted **\""#),
            "credentials logged unredacted: {line}"
        );
    }
}

fn lines_with<'a>(logs: &'a str, needle: &str) -> Vec<&'a str> {
    logs.lines().filter(|l| l.contains(needle)).collect()
}

/// How many text-format lines are at `level` (written right-aligned, e.g. " INFO", "DEBUG").
fn lines_at(logs: &str, level: &str) -> usize {
    logs.lines()
        .filter(|l| l.trim_start().starts_with(&format!("{level} ")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_at_info_hold_no_secret_and_no_property_values() {
    let _serial = SERIAL.lock().await;
    let logs = logs_of_a_lifecycle(&[("AWS_LAMBDA_LOG_LEVEL", "INFO")]).await;
    assert!(
        logs.lines().any(|l| l.contains("answer delivered")),
        "{logs}"
    );
    // In the text format, the only JSON lines are the metrics records (EMF), one an invocation.
    let json_lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    assert!(
        json_lines.len() == 3 && json_lines.iter().all(|l| l["_aws"].is_object()),
        "not the text format:\n{logs}"
    );
    assert_eq!(lines_at(&logs, "DEBUG"), 0, "{logs}");
    assert!(lines_at(&logs, "INFO") >= 10, "{logs}");
    assert_no_secrets(&logs);
    assert!(!logs.contains(PROCESS_ACCESS_KEY_ID), "{logs}");
    // No other property value either: the configuration's name, the tag value.
    for value in ["name=demo", "\"demo\"", "video"] {
        let lines = lines_with(&logs, value);
        assert!(
            lines.is_empty(),
            "{value} was logged:\n{}",
            lines.join("\n")
        );
    }
    // The refusal is logged, naming the property.
    assert!(
        lines_with(&logs, "answering")
            .iter()
            .any(|l| l.contains("RecordingReconectWindowSeconds is not a property")),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_at_debug_hold_no_secret() {
    let _serial = SERIAL.lock().await;
    let logs = logs_of_a_lifecycle(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).await;
    assert!(
        lines_at(&logs, "DEBUG") > 50,
        "DEBUG logs hardly anything:\n{logs}"
    );
    assert_no_secrets(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_at_debug_hold_no_secret() {
    let _serial = SERIAL.lock().await;
    let logs = logs_of_a_lifecycle(&[
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
    ])
    .await;
    let lines = json_log_lines(&logs);
    assert!(
        lines.iter().filter(|l| l["level"] == "DEBUG").count() > 50,
        "{logs}"
    );
    assert_no_secrets(&logs);
}

/// A refusal echoes the offending value (cut to fit the 4096-byte answer); the INFO line that
/// logs the Reason must be bounded too, or one event writes a megabyte of logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_refused_value_is_not_logged_whole() {
    let _serial = SERIAL.lock().await;
    let api = RuntimeApi::start().await.unwrap();
    let ivs = IvsEmulator::start(EmulatorOptions::default())
        .await
        .unwrap();
    let sink = ResponseSink::start().await.unwrap();
    let function = FunctionProcess::start(&api, &ivs, &[("AWS_LAMBDA_LOG_LEVEL", "INFO")]);
    let mut props = properties();
    props["RecordingReconnectWindowSeconds"] = json!("9".repeat(MB));
    api.enqueue(invocation("inv-1", create(&sink, "req-1", props)));
    let puts = sink.wait_for(1, Duration::from_secs(20)).await;
    let logs = function.logs();
    assert_eq!(puts.len(), 1, "{logs}");
    assert_eq!(puts[0].json()["Status"], "FAILED");
    assert!(puts[0].body.len() <= MAX_BODY);
    let longest = logs.lines().map(str::len).max().unwrap_or(0);
    let line = logs.lines().find(|l| l.len() == longest).unwrap_or("");
    assert!(
        longest <= 16 * 1024,
        "a log line of {longest} bytes: {}…",
        &line[..line.len().min(300)]
    );
}

/// At TRACE, lambda_runtime would log each event whole ("raw JSON event received from
/// Lambda"), the ResponseURL's signature included: TRACE is compiled out (tracing's
/// `max_level_debug`), so asking for it logs what DEBUG does and nothing secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_at_trace_are_debug_logs_and_hold_no_secret() {
    let _serial = SERIAL.lock().await;
    let logs = logs_of_a_lifecycle(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).await;
    assert_eq!(lines_at(&logs, "TRACE"), 0, "{logs}");
    assert!(lines_at(&logs, "DEBUG") > 50, "{logs}");
    assert!(
        lines_with(&logs, "raw JSON event").is_empty(),
        "the raw event was logged"
    );
    assert_no_secrets(&logs);
}
