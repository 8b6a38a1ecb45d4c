//! CloudFormation giving up on a resource mid-create: it marks the resource CREATE_FAILED,
//! sends a Delete with a PhysicalResourceId it made up while the Create still runs (on another
//! Lambda instance), and ignores the Create's answer. Whichever comes first, nothing is left.
//! The emulator answers DescribeStackResource with the statuses CloudFormation would show.

use crate::util::*;
use cfn_ivs_recording::handler::{Delivered, HandlerError};
use ivs_emulator::{EmulatorOptions, Fault, FaultKind, Operation, Stabilization, StackResource};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The shape of a PhysicalResourceId CloudFormation makes up.
const MADE_UP_ID: &str = "demo-Recording-1A2B3C4D5E6F7";
const LOGICAL_ID: &str = "Recording";

/// What CloudFormation shows of the resource.
fn show(h: &Harness, status: &str, physical_id: Option<&str>) {
    h.emulator
        .put_stack_resource(
            STACK_ID,
            LOGICAL_ID,
            StackResource {
                status: status.into(),
                physical_resource_id: physical_id.map(str::to_string),
                resource_type: "Custom::IvsRecordingConfiguration".into(),
            },
        )
        .unwrap();
}

/// The answer CloudFormation received for `request_id`.
fn answer_to(h: &Harness, request_id: &str) -> Value {
    let puts: Vec<_> = h
        .sink
        .received()
        .into_iter()
        .filter(|p| p.path.ends_with(&format!("/{request_id}")))
        .collect();
    assert_eq!(puts.len(), 1, "one answer to {request_id}: {puts:?}");
    puts[0].json()
}

/// The made-up Delete, on a handler of its own (another Lambda instance), `after` the create
/// started; `then` runs once it has answered.
async fn cancel_after(
    h: &Harness,
    after: Duration,
    then: impl FnOnce(),
) -> Result<Delivered, HandlerError> {
    tokio::time::sleep(after).await;
    show(h, "CREATE_FAILED", Some(MADE_UP_ID));
    let other_instance = handler_for(&h.emulator, fast_config());
    let delivered = other_instance
        .handle(
            delete(h, "req-delete", MADE_UP_ID),
            SystemTime::now() + Duration::from_secs(20),
        )
        .await;
    then();
    delivered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_delete_during_the_create_deletes_its_configuration() {
    let h = Harness::with(
        Stabilization::ActiveAfter(Duration::from_secs(3)),
        fast_config(),
    )
    .await;
    show(&h, "CREATE_IN_PROGRESS", None);
    let (created, deleted) = tokio::join!(
        h.run(
            create(&h, "req-create", properties()),
            Duration::from_secs(20)
        ),
        cancel_after(&h, Duration::from_secs(1), || {}),
    );
    created.expect("the create's answer delivered");
    deleted.expect("the delete's answer delivered");
    let delete = answer_to(&h, "req-delete");
    assert_eq!(delete["Status"], "SUCCESS", "{delete}");
    assert_eq!(delete["PhysicalResourceId"], MADE_UP_ID);
    let reason = delete["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("CloudFormation cancelled the create; deleted arn:aws:ivs:"),
        "{reason}"
    );
    let create = answer_to(&h, "req-create");
    assert_eq!(create["Status"], "FAILED", "{create}");
    assert!(
        h.configurations().is_empty(),
        "left behind: {:?}",
        h.configurations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_delete_before_the_create_call_is_caught_by_asking_cloudformation() {
    let h = Harness::start().await;
    show(&h, "CREATE_IN_PROGRESS", None);
    // The Create's first List is held, so the Delete finds nothing yet.
    h.emulator.inject(Fault::once(
        Operation::ListRecordingConfigurations,
        FaultKind::Hang(Duration::from_secs(2)),
    ));
    let (created, deleted) = tokio::join!(
        h.run(
            create(&h, "req-create", properties()),
            Duration::from_secs(20)
        ),
        cancel_after(&h, Duration::from_millis(300), || {
            show(&h, "DELETE_COMPLETE", Some(MADE_UP_ID))
        }),
    );
    created.expect("the create's answer delivered");
    deleted.expect("the delete's answer delivered");
    let delete = answer_to(&h, "req-delete");
    assert_eq!(delete["Status"], "SUCCESS", "{delete}");
    assert!(
        delete["Reason"]
            .as_str()
            .unwrap()
            .contains("no recording configuration of 7d3e9a10-0000-11ef-9f0a-0a1b2c3d4e5f/Recording was found"),
        "{delete}"
    );
    let create = answer_to(&h, "req-create");
    assert_eq!(create["Status"], "FAILED", "{create}");
    let reason = create["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("CloudFormation stopped waiting for this resource (it shows DELETE_COMPLETE with PhysicalResourceId {MADE_UP_ID}"))
            && reason.ends_with("It was deleted; nothing is left behind"),
        "{reason}"
    );
    assert_eq!(h.emulator.count(Operation::CreateRecordingConfiguration), 1);
    assert!(h.configurations().is_empty());
}

/// A lifecycle, with CloudFormation showing each request in progress or unable to say.
async fn lifecycle(cloudformation_knows_the_stack: bool) -> (Harness, Vec<Value>) {
    // Counted calls: no quotas, whose throttling would add retries by chance of timing.
    let options = EmulatorOptions {
        quotas: None,
        ..EmulatorOptions::default()
    };
    let h = Harness::with_options(options, fast_config()).await;
    let shown = |status: &str| {
        if cloudformation_knows_the_stack {
            show(&h, status, None);
        }
    };
    shown("CREATE_IN_PROGRESS");
    let mut answers = vec![h.answer(create(&h, "req-1", properties())).await];
    let arn = answers[0]["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_string();
    shown("UPDATE_IN_PROGRESS");
    let mut retagged = properties();
    retagged["Tags"] = serde_json::json!([{"Key": "team", "Value": "live"}]);
    answers.push(
        h.answer(update(&h, "req-2", &arn, properties(), retagged.clone()))
            .await,
    );
    let mut renamed = retagged.clone();
    renamed["Name"] = serde_json::json!("renamed");
    answers.push(h.answer(update(&h, "req-3", &arn, retagged, renamed)).await);
    shown("DELETE_IN_PROGRESS");
    answers.push(h.answer(delete(&h, "req-4", &arn)).await);
    let new_arn = answers[2]["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_string();
    answers.push(h.answer(delete(&h, "req-5", &new_arn)).await);
    (h, answers)
}

#[tokio::test]
async fn asking_cloudformation_changes_nothing_while_it_waits_and_costs_one_call_per_new_configuration(
) {
    let (asked, answers) = lifecycle(true).await;
    let (unknown, unknown_answers) = lifecycle(false).await;
    let statuses =
        |answers: &[Value]| -> Vec<Value> { answers.iter().map(|a| a["Status"].clone()).collect() };
    assert_eq!(statuses(&answers), vec!["SUCCESS"; 5], "{answers:?}");
    assert_eq!(statuses(&unknown_answers), vec!["SUCCESS"; 5]);
    assert!(asked.configurations().is_empty());
    // One DescribeStackResource for the Create and one for the replacing Update; none for the
    // tags-only Update and the Deletes.
    assert_eq!(asked.emulator.count(Operation::DescribeStackResource), 2);
    assert_eq!(unknown.emulator.count(Operation::DescribeStackResource), 2);
    for op in [
        Operation::CreateRecordingConfiguration,
        Operation::ListRecordingConfigurations,
        Operation::DeleteRecordingConfiguration,
        Operation::TagResource,
        Operation::UntagResource,
        Operation::ListTagsForResource,
    ] {
        assert_eq!(
            asked.emulator.count(op),
            unknown.emulator.count(op),
            "{op:?}"
        );
    }
}
