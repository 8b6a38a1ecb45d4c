//! A real account's limits, imposed by the emulator, against the function's default timings:
//! IVS's rate quotas shared by many stacks at once, IAM permissions still propagating, and
//! reads that lag writes. Each handler has its own client, as each Lambda instance would.

use crate::util::*;
use cfn_ivs_recording::handler::{Handler, HandlerConfig};
use cfn_ivs_recording::ownership::MARKER_TAG;
use futures_util::future::join_all;
use ivs_emulator::{EmulatorOptions, IvsEmulator, Stabilization};
use lambda_fakes::ResponseSink;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Lambda's deadline as the template sets it (300 s): far more than any of these needs.
const LAMBDA_TIMEOUT: Duration = Duration::from_secs(300);

async fn answer(handler: &Arc<Handler>, sink: &ResponseSink, event: Value) -> Value {
    let delivered = handler
        .handle(event.clone(), SystemTime::now() + LAMBDA_TIMEOUT)
        .await
        .expect("answer delivered");
    let request_id = event["RequestId"].as_str().unwrap();
    let put = sink
        .received()
        .into_iter()
        .rev()
        .find(|p| p.path.contains(request_id))
        .expect("an answer at the request's ResponseURL");
    let answer = put.json();
    assert_eq!(answer["Status"], delivered.status);
    answer
}

#[tokio::test]
async fn ten_stacks_at_once_under_ivs_quotas_all_succeed_and_leave_nothing() {
    let ivs = IvsEmulator::start(EmulatorOptions {
        stabilization: Stabilization::ActiveAfter(Duration::from_secs(2)),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let sink = ResponseSink::start().await.unwrap();
    let handlers: Vec<_> = (0..10)
        .map(|_| handler_for(&ivs, HandlerConfig::default()))
        .collect();
    let started = Instant::now();
    let creates = handlers.iter().enumerate().map(|(i, h)| {
        let event = create(&sink, &format!("create-{i}"), properties());
        answer(h, &sink, event)
    });
    let created = join_all(creates).await;
    let arns: Vec<String> = created
        .iter()
        .map(|a| {
            assert_eq!(a["Status"], "SUCCESS", "{a}");
            a["PhysicalResourceId"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ivs.configurations().len(), 10);
    let mut distinct = arns.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{arns:?}");
    let deletes = handlers.iter().zip(&arns).enumerate().map(|(i, (h, arn))| {
        let event = delete(&sink, &format!("delete-{i}"), arn);
        answer(h, &sink, event)
    });
    for a in join_all(deletes).await {
        assert_eq!(a["Status"], "SUCCESS", "{a}");
    }
    assert!(ivs.configurations().is_empty());
    assert_eq!(
        ivs.count(ivs_emulator::Operation::CreateRecordingConfiguration)
            - count_throttled(&ivs, ivs_emulator::Operation::CreateRecordingConfiguration),
        10
    );
    assert!(
        ivs.throttled() > 0,
        "the quotas never bit: the storm proves nothing"
    );
    eprintln!(
        "storm: {:.1?}, {} IVS calls, {} throttled",
        started.elapsed(),
        ivs.requests().len(),
        ivs.throttled()
    );
}

#[tokio::test]
async fn access_denied_while_iam_propagates_is_waited_out() {
    let ivs = IvsEmulator::start(EmulatorOptions {
        access_denied_for: Duration::from_secs(4),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let sink = ResponseSink::start().await.unwrap();
    let h = handler_for(&ivs, HandlerConfig::default());
    let event = create(&sink, "create-iam", properties());
    let started = Instant::now();
    let a = answer(&h, &sink, event).await;
    assert_eq!(a["Status"], "SUCCESS", "{a}");
    assert!(started.elapsed() >= Duration::from_secs(4));
    assert_eq!(ivs.configurations().len(), 1);
}

#[tokio::test]
async fn a_configuration_invisible_for_two_seconds_is_kept() {
    let ivs = IvsEmulator::start(EmulatorOptions {
        stabilization: Stabilization::ActiveAfter(Duration::from_millis(500)),
        read_lag: Duration::from_secs(2),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let sink = ResponseSink::start().await.unwrap();
    let h = handler_for(&ivs, HandlerConfig::default());
    let event = create(&sink, "create-lag", properties());
    let a = answer(&h, &sink, event).await;
    assert_eq!(a["Status"], "SUCCESS", "{a}");
    let kept = ivs.configurations();
    assert_eq!(kept.len(), 1);
    assert_eq!(a["PhysicalResourceId"], kept[0].arn);
    assert_eq!(
        ivs.count(ivs_emulator::Operation::DeleteRecordingConfiguration),
        0
    );
}

/// A second delivery of the same Create while IVS's List does not show the first one's
/// configuration yet: it creates a second one, and the settle step keeps the oldest, so both
/// answer with the same ARN and one configuration is left.
#[tokio::test]
async fn a_redelivery_inside_the_read_lag_window_leaves_one_configuration() {
    let ivs = IvsEmulator::start(EmulatorOptions {
        stabilization: Stabilization::ActiveAfter(Duration::from_millis(300)),
        // Long enough that the second delivery's check before creating, 0.5 s in, falls in it
        // however busy the machine is.
        read_lag: Duration::from_secs(4),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let sink = ResponseSink::start().await.unwrap();
    let first = handler_for(&ivs, HandlerConfig::default());
    let second = handler_for(&ivs, HandlerConfig::default());
    let event = create(&sink, "create-twice", properties());
    let later = {
        let event = event.clone();
        let sink = &sink;
        let second = &second;
        async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            answer(second, sink, event).await
        }
    };
    let (a, b) = tokio::join!(answer(&first, &sink, event), later);
    assert_eq!(a["Status"], "SUCCESS", "{a}");
    assert_eq!(b["Status"], "SUCCESS", "{b}");
    assert_eq!(a["PhysicalResourceId"], b["PhysicalResourceId"]);
    assert_eq!(
        ivs.count(ivs_emulator::Operation::CreateRecordingConfiguration),
        2,
        "the second delivery could not see the first one's configuration"
    );
    let left = ivs.configurations();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(a["PhysicalResourceId"], left[0].arn);
}

fn count_throttled(ivs: &IvsEmulator, op: ivs_emulator::Operation) -> usize {
    ivs.requests()
        .iter()
        .filter(|r| r.operation == Some(op) && r.status == 429)
        .count()
}

/// Two deliveries of one Create at once, the first one's CreateRecordingConfiguration landing
/// 3 s late: its marker's time is older, but the other delivery has settled on its own
/// configuration and marked it kept by then, so the late one gives way. One configuration is
/// left and both answer its ARN.
#[tokio::test]
async fn a_create_that_lands_late_gives_way_to_the_configuration_already_kept() {
    use ivs_emulator::{Fault, FaultKind, Operation};
    let ivs = IvsEmulator::start(EmulatorOptions {
        stabilization: Stabilization::ActiveAfter(Duration::from_millis(300)),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    ivs.inject(Fault::once(
        Operation::CreateRecordingConfiguration,
        FaultKind::Hang(Duration::from_secs(3)),
    ));
    let sink = ResponseSink::start().await.unwrap();
    let first = handler_for(&ivs, HandlerConfig::default());
    let second = handler_for(&ivs, HandlerConfig::default());
    let event = create(&sink, "create-late", properties());
    let later = {
        let event = event.clone();
        let (sink, second) = (&sink, &second);
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer(second, sink, event).await
        }
    };
    let (a, b) = tokio::join!(answer(&first, &sink, event), later);
    assert_eq!(a["Status"], "SUCCESS", "{a}");
    assert_eq!(b["Status"], "SUCCESS", "{b}");
    assert_eq!(a["PhysicalResourceId"], b["PhysicalResourceId"]);
    let left = ivs.configurations();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(a["PhysicalResourceId"], left[0].arn);
    assert!(
        left[0].tags[MARKER_TAG].ends_with("@kept"),
        "{:?}",
        left[0].tags
    );
}
