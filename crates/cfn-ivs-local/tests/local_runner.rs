//! The local runner as a user runs it (`cfn-ivs-local events/...`): the README's first command,
//! the lifecycle run that carries the PhysicalResourceId from one event to the next, the failure
//! events, and the emulator options.

use serde_json::Value;
use std::process::Command;

struct Run {
    answers: Vec<Value>,
    stderr: String,
    success: bool,
}

fn run(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_cfn-ivs-local"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env_remove("AWS_LAMBDA_LOG_FORMAT")
        .output()
        .expect("cfn-ivs-local runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let answers = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("stdout holds only JSON answers ({e}):\n{stdout}"));
    Run {
        answers,
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        success: output.status.success(),
    }
}

fn reason(answer: &Value) -> &str {
    answer["Reason"].as_str().unwrap_or_default()
}

#[test]
fn the_readme_command_prints_a_success_with_an_arn() {
    let r = run(&["events/create.json"]);
    assert!(r.success, "{}", r.stderr);
    let [answer] = &r.answers[..] else {
        panic!("one answer expected: {:?}", r.answers)
    };
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let arn = answer["PhysicalResourceId"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:ivs:us-east-1:123456789012:recording-configuration/"),
        "{arn}"
    );
    assert_eq!(answer["Data"]["Name"], "demo-recording");
    assert_eq!(answer["Data"]["State"], "ACTIVE");
    // The steps go to stderr, as the handler logs them.
    for step in ["received", "created", "answering", "answer delivered"] {
        assert!(
            r.stderr.contains(step),
            "no {step:?} step in stderr:\n{}",
            r.stderr
        );
    }
    assert!(!r.stderr.contains("X-Amz-Signature"), "{}", r.stderr);
}

#[test]
fn a_lifecycle_run_carries_the_physical_id_from_answer_to_answer() {
    let r = run(&[
        "events/create.json",
        "events/update-tags.json",
        "events/update.json",
        "events/delete.json",
    ]);
    assert!(r.success, "{}", r.stderr);
    let statuses: Vec<&Value> = r.answers.iter().map(|a| &a["Status"]).collect();
    assert_eq!(statuses, ["SUCCESS"; 4], "{:?}", r.answers);
    let id = |i: usize| r.answers[i]["PhysicalResourceId"].as_str().unwrap();
    assert_eq!(id(0), id(1), "tags change in place");
    assert_ne!(id(1), id(2), "a create-only change replaces");
    assert_eq!(id(2), id(3), "Delete gets the previous answer's id");
    assert!(
        reason(&r.answers[1]).contains("in place"),
        "{}",
        reason(&r.answers[1])
    );
    assert!(
        reason(&r.answers[3]).starts_with("Deleted"),
        "{}",
        reason(&r.answers[3])
    );
}

#[test]
fn the_failure_events_print_failed_with_their_reasons() {
    let r = run(&[
        "events/create-invalid.json",
        "events/create-bad-interval.json",
    ]);
    assert!(r.success, "{}", r.stderr);
    assert_eq!(r.answers.len(), 2);
    for answer in &r.answers {
        assert_eq!(answer["Status"], "FAILED", "{answer}");
        assert!(!answer["PhysicalResourceId"].as_str().unwrap().is_empty());
    }
    assert!(
        reason(&r.answers[0]).contains("did you mean RecordingReconnectWindowSeconds?"),
        "{}",
        reason(&r.answers[0])
    );
    assert!(
        reason(&r.answers[1])
            .contains("TargetIntervalSeconds is allowed only with RecordingMode INTERVAL"),
        "{}",
        reason(&r.answers[1])
    );
}

#[test]
fn emulator_options_rehearse_create_failed_and_injected_errors() {
    let r = run(&["--create-failed", "events/create.json"]);
    assert_eq!(r.answers[0]["Status"], "FAILED");
    assert!(
        reason(&r.answers[0]).contains("CREATE_FAILED"),
        "{}",
        reason(&r.answers[0])
    );
    assert!(reason(&r.answers[0]).contains("cfn-ivs-recording-demo is not in us-east-1"));

    let r = run(&[
        "--fail",
        "CreateRecordingConfiguration=ServiceQuotaExceededException",
        "events/create.json",
    ]);
    assert_eq!(r.answers[0]["Status"], "FAILED");
    assert!(
        reason(&r.answers[0]).contains("ServiceQuotaExceededException"),
        "{}",
        reason(&r.answers[0])
    );
}

#[test]
fn slow_stabilization_succeeds_and_a_stuck_one_times_out() {
    let r = run(&["--stabilize-after", "0.5", "events/create.json"]);
    assert_eq!(r.answers[0]["Status"], "SUCCESS", "{}", r.stderr);

    let r = run(&[
        "--creating-forever",
        "--timeout",
        "6.5",
        "events/create.json",
    ]);
    assert_eq!(r.answers[0]["Status"], "FAILED");
    assert!(
        reason(&r.answers[0]).starts_with("timed out waiting for recording configuration"),
        "{}",
        reason(&r.answers[0])
    );
}

#[test]
fn usage_errors_exit_2_and_a_first_event_asking_for_a_previous_id_fails() {
    let status = Command::new(env!("CARGO_BIN_EXE_cfn-ivs-local"))
        .arg("--bogus")
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(2));
    let r = run(&["events/delete.json"]);
    assert!(!r.success);
    assert!(
        r.stderr
            .contains("asks for the PhysicalResourceId of a previous answer"),
        "{}",
        r.stderr
    );
}

#[test]
fn channel_on_delete_makes_the_delete_meet_a_channel_and_name_it() {
    let r = run(&[
        "--channel-on-delete",
        "--timeout",
        "12",
        "events/create.json",
        "events/delete.json",
    ]);
    assert!(r.success, "{}", r.stderr);
    assert_eq!(r.answers[0]["Status"], "SUCCESS");
    assert_eq!(r.answers[1]["Status"], "FAILED");
    let reason = reason(&r.answers[1]);
    assert!(reason.contains("ConflictException"), "{reason}");
    assert!(reason.contains("cfn-ivs-local-channel"), "{reason}");
}
